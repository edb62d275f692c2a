"""nnmath.analysis.information and the distillation loss, each against an exact or independent
answer.

Entropy, KL, cross-entropy and JS against scipy (``scipy.stats.entropy``, ``rel_entr``,
``scipy.spatial.distance.jensenshannon`` squared); the joint-table mutual information against
H(X) + H(Y) − H(X,Y) and scikit-learn's ``mutual_info_score``; derivatives by ``check_grads``
(order 2, both modes) and, at zeros, against the closed forms of the one-sided partials (finite
where they exist, ±∞ where they are infinite, never NaN); the binned estimator against
scikit-learn on the same symbols and, on samples of a known table, within 4 standard errors
after its Miller–Madow bias; KSG against scikit-learn's private KSG/Ross implementations, a
brute-force O(N²) implementation, and −½ log(1 − ρ²) for correlated Gaussians; the
information-bottleneck Lagrangian against a direct computation; the InformationPlane callback
against representations computed by hand; the distillation loss against torch and its
gradient T(q − p).
"""
import json
import warnings

import numpy as np
import pytest
import scipy.special
import scipy.stats
from scipy.spatial.distance import jensenshannon

import nnmath as nm
from nnmath import keras
from nnmath.analysis.information import (
    InformationPlane,
    cross_entropy,
    entropy,
    ib_lagrangian,
    information_bottleneck,
    js_divergence,
    kl_divergence,
    mutual_information,
    mutual_information_binned,
    mutual_information_ksg,
)
from nnmath.nn.losses.distillation import DistillationLoss, distillation_loss
from nnmath.scipy.special import softmax

LN2 = np.log(2.0)


def _rand(shape, seed=0, zeros=()):
    p = np.random.default_rng(seed).random(shape) + 0.05
    for z in zeros:
        p[z] = 0.0
    return p


# --------------------------------------------------------------------------------------------
# Values against scipy
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("axis", [0, 1, -1, None])
def test_entropy_and_kl_match_scipy(axis):
    p, q = _rand((4, 5), 0, zeros=[(1, 2), (0, 0)]), _rand((4, 5), 1, zeros=[(1, 2)])
    for base in (None, 2, 10):
        np.testing.assert_allclose(entropy(p, base=base, axis=axis),
                                   scipy.stats.entropy(p, base=base, axis=axis), rtol=1e-13)
        np.testing.assert_allclose(entropy(p, q, base=base, axis=axis),
                                   scipy.stats.entropy(p, q, base=base, axis=axis), rtol=1e-13)


def test_entropy_normalises_like_scipy_the_others_raise_unless_normalize():
    w = np.array([1, 1, 0, 2])                     # integers, unnormalised, a zero
    assert float(entropy(w)) == pytest.approx(scipy.stats.entropy(w), rel=1e-14)
    q = np.array([1.0, 2.0, 3.0, 4.0])
    for f in (kl_divergence, cross_entropy, js_divergence):
        with pytest.raises(ValueError, match=r"pk must sum to 1 along axis 0; a sum is 4 "
                                             r"\(off by \+3.*normalize=True"):
            f(w, q / q.sum())
        with pytest.raises(ValueError, match=r"qk must sum to 1.*a sum is 10 \(off by \+9"):
            f(w / 4, q)
    np.testing.assert_allclose(kl_divergence(w, q, normalize=True), scipy.stats.entropy(w, q),
                               rtol=1e-13)
    np.testing.assert_allclose(js_divergence(w, q, normalize=True), jensenshannon(w, q) ** 2,
                               rtol=1e-12)
    pn, qn = w / w.sum(), q / q.sum()
    np.testing.assert_allclose(cross_entropy(w, q, normalize=True),
                               -np.sum(scipy.special.xlogy(pn, qn)), rtol=1e-13)


def test_kl_cross_entropy_js_on_distributions():
    p = _rand((6, 3), 2, zeros=[(0, 0), (3, 1)])
    q = _rand((6, 3), 3, zeros=[(0, 0)])
    p, q = p / p.sum(0), q / q.sum(0)
    np.testing.assert_allclose(kl_divergence(p, q), scipy.special.rel_entr(p, q).sum(0),
                               rtol=1e-13)
    np.testing.assert_allclose(cross_entropy(p, q, base=2),
                               scipy.stats.entropy(p, base=2) + scipy.stats.entropy(p, q, base=2),
                               rtol=1e-13)
    for base in (None, 2):
        np.testing.assert_allclose(js_divergence(p, q, base=base),
                                   jensenshannon(p, q, base=base) ** 2, rtol=1e-12)
        np.testing.assert_allclose(js_divergence(p.T, q.T, base=base, axis=1),
                                   jensenshannon(p.T, q.T, base=base, axis=1) ** 2, rtol=1e-12)
    assert float(kl_divergence([1.0, 0.0], [0.0, 1.0])) == np.inf      # p > 0 = q
    assert float(js_divergence([1.0, 0.0], [0.0, 1.0], base=2)) == pytest.approx(1.0)


def test_mutual_information_of_a_table():
    from sklearn.metrics import mutual_info_score
    P = _rand((3, 4), 4, zeros=[(0, 1), (2, 3)])
    P /= P.sum()
    exact = (scipy.stats.entropy(P.sum(1)) + scipy.stats.entropy(P.sum(0))
             - scipy.stats.entropy(P.ravel()))
    assert float(mutual_information(P)) == pytest.approx(exact, rel=1e-13)
    assert float(mutual_information(P * 7, normalize=True)) == pytest.approx(exact, rel=1e-13)
    assert float(mutual_information(P, base=2)) == pytest.approx(exact / LN2, rel=1e-13)
    counts = np.round(P * 1000)
    assert float(mutual_information(counts, normalize=True)) == pytest.approx(
        mutual_info_score(None, None, contingency=counts), rel=1e-12)
    assert float(mutual_information(np.outer([0.2, 0.8], [0.5, 0.3, 0.2]))) == pytest.approx(
        0.0, abs=1e-15)


# --------------------------------------------------------------------------------------------
# Derivatives
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("f", [kl_divergence, cross_entropy, js_divergence])
def test_divergences_check_grads(f):
    rng = np.random.default_rng(5)
    a, b = 0.5 * rng.standard_normal((4, 3)), 0.5 * rng.standard_normal((4, 3))
    nm.check_grads(lambda a, b: f(softmax(a, axis=0), softmax(b, axis=0)), (a, b), order=2)
    nm.check_grads(lambda p, q: f(p, q, axis=1, normalize=True, base=2), (np.exp(a), np.exp(b)),
                   order=2)


def test_entropy_mi_and_ib_check_grads():
    rng = np.random.default_rng(6)
    a = 0.5 * rng.standard_normal((3, 4))
    nm.check_grads(lambda p: entropy(p, axis=1), (np.exp(a),), order=2)
    nm.check_grads(lambda p, q: entropy(p, q, axis=None), (np.exp(a), np.exp(a[::-1])), order=2)
    nm.check_grads(lambda z: mutual_information(softmax(z)), (a,), order=2)
    nm.check_grads(lambda P: mutual_information(P, normalize=True), (np.exp(a),), order=2)
    w = 0.5 * rng.standard_normal((3, 2))
    nm.check_grads(lambda z, w: ib_lagrangian(softmax(w), softmax(z, axis=1), 0.7), (a, w),
                   order=2)


def _grads(f, p, q):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)     # log 0 where a partial is infinite
        return [np.asarray(g) for g in nm.grad(f, (0, 1))(p, q)]


def test_zeros_partials_are_the_one_sided_limits_never_nan():
    # index 0: p, q > 0; 1: p = 0 < q; 2: p = q = 0; 3: q = 0 < p only in the entropy test
    p = np.array([0.5, 0.0, 0.0, 0.5])
    q = np.array([0.5, 0.5, 0.0, 0.0])
    gp = _grads(lambda p, q: entropy(p, axis=0), p, q)[0]
    np.testing.assert_array_equal(gp[[1, 2]], np.inf)     # entropy rescales: ∂H(p/Σp)/∂pᵢ at
    np.testing.assert_allclose(gp[[0, 3]], -np.log(0.5) + np.log(0.5))   # Σp = 1: −log pᵢ − H
    p, q = np.array([0.5, 0.0, 0.0, 0.5]), np.array([0.25, 0.5, 0.0, 0.25])
    # cross-entropy: ∂/∂q = −p/q (0 at p = 0, also at q = 0), ∂/∂p = −log q
    gp, gq = _grads(cross_entropy, p, q)
    np.testing.assert_array_equal(gq, [-2.0, 0.0, 0.0, -2.0])
    np.testing.assert_array_equal(gp, [np.log(4), np.log(2), np.inf, np.log(4)])
    # KL: ∂/∂q = −p/q, ∂/∂p = log(p/q) + 1: −∞ at p = 0 < q, +∞ at p = q = 0
    gp, gq = _grads(kl_divergence, p, q)
    np.testing.assert_array_equal(gq, [-2.0, 0.0, 0.0, -2.0])
    np.testing.assert_allclose(gp, [np.log(2) + 1, -np.inf, np.inf, np.log(2) + 1])
    # JS: ∂/∂p = ½ log(p/m): −∞ at p = 0 < q, ½ log 2 at p = q = 0; symmetric in q
    gp, gq = _grads(js_divergence, p, q)
    m = (p + q) / 2
    np.testing.assert_allclose(gp, [0.5 * np.log(p[0] / m[0]), -np.inf, 0.5 * LN2,
                                    0.5 * np.log(p[3] / m[3])])
    np.testing.assert_allclose(gq, [0.5 * np.log(q[0] / m[0]), 0.5 * np.log(q[1] / m[1]),
                                    0.5 * LN2, 0.5 * np.log(q[3] / m[3])])
    # with normalize=True an infinite entry stays in its entry; finite ones are the FD answer
    for f in (cross_entropy, kl_divergence, js_divergence):
        gp, gq = _grads(lambda p, q: f(p, q, normalize=True), 3 * p, 2 * q)
        assert not np.isnan(gp).any() and not np.isnan(gq).any()
        assert np.isfinite(gq).all()


def test_mutual_information_partials_at_empty_rows_and_cells():
    P = np.array([[0.5, 0.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.25, 0.25]])   # row 1 never occurs
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        g = np.asarray(nm.grad(mutual_information)(P))
    px, py = P.sum(1), P.sum(0)
    with np.errstate(divide="ignore", invalid="ignore"):
        expect = np.log(P / np.outer(px, py)) - 1     # ∂I/∂P = log P − log pₓ − log p_y − 1
    expect[1] = -(np.log(py) + 1)                      # the empty row's terms cancel
    np.testing.assert_allclose(g, expect)
    assert (g[[0, 0, 2], [1, 2, 0]] == -np.inf).all()
    P3 = np.array([[1.0, 0.0], [0.0, 0.0]])            # cell (1, 1): row and column empty
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        g3 = np.asarray(nm.grad(mutual_information)(P3))
    assert g3[1, 1] == np.inf and not np.isnan(g3).any()


def test_vmap_jit_and_float32():
    rng = np.random.default_rng(7)
    p, q = np.exp(rng.standard_normal((5, 4))), np.exp(rng.standard_normal((5, 4)))
    np.testing.assert_allclose(nm.vmap(lambda a: entropy(a))(p), scipy.stats.entropy(p, axis=1))
    np.testing.assert_allclose(nm.vmap(lambda a, b: kl_divergence(a, b, normalize=True))(p, q),
                               scipy.stats.entropy(p, q, axis=1), rtol=1e-12)
    Ps = np.exp(rng.standard_normal((2, 3, 3)))
    np.testing.assert_allclose(nm.vmap(lambda P: mutual_information(P, normalize=True))(Ps),
                               [mutual_information(P / P.sum()) for P in Ps], rtol=1e-12)
    f = nm.jit(lambda a, b: js_divergence(a, b, axis=1, normalize=True))
    np.testing.assert_allclose(f(p, q), jensenshannon(p, q, axis=1) ** 2, rtol=1e-12)
    np.testing.assert_allclose(f(q, p), jensenshannon(q, p, axis=1) ** 2, rtol=1e-12)
    p32 = (p / p.sum(1, keepdims=True)).astype(np.float32)
    for f in (lambda a: entropy(a, axis=1), lambda a: kl_divergence(a, a[::-1], axis=1)):
        assert np.asarray(f(p32)).dtype == np.float32
        assert np.asarray(nm.grad(lambda a: f(a).sum())(p32)).dtype == np.float32


def test_bad_input():
    with pytest.raises(ValueError, match=r"pk must be non-negative; got -0.1 at index \(1,\)"):
        entropy([0.6, -0.1, 0.5])
    with pytest.raises(ValueError, match=r"qk must be non-negative"):
        kl_divergence([0.5, 0.5], [1.5, -0.5])
    with pytest.raises(ValueError, match=r"non-finite"):
        cross_entropy([np.nan, 1.0], [0.5, 0.5])
    with pytest.raises(ValueError, match=r"pk and qk must have the same shape; got \(2,\) and "
                                         r"\(3,\)"):
        js_divergence([0.5, 0.5], [0.2, 0.3, 0.5])
    with pytest.raises(ValueError, match=r"sums to 0"):
        entropy([0.0, 0.0])
    with pytest.raises(ValueError, match=r"axis must be None or an integer in \[-1, 1\); got 1"):
        entropy([0.5, 0.5], axis=1)
    with pytest.raises(ValueError, match=r"base must be a positive number other than 1"):
        entropy([0.5, 0.5], base=1)
    with pytest.raises(TypeError, match=r"real probabilities; got dtype <U1"):
        entropy(np.array(["a", "b"]))
    with pytest.raises(ValueError, match=r"joint must be a 2-D table"):
        mutual_information([0.5, 0.5])
    with pytest.raises(ValueError, match=r"joint must sum to 1.*a sum is 2"):
        mutual_information(np.ones((2, 1)))
    with pytest.raises(ValueError, match=r"encoder must sum to 1 along axis 1"):
        ib_lagrangian(np.full((2, 2), 0.25), np.ones((2, 2)), 1.0)
    with pytest.raises(ValueError, match=r"encoder p\(t\|x\) of shape \(n_x, n_t\)"):
        ib_lagrangian(np.full((2, 2), 0.25), np.eye(3), 1.0)
    x = np.random.default_rng(0).standard_normal(5)
    for k in (5, 6, 0, 2.5):
        with pytest.raises(ValueError, match=rf"k must be an integer with 1 ≤ k < N = 5 .*"
                                             rf"got k={k}"):
            mutual_information_ksg(x, x, k=k)
    with pytest.raises(ValueError, match=r"same number of samples \(axis 0\); got 5 and 4"):
        mutual_information_ksg(x, x[:4])
    with pytest.raises(ValueError, match=r"both discrete"):
        mutual_information_ksg(np.arange(5), np.arange(5))
    with pytest.raises(ValueError, match=r"bins must be a positive integer"):
        mutual_information_binned(x, x, bins=0)
    with pytest.raises(ValueError, match=r"estimator must be 'binned' or 'ksg'; got 'kde'"):
        information_bottleneck(x, x, x, 1.0, estimator="kde")


# --------------------------------------------------------------------------------------------
# Estimators from samples
# --------------------------------------------------------------------------------------------

def test_binned_equals_sklearn_on_the_same_symbols_and_states_its_bias():
    from sklearn.metrics import mutual_info_score
    rng = np.random.default_rng(8)
    x = rng.standard_normal((300, 2))
    y = np.tanh(x @ np.array([1.0, -0.5])) + 0.3 * rng.standard_normal(300)
    r = mutual_information_binned(x, y, bins=(4, 6), base=2)
    edges = lambda v, b: np.clip(np.floor((v - v.min()) / ((v.max() - v.min()) / b)), 0, b - 1)
    sx = np.unique(edges(x, 4), axis=0, return_inverse=True)[1].ravel()
    sy = edges(y, 6)
    assert r.value == pytest.approx(mutual_info_score(sx, sy) / LN2, rel=1e-12)
    kxy = len(set(zip(sx, sy)))
    assert r.bias == pytest.approx((kxy - len(set(sx)) - len(set(sy)) + 1) / 600 / LN2)
    assert (r.estimator, r.parameters, r.n_samples, r.unit) == ("binned", {"bins": (4, 6)}, 300,
                                                               "bits")
    json.dumps(r.to_dict())


def test_binned_on_samples_of_a_known_table_within_four_standard_errors():
    P = np.array([[0.3, 0.05, 0.05], [0.05, 0.2, 0.05], [0.1, 0.1, 0.1]])
    exact = float(mutual_information(P))
    rng = np.random.default_rng(9)
    cells = rng.choice(9, size=4000, p=P.ravel())
    r = mutual_information_binned(cells // 3, cells % 3)
    assert r.parameters == {"bins": (None, None)}
    assert abs(r.value - r.bias - exact) < 4 * r.standard_error


def _ksg_brute(x, y, k):
    """Kraskov et al.'s estimator 1 by explicit pairwise max-norm distances."""
    dx = np.abs(x[:, None, :] - x[None, :, :]).max(-1)
    dy = np.abs(y[:, None, :] - y[None, :, :]).max(-1)
    d = np.maximum(dx, dy)
    np.fill_diagonal(d, np.inf)
    eps = np.sort(d, axis=1)[:, k - 1]
    nx = (dx < eps[:, None]).sum(1) - 1
    ny = (dy < eps[:, None]).sum(1) - 1
    n = len(x)
    return (scipy.special.digamma(k) + scipy.special.digamma(n)
            - np.mean(scipy.special.digamma(nx + 1) + scipy.special.digamma(ny + 1)))


def test_ksg_equals_brute_force_and_sklearn():
    rng = np.random.default_rng(10)
    x = rng.standard_normal((80, 2))
    y = x[:, :1] ** 2 + 0.5 * rng.standard_normal((80, 1))
    for k in (1, 3, 7):
        r = mutual_information_ksg(x, y, k=k, noise=0.0)
        assert r.value == pytest.approx(_ksg_brute(x, y, k), rel=1e-12)
    mi = pytest.importorskip("sklearn.feature_selection._mutual_info")
    a = rng.standard_normal(200)
    b = 0.7 * a + 0.5 * rng.standard_normal(200)
    assert mutual_information_ksg(a, b, noise=0).value == pytest.approx(
        mi._compute_mi_cc(a, b, 3), rel=1e-12)
    labels = (a > 0).astype(int) + (a > 1)
    r = mutual_information_ksg(b, labels, k=4, noise=0)
    assert r.estimator == "ross"
    assert r.value == pytest.approx(mi._compute_mi_cd(b, labels, 4), rel=1e-12)


@pytest.mark.parametrize("rho", [0.0, 0.6, 0.9])
def test_ksg_on_correlated_gaussians(rho):
    exact = -0.5 * np.log(1 - rho ** 2)
    rng = np.random.default_rng(11)
    x = rng.standard_normal(3000)
    y = rho * x + np.sqrt(1 - rho ** 2) * rng.standard_normal(3000)
    r = mutual_information_ksg(x, y, k=3, base=2)
    assert abs(r.value - exact / LN2) < 4 * r.standard_error
    # the mean of 20 independent estimates at N = 400: its bias is below 0.02 nats
    vals = []
    for s in range(20):
        g = np.random.default_rng(100 + s)
        a = g.standard_normal(400)
        vals.append(mutual_information_ksg(a, rho * a + np.sqrt(1 - rho ** 2)
                                           * g.standard_normal(400)).value)
    assert abs(np.mean(vals) - exact) < 4 * np.std(vals, ddof=1) / np.sqrt(20) + 0.02


def test_ksg_warns_on_ties_without_noise_and_jitter_is_seeded():
    x = np.repeat(np.arange(10.0), 3)
    with pytest.warns(RuntimeWarning, match="tied samples"):
        mutual_information_ksg(x, x, k=2, noise=0.0)
    a = mutual_information_ksg(x, x + 1, seed=1).value
    assert a == mutual_information_ksg(x, x + 1, seed=1).value


# --------------------------------------------------------------------------------------------
# Information bottleneck and the information plane
# --------------------------------------------------------------------------------------------

def test_ib_lagrangian_exact():
    rng = np.random.default_rng(12)
    P = softmax(rng.standard_normal((4, 3)))
    E = softmax(rng.standard_normal((4, 5)), axis=1)
    p_xt = P.sum(1)[:, None] * E
    p_ty = E.T @ P
    i = lambda T: (scipy.stats.entropy(T.sum(1)) + scipy.stats.entropy(T.sum(0))
                   - scipy.stats.entropy(T.ravel()))
    assert float(ib_lagrangian(P, E, 0.3)) == pytest.approx(i(p_ty) - 0.3 * i(p_xt), rel=1e-12)
    # T = X: I(X;T) = H(X), I(T;Y) = I(X;Y)
    assert float(ib_lagrangian(P, np.eye(4), 2.0, base=2)) == pytest.approx(
        (i(P) - 2.0 * scipy.stats.entropy(P.sum(1))) / LN2, rel=1e-12)


def test_information_bottleneck_binned_and_ksg():
    from sklearn.metrics import mutual_info_score
    rng = np.random.default_rng(13)
    x = rng.standard_normal((200, 3))
    y = (x[:, 0] > 0).astype(int)
    t = np.tanh(x @ rng.standard_normal((3, 2)))
    r = information_bottleneck(t, x, y, beta=0.25, bins=8)
    st = np.unique(np.clip(np.floor((t - t.min()) / ((t.max() - t.min()) / 8)), 0, 7), axis=0,
                   return_inverse=True)[1].ravel()
    assert r.i_xt.value == pytest.approx(mutual_info_score(np.arange(200), st), rel=1e-12)
    assert r.i_ty.value == pytest.approx(mutual_info_score(st, y), rel=1e-12)
    assert r.lagrangian == pytest.approx(r.i_ty.value - 0.25 * r.i_xt.value)
    rk = information_bottleneck(t, x, np.eye(2)[y], beta=0.25, estimator="ksg", k=4)
    assert (rk.i_ty.estimator, rk.i_xt.estimator, rk.parameters["k"]) == ("ross", "ksg", 4)
    json.dumps(rk.to_dict())


def _model(seed=0):
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([
        keras.layers.Dense(4, "tanh", input_shape=(3,), name="h1", dtype="float64"),
        keras.layers.Dense(3, "relu", name="h2", dtype="float64"),
        keras.layers.Dense(2, "softmax", name="out", dtype="float64")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return model


def test_information_plane_records_every_layer_against_a_hand_computation():
    rng = np.random.default_rng(14)
    x = rng.standard_normal((120, 3))
    y = (x[:, 0] + x[:, 1] > 0).astype(int)
    model = _model()
    plane = InformationPlane(x, y, bins=12)
    h = model.fit(x, y, epochs=3, batch_size=32, verbose=0, callbacks=[plane])
    for layer in ("h1", "h2", "out"):
        assert len(h.history[f"I(X;T)/{layer}"]) == 3 and len(h.history[f"I(T;Y)/{layer}"]) == 3
    w = model.params
    t1 = np.tanh(x @ w["h1"]["kernel"] + w["h1"]["bias"])
    t2 = np.maximum(t1 @ w["h2"]["kernel"] + w["h2"]["bias"], 0)
    out = model.predict(x, verbose=0)
    ids = np.arange(120)
    for layer, t in (("h1", t1), ("h2", t2), ("out", out)):
        assert h.history[f"I(X;T)/{layer}"][-1] == pytest.approx(
            mutual_information_binned(ids, t, 12).value, rel=1e-12)
        assert h.history[f"I(T;Y)/{layer}"][-1] == pytest.approx(
            mutual_information_binned(t, y, 12).value, rel=1e-12)
    res = plane.result()
    assert res.epochs == [-1, 0, 1, 2] and res.layers == ["h1", "h2", "out"]
    assert res.i_xt["h1"].shape == (4,) and (res.estimator, res.parameters) == (
        "binned", {"bins": 12})
    json.dumps(res.to_dict())


def test_information_plane_ksg_and_layer_selection():
    rng = np.random.default_rng(15)
    x = rng.standard_normal((60, 3))
    y = np.eye(2)[(x[:, 0] > 0).astype(int)]            # one-hot: read as labels
    model = _model(1)
    plane = InformationPlane(x, y, estimator="ksg", k=5, layers=["h2"], base=2)
    h = model.fit(x, np.argmax(y, 1), epochs=2, verbose=0, callbacks=[plane])
    assert [k for k in h.history if k.startswith("I(")] == ["I(X;T)/h2", "I(T;Y)/h2"]
    assert plane.parameters == {"k": 5, "noise": 1e-10} and plane.result().unit == "bits"
    with pytest.raises(ValueError, match=r"no layer named \['nope'\]; the layers are"):
        model.fit(x, np.argmax(y, 1), epochs=1, verbose=0,
                  callbacks=[InformationPlane(x, y, layers=["nope"])])


# --------------------------------------------------------------------------------------------
# Distillation
# --------------------------------------------------------------------------------------------

def test_distillation_matches_torch_and_its_gradient_is_t_times_q_minus_p():
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    rng = np.random.default_rng(16)
    t, s = 3 * rng.standard_normal((6, 5)), rng.standard_normal((6, 5))
    for T in (1.0, 2.5, 8.0):
        ref = T * T * F.kl_div(F.log_softmax(torch.tensor(s) / T, -1),
                               F.log_softmax(torch.tensor(t) / T, -1), log_target=True,
                               reduction="none").sum(-1).numpy()
        np.testing.assert_allclose(distillation_loss(t, s, T), ref, rtol=1e-12)
        np.testing.assert_allclose(DistillationLoss(T)(t, s), ref.mean(), rtol=1e-12)
        g = nm.grad(lambda z: distillation_loss(t, z, T).sum())(s)
        np.testing.assert_allclose(g, T * (scipy.special.softmax(s / T, -1)
                                           - scipy.special.softmax(t / T, -1)), atol=1e-12)
    nm.check_grads(lambda a, b: distillation_loss(a, b, 2.0), (t, s), order=2)
    assert distillation_loss(t.astype(np.float32), s.astype(np.float32), 2.0).dtype == np.float32


def test_distillation_in_compile_and_fit():
    rng = np.random.default_rng(17)
    x = rng.standard_normal((64, 3))
    teacher = x @ rng.standard_normal((3, 4))
    keras.utils.set_random_seed(0)
    student = keras.Sequential([keras.layers.Dense(4, input_shape=(3,), dtype="float64")])
    student.compile(optimizer=keras.optimizers.Adam(0.05), loss=DistillationLoss(temperature=2.0))
    h = student.fit(x, teacher, epochs=30, batch_size=16, verbose=0)
    assert h.history["loss"][-1] < 0.1 * h.history["loss"][0]
    assert student.evaluate(x, teacher, verbose=0) == pytest.approx(
        float(np.mean(distillation_loss(teacher, student.predict(x, verbose=0), 2.0))), rel=1e-9)
    with pytest.raises(ValueError, match=r"temperature must be a finite number > 0; got 0"):
        DistillationLoss(temperature=0)
    with pytest.raises(ValueError, match=r"same shape; got \(2, 3\) and \(2, 4\)"):
        distillation_loss(np.zeros((2, 3)), np.zeros((2, 4)))
