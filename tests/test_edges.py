"""Derivatives at kinks, singular points and untaken branches: the documented conventions."""
from __future__ import annotations

import numpy as np
import pytest

import nnmath as nm
import nnmath.numpy as mnp


def _d(f, x, mode="rev"):
    x = np.asarray(x, dtype=np.float64)
    if mode == "rev":
        return nm.grad(f)(x)
    return nm.jvp(f, (x,), (np.ones_like(x),))[1]


MODES = ["rev", "fwd"]


@pytest.mark.parametrize("mode", MODES)
def test_where_untaken_nan_branch_gives_finite_gradient(mode):
    f = lambda x: mnp.where(x > 0, mnp.sqrt(x), 0.0)          # sqrt(-1) = NaN is not taken
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        assert _d(f, -1.0, mode) == 0.0
        assert _d(lambda x: mnp.where(x > 0, mnp.log(x), x), 0.0, mode) == 1.0     # log 0 = −inf
        assert _d(lambda x: mnp.where(x != 0, mnp.sin(x) / x, 1.0), 0.0, mode) == 0.0  # 0/0
        assert _d(lambda x: mnp.where(x < 10, x, mnp.exp(x * 1e3)), 1.0, mode) == 1.0  # overflow


def test_where_untaken_branch_second_order_is_finite():
    f = lambda x: mnp.where(x > 0, mnp.sqrt(x) ** 3, x)
    with np.errstate(invalid="ignore", divide="ignore"):
        assert nm.grad(nm.grad(f))(-1.0) == 0.0
        assert nm.hessian(f)(-1.0) == 0.0
        h = nm.hessian(lambda x: mnp.sum(mnp.where(x > 0, mnp.log(x), x ** 2)))(np.array([-1.0, 0.0, 2.0]))
    np.testing.assert_allclose(h, np.diag([2.0, 2.0, -0.25]))


def test_indexing_does_not_leak_nan_from_unpicked_elements():
    with np.errstate(divide="ignore", invalid="ignore"):
        g = nm.grad(lambda x: mnp.log(x)[0])(np.array([2.0, 0.0]))
    np.testing.assert_array_equal(g, [0.5, 0.0])


@pytest.mark.parametrize("mode", MODES)
def test_relu_derivative_at_zero_is_zero(mode):
    assert _d(lambda x: nm.nn.relu(x), 0.0, mode) == 0.0
    assert _d(lambda x: nm.nn.relu(x), 1e-300, mode) == 1.0


@pytest.mark.parametrize("mode", MODES)
def test_abs_sign_at_zero(mode):
    assert _d(mnp.abs, 0.0, mode) == 0.0


def test_max_reduction_ties_share_equally():
    np.testing.assert_array_equal(nm.grad(mnp.max)(np.array([1.0, 3.0, 3.0])), [0.0, 0.5, 0.5])
    np.testing.assert_array_equal(nm.grad(mnp.min)(np.array([2.0, 2.0, 2.0, 5.0])), [1 / 3, 1 / 3, 1 / 3, 0.0])
    t = nm.jvp(mnp.max, (np.array([1.0, 3.0, 3.0]),), (np.array([1.0, 2.0, 4.0]),))[1]
    assert t == 3.0                                            # the mean of the tied tangents


@pytest.mark.parametrize("mode", MODES)
def test_maximum_minimum_ties_share_equally(mode):
    assert _d(lambda x: mnp.maximum(x, 1.0), 1.0, mode) == 0.5
    assert _d(lambda x: mnp.minimum(x, 1.0), 1.0, mode) == 0.5
    assert _d(lambda x: mnp.maximum(x, x), 1.0, mode) == 1.0    # both halves land on x


@pytest.mark.parametrize("mode", MODES)
def test_clip_passes_gradient_on_closed_interval(mode):
    f = lambda x: mnp.clip(x, 0.0, 1.0)
    assert [_d(f, v, mode) for v in (-0.5, 0.0, 0.5, 1.0, 1.5)] == [0.0, 1.0, 1.0, 1.0, 0.0]


@pytest.mark.parametrize("mode", MODES)
def test_sqrt_and_norm_at_zero_are_finite(mode):
    assert _d(mnp.sqrt, 0.0, mode) == 0.0
    assert _d(mnp.cbrt, 0.0, mode) == 0.0
    np.testing.assert_array_equal(nm.grad(mnp.linalg.norm)(np.zeros(3)), np.zeros(3))
    np.testing.assert_array_equal(nm.grad(lambda x: mnp.sqrt(mnp.sum(x * x)))(np.zeros(3)), np.zeros(3))
    assert _d(lambda x: mnp.std(mnp.stack([x, x])), 1.0, mode) == 0.0


def test_prod_with_zero_element_is_exact_and_finite():
    np.testing.assert_array_equal(nm.grad(mnp.prod)(np.array([2.0, 0.0, 3.0])), [0.0, 6.0, 0.0])
    np.testing.assert_array_equal(nm.grad(mnp.prod)(np.array([0.0, 0.0, 3.0])), [0.0, 0.0, 0.0])
    h = nm.hessian(mnp.prod)(np.array([2.0, 0.0, 3.0]))
    np.testing.assert_array_equal(h, [[0.0, 3.0, 0.0], [3.0, 0.0, 2.0], [0.0, 2.0, 0.0]])
    t = nm.jvp(mnp.prod, (np.array([2.0, 0.0, 3.0]),), (np.ones(3),))[1]
    assert t == 6.0
    nm.check_grads(lambda x: mnp.cumprod(x), (np.array([2.0, 0.0, 3.0, 0.5]),), order=2)


def test_power_exponent_derivative_at_zero_base():
    assert nm.grad(lambda y: 0.0 ** y)(2.0) == 0.0
    assert nm.grad(lambda x: x ** 2.0)(0.0) == 0.0
    assert nm.grad(lambda x: x ** 1.0)(0.0) == 1.0


def test_hypot_at_origin():
    assert nm.grad(lambda x: mnp.hypot(x, 0.0))(0.0) == 0.0


def test_nondifferentiable_functions_work_on_traced_values_with_zero_derivative():
    x = np.array([0.3, -1.7, 2.5])

    def f(x):
        k = mnp.argmax(x)
        return x[k] * mnp.floor(x).sum() + mnp.round(x).sum() + (x > 0).sum() + mnp.sign(x).sum()

    g = nm.grad(f)(x)
    np.testing.assert_array_equal(g, [0.0, 0.0, np.floor(x).sum()])
    assert nm.jvp(lambda x: mnp.floor(x) * 1.0, (x,), (np.ones(3),))[1].tolist() == [0.0, 0.0, 0.0]
