"""nnmath.analysis.hessian against exact answers: dense Hessians of small models of every layer
family built independently (``nm.hessian`` of a flat loss written with ``model.apply``),
``scipy.sparse.linalg.eigsh``, closed forms, and standard errors for the stochastic estimators."""
import json

import numpy as np
import pytest
from scipy.sparse.linalg import eigsh

import nnmath as nm
import nnmath.numpy as mnp
from nnmath import ravel_pytree
from nnmath._core.tree import tree_flatten
from nnmath.analysis import as_objective, ggn_operator, hessian_operator
from nnmath.analysis.hessian import (
    PROBE_CHUNK, classify_critical_point, hessian_diagonal, hessian_spectral_density,
    hessian_top_eigenvalues, hessian_trace, sharpness,
)
from nnmath.keras import Sequential, layers
from nnmath.nn import losses

F64 = "float64"
FAMILIES = ["mlp", "cnn", "lstm", "batchnorm"]


def _build(name):
    from nnmath.keras.utils import set_random_seed
    seed = {"mlp": 0, "cnn": 1, "lstm": 2, "batchnorm": 3}[name]
    set_random_seed(seed)                   # weights independent of the tests run before
    rng = np.random.default_rng(seed)
    if name == "mlp":
        model = Sequential([layers.Dense(6, activation="tanh", input_shape=(3,), dtype=F64),
                            layers.Dense(2, dtype=F64)])
        x, y, loss = rng.normal(size=(20, 3)), rng.normal(size=(20, 2)), "mse"
    elif name == "cnn":
        model = Sequential([layers.Conv2D(2, 3, activation="tanh", input_shape=(6, 6, 1),
                                          dtype=F64),
                            layers.MaxPooling2D(dtype=F64), layers.Flatten(dtype=F64),
                            layers.Dense(3, activation="softmax", dtype=F64)])
        x, y = rng.normal(size=(12, 6, 6, 1)), rng.integers(0, 3, 12)
        loss = "sparse_categorical_crossentropy"
    elif name == "lstm":
        model = Sequential([layers.LSTM(3, input_shape=(4, 2), dtype=F64),
                            layers.Dense(2, dtype=F64)])
        x, y, loss = rng.normal(size=(10, 4, 2)), rng.normal(size=(10, 2)), "mse"
    else:
        model = Sequential([layers.Dense(5, input_shape=(3,), dtype=F64),
                            layers.BatchNormalization(dtype=F64), layers.Activation("tanh"),
                            layers.Dense(1, dtype=F64)])
        x, y, loss = rng.normal(size=(20, 3)), rng.normal(size=(20, 1)), "mse"
    model.compile(optimizer="sgd", loss=loss)
    if name == "batchnorm":                 # non-trivial moving statistics for inference mode
        model.fit(x, y, epochs=2, batch_size=10, verbose=0)
    flat, unravel = ravel_pytree(model.params)
    flat = np.asarray(flat)
    loss_fn, state = losses.get(loss), model.state

    def flat_loss(theta):                   # the reference, written without the analysis code
        return loss_fn(y, model.apply(unravel(theta), x, training=False, state=state))
    H = np.asarray(nm.hessian(flat_loss)(flat))
    return {"model": model, "x": x, "y": y, "loss": loss, "flat": flat, "unravel": unravel,
            "H": (H + H.T) / 2, "eigs": np.linalg.eigvalsh((H + H.T) / 2)}


@pytest.fixture(scope="module")
def families():
    return {name: _build(name) for name in FAMILIES}


def _same_tree(a, b):
    (la, da), (lb, db) = tree_flatten(a), tree_flatten(b)
    return da == db and all(np.shape(u) == np.shape(v) for u, v in zip(la, lb))


# ---------------------------------------------------------------------------- eigenvalues

@pytest.mark.parametrize("name", FAMILIES)
def test_lanczos_matches_dense_eigh_for_every_layer_family(families, name):
    fam = families[name]
    m, x, y, H, eigs = fam["model"], fam["x"], fam["y"], fam["H"], fam["eigs"]
    scale = np.abs(eigs).max()
    r = hessian_top_eigenvalues(m, k=3, x=x, y=y, return_eigenvectors=True)
    assert r.converged and r.which == "algebraic" and r.kind == "hessian"
    np.testing.assert_allclose(r.eigenvalues, eigs[::-1][:3], rtol=0, atol=1e-9 * scale)
    assert r.eigenvalues.dtype == np.float64 and r.num_hvps == r.num_iterations
    V = r.eigenvectors_flat
    true_res = np.linalg.norm(H @ V - V * r.eigenvalues, axis=0)
    assert np.all(true_res <= 1e-6 * scale)                     # eigenpairs, truly
    np.testing.assert_allclose(r.residual_norms, true_res, atol=1e-9 * scale)
    np.testing.assert_allclose(V.T @ V, np.eye(3), atol=1e-10)
    assert len(r.eigenvectors) == 3 and _same_tree(r.eigenvectors[0], m.params)
    low = hessian_top_eigenvalues(m, k=2, which="smallest", x=x, y=y)
    np.testing.assert_allclose(low.eigenvalues, eigs[:2], atol=1e-9 * scale)
    mag = hessian_top_eigenvalues(m, k=2, which="magnitude", x=x, y=y)
    np.testing.assert_allclose(mag.eigenvalues, eigs[np.argsort(-np.abs(eigs))[:2]],
                               atol=1e-9 * scale)


def test_against_scipy_eigsh(families):
    fam = families["mlp"]
    op = hessian_operator(fam["model"], x=fam["x"], y=fam["y"])
    ref = np.sort(eigsh(op, k=4, which="LA", tol=1e-12)[0])[::-1]
    ours = hessian_top_eigenvalues(op, k=4).eigenvalues
    np.testing.assert_allclose(ours, ref, rtol=1e-9)
    np.testing.assert_allclose(ours, fam["eigs"][::-1][:4], rtol=1e-9)


def _quadratic(eigenvalues, seed=0):
    """L(w) = ½ wᵀ A w with A = Q diag(eigenvalues) Qᵀ, a random rotation."""
    Q = np.linalg.qr(np.random.default_rng(seed).normal(size=(len(eigenvalues),) * 2))[0]
    A = Q @ np.diag(eigenvalues) @ Q.T
    return (lambda w: 0.5 * w @ (mnp.asarray(A) @ w)), A


def test_top_is_algebraic_not_magnitude_on_an_indefinite_hessian():
    loss, A = _quadratic([3.0, 1.0, -5.0, 0.5, -0.2])
    w0 = np.ones(5)
    assert hessian_top_eigenvalues(loss, w0).eigenvalues[0] == pytest.approx(3.0, rel=1e-12)
    # PyHessian's power iteration v ← Hv/‖Hv‖, λ = vᵀHv: the eigenvalue of largest |λ|
    v = np.random.default_rng(0).normal(size=5)
    obj = as_objective(loss, w0)
    for _ in range(200):
        hv = obj.hvp_flat(v)
        lam, v = v @ hv, hv / np.linalg.norm(hv)
    assert lam == pytest.approx(-5.0, rel=1e-8)
    mag = hessian_top_eigenvalues(loss, w0, which="magnitude").eigenvalues[0]
    assert mag == pytest.approx(-5.0, rel=1e-12)
    np.testing.assert_allclose(hessian_top_eigenvalues(loss, w0, k=2, which="smallest")
                               .eigenvalues, [-5.0, -0.2], rtol=1e-12)


def test_repeated_eigenvalues_come_with_their_multiplicity():
    d = np.array([2.0, 1.0, 1.0, 2.0, 1.0, 0.0, 0.0, 2.0])
    r = hessian_top_eigenvalues(lambda w: 0.5 * mnp.sum(d * w ** 2), np.zeros(8), k=5)
    np.testing.assert_allclose(r.eigenvalues, [2, 2, 2, 1, 1], atol=1e-12)
    assert r.converged


def test_not_converging_warns_and_says_so():
    loss, _ = _quadratic(np.linspace(-1.0, 1.0, 40) ** 3)
    with pytest.warns(RuntimeWarning, match="did not converge in 4 steps"):
        r = hessian_top_eigenvalues(loss, np.zeros(40), max_iter=4)
    assert not r.converged and r.num_iterations == 4 and r.residual_norms[0] > 1e-3
    with pytest.warns(RuntimeWarning, match="repeated eigenvalues"):      # H = I, P = 30
        r = hessian_top_eigenvalues(lambda w: 0.5 * mnp.sum(w ** 2), np.zeros(30), max_iter=5)
    assert r.eigenvalues[0] == pytest.approx(1.0)


def test_ggn_operator_eigenvalues_against_an_independent_dense_ggn(families):
    fam = families["mlp"]
    m, x, y, flat, unravel = fam["model"], fam["x"], fam["y"], fam["flat"], fam["unravel"]
    J = np.asarray(nm.jacfwd(lambda t: mnp.reshape(m.apply(unravel(t), x), (-1,)))(flat))
    out = np.asarray(m.apply(m.params, x)).ravel()
    H_out = np.asarray(nm.hessian(lambda o: mnp.mean((o - y.ravel()) ** 2))(out))
    G = J.T @ H_out @ J
    ref = np.linalg.eigvalsh((G + G.T) / 2)[::-1][:3]
    r = hessian_top_eigenvalues(ggn_operator(m, x=x, y=y), k=3)
    assert r.kind == "ggn"
    np.testing.assert_allclose(r.eigenvalues, ref, rtol=1e-9)


def test_the_three_forms_and_batching_agree(families):
    fam = families["mlp"]
    m, x, y = fam["model"], fam["x"], fam["y"]
    mse = losses.get("mse")
    top = fam["eigs"][::-1][:2]
    forms = [
        hessian_top_eigenvalues(m, k=2, x=x, y=y, batch_size=7),
        hessian_top_eigenvalues(lambda p, xb: m.apply(p, xb), m.params, k=2, x=x, y=y,
                                loss="mse"),
        hessian_top_eigenvalues(lambda p: mse(y, m.apply(p, x)), m.params, k=2),
    ]
    for r in forms:
        np.testing.assert_allclose(r.eigenvalues, top, rtol=1e-9)


def test_float32_stays_float32():
    d = np.arange(1.0, 6.0, dtype=np.float32)
    loss = lambda w: 0.5 * mnp.sum(d * w ** 2)      # noqa: E731
    w0 = np.ones(5, np.float32)
    r = hessian_top_eigenvalues(loss, w0, k=2)
    assert r.eigenvalues.dtype == np.float32
    np.testing.assert_allclose(r.eigenvalues, [5, 4], rtol=1e-5)
    assert hessian_trace(loss, w0, 4).samples.dtype == np.float32
    assert hessian_diagonal(loss, w0, exact=True).diagonal_flat.dtype == np.float32
    assert hessian_spectral_density(loss, w0, 2).nodes.dtype == np.float32


# ---------------------------------------------------------------------------- bad input

def test_bad_input_is_named():
    w0 = np.zeros(3)
    loss = lambda w: mnp.sum(w ** 2)        # noqa: E731
    with pytest.raises(ValueError, match=r"k=4 .* at most 3"):
        hessian_top_eigenvalues(loss, w0, k=4)
    with pytest.raises(ValueError, match="k must be at least 1"):
        hessian_top_eigenvalues(loss, w0, k=0)
    with pytest.raises(TypeError, match="k must be an int"):
        hessian_top_eigenvalues(loss, w0, k=1.5)
    with pytest.raises(ValueError, match="max_iter=1 Lanczos steps cannot give k=2"):
        hessian_top_eigenvalues(loss, w0, k=2, max_iter=1)
    with pytest.raises(ValueError, match="which must be one of"):
        hessian_top_eigenvalues(loss, w0, which="largest")
    with pytest.raises(ValueError, match="lanczos_steps=5 exceeds .* 3"):
        hessian_spectral_density(loss, w0, lanczos_steps=5)
    with pytest.raises(ValueError, match="num_samples must be at least 2"):
        hessian_trace(loss, w0, num_samples=1)
    with pytest.raises(ValueError, match="epsilon must be a positive"):
        sharpness(loss, w0, epsilon=0.0)
    with pytest.raises(ValueError, match="sigma must be a positive number, got -1"):
        hessian_spectral_density(loss, w0, sigma=-1.0)
    with pytest.raises(ValueError, match="grid must be a 1-D array"):
        hessian_spectral_density(loss, w0, grid=np.zeros((2, 2)))
    with pytest.raises(TypeError, match="seed must be None, an int or"):
        hessian_trace(loss, w0, seed="zero")
    op = hessian_operator(loss, w0)
    with pytest.raises(ValueError, match="already holds its parameters and data; got params"):
        hessian_top_eigenvalues(op, w0)
    with pytest.raises(TypeError, match="needs the loss itself"):
        classify_critical_point(op)


def test_errors_of_as_objective_surface_through_the_tools(families):
    with pytest.raises(ValueError, match="must return a scalar loss, got an array of shape"):
        hessian_top_eigenvalues(lambda w: w ** 2, np.ones(3))
    with pytest.raises(ValueError, match="must return a scalar"):
        hessian_trace(lambda w: w ** 2, np.ones(3))
    model = Sequential([layers.Dense(2, input_shape=(3,), dtype=F64)])
    x = np.ones((4, 3))
    with pytest.raises(RuntimeError, match="not compiled"):
        hessian_top_eigenvalues(model, x=x, y=np.ones((4, 2)))
    model.compile(loss="mse")
    with pytest.raises(ValueError, match="4 .* 5|5 .* 4"):
        hessian_trace(model, x=x, y=np.ones((5, 2)))
    fam = families["mlp"]
    with pytest.raises(ValueError, match="has 20 samples but y has 19"):
        hessian_diagonal(lambda p, xb: fam["model"].apply(p, xb), fam["model"].params,
                         x=fam["x"], y=fam["y"][:19], loss="mse")


# ---------------------------------------------------------------------------- trace, diagonal

def test_hutchinson_is_exact_on_a_diagonal_hessian():
    d = np.array([3.0, -1.0, 0.5, 7.0, 2.0])
    r = hessian_trace(lambda w: mnp.sum(d * mnp.sin(w)), np.zeros(5) + 1.0, 7, seed=3)
    assert r.estimate == pytest.approx(-np.sin(1.0) * d.sum(), rel=1e-13)
    assert r.standard_error == pytest.approx(0.0, abs=1e-13)
    assert r.num_samples == 7 and r.samples.shape == (7,) and r.num_hvps == 7


@pytest.mark.parametrize("name", FAMILIES)
def test_hutchinson_samples_are_exact_and_the_mean_within_3_se(families, name):
    fam = families[name]
    H = fam["H"]
    n = 40
    r = hessian_trace(fam["model"], num_samples=n, seed=5, x=fam["x"], y=fam["y"])
    Z = np.random.default_rng(5).choice(np.array([-1.0, 1.0]), size=(n, H.shape[0]))
    # every sample zᵀHz equals the dense one: the vectorised (vmapped) HVPs are exact
    np.testing.assert_allclose(r.samples, np.einsum("ij,jk,ik->i", Z, H, Z),
                               atol=1e-10 * np.abs(H).max() * H.shape[0])
    assert abs(r.estimate - np.trace(H)) <= 3 * r.standard_error
    # the standard error estimates the true one, √(2 Σ_{j≠k} H_jk² / n)
    true_se = np.sqrt(2 * (np.sum(H ** 2) - np.sum(np.diag(H) ** 2)) / n)
    assert 0.6 * true_se < r.standard_error < 1.5 * true_se


def test_vectorised_probes_include_the_regulariser():
    rng = np.random.default_rng(6)
    model = Sequential([layers.Dense(4, activation="tanh", input_shape=(3,), dtype=F64,
                                     kernel_regularizer="l2"),
                        layers.Dense(1, dtype=F64, kernel_regularizer="l1_l2")])
    model.compile(loss="mse")
    x, y = rng.normal(size=(9, 3)), rng.normal(size=(9, 1))
    H = hessian_operator(model, x=x, y=y).to_dense()           # one HVP per column
    r = hessian_trace(model, num_samples=5, seed=1, x=x, y=y, batch_size=4)
    Z = np.random.default_rng(1).choice(np.array([-1.0, 1.0]), size=(5, H.shape[0]))
    np.testing.assert_allclose(r.samples, np.einsum("ij,jk,ik->i", Z, H, Z), rtol=1e-10)
    d = hessian_diagonal(model, exact=True, x=x, y=y)
    np.testing.assert_allclose(d.diagonal_flat, np.diag(H), atol=1e-12)


def test_probes_fall_back_to_a_loop_where_vmap_cannot(families, monkeypatch):
    from nnmath.analysis import Objective
    fam = families["mlp"]

    def no_batching_rule(self, V, params=None):
        raise NotImplementedError("nnmath has no batching rule (vmap) for 'example'")
    ref = hessian_trace(fam["model"], num_samples=5, seed=2, x=fam["x"], y=fam["y"])
    monkeypatch.setattr(Objective, "hvp_rows_flat", no_batching_rule)
    r = hessian_trace(fam["model"], num_samples=5, seed=2, x=fam["x"], y=fam["y"])
    np.testing.assert_allclose(r.samples, ref.samples, rtol=1e-12)
    assert r.num_hvps == 5


def test_trace_of_the_ggn_operator(families):
    fam = families["lstm"]
    op = ggn_operator(fam["model"], x=fam["x"], y=fam["y"])
    dense = op.to_dense()
    r = hessian_trace(op, num_samples=PROBE_CHUNK + 3, seed=1)
    assert abs(r.estimate - np.trace(dense)) <= 3 * r.standard_error
    assert r.num_hvps == PROBE_CHUNK + 3


@pytest.mark.parametrize("name", FAMILIES)
def test_exact_diagonal_for_every_layer_family(families, name):
    fam = families[name]
    r = hessian_diagonal(fam["model"], exact=True, x=fam["x"], y=fam["y"])
    np.testing.assert_allclose(r.diagonal_flat, np.diag(fam["H"]), atol=1e-12)
    assert r.exact and r.num_hvps == fam["H"].shape[0]
    assert _same_tree(r.diagonal, fam["model"].params)
    np.testing.assert_array_equal(r.standard_error_flat, 0.0)


def test_stochastic_diagonal_within_its_standard_errors(families):
    fam = families["mlp"]
    H = fam["H"]
    n = 300
    r = hessian_diagonal(fam["model"], num_samples=n, seed=2, x=fam["x"], y=fam["y"])
    z = (r.diagonal_flat - np.diag(H)) / r.standard_error_flat
    assert np.all(np.abs(z) < 4) and np.mean(np.abs(z) < 2) > 0.85
    true_se = np.sqrt((np.sum(H ** 2, axis=1) - np.diag(H) ** 2) / n)
    np.testing.assert_allclose(r.standard_error_flat, true_se, rtol=0.25)
    assert _same_tree(r.standard_error, fam["model"].params)


def test_diagonal_estimate_and_error_are_the_probes_mean_and_std():
    loss, A = _quadratic([3.0, -1.0, 2.0, 0.5, 1.0, -2.0], seed=4)
    n = PROBE_CHUNK * 2 + 5                         # merged over three chunks of probes
    r = hessian_diagonal(loss, np.zeros(6), num_samples=n, seed=3)
    V = np.random.default_rng(3).choice(np.array([-1.0, 1.0]), size=(n, 6))
    S = V * (V @ A)                                 # vₖ ⊙ A vₖ, computed densely
    np.testing.assert_allclose(r.diagonal_flat, S.mean(axis=0), atol=1e-13)
    np.testing.assert_allclose(r.standard_error_flat, S.std(axis=0, ddof=1) / np.sqrt(n),
                               atol=1e-13)


# ---------------------------------------------------------------------------- spectral density

@pytest.mark.parametrize("name", ["mlp", "batchnorm"])
def test_slq_weights_density_and_moments(families, name):
    fam = families[name]
    eigs = fam["eigs"]
    P = len(eigs)
    r = hessian_spectral_density(fam["model"], num_probes=30, lanczos_steps=10, seed=4,
                                 x=fam["x"], y=fam["y"])
    assert r.nodes.shape == r.weights.shape == (30, 10)
    np.testing.assert_allclose(r.weights.sum(axis=1), 1.0, atol=1e-12)
    assert np.trapezoid(r.density, r.grid) == pytest.approx(1.0, abs=1e-6)
    for power in (1, 2, 3, 4):
        value, se = r.moment(power)
        assert abs(value - np.mean(eigs ** power)) <= 4 * se, power
    tr, tr_se = r.trace_moment(1)
    assert abs(tr - eigs.sum()) <= 4 * tr_se and tr_se == pytest.approx(P * r.moment(1)[1])


def test_slq_moments_are_exact_per_probe_to_degree_2m_minus_1(families):
    fam = families["mlp"]
    H = fam["H"]
    m = 3
    r = hessian_spectral_density(fam["model"], num_probes=3, lanczos_steps=m, seed=8,
                                 x=fam["x"], y=fam["y"])
    rng = np.random.default_rng(8)
    for p in range(3):
        v = rng.choice(np.array([-1.0, 1.0]), size=H.shape[0])
        v /= np.linalg.norm(v)
        for power in range(2 * m):
            quad = np.sum(r.weights[p] * r.nodes[p] ** power)
            exact = v @ np.linalg.matrix_power(H, power) @ v
            assert quad == pytest.approx(exact, rel=1e-8, abs=1e-10), (p, power)


def test_slq_with_p_steps_has_the_eigenvalues_as_nodes(families):
    fam = families["mlp"]
    eigs = fam["eigs"]
    r = hessian_spectral_density(fam["model"], num_probes=2, lanczos_steps=len(eigs), seed=0,
                                 x=fam["x"], y=fam["y"])
    for p in range(2):
        np.testing.assert_allclose(np.sort(r.nodes[p]), eigs, atol=1e-9 * np.abs(eigs).max())
    # the weights are the squared projections of the probe on the eigenvectors, not 1/P
    assert not np.allclose(r.weights, 1 / len(eigs))


def test_slq_on_a_spectrum_with_multiplicities_stops_early_and_stays_exact():
    d = np.array([1.0] * 4 + [3.0] * 3 + [-2.0])
    r = hessian_spectral_density(lambda w: 0.5 * mnp.sum(d * w ** 2), np.zeros(8),
                                 num_probes=4, lanczos_steps=8, seed=0, sigma=0.05)
    assert r.nodes.shape == (4, 3)                  # three distinct eigenvalues
    np.testing.assert_allclose(np.sort(r.nodes, axis=1), [[-2, 1, 3]] * 4, atol=1e-12)
    np.testing.assert_allclose(r.weights.mean(axis=0)[np.argsort(r.nodes[0])],
                               [1 / 8, 4 / 8, 3 / 8], atol=0.2)
    assert np.trapezoid(r.density, r.grid) == pytest.approx(1.0, abs=1e-6)
    assert r.moment(2)[0] == pytest.approx(np.mean(d ** 2), rel=1e-12)     # Rademacher: exact


# ---------------------------------------------------------------------------- critical points

@pytest.mark.parametrize("eigenvalues, kind", [
    ([1.0, 2.0, 0.5], "minimum"), ([-1.0, -3.0, -0.5], "maximum"),
    ([1.0, -2.0, 0.5], "saddle"), ([1.0, 0.0, 2.0], "degenerate"),
])
def test_classify_quadratics(eigenvalues, kind):
    loss, _ = _quadratic(eigenvalues, seed=1)
    for method in ("lanczos", "dense"):
        r = classify_critical_point(loss, np.zeros(3), method=method)
        assert r.kind == kind
        assert r.lambda_max == pytest.approx(max(eigenvalues), abs=1e-12)
        assert r.lambda_min == pytest.approx(min(eigenvalues), abs=1e-12)


def test_classify_not_critical_and_a_least_squares_minimum():
    loss, _ = _quadratic([1.0, 2.0, 0.5])
    r = classify_critical_point(loss, np.ones(3))
    assert r.kind == "not critical" and r.grad_norm > 0.1 and r.lambda_max is None
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(30, 4)), rng.normal(size=(30, 1))
    X1 = np.hstack([x, np.ones((30, 1))])
    sol = np.linalg.lstsq(X1, y, rcond=None)[0]
    params = {"w": sol[:4], "b": sol[4]}
    r = classify_critical_point(lambda p, xb: xb @ p["w"] + p["b"], params, x=x, y=y,
                                loss="mse")
    assert r.kind == "minimum" and r.grad_norm < 1e-10
    assert r.lambda_min == pytest.approx(np.linalg.eigvalsh(2 * X1.T @ X1 / 30)[0], rel=1e-9)


# ---------------------------------------------------------------------------- sharpness

def test_epsilon_sharpness_of_a_separable_quadratic_is_exact():
    a, theta = np.array([1.0, 2.0, 0.5, 3.0]), np.array([0.5, -1.0, 2.0, -0.1])
    loss = lambda w: mnp.sum(a * w ** 2)        # noqa: E731
    eps = 0.05
    r = sharpness(loss, theta, epsilon=eps)
    z = np.sign(theta) * eps * (np.abs(theta) + 1)     # each coordinate away from 0
    best, base = np.sum(a * (theta + z) ** 2), np.sum(a * theta ** 2)
    assert r.max_loss == pytest.approx(best, rel=1e-12)
    assert r.epsilon_sharpness == pytest.approx(100 * (best - base) / (1 + base), rel=1e-10)
    assert r.lambda_max == pytest.approx(6.0) and r.trace == pytest.approx(13.0)
    np.testing.assert_allclose(r.perturbation, z, rtol=1e-12)


def test_epsilon_sharpness_at_a_saddle_needs_the_random_start():
    loss = lambda w: w[0] ** 2 - w[1] ** 2      # noqa: E731
    eps = 0.01
    r = sharpness(loss, np.zeros(2), epsilon=eps, num_restarts=1, seed=0)
    assert r.epsilon_sharpness == pytest.approx(100 * eps ** 2, rel=1e-8)
    stuck = sharpness(loss, np.zeros(2), epsilon=eps, num_restarts=0)
    assert stuck.epsilon_sharpness == 0.0       # z = 0 is stationary: a lower bound


def test_sharpness_of_a_model(families):
    fam = families["cnn"]
    m, x, y, H, eigs = fam["model"], fam["x"], fam["y"], fam["H"], fam["eigs"]
    r = sharpness(m, epsilon=1e-3, num_samples=40, x=x, y=y)
    assert r.lambda_max == pytest.approx(eigs[-1], rel=1e-9)
    assert abs(r.trace - np.trace(H)) <= 3 * r.trace_standard_error
    obj = as_objective(m, x=x, y=y)
    theta, radius = fam["flat"], 1e-3 * (np.abs(fam["flat"]) + 1)
    assert r.loss == pytest.approx(obj.value())
    # at least as high as the first-order guess (the vertex along the gradient) and random ones
    g = obj.grad_flat()
    rng = np.random.default_rng(0)
    vertices = [np.sign(g) * radius] + [rng.choice([-1, 1], theta.size) * radius
                                        for _ in range(20)]
    assert r.max_loss >= max(obj.value(theta + v) for v in vertices) - 1e-12
    assert np.all(np.abs(ravel_pytree(r.perturbation)[0]) <= radius * (1 + 1e-12))


# ---------------------------------------------------------------------------- results

def test_results_are_json_ready(families):
    fam = families["mlp"]
    m, x, y = fam["model"], fam["x"], fam["y"]
    results = [
        hessian_top_eigenvalues(m, k=2, x=x, y=y, return_eigenvectors=True),
        hessian_trace(m, num_samples=4, x=x, y=y),
        hessian_diagonal(m, num_samples=4, x=x, y=y),
        hessian_spectral_density(m, num_probes=2, lanczos_steps=5, x=x, y=y),
        classify_critical_point(m, x=x, y=y),
        sharpness(m, num_samples=4, max_iter=3, x=x, y=y),
    ]
    for r in results:
        json.dumps(r.to_dict())
    assert "eigenvectors" not in results[0].to_dict()      # large: kept on the object only


@pytest.mark.parametrize("name", ["mlp", "cnn"])
def test_hutchpp_samples_are_exact_and_the_mean_within_3_se(families, name):
    fam = families[name]
    H = fam["H"]
    m = 30
    r = hessian_trace(fam["model"], num_samples=m, seed=7, method="hutch++", x=fam["x"], y=fam["y"])
    # the same algorithm densely, on the same probe stream
    rng, P, k = np.random.default_rng(7), H.shape[0], m // 3
    S = rng.choice(np.array([-1.0, 1.0]), size=(k, P))
    Q = np.linalg.qr(H @ S.T)[0]
    G = rng.choice(np.array([-1.0, 1.0]), size=(m - 2 * k, P))
    G = G - (G @ Q) @ Q.T
    assert r.method == "hutch++" and r.sketch_rank == k and r.num_hvps == m
    assert r.num_samples == m - 2 * k
    scale = 1e-9 * np.abs(H).max() * P
    assert r.low_rank_trace == pytest.approx(np.trace(Q.T @ H @ Q), abs=scale)
    np.testing.assert_allclose(r.samples, r.low_rank_trace + np.einsum("ij,jk,ik->i", G, H, G),
                               atol=scale)
    assert abs(r.estimate - np.trace(H)) <= 3 * r.standard_error + scale
    # the standard error estimates the deflated matrix's, √(2 Σ_{j≠k} Ĥ_jk² / n), Ĥ = ΠHΠ
    Pi = np.eye(P) - Q @ Q.T
    Hd = Pi @ H @ Pi
    true_se = np.sqrt(2 * (np.sum(Hd ** 2) - np.sum(np.diag(Hd) ** 2)) / r.num_samples)
    assert 0.4 * true_se < r.standard_error < 2.0 * true_se


def test_hutchpp_is_unbiased_with_calibrated_errors_and_beats_hutchinson():
    """On a matrix with a decaying spectrum (a trained network's few outliers and its bulk), over
    300 seeds: Hutch++'s mean is tr A within 3 standard errors of the mean, its reported standard
    error matches the seeds' spread, and the spread is far below Hutchinson's for the same 30
    products."""
    from scipy.sparse.linalg import aslinearoperator
    rng = np.random.default_rng(0)
    P = 60
    V = np.linalg.qr(rng.normal(size=(P, P)))[0]
    lam = np.concatenate([[40.0, 25.0, 10.0, 6.0, 4.0], rng.normal(0.05, 0.3, P - 5)])
    A = (V * lam) @ V.T
    op = aslinearoperator(A)
    pp = [hessian_trace(op, num_samples=30, seed=s, method="hutch++") for s in range(300)]
    hu = [hessian_trace(op, num_samples=30, seed=s) for s in range(300)]
    est = np.array([r.estimate for r in pp])
    assert abs(est.mean() - lam.sum()) <= 3 * est.std(ddof=1) / np.sqrt(len(est))
    assert 0.7 < np.mean([r.standard_error for r in pp]) / est.std(ddof=1) < 1.4
    assert est.std() < 0.5 * np.std([r.estimate for r in hu])


def test_hutchpp_bad_input_is_named():
    loss = lambda w: mnp.sum(w ** 4)      # noqa: E731
    with pytest.raises(ValueError, match="method must be 'hutchinson' or 'hutch\\+\\+', got 'hutch'"):
        hessian_trace(loss, np.ones(3), 10, method="hutch")
    with pytest.raises(ValueError, match="num_samples"):
        hessian_trace(loss, np.ones(3), 3, method="hutch++")
    from concurrent.futures import ThreadPoolExecutor
    with ThreadPoolExecutor(1) as ex, pytest.raises(ValueError, match="executor= works with"):
        hessian_trace(loss, np.ones(3), 10, method="hutch++", executor=ex)
