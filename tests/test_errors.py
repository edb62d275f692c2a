"""Bad input gets a clear error naming the argument, what it got and what it expected."""
from __future__ import annotations

import numpy as np
import pytest

import nnmath as nm
import nnmath.numpy as mnp
from nnmath._core.primitive import Primitive

x3 = np.array([1.0, 2.0, 3.0])


def test_grad_of_nonscalar_output_names_the_shape():
    with pytest.raises(TypeError, match=r"scalar output.*shape \(3,\)"):
        nm.grad(lambda x: x * 2.0)(x3)


def test_argnums_out_of_range():
    with pytest.raises(ValueError, match=r"argnums=2 is out of range.*2 positional"):
        nm.grad(lambda a, b: mnp.sum(a * b), argnums=2)(x3, x3)
    with pytest.raises(ValueError, match="argnums"):
        nm.jacrev(lambda a: a, argnums=(0, 1))(x3)


@pytest.mark.parametrize("bad", [np.array([1, 2, 3]), np.array([True, False]), 3])
@pytest.mark.parametrize("transform", [nm.grad, nm.jacrev])
def test_integer_or_boolean_inputs_suggest_a_float_dtype(transform, bad):
    with pytest.raises(TypeError, match=r"dtype (int|bool).*float"):
        transform(lambda x: mnp.sum(x * 1.0))(bad)


def test_mismatched_shapes_name_both_shapes():
    a, b = np.ones((3, 4)), np.ones((5, 6))
    with pytest.raises(ValueError, match=r"\(3, 4\).*\(5, 6\)"):
        nm.grad(lambda a: mnp.sum(a @ b))(a)
    with pytest.raises(ValueError, match=r"\(3, 4\).*\(5, 6\)"):
        nm.grad(lambda a: mnp.sum(mnp.einsum("ij,jk->ik", a, b)))(a)
    with pytest.raises(ValueError, match=r"\(3,4\).*\(5,6\)"):
        nm.grad(lambda a: mnp.sum(a + b))(a)


def test_jvp_tangent_shape_and_dtype_must_match():
    with pytest.raises(ValueError, match=r"tangent leaf 0 has shape \(2,\).*primal has shape \(3,\)"):
        nm.jvp(mnp.sin, (x3,), (np.ones(2),))
    with pytest.raises(TypeError, match=r"dtype float32.*float64"):
        nm.jvp(mnp.sin, (x3,), (np.ones(3, np.float32),))
    with pytest.raises(TypeError, match="tuple or list"):
        nm.jvp(mnp.sin, x3, np.ones(3))


def test_vjp_cotangent_structure_shape_and_dtype():
    _, pullback = nm.vjp(lambda x: (x, {"a": x * 2.0}), x3)
    with pytest.raises(TypeError, match="structure"):
        pullback((x3, x3))
    with pytest.raises(ValueError, match=r"shape \(2,\)"):
        pullback((x3, {"a": np.ones(2)}))
    with pytest.raises(TypeError, match="dtype"):
        pullback((x3, {"a": np.ones(3, np.float32)}))


def test_plain_numpy_functions_on_traced_values_work_or_name_the_gap():
    # numpy's own functions are forwarded to their nnmath.numpy equivalents
    assert np.allclose(nm.grad(lambda x: np.sum(np.sin(x)))(x3), np.cos(x3))
    # and a numpy function with no rule says so, by name
    with pytest.raises(NotImplementedError, match=r"numpy\.fft\.fft"):
        nm.grad(lambda x: np.sum(np.abs(np.fft.fft(x))))(x3)
    with pytest.raises(NotImplementedError, match=r"numpy\.add\.accumulate"):
        nm.grad(lambda x: np.sum(np.add.accumulate(x)))(x3)
    with pytest.raises(TypeError, match="nnmath.numpy"):
        nm.grad(lambda x: np.asarray(x).sum())(x3)


def test_in_place_assignment_into_traced_array_points_to_at():
    def f(x):
        x[0] = 0.0
        return mnp.sum(x)
    with pytest.raises(TypeError, match=r"x\.at\[idx\]\.set"):
        nm.grad(f)(x3)
    # the functional update works
    g = nm.grad(lambda x: mnp.sum(x.at[0].set(0.0) * x))(x3)
    np.testing.assert_array_equal(g, [0.0, 4.0, 6.0])


def test_missing_rule_fails_loudly_naming_the_primitive():
    # defprimitive refuses a primitive without rules; one built by hand (unregistered) must
    # still fail loudly in each mode
    p = Primitive("test_only_no_rules", np.sin)
    with pytest.raises(NotImplementedError, match=r"VJP.*'test_only_no_rules'"):
        nm.grad(lambda x: mnp.sum(p(x)))(x3)
    with pytest.raises(NotImplementedError, match=r"JVP.*'test_only_no_rules'"):
        nm.jvp(p, (x3,), (x3,))


def test_float_of_traced_value_refuses_to_drop_the_derivative():
    with pytest.raises(TypeError, match="stop_gradient"):
        nm.grad(lambda x: float(x) * x)(1.0)


def test_check_grads_failure_names_argument_mode_order_and_error():
    bad = nm.custom_vjp(lambda x: mnp.sin(x))
    bad.defvjp(lambda x: (mnp.sin(x), x), lambda x, g: (2.0 * g * mnp.cos(x),))
    with pytest.raises(AssertionError, match=r"argument leaf 0.*mode 'rev', order 1.*analytic.*numeric.*relative error"):
        nm.check_grads(bad, (x3,), order=1, modes=("rev",))
