"""nnmath.extend: one declaration per primitive, checked when declared; a user's own primitive
under every transform; the rule table under strict ``saves`` (the tape keeps only what each
primitive declares)."""
from __future__ import annotations

import numpy as np
import pytest

import nnmath as nm
import nnmath.numpy as mnp
from nnmath._core.primitive import REGISTRY, strict_saves
from nnmath.extend import bilinear, defprimitive, elementwise, elementwise2
from rowtable import all_rows, run_row


@pytest.fixture
def fresh_names():
    """Names registered by a test are removed after it (the registry is global)."""
    before = set(REGISTRY)
    yield
    for name in set(REGISTRY) - before:
        del REGISTRY[name]


def _softplus_impl(x):
    return np.logaddexp(0.0, x)


def test_user_primitive_under_every_transform(fresh_names):
    # y = ln(1 + eˣ)      f′ = σ(x) = 1 − e^(−y)
    sp = elementwise("test_softplus", _softplus_impl, lambda y, x: 1.0 - mnp.exp(-y))
    x = np.random.default_rng(0).normal(size=4)
    sig = 1.0 / (1.0 + np.exp(-x))
    f = lambda x: mnp.sum(sp(x))
    np.testing.assert_allclose(nm.grad(f)(x), sig, rtol=1e-13)
    np.testing.assert_allclose(nm.jvp(sp, (x,), (np.ones(4),))[1], sig, rtol=1e-13)
    np.testing.assert_allclose(nm.vjp(sp, x)[1](np.ones(4))[0], sig, rtol=1e-13)
    np.testing.assert_allclose(nm.hessian(f)(x), np.diag(sig * (1 - sig)), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(nm.vmap(nm.grad(f))(np.stack([x, -x])), [sig, 1 - sig], rtol=1e-13)
    np.testing.assert_allclose(nm.jit(nm.grad(f))(x), sig, rtol=1e-13)
    nm.check_grads(sp, (x,), order=2)
    assert sp.saves == "ans"        # inferred: f′ reads only y


def test_elementwise2_and_bilinear_derive_both_modes(fresh_names):
    # y = a·b²    ∂y/∂a = b², ∂y/∂b = 2ab; broadcasting (3,) against (2, 3) summed back
    f2 = elementwise2("test_ab2", lambda a, b: a * b * b, lambda y, a, b: b * b,
                      lambda y, a, b: 2.0 * a * b)
    a, b = np.random.default_rng(1).normal(size=(2, 3)), np.random.default_rng(2).normal(size=3)
    nm.check_grads(f2, (a, b), order=2)
    ga, gb = nm.grad(lambda a, b: mnp.sum(f2(a, b)), argnums=(0, 1))(a, b)
    np.testing.assert_allclose(gb, np.sum(2 * a * b, axis=0), rtol=1e-13)
    # Y = A Bᵀ    Ā = Ȳ B, B̄ = Ȳᵀ A; the JVP Ȧ Bᵀ + A Ḃᵀ follows from the form
    abt = bilinear("test_abt", lambda a, b: a @ b.T, lambda g, y, a, b: g @ b,
                   lambda g, y, a, b: g.T @ a, batch="leading")
    m, n = np.random.default_rng(3).normal(size=(2, 4, 3))
    nm.check_grads(abt, (m, n), order=2)


@pytest.mark.parametrize("kwargs, message", [
    (dict(vjp=(lambda g, y, x: g,), jvp=(lambda t, y, x: t, lambda t, y, x: t)),
     r"'test_bad'.*vjp has 1 rule\(s\) but jvp has 2"),
    (dict(vjp=(None,), jvp=(None,)), r"'test_bad'.*no argument is differentiable"),
    (dict(vjp=(lambda g, y, x: g,), jvp=(None,)), r"'test_bad'.*argument 0 has a vjp rule"),
    (dict(vjp=lambda g, x: g, jvp=lambda t, y, x: t), r"'test_bad'.*vjp\[0\] takes 2"),
    (dict(vjp=lambda g, y, x: g, jvp=lambda t, y, x: t, saves="some"),
     r"'test_bad'.*saves must be one of"),
    (dict(vjp=lambda g, y, x: g, jvp=lambda t, y, x: t, batch="rowwise"),
     r"'test_bad'.*batch='rowwise' is not a known structure"),
    (dict(vjp=(lambda g, y, a, b: g,) * 3, jvp=(lambda t, y, a, b: t,) * 3),
     r"'test_bad'.*3 rule\(s\) given but impl takes 2"),
])
def test_defprimitive_checks_the_declaration(kwargs, message, fresh_names):
    kwargs.setdefault("batch", "elementwise")
    impl = np.add if "a, b" in message or "3 rule" in message else np.sin
    with pytest.raises((TypeError, ValueError), match=message):
        defprimitive("test_bad", impl, **kwargs)
    assert "test_bad" not in REGISTRY


def test_defprimitive_refuses_a_taken_name():
    with pytest.raises(ValueError, match=r"'tanh'.*already registered"):
        elementwise("tanh", np.tanh, lambda y, x: 1.0 - y * y)


def test_rule_table_under_strict_saves():
    """Every row of the rule table with the tape keeping only what each primitive declares in
    ``saves`` (normally arrays of ≤ 4,096 elements are kept whatever the declaration)."""
    rows = all_rows()
    assert len(rows) > 100
    with strict_saves():
        for row in rows:
            run_row(row)


def test_strict_saves_catches_a_rule_reading_an_undeclared_value(fresh_names):
    # declared saves="none" but the VJP reads x: works by luck on small arrays, fails when strict
    bad = defprimitive("test_wrong_saves", np.square, vjp=lambda g, y, x: 2.0 * x * g,
                       jvp=lambda t, y, x: 2.0 * x * t, batch="elementwise", saves="none")
    f = lambda x: mnp.sum(bad(x))
    np.testing.assert_allclose(nm.grad(f)(np.ones(3)), 2.0)
    with strict_saves(), pytest.raises(TypeError):
        nm.grad(f)(np.ones(3))
