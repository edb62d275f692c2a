"""analysis.spectra against exact or independent answers: numpy's eig/SVD, finite-difference
Jacobians, deep linear orthogonal networks, the mean-field variance recursion, nm.grad."""
import json

import numpy as np
import pytest

import nnmath as nm
from nnmath import keras
from nnmath.analysis.spectra import (ActivationStatistics, GradientFlowAnalysis,
                                     GradientFlowMonitor, activation_statistics,
                                     analyze_gradient_flow, jacobian_spectrum, weight_spectra)

F64 = "float64"


def reference_analyze_gradient_flow(weight_matrix):
    """The reference document's function (../shared/reference/001_*.txt), verbatim."""
    eigenvalues = np.linalg.eigvals(weight_matrix)
    spectral_radius = np.max(np.abs(eigenvalues))
    condition_number = np.linalg.cond(weight_matrix)
    return {
        'spectral_radius': spectral_radius,
        'condition_number': condition_number,
        'max_eigenvalue': np.max(eigenvalues),
        'min_eigenvalue': np.min(eigenvalues)
    }


# ------------------------------------------------------------------ analyze_gradient_flow
@pytest.mark.parametrize("case", ["random", "symmetric", "rotation"])
def test_square_matches_the_reference_and_numpy(case):
    rng = np.random.default_rng(0)
    W = {"random": rng.standard_normal((6, 6)),
         "symmetric": (lambda a: a + a.T)(rng.standard_normal((5, 5))),
         "rotation": 1.5 * np.array([[0.6, -0.8], [0.8, 0.6]])}[case]
    r = analyze_gradient_flow(W)
    ref = reference_analyze_gradient_flow(W)
    for key, value in ref.items():
        assert r[key] == pytest.approx(value, rel=1e-12), key
    np.testing.assert_allclose(r.eigenvalues, np.linalg.eigvals(W))
    np.testing.assert_allclose(r.singular_values, np.linalg.svd(W, compute_uv=False))
    assert r.spectral_norm == pytest.approx(np.linalg.norm(W, 2))
    assert r.rank == np.linalg.matrix_rank(W) and r.shape == W.shape
    if case == "rotation":      # complex pair 1.5·(0.6 ± 0.8i): max by real part, then imag
        assert r.max_eigenvalue == pytest.approx(0.9 + 1.2j)
        assert r.min_eigenvalue == pytest.approx(0.9 - 1.2j)
        assert r.spectral_radius == pytest.approx(1.5) and r.condition_number == pytest.approx(1)
    if case == "symmetric":
        assert isinstance(r.max_eigenvalue, float)
        assert r.condition_number == pytest.approx(
            np.max(np.abs(r.eigenvalues)) / np.min(np.abs(r.eigenvalues)))


@pytest.mark.parametrize("shape", [(3, 7), (8, 2)])
def test_rectangular(shape):
    W = np.random.default_rng(1).standard_normal(shape)
    r = analyze_gradient_flow(W)
    assert r.eigenvalues is None and r.spectral_radius is None
    assert r.max_eigenvalue is None and r.min_eigenvalue is None
    s = np.linalg.svd(W, compute_uv=False)
    np.testing.assert_allclose(r.singular_values, s)
    assert r.condition_number == pytest.approx(np.linalg.cond(W)) == pytest.approx(s[0] / s[-1])
    assert r.spectral_norm == pytest.approx(np.linalg.norm(W, 2))


def test_singular_inputs():
    r = analyze_gradient_flow(np.zeros((3, 3)))
    assert r.condition_number == np.inf == np.linalg.cond(np.zeros((3, 3)))
    assert r.rank == 0 and r.spectral_radius == 0.0 and r.spectral_norm == 0.0
    W = np.array([[1.0, 2.0], [2.0, 4.0]])           # rank 1, eigenvalues 0 and 5
    r = analyze_gradient_flow(W)
    assert r.rank == 1 and r.max_eigenvalue == pytest.approx(5.0)
    assert r.min_eigenvalue == pytest.approx(0.0, abs=1e-12)
    assert r.condition_number == np.linalg.cond(W)   # huge or inf, exactly as numpy
    assert r.condition_number > 1e15
    W = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 0.0]])  # rectangular, exactly singular
    assert analyze_gradient_flow(W).condition_number == np.inf
    assert analyze_gradient_flow(np.array([[1, 0], [0, 2]])).condition_number == 2.0   # ints


def test_mapping_dtype_and_json():
    r = analyze_gradient_flow(np.diag([3.0, -1.0]).astype(np.float32))
    assert isinstance(r, GradientFlowAnalysis)
    assert r.singular_values.dtype == np.float32            # no silent precision change
    assert list(r)[:4] == ["spectral_radius", "condition_number", "max_eigenvalue",
                           "min_eigenvalue"]
    assert dict(r)["spectral_radius"] == 3.0 and "singular_values" in r and len(r) == len(dict(r))
    with pytest.raises(KeyError, match="spectral_radius"):
        r["radius"]
    c = analyze_gradient_flow(np.array([[0.0, -1.0], [1.0, 0.0]]))
    d = json.loads(json.dumps(c.to_dict()))
    assert d["eigenvalues"]["imag"] == pytest.approx([1.0, -1.0]) or \
        d["eigenvalues"]["imag"] == pytest.approx([-1.0, 1.0])
    assert d["max_eigenvalue"] == {"real": pytest.approx(0.0), "imag": pytest.approx(1.0)}
    assert c == analyze_gradient_flow(np.array([[0.0, -1.0], [1.0, 0.0]]))


def test_analyze_bad_input():
    with pytest.raises(ValueError, match="2-D matrix, got an array of shape"):
        analyze_gradient_flow(np.ones((2, 2, 2)))
    with pytest.raises(ValueError, match="non-empty"):
        analyze_gradient_flow(np.ones((0, 3)))
    with pytest.raises(ValueError, match="non-finite"):
        analyze_gradient_flow(np.array([[1.0, np.nan], [0.0, 1.0]]))
    with pytest.raises(TypeError, match="numeric matrix"):
        analyze_gradient_flow(np.array([["a", "b"], ["c", "d"]]))


# ------------------------------------------------------------------ weight_spectra
def _cnn_lstm_models():
    keras.utils.set_random_seed(0)
    cnn = keras.Sequential([keras.layers.Conv2D(4, 3, input_shape=(6, 6, 2), dtype=F64,
                                                name="conv"),
                            keras.layers.Flatten(dtype=F64),
                            keras.layers.Dense(3, dtype=F64, name="head")])
    cnn.build((None, 6, 6, 2))
    rnn = keras.Sequential([keras.layers.LSTM(3, input_shape=(4, 2), dtype=F64, name="lstm"),
                            keras.layers.BatchNormalization(dtype=F64, name="bn"),
                            keras.layers.Dense(2, dtype=F64, name="out")])
    rnn.build((None, 4, 2))
    return cnn, rnn


def test_weight_spectra_against_numpy():
    cnn, rnn = _cnn_lstm_models()
    w = weight_spectra(cnn)
    assert [(r.layer, r.weight) for r in w.rows] == [("conv", "kernel"), ("head", "kernel")]
    conv = w["conv", "kernel"]
    k = cnn.params["conv"]["kernel"]
    assert conv.shape == (3, 3, 2, 4) and conv.matrix_shape == (18, 4)
    M = k.reshape(18, 4)
    s = np.linalg.svd(M, compute_uv=False)
    np.testing.assert_allclose(conv.singular_values, s)
    assert conv.spectral_norm == pytest.approx(np.linalg.norm(M, 2))
    assert conv.frobenius_norm == pytest.approx(np.linalg.norm(M))
    assert conv.stable_rank == pytest.approx(np.linalg.norm(M) ** 2 / np.linalg.norm(M, 2) ** 2)
    assert conv.condition_number == pytest.approx(np.linalg.cond(M))
    assert 1.0 <= conv.stable_rank <= 4.0
    w = weight_spectra(rnn)
    assert [(r.layer, r.weight) for r in w.rows] == [
        ("lstm", "kernel"), ("lstm", "recurrent_kernel"), ("out", "kernel")]   # no BN vectors
    rk = rnn.params["lstm"]["recurrent_kernel"]
    np.testing.assert_allclose(w["lstm", "recurrent_kernel"].singular_values,
                               np.linalg.svd(rk, compute_uv=False))
    assert "stable rank" in str(w).splitlines()[0]
    json.dumps(w.to_dict())


def test_weight_spectra_of_a_params_dict_and_errors():
    w = weight_spectra({"a": {"kernel": np.zeros((2, 3)), "bias": np.zeros(3)},
                        "b": {"kernel": np.eye(3)}})
    assert [(r.layer, r.weight) for r in w.rows] == [("a", "kernel"), ("b", "kernel")]
    assert w["a", "kernel"].stable_rank == 0.0 and w["a", "kernel"].condition_number == np.inf
    assert w["b", "kernel"].stable_rank == pytest.approx(3.0)
    with pytest.raises(KeyError, match="a/kernel"):
        w["c", "kernel"]
    with pytest.raises(TypeError, match="Model or a dict"):
        weight_spectra([np.eye(2)])
    with pytest.raises(ValueError, match="not built"):
        weight_spectra(keras.Sequential([keras.layers.Dense(2)]))


# ------------------------------------------------------------------ jacobian_spectrum
def test_deep_linear_orthogonal_network_is_isometric():
    rng = np.random.default_rng(0)
    Qs = [np.linalg.qr(rng.standard_normal((5, 5)))[0] for _ in range(6)]

    def apply_fn(ws, x):
        for w in ws:
            x = x @ w
        return x
    r = jacobian_spectrum(apply_fn, Qs, rng.standard_normal((7, 5)))
    assert r.singular_values.shape == (7, 5)
    np.testing.assert_allclose(r.singular_values, 1.0, atol=1e-12)
    assert r.mean_squared_singular_value == pytest.approx(1.0)
    assert abs(r.spread) < 1e-12
    # the same as a Model: orthogonal init, no bias, linear activations
    keras.utils.set_random_seed(1)
    model = keras.Sequential(
        [keras.layers.Dense(6, use_bias=False, kernel_initializer="orthogonal", dtype=F64,
                            input_shape=(6,))]
        + [keras.layers.Dense(6, use_bias=False, kernel_initializer="orthogonal", dtype=F64)
           for _ in range(4)])
    r = jacobian_spectrum(model, x=rng.standard_normal((3, 6)))
    np.testing.assert_allclose(r.singular_values, 1.0, atol=1e-12)


def _fd_jacobian(fn, xi, eps=1e-6):
    cols = []
    for j in range(xi.size):
        e = np.zeros(xi.size)
        e[j] = eps
        e = e.reshape(xi.shape)
        cols.append(((fn(xi + e) - fn(xi - e)) / (2 * eps)).ravel())
    return np.stack(cols, axis=1)


@pytest.mark.parametrize("kind", ["tall", "wide", "conv"])
def test_jacobian_spectrum_matches_finite_differences(kind):
    keras.utils.set_random_seed(2)
    rng = np.random.default_rng(2)
    if kind == "conv":
        model = keras.Sequential([keras.layers.Conv2D(2, 3, activation="tanh", dtype=F64,
                                                      input_shape=(5, 5, 1)),
                                  keras.layers.Flatten(dtype=F64),
                                  keras.layers.Dense(4, dtype=F64)])
        x = rng.standard_normal((3, 5, 5, 1))
    else:
        d_in, d_out = (3, 7) if kind == "tall" else (7, 3)
        model = keras.Sequential([keras.layers.Dense(8, activation="tanh", dtype=F64,
                                                     input_shape=(d_in,)),
                                  keras.layers.Dense(d_out, dtype=F64)])
        x = rng.standard_normal((4, d_in))
    r = jacobian_spectrum(model, x=x, batch_size=2)
    assert r.mode == ("jacfwd" if kind == "tall" else "jacrev")
    for i in range(len(x)):
        J = _fd_jacobian(lambda xi: model.predict(xi[None], verbose=0)[0], x[i])
        np.testing.assert_allclose(r.singular_values[i], np.linalg.svd(J, compute_uv=False),
                                   rtol=1e-6, atol=1e-9)
    other = jacobian_spectrum(model, x=x, mode="jacrev" if r.mode == "jacfwd" else "jacfwd")
    np.testing.assert_allclose(other.singular_values, r.singular_values, rtol=1e-10, atol=1e-13)
    s2 = r.singular_values ** 2
    assert r.mean_squared_singular_value == pytest.approx(np.mean(s2))
    assert r.spread == pytest.approx(np.var(s2))
    assert r.max_singular_value == np.max(r.singular_values)


def test_jacobian_spectrum_dtype_and_errors():
    keras.utils.set_random_seed(3)
    model = keras.Sequential([keras.layers.Dense(3, activation="tanh", input_shape=(2,))])
    x = np.random.default_rng(3).standard_normal((4, 2)).astype(np.float32)
    assert jacobian_spectrum(model, x=x).singular_values.dtype == np.float32
    assert jacobian_spectrum(model, x=x, dtype=np.float64).singular_values.dtype == np.float64
    with pytest.raises(ValueError, match="x"):
        jacobian_spectrum(model)
    with pytest.raises(ValueError, match="mode"):
        jacobian_spectrum(model, x=x, mode="both")
    with pytest.raises(ValueError, match="params is required"):
        jacobian_spectrum(lambda p, x: x, x=x)
    with pytest.raises(TypeError, match="floating point"):
        jacobian_spectrum(lambda p, x: x, 0.0, np.ones((2, 2), int))
    with pytest.raises(ValueError, match="batch_size"):
        jacobian_spectrum(model, x=x, batch_size=0)
    with pytest.raises(TypeError, match="apply_fn"):
        jacobian_spectrum(3, x=x)


# ------------------------------------------------------------------ GradientFlowMonitor
def _monitored_fit(monitor, epochs=3):
    keras.utils.set_random_seed(4)
    model = keras.Sequential([keras.layers.Dense(6, activation="tanh", input_shape=(3,), dtype=F64,
                                                 name="hidden"),
                              keras.layers.Dropout(0.3, dtype=F64),
                              keras.layers.Dense(1, dtype=F64, name="out")])
    model.compile(optimizer="sgd", loss="mse")
    rng = np.random.default_rng(4)
    x, y = rng.standard_normal((24, 3)), rng.standard_normal((24, 1))
    before = {l: {k: v.copy() for k, v in ws.items()} for l, ws in model.params.items()}
    h = model.fit(x, y, epochs=epochs, batch_size=8, verbose=0,
                  callbacks=[monitor] if monitor else None)
    return model, h, before, (x[:10], y[:10])


def test_monitor_does_not_change_training():
    _, plain, _, _ = _monitored_fit(None)
    _, watched, _, _ = _monitored_fit(GradientFlowMonitor(np.ones((4, 3)), np.zeros((4, 1)),
                                                          every="batch"))
    assert plain.history["loss"] == watched.history["loss"]
    assert set(watched.history) > set(plain.history)


def test_per_epoch_monitor_asks_for_no_per_batch_logs():
    """fit builds per-batch logs only for callbacks that need them (Keras 3's
    _implements_train_batch_hooks): a per-epoch monitor does not, a per-batch one does."""
    from nnmath.training.callbacks import CallbackList
    probe = (np.ones((4, 3)), np.zeros((4, 1)))
    assert not CallbackList([GradientFlowMonitor(*probe)]).has_batch_hooks
    assert CallbackList([GradientFlowMonitor(*probe, every="batch")]).has_batch_hooks

    class Counter(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            self.n = getattr(self, "n", 0) + 1
    assert CallbackList([GradientFlowMonitor(*probe), Counter()]).has_batch_hooks
    _, per_epoch, _, _ = _monitored_fit(GradientFlowMonitor(*probe))
    _, per_batch, _, _ = _monitored_fit(GradientFlowMonitor(*probe, every="batch"))
    assert per_epoch.history == per_batch.history       # the same per-epoch records either way


def test_monitor_records_against_nm_grad():
    x_probe = np.random.default_rng(5).standard_normal((10, 3))
    y_probe = np.random.default_rng(6).standard_normal((10, 1))
    monitor = GradientFlowMonitor(x_probe, y_probe, per_weight=True)
    model, h, before, _ = _monitored_fit(monitor, epochs=1)
    p = model.params
    mse = keras.losses.MeanSquaredError()
    g = nm.grad(lambda p: mse(y_probe, model.apply(p, x_probe)))(p)   # independent: training=False
    for layer in ("hidden", "out"):
        gl = np.concatenate([np.ravel(g[layer][k]) for k in p[layer]])
        wl = np.concatenate([np.ravel(p[layer][k]) for k in p[layer]])
        w0 = np.concatenate([np.ravel(before[layer][k]) for k in p[layer]])
        assert h.history[f"grad_norm/{layer}"] == [pytest.approx(np.linalg.norm(gl))]
        assert h.history[f"weight_norm/{layer}"] == [pytest.approx(np.linalg.norm(wl))]
        assert h.history[f"update_ratio/{layer}"] == [
            pytest.approx(np.linalg.norm(wl - w0) / np.linalg.norm(w0))]
        assert h.history[f"grad_norm/{layer}/kernel"] == [
            pytest.approx(np.linalg.norm(g[layer]["kernel"]))]
    total = np.sqrt(sum(np.sum(np.square(v)) for ws in g.values() for v in ws.values()))
    assert h.history["grad_norm"] == [pytest.approx(total)]
    assert "update_ratio/out/bias" in monitor.keys


def test_monitor_per_batch_and_errors():
    monitor = GradientFlowMonitor(np.ones((4, 3)), np.zeros((4, 1)), every="batch")
    _, h, _, _ = _monitored_fit(monitor, epochs=2)
    assert len(monitor.batch_history["grad_norm/hidden"]) == 2 * 3      # 24 samples / 8
    assert len(h.history["grad_norm/hidden"]) == 2
    assert all(r > 0 for r in monitor.batch_history["update_ratio/out"])
    with pytest.raises(ValueError, match="every"):
        GradientFlowMonitor(np.ones((2, 3)), np.zeros((2, 1)), every="step")
    with pytest.raises(ValueError, match="probe_x and probe_y"):
        GradientFlowMonitor(None, None)


# ------------------------------------------------------------------ activation_statistics
_Z, _W = np.polynomial.hermite_e.hermegauss(100)
_W = _W / _W.sum()


def _gauss(f, q):
    """E_{a∼N(0, q)}[f(a)] by Gauss–Hermite quadrature."""
    return float(np.sum(_W * f(np.sqrt(q) * _Z)))


def _mean_field(phi, dphi, sigma_w2, m2_input, depth):
    """Infinite-width predictions (Poole et al. 2016; Schoenholz et al. 2017): second moments
    E[h_d²] of the outputs and the backward factors χ_d = σ_w² E[φ′(a_d)²] of each layer."""
    m2, chis, m = [], [], m2_input
    for _ in range(depth):
        q = sigma_w2 * m
        m = _gauss(lambda a: phi(a) ** 2, q)
        m2.append(m)
        chis.append(sigma_w2 * _gauss(lambda a: dphi(a) ** 2, q))
    return np.array(m2), np.array(chis)


def _deep(act, init, width, depth, seed=0):
    keras.utils.set_random_seed(seed)
    return [keras.layers.Dense(width, activation=act, kernel_initializer=init, dtype=F64)
            for _ in range(depth)]


def test_tanh_glorot_follows_mean_field_and_small_init_collapses():
    n, depth = 128, 8
    x = np.random.default_rng(0).standard_normal((64, n))
    s = activation_statistics(_deep("tanh", "glorot_normal", n, depth), x, seed=0)
    m2, chis = _mean_field(np.tanh, lambda a: 1 - np.tanh(a) ** 2, 1.0, np.mean(x ** 2), depth)
    np.testing.assert_allclose(s.activation_variances[1:], m2, rtol=0.1)
    predicted = np.prod(chis[1:])                  # Var[ḡ₁]/Var[ḡ_L] = ∏_{d≥2} χ_d
    assert s.gradient_variance_ratio == pytest.approx(predicted, rel=0.25)
    assert s.activation_variance_ratio == pytest.approx(m2[-1] / m2[0], rel=0.1)
    small = keras.initializers.RandomNormal(stddev=0.3 / np.sqrt(n))     # σ_w² = 0.09
    bad = activation_statistics(_deep("tanh", small, n, depth), x, seed=0)
    assert bad.activation_variance_ratio < 1e-6 and bad.gradient_variance_ratio < 1e-6
    assert s.activation_variance_ratio > 1e4 * bad.activation_variance_ratio
    # in tanh's linear regime (small inputs) Glorot keeps both variances near 1
    lin = activation_statistics(_deep("tanh", "glorot_normal", n, depth), 0.05 * x, seed=0)
    assert 0.7 < lin.activation_variance_ratio < 1.4 and 0.7 < lin.gradient_variance_ratio < 1.4


def test_relu_he_preserves_variance_lecun_halves_it():
    n, depth = 128, 8
    x = np.random.default_rng(1).standard_normal((64, n))
    he = activation_statistics(_deep("relu", "he_normal", n, depth), x, seed=1)
    lecun = activation_statistics(_deep("relu", "lecun_normal", n, depth), x, seed=1)
    assert 0.5 < he.activation_variance_ratio < 2 and 0.5 < he.gradient_variance_ratio < 2
    # LeCun's Var[w] = 1/n under ReLU: each layer halves the second moment: ratio ≈ 2^-(L-1)
    assert lecun.activation_variance_ratio == pytest.approx(0.5 ** (depth - 1), rel=0.5)
    assert lecun.gradient_variance_ratio == pytest.approx(0.5 ** (depth - 1), rel=0.5)


def test_activation_statistics_against_the_model_and_nm_grad():
    keras.utils.set_random_seed(7)
    model = keras.Sequential([keras.layers.Dense(5, activation="tanh", input_shape=(3,), dtype=F64),
                              keras.layers.BatchNormalization(dtype=F64),
                              keras.layers.Dense(2, dtype=F64)])
    model.compile(optimizer="sgd", loss="mse")
    rng = np.random.default_rng(7)
    x, y = rng.standard_normal((20, 3)), rng.standard_normal((20, 2))
    model.fit(x, y, epochs=1, verbose=0)
    s = activation_statistics(model, x, y=y)
    assert isinstance(s, ActivationStatistics) and s.cotangent == "loss"
    assert [r.depth for r in s.rows] == [0, 1, 2, 3] and s.rows[0].layer == "input"
    out = model.predict(x, verbose=0)
    assert s.rows[-1].activation_mean == pytest.approx(np.mean(out))
    assert s.rows[-1].activation_variance == pytest.approx(np.var(out))
    mse = keras.losses.MeanSquaredError()
    gx = nm.grad(lambda x_: mse(y, model.apply(model.params, x_)))(x)     # ∂L/∂x, independently
    assert s.rows[0].gradient_mean == pytest.approx(np.mean(gx))
    assert s.rows[0].gradient_variance == pytest.approx(np.var(gx))
    r = activation_statistics(model, x, seed=np.random.default_rng(0))
    assert r.cotangent == "random" and r.rows[-1].gradient_variance == pytest.approx(1.0, rel=0.5)
    assert "grad var" in str(r).splitlines()[0]
    json.dumps(s.to_dict())


def test_activation_statistics_errors():
    inp = keras.Input((3,))
    functional = keras.Model(inp, keras.layers.Dense(2)(inp))
    with pytest.raises(TypeError, match="chain of layers"):
        activation_statistics(functional, np.ones((2, 3)))
    with pytest.raises(TypeError, match="Sequential model or a non-empty list"):
        activation_statistics([], np.ones((2, 3)))
    with pytest.raises(ValueError, match="without a loss"):
        activation_statistics([keras.layers.Dense(2)], np.ones((2, 3)), y=np.ones((2, 2)))
