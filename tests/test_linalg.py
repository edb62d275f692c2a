"""Tests of nnmath.numpy.linalg: the rule table (ROWS), JAX agreement, identities, conventions
and errors.

ROWS has at least one row per linear-algebra primitive (tests/test_primitives.py checks that every
registered primitive is covered). Inputs are well conditioned: square matrices are a random matrix
plus a multiple of I, SPD matrices are built inside the function as X Xᵀ + nI (so finite differences
stay in the domain), and eigen/singular vectors enter only through sign-invariant quantities
(v ⊙ v, U diag(c) Vᵀ) with distinct eigen/singular values.
"""
from __future__ import annotations

import numpy as np
import pytest

import nnmath as nm
import nnmath.numpy as mnp
from nnmath.numpy import linalg as L
from rowtable import Row, rng, run_row

R = rng(20240607)
A3 = R.normal(size=(3, 3)) + 3.0 * np.eye(3)              # well conditioned, det > 0
NEG = A3 @ np.diag([1.0, 1.0, -1.0])                        # det < 0 (slogdet sign −1)
AB = R.normal(size=(2, 3, 3)) + 3.0 * np.eye(3)             # a batch of two
X3 = R.normal(size=(3, 3))
XB = R.normal(size=(2, 3, 3))
B32 = R.normal(size=(3, 2))
B3 = R.normal(size=(3,))
TALL = R.normal(size=(4, 3))
WIDE = R.normal(size=(3, 5))
TALLB = R.normal(size=(2, 4, 3))
V5 = R.normal(size=(5,))
NZ5 = R.choice([-1.0, 1.0], size=5) * R.uniform(0.5, 2.0, size=5)  # no entry near 0
M34 = R.normal(size=(3, 4))
T324 = R.normal(size=(3, 2, 4)) + 2.0 * np.eye(3, 4)[:, None, :]   # matrices over axes 0, 2: s ≫ 0


def _spd(x):
    """X Xᵀ + nI: symmetric positive definite, differentiable in X."""
    n = x.shape[-1]
    return mnp.matmul(x, mnp.swapaxes(x, -1, -2)) + n * np.eye(n, dtype=x.dtype)


def _eigh_inv(x, uplo="L"):
    """Sign-invariant outputs of eigh: eigenvalues, squared eigenvectors, V diag(c) Vᵀ."""
    w, v = L.eigh(_spd(x), UPLO=uplo)
    c = np.array([0.5, -1.0, 2.0], dtype=w.dtype)[: w.shape[-1]]
    return w, v * v, mnp.matmul(v * c, mnp.swapaxes(v, -1, -2))


def _svd_inv(x):
    """Sign-invariant outputs of the reduced svd: s, U ⊙ U, Vh ⊙ Vh, U diag(c) Vh."""
    u, s, vh = L.svd(x, full_matrices=False)
    c = np.array([1.0, -0.5, 2.0], dtype=s.dtype)[: s.shape[-1]]
    return s, u * u, vh * vh, mnp.matmul(u * c, vh)


def _all(f, ords, **kw):
    return lambda x: [f(x, o, **kw) for o in ords]


def _row(covers, fun, args, **kw):
    """A Row with a finite-difference step of 2e-5: second derivatives here involve 1/(λⱼ − λᵢ) and
    1/s, so the O(ε²) error of the default step (1e-4 · max|x|) sits near the tolerance."""
    return Row(covers, fun, args, eps=kw.pop("eps", 2e-5), **kw)


VEC_ORDS = (None, 1, 2, np.inf, -np.inf, 3, 0.5, -1.5)
MAT_ORDS = (None, "fro", "nuc", 1, -1, 2, -2, np.inf, -np.inf)

ROWS = [
    # --- primitives ---------------------------------------------------------------------------
    _row("linalg.inv", L.inv, (A3,)),
    _row("linalg.inv", L.inv, (AB,), id="inv-batched"),
    _row("linalg.det", L.det, (A3,)),
    _row("linalg.det", L.det, (AB,), id="det-batched"),
    _row("linalg.slogdet", L.slogdet, (NEG,)),
    _row("linalg.slogdet", L.slogdet, (AB,), id="slogdet-batched"),
    _row("linalg.solve", L.solve, (A3, B32)),
    _row("linalg.solve", L.solve, (AB, B3), id="solve-vector-b-batched-a"),
    _row("linalg.solve", L.solve, (A3, R.normal(size=(2, 3, 2))), id="solve-broadcast-batch"),
    _row("linalg.cholesky", lambda x: L.cholesky(_spd(x)), (X3,)),
    _row("linalg.cholesky", lambda x: L.cholesky(_spd(x), upper=True), (XB,),
        id="cholesky-upper-batched"),
    _row("linalg.eigh", _eigh_inv, (X3,)),
    _row("linalg.eigh", lambda x: _eigh_inv(x, "U"), (XB,), id="eigh-U-batched"),
    _row("linalg.eigh", lambda x: L.eigvalsh(_spd(x)), (X3,), id="eigvalsh"),
    _row("linalg.svd", _svd_inv, (TALL,), id="svd-tall"),
    _row("linalg.svd", _svd_inv, (WIDE,), id="svd-wide"),
    _row("linalg.svd", _svd_inv, (TALLB,), id="svd-batched"),
    _row("linalg.svd", lambda x: L.svd(x, compute_uv=False), (WIDE,), id="svd-values"),
    _row("linalg.qr", L.qr, (TALL,), id="qr-tall"),
    _row("linalg.qr", L.qr, (A3,), id="qr-square"),
    _row("linalg.qr", L.qr, (np.concatenate([A3, R.normal(size=(3, 2))], 1),), id="qr-wide"),
    _row("linalg.qr", lambda x: L.qr(x, mode="r"), (TALLB,), id="qr-r-batched"),
    _row("linalg.pinv", L.pinv, (TALL,), id="pinv-tall"),
    _row("linalg.pinv", L.pinv, (WIDE,), id="pinv-wide"),
    # --- composites ---------------------------------------------------------------------------
    _row(("sqrt", "sum", "multiply", "absolute", "max", "min", "power", "where"),
        _all(L.norm, VEC_ORDS), (NZ5,), id="norm-vector"),
    _row(("sqrt", "sum", "absolute", "max"),
        _all(L.norm, (None, 1, np.inf, 3), axis=1, keepdims=True), (T324,), id="norm-vector-axis"),
    _row(("linalg.svd", "sum", "absolute", "max", "min"), _all(L.norm, MAT_ORDS), (M34,),
        id="norm-matrix"),
    _row(("linalg.svd", "transpose"), _all(L.norm, ("nuc", 2, -1, np.inf), axis=(2, 0)), (T324,),
        id="norm-matrix-axes"),
    _row(("linalg.svd",), lambda x: (L.vector_norm(x, axis=(0, 2), ord=3),
                                    L.matrix_norm(x, ord="nuc"), L.svdvals(x)),
        (T324,), id="vector_norm/matrix_norm/svdvals"),
    _row(("matmul", "linalg.inv"), lambda a: [L.matrix_power(a, n) for n in (0, 1, 3, -2)], (AB,),
        id="matrix_power"),
    _row(("matmul",), lambda a, b, c: L.multi_dot([a, b, c, a]),
        (V5, R.normal(size=(5, 7)), R.normal(size=(7, 5))), id="multi_dot"),
    _row(("linalg.svd", "linalg.inv"),
        lambda a: [L.cond(a), L.cond(a, -2), L.cond(a, 1), L.cond(a, "fro")], (AB,), id="cond"),
    _row(("linalg.pinv", "linalg.svd"), lambda a, b: L.lstsq(a, b)[:2],
        (TALL, R.normal(size=(4, 2))), id="lstsq"),
]


@pytest.mark.parametrize("row", ROWS, ids=[r.id for r in ROWS])
def test_row(row):
    run_row(row)


# ---------------------------------------------------------------------------------------------
# Agreement with JAX: value, VJP, JVP and Hessian, each to 1e-6
# ---------------------------------------------------------------------------------------------
# Each case is ``fun(m, *args)`` over a namespace m (nnmath.numpy or jax.numpy). Functions are
# grouped so that JAX compiles one reference per group (its eager mode is ~10x slower here).


def _square(m, a, b, bv):
    sign, logabsdet = m.linalg.slogdet(a)
    return [m.linalg.inv(a), m.linalg.det(a), sign, logabsdet, m.linalg.solve(a, b),
            m.linalg.solve(a, bv), m.linalg.matrix_power(a, 3), m.linalg.matrix_power(a, -2),
            m.linalg.cond(a), m.linalg.cond(a, 1)]


def _batched(m, a, bv):
    return [m.linalg.inv(a), m.linalg.det(a), m.linalg.slogdet(a)[1], m.linalg.solve(a, bv),
            m.linalg.eigvalsh(m.matmul(a, m.swapaxes(a, -1, -2)))]


def _symmetric(m, s):
    # SPD input, no symmetrisation: the symmetric-derivative conventions must agree
    w, v = m.linalg.eigh(s)
    return [m.linalg.cholesky(s), w, v * v, m.linalg.eigvalsh(s)]


def _rectangular(m, a):
    u, s, vh = m.linalg.svd(a, full_matrices=False)
    out = [u * u, s, vh * vh, m.linalg.svd(a, compute_uv=False), m.linalg.pinv(a)]
    return out + (list(m.linalg.qr(a)) if a.shape[0] >= a.shape[1] else [])


JAX_CASES = {
    "square": (_square, (NEG, B32, B3)),
    "batched": (_batched, (AB, B3)),
    "symmetric": (_symmetric, (np.asarray(_spd(X3)),)),
    "tall": (_rectangular, (TALL,)),
    "wide": (_rectangular, (WIDE,)),
    "norm-vector": (lambda m, x: [m.linalg.norm(x, o) for o in VEC_ORDS], (NZ5,)),
    "norm-matrix": (lambda m, x: [m.linalg.norm(x, o) for o in MAT_ORDS], (M34,)),
    "norm-axis": (lambda m, x: [m.linalg.norm(x, o, axis=(0, 2), keepdims=True)
                                for o in ("nuc", 1, 2)] + [m.linalg.norm(x, 3, axis=1)], (T324,)),
    "multi_dot": (lambda m, a, b: [m.linalg.multi_dot([a, b, b.T, a]),
                                   m.linalg.multi_dot([b.T, b, b.T])],
                  (NZ5, R.normal(size=(5, 4)))),
}


@pytest.fixture(scope="module")
def jx():
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    return jax


def _close(got, want, what):
    import jax
    g, w = nm.tree_leaves(got), jax.tree_util.tree_leaves(want)
    assert len(g) == len(w), f"{what}: {len(g)} leaves, JAX has {len(w)}"
    for k, (a, b) in enumerate(zip(g, w)):
        a, b = np.asarray(a), np.asarray(b)
        assert a.shape == b.shape, f"{what} leaf {k}: shape {a.shape} != JAX's {b.shape}"
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-9, err_msg=f"{what} leaf {k}")


def _derivatives(ad, m, f, args, tans, cts):
    """Value, VJP, JVP and the Hessian (in the first argument) of S = Σ c ⊙ y ⊙ y, by one AD."""
    def scalar(*a):
        return sum(m.sum(c * y * y) for c, y in zip(cts, ad.tree_leaves(f(*a))))

    out, pb = ad.vjp(f, *args)
    return out, pb(cts), ad.jvp(f, args, tans)[1], ad.hessian(scalar)(*args)


@pytest.mark.parametrize("name", list(JAX_CASES))
def test_against_jax(name, jx):
    fun, args = JAX_CASES[name]
    r = np.random.default_rng(len(name))
    tans = tuple(r.normal(size=np.shape(a)) for a in args)
    cts = [r.normal(size=np.shape(o)) for o in nm.tree_leaves(fun(mnp, *args))]

    class _jax_ad:   # jax under nnmath's names
        vjp, jvp, hessian, tree_leaves = jx.vjp, jx.jvp, jx.hessian, jx.tree_util.tree_leaves

    def reference(a, t, c):
        return _derivatives(_jax_ad, jx.numpy, lambda *x: fun(jx.numpy, *x), a, t, c)

    want = jx.jit(reference)(args, tans, cts)
    got = _derivatives(nm, mnp, lambda *x: fun(mnp, *x), args, tans, cts)
    _close(fun(mnp, *args), want[0], f"{name} value (plain arrays)")
    for what, g, w in zip(("value (traced)", "vjp", "jvp", "hessian"), got, want):
        _close(g, w, f"{name} {what}")


# ---------------------------------------------------------------------------------------------
# Identities
# ---------------------------------------------------------------------------------------------


def test_grad_logabsdet_is_inverse_transpose():
    # ∂ ln|det A| / ∂A = A⁻ᵀ  (Cookbook eq. 57), for det A < 0 too
    for a in (A3, NEG):
        np.testing.assert_allclose(nm.grad(lambda x: L.slogdet(x).logabsdet)(a), np.linalg.inv(a).T,
                                   rtol=1e-12)
    # ∂ det A / ∂A = det(A) A⁻ᵀ  (Cookbook eq. 49)
    np.testing.assert_allclose(nm.grad(L.det)(NEG), np.linalg.det(NEG) * np.linalg.inv(NEG).T,
                               rtol=1e-12)


def test_values_match_numpy():
    np.testing.assert_allclose(L.inv(AB), np.linalg.inv(AB))
    np.testing.assert_allclose(L.solve(AB, B3), np.linalg.solve(AB, B3))
    s = A3 @ A3.T
    np.testing.assert_allclose(L.cholesky(s, upper=True), np.linalg.cholesky(s, upper=True))
    assert L.slogdet(NEG).sign == -1.0 and isinstance(L.slogdet(NEG), L.SlogdetResult)
    for o in VEC_ORDS + (0,):
        for axis in (0, -1, (1,)):
            for kd in (False, True):
                np.testing.assert_allclose(L.norm(T324, o, axis, kd),
                                           np.linalg.norm(T324, o, axis, kd))
    for o in MAT_ORDS:
        for axis in ((0, 2), (-1, 1)):
            np.testing.assert_allclose(L.norm(T324, o, axis, True),
                                       np.linalg.norm(T324, o, axis, True))
    np.testing.assert_allclose(L.norm(T324, keepdims=True), np.linalg.norm(T324, keepdims=True))
    np.testing.assert_allclose(L.vector_norm(T324, axis=(0, 2), ord=3, keepdims=True),
                               np.linalg.vector_norm(T324, axis=(0, 2), ord=3, keepdims=True))
    chain = [V5, R.normal(size=(5, 2)), R.normal(size=(2, 6)), R.normal(size=(6,))]
    np.testing.assert_allclose(L.multi_dot(chain), np.linalg.multi_dot(chain))
    np.testing.assert_allclose(L.matrix_power(A3, -3), np.linalg.matrix_power(A3, -3))
    np.testing.assert_allclose(L.cond(A3, "nuc"), np.linalg.cond(A3, "nuc"))
    assert L.matrix_rank(TALL) == 3


def test_traced_values_match_numpy():
    """The traced paths (qr of a wide matrix, eigvalsh, lstsq) give numpy's values."""
    wide = np.concatenate([A3, B32], 1)
    q, r = nm.jvp(lambda x: tuple(L.qr(x)), (wide,), (np.ones_like(wide),))[0]
    nq, nr = np.linalg.qr(wide)
    np.testing.assert_allclose(q, nq, atol=1e-12)
    np.testing.assert_allclose(r, nr, atol=1e-12)
    x, res, rank, s = np.linalg.lstsq(TALL, B3[[0, 1, 2, 0]], rcond=None)
    got = nm.jvp(lambda a: L.lstsq(a, B3[[0, 1, 2, 0]]), (TALL,), (np.ones_like(TALL),))[0]
    for a, b in zip(got, (x, res, rank, s)):
        np.testing.assert_allclose(a, b, rtol=1e-10)


def test_vmap_broadcasts_batch_axes():
    """vmap over the right-hand sides only, over the matrices only, and per-example gradients."""
    bs = R.normal(size=(4, 3, 2))
    np.testing.assert_allclose(nm.vmap(L.solve, in_axes=(None, 0))(A3, bs), np.linalg.solve(A3, bs))
    np.testing.assert_allclose(nm.vmap(L.solve, in_axes=(0, None))(AB, B32),
                               np.linalg.solve(AB, B32))
    u = nm.vmap(lambda a: L.svd(a)[0])(TALLB)      # a full svd: fine when not differentiated
    np.testing.assert_allclose(np.abs(u), np.abs(np.linalg.svd(TALLB)[0]), atol=1e-12)
    per = nm.vmap(nm.grad(lambda a: L.slogdet(a)[1]))(AB)
    np.testing.assert_allclose(per, np.swapaxes(np.linalg.inv(AB), -1, -2), rtol=1e-12)


def test_numpy_functions_dispatch_on_traced_values():
    g = nm.grad(lambda a: np.linalg.slogdet(a)[1] + np.linalg.norm(np.linalg.inv(a)))(A3)
    want = nm.grad(lambda a: L.slogdet(a)[1] + L.norm(L.inv(a)))(A3)
    np.testing.assert_allclose(g, want)


# ---------------------------------------------------------------------------------------------
# Conventions at singular points
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("ord", [None, 1, 2, np.inf, -np.inf, 3, 0.5])
def test_vector_norm_at_zero_has_zero_gradient(ord):
    z = np.zeros(4)
    np.testing.assert_array_equal(nm.grad(lambda x: L.norm(x, ord))(z), z)
    assert np.all(np.isfinite(nm.hessian(lambda x: L.norm(x, ord))(z)))


@pytest.mark.parametrize("ord", [None, "fro", 1, -1, np.inf, "nuc", 2])
def test_matrix_norm_at_zero_is_finite(ord):
    z = np.zeros((3, 2))
    g = nm.grad(lambda x: L.norm(x, ord))(z)
    assert np.all(np.isfinite(g))
    if ord not in ("nuc", 2):                  # entrywise norms: exactly 0 (sqrt′(0) = abs′(0) = 0)
        np.testing.assert_array_equal(g, z)
    else:                                      # spectral norms: a subgradient, ‖G‖₂ ≤ 1
        assert np.linalg.norm(g, 2) <= 1 + 1e-12


def test_norm_ord_zero_counts_and_is_constant():
    x = np.array([0.0, 2.0, -1.0])
    assert L.norm(x, 0) == 2.0
    np.testing.assert_array_equal(nm.grad(lambda v: L.norm(v, 0))(x), np.zeros(3))


def test_symmetric_derivative_convention():
    """eigh, eigvalsh and cholesky differentiate as functions of a symmetric matrix: the gradient
    of λ_max is v vᵀ (not the one-triangle derivative of numpy's literal function)."""
    a = np.asarray(_spd(X3))
    w, v = np.linalg.eigh(a)
    g = nm.grad(lambda x: L.eigvalsh(x)[-1])(a)
    np.testing.assert_allclose(g, np.outer(v[:, -1], v[:, -1]), atol=1e-12)
    gc = nm.grad(lambda x: mnp.sum(L.cholesky(x) * B32[:, :1]))(a)
    np.testing.assert_allclose(gc, gc.T, atol=1e-12)


def test_repeated_eigenvalues_give_finite_documented_derivatives():
    q = np.linalg.qr(X3)[0]
    a = q @ np.diag([1.0, 1.0, 2.0]) @ q.T                 # a repeated eigenvalue
    # a symmetric function of the eigenvalues is exact: Σλ² = ‖A‖²_F has gradient 2A
    np.testing.assert_allclose(nm.grad(lambda x: mnp.sum(L.eigvalsh(x) ** 2))(a), 2 * a, atol=1e-12)
    # eigenvector derivatives are finite (the undefined coupling inside the eigenspace is dropped)
    assert np.all(np.isfinite(nm.grad(lambda x: mnp.sum(L.eigh(x)[1] ** 3))(a)))
    assert np.all(np.isfinite(nm.jacfwd(lambda x: L.eigh(x)[1])(a)))
    # likewise for repeated singular values (here all equal: an orthogonal matrix)
    assert np.all(np.isfinite(nm.grad(lambda x: mnp.sum(L.svd(x)[0] ** 3) + L.norm(x, "nuc"))(q)))
    np.testing.assert_allclose(nm.grad(lambda x: L.norm(x, "nuc"))(q), q, atol=1e-12)


# ---------------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("f", [L.inv, L.det, L.slogdet, L.cholesky, L.eigh,
                               lambda a: L.solve(a, B3), lambda a: L.matrix_power(a, 2)])
def test_non_square_input_names_the_shape(f):
    with pytest.raises(ValueError, match=r"square.*\(2, 3\)"):
        f(np.ones((2, 3)))
    with pytest.raises(np.linalg.LinAlgError, match=r"\(3,\)"):
        f(np.ones(3))


def test_errors():
    with pytest.raises(np.linalg.LinAlgError):
        L.inv(np.ones((3, 3)))                              # singular: numpy's error passes through
    with pytest.raises(np.linalg.LinAlgError):
        nm.grad(lambda a: L.inv(a).sum())(np.ones((3, 3)))
    with pytest.raises(np.linalg.LinAlgError):
        L.cholesky(-np.eye(2))
    with pytest.raises(ValueError, match=r"b of shape \(4,\)"):
        L.solve(A3, np.ones(4))
    with pytest.raises(ValueError, match=r"\(\.\.\., n, k\).*\(2, 2\)"):
        L.solve(A3, np.ones((2, 2)))
    with pytest.raises(NotImplementedError, match="full_matrices=False"):
        nm.grad(lambda a: L.svd(a)[1].sum())(TALL)
    with pytest.raises(NotImplementedError, match="mode='raw'"):
        nm.grad(lambda a: L.qr(a, mode="raw")[0].sum())(TALL)
    with pytest.raises(ValueError, match="invalid norm order 'fro' for vectors"):
        L.norm(V5, "fro")
    with pytest.raises(ValueError, match="invalid norm order 3 for matrices"):
        L.norm(M34, 3)
    with pytest.raises(ValueError, match="improper number of dimensions"):
        L.norm(T324, 2)
    with pytest.raises(TypeError, match="exponent must be an integer"):
        L.matrix_power(A3, 1.5)
    with pytest.raises(ValueError, match="UPLO"):
        L.eigh(A3, UPLO="X")
    # the full SVD of a non-square matrix still works on plain values
    assert L.svd(TALL)[0].shape == (4, 4)
