"""``nnmath.scipy.stats``: scipy.stats's distributions, differentiable in the values and the
parameters (to any order), with scipy's names, argument order and conventions.

>>> import nnmath as nm
>>> from nnmath.scipy import stats
>>> float(stats.norm.logpdf(0.0))                                       # −½ log 2π
-0.9189385332046727
>>> float(nm.grad(lambda s: stats.norm.logpdf(1.0, loc=0.0, scale=s))(2.0))   # −1/s + z²/s
-0.375
>>> float(stats.t(df=3.0).cdf(0.0))
0.5

Continuous (``logpdf pdf cdf logcdf sf logsf ppf isf rvs``; shapes, then ``loc``, ``scale``):
``norm t chi2 gamma beta expon laplace logistic cauchy uniform``. Discrete (``logpmf pmf cdf
logcdf sf logsf ppf isf rvs``; shapes, then ``loc``): ``bernoulli binom poisson``. Multivariate:
``multivariate_normal`` (logpdf via Cholesky), ``dirichlet``, ``multinomial``. Calling a
distribution freezes its parameters (``stats.norm(loc, scale).logpdf(x)``). Sampling (``rvs``)
is scipy's, on the numbers (not differentiated). Parameters outside their domain (scale ≤ 0,
p ∉ [0, 1], …) raise ``ValueError`` naming the parameter and the value; scipy returns NaN.
"""
from ._continuous import (  # noqa: F401
    beta, cauchy, chi2, expon, gamma, laplace, logistic, norm, rv_continuous, t, uniform,
)
from ._discrete import bernoulli, binom, poisson, rv_discrete  # noqa: F401
from ._multivariate import dirichlet, multinomial, multivariate_normal  # noqa: F401

__all__ = ["norm", "t", "chi2", "gamma", "beta", "expon", "laplace", "logistic", "cauchy",
           "uniform", "bernoulli", "binom", "poisson", "multivariate_normal", "dirichlet",
           "multinomial", "rv_continuous", "rv_discrete"]
