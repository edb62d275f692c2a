"""nnmath.nn's functions: initializers, regularizers, activations, losses.

* initializers: moments against their formulas (statistically), fans, orthogonality, seeds, and
  the depth behaviour the theory predicts (He et al. 2015; Glorot & Bengio 2010; mean-field theory);
* activations and losses: values and gradients against PyTorch (float64, 1e-6), check_grads to
  order 2 in both modes, stability at |x| = 1000, Keras's reductions and sample weights, errors;
* the fused primitive ``softmax_cross_entropy``: its rows (``ROWS``) and vmap against a loop.
"""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import nnmath as nm
import nnmath.numpy as mnp
from nnmath.nn import activations as A
from nnmath.nn import initializers as I
from nnmath.nn import losses as L
from nnmath.nn import regularizers as R
from rowtable import Row, rng, run_row

G = rng(7)
N, C = 6, 4
LOGITS = G.normal(size=(N, C)) * 2.0
PROBS = np.exp(LOGITS) / np.exp(LOGITS).sum(-1, keepdims=True)
LABELS = np.array([0, 3, 1, 2, 3, 0])
ONE_HOT = np.eye(C)[LABELS]
SOFT = G.dirichlet(np.ones(C), size=N)                       # soft labels, rows sum to 1
BIN = (G.uniform(size=(N, C)) > 0.5).astype(float)
PB = G.uniform(0.05, 0.95, size=(N, C))                      # probabilities inside (ε, 1 − ε)
YR, PR = G.normal(size=(N, C)), G.normal(size=(N, C)) * 1.5   # regression targets / predictions
POS = G.uniform(0.2, 3.0, size=(N, C))
SW = G.uniform(0.5, 2.0, size=(N,))
# for finite differences of order 2, probabilities kept away from 0 (p ln p has p‴ = 1/p²)
P_IN, Y_IN = 0.6 * PROBS + 0.4 / C, 0.6 * SOFT + 0.4 / C

# --------------------------------------------------------------------------------------------
# The fused primitive: rows for the rule table (tests/test_primitives.py, tests/test_vmap.py)
# --------------------------------------------------------------------------------------------
ROWS = [
    Row("softmax_cross_entropy", lambda z, y: L.softmax_cross_entropy(z, y, axis=-1), (LOGITS, SOFT)),
    Row("softmax_cross_entropy", lambda z, y: L.softmax_cross_entropy(z, y, axis=-2),
        (G.normal(size=(2, 3, 5)), G.uniform(0.1, 1.0, size=(2, 3, 5))), id="softmax_cross_entropy-axis-2"),
]


@pytest.mark.parametrize("row", ROWS, ids=lambda r: r.id)
def test_row(row):
    run_row(row)


@pytest.mark.parametrize("row", ROWS, ids=lambda r: r.id)
def test_fused_primitive_vmaps_like_a_loop(row):
    stacked = tuple(np.stack([a * (1.0 + 0.01 * j) for j in range(3)]) for a in row.args)
    loop = lambda f: np.stack([f(*[a[j] for a in stacked]) for j in range(3)])
    np.testing.assert_allclose(nm.vmap(row.fun)(*stacked), loop(row.fun), rtol=1e-12)
    pulled = lambda *a: nm.vjp(row.fun, *a)[1](np.ones(row.fun(*a).shape))
    for got, want in zip(nm.vmap(pulled)(*stacked), zip(*[pulled(*[a[j] for a in stacked]) for j in range(3)])):
        np.testing.assert_allclose(got, np.stack(want), rtol=1e-12)
    pushed = lambda *a: nm.jvp(row.fun, a, tuple(np.ones_like(x) for x in a))[1]
    np.testing.assert_allclose(nm.vmap(pushed)(*stacked), loop(pushed), rtol=1e-12)


def test_fused_primitive_keeps_only_its_inputs_and_matches_the_composite():
    assert L.softmax_cross_entropy.saves == "args"
    composite = lambda z: -mnp.sum(SOFT * nm.scipy.special.log_softmax(z, axis=-1), axis=-1)
    fused = lambda z: L.softmax_cross_entropy(z, SOFT, axis=-1)
    np.testing.assert_allclose(fused(LOGITS), composite(LOGITS), rtol=1e-13)
    w = G.normal(size=N)
    np.testing.assert_allclose(nm.hessian(lambda z: mnp.sum(w * fused(z)))(LOGITS),
                               nm.hessian(lambda z: mnp.sum(w * composite(z)))(LOGITS), atol=1e-12)


# --------------------------------------------------------------------------------------------
# Initializers
# --------------------------------------------------------------------------------------------
SHAPE = (400, 300)          # 120 000 draws: relative standard error of a variance ≈ 0.4–0.6 %
FAN_IN, FAN_OUT = SHAPE
VAR_RULES = [   # (initializer, variance by its formula, bound on |w| or None)
    ("glorot_uniform", 2.0 / (FAN_IN + FAN_OUT), np.sqrt(6.0 / (FAN_IN + FAN_OUT))),
    ("glorot_normal", 2.0 / (FAN_IN + FAN_OUT), 2.0 * np.sqrt(2.0 / (FAN_IN + FAN_OUT)) / 0.87962566103423978),
    ("he_uniform", 2.0 / FAN_IN, np.sqrt(6.0 / FAN_IN)),
    ("he_normal", 2.0 / FAN_IN, 2.0 * np.sqrt(2.0 / FAN_IN) / 0.87962566103423978),
    ("lecun_uniform", 1.0 / FAN_IN, np.sqrt(3.0 / FAN_IN)),
    ("lecun_normal", 1.0 / FAN_IN, 2.0 * np.sqrt(1.0 / FAN_IN) / 0.87962566103423978),
    (I.RandomNormal(0.0, 0.05), 0.05 ** 2, None),
    (I.RandomUniform(-0.05, 0.05), 0.1 ** 2 / 12, 0.05),
    (I.TruncatedNormal(0.0, 0.05), (0.05 * 0.87962566103423978) ** 2, 0.1),
    (I.VarianceScaling(3.0, "fan_out", "untruncated_normal"), 3.0 / FAN_OUT, None),
    (I.VarianceScaling(0.5, "fan_avg", "uniform"), 0.5 / ((FAN_IN + FAN_OUT) / 2), np.sqrt(1.5 / 350)),
    (I.VarianceScaling(2.0, "fan_in", "normal"), 2.0 / FAN_IN, 2.0 * np.sqrt(2.0 / FAN_IN) / 0.87962566103423978),
]


@pytest.mark.parametrize("init,var,bound", VAR_RULES, ids=lambda v: v if isinstance(v, str) else None)
def test_initializer_moments_match_their_formulas(init, var, bound):
    w = I.get(init)(SHAPE, "float64", rng(1))
    assert w.shape == SHAPE and w.dtype == np.float64
    se_mean = np.sqrt(var / w.size)
    assert abs(w.mean()) < 5 * se_mean, (w.mean(), se_mean)
    assert w.var() == pytest.approx(var, rel=0.03)
    if bound is not None:
        assert np.abs(w).max() <= bound * (1 + 1e-12)
        assert np.abs(w).max() > 0.95 * bound          # the support is used up to the bound


def test_constant_initializers():
    np.testing.assert_array_equal(I.get("zeros")((2, 3), "float32", None), np.zeros((2, 3), np.float32))
    np.testing.assert_array_equal(I.get("ones")((2,), "float64", None), [1.0, 1.0])
    np.testing.assert_array_equal(I.Constant(0.25)((2, 2)), np.full((2, 2), 0.25, np.float32))
    np.testing.assert_array_equal(I.Constant([1.0, 2.0])((3, 2), "float64"), [[1.0, 2.0]] * 3)
    np.testing.assert_array_equal(I.get("identity")((2, 3), "float64"), np.eye(2, 3))
    assert I.Zeros()((2,)).dtype == np.float32           # Keras's floatx default


def test_fans_as_keras():
    assert I.compute_fans(()) == (1, 1)
    assert I.compute_fans((7,)) == (7, 7)
    assert I.compute_fans((5, 3)) == (5, 3)
    assert I.compute_fans((3, 16, 32)) == (48, 96)            # Conv1D kernel (k, in, out)
    assert I.compute_fans((3, 3, 16, 32)) == (144, 288)       # Conv2D kernel
    w = I.HeNormal(seed=0)((3, 3, 64, 64), "float64")         # He: Var = 2/(9·64)
    assert w.var() == pytest.approx(2.0 / (9 * 64), rel=0.03)


@pytest.mark.parametrize("shape,gain", [((60, 40), 1.0), ((40, 60), 1.0), ((50, 50), 2.5), ((3, 3, 4, 8), 0.5)])
def test_orthogonal(shape, gain):
    q = I.Orthogonal(gain=gain, seed=3)(shape, "float64").reshape(-1, shape[-1])
    small = min(q.shape)
    gram = q.T @ q if q.shape[0] >= q.shape[1] else q @ q.T
    np.testing.assert_allclose(gram, gain ** 2 * np.eye(small), atol=1e-12)
    np.testing.assert_allclose(np.linalg.svd(q, compute_uv=False), gain, rtol=1e-12)


def test_orthogonal_is_haar_distributed_on_average():
    # Sign-fixed QR of a Gaussian matrix is Haar: E[Q] = 0 and E[Q_ij²] = 1/n.
    qs = np.stack([I.Orthogonal(seed=s)((8, 8), "float64") for s in range(400)])
    assert np.abs(qs.mean(0)).max() < 0.1
    np.testing.assert_allclose((qs ** 2).mean(0), 1 / 8, atol=0.03)


def test_seeds_are_reproducible():
    for cls in (I.GlorotUniform, I.HeNormal, I.LecunNormal, I.Orthogonal, I.TruncatedNormal, I.RandomUniform):
        a, b = cls(seed=5), cls(seed=5)
        np.testing.assert_array_equal(a((6, 4)), b((6, 4)))
        np.testing.assert_array_equal(a((6, 4)), a((6, 4), None, rng(99)))   # a seed overrides rng
        assert not np.array_equal(a((6, 4)), cls(seed=6)((6, 4)))
    # unseeded: drawn from the generator given, or the default one (set_seed)
    g = I.get("glorot_uniform")
    np.testing.assert_array_equal(g((3, 3), "float64", rng(1)), g((3, 3), "float64", rng(1)))
    I.set_seed(123)
    first = g((3, 3), "float64", None)
    I.set_seed(123)
    np.testing.assert_array_equal(first, g((3, 3), "float64", None))
    assert not np.array_equal(first, g((3, 3), "float64", None))


def test_initializer_lookup_and_config():
    assert isinstance(I.get("glorot_uniform"), I.GlorotUniform)
    assert isinstance(I.get("GlorotUniform"), I.GlorotUniform)
    assert isinstance(I.get(I.HeNormal), I.HeNormal)
    assert isinstance(I.get("normal"), I.RandomNormal) and isinstance(I.get("uniform"), I.RandomUniform)
    o = I.Orthogonal(gain=2.0, seed=4)
    assert I.get(o) is o
    again = I.get(I.serialize(o))
    assert isinstance(again, I.Orthogonal) and again.get_config() == {"gain": 2.0, "seed": 4}
    np.testing.assert_array_equal(again((4, 4)), o((4, 4)))
    vs = I.VarianceScaling(2.0, "fan_out", "uniform", seed=1)
    assert I.VarianceScaling.from_config(vs.get_config()).get_config() == vs.get_config()
    fn = lambda shape, dtype, rng: np.full(shape, 7.0, dtype)
    assert I.get(fn) is fn
    np.testing.assert_array_equal(I.get(np.arange(4.0).reshape(2, 2))((2, 2), "float32"), [[0, 1], [2, 3]])
    assert I.get(None) is None
    # the module-level names are usable as functions init(shape, dtype, rng)
    assert I.glorot_uniform((3, 2), "float64", rng(0)).shape == (3, 2)


def test_initializer_errors():
    with pytest.raises(ValueError, match=r"Unknown initializer 'glorot'.*glorot_uniform.*he_normal"):
        I.get("glorot")
    with pytest.raises(ValueError, match=r"at least 2-D.*shape=\(5,\)"):
        I.Orthogonal()((5,))
    with pytest.raises(ValueError, match="mode must be one of"):
        I.VarianceScaling(mode="fan_sum")
    with pytest.raises(ValueError, match="distribution must be one of"):
        I.VarianceScaling(distribution="cauchy")
    with pytest.raises(ValueError, match="scale must be a positive float"):
        I.VarianceScaling(scale=0.0)
    with pytest.raises(ValueError, match="seed must be a non-negative integer"):
        I.GlorotUniform(seed=1.5)
    with pytest.raises(ValueError, match=r"shape must be a tuple of non-negative integers"):
        I.glorot_uniform((3, -1), "float32", None)
    with pytest.raises(ValueError, match=r"only initialise 2-D"):
        I.Identity()((2, 2, 2))
    with pytest.raises(ValueError, match=r"array has shape \(2, 2\).*\(3, 3\)"):
        I.get(np.zeros((2, 2)))((3, 3))


# --- depth: what the theory claims -------------------------------------------------------------
WIDTH, DEPTH = 256, 50


def _preactivation_variances(init, act, q0=1.0, nets=1, batch=8, seed=0):
    """Var of the pre-activations h_l = x_{l−1} W_l at every layer, averaged over ``nets``
    independent networks (the theory's expectation over weights; one finite-width net fluctuates
    by a factor e^{±√(5L/n)} or so, Hanin & Rolnick 2018)."""
    g = rng(seed)
    x = g.normal(size=(nets, batch, WIDTH)) * np.sqrt(q0)
    out = []
    for _ in range(DEPTH):
        w = np.stack([init((WIDTH, WIDTH), "float64", g) for _ in range(nets)])
        h = x @ w
        out.append(np.mean(h * h))
        x = act(h)
    return np.array(out)


_RELU = lambda h: np.maximum(h, 0.0)


def test_he_initialization_keeps_relu_variance_through_50_layers():
    # He et al. 2015, eq. 10: Var[h_L] = Var[h_1] · Π ½ n Var[w] = Var[h_1] when Var[w] = 2/n.
    v = _preactivation_variances(I.get("he_normal"), _RELU, nets=12)
    assert 0.5 < v[-1] / v[0] < 2.0, v[-1] / v[0]
    # a bad scale compounds geometrically, (½ n σ²)^49: std 1.0 explodes, std 0.01 vanishes
    big = _preactivation_variances(I.RandomNormal(stddev=1.0), _RELU)
    small = _preactivation_variances(I.RandomNormal(stddev=0.01), _RELU)
    assert big[-1] / big[0] > 1e100
    assert small[-1] / small[0] < 1e-70
    np.testing.assert_allclose(np.log(big[-1] / big[0]), 49 * np.log(WIDTH / 2), rtol=0.05)


@pytest.mark.parametrize("name", ["glorot_uniform", "lecun_normal"])
def test_glorot_lecun_keep_tanh_variance_in_its_linear_regime(name):
    # Glorot & Bengio 2010 assume units in tanh's linear regime, where n·Var[w] = 1 preserves the
    # variance layer after layer (square layers: Glorot = LeCun).
    v = _preactivation_variances(I.get(name), np.tanh, q0=0.005, nets=2)
    assert 0.5 < v[-1] / v[0] < 2.0, v[-1] / v[0]
    small = _preactivation_variances(I.RandomNormal(stddev=0.01), np.tanh, q0=0.005)
    assert small[-1] / small[0] < 1e-55                    # (n σ²)^49 = 0.0256^49
    big = _preactivation_variances(I.RandomNormal(stddev=1.0), np.tanh, q0=0.005)
    assert big[-1] / big[0] > 50                           # saturated: Var[h] → n·E[tanh²] ≈ n


def test_glorot_tanh_outside_the_linear_regime_decays_only_as_a_power_law():
    # With unit-variance inputs tanh's curvature shrinks the variance, but n·Var[w] = 1 is the
    # critical point of the mean-field recursion q_{l+1} = E[tanh²(√q_l z)] (Poole et al. 2016;
    # Schoenholz et al. 2017): q_l ≈ 1/(2l), a power law, not the exponential 0.0256^l of std 0.01.
    v = _preactivation_variances(I.get("glorot_normal"), np.tanh, q0=1.0, nets=2)
    z, w = np.polynomial.hermite_e.hermegauss(60)
    w = w / w.sum()
    q, theory = 1.0, []
    for _ in range(DEPTH):
        theory.append(q)
        q = np.sum(w * np.tanh(np.sqrt(q) * z) ** 2)
    np.testing.assert_allclose(v[[0, 9, 49]], np.array(theory)[[0, 9, 49]], rtol=0.2)
    assert 0.5 < v[-1] * 2 * DEPTH < 2.0


# --------------------------------------------------------------------------------------------
# Regularizers
# --------------------------------------------------------------------------------------------

def test_regularizer_values_gradients_and_priors():
    w = G.normal(size=(5, 3))
    assert float(R.L1(0.3)(w)) == pytest.approx(0.3 * np.abs(w).sum())
    assert float(R.L2(0.2)(w)) == pytest.approx(0.2 * (w ** 2).sum())
    assert float(R.L1L2(0.3, 0.2)(w)) == pytest.approx(0.3 * np.abs(w).sum() + 0.2 * (w ** 2).sum())
    assert float(R.L1L2()(w)) == 0.0
    np.testing.assert_allclose(nm.grad(R.L1(0.3))(w), 0.3 * np.sign(w))
    np.testing.assert_allclose(nm.grad(R.L2(0.2))(w), 0.4 * w)
    np.testing.assert_array_equal(nm.grad(R.L1(1.0))(np.zeros(3)), np.zeros(3))   # abs′(0) = 0
    nm.check_grads(R.L1L2(0.3, 0.2), (w,), order=2)
    # MAP: λ‖w‖₁ is −ln Laplace(0, 1/λ) and λ‖w‖² is −ln N(0, 1/(2λ)), up to constants
    from scipy import stats
    lam = 0.7
    for reg, logpdf in ((R.L1(lam), stats.laplace(scale=1 / lam).logpdf),
                        (R.L2(lam), stats.norm(scale=np.sqrt(1 / (2 * lam))).logpdf)):
        a, b = w[0], w[1]
        np.testing.assert_allclose(float(reg(a)) - float(reg(b)), -(logpdf(a).sum() - logpdf(b).sum()), rtol=1e-10)
    assert R.L2(0.5)(np.ones(2, np.float32)).dtype == np.float32


def test_orthogonal_regularizer_is_zero_for_orthogonal_rows():
    q = I.Orthogonal(seed=0)((4, 6), "float64")
    assert float(R.OrthogonalRegularizer(1.0)(q)) == pytest.approx(0.0, abs=1e-12)
    assert float(R.OrthogonalRegularizer(1.0, mode="columns")(np.ones((3, 3)))) == pytest.approx(1.0)
    nm.check_grads(R.OrthogonalRegularizer(0.5), (G.normal(size=(3, 4)),), order=1)


def test_regularizer_lookup_config_and_errors():
    assert R.get(None) is None
    assert R.get("l1").get_config() == {"l1": 0.01}
    assert R.get("l2").get_config() == {"l2": 0.01}
    assert R.get("l1_l2").get_config() == {"l1": 0.01, "l2": 0.01}
    r = R.L1L2(l1=0.1, l2=0.2)
    assert R.get(R.serialize(r)).get_config() == r.get_config()
    assert isinstance(R.get(R.L2), R.L2)
    fn = lambda w: 0.0
    assert R.get(fn) is fn
    with pytest.raises(ValueError, match=r"Unknown regularizer 'l3'.*l1, l1_l2, l2"):
        R.get("l3")
    with pytest.raises(ValueError, match=r"l1 must be a non-negative float, got l1=-0.1"):
        R.L1(-0.1)
    with pytest.raises(ValueError, match=r"mode must be 'rows' or 'columns'"):
        R.OrthogonalRegularizer(mode="diag")


# --------------------------------------------------------------------------------------------
# Activations
# --------------------------------------------------------------------------------------------
KINKS = {"relu": [0], "leaky_relu": [0], "relu6": [0, 6], "hard_sigmoid": [-3, 3], "hard_silu": [-3, 3],
         "hard_tanh": [-1, 1], "elu": [0], "selu": [0], "celu": [0]}


def _away_from_kinks(name, x):
    for k in KINKS.get(name, []):
        x = np.where(np.abs(x - k) < 0.05, x + 0.1, x)
    return x


X = np.concatenate([np.linspace(-7.3, 7.1, 13), G.normal(size=11) * 3]).reshape(4, 6)


def _torch_activations(torch):
    F = torch.nn.functional
    return {
        "relu": F.relu, "leaky_relu": lambda x: F.leaky_relu(x, 0.2), "relu6": F.relu6,
        "elu": F.elu, "selu": F.selu, "celu": lambda x: F.celu(x, 1.0), "gelu": F.gelu,
        "sigmoid": torch.sigmoid, "hard_sigmoid": F.hardsigmoid, "hard_silu": F.hardswish,
        "hard_tanh": F.hardtanh, "tanh": torch.tanh, "softmax": lambda x: F.softmax(x, dim=-1),
        "log_softmax": lambda x: F.log_softmax(x, dim=-1), "softplus": F.softplus,
        "softsign": F.softsign, "silu": F.silu, "swish": F.silu, "mish": F.mish, "linear": lambda x: x,
        "exponential": torch.exp, "log_sigmoid": F.logsigmoid,
    }


ACTIVATIONS = ["relu", "leaky_relu", "relu6", "elu", "selu", "celu", "gelu", "sigmoid", "hard_sigmoid",
               "hard_silu", "hard_tanh", "tanh", "softmax", "log_softmax", "softplus", "softsign", "silu",
               "swish", "mish", "linear", "exponential", "log_sigmoid"]


def _torch_value_and_grad(torch, f, *args, wrt=(0,)):
    ts = [torch.tensor(a, dtype=torch.float64, requires_grad=i in wrt) for i, a in enumerate(args)]
    out = f(*ts)
    out.backward()
    return out.detach().numpy(), [ts[i].grad.numpy() for i in wrt]


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activation_matches_torch(name):
    torch = pytest.importorskip("torch")
    x = _away_from_kinks(name, X)
    ours, theirs = A.get(name), _torch_activations(torch)[name]
    w = G.normal(size=x.shape)
    np.testing.assert_allclose(ours(x), theirs(torch.tensor(x)).numpy(), rtol=1e-6, atol=1e-12)
    _, (tg,) = _torch_value_and_grad(torch, lambda t: (theirs(t) * torch.tensor(w)).sum(), x)
    np.testing.assert_allclose(nm.grad(lambda t: mnp.sum(ours(t) * w))(x), tg, rtol=1e-6, atol=1e-12)


def test_gelu_tanh_approximation_matches_torch():
    torch = pytest.importorskip("torch")
    f = lambda t: torch.nn.functional.gelu(t, approximate="tanh")
    # atol: torch forms ½x(1 + tanh u), which cancels for x ≪ 0 (nnmath uses x σ(2u))
    np.testing.assert_allclose(A.gelu(X, approximate="tanh"), f(torch.tensor(X)).numpy(), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(A.gelu(X, approximate=True), A.gelu(X, approximate="tanh"))
    _, (tg,) = _torch_value_and_grad(torch, lambda t: f(t).sum(), X)
    g = nm.grad(lambda t: mnp.sum(A.gelu(t, approximate="tanh")))(X)
    np.testing.assert_allclose(g, tg, rtol=1e-6, atol=1e-9)


ACT_ROWS = [Row((), (lambda f: lambda x: f(x))(A.get(n)), (_away_from_kinks(n, X),), id=n) for n in ACTIVATIONS]
ACT_ROWS += [
    Row((), lambda x: A.gelu(x, approximate="tanh"), (X,), id="gelu-tanh"),
    Row((), lambda x: A.leaky_relu(x, alpha=0.05), (_away_from_kinks("relu", X),), id="leaky_relu-0.05"),
    Row((), lambda x: A.elu(x, alpha=0.5), (_away_from_kinks("elu", X),), id="elu-0.5"),
    Row((), lambda x: A.softmax(x, axis=0), (X,), id="softmax-axis0"),
]


@pytest.mark.parametrize("row", ACT_ROWS, ids=lambda r: r.id)
def test_activation_derivatives_to_second_order(row):
    run_row(row)


BIG = np.array([-1000.0, -50.0, -1e-3, 1e-3, 50.0, 1000.0])


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", [n for n in ACTIVATIONS if n != "exponential"] + ["gelu-tanh"])
def test_activation_is_stable_at_large_inputs(name, dtype):
    torch = pytest.importorskip("torch")
    f = (lambda x: A.gelu(x, approximate="tanh")) if name == "gelu-tanh" else A.get(name)
    x = BIG.astype(dtype)
    with warnings.catch_warnings(), np.errstate(over="raise", invalid="raise", divide="raise"):
        warnings.simplefilter("error")
        y = f(x)
        g = nm.grad(lambda t: mnp.sum(f(t)))(x)
        h = nm.jvp(nm.grad(lambda t: mnp.sum(f(t))), (x,), (np.ones_like(x),))[1]    # f″ (diagonal)
    for a in (y, g, h):
        assert np.all(np.isfinite(a)) and a.dtype == np.dtype(dtype), (name, a)
    if dtype == "float64" and name != "gelu-tanh":
        theirs = _torch_activations(torch)[name]
        np.testing.assert_allclose(y, theirs(torch.tensor(BIG)).numpy(), rtol=1e-6, atol=1e-12)
        _, (tg,) = _torch_value_and_grad(torch, lambda t: theirs(t).sum(), BIG)
        np.testing.assert_allclose(g, tg, rtol=1e-6, atol=1e-12)


def test_activation_conventions_at_kinks():
    d = lambda f, x: float(nm.grad(f)(x))
    assert d(A.relu, 0.0) == 0.0
    assert d(lambda x: A.leaky_relu(x, alpha=0.1), 0.0) == pytest.approx(0.1)
    assert d(A.elu, 0.0) == 1.0
    assert d(A.relu6, 0.0) == 0.0 and d(A.relu6, 6.0) == 0.0 and d(A.relu6, 3.0) == 1.0
    assert d(A.hard_sigmoid, -3.0) == 0.0 and d(A.hard_sigmoid, 0.0) == pytest.approx(1 / 6)
    assert d(A.hard_tanh, 1.0) == 0.0
    np.testing.assert_array_equal(A.relu6(np.array([-1.0, 7.0], np.float32)), np.array([0.0, 6.0], np.float32))


def test_activation_lookup():
    assert A.get(None) is A.linear
    assert A.get("swish") is A.silu and A.get("hard_swish") is A.hard_silu
    assert A.get(np.tanh) is np.tanh
    assert A.serialize(A.get("relu")) == "relu" and A.serialize(A.swish) == "silu"
    assert A.leaky_relu(np.array([-1.0]), negative_slope=0.3)[0] == pytest.approx(-0.3)
    assert A.leaky_relu(np.array([-1.0]))[0] == pytest.approx(-0.2)          # Keras 3 default
    with pytest.raises(ValueError, match=r"Unknown activation 'relu2'; valid names: .*gelu.*relu6.*tanh"):
        A.get("relu2")
    with pytest.raises(ValueError, match="approximate"):
        A.gelu(X, approximate="erf")
    with pytest.raises(ValueError, match="not both"):
        A.leaky_relu(X, alpha=0.1, negative_slope=0.1)
    from nnmath.nn.activations import relu
    assert relu is nm.nn.relu


# --------------------------------------------------------------------------------------------
# Losses against PyTorch: values and gradients with respect to the predictions
# --------------------------------------------------------------------------------------------

def _torch_losses(torch):
    F = torch.nn.functional
    T = lambda a: torch.tensor(a, dtype=torch.float64)
    smooth_bin = lambda y, s: y * (1 - s) + 0.5 * s
    renorm = lambda p: p / p.sum(-1, keepdim=True)      # Keras renormalises probabilities (so its gradient)
    return [  # (id, our loss object, y_true, y_pred, torch function of the prediction tensor)
        ("mse", L.MeanSquaredError(), YR, PR, lambda p: F.mse_loss(p, T(YR))),
        ("mae", L.MeanAbsoluteError(), YR, PR, lambda p: F.l1_loss(p, T(YR))),
        ("huber", L.Huber(delta=0.8), YR, PR, lambda p: F.huber_loss(p, T(YR), delta=0.8)),
        ("bce", L.BinaryCrossentropy(), BIN, PB, lambda p: F.binary_cross_entropy(p, T(BIN))),
        ("bce-logits", L.BinaryCrossentropy(from_logits=True), BIN, PR,
         lambda p: F.binary_cross_entropy_with_logits(p, T(BIN))),
        ("bce-logits-smoothing", L.BinaryCrossentropy(from_logits=True, label_smoothing=0.2), BIN, PR,
         lambda p: F.binary_cross_entropy_with_logits(p, T(smooth_bin(BIN, 0.2)))),
        ("cce", L.CategoricalCrossentropy(), ONE_HOT, PROBS,
         lambda p: -(T(ONE_HOT) * renorm(p).log()).sum(-1).mean()),
        ("cce-logits", L.CategoricalCrossentropy(from_logits=True), SOFT, LOGITS,
         lambda p: F.cross_entropy(p, T(SOFT))),
        ("cce-logits-smoothing", L.CategoricalCrossentropy(from_logits=True, label_smoothing=0.1), ONE_HOT,
         LOGITS, lambda p: F.cross_entropy(p, T(ONE_HOT), label_smoothing=0.1)),
        ("scce", L.SparseCategoricalCrossentropy(), LABELS, PROBS,
         lambda p: F.nll_loss(renorm(p).log(), torch.tensor(LABELS))),
        ("scce-logits", L.SparseCategoricalCrossentropy(from_logits=True), LABELS, LOGITS,
         lambda p: F.cross_entropy(p, torch.tensor(LABELS))),
        ("scce-logits-ignore", L.SparseCategoricalCrossentropy(from_logits=True, ignore_class=3), LABELS,
         LOGITS, lambda p: F.cross_entropy(p, torch.tensor(LABELS), ignore_index=3)),
        ("kld", L.KLDivergence(), SOFT, PROBS, lambda p: F.kl_div(p.log(), T(SOFT), reduction="batchmean")),
        ("poisson", L.Poisson(), POS, POS[::-1].copy(),
         lambda p: F.poisson_nll_loss(p, T(POS), log_input=False, eps=1e-7)),
        ("cosine", L.CosineSimilarity(), YR, PR, lambda p: -F.cosine_similarity(p, T(YR), dim=-1).mean()),
    ]


def _loss_ids():
    return ["mse", "mae", "huber", "bce", "bce-logits", "bce-logits-smoothing", "cce", "cce-logits",
            "cce-logits-smoothing", "scce", "scce-logits", "scce-logits-ignore", "kld", "poisson", "cosine"]


@pytest.mark.parametrize("case", _loss_ids())
def test_loss_matches_torch(case):
    torch = pytest.importorskip("torch")
    _, loss, y_true, y_pred, theirs = dict((c[0], c) for c in _torch_losses(torch))[case]
    value, (tg,) = _torch_value_and_grad(torch, theirs, y_pred)
    np.testing.assert_allclose(loss(y_true, y_pred), value, rtol=1e-6)
    np.testing.assert_allclose(nm.grad(lambda p: loss(y_true, p))(y_pred), tg, rtol=1e-6, atol=1e-12)


def test_gaussian_nll_matches_torch():
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    var = POS.copy()
    var[0, 0] = 1e-9                                           # below eps: torch's clamp in value only
    for full in (False, True):
        ours = lambda m, v: L.GaussianNLL(full=full)(YR, (m, v))
        value, (gm, gv) = _torch_value_and_grad(
            torch, lambda m, v: F.gaussian_nll_loss(m, torch.tensor(YR), v, full=full), PR, var, wrt=(0, 1))
        np.testing.assert_allclose(ours(PR, var), value, rtol=1e-6)
        ggm, ggv = nm.grad(ours, argnums=(0, 1))(PR, var)
        np.testing.assert_allclose(ggm, gm, rtol=1e-6)
        np.testing.assert_allclose(ggv, gv, rtol=1e-6)
    # one array holding means and variances in the halves of its last axis
    both = np.concatenate([PR, POS], axis=-1)
    np.testing.assert_allclose(L.gaussian_nll(YR, both), L.gaussian_nll(YR, (PR, POS)))


def _np_per_sample(name, y, p):
    """Keras's per-sample formulas for the losses torch lacks."""
    e = p - y
    pm = 2 * y - 1 if np.isin(y, (0, 1)).all() else y
    return {
        "log_cosh": np.mean(np.log(np.cosh(e)), -1),
        "mape": 100 * np.mean(np.abs(e) / np.maximum(np.abs(y), 1e-7), -1),
        "msle": np.mean((np.log1p(np.maximum(p, 1e-7)) - np.log1p(np.maximum(y, 1e-7))) ** 2, -1),
        "hinge": np.mean(np.maximum(1 - pm * p, 0), -1),
        "squared_hinge": np.mean(np.maximum(1 - pm * p, 0) ** 2, -1),
        "categorical_hinge": np.maximum(np.max((1 - y) * p, -1) - np.sum(y * p, -1) + 1, 0),
    }[name]


@pytest.mark.parametrize("name,fn,y,p", [
    ("log_cosh", L.log_cosh, YR, PR), ("mape", L.mean_absolute_percentage_error, YR, PR),
    ("msle", L.mean_squared_logarithmic_error, POS, POS[::-1]), ("hinge", L.hinge, BIN, PR),
    ("squared_hinge", L.squared_hinge, BIN, PR), ("categorical_hinge", L.categorical_hinge, ONE_HOT, PR)])
def test_other_keras_losses_match_their_formulas(name, fn, y, p):
    np.testing.assert_allclose(fn(y, p), _np_per_sample(name, y, p), rtol=1e-12)


# --------------------------------------------------------------------------------------------
# Losses: derivatives to second order, both modes, in y_pred (and soft labels where smooth)
# --------------------------------------------------------------------------------------------
LOSS_ROWS = [
    Row((), lambda p: L.mean_squared_error(YR, p), (PR,), id="mse"),
    Row((), lambda p: L.mean_absolute_error(YR, p), (PR,), id="mae"),
    Row((), lambda p: L.huber(YR, p, delta=0.8), (PR,), id="huber"),
    Row((), lambda p: L.log_cosh(YR, p), (PR,), id="log_cosh"),
    Row((), lambda p: L.mean_absolute_percentage_error(YR, p), (PR,), id="mape"),
    Row((), lambda p: L.mean_squared_logarithmic_error(POS, p), (POS[::-1],), id="msle"),
    Row((), lambda p: L.hinge(BIN, p), (PR,), id="hinge"),
    Row((), lambda p: L.squared_hinge(BIN, p), (PR,), id="squared_hinge"),
    Row((), lambda p: L.categorical_hinge(ONE_HOT, p), (PR,), id="categorical_hinge"),
    Row((), lambda y, p: L.binary_crossentropy(y, p), (PB[::-1], PB), id="bce"),
    Row((), lambda y, z: L.binary_crossentropy(y, z, from_logits=True, label_smoothing=0.1), (PB, PR),
        id="bce-logits"),
    Row((), lambda y, p: L.categorical_crossentropy(y, p), (Y_IN, P_IN), id="cce"),
    Row((), lambda y, z: L.categorical_crossentropy(y, z, from_logits=True, label_smoothing=0.1), (SOFT, LOGITS),
        id="cce-logits"),
    Row((), lambda p: L.sparse_categorical_crossentropy(LABELS, p), (P_IN,), id="scce"),
    Row((), lambda z: L.sparse_categorical_crossentropy(LABELS, z, from_logits=True), (LOGITS,), id="scce-logits"),
    Row((), lambda y, p: L.kl_divergence(y, p), (Y_IN, P_IN), id="kld"),
    Row((), lambda y, p: L.poisson(y, p), (POS, POS[::-1]), id="poisson"),
    Row((), lambda y, p: L.cosine_similarity(y, p), (YR, PR), id="cosine"),
    Row((), lambda m, v: L.gaussian_nll(YR, (m, v), full=True), (PR, POS), id="gaussian_nll"),
    Row((), lambda p: L.CategoricalCrossentropy(from_logits=True)(ONE_HOT, p, sample_weight=SW), (LOGITS,),
        id="class-weighted"),
]


@pytest.mark.parametrize("row", LOSS_ROWS, ids=lambda r: r.id)
def test_loss_derivatives_to_second_order(row):
    run_row(row)


def test_losses_are_stable_at_extreme_logits_and_probabilities():
    z = np.array([[1000.0, -1000.0, 0.0], [-1000.0, -1000.0, 1000.0]])
    y = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    cases = [
        (lambda p: L.binary_crossentropy(y, p, from_logits=True), z, [(1000 + 1000 + np.log(2)) / 3, 0.0]),
        (lambda p: L.categorical_crossentropy(y, p, from_logits=True), z, [2000.0, 0.0]),
        (lambda p: L.sparse_categorical_crossentropy(y.argmax(-1), p, from_logits=True), z, [2000.0, 0.0]),
        (lambda p: L.log_cosh(y, p), z, None),
        (lambda p: L.binary_crossentropy(y, p), np.array([[1.0, 0.0, 0.5], [0.0, 0.0, 1.0]]), None),
        (lambda p: L.categorical_crossentropy(y, p), np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]),
         [-np.log(1e-7), -np.log(1 - 1e-7)]),
        (lambda p: L.kl_divergence(y, p), np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]), None),
    ]
    for f, p, expect in cases:
        with warnings.catch_warnings(), np.errstate(over="raise", invalid="raise", divide="raise"):
            warnings.simplefilter("error")
            v = f(p)
            g = nm.grad(lambda q: mnp.sum(f(q)))(p)
            h = nm.jvp(nm.grad(lambda q: mnp.sum(f(q))), (p,), (np.ones_like(p),))[1]
        assert np.isfinite(v).all() and np.isfinite(g).all() and np.isfinite(h).all()
        if expect is not None:
            np.testing.assert_allclose(v, expect, rtol=1e-12)
    # the clipped entries get no gradient (Keras/TF clip: zero outside [ε, 1 − ε])
    g = nm.grad(lambda p: mnp.sum(L.binary_crossentropy(y, p)))(np.array([[1.0, 0.0, 0.5], [0.0, 0.0, 1.0]]))
    assert g[0, 0] == 0.0 and g[1, 2] == 0.0


def test_float32_predictions_give_float32_losses_and_gradients():
    z32 = LOGITS.astype(np.float32)
    for loss, y in ((L.CategoricalCrossentropy(from_logits=True), ONE_HOT),
                    (L.SparseCategoricalCrossentropy(from_logits=True), LABELS),
                    (L.BinaryCrossentropy(from_logits=True), (LOGITS > 0).astype(int)),
                    (L.MeanSquaredError(), YR[:, :C])):
        v, g = nm.value_and_grad(lambda p: loss(y, p))(z32)
        assert v.dtype == np.float32 and g.dtype == np.float32, loss
        np.testing.assert_allclose(v, loss(y, LOGITS), rtol=1e-5)


def test_per_example_gradients_of_a_sparse_loss_under_vmap():
    w = G.normal(size=(5, C))
    x = G.normal(size=(N, 5))
    f = lambda w, xi, yi: L.SparseCategoricalCrossentropy(from_logits=True)(yi[None], (xi @ w)[None])
    per = nm.vmap(nm.grad(f), in_axes=(None, 0, 0))(w, x, LABELS)
    loop = np.stack([nm.grad(f)(w, x[i], LABELS[i]) for i in range(N)])
    np.testing.assert_allclose(per, loop, rtol=1e-12)
    np.testing.assert_allclose(per.mean(0), nm.grad(lambda w: L.SparseCategoricalCrossentropy(
        from_logits=True)(LABELS, x @ w))(w), rtol=1e-12)


# --------------------------------------------------------------------------------------------
# Reductions and sample weights: Keras's formulas
# --------------------------------------------------------------------------------------------

def _keras_reduce(per, sw, reduction):
    """Keras 3: weight (ranks matched), then sum / sum ÷ count of entries / ÷ Σ weights / none."""
    per = np.asarray(per, float)
    if sw is not None:
        sw = np.asarray(sw, float)
        if sw.ndim == per.ndim + 1 and sw.shape[-1] == 1:
            sw = sw[..., 0]
        sw = sw.reshape(sw.shape + (1,) * (per.ndim - sw.ndim)) if sw.ndim else sw
        per = per * sw
    return {"none": per, "sum": per.sum(), "sum_over_batch_size": per.sum() / per.size,
            "mean": per.sum() / per.size,
            "mean_with_sample_weight": per.sum() / (per.size if sw is None else np.sum(sw))}[reduction]


REDUCTIONS = ["sum_over_batch_size", "sum", "none", "mean", "mean_with_sample_weight"]


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("sw", [None, SW, SW[:, None], 2.5], ids=["none", "(N,)", "(N,1)", "scalar"])
@pytest.mark.parametrize("cls,fn,y,p", [
    (L.MeanSquaredError, L.mean_squared_error, YR, PR),
    (L.CategoricalCrossentropy, L.categorical_crossentropy, ONE_HOT, PROBS),
    (L.SparseCategoricalCrossentropy, L.sparse_categorical_crossentropy, LABELS, PROBS),
    (L.Huber, L.huber, YR, PR)], ids=["mse", "cce", "scce", "huber"])
def test_reductions_and_sample_weights(cls, fn, y, p, sw, reduction):
    got = cls(reduction=reduction)(y, p, sample_weight=sw)
    want = _keras_reduce(fn(y, p), sw, reduction)
    if reduction == "none" and sw is not None and np.ndim(sw) == 2:
        want = want.reshape(-1, 1)             # Keras expands the losses to the weights' (N, 1)
    np.testing.assert_allclose(got, want, rtol=1e-12)
    assert np.shape(got) == np.shape(want)


def test_sequence_losses_weight_samples_by_their_leading_axis():
    y, p = G.normal(size=(3, 5, 2)), G.normal(size=(3, 5, 2))
    per = ((y - p) ** 2).mean(-1)                                  # (3, 5)
    sw = np.array([1.0, 0.0, 2.0])
    np.testing.assert_allclose(L.MeanSquaredError()(y, p, sample_weight=sw), (per * sw[:, None]).sum() / per.size)
    sw2 = G.uniform(size=(3, 5))                                    # per-timestep weights
    np.testing.assert_allclose(L.MeanSquaredError(reduction="sum")(y, p, sample_weight=sw2), (per * sw2).sum())


def test_rank_matching_of_labels_and_predictions():
    # (N,) against (N, 1) is N samples (Keras's squeeze_or_expand_to_same_rank), not an N×N broadcast
    y, p = YR[:, 0], PR[:, :1]
    want = np.mean((y - p[:, 0]) ** 2)
    np.testing.assert_allclose(L.MeanSquaredError()(y, p), want)
    np.testing.assert_allclose(L.MeanSquaredError()(p, y), want)
    np.testing.assert_allclose(L.mean_squared_error(y, p), (y - p[:, 0]) ** 2)
    np.testing.assert_allclose(L.BinaryCrossentropy()(BIN[:, 0], PB[:, :1]),
                               L.BinaryCrossentropy()(BIN[:, :1], PB[:, :1]))
    np.testing.assert_allclose(L.SparseCategoricalCrossentropy()(LABELS[:, None], PROBS),
                               L.SparseCategoricalCrossentropy()(LABELS, PROBS))


def test_ignore_class_is_left_out_of_the_mean():
    per = L.sparse_categorical_crossentropy(LABELS, LOGITS, from_logits=True)
    valid = LABELS != 3
    got = L.SparseCategoricalCrossentropy(from_logits=True, ignore_class=3)(LABELS, LOGITS)
    np.testing.assert_allclose(got, per[valid].sum() / valid.sum(), rtol=1e-6)     # Keras: ÷ (kept + ε)
    none = L.SparseCategoricalCrossentropy(from_logits=True, ignore_class=3, reduction="none")(LABELS, LOGITS)
    assert np.all(none[~valid] == 0)
    labels = np.where(valid, LABELS, -1)                    # an out-of-range ignore label is allowed
    loss = L.SparseCategoricalCrossentropy(from_logits=True, ignore_class=-1)
    np.testing.assert_allclose(loss(labels, LOGITS), got)


def test_label_smoothing_formulas():
    s = 0.2
    np.testing.assert_allclose(L.categorical_crossentropy(ONE_HOT, LOGITS, from_logits=True, label_smoothing=s),
                               L.categorical_crossentropy(ONE_HOT * (1 - s) + s / C, LOGITS, from_logits=True))
    np.testing.assert_allclose(L.binary_crossentropy(BIN, PB, label_smoothing=s),
                               L.binary_crossentropy(BIN * (1 - s) + s / 2, PB))


# --------------------------------------------------------------------------------------------
# Lookup, configuration, errors
# --------------------------------------------------------------------------------------------

def test_loss_lookup_and_config():
    for name, cls in [("mse", L.MeanSquaredError), ("mean_squared_error", L.MeanSquaredError),
                      ("MeanSquaredError", L.MeanSquaredError), ("mae", L.MeanAbsoluteError),
                      ("categorical_crossentropy", L.CategoricalCrossentropy),
                      ("sparse_categorical_crossentropy", L.SparseCategoricalCrossentropy),
                      ("binary_crossentropy", L.BinaryCrossentropy), ("bce", L.BinaryCrossentropy),
                      ("kld", L.KLDivergence), ("huber", L.Huber), ("poisson", L.Poisson),
                      ("cosine_similarity", L.CosineSimilarity), ("gaussian_nll", L.GaussianNLL)]:
        assert type(L.get(name)) is cls, name
    assert type(L.get(L.mean_absolute_error)) is L.MeanAbsoluteError
    h = L.Huber(delta=2.0, reduction="sum", name="h")
    assert L.get(h) is h
    assert h.delta == 2.0 and L.get("bce").from_logits is False          # arguments as attributes
    assert L.BinaryCrossentropy(from_logits=True).from_logits is True
    with pytest.raises(AttributeError, match="no attribute 'delta'"):
        L.MeanSquaredError().delta
    cfg = L.serialize(L.CategoricalCrossentropy(from_logits=True, label_smoothing=0.1))
    assert cfg == {"class_name": "CategoricalCrossentropy", "config": {
        "name": "categorical_crossentropy", "reduction": "sum_over_batch_size", "from_logits": True,
        "label_smoothing": 0.1, "axis": -1}}
    again = L.get(cfg)
    assert again.get_config() == cfg["config"]
    assert L.Huber.from_config(h.get_config()).get_config() == h.get_config()
    assert L.SparseCategoricalCrossentropy.from_config(
        L.SparseCategoricalCrossentropy(ignore_class=0).get_config())._fn_kwargs["ignore_class"] == 0
    # a user function becomes a Loss (as Keras's compile does): scalar, with sample weights
    mine = L.get(lambda y, p: mnp.mean(mnp.abs(y - p) ** 3, axis=-1))
    np.testing.assert_allclose(mine(YR, PR, sample_weight=SW), np.mean(np.mean(np.abs(YR - PR) ** 3, -1) * SW))
    assert L.get(None) is None


def test_loss_errors_name_the_problem():
    with pytest.raises(ValueError, match=r"categorical_crossentropy expects one-hot labels y_true of y_pred's "
                                         r"shape \(6, 4\) \(4 classes.*y_true.shape=\(6,\).*sparse_categorical"):
        L.CategoricalCrossentropy()(LABELS, PROBS)
    with pytest.raises(ValueError, match=r"y_true has 3 classes on axis 1 but y_pred has 4"):
        L.categorical_crossentropy(ONE_HOT[:, :3], PROBS)
    with pytest.raises(ValueError, match=r"sparse_categorical_crossentropy expects integer class labels of "
                                         r"shape \(6,\).*4 classes.*y_true.shape=\(6, 4\).*looks one-hot.*"
                                         r"use categorical_crossentropy"):
        L.SparseCategoricalCrossentropy()(ONE_HOT, PROBS)
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 4\) for the 4 classes.*from 0 to 7"):
        L.sparse_categorical_crossentropy(np.array([0, 1, 2, 7, 1, 1]), PROBS)
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 4\).*from -1 to"):
        L.sparse_categorical_crossentropy(np.array([0, 1, 2, -1, 1, 1]), PROBS)
    with pytest.raises(ValueError, match=r"integer class labels; received non-integer values such as \[0.5\]"):
        L.sparse_categorical_crossentropy(np.array([0, 1, 2, 0.5, 1, 1]), PROBS)
    with pytest.raises(ValueError, match=r"of shape \(6,\).*received y_true.shape=\(5,\)"):
        L.sparse_categorical_crossentropy(LABELS[:5], PROBS)
    with pytest.raises(ValueError, match=r"binary_crossentropy: y_true and y_pred must have the same shape; "
                                         r"received y_true.shape=\(6, 3\), y_pred.shape=\(6, 4\)"):
        L.binary_crossentropy(BIN[:, :3], PB)
    with pytest.raises(ValueError, match=r"mean_squared_error: y_true and y_pred have incompatible shapes"):
        L.MeanSquaredError()(YR[:, :3], PR)
    with pytest.raises(ValueError, match=r"Invalid value for argument reduction.*received reduction='avg'"):
        L.MeanSquaredError(reduction="avg")
    with pytest.raises(ValueError, match=r"sample_weight of shape \(5,\) does not fit the per-sample losses "
                                         r"of shape \(6,\)"):
        L.MeanSquaredError()(YR, PR, sample_weight=SW[:5])
    with pytest.raises(ValueError, match=r"Unknown loss 'msee'; valid names: .*mse"):
        L.get("msee")
    with pytest.raises(ValueError, match="label_smoothing must be in"):
        L.categorical_crossentropy(ONE_HOT, PROBS, label_smoothing=1.5)
    with pytest.raises(ValueError, match="the variance has negative entries"):
        L.gaussian_nll(YR, (PR, -POS))
    with pytest.raises(ValueError, match="delta must be positive"):
        L.huber(YR, PR, delta=0.0)
    with pytest.warns(UserWarning, match="single class"):
        L.categorical_crossentropy(np.ones((3, 1)), np.ones((3, 1)))
