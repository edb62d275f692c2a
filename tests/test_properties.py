"""Property tests: identities every derivative nnmath computes must satisfy, on random inputs.

* ⟨u, J v⟩ = ⟨Jᵀu, v⟩: forward and reverse mode are transposes of each other (also at kinks and
  ties, where both follow the same convention);
* jacfwd(f) = jacrev(f);
* hvp(f, (x,), (v,)) = hessian(f)(x) · v;
* derivatives are linear in the function: ∇(a f + g) = a ∇f + ∇g; and J(a v + w) = a Jv + Jw;
* gradients agree with central finite differences (``nm.check_grads`` and a directional one);
* gradients of pytrees keep the pytree's structure, shapes and dtypes;
* float32 inputs give float32 values and derivatives.
"""
from __future__ import annotations

import collections
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import nnmath as nm
import nnmath.numpy as mnp
import nnmath.scipy.special as msp

SETTINGS = dict(deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
# NNMATH_PROPERTY_SCALE=10 (say) runs ten times as many examples, for a deeper search.
_SCALE = float(os.environ.get("NNMATH_PROPERTY_SCALE", "1"))
FEW = settings(max_examples=max(1, int(20 * _SCALE)), **SETTINGS)
SOME = settings(max_examples=max(1, int(40 * _SCALE)), **SETTINGS)


def _floats(lo, hi, width=64):
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False, allow_subnormal=False, width=width)


def float_arrays(dtype=np.float64, lo=-2.0, hi=2.0, min_dims=1, max_dims=2, max_side=4, elements=None):
    if elements is None:
        elements = _floats(lo, hi, 32 if dtype == np.float32 else 64)
    shapes = hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=1, max_side=max_side)
    return hnp.arrays(dtype, shapes, elements=elements)


seeds = st.integers(0, 2 ** 32 - 1)


def _fixed(shape, dtype, salt=0):
    """A constant matrix determined by its shape (so that functions stay shape-generic)."""
    rng = np.random.default_rng(hash((shape, salt)) % 2 ** 32)
    return (rng.standard_normal(shape) / np.sqrt(shape[0])).astype(dtype)


def _row_offsets(x):
    return 10.0 * np.arange(x.shape[0], dtype=x.dtype).reshape((-1,) + (1,) * (x.ndim - 1))


def _flat(x):
    return mnp.reshape(x, (-1,))


# name -> (function of one array of any shape (1-D or 2-D), smooth everywhere on [-2, 2]?)
FUNCTIONS = {
    "sin_exp": (lambda x: mnp.sin(x) * mnp.exp(0.3 * x), True),
    "tanh_poly": (lambda x: mnp.tanh(x) ** 2 + x ** 3, True),
    "softmax": (lambda x: msp.softmax(x, axis=-1), True),
    "log_softmax": (lambda x: msp.log_softmax(x, axis=0), True),
    "logsumexp": (lambda x: msp.logsumexp(x, axis=0), True),
    "normalize": (lambda x: x / mnp.sqrt(mnp.sum(x * x) + 1.0), True),
    "outer_sin": (lambda x: mnp.outer(x, mnp.sin(x)), True),
    "matmul_fixed": (lambda x: _flat(x) @ _fixed((x.size, 3), x.dtype), True),
    "mlp": (lambda x: mnp.tanh(_flat(x) @ _fixed((x.size, 4), x.dtype)) @ _fixed((4, 2), x.dtype, 1),
            True),
    "einsum_outer_cos": (lambda x: mnp.einsum("i,j->ij", _flat(x), mnp.cos(_flat(x))), True),
    "cumsum_square": (lambda x: mnp.cumsum(x * x, axis=-1), True),
    # (shifted away from 0: see test_prod_second_order_with_a_tiny_element)
    "prod_rows": (lambda x: mnp.prod(x + 3.0, axis=-1), True),
    "cumprod": (lambda x: mnp.cumprod(0.5 * x + 1.5, axis=0), True),
    "var_axis0": (lambda x: mnp.var(x, axis=0), True),
    "erf_expit": (lambda x: msp.erf(x) * msp.expit(x), True),
    "softplus": (lambda x: mnp.logaddexp(0.0, x), True),
    "hypot": (lambda x: mnp.hypot(x, 1.0 + 0.1 * x), True),
    "arctan2": (lambda x: mnp.arctan2(x, 1.5 + x * x), True),
    "gammaln": (lambda x: msp.gammaln(x + 3.0), True),
    "norm_shifted": (lambda x: mnp.linalg.norm(x + 3.0, axis=-1), True),
    "flip_roll": (lambda x: mnp.flip(x) * mnp.roll(x, 1), True),
    "index_gather": (lambda x: _flat(x)[::-1][np.array([0, 0, -1])] * mnp.sum(x), True),
    "at_add": (lambda x: mnp.at(mnp.sin(x))[..., 0].add(x[..., -1] ** 2), True),
    "pad_edge": (lambda x: mnp.pad(x, 1, mode="edge") ** 2, True),
    "stack_concat": (lambda x: mnp.concatenate([mnp.stack([x, x * x]), mnp.expand_dims(mnp.exp(x), 0)]),
                     True),
    # kinks and ties: no finite-difference check, but every other identity must hold
    "abs": (lambda x: mnp.abs(x) * x, False),
    "max_last": (lambda x: mnp.max(x, axis=-1), False),
    "min_all": (lambda x: mnp.min(x ** 2), False),
    "sort": (lambda x: mnp.sort(x, axis=-1) * mnp.arange(x.shape[-1], dtype=x.dtype), False),
    "clip": (lambda x: mnp.clip(x, -0.5, 0.5) * x, False),
    "maximum": (lambda x: mnp.maximum(x, 0.5 * mnp.flip(x)), False),
    "leaky_relu": (lambda x: mnp.where(x > 0, x, 0.1 * x), False),
    # rows 10 apart keep the variance away from 0 (where √ is ill-conditioned) unless there is one
    # row: then it is exactly 0, the sqrt′(0) = 0 convention
    "std": (lambda x: mnp.std(x + _row_offsets(x), axis=0), False),
}
SMOOTH = [name for name, (_, smooth) in FUNCTIONS.items() if smooth]


def _scalar(f):
    """A scalar function with a non-trivial Hessian built on f."""
    return lambda x: mnp.sum(mnp.sin(f(x)) + 0.5 * f(x) ** 2)


def _dot(a, b) -> float:
    return float(np.sum(np.asarray(a, np.float64) * np.asarray(b, np.float64)))


def _norm(a) -> float:
    return float(np.linalg.norm(np.ravel(np.asarray(a, np.float64))))


# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(FUNCTIONS))
@SOME
@given(x=float_arrays(), seed=seeds)
def test_jvp_vjp_adjoint(name, x, seed):
    f = FUNCTIONS[name][0]
    rng = np.random.default_rng(seed)
    v = rng.standard_normal(x.shape)
    out, jv = nm.jvp(f, (x,), (v,))
    u = rng.standard_normal(np.shape(out))
    out2, pullback = nm.vjp(f, x)
    (jtu,) = pullback(u)
    np.testing.assert_array_equal(out, out2)
    assert np.shape(jv) == np.shape(out) and np.shape(jtu) == x.shape
    lhs, rhs = _dot(u, jv), _dot(jtu, v)
    scale = _norm(u) * _norm(jv) + _norm(jtu) * _norm(v) + 1.0
    assert abs(lhs - rhs) <= 1e-10 * scale, (lhs, rhs)


@pytest.mark.parametrize("name", list(FUNCTIONS))
@FEW
@given(x=float_arrays(max_side=3))
def test_jacfwd_equals_jacrev(name, x):
    f = FUNCTIONS[name][0]
    jf, jr = nm.jacfwd(f)(x), nm.jacrev(f)(x)
    assert np.shape(jf) == np.shape(jr) == np.shape(f(x)) + x.shape
    np.testing.assert_allclose(jf, jr, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("name", list(FUNCTIONS))
@FEW
@given(x=float_arrays(max_side=3), seed=seeds)
def test_hvp_equals_hessian_times_v(name, x, seed):
    s = _scalar(FUNCTIONS[name][0])
    v = np.random.default_rng(seed).standard_normal(x.shape)
    H = nm.hessian(s)(x)
    assert H.shape == x.shape + x.shape
    hv = nm.hvp(s, (x,), (v,))
    assert hv.shape == x.shape
    want = np.tensordot(H, v, axes=x.ndim)
    np.testing.assert_allclose(hv, want, rtol=1e-9, atol=1e-9 * (1.0 + _norm(H) * _norm(v)))
    # and the Hessian is symmetric
    np.testing.assert_allclose(H.reshape(x.size, x.size), H.reshape(x.size, x.size).T, rtol=1e-9,
                               atol=1e-9 * (1.0 + _norm(H)))


@SOME
@given(x=float_arrays(), a=st.floats(-3, 3, allow_nan=False), pair=st.tuples(
    st.sampled_from(list(FUNCTIONS)), st.sampled_from(list(FUNCTIONS))), seed=seeds)
def test_linearity(x, a, pair, seed):
    f, g = (_scalar(FUNCTIONS[n][0]) for n in pair)
    gf, gg = nm.grad(f)(x), nm.grad(g)(x)
    combo = nm.grad(lambda z: a * f(z) + g(z))(x)
    tol = 1e-10 * (1.0 + abs(a) * _norm(gf) + _norm(gg))
    np.testing.assert_allclose(combo, a * gf + gg, rtol=1e-10, atol=tol)
    # a JVP is linear in the tangent, a VJP in the cotangent
    rng = np.random.default_rng(seed)
    v, w = rng.standard_normal(x.shape), rng.standard_normal(x.shape)
    fn = FUNCTIONS[pair[0]][0]
    jv, jw = nm.jvp(fn, (x,), (v,))[1], nm.jvp(fn, (x,), (w,))[1]
    j_combo = nm.jvp(fn, (x,), (a * v + w,))[1]
    np.testing.assert_allclose(j_combo, a * jv + jw, rtol=1e-9,
                               atol=1e-9 * (1.0 + abs(a) * _norm(jv) + _norm(jw)))
    out, pullback = nm.vjp(fn, x)
    np.testing.assert_array_equal(pullback(np.zeros(np.shape(out)))[0], np.zeros(x.shape))


def nonzero_arrays(max_side=3):
    """Elements bounded away from 0 (see test_second_order_through_a_zero_cotangent)."""
    return float_arrays(max_side=max_side, elements=st.one_of(_floats(1e-3, 2.0), _floats(-2.0, -1e-3)))


@pytest.mark.parametrize("name", SMOOTH)
@FEW
@given(x=nonzero_arrays(), seed=seeds)
def test_grad_matches_finite_differences(name, x, seed):
    f = FUNCTIONS[name][0]
    nm.check_grads(f, (x,), order=2, modes=("fwd", "rev"), seed=seed % 1000)
    # and the gradient of the scalarised function along a random direction
    s = _scalar(f)
    v = np.random.default_rng(seed).standard_normal(x.shape)
    eps = 1e-5
    fd = (float(s(x + eps * v)) - float(s(x - eps * v))) / (2 * eps)
    g = nm.grad(s)(x)
    assert abs(_dot(g, v) - fd) <= 1e-6 * (1.0 + abs(fd) + _norm(g) * _norm(v)), (_dot(g, v), fd)


# --- pytrees -------------------------------------------------------------------------------------
Pair = collections.namedtuple("Pair", ["first", "second"])


def _trees(leaves):
    return st.recursive(
        leaves,
        lambda children: st.one_of(
            st.lists(children, min_size=1, max_size=3),
            st.tuples(children, children),
            st.builds(Pair, children, children),
            st.dictionaries(st.sampled_from(["w", "b", "gamma", "beta"]), children, min_size=1, max_size=3),
        ),
        max_leaves=6,
    )


def _tree_loss(tree):
    leaves = nm.tree_leaves(tree)
    return sum(mnp.sum(mnp.sin(leaf) * (k + 1.0)) for k, leaf in enumerate(leaves)) + 0.0


@SOME
@given(tree=_trees(float_arrays(max_side=3)), seed=seeds)
def test_pytree_gradients_keep_structure(tree, seed):
    value, g = nm.value_and_grad(_tree_loss)(tree)
    assert nm.tree_structure(g) == nm.tree_structure(tree)
    for k, (leaf, gl) in enumerate(zip(nm.tree_leaves(tree), nm.tree_leaves(g))):
        assert type(gl) is np.ndarray and gl.shape == leaf.shape and gl.dtype == leaf.dtype
        np.testing.assert_allclose(gl, np.cos(leaf) * (k + 1.0), rtol=1e-12, atol=1e-12)
    # containers come back as the same types (namedtuples included), with their keys
    assert repr(nm.tree_map(lambda a: 0, g)) == repr(nm.tree_map(lambda a: 0, tree))
    # vjp and jvp keep the structure of their arguments and outputs too
    tangents = nm.tree_map(lambda a: np.random.default_rng(seed).standard_normal(a.shape), tree)
    out, t_out = nm.jvp(lambda t: nm.tree_map(mnp.tanh, t), (tree,), (tangents,))
    assert nm.tree_structure(out) == nm.tree_structure(t_out) == nm.tree_structure(tree)
    (ct,) = nm.vjp(lambda t: nm.tree_map(mnp.tanh, t), tree)[1](tangents)
    assert nm.tree_structure(ct) == nm.tree_structure(tree)
    for leaf, t, c in zip(nm.tree_leaves(tree), nm.tree_leaves(tangents), nm.tree_leaves(ct)):
        np.testing.assert_allclose(c, t * (1 - np.tanh(leaf) ** 2), rtol=1e-12, atol=1e-12)


@FEW
@given(w=float_arrays(min_dims=2, max_dims=2, max_side=3), b=float_arrays(max_dims=1, max_side=3))
def test_pytree_hessian_and_jacobian_structure(w, b):
    params = {"w": w, "layers": [b, Pair(b, 2.0 * b)]}

    def loss(p):
        return mnp.sum(mnp.tanh(p["w"]) ** 2) + mnp.sum(p["layers"][0] * p["layers"][1].second) + \
            mnp.sum(mnp.exp(p["layers"][1].first))

    H = nm.hessian(loss)(params)
    leaves, treedef = nm.tree_flatten(params)
    assert nm.tree_structure(H) == nm.tree_structure(
        nm.tree_unflatten(treedef, [nm.tree_unflatten(treedef, [0] * len(leaves))] * len(leaves)))
    # block (i, j) has shape leaf_i.shape + leaf_j.shape
    blocks = nm.tree_leaves(H)
    shapes = [np.shape(a) for a in leaves]
    assert [np.shape(blk) for blk in blocks] == [si + sj for si in shapes for sj in shapes]
    J = nm.jacrev(lambda p: {"y": mnp.tanh(p["w"]), "z": p["layers"][0] * 2.0})(params)
    assert J["y"]["w"].shape == w.shape + w.shape and J["z"]["layers"][1].second.shape == b.shape + b.shape


# --- float32 -------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(FUNCTIONS))
@FEW
@given(x=float_arrays(np.float32, max_side=3), seed=seeds)
def test_float32_in_float32_out(name, x, seed):
    f = FUNCTIONS[name][0]
    s = _scalar(f)
    rng = np.random.default_rng(seed)
    v = rng.standard_normal(x.shape).astype(np.float32)
    y = f(x)
    assert np.asarray(y).dtype == np.float32
    g = nm.grad(s)(x)
    assert g.dtype == np.float32 and g.shape == x.shape
    out, jv = nm.jvp(f, (x,), (v,))
    assert np.asarray(out).dtype == np.float32 and np.asarray(jv).dtype == np.float32
    u = rng.standard_normal(np.shape(out)).astype(np.float32)
    assert nm.vjp(f, x)[1](u)[0].dtype == np.float32
    assert nm.hvp(s, (x,), (v,)).dtype == np.float32
    assert nm.jacfwd(f)(x).dtype == np.float32 and nm.jacrev(f)(x).dtype == np.float32
    # and, away from kinks and ties (where float32 rounding can pick another branch), close to
    # the float64 computation
    if name not in SMOOTH:
        return
    g64 = nm.grad(s)(x.astype(np.float64))
    np.testing.assert_allclose(g, g64, rtol=2e-3, atol=2e-3 * (1.0 + _norm(g64)))


# --- former bugs, kept as regression tests --------------------------------------------------------


def test_second_order_through_a_zero_cotangent():
    f = lambda x: mnp.sin(x) * mnp.exp(x)          # noqa: E731   f″(x) = 2 cos(x) eˣ
    assert float(nm.grad(nm.grad(f))(0.0)) == pytest.approx(2.0)
    nm.check_grads(f, (np.array([0.0, 0.4]),), order=2, modes=("rev",))


def test_prod_second_order_with_a_tiny_element():
    x, v = np.array([1e-170, 1.0]), np.array([1.0, 1.0])
    # ∂²(x₀x₁) = [[0, 1], [1, 0]], so H v = [1, 1]
    np.testing.assert_allclose(nm.hvp(lambda x: mnp.prod(x), (x,), (v,)), [1.0, 1.0], rtol=1e-12)
    np.testing.assert_allclose(nm.grad(lambda x: mnp.prod(x))(np.array([1e-200, 1e-200, 3.0])),
                               [3e-200, 3e-200, 0.0], rtol=1e-12, atol=0)
