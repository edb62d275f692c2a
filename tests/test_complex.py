"""Complex intermediates: right derivatives, or a clear refusal — never a wrong number.

nnmath follows JAX's convention: the cotangent z̄ of a complex value z is the c with
df = Re(c · dz) (a bilinear pairing, no conjugate), so holomorphic rules are those of the real
case, and non-holomorphic ones (conj, real, imag, abs, angle) have their own. Every function here
is real-in, real-out with complex intermediates (complex inputs and outputs of the transforms
themselves are tested in tests/test_complex_inputs.py), and is checked against central finite differences
(which need no complex support) in both modes to second order. The rules' complex conventions
are compared with ``jax.vjp`` / ``jax.jvp`` by writing z = x + iy: x̄ = Re z̄, ȳ = −Im z̄.
One deliberate difference: JAX gives sign(z) = z/|z| a zero derivative also for complex z, where
it varies on the circle; nnmath differentiates it (checked by finite differences, "complex-sign").

``ROWS`` joins the rule table, so tests/test_vmap.py and tests/test_jit.py run every row too.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import nnmath as nm
import nnmath.numpy as mnp
import nnmath.scipy.special as sps
from nnmath._core.primitive import REGISTRY
from rowtable import Row, rng, run_row

R = rng(15)
X, Y = R.normal(size=(3, 4)), R.normal(size=(3, 4))
V, W = R.normal(size=(4,)), R.normal(size=(4,))
AC = R.normal(size=(4, 4)) + 1j * R.normal(size=(4, 4))          # a complex constant matrix
M1, M2 = R.normal(size=(3, 3)), R.normal(size=(3, 3))
M1 = M1 + 3.0 * np.eye(3)                                          # A + iB well conditioned
POS = R.uniform(0.5, 2.0, size=(3, 4))


def z_of(x, y):
    return x + 1j * y


def _hpd(a, b):
    """B Bᴴ + I for B = a + ib: Hermitian positive definite."""
    z = z_of(a, b)
    return z @ mnp.conj(z).T + np.eye(z.shape[0], dtype=z.dtype)


ROWS = [
    # --- the issue's functions -----------------------------------------------------------------
    Row("absolute", lambda x, y: mnp.abs(z_of(x, y)), (X, Y), id="abs(x+iy)"),
    Row("real", lambda x: mnp.real(mnp.exp(1j * x)), (X,), id="Re(exp(ix))"),
    Row("matmul", lambda x, y: mnp.sum(mnp.abs(AC @ z_of(x, y)) ** 2), (V, W),
        id="|A(x+iy)|^2", f32=False),
    Row("linalg.det", lambda a, b: mnp.real(mnp.linalg.det(z_of(a, b))), (M1, M2),
        id="Re(det(A+iB))"),
    Row("real", lambda x, y: mnp.angle(z_of(x, y)), (POS, Y), id="angle(x+iy)"),
    # --- the non-holomorphic primitives --------------------------------------------------------
    Row("conj", lambda x, y: mnp.real(mnp.conj(z_of(x, y)) * z_of(y, 2.0 * x) * 1j), (X, Y)),
    Row("conj", lambda x, y: mnp.imag(z_of(x, y).conj() * (2 + 3j)), (X, Y), id="conj-method"),
    Row("real", lambda x, y: z_of(x, y).real * z_of(y, x).imag, (X, Y), id="real/imag-properties"),
    Row("imag", lambda x, y: mnp.imag(mnp.sin(z_of(x, y))), (X, Y)),
    Row("add", lambda x: mnp.real(x) + mnp.imag(x) + mnp.conj(x) + mnp.angle(x + 3.0), (X,),
        id="real-input-identities"),
    Row("absolute", lambda x, y: mnp.sign(z_of(x, y)).imag + mnp.abs(z_of(x, y)) ** 3, (X, Y),
        id="complex-sign"),
    # --- holomorphic primitives with a complex value -------------------------------------------
    Row("sqrt", lambda x, y: mnp.abs(mnp.sqrt(z_of(POS + x * x, y))), (X, Y), id="sqrt-complex", f32=False),
    Row("power", lambda x, y: mnp.real(z_of(x, y) ** 3 + z_of(POS, y) ** (0.5 + 0.25j)), (X, Y),
        id="power-complex", f32=False),
    Row("power", lambda x, y: mnp.imag(z_of(POS, 0.3 * y) ** z_of(0.5 * x, y)), (X, Y),
        id="power-complex-exponent", f32=False),
    Row("log", lambda x, y: mnp.imag(mnp.log(z_of(POS, x)) + mnp.log1p(z_of(POS, y))
                                     + mnp.log2(z_of(POS, y)) + mnp.log10(z_of(POS, x))), (X, Y),
        id="log-complex", f32=False),
    Row("divide", lambda x, y: mnp.real(z_of(x, y) / z_of(POS, x) + 1.0 / z_of(POS, y)
                                        + mnp.reciprocal(z_of(POS, y))), (X, Y),
        id="divide-complex", f32=False),
    Row("exp", lambda x, y: mnp.real(mnp.exp(z_of(x, y)) + mnp.exp2(z_of(x, y))
                                     + mnp.expm1(z_of(y, x)) + mnp.square(z_of(x, y))), (X, Y),
        id="exp-complex"),
    Row("sin", lambda x, y: mnp.imag(mnp.sin(z_of(x, y)) * mnp.cos(z_of(y, x))
                                     + mnp.tan(0.3 * z_of(x, y))), (X, Y), id="trig-complex"),
    Row("tanh", lambda x, y: mnp.real(mnp.sinh(z_of(x, y)) + mnp.cosh(z_of(y, x))
                                      + mnp.tanh(0.3 * z_of(x, y))), (X, Y), id="hyperbolic-complex"),
    Row("subtract", lambda x, y: mnp.abs(-z_of(x, y) - z_of(y, 1.0) + z_of(1.0, x)) ** 2, (X, Y),
        id="add-subtract-negative-complex"),
    Row("where", lambda x, y: mnp.abs(mnp.where(X > 0, z_of(x, y), 2.0 * x)), (X, Y),
        id="where-complex"),
    Row("astype", lambda x, y: mnp.real(mnp.astype(x, np.complex128) * z_of(x, y)), (X, Y),
        id="astype-to-complex", f32=False),
    # --- reductions, shape and indexing ops ----------------------------------------------------
    Row("sum", lambda x, y: mnp.abs(mnp.sum(z_of(x, y), axis=0) + mnp.mean(z_of(y, x))), (X, Y),
        id="sum-mean-complex"),
    Row("cumsum", lambda x, y: mnp.imag(mnp.cumsum(z_of(x, y) ** 2, axis=1)), (X, Y),
        id="cumsum-complex"),
    Row("prod", lambda x, y: mnp.real(mnp.prod(z_of(x, y), axis=1)), (X, Y), id="prod-complex"),
    Row("getitem", lambda x, y: mnp.abs(z_of(x, y)[1:, ::-1].T.reshape(-1)[np.array([0, 3, 3])]),
        (X, Y), id="shape-complex"),
    Row("concatenate", lambda x, y: mnp.real(mnp.concatenate([z_of(x, y), z_of(y, x) * 1j])
                                             * mnp.stack([z_of(x, x), z_of(y, y)]).reshape(6, 4)),
        (X, Y), id="concatenate-stack-complex"),
    Row("index_set", lambda x, y: mnp.imag(mnp.at(z_of(x, y))[1, :2].set(z_of(y[0, :2], 1.0))
                                           + mnp.roll(mnp.triu(z_of(y, x)), 1)), (X, Y),
        id="index-update-complex"),
    Row("broadcast_to", lambda x, y: mnp.real(mnp.broadcast_to(z_of(x, y), (2, 4)) * 1j
                                              + mnp.pad(z_of(x, y), (1, 1))[1:-1]), (V, W),
        id="broadcast-pad-complex"),
    # --- products ------------------------------------------------------------------------------
    Row("einsum", lambda x, y: mnp.real(mnp.einsum("ij,jk->ik", z_of(x, y), AC)
                                        + mnp.tensordot(z_of(y, x), AC, axes=1)), (X[:, :4], Y),
        id="einsum-tensordot-complex", f32=False),
    Row("matmul", lambda x, y: mnp.imag(z_of(x, y) @ AC @ z_of(y, x).T), (X, Y), id="matmul-complex",
        f32=False),
    Row("einsum", lambda x, y: mnp.real(mnp.vdot(z_of(x, y), z_of(y, 2.0 * x))
                                        + mnp.dot(z_of(x, y), AC[0])), (V, W), id="vdot-dot-complex",
        f32=False),
    # --- linear algebra ------------------------------------------------------------------------
    Row("linalg.inv", lambda a, b: mnp.imag(mnp.linalg.inv(z_of(a, b))), (M1, M2), id="inv-complex"),
    Row("linalg.solve", lambda a, b, v: mnp.abs(mnp.linalg.solve(z_of(a, b), v * (1 - 1j))),
        (M1, M2, V[:3]), id="solve-complex"),
    Row("linalg.slogdet", lambda a, b: mnp.linalg.slogdet(z_of(a, b))[1], (M1, M2),
        id="slogdet-logabsdet-complex"),
    Row("linalg.slogdet", lambda a, b: mnp.imag(mnp.linalg.slogdet(z_of(a, b))[0]), (M1, M2),
        id="slogdet-sign-complex"),
    Row("absolute", lambda x, y: mnp.linalg.norm(z_of(x, y)) + mnp.linalg.norm(z_of(x, y), axis=1)
        + mnp.linalg.norm(z_of(x, y), ord=1, axis=0).sum(), (X, Y), id="norm-complex"),
    Row("absolute", lambda x, y: mnp.var(z_of(x, y)) + mnp.std(z_of(y, x), axis=0), (X, Y),
        id="var-std-complex"),
    # --- Hermitian linear algebra: A = B Bᴴ + I, Hermitian positive definite for any B ---------
    Row("linalg.cholesky", lambda a, b: mnp.real(mnp.linalg.cholesky(_hpd(a, b)) * (1 - 1j)), (M1, M2),
        id="cholesky-hermitian"),
    Row("linalg.cholesky", lambda a, b: mnp.abs(mnp.linalg.cholesky(_hpd(a, b), upper=True)), (M1, M2),
        id="cholesky-hermitian-upper"),
    Row("linalg.eigh", lambda a, b: mnp.linalg.eigvalsh(_hpd(a, b)) + mnp.linalg.eigh(_hpd(b, a), UPLO="U")[0],
        (M1, M2), id="eigvalsh-hermitian"),
    Row("linalg.eigh", lambda a, b: (lambda w, v: mnp.real((v * mnp.sqrt(w)) @ mnp.conj(v).T * (2 + 1j))
                                     + mnp.abs(v))(*mnp.linalg.eigh(_hpd(a, b))),
        (M1, M2), id="eigh-hermitian-vectors"),
    # --- complex svd and qr (quantities free of LAPACK's phase choices, and U, R as returned) --
    Row("linalg.svd", lambda x, y: mnp.linalg.svd(z_of(x, y), compute_uv=False), (X, Y), id="svdvals-complex"),
    Row("linalg.svd", lambda x, y: (lambda u, s, vh: mnp.real((u * mnp.sqrt(s)) @ vh * (1 - 1j))
                                    + mnp.sum(mnp.abs(u)) + mnp.sum(mnp.abs(vh)))(
        *mnp.linalg.svd(z_of(x, y), full_matrices=False)), (X, Y), id="svd-complex-wide", eps=3e-5),
    Row("linalg.svd", lambda x, y: (lambda u, s, vh: mnp.imag((u * s) @ mnp.conj(u).T))(
        *mnp.linalg.svd(z_of(x, y).T, full_matrices=False)), (X, Y), id="svd-complex-tall"),
    Row("linalg.qr", lambda x, y: (lambda q, r: mnp.real(q * (2 + 1j)) + mnp.imag(r).sum())(
        *mnp.linalg.qr(z_of(x, y).T)), (X, Y), id="qr-complex"),
    Row("linalg.pinv", lambda x, y: mnp.real(mnp.linalg.pinv(z_of(x, y)) * (1 + 2j)), (X, Y),
        id="pinv-complex"),
]


@pytest.mark.parametrize("row", ROWS, ids=lambda r: r.id)
def test_row(row):
    run_row(row)


# ----------------------------------------------------------------------------------- values


def test_values_match_numpy():
    z = z_of(X, Y)
    np.testing.assert_array_equal(mnp.conj(z), np.conj(z))
    np.testing.assert_array_equal(mnp.conjugate(z), np.conj(z))
    np.testing.assert_array_equal(mnp.real(z), z.real)
    np.testing.assert_array_equal(mnp.imag(z), z.imag)
    np.testing.assert_array_equal(mnp.angle(z), np.angle(z))
    np.testing.assert_array_equal(mnp.angle(z, deg=True), np.angle(z, deg=True))
    np.testing.assert_allclose(mnp.vdot(z, z[::-1]), np.vdot(z, z[::-1]))
    np.testing.assert_allclose(mnp.var(z), np.var(z))
    for kw in ({}, {"axis": 1}, {"ord": 1, "axis": 0}, {"ord": np.inf, "axis": 1}, {"ord": "fro"},
               {"ord": 1}, {"ord": "nuc"}, {"ord": 2}):
        got, want = mnp.linalg.norm(z, **kw), np.linalg.norm(z, **kw)
        np.testing.assert_allclose(got, want, rtol=1e-12, err_msg=str(kw))
        assert np.asarray(got).dtype == np.float64, kw


def test_traced_values_and_dtypes():
    def f(x, y):
        z = z_of(x, y)
        assert z.real.dtype == np.float64 and z.imag.dtype == np.float64
        np.testing.assert_array_equal(nm.stop_gradient(z.real), X)
        np.testing.assert_array_equal(nm.stop_gradient(z.imag), Y)
        np.testing.assert_array_equal(nm.stop_gradient(z.conj()), np.conj(z_of(X, Y)))
        n = mnp.linalg.norm(z)
        assert n.dtype == np.float64
        return n

    gx, gy = nm.grad(f, argnums=(0, 1))(X, Y)
    n = np.linalg.norm(z_of(X, Y))
    np.testing.assert_allclose(gx, X / n, rtol=1e-12)
    np.testing.assert_allclose(gy, Y / n, rtol=1e-12)


def test_issue_example_abs():
    x = 0.3
    g = nm.grad(lambda y: mnp.abs(x + 1j * y))(0.7)
    assert g == pytest.approx(0.7 / abs(0.3 + 0.7j), rel=1e-12)      # +y/|z|, not −y/|z|


def test_no_complex_warning_on_real_cotangents():
    with np.errstate(all="raise"):
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            g = nm.grad(lambda x: mnp.real(mnp.sum(x * (1 + 2j))))(X)
    np.testing.assert_array_equal(g, np.ones_like(X))
    assert g.dtype == np.float64


# ---------------------------------------------------------------------------------- refusals

REFUSED = [
    ("maximum", lambda z: mnp.maximum(z, 0.5 * z)),
    ("minimum", lambda z: mnp.minimum(z, 0.5 * z)),
    ("max", lambda z: mnp.max(z)),
    ("min", lambda z: mnp.min(z, axis=0)),
    ("clip", lambda z: mnp.clip(z, -1.0, 1.0)),
    ("logsumexp", lambda z: sps.logsumexp(z)),
    ("softmax", lambda z: sps.softmax(z)),
    ("arctan2", lambda z: mnp.arctan2(z, 1.0)),
]


@pytest.mark.parametrize("name,fun", REFUSED, ids=[r[0] for r in REFUSED])
@pytest.mark.parametrize("mode", ["rev", "fwd"])
def test_unsupported_complex_derivatives_raise_naming_the_primitive(name, fun, mode):
    def f(x, y):
        out = fun(z_of(x, y))
        out = out[0] if isinstance(out, tuple) else out
        return mnp.sum(mnp.real(out))

    with pytest.raises(NotImplementedError, match=rf"'{name}'.*complex"):
        if mode == "rev":
            nm.grad(f)(X, Y)
        else:
            nm.jvp(f, (X, Y), (X, Y))
    with pytest.raises(NotImplementedError, match=rf"'{name}'.*complex"):
        nm.grad(lambda x: mnp.sum(mnp.real(fun(x * (1 + 0.5j)))))(X) if mode == "rev" else \
            nm.jvp(lambda x: mnp.sum(mnp.real(fun(x * (1 + 0.5j)))), (X,), (Y,))


def test_refusal_is_only_for_derivatives():
    z = z_of(X, Y)
    np.testing.assert_array_equal(mnp.maximum(z, 0.5 * z), np.maximum(z, 0.5 * z))
    np.testing.assert_allclose(nm.vmap(lambda a: mnp.max(a))(z), np.max(z, axis=1))
    # a real input of a non-complex-safe primitive next to a complex constant: refused too
    with pytest.raises(NotImplementedError, match="'maximum'"):
        nm.grad(lambda x: mnp.sum(mnp.real(mnp.maximum(x, z))))(X)


def test_every_primitive_declares_its_complex_support():
    for name, p in REGISTRY.items():
        assert isinstance(p.complex_rules, bool), name


# ------------------------------------------------------------------------- against JAX's rules

C1 = R.normal(size=(3, 3)) + 1j * R.normal(size=(3, 3)) + 3.0 * np.eye(3)
C2 = R.normal(size=(3, 3)) + 1j * R.normal(size=(3, 3))
CV = R.normal(size=(3,)) + 1j * R.normal(size=(3,))
CP = R.uniform(0.5, 2.0, size=(3, 3)) + 1j * R.normal(size=(3, 3))   # off the negative real axis

#: (name, the function written for a numpy-like namespace m — nnmath.numpy or jax.numpy —, the
#: complex arguments)
AGAINST_JAX = [
    ("abs", lambda m: m.abs, (C2,)),
    ("conj", lambda m: m.conj, (C2,)),
    ("real", lambda m: m.real, (C2,)),
    ("imag", lambda m: m.imag, (C2,)),
    ("angle", lambda m: m.angle, (CP,)),
    ("sqrt", lambda m: m.sqrt, (CP,)),
    ("log", lambda m: m.log, (CP,)),
    ("exp", lambda m: m.exp, (C2,)),
    ("sin", lambda m: m.sin, (C2,)),
    ("tanh", lambda m: m.tanh, (C2,)),
    ("reciprocal", lambda m: m.reciprocal, (C1,)),
    ("exp2-expm1", lambda m: lambda a: m.exp2(a) * m.expm1(a), (C2,)),
    ("log1p-log2-log10", lambda m: lambda a: m.log1p(a) + m.log2(a) * m.log10(a), (CP,)),
    ("cos-tan-square", lambda m: lambda a: m.cos(a) * m.tan(a) - m.square(a), (C2 * 0.5,)),
    ("sinh-cosh", lambda m: lambda a: m.sinh(a) / m.cosh(a), (C2,)),
    ("arcsin-arccos-arctan", lambda m: lambda a: m.arcsin(a) * m.arccos(a) + m.arctan(a),
     (C2 * 0.5,)),
    ("arcsinh-arctanh", lambda m: lambda a: m.arcsinh(a) + m.arctanh(a), (C2 * 0.5,)),
    ("add-subtract-negative", lambda m: lambda a, b: -(a + b) - b, (C2, C1)),
    ("multiply-divide", lambda m: lambda a, b: a * b + a / b, (C2, C1)),
    ("power", lambda m: lambda a, b: a ** b, (CP, C2 * 0.3)),
    ("power-int", lambda m: lambda a: a ** 3, (C2,)),
    ("where", lambda m: lambda a, b: m.where(np.real(C2) > 0, a, b), (C2, C1)),
    ("shape-ops", lambda m: lambda a, b: m.concatenate([a[1:, ::-1], m.sum(b, axis=0, keepdims=True)]),
     (C2, C1)),
    ("mean-astype", lambda m: lambda a: m.mean(m.astype(a, np.complex64)), (C2,)),
    ("prod", lambda m: lambda a: m.prod(a, axis=0), (C2,)),
    ("cumsum", lambda m: lambda a: m.cumsum(a, axis=1), (C2,)),
    ("var", lambda m: m.var, (C2,)),
    ("sort", lambda m: lambda a: m.sort(a, axis=1), (C2,)),
    ("matmul", lambda m: m.matmul, (C2, C1)),
    ("einsum", lambda m: lambda a, b: m.einsum("ij,kj->ik", a, b), (C2, C1)),
    ("vdot", lambda m: m.vdot, (CV, C1[0])),
    ("inv", lambda m: m.linalg.inv, (C1,)),
    ("det", lambda m: m.linalg.det, (C1,)),
    ("solve", lambda m: m.linalg.solve, (C1, C2)),
    ("slogdet-sign", lambda m: lambda a: m.linalg.slogdet(a)[0], (C1,)),
    ("slogdet-logabsdet", lambda m: lambda a: m.linalg.slogdet(a)[1], (C1,)),
    ("norm", lambda m: m.linalg.norm, (C2,)),
    ("norm-1", lambda m: lambda a: m.linalg.norm(a, 1), (C2,)),
    ("cholesky", lambda m: lambda a: m.linalg.cholesky(a @ m.conj(a).T + np.eye(3)), (C2,)),
    ("eigh", lambda m: lambda a: (lambda w, v: (v * w) @ m.conj(v).T)(*m.linalg.eigh(a @ m.conj(a).T)),
     (C2,)),
    ("eigvalsh", lambda m: lambda a: m.linalg.eigvalsh(a + m.conj(a).T), (C2,)),
    ("svdvals", lambda m: lambda a: m.linalg.svd(a, compute_uv=False), (C2,)),
    ("svd-usv", lambda m: lambda a: (lambda u, s, vh: (u * s ** 2) @ vh)(*m.linalg.svd(a)), (C2,)),
    ("svd-u-phase", lambda m: lambda a: m.linalg.svd(a)[0] * m.linalg.svd(a)[2][:, :1], (C2,)),
    ("qr", lambda m: lambda a: m.concatenate(m.linalg.qr(a)), (C2,)),
    ("pinv", lambda m: lambda a: m.linalg.pinv(a[:, :2]), (C2,)),
    ("eig-values", lambda m: lambda a: m.linalg.eigvals(a) if m is mnp else
     jax_eig(a)[0], (C1,)),
    ("eig-vectors", lambda m: lambda a: m.linalg.eig(a)[1] if m is mnp else jax_eig(a)[1], (C1,)),
    ("fft", lambda m: lambda a: m.fft.fft(a, n=4, axis=0), (C2,)),
    ("rfft-of-real", lambda m: lambda a: m.fft.rfft(m.real(a) * m.imag(a), norm="ortho"), (C2,)),
    ("irfft", lambda m: lambda a: m.fft.irfft(a, n=5), (C2,)),
]


def jax_eig(a):
    """(λ, V) by JAX, whose eigenvector derivatives need jax.lax.linalg.eig's opt-in flag."""
    import jax
    return jax.lax.linalg.eig(a, compute_left_eigenvectors=False, enable_eigvec_derivs=True)


@pytest.mark.parametrize("name,make,zs", AGAINST_JAX, ids=[r[0] for r in AGAINST_JAX])
def test_conventions_match_jax(jax, name, make, zs):
    """z = x + iy with real x, y: nnmath's x̄, ȳ must be Re z̄, −Im z̄ of JAX's z̄ (reverse), and
    nnmath's tangent along (ẋ, ẏ) JAX's along ż = ẋ + iẏ (forward)."""
    jnp = jax.numpy
    f, jf = make(mnp), make(jnp)
    xs = [np.real(z) for z in zs]
    ys = [np.imag(z) for z in zs]
    n = len(zs)

    def g(*xy):
        return f(*[xy[k] + 1j * xy[n + k] for k in range(n)])

    out, pullback = nm.vjp(g, *xs, *ys)
    jout, jpull = jax.vjp(jf, *zs)
    tol = dict(rtol=1e-9, atol=1e-11) if jout.dtype in (np.float64, np.complex128) else \
        dict(rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out, jout, **tol)
    assert np.asarray(out).dtype == jout.dtype, name
    ct = R.normal(size=np.shape(out))
    if np.iscomplexobj(out):
        ct = ct + 1j * R.normal(size=np.shape(out))
    ct = np.asarray(ct, dtype=np.asarray(out).dtype)
    grads = pullback(ct)
    jgrads = jpull(jnp.asarray(ct, dtype=jout.dtype))
    for k in range(n):
        np.testing.assert_allclose(grads[k], np.real(jgrads[k]), **tol, err_msg=name)
        np.testing.assert_allclose(grads[n + k], -np.imag(jgrads[k]), **tol, err_msg=name)
    txs = [R.normal(size=z.shape) for z in zs]
    tys = [R.normal(size=z.shape) for z in zs]
    _, tan = nm.jvp(g, (*xs, *ys), (*txs, *tys))
    _, jtan = jax.jvp(jf, tuple(zs), tuple(tx + 1j * ty for tx, ty in zip(txs, tys)))
    np.testing.assert_allclose(tan, jtan, **tol, err_msg=name)


# ------------------------------------------------------------------ random compositions (property)

_SETTINGS = settings(max_examples=40, deadline=None, database=None,
                     suppress_health_check=[HealthCheck.too_slow])
_K = R.normal(size=(3, 3)) * 0.5 + 0.5j * R.normal(size=(3, 3))

#: complex → complex maps, each defined (and smooth) everywhere the composition can take it
UNARY = {
    "exp": lambda z: mnp.exp(0.3 * z),
    "sin": lambda z: mnp.sin(0.5 * z),
    "cos": lambda z: mnp.cos(0.5 * z),
    "tanh": lambda z: mnp.tanh(0.2 * z),
    "square": lambda z: 0.5 * mnp.square(z),
    "conj": mnp.conj,
    "scale": lambda z: (0.7 - 0.4j) * z + (0.1 + 0.2j),
    "cube": lambda z: 0.2 * z ** 3,
    "recip": lambda z: 1.0 / (mnp.conj(z) * z + 1.0 + 0.5j),
    "sqrt": lambda z: mnp.sqrt(mnp.conj(z) * z + 1.0 + 0.1 * z),
    "log": lambda z: mnp.log(mnp.exp(0.2 * z) + 3.0),
    "matmul": lambda z: _K @ z,
    "einsum": lambda z: mnp.einsum("ij,j->i", _K, z),
    "cumsum": lambda z: 0.5 * mnp.cumsum(z),
    "flip": lambda z: z[::-1],
    "concat": lambda z: mnp.concatenate([z[1:], z[:1] * 1j]),
    "where": lambda z: mnp.where(np.array([True, False, True]), z, 2.0 * z),
    "real-mix": lambda z: mnp.real(z) * (1 + 1j) + 1j * mnp.imag(z),
    "abs-mix": lambda z: mnp.abs(z) * (0.5 + 0.5j) + z,
    "inv": lambda z: mnp.linalg.inv(mnp.reshape(mnp.concatenate([z, z * z, z * 1j]), (3, 3))
                                    * 0.05 + 2.0 * np.eye(3)) @ z,
    "det": lambda z: mnp.linalg.det(mnp.outer(z, z) * 0.1 + np.eye(3)) * z,
    "eigh": lambda z: mnp.linalg.eigvalsh(mnp.outer(z, mnp.conj(z)) + np.eye(3)) * z,
    "eig": lambda z: mnp.linalg.eigvals(mnp.outer(z, z) * 0.1 + np.diag([1.0, 2.0, 3.0])) * z,
    "fft": lambda z: mnp.fft.fft(z, norm="ortho"),
    # not complex-safe: must raise, never return a number
    "maximum": lambda z: mnp.maximum(z, 0.5 * z),
    "max": lambda z: z * mnp.max(z),
    "clip": lambda z: mnp.clip(z, -1.0, 1.0),
    "logsumexp": lambda z: z * sps.logsumexp(z),
}
REAL_OUT = {
    "abs": lambda z: mnp.sum(mnp.abs(z + 3.0)),
    "abs2": lambda z: mnp.sum(mnp.abs(z) ** 2),
    "real": lambda z: mnp.sum(mnp.real(z)),
    "imag": lambda z: mnp.sum(z.imag),
    "norm": lambda z: mnp.linalg.norm(z + 1.0),
    "angle": lambda z: mnp.sum(mnp.angle(z / (mnp.abs(z) + 1.0) + 2.0)),
}


@_SETTINGS
@given(st.lists(st.sampled_from(sorted(UNARY)), min_size=1, max_size=3),
       st.sampled_from(sorted(REAL_OUT)), st.integers(0, 2 ** 31 - 1))
def test_random_compositions_are_right_or_refused(ops, final, seed):
    x = np.random.default_rng(seed).uniform(-1.0, 1.0, size=(3,))

    def f(x):
        z = x * (0.8 + 0.3j) + 1j * x * x
        for op in ops:
            z = UNARY[op](z)
        return REAL_OUT[final](z)

    try:
        nm.check_grads(f, (x,), order=2, rtol=1e-4, atol=1e-6)
    except NotImplementedError as e:
        assert "complex" in str(e), str(e)
        refusing = {"maximum", "max", "clip", "logsumexp"}
        assert refusing & set(ops), f"{ops} + {final} refused: {e}"
