"""Recurrent layers (Keras 3 semantics): SimpleRNN, LSTM, GRU.

Inputs are batch-first, ``(batch, time, features)``. Each layer is an explicit Python loop over
time steps written with ``nnmath.numpy``; backpropagation through time is nothing but reverse-mode
differentiation of that unrolled loop, so ``grad``, ``jvp``, ``hessian`` and ``vmap`` apply as to
any other function.

Weight layout (Keras's, gates side by side along the last axis, ``u`` = units)::

    kernel            (features, k·u)   input → gates
    recurrent_kernel  (u, k·u)          state → gates
    bias              (k·u,)            GRU with reset_after=True: (2, 3u), input and recurrent rows

    SimpleRNN k = 1;  LSTM k = 4, gates i, f, c, o;  GRU k = 3, gates z, r, h.

PyTorch stores the transposes, ``weight_ih = kernelᵀ``, ``weight_hh = recurrent_kernelᵀ``, with two
biases ``b_ih``, ``b_hh`` whose sum is Keras's single bias (SimpleRNN, LSTM). Its LSTM gate order
(i, f, g, o) is Keras's (i, f, c, o); its GRU gate order is (r, z, n) where Keras's is (z, r, h),
and PyTorch's GRU is the reset_after form, with ``b_ih``/``b_hh`` Keras's two bias rows.

Truncated backpropagation through time: :meth:`RecurrentBase.call_chunks` runs a long sequence in
chunks, carrying the state from one chunk to the next through ``stop_gradient``, so the gradient
of the summed chunk losses is the truncated-BPTT gradient (PyTorch's ``h = h.detach()`` between
chunks). ``initial_state`` and ``return_state=True`` carry state between calls by hand (what
Keras's ``stateful=True`` does with hidden variables).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ... import numpy as mnp
from ..._core.custom import stop_gradient
from ..._core.jit import check_random_source
from ...scipy.special import expit
from .. import activations as _activations
from .. import initializers as _initializers
from .base import Layer

__all__ = ["RecurrentBase", "SimpleRNN", "LSTM", "GRU"]


def _linear(x: Any) -> Any:
    return x


def _activation(identifier: Any):
    """An activation function from a name, a callable or None (linear)."""
    if identifier is None:
        return _linear
    if callable(identifier):
        return identifier
    get = getattr(_activations, "get", None)
    if get is not None:
        return get(identifier)
    # Until nnmath.nn.activations has its get(): the activations recurrent layers use by default.
    table = {"tanh": mnp.tanh, "sigmoid": expit, "relu": _activations.relu, "linear": _linear}
    if identifier not in table:
        raise ValueError(f"unknown activation {identifier!r}; valid: {sorted(table)}")
    return table[identifier]


def _rate(name: str, value: float) -> float:
    if not 0.0 <= float(value) < 1.0:
        raise ValueError(f"{name} must be in [0, 1), got {value!r}")
    return float(value)


def _dropout_mask(rng: np.random.Generator, shape: tuple, rate: float, dtype: Any) -> np.ndarray:
    """Inverted dropout: 0 with probability rate, else 1/(1 − rate); one mask for every step."""
    return (rng.random(shape) >= rate).astype(dtype) / np.asarray(1.0 - rate, dtype)


class RecurrentBase(Layer):
    """What SimpleRNN, LSTM and GRU share: the weights, the loop over time, states, the config.

    A subclass sets ``GATES`` (k), ``STATES`` (the names of its state tensors, each (batch, units))
    and implements ``_step(params, x_t, states, rec_mask) -> (output, new_states)``.

    Args:
        units: the dimension u of the state and the output.
        activation: the output/candidate activation (default "tanh"; None = linear).
        use_bias: whether to add the bias (default True).
        kernel_initializer, recurrent_initializer, bias_initializer: defaults "glorot_uniform",
            "orthogonal", "zeros" (Keras's).
        kernel_regularizer, recurrent_regularizer, bias_regularizer: optional regularizers.
        dropout: the fraction of the *inputs* dropped in training (one mask for all time steps,
            as Keras; needs ``rng``).
        recurrent_dropout: the fraction of the *previous state* dropped in training (likewise).
        return_sequences: return the output of every step, (batch, time, u), instead of the last,
            (batch, u).
        return_state: return ``[output, *final_states]`` instead of ``output``.
        go_backwards: process the sequence from its end; as Keras, the returned sequence is in
            processing order (reversed).
        **kwargs: the :class:`Layer` arguments (name, dtype, trainable, input_shape).

    Call: ``call(params, x, training=False, rng=None, initial_state=None, mask=None)`` with ``x``
    of shape (batch, time, features) and ``initial_state`` a list of the states (zeros if None);
    ``x`` may also be the list ``[sequence, *initial_states]``.

    Masking (Keras): ``mask`` (batch, time), True for real steps (from ``Embedding(mask_zero=True)``
    or ``Masking``). At a masked step the states are carried over unchanged and the output is the
    previous step's (zeros before the first real step), so for right-padded sequences the last
    output is the state at each sequence's last real step (PyTorch's packed sequences). With
    ``return_sequences`` the output mask is the input mask.
    """

    GATES = 1
    STATES: tuple = ("h",)

    def __init__(self, units: int, activation: Any = "tanh", use_bias: bool = True,
                 kernel_initializer: Any = "glorot_uniform", recurrent_initializer: Any = "orthogonal",
                 bias_initializer: Any = "zeros", kernel_regularizer: Any = None,
                 recurrent_regularizer: Any = None, bias_regularizer: Any = None, dropout: float = 0.0,
                 recurrent_dropout: float = 0.0, return_sequences: bool = False,
                 return_state: bool = False, go_backwards: bool = False, **kwargs):
        super().__init__(**kwargs)
        cls = type(self).__name__
        if isinstance(units, bool) or not isinstance(units, (int, np.integer)) or units <= 0:
            raise ValueError(f"{cls}: units must be a positive integer, got {units!r}")
        self.units = int(units)
        self.activation = activation
        self._act = _activation(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer, self.recurrent_initializer = kernel_initializer, recurrent_initializer
        self.bias_initializer = bias_initializer
        self.kernel_regularizer, self.recurrent_regularizer = kernel_regularizer, recurrent_regularizer
        self.bias_regularizer = bias_regularizer
        self.dropout = _rate(f"{cls}: dropout", dropout)
        self.recurrent_dropout = _rate(f"{cls}: recurrent_dropout", recurrent_dropout)
        self.return_sequences, self.return_state = bool(return_sequences), bool(return_state)
        self.go_backwards = bool(go_backwards)

    # -- weights ------------------------------------------------------------------------------
    def _bias_shape(self) -> tuple:
        return (self.GATES * self.units,)

    def _bias_initializer(self) -> Any:
        return self.bias_initializer

    def _check_shape(self, shape: tuple, n_in: int | None = None) -> None:
        shape = tuple(shape)
        if len(shape) != 3:
            raise ValueError(f"layer {self.name!r} ({type(self).__name__}): expected input of rank 3 "
                             f"(batch, time, features), received shape {shape}")
        if shape[-1] is None:
            raise ValueError(f"layer {self.name!r} ({type(self).__name__}): the features axis of the "
                             f"input must be known, received shape {shape}")
        if n_in is not None and shape[-1] != n_in:
            raise ValueError(f"layer {self.name!r} ({type(self).__name__}): expected input of shape "
                             f"(batch, time, {n_in}) (kernel {n_in}×{self.GATES * self.units}), "
                             f"received shape {shape}")

    def build(self, input_shape: tuple) -> None:
        self._check_shape(input_shape)
        k = self.GATES * self.units
        self.add_weight("kernel", (int(input_shape[-1]), k), self.kernel_initializer,
                        self.kernel_regularizer)
        self.add_weight("recurrent_kernel", (self.units, k), self.recurrent_initializer,
                        self.recurrent_regularizer)
        if self.use_bias:
            self.add_weight("bias", self._bias_shape(), self._bias_initializer(), self.bias_regularizer)
        self.built = True

    # -- the loop -----------------------------------------------------------------------------
    def _step(self, params: dict, x_t: Any, states: list, rec_mask: Any) -> tuple:
        raise NotImplementedError

    def _split_input(self, x: Any, initial_state: Any) -> tuple:
        if isinstance(x, (list, tuple)):
            if initial_state is not None:
                raise ValueError(f"layer {self.name!r}: initial states given both in the input list "
                                 f"and as initial_state")
            x, initial_state = x[0], (list(x[1:]) or None)
        if not hasattr(x, "shape"):
            x = np.asarray(x)
        return x, initial_state

    def _initial_states(self, x: Any, initial_state: Any, dtype: Any) -> list:
        batch = x.shape[0]
        if initial_state is None:
            return [np.zeros((batch, self.units), dtype) for _ in self.STATES]
        if not isinstance(initial_state, (list, tuple)):
            initial_state = [initial_state]
        want = [(batch, self.units)] * len(self.STATES)
        got = [tuple(np.shape(s)) if not hasattr(s, "shape") else tuple(s.shape) for s in initial_state]
        if got != want:
            raise ValueError(f"layer {self.name!r} ({type(self).__name__}): initial_state must be "
                             f"{len(want)} array(s) ({', '.join(self.STATES)}) of shape "
                             f"{(batch, self.units)}, received shapes {got}")
        return list(initial_state)

    def _run(self, params: dict, x: Any, states: list, training: bool, rng: Any,
             mask: Any = None) -> tuple:
        """(output, final states) for one sequence x (batch, time, features) from ``states``;
        steps where ``mask`` (batch, time) is False leave the states and output unchanged."""
        batch, steps, n_in = x.shape
        if steps == 0:
            raise ValueError(f"layer {self.name!r} ({type(self).__name__}): the input has no time "
                             f"steps (shape {tuple(x.shape)})")
        dtype = np.result_type(x.dtype, params["kernel"].dtype)
        in_mask = rec_mask = None
        if training and (self.dropout or self.recurrent_dropout):
            rng = rng if rng is not None else _initializers.default_rng()
            check_random_source(rng, x, f"layer {self.name!r} dropout")
            if self.dropout:
                in_mask = _dropout_mask(rng, (batch, n_in), self.dropout, dtype)
            if self.recurrent_dropout:
                rec_mask = _dropout_mask(rng, (batch, self.units), self.recurrent_dropout, dtype)
        order = range(steps - 1, -1, -1) if self.go_backwards else range(steps)
        outputs = []
        if mask is not None:
            from .masking import step_mask
            mask = step_mask(mask, tuple(x.shape), f"layer {self.name!r} ({type(self).__name__})")
            prev = np.zeros((batch, self.units), dtype)
        for t in order:
            x_t = x[:, t]
            if in_mask is not None:
                x_t = x_t * in_mask
            out, new = self._step(params, x_t, states, rec_mask)
            if mask is not None:          # masked step: keep the state and the last output
                m_t = mask[:, t:t + 1]
                new = [mnp.where(m_t, n, s) for n, s in zip(new, states)]
                out = prev = mnp.where(m_t, out, prev)
            states = new
            outputs.append(out)
        out = mnp.stack(outputs, axis=1) if self.return_sequences else outputs[-1]
        return out, states

    def call(self, params: dict, x: Any, training: bool = False, rng: np.random.Generator | None = None,
             initial_state: Any = None, mask: Any = None):
        """The layer's output (and final states if ``return_state``); see the class docstring."""
        x, initial_state = self._split_input(x, initial_state)
        self._check_shape(x.shape, np.shape(params["kernel"])[0])
        states = self._initial_states(x, initial_state, np.result_type(x.dtype, params["kernel"].dtype))
        out, states = self._run(params, x, states, training, rng, mask)
        return [out, *states] if self.return_state else out

    def compute_mask(self, x: Any, mask: Any = None) -> Any:
        """The input mask when ``return_sequences`` (one entry per step), else None."""
        out = mask if self.return_sequences else None
        return [out] + [None] * len(self.STATES) if self.return_state else out

    def call_chunks(self, params: dict, x: Any, chunk_size: int, initial_state: Any = None,
                    training: bool = False, rng: np.random.Generator | None = None) -> tuple:
        """Run ``x`` in chunks of ``chunk_size`` steps for truncated backpropagation through time.

        The state carried from one chunk into the next passes through ``stop_gradient``, so
        differentiating ``Σ_k loss_k(outputs[k])`` gives the truncated-BPTT gradient: each chunk's
        loss is backpropagated through its own chunk only (Williams & Peng 1990; PyTorch's
        ``h = h.detach()`` between chunks). The values are those of one uninterrupted call.

        Returns:
            ``(outputs, final_states)``: ``outputs[k]`` is the layer's output on chunk k (its
            sequence or last step, per ``return_sequences``); ``final_states`` the list of states
            after the last chunk (not stopped: pass ``stop_gradient`` of it to the next call, as
            Keras's ``stateful=True`` layers carry it between batches).
        """
        if self.go_backwards:
            raise ValueError(f"layer {self.name!r}: call_chunks does not support go_backwards=True")
        if isinstance(chunk_size, bool) or not isinstance(chunk_size, (int, np.integer)) or chunk_size <= 0:
            raise ValueError(f"layer {self.name!r}: chunk_size must be a positive integer, "
                             f"got {chunk_size!r}")
        x, initial_state = self._split_input(x, initial_state)
        self._check_shape(x.shape, np.shape(params["kernel"])[0])
        states = self._initial_states(x, initial_state, np.result_type(x.dtype, params["kernel"].dtype))
        outputs = []
        for start in range(0, x.shape[1], int(chunk_size)):
            if start:
                states = [stop_gradient(s) for s in states]
            out, states = self._run(params, x[:, start:start + int(chunk_size)], states, training, rng)
            outputs.append(out)
        return outputs, states

    def __call__(self, x: Any, training: bool = False, rng: np.random.Generator | None = None,
                 initial_state: Any = None, mask: Any = None):
        """Apply eagerly with the layer's own weights; ``x`` may be ``[sequence, *states]``."""
        if not self.built:
            seq = x[0] if isinstance(x, (list, tuple)) else x
            self._check_shape(np.shape(seq))
            self.build((None,) + tuple(np.shape(seq))[1:])
            self.built = True
        return self.call(dict(self.values), x, training=training, rng=rng, initial_state=initial_state,
                         mask=mask)

    # -- shapes and config ----------------------------------------------------------------------
    def compute_output_shape(self, input_shape: tuple) -> Any:
        self._check_shape(input_shape)
        batch, steps = input_shape[0], input_shape[1]
        out = (batch, steps, self.units) if self.return_sequences else (batch, self.units)
        return [out] + [(batch, self.units) for _ in self.STATES] if self.return_state else out

    def get_config(self) -> dict:
        return {**super().get_config(), "units": self.units, "activation": self.activation,
                "use_bias": self.use_bias, "kernel_initializer": self.kernel_initializer,
                "recurrent_initializer": self.recurrent_initializer,
                "bias_initializer": self.bias_initializer, "kernel_regularizer": self.kernel_regularizer,
                "recurrent_regularizer": self.recurrent_regularizer,
                "bias_regularizer": self.bias_regularizer, "dropout": self.dropout,
                "recurrent_dropout": self.recurrent_dropout, "return_sequences": self.return_sequences,
                "return_state": self.return_state, "go_backwards": self.go_backwards}


class SimpleRNN(RecurrentBase):
    """Fully connected recurrent layer (Elman 1990), Keras's ``SimpleRNN``::

        hₜ = activation(xₜ W + hₜ₋₁ U + b)

    W = ``kernel`` (features, u), U = ``recurrent_kernel`` (u, u), b = ``bias`` (u,). PyTorch's
    ``nn.RNN(batch_first=True)`` is the same with weight_ih = Wᵀ, weight_hh = Uᵀ, b_ih + b_hh = b.

    Args: see :class:`RecurrentBase`.

    Input shape: (batch, time, features). Output shape: (batch, units), or (batch, time, units)
    with ``return_sequences``; with ``return_state`` the list [output, h_T].

    Example:

    >>> import numpy as np
    >>> rnn = SimpleRNN(1, activation=None, use_bias=False, dtype="float64")
    >>> p = {"kernel": np.array([[1.0]]), "recurrent_kernel": np.array([[0.5]])}
    >>> rnn.call(p, np.ones((1, 3, 1)))          # h = 1, 1.5, 1.75
    array([[1.75]])

    References:
        Elman (1990), "Finding structure in time"; keras.layers.SimpleRNN.
    """

    GATES, STATES = 1, ("h",)

    def _step(self, params, x_t, states, rec_mask):
        h = states[0]
        z = x_t @ params["kernel"] + (h if rec_mask is None else h * rec_mask) @ params["recurrent_kernel"]
        if self.use_bias:
            z = z + params["bias"]
        h = self._act(z)
        return h, [h]


class LSTM(RecurrentBase):
    """Long short-term memory (Hochreiter & Schmidhuber 1997; forget gate: Gers et al. 2000),
    Keras's ``LSTM``. With [a | b | c | d] the four blocks of u columns of xₜW + hₜ₋₁U + b::

        iₜ = σ(a),  fₜ = σ(b),  c̃ₜ = tanh(c),  oₜ = σ(d)            (σ = recurrent_activation)
        cₜ = fₜ ⊙ cₜ₋₁ + iₜ ⊙ c̃ₜ,   hₜ = oₜ ⊙ tanh(cₜ)              (tanh = activation)

    W = ``kernel`` (features, 4u), U = ``recurrent_kernel`` (u, 4u), b = ``bias`` (4u,), gates in
    the order i, f, c, o — PyTorch's order (i, f, g, o) too, so weight_ih = Wᵀ, weight_hh = Uᵀ and
    b_ih + b_hh = b. ``unit_forget_bias`` (default True) initialises the forget block of b to 1
    (Jozefowicz et al. 2015).

    Args: see :class:`RecurrentBase`; also ``recurrent_activation`` (default "sigmoid") and
    ``unit_forget_bias``.

    Input shape: (batch, time, features). Output shape: (batch, units) or (batch, time, units);
    with ``return_state`` the list [output, h_T, c_T]. ``initial_state`` is [h₀, c₀].

    Example:

    >>> import numpy as np
    >>> lstm = LSTM(1, use_bias=False, return_state=True, dtype="float64")
    >>> p = {"kernel": np.zeros((1, 4)), "recurrent_kernel": np.zeros((1, 4))}
    >>> out, h, c = lstm.call(p, np.ones((1, 2, 1)), initial_state=[np.zeros((1, 1)), np.ones((1, 1))])
    >>> c                                      # c = ½c + ½ tanh 0, twice
    array([[0.25]])

    References:
        Hochreiter & Schmidhuber (1997), "Long short-term memory"; Gers, Schmidhuber & Cummins
        (2000), "Learning to forget"; keras.layers.LSTM.
    """

    GATES, STATES = 4, ("h", "c")

    def __init__(self, units: int, activation: Any = "tanh", recurrent_activation: Any = "sigmoid",
                 unit_forget_bias: bool = True, **kwargs):
        super().__init__(units, activation=activation, **kwargs)
        self.recurrent_activation = recurrent_activation
        self._rec_act = _activation(recurrent_activation)
        self.unit_forget_bias = bool(unit_forget_bias)

    def _bias_initializer(self) -> Any:
        if not self.unit_forget_bias:
            return self.bias_initializer
        init, u = _initializers.get(self.bias_initializer), self.units

        def unit_forget(shape, dtype, rng):          # [init(u), 1, init(2u)], as Keras
            return np.concatenate([np.asarray(init((u,), dtype, rng), dtype), np.ones(u, dtype),
                                   np.asarray(init((2 * u,), dtype, rng), dtype)])
        return unit_forget

    def _step(self, params, x_t, states, rec_mask):
        h, c = states
        u = self.units
        z = x_t @ params["kernel"] + (h if rec_mask is None else h * rec_mask) @ params["recurrent_kernel"]
        if self.use_bias:
            z = z + params["bias"]
        i = self._rec_act(z[:, :u])
        f = self._rec_act(z[:, u:2 * u])
        c = f * c + i * self._act(z[:, 2 * u:3 * u])
        h = self._rec_act(z[:, 3 * u:]) * self._act(c)
        return h, [h, c]

    def get_config(self) -> dict:
        return {**super().get_config(), "recurrent_activation": self.recurrent_activation,
                "unit_forget_bias": self.unit_forget_bias}


class GRU(RecurrentBase):
    """Gated recurrent unit (Cho et al. 2014), Keras's ``GRU``. With gates in the order z, r, h::

        zₜ = σ(xₜW_z + b_z + hₜ₋₁U_z + b'_z),   rₜ = σ(xₜW_r + b_r + hₜ₋₁U_r + b'_r)
        reset_after=True  (default):  h̃ₜ = tanh(xₜW_h + b_h + rₜ ⊙ (hₜ₋₁U_h + b'_h))
        reset_after=False:            h̃ₜ = tanh(xₜW_h + b_h + (rₜ ⊙ hₜ₋₁) U_h)
        hₜ = zₜ ⊙ hₜ₋₁ + (1 − zₜ) ⊙ h̃ₜ

    W = ``kernel`` (features, 3u), U = ``recurrent_kernel`` (u, 3u); ``bias`` is (2, 3u) with rows
    b (input) and b' (recurrent) when reset_after, else (3u,) = b (and b' = 0). PyTorch's
    ``nn.GRU`` is the reset_after form with gates ordered (r, z, n): weight_ih = [W_r W_z W_h]ᵀ,
    weight_hh = [U_r U_z U_h]ᵀ, b_ih = [b_r b_z b_h], b_hh = [b'_r b'_z b'_h].

    Args: see :class:`RecurrentBase`; also ``recurrent_activation`` (default "sigmoid") and
    ``reset_after`` (default True, Keras 3's).

    Input shape: (batch, time, features). Output shape: (batch, units) or (batch, time, units);
    with ``return_state`` the list [output, h_T].

    Example:

    >>> import numpy as np
    >>> gru = GRU(1, dtype="float64")
    >>> p = {"kernel": np.zeros((1, 3)), "recurrent_kernel": np.zeros((1, 3)), "bias": np.zeros((2, 3))}
    >>> gru.call(p, np.ones((1, 2, 1)), initial_state=[np.array([[4.0]])])   # h = ½h + ½·0
    array([[1.]])

    References:
        Cho et al. (2014), "Learning phrase representations using RNN encoder-decoder for
        statistical machine translation", arXiv:1406.1078; keras.layers.GRU.
    """

    GATES, STATES = 3, ("h",)

    def __init__(self, units: int, activation: Any = "tanh", recurrent_activation: Any = "sigmoid",
                 reset_after: bool = True, **kwargs):
        super().__init__(units, activation=activation, **kwargs)
        self.recurrent_activation = recurrent_activation
        self._rec_act = _activation(recurrent_activation)
        self.reset_after = bool(reset_after)

    def _bias_shape(self) -> tuple:
        return (2, 3 * self.units) if self.reset_after else (3 * self.units,)

    def _step(self, params, x_t, states, rec_mask):
        h = states[0]
        u = self.units
        hr = h if rec_mask is None else h * rec_mask
        xw = x_t @ params["kernel"]
        if self.reset_after:
            hu = hr @ params["recurrent_kernel"]
            if self.use_bias:
                xw, hu = xw + params["bias"][0], hu + params["bias"][1]
            z = self._rec_act(xw[:, :u] + hu[:, :u])
            r = self._rec_act(xw[:, u:2 * u] + hu[:, u:2 * u])
            cand = self._act(xw[:, 2 * u:] + r * hu[:, 2 * u:])
        else:
            if self.use_bias:
                xw = xw + params["bias"]
            hu = hr @ params["recurrent_kernel"][:, :2 * u]
            z = self._rec_act(xw[:, :u] + hu[:, :u])
            r = self._rec_act(xw[:, u:2 * u] + hu[:, u:])
            cand = self._act(xw[:, 2 * u:] + (r * hr) @ params["recurrent_kernel"][:, 2 * u:])
        h = z * h + (1.0 - z) * cand
        return h, [h]

    def get_config(self) -> dict:
        return {**super().get_config(), "recurrent_activation": self.recurrent_activation,
                "reset_after": self.reset_after}
