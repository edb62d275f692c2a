"""Bayesian tools against exact answers: MC dropout on a linear layer against its closed-form mean
and variance, Bayes by Backprop on conjugate Bayesian linear regression against the exact
posterior (in its three forms), SGLD on a Gaussian target against the exact stationary moments of
the chain, ensembles against scipy's mixture moments, and the uncertainty decomposition against
the entropy of the joint distribution."""
import json

import numpy as np
import pytest
import scipy.integrate
import scipy.special
import scipy.stats

import nnmath as nm
import nnmath.numpy as mnp
from nnmath import keras
from nnmath import optimizers as optim
from nnmath.analysis.bayes import (
    bayes_by_backprop, deep_ensemble, ensemble_predict, mc_dropout_predict, sgld, sgld_sample,
)
from nnmath.analysis.calibration import uncertainty_decomposition


# ----------------------------------------------------------------------------- MC dropout
def _dropout_linear(rate, d=3, k=2, seed=0):
    model = keras.Sequential([keras.Input((d,)), keras.layers.Dropout(rate),
                              keras.layers.Dense(k, dtype="float64")])
    rng = np.random.default_rng(seed)
    W, b = rng.normal(size=(d, k)), rng.normal(size=k)
    model.layers[-1].set_weights([W, b])
    return model, W, b


def test_mc_dropout_matches_closed_form_mean_and_variance_of_a_linear_layer():
    rate = 0.3
    model, W, b = _dropout_linear(rate)
    x = np.random.default_rng(1).normal(size=(4, 3))
    pred = mc_dropout_predict(model, x, num_samples=4000, seed=0, batch_size=3)
    # y = (x ⊙ m / (1 − r)) W + b, mᵢ ~ Bernoulli(1 − r):
    # E y = xW + b,  Var yⱼ = r/(1−r) Σᵢ xᵢ² Wᵢⱼ²
    mean = x @ W + b
    var = rate / (1 - rate) * (x ** 2) @ (W ** 2)
    assert pred.samples.shape == (4000, 4, 2)
    assert np.all(np.abs(pred.mean - mean) < 4 * pred.mean_std_error)
    var_se = np.std((pred.samples - pred.mean) ** 2, axis=0) / np.sqrt(4000)
    assert np.all(np.abs(pred.variance - var) < 4 * var_se)
    np.testing.assert_allclose(pred.mean_std_error, np.sqrt(var / 4000), rtol=0.1)
    assert pred.mean.dtype == np.float64


def test_mc_dropout_is_reproducible_and_every_example_gets_its_own_mask():
    model, _, _ = _dropout_linear(0.5)
    x = np.ones((2, 3))
    a = mc_dropout_predict(model, x, num_samples=50, seed=3)
    b = mc_dropout_predict(model, x, num_samples=50, seed=3)
    np.testing.assert_array_equal(a.samples, b.samples)
    assert not np.array_equal(a.samples[:, 0], a.samples[:, 1])     # same input, different masks
    assert set(a.to_dict()) == {"mean", "variance", "mean_std_error", "num_samples"}


def test_mc_dropout_refuses_a_model_without_dropout():
    plain = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, dtype="float64")])
    with pytest.raises(ValueError, match="draws no random numbers.*no Dropout layer"):
        mc_dropout_predict(plain, np.ones((2, 3)))
    zero, _, _ = _dropout_linear(0.0)
    with pytest.raises(ValueError, match="draws no random numbers"):
        mc_dropout_predict(zero, np.ones((2, 3)))
    with pytest.raises(TypeError, match="must be an nnmath Model"):
        mc_dropout_predict(lambda x: x, np.ones((2, 3)))
    with pytest.raises(ValueError, match="num_samples must be at least 2"):
        mc_dropout_predict(zero, np.ones((2, 3)), num_samples=1)


def test_mc_dropout_works_with_other_stochastic_layers():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, dtype="float64"),
                              keras.layers.GaussianDropout(0.2),
                              keras.layers.Dense(1, dtype="float64")])
    pred = mc_dropout_predict(model, np.ones((2, 3)), num_samples=20, seed=0)
    assert np.all(pred.variance > 0)


# ----------------------------------------------------------------------------- deep ensembles
def _build(seed=None):
    m = keras.Sequential([keras.Input((1,)), keras.layers.Dense(3, activation="tanh",
                                                                dtype="float64"),
                          keras.layers.Dense(1, dtype="float64")])
    m.compile(optimizer="adam", loss="mse")
    return m


def test_deep_ensemble_mean_is_the_members_average_and_is_reproducible():
    x = np.linspace(-1, 1, 16)[:, None]
    y = np.sin(3 * x)
    ens = deep_ensemble(_build, x, y, num_models=3, epochs=2, batch_size=8, seed=5)
    assert ens.seeds == [5, 6, 7]
    preds = np.stack([m.predict(x, verbose=0) for m in ens.models])
    np.testing.assert_allclose(ens.prediction.mean, preds.mean(0), rtol=1e-12)
    np.testing.assert_allclose(ens.prediction.variance, preds.var(0), rtol=1e-12)
    assert ens.prediction.aleatoric is None
    assert not np.allclose(preds[0], preds[1])                 # different seeds, different members
    json.dumps(ens.to_dict())
    again = deep_ensemble(lambda units=3: _build(), x, y, num_models=3, epochs=2, batch_size=8,
                          seed=5)                       # a default argument is not the seed
    np.testing.assert_allclose(again.prediction.member_means, ens.prediction.member_means)
    new = ens.predict(x[:4])
    np.testing.assert_allclose(new.mean, ens.prediction.mean[:4])
    assert set(ens.to_dict()) == {"prediction", "seeds", "final_losses", "gaussian"}


def _gaussian_nll(y_true, y_pred):
    mu, var = y_pred[:, :1], y_pred[:, 1:]
    return mnp.mean(0.5 * mnp.log(var) + (y_true - mu) ** 2 / (2 * var), axis=-1)


def _build_gaussian(seed):
    inp = keras.Input((1,))
    h = keras.layers.Dense(4, activation="tanh", dtype="float64")(inp)
    o = keras.layers.Dense(2, dtype="float64")(h)
    out = keras.layers.Lambda(lambda o: mnp.concatenate(
        [o[:, :1], mnp.logaddexp(0.0, o[:, 1:]) + 1e-6], axis=1))(o)
    m = keras.Model(inp, out)
    m.compile(optimizer="adam", loss=_gaussian_nll)
    return m


def test_gaussian_members_combine_as_a_mixture():
    x = np.linspace(-1, 1, 12)[:, None]
    y = x ** 2
    ens = deep_ensemble(_build_gaussian, x, y, num_models=3, epochs=2, gaussian=True)
    p = ens.prediction
    mu, var = p.member_means, p.member_variances
    assert mu.shape == var.shape == (3, 12, 1)
    comps = scipy.stats.norm(mu, np.sqrt(var))                  # the mixture's moments, by scipy
    m1, m2 = comps.moment(1).mean(0), comps.moment(2).mean(0)
    np.testing.assert_allclose(p.mean, m1, rtol=1e-12)
    np.testing.assert_allclose(p.variance, m2 - m1 ** 2, rtol=1e-9)
    np.testing.assert_allclose(p.variance, p.aleatoric + p.epistemic, rtol=1e-12)


class _Const:
    def __init__(self, out):
        self.out = np.asarray(out, dtype=float)

    def predict(self, x, batch_size=None, verbose=0):
        return self.out


def test_ensemble_bad_input():
    with pytest.raises(ValueError, match="variance ≤ 0"):
        ensemble_predict([_Const([[0.0, -1.0]])], None, gaussian=True)
    with pytest.raises(ValueError, match="last axis of even size"):
        ensemble_predict([_Const([[0.0, 1.0, 2.0]])], None, gaussian=True)
    with pytest.raises(ValueError, match="different shapes"):
        ensemble_predict([_Const([[0.0]]), _Const([[0.0, 1.0]])], None)
    with pytest.raises(ValueError, match="models is empty"):
        ensemble_predict([], None)

    def uncompiled():
        return keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    with pytest.raises(RuntimeError, match="not compiled"):
        deep_ensemble(uncompiled, np.ones((2, 1)), np.ones((2, 1)), num_models=1)
    with pytest.raises(TypeError, match="expected a compiled nnmath Model"):
        deep_ensemble(lambda: 3, np.ones((2, 1)), np.ones((2, 1)), num_models=1)
    with pytest.raises(ValueError, match="num_models must be at least 1"):
        deep_ensemble(_build, np.ones((2, 1)), np.ones((2, 1)), num_models=0)


# ----------------------------------------------------------------------------- Bayes by Backprop
def _conjugate(seed=0, n=20, p=3, noise_var=0.5):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p))
    y = X @ np.array([1.0, -0.5, 0.3])[:p] + np.sqrt(noise_var) * rng.normal(size=n)
    return X, y


def _exact(X, y, noise_var, prior_var):
    """Posterior N(Λ⁻¹Xᵀy/s², Λ⁻¹), Λ = XᵀX/s² + I/α²; the mean-field optimum has the same mean
    and σᵢ² = 1/Λᵢᵢ (Bishop 2006, §10.1.2)."""
    Lam = X.T @ X / noise_var + np.eye(X.shape[1]) / prior_var
    return np.linalg.solve(Lam, X.T @ y / noise_var), 1 / np.sqrt(np.diag(Lam)), Lam


def _decay(steps, lr=0.05):
    return lambda k: lr * 1e-3 ** (k / steps)


def test_vi_converges_to_the_exact_posterior_of_a_conjugate_gaussian_model():
    X, y = _conjugate()
    s2, a2 = 0.5, 2.0
    mu, sd, Lam = _exact(X, y, s2, a2)
    loss = lambda t: mnp.mean((y - X @ t) ** 2) / (2 * s2)          # −log p(D|θ) = N · loss
    q = bayes_by_backprop(loss, np.zeros(3), num_data=len(y), prior_std=np.sqrt(a2),
                          num_steps=2000, learning_rate=_decay(2000), num_samples=4, seed=1)
    np.testing.assert_allclose(q.mean_flat, mu, atol=0.05 * sd.min())
    np.testing.assert_allclose(q.std_flat, sd, rtol=0.03)
    # E_q[log p(D|θ)] in closed form for this quadratic: −N L(μ) − ½ Σᵢ (XᵀX/s²)ᵢᵢ σᵢ²
    exact_ell = -len(y) * float(loss(q.mean_flat)) - 0.5 * np.sum(
        np.diag(X.T @ X / s2) * q.std_flat ** 2)
    assert abs(q.expected_log_likelihood - exact_ell) < 4 * q.elbo_std_error
    assert q.elbo == pytest.approx(q.expected_log_likelihood - q.kl)
    assert q.history.shape == (2000,) and q.history[-100:].mean() < q.history[:10].mean()
    assert set(json.loads(json.dumps(q.to_dict()))) == {
        "mean_flat", "std_flat", "elbo", "elbo_std_error", "expected_log_likelihood", "kl",
        "num_data", "num_steps"}


def test_vi_kl_matches_numerical_integration():
    X, y = _conjugate()
    q = bayes_by_backprop(lambda t: mnp.mean((y - X @ t) ** 2), np.zeros(3), num_data=len(y),
                          prior_mean=0.2, prior_std=np.array([1.0, 2.0, 0.5]), num_steps=50,
                          seed=0)
    kl = 0.0
    for m, s, m0, s0 in zip(q.mean_flat, q.std_flat, [0.2] * 3, [1.0, 2.0, 0.5]):
        qd, pd = scipy.stats.norm(m, s), scipy.stats.norm(m0, s0)
        kl += scipy.integrate.quad(lambda t: qd.pdf(t) * (qd.logpdf(t) - pd.logpdf(t)),
                                   m - 12 * s, m + 12 * s)[0]
    assert q.kl == pytest.approx(kl, rel=1e-7)


def _kernel_bias(tree):
    """A one-Dense-layer model's {layer: {kernel, bias}} as the vector (w₁, w₂, b)."""
    (layer,) = tree.values()
    return np.r_[layer["kernel"][:, 0], layer["bias"]]


def _linear_model():
    m = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1, dtype="float64")])
    m.compile(optimizer="sgd", loss="mse")
    return m


def test_vi_on_a_model_and_an_apply_fn_gives_the_exact_posterior():
    X, y = _conjugate(seed=2, n=16, p=2)
    y = y[:, None]
    # "mse" = mean (y − f)²: a Gaussian likelihood with s² = ½; the bias is a parameter too
    design = np.hstack([X, np.ones((len(X), 1))])
    mu, sd, _ = _exact(design, y[:, 0], 0.5, 1.0)
    model = _linear_model()
    model.layers[-1].set_weights([np.zeros((2, 1)), np.zeros(1)])
    q = bayes_by_backprop(model, x=X, y=y, num_steps=1500, learning_rate=_decay(1500),
                          num_samples=2, seed=0)
    np.testing.assert_allclose(_kernel_bias(q.mean), mu, atol=0.1 * sd.min())
    np.testing.assert_allclose(_kernel_bias(q.std), sd, rtol=0.06)

    def apply_fn(p, x):
        return x @ p["w"] + p["b"]
    q2 = bayes_by_backprop(apply_fn, {"w": np.zeros((2, 1)), "b": np.zeros(1)}, x=X, y=y,
                           loss="mse", num_steps=1500, learning_rate=_decay(1500),
                           num_samples=2, seed=0)
    np.testing.assert_allclose(np.r_[q2.mean["w"][:, 0], q2.mean["b"]], mu, atol=0.1 * sd.min())
    np.testing.assert_allclose(np.r_[q2.std["w"][:, 0], q2.std["b"]], sd, rtol=0.06)
    draws = q2.sample(3, seed=0)
    assert len(draws) == 3 and draws[0]["w"].shape == (2, 1)


def test_vi_bad_input():
    loss = lambda t: mnp.sum(t ** 2)
    with pytest.raises(ValueError, match="num_data is required with loss_fn"):
        bayes_by_backprop(loss, np.zeros(2))
    with pytest.raises(ValueError, match="prior_std must be positive"):
        bayes_by_backprop(loss, np.zeros(2), num_data=1, prior_std=np.array([1.0, -1.0]))
    with pytest.raises(ValueError, match="expected a vector of 2 entries"):
        bayes_by_backprop(loss, np.zeros(2), num_data=1, prior_mean=np.zeros(3))
    with pytest.raises(ValueError, match="init_std must be a positive number"):
        bayes_by_backprop(loss, np.zeros(2), num_data=1, init_std=0.0)
    with pytest.raises(TypeError, match="optimizer must be a GradientTransformation"):
        bayes_by_backprop(loss, np.zeros(2), num_data=1, optimizer="adam")


# ----------------------------------------------------------------------------- SGLD
def test_sgld_reproduces_the_mean_and_variance_of_a_gaussian_target():
    A = np.array([[2.0, 0.6], [0.6, 1.0]])
    m = np.array([1.0, -2.0])
    T, eta = 0.5, 0.05
    out = sgld_sample(lambda t: 0.5 * (t - m) @ (A @ (t - m)), m.copy(), num_samples=20000,
                      learning_rate=eta, temperature=T, burn_in=200, seed=0)
    # the chain θ' = θ − ηA(θ − m) + √(2ηT)ξ is Gaussian with mean m and covariance
    # Σ = T (A − ηA²/2)⁻¹ (solve Σ = (I − ηA)Σ(I − ηA) + 2ηT I); as η → 0, T A⁻¹ = exp(−L/T)'s
    cov = T * np.linalg.inv(A - eta * A @ A / 2)
    assert np.all(np.abs(out.mean - m) < 4 * out.mean_std_error)
    assert np.all(np.abs(out.variance - np.diag(cov)) < 4 * out.variance_std_error)
    bias = np.abs(np.diag(cov) - np.diag(T * np.linalg.inv(A)))
    assert np.all(np.abs(out.variance - np.diag(T * np.linalg.inv(A))) <
                  4 * out.variance_std_error + bias)
    np.testing.assert_allclose(np.cov(out.samples.T)[0, 1], cov[0, 1], atol=0.05)
    assert out.samples.shape == (20000, 2) and out.num_steps == 20200
    assert set(json.loads(json.dumps(out.to_dict()))) == {
        "mean", "variance", "mean_std_error", "variance_std_error", "temperature",
        "learning_rate", "num_steps"}


def test_sgld_on_a_model_samples_the_bayesian_posterior_at_temperature_one_over_n():
    X, y = _conjugate(seed=3, n=16, p=2)
    y = y[:, None]
    design = np.hstack([X, np.ones((len(X), 1))])
    mean, _, Lam = _exact(design, y[:, 0], 0.5, 1e12)        # flat prior: Λ = 2 XᵀX
    model = _linear_model()
    model.layers[-1].set_weights([mean[:2, None], mean[2:]])
    out = sgld_sample(model, x=X, y=y, num_samples=6000, learning_rate=0.05,
                      temperature=1 / len(y), burn_in=100, seed=1)
    got, se = _kernel_bias(out.unravel(out.mean)), _kernel_bias(out.unravel(out.mean_std_error))
    assert np.all(np.abs(got - mean) < 4 * se)
    var, var_se = (_kernel_bias(out.unravel(v)) for v in (out.variance, out.variance_std_error))
    # the chain's exact stationary covariance T (H − ηH²/2)⁻¹, H = ∇²L = Λ/N; → Λ⁻¹ as η → 0
    H = Lam / len(y)
    cov = np.linalg.inv(H - 0.05 * H @ H / 2) / len(y)
    assert np.all(np.abs(var - np.diag(cov)) < 4 * var_se)
    exact = np.diag(np.linalg.inv(Lam))
    assert np.all(np.abs(var - exact) < 4 * var_se + np.abs(np.diag(cov) - exact))


def test_sgld_transform_is_pure_and_has_the_langevin_noise():
    opt = sgld(0.01, temperature=2.0, seed=7)
    params = {"a": np.zeros(3), "b": np.zeros((2, 2), np.float32)}
    state = opt.init(params)
    zero = {"a": np.zeros(3), "b": np.zeros((2, 2), np.float32)}
    u1, s1 = opt.update(zero, state, params)
    u2, _ = opt.update(zero, state, params)                    # same state → same update
    np.testing.assert_array_equal(u1["a"], u2["a"])
    assert u1["b"].dtype == np.float32 and s1.count == 1
    u3, _ = opt.update(zero, s1, params)
    assert not np.array_equal(u1["a"], u3["a"])
    # the noise is N(0, 2ηT) = N(0, 0.04)
    draws = []
    s = state
    for _ in range(2000):
        u, s = opt.update({"a": np.zeros(3), "b": zero["b"]}, s)
        draws.append(u["a"])
    draws = np.concatenate(draws)
    se = 0.04 * np.sqrt(2 / draws.size)
    assert abs(draws.var() - 0.04) < 4 * se
    # composes in a chain, and is differentiable in the incoming updates (written with mnp)
    chained = optim.chain(optim.scale(2.0), sgld(0.1, temperature=0.0))
    u, _ = chained.update(np.array([1.0]), chained.init(np.zeros(1)))
    np.testing.assert_allclose(u, [-0.2])
    d = nm.grad(lambda w: opt.update({"w": w * w}, opt.init(None))[0]["w"].sum())(np.ones(2))
    np.testing.assert_allclose(d, [-0.02, -0.02])
    # T = 0: gradient descent; a schedule is read at each step
    gd = sgld(lambda k: 0.1 / (1 + k), temperature=0.0)
    st = gd.init(None)
    u, st = gd.update(np.array([1.0]), st)
    u, st = gd.update(np.array([1.0]), st)
    np.testing.assert_allclose(u, [-0.05])


@pytest.mark.filterwarnings("ignore:overflow:RuntimeWarning")
def test_sgld_bad_input():
    with pytest.raises(ValueError, match="temperature must be a number >= 0"):
        sgld(0.1, temperature=-1.0)
    with pytest.raises(ValueError, match="learning_rate"):
        sgld(-0.1)
    with pytest.raises(ValueError, match="at least 2·num_batches"):
        sgld_sample(lambda t: mnp.sum(t ** 2), np.zeros(1), num_samples=10, num_batches=20)
    with pytest.raises(FloatingPointError, match="diverged"):
        sgld_sample(lambda t: 1e3 * mnp.sum(t ** 2), np.ones(1), num_samples=40, num_batches=2,
                    learning_rate=1.0, burn_in=300, seed=0)


# ----------------------------------------------------------------------------- decomposition
def _entropy(p):
    return -np.sum(np.where(p > 0, p * np.log(np.where(p > 0, p, 1)), 0), axis=-1)


def test_uncertainty_decomposition_sums_and_matches_the_mutual_information():
    rng = np.random.default_rng(0)
    p = rng.dirichlet(np.full(4, 0.7), size=(10, 6))           # S = 10, N = 6, K = 4
    u = uncertainty_decomposition(p)
    np.testing.assert_allclose(u.total, u.aleatoric + u.epistemic, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(u.total, _entropy(p.mean(0)), rtol=1e-12)
    np.testing.assert_allclose(u.aleatoric, _entropy(p).mean(0), rtol=1e-12)
    # I(y; s) from the joint p(s, y) = pₛ(y)/S: H(s) + H(y) − H(s, y)
    for i in range(6):
        joint = p[:, i] / 10
        mi = np.log(10) + _entropy(joint.sum(0)) - _entropy(joint.ravel())
        assert u.epistemic[i] == pytest.approx(mi, rel=1e-10)
    assert np.all(u.epistemic >= 0) and u.task == "classification"


def test_uncertainty_decomposition_extremes():
    agree = np.tile([[0.5, 0.5]], (5, 1, 1))                  # all samples agree: no epistemic
    u = uncertainty_decomposition(agree)
    np.testing.assert_allclose(u.epistemic, 0, atol=1e-15)
    np.testing.assert_allclose(u.aleatoric, np.log(2))
    sure = np.array([[[1.0, 0.0, 0.0]], [[0.0, 1.0, 0.0]], [[0.0, 0.0, 1.0]]])
    u = uncertainty_decomposition(sure)                        # certain, disagreeing: all epistemic
    np.testing.assert_allclose([u.total[0], u.aleatoric[0], u.epistemic[0]], [np.log(3), 0,
                                                                              np.log(3)])


def test_uncertainty_decomposition_regression_is_the_law_of_total_variance():
    rng = np.random.default_rng(1)
    mu = rng.normal(size=(8, 5, 2))
    var = rng.uniform(0.1, 1.0, size=(8, 5, 2))
    u = uncertainty_decomposition(mu, var)
    assert u.task == "regression"
    np.testing.assert_allclose(u.total, (var + mu ** 2).mean(0) - mu.mean(0) ** 2, rtol=1e-10)
    np.testing.assert_allclose(u.aleatoric, var.mean(0))
    np.testing.assert_allclose(u.epistemic, mu.var(0))
    u0 = uncertainty_decomposition(mu, task="regression")
    np.testing.assert_allclose(u0.total, mu.var(0))


def test_uncertainty_decomposition_bad_input():
    with pytest.raises(ValueError, match="negative entries"):
        uncertainty_decomposition(np.array([[[1.2, -0.2]]]))
    with pytest.raises(ValueError, match=r"sums to 0.9, off by 0.1.*normalize=True"):
        uncertainty_decomposition(np.array([[[0.5, 0.4]]]))
    u = uncertainty_decomposition(np.array([[[1.0, 1.0]]]), normalize=True)
    np.testing.assert_allclose(u.mean, [[0.5, 0.5]])
    with pytest.raises(ValueError, match="variances has shape .* but samples has shape"):
        uncertainty_decomposition(np.zeros((4, 3)), np.ones((5, 3)))
    with pytest.raises(ValueError, match="variances must be finite and ≥ 0"):
        uncertainty_decomposition(np.zeros((4, 3)), -np.ones((4, 3)))
    with pytest.raises(ValueError, match="task must be"):
        uncertainty_decomposition(np.zeros((4, 3)), task="both")
