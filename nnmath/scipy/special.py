"""``nnmath.scipy.special``: differentiable special functions (scipy.special's names).

This file holds the elementary ones (expit, erf, gammaln, digamma, xlogy, logsumexp, softmax);
Γ, B, the incomplete Γ and B functions and their inverses, ndtri/log_ndtr, the Student-t CDF,
entropies and Bessel functions are in ``_special_more.py`` and re-exported here.

Vocabulary: ``g`` = ȳ, ``t`` = ẋ, ``y`` = forward output. Rules use the same helpers as
``nnmath.numpy`` (see ``nnmath/numpy/_helpers.py``).
"""
from __future__ import annotations

import numpy as np

from .._core.declare import defprimitive
from ..numpy import _elementwise as E
from ..numpy._helpers import elementwise, elementwise2, primal_value, safe_mul
from ..numpy._reductions import _expand, _norm_axis, _sum


_TWO_OVER_SQRT_PI = float(2.0 / np.sqrt(np.pi))


class _LazyScipy:
    """``scipy.special`` imported on first use (it costs ~0.3 s at start-up)."""

    def __getattr__(self, name):
        def impl(*args, **kwargs):
            import scipy.special
            return getattr(scipy.special, name)(*args, **kwargs)
        impl.__name__ = impl.__qualname__ = name
        impl.__doc__ = f"``scipy.special.{name}``"
        return impl


sps = _LazyScipy()

# y = σ(x) = 1/(1 + e⁻ˣ)          f′ = y(1 − y)
expit = elementwise("expit", sps.expit, lambda y, x: y * (1.0 - y))
# y = erf x                       f′ = (2/√π) e^(−x²)
erf = elementwise("erf", sps.erf, lambda y, x: _TWO_OVER_SQRT_PI * E.exp(-(x * x)))
# y = erfc x                      f′ = −(2/√π) e^(−x²)
erfc = elementwise("erfc", sps.erfc, lambda y, x: -_TWO_OVER_SQRT_PI * E.exp(-(x * x)))
# y = erf⁻¹ x                     f′ = (√π/2) e^(y²)
erfinv = elementwise("erfinv", sps.erfinv, lambda y, x: (1.0 / _TWO_OVER_SQRT_PI) * E.exp(y * y),
                     singular=True)
# y = ln Γ(x)                     f′ = ψ(x)
gammaln = elementwise("gammaln", sps.gammaln, lambda y, x: digamma(x), singular=True)
# y = ψ(x)                        f′ = ψ⁽¹⁾(x)
digamma = elementwise("digamma", sps.digamma, lambda y, x: polygamma(1, x), singular=True)
psi = digamma
# y = Φ(x), the normal CDF        f′ = e^(−x²/2)/√(2π)
ndtr = elementwise("ndtr", sps.ndtr, lambda y, x: E.exp(-0.5 * x * x) / float(np.sqrt(2 * np.pi)))


def _polygamma_impl(x, n):
    # scipy computes in float64; keep x's floating dtype (a Python float or an integer: float64)
    dtype = np.result_type(x)
    return np.asarray(sps.polygamma(n, x)).astype(dtype if dtype.kind == "f" else np.float64,
                                                   copy=False)


# y = ψ⁽ⁿ⁾(x)                     f′ = ψ⁽ⁿ⁺¹⁾(x)
_polygamma = defprimitive("polygamma", _polygamma_impl,
                          vjp=lambda g, y, x, n: safe_mul(g, _polygamma(x, n=n + 1)),
                          jvp=lambda t, y, x, n: t * _polygamma(x, n=n + 1),
                          batch="elementwise", saves="args")


def polygamma(n, x):
    """``scipy.special.polygamma``: the n-th derivative of the digamma function (n an integer)."""
    return _polygamma(x, n=int(primal_value(n)))


def _xlogy_dy(y, a, b):
    # ∂(a ln b)/∂b = a/b, taken as 0 where a = 0
    nz = primal_value(a) != 0
    return E.where(nz, a / E.where(nz, b, 1.0), 0.0)


# y = a ln b  (0 where a = 0)     ∂y/∂a = ln b, ∂y/∂b = a/b
xlogy = elementwise2("xlogy", sps.xlogy, lambda y, a, b: E.log(b), _xlogy_dy,
                     singular=(True, False), saves="args")


def _xlog1py_dy(y, a, b):
    nz = primal_value(a) != 0
    return E.where(nz, a / E.where(nz, 1.0 + b, 1.0), 0.0)


# y = a ln(1 + b)  (0 where a = 0) ∂y/∂a = ln(1 + b), ∂y/∂b = a/(1 + b)
xlog1py = elementwise2("xlog1py", sps.xlog1py, lambda y, a, b: E.log1p(b), _xlog1py_dy,
                       singular=(True, False), saves="args")


def _logsumexp_impl(x, axis, keepdims):
    # m + ln Σ e^(x−m), m = max x (finite); plain numpy: scipy's version costs ~10× more per call
    m = np.maximum.reduce(x, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0)
    out = np.log(np.add.reduce(np.exp(x - m), axis=axis, keepdims=True)) + m
    return out if keepdims else np.squeeze(out, axis=axis)


def _softmax_of(y, x, axis, keepdims):
    """e^(x − y): the softmax, from logsumexp's output y."""
    return E.exp(x - _expand(y, x, axis, keepdims))


# y = ln Σ eˣ (stable)            x̄ = ȳ ⊙ softmax(x)      ẏ = Σ ẋ ⊙ softmax(x)
_logsumexp = defprimitive(
    "logsumexp", _logsumexp_impl,
    vjp=lambda g, y, x, axis, keepdims: _expand(g, x, axis, keepdims) * _softmax_of(y, x, axis, keepdims),
    jvp=lambda t, y, x, axis, keepdims: _sum(t * _softmax_of(y, x, axis, keepdims), axis=axis,
                                             keepdims=keepdims),
    batch="reduction")


def logsumexp(a, axis=None, b=None, keepdims=False):
    """``scipy.special.logsumexp``: ln Σ b eᵃ, computed stably (b > 0 if given)."""
    if not hasattr(a, "ndim"):
        a = np.asarray(a)
    if b is not None:
        a = a + E.log(b)
    return _logsumexp(a, axis=_norm_axis(axis, a.ndim), keepdims=bool(keepdims))


def logit(x):
    """``scipy.special.logit``: ln(x/(1 − x))."""
    return E.log(x) - E.log1p(-x)


def _softmax_impl(x, axis):
    e = np.exp(x - np.maximum.reduce(x, axis=axis, keepdims=True))     # shifted: never overflows
    e /= np.add.reduce(e, axis=axis, keepdims=True)
    return e


def _softmax_batch(size, vals, bat, axis):
    return _softmax(vals[0], axis=None if axis is None else tuple(a + 1 for a in axis))


# y = eˣ / Σ eˣ (stable)      x̄ = y ⊙ (ȳ − Σ ȳ ⊙ y)      ẏ = y ⊙ (ẋ − Σ ẋ ⊙ y)     (sums over axis)
_softmax = defprimitive("softmax", _softmax_impl,
                        vjp=lambda g, y, x, axis: y * (g - _sum(g * y, axis=axis, keepdims=True)),
                        jvp=lambda t, y, x, axis: y * (t - _sum(t * y, axis=axis, keepdims=True)),
                        batch=_softmax_batch, saves="ans")


def softmax(x, axis=None):
    """``scipy.special.softmax``: eˣ / Σ eˣ over ``axis`` (all axes if None), shifted by the max so
    it never overflows; one primitive, so its VJP is the three-operation y ⊙ (ȳ − Σ ȳ ⊙ y)."""
    if not hasattr(x, "ndim"):
        x = np.asarray(x)
    if x.ndim == 0:
        return E.exp(x - x)       # softmax of one number: 1 (0 derivative, by the same rule)
    axis = _norm_axis(axis, x.ndim)
    if axis is None and x.ndim:
        axis = tuple(range(x.ndim))
    return _softmax(x, axis=axis)


def log_softmax(x, axis=None):
    """``scipy.special.log_softmax``: x − logsumexp x."""
    return x - logsumexp(x, axis=axis, keepdims=True)




from ._special_more import (  # noqa: E402,F401  (imports the names defined above)
    beta, betainc, betaincinv, betaln, entr, erfcinv, gamma, gammainc, gammaincc, gammaincinv, i0,
    i0e, i1, i1e, kl_div, log_ndtr, ndtri, rel_entr, stdtr, stdtrit,
)
