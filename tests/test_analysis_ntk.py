"""nnmath.analysis.ntk against exact answers: the empirical NTK against J Jᵀ from ``nm.jacrev`` of a
flat function (MLP and CNN, pure apply_fn and Model, scalar and vector outputs, both methods,
chunked), its spectrum against ``numpy.linalg.eigh``, the gradient-flow predictions against
gradient descent on the linearised network, and the infinite-width kernels against Monte-Carlo
Gaussian expectations and ensembles of wide random networks."""
import numpy as np
import pytest

import nnmath as nm
import nnmath.numpy as mnp
from nnmath.analysis.curvature import DenseTooLargeError
from nnmath.analysis.ntk import (choose_method, empirical_ntk, infinite_width_kernels,
                                 ntk_eigenspectrum, ntk_operator, ntk_predict)
from nnmath.keras import Sequential, layers
from nnmath.scipy.special import erf


# ------------------------------------------------------------------ models
def mlp_params(rng, sizes, dtype=np.float64):
    return [{"W": (rng.standard_normal((a, b)) / np.sqrt(a)).astype(dtype),
             "b": (0.1 * rng.standard_normal(b)).astype(dtype)} for a, b in zip(sizes, sizes[1:])]


def mlp_apply(params, x):
    h = x
    for i, layer in enumerate(params):
        h = h @ layer["W"] + layer["b"]
        if i < len(params) - 1:
            h = mnp.tanh(h)
    return h


def reference_ntk(apply_fn, params, x1, x2=None):
    """Θ[i, j, o, o'] from the dense Jacobian of the flattened outputs by nm.jacrev."""
    flat, unravel = nm.ravel_pytree(params)

    def jac(x):
        n = len(x)
        J = nm.jacrev(lambda t: mnp.reshape(apply_fn(unravel(t), x), (n, -1)))(np.asarray(flat))
        return np.asarray(J)                                  # (n, k, P)
    J1 = jac(x1)
    J2 = J1 if x2 is None else jac(x2)
    return np.einsum("iap,jbp->ijab", J1, J2)


def as_output(theta, k):
    return theta[:, :, 0, 0] if k == 1 else theta


def make_sequential(k, rng_seed=0):
    nm.keras.utils.set_random_seed(rng_seed)
    return Sequential([layers.Input((4,), dtype="float64"),
                       layers.Dense(6, activation="tanh", dtype="float64"),
                       layers.Dense(k, dtype="float64")])


def make_cnn(k, rng_seed=0):
    nm.keras.utils.set_random_seed(rng_seed)
    return Sequential([layers.Input((5, 5, 1), dtype="float64"),
                       layers.Conv2D(2, 3, activation="tanh", dtype="float64"),
                       layers.Flatten(dtype="float64"), layers.Dense(k, dtype="float64")])


def model_fn(model):
    return lambda p, x: model.apply(p, x, training=False)


@pytest.fixture
def rng():
    return np.random.default_rng(0)


# ------------------------------------------------------------------ empirical NTK = J Jᵀ
@pytest.mark.parametrize("method", ["jacobian", "ntvp"])
@pytest.mark.parametrize("k", [1, 3])
@pytest.mark.parametrize("two_sets", [False, True])
def test_empirical_ntk_pure_mlp(rng, method, k, two_sets):
    params = mlp_params(rng, [3, 5, 4, k])
    x1 = rng.standard_normal((6, 3))
    x2 = rng.standard_normal((4, 3)) if two_sets else None
    got = empirical_ntk(mlp_apply, params, x1, x2, method=method)
    want = as_output(reference_ntk(mlp_apply, params, x1, x2), k)
    assert got.shape == want.shape == ((6, 4 if two_sets else 6) + (() if k == 1 else (k, k)))
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("method", ["jacobian", "ntvp"])
@pytest.mark.parametrize("make", [make_sequential, make_cnn], ids=["mlp", "cnn"])
@pytest.mark.parametrize("k", [1, 2])
def test_empirical_ntk_model(rng, method, make, k):
    model = make(k)
    shape = (4,) if make is make_sequential else (5, 5, 1)
    x1 = rng.standard_normal((5,) + shape)
    x2 = rng.standard_normal((3,) + shape)
    got = empirical_ntk(model, None, x1, x2, method=method)
    want = as_output(reference_ntk(model_fn(model), model.params, x1, x2), k)
    np.testing.assert_allclose(got, want, rtol=1e-11, atol=1e-12)
    assert got.dtype == np.float64


def test_methods_agree_and_chunking(rng):
    params = mlp_params(rng, [3, 7, 4])
    x1, x2 = rng.standard_normal((7, 3)), rng.standard_normal((5, 3))
    full = empirical_ntk(mlp_apply, params, x1, x2, method="jacobian")
    for method in ("jacobian", "ntvp"):
        for bs in (1, 3, 100):
            np.testing.assert_allclose(empirical_ntk(mlp_apply, params, x1, x2, method=method,
                                                     batch_size=bs), full, rtol=1e-12, atol=1e-13)
            sym = empirical_ntk(mlp_apply, params, x1, method=method, batch_size=bs)
            np.testing.assert_allclose(sym, reference_ntk(mlp_apply, params, x1), rtol=1e-12,
                                       atol=1e-13)
            np.testing.assert_array_equal(sym, sym.transpose(1, 0, 3, 2))


def test_cache_off_when_over_max_bytes(rng):
    params = mlp_params(rng, [3, 5, 2])
    x1, x2 = rng.standard_normal((5, 3)), rng.standard_normal((4, 3))
    # 4·2·P·8 bytes of x2 Jacobians would not fit: recomputed per chunk of x1, same answer
    got = empirical_ntk(mlp_apply, params, x1, x2, method="jacobian", batch_size=2, max_bytes=3000)
    np.testing.assert_allclose(got, reference_ntk(mlp_apply, params, x1, x2), rtol=1e-12)


@pytest.mark.parametrize("method", ["jacobian", "ntvp"])
def test_trace_mean_and_sum(rng, method):
    params = mlp_params(rng, [3, 5, 4])
    x = rng.standard_normal((5, 3))
    full = reference_ntk(mlp_apply, params, x)
    diag = np.einsum("ijoo->ij", full)
    np.testing.assert_allclose(empirical_ntk(mlp_apply, params, x, trace="sum", method=method),
                               diag, rtol=1e-12)
    np.testing.assert_allclose(empirical_ntk(mlp_apply, params, x, trace="mean", method=method),
                               diag / 4, rtol=1e-12)


def test_pytree_inputs_and_outputs(rng):
    """Two inputs (a list) and two outputs (a dict): outputs flattened and concatenated."""
    W1, W2 = rng.standard_normal((3, 2)), rng.standard_normal((2, 2))

    def f(p, x):
        a, b = x
        return {"u": mnp.tanh(a @ p["A"]), "v": mnp.sum(b * p["B"], axis=1)}
    params = {"A": W1, "B": W2[0]}
    xa, xb = rng.standard_normal((4, 3)), rng.standard_normal((4, 2))
    got = empirical_ntk(f, params, [xa, xb], method="jacobian")
    flat, unravel = nm.ravel_pytree(params)

    def outs(t):
        o = f(unravel(t), [xa, xb])
        return mnp.concatenate([o["u"], mnp.reshape(o["v"], (4, 1))], axis=1)
    J = np.asarray(nm.jacrev(outs)(np.asarray(flat)))
    np.testing.assert_allclose(got, np.einsum("iap,jbp->ijab", J, J), rtol=1e-12, atol=1e-14)


def test_float32_stays_float32(rng):
    params = mlp_params(rng, [3, 4, 1], dtype=np.float32)
    x = rng.standard_normal((4, 3)).astype(np.float32)
    for method in ("jacobian", "ntvp"):
        got = empirical_ntk(mlp_apply, params, x, method=method)
        assert got.dtype == np.float32


def test_auto_rule():
    assert choose_method(100, 100, 1, 10_000) == "jacobian"
    assert choose_method(100, 100, 10, 10_000) == "ntvp"
    assert choose_method(100, 100, 4, 10_000) == "jacobian"
    assert choose_method(100, 100, 7, 10_000) == "ntvp"


# ------------------------------------------------------------------ errors
def test_errors(rng):
    params = mlp_params(rng, [3, 4, 2])
    x = rng.standard_normal((4, 3))
    with pytest.raises(ValueError, match=r"x2's samples have shape \(5,\) but x1's have \(3,\)"):
        empirical_ntk(mlp_apply, params, x, rng.standard_normal((2, 5)))
    with pytest.raises(ValueError, match="method must be one of"):
        empirical_ntk(mlp_apply, params, x, method="fast")
    with pytest.raises(ValueError, match="trace must be one of"):
        empirical_ntk(mlp_apply, params, x, trace="diag")
    with pytest.raises(ValueError, match="params is required"):
        empirical_ntk(mlp_apply, None, x)
    with pytest.raises(TypeError, match="apply_fn must be a function"):
        empirical_ntk("model", params, x)
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        empirical_ntk(mlp_apply, params, x, batch_size=0)
    with pytest.raises(ValueError, match="batch axis first"):
        empirical_ntk(lambda p, x: mnp.sum(x @ p), np.ones(3), x)
    with pytest.raises(ValueError, match="different numbers of samples"):
        empirical_ntk(lambda p, x: x[0] @ p, np.ones(3), [x, x[:2]])
    with pytest.raises(DenseTooLargeError, match="NTK needs"):
        empirical_ntk(mlp_apply, params, x, max_bytes=100)
    with pytest.raises(TypeError, match="floating point"):
        empirical_ntk(lambda p, x: x * p, np.array([1]), x)


# ------------------------------------------------------------------ spectrum and operator
def test_eigenspectrum_dense_and_lanczos(rng):
    params = mlp_params(rng, [3, 6, 2])
    x = rng.standard_normal((6, 3))
    theta = reference_ntk(mlp_apply, params, x).transpose(0, 2, 1, 3).reshape(12, 12)
    w_ref, v_ref = np.linalg.eigh(theta)
    s = ntk_eigenspectrum(mlp_apply, params, x, eigenvectors=True)
    np.testing.assert_allclose(s.eigenvalues, w_ref[::-1], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(s.trace, np.trace(theta), rtol=1e-12)
    assert w_ref[0] > 0 and s.condition_number == pytest.approx(w_ref[-1] / w_ref[0], rel=1e-6)
    np.testing.assert_allclose(theta @ s.eigenvectors, s.eigenvectors * s.eigenvalues, atol=1e-10)
    top = ntk_eigenspectrum(mlp_apply, params, x, num_eigenvalues=3, eigenvectors=True)
    np.testing.assert_allclose(top.eigenvalues, w_ref[::-1][:3], rtol=1e-9)
    np.testing.assert_allclose(np.abs(top.eigenvectors.T @ v_ref[:, ::-1][:, :3]), np.eye(3),
                               atol=1e-7)
    assert top.condition_number is None and top.method == "lanczos"
    np.testing.assert_allclose(top.trace, np.trace(theta), rtol=1e-12)
    traced = ntk_eigenspectrum(mlp_apply, params, x, trace="mean")
    np.testing.assert_allclose(traced.eigenvalues, np.linalg.eigvalsh(
        np.einsum("ijoo->ij", reference_ntk(mlp_apply, params, x)) / 2)[::-1], rtol=1e-10)
    assert s.to_dict()["size"] == 12
    with pytest.raises(ValueError, match="num_eigenvalues must be an integer"):
        ntk_eigenspectrum(mlp_apply, params, x, num_eigenvalues=12)


def test_ntk_operator_matches_dense(rng):
    model = make_sequential(2)
    x = rng.standard_normal((5, 4))
    op = ntk_operator(model, None, x, batch_size=2)
    theta = reference_ntk(model_fn(model), model.params, x).transpose(0, 2, 1, 3).reshape(10, 10)
    V = rng.standard_normal((10, 3))
    np.testing.assert_allclose(op @ V, theta @ V, rtol=1e-11, atol=1e-12)
    assert op.num_matvecs == 3


# ------------------------------------------------------------------ linearised training
def linearised_gd(apply_fn, params, x, y, xt, loss, lr, steps):
    """Gradient descent on the network linearised at θ₀ (nm.jvp), in parameter space."""
    flat, unravel = nm.ravel_pytree(params)
    flat = np.asarray(flat)
    f = lambda t, xx: apply_fn(unravel(t), xx)            # noqa: E731

    def f_lin(t, xx):
        return jvp_out(xx, t - flat)

    def jvp_out(xx, dt):
        f0, df = nm.jvp(lambda t: f(t, xx), (flat,), (dt,))
        return f0 + df
    scale = {"sum": 0.5, "mean": 0.5 / y.size, "mse": 1.0 / y.size}[loss]
    step = nm.jit(lambda t: t - lr * nm.grad(lambda s: scale * mnp.sum((f_lin(s, x) - y) ** 2))(t))
    theta = flat.copy()
    for _ in range(steps):
        theta = step(theta)
    return np.asarray(f_lin(theta, x)), np.asarray(f_lin(theta, xt))


@pytest.mark.parametrize("loss", ["sum", "mean", "mse"])
def test_gradient_flow_equals_linearised_gradient_descent(rng, loss):
    params = mlp_params(rng, [2, 8, 2])
    x, xt = rng.standard_normal((5, 2)), rng.standard_normal((3, 2))
    y = rng.standard_normal((5, 2))
    ktt = empirical_ntk(mlp_apply, params, x)
    kst = empirical_ntk(mlp_apply, params, xt, x)
    lam_max = np.linalg.eigvalsh(ktt.transpose(0, 2, 1, 3).reshape(10, 10)).max()
    a = {"sum": 1.0, "mean": 1 / y.size, "mse": 2 / y.size}[loss]
    lr, steps = 2e-3 / (a * lam_max), 1000                   # a·η·λ_max = 2e-3, t·a·λ_max = 2
    f0, ft0 = np.asarray(mlp_apply(params, x)), np.asarray(mlp_apply(params, xt))
    gd_train, gd_test = linearised_gd(mlp_apply, params, x, y, xt, loss, lr, steps)
    p = ntk_predict(ktt, y, t=lr * steps, learning_rate=1.0, ntk_test_train=kst, f_train_0=f0,
                    f_test_0=ft0, loss=loss)
    moved = np.abs(gd_train - f0).max()
    assert moved > 0.1                                      # training did something
    # the flow and small-step GD differ by O(a·η·λ_max) = 2e-3 relative to the change
    np.testing.assert_allclose(p.train, gd_train, atol=5e-3 * moved)
    np.testing.assert_allclose(p.test, gd_test, atol=5e-3 * np.abs(gd_test - ft0).max())
    # the same in t measured in steps with η = lr (neural-tangents' calling convention)
    q = ntk_predict(ktt, y, t=steps, learning_rate=lr, ntk_test_train=kst, f_train_0=f0,
                    f_test_0=ft0, loss=loss)
    np.testing.assert_allclose(q.train, p.train, rtol=1e-10)
    np.testing.assert_allclose(q.test, p.test, rtol=1e-10)


def test_infinite_time_is_kernel_regression(rng):
    params = mlp_params(rng, [2, 8, 1])
    x, xt = rng.standard_normal((5, 2)), rng.standard_normal((3, 2))
    y = rng.standard_normal(5)
    K, Kt = empirical_ntk(mlp_apply, params, x), empirical_ntk(mlp_apply, params, xt, x)
    f0, ft0 = np.asarray(mlp_apply(params, x))[:, 0], np.asarray(mlp_apply(params, xt))[:, 0]
    p = ntk_predict(K, y, ntk_test_train=Kt, f_train_0=f0, f_test_0=ft0)
    np.testing.assert_allclose(p.train, y, rtol=1e-8)
    np.testing.assert_allclose(p.test, ft0 + Kt @ np.linalg.solve(K, y - f0), rtol=1e-8)
    ts = np.array([0.0, 0.5, np.inf])
    many = ntk_predict(K, y, t=ts, ntk_test_train=Kt, f_train_0=f0, f_test_0=ft0)
    assert many.train.shape == (3, 5) and many.test.shape == (3, 3)
    np.testing.assert_allclose(many.train[0], f0, atol=1e-14)
    np.testing.assert_allclose(many.test[2], p.test, rtol=1e-12)
    # a traced (n, n) kernel shared by k outputs: each column regressed on its own
    Y = rng.standard_normal((5, 3))
    shared = ntk_predict(K, Y, ntk_test_train=Kt)
    np.testing.assert_allclose(shared.test, Kt @ np.linalg.solve(K, Y), rtol=1e-8)
    with pytest.raises(ValueError, match="ntk_train_train has shape"):
        ntk_predict(K[:4, :4], y)
    with pytest.raises(ValueError, match="loss must be one of"):
        ntk_predict(K, y, loss="l1")
    with pytest.raises(ValueError, match="f_train_0 has shape"):
        ntk_predict(K, y, f_train_0=np.zeros(4))


# ------------------------------------------------------------------ infinite width
def _np_act(name):
    from scipy.special import erf as sp_erf
    if name == "relu":
        return (lambda u: np.maximum(u, 0)), (lambda u: (u > 0).astype(float))
    return sp_erf, (lambda u: 2 / np.sqrt(np.pi) * np.exp(-u ** 2))


@pytest.mark.parametrize("activation", ["relu", "erf"])
def test_closed_form_expectations_against_monte_carlo(activation):
    """E[φ(u)φ(v)] and E[φ′(u)φ′(v)] of one layer, depth 1, against 400k Gaussian samples."""
    gen = np.random.default_rng(1)
    x = np.array([[1.0, 0.5, -0.3], [0.2, -1.0, 0.8]])
    W_std, b_std = 1.3, 0.4
    kern = infinite_width_kernels(x, depth=1, activation=activation, W_std=W_std, b_std=b_std)
    s = W_std ** 2 * x @ x.T / 3 + b_std ** 2
    uv = gen.multivariate_normal(np.zeros(2), s, size=400_000)
    phi, dphi = _np_act(activation)
    for i in range(2):
        for j in range(2):
            prod = W_std ** 2 * phi(uv[:, i]) * phi(uv[:, j]) + b_std ** 2
            se = prod.std() / np.sqrt(len(prod))
            assert abs(kern.nngp[i, j] - prod.mean()) < 4 * se
            ntk_s = prod + W_std ** 2 * dphi(uv[:, i]) * dphi(uv[:, j]) * s[i, j]
            se = ntk_s.std() / np.sqrt(len(ntk_s))
            assert abs(kern.ntk[i, j] - ntk_s.mean()) < 4 * se


def wide_apply(activation, W_std, b_std):
    act = mnp.tanh if activation == "tanh" else (
        (lambda h: mnp.maximum(h, 0)) if activation == "relu" else erf)

    def apply(params, x):
        h = x
        for i, (W, b) in enumerate(params):
            h = W_std * (h @ W) / np.sqrt(W.shape[0]) + b_std * b
            if i < len(params) - 1:
                h = act(h)
        return h
    return apply


def wide_params(gen, sizes):
    return [(gen.standard_normal((a, b)), gen.standard_normal(b)) for a, b in zip(sizes, sizes[1:])]


@pytest.mark.parametrize("activation", ["relu", "erf"])
def test_nngp_is_the_output_covariance_of_random_networks(activation):
    """Depth 1: the ensemble covariance of f is the NNGP exactly at any width (within 4 SE)."""
    gen = np.random.default_rng(2)
    x = np.array([[1.0, 0.0, 0.5], [0.3, 1.0, -0.5], [-1.0, 0.2, 0.1]])
    W_std, b_std, width, m = 1.5, 0.3, 64, 4000
    phi = _np_act(activation)[0]
    W1 = gen.standard_normal((m, 3, width))
    h = phi(W_std * np.einsum("id,mdw->miw", x, W1) / np.sqrt(3) + b_std * gen.standard_normal(
        (m, 1, width)))
    f = W_std * np.einsum("miw,mw->mi", h, gen.standard_normal((m, width))) / np.sqrt(width) \
        + b_std * gen.standard_normal((m, 1))
    prods = f[:, :, None] * f[:, None, :]
    se = prods.std(0) / np.sqrt(m)
    kern = infinite_width_kernels(x, depth=1, activation=activation, W_std=W_std, b_std=b_std)
    assert np.all(np.abs(kern.nngp - prods.mean(0)) < 4 * se)


@pytest.mark.parametrize("activation", ["relu", "erf"])
def test_empirical_ntk_of_wide_networks_converges(activation):
    """The empirical NTK of one random network → the analytic NTK as the width grows (error
    ∝ 1/√width): depth 1 at widths 32 → 2048 and depth 2 at width 512."""
    gen = np.random.default_rng(3)
    x = np.array([[1.0, 0.0, 0.5], [0.3, 1.0, -0.5], [-1.0, 0.2, 0.1], [0.5, 0.5, 0.5]])
    W_std, b_std = 1.2, 0.2
    apply = wide_apply(activation, W_std, b_std)
    target = infinite_width_kernels(x, depth=1, activation=activation, W_std=W_std,
                                    b_std=b_std).ntk
    errors = []
    for width in (32, 2048):
        errs = [np.abs(empirical_ntk(apply, wide_params(gen, [3, width, 1]), x) - target).max()
                for _ in range(3)]
        errors.append(np.mean(errs))
    assert errors[1] < errors[0] / 3                          # √(2048/32) = 8 expected
    assert errors[1] < 0.05 * np.abs(target).max()
    deep = infinite_width_kernels(x, x[:2], depth=2, activation=activation, W_std=W_std,
                                  b_std=b_std).ntk
    emp = empirical_ntk(apply, wide_params(gen, [3, 512, 512, 1]), x, x[:2])
    assert np.abs(emp - deep).max() < 0.15 * np.abs(deep).max()


def test_infinite_width_conventions_and_errors():
    x = np.array([[1.0, 2.0], [0.5, -1.0]])
    lin = infinite_width_kernels(x, depth=0, W_std=2.0, b_std=0.5)
    np.testing.assert_allclose(lin.nngp, 4 * x @ x.T / 2 + 0.25)
    np.testing.assert_allclose(lin.ntk, lin.nngp)
    k = infinite_width_kernels(x, x[:1], depth=3, activation="erf")
    assert k.nngp.shape == (2, 1)
    np.testing.assert_allclose(k.ntk[:1], infinite_width_kernels(x[:1], depth=3,
                                                                 activation="erf").ntk)
    zero = infinite_width_kernels(np.zeros((1, 2)), depth=2)          # relu′(0) = 0: finite
    assert np.all(np.isfinite(zero.ntk)) and zero.ntk[0, 0] == 0
    with pytest.raises(ValueError, match="activation must be one of"):
        infinite_width_kernels(x, activation="gelu")
    with pytest.raises(ValueError, match="depth must be a non-negative integer"):
        infinite_width_kernels(x, depth=-1)
    with pytest.raises(ValueError, match="x2's samples have 3 features but x1's have 2"):
        infinite_width_kernels(x, np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"x1 must be \(n, d\)"):
        infinite_width_kernels(np.ones(3))
    with pytest.raises(ValueError, match="W_std must be a finite non-negative number"):
        infinite_width_kernels(x, W_std=-1.0)


def test_against_neural_tangents():
    nt = pytest.importorskip("neural_tangents")
    from neural_tangents import stax
    x = np.random.default_rng(4).standard_normal((4, 3))
    for act, layer in (("relu", stax.Relu()), ("erf", stax.Erf())):
        _, _, kernel_fn = stax.serial(stax.Dense(8, W_std=1.4, b_std=0.3), layer,
                                      stax.Dense(8, W_std=1.4, b_std=0.3), layer,
                                      stax.Dense(1, W_std=1.4, b_std=0.3))
        ref = kernel_fn(x, x, ("nngp", "ntk"))
        ours = infinite_width_kernels(x, depth=2, activation=act, W_std=1.4, b_std=0.3)
        np.testing.assert_allclose(ours.nngp, np.asarray(ref.nngp), rtol=1e-5)
        np.testing.assert_allclose(ours.ntk, np.asarray(ref.ntk), rtol=1e-5)
    del nt
