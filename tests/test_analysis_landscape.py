"""nnmath.analysis.landscape: random directions, slices and surfaces, linear interpolation,
trajectory PCA and Bézier mode connectivity — each against an independent computation (the
model's own ``evaluate`` on moved weights, a closed form, sklearn's PCA, a quadrature optimum)."""
import numpy as np
import pytest

import nnmath as nm
import nnmath.numpy as mnp
from nnmath import optimizers as optim
from nnmath._core.tree import tree_flatten, tree_map
from nnmath.analysis import as_objective
from nnmath.analysis.landscape import (
    TrajectoryRecorder,
    _bezier,
    _bezier_value_and_grad,
    bezier_point,
    fit_bezier_curve,
    linear_interpolation,
    loss_along_bezier,
    loss_slice_1d,
    loss_surface_2d,
    random_directions,
    trajectory_pca,
)
from nnmath.keras import layers
from nnmath.keras.models import Sequential
from nnmath.keras.utils import set_random_seed


def _cnn(seed=0):
    set_random_seed(seed)
    model = Sequential([
        layers.Conv2D(3, 3, input_shape=(5, 5, 2), dtype="float64"),
        layers.BatchNormalization(dtype="float64"),
        layers.Flatten(dtype="float64"),
        layers.Dense(4, activation="tanh", dtype="float64"),
        layers.Dense(3, activation="softmax", dtype="float64"),
    ])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def _mlp(seed=0, dtype="float64"):
    set_random_seed(seed)
    model = Sequential([layers.Dense(5, activation="tanh", input_dim=3, dtype=dtype),
                        layers.Dense(3, activation="softmax", dtype=dtype)])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


@pytest.fixture
def images():
    rng = np.random.default_rng(1)
    return rng.normal(size=(20, 5, 5, 2)), rng.integers(0, 3, size=20)


@pytest.fixture
def tabular():
    rng = np.random.default_rng(2)
    return rng.normal(size=(30, 3)), rng.integers(0, 3, size=30)


def _moved(params, direction, alpha):
    return tree_map(lambda p, d: p + alpha * d, params, direction)


def _evaluate_at(model, params, x, y):
    """model.evaluate with the model's own weights overwritten by ``params`` (then restored)."""
    saved = tree_map(np.array, model.params)
    views = model.params
    try:
        for layer, weights in views.items():
            for name, view in weights.items():
                view[...] = params[layer][name]
        return model.evaluate(x, y, verbose=0, return_dict=True, batch_size=7)
    finally:
        for layer, weights in views.items():
            for name, view in weights.items():
                view[...] = saved[layer][name]


# ---------------------------------------------------------------------------------------------
# random_directions
# ---------------------------------------------------------------------------------------------

def test_filter_normalisation_matches_every_filter_and_zeroes_biases_and_batchnorm():
    model = _cnn()
    params = model.params
    d = random_directions(model, seed=3)             # a Model: its params
    assert tree_flatten(d)[1] == tree_flatten(params)[1]
    for layer, weights in params.items():
        for name, w in weights.items():
            v = d[layer][name]
            assert v.shape == w.shape and v.dtype == w.dtype
            if w.ndim >= 2:                          # kernels: one norm per output unit
                axes = tuple(range(w.ndim - 1))
                dn, wn = np.sqrt((v ** 2).sum(axis=axes)), np.sqrt((w ** 2).sum(axis=axes))
                assert dn.shape == (w.shape[-1],)
                np.testing.assert_allclose(dn, wn, rtol=1e-12)
            else:                                    # biases, gamma, beta
                np.testing.assert_array_equal(v, 0.0)
    conv_name = next(l.name for l in model.layers if type(l).__name__ == "Conv2D")
    conv = d[conv_name]["kernel"]
    assert conv.shape == (3, 3, 2, 3)                # filters are conv[..., j]
    # the filters are not plain copies of the weights: directions are random
    assert not np.allclose(conv, params[conv_name]["kernel"])


def test_ignore_none_scales_one_dimensional_weights_and_keeps_the_same_draws():
    params = _cnn().params
    d0 = random_directions(params, seed=5)
    d1 = random_directions(params, ignore=None, seed=5)
    for layer, weights in params.items():
        for name, w in weights.items():
            if w.ndim >= 2:
                np.testing.assert_array_equal(d0[layer][name], d1[layer][name])
            else:                                    # one filter: ‖d‖ = ‖θ‖
                np.testing.assert_allclose(np.linalg.norm(d1[layer][name]), np.linalg.norm(w),
                                           rtol=1e-12)


def test_layer_weight_and_raw_normalisations():
    params = _cnn().params
    raw = random_directions(params, normalization=None, ignore=None, seed=7)
    layer = random_directions(params, normalization="layer", ignore=None, seed=7)
    weight = random_directions(params, normalization="weight", ignore=None, seed=7)
    for name in params:
        for k, w in params[name].items():
            np.testing.assert_allclose(np.linalg.norm(layer[name][k]), np.linalg.norm(w),
                                       rtol=1e-12)
            # same Gaussian draw, rescaled: layer = raw·‖θ‖/‖raw‖, weight = raw ⊙ |θ|
            np.testing.assert_allclose(layer[name][k],
                                       raw[name][k] * np.linalg.norm(w) /
                                       np.linalg.norm(raw[name][k]), rtol=1e-12)
            np.testing.assert_allclose(weight[name][k], raw[name][k] * np.abs(w), rtol=1e-12)
    # raw draws are standard normal: mean 0, variance 1 within a few standard errors
    flat = nm.ravel_pytree(raw)[0]
    assert abs(flat.mean()) < 4 / np.sqrt(flat.size)
    assert abs(flat.var() - 1) < 4 * np.sqrt(2 / flat.size)


def test_several_directions_seeds_and_dtype():
    params = {"w": np.ones((4, 3), np.float32), "b": np.zeros(3, np.float32)}
    a, b = random_directions(params, seed=0, num=2)
    assert a["w"].dtype == np.float32 and not np.allclose(a["w"], b["w"])
    again = random_directions(params, seed=np.random.default_rng(0), num=2)
    np.testing.assert_array_equal(again[1]["w"], b["w"])
    np.testing.assert_array_equal(random_directions(params, seed=0)["w"], a["w"])
    assert len(random_directions(params, num=1)) == 1


def test_random_directions_errors():
    params = {"w": np.ones((2, 2)), "b": np.ones(2)}
    with pytest.raises(ValueError, match="normalization must be one of"):
        random_directions(params, normalization="filters")
    with pytest.raises(ValueError, match="ignore must be 'biasbn' or None, got 'bias'"):
        random_directions(params, ignore="bias")
    with pytest.raises(ValueError, match="num must be an integer ≥ 1, got 0"):
        random_directions(params, num=0)
    with pytest.raises(TypeError, match="floating leaves, got one of dtype int64"):
        random_directions({"w": np.ones((2, 2), np.int64)})
    with pytest.raises(ValueError, match="fewer than 2 axes and ignore='biasbn'"):
        random_directions(np.ones(5))
    with pytest.raises(ValueError, match="scaled to are zero"):
        random_directions({"w": np.zeros((3, 2))})
    with pytest.raises(TypeError, match="seed must be"):
        random_directions(params, seed="zero")


# ---------------------------------------------------------------------------------------------
# loss_slice_1d / loss_surface_2d
# ---------------------------------------------------------------------------------------------

def test_slice_of_a_model_equals_evaluate_on_the_moved_weights(images):
    x, y = images
    model = _cnn()
    s = loss_slice_1d(model, x=x, y=y, alphas=np.linspace(-0.5, 0.5, 5), seed=1,
                      metric="accuracy", batch_size=6)
    assert s.loss.shape == (5,) and s.metric.shape == (5,) and s.metric_name == "accuracy"
    for a, loss, acc in zip(s.alphas, s.loss, s.metric):
        logs = _evaluate_at(model, _moved(model.params, s.direction, a), x, y)
        np.testing.assert_allclose(loss, logs["loss"], rtol=1e-10)
        np.testing.assert_allclose(acc, logs["accuracy"], rtol=1e-12)
    # the given direction is used as it is
    again = loss_slice_1d(model, direction=s.direction, x=x, y=y, alphas=s.alphas)
    np.testing.assert_allclose(again.loss, s.loss, rtol=1e-12)


def test_slice_of_apply_fn_and_loss_fn_equal_direct_evaluation(tabular):
    x, labels = tabular
    y = np.eye(3)[labels]
    rng = np.random.default_rng(0)
    params = {"w": rng.normal(size=(3, 3)), "b": rng.normal(size=3)}
    apply_fn = lambda p, x: mnp.tanh(x @ p["w"] + p["b"])          # noqa: E731
    direct = lambda p: np.mean((np.tanh(x @ p["w"] + p["b"]) - y) ** 2)   # noqa: E731
    d = {"w": rng.normal(size=(3, 3)), "b": rng.normal(size=3)}
    alphas = [-1.0, -0.25, 0.0, 0.5, 2.0]
    s = loss_slice_1d(apply_fn, params, d, x=x, y=y, loss="mse", alphas=alphas, batch_size=8,
                      metric=lambda t, p: np.mean((t - p) ** 2))
    want = [direct(_moved(params, d, a)) for a in alphas]
    np.testing.assert_allclose(s.loss, want, rtol=1e-12)
    np.testing.assert_allclose(s.metric, want, rtol=1e-12)   # the metric is the same mse
    f = lambda p: mnp.mean((mnp.tanh(x @ p["w"] + p["b"]) - y) ** 2)   # noqa: E731
    np.testing.assert_allclose(loss_slice_1d(f, params, d, alphas=alphas).loss, want, rtol=1e-12)
    flat_d = nm.ravel_pytree(d)[0]                                  # a flat vector works too
    np.testing.assert_allclose(loss_slice_1d(f, params, flat_d, alphas=alphas).loss, want,
                               rtol=1e-12)


def test_float32_model_stays_float32(tabular):
    x, labels = tabular
    model = _mlp(dtype="float32")
    d64 = tree_map(lambda w: np.ones(w.shape), model.params)        # float64 direction
    s = loss_slice_1d(model, direction=d64, x=x, y=labels, alphas=[0.0, 0.1])
    assert all(v.dtype == np.float32 for v in tree_flatten(s.direction)[0])
    logs = _evaluate_at(model, _moved(model.params, s.direction, np.float32(0.1)), x, labels)
    np.testing.assert_allclose(s.loss[1], logs["loss"], rtol=1e-5)


def test_surface_of_a_quadratic_is_exact():
    rng = np.random.default_rng(4)
    params = {"w": rng.normal(size=(3, 4)), "v": rng.normal(size=5)}
    n = 17
    m = rng.normal(size=(n, n))
    A = m @ m.T + np.eye(n)
    loss_fn = lambda p: mnp.dot(nm.ravel_pytree(p)[0], A @ nm.ravel_pytree(p)[0])  # noqa: E731
    alphas, betas = np.linspace(-1, 1, 5), np.linspace(-2, 2, 4)
    s = loss_surface_2d(loss_fn, params, alphas=alphas, betas=betas, seed=2)
    assert s.loss.shape == (5, 4)
    t0 = nm.ravel_pytree(params)[0]
    d1, d2 = (nm.ravel_pytree(d)[0] for d in s.directions)
    assert np.all(d1[:5] == 0) and np.all(d2[:5] == 0)              # "v" (1-D) ignored
    a, b = np.meshgrid(alphas, betas, indexing="ij")
    want = (t0 @ A @ t0 + 2 * a * (d1 @ A @ t0) + 2 * b * (d2 @ A @ t0) + a ** 2 * (d1 @ A @ d1)
            + 2 * a * b * (d1 @ A @ d2) + b ** 2 * (d2 @ A @ d2))
    np.testing.assert_allclose(s.loss, want, rtol=1e-12)
    np.testing.assert_allclose(s.cosine, d1 @ d2 / np.linalg.norm(d1) / np.linalg.norm(d2))
    # at θ = 0 the surface of a quadratic form is even: L(α, β) = L(−α, −β); α ↔ β with d₁ ↔ d₂
    zero = tree_map(np.zeros_like, params)
    grid = np.linspace(-1, 1, 5)
    s0 = loss_surface_2d(loss_fn, zero, s.directions, alphas=grid)
    np.testing.assert_allclose(s0.loss, s0.loss[::-1, ::-1], rtol=1e-12)
    swapped = loss_surface_2d(loss_fn, zero, s.directions[::-1], alphas=grid)
    np.testing.assert_allclose(swapped.loss, s0.loss.T, rtol=1e-12)
    g1, g2 = np.meshgrid(grid, grid, indexing="ij")
    np.testing.assert_allclose(s0.loss, g1 ** 2 * (d1 @ A @ d1) + 2 * g1 * g2 * (d1 @ A @ d2)
                               + g2 ** 2 * (d2 @ A @ d2), rtol=1e-12, atol=1e-12)


def test_surface_of_a_model_equals_evaluate(tabular):
    x, y = tabular
    model = _mlp()
    s = loss_surface_2d(model, x=x, y=y, alphas=[-0.3, 0.4], betas=[0.0, 0.2, 0.5],
                        metric="accuracy")
    d1, d2 = s.directions
    for i, a in enumerate(s.alphas):
        for j, b in enumerate(s.betas):
            logs = _evaluate_at(model, _moved(_moved(model.params, d1, a), d2, b), x, y)
            np.testing.assert_allclose(s.loss[i, j], logs["loss"], rtol=1e-10)
            np.testing.assert_allclose(s.metric[i, j], logs["accuracy"], rtol=1e-12)
    assert set(s.to_dict()) == {"alphas", "betas", "loss", "cosine", "metric", "metric_name"}


def test_slice_and_surface_errors(tabular):
    x, y = tabular
    model = _mlp()
    params = model.params
    bad = {k: dict(v) for k, v in random_directions(params).items()}
    del bad[sorted(bad)[0]]["bias"]
    with pytest.raises(ValueError, match="direction: its structure"):
        loss_slice_1d(model, direction=bad, x=x, y=y)
    wrong = tree_map(lambda w: np.ones(w.shape + (1,)), params)
    with pytest.raises(ValueError, match=r"direction: a leaf of shape \(5, 1\) where the "
                                         r"parameters have shape \(5,\)"):
        loss_slice_1d(model, direction=wrong, x=x, y=y)
    with pytest.raises(ValueError, match=r"directions\[1\]: expected a vector of 38 entries"):
        loss_surface_2d(model, directions=(np.ones(38), np.ones(3)), x=x, y=y)
    with pytest.raises(ValueError, match="directions must be a pair"):
        loss_surface_2d(model, directions=[np.ones(38)], x=x, y=y)
    with pytest.raises(ValueError, match=r"alphas must be a non-empty 1-D array.*\(2, 2\)"):
        loss_slice_1d(model, x=x, y=y, alphas=np.zeros((2, 2)))
    with pytest.raises(ValueError, match="betas must be finite"):
        loss_surface_2d(model, x=x, y=y, betas=[0.0, np.nan])
    with pytest.raises(ValueError, match="metric= needs the model's predictions"):
        loss_slice_1d(lambda p: mnp.sum(p ** 2), np.ones((2, 2)), metric="accuracy")
    with pytest.raises(TypeError, match="metric must be None, a metric name"):
        loss_slice_1d(model, x=x, y=y, metric=3)


# ---------------------------------------------------------------------------------------------
# linear_interpolation
# ---------------------------------------------------------------------------------------------

def test_linear_interpolation_closed_form_and_barrier():
    double_well = lambda p: mnp.sum((p ** 2 - 1.0) ** 2)        # noqa: E731
    a, b = np.array([-1.0, 1.0]), np.array([1.0, 1.0])
    alphas = np.linspace(-0.4, 1.4, 19)
    r = linear_interpolation(double_well, a, b, alphas=alphas)
    x = 2 * alphas - 1
    np.testing.assert_allclose(r.loss, (x ** 2 - 1) ** 2, rtol=1e-12, atol=1e-15)
    assert r.loss_a == r.loss_b == 0.0
    assert r.barrier == pytest.approx(1.0) and r.barrier_alpha == pytest.approx(0.5)
    # outside [0, 1] the loss is higher still but does not count in the barrier
    assert r.loss[0] > 1.0
    r2 = linear_interpolation(double_well, np.array([-1.0, 1.0]), np.array([0.5, 1.0]), num=4)
    np.testing.assert_allclose(r2.alphas, np.linspace(0, 1, 4))
    # barrier = max on the path − mean of the endpoints; L_b = (0.25 − 1)² = 0.5625
    assert r2.barrier == pytest.approx(r2.loss.max() - 0.5 * 0.5625)


def test_linear_interpolation_between_two_models(tabular):
    x, y = tabular
    model_a, model_b = _mlp(seed=0), _mlp(seed=1)
    r = linear_interpolation(model_a, None, model_b, num=5, x=x, y=y, metric="accuracy")
    pa = model_a.params                   # model_b's layers have other automatic names
    pb = {la.name: model_b.params[lb.name] for la, lb in zip(model_a.layers, model_b.layers)}
    for a, loss, acc in zip(r.alphas, r.loss, r.metric):
        point = tree_map(lambda u, v: (1 - a) * u + a * v, pa, pb)
        logs = _evaluate_at(model_a, point, x, y)
        np.testing.assert_allclose(loss, logs["loss"], rtol=1e-10)
        np.testing.assert_allclose(acc, logs["accuracy"], rtol=1e-12)
    np.testing.assert_allclose(r.loss_b, model_b.evaluate(x, y, verbose=0)[0], rtol=1e-10)
    assert r.barrier == pytest.approx(r.loss.max() - 0.5 * (r.loss_a + r.loss_b))
    assert r.metric_barrier == pytest.approx(0.5 * (r.metric_a + r.metric_b) - r.metric.min())
    with pytest.raises(ValueError, match="params_b: its structure"):
        linear_interpolation(model_a, None, {k: pa[k] for k in sorted(pa)[:1]}, x=x, y=y)
    with pytest.raises(ValueError, match="num must be an integer ≥ 2, got 1"):
        linear_interpolation(model_a, None, model_b, num=1, x=x, y=y)


# ---------------------------------------------------------------------------------------------
# trajectory_pca and TrajectoryRecorder
# ---------------------------------------------------------------------------------------------

def _trajectory(n=8, seed=0):
    rng = np.random.default_rng(seed)
    steps = rng.normal(size=(n, 7)) * np.array([3.0, 2.0, 1.0, 0.5, 0.1, 0.1, 0.1])
    points = np.cumsum(steps, axis=0)
    return [{"w": p[:4].reshape(2, 2), "b": p[4:]} for p in points]


def test_trajectory_pca_matches_sklearn_and_is_orthonormal():
    decomposition = pytest.importorskip("sklearn.decomposition")
    traj = _trajectory()
    r = trajectory_pca(traj, n_components=3)
    comps = np.stack([nm.ravel_pytree(d)[0] for d in r.directions])
    np.testing.assert_allclose(comps @ comps.T, np.eye(3), atol=1e-12)
    flats = np.stack([nm.ravel_pytree(t)[0] for t in traj])
    disp = flats[:-1] - flats[-1]                     # the paper's M: the final point left out
    pca = decomposition.PCA(n_components=3).fit(disp)
    np.testing.assert_allclose(r.explained_variance_ratio, pca.explained_variance_ratio_,
                               rtol=1e-10)
    np.testing.assert_allclose(np.abs(np.sum(comps * pca.components_, axis=1)), 1.0, rtol=1e-10)
    np.testing.assert_allclose(r.coordinates, (flats - flats[-1]) @ comps.T, atol=1e-12)
    np.testing.assert_array_equal(r.coordinates[-1], 0.0)
    assert np.all(r.coordinates[0] >= 0)              # the sign convention
    assert r.coordinates.shape == (8, 3)


def test_trajectory_pca_uncentred_and_with_a_given_final_point():
    traj = _trajectory(seed=1)
    final = {"w": np.zeros((2, 2)), "b": np.zeros(3)}
    r = trajectory_pca(traj, final=final, center=False)
    flats = np.stack([nm.ravel_pytree(t)[0] for t in traj])   # every point is a row now
    evals = np.linalg.eigvalsh(flats.T @ flats)[::-1]
    np.testing.assert_allclose(r.explained_variance_ratio, evals[:2] / evals.sum(), rtol=1e-10)
    np.testing.assert_allclose(r.singular_values ** 2, evals[:2], rtol=1e-10)
    assert r.coordinates.shape == (8, 2)
    flat = trajectory_pca([nm.ravel_pytree(t)[0] for t in traj], final=np.zeros(7),
                          center=False)                # flat vectors work too
    np.testing.assert_allclose(flat.explained_variance_ratio, r.explained_variance_ratio)


def test_trajectory_pca_errors():
    traj = _trajectory(n=3)
    with pytest.raises(ValueError, match="n_components=3 exceeds the 1 available"):
        trajectory_pca(traj, n_components=3)
    with pytest.raises(ValueError, match=r"trajectory\[1\] has structure"):
        trajectory_pca([traj[0], {"w": np.zeros((2, 2))}, traj[2]])
    with pytest.raises(ValueError, match="at least 2 points"):
        trajectory_pca(traj[:1])
    with pytest.raises(ValueError, match="non-empty list"):
        trajectory_pca(np.zeros((3, 4)))
    with pytest.raises(ValueError, match="does not move"):
        trajectory_pca([traj[0], traj[0], traj[0]], n_components=1, center=False)


def test_trajectory_recorder_keeps_copies_during_fit(tabular):
    x, y = tabular
    model = _mlp()
    rec = TrajectoryRecorder(every=2)
    model.fit(x, y, epochs=5, batch_size=10, verbose=0, callbacks=[rec])
    assert rec.epochs == [0, 2, 4, 5]                 # initial, every 2nd epoch, the last one
    last = rec.trajectory[-1]
    for layer, weights in model.params.items():
        for k, w in weights.items():
            np.testing.assert_array_equal(last[layer][k], w)
            assert not np.shares_memory(last[layer][k], w)
            assert not np.allclose(rec.trajectory[0][layer][k], w)
    r = trajectory_pca(rec)
    assert r.coordinates.shape == (4, 2) and 0 < r.explained_variance_ratio.sum() <= 1 + 1e-12
    with pytest.raises(ValueError, match="every must be an integer ≥ 1"):
        TrajectoryRecorder(every=0)


# ---------------------------------------------------------------------------------------------
# Bézier curves
# ---------------------------------------------------------------------------------------------

EPS = 0.01


def _valley(p):
    # two minima (±1, 0) joined by the parabolic valley y = 1 − x², whose floor rises to EPS at
    # x = 0; the straight line between them crosses the ridge y = 0 at height 1 + EPS
    return (p[1] - (1 - p[0] ** 2)) ** 2 + EPS * (p[0] ** 2 - 1) ** 2


def test_trained_bezier_finds_the_valley_that_the_line_misses():
    so = pytest.importorskip("scipy.optimize")
    a, b = np.array([-1.0, 0.0]), np.array([1.0, 0.0])
    # the exact objective ∫₀¹ L(φ(t)) dt: L∘φ is a polynomial of degree 8 in t, so 8-point
    # Gauss–Legendre quadrature is exact; its minimiser is the answer SGD over t should approach
    nodes, weights = np.polynomial.legendre.leggauss(8)
    ts, ws = (nodes + 1) / 2, weights / 2

    def expected(c):
        return sum(w * ((q := _bezier(a, c, b, t))[1] - (1 - q[0] ** 2)) ** 2 +
                   w * EPS * (q[0] ** 2 - 1) ** 2 for t, w in zip(ts, ws))
    best = so.minimize(expected, np.array([0.3, 1.0]), method="BFGS", options={"gtol": 1e-12}).x
    np.testing.assert_allclose(best, [0.0, 2.0], atol=1e-6)    # φ then traces y = 1 − x² exactly
    r = fit_bezier_curve(_valley, a, b, num_steps=300, learning_rate=0.1, seed=0)
    np.testing.assert_allclose(r.control, best, atol=0.02)
    assert r.train_losses.shape == (300,)
    assert r.linear_barrier == pytest.approx(1.0 + EPS)
    assert r.barrier == pytest.approx(EPS, abs=2e-3)             # the valley floor's bump
    np.testing.assert_allclose(r.loss, loss_along_bezier(_valley, a, r.control, b, r.ts))
    np.testing.assert_allclose(r.loss, [_valley(bezier_point(a, r.control, b, t)) for t in r.ts],
                               rtol=1e-12)
    # a Keras-style optimizer by name, and an Optax-style one
    assert fit_bezier_curve(_valley, a, b, num_steps=3, optimizer="sgd").train_losses.size == 3
    r_sgd = fit_bezier_curve(_valley, a, b, num_steps=200, optimizer=optim.sgd(0.5))
    assert r_sgd.barrier < 0.05


def test_bezier_control_gradient_against_finite_differences_and_autodiff():
    a, b = np.array([-1.0, 0.0]), np.array([1.0, 0.0])
    obj = as_objective(_valley, a)
    theta = np.array([0.3, 0.7])
    for t in (0.1, 0.5, 0.8):
        value, g = _bezier_value_and_grad(obj, a, theta, b, t)
        assert value == pytest.approx(_valley(_bezier(a, theta, b, t)))
        h = 1e-6
        fd = [(_valley(_bezier(a, theta + h * e, b, t)) - _valley(_bezier(a, theta - h * e, b, t)))
              / (2 * h) for e in np.eye(2)]
        np.testing.assert_allclose(g, fd, rtol=1e-7)
        np.testing.assert_allclose(g, nm.grad(lambda c: _valley(_bezier(a, c, b, t)))(theta),
                                   rtol=1e-12)


def test_bezier_on_a_model_equals_evaluate(tabular):
    x, y = tabular
    model = _mlp()
    pa = tree_map(np.array, model.params)
    pb = tree_map(lambda w: w + 0.3, pa)
    obj = as_objective(model, x=x, y=y)
    theta = nm.ravel_pytree(tree_map(lambda u, v: 0.5 * (u + v) + 0.1, pa, pb))[0]
    value, g = _bezier_value_and_grad(obj, obj.flat, theta, obj._vec(pb), 0.3)
    v = np.random.default_rng(0).normal(size=theta.size)
    h = 1e-6
    fd = (loss_along_bezier(model, pa, theta + h * v, pb, [0.3], x=x, y=y)[0] -
          loss_along_bezier(model, pa, theta - h * v, pb, [0.3], x=x, y=y)[0]) / (2 * h)
    assert g @ v == pytest.approx(fd, rel=1e-6)
    r = fit_bezier_curve(model, pa, pb, num_steps=4, x=x, y=y, num_points=3)
    assert tree_flatten(r.control)[1] == tree_flatten(pa)[1]
    for t, loss in zip(r.ts, r.loss):
        logs = _evaluate_at(model, bezier_point(pa, r.control, pb, t), x, y)
        np.testing.assert_allclose(loss, logs["loss"], rtol=1e-10)
    np.testing.assert_allclose(r.loss_a, _evaluate_at(model, pa, x, y)["loss"], rtol=1e-10)


def test_bezier_errors():
    a, b = np.array([-1.0, 0.0]), np.array([1.0, 0.0])
    with pytest.raises(ValueError, match="learning_rate or optimizer, not both"):
        fit_bezier_curve(_valley, a, b, learning_rate=0.1, optimizer=optim.sgd(0.1))
    with pytest.raises(TypeError, match="optimizer must be a GradientTransformation"):
        fit_bezier_curve(_valley, a, b, optimizer=0.1)
    with pytest.raises(ValueError, match=r"params_b: expected a vector of 2 entries"):
        fit_bezier_curve(_valley, a, np.ones(3))
    with pytest.raises(ValueError, match="init has non-finite entries"):
        fit_bezier_curve(_valley, a, b, init=np.array([np.inf, 0.0]))
    with pytest.raises(ValueError, match="ts must be a non-empty"):
        loss_along_bezier(_valley, a, a, b, ts=[])
