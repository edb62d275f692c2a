"""nnmath.analysis.optimization and _second_order: every tool against an exact answer on a
problem small enough to solve densely (numpy.linalg, scipy.linalg.expm, scipy.optimize)."""
import math

import numpy as np
import pytest
import scipy.linalg
import scipy.optimize

import nnmath as nm
import nnmath.numpy as mnp
from nnmath import keras
from nnmath import optimizers as optim
from nnmath._ravel import ravel_pytree
from nnmath.analysis import as_objective
from nnmath.analysis._second_order import (
    CurvatureOptimizer, gauss_newton, natural_gradient, newton,
)
from nnmath.analysis.optimization import (
    EdgeOfStabilityMonitor, NonFiniteLossError, Quadratic, as_quadratic, convergence_rate,
    gradient_flow, quadratic, spectral_bias, stable_learning_rate,
)


def spread(kappa, n=10):
    return np.concatenate([[1.0], np.geomspace(1.0, kappa, n)[1:-1], [kappa]])


def mlp_problem(seed=0, n=12):
    rng = np.random.default_rng(seed)
    params = {"W1": rng.standard_normal((2, 5)) * 0.7, "b1": rng.standard_normal(5) * 0.1,
              "W2": rng.standard_normal((5, 1)) * 0.7, "b2": np.zeros(1)}
    x, y = rng.standard_normal((n, 2)), rng.standard_normal((n, 1))

    def loss(p):
        return mnp.mean((mnp.tanh(x @ p["W1"] + p["b1"]) @ p["W2"] + p["b2"] - y) ** 2)
    return loss, params


def dense_hessian(loss, params):
    """Built independently of nnmath.analysis: nm.hessian of the loss of the flat vector."""
    flat, unravel = ravel_pytree(params)
    return np.asarray(nm.hessian(lambda t: loss(unravel(t)))(flat))


def small_model(seed=0, units=4):
    keras.utils.set_random_seed(seed)
    return keras.Sequential([keras.layers.Dense(units, "tanh", input_shape=(2,), dtype="float64"),
                             keras.layers.Dense(1, dtype="float64")])


def model_flat_loss(model, x, y):
    _, unravel = ravel_pytree(model.params)
    return lambda t: mnp.mean((model.apply(unravel(t), x, training=False) - y) ** 2)


# ------------------------------------------------------------------------------------ Quadratic

def test_quadratic_spectrum_and_minimizer():
    rng = np.random.default_rng(0)
    M = rng.standard_normal((6, 6))
    A, b = M @ M.T + 0.5 * np.eye(6), rng.standard_normal(6)
    q = Quadratic(A, b, c=2.0)
    lam = np.linalg.eigvalsh(A)
    assert q.mu == pytest.approx(lam[0]) and q.L == pytest.approx(lam[-1])
    assert q.kappa == pytest.approx(lam[-1] / lam[0])
    np.testing.assert_allclose(q.minimizer, np.linalg.solve(A, b), rtol=1e-12)
    assert q.min_value == pytest.approx(float(q(q.minimizer)))
    np.testing.assert_allclose(nm.grad(q)(b), A @ b - b, rtol=1e-12)
    r = quadratic([2.0, 5.0, 50.0], seed=3, minimizer=[1.0, 2.0, 3.0])
    np.testing.assert_allclose(r.eigenvalues, [2, 5, 50], rtol=1e-12)
    np.testing.assert_allclose(r.minimizer, [1, 2, 3], rtol=1e-10)


def test_quadratic_bad_input():
    with pytest.raises(ValueError, match="positive semi-definite"):
        Quadratic(np.diag([1.0, -1.0]))
    with pytest.raises(ValueError, match="symmetric"):
        Quadratic(np.array([[1.0, 2.0], [0.0, 1.0]]))
    with pytest.raises(ValueError, match="square"):
        Quadratic(np.ones((2, 3)))
    with pytest.raises(ValueError, match="unbounded"):
        Quadratic(np.diag([1.0, 0.0]), b=np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match=r"b must have shape \(2,\)"):
        Quadratic(np.eye(2), b=np.ones(3))


def test_as_quadratic_recovers_A_b_and_rejects_non_quadratics():
    A = np.array([[3.0, 1.0], [1.0, 2.0]])
    b = np.array([1.0, -1.0])
    q = as_quadratic(lambda w: 0.5 * w @ (A @ w) - b @ w + 4.0, np.array([0.3, 0.7]))
    np.testing.assert_allclose(q.A, A, atol=1e-12)
    np.testing.assert_allclose(q.b, b, atol=1e-12)
    assert q.c == pytest.approx(4.0)
    cubic = lambda w: mnp.sum(w ** 2) + 0.1 * w[0] ** 3          # noqa: E731
    with pytest.raises(ValueError, match="not a quadratic"):
        as_quadratic(cubic, np.array([0.5, 0.5]))
    with pytest.raises(ValueError, match="not a quadratic"):
        convergence_rate("gd", cubic, np.array([0.5, 0.5]))
    with pytest.raises(TypeError, match="quadratic must be a Quadratic"):
        convergence_rate("gd", [1.0, 2.0])


# ------------------------------------------------------------------------- convergence rates

CLOSED_FORM = {
    "gd": lambda k: (k - 1) / (k + 1),
    "heavy_ball": lambda k: (math.sqrt(k) - 1) / (math.sqrt(k) + 1),
    "nesterov": lambda k: 1 - 1 / math.sqrt(k),
}


@pytest.mark.parametrize("kappa", [10, 100, 1000])
@pytest.mark.parametrize("method", ["gd", "heavy_ball", "nesterov"])
def test_convergence_rate_matches_theory_within_5_percent(method, kappa):
    q = quadratic(spread(kappa), seed=1, minimizer=np.arange(10.0))
    r = convergence_rate(method, q, max_iter=12_000 if method == "gd" else 20_000)
    expected = CLOSED_FORM[method](kappa)
    # spectral radius = closed form (√ of a discriminant that is 0 at the double root: ~1e-8)
    assert r.theoretical_rate == pytest.approx(expected, rel=1e-7)
    # the e-folding rate log(1/ρ) within 5% (much stricter than ρ itself within 5%)
    assert abs(math.log(r.measured_rate) / math.log(expected) - 1) < 0.05
    assert r.relative_error < 0.05 and not r.diverged


def test_heavy_ball_and_nesterov_map_to_nnmath_sgd_momentum():
    q = quadratic(spread(50, 6), seed=2)
    for name, nest in (("heavy_ball", False), ("nesterov", True)):
        named = convergence_rate(name, q, max_iter=300)
        torch_form = optim.sgd(named.learning_rate, momentum=named.beta, nesterov=nest)
        mine = convergence_rate(torch_form, q, max_iter=300)
        np.testing.assert_allclose(mine.errors, named.errors, rtol=1e-9, atol=1e-300)
        assert mine.theoretical_rate is None and mine.method == "transform"


def test_adam_is_measured_only():
    q = quadratic(spread(10, 5), seed=0)
    r = convergence_rate("adam", q, learning_rate=0.05, max_iter=3000)
    assert r.theoretical_rate is None and r.relative_error is None
    assert r.errors[-1] < 1e-6 * r.errors[0] and 0 < r.measured_rate < 1


def test_iteration_counts_log_vs_one_over_eps():
    q = quadratic(spread(100, 8), seed=0)
    r = convergence_rate("gd", q, epsilon=1e-8, max_iter=5000)
    assert r.iterations_to_epsilon <= r.iterations_strongly_convex <= r.iterations_convex
    # convex, not strongly convex (μ = 0): GD at η = 1/L is sublinear, f_k − f* ≤ L‖e₀‖²/(2k)
    c = Quadratic(np.diag([0.0, 1e-4, 1e-2, 1.0]))
    s = convergence_rate("gd", c, epsilon=1e-3, max_iter=2000, theta0=np.ones(4))
    assert s.learning_rate == 1.0 and s.kappa == math.inf and s.iterations_strongly_convex is None
    k = np.arange(1, s.gaps.size)
    assert np.all(s.gaps[1:] <= s.L * s.errors[0] ** 2 / (2 * k) + 1e-15)
    assert s.iterations_to_epsilon <= s.iterations_convex
    with pytest.raises(ValueError, match="μ > 0"):
        convergence_rate("nesterov", c)


def test_convergence_rate_bad_input():
    q = quadratic([1.0, 2.0])
    with pytest.raises(ValueError, match="optimizer must be one of"):
        convergence_rate("lbfgs", q)
    with pytest.raises(TypeError, match="GradientTransformation"):
        convergence_rate(3, q)
    with pytest.raises(ValueError, match="theta0 must have shape"):
        convergence_rate("gd", q, theta0=np.zeros(3))


# ------------------------------------------------------------------ stable learning rate, EoS

def test_stable_learning_rate_on_quadratic_095_converges_105_diverges():
    q = quadratic(spread(30, 6), seed=4, minimizer=np.ones(6))
    s = stable_learning_rate(q, np.zeros(6))
    assert s.learning_rate == pytest.approx(2 / q.L, rel=1e-10) and s.converged
    ok = convergence_rate("gd", q, learning_rate=0.95 * s.learning_rate, max_iter=3000, tol=1e-8)
    bad = convergence_rate("gd", q, learning_rate=1.05 * s.learning_rate, max_iter=3000)
    assert ok.converged and ok.measured_rate < 1
    assert bad.diverged and bad.measured_rate > 1


def test_stable_learning_rate_on_mlp_against_dense_hessian():
    loss, params = mlp_problem()
    lam = np.linalg.eigvalsh(dense_hessian(loss, params))[-1]
    s = stable_learning_rate(loss, params)
    assert s.sharpness == pytest.approx(lam, rel=1e-8)
    assert s.learning_rate == pytest.approx(2 / lam, rel=1e-8)


def test_edge_of_stability_monitor_records_sharpness_and_two_over_lr():
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((16, 2)), rng.standard_normal((16, 1))
    model = small_model()
    model.compile(optimizer=keras.optimizers.SGD(0.05), loss="mse")
    mon = EdgeOfStabilityMonitor(x, y, every=2)
    h = model.fit(x, y, epochs=5, batch_size=16, verbose=0, shuffle=False, callbacks=[mon])
    sharp = h.history["sharpness"]
    assert len(sharp) == 5 and np.isnan(sharp[0]) and np.isnan(sharp[2])
    assert mon.epochs == [1, 3, 4]                           # every 2, and the last epoch
    assert h.history["2/lr"][1] == pytest.approx(2 / 0.05)
    flat, _ = ravel_pytree(model.params)
    lam = np.linalg.eigvalsh(np.asarray(nm.hessian(model_flat_loss(model, x, y))(flat)))[-1]
    assert sharp[4] == pytest.approx(lam, rel=1e-8)
    assert stable_learning_rate(model, x=x, y=y).sharpness == pytest.approx(lam, rel=1e-8)
    with pytest.raises(ValueError, match="every must be a positive integer"):
        EdgeOfStabilityMonitor(x, y, every=0)


# ----------------------------------------------------------------------------- gradient flow

def test_gradient_flow_against_closed_form_exponential():
    q = quadratic([0.5, 1.0, 3.0, 8.0], seed=5, minimizer=[1.0, -1.0, 2.0, 0.0])
    theta0 = np.array([3.0, 1.0, -1.0, 2.0])
    r = gradient_flow(q, theta0, (0.0, 2.0), rtol=1e-10, atol=1e-12)
    exact = np.array([q.minimizer + scipy.linalg.expm(-q.A * t) @ (theta0 - q.minimizer)
                      for t in r.t])
    np.testing.assert_allclose(r.theta, exact, atol=1e-8)
    assert r.is_lyapunov and r.max_loss_increase < 0
    np.testing.assert_allclose(r.grad_norm, np.linalg.norm(exact @ q.A - q.b, axis=1), atol=1e-7)


def test_gradient_descent_is_euler_of_the_flow():
    q = quadratic([1.0, 2.0, 4.0], seed=6)
    theta0 = np.array([1.0, 2.0, -1.0])
    devs = []
    for eta in (0.04, 0.02):
        r = gradient_flow(q, theta0, (0.0, 2.0), learning_rate=eta, rtol=1e-10, atol=1e-12)
        k = np.arange(r.gd_theta.shape[0])
        gd = np.array([np.linalg.matrix_power(np.eye(3) - eta * q.A, int(i)) @ theta0 for i in k])
        flow = np.array([scipy.linalg.expm(-q.A * eta * i) @ theta0 for i in k])
        np.testing.assert_allclose(r.gd_theta, gd, atol=1e-12)
        np.testing.assert_allclose(r.flow_at_gd, flow, atol=1e-8)
        devs.append(r.gd_deviation.max())
    assert 1.8 < devs[0] / devs[1] < 2.2                     # first-order: error O(η)


def test_gradient_flow_lyapunov_on_mlp():
    loss, params = mlp_problem(1)
    r = gradient_flow(loss, params, (0.0, 3.0), t_eval=np.linspace(0, 3, 31))
    assert r.is_lyapunov and r.loss[-1] < r.loss[0]
    assert np.all(np.diff(r.loss) <= 1e-9)


def test_float32_stays_float32():
    q = Quadratic(np.diag([1.0, 3.0]).astype(np.float32))
    r = gradient_flow(q, np.ones(2, np.float32), (0.0, 1.0), t_eval=[0.0, 1.0], rtol=1e-6)
    assert r.theta.dtype == np.float32
    new, _, _ = newton().step(q, np.ones(2, np.float32))
    assert new.dtype == np.float32 and np.allclose(new, 0, atol=1e-6)
    assert convergence_rate("gd", q, max_iter=50).errors.size == 51


def test_gradient_flow_non_finite_loss_says_when():
    # L = log(1 − θ): dθ/dt = 1/(1 − θ), θ(0) = 0 ⇒ (1 − θ)² = 1 − 2t reaches θ = 1 at t = 1/2
    with pytest.raises(NonFiniteLossError, match=r"at t = 0\.") as info:
        gradient_flow(lambda w: mnp.log(1 - w[0]), np.array([0.0]), (0.0, 1.0))
    assert info.value.t == pytest.approx(0.5, abs=1e-2)
    with pytest.raises(ValueError, match="t_span"):
        gradient_flow(lambda w: mnp.sum(w ** 2), np.zeros(1), (1.0, 0.0))


# ------------------------------------------------------------------------- second-order steps

def test_newton_converges_in_one_step_on_quadratic():
    q = quadratic(spread(1000, 8), seed=7, minimizer=np.linspace(-1, 1, 8))
    with pytest.warns(UserWarning, match="use solver='minres'"):
        newton(solver="cg")
    for solver in ("minres", "dense"):
        new, state, _ = newton(solver=solver).step(q, np.zeros(8))
        np.testing.assert_allclose(new, q.minimizer, atol=1e-8)
        assert state.count == 1
    tree = {"a": np.zeros(3), "b": np.zeros(5)}
    new, _, _ = newton().step(lambda p: q(mnp.concatenate([p["a"], p["b"]])), tree)
    np.testing.assert_allclose(np.concatenate([new["a"], new["b"]]), q.minimizer, atol=1e-8)


def test_gauss_newton_step_matches_dense_formula_and_scipy_least_squares():
    rng = np.random.default_rng(0)
    t = np.linspace(0, 1, 20)
    y = 2.0 * np.exp(-1.5 * t) + 0.3 + 0.01 * rng.standard_normal(20)
    f = lambda w, x: w[0] * mnp.exp(w[1] * x) + w[2]            # noqa: E731
    w0, lam = np.array([1.0, -1.0, 0.0]), 1e-2
    # one damped step against (JᵀJ + (N/2)λI)⁻¹Jᵀr with J = ∂r/∂w by nm.jacfwd
    J = np.asarray(nm.jacfwd(lambda w: f(w, t))(w0))
    r0 = np.asarray(f(w0, t)) - y
    expected = w0 - np.linalg.solve(J.T @ J + 10 * lam * np.eye(3), J.T @ r0)
    new, _, _ = gauss_newton(damping=lam).step(f, w0, x=t, y=y, loss="mse")
    np.testing.assert_allclose(new, expected, rtol=1e-8)
    obj = as_objective(f, w0, x=t, y=y, loss="mse")
    opt, w, state = gauss_newton(damping=1e-6), w0, None
    for _ in range(15):
        w, state, _ = opt.step(obj, w, state)
    ref = scipy.optimize.least_squares(lambda w: w[0] * np.exp(w[1] * t) + w[2] - y, w0,
                                       xtol=1e-14, ftol=1e-14, gtol=1e-14)
    np.testing.assert_allclose(w, ref.x, rtol=1e-7)


def test_natural_gradient_equals_analytic_fisher_solve_for_softmax_regression():
    rng = np.random.default_rng(1)
    N, D, K = 12, 3, 4
    X, labels = rng.standard_normal((N, D)), rng.integers(0, K, N)
    W = 0.5 * rng.standard_normal((D, K))
    apply_fn = lambda w, x: x @ w                              # noqa: E731
    obj = as_objective(apply_fn, W, x=X, y=labels, loss=keras.losses.
                       SparseCategoricalCrossentropy(from_logits=True))
    # analytic: F = (1/N) Σ_i (diag p_i − p_i p_iᵀ) ⊗ x_i x_iᵀ (row-major W: index d·K + k)
    Z = X @ W
    P = np.exp(Z - scipy.special.logsumexp(Z, axis=1, keepdims=True))
    F = sum(np.kron(np.outer(x, x), np.diag(p) - np.outer(p, p)) for x, p in zip(X, P)) / N
    g = (X.T @ (P - np.eye(K)[labels]) / N).ravel()
    lam = 1e-3
    opt = natural_gradient(damping=lam)
    u, _ = opt.update(g, opt.init(W), W, objective=obj)
    np.testing.assert_allclose(np.asarray(u).ravel(), -np.linalg.solve(F + lam * np.eye(D * K), g),
                               rtol=1e-7, atol=1e-10)
    np.testing.assert_allclose(obj.grad_flat(), g, rtol=1e-10)
    # the empirical Fisher is a different matrix (observed targets): (1/N) Σ ∇s_i ∇s_iᵀ
    G = np.stack([np.kron(x, p - np.eye(K)[c]) for x, p, c in zip(X, P, labels)])
    emp = natural_gradient(damping=lam, fisher="empirical")
    u_emp, _ = emp.update(g, emp.init(W), W, objective=obj)
    np.testing.assert_allclose(np.asarray(u_emp).ravel(),
                               -np.linalg.solve(G.T @ G / N + lam * np.eye(D * K), g), rtol=1e-7)


def test_second_order_bad_input():
    with pytest.raises(ValueError, match="damping must be a finite number"):
        newton(damping=-1.0)
    with pytest.raises(ValueError, match="solver must be one of"):
        gauss_newton(solver="qr")
    with pytest.raises(ValueError, match="fisher must be 'true' or 'empirical'"):
        natural_gradient(fisher="exact")
    with pytest.raises(TypeError, match="objective="):
        newton().update(np.zeros(2), newton().init(None), np.zeros(2))
    with pytest.raises(ValueError, match="needs the model's outputs"):
        gauss_newton().step(lambda w: mnp.sum(w ** 2), np.zeros(2))
    with pytest.raises(TypeError, match="transform must be newton"):
        CurvatureOptimizer(optim.sgd(0.1), None, None, None)


@pytest.mark.parametrize("make", [lambda: newton(damping=1.0), lambda: gauss_newton(0.5, 1.0),
                                  lambda: natural_gradient(0.5, 1.0)])
def test_compile_accepts_curvature_optimizer_same_steps_as_functional(make):
    rng = np.random.default_rng(2)
    x, y = rng.standard_normal((10, 2)), rng.standard_normal((10, 1))
    model = small_model(3)
    model.compile(optimizer=CurvatureOptimizer(make(), model, x, y), loss="mse")
    obj = as_objective(model, x=x, y=y)
    params = {name: {k: v.copy() for k, v in ws.items()} for name, ws in model.params.items()}
    state = None
    for _ in range(3):
        params, state, _ = make().step(obj, params, state)
    h = model.fit(x, y, epochs=3, batch_size=10, verbose=0, shuffle=False)
    for name in params:
        for k in params[name]:
            np.testing.assert_allclose(model.params[name][k], params[name][k], rtol=1e-7,
                                       atol=1e-10)
    assert h.history["loss"][-1] < h.history["loss"][0]


# ----------------------------------------------------------------------------- spectral bias

@pytest.mark.parametrize("seed", [0, 1])
def test_spectral_bias_low_frequency_learned_first(seed):
    def build():
        keras.utils.set_random_seed(seed)
        m = keras.Sequential([keras.layers.Dense(32, "tanh", input_shape=(1,), dtype="float64"),
                              keras.layers.Dense(32, "tanh", dtype="float64"),
                              keras.layers.Dense(1, dtype="float64")])
        m.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
        return m
    r = spectral_bias(build, lambda x: np.sin(2 * np.pi * x) + np.sin(2 * np.pi * 3 * x),
                      num_points=32, epochs=1500, record_every=25, threshold=0.2)
    assert r.frequencies.tolist() == [1, 3]
    np.testing.assert_allclose(r.target_amplitudes, [16, 16], rtol=1e-10)   # N/2 per sine
    low, high = r.learned_epoch
    assert low is not None and high is not None and low < high
    # before the low frequency is learned, the high one is still far off
    i = list(r.epochs).index(low)
    assert r.relative_errors[i, 1] > 2 * r.threshold
    with pytest.raises(ValueError, match="frequencies must be integers"):
        spectral_bias(build, np.sin, num_points=8, frequencies=[9])
