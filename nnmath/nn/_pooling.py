"""Pooling primitives (channels-last, as Keras): max pooling and window sums.

Vocabulary: ``g`` = ȳ, the output cotangent; ``t`` = an input tangent; ``y`` = the forward output.
Shapes: x (N, H, W, C) → y (N, OH, OW, C); static parameters ``pool`` (p, q), ``strides``
(sh, sw) and ``padding`` ((top, bottom), (left, right)); xₚ is x padded (with −∞ for max pooling,
0 for sums). The window of output (i, j) holds xₚ[i·sh + a, j·sw + b] for 0 ≤ a < p, 0 ≤ b < q,
and ``view_ab`` below is the strided view of the elements that offset (a, b) meets in all windows.

    max_pool2d:           y = max_{a,b} view_ab(xₚ)
    max_pool2d_gather:    S(t) = Σ_{a,b} m_ab ⊙ view_ab(tₚ)           (= ẏ, the JVP)
    max_pool2d_scatter:   Sᵀ(g): view_ab(x̄ₚ) += m_ab ⊙ g, cropped   (= x̄, the VJP)
    sum_pool2d:           y = Σ_{a,b} view_ab(xₚ)                      (linear; average = sum / count)
    sum_pool2d_transpose: x̄: view_ab(x̄ₚ) += g, cropped               (its transpose)

m_ab ∈ {0, 1} marks the *first* maximum of each window in row-major order (a, then b), as PyTorch's
``max_pool2d``, TensorFlow's MaxPoolGrad and JAX's ``reduce_window`` gradient do: at a tie the whole
derivative goes to one element (``nnmath.numpy.max`` instead splits ties equally). A NaN in a window
is its maximum and receives the derivative. S and Sᵀ are linear in t (g) and transposes of each
other; the masks are piecewise constant in x, whose derivative through them is zero, so the rules
for x and y are None. Sums are linear: their JVP is themselves and their VJP the transpose.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .._core.declare import defprimitive
from .. import numpy as mnp
from ..numpy._helpers import linear
from ._conv import conv_padding, normalize_tuple, pad_spatial, window_slice

__all__ = ["max_pool2d", "avg_pool2d", "pool_geometry"]

_ONE = (1, 1)


def _lowest(dtype: np.dtype) -> Any:
    return -np.inf if dtype.kind in "fc" else np.iinfo(dtype).min


def _out_hw(x_hw: tuple, pool: tuple, strides: tuple, padding: tuple) -> tuple:
    return tuple((n + pr[0] + pr[1] - k) // s + 1 for n, k, s, pr in zip(x_hw, pool, strides, padding))


def _views(xp: np.ndarray, pool: tuple, strides: tuple, out_hw: tuple):
    for a in range(pool[0]):
        for b in range(pool[1]):
            yield xp[window_slice(a, b, out_hw, strides, _ONE)]


def _max_pool_impl(x, pool, strides, padding):
    xp = pad_spatial(x, padding, _lowest(x.dtype))
    out_hw = _out_hw(x.shape[1:3], pool, strides, padding)
    y = None
    for v in _views(xp, pool, strides, out_hw):
        if y is None:
            y = np.array(v)
        else:
            np.maximum(y, v, out=y)
    return y


def _first_max_masks(x, y, pool, strides, padding) -> list:
    """m_ab for every offset: True at the first maximum of each window (row-major)."""
    xp = pad_spatial(x, padding, _lowest(x.dtype))
    nan = np.isnan(y) if y.dtype.kind in "fc" else None
    if nan is not None and not nan.any():
        nan = None
    taken = None                            # windows whose maximum has been met already
    masks = []
    for v in _views(xp, pool, strides, y.shape[1:3]):
        eq = v == y
        if nan is not None:
            eq |= nan & np.isnan(v)
        if taken is None:
            masks.append(eq)
            taken = eq.copy()
        else:
            masks.append(np.greater(eq, taken))          # eq ∧ ¬taken
            np.logical_or(taken, eq, out=taken)
    return masks


# Selecting with a mask: a product v ⊙ m is several times faster than numpy's masked copies
# (``where=``), and exact when v is finite; an infinite or NaN value takes the slower np.where,
# which does not turn 0 · ∞ into NaN.


def _gather_impl(t, x, y, pool, strides, padding):
    masks = _first_max_masks(x, y, pool, strides, padding)
    tp = pad_spatial(t, padding, 0)
    finite = bool(np.isfinite(t).all()) if t.dtype.kind in "fc" else True
    out = None
    for m, v in zip(masks, _views(tp, pool, strides, y.shape[1:3])):
        picked = np.multiply(v, m) if finite else np.where(m, v, 0).astype(t.dtype, copy=False)
        out = picked if out is None else np.add(out, picked, out=out)
    return out


def _scatter_impl(g, x, y, pool, strides, padding):
    masks = _first_max_masks(x, y, pool, strides, padding)
    (pt, pb), (pl, pr) = padding
    n, h, w, c = x.shape
    xp = np.zeros((n, h + pt + pb, w + pl + pr, c), dtype=g.dtype)
    overlap = any(s < k for s, k in zip(strides, pool))
    finite = bool(np.isfinite(g).all()) if g.dtype.kind in "fc" else True
    for m, v in zip(masks, _views(xp, pool, strides, y.shape[1:3])):
        if not finite:
            v += np.where(m, g, 0).astype(g.dtype, copy=False)
        elif overlap:
            v += np.multiply(g, m)
        else:                                   # each element of x is in at most one window
            np.multiply(g, m, out=v)
    return xp[:, pt:pt + h, pl:pl + w]


def _sum_pool_impl(x, pool, strides, padding):
    xp = pad_spatial(x, padding, 0)
    out_hw = _out_hw(x.shape[1:3], pool, strides, padding)
    y = None
    for v in _views(xp, pool, strides, out_hw):
        y = np.array(v) if y is None else np.add(y, v, out=y)
    return y


def _sum_pool_t_impl(g, in_hw, pool, strides, padding):
    (pt, pb), (pl, pr) = padding
    n, _, _, c = g.shape
    xp = np.zeros((n, in_hw[0] + pt + pb, in_hw[1] + pl + pr, c), dtype=g.dtype)
    for v in _views(xp, pool, strides, g.shape[1:3]):
        v += g
    return xp[:, pt:pt + in_hw[0], pl:pl + in_hw[1]]


# ---------------------------------------------------------------------------------------------
# Batching rule (vmap): pooling treats examples independently, so the vmapped axis is folded
# into the batch axis N (arguments that are not batched are broadcast first).
# ---------------------------------------------------------------------------------------------


def _fold(size, v, batched):
    if not batched:
        v = mnp.broadcast_to(v, (size,) + tuple(v.shape))
    return mnp.reshape(v, (size * v.shape[1],) + tuple(v.shape[2:]))


def _batch_fold(prim_of):
    """The folding rule of the primitive ``prim_of()`` (looked up when the rule runs)."""
    def rule(size, vals, bat, **p):
        out = prim_of()(*[_fold(size, v, b) for v, b in zip(vals, bat)], **p)
        return mnp.reshape(out, (size, out.shape[0] // size) + tuple(out.shape[1:]))
    return rule


# ---------------------------------------------------------------------------------------------
# Primitives and their rules
# ---------------------------------------------------------------------------------------------

# y = max over each window       x̄ = Sᵀ(ȳ)     ẏ = S(ẋ)     (first maximum; see the header)
_max_pool = defprimitive("max_pool2d", _max_pool_impl,
                         vjp=lambda g, y, x, **p: _scatter(g, x, y, **p),
                         jvp=lambda t, y, x, **p: _gather(t, x, y, **p),
                         batch=_batch_fold(lambda: _max_pool), saves="all")
# z = S(t; x, y)  linear in t     t̄ = Sᵀ(z̄)     ż = S(ṫ)     x, y: piecewise constant (no rule)
_gather = defprimitive("max_pool2d_gather", _gather_impl,
                       vjp=(lambda g, z, t, x, y, **p: _scatter(g, x, y, **p), None, None),
                       jvp=(lambda s, z, t, x, y, **p: _gather(s, x, y, **p), None, None),
                       batch=_batch_fold(lambda: _gather), saves="args")
# z = Sᵀ(g; x, y) linear in g     ḡ = S(z̄)      ż = Sᵀ(ġ)
_scatter = defprimitive("max_pool2d_scatter", _scatter_impl,
                        vjp=(lambda u, z, g, x, y, **p: _gather(u, x, y, **p), None, None),
                        jvp=(lambda s, z, g, x, y, **p: _scatter(s, x, y, **p), None, None),
                        batch=_batch_fold(lambda: _scatter), saves="args")
# y = Σ_ab view_ab(xₚ)            x̄ = Σ_ab view_abᵀ(ȳ), cropped      ẏ = sum_pool(ẋ)
_sum_pool = linear("sum_pool2d", _sum_pool_impl,
                   lambda g, y, x, **p: _sum_pool_t(g, in_hw=x.shape[1:3], **p),
                   batch=_batch_fold(lambda: _sum_pool))
# x̄ = sum_pool2d_transpose(g)    ḡ = sum_pool(x̄̄)                    ẋ̄ = sum_pool2d_transpose(ġ)
_sum_pool_t = linear("sum_pool2d_transpose", _sum_pool_t_impl,
                     lambda u, z, g, in_hw, **p: _sum_pool(u, **p),
                     batch=_batch_fold(lambda: _sum_pool_t))


# ---------------------------------------------------------------------------------------------
# Public functions
# ---------------------------------------------------------------------------------------------


def pool_geometry(in_hw: tuple, pool_size: Any, strides: Any, padding: str, ndim: int = 2) -> tuple:
    """(pool, strides, explicit padding) for Keras arguments (strides None: the pool size)."""
    pool = normalize_tuple(pool_size, ndim, "pool_size")
    strides = pool if strides is None else normalize_tuple(strides, ndim, "strides")
    mode = padding.lower() if isinstance(padding, str) else padding
    if mode not in ("valid", "same"):
        raise ValueError(f"`padding` must be 'valid' or 'same', received padding={padding!r}")
    pads = tuple(conv_padding(n, k, mode, s) for n, k, s in zip(in_hw, pool, strides))
    return pool, strides, pads


def _check(x, name, pool, pads):
    if x.ndim != 4:
        raise ValueError(f"{name}: expected x of rank 4 (N, H, W, C), received shape {x.shape}")
    for n, k, pr, axis in zip(x.shape[1:3], pool, pads, ("height", "width")):
        if n + pr[0] + pr[1] < k:
            raise ValueError(f"{name}: input {axis} {n} is smaller than the pool size {k} "
                             f"(x shape {x.shape}, pool_size {pool})")


def max_pool2d(x, pool_size=2, strides=None, padding="valid"):
    """Max pooling, channels last: x (N, H, W, C) → (N, OH, OW, C); 'same' pads with −∞
    (TensorFlow's placement); the derivative goes to the first maximum of each window.

    >>> import numpy as np
    >>> max_pool2d(np.arange(16.0).reshape(1, 4, 4, 1))[0, :, :, 0]
    array([[ 5.,  7.],
           [13., 15.]])
    """
    x = x if hasattr(x, "ndim") else np.asarray(x)
    pool, strides, pads = pool_geometry(x.shape[1:3] if x.ndim == 4 else (0, 0), pool_size, strides,
                                        padding)
    _check(x, "max_pool2d", pool, pads)
    return _max_pool(x, pool=pool, strides=strides, padding=pads)


def avg_pool2d(x, pool_size=2, strides=None, padding="valid"):
    """Average pooling, channels last; with 'same', each window's mean is over its elements inside
    x only (padding is not counted, as Keras/TensorFlow; PyTorch's ``count_include_pad=False``).

    >>> import numpy as np
    >>> avg_pool2d(np.arange(16.0).reshape(1, 4, 4, 1))[0, :, :, 0]
    array([[ 2.5,  4.5],
           [10.5, 12.5]])
    """
    x = x if hasattr(x, "ndim") else np.asarray(x)
    pool, strides, pads = pool_geometry(x.shape[1:3] if x.ndim == 4 else (0, 0), pool_size, strides,
                                        padding)
    _check(x, "avg_pool2d", pool, pads)
    s = _sum_pool(x, pool=pool, strides=strides, padding=pads)
    dtype = x.dtype if x.dtype.kind == "f" else np.float64
    if any(p for pr in pads for p in pr):
        count = _sum_pool_impl(np.ones((1,) + tuple(x.shape[1:3]) + (1,), dtype), pool, strides, pads)
        return s * (1.0 / count).astype(dtype)
    return s * np.asarray(1.0 / (pool[0] * pool[1]), dtype)
