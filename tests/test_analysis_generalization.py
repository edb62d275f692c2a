"""analysis.generalization against exact or independent answers: the linear class's suprema by
scipy.optimize (SLSQP / linprog), Monte Carlo within its standard error of the enumerated exact
R̂ₙ, the random-walk closed form E|Sₙ| for H = {h, −h}, shattering (n ≤ d + 1), the bounds'
formulas by hand, torch's Gaussian KL, the closed-form kl inverse at q = 0, and the
GeneralizationGap callback against fit's own logs."""
import json
import math

import numpy as np
import pytest
import scipy.optimize
import scipy.stats

from nnmath import keras
from nnmath.analysis.generalization import (GeneralizationGap, LinearClass, binary_kl,
                                            gaussian_kl, kl_inverse, pac_bayes_bound,
                                            rademacher_bound, rademacher_complexity,
                                            random_label_fitter, vc_bound, vc_dimension_linear)

RNG = np.random.default_rng(0)
X = RNG.standard_normal((12, 3))


# ------------------------------------------------------------------ Rademacher complexity
@pytest.mark.parametrize("p", [2.0, 1.0, np.inf])
def test_linear_suprema_match_an_optimiser(p):
    cls = LinearClass(bound=1.5, norm=p)
    sigma = RNG.choice([-1.0, 1.0], size=(4, len(X)))
    closed = cls.sup(X, sigma)
    for s, c in zip(sigma, closed):
        v = s @ X / len(X)                        # maximise ⟨w, v⟩ over ‖w‖_p ≤ B
        if p == 2.0:
            res = scipy.optimize.minimize(lambda w, v=v: -w @ v, np.zeros(3), method="SLSQP",
                                          constraints={"type": "ineq",
                                                       "fun": lambda w: 1.5 ** 2 - w @ w})
            assert -res.fun == pytest.approx(c, rel=1e-6)
        elif p == np.inf:                         # a box: a linear program
            res = scipy.optimize.linprog(-v, bounds=[(-1.5, 1.5)] * 3)
            assert -res.fun == pytest.approx(c, rel=1e-9)
        else:                                     # ℓ1 ball: w = u − u', Σ(u + u') ≤ B, u, u' ≥ 0
            res = scipy.optimize.linprog(np.concatenate([-v, v]), A_ub=np.ones((1, 6)),
                                         b_ub=[1.5], bounds=[(0, None)] * 6)
            assert -res.fun == pytest.approx(c, rel=1e-9)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_linear_monte_carlo_within_standard_error_of_the_exact_value(seed):
    cls = LinearClass(bound=2.0)
    exact = rademacher_complexity(cls, X, exact=True)
    assert exact.num_draws == 2 ** len(X) and exact.standard_error == 0.0 and exact.exact
    mc = rademacher_complexity(cls, X, num_draws=400, seed=seed)
    assert mc.standard_error > 0
    assert abs(mc.estimate - exact.estimate) < 4 * mc.standard_error
    # Jensen: B E‖Σσx‖ ≤ B √(E‖Σσx‖²) = B √(Σ‖x‖²)
    assert exact.upper_bound == pytest.approx(2.0 * np.sqrt(np.sum(X ** 2)) / len(X))
    assert exact.estimate <= exact.upper_bound
    json.dumps(mc.to_dict())


@pytest.mark.parametrize("n", [6, 9])
def test_two_point_class_is_the_random_walk_closed_form(n):
    # H = {h, −h} with h ≡ 1: sup = |Σσᵢ|/n, and E|Sₙ| = Σ_k |2k − n| C(n, k) / 2ⁿ
    x = np.zeros((n, 1))

    def fit(x, sigma):
        return np.ones(n) if sigma.sum() >= 0 else -np.ones(n)
    exact = sum(abs(2 * k - n) * math.comb(n, k) for k in range(n + 1)) / 2 ** n / n
    r = rademacher_complexity(fit, x, exact=True)
    assert r.estimate == pytest.approx(exact) and r.method == "fit"
    mc = rademacher_complexity(fit, x, num_draws=500, seed=3)
    assert abs(mc.estimate - exact) < 4 * mc.standard_error
    single = rademacher_complexity(lambda x, s: np.ones(n), x, exact=True)   # one hypothesis: 0
    assert single.estimate == pytest.approx(0.0, abs=1e-15)


def _build(d):
    def build():
        model = keras.Sequential([keras.layers.Dense(1, input_shape=(d,), dtype="float64")])
        model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
        return model
    return build


def test_a_network_that_shatters_the_sample_has_complexity_one():
    # n ≤ d + 1 points in general position are shattered by halfspaces: every σ is fitted
    x = np.random.default_rng(1).standard_normal((4, 3))
    r = rademacher_complexity(random_label_fitter(_build(3), epochs=300), x, num_draws=4, seed=0)
    assert r.estimate == 1.0 and r.standard_error == 0.0
    # many points in ℝ¹ cannot be shattered by a linear classifier
    x = np.random.default_rng(2).standard_normal((20, 1))
    r = rademacher_complexity(random_label_fitter(_build(1), epochs=100), x, num_draws=4, seed=0)
    assert 0.0 <= r.estimate < 0.8


def test_rademacher_bad_input():
    with pytest.raises(ValueError, match="shape \\(n, d\\)"):
        rademacher_complexity(LinearClass(1.0), np.ones(5))
    with pytest.raises(ValueError, match="exact=True.*n = 25"):
        rademacher_complexity(LinearClass(1.0), np.ones((25, 2)), exact=True)
    with pytest.raises(ValueError, match="num_draws"):
        rademacher_complexity(LinearClass(1.0), X, num_draws=1)
    with pytest.raises(ValueError, match="bound must be a positive number"):
        LinearClass(bound=-1.0)
    with pytest.raises(ValueError, match="values in \\[−1, 1\\]"):
        rademacher_complexity(lambda x, s: 3 * s, X, num_draws=2)
    with pytest.raises(ValueError, match="n = 12 values"):
        rademacher_complexity(lambda x, s: s[:3], X, num_draws=2)
    with pytest.raises(TypeError, match="LinearClass or a function"):
        rademacher_complexity("linear", X)
    with pytest.raises(ValueError, match="empty"):
        rademacher_complexity(LinearClass(1.0), np.ones((0, 2)))


# ------------------------------------------------------------------ uniform-convergence bounds
def test_rademacher_bound_formula():
    b = rademacher_bound(0.1, 0.05, 500, delta=0.01)
    assert b.bound == pytest.approx(0.1 + 0.1 + 3 * np.sqrt(np.log(200) / 1000))
    c = rademacher_bound(0.1, 0.05, 500, delta=0.01, classifier=True)
    assert c.bound == pytest.approx(b.bound - 0.05) and "Corollary 3.8" in c.reference
    r = rademacher_complexity(LinearClass(1.0), X, exact=True)
    assert rademacher_bound(0.0, r, 12).complexity_term == pytest.approx(2 * r.estimate)
    assert rademacher_bound(0.5, 0.4, 10).vacuous
    json.dumps(b.to_dict())


def test_vc_bound_formula_and_linear_vc_dimension():
    assert vc_dimension_linear(5) == 6 and vc_dimension_linear(5, bias=False) == 5
    m, d, delta = 2000, 6, 0.05
    b = vc_bound(0.05, m, vc_dimension_linear(5), delta)
    assert b.bound == pytest.approx(0.05 + np.sqrt(2 * d * np.log(np.e * m / d) / m)
                                    + np.sqrt(np.log(1 / delta) / (2 * m)))
    assert "Corollary 3.19" in b.reference
    assert vc_bound(0.05, 4 * m, d, delta).bound < b.bound     # tighter with more data


@pytest.mark.parametrize("call, match", [
    (lambda: vc_bound(0.1, 5, 10), "num_samples ≥ vc_dimension"),
    (lambda: vc_bound(1.5, 100, 3), "empirical_risk"),
    (lambda: vc_bound(0.1, 100, 3, delta=1.0), "delta"),
    (lambda: rademacher_bound(0.1, -0.1, 100), "rademacher"),
    (lambda: rademacher_bound(0.1, 0.1, 0), "num_samples"),
])
def test_bound_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# ------------------------------------------------------------------ PAC-Bayes
def test_gaussian_kl_against_torch():
    torch = pytest.importorskip("torch")
    from torch.distributions import MultivariateNormal, Normal, kl_divergence
    rng = np.random.default_rng(5)
    P = 4
    mu, mu0 = rng.normal(size=P), rng.normal(size=P)
    A = rng.normal(size=(P, P))
    cov = A @ A.T + 0.5 * np.eye(P)
    ref = kl_divergence(MultivariateNormal(torch.tensor(mu), torch.tensor(cov)),
                        MultivariateNormal(torch.tensor(mu0),
                                           0.7 * torch.eye(P, dtype=torch.float64)))
    assert gaussian_kl(mu, cov, mu0, 0.7) == pytest.approx(float(ref), rel=1e-10)
    var, v0 = rng.uniform(0.1, 2, P), rng.uniform(0.5, 2, P)
    ref = kl_divergence(Normal(torch.tensor(mu), torch.tensor(np.sqrt(var))),
                        Normal(torch.tensor(mu0), torch.tensor(np.sqrt(v0)))).sum()
    assert gaussian_kl(mu, var, mu0, v0) == pytest.approx(float(ref), rel=1e-10)
    assert gaussian_kl(mu, np.diag(var), mu0, v0) == pytest.approx(float(ref), rel=1e-10)


def test_gaussian_kl_against_monte_carlo():
    rng = np.random.default_rng(6)
    mu, var = np.array([0.5, -1.0, 0.2]), np.array([0.3, 0.8, 1.5])
    q, p = scipy.stats.multivariate_normal(mu, np.diag(var)), scipy.stats.multivariate_normal(
        np.zeros(3), 2.0 * np.eye(3))
    th = q.rvs(size=20000, random_state=rng)
    terms = q.logpdf(th) - p.logpdf(th)
    se = terms.std(ddof=1) / np.sqrt(len(terms))
    assert abs(gaussian_kl(mu, var, 0.0, 2.0) - terms.mean()) < 4 * se


def test_kl_inverse_exact_cases():
    for c in (0.01, 0.3, 2.0):                   # kl(0 ‖ p) = −log(1 − p)  ⇒  p = 1 − e^{−c}
        assert kl_inverse(0.0, c) == pytest.approx(1 - np.exp(-c), abs=1e-11)
    for q, c in ((0.1, 0.05), (0.3, 0.001), (0.02, 0.5)):
        p = kl_inverse(q, c)
        ref = scipy.optimize.brentq(lambda t, q=q, c=c: binary_kl(q, t) - c, q, 1 - 1e-15)
        assert p == pytest.approx(ref, abs=1e-10) and p >= q
        assert binary_kl(q, p) == pytest.approx(c, abs=1e-9)
        assert p <= q + np.sqrt(c / 2) + 1e-12   # Pinsker: the kl inverse is the tighter
    assert kl_inverse(0.2, 0.0) == 0.2 and kl_inverse(0.5, 50.0) == 1.0
    assert binary_kl(0.1, 0.2) == pytest.approx(0.1 * np.log(0.5) + 0.9 * np.log(0.9 / 0.8))


def test_pac_bayes_formulas():
    mu, var = np.full(20, 0.1), np.full(20, 0.2)
    b = pac_bayes_bound(0.03, mu, var, 5000, prior_var=0.5, delta=0.05)
    kl = gaussian_kl(mu, var, 0.0, 0.5)
    c = (kl + np.log(5000 / 0.05)) / 4999
    assert b.kl == pytest.approx(kl)
    assert b.mcallester == pytest.approx(0.03 + np.sqrt(c / 2))
    assert binary_kl(0.03, b.kl_inverse) == pytest.approx(c, abs=1e-9)
    assert 0.03 < b.kl_inverse < b.mcallester
    assert b.empirical_risk_bound == 0.03 and b.num_mc_samples is None
    # a covariance matrix with that diagonal gives the same bound
    same = pac_bayes_bound(0.03, mu, np.diag(var), 5000, prior_var=0.5)
    assert same.kl_inverse == pytest.approx(b.kl_inverse)
    # an MC risk of N draws is first bounded by kl⁻¹(ê, log(2/δ')/N)
    mc = pac_bayes_bound(0.03, mu, var, 5000, prior_var=0.5, num_mc_samples=1000, delta_mc=0.01)
    assert mc.empirical_risk_bound == pytest.approx(kl_inverse(0.03, np.log(200) / 1000))
    assert mc.kl_inverse > b.kl_inverse
    json.dumps(b.to_dict())


def test_pac_bayes_samples_the_posterior_into_an_error_function():
    # error(θ) = 1{θ₀ > 0} under N(μ, σ²): ê(Q) = Φ(μ₀/σ₀) exactly
    mu, var = np.array([0.3, 0.0]), np.array([0.25, 1.0])
    b = pac_bayes_bound(lambda th: float(th[0] > 0), mu, var, 1000, num_mc_samples=2000, seed=1)
    exact = scipy.stats.norm.cdf(0.3 / 0.5)
    assert abs(b.empirical_risk - exact) < 4 * b.empirical_risk_std_error
    assert b.empirical_risk_bound > b.empirical_risk and b.delta_mc == 0.01
    cov = np.array([[0.25, 0.1], [0.1, 1.0]])     # full covariance: the marginal is the same
    c = pac_bayes_bound(lambda th: float(th[0] > 0), mu, cov, 1000, num_mc_samples=2000, seed=2)
    assert abs(c.empirical_risk - exact) < 4 * c.empirical_risk_std_error


@pytest.mark.parametrize("call, match", [
    (lambda: gaussian_kl(np.zeros(3), np.ones(2)), "vector of 3 variances or a 3×3"),
    (lambda: gaussian_kl(np.zeros(2), np.array([1.0, -1.0])), "variances must be positive"),
    (lambda: gaussian_kl(np.zeros(2), np.array([[1.0, 2.0], [2.0, 1.0]])), "not positive definite"),
    (lambda: gaussian_kl(np.zeros(2), np.ones(2), prior_var=0.0), "prior_var"),
    (lambda: pac_bayes_bound(lambda t: 0.0, np.zeros(2), np.ones(2), 100), "num_mc_samples is req"),
    (lambda: pac_bayes_bound(0.1, np.zeros(2), np.ones(2), 1), "num_samples"),
    (lambda: kl_inverse(1.2, 0.1), "q must be"),
])
def test_pac_bayes_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# ------------------------------------------------------------------ GeneralizationGap
def _classifier():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.layers.Dense(8, "tanh", input_shape=(4,), dtype="float64"),
                              keras.layers.Dense(3, dtype="float64")])
    model.compile(optimizer="adam",
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    rng = np.random.default_rng(0)
    return model, rng.standard_normal((40, 4)), rng.integers(0, 3, 40)


def test_generalization_gap_records_signed_gaps():
    model, x, y = _classifier()
    cb = GeneralizationGap()
    h = model.fit(x[:30], y[:30], epochs=3, verbose=0, validation_data=(x[30:], y[30:]),
                  callbacks=[cb])
    hist = h.history
    assert len(hist["gap_loss"]) == 3 and sorted(cb.keys) == ["gap_accuracy", "gap_loss"]
    np.testing.assert_allclose(hist["gap_loss"], np.subtract(hist["val_loss"], hist["loss"]))
    np.testing.assert_allclose(hist["gap_accuracy"],
                               np.subtract(hist["accuracy"], hist["val_accuracy"]))


def test_generalization_gap_on_validated_epochs_only_and_without_validation():
    model, x, y = _classifier()
    h = model.fit(x, y, epochs=4, verbose=0, validation_split=0.25, validation_freq=2,
                  callbacks=[GeneralizationGap(keys="loss")])
    assert len(h.history["gap_loss"]) == 2 and "gap_accuracy" not in h.history
    with pytest.raises(ValueError, match="no epoch had validation logs"):
        model.fit(x, y, epochs=1, verbose=0, callbacks=[GeneralizationGap()])
