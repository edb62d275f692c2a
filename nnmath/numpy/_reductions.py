"""Reductions: sum, prod, max/min, cumsum and the composites built on them.

Vocabulary: ``g`` = ȳ, ``t`` = ẋ, ``y`` = forward output; ``expand(g)`` = ȳ reshaped to the kept-dims
shape so that it broadcasts against x.

Complex values: sum, prod and cumsum are holomorphic (their rules hold as written); max and min
are refused (an order on ℂ has no derivative); var and std of complex x are real, Σ|x − x̄|².

Conventions: max/min share the cotangent equally among tied maxima (x̄ = ȳ ⊙ [x = y] / #ties);
prod with a zero element has the finite, exact derivative ∂y/∂xᵢ = ∏_{j≠i} xⱼ (no division by 0).
"""
from __future__ import annotations

import math

import numpy as np

from .._core.declare import defprimitive
from ._elementwise import imag, multiply, real, sqrt, where
from ._helpers import linear
from ._helpers import primal_value, strip_tracers
from ._shape import _broadcast_to, _reshape, broadcast_to, expand_dims, flip, moveaxis, reshape


def _as_array(a):
    """A reduction's operand as an array: a Python list or tuple holding traced values is stacked
    (``mean([a, b])``), anything else goes to ``np.asarray``."""
    if isinstance(a, (list, tuple)):
        from ._creation import asarray
        return asarray(a)
    return np.asarray(a)


def _norm_axis(axis, ndim: int):
    """None, or a sorted tuple of non-negative axes; raises naming the bad axis."""
    if axis is None:
        return None
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    out = []
    for a in axes:
        if not -ndim <= a < ndim:
            raise np.exceptions.AxisError(f"axis {a} is out of bounds for array of dimension {ndim}")
        out.append(int(a) % ndim)
    return tuple(sorted(out))


def _kept_shape(shape: tuple, axis) -> tuple:
    if axis is None:
        return (1,) * len(shape)
    return tuple(1 if i in axis else n for i, n in enumerate(shape))


def _expand(g, x, axis, keepdims):
    """ȳ of a reduction, reshaped so that it broadcasts against x."""
    if keepdims or g.ndim == 0:     # a 0-d ȳ already broadcasts
        return g
    return _reshape(g, shape=_kept_shape(x.shape, axis))


def _count(x, axis) -> int:
    return math.prod(x.shape[a] for a in axis) if axis is not None else x.size


def _sum_impl(x, axis=None, keepdims=False):
    return np.add.reduce(x, axis=axis, keepdims=keepdims)     # np.sum minus its Python wrapper


# y = Σ_axis x  (linear)          x̄ = broadcast(ȳ)      ẏ = Σ_axis ẋ
_sum = linear("sum", _sum_impl, lambda g, y, x, axis, keepdims: _broadcast_to(
    _expand(g, x, axis, keepdims), shape=x.shape), batch="reduction", complex_rules=True)


def sum(a, axis=None, dtype=None, keepdims=False):
    """``numpy.sum`` with ``axis``, ``dtype`` and ``keepdims``."""
    if dtype is not None:
        from ._elementwise import astype
        a = astype(a, dtype)
    if not hasattr(a, "ndim"):
        a = _as_array(a)
    return _sum(a, axis=_norm_axis(axis, a.ndim), keepdims=bool(keepdims))


def _prod_others(x, axis):
    """∏_{j≠i} xⱼ along ``axis`` for every i, exactly, zeros included (O(n²) only if an element is
    0 or so small that y / xᵢ would underflow)."""
    px = strip_tracers(x)
    tiny = np.sqrt(np.finfo(px.dtype if px.dtype.kind == "f" else np.float64).tiny)
    if not np.any(np.abs(px) < tiny):       # y / x is exact unless an element is 0 or denormal-small
        return _prod(x, axis=axis, keepdims=True) / x
    axis = tuple(range(x.ndim)) if axis is None else axis
    rest = [i for i in range(x.ndim) if i not in axis]
    xt = moveaxis(x, list(axis), list(range(len(rest), x.ndim)))
    moved_shape = xt.shape
    n = _count(x, axis)
    flat = reshape(xt, moved_shape[:len(rest)] + (n,))
    eye = np.eye(n, dtype=bool)
    others = _prod(where(eye, 1.0, expand_dims(flat, -2)), axis=(flat.ndim,), keepdims=False)
    others = reshape(others, moved_shape)
    return moveaxis(others, list(range(len(rest), x.ndim)), list(axis))


def _prod_impl(x, axis=None, keepdims=False):
    return np.multiply.reduce(x, axis=axis, keepdims=keepdims)


# y = ∏_axis x                    x̄ = broadcast(ȳ) ⊙ ∏_{j≠i} xⱼ      ẏ = Σ_axis ẋ ⊙ ∏_{j≠i} xⱼ
_prod = defprimitive(
    "prod", _prod_impl,
    vjp=lambda g, y, x, axis, keepdims: _expand(g, x, axis, keepdims) * _prod_others(x, axis),
    jvp=lambda t, y, x, axis, keepdims: _sum(t * _prod_others(x, axis), axis=axis,
                                             keepdims=keepdims),
    batch="reduction", saves="args", complex_rules=True)


def prod(a, axis=None, dtype=None, keepdims=False):
    """``numpy.prod``; exact finite derivative when an element is zero."""
    if dtype is not None:
        from ._elementwise import astype
        a = astype(a, dtype)
    if not hasattr(a, "ndim"):
        a = _as_array(a)
    return _prod(a, axis=_norm_axis(axis, a.ndim), keepdims=bool(keepdims))


def _tie_weights(y, x, axis, keepdims):
    """[x = y] / #ties: the share of ȳ each element gets (ties split equally)."""
    rx = primal_value(x)
    ry = primal_value(y) if keepdims else np.reshape(primal_value(y), _kept_shape(rx.shape, axis))
    hit = rx == ry
    return (hit / np.sum(hit, axis=axis, keepdims=True)).astype(rx.dtype)


def _max_impl(x, axis=None, keepdims=False):
    return np.maximum.reduce(x, axis=axis, keepdims=keepdims)


def _min_impl(x, axis=None, keepdims=False):
    return np.minimum.reduce(x, axis=axis, keepdims=keepdims)


# y = max_axis x                  x̄ = broadcast(ȳ) ⊙ [x = y]/#ties      ẏ = Σ ẋ ⊙ [x = y]/#ties
def _extremum_vjp(g, y, x, axis, keepdims):
    return _expand(g, x, axis, keepdims) * _tie_weights(y, x, axis, keepdims)


def _extremum_jvp(t, y, x, axis, keepdims):
    return _sum(t * _tie_weights(y, x, axis, keepdims), axis=axis, keepdims=keepdims)


_max = defprimitive("max", _max_impl, vjp=_extremum_vjp, jvp=_extremum_jvp, batch="reduction")
# y = min_axis x                  (as max: x̄ = broadcast(ȳ) ⊙ [x = y]/#ties)
_min = defprimitive("min", _min_impl, vjp=_extremum_vjp, jvp=_extremum_jvp, batch="reduction")


def max(a, axis=None, keepdims=False):
    """``numpy.max``; tied maxima share the derivative equally."""
    if not hasattr(a, "ndim"):
        a = _as_array(a)
    return _max(a, axis=_norm_axis(axis, a.ndim), keepdims=bool(keepdims))


def min(a, axis=None, keepdims=False):
    """``numpy.min``; tied minima share the derivative equally."""
    if not hasattr(a, "ndim"):
        a = _as_array(a)
    return _min(a, axis=_norm_axis(axis, a.ndim), keepdims=bool(keepdims))


amax = max
amin = min


def _cumsum_impl(x, axis):
    return np.cumsum(x, axis=axis)


# y_k = Σ_{i≤k} x_i  (linear)     x̄_i = Σ_{k≥i} ȳ_k (reversed cumsum)      ẏ = cumsum ẋ
_cumsum = linear("cumsum", _cumsum_impl, lambda g, y, x, axis: flip(_cumsum(flip(g, axis), axis=axis), axis),
                 batch="axis", complex_rules=True)


def cumsum(a, axis=None):
    """``numpy.cumsum`` (``axis=None`` flattens first)."""
    if not hasattr(a, "ndim"):
        a = _as_array(a)
    if axis is None:
        a, axis = reshape(a, (-1,)), 0
    return _cumsum(a, axis=_norm_axis(axis, a.ndim)[0])


def cumprod(a, axis=None):
    """``numpy.cumprod``, as y_k = ∏_{i≤k} x_i over a lower-triangular mask (O(n²) along axis),
    so that its derivative is exact when elements are zero."""
    if not hasattr(a, "ndim"):
        a = _as_array(a)
    if axis is None:
        a, axis = reshape(a, (-1,)), 0
    axis = _norm_axis(axis, a.ndim)[0]
    x = moveaxis(a, axis, -1)
    n = x.shape[-1]
    lower = np.tril(np.ones((n, n), dtype=bool))         # mask[k, i] = i ≤ k
    y = _prod(where(lower, expand_dims(x, -2), 1.0), axis=(x.ndim,), keepdims=False)
    return moveaxis(y, -1, axis)


def mean(a, axis=None, dtype=None, keepdims=False):
    """``numpy.mean``: Σx / n."""
    if not hasattr(a, "ndim"):
        a = _as_array(a)
    s = sum(a, axis=axis, dtype=dtype, keepdims=keepdims)
    return s / _count(a, _norm_axis(axis, a.ndim))


def var(a, axis=None, dtype=None, ddof=0, keepdims=False):
    """``numpy.var``: Σ|x − x̄|² / (n − ddof) (real, also for complex x)."""
    if not hasattr(a, "ndim"):
        a = _as_array(a)
    centered = a - mean(a, axis=axis, dtype=dtype, keepdims=True)
    if centered.dtype.kind == "c":     # |c|² = (Re c)² + (Im c)², smooth everywhere
        re, im = real(centered), imag(centered)
        ss = sum(re * re + im * im, axis=axis, keepdims=keepdims)
    else:
        ss = sum(centered * centered, axis=axis, keepdims=keepdims)
    return ss / (_count(a, _norm_axis(axis, a.ndim)) - ddof)


def std(a, axis=None, dtype=None, ddof=0, keepdims=False):
    """``numpy.std``: √var (derivative 0 where the variance is 0, by sqrt's convention)."""
    return sqrt(var(a, axis=axis, dtype=dtype, ddof=ddof, keepdims=keepdims))


def average(a, axis=None, weights=None, returned=False, keepdims=False):
    """``numpy.average``: Σ wx / Σ w (differentiable in a and weights)."""
    if isinstance(a, (list, tuple)):
        a = _as_array(a)
    if isinstance(weights, (list, tuple)):
        weights = _as_array(weights)
    if weights is None:
        avg = mean(a, axis=axis, keepdims=keepdims)
        scale = _count(a, _norm_axis(axis, np.ndim(a))) if hasattr(a, "ndim") else 1
        wsum = np.full(np.shape(avg), float(scale))
    else:
        if hasattr(weights, "ndim") and hasattr(a, "ndim") and weights.shape != a.shape:
            if axis is None or weights.ndim != 1:
                raise ValueError(f"average: weights of shape {weights.shape} do not fit a of shape "
                                 f"{a.shape}; 1-D weights need an axis")
            shape = [1] * a.ndim
            shape[int(axis) % a.ndim] = weights.shape[0]
            weights = reshape(weights, tuple(shape))
        wsum = sum(broadcast_to(weights, a.shape) if hasattr(a, "shape") else weights, axis=axis,
                   keepdims=keepdims)
        avg = sum(multiply(a, weights), axis=axis, keepdims=keepdims) / wsum
    return (avg, wsum) if returned else avg
