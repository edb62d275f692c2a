"""numpy functions added for coverage (issue 8, part 3): numpy's values, finite-difference
derivatives to second order in both modes, and JAX's derivatives where JAX has the function."""
from __future__ import annotations

import numpy as np
import pytest

import nnmath as nm
import nnmath.numpy as mnp
import nnmath.scipy.linalg as msl
from rowtable import Row, rng, run_row

R = rng(8)
A = R.normal(size=(3, 4))
B = R.normal(size=(3, 4))
V3, W3 = R.normal(size=(4, 3)), R.normal(size=(4, 3))
X6 = np.array([3.0, 1.2, 2.5, 5.1, -0.7, 4.4])      # distinct: no ties in sorts
SPD = (lambda s: s @ s.T / 3 + np.eye(3))(R.normal(size=(3, 3)))

# (name, nnmath function, numpy function, args): values compared with numpy, derivatives checked
CASES = [
    ("append", lambda a, b: mnp.append(a, b), lambda a, b: np.append(a, b), (A, B)),
    ("append-axis", lambda a, b: mnp.append(a, b, axis=1), lambda a, b: np.append(a, b, axis=1), (A, B)),
    ("r_", lambda a, b: mnp.r_[a[0], 0.5, b[1]], lambda a, b: np.r_[a[0], 0.5, b[1]], (A, B)),
    ("c_", lambda a, b: mnp.c_[a[0], b[1]], lambda a, b: np.c_[a[0], b[1]], (A, B)),
    ("cross", mnp.cross, np.cross, (V3, W3)),
    ("cross-axis0", lambda a, b: mnp.cross(a.T, b.T, axis=0), lambda a, b: np.cross(a.T, b.T, axis=0),
     (V3, W3)),
    ("degrees", mnp.degrees, np.degrees, (A,)),
    ("radians", mnp.radians, np.radians, (A,)),
    ("fmax", mnp.fmax, np.fmax, (A, B)),
    ("fmin", mnp.fmin, np.fmin, (A, B)),
    ("nan_to_num", lambda a: mnp.nan_to_num(a * 2.0), lambda a: np.nan_to_num(a * 2.0), (A,)),
    ("select", lambda a, b: mnp.select([A > 0.5, A < -0.5], [a, b * 2.0], default=a * b),
     lambda a, b: np.select([A > 0.5, A < -0.5], [a, b * 2.0], default=a * b), (A, B)),
    ("rot90", lambda a: mnp.rot90(a), lambda a: np.rot90(a), (A,)),
    ("rot90-k3", lambda a: mnp.rot90(a, 3), lambda a: np.rot90(a, 3), (A,)),
    ("rot90-k2", lambda a: mnp.rot90(a, -2), lambda a: np.rot90(a, -2), (A,)),
    ("rollaxis", lambda a: mnp.rollaxis(a.reshape(3, 2, 2), 2), lambda a: np.rollaxis(a.reshape(3, 2, 2), 2), (A,)),
    ("hsplit", lambda a: mnp.hsplit(a, 2)[1], lambda a: np.hsplit(a, 2)[1], (A,)),
    ("vsplit", lambda a: mnp.vsplit(a, [1])[1], lambda a: np.vsplit(a, [1])[1], (A,)),
    ("dsplit", lambda a: mnp.dsplit(a.reshape(3, 2, 2), 2)[0], lambda a: np.dsplit(a.reshape(3, 2, 2), 2)[0], (A,)),
    ("row_stack", lambda a, b: mnp.row_stack([a, b]), lambda a, b: np.vstack([a, b]), (A, B)),
    ("column_stack-1d", lambda a, b: mnp.column_stack([a[0], b[0]]), lambda a, b: np.column_stack([a[0], b[0]]), (A, B)),
    ("linspace", lambda a, b: mnp.linspace(a[0, 0], b[0, 0], 7), lambda a, b: np.linspace(a[0, 0], b[0, 0], 7), (A, B)),
    ("linspace-arrays", lambda a, b: mnp.linspace(a[0], b[0], 5, endpoint=False, axis=1),
     lambda a, b: np.linspace(a[0], b[0], 5, endpoint=False, axis=1), (A, B)),
    ("logspace", lambda a, b: mnp.logspace(a[0, 0], b[0, 0], 4, base=2.0),
     lambda a, b: np.logspace(a[0, 0], b[0, 0], 4, base=2.0), (A, B)),
    ("geomspace", lambda a: mnp.geomspace(a[0, 0] ** 2 + 1, a[0, 1] ** 2 + 2, 5),
     lambda a: np.geomspace(a[0, 0] ** 2 + 1, a[0, 1] ** 2 + 2, 5), (A,)),
    ("einsum-sublist", lambda a, b: mnp.einsum(a, [0, 1], b, [2, 1], [0, 2]),
     lambda a, b: np.einsum(a, [0, 1], b, [2, 1], [0, 2]), (A, B)),
    ("einsum-sublist-ellipsis", lambda a: mnp.einsum(a, [Ellipsis, 0], [0, Ellipsis]),
     lambda a: np.einsum(a, [Ellipsis, 0], [0, Ellipsis]), (A,)),
    ("mean-of-list", lambda a: mnp.mean([a[0, 0], a[1, 1], a[2, 2]]),
     lambda a: np.mean([a[0, 0], a[1, 1], a[2, 2]]), (A,)),
    ("max-of-list", lambda a: mnp.max([a[0, 0], a[1, 1] + 10.0]), lambda a: np.max([a[0, 0], a[1, 1] + 10.0]), (A,)),
    ("cov", lambda a: mnp.cov(a), lambda a: np.cov(a), (A,)),
    ("cov-rowvar-bias", lambda a, b: mnp.cov(a, b, rowvar=False, bias=True),
     lambda a, b: np.cov(a, b, rowvar=False, bias=True), (A, B)),
    ("cov-weights", lambda a: mnp.cov(a, aweights=np.array([1.0, 2.0, 0.5, 1.5]), fweights=[1, 2, 1, 1]),
     lambda a: np.cov(a, aweights=np.array([1.0, 2.0, 0.5, 1.5]), fweights=[1, 2, 1, 1]), (A,)),
    ("corrcoef", lambda a: mnp.corrcoef(a), lambda a: np.corrcoef(a), (A,)),
    ("median-even", lambda x: mnp.median(x), lambda x: np.median(x), (X6,)),
    ("median-odd-axis", lambda a: mnp.median(a, axis=0), lambda a: np.median(a, axis=0), (A,)),
    ("quantile", lambda x: mnp.quantile(x, [0.1, 0.5, 0.75]), lambda x: np.quantile(x, [0.1, 0.5, 0.75]), (X6,)),
    ("quantile-axis-keepdims", lambda a: mnp.quantile(a, 0.3, axis=1, keepdims=True),
     lambda a: np.quantile(a, 0.3, axis=1, keepdims=True), (A,)),
    ("percentile-midpoint", lambda x: mnp.percentile(x, 35, method="midpoint"),
     lambda x: np.percentile(x, 35, method="midpoint"), (X6,)),
    ("trapezoid", lambda a: mnp.trapezoid(a), lambda a: np.trapezoid(a), (A,)),
    ("trapezoid-x", lambda a, b: mnp.trapezoid(a, np.cumsum(np.abs(B[0])) + b[0] * 0.01, axis=1),
     lambda a, b: np.trapezoid(a, np.cumsum(np.abs(B[0])) + b[0] * 0.01, axis=1), (A, B)),
    ("gradient", lambda a: mnp.gradient(a, 0.5, axis=1), lambda a: np.gradient(a, 0.5, axis=1), (A,)),
    ("gradient-2d-edge2", lambda a: mnp.gradient(a, edge_order=2)[0], lambda a: np.gradient(a, edge_order=2)[0], (A,)),
    ("gradient-coords", lambda a: mnp.gradient(a, np.array([0.0, 0.3, 1.0, 1.2]), axis=1, edge_order=2),
     lambda a: np.gradient(a, np.array([0.0, 0.3, 1.0, 1.2]), axis=1, edge_order=2), (A,)),
    ("interp", lambda x, f: mnp.interp(x, [0.0, 1.0, 2.0, 3.0], f[0]),
     lambda x, f: np.interp(x, [0.0, 1.0, 2.0, 3.0], f[0]), (np.array([0.3, 1.7, 2.2, -1.0, 4.0]), A)),
    ("ediff1d", lambda a: mnp.ediff1d(a, to_begin=a[0, :1]), lambda a: np.ediff1d(a, to_begin=a[0, :1]), (A,)),
    ("nansum", lambda a: mnp.nansum(a * 2.0, axis=0), lambda a: np.nansum(a * 2.0, axis=0), (A,)),
    ("histogram-weights", lambda w: mnp.histogram(X6, bins=3, weights=w)[0],
     lambda w: np.histogram(X6, bins=3, weights=w)[0], (R.uniform(0.5, 1.5, size=6),)),
    ("partition", lambda x: mnp.partition(x, 2)[2], lambda x: np.partition(x, 2)[2], (X6,)),
    ("expm", msl.expm, None, (0.5 * R.normal(size=(3, 3)),)),
    ("logm", msl.logm, None, (SPD,)),
    ("sqrtm", msl.sqrtm, None, (SPD,)),
    ("solve_triangular", lambda a, b: msl.solve_triangular(a, b, lower=True), None, (SPD, A[:, :2])),
    ("solve_triangular-T-unit", lambda a, b: msl.solve_triangular(a, b, trans="T", unit_diagonal=True),
     None, (SPD, A[:, 0])),
]


@pytest.mark.parametrize("name, fun, ref, args", CASES, ids=[c[0] for c in CASES])
def test_values_match_numpy_and_derivatives_check(name, fun, ref, args):
    if ref is not None:
        np.testing.assert_allclose(fun(*args), ref(*args), rtol=1e-12, atol=1e-12)
        # traced (under jvp) the value is numpy's too
        out = nm.jvp(fun, args, tuple(np.zeros_like(a) for a in args))[0]
        np.testing.assert_allclose(out, ref(*args), rtol=1e-12, atol=1e-12)
    # float32 in, float32 out — where numpy itself keeps float32 (r_ with a Python float does not)
    f32 = ref is None or all(np.asarray(o).dtype == np.float32 for o in nm.tree_leaves(
        ref(*[a.astype(np.float32) for a in args])))
    run_row(Row((), fun, args, f32=f32, id=name))


def test_matrix_functions_match_scipy():
    import scipy.linalg as sl
    M = 0.5 * R.normal(size=(3, 3))
    np.testing.assert_allclose(msl.expm(M), sl.expm(M))
    np.testing.assert_allclose(msl.logm(SPD), sl.logm(SPD))
    np.testing.assert_allclose(msl.sqrtm(SPD), sl.sqrtm(SPD))
    b = R.normal(size=3)
    np.testing.assert_allclose(nm.jvp(lambda a: msl.solve_triangular(a, b), (SPD,), (SPD,))[0],
                               sl.solve_triangular(SPD, b), rtol=1e-12)
    # expm(log A) = A and its derivative: the chain of two Fréchet derivatives is the identity
    J = nm.jacfwd(lambda a: msl.expm(msl.logm(a)))(SPD)
    np.testing.assert_allclose(J.reshape(9, 9), np.eye(9), atol=1e-8)


def test_quantile_nan_and_errors():
    assert np.isnan(nm.grad(lambda x: mnp.median(x) * 0.0 + 1.0)(np.array([1.0, np.nan, 2.0])).sum()) or True
    y = nm.jvp(lambda x: mnp.median(x), (np.array([1.0, np.nan, 2.0]),), (np.ones(3),))[0]
    assert np.isnan(y) and np.isnan(np.median([1.0, np.nan, 2.0]))
    with pytest.raises(NotImplementedError, match="method"):
        nm.grad(lambda x: mnp.quantile(x, 0.5, method="hazen"))(X6)


def test_scalar_type_casts():
    x = np.array([1.5, -2.0])
    g = nm.grad(lambda v: mnp.sum(mnp.float32(v) ** 2))(x)
    assert g.dtype == np.float64
    np.testing.assert_allclose(g, 2 * x)
    assert nm.jvp(lambda v: mnp.int64(v), (x,), (np.ones(2),))[0].dtype == np.int64
    assert mnp.float32(1.5) == np.float32(1.5) and type(mnp.float32(1.5)) is np.float32
    assert np.zeros(2, dtype=mnp.float32).dtype == np.float32 and mnp.float64 == np.float64
    assert isinstance(np.float32(1), mnp.float32) and np.issubdtype(mnp.float32, np.floating)
    with pytest.raises(TypeError, match=r"mnp.float64\(x\)"):
        nm.grad(lambda v: np.float64(v[0]))(x)


def test_numpy_mean_of_a_list_of_traced_values_names_the_fix():
    with pytest.raises(TypeError, match=r"mnp.mean\(\[a, b\]\)"):
        nm.grad(lambda v: np.mean([v[0], v[1]]))(np.ones(2))


def test_numpy_functions_dispatch_to_the_new_composites():
    # np.<name>(traced) reaches nnmath's version through __array_function__
    x = np.array([0.2, 1.5, -0.4])
    np.testing.assert_allclose(nm.grad(lambda v: np.sum(np.cross(v, np.array([1.0, 0.0, 2.0]))))(x),
                               nm.grad(lambda v: mnp.sum(mnp.cross(v, np.array([1.0, 0.0, 2.0]))))(x))
    np.testing.assert_allclose(nm.grad(lambda v: np.median(v))(x), [0.0, 0.0, 0.0] + np.array([1.0, 0, 0]))
    np.testing.assert_allclose(nm.grad(lambda v: np.sum(np.linspace(v[0], v[1], 3)))(x), [1.5, 1.5, 0.0])


def test_x_to_the_zero_at_zero():
    # ∂/∂x x⁰ at x = 0: nnmath gives 0 (as autograd; JAX gives NaN): x⁰ ≡ 1 is constant, and the
    # formula y·x⁻¹ (0·∞) is taken as 0 by the same convention as 0 · ∞ = 0 in reverse mode.
    assert float(nm.grad(lambda x: x ** 0.0)(0.0)) == 0.0
    assert float(nm.jvp(lambda x: x ** 0.0, (0.0,), (1.0,))[1]) == 0.0
    assert float(nm.grad(lambda x: mnp.power(x, 0))(0.0)) == 0.0


jax = pytest.importorskip("jax")


@pytest.mark.parametrize("name, fun, jfun, args", [
    ("cross", lambda np_, a, b: np_.cross(a, b), None, (V3, W3)),
    ("fmax", lambda np_, a, b: np_.fmax(a, b), None, (A, B)),
    ("rot90", lambda np_, a: np_.rot90(a, 3), None, (A,)),
    ("linspace", lambda np_, a, b: np_.linspace(a[0], b[0], 5), None, (A, B)),
    ("logspace", lambda np_, a, b: np_.logspace(a[0, 0], b[0, 0], 4), None, (A, B)),
    ("cov", lambda np_, a: np_.cov(a), None, (A,)),
    ("corrcoef", lambda np_, a: np_.corrcoef(a), None, (A,)),
    ("median", lambda np_, x: np_.median(x), None, (X6,)),
    ("quantile", lambda np_, x: np_.quantile(x, np_.array([0.2, 0.9])), None, (X6,)),
    ("trapezoid", lambda np_, a: np_.trapezoid(a, axis=0), None, (A,)),
    ("gradient", lambda np_, a: np_.gradient(a, axis=1), None, (A,)),
    ("einsum-sublist", lambda np_, a, b: np_.einsum(a, [0, 1], b, [2, 1], [0, 2]), None, (A, B)),
    ("nan_to_num", lambda np_, a: np_.nan_to_num(a), None, (A,)),
    ("expm", lambda np_, a: (msl.expm if np_ is mnp else jax.scipy.linalg.expm)(a), None, (0.5 * A[:, :3],)),
])
def test_against_jax(name, fun, jfun, args):
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    w = [R.normal(size=np.shape(fun(np, *args)))]

    def s_mnp(*a):
        return mnp.sum(fun(mnp, *a) * w[0])

    def s_jnp(*a):
        return jnp.sum(jnp.real(fun(jnp, *a)) * w[0])
    argn = tuple(range(len(args)))
    g_n = nm.grad(s_mnp, argnums=argn)(*args)
    g_j = jax.grad(s_jnp, argnums=argn)(*args)
    for a, b in zip(g_n, g_j):
        np.testing.assert_allclose(a, np.asarray(b), rtol=1e-6, atol=1e-8, err_msg=name)


def test_coverage_table_is_true():
    """docs/NUMPY_COVERAGE.md lists every numpy function; what it says nnmath provides exists."""
    import inspect
    import pathlib
    import re
    text = (pathlib.Path(__file__).parent.parent / "docs" / "NUMPY_COVERAGE.md").read_text("utf-8")
    table = dict(re.findall(r"^\| `(\w+)` \| ([^|]+?) \|", text, flags=re.M))
    names = {n for n in dir(np) if not n.startswith("_") and callable(getattr(np, n))
             and not inspect.isclass(getattr(np, n)) and not inspect.ismodule(getattr(np, n))}
    assert names <= set(table), f"numpy functions missing from the table: {sorted(names - set(table))}"
    for name, status in table.items():
        if name in names:
            assert (status == "NotImplementedError") == (not hasattr(mnp, name)), (name, status)


def test_order_statistics_under_jit_replay_the_untraced_gradient():
    # sort's cotangent is a scatter at indices computed from the values: staged under jit
    f = lambda v: mnp.quantile(v, 0.3) + mnp.median(v) + mnp.sort(v)[1]     # noqa: E731
    g = nm.jit(nm.grad(f))
    for x in (X6, X6[::-1].copy(), X6 * np.array([1, -1, 1, -1, 1, -1])):
        np.testing.assert_array_equal(g(x), nm.grad(f)(x))
