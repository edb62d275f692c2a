"""Continuous distributions: scipy's names, parameters and methods, differentiable in the values
and the parameters (to any order: the densities are composites of primitives, the CDFs and
quantiles are ``nnmath.scipy.special`` primitives with their own rules).

Each distribution is its standard form, written on z = (x − loc)/scale (see ``_base``):
``_logpdf``, ``_cdf``, ``_sf``, ``_ppf`` and, where a direct formula is more accurate than the
default (log of the CDF, ppf(1 − q)), ``_logcdf``, ``_logsf``, ``_isf``.
"""
from __future__ import annotations

import numpy as np

from ...numpy import _elementwise as E
from .. import special as S
from ._base import is_const, log_prob, positive, require, rv_generic, within

__all__ = ["rv_continuous", "norm", "t", "chi2", "gamma", "beta", "expon", "laplace", "logistic",
           "cauchy", "uniform"]

_INF = float("inf")
_HALF_LOG_2PI = float(0.5 * np.log(2 * np.pi))
_LN2 = float(np.log(2.0))
_LOG_PI = float(np.log(np.pi))


class rv_continuous(rv_generic):
    """Base of the continuous distributions (scipy's ``rv_continuous`` methods)."""

    def _z(self, x, v):
        if not hasattr(x, "ndim"):
            x = np.asarray(x, dtype=float)
        loc, scale = v["loc"], v["scale"]
        z = x if is_const(loc, 0.0) else x - loc
        return z if is_const(scale, 1.0) else z / scale

    def _x(self, z, v):
        loc, scale = v["loc"], v["scale"]
        x = z if is_const(scale, 1.0) else z * scale
        return x if is_const(loc, 0.0) else x + loc

    def _s(self, v):
        return [v[k] for k in self.shapes]

    def logpdf(self, x, *args, **kwds):
        """log f(x) = log f₀((x − loc)/scale) − log scale."""
        v = self._parse("logpdf", args, kwds)
        out = self._logpdf(self._z(x, v), *self._s(v))
        return out if is_const(v["scale"], 1.0) else out - E.log(v["scale"])

    def pdf(self, x, *args, **kwds):
        """f(x) = exp(logpdf(x))."""
        return E.exp(self.logpdf(x, *args, **kwds))

    def cdf(self, x, *args, **kwds):
        """F(x) = P(X ≤ x)."""
        v = self._parse("cdf", args, kwds)
        return self._cdf(self._z(x, v), *self._s(v))

    def logcdf(self, x, *args, **kwds):
        """log F(x)."""
        v = self._parse("logcdf", args, kwds)
        return self._logcdf(self._z(x, v), *self._s(v))

    def sf(self, x, *args, **kwds):
        """The survival function 1 − F(x), computed directly (accurate where F is near 1)."""
        v = self._parse("sf", args, kwds)
        return self._sf(self._z(x, v), *self._s(v))

    def logsf(self, x, *args, **kwds):
        """log(1 − F(x))."""
        v = self._parse("logsf", args, kwds)
        return self._logsf(self._z(x, v), *self._s(v))

    def ppf(self, q, *args, **kwds):
        """The quantile function F⁻¹(q) (NaN outside [0, 1], as scipy)."""
        v = self._parse("ppf", args, kwds)
        return self._x(self._ppf(q, *self._s(v)), v)

    def isf(self, q, *args, **kwds):
        """The inverse survival function F⁻¹(1 − q)."""
        v = self._parse("isf", args, kwds)
        return self._x(self._isf(q, *self._s(v)), v)

    # defaults, overridden where a direct formula is more accurate
    def _logcdf(self, z, *s):
        return log_prob(self._cdf(z, *s), lambda: self._sf(z, *s))

    def _logsf(self, z, *s):
        return log_prob(self._sf(z, *s), lambda: self._cdf(z, *s))

    def _sf(self, z, *s):
        return 1.0 - self._cdf(z, *s)

    def _isf(self, q, *s):
        return self._ppf(1.0 - q, *s)


def _halfline(z, f, below, safe=1.0):
    """f on z ≥ 0, ``below`` for z < 0."""
    return within(z, 0.0, _INF, f, below, below, safe)


class norm_gen(rv_continuous):
    r"""The normal distribution: f(z) = e^(−z²/2)/√(2π); cdf Φ = ``ndtr``, log Φ = ``log_ndtr``
    (finite far into the tails), ppf Φ⁻¹ = ``ndtri``."""
    name = "norm"

    def logpdf(self, x, loc=0.0, scale=1.0):
        # the common case written out: no argument parsing on this path (it is the hot one)
        if not is_const(scale, 1.0):
            require("norm", "scale", scale, *positive)
        z = self._z(x, {"loc": loc, "scale": scale})
        out = -0.5 * (z * z) - _HALF_LOG_2PI
        return out if is_const(scale, 1.0) else out - E.log(scale)

    def _logpdf(self, z):
        return -0.5 * (z * z) - _HALF_LOG_2PI

    def _cdf(self, z):
        return S.ndtr(z)

    def _logcdf(self, z):
        return S.log_ndtr(z)

    def _sf(self, z):
        return S.ndtr(-z)

    def _logsf(self, z):
        return S.log_ndtr(-z)

    def _ppf(self, q):
        return S.ndtri(q)

    def _isf(self, q):
        return -S.ndtri(q)


class t_gen(rv_continuous):
    r"""Student's t with ``df`` = ν > 0 degrees of freedom:
    f(z) = Γ((ν+1)/2)/(√(νπ) Γ(ν/2)) · (1 + z²/ν)^(−(ν+1)/2); cdf ``stdtr``, ppf ``stdtrit``."""
    name, shapes = "t", ("df",)

    def _check(self, df):
        require("t", "df", df, *positive)

    def _logpdf(self, z, df):
        return (S.gammaln(0.5 * (df + 1.0)) - S.gammaln(0.5 * df) - 0.5 * (E.log(df) + _LOG_PI)
                - 0.5 * (df + 1.0) * E.log1p(z * z / df))

    def _cdf(self, z, df):
        return S.stdtr(df, z)

    def _sf(self, z, df):
        return S.stdtr(df, -z)

    def _ppf(self, q, df):
        return S.stdtrit(df, q)

    def _isf(self, q, df):
        return -S.stdtrit(df, q)


class gamma_gen(rv_continuous):
    r"""The gamma distribution with shape ``a`` > 0: f(z) = z^(a−1) e^(−z)/Γ(a), z ≥ 0;
    cdf P(a, z) = ``gammainc``, sf Q(a, z) = ``gammaincc``, ppf ``gammaincinv``."""
    name, shapes = "gamma", ("a",)

    def _check(self, a):
        require(self.name, "a", a, *positive)

    def _logpdf(self, z, a):
        return _halfline(z, lambda z: S.xlogy(a - 1.0, z) - z - S.gammaln(a), -_INF)

    def _cdf(self, z, a):
        return _halfline(z, lambda z: S.gammainc(a, z), 0.0)

    def _sf(self, z, a):
        return _halfline(z, lambda z: S.gammaincc(a, z), 1.0)

    def _ppf(self, q, a):
        return S.gammaincinv(a, q)


class chi2_gen(gamma_gen):
    r"""χ² with ``df`` = k > 0: the gamma distribution with a = k/2 and scale 2."""
    name, shapes = "chi2", ("df",)

    def _check(self, df):
        require("chi2", "df", df, *positive)

    def _logpdf(self, z, df):
        return super()._logpdf(0.5 * z, 0.5 * df) - _LN2

    def _cdf(self, z, df):
        return super()._cdf(0.5 * z, 0.5 * df)

    def _sf(self, z, df):
        return super()._sf(0.5 * z, 0.5 * df)

    def _ppf(self, q, df):
        return 2.0 * S.gammaincinv(0.5 * df, q)


class beta_gen(rv_continuous):
    r"""The beta distribution, ``a``, ``b`` > 0: f(z) = z^(a−1)(1 − z)^(b−1)/B(a, b) on [0, 1];
    cdf Iz(a, b) = ``betainc``, sf I₁₋z(b, a), ppf ``betaincinv``."""
    name, shapes = "beta", ("a", "b")

    def _check(self, a, b):
        require("beta", "a", a, *positive)
        require("beta", "b", b, *positive)

    def _logpdf(self, z, a, b):
        return within(z, 0.0, 1.0, lambda z: S.xlogy(a - 1.0, z) + S.xlog1py(b - 1.0, -z)
                      - S.betaln(a, b), -_INF, -_INF, 0.5)

    def _cdf(self, z, a, b):
        return within(z, 0.0, 1.0, lambda z: S.betainc(a, b, z), 0.0, 1.0, 0.5)

    def _sf(self, z, a, b):
        return within(z, 0.0, 1.0, lambda z: S.betainc(b, a, 1.0 - z), 1.0, 0.0, 0.5)

    def _ppf(self, q, a, b):
        return S.betaincinv(a, b, q)

    def _isf(self, q, a, b):
        return 1.0 - S.betaincinv(b, a, q)


class expon_gen(rv_continuous):
    r"""The exponential distribution: f(z) = e^(−z), z ≥ 0 (scale = 1/λ)."""
    name = "expon"

    def _logpdf(self, z):
        return _halfline(z, lambda z: -z, -_INF)

    def _cdf(self, z):
        return _halfline(z, lambda z: -E.expm1(-z), 0.0)

    def _logcdf(self, z):
        # log(1 − e^(−z)): via expm1 below ln 2, via log1p above (Mächler 2012, "log1mexp")
        return _halfline(z, lambda z: E.where(E.less(z, _LN2), E.log(-E.expm1(-E.minimum(z, _LN2))),
                                              E.log1p(-E.exp(-z))), -_INF)

    def _sf(self, z):
        return _halfline(z, lambda z: E.exp(-z), 1.0)

    def _logsf(self, z):
        return _halfline(z, lambda z: -z, 0.0)

    def _ppf(self, q):
        return -E.log1p(-q)

    def _isf(self, q):
        return -E.log(q)


def _split(z):
    """(z on z < 0 else 0, z on z ≥ 0 else 0): each half fed only to its own formula, so neither
    overflows and the derivative at 0 is the right one-sided one (not abs′(0) = 0)."""
    neg = E.less(z, 0.0)
    return neg, E.where(neg, z, 0.0), E.where(neg, 0.0, z)


class laplace_gen(rv_continuous):
    r"""The Laplace distribution: f(z) = e^(−|z|)/2 (logpdf′(0) = 0, abs′'s convention)."""
    name = "laplace"

    def _logpdf(self, z):
        return -E.abs(z) - _LN2

    def _cdf(self, z):
        neg, zn, zp = _split(z)
        return E.where(neg, 0.5 * E.exp(zn), 1.0 - 0.5 * E.exp(-zp))

    def _sf(self, z):
        return self._cdf(-z)

    def _logcdf(self, z):
        neg, zn, zp = _split(z)
        return E.where(neg, zn - _LN2, E.log1p(-0.5 * E.exp(-zp)))

    def _logsf(self, z):
        return self._logcdf(-z)

    def _ppf(self, q):
        lo = E.less(q, 0.5)
        return E.where(lo, E.log(2.0 * E.where(lo, q, 0.25)), -E.log(2.0 - 2.0 * E.where(lo, 0.75, q)))

    def _isf(self, q):
        return -self._ppf(q)


class logistic_gen(rv_continuous):
    r"""The logistic distribution: f(z) = e^(−z)/(1 + e^(−z))²; cdf ``expit``, ppf ``logit``; the
    logs through logaddexp (no overflow in either tail)."""
    name = "logistic"

    def _logpdf(self, z):
        return -z - 2.0 * E.logaddexp(0.0, -z)

    def _cdf(self, z):
        return S.expit(z)

    def _sf(self, z):
        return S.expit(-z)

    def _logcdf(self, z):
        return -E.logaddexp(0.0, -z)

    def _logsf(self, z):
        return -E.logaddexp(0.0, z)

    def _ppf(self, q):
        return S.logit(q)

    def _isf(self, q):
        return -S.logit(q)


class cauchy_gen(rv_continuous):
    r"""The Cauchy distribution: f(z) = 1/(π(1 + z²)); cdf = atan2(1, −z)/π (accurate in both
    tails), ppf tan(π(q − ½))."""
    name = "cauchy"

    def _logpdf(self, z):
        return -_LOG_PI - E.log1p(z * z)

    def _cdf(self, z):
        return E.arctan2(1.0, -z) / np.pi

    def _sf(self, z):
        return E.arctan2(1.0, z) / np.pi

    def _ppf(self, q):
        return E.tan(np.pi * (q - 0.5))

    def _isf(self, q):
        return E.tan(np.pi * (0.5 - q))


class uniform_gen(rv_continuous):
    r"""The uniform distribution on [loc, loc + scale]: f(z) = 1 on [0, 1]."""
    name = "uniform"

    def _logpdf(self, z):
        return within(z, 0.0, 1.0, lambda z: 0.0 * z, -_INF, -_INF, 0.5)

    def _cdf(self, z):
        return E.clip(z, 0.0, 1.0)

    def _sf(self, z):
        return E.clip(1.0 - z, 0.0, 1.0)

    def _ppf(self, q):
        return q

    def _isf(self, q):
        return 1.0 - q


norm = norm_gen()
t = t_gen()
chi2 = chi2_gen()
gamma = gamma_gen()
beta = beta_gen()
expon = expon_gen()
laplace = laplace_gen()
logistic = logistic_gen()
cauchy = cauchy_gen()
uniform = uniform_gen()
