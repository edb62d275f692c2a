"""nnmath.numpy.fft: values against numpy, derivatives against finite differences and JAX.

``ROWS`` (the four fft primitives, with n/s crop and pad, every norm, several axes) joins the
rule table through tests/test_primitives.py, so tests/test_vmap.py and tests/test_jit.py run
them too. Here: numpy's values and dtypes, JAX's VJPs and JVPs (``jax.numpy.fft``, test-only),
complex inputs checked by finite differences in their real and imaginary parts, and errors.
"""
from __future__ import annotations

import numpy as np
import pytest

import nnmath as nm
import nnmath.numpy as mnp
from rowtable import Row, rng, run_row

R = rng(21)
X8, Y8 = R.normal(size=(8,)), R.normal(size=(8,))
X7 = R.normal(size=(7,))
A, B = R.normal(size=(3, 4)), R.normal(size=(3, 4))
H5, K5 = R.normal(size=(3, 5)), R.normal(size=(3, 5))    # half spectra (m = 5 → n = 8)
T3 = R.normal(size=(2, 3, 4))
F = mnp.fft


def z_of(x, y):
    return x + 1j * y


ROWS = [
    Row("fft.fftn", lambda x, y: mnp.real(F.fft(z_of(x, y)) * (0.3 - 1j)), (X8, Y8), id="fft"),
    Row("fft.fftn", lambda x: mnp.abs(F.fft(x, n=6)) + mnp.imag(F.fft(x, n=10)[1:7]), (X8,),
        id="fft-real-n-crop-pad"),
    Row("fft.fftn", lambda x, y: mnp.imag(F.fft2(z_of(x, y), s=(2, 5), norm="ortho")), (A, B),
        id="fft2-s-ortho"),
    Row("fft.fftn", lambda x: mnp.real(F.fftn(x, axes=(0, 2), norm="forward")), (T3,),
        id="fftn-axes-forward"),
    Row("fft.ifftn", lambda x, y: mnp.real(F.ifft(z_of(x, y), axis=0) * 1j), (A, B), id="ifft-axis0"),
    Row("fft.ifftn", lambda x, y: mnp.imag(F.ifftn(z_of(x, y), s=(4, 3), norm="ortho"))[:3]
        + mnp.real(F.ifft2(z_of(y, x), norm="forward"))[:, :3], (A, B), id="ifftn-s-norms"),
    Row("fft.rfftn", lambda x: mnp.real(F.rfft(x) * (1 + 2j)), (X8,), id="rfft-even"),
    Row("fft.rfftn", lambda x: mnp.imag(F.rfft(x, norm="ortho")) + mnp.abs(F.rfft(x, n=9)[:4]),
        (X7,), id="rfft-odd-n-ortho"),
    Row("fft.rfftn", lambda x: mnp.abs(F.rfftn(x, s=(3, 6), norm="forward")), (A,),
        id="rfftn-s-forward"),
    Row("fft.rfftn", lambda x: mnp.real(F.rfft2(x, axes=(2, 0)) * (2 - 1j)), (T3,), id="rfft2-axes"),
    Row("fft.irfftn", lambda x, y: F.irfft(z_of(x, y)), (H5[0], K5[0]), id="irfft-even"),
    Row("fft.irfftn", lambda x, y: F.irfft(z_of(x, y), n=9, norm="ortho") ** 2, (H5[0], K5[0]),
        id="irfft-odd-n-ortho"),
    Row("fft.irfftn", lambda x, y: F.irfftn(z_of(x, y), s=(2, 6), norm="forward"), (H5, K5),
        id="irfftn-s-forward-crop"),
    Row("fft.irfftn", lambda x, y: F.irfft2(z_of(x, y)) * mnp.sin(x[:, :1]), (H5, K5),
        id="irfft2-times"),
    Row("fft.irfftn", lambda x, y: F.hfft(z_of(x, y)) + F.ihfft(x[0] * y[1]).imag.sum(), (H5, K5),
        id="hfft-ihfft"),
    Row("roll", lambda x: F.fftshift(x) * F.ifftshift(x, axes=1) + F.fftshift(x, axes=(0,)), (A,),
        id="fftshift-ifftshift"),
]


@pytest.mark.parametrize("row", ROWS, ids=lambda r: r.id)
def test_row(row):
    """Each fft primitive, both modes, to second order, against central differences."""
    run_row(row)


# ------------------------------------------------------------------------------ numpy values

C34 = A + 1j * B
CASES = [
    ("fft", C34, {}), ("fft", A, {"n": 6, "axis": 0}), ("fft", C34, {"n": 2, "norm": "ortho"}),
    ("ifft", C34, {"norm": "forward"}), ("ifft", A, {"n": 7}),
    ("fft2", T3, {"s": (2, 5)}), ("ifft2", C34, {"axes": (1, 0)}),
    ("fftn", T3, {}), ("fftn", C34, {"s": (5,), "axes": (-1,), "norm": "ortho"}), ("ifftn", T3, {"axes": (0, 2)}),
    ("rfft", A, {}), ("rfft", X7, {"n": 4, "norm": "forward"}), ("rfft2", T3, {}),
    ("rfftn", T3, {"axes": (2, 0), "s": (3, 5)}),
    ("irfft", H5 + 1j * K5, {}), ("irfft", H5 + 1j * K5, {"n": 9, "axis": -1, "norm": "ortho"}),
    ("irfft2", H5 + 1j * K5, {}), ("irfftn", H5 + 1j * K5, {"s": (4, 3), "axes": (0, 1), "norm": "forward"}),
    ("hfft", H5 + 1j * K5, {"n": 7}), ("ihfft", A, {"norm": "ortho"}),
    ("fftshift", A, {}), ("ifftshift", T3, {"axes": (0, 2)}),
]


@pytest.mark.parametrize("name,x,kw", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_values_and_dtypes_match_numpy(name, x, kw):
    want = getattr(np.fft, name)(x, **kw)
    got = getattr(F, name)(x, **kw)
    np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-13)
    assert got.dtype == want.dtype
    # traced: the same numbers, through the primitives
    traced = nm.jvp(lambda a: getattr(F, name)(a, **kw), (x,), (np.zeros_like(x),))[0]
    np.testing.assert_allclose(traced, want, rtol=1e-13, atol=1e-13)
    x32 = x.astype(np.complex64 if np.iscomplexobj(x) else np.float32)
    assert getattr(F, name)(x32, **kw).dtype == getattr(np.fft, name)(x32, **kw).dtype


def test_freqs():
    np.testing.assert_array_equal(F.fftfreq(8, 0.1), np.fft.fftfreq(8, 0.1))
    np.testing.assert_array_equal(F.rfftfreq(9), np.fft.rfftfreq(9))
    # differentiable in the spacing d: k/(n d) → −k/(n d²)
    g = nm.grad(lambda d: mnp.sum(F.fftfreq(8, d) ** 2) + mnp.sum(F.rfftfreq(8, d)))(0.5)
    k = np.fft.fftfreq(8)
    np.testing.assert_allclose(g, np.sum(-2 * k ** 2 / 0.5 ** 3) + np.sum(-np.fft.rfftfreq(8) / 0.25))


# ------------------------------------------------------------------------------ against JAX


#: (function name, input, keyword arguments): complex inputs are differentiated directly
JAX_CASES = [
    ("fft", C34, {}), ("fft", A, {"n": 6}), ("fft", C34, {"n": 3, "axis": 0, "norm": "ortho"}),
    ("ifft", C34, {"n": 6, "norm": "forward"}), ("fft2", T3 + 0.5j * T3[::-1], {"s": (2, 5)}),
    ("ifftn", T3 + 1j, {"axes": (0, 2), "norm": "ortho"}),
    ("rfft", X8, {}), ("rfft", X7, {"norm": "ortho"}), ("rfft", X8, {"n": 5}),
    ("rfft", X7, {"n": 10, "norm": "forward"}), ("rfftn", T3, {"axes": (2, 0), "s": (3, 5)}),
    ("rfft2", A, {"norm": "ortho"}),
    ("irfft", H5[0] + 1j * K5[0], {}), ("irfft", H5[0] + 1j * K5[0], {"n": 9}),
    ("irfft", H5[0] + 1j * K5[0], {"n": 4, "norm": "ortho"}),
    ("irfft", H5 + 1j * K5, {"n": 12, "axis": 0, "norm": "forward"}),
    ("irfftn", H5 + 1j * K5, {}), ("irfft2", H5 + 1j * K5, {"s": (2, 7), "norm": "ortho"}),
    ("hfft", H5[0] + 1j * K5[0], {}), ("ihfft", X7, {}),
    ("fftshift", C34, {}), ("ifftshift", T3, {"axes": (1,)}),
]


@pytest.mark.parametrize("name,x,kw", JAX_CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(JAX_CASES)])
def test_vjp_and_jvp_match_jax(jax, name, x, kw):
    jnp = jax.numpy
    f = lambda a: getattr(F, name)(a, **kw)
    jf = lambda a: getattr(jnp.fft, name)(a, **kw)
    out, pullback = nm.vjp(f, x)
    jout, jpull = jax.vjp(jf, x)
    np.testing.assert_allclose(out, jout, rtol=1e-12, atol=1e-12)
    ct = R.normal(size=np.shape(out)) + (1j * R.normal(size=np.shape(out)) if np.iscomplexobj(out) else 0)
    ct = np.asarray(ct, np.asarray(out).dtype)
    (g,), (jg,) = pullback(ct), jpull(jnp.asarray(ct))
    assert g.dtype == x.dtype
    np.testing.assert_allclose(g, jg, rtol=1e-11, atol=1e-12, err_msg=f"{name} VJP")
    t = np.asarray(R.normal(size=x.shape) + (1j * R.normal(size=x.shape) if np.iscomplexobj(x) else 0),
                   x.dtype)
    _, tan = nm.jvp(f, (x,), (t,))
    _, jtan = jax.jvp(jf, (x,), (jnp.asarray(t),))
    np.testing.assert_allclose(tan, jtan, rtol=1e-11, atol=1e-12, err_msg=f"{name} JVP")


# ------------------------------------------------------------- complex inputs, higher order


@pytest.mark.parametrize("f", [
    lambda z: F.fft(z * z, n=5),
    lambda z: F.ifft2(mnp.conj(z), norm="ortho"),
    lambda z: F.irfft(z[0], n=7) * F.irfft(z[1], n=7),
    lambda z: F.rfft(mnp.abs(z) ** 2, axis=0),
], ids=["fft", "ifft2", "irfft", "rfft"])
def test_complex_inputs_second_order(f):
    nm.check_grads(f, (C34,), order=2)


def test_vmap_over_transforms():
    zs = np.stack([C34, 2 * C34, C34.conj()])
    for f in (lambda z: F.fftn(z, axes=(0,)), lambda z: F.irfft2(z, s=(3, 5)),
              lambda z: F.rfft(z.real, n=3, axis=0)):
        np.testing.assert_allclose(nm.vmap(f)(zs), np.stack([f(z) for z in zs]), rtol=1e-12)
    # per-example gradients of a spectral energy
    g = nm.vmap(nm.grad(lambda x: mnp.sum(mnp.abs(F.rfft(x)) ** 2)))(np.stack([X8, Y8]))
    loop = np.stack([nm.grad(lambda x: mnp.sum(mnp.abs(F.rfft(x)) ** 2))(x) for x in (X8, Y8)])
    np.testing.assert_allclose(g, loop, rtol=1e-12)


def test_jit_records_the_transforms():
    f = nm.jit(nm.grad(lambda x, y: mnp.sum(mnp.abs(F.fft2(z_of(x, y), s=(4, 4))) ** 2)))
    g = nm.grad(lambda x, y: mnp.sum(mnp.abs(F.fft2(z_of(x, y), s=(4, 4))) ** 2))
    for a in (A, A * 2):
        np.testing.assert_allclose(f(a, B), g(a, B), rtol=1e-12)


# ------------------------------------------------------------------------------------ errors


@pytest.mark.parametrize("call,match", [
    (lambda: F.fft(C34, norm="unitary"), "norm must be"),
    (lambda: F.fft(C34, axis=2), "axis 2 is out of range"),
    (lambda: F.fftn(C34, axes=(1, -1)), "repeats an axis"),
    (lambda: F.fft(C34, n=0), "at least 1"),
    (lambda: F.fftn(C34, s=(3, 3, 3), axes=(0, 1)), "s has 3 entries"),
    (lambda: F.irfft(np.ones(1, complex)), "pass n"),
], ids=["norm", "axis", "repeated", "n0", "s-len", "irfft-len1"])
def test_errors_name_the_argument(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()
