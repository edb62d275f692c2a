"""Multi-head attention (Vaswani et al. 2017), with Keras 3's weights and call conventions.

Shapes: B batch, T query steps, S key/value steps, H heads, k = key_dim, v = value_dim.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ... import numpy as mnp
from ..._core.jit import check_random_source
from ...scipy.special import softmax
from .. import initializers as _initializers
from .base import Layer

__all__ = ["MultiHeadAttention"]

_MASKED = -1e9          # Keras's score for masked positions (finite: exp underflows to exactly 0)


def _shape_of(a: Any) -> tuple:
    return tuple(a.shape) if hasattr(a, "shape") else tuple(np.shape(a))


class MultiHeadAttention(Layer):
    """Multi-head scaled dot-product attention, Keras's ``MultiHeadAttention``::

        Qₕ = query · W_qₕ + b_qₕ     Kₕ = key · W_kₕ + b_kₕ     Vₕ = value · W_vₕ + b_vₕ
        Aₕ = softmax_S(Qₕ Kₕᵀ / √k  masked)                        (B, T, S) per head
        output = Σₕ (Aₕ Vₕ) W_oₕ + b_o                              (B, T, output_shape)

    The softmax is the stable one (``nnmath.scipy.special.softmax``: exp(s − logsumexp s)).
    Masked positions get the score −10⁹ (as Keras) and weight exactly 0 afterwards, so a query
    whose every key is masked attends to nothing (output b_o) instead of averaging uniformly.

    Weights (Keras's names, shapes and order): ``query_kernel`` (E_q, H, k), ``query_bias`` (H, k),
    ``key_kernel`` (E_k, H, k), ``key_bias``, ``value_kernel`` (E_v, H, v), ``value_bias`` (H, v),
    ``output_kernel`` (H, v, O), ``output_bias`` (O,); O = ``output_shape`` or E_q. PyTorch's
    ``nn.MultiheadAttention`` is the case k = v = E/H, O = E_q = E: its q_proj_weight is
    ``query_kernel.reshape(E_q, H·k)ᵀ`` (heads contiguous) and out_proj.weight is
    ``output_kernel.reshape(H·v, O)ᵀ``.

    Args:
        num_heads: H.
        key_dim: k, the size of each head of the query and key.
        value_dim: v, the size of each head of the value (default k).
        dropout: dropout rate on the attention weights in training (needs ``rng``).
        use_bias: add the biases (default True).
        output_shape: O, the last dimension of the output (default: the query's).
        kernel_initializer, bias_initializer: defaults "glorot_uniform" and "zeros".
        kernel_regularizer, bias_regularizer: optional regularizers.
        **kwargs: the :class:`Layer` arguments.

    Call (the pure form of Keras's ``call(query, value, key=None, ...)``)::

        call(params, x, training=False, rng=None, attention_mask=None,
             use_causal_mask=False, return_attention_scores=False)

    ``x`` is ``[query, value]``, ``[query, value, key]`` (key defaults to value) or one array
    (self-attention: query = value = key); query (B, T, E_q), value (B, S, E_v), key (B, S, E_k).
    ``attention_mask`` is boolean, (B, T, S) or (T, S), True where a query may attend to a key.
    ``use_causal_mask`` also masks key j > query i (lower triangular, as Keras). With
    ``return_attention_scores`` the result is ``(output, A)`` with A (B, H, T, S) before dropout.

    Input shape: see above. Output shape: (B, T, O).

    Example (one head, identity projections, no bias):

    >>> import numpy as np
    >>> mha = MultiHeadAttention(num_heads=1, key_dim=2, use_bias=False, dtype="float64")
    >>> eye = np.eye(2)[:, None, :]
    >>> p = {"query_kernel": eye, "key_kernel": eye, "value_kernel": eye, "output_kernel": np.eye(2)[None]}
    >>> x = np.array([[[1.0, 0.0], [0.0, 1.0]]])
    >>> mha.call(p, [x, x], use_causal_mask=True)          # step 0 sees only itself
    array([[[1.    , 0.    ],
            [0.3302, 0.6698]]])

    References:
        Vaswani et al. (2017), "Attention is all you need", arXiv:1706.03762;
        keras.layers.MultiHeadAttention.
    """

    def __init__(self, num_heads: int, key_dim: int, value_dim: int | None = None, dropout: float = 0.0,
                 use_bias: bool = True, output_shape: Any = None,
                 kernel_initializer: Any = "glorot_uniform", bias_initializer: Any = "zeros",
                 kernel_regularizer: Any = None, bias_regularizer: Any = None, **kwargs):
        super().__init__(**kwargs)

        def positive(name, v):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v <= 0:
                raise ValueError(f"MultiHeadAttention: {name} must be a positive integer, got {v!r}")
            return int(v)

        self.num_heads = positive("num_heads", num_heads)
        self.key_dim = positive("key_dim", key_dim)
        self.value_dim = self.key_dim if value_dim is None else positive("value_dim", value_dim)
        if not 0.0 <= float(dropout) < 1.0:
            raise ValueError(f"MultiHeadAttention: dropout must be in [0, 1), got {dropout!r}")
        self.dropout = float(dropout)
        self.use_bias = bool(use_bias)
        if isinstance(output_shape, (list, tuple)):
            if len(output_shape) != 1:
                raise ValueError(f"MultiHeadAttention: output_shape must be an int or a 1-tuple "
                                 f"(attention over axis 1 only), got {output_shape!r}")
            output_shape = output_shape[0]
        self.output_shape = None if output_shape is None else positive("output_shape", output_shape)
        self.kernel_initializer, self.bias_initializer = kernel_initializer, bias_initializer
        self.kernel_regularizer, self.bias_regularizer = kernel_regularizer, bias_regularizer

    # -- shapes ---------------------------------------------------------------------------------
    def _split_shapes(self, shapes: Any) -> tuple:
        """(query, value, key) shapes from a shape or a list of 2 or 3 shapes."""
        if isinstance(shapes, (list, tuple)) and shapes and isinstance(shapes[0], (list, tuple)):
            if len(shapes) not in (2, 3):
                raise ValueError(f"layer {self.name!r} (MultiHeadAttention): expected the inputs "
                                 f"[query, value] or [query, value, key], received {len(shapes)} inputs")
            q, v = tuple(shapes[0]), tuple(shapes[1])
            k = tuple(shapes[2]) if len(shapes) == 3 else v
        else:
            q = v = k = tuple(shapes)
        for role, s in (("query", q), ("value", v), ("key", k)):
            if len(s) != 3:
                raise ValueError(f"layer {self.name!r} (MultiHeadAttention): expected {role} of rank 3 "
                                 f"(batch, steps, features), received shape {s}")
        if v[1] is not None and k[1] is not None and v[1] != k[1]:
            raise ValueError(f"layer {self.name!r} (MultiHeadAttention): value and key must have the "
                             f"same number of steps, received value shape {v} and key shape {k}")
        return q, v, k

    def build(self, input_shape: Any) -> None:
        q, v, k = self._split_shapes(input_shape)
        H, out = self.num_heads, self.output_shape or q[-1]
        for role, dim, size in (("query", q[-1], self.key_dim), ("key", k[-1], self.key_dim),
                                ("value", v[-1], self.value_dim)):
            self.add_weight(f"{role}_kernel", (dim, H, size), self.kernel_initializer,
                            self.kernel_regularizer)
            if self.use_bias:
                self.add_weight(f"{role}_bias", (H, size), self.bias_initializer, self.bias_regularizer)
        self.add_weight("output_kernel", (H, self.value_dim, out), self.kernel_initializer,
                        self.kernel_regularizer)
        if self.use_bias:
            self.add_weight("output_bias", (out,), self.bias_initializer, self.bias_regularizer)
        self.built = True

    def compute_output_shape(self, input_shape: Any) -> tuple:
        q, _, _ = self._split_shapes(input_shape)
        return q[:-1] + (self.output_shape or q[-1],)

    # -- the math -------------------------------------------------------------------------------
    def _mask(self, attention_mask: Any, use_causal_mask: bool, B: int, T: int, S: int) -> Any:
        """The boolean mask (B or 1, 1, T, S), True = attend; None if nothing is masked."""
        mask = None
        if attention_mask is not None:
            m = np.asarray(attention_mask).astype(bool)
            if m.ndim == 2:
                m = m[None]
            if m.ndim != 3 or m.shape[1:] != (T, S) or m.shape[0] not in (1, B):
                raise ValueError(f"layer {self.name!r} (MultiHeadAttention): attention_mask must have "
                                 f"shape (batch, T, S) = {(B, T, S)} or (T, S), received "
                                 f"{np.shape(attention_mask)}")
            mask = m[:, None]
        if use_causal_mask:
            causal = np.tril(np.ones((T, S), bool))[None, None]
            mask = causal if mask is None else mask & causal
        return mask

    def call(self, params: dict, x: Any, training: bool = False, rng: np.random.Generator | None = None,
             attention_mask: Any = None, use_causal_mask: bool = False,
             return_attention_scores: bool = False):
        """The attention output (and the weights with ``return_attention_scores``)."""
        if isinstance(x, (list, tuple)):
            if len(x) not in (2, 3):
                raise ValueError(f"layer {self.name!r} (MultiHeadAttention): expected the inputs "
                                 f"[query, value] or [query, value, key], received {len(x)} inputs")
            query, value = x[0], x[1]
            key = x[2] if len(x) == 3 else value
        else:
            query = value = key = x
        q_s, v_s, k_s = self._split_shapes([_shape_of(query), _shape_of(value), _shape_of(key)])
        for role, s in (("query", q_s), ("value", v_s), ("key", k_s)):
            want = _shape_of(params[f"{role}_kernel"])[0]
            if s[-1] != want:
                raise ValueError(f"layer {self.name!r} (MultiHeadAttention): expected {role} with "
                                 f"{want} features (its kernel is {_shape_of(params[f'{role}_kernel'])}), "
                                 f"received shape {s}")
        if q_s[0] != v_s[0] or q_s[0] != k_s[0]:
            raise ValueError(f"layer {self.name!r} (MultiHeadAttention): query, value and key must "
                             f"have the same batch size, received shapes {q_s}, {v_s}, {k_s}")
        B, T, S = q_s[0], q_s[1], v_s[1]

        def project(role, a):
            y = mnp.einsum("bte,ehd->bthd", a, params[f"{role}_kernel"])
            return y + params[f"{role}_bias"] if self.use_bias else y

        q = project("query", query) * (1.0 / float(np.sqrt(self.key_dim)))
        k, v = project("key", key), project("value", value)
        scores = mnp.einsum("bthd,bshd->bhts", q, k)
        mask = self._mask(attention_mask, use_causal_mask, B, T, S)
        if mask is None:
            weights = softmax(scores, axis=-1)
        else:
            weights = mnp.where(mask, softmax(mnp.where(mask, scores, _MASKED), axis=-1), 0.0)
        attended = weights
        if training and self.dropout:
            rng = rng if rng is not None else _initializers.default_rng()
            check_random_source(rng, weights, f"MultiHeadAttention {self.name!r} dropout")
            keep = (rng.random(_shape_of(weights)) >= self.dropout) / (1.0 - self.dropout)
            attended = weights * keep.astype(weights.dtype)
        heads = mnp.einsum("bhts,bshd->bthd", attended, v)
        out = mnp.einsum("bthd,hdo->bto", heads, params["output_kernel"])
        if self.use_bias:
            out = out + params["output_bias"]
        return (out, weights) if return_attention_scores else out

    def __call__(self, x: Any, training: bool = False, rng: np.random.Generator | None = None,
                 **kwargs):
        """Apply eagerly with the layer's own weights: ``layer([query, value])``, ``layer(x)``."""
        if not self.built:
            parts = x if isinstance(x, (list, tuple)) else [x]
            self._split_shapes([_shape_of(a) for a in parts] if isinstance(x, (list, tuple))
                               else _shape_of(x))
            shapes = [(None,) + _shape_of(a)[1:] for a in parts]
            self.build(shapes if isinstance(x, (list, tuple)) else shapes[0])
            self.built = True
        return self.call(dict(self.values), x, training=training, rng=rng, **kwargs)

    def get_config(self) -> dict:
        return {**super().get_config(), "num_heads": self.num_heads, "key_dim": self.key_dim,
                "value_dim": self.value_dim, "dropout": self.dropout, "use_bias": self.use_bias,
                "output_shape": self.output_shape, "kernel_initializer": self.kernel_initializer,
                "bias_initializer": self.bias_initializer,
                "kernel_regularizer": self.kernel_regularizer, "bias_regularizer": self.bias_regularizer}
