"""Multivariate distributions: ``multivariate_normal`` (logpdf via Cholesky), ``dirichlet`` and
``multinomial`` (categorical for n = 1), scipy's argument conventions, differentiable in the
values and the parameters (mean, cov, alpha, p).
"""
from __future__ import annotations

import numpy as np

from ...numpy import _elementwise as E
from ...numpy import _reductions as R
from ...numpy import _shape as SH
from ...numpy import linalg as LA
from ...numpy._helpers import concrete_value, strip_tracers, primal_value
from .. import special as S
from ._base import count, positive, require

__all__ = ["multivariate_normal", "dirichlet", "multinomial"]

_LOG_2PI = float(np.log(2 * np.pi))
_INF = float("inf")


def _arr(x):
    return x if hasattr(x, "ndim") else np.asarray(x, dtype=float)


def _simplex_check(dist, name, v, axis, tol):
    """Entries in [0, 1] summing to 1 along ``axis`` (within ``tol``), else ValueError saying by
    how much."""
    pv = strip_tracers(v)
    if not np.all((pv >= 0) & (pv <= 1)):
        bad = np.asarray(concrete_value(v))
        bad = bad[(bad < 0) | (bad > 1) | np.isnan(bad)]
        raise ValueError(f"{dist}: every entry of {name} must be in [0, 1]; got {bad.ravel()[:5]}")
    total = np.sum(pv, axis=axis)
    if not np.all(np.abs(total - 1.0) <= tol):
        dev = float(np.max(np.abs(np.asarray(concrete_value(total)) - 1.0)))
        raise ValueError(f"{dist}: the entries of {name} must sum to 1; they are off by up to "
                         f"{dev:.3g} (tolerance {tol:g})")


class multivariate_normal_gen:
    r"""The multivariate normal N(μ, Σ):

    log f(x) = −½ (d log 2π + log det Σ + (x − μ)ᵀ Σ⁻¹ (x − μ)), computed from the Cholesky factor
    Σ = L Lᵀ: log det Σ = 2 Σᵢ log Lᵢᵢ, and the Mahalanobis term is ‖L⁻¹(x − μ)‖² (L⁻¹ formed once, then
    one (n × d)(d × d) product for all points). Derivatives reach x, μ and Σ
    (through Cholesky's rule; a perturbation of Σ is read symmetrically, as scipy reads only Σ's
    lower triangle).

    ``x`` has the components on its last axis; ``cov`` a matrix, a vector (its diagonal) or a number
    (times the identity). A Σ that is not positive definite raises ``ValueError``
    (``allow_singular=True`` is not supported).
    """
    name = "multivariate_normal"

    def _parts(self, mean, cov, allow_singular):
        if allow_singular:
            raise NotImplementedError("multivariate_normal: allow_singular=True is not supported "
                                      "(the density is computed from a Cholesky factor)")
        cov = _arr(cov)
        if mean is None:
            d = 1 if cov.ndim == 0 else cov.shape[0]
            mean = np.zeros(d)
        mean = _arr(mean)
        d = 1 if mean.ndim == 0 else mean.shape[-1]
        if mean.ndim == 0:
            mean = SH.reshape(mean, (1,))
        if cov.ndim == 0:
            cov = cov * np.eye(d)
        elif cov.ndim == 1:
            cov = SH.diag(cov)
        if cov.shape != (d, d):
            raise ValueError(f"multivariate_normal: cov of shape {cov.shape} does not match a mean "
                             f"of dimension {d}")
        try:
            chol = LA.cholesky(cov)
        except np.linalg.LinAlgError:
            chol = None
        pc = strip_tracers(chol) if chol is not None else None
        if chol is None or not np.all(np.isfinite(pc)):
            ev = np.linalg.eigvalsh(np.asarray(concrete_value(cov)))
            raise ValueError(f"multivariate_normal: cov must be symmetric positive definite; its "
                             f"smallest eigenvalue is {ev.min():.3g}")
        return mean, chol, d

    def logpdf(self, x, mean=None, cov=1, allow_singular=False):
        """log f(x) for x of shape (..., d) (or (n,) when d = 1); the result has shape (...)."""
        mean, chol, d = self._parts(mean, cov, allow_singular)
        x = _arr(x)
        if d == 1 and (x.ndim == 0 or x.shape[-1] != 1):
            x = SH.expand_dims(x, -1)
        if x.shape[-1] != d:
            raise ValueError(f"multivariate_normal: x has {x.shape[-1]} components on its last "
                             f"axis, the distribution {d}")
        lead = x.shape[:-1]
        dev = SH.reshape(x - mean, (-1, d))
        # Z = L⁻¹ (x − μ)ᵀ, one column per point: L⁻¹ = solve(L, I) formed once (d × d), then one
        # (d × d)(d × n) product — BLAS reads the transposed rows in place — instead of a solve
        # against n right-hand sides
        chol_inv = LA.solve(chol, np.eye(d, dtype=strip_tracers(chol).dtype))
        z = chol_inv @ SH.transpose(dev)
        maha = R.sum(z * z, axis=0)
        logdet = 2.0 * R.sum(E.log(SH.diagonal(chol)))
        out = -0.5 * (maha + (d * _LOG_2PI + logdet))
        return SH.reshape(out, lead)

    def pdf(self, x, mean=None, cov=1, allow_singular=False):
        return E.exp(self.logpdf(x, mean, cov, allow_singular))

    def entropy(self, mean=None, cov=1):
        """½ log det(2πe Σ)."""
        _, chol, d = self._parts(mean, cov, False)
        return 0.5 * d * (1.0 + _LOG_2PI) + R.sum(E.log(SH.diagonal(chol)))

    def rvs(self, mean=None, cov=1, size=1, random_state=None):
        """Samples from scipy (not differentiated)."""
        import scipy.stats
        m = None if mean is None else np.asarray(concrete_value(mean))
        return scipy.stats.multivariate_normal.rvs(m, np.asarray(concrete_value(cov)), size=size,
                                                   random_state=random_state)

    def __call__(self, mean=None, cov=1, allow_singular=False):
        return _Frozen(self, mean=mean, cov=cov, allow_singular=allow_singular)


class dirichlet_gen:
    r"""The Dirichlet distribution with concentrations α > 0 (k components):

    log f(x) = Σᵢ (αᵢ − 1) log xᵢ − (Σᵢ log Γ(αᵢ) − log Γ(Σᵢ αᵢ)).

    As scipy: ``x`` has the components on its **first** axis (shape (k, ...) → result (...)), and
    must lie on the simplex (entries in [0, 1], summing to 1), else ``ValueError``.
    """
    name = "dirichlet"

    def _alpha(self, alpha):
        alpha = _arr(alpha)
        if alpha.ndim != 1:
            raise ValueError(f"dirichlet: alpha must be a vector, got shape {alpha.shape}")
        require("dirichlet", "alpha", alpha, *positive)
        return alpha

    def logpdf(self, x, alpha):
        alpha = self._alpha(alpha)
        x = _arr(x)
        if x.shape[0] != alpha.shape[0]:
            raise ValueError(f"dirichlet: x has {x.shape[0]} components on its first axis, alpha "
                             f"{alpha.shape[0]}")
        _simplex_check("dirichlet", "x", x, 0, 1e-10 * alpha.shape[0] + 1e-12)
        a = SH.reshape(alpha, (-1,) + (1,) * (x.ndim - 1))
        log_b = R.sum(S.gammaln(alpha)) - S.gammaln(R.sum(alpha))
        return R.sum(S.xlogy(a - 1.0, x), axis=0) - log_b

    def pdf(self, x, alpha):
        return E.exp(self.logpdf(x, alpha))

    def mean(self, alpha):
        alpha = self._alpha(alpha)
        return alpha / R.sum(alpha)

    def var(self, alpha):
        alpha = self._alpha(alpha)
        a0 = R.sum(alpha)
        return alpha * (a0 - alpha) / (a0 * a0 * (a0 + 1.0))

    def entropy(self, alpha):
        """log B(α) + (α₀ − k) ψ(α₀) − Σ (αᵢ − 1) ψ(αᵢ)."""
        alpha = self._alpha(alpha)
        a0, k = R.sum(alpha), alpha.shape[0]
        log_b = R.sum(S.gammaln(alpha)) - S.gammaln(a0)
        return log_b + (a0 - k) * S.digamma(a0) - R.sum((alpha - 1.0) * S.digamma(alpha))

    def rvs(self, alpha, size=1, random_state=None):
        import scipy.stats
        return scipy.stats.dirichlet.rvs(np.asarray(concrete_value(alpha)), size=size, random_state=random_state)

    def __call__(self, alpha):
        return _Frozen(self, alpha=alpha)


class multinomial_gen:
    r"""The multinomial distribution (n trials, probabilities p on the last axis; n = 1 is the
    categorical distribution with one-hot x):

    log P(x) = log Γ(n + 1) − Σᵢ log Γ(xᵢ + 1) + Σᵢ xᵢ log pᵢ,   for counts x summing to n
    (−∞ for other x). p must lie on the simplex (checked within 1e-8·k, saying by how much it is off;
    scipy silently replaces its last entry by 1 − Σ the others).
    """
    name = "multinomial"

    def _check(self, n, p):
        require("multinomial", "n", n, *count)
        p = _arr(p)
        _simplex_check("multinomial", "p", p, -1, 1e-8 * p.shape[-1])
        return p

    def logpmf(self, x, n, p):
        p = self._check(n, p)
        x = _arr(x)
        out = S.gammaln(n + 1.0) - R.sum(S.gammaln(x + 1.0), axis=-1) + R.sum(S.xlogy(x, p), axis=-1)
        rx = strip_tracers(x)
        ok = np.all((rx >= 0) & (rx == np.floor(rx)), axis=-1) & (np.sum(rx, axis=-1) == strip_tracers(n))
        if not np.all(ok):
            rxx = primal_value(x)
            good = R.sum(E.where((rxx >= 0) & (rxx == E.floor(rxx)), 0.0, 1.0), axis=-1) == 0
            good = good & (R.sum(rxx, axis=-1) == primal_value(n))
            out = E.where(good, out, -_INF)
        return out

    def pmf(self, x, n, p):
        return E.exp(self.logpmf(x, n, p))

    def rvs(self, n, p, size=None, random_state=None):
        import scipy.stats
        return scipy.stats.multinomial.rvs(int(np.asarray(concrete_value(n))), np.asarray(concrete_value(p)), size=size,
                                           random_state=random_state)

    def __call__(self, n, p):
        return _Frozen(self, n=n, p=p)


class _Frozen:
    """A multivariate distribution with its parameters fixed."""

    def __init__(self, dist, **params):
        self.dist, self.params = dist, params

    def __getattr__(self, method):
        if method.startswith("_") or not hasattr(self.dist, method):
            raise AttributeError(f"frozen {self.dist.name} has no method {method!r}")
        fn = getattr(self.dist, method)
        if method in ("logpdf", "pdf", "logpmf", "pmf"):
            return lambda x: fn(x, **self.params)
        return lambda **k: fn(**{**{p: v for p, v in self.params.items() if p != "allow_singular"}, **k})


multivariate_normal = multivariate_normal_gen()
dirichlet = dirichlet_gen()
multinomial = multinomial_gen()
