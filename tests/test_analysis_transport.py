"""nnmath.analysis.transport: every tool against an exact or independent answer.

1-D Wasserstein against scipy (its docstring values included) and an exact LP (POT's emd2);
Sinkhorn and Sinkhorn barycenters against POT's log-domain solvers to 1e-6 at moderate ε and at
ε = 1e-3; gradients against finite differences (check_grads); the Sinkhorn divergence's
positivity and definiteness; sliced Wasserstein against POT with the same directions and, as a
Monte-Carlo estimate, against an exact quadrature within 4 standard errors; the WGAN-GP penalty
against closed forms and torch's autograd.
"""
import warnings

import numpy as np
import pytest
import scipy.stats

import nnmath as nm
import nnmath.numpy as mnp
from nnmath.analysis.transport import (
    SinkhornConvergenceWarning,
    WassersteinLoss,
    cost_matrix,
    gradient_penalty,
    sinkhorn,
    sinkhorn_barycenter,
    sinkhorn_divergence,
    sliced_wasserstein,
    wasserstein_barycenter_1d,
    wasserstein_distance,
    wasserstein_p,
    wgan_gp_critic_loss,
)

ot = pytest.importorskip("ot")


def _clouds(n, m, d=2, seed=0):
    rng = np.random.default_rng(seed)
    x, y = rng.random((n, d)), rng.random((m, d)) + 0.3
    a = rng.random(n) + 0.1
    b = rng.random(m) + 0.1
    return x, y, a / a.sum(), b / b.sum()


def _ot_eps_from_plan(P, M, a, b, reg):
    """OT_ε = ⟨P, M⟩ + ε KL(P ‖ a⊗b) of an (independently computed) plan."""
    ab = a[:, None] * b[None, :]
    nz = P > 0
    return np.sum(P * M) + reg * (np.sum(P[nz] * np.log(P[nz] / ab[nz])) - P.sum() + ab.sum())


# --------------------------------------------------------------------------------------------
# 1-D Wasserstein
# --------------------------------------------------------------------------------------------

def test_wasserstein_distance_scipy_docstring_values():
    assert wasserstein_distance([0, 1, 3], [5, 6, 8]) == 5.0
    assert wasserstein_distance([0, 1], [0, 1], [3, 1], [2, 2]) == 0.25
    assert wasserstein_distance([3.4, 3.9, 7.5, 7.8], [4.5, 1.4], [1.4, 0.9, 3.1, 7.2],
                                [3.2, 3.5]) == pytest.approx(4.0781331438047861, rel=1e-13)


@pytest.mark.parametrize("n,m,weighted", [(7, 7, False), (7, 11, False), (9, 5, True),
                                          (30, 30, True)])
def test_wasserstein_distance_matches_scipy(n, m, weighted):
    rng = np.random.default_rng(n * m)
    u, v = rng.normal(size=n), rng.normal(1.0, 2.0, size=m)
    u[:2] = v[:2]                                           # ties across the samples
    uw = rng.random(n) if weighted else None
    vw = rng.random(m) if weighted else None
    if weighted:
        uw[1] = 0.0                                         # a zero weight
    want = scipy.stats.wasserstein_distance(u, v, uw, vw)
    assert wasserstein_distance(u, v, uw, vw) == pytest.approx(want, rel=1e-12, abs=1e-14)


@pytest.mark.parametrize("p", [1.0, 1.5, 2.0, 3.0])
def test_wasserstein_p_against_exact_lp(p):
    rng = np.random.default_rng(1)
    u, v = rng.normal(size=8), rng.exponential(size=6)
    uw, vw = rng.random(8), rng.random(6)
    M = np.abs(u[:, None] - v[None, :]) ** p
    lp = ot.emd2(uw / uw.sum(), vw / vw.sum(), M)           # the exact linear program
    assert wasserstein_p(u, v, uw, vw, p=p) ** p == pytest.approx(lp, rel=1e-10)
    assert wasserstein_p(u, v, uw, vw, p=p) ** p == pytest.approx(
        ot.wasserstein_1d(u, v, uw / uw.sum(), vw / vw.sum(), p=p), rel=1e-10)


def test_wasserstein_keeps_float32():
    u = np.array([0.0, 1.0, 3.0], np.float32)
    out = wasserstein_p(u, u + 1, p=2)
    assert out.dtype == np.float32 and out == pytest.approx(1.0, rel=1e-6)


def test_wasserstein_gradients_in_values_and_weights():
    rng = np.random.default_rng(2)
    u, v = rng.normal(size=6), rng.normal(size=4)
    uw, vw = rng.random(6) + 0.2, rng.random(4) + 0.2
    for p in (1.0, 2.0, 3.0):
        nm.check_grads(lambda u_, v_: wasserstein_p(u_, v_, uw, vw, p=p), (u, v), order=1)
        nm.check_grads(lambda a_, b_: wasserstein_p(u, v, a_, b_, p=p), (uw, vw), order=1)
    nm.check_grads(lambda u_, w_: wasserstein_distance(u_, v, w_), (u, uw), order=1)
    # equal unweighted samples: ∂W₂²/∂u = 2(u − v matched in sorted order)/n
    u, v = np.array([3.0, 0.0, 1.0]), np.array([1.0, 2.0, 0.5])
    g = nm.grad(lambda u_: wasserstein_p(u_, v, p=2) ** 2)(u)
    np.testing.assert_allclose(g, 2 * (u - np.array([2.0, 0.5, 1.0])) / 3)


# --------------------------------------------------------------------------------------------
# Sinkhorn
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("reg", [0.1, 0.01, 1e-3])
def test_sinkhorn_matches_pot(reg):
    x, y, a, b = _clouds(15, 20)
    M = ot.dist(x, y)
    P0 = ot.sinkhorn(a, b, M, reg, method="sinkhorn_log", stopThr=1e-12, numItermax=200000)
    r = sinkhorn(a, b, M, reg, tol=1e-11, max_iter=200000)
    assert r.converged and np.all(np.isfinite(r.plan))
    np.testing.assert_allclose(r.plan, P0, atol=1e-6 * P0.max())
    assert r.cost == pytest.approx(np.sum(P0 * M), rel=1e-6)
    assert r.value == pytest.approx(_ot_eps_from_plan(P0, M, a, b, reg), rel=1e-6)
    # both marginals, and the plan's form P = diag(a) e^((f⊕g − M)/ε) diag(b)
    assert r.marginal_error < 1e-11
    np.testing.assert_allclose(r.plan.sum(1), a, atol=1e-11)
    np.testing.assert_allclose(r.plan.sum(0), b, atol=1e-11)
    np.testing.assert_allclose(r.plan, a[:, None] * b * np.exp((r.f[:, None] + r.g - M) / reg),
                               rtol=1e-10, atol=1e-300)
    assert r.value == pytest.approx(r.f @ a + r.g @ b, rel=1e-12)


def test_sinkhorn_small_eps_is_not_silent():
    """PEERS 12 / POT #54: at ε = 1e-3 the exp-domain kernel underflows; ours is neither 0 nor NaN
    nor uniform, and matches the unregularised optimum closely."""
    x, y, a, b = _clouds(12, 12, seed=3)
    M = ot.dist(x, y)
    r = sinkhorn(a, b, M, 1e-3, max_iter=100000)
    assert r.converged and np.isfinite(r.cost) and r.cost > 0
    assert r.cost == pytest.approx(ot.emd2(a, b, M), rel=5e-2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert ot.sinkhorn2(a, b, M, 1e-3, method="sinkhorn", numItermax=10) != pytest.approx(
            r.cost, rel=1e-2)                    # the exp-domain solver does fail here


def test_sinkhorn_eps_scaling_same_solution():
    x, y, a, b = _clouds(10, 14, seed=4)
    M = ot.dist(x, y)
    r0 = sinkhorn(a, b, M, 1e-3, tol=1e-11, max_iter=100000)
    r1 = sinkhorn(a, b, M, 1e-3, tol=1e-11, max_iter=100000, eps_scaling=0.5)
    assert r1.converged
    np.testing.assert_allclose(r1.plan, r0.plan, atol=1e-8)
    # a near-permutation plan, where plain Sinkhorn is slow (POT needs ~65,000 iterations)
    M2, h = np.array([[0.25, 2.25], [0.25, 0.25]]), np.array([0.5, 0.5])
    fast = sinkhorn(h, h, M2, 0.1, eps_scaling=0.7)
    assert fast.converged and fast.n_iter < 100


def test_sinkhorn_warns_and_reports_when_not_converged():
    x, y, a, b = _clouds(10, 14, seed=5)
    with pytest.warns(SinkhornConvergenceWarning, match="did not converge.*marginal error"):
        r = sinkhorn(a, b, ot.dist(x, y), 1e-3, max_iter=5)
    assert not r.converged and r.n_iter == 5 and r.marginal_error > 1e-9
    assert set(r.to_dict()) >= {"plan", "cost", "f", "g", "n_iter", "marginal_error"}


def test_sinkhorn_float32_stays_float32():
    x, y, a, b = _clouds(6, 7, seed=6)
    r = sinkhorn(a.astype(np.float32), b.astype(np.float32), ot.dist(x, y).astype(np.float32), 0.1)
    assert r.converged and r.plan.dtype == np.float32 and r.f.dtype == np.float32


def test_sinkhorn_unrolled_gradients_match_finite_differences():
    x, y, a, b = _clouds(5, 6, seed=7)
    M = ot.dist(x, y)
    opts = dict(reg=0.2, tol=1e-13, max_iter=5000)
    nm.check_grads(lambda M_: sinkhorn(a, b, M_, **opts).value, (M,), order=1, rtol=1e-5)
    nm.check_grads(lambda M_: sinkhorn(a, b, M_, **opts).cost, (M,), order=1, rtol=1e-5)
    # a and b on the simplex (a softmax of free parameters)
    softmax = lambda z: mnp.exp(z) / mnp.sum(mnp.exp(z))
    nm.check_grads(lambda za, zb: sinkhorn(softmax(za), softmax(zb), M, **opts).value,
                   (np.log(a), np.log(b)), order=1, rtol=1e-5)
    # through the points: the cost of moving x
    nm.check_grads(lambda x_: sinkhorn(a, b, cost_matrix(x_, y), **opts).cost, (x,), order=1,
                   rtol=1e-5)


def test_sinkhorn_envelope_gradient():
    x, y, a, b = _clouds(5, 6, seed=8)
    M = ot.dist(x, y)
    opts = dict(reg=0.2, tol=1e-13, max_iter=5000)
    r = sinkhorn(a, b, M, **opts)
    gM = nm.grad(lambda M_: sinkhorn(a, b, M_, gradient="envelope", **opts).value)(M)
    np.testing.assert_allclose(gM, r.plan, rtol=1e-12)          # ∂OT_ε/∂M = P
    ga = nm.grad(lambda a_: sinkhorn(a_, b, M, gradient="envelope", **opts).value)(a)
    np.testing.assert_allclose(ga, r.f, rtol=1e-12)             # ∂OT_ε/∂a = f
    softmax = lambda z: mnp.exp(z) / mnp.sum(mnp.exp(z))
    for grad_kind in ("envelope",):
        nm.check_grads(lambda M_, za: sinkhorn(softmax(za), b, M_, gradient=grad_kind,
                                               **opts).value, (M, np.log(a)), order=1, rtol=1e-5,
                       modes=("rev", "fwd"))
    # the envelope and unrolled gradients agree at convergence
    gu = nm.grad(lambda M_: sinkhorn(a, b, M_, **opts).value)(M)
    np.testing.assert_allclose(gu, gM, atol=1e-9)


# --------------------------------------------------------------------------------------------
# Sinkhorn divergence
# --------------------------------------------------------------------------------------------

def test_sinkhorn_divergence_against_independent_plans():
    x, y, a, b = _clouds(6, 7, seed=9)
    reg = 0.1
    want = 0.0
    for (p, q, s, t, c) in ((x, y, a, b, 1.0), (x, x, a, a, -0.5), (y, y, b, b, -0.5)):
        M = ot.dist(p, q)
        P = ot.sinkhorn(s, t, M, reg, method="sinkhorn_log", stopThr=1e-13, numItermax=100000)
        want += c * _ot_eps_from_plan(P, M, s, t, reg)
    got = sinkhorn_divergence(x, y, a, b, reg=reg, tol=1e-12, max_iter=100000)
    assert got == pytest.approx(want, rel=1e-6)


def test_sinkhorn_divergence_positive_and_definite():
    rng = np.random.default_rng(10)
    for k in range(5):
        x, y = rng.normal(size=(6, 2)), rng.normal(size=(7, 2)) * (0.5 + k / 4)
        assert sinkhorn_divergence(x, y, reg=0.3) > 0
        for cost in ("sqeuclidean", "euclidean"):
            # (the cross term OT_ε(α, α) by plain Sinkhorn is slow for small ε: its plan is
            # near the identity, so this uses a larger ε)
            assert abs(sinkhorn_divergence(x, x, reg=1.0, cost=cost)) < 1e-10
    # the same measure given with its points permuted and duplicated
    x = rng.normal(size=(4, 2))
    xx = np.concatenate([x, x[::-1]])
    assert abs(sinkhorn_divergence(x, xx, reg=1.0)) < 1e-9


def test_sinkhorn_divergence_gradient_in_points():
    x, y, _, _ = _clouds(4, 5, seed=11)
    for gradient in ("unroll", "envelope"):
        nm.check_grads(lambda x_: sinkhorn_divergence(x_, y, reg=0.5, tol=1e-13,
                                                      gradient=gradient), (x,), order=1,
                       rtol=1e-5, modes=("rev",))


# --------------------------------------------------------------------------------------------
# Sliced Wasserstein
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("weighted", [False, True])
def test_sliced_wasserstein_matches_pot(weighted):
    x, y, a, b = _clouds(20, 20 if not weighted else 25, d=3, seed=12)
    if not weighted:
        a = b = None
    theta = ot.sliced.get_random_projections(3, 40, seed=0)
    want = ot.sliced_wasserstein_distance(x, y, a, b, projections=theta, p=2)
    assert sliced_wasserstein(x, y, a, b, projections=theta, p=2).value == pytest.approx(
        want, rel=1e-12)


def test_sliced_wasserstein_estimate_within_standard_errors():
    rng = np.random.default_rng(13)
    x, y = rng.normal(size=(30, 2)), rng.normal(size=(30, 2)) @ np.array([[2.0, 0.5], [0, 0.3]])
    # exact SW₂² in 2-D: the mean over the circle, by a fine quadrature
    ang = np.linspace(0, np.pi, 20000, endpoint=False)
    exact = np.mean([wasserstein_p(x @ [np.cos(t), np.sin(t)], y @ [np.cos(t), np.sin(t)]) ** 2
                     for t in ang[::20]])
    for seed in range(4):
        r = sliced_wasserstein(x, y, n_projections=200, seed=seed)
        assert abs(r.value_p - exact) < 4 * r.std_error_p
        assert abs(r.value - np.sqrt(exact)) < 4 * r.std_error


def test_sliced_wasserstein_gradient():
    x, y, _, _ = _clouds(6, 6, seed=14)
    nm.check_grads(lambda x_: sliced_wasserstein(x_, y, n_projections=8, seed=0).value, (x,),
                   order=1)


# --------------------------------------------------------------------------------------------
# Barycenters
# --------------------------------------------------------------------------------------------

def test_barycenter_1d_equal_samples_average_sorted_values():
    rng = np.random.default_rng(15)
    s = [rng.normal(size=10), rng.exponential(size=10), rng.random(10)]
    lam = np.array([0.2, 0.5, 0.3])
    r = wasserstein_barycenter_1d(s, lambdas=lam)
    np.testing.assert_allclose(r.values, sum(l * np.sort(v) for l, v in zip(lam, s)))
    np.testing.assert_allclose(r.weights, np.full(10, 0.1))


def test_barycenter_1d_weighted_quantile_function():
    rng = np.random.default_rng(16)
    s = [rng.normal(size=7), rng.normal(3, 1, size=5)]
    w = [rng.random(7), rng.random(5)]
    lam = np.array([0.4, 0.6])
    r = wasserstein_barycenter_1d(s, w, lam)
    assert r.weights.sum() == pytest.approx(1.0)
    t = rng.random(50)
    cdf = np.cumsum(r.weights)
    q_bar = r.values[np.minimum(np.searchsorted(cdf, t), len(cdf) - 1)]
    q_want = sum(l * np.quantile(v, t, weights=ww, method="inverted_cdf")
                 for l, v, ww in zip(lam, s, w))
    np.testing.assert_allclose(q_bar, q_want, rtol=1e-12)
    # it minimises Σ λ_k W₂²(ν, μ_k): the 1-D identity Σ λ_k W₂²(bar, μ_k) = that objective
    obj = lambda vals: sum(l * wasserstein_p(vals, v, r.weights, ww) ** 2
                           for l, v, ww in zip(lam, s, w))
    assert obj(r.values) < obj(r.values + 0.01) and obj(r.values) < obj(r.values * 1.01)


@pytest.mark.parametrize("reg", [0.01, 1e-3])
def test_sinkhorn_barycenter_matches_pot(reg):
    t = np.linspace(0, 1, 30)
    M = (t[:, None] - t) ** 2
    A = np.stack([np.exp(-(t - 0.2) ** 2 / 0.005), np.exp(-(t - 0.7) ** 2 / 0.01),
                  np.exp(-(t - 0.5) ** 2 / 0.05)], 1)
    A /= A.sum(0)
    w = np.array([0.3, 0.5, 0.2])
    want = ot.bregman.barycenter(A, M, reg, w, method="sinkhorn_log", stopThr=1e-14,
                                 numItermax=100000)
    r = sinkhorn_barycenter(A, M, reg, w, tol=1e-12, max_iter=100000)
    assert r.converged and r.barycenter.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(r.barycenter, want, atol=1e-6 * want.max())


def test_sinkhorn_barycenter_gradient():
    t = np.linspace(0, 1, 6)
    M = (t[:, None] - t) ** 2
    A = np.stack([np.exp(-(t - 0.2) ** 2 / 0.05), np.exp(-(t - 0.7) ** 2 / 0.1)], 1)
    A /= A.sum(0)
    probe = np.arange(6.0)
    nm.check_grads(lambda M_: mnp.sum(probe * sinkhorn_barycenter(A, M_, 0.1, tol=1e-13)
                                      .barycenter), (M,), order=1)


# --------------------------------------------------------------------------------------------
# WGAN-GP
# --------------------------------------------------------------------------------------------

def test_gradient_penalty_linear_critic_closed_form():
    rng = np.random.default_rng(17)
    real, fake = rng.normal(size=(8, 3)), rng.normal(size=(8, 3))
    w = np.array([0.5, -2.0, 1.0])
    D = lambda w_, x: x @ w_ + 0.3
    norm = np.linalg.norm(w)
    assert gradient_penalty(D, w, real, fake, rng=0, weight=7.0) == pytest.approx(
        7.0 * (norm - 1) ** 2, rel=1e-12)
    g = nm.grad(lambda w_: gradient_penalty(D, w_, real, fake, rng=0))(w)
    np.testing.assert_allclose(g, 10.0 * 2 * (norm - 1) * w / norm, rtol=1e-12)
    nm.check_grads(lambda w_: wgan_gp_critic_loss(D, w_, real, fake, rng=0), (w,), order=1)


def test_gradient_penalty_quadratic_critic_with_interpolates():
    rng = np.random.default_rng(18)
    real, fake = rng.normal(size=(6, 2)), rng.normal(size=(6, 2))
    A = np.array([[2.0, 0.3], [0.3, 0.5]])
    D = lambda A_, x: 0.5 * mnp.sum((x @ A_) * x, axis=1)        # ∇ₓD = A x
    t = np.random.default_rng(5).uniform(size=6)[:, None]       # the documented draw
    x_hat = t * real + (1 - t) * fake
    want = 10.0 * np.mean((np.linalg.norm(x_hat @ A, axis=1) - 1) ** 2)
    assert gradient_penalty(D, A, real, fake, rng=5) == pytest.approx(want, rel=1e-12)


def test_gradient_penalty_mlp_critic_against_torch():
    torch = pytest.importorskip("torch")
    from nnmath.keras import layers, Sequential
    rng = np.random.default_rng(19)
    real, fake = rng.normal(size=(5, 3)), rng.normal(size=(5, 3))
    model = Sequential([layers.Dense(4, activation="tanh", dtype="float64"),
                        layers.Dense(1, dtype="float64")])
    model.build((None, 3))
    params = model.params
    gp, g = nm.value_and_grad(lambda p: gradient_penalty(model.apply, p, real, fake, rng=3))(params)
    (l1, p1), (l2, p2) = [(l, params[l.name]) for l in model.layers]
    W1, b1, W2, b2 = (torch.tensor(p1["kernel"], requires_grad=True),
                      torch.tensor(p1["bias"], requires_grad=True),
                      torch.tensor(p2["kernel"], requires_grad=True),
                      torch.tensor(p2["bias"], requires_grad=True))
    t = torch.tensor(np.random.default_rng(3).uniform(size=5)[:, None])
    xh = (t * torch.tensor(real) + (1 - t) * torch.tensor(fake)).requires_grad_(True)
    out = torch.tanh(xh @ W1 + b1) @ W2 + b2
    (gx,) = torch.autograd.grad(out.sum(), xh, create_graph=True)
    gp_t = 10.0 * ((gx.norm(dim=1) - 1) ** 2).mean()
    gp_t.backward()
    assert float(gp) == pytest.approx(gp_t.item(), rel=1e-12)
    np.testing.assert_allclose(g[l1.name]["kernel"], W1.grad.numpy(), rtol=1e-10)
    np.testing.assert_allclose(g[l2.name]["kernel"], W2.grad.numpy(), rtol=1e-10)


def test_wasserstein_loss_in_compile():
    from nnmath.keras import layers, Sequential
    rng = np.random.default_rng(20)
    x = rng.normal(size=(16, 3))
    y = np.where(rng.random(16) < 0.5, -1.0, 1.0)[:, None]
    model = Sequential([layers.Dense(1, dtype="float64")])
    model.compile(optimizer="sgd", loss=WassersteinLoss())
    model.build((None, 3))
    want = np.mean(y * model.predict(x, verbose=0))
    assert model.evaluate(x, y, verbose=0) == pytest.approx(want, rel=1e-10)
    model.fit(x, y, epochs=2, batch_size=8, verbose=0)


# --------------------------------------------------------------------------------------------
# Bad input
# --------------------------------------------------------------------------------------------

def test_errors_name_the_argument():
    M = np.ones((2, 3))
    a, b = np.full(2, 0.5), np.full(3, 1 / 3)
    cases = [
        (lambda: wasserstein_distance([], [1.0]), "u_values is empty"),
        (lambda: wasserstein_p([1.0], [], p=2), "v_values is empty"),
        (lambda: wasserstein_distance([1.0, 2.0], [1.0], [1.0, -1.0]), "u_weights must be non-neg"),
        (lambda: wasserstein_distance([1.0, 2.0], [1.0], None, [0.0]), "v_weights sums to 0"),
        (lambda: wasserstein_distance([1.0, 2.0], [1.0], [1.0]), "u_weights must be a vector of 2"),
        (lambda: wasserstein_p([1.0], [2.0], p=0.5), "p must be a number ≥ 1"),
        (lambda: sinkhorn(a, b, np.ones((3, 2)), 0.1), "M has shape \\(3, 2\\) but a has 2"),
        (lambda: sinkhorn(a, np.full(2, 0.5), M, 0.1), "b has 2 entries"),
        (lambda: sinkhorn(a, b, M, 0.0), "reg .* must be positive"),
        (lambda: sinkhorn(a, b, M, -1.0), "reg .* must be positive"),
        (lambda: sinkhorn(np.array([0.5, -0.5]), b, M, 0.1), "a must be non-negative"),
        (lambda: sinkhorn(np.zeros(2), b, M, 0.1), "a sums to 0"),
        (lambda: sinkhorn(a * 2, b, M, 0.1), "same total mass"),
        (lambda: sinkhorn(a, b, np.ones((0, 3)), 0.1), "M .* non-empty"),
        (lambda: sinkhorn(a, b, M, 0.1, gradient="implicit"), "gradient must be"),
        (lambda: sinkhorn_barycenter(np.ones((3, 2)) / 3, np.ones((2, 2)), 0.1),
         "M must be \\(3, 3\\)"),
        (lambda: sinkhorn_barycenter(np.ones((3, 2)) / 3, np.ones((3, 3)), 0), "reg"),
        (lambda: sinkhorn_divergence(np.ones((2, 2)), np.ones((2, 3))), "same dimension"),
        (lambda: sinkhorn_divergence(np.ones((0, 2)), np.ones((2, 2))), "x must be a non-empty"),
        (lambda: sliced_wasserstein(np.ones((2, 2)), np.ones((2, 2)), n_projections=1), "n_proj"),
        (lambda: gradient_penalty(lambda p, x: x[:, 0], None, np.ones((2, 2)), np.ones((3, 2))),
         "same shape"),
    ]
    for fn, match in cases:
        with pytest.raises(ValueError, match=match):
            fn()
