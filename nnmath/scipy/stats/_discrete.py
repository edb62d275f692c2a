"""Discrete distributions: scipy's names, parameters and methods, differentiable in the
parameters (p, μ; also n through ln Γ, though only integers are in its domain).

k = loc + j with j the standard variable; logpmf is −∞ off the support (non-integers included),
cdf(k) = P(X ≤ ⌊k⌋). ppf/isf are integers, piecewise constant in q and the parameters: their
derivative is 0 and they are computed by scipy (not differentiated).
"""
from __future__ import annotations

import numpy as np

from ...numpy import _elementwise as E
from ...numpy._helpers import strip_tracers, primal_value
from .. import special as S
from ._base import count, is_const, log_prob, nonnegative, probability, require, rv_generic, within

__all__ = ["rv_discrete", "bernoulli", "binom", "poisson"]

_INF = float("inf")


def _on_support(j, lo, hi, f, hi_arr=None):
    """f(j) for integers lo ≤ j ≤ hi, −∞ elsewhere (a non-integer j included)."""
    pj = strip_tracers(j)
    nonint = pj != np.floor(pj)
    out = within(j, lo, hi, f, -_INF, -_INF, 0.0, hi_arr=hi_arr)
    if np.any(nonint):
        rj = primal_value(j)
        out = E.where(rj != E.floor(rj), -_INF, out)
    return out


class rv_discrete(rv_generic):
    """Base of the discrete distributions (scipy's ``rv_discrete`` methods)."""

    has_scale = False

    def _j(self, k, v):
        if not hasattr(k, "ndim"):
            k = np.asarray(k, dtype=float)
        return k if is_const(v["loc"], 0.0) else k - v["loc"]

    def _s(self, v):
        return [v[n] for n in self.shapes]

    def logpmf(self, k, *args, **kwds):
        """log P(X = k)."""
        v = self._parse("logpmf", args, kwds)
        return self._logpmf(self._j(k, v), *self._s(v))

    def pmf(self, k, *args, **kwds):
        """P(X = k) = exp(logpmf(k))."""
        return E.exp(self.logpmf(k, *args, **kwds))

    def cdf(self, k, *args, **kwds):
        """P(X ≤ k)."""
        v = self._parse("cdf", args, kwds)
        return self._cdf(E.floor(self._j(k, v)), *self._s(v))

    def logcdf(self, k, *args, **kwds):
        """log P(X ≤ k)."""
        return log_prob(self.cdf(k, *args, **kwds), lambda: self.sf(k, *args, **kwds))

    def sf(self, k, *args, **kwds):
        """P(X > k), computed directly."""
        v = self._parse("sf", args, kwds)
        return self._sf(E.floor(self._j(k, v)), *self._s(v))

    def logsf(self, k, *args, **kwds):
        """log P(X > k)."""
        return log_prob(self.sf(k, *args, **kwds), lambda: self.cdf(k, *args, **kwds))

    def ppf(self, q, *args, **kwds):
        """The smallest k with P(X ≤ k) ≥ q (scipy's; derivative 0)."""
        return self._scipy_method("ppf", q, self._parse("ppf", args, kwds))

    def isf(self, q, *args, **kwds):
        """The smallest k with P(X > k) ≤ q (scipy's; derivative 0)."""
        return self._scipy_method("isf", q, self._parse("isf", args, kwds))


class bernoulli_gen(rv_discrete):
    r"""Bernoulli(p): P(1) = p, P(0) = 1 − p."""
    name, shapes = "bernoulli", ("p",)

    def _check(self, p):
        require("bernoulli", "p", p, *probability)

    def _logpmf(self, j, p):
        return _on_support(j, 0.0, 1.0, lambda j: S.xlogy(j, p) + S.xlog1py(1.0 - j, -p))

    def _cdf(self, j, p):
        return within(j, 0.0, 0.0, lambda j: 1.0 - p + 0.0 * j, 0.0, 1.0, 0.0)

    def _sf(self, j, p):
        return within(j, 0.0, 0.0, lambda j: p + 0.0 * j, 1.0, 0.0, 0.0)


class binom_gen(rv_discrete):
    r"""Binomial(n, p): P(k) = C(n, k) pᵏ (1 − p)ⁿ⁻ᵏ, with ln C(n, k) = −ln(n + 1) −
    ln B(n − k + 1, k + 1) (accurate for large n); cdf I₁₋ₚ(n − k, k + 1) = ``betainc``."""
    name, shapes = "binom", ("n", "p")

    def _check(self, n, p):
        require("binom", "n", n, *count)
        require("binom", "p", p, *probability)

    def _logpmf(self, j, n, p):
        return _on_support(j, 0.0, _INF, lambda j: -E.log1p(n) - S.betaln(n - j + 1.0, j + 1.0)
                           + S.xlogy(j, p) + S.xlog1py(n - j, -p), hi_arr=n)

    def _cdf(self, j, n, p):
        # P(X ≤ j) = I₁₋ₚ(n − j, j + 1) for 0 ≤ j < n; 0 below, 1 from n on
        return within(j, 0.0, _INF, lambda j: S.betainc(n - j, j + 1.0, 1.0 - p), 0.0, 1.0, 0.0,
                      hi_arr=n - 1.0)

    def _sf(self, j, n, p):
        return within(j, 0.0, _INF, lambda j: S.betainc(j + 1.0, n - j, p), 1.0, 0.0, 0.0,
                      hi_arr=n - 1.0)


class poisson_gen(rv_discrete):
    r"""Poisson(μ): P(k) = μᵏ e^(−μ)/k!; cdf Q(k + 1, μ) = ``gammaincc``, sf P(k + 1, μ)."""
    name, shapes = "poisson", ("mu",)

    def _check(self, mu):
        require("poisson", "mu", mu, *nonnegative)

    def _logpmf(self, j, mu):
        return _on_support(j, 0.0, _INF, lambda j: S.xlogy(j, mu) - S.gammaln(j + 1.0) - mu)

    def _cdf(self, j, mu):
        return within(j, 0.0, _INF, lambda j: S.gammaincc(j + 1.0, mu), 0.0, 1.0, 0.0)

    def _sf(self, j, mu):
        return within(j, 0.0, _INF, lambda j: S.gammainc(j + 1.0, mu), 1.0, 0.0, 0.0)


bernoulli = bernoulli_gen()
binom = binom_gen()
poisson = poisson_gen()
