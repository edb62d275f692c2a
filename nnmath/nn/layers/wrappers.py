"""Layer wrappers (Keras 3 names): SpectralNormalization (Miyato et al. 2018), TimeDistributed,
Bidirectional.

A wrapper holds the wrapped layer's weights under its own name (the same arrays), so a model
sees one layer; its ``call`` hands the wrapped layer its share of ``params``."""
from __future__ import annotations

from typing import Any

import numpy as np

from ... import numpy as mnp
from ..._core.custom import stop_gradient
from ...numpy._helpers import strip_tracers
from .base import Layer, Weight

__all__ = ["SpectralNormalization", "TimeDistributed", "Bidirectional"]


def _truncated_normal_002(shape, dtype, rng):
    """u's initial value, as Keras: normal(0, 0.02²) truncated at two standard deviations."""
    z = rng.standard_normal(shape)
    while np.any(bad := np.abs(z) > 2.0):
        z[bad] = rng.standard_normal(int(bad.sum()))
    return (0.02 * z).astype(dtype)


def _normalize(a: Any, eps: float = 1e-12) -> Any:
    """a / max(‖a‖, eps) (as torch.nn.functional.normalize; eps guards a zero vector)."""
    return a / mnp.maximum(mnp.sqrt(mnp.sum(a * a)), eps)


class SpectralNormalization(Layer):
    """Spectral normalization of a wrapped layer's kernel (Miyato et al. 2018).

    The wrapped layer runs with W / σ(W) in place of its kernel W, where σ(W), the largest
    singular value of W reshaped to a matrix (−1, out), is estimated by power iteration from a
    persistent vector u (non-trainable weight ``vector_u``, shape (1, out))::

        repeat power_iterations times:   v ← normalize(u Wᵀ),   u ← normalize(v W)
        σ = v W uᵀ                       with u, v held constant (stop_gradient)

    so ∂σ/∂W = vᵀu, the paper's estimate of the gradient of the top singular value (Miyato et al.
    2018, eq. 12). In training (``training=True``) the iterations run from the stored u and
    :meth:`state_updates` returns the new u, so σ sharpens step by step; in inference no iteration
    runs: v = normalize(u Wᵀ) and σ = v W uᵀ = ‖W uᵀ‖ with the stored u. A kernel of zeros is
    used as is (σ := 1), as Keras skips it.

    Conventions: this is Keras's iteration (u on the output side, (1, out)) and its
    ``vector_u`` name. Keras's own layer *overwrites* the kernel with W/σ at each training call;
    here the kernel stays the trainable parameter and W/σ is computed in ``call``, as PyTorch's
    ``parametrizations.spectral_norm`` does. PyTorch's iteration is this one applied to the matrix
    W itself (shape (in, out)), its ``(_u, _v)`` being our (v, u); on an ``nn.Linear`` weight
    (Wᵀ) it starts from the other side, a different estimate after finitely many steps with the
    same limit. PyTorch also stores v, for inference; here only u is stored, as Keras.

    Args:
        layer: a :class:`Layer` with a weight named ``kernel`` (Dense, Conv, …) or ``embeddings``.
        power_iterations: iterations per training call (default 1; ≥ 1).
        **kwargs: the :class:`Layer` arguments (dtype defaults to the wrapped layer's).

    Weights: the wrapped layer's (same names, same arrays) and ``vector_u``.
    Input and output shapes: the wrapped layer's.

    Example:

    >>> import numpy as np
    >>> sn = SpectralNormalization(_Kernel(), power_iterations=1)
    >>> W = np.diag([3.0, 1.0])
    >>> sn.call({"kernel": W, "vector_u": np.array([[1.0, 0.0]])}, np.eye(2), training=True)
    array([[1.    , 0.    ],
           [0.    , 0.3333]])

    References:
        Miyato, Kataoka, Koyama & Yoshida (2018), "Spectral Normalization for Generative
        Adversarial Networks", arXiv:1802.05957; keras.layers.SpectralNormalization.
    """

    def __init__(self, layer: Layer, power_iterations: int = 1, **kwargs):
        if not isinstance(layer, Layer):
            raise TypeError(f"SpectralNormalization: layer must be a Layer, got {type(layer).__name__}")
        if (isinstance(power_iterations, bool) or not isinstance(power_iterations, (int, np.integer))
                or power_iterations <= 0):
            raise ValueError(f"SpectralNormalization: power_iterations must be a positive integer, "
                             f"got {power_iterations!r}")
        kwargs.setdefault("dtype", layer.dtype)
        kwargs.setdefault("name", "spectral_normalization_" + layer.name)
        super().__init__(**kwargs)
        self.layer, self.power_iterations = layer, int(power_iterations)
        self._kernel_name: str | None = None

    # -- lifecycle ------------------------------------------------------------------------------
    def build(self, input_shape: Any) -> None:
        if not self.layer.built:
            self.layer.build(input_shape)
            self.layer.built = True
        name = next((n for n in ("kernel", "embeddings") if n in self.layer.values), None)
        if name is None:
            raise ValueError(f"SpectralNormalization: the wrapped layer {self.layer.name!r} "
                             f"({type(self.layer).__name__}) has no weight 'kernel' nor 'embeddings'; "
                             f"its weights are {list(self.layer.values)}")
        self._kernel_name = name
        self.weights_spec = dict(self.layer.weights_spec)
        self.values = dict(self.layer.values)         # the same arrays: set_weights reaches both
        out = self.layer.values[name].shape[-1]
        self.add_weight("vector_u", (1, out), _truncated_normal_002, trainable=False,
                        dtype=self.layer.values[name].dtype)
        self.built = True

    def _kernel_key(self, params: dict) -> str:
        if self._kernel_name is None:
            self._kernel_name = "kernel" if "kernel" in params else "embeddings"
        if self._kernel_name not in params or "vector_u" not in params:
            raise ValueError(f"layer {self.name!r} (SpectralNormalization): params must hold "
                             f"{self._kernel_name!r} and 'vector_u', got {sorted(params)}")
        return self._kernel_name

    # -- the math -------------------------------------------------------------------------------
    def _sigma(self, kernel: Any, u: Any, iterations: int) -> tuple:
        """(σ, u after ``iterations`` power-iteration steps)."""
        w = mnp.reshape(kernel, (-1, kernel.shape[-1]))
        if not np.any(strip_tracers(kernel)):
            return 1.0, u                                  # a zero kernel: leave it (Keras)
        w_const, u = stop_gradient(w), stop_gradient(u)
        if iterations == 0:                                # inference: the stored u as it is
            v = _normalize(u @ w_const.T)
        for _ in range(iterations):
            v = _normalize(u @ w_const.T)
            u = _normalize(v @ w_const)
        # σ = v W uᵀ (= ‖v W‖ after an iteration, ‖W uᵀ‖ in inference: never negative)
        return mnp.sum((v @ w) * u), u

    def normalized_kernel(self, params: dict, training: bool = False) -> Any:
        """W / σ(W) as ``call`` uses it (with ``training``: after the power iterations)."""
        name = self._kernel_key(params)
        sigma, _ = self._sigma(params[name], params["vector_u"], self.power_iterations if training else 0)
        return params[name] / sigma

    def call(self, params: dict, x: Any, training: bool = False, rng: np.random.Generator | None = None):
        name = self._kernel_key(params)
        inner = {k: v for k, v in params.items() if k != "vector_u"}
        inner[name] = self.normalized_kernel(params, training)
        return self.layer.call(inner, x, training=training, rng=rng)

    def state_updates(self, params: dict, x: Any, rng: np.random.Generator | None = None) -> dict:
        """The new ``vector_u`` after a training step (and the wrapped layer's own updates)."""
        name = self._kernel_key(params)
        _, u = self._sigma(params[name], params["vector_u"], self.power_iterations)
        inner = {k: v for k, v in params.items() if k != "vector_u"}
        inner[name] = self.normalized_kernel(params, training=True)
        return {**self.layer.state_updates(inner, x, rng=rng), "vector_u": u}

    # -- shapes and config ----------------------------------------------------------------------
    def compute_output_shape(self, input_shape: Any) -> Any:
        return self.layer.compute_output_shape(input_shape)

    def get_config(self) -> dict:
        return {**super().get_config(), "power_iterations": self.power_iterations,
                "layer": {"class_name": type(self.layer).__name__, "config": self.layer.get_config()}}

    @classmethod
    def from_config(cls, config: dict, custom_objects: dict | None = None) -> "SpectralNormalization":
        """Rebuild from :meth:`get_config`; the wrapped layer's class is looked up in
        ``custom_objects`` (name → class), then in ``nnmath.nn.layers``."""
        config = dict(config)
        return cls(_inner_from(config.pop("layer"), custom_objects, cls.__name__), **config)


def _inner_config(layer: Layer) -> dict:
    return {"class_name": type(layer).__name__, "config": layer.get_config()}


def _inner_from(spec: Any, custom_objects: dict | None, who: str) -> Layer:
    """A wrapped layer from ``{"class_name", "config"}``: the class from ``custom_objects``, else
    ``nnmath.nn.layers`` (by name only: nothing from the config is imported or run)."""
    if not (isinstance(spec, dict) and isinstance(spec.get("class_name"), str)
            and isinstance(spec.get("config"), dict)):
        raise ValueError(f"{who}.from_config: `layer` must be {{'class_name': str, 'config': dict}}, "
                         f"received {spec!r}")
    name = spec["class_name"]
    klass = (custom_objects or {}).get(name)
    if klass is None:
        from .. import layers as _layers
        klass = getattr(_layers, name, None)
    if not (isinstance(klass, type) and issubclass(klass, Layer)):
        raise ValueError(f"{who}.from_config: unknown layer class {name!r}; pass it in "
                         f"custom_objects={{{name!r}: cls}}")
    return klass.from_config(spec["config"])


def _check_layer(layer: Any, who: str) -> None:
    if not isinstance(layer, Layer):
        raise ValueError(f"{who}: `layer` must be a Layer instance, received "
                         f"{type(layer).__name__}: {layer!r}")


class TimeDistributed(Layer):
    """Applies a layer to every time step (Keras ``TimeDistributed``):
    y[:, t] = layer(x[:, t]) with the *same* weights for every t, computed as one call on the
    (batch·time, …) reshaped input (so one GEMM, not a loop).

    Input shape: (batch, time, …). Output shape: (batch, time, *layer's output without batch).
    Masks pass through unchanged.

    Args:
        layer: the wrapped :class:`Layer` (built on (None, …) without the time axis).

    Weights: the wrapped layer's (same names, same arrays).

    >>> import numpy as np
    >>> from nnmath.nn.layers import Dense
    >>> td = TimeDistributed(Dense(2, kernel_initializer="ones", dtype="float64"))
    >>> td(np.ones((1, 3, 4))).shape
    (1, 3, 2)
    """

    supports_masking = True

    def __init__(self, layer: Layer, **kwargs):
        _check_layer(layer, "TimeDistributed")
        kwargs.setdefault("dtype", layer.dtype)
        super().__init__(**kwargs)
        self.layer = layer

    def _check(self, shape: tuple) -> None:
        if len(shape) < 3:
            raise ValueError(f"Input of layer {self.name!r} (TimeDistributed) is incompatible: "
                             f"expected rank ≥ 3 (batch, time, …), received shape {tuple(shape)}")

    def build(self, input_shape: tuple) -> None:
        input_shape = tuple(input_shape)
        self._check(input_shape)
        if not self.layer.built:
            self.layer.build((None,) + input_shape[2:])
            self.layer.built = True
        self.weights_spec = dict(self.layer.weights_spec)
        self.values = dict(self.layer.values)
        self.built = True

    def _fold(self, x: Any) -> tuple:
        x = x if hasattr(x, "shape") else np.asarray(x)
        self._check(tuple(x.shape))
        b, t = x.shape[0], x.shape[1]
        return mnp.reshape(x, (b * t,) + tuple(x.shape[2:])), (b, t)

    def call(self, params: dict, x: Any, training: bool = False, rng: Any = None,
             mask: Any = None) -> Any:
        xr, (b, t) = self._fold(x)
        y = self.layer.call(params, xr, training=training, rng=rng)
        return mnp.reshape(y, (b, t) + tuple(y.shape[1:]))

    def state_updates(self, params: dict, x: Any, rng: Any = None) -> dict:
        xr, _ = self._fold(x)
        return self.layer.state_updates(params, xr, rng=rng)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        input_shape = tuple(input_shape)
        self._check(input_shape)
        inner = self.layer.compute_output_shape((None,) + input_shape[2:])
        return tuple(input_shape[:2]) + tuple(inner[1:])

    def compute_mask(self, x: Any, mask: Any = None) -> Any:
        return mask

    def get_config(self) -> dict:
        return {**super().get_config(), "layer": _inner_config(self.layer)}

    @classmethod
    def from_config(cls, config: dict, custom_objects: dict | None = None) -> "TimeDistributed":
        config = dict(config)
        return cls(_inner_from(config.pop("layer"), custom_objects, cls.__name__), **config)


_MERGE_MODES = ("concat", "sum", "mul", "ave", None)


class Bidirectional(Layer):
    """Runs a recurrent layer forwards and a copy backwards and merges them (Schuster & Paliwal
    1997; Keras ``Bidirectional``)::

        y_f = layer(x),   y_b = backward_layer(x)  (go_backwards=True: from the last step)
        y = merge(y_f, flip_t(y_b))                 (flip only with return_sequences, so step t of
                                                     both halves is the same input step)

    merge_mode: "concat" (default, along features: PyTorch's ``bidirectional=True`` layout),
    "sum", "mul", "ave", or None (the list [y_f, y_b]). With ``return_state`` the output is
    [y, *forward_states, *backward_states]; ``initial_state`` is the forward states followed by
    the backward ones. A mask reaches both directions.

    Input shape: (batch, time, features).
    Output shape: (batch, [time,] 2·units) for "concat", (batch, [time,] units) otherwise.

    Args:
        layer: a recurrent layer (SimpleRNN, LSTM, GRU); rebuilt from its config as the
            ``forward_<name>`` half.
        merge_mode: see above.
        backward_layer: an explicit backward layer (must have ``go_backwards=True`` and the same
            ``return_sequences`` / ``return_state``); default a copy of ``layer``'s config.

    Weights: ``forward_<weight>`` and ``backward_<weight>`` (e.g. ``forward_kernel``).

    References:
        M. Schuster, K. K. Paliwal. Bidirectional recurrent neural networks. IEEE Trans. Signal
        Processing 45(11), 1997.

    >>> import numpy as np
    >>> from nnmath.nn.layers import SimpleRNN
    >>> Bidirectional(SimpleRNN(3, dtype="float64"))(np.ones((2, 4, 5))).shape
    (2, 6)
    """

    supports_masking = True

    def __init__(self, layer: Layer, merge_mode: str | None = "concat", weights: Any = None,
                 backward_layer: Layer | None = None, **kwargs):
        _check_layer(layer, "Bidirectional")
        if not hasattr(layer, "go_backwards") or not hasattr(layer, "return_sequences"):
            raise ValueError(f"Bidirectional: `layer` must be a recurrent layer (with go_backwards "
                             f"and return_sequences), received {type(layer).__name__}")
        if merge_mode not in _MERGE_MODES:
            raise ValueError(f"Bidirectional: invalid merge mode. Received: merge_mode="
                             f"{merge_mode!r}. Merge mode should be one of {_MERGE_MODES}")
        if weights is not None:
            raise ValueError("Bidirectional: `weights=` is not supported; call set_weights after "
                             "building")
        kwargs.setdefault("dtype", layer.dtype)
        super().__init__(**kwargs)
        base = layer.name.removeprefix("forward_")
        cfg = layer.get_config()
        self.forward_layer = type(layer).from_config({**cfg, "name": "forward_" + base})
        if backward_layer is None:
            self.backward_layer = type(layer).from_config(
                {**cfg, "name": "backward_" + base.removeprefix("backward_"), "go_backwards": True})
            self._explicit_backward = False
        else:
            _check_layer(backward_layer, "Bidirectional")
            for attr in ("return_sequences", "return_state"):
                if getattr(backward_layer, attr, None) != getattr(layer, attr):
                    raise ValueError(f"Bidirectional: forward layer has {attr}="
                                     f"{getattr(layer, attr)} but backward_layer has {attr}="
                                     f"{getattr(backward_layer, attr, None)}; they must match")
            if not getattr(backward_layer, "go_backwards", False):
                raise ValueError("Bidirectional: backward_layer must have go_backwards=True")
            self.backward_layer = backward_layer
            self._explicit_backward = True
        self.merge_mode = merge_mode
        self.return_sequences = bool(layer.return_sequences)
        self.return_state = bool(getattr(layer, "return_state", False))
        self._halves = (("forward_", self.forward_layer), ("backward_", self.backward_layer))

    def build(self, input_shape: tuple) -> None:
        input_shape = tuple(input_shape)
        self.weights_spec, self.values = {}, {}
        for prefix, half in self._halves:
            if not half.built:
                half.build(input_shape)
                half.built = True
            for name, spec in half.weights_spec.items():
                self.weights_spec[prefix + name] = Weight(prefix + name, spec.shape, spec.dtype,
                                                          spec.initializer, spec.regularizer,
                                                          spec.trainable)
                self.values[prefix + name] = half.values[name]
        self.built = True

    def _split(self, params: dict, prefix: str) -> dict:
        return {k[len(prefix):]: v for k, v in params.items() if k.startswith(prefix)}

    def _merge(self, y_f: Any, y_b: Any) -> Any:
        if self.merge_mode == "concat":
            return mnp.concatenate([y_f, y_b], axis=-1)
        if self.merge_mode == "sum":
            return y_f + y_b
        if self.merge_mode == "mul":
            return y_f * y_b
        if self.merge_mode == "ave":
            return (y_f + y_b) * 0.5
        return [y_f, y_b]

    def call(self, params: dict, x: Any, training: bool = False, rng: Any = None,
             initial_state: Any = None, mask: Any = None) -> Any:
        if isinstance(x, (list, tuple)):
            if initial_state is not None:
                raise ValueError(f"layer {self.name!r}: initial states given both in the input "
                                 f"list and as initial_state")
            x, initial_state = x[0], (list(x[1:]) or None)
        n = len(self.forward_layer.STATES)
        if initial_state is not None:
            initial_state = list(initial_state)
            if len(initial_state) != 2 * n:
                raise ValueError(f"layer {self.name!r} (Bidirectional): initial_state must hold "
                                 f"{2 * n} arrays (forward states then backward states), "
                                 f"received {len(initial_state)}")
        outs = []
        for k, (prefix, half) in enumerate(self._halves):
            init = None if initial_state is None else initial_state[k * n:(k + 1) * n]
            outs.append(half.call(self._split(params, prefix), x, training=training, rng=rng,
                                  initial_state=init, mask=mask))
        if self.return_state:
            (y_f, *s_f), (y_b, *s_b) = outs
        else:
            (y_f, y_b), s_f, s_b = outs, [], []
        if self.return_sequences:
            y_b = mnp.flip(y_b, axis=1)
        y = self._merge(y_f, y_b)
        if self.return_state:
            return (y if isinstance(y, list) else [y]) + list(s_f) + list(s_b)
        return y

    def compute_output_shape(self, input_shape: tuple) -> Any:
        shape = self.forward_layer.compute_output_shape(tuple(input_shape))
        out, states = (shape[0], shape[1:]) if self.return_state else (shape, [])
        if self.merge_mode == "concat":
            merged = tuple(out[:-1]) + (2 * out[-1],)
        elif self.merge_mode is None:
            merged = [tuple(out), tuple(out)]
        else:
            merged = tuple(out)
        if self.return_state:
            return (merged if isinstance(merged, list) else [merged]) + list(states) * 2
        return merged

    def compute_mask(self, x: Any, mask: Any = None) -> Any:
        out = mask if self.return_sequences else None
        if self.merge_mode is None:
            out = [out, out]
        if self.return_state:
            states = [None] * (2 * len(self.forward_layer.STATES))
            return (out if isinstance(out, list) else [out]) + states
        return out

    def get_config(self) -> dict:
        inner = _inner_config(self.forward_layer)
        inner["config"]["name"] = inner["config"]["name"].removeprefix("forward_")
        cfg = {**super().get_config(), "layer": inner, "merge_mode": self.merge_mode}
        if self._explicit_backward:
            cfg["backward_layer"] = _inner_config(self.backward_layer)
        return cfg

    @classmethod
    def from_config(cls, config: dict, custom_objects: dict | None = None) -> "Bidirectional":
        config = dict(config)
        layer = _inner_from(config.pop("layer"), custom_objects, cls.__name__)
        back = config.pop("backward_layer", None)
        if back is not None:
            back = _inner_from(back, custom_objects, cls.__name__)
        return cls(layer, backward_layer=back, **config)


class _Kernel(Layer):
    """y = x W (the smallest layer with a kernel; for the doctest above)."""

    def build(self, input_shape):
        self.add_weight("kernel", (input_shape[-1], input_shape[-1]))
        self.built = True

    def call(self, params, x, training=False, rng=None):
        return x @ params["kernel"]
