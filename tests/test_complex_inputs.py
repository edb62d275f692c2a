"""Complex inputs and outputs of the transforms, with JAX's semantics (checked against JAX itself).

For a real-valued f of z = x + iy, ``grad(f)(z) = ∂f/∂x − i ∂f/∂y`` (the cotangent z̄ with
df = Re(z̄·dz)); with ``holomorphic=True``, ``grad``/``jacfwd``/``jacrev``/``hessian`` give the
complex derivative f′(z). Without it, ``grad`` and ``jacrev`` refuse complex outputs and ``jacfwd``
(hence ``hessian``) complex inputs, as JAX does; ``holomorphic=True`` needs complex inputs and
outputs. ``check_grads`` perturbs real and imaginary parts together (a complex direction).
"""
from __future__ import annotations

import numpy as np
import pytest

import nnmath as nm
import nnmath.numpy as mnp
from nnmath.extend import defprimitive

R = np.random.default_rng(8)
Z = R.normal(size=(3,)) + 1j * R.normal(size=(3,))
W = R.normal(size=(2, 3)) + 1j * R.normal(size=(2, 3))
X = R.normal(size=(3,))


#: real-valued functions of complex (and real) arguments, written once for a namespace m
REAL_VALUED = [
    ("abs2", lambda m: lambda z: m.sum(m.abs(z) ** 2), (Z,)),
    ("mixed", lambda m: lambda z, x: m.sum(m.real(m.sin(z) * m.conj(z)) * x + m.imag(z) ** 3), (Z, X)),
    ("matmul-norm", lambda m: lambda w, z: m.sum(m.abs(w @ m.exp(0.5 * z))), (W, Z)),
    ("angle-log", lambda m: lambda z: m.sum(m.angle(z + 3.0) + m.real(m.log(z + 3.0)) ** 2), (Z,)),
]
#: holomorphic functions (complex → complex)
HOLOMORPHIC = [
    ("poly", lambda m: lambda z: m.sum(z ** 3 - 2.0 * z), (Z,)),
    ("exp-sin", lambda m: lambda z: m.sum(m.exp(0.5 * z) * m.sin(z)), (Z,)),
    ("matvec", lambda m: lambda w, z: m.sum(m.tanh(0.3 * (w @ z))), (W, Z)),
]


@pytest.mark.parametrize("name,make,args", REAL_VALUED, ids=[c[0] for c in REAL_VALUED])
def test_grad_of_real_valued_function_matches_jax(jax, name, make, args):
    f, jf = make(mnp), make(jax.numpy)
    argnums = tuple(range(len(args)))
    v, g = nm.value_and_grad(f, argnums)(*args)
    jv, jg = jax.value_and_grad(jf, argnums)(*args)
    np.testing.assert_allclose(v, jv, rtol=1e-12)
    for a, b, x in zip(g, jg, args):
        assert a.dtype == x.dtype
        np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-12, err_msg=name)
    # jacrev (real outputs) of a real-valued function: its gradient as a row
    np.testing.assert_allclose(nm.jacrev(f)(*args), jax.jacrev(jf)(*args), rtol=1e-11, atol=1e-12)
    # vjp and jvp with complex inputs directly
    out, pb = nm.vjp(f, *args)
    np.testing.assert_allclose(pb(np.float64(1.5))[0], 1.5 * g[0], rtol=1e-12)
    tans = tuple(np.ones_like(a) * (0.3 - 0.7j if a.dtype.kind == "c" else 0.4) for a in args)
    np.testing.assert_allclose(nm.jvp(f, args, tans)[1], jax.jvp(jf, args, tans)[1], rtol=1e-11)
    nm.check_grads(f, args, order=2)


def test_grad_is_the_conjugate_wirtinger_form():
    # f = |z|² = x² + y²: ∂f/∂x − i ∂f/∂y = 2x − 2iy = 2 z̄
    np.testing.assert_allclose(nm.grad(lambda z: mnp.sum(mnp.abs(z) ** 2))(Z), 2 * Z.conj(), rtol=1e-14)
    assert complex(nm.grad(lambda z: mnp.abs(z) ** 2)(np.array(1 + 2j))) == 2 - 4j     # the example
    # f = Im z = y: 0 − i·1
    assert complex(nm.grad(lambda z: mnp.imag(z))(np.complex128(0.5 + 0.5j))) == -1j


@pytest.mark.parametrize("name,make,args", HOLOMORPHIC, ids=[c[0] for c in HOLOMORPHIC])
def test_holomorphic_derivatives_match_jax(jax, name, make, args):
    f, jf = make(mnp), make(jax.numpy)
    argnums = tuple(range(len(args)))
    g = nm.grad(f, argnums, holomorphic=True)(*args)
    jg = jax.grad(jf, argnums, holomorphic=True)(*args)
    for a, b in zip(g, jg):
        np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-12, err_msg=name)
    vec = lambda *a: mnp.sin(a[-1]) * f(*a)
    jvec = lambda *a: jax.numpy.sin(a[-1]) * jf(*a)
    for ours, theirs in ((nm.jacrev, jax.jacrev), (nm.jacfwd, jax.jacfwd)):
        jac = ours(vec, argnums, holomorphic=True)(*args)
        jjac = theirs(jvec, argnums, holomorphic=True)(*args)
        for a, b in zip(jac, jjac):
            np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-12, err_msg=f"{name} {ours.__name__}")
    h = nm.hessian(f, holomorphic=True)(*args)
    np.testing.assert_allclose(h, jax.hessian(jf, holomorphic=True)(*args), rtol=1e-10, atol=1e-12)
    nm.check_grads(f, args, order=2)


def test_vmap_of_grad_over_complex_inputs(jax):
    f = lambda z: mnp.sum(mnp.abs(mnp.exp(z)) * mnp.real(z))
    jf = lambda z: jax.numpy.sum(jax.numpy.abs(jax.numpy.exp(z)) * jax.numpy.real(z))
    np.testing.assert_allclose(nm.vmap(nm.grad(f))(W), jax.vmap(jax.grad(jf))(W), rtol=1e-12)
    np.testing.assert_allclose(nm.vmap(mnp.conj)(W), W.conj())


def test_custom_rules_with_complex_inputs():
    @nm.custom_jvp
    def f(z):
        return z * z

    f.defjvp(lambda primals, tangents: (f(primals[0]), 2.0 * primals[0] * tangents[0]))
    np.testing.assert_allclose(nm.grad(lambda z: mnp.sum(mnp.abs(f(z)) ** 2))(Z),
                               nm.grad(lambda z: mnp.sum(mnp.abs(z * z) ** 2))(Z), rtol=1e-12)
    nm.check_grads(f, (Z,), order=1)


# ------------------------------------------------------------------------------ JAX's refusals

REFUSALS = [
    ("grad of a complex output", lambda nmj, m: nmj.grad(lambda z: m.sum(z * z))(Z)),
    ("jacrev of a complex output", lambda nmj, m: nmj.jacrev(lambda z: z * 2.0)(Z)),
    ("jacfwd of a complex input", lambda nmj, m: nmj.jacfwd(lambda z: m.abs(z))(Z)),
    ("hessian of a complex input", lambda nmj, m: nmj.hessian(lambda z: m.sum(m.abs(z) ** 2))(Z)),
    ("holomorphic with real input", lambda nmj, m: nmj.grad(lambda x: m.sum(x * 1j), holomorphic=True)(X)),
    ("holomorphic with real output", lambda nmj, m: nmj.grad(lambda z: m.sum(m.abs(z)), holomorphic=True)(Z)),
    ("jacfwd holomorphic, real input", lambda nmj, m: nmj.jacfwd(lambda x: x * 1j, holomorphic=True)(X)),
    ("jacrev holomorphic, real output", lambda nmj, m: nmj.jacrev(lambda z: m.abs(z), holomorphic=True)(Z)),
]


@pytest.mark.parametrize("what,call", REFUSALS, ids=[r[0] for r in REFUSALS])
def test_refused_where_jax_refuses(jax, what, call):
    with pytest.raises(TypeError):
        call(jax, jax.numpy)
    with pytest.raises(TypeError, match="holomorphic|real-valued"):
        call(nm, mnp)


def test_allowed_where_jax_allows(jax):
    # jacfwd of a real input with complex outputs, and vjp/jvp of anything, need no flag
    f = lambda x: mnp.exp(1j * x)
    np.testing.assert_allclose(nm.jacfwd(f)(X), jax.jacfwd(lambda x: jax.numpy.exp(1j * x))(X))
    g = lambda z: z * z
    np.testing.assert_allclose(nm.vjp(g, Z)[1](np.ones(3, complex))[0], 2 * Z)
    with pytest.raises(TypeError, match="only floating"):
        nm.grad(lambda n: mnp.sum(n * 1.0))(np.arange(3))


# ------------------------------------------------------------------------------ check_grads


def test_check_grads_perturbs_the_imaginary_part_too(fresh_name="test_wrong_complex_rule"):
    """A primitive with rules that treat z ↦ z·z̄ as holomorphic with derivative 2z̄ (right for
    Re y, wrong for Im y = 0) must fail along complex directions and complex cotangents."""
    from nnmath._core.primitive import REGISTRY
    bad = defprimitive(fresh_name, lambda z: z * np.conj(z),
                       vjp=lambda g, y, z: g * 2.0 * mnp.conj(z),
                       jvp=lambda t, y, z: t * 2.0 * mnp.conj(z),
                       batch="elementwise", complex_rules=True)
    try:
        real_z = np.array([0.5, -1.0, 2.0]) + 0j
        with pytest.raises(AssertionError, match="check_grads failed"):
            nm.check_grads(bad, (real_z,), order=1, modes="fwd")
        with pytest.raises(AssertionError, match="check_grads failed"):
            nm.check_grads(bad, (Z,), order=1, modes="rev")     # a complex cotangent on y
        nm.check_grads(lambda z: z * mnp.conj(z), (Z,), order=2)     # the right rules pass
    finally:
        del REGISTRY[fresh_name]
