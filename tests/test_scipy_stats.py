"""nnmath.scipy.stats against scipy.stats: every method's values, and its derivatives in the
values and the parameters (check_grads: finite differences, both modes, to second order); domain
errors; frozen distributions; vmap and jit."""
from __future__ import annotations

import numpy as np
import pytest
import scipy.stats as ss

import nnmath as nm
import nnmath.numpy as mnp
from nnmath.scipy import stats

R = np.random.default_rng(0)

# name: (shape parameters, loc, scale, points in the support (standard form z), methods)
CONT = ["logpdf", "pdf", "cdf", "logcdf", "sf", "logsf"]
QUANT = ["ppf", "isf"]
CONTINUOUS = {
    "norm": ((), R.normal(size=7) * 2),
    "t": ((3.5,), R.normal(size=7) * 2),
    "chi2": ((4.5,), R.uniform(0.2, 8, size=7)),
    "gamma": ((2.5,), R.uniform(0.2, 6, size=7)),
    "beta": ((2.5, 1.7), R.uniform(0.05, 0.95, size=7)),
    "expon": ((), R.uniform(0.1, 4, size=7)),
    "laplace": ((), np.array([-3.0, -1.2, -0.3, 0.4, 1.1, 2.5])),
    "logistic": ((), R.normal(size=7) * 3),
    "cauchy": ((), R.normal(size=7) * 3),
    "uniform": ((), R.uniform(0.05, 0.95, size=7)),
}
LOC, SCALE = 0.3, 1.7
Q = np.array([0.01, 0.2, 0.45, 0.7, 0.97])


def _ours(name):
    return getattr(stats, name)


@pytest.mark.parametrize("name", sorted(CONTINUOUS))
@pytest.mark.parametrize("method", CONT + QUANT)
def test_continuous_values_match_scipy(name, method):
    shapes, z = CONTINUOUS[name]
    pts = Q if method in QUANT else LOC + SCALE * z
    want = getattr(getattr(ss, name), method)(pts, *shapes, loc=LOC, scale=SCALE)
    got = getattr(_ours(name), method)(pts, *shapes, loc=LOC, scale=SCALE)
    np.testing.assert_allclose(got, want, rtol=1e-11, atol=1e-14, err_msg=f"{name}.{method}")
    # standard form, parameters by position
    want0 = getattr(getattr(ss, name), method)(Q if method in QUANT else z, *shapes)
    np.testing.assert_allclose(getattr(_ours(name), method)(Q if method in QUANT else z, *shapes),
                               want0, rtol=1e-11, atol=1e-14)


@pytest.mark.parametrize("name", sorted(CONTINUOUS))
@pytest.mark.parametrize("method", CONT + QUANT)
def test_continuous_derivatives_in_values_and_parameters(name, method):
    shapes, z = CONTINUOUS[name]
    pts = Q if method in QUANT else LOC + SCALE * z
    fn = getattr(_ours(name), method)
    f = lambda x, loc, scale, *s: fn(x, *s, loc=loc, scale=scale)
    args = (pts, np.float64(LOC), np.float64(SCALE)) + tuple(np.float64(s) for s in shapes)
    if name == "uniform":       # the support moves with loc and scale: not differentiable there
        args = (pts, np.float64(LOC), np.float64(SCALE))
    nm.check_grads(f, args, order=2, eps=1e-5, rtol=2e-5, atol=1e-6)


@pytest.mark.parametrize("name", sorted(CONTINUOUS))
def test_continuous_outside_support(name):
    shapes, _ = CONTINUOUS[name]
    x = np.array([-5.0, -0.5, 1.5, 40.0])
    for method in CONT:
        want = getattr(getattr(ss, name), method)(x, *shapes)
        with np.errstate(divide="ignore"):
            got = getattr(_ours(name), method)(x, *shapes)
        np.testing.assert_allclose(got, want, rtol=1e-11, atol=1e-300, err_msg=f"{name}.{method}")
    # gradients outside the support are finite (0), never NaN
    g = nm.grad(lambda x: mnp.sum(mnp.where(mnp.isfinite(_ours(name).logpdf(x, *shapes)),
                                            _ours(name).logpdf(x, *shapes), 0.0)))(x)
    assert np.all(np.isfinite(g))


def test_tails():
    np.testing.assert_allclose(stats.norm.logcdf(-40.0), ss.norm.logcdf(-40.0), rtol=1e-13)
    assert np.isfinite(stats.norm.logcdf(-40.0))
    np.testing.assert_allclose(stats.norm.logsf(40.0), ss.norm.logsf(40.0), rtol=1e-13)
    np.testing.assert_allclose(nm.grad(stats.norm.logcdf)(-40.0), 40.0249688, rtol=1e-6)
    np.testing.assert_allclose(stats.logistic.logcdf(-800.0), -800.0)
    np.testing.assert_allclose(stats.logistic.logpdf(-800.0), ss.logistic.logpdf(-800.0))
    np.testing.assert_allclose(stats.cauchy.sf(1e8), ss.cauchy.sf(1e8), rtol=1e-12)
    np.testing.assert_allclose(stats.t.sf(1e10, 3.0), ss.t.sf(1e10, 3.0), rtol=1e-10)
    np.testing.assert_allclose(stats.beta.sf(0.999999, 2.0, 3.0), ss.beta.sf(0.999999, 2.0, 3.0),
                               rtol=1e-10)
    np.testing.assert_allclose(stats.gamma.sf(60.0, 2.0), ss.gamma.sf(60.0, 2.0), rtol=1e-12)
    np.testing.assert_allclose(stats.expon.isf(1e-300), ss.expon.isf(1e-300), rtol=1e-14)


DISCRETE = {
    "bernoulli": ((0.3,), np.array([0.0, 1.0, 0.0, 1.0])),
    "binom": ((12, 0.35), np.array([0.0, 3.0, 4.0, 7.0, 12.0])),
    "poisson": ((3.2,), np.array([0.0, 1.0, 3.0, 6.0, 11.0])),
}
DMETHODS = ["logpmf", "pmf", "cdf", "logcdf", "sf", "logsf"]


@pytest.mark.parametrize("name", sorted(DISCRETE))
@pytest.mark.parametrize("method", DMETHODS + ["ppf", "isf"])
def test_discrete_values_match_scipy(name, method):
    shapes, k = DISCRETE[name]
    pts = Q if method in ("ppf", "isf") else np.concatenate([k, [-1.0, 2.5, 13.0, 1.5]])
    want = getattr(getattr(ss, name), method)(pts, *shapes, loc=1)
    with np.errstate(divide="ignore"):
        got = getattr(_ours(name), method)(pts, *shapes, loc=1)
    np.testing.assert_allclose(got, want, rtol=1e-11, atol=1e-300, err_msg=f"{name}.{method}")


@pytest.mark.parametrize("name", sorted(DISCRETE))
@pytest.mark.parametrize("method", DMETHODS)
def test_discrete_derivatives_in_parameters(name, method):
    shapes, k = DISCRETE[name]
    fn = getattr(_ours(name), method)
    if name == "binom":
        f = lambda p: fn(k, shapes[0], p)
        args = (np.float64(shapes[1]),)
    else:
        f = lambda p: fn(k, p)
        args = (np.float64(shapes[0]),)
    k_ok = k if method not in ("sf", "logsf") else k[k < (shapes[0] if name == "binom" else 99)]
    if name == "bernoulli" and method in ("sf", "logsf"):
        k_ok = k[k < 1]
    g = lambda p: (f(p) if k_ok is k else fn(k_ok, *([shapes[0], p] if name == "binom" else [p])))
    nm.check_grads(g, args, order=2, eps=1e-6, rtol=1e-5, atol=1e-7)


def test_discrete_gradient_is_the_score():
    # d/dp log P(k; n, p) = k/p − (n − k)/(1 − p);  d/dμ log P(k; μ) = k/μ − 1
    k = np.array([0.0, 3.0, 12.0])
    np.testing.assert_allclose(nm.grad(lambda p: mnp.sum(stats.binom.logpmf(k, 12, p)))(0.35),
                               np.sum(k / 0.35 - (12 - k) / 0.65), rtol=1e-12)
    np.testing.assert_allclose(nm.grad(lambda m: mnp.sum(stats.poisson.logpmf(k, m)))(3.2),
                               np.sum(k / 3.2 - 1), rtol=1e-12)


# ----------------------------------------------------------------------------- multivariate
def _spd(d, seed=1):
    a = np.random.default_rng(seed).normal(size=(d, d))
    return a @ a.T + d * np.eye(d)


def test_multivariate_normal_matches_scipy():
    d = 3
    cov, mean = _spd(d), R.normal(size=d)
    x = R.normal(size=(5, d))
    np.testing.assert_allclose(stats.multivariate_normal.logpdf(x, mean, cov),
                               ss.multivariate_normal.logpdf(x, mean, cov), rtol=1e-12)
    np.testing.assert_allclose(stats.multivariate_normal.pdf(x[0], mean, cov),
                               ss.multivariate_normal.pdf(x[0], mean, cov), rtol=1e-12)
    np.testing.assert_allclose(stats.multivariate_normal.logpdf(x, cov=np.diag(cov)),
                               ss.multivariate_normal.logpdf(x, np.zeros(d), np.diag(np.diag(cov))), rtol=1e-12)
    np.testing.assert_allclose(stats.multivariate_normal.logpdf(x, mean, 2.5),
                               ss.multivariate_normal.logpdf(x, mean, 2.5), rtol=1e-12)
    np.testing.assert_allclose(stats.multivariate_normal.logpdf(x[:, 0], 0.5, 2.0),
                               ss.multivariate_normal.logpdf(x[:, 0], 0.5, 2.0), rtol=1e-12)
    np.testing.assert_allclose(stats.multivariate_normal.entropy(mean, cov),
                               ss.multivariate_normal.entropy(mean, cov), rtol=1e-12)
    np.testing.assert_allclose(stats.multivariate_normal(mean, cov).logpdf(x),
                               ss.multivariate_normal(mean, cov).logpdf(x), rtol=1e-12)


def test_multivariate_normal_derivatives():
    d = 3
    x, mean, a = R.normal(size=(4, d)), R.normal(size=d), R.normal(size=(d, d))
    f = lambda x, m, a: stats.multivariate_normal.logpdf(x, m, a @ a.T + np.eye(d))
    nm.check_grads(f, (x, mean, a), order=2, rtol=1e-5)
    # the exact gradients: ∂/∂μ = Σ⁻¹(x − μ), ∂/∂Σ = ½(Σ⁻¹(x−μ)(x−μ)ᵀΣ⁻¹ − Σ⁻¹) (symmetric Σ)
    cov = a @ a.T + np.eye(d)
    inv = np.linalg.inv(cov)
    np.testing.assert_allclose(nm.grad(lambda m: stats.multivariate_normal.logpdf(x[0], m, cov))(mean),
                               inv @ (x[0] - mean), rtol=1e-10)


def test_dirichlet_matches_scipy_and_differentiates():
    alpha = np.array([1.5, 2.0, 3.5])
    x = R.dirichlet(alpha, size=4).T          # components first, as scipy
    np.testing.assert_allclose(stats.dirichlet.logpdf(x, alpha), ss.dirichlet.logpdf(x, alpha),
                               rtol=1e-12)
    np.testing.assert_allclose(stats.dirichlet.pdf(x[:, 0], alpha), ss.dirichlet.pdf(x[:, 0], alpha),
                               rtol=1e-12)
    for m in ("mean", "var", "entropy"):
        np.testing.assert_allclose(getattr(stats.dirichlet, m)(alpha), getattr(ss.dirichlet, m)(alpha),
                                   rtol=1e-12, err_msg=m)
    nm.check_grads(lambda a: stats.dirichlet.logpdf(x, a), (alpha,), order=2)
    nm.check_grads(lambda a: stats.dirichlet.entropy(a), (alpha,), order=2)
    # in x, along the simplex (a move that keeps Σx = 1)
    v = np.array([1.0, -0.5, -0.5])
    f = lambda u: stats.dirichlet.logpdf(x[:, 0] + u * v, alpha)
    nm.check_grads(f, (np.float64(0.0),), order=2, eps=1e-6)
    np.testing.assert_allclose(nm.grad(nm.grad(f))(0.0), -np.sum((alpha - 1) * v ** 2 / x[:, 0] ** 2),
                               rtol=1e-12)


def test_multinomial_matches_scipy_and_differentiates():
    p = np.array([0.2, 0.3, 0.5])
    x = np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 6.0], [2.0, 2.0, 2.0], [1.0, 1.0, 1.0], [7.0, -1.0, 0.0]])
    np.testing.assert_allclose(stats.multinomial.logpmf(x, 6, p), ss.multinomial.logpmf(x, 6, p),
                               rtol=1e-12)
    np.testing.assert_allclose(stats.multinomial.pmf(x[0], 6, p), ss.multinomial.pmf(x[0], 6, p),
                               rtol=1e-12)
    # p on the simplex as the softmax of logits (a perturbation of p itself would leave it)
    from nnmath.scipy.special import softmax
    nm.check_grads(lambda w: stats.multinomial.logpmf(x[:3], 6, softmax(w)), (np.log(p),), order=2)
    np.testing.assert_allclose(nm.grad(lambda p: stats.multinomial.logpmf(x[0], 6, p))(p), x[0] / p,
                               rtol=1e-14)
    # categorical: n = 1, one-hot x: log p of the class
    onehot = np.eye(3)[[2, 0, 1]]
    np.testing.assert_allclose(stats.multinomial(1, p).logpmf(onehot), np.log(p[[2, 0, 1]]),
                               rtol=1e-14)


# ----------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("call,match", [
    (lambda: stats.norm.logpdf(0.0, scale=0.0), r"norm: scale must be > 0; got scale = 0"),
    (lambda: stats.norm.cdf(0.0, 0.0, -1.0), r"scale must be > 0; got scale = -1"),
    (lambda: stats.t.logpdf(0.0, -2.0), r"t: df must be > 0; got df = -2"),
    (lambda: stats.gamma.cdf(1.0, np.array([1.0, np.nan])), r"gamma: a must be > 0; got a = nan"),
    (lambda: stats.beta.logpdf(0.5, 1.0, 0.0), r"beta: b must be > 0"),
    (lambda: stats.chi2.sf(1.0, 0.0), r"chi2: df must be > 0"),
    (lambda: stats.bernoulli.logpmf(1.0, 1.5), r"bernoulli: p must be in \[0, 1\]; got p = 1.5"),
    (lambda: stats.binom.pmf(1.0, 10, -0.1), r"binom: p must be in \[0, 1\]"),
    (lambda: stats.binom.pmf(1.0, 2.5, 0.1), r"binom: n must be a non-negative integer"),
    (lambda: stats.poisson.logpmf(1.0, -1.0), r"poisson: mu must be >= 0"),
    (lambda: stats.dirichlet.logpdf(np.array([0.5, 0.5]), np.array([1.0, -1.0])), r"alpha must be > 0"),
    (lambda: stats.dirichlet.logpdf(np.array([0.5, 0.6]), np.array([1.0, 1.0])), r"off by up to 0.1"),
    (lambda: stats.multinomial.logpmf(np.array([1.0, 1.0]), 2, np.array([0.5, 0.6])),
     r"p must sum to 1; they are off by up to 0.1"),
    (lambda: stats.multinomial.logpmf(np.array([1.0, 1.0]), 2, np.array([1.5, -0.5])), r"in \[0, 1\]"),
    (lambda: stats.multivariate_normal.logpdf(np.zeros(2), cov=np.array([[1.0, 2.0], [2.0, 1.0]])),
     r"positive definite; its smallest eigenvalue is -1"),
    (lambda: stats.norm(0.0, -1.0), r"scale must be > 0"),
])
def test_parameters_outside_their_domain_raise(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_domain_errors_under_transforms():
    with pytest.raises(ValueError, match="scale must be > 0"):
        nm.grad(lambda s: stats.norm.logpdf(1.0, scale=s))(-1.0)
    with pytest.raises(ValueError, match="p must be in"):
        nm.vmap(lambda p: stats.bernoulli.logpmf(1.0, p))(np.array([0.5, 1.2]))
    f = nm.jit(lambda x, s: stats.norm.logpdf(x, scale=s))
    np.testing.assert_allclose(f(np.ones(3), 2.0), ss.norm.logpdf(np.ones(3), scale=2.0))
    with pytest.raises(ValueError, match="scale must be > 0; got scale = -2"):
        f(np.ones(3), -2.0)          # the guard recorded by jit fails, the check runs again


def test_argument_errors():
    with pytest.raises(TypeError, match="missing the shape parameter 'df'"):
        stats.t.logpdf(0.0)
    with pytest.raises(TypeError, match="unexpected keyword argument 'sigma'"):
        stats.gamma.logpdf(1.0, 2.0, sigma=1.0)
    with pytest.raises(TypeError, match="multiple values for 'a'"):
        stats.gamma.logpdf(1.0, 2.0, a=1.0)


# ----------------------------------------------------------------------------- frozen, rvs, transforms
def test_frozen_and_rvs():
    fz = stats.gamma(2.5, loc=0.1, scale=2.0)
    x = np.array([0.5, 1.0, 4.0])
    np.testing.assert_allclose(fz.logpdf(x), ss.gamma(2.5, loc=0.1, scale=2.0).logpdf(x), rtol=1e-12)
    np.testing.assert_allclose(fz.ppf(Q), ss.gamma(2.5, loc=0.1, scale=2.0).ppf(Q), rtol=1e-11)
    np.testing.assert_array_equal(fz.rvs(size=4, random_state=0),
                                  ss.gamma(2.5, loc=0.1, scale=2.0).rvs(size=4, random_state=0))
    np.testing.assert_array_equal(stats.poisson.rvs(3.0, size=5, random_state=1),
                                  ss.poisson.rvs(3.0, size=5, random_state=1))
    np.testing.assert_array_equal(stats.dirichlet.rvs(np.ones(3), size=2, random_state=1),
                                  ss.dirichlet.rvs(np.ones(3), size=2, random_state=1))
    # derivatives reach frozen parameters
    g = nm.grad(lambda s: stats.norm(0.0, s).logpdf(1.0))(2.0)
    np.testing.assert_allclose(g, -1 / 2.0 + 1 / 8.0, rtol=1e-14)


def test_vmap_and_jit_and_float32():
    x = R.normal(size=(4, 6))
    f = lambda x, s: mnp.sum(stats.t.logpdf(x, 3.0, scale=s) + stats.gamma.cdf(mnp.abs(x), s))
    per = nm.vmap(nm.grad(f, argnums=1), in_axes=(0, None))(x, 1.5)
    loop = np.array([nm.grad(f, argnums=1)(xi, 1.5) for xi in x])
    np.testing.assert_allclose(per, loop, rtol=1e-12)
    jf = nm.jit(nm.grad(f, argnums=(0, 1)))
    for _ in range(2):
        gx, gs = jf(x, 1.5)
        ex, es = nm.grad(f, argnums=(0, 1))(x, 1.5)
        np.testing.assert_allclose(gx, ex, rtol=1e-12)
        np.testing.assert_allclose(gs, es, rtol=1e-12)
    x32 = x.astype(np.float32)
    for name in ("norm", "logistic", "cauchy"):
        assert getattr(stats, name).logpdf(x32).dtype == np.float32
    assert stats.gamma.cdf(np.abs(x32), np.float32(2.0)).dtype == np.float32


def test_parameter_gradients_against_jax():
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    import jax.scipy.stats as js
    x = np.array([0.3, 1.2, 2.5])
    cases = [
        (lambda x, s: stats.norm.logpdf(x, 0.2, s), lambda x, s: js.norm.logpdf(x, 0.2, s), 1.3),
        (lambda x, d: stats.t.logpdf(x, d, 0.1, 1.5), lambda x, d: js.t.logpdf(x, d, 0.1, 1.5), 3.5),
        (lambda x, a: stats.gamma.logpdf(x, a, scale=2.0), lambda x, a: js.gamma.logpdf(x, a, scale=2.0), 2.5),
        (lambda x, a: stats.gamma.cdf(x, a), lambda x, a: js.gamma.cdf(x, a), 2.5),
        (lambda x, a: stats.beta.logpdf(x / 3, a, 2.0), lambda x, a: js.beta.logpdf(x / 3, a, 2.0), 1.7),
        (lambda x, d: stats.chi2.logpdf(x, d), lambda x, d: js.chi2.logpdf(x, d), 3.0),
        (lambda x, s: stats.laplace.cdf(x, 1.0, s), lambda x, s: js.laplace.cdf(x, 1.0, s), 0.8),
        (lambda x, s: stats.logistic.logpdf(x, 0.5, s), lambda x, s: js.logistic.logpdf(x, 0.5, s), 0.8),
        (lambda x, s: stats.cauchy.logpdf(x, 0.5, s), lambda x, s: js.cauchy.logpdf(x, 0.5, s), 0.8),
        (lambda x, m: stats.poisson.logpmf(x * 0 + 2.0, m), lambda x, m: js.poisson.logpmf(x * 0 + 2.0, m), 3.2),
    ]
    for ours, theirs, p in cases:
        f = lambda x, p: mnp.sum(ours(x, p))
        g = lambda x, p: jnp.sum(theirs(x, p))
        for a, b in zip(nm.grad(f, argnums=(0, 1))(x, p), jax.grad(g, argnums=(0, 1))(x, p)):
            np.testing.assert_allclose(a, b, rtol=1e-9)
        if ours is not cases[3][0]:     # JAX has no second derivative of gammainc in a
            np.testing.assert_allclose(nm.hessian(f, argnums=1)(x, p), jax.hessian(g, argnums=1)(x, p),
                                       rtol=1e-8)
