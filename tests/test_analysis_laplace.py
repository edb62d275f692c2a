"""analysis.laplace: each quantity against an exact answer on a problem small enough to solve
densely — Bayesian linear regression's exact posterior and evidence, the GGN from the operator
of part 1 (JVP/VJP products) with the likelihood scalings, K-FAC against the exact GGN block on
one sample, the GLM predictive against J Σ Jᵀ from nm.jacrev, Monte Carlo against quadrature
within its standard error, and the MAP view against scipy.stats' log densities."""
import math

import numpy as np
import pytest
import scipy.integrate
import scipy.special
import scipy.stats

import nnmath as nm
from nnmath import keras
from nnmath.analysis import ggn_operator
from nnmath.analysis import Laplace, map_view

F64 = "float64"
RNG = np.random.default_rng(0)
N, D = 20, 3
X = RNG.standard_normal((N, D))
YC = RNG.integers(0, 3, N)


def _dense(units, act=None, **kw):
    return keras.layers.Dense(units, activation=act, dtype=F64, **kw)


def _blr(sigma=0.5, delta=2.0):
    """y = Xw + b + ε: the exact posterior N(m, P⁻¹) (flat order: bias, kernel) and evidence."""
    y = X @ np.array([1.0, -2.0, 0.5]) + 0.3 + sigma * RNG.standard_normal(N)
    Xt = np.hstack([np.ones((N, 1)), X])                  # ravel_pytree order: bias, kernel
    P = Xt.T @ Xt / sigma ** 2 + delta * np.eye(D + 1)
    m = np.linalg.solve(P, Xt.T @ y / sigma ** 2)
    ev = scipy.stats.multivariate_normal(np.zeros(N), sigma ** 2 * np.eye(N)
                                         + Xt @ Xt.T / delta).logpdf(y)
    return y, Xt, P, m, ev


def _linear_model(m):
    model = keras.Sequential([_dense(1, input_dim=D)])
    model.compile(loss="mse")
    model.set_weights([m[1:, None], m[:1]])
    return model


@pytest.mark.parametrize("structure", ["full", "diag", "kron"])
def test_bayesian_linear_regression_is_exact(structure):
    sigma, delta = 0.5, 2.0
    y, Xt, P, m, ev = _blr(sigma, delta)
    la = Laplace(_linear_model(m), hessian_structure=structure, x=X, y=y, sigma_noise=sigma,
                 prior_precision=delta).fit()
    np.testing.assert_allclose(la.mean, m)
    cov = np.linalg.inv(P)
    if structure == "diag":                                   # the diagonal of the exact P
        np.testing.assert_allclose(la.posterior_precision, np.diag(P), rtol=1e-12)
        return
    # K-FAC of one Dense unit under a Gaussian likelihood: G = N, A = XᵀX/N — exact
    np.testing.assert_allclose(la.posterior_variance, np.diag(cov), rtol=1e-10)
    assert la.log_marginal_likelihood() == pytest.approx(ev, rel=1e-12)
    mu, var = la(X[:4])
    np.testing.assert_allclose(mu[:, 0], Xt[:4] @ m, rtol=1e-12)
    np.testing.assert_allclose(var[:, 0, 0], np.einsum("np,pq,nq->n", Xt[:4], cov, Xt[:4]),
                               rtol=1e-10)
    if structure == "full":
        np.testing.assert_allclose(la.posterior_precision, P, rtol=1e-12)
        np.testing.assert_allclose(la.posterior_covariance, cov, rtol=1e-10)


def test_blr_three_forms_agree():
    sigma, delta = 0.5, 2.0
    y, Xt, P, m, ev = _blr(sigma, delta)
    la_apply = Laplace(lambda w, x: x @ w, m, likelihood="regression", x=Xt, y=y,
                       sigma_noise=sigma, prior_precision=delta).fit()
    nll = lambda w: (nm.numpy.sum((y - Xt @ w) ** 2) / (2 * sigma ** 2)     # noqa: E731
                     + N / 2 * math.log(2 * math.pi * sigma ** 2))
    la_loss = Laplace(nll, m, prior_precision=delta).fit()
    for la in (la_apply, la_loss):
        np.testing.assert_allclose(la.posterior_precision, P, rtol=1e-12)
        assert la.log_marginal_likelihood() == pytest.approx(ev, rel=1e-12)
    with pytest.raises(ValueError, match="predictive needs the model's outputs"):
        la_loss(X)


def _classifier(last=None, logits=True, norm=True):
    keras.utils.set_random_seed(1)
    layers = [_dense(5, "tanh", input_dim=D)]
    if norm:
        layers.append(keras.layers.BatchNormalization(dtype=F64))
    layers.append(_dense(3, last))
    model = keras.Sequential(layers)
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=logits)
    model.compile(loss=loss)
    model.build((None, D))
    return model


def test_scaling_conventions_against_the_ggn_operator():
    """Posterior precision − δ = N × the mean cross-entropy's GGN; = Nk/(2σ²) × Keras mse's GGN.
    A softmax-output model is linearised in log p: the same GGN as its logits twin."""
    model = _classifier()
    G = ggn_operator(model, x=X, y=YC).to_dense()
    la = Laplace(model, x=X, y=YC, prior_precision=0.5).fit()
    np.testing.assert_allclose(la.posterior_precision - 0.5 * np.eye(la.n_params), N * G,
                               atol=1e-12)
    soft = _classifier("softmax", logits=False)
    soft.set_weights(model.get_weights())
    np.testing.assert_allclose(Laplace(soft, x=X, y=YC).fit().posterior_precision,
                               la.posterior_precision + (1 - 0.5) * np.eye(la.n_params), atol=1e-12)
    reg = keras.Sequential([_dense(4, "tanh", input_dim=D), _dense(2)])
    reg.compile(loss="mse")
    Y2 = RNG.standard_normal((N, 2))
    sigma = 0.7
    lr = Laplace(reg, x=X, y=Y2, sigma_noise=sigma, prior_precision=1.0).fit()
    Gm = ggn_operator(reg, x=X, y=Y2).to_dense()
    np.testing.assert_allclose(lr.posterior_precision - np.eye(lr.n_params),
                               N * 2 / (2 * sigma ** 2) * Gm, atol=1e-10)


def test_kfac_is_exact_on_one_sample():
    """One sample: each Dense layer's A ⊗ G equals its block of the exact GGN J ᵀ H J (J by
    nm.jacrev of the flat logits, H = diag p − ppᵀ); other blocks (BatchNorm) its diagonal."""
    model = _classifier()
    x1, y1 = X[:1], YC[:1]
    la = Laplace(model, hessian_structure="kron", x=x1, y=y1).fit()
    flat, unravel = nm.ravel_pytree(model.params)
    J = np.asarray(nm.jacrev(lambda t: model.apply(unravel(t), x1)[0])(np.asarray(flat)))
    p = scipy.special.softmax(model.predict(x1, verbose=0)[0])
    exact = J.T @ (np.diag(p) - np.outer(p, p)) @ J
    assert [s.name for s in la._specs] == [l.name for l in model.layers if "dense" in l.name]
    for spec, (A, G) in zip(la._specs, la._factors):
        np.testing.assert_allclose(np.kron(A, G), exact[np.ix_(spec.sub_index, spec.sub_index)],
                                   atol=1e-13)
    np.testing.assert_allclose(la._ggn, np.diag(exact)[la._sel_other], atol=1e-13)


def test_kfac_conv_is_exact_at_one_position_and_sums_positions():
    keras.utils.set_random_seed(2)
    xs = RNG.standard_normal((1, 3, 3, 2))
    model = keras.Sequential([keras.layers.Conv2D(4, 3, activation="tanh", dtype=F64,
                                                  input_shape=(3, 3, 2)),
                              keras.layers.Flatten(dtype=F64), _dense(3)])
    model.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    la = Laplace(model, hessian_structure="kron", x=xs, y=YC[:1]).fit()
    flat, unravel = nm.ravel_pytree(model.params)
    J = np.asarray(nm.jacrev(lambda t: model.apply(unravel(t), xs)[0])(np.asarray(flat)))
    p = scipy.special.softmax(model.predict(xs, verbose=0)[0])
    exact = J.T @ (np.diag(p) - np.outer(p, p)) @ J
    for spec, (A, G) in zip(la._specs, la._factors):
        np.testing.assert_allclose(np.kron(A, G), exact[np.ix_(spec.sub_index, spec.sub_index)],
                                   atol=1e-12)
    # with several positions, A is the im2col patches' Σ ããᵀ / N
    x2 = RNG.standard_normal((2, 4, 4, 2))
    conv = keras.Sequential([keras.layers.Conv2D(3, 3, dtype=F64, input_shape=(4, 4, 2)),
                             keras.layers.Flatten(dtype=F64), _dense(2)])
    conv.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    lc = Laplace(conv, hessian_structure="kron", x=x2, y=np.array([0, 1])).fit()
    patches = np.stack([x2[:, i:i + 3, j:j + 3, :].reshape(2, -1) for i in range(2)
                        for j in range(2)], 1).reshape(-1, 18)
    patches = np.hstack([patches, np.ones((len(patches), 1))])
    np.testing.assert_allclose(lc._factors[0][0], patches.T @ patches / 2, atol=1e-12)


def _lstm_model():
    keras.utils.set_random_seed(3)
    model = keras.Sequential([keras.layers.LSTM(3, dtype=F64, input_shape=(4, 2)), _dense(3)])
    model.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


@pytest.mark.parametrize("which", ["batchnorm", "lstm"])
def test_every_layer_has_a_block(which):
    """PEERS 11: BatchNorm and LSTM in full, diag and kron (Dense K-FAC + the others' blocks)."""
    if which == "lstm":
        model, x = _lstm_model(), RNG.standard_normal((12, 4, 2))
    else:
        model, x = _classifier(), X[:12]
    y = YC[:12]
    G = 12 * ggn_operator(model, x=x, y=y).to_dense()
    full = Laplace(model, x=x, y=y).fit()
    np.testing.assert_allclose(full._ggn, G, atol=1e-10)
    diag = Laplace(model, hessian_structure="diag", x=x, y=y).fit()
    np.testing.assert_allclose(diag._ggn, np.diag(G), atol=1e-10)
    for other in ("diag", "full"):
        kron = Laplace(model, hessian_structure="kron", other_structure=other, x=x, y=y).fit()
        sel = kron._sel_other
        assert len(sel) and len(kron._specs) >= 1
        want = G[np.ix_(sel, sel)] if other == "full" else np.diag(G)[sel]
        np.testing.assert_allclose(kron._ggn, want, atol=1e-10)
        probs = kron(x[:3])
        np.testing.assert_allclose(probs.sum(1), 1.0)
        assert np.isfinite(kron.log_marginal_likelihood())


def test_glm_predictive_against_dense_jacobians():
    model = _classifier()
    for structure in ("full", "diag", "kron"):
        la = Laplace(model, hessian_structure=structure, x=X, y=YC, prior_precision=0.3).fit()
        flat, unravel = nm.ravel_pytree(model.params)
        if structure == "kron":                     # Σ from the dense blocks, built independently
            prec = np.zeros((la.n_params, la.n_params))
            for spec, (A, G) in zip(la._specs, la._factors):
                prec[np.ix_(spec.sub_index, spec.sub_index)] = np.kron(A, G)
            prec[la._sel_other, la._sel_other] = la._ggn
            cov = np.linalg.inv(prec + 0.3 * np.eye(la.n_params))
            np.testing.assert_allclose(la.posterior_variance, np.diag(cov), rtol=1e-9)
        else:
            P = la.posterior_precision
            cov = np.linalg.inv(P if P.ndim == 2 else np.diag(P))
        xq = X[:4]
        J = np.stack([np.asarray(nm.jacrev(lambda t: model.apply(unravel(t), xq[i:i + 1])[0])(
            np.asarray(flat))) for i in range(4)])
        mu, fcov = la.functional_variance(xq)
        np.testing.assert_allclose(fcov, J @ cov @ np.swapaxes(J, 1, 2), atol=1e-10)
        want = scipy.special.softmax(mu / np.sqrt(1 + math.pi / 8 * np.diagonal(fcov, 0, 1, 2)),
                                     axis=1)
        np.testing.assert_allclose(la(xq), want, rtol=1e-12)


def test_monte_carlo_link_and_sampling_within_standard_errors():
    """Bernoulli: E[sigmoid f], f ~ N(μ, s²), by quadrature vs link_approx='mc' (4 SE); samples
    of θ: their variance vs posterior_variance (4 SE)."""
    keras.utils.set_random_seed(4)
    model = keras.Sequential([_dense(3, "tanh", input_dim=D), _dense(1, "sigmoid")])
    model.compile(loss="binary_crossentropy")
    yb = (X[:, 0] > 0).astype(float)
    la = Laplace(model, hessian_structure="kron", x=X, y=yb, prior_precision=0.5).fit()
    mu, fcov = la.functional_variance(X[:3])
    n = 4000
    mc = la(X[:3], link_approx="mc", n_samples=n, seed=0)[:, 0]
    for i in range(3):
        m, s = mu[i, 0], math.sqrt(fcov[i, 0, 0])
        pdf = lambda f: scipy.special.expit(f) * scipy.stats.norm.pdf(f, m, s)    # noqa: E731
        exact = scipy.integrate.quad(pdf, m - 12 * s, m + 12 * s)[0]
        sq = scipy.integrate.quad(lambda f: scipy.special.expit(f) ** 2
                                  * scipy.stats.norm.pdf(f, m, s), m - 12 * s, m + 12 * s)[0]
        se = math.sqrt((sq - exact ** 2) / n)
        assert abs(mc[i] - exact) < 4 * se
    th = la.sample(n, seed=1)
    var = la.posterior_variance
    se = var * math.sqrt(2 / n)
    assert np.all(np.abs(th.var(0) - var) < 4 * se + 1e-15)
    assert np.all(np.abs(th.mean(0) - la.mean) < 4 * np.sqrt(var / n))


def test_optimize_prior_precision_is_stationary():
    """At the optimum δ*: d/dδ log p(D) = 0, i.e. δ·‖θ* − μ₀‖² = Σ hλ/(hλ + δ) (MacKay's γ)."""
    model = _classifier()
    la = Laplace(model, x=X, y=YC).fit()
    res = la.optimize_prior_precision()
    d = res.prior_precision
    lam = np.linalg.eigvalsh(la._ggn)
    gamma = np.sum(lam / (lam + d))
    assert d * np.sum(la.mean ** 2) == pytest.approx(gamma, rel=1e-5)
    assert res.log_marginal_likelihood >= res.initial_log_marginal_likelihood
    assert la.log_marginal_likelihood() == pytest.approx(res.log_marginal_likelihood)


def test_last_layer_equals_laplace_on_fixed_features():
    model = _classifier()
    ll = Laplace(model, subset="last_layer", x=X, y=YC).fit()
    last = model.layers[-1]
    feats = X
    for layer in model.layers[:-1]:
        feats = layer.call({**model.params.get(layer.name, {}),
                            **model.state.get(layer.name, {})}, feats)
    feats = np.asarray(feats)
    ref = Laplace(lambda p, h: h @ p["kernel"] + p["bias"], model.params[last.name],
                  likelihood="classification", x=feats, y=YC).fit()
    assert ll.n_params == 18 and ll.last_layer == last.name
    np.testing.assert_allclose(ll.posterior_precision, ref.posterior_precision, atol=1e-12)
    np.testing.assert_allclose(ll(X[:3]), ref(feats[:3]), atol=1e-12)
    assert ll.log_marginal_likelihood() == pytest.approx(ref.log_marginal_likelihood(), rel=1e-12)


def test_map_view_priors_and_the_map_objective():
    keras.utils.set_random_seed(5)
    model = keras.Sequential([
        _dense(4, "tanh", input_dim=D, kernel_regularizer=keras.regularizers.L2(0.01),
               bias_regularizer=keras.regularizers.L1(0.02)),
        _dense(3, kernel_regularizer=keras.regularizers.L1L2(l1=0.01, l2=0.03))])
    model.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    v = map_view(model, X, YC)
    p = model.params
    l0, l1 = model.layers[0].name, model.layers[1].name
    want = (scipy.stats.norm(0, 1 / math.sqrt(2 * N * 0.01)).logpdf(p[l0]["kernel"]).sum()
            + scipy.stats.laplace(0, 1 / (N * 0.02)).logpdf(p[l0]["bias"]).sum())
    a, b = N * 0.01, N * 0.03
    z = scipy.integrate.quad(lambda w: math.exp(-a * abs(w) - b * w * w), -np.inf, np.inf)[0]
    w1 = p[l1]["kernel"]
    want += float(np.sum(-a * np.abs(w1) - b * w1 ** 2) - w1.size * math.log(z))
    assert v.log_prior == pytest.approx(want, rel=1e-10)
    logits = model.predict(X, verbose=0)
    ll = np.sum(scipy.special.log_softmax(logits, axis=1)[np.arange(N), YC])
    assert v.log_likelihood == pytest.approx(ll, rel=1e-10)
    reg = (0.01 * np.sum(p[l0]["kernel"] ** 2) + 0.02 * np.sum(np.abs(p[l0]["bias"]))
           + 0.01 * np.sum(np.abs(w1)) + 0.03 * np.sum(w1 ** 2))
    assert v.regularization == pytest.approx(reg, rel=1e-12)
    assert v.data_loss == pytest.approx(-ll / N, rel=1e-12)
    # MAP: log p(D|θ) + log p(θ) = −N·(loss + R) + a constant that does not depend on θ
    const = v.log_joint + N * (v.data_loss + v.regularization)
    model.set_weights([w * 1.5 + 0.1 for w in model.get_weights()])
    v2 = map_view(model, X, YC)
    assert v2.log_joint + N * (v2.data_loss + v2.regularization) == pytest.approx(const, rel=1e-12)
    assert [r.prior for r in v.rows] == ["gaussian", "laplace", "gaussian×laplace", "flat"]
    # the Gaussian priors' precision, 2Nλ, is the prior precision of a Laplace on θ
    flat = np.asarray(nm.ravel_pytree(p)[0])
    assert np.sum(v.prior_precision == 2 * N * 0.01) == 12
    assert flat.shape == v.prior_precision.shape


def test_map_view_regression_is_gaussian_with_sigma_sqrt_k_over_2():
    model = keras.Sequential([_dense(2, input_dim=D)])
    model.compile(loss="mse")
    Y2 = RNG.standard_normal((N, 2))
    v = map_view(model, X, Y2)
    f = model.predict(X, verbose=0)
    assert v.sigma_noise == 1.0
    assert v.log_likelihood == pytest.approx(scipy.stats.norm(f, 1.0).logpdf(Y2).sum(), rel=1e-12)


def test_bad_input():
    model = keras.Sequential([_dense(2, input_dim=D)])
    with pytest.raises(ValueError, match="not compiled"):
        Laplace(model, x=X, y=YC)
    with pytest.raises(ValueError, match="not compiled"):
        map_view(model, X, YC)
    model.compile(loss="mae")
    with pytest.raises(ValueError, match="cannot infer the likelihood"):
        Laplace(model)
    with pytest.raises(ValueError, match="hessian_structure must be one of"):
        Laplace(_classifier(), hessian_structure="block")
    with pytest.raises(ValueError, match="needs a Model"):
        Laplace(lambda p, x: x @ p, np.zeros(3), likelihood="regression", hessian_structure="kron")
    with pytest.raises(ValueError, match="sigma_noise is for likelihood='regression'"):
        Laplace(_classifier(), sigma_noise=2.0)
    with pytest.raises(ValueError, match="prior_precision must be"):
        Laplace(_classifier(), prior_precision=-1.0)
    with pytest.raises(RuntimeError, match="call fit"):
        Laplace(_classifier()).log_marginal_likelihood()
    with pytest.raises(ValueError, match="no data"):
        Laplace(_classifier()).fit()
    with pytest.raises(ValueError, match="labels must be in"):
        Laplace(_classifier()).fit(X, YC + 5)
    with pytest.raises(TypeError, match="expected a compiled Model"):
        Laplace(3)


def test_probit_of_a_softmax_model_is_its_logits_twins_centred_probit():
    """log p = z − lse(z)·1, so C log p = C z (C = I − 11ᵀ/k) and C Σ_logp C = C Σ_z C: the softmax
    model's probit predictive is exactly the centred probit of its logits twin; the Monte-Carlo
    GLM predictives of the two (shift-invariant) agree within their sampling error."""
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(30, 4)), rng.integers(0, 3, 30)

    def build(last):
        keras.utils.set_random_seed(1)
        m = keras.Sequential([keras.Input((4,)), _dense(6, "tanh"), _dense(3, last)])
        m.compile(optimizer="sgd", loss=keras.losses.SparseCategoricalCrossentropy(
            from_logits=last is None))
        return m
    soft, twin = build("softmax"), build(None)
    twin.set_weights(soft.get_weights())
    fits = [Laplace(m, likelihood="classification", hessian_structure="full", x=x, y=y).fit()
            for m in (soft, twin)]
    xt = rng.normal(size=(7, 4))
    mu, cov = fits[1].functional_variance(xt)
    C = np.eye(3) - 1.0 / 3
    muc, covc = mu @ C, np.einsum("ij,njk,kl->nil", C, cov, C)
    want = scipy.special.softmax(muc / np.sqrt(1 + math.pi / 8 * np.diagonal(covc, 0, 1, 2)), -1)
    np.testing.assert_allclose(fits[0](xt), want, atol=1e-10)
    mc = [np.asarray(f(xt, link_approx="mc", n_samples=20000, seed=0)) for f in fits]
    np.testing.assert_allclose(mc[0], mc[1], atol=0.02)
