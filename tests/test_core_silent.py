"""One test per answer the core used to give silently wrong (issue 8, part 4).

Each of these returned a number (or nothing) where it should have raised or warned: a loss that
forgot its ``return``, an out-of-range ``out_axes``, ``check_grads(order=0)``, a custom rule with
the wrong cotangents or tangents, a global random draw frozen into a jit plan, and a closed-over
array mutated after a plan was recorded.
"""
from __future__ import annotations

import random
import warnings

import numpy as np
import pytest

import nnmath as nm
import nnmath.numpy as mnp

x2 = np.array([0.5, -1.0])


# --- grad of a function whose output is not a scalar array -------------------------------------
@pytest.mark.parametrize("out, what", [(None, "None"), ([1.0], "list"), ("a", "str"),
                                       ({"loss": 1.0}, "dict")])
def test_grad_of_a_non_array_output_raises_naming_it(out, what):
    with pytest.raises(TypeError, match=rf"grad.*{what}"):
        nm.grad(lambda x: out)(x2)
    with pytest.raises(TypeError, match=rf"grad.*{what}"):
        nm.value_and_grad(lambda x: out)(x2)


def test_grad_of_a_forgotten_return_says_so():
    def loss(x):
        mnp.sum(x ** 2)          # no return
    with pytest.raises(TypeError, match=r"returned None.*return"):
        nm.grad(loss)(x2)


def test_grad_of_a_list_holding_the_loss_raises_naming_it():
    with pytest.raises(TypeError, match=r"grad.*list"):
        nm.grad(lambda x: [mnp.sum(x)])(x2)


def test_grad_of_a_constant_float_is_still_zero():
    # a Python float is a scalar output (JAX: zero gradient); only non-arrays are refused
    np.testing.assert_array_equal(nm.grad(lambda x: 3.0)(x2), np.zeros(2))


# --- vmap axes -----------------------------------------------------------------------------------
@pytest.mark.parametrize("out_axes", [2, 5, -3, -5])
def test_vmap_out_axes_out_of_range_raises(out_axes):
    with pytest.raises(ValueError, match=rf"out_axes={out_axes}.*out of range"):
        nm.vmap(lambda x: x * 2.0, out_axes=out_axes)(np.ones((3, 2)))


@pytest.mark.parametrize("out_axes", [0, 1, -1, -2])
def test_vmap_out_axes_in_range_works(out_axes):
    y = nm.vmap(lambda x: x * 2.0, out_axes=out_axes)(np.arange(6.0).reshape(3, 2))
    np.testing.assert_array_equal(y, np.moveaxis(2.0 * np.arange(6.0).reshape(3, 2), 0, out_axes))


@pytest.mark.parametrize("in_axes", [2, -3, (5,), True, 1.0, "0"])
def test_vmap_bad_in_axes_raise(in_axes):
    with pytest.raises((ValueError, TypeError), match="in_axes"):
        nm.vmap(lambda x: x * 2.0, in_axes=in_axes)(np.ones((3, 2)))


@pytest.mark.parametrize("out_axes", [True, 1.5, "0"])
def test_vmap_bad_out_axes_type_raises(out_axes):
    with pytest.raises(TypeError, match="out_axes"):
        nm.vmap(lambda x: x * 2.0, out_axes=out_axes)(np.ones((3, 2)))


# --- check_grads ---------------------------------------------------------------------------------
@pytest.mark.parametrize("order", [0, -1, 1.5, True])
def test_check_grads_order_below_one_raises(order):
    with pytest.raises((ValueError, TypeError), match="order"):
        nm.check_grads(lambda x: x * 3.0, (x2,), order=order)


# --- custom_vjp: the backward rule's cotangents are checked --------------------------------------
def _cvjp(bwd):
    @nm.custom_vjp
    def f(x, y):
        return x * y
    f.defvjp(lambda x, y: (x * y, (x, y)), bwd)
    return f


def _loss(f):
    return lambda a, b: mnp.sum(f(a, b))


@pytest.mark.parametrize("bwd, pattern", [
    (lambda res, g: (g * res[1],), r"'f'.*bwd.*2.*got 1"),
    (lambda res, g: (np.ones(3), g), r"'f'.*argument 0.*shape \(3,\).*expected.*\(2,\)"),
    (lambda res, g: (np.ones(1), g), r"'f'.*argument 0.*shape \(1,\).*expected.*\(2,\)"),
    (lambda res, g: (g.reshape(2, 1), g), r"'f'.*argument 0.*shape \(2, 1\).*expected.*\(2,\)"),
    (lambda res, g: (np.ones(2, dtype=int), g), r"'f'.*argument 0.*dtype int.*expected.*float64"),
    (lambda res, g: (np.ones(2) + 1j, g), r"'f'.*argument 0.*dtype complex128.*expected.*float64"),
    (lambda res, g: ((g, g), g), r"'f'.*argument 0.*structure"),
    (lambda res, g: [g, "x"], r"'f'.*argument 1.*str"),
])
def test_custom_vjp_wrong_cotangents_name_the_rule_and_argument(bwd, pattern):
    with pytest.raises((TypeError, ValueError), match=pattern):
        nm.grad(_loss(_cvjp(bwd)), argnums=(0, 1))(x2, x2)


def test_custom_vjp_right_cotangents_still_work():
    f = _cvjp(lambda res, g: (g * res[1], None))
    gx, gy = nm.grad(_loss(f), argnums=(0, 1))(x2, x2 * 3)
    np.testing.assert_allclose(gx, 3 * x2)
    np.testing.assert_array_equal(gy, np.zeros(2))
    f32 = _cvjp(lambda res, g: (g * res[1], g.astype(np.float32) * res[0]))   # float precision: cast
    np.testing.assert_allclose(nm.grad(_loss(f32), argnums=1)(x2, x2), x2)


def test_custom_vjp_pytree_argument_cotangent_structure_checked():
    @nm.custom_vjp
    def f(p):
        return p["a"] * p["b"]
    f.defvjp(lambda p: (f(p), p), lambda p, g: ({"a": g * p["b"]},))
    with pytest.raises(TypeError, match=r"'f'.*argument 0.*structure"):
        nm.grad(lambda p: mnp.sum(f(p)))({"a": x2, "b": x2})


# --- custom_jvp: the rule's tangents are checked -------------------------------------------------
def _cjvp(tangent):
    @nm.custom_jvp
    def h(x):
        return mnp.sin(x)

    @h.defjvp
    def h_jvp(primals, tangents):
        return mnp.sin(primals[0]), tangent(tangents[0])
    return h


@pytest.mark.parametrize("tangent, pattern", [
    (lambda t: np.ones(3), r"'h'.*tangent.*shape \(3,\).*expected.*\(2,\)"),
    (lambda t: t[:1], r"'h'.*tangent.*shape \(1,\).*expected.*\(2,\)"),
    (lambda t: (t, t), r"'h'.*tangent.*structure"),
    (lambda t: t > 0, r"'h'.*tangent.*dtype bool.*expected.*float64"),
])
@pytest.mark.parametrize("mode", ["fwd", "rev"])
def test_custom_jvp_wrong_tangents_name_the_rule(tangent, pattern, mode):
    h = _cjvp(tangent)
    with pytest.raises((TypeError, ValueError), match=pattern):
        if mode == "fwd":
            nm.jvp(h, (x2,), (np.ones(2),))
        else:
            nm.grad(lambda x: mnp.sum(h(x)))(x2)


def test_custom_jvp_right_tangents_still_work():
    h = _cjvp(lambda t: t * 2.0)
    np.testing.assert_allclose(nm.jvp(h, (x2,), (np.ones(2),))[1], [2.0, 2.0])
    np.testing.assert_allclose(nm.grad(lambda x: mnp.sum(h(x)))(x2), [2.0, 2.0])


# --- jit and numpy's global random state ---------------------------------------------------------
@pytest.mark.parametrize("draw", [
    lambda x: x + np.random.normal(size=x.shape),
    lambda x: x * np.random.rand(),
    lambda x: x + np.random.default_rng().normal(size=x.shape),
    lambda x: x + random.random(),
])
def test_jit_refuses_a_draw_from_a_random_state_it_would_freeze(draw):
    f = nm.jit(draw)
    with pytest.raises(nm.ConcretizationError, match=r"test_core_silent.py:\d+.*random"):
        f(np.zeros(2))


def test_jit_with_a_generator_argument_still_draws_afresh():
    f = nm.jit(lambda x, rng: x + rng.normal(size=x.shape))
    rng = np.random.default_rng(0)
    a, b = f(np.zeros(2), rng), f(np.zeros(2), rng)
    assert not np.array_equal(a, b)


def test_global_random_outside_jit_untouched():
    np.random.seed(0)
    a = np.random.normal()
    f = nm.jit(lambda x: x * 2.0)
    f(np.zeros(2))
    np.random.seed(0)
    assert np.random.normal() == a
    assert np.random.normal == np.random.mtrand._rand.normal      # nothing left patched
    assert random.random == random._inst.random


def test_model_fit_falls_back_when_a_layer_draws_globally():
    # Model.compile(jit_compile="auto") falls back to tracing on ConcretizationError
    f = nm.jit(lambda x: x + np.random.normal(size=x.shape))
    with pytest.raises(nm.ConcretizationError):
        f(np.zeros(2))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert f.recordings == 0


# --- jit and closed-over arrays mutated after recording: the recorded value (JAX) ----------------
@pytest.mark.parametrize("body", [
    lambda x, C: x + C,                       # C reaches a recorded call directly
    lambda x, C: x + C * 2.0,                 # C*2 computed (plain numpy) while recording
    lambda x, C: mnp.concatenate([x, C]),     # C inside a list argument
    lambda x, C: nm.grad(lambda z: mnp.sum(z * C))(x),
])
def test_jit_closure_arrays_are_the_recorded_values(body):
    C = np.ones(2)
    f = nm.jit(lambda x: body(x, C))
    first = f(np.zeros(2))
    np.testing.assert_array_equal(first, body(np.zeros(2), np.ones(2)))
    C[:] = 5.0
    np.testing.assert_array_equal(f(np.zeros(2)), first)     # as in JAX: constants of the plan
    g = nm.jit(lambda x: body(x, C))                         # a new jit sees the new value
    np.testing.assert_array_equal(g(np.zeros(2)), body(np.zeros(2), C))


def test_jit_recording_leaves_other_threads_drawing():
    import threading
    drawn = []

    def body(x):
        t = threading.Thread(target=lambda: drawn.append(np.random.normal()))
        t.start()
        t.join()
        return x * 2.0
    np.testing.assert_array_equal(nm.jit(body)(np.ones(2)), [2.0, 2.0])
    assert len(drawn) == 1


def test_jit_steps_that_draw_internally_are_recorded():
    # scipy.linalg.logm estimates a norm with numpy's global random state, inside a recorded step:
    # the step runs again on each replay, so nothing is frozen and nothing is refused
    import nnmath.scipy.linalg as msl
    S = np.array([[2.0, 0.3], [0.3, 1.0]])
    f = nm.jit(lambda a: msl.logm(a * 1.0))
    import scipy.linalg as sl
    np.testing.assert_allclose(f(S), sl.logm(S))
    np.testing.assert_allclose(f(2 * S), sl.logm(2 * S))
