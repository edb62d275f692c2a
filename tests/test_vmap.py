"""vmap against a Python loop, for every row of the rule table, plus its own semantics."""
from __future__ import annotations

import importlib

import numpy as np
import pytest

import nnmath as nm
import nnmath.numpy as mnp
from nnmath._core.primitive import REGISTRY
from rowtable import all_rows

ROWS = all_rows()


def _stack_args(args, k=3):
    """k nearby points of each argument (multiplicative jitter keeps them in the domain)."""
    return tuple(np.stack([a * (1.0 + 0.01 * j) for j in range(k)]) for a in args)


def _loop(fun, stacked):
    outs = [fun(*[a[j] for a in stacked]) for j in range(stacked[0].shape[0])]
    return nm.tree_map(lambda *xs: np.stack(xs), *outs)


@pytest.mark.parametrize("row", ROWS, ids=lambda r: r.id)
def test_vmap_matches_loop_for_values_and_derivatives(row):
    stacked = _stack_args(row.args)
    expect = _loop(row.fun, stacked)
    got = nm.vmap(row.fun)(*stacked)
    for g, e in zip(nm.tree_leaves(got), nm.tree_leaves(expect)):
        np.testing.assert_allclose(g, e, rtol=1e-12, atol=1e-13, err_msg=row.id)

    def pulled(*a):   # per-example VJP with an all-ones cotangent
        out, pb = nm.vjp(row.fun, *a)
        return pb(nm.tree_map(lambda o: np.ones(np.shape(o), np.result_type(o)), out))

    def pushed(*a):   # per-example JVP along all-ones tangents
        return nm.jvp(row.fun, a, tuple(np.ones_like(x) for x in a))[1]

    for f in (pulled, pushed):
        got, expect = nm.vmap(f)(*stacked), _loop(f, stacked)
        for g, e in zip(nm.tree_leaves(got), nm.tree_leaves(expect)):
            np.testing.assert_allclose(g, e, rtol=1e-10, atol=1e-12, err_msg=f"{row.id} {f.__name__}")


def test_every_primitive_has_a_batching_rule():
    importlib.import_module("nnmath.numpy.linalg")
    missing = sorted(n for n, p in REGISTRY.items() if p.batch is None)
    assert not missing, f"primitives without a batching (vmap) rule: {missing}"


def test_per_example_gradients():
    rng = np.random.default_rng(0)
    W, X = rng.normal(size=(3, 2)), rng.normal(size=(7, 3))
    loss = lambda w, x: mnp.sum(mnp.tanh(x @ w) ** 2)
    per = nm.vmap(nm.grad(loss), in_axes=(None, 0))(W, X)
    assert per.shape == (7, 3, 2)
    for i in range(7):
        np.testing.assert_allclose(per[i], nm.grad(loss)(W, X[i]), rtol=1e-12)
    np.testing.assert_allclose(per.sum(0), nm.grad(lambda w: loss(w, X))(W), rtol=1e-12)


def test_in_axes_out_axes_and_pytrees():
    x = np.arange(12.0).reshape(3, 4)
    out = nm.vmap(lambda a, b: {"s": a * b["k"], "c": mnp.full((2,), 2.0)}, in_axes=(1, None),
                  out_axes=1)(x, {"k": 3.0})
    np.testing.assert_array_equal(out["s"], 3.0 * x)
    np.testing.assert_array_equal(out["c"], np.full((2, 4), 2.0))     # the batch axis at 1
    # a 0-d output has no axis 1 to put the batch at: an error, as in JAX (not wrapped to 0)
    with pytest.raises(ValueError):
        nm.vmap(lambda a: {"c": 2.0 * mnp.sum(a)}, out_axes=1)(x)
    np.testing.assert_array_equal(nm.vmap(nm.vmap(lambda a: a * a))(x), x * x)


def test_vmap_errors():
    with pytest.raises(ValueError, match="different sizes"):
        nm.vmap(lambda a, b: a + b)(np.ones(3), np.ones(4))
    with pytest.raises(ValueError, match="in_axes has 1 entries"):
        nm.vmap(lambda a, b: a + b, in_axes=(0,))(np.ones(3), np.ones(3))
    with pytest.raises(TypeError, match="control flow"):
        nm.vmap(lambda a: a if a > 0 else -a)(np.ones(3))


def test_chunked_jacobians_match_unchunked():
    rng = np.random.default_rng(1)
    x = rng.normal(size=7)
    f = lambda x: mnp.tanh(mnp.outer(x, x)).sum(axis=0) * x
    for jac in (nm.jacfwd, nm.jacrev):
        np.testing.assert_allclose(jac(f, chunk_size=2)(x), jac(f)(x), rtol=1e-12)
    h = lambda x: mnp.sum(mnp.sin(x) * mnp.roll(x, 1))
    np.testing.assert_allclose(nm.hessian(h, chunk_size=3)(x), nm.hessian(h)(x), rtol=1e-12)
