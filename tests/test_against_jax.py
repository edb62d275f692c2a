"""Differential tests: nnmath against JAX, function by function.

Every case is one function written once, over a namespace: ``fun(np_, sp_, *args)`` where
``(np_, sp_)`` is ``(nnmath.numpy, nnmath.scipy.special)`` or ``(jax.numpy, jax.scipy.special)``.
For each case, in float64 and at a point inside the function's domain (away from kinks and ties),
nnmath and JAX must agree on

* the value (nnmath on plain numpy arrays, i.e. its fast path),
* the gradient of a scalarised version S(x) = Σ_leaves Σ y ⊙ (w₁ + w₂ ⊙ y) (fixed random w₁, w₂;
  the quadratic term makes second derivatives non-trivial even for linear functions),
* a JVP (random tangents), a VJP (random cotangent),
* the Hessian of S (all arguments, ≤ 12 input elements) or, for larger inputs, a Hessian-vector
  product, and the Jacobian (jacrev and jacfwd) where it is small.

Points where nnmath intentionally differs from JAX (ties of max/min, sqrt′(0), clip at its bounds,
hypot at the origin, …) are avoided here; tests/test_edges.py covers them.
"""
from __future__ import annotations

import contextlib
import dataclasses
import functools
import math
import operator
import zlib
from typing import Callable

import numpy as np
import pytest

jax = pytest.importorskip("jax")
jax.config.update("jax_enable_x64", True)
import jax.numpy as jnp  # noqa: E402
import jax.scipy.special as jsp  # noqa: E402

import nnmath as nm  # noqa: E402
import nnmath.numpy as mnp  # noqa: E402
import nnmath.scipy.special as msp  # noqa: E402

RTOL = 1e-6
ATOL = 1e-9
MAX_HESSIAN_INPUTS = 12
MAX_JACOBIAN_ENTRIES = 160

NM = (mnp, msp)
JX = (jnp, jsp)

# ---------------------------------------------------------------------------------------------
# The case table
# ---------------------------------------------------------------------------------------------


@dataclasses.dataclass
class Case:
    name: str
    fun: Callable                    # fun(np_, sp_, *args)
    args: tuple                      # float64 pytrees (the differentiated arguments)
    xfail: str | None = None         # a known nnmath bug (strict xfail on every check)
    linalg: str | None = None        # skipped unless nnmath.numpy.linalg has this name
    rtol: float = RTOL
    atol: float = ATOL

    @property
    def size(self) -> int:
        return sum(np.size(a) for a in nm.tree_leaves(self.args))

    def seed(self, salt: str) -> int:
        return zlib.crc32(f"{self.name}/{salt}".encode())


CASES: list[Case] = []
_rng = np.random.default_rng(20240611)


def add(name: str, fun: Callable, *args, **kw) -> None:
    assert name not in {c.name for c in CASES}, f"duplicate case name {name}"
    CASES.append(Case(name, fun, tuple(args), **kw))


def u(*shape, lo=-1.0, hi=1.0):
    """Uniform on [lo, hi)."""
    return _rng.uniform(lo, hi, shape)


def nz(*shape, lo=0.3, hi=2.0):
    """Random sign times uniform on [lo, hi): bounded away from zero."""
    return _rng.choice([-1.0, 1.0], shape) * _rng.uniform(lo, hi, shape)


def distinct(*shape, lo=-2.0, hi=2.0):
    """Well-separated values (no near-ties), randomly placed."""
    n = int(np.prod(shape))
    v = np.linspace(lo, hi, n) + _rng.uniform(-0.2, 0.2, n) * (hi - lo) / max(n - 1, 1)
    return _rng.permutation(v).reshape(shape)


def _at(np_, x):
    """The functional-update handle: ``x.at`` for JAX arrays and nnmath traced values,
    ``mnp.at(x)`` for the plain arrays nnmath's value check passes."""
    if np_ is jnp:
        return jnp.asarray(x).at
    return mnp.at(x) if isinstance(x, np.ndarray) else x.at


# --- elementwise, unary ------------------------------------------------------------------------
_UNARY = [
    ("sin", u(3, 4, lo=-3, hi=3)), ("cos", u(3, 4, lo=-3, hi=3)), ("tan", u(3, 4, lo=-1.2, hi=1.2)),
    ("arcsin", u(3, 4, lo=-0.9, hi=0.9)), ("arccos", u(3, 4, lo=-0.9, hi=0.9)),
    ("arctan", u(3, 4, lo=-3, hi=3)), ("sinh", u(3, 4, lo=-2, hi=2)), ("cosh", u(3, 4, lo=-2, hi=2)),
    ("tanh", u(3, 4, lo=-2, hi=2)), ("arcsinh", u(3, 4, lo=-3, hi=3)),
    ("arccosh", u(3, 4, lo=1.2, hi=3)), ("arctanh", u(3, 4, lo=-0.9, hi=0.9)),
    ("exp", u(3, 4, lo=-2, hi=2)), ("exp2", u(3, 4, lo=-2, hi=2)), ("expm1", u(3, 4, lo=-2, hi=2)),
    ("log", u(3, 4, lo=0.2, hi=3)), ("log1p", u(3, 4, lo=-0.8, hi=3)), ("log2", u(3, 4, lo=0.2, hi=3)),
    ("log10", u(3, 4, lo=0.2, hi=3)), ("sqrt", u(3, 4, lo=0.2, hi=3)), ("cbrt", nz(3, 4)),
    ("square", u(3, 4, lo=-2, hi=2)), ("reciprocal", nz(3, 4)), ("abs", nz(3, 4)),
    ("absolute", nz(3, 4)), ("fabs", nz(3, 4)), ("negative", u(3, 4)), ("positive", u(3, 4)),
    ("deg2rad", u(3, 4, lo=-90, hi=90)), ("rad2deg", u(3, 4)), ("sinc", nz(3, 4, lo=0.2, hi=2.3)),
    ("conjugate", u(3, 4)),
]
for _name, _x in _UNARY:
    add(_name, lambda np_, sp_, x, _n=_name: getattr(np_, _n)(x), _x)

add("pow_int", lambda np_, sp_, x: x ** 3, u(3, 4, lo=-2, hi=2))
add("pow_float_scalar", lambda np_, sp_, x: x ** 2.5, u(3, 4, lo=0.3, hi=2))
add("rpow", lambda np_, sp_, x: 1.7 ** x, u(3, 4, lo=-2, hi=2))
add("float_power", lambda np_, sp_, x: np_.float_power(x, 1.5), u(3, 4, lo=0.3, hi=2))
add("sigmoid_by_hand", lambda np_, sp_, x: 1.0 / (1.0 + np_.exp(-x)), u(3, 4, lo=-3, hi=3))
add("softplus_logaddexp", lambda np_, sp_, x: np_.logaddexp(0.0, x), u(3, 4, lo=-3, hi=3))

# --- elementwise, binary (with broadcasting) ---------------------------------------------------
add("add_bcast", lambda np_, sp_, x, y: np_.add(x, y), u(3, 1), u(1, 4))
add("subtract_bcast", lambda np_, sp_, x, y: np_.subtract(x, y), u(3, 4), u(4))
add("multiply", lambda np_, sp_, x, y: np_.multiply(x, y), u(2, 3), u(2, 3))
add("divide_bcast", lambda np_, sp_, x, y: np_.divide(x, y), u(3, 2), nz(2))
add("true_divide_op", lambda np_, sp_, x, y: x / y - y / x, nz(2, 3), nz(2, 3))
add("power_both", lambda np_, sp_, x, y: np_.power(x, y), u(2, 3, lo=0.3, hi=2), u(2, 3, lo=-2, hi=2))
add("maximum", lambda np_, sp_, x, y: np_.maximum(x, y), u(2, 3), u(2, 3))
add("minimum_bcast", lambda np_, sp_, x, y: np_.minimum(x, y), u(2, 3), u(3))
add("arctan2", lambda np_, sp_, x, y: np_.arctan2(x, y), nz(2, 3), nz(2, 3))
add("hypot", lambda np_, sp_, x, y: np_.hypot(x, y), nz(2, 3), nz(2, 3))
add("logaddexp", lambda np_, sp_, x, y: np_.logaddexp(x, y), u(2, 3, lo=-3, hi=3), u(2, 3, lo=-3, hi=3))
add("logaddexp2", lambda np_, sp_, x, y: np_.logaddexp2(x, y), u(2, 3, lo=-3, hi=3), u(2, 3, lo=-3, hi=3))
add("remainder", lambda np_, sp_, x, y: np_.remainder(x, y),
    np.array([[2.3, -2.3, 5.7], [-0.4, 3.3, -7.1]]), np.array([[0.7, 0.7, -1.3], [1.1, -0.9, 2.2]]))
add("where", lambda np_, sp_, x, y: np_.where(x > 0, np_.sin(x) * y, np_.exp(y) - x), nz(3, 4), u(3, 4))
add("where_scalar_branch", lambda np_, sp_, x: np_.where(x > 0.2, x * x, 0.0), nz(3, 4))
add("clip", lambda np_, sp_, x: np_.clip(x, -0.5, 0.6), np.array([[-0.9, -0.3, 0.1], [0.55, 0.8, -0.1]]))
add("clip_upper_only", lambda np_, sp_, x: np_.clip(x, None, 0.25), np.array([-0.9, -0.3, 0.1, 0.55]))
add("clip_array_bounds", lambda np_, sp_, x, lo, hi: np_.clip(x, lo, hi),
    np.array([-0.9, -0.1, 0.4, 0.9]), np.array([-0.5, -0.4, -0.3, -0.2]), np.array([0.3, 0.5, 0.2, 0.6]))

# --- reductions --------------------------------------------------------------------------------
add("sum_all", lambda np_, sp_, x: np_.sum(x), u(3, 4))
add("sum_axis_keepdims", lambda np_, sp_, x: np_.sum(x, axis=(0, 2), keepdims=True), u(2, 3, 2))
add("sum_method_neg_axis", lambda np_, sp_, x: x.sum(axis=-1), u(3, 4))
add("mean_axis", lambda np_, sp_, x: np_.mean(x, axis=1, keepdims=True), u(3, 4))
add("mean_all", lambda np_, sp_, x: np_.mean(x ** 2), u(3, 4))
add("prod_axis", lambda np_, sp_, x: np_.prod(x, axis=0), nz(3, 4, lo=0.5, hi=1.5))
add("prod_all", lambda np_, sp_, x: np_.prod(x), nz(2, 3, lo=0.5, hi=1.5))
add("max_axis", lambda np_, sp_, x: np_.max(x, axis=1), distinct(3, 4))
add("max_all_keepdims", lambda np_, sp_, x: np_.max(x, keepdims=True), distinct(3, 4))
add("min_axis_keepdims", lambda np_, sp_, x: np_.min(x, axis=0, keepdims=True), distinct(3, 4))
add("amax_tuple_axis", lambda np_, sp_, x: np_.amax(x, axis=(0, 2)), distinct(2, 3, 2))
add("var_ddof", lambda np_, sp_, x: np_.var(x, axis=0, ddof=1), u(3, 4))
add("var_all", lambda np_, sp_, x: np_.var(x), u(3, 4))
add("std_axis_keepdims", lambda np_, sp_, x: np_.std(x, axis=1, keepdims=True), u(3, 4))
add("cumsum_axis", lambda np_, sp_, x: np_.cumsum(x, axis=1), u(3, 4))
add("cumsum_flat", lambda np_, sp_, x: np_.cumsum(x), u(3, 4))
add("cumprod_axis", lambda np_, sp_, x: np_.cumprod(x, axis=0), nz(3, 4, lo=0.5, hi=1.5))
add("cumprod_flat", lambda np_, sp_, x: np_.cumprod(x), nz(2, 5, lo=0.5, hi=1.5))
add("average_weights", lambda np_, sp_, x, w: np_.average(x, axis=1, weights=w),
    u(3, 4), u(4, lo=0.5, hi=2))
add("average_full_weights", lambda np_, sp_, x, w: np_.average(x, weights=w),
    u(2, 3), u(2, 3, lo=0.5, hi=2))
add("average_plain", lambda np_, sp_, x: np_.average(x, axis=0), u(3, 4))
add("trace", lambda np_, sp_, x: np_.trace(x), u(3, 3))
add("trace_offset_axes", lambda np_, sp_, x: np_.trace(x, offset=1, axis1=1, axis2=2), u(2, 3, 3))

# --- shape manipulation ------------------------------------------------------------------------
add("reshape", lambda np_, sp_, x: np_.reshape(x, (2, 6)) * np_.arange(6.0), u(3, 4))
add("reshape_minus1_method", lambda np_, sp_, x: x.reshape(4, -1), u(2, 2, 3))
add("ravel", lambda np_, sp_, x: np_.ravel(x), u(3, 4))
add("transpose_default", lambda np_, sp_, x: np_.transpose(x), u(2, 3, 2))
add("transpose_axes", lambda np_, sp_, x: np_.transpose(x, (1, 2, 0)), u(2, 3, 2))
add("dot_T", lambda np_, sp_, x: x.T @ x, u(3, 2))
add("swapaxes", lambda np_, sp_, x: np_.swapaxes(x, 0, 2), u(2, 3, 2))
add("moveaxis", lambda np_, sp_, x: np_.moveaxis(x, 0, -1), u(2, 3, 2))
add("expand_dims", lambda np_, sp_, x: np_.expand_dims(x, (0, 2)), u(3, 4))
add("squeeze", lambda np_, sp_, x: np_.squeeze(x, axis=1), u(3, 1, 4))
add("concatenate", lambda np_, sp_, x, y, z: np_.concatenate([x, y, z], axis=1), u(2, 2), u(2, 1), u(2, 3))
add("concatenate_none", lambda np_, sp_, x, y: np_.concatenate([x, y], axis=None), u(2, 2), u(3))
add("stack", lambda np_, sp_, x, y: np_.stack([x, y], axis=1), u(2, 3), u(2, 3))
add("hstack", lambda np_, sp_, x, y: np_.hstack([x, y]), u(2, 2), u(2, 3))
add("vstack", lambda np_, sp_, x, y: np_.vstack([x, y]), u(3), u(2, 3))
add("dstack", lambda np_, sp_, x, y: np_.dstack([x, y]), u(2, 3), u(2, 3))
add("column_stack", lambda np_, sp_, x, y: np_.column_stack([x, y]), u(3), u(3, 2))
add("split_sections", lambda np_, sp_, x: np_.split(x, 2, axis=1), u(3, 4))
add("split_indices", lambda np_, sp_, x: np_.split(x, [1, 3]), u(5, 2))
add("array_split", lambda np_, sp_, x: np_.array_split(x, 3), u(7))
add("tile", lambda np_, sp_, x: np_.tile(x, (2, 1, 2)), u(2, 3))
add("repeat_axis", lambda np_, sp_, x: np_.repeat(x, 2, axis=0), u(2, 3))
add("repeat_array", lambda np_, sp_, x: np_.repeat(x, np.array([1, 0, 3]), axis=1), u(2, 3))
add("repeat_flat", lambda np_, sp_, x: np_.repeat(x, 2), u(2, 3))
add("flip_axis", lambda np_, sp_, x: np_.flip(x, axis=1), u(3, 4))
add("flip_all", lambda np_, sp_, x: np_.flip(x), u(3, 4))
add("fliplr_flipud", lambda np_, sp_, x: np_.fliplr(x) + 2.0 * np_.flipud(x), u(3, 4))
add("roll_axis", lambda np_, sp_, x: np_.roll(x, 2, axis=1), u(3, 4))
add("roll_flat", lambda np_, sp_, x: np_.roll(x, -5), u(3, 4))
add("roll_tuple", lambda np_, sp_, x: np_.roll(x, (1, -1), axis=(0, 1)), u(3, 4))
add("pad_constant", lambda np_, sp_, x: np_.pad(x, ((1, 0), (2, 1)), constant_values=0.5), u(2, 3))
add("pad_reflect", lambda np_, sp_, x: np_.pad(x, 2, mode="reflect"), u(4))
add("pad_edge", lambda np_, sp_, x: np_.pad(x, ((0, 1), (1, 2)), mode="edge"), u(2, 3))
add("pad_wrap", lambda np_, sp_, x: np_.pad(x, ((1, 1), (0, 2)), mode="wrap"), u(2, 3))
add("broadcast_to", lambda np_, sp_, x: np_.broadcast_to(x, (2, 3, 4)), u(3, 1))
add("broadcast_arrays", lambda np_, sp_, x, y: np_.broadcast_arrays(x, y), u(3, 1), u(4))
add("triu", lambda np_, sp_, x: np_.triu(x, 1), u(3, 4))
add("tril", lambda np_, sp_, x: np_.tril(x, -1), u(4, 3))
add("diag_vector", lambda np_, sp_, x: np_.diag(x, 1), u(3))
add("diag_matrix", lambda np_, sp_, x: np_.diag(x, -1), u(3, 4))
add("diagonal", lambda np_, sp_, x: np_.diagonal(x, offset=1, axis1=0, axis2=2), u(3, 2, 4))
add("atleast", lambda np_, sp_, x: np_.atleast_2d(x) * np_.atleast_3d(x)[..., 0], u(4))
add("take", lambda np_, sp_, x: np_.take(x, np.array([2, 0, 2]), axis=1), u(2, 3))
add("take_along_axis", lambda np_, sp_, x: np_.take_along_axis(x, np.array([[1, 1], [0, 2]]), axis=1),
    u(2, 3))
add("sort", lambda np_, sp_, x: np_.sort(x, axis=1), distinct(3, 4))
add("diff", lambda np_, sp_, x: np_.diff(x, n=2, axis=0), u(4, 3))
add("moveaxis_multi", lambda np_, sp_, x: np_.moveaxis(x, [0, 1], [-1, 0]), u(2, 3, 2))
add("transpose_negative_axes", lambda np_, sp_, x: np_.transpose(x, (-1, 0, 1)), u(2, 3, 2))
add("stack_negative_axis", lambda np_, sp_, x, y: np_.stack([x, y * x], axis=-1), u(2, 3), u(2, 3))
add("squeeze_all", lambda np_, sp_, x: np_.squeeze(x), u(1, 3, 1))
add("tile_int", lambda np_, sp_, x: np_.tile(x, 3), u(4))
add("flip_tuple_axes", lambda np_, sp_, x: np_.flip(x, (0, -1)), u(3, 4))
add("split_negative_axis", lambda np_, sp_, x: np_.split(x, 2, axis=-1), u(3, 4))
add("sort_flat", lambda np_, sp_, x: np_.sort(x, axis=None), distinct(3, 4))
add("take_flat_negative",
    lambda np_, sp_, x: (np_.take(x, np.array([5, -1, 5])), np_.take(x, np.array([-1, 0]), axis=0)), u(3, 4))
add("pad_symmetric", lambda np_, sp_, x: np_.pad(x, ((2, 1), (1, 1)), mode="symmetric"), u(3, 2))

# --- indexing and functional update ------------------------------------------------------------
add("index_slice", lambda np_, sp_, x: x[1:3, ::2], u(4, 4))
add("index_negative_step", lambda np_, sp_, x: x[::-2, 3:0:-1], u(4, 4))
add("index_int", lambda np_, sp_, x: x[-1] * x[0, 2], u(3, 4))
add("index_int_array_repeats", lambda np_, sp_, x: x[np.array([0, 2, 2, 1, 0])], u(3, 2))
add("index_two_int_arrays", lambda np_, sp_, x: x[np.array([0, 1, 2, 2]), np.array([3, 1, 0, 0])], u(3, 4))
add("index_bool_mask", lambda np_, sp_, x: x[np.array([[True, False, True, True], [False, True, False, False],
                                                        [True, True, False, True]])], u(3, 4))
add("index_bool_rows", lambda np_, sp_, x: x[np.array([True, False, True])], u(3, 4))
add("index_none_ellipsis", lambda np_, sp_, x: (x[None, ..., 1], x[..., None, 0, :2]), u(2, 3, 2))
add("index_mixed_adv_slice", lambda np_, sp_, x: x[1:, np.array([0, 0, 2])], u(3, 4))
add("index_mask_and_slice", lambda np_, sp_, x: x[np.array([True, False, True]), 1:], u(3, 4))
add("index_newaxis_reverse", lambda np_, sp_, x: x[np.newaxis, ..., ::-1], u(3, 4))
add("index_negative_int_array", lambda np_, sp_, x: x[np.array([-1, -3]), -2], u(3, 4))
add("index_2d_int_array", lambda np_, sp_, x: x[np.array([[0, 1], [2, 2]])], u(3, 2))
add("at_set", lambda np_, sp_, x, v: _at(np_, x)[1, 1:3].set(v * v), u(3, 4), u(2))
add("at_add_repeated", lambda np_, sp_, x, v: _at(np_, x)[np.array([0, 2, 0])].add(v), u(3, 2), u(3, 2))
_MASK = np.array([[True, False, False, True], [False, True, True, False], [True, True, False, False]])
add("at_set_mask", lambda np_, sp_, x: _at(np_, x)[_MASK].set(0.0) * x, nz(3, 4))
add("at_multiply", lambda np_, sp_, x, v: _at(np_, x)[::2].multiply(v), u(4, 3), u(3))
add("at_get", lambda np_, sp_, x: _at(np_, x)[1:, 0].get() ** 2, u(3, 2))
add("at_add_2d_index",
    lambda np_, sp_, x, v: _at(np_, x)[np.array([[0, 1], [0, 0]]), np.array([[1, 1], [1, 1]])].add(v),
    u(3, 2), u(2))
add("at_set_broadcast", lambda np_, sp_, x, v: _at(np_, x)[:, 1:].set(v), u(3, 4), u(3))

# --- products ----------------------------------------------------------------------------------
add("dot_vv", lambda np_, sp_, x, y: np_.dot(x, y), u(4), u(4))
add("dot_mv", lambda np_, sp_, x, y: np_.dot(x, y), u(2, 3), u(3))
add("dot_mm", lambda np_, sp_, x, y: np_.dot(x, y), u(2, 3), u(3, 2))
add("dot_nd", lambda np_, sp_, x, y: np_.dot(x, y), u(2, 2, 3), u(3, 2))
add("matmul_batched_bcast", lambda np_, sp_, x, y: np_.matmul(x, y), u(2, 2, 3), u(3, 2))
add("matmul_op_vec", lambda np_, sp_, x, y: x @ y + y @ y.T, u(3), u(3, 3))
add("einsum_matmul", lambda np_, sp_, x, y: np_.einsum("ij,jk->ik", x, y), u(2, 3), u(3, 2))
add("einsum_diag", lambda np_, sp_, x: np_.einsum("ii->i", x) * np_.einsum("ii", x), u(3, 3))
add("einsum_ellipsis", lambda np_, sp_, x, y: np_.einsum("...ij,...jk->...ik", x, y), u(2, 2, 3), u(2, 3, 2))
add("einsum_implicit", lambda np_, sp_, x, y: np_.einsum("ij,kj", x, y), u(2, 3), u(2, 3))
add("einsum_three", lambda np_, sp_, x, y, z: np_.einsum("ij,jk,k->i", x, y, z), u(2, 3), u(3, 2), u(2))
add("einsum_outer_sum",
    lambda np_, sp_, x, y: np_.einsum("i,j->", x, y) + np_.einsum("ij->", np_.einsum("i,j->ij", x, y) ** 2),
    u(3), u(2))
add("einsum_repeated_batch", lambda np_, sp_, x: np_.einsum("bii->b", x), u(2, 3, 3))
add("tensordot_1", lambda np_, sp_, x, y: np_.tensordot(x, y, axes=1), u(2, 3), u(3, 2))
add("tensordot_2", lambda np_, sp_, x, y: np_.tensordot(x, y, axes=2), u(2, 2, 2), u(2, 2))
add("tensordot_pairs", lambda np_, sp_, x, y: np_.tensordot(x, y, axes=([1, 0], [0, 1])), u(2, 3), u(3, 2, 2))
add("outer", lambda np_, sp_, x, y: np_.outer(x, y), u(3), u(4))
add("inner", lambda np_, sp_, x, y: np_.inner(x, y), u(2, 3), u(2, 3))
add("kron", lambda np_, sp_, x, y: np_.kron(x, y), u(2, 2), u(2, 3))
add("vdot", lambda np_, sp_, x, y: np_.vdot(x, y), u(2, 3), u(3, 2))
add("dot_2d_3d", lambda np_, sp_, x, y: np_.dot(x, y), u(2, 3), u(2, 3, 2))
add("matmul_vec_batch", lambda np_, sp_, x, y: np_.matmul(x, y) + np_.matmul(y.swapaxes(-1, -2), x),
    u(3), u(2, 3, 2))
add("inner_1d_2d", lambda np_, sp_, x, y: np_.inner(x, y), u(3), u(2, 3))
add("kron_1d_2d", lambda np_, sp_, x, y: np_.kron(x, y), u(2), u(2, 2))
add("tensordot_0", lambda np_, sp_, x, y: np_.tensordot(x, y, axes=0), u(2), u(2, 2))
add("einsum_same_operand", lambda np_, sp_, x: np_.einsum("i,i,i->", x, x, x), u(4))
add("einsum_broadcast_ellipsis", lambda np_, sp_, x, y: np_.einsum("...j,...j->...", x, y), u(3, 2), u(2))
add("einsum_iij", lambda np_, sp_, x: np_.einsum("iij->j", x), u(2, 2, 3))
add("einsum_iji", lambda np_, sp_, x: np_.einsum("iji->ij", x), u(2, 3, 2))

# --- scipy.special -----------------------------------------------------------------------------
add("logsumexp_all", lambda np_, sp_, x: sp_.logsumexp(x), u(3, 4, lo=-3, hi=3))
add("logsumexp_axis_keepdims", lambda np_, sp_, x: sp_.logsumexp(x, axis=1, keepdims=True),
    u(3, 4, lo=-3, hi=3))
add("logsumexp_b", lambda np_, sp_, x, b: sp_.logsumexp(x, axis=0, b=b), u(3, 2), u(3, 2, lo=0.5, hi=2))
add("expit", lambda np_, sp_, x: sp_.expit(x), u(3, 4, lo=-4, hi=4))
add("logit", lambda np_, sp_, x: sp_.logit(x), u(3, 4, lo=0.1, hi=0.9))
add("erf", lambda np_, sp_, x: sp_.erf(x), u(3, 4, lo=-2, hi=2))
add("erfc", lambda np_, sp_, x: sp_.erfc(x), u(3, 4, lo=-2, hi=2))
add("erfinv", lambda np_, sp_, x: sp_.erfinv(x), u(3, 4, lo=-0.9, hi=0.9))
add("ndtr", lambda np_, sp_, x: sp_.ndtr(x), u(3, 4, lo=-3, hi=3))
add("gammaln", lambda np_, sp_, x: sp_.gammaln(x), u(3, 4, lo=0.3, hi=5))
add("digamma", lambda np_, sp_, x: sp_.digamma(x), u(3, 4, lo=0.5, hi=5))
add("polygamma1", lambda np_, sp_, x: sp_.polygamma(1, x), u(3, 4, lo=0.5, hi=5))
add("xlogy", lambda np_, sp_, x, y: sp_.xlogy(x, y), nz(3, 4), u(3, 4, lo=0.2, hi=3))
add("xlog1py", lambda np_, sp_, x, y: sp_.xlog1py(x, y), nz(3, 4), u(3, 4, lo=-0.8, hi=3))
add("softmax", lambda np_, sp_, x: sp_.softmax(x, axis=-1), u(3, 4, lo=-3, hi=3))
add("softmax_all", lambda np_, sp_, x: sp_.softmax(x), u(3, 4, lo=-3, hi=3))
add("log_softmax", lambda np_, sp_, x: sp_.log_softmax(x, axis=0), u(3, 4, lo=-3, hi=3))
add("softmax_tuple_axis", lambda np_, sp_, x: sp_.softmax(x, axis=(0, 1)), u(2, 3, 2, lo=-2, hi=2))
add("logsumexp_tuple_axis", lambda np_, sp_, x: sp_.logsumexp(x, axis=(0, 2)), u(2, 3, 2, lo=-2, hi=2))
add("log_softmax_all", lambda np_, sp_, x: sp_.log_softmax(x), u(3, 4, lo=-2, hi=2))

# --- composites --------------------------------------------------------------------------------
_LABELS = np.array([2, 0, 3, 1, 3])
_ONEHOT = np.eye(4)[_LABELS]


def softmax_xent(np_, sp_, logits):
    return -np_.mean(np_.sum(_ONEHOT * sp_.log_softmax(logits, axis=-1), axis=-1))


def softmax_xent_gather(np_, sp_, logits):
    lse = sp_.logsumexp(logits, axis=1)
    return np_.mean(lse - logits[np.arange(5), _LABELS])


def layer_norm(np_, sp_, x, gain, bias):
    mu = np_.mean(x, axis=-1, keepdims=True)
    var = np_.var(x, axis=-1, keepdims=True)
    return (x - mu) / np_.sqrt(var + 1e-5) * gain + bias


def mlp_loss(np_, sp_, params, x):
    h = x
    for layer in params["hidden"]:
        h = np_.tanh(h @ layer["W"] + layer["b"])
    logits = h @ params["out"]["W"] + params["out"]["b"]
    return -np_.mean(np_.sum(_ONEHOT * sp_.log_softmax(logits, axis=-1), axis=-1))


def rnn(np_, sp_, Wx, Wh, b, xs):
    h = np_.zeros(4)
    for t in range(xs.shape[0]):
        h = np_.tanh(xs[t] @ Wx + h @ Wh + b)
    return h


def attention(np_, sp_, q, k, v):
    scores = q @ np_.swapaxes(k, -1, -2) / math.sqrt(q.shape[-1])
    return sp_.softmax(scores, axis=-1) @ v


def causal_attention(np_, sp_, q, k, v):
    scores = np_.einsum("bqd,bkd->bqk", q, k) / math.sqrt(q.shape[-1])
    mask = np.tril(np.ones((q.shape[1], k.shape[1]), dtype=bool))
    scores = np_.where(mask, scores, -1e9)
    w = np_.exp(scores - sp_.logsumexp(scores, axis=-1, keepdims=True))
    return np_.einsum("bqk,bkd->bqd", w, v)


def gaussian_nll(np_, sp_, x, mu, log_sigma):
    z = (x - mu) * np_.exp(-log_sigma)
    return np_.sum(0.5 * z ** 2 + log_sigma + 0.5 * np_.log(2 * np.pi))


def logistic_regression(np_, sp_, w, b, X):
    y = np.array([1.0, 0.0, 1.0, 1.0, 0.0])
    p = sp_.expit(X @ w + b)
    return -np_.mean(sp_.xlogy(y, p) + sp_.xlog1py(1.0 - y, -p))


def gelu(np_, sp_, x):
    return 0.5 * x * (1.0 + sp_.erf(x / math.sqrt(2.0)))


def swish(np_, sp_, x):
    return x * sp_.expit(x)


def huber(np_, sp_, x):
    a = np_.abs(x)
    return np_.where(a < 1.0, 0.5 * x * x, a - 0.5)


def cosine_similarity(np_, sp_, x, y):
    num = np_.sum(x * y, axis=-1)
    return num / (np_.sqrt(np_.sum(x * x, axis=-1)) * np_.sqrt(np_.sum(y * y, axis=-1)))


def batch_norm(np_, sp_, x):
    return (x - x.mean(axis=0)) / np_.sqrt(x.var(axis=0) + 1e-3)


def conv1d(np_, sp_, x, k):
    n = x.shape[0] - k.shape[0] + 1
    windows = np_.stack([x[i:i + k.shape[0]] for i in range(n)])
    return np_.maximum(windows @ k, 0.05 * (windows @ k))      # leaky ReLU, away from 0


def horner(np_, sp_, c, x):
    y = np_.zeros_like(x)
    for i in range(c.shape[0]):
        y = y * x + c[i]
    return y


def soft_kmeans(np_, sp_, X, C):
    d2 = np_.sum((X[:, None, :] - C[None, :, :]) ** 2, axis=-1)
    r = sp_.softmax(-d2, axis=1)
    return np_.sum(r * d2)


def rbf_kernel_ridge(np_, sp_, X, ls):
    d2 = np_.sum((X[:, None, :] - X[None, :, :]) ** 2, axis=-1)
    K = np_.exp(-0.5 * d2 / ls ** 2)
    return np_.trace(K @ K) + np_.sum(np_.triu(K, 1))


def normalize_rows(np_, sp_, x):
    return x / np_.sqrt(np_.sum(x * x, axis=1, keepdims=True))


def pairwise_logsumexp_pool(np_, sp_, x):
    return sp_.logsumexp(np_.stack([x, 2 * x, np_.sin(x)]), axis=0)


add("softmax_xent", softmax_xent, u(5, 4, lo=-2, hi=2))
add("softmax_xent_gather", softmax_xent_gather, u(5, 4, lo=-2, hi=2))
add("layer_norm", layer_norm, u(2, 4), u(4, lo=0.5, hi=1.5), u(4))
add("mlp_loss_pytree", mlp_loss,
    {"hidden": [{"W": u(3, 4), "b": u(4)}, {"W": u(4, 3), "b": u(3)}], "out": {"W": u(3, 4), "b": u(4)}},
    u(5, 3))
add("rnn_unrolled", rnn, u(3, 4), u(4, 4) * 0.5, u(4), u(5, 3))
add("attention", attention, u(3, 4), u(5, 4), u(5, 2))
add("causal_attention", causal_attention, u(1, 3, 2), u(1, 3, 2), u(1, 3, 2))
add("gaussian_nll", gaussian_nll, u(4), u(4), u(4, lo=-0.5, hi=0.5))
add("logistic_regression", logistic_regression, u(3), u(), u(5, 3))
add("gelu", gelu, u(3, 4, lo=-3, hi=3))
add("swish", swish, u(3, 4, lo=-3, hi=3))
add("huber", huber, np.array([[-2.0, -0.7, -0.2], [0.3, 0.8, 1.9]]))
add("cosine_similarity", cosine_similarity, u(2, 3), u(2, 3))
add("batch_norm", batch_norm, u(4, 3))
add("conv1d_leaky_relu", conv1d, np.array([0.3, -1.2, 0.8, 1.5, -0.4, 0.9]), np.array([0.7, -0.2, 0.5]))
add("horner_polynomial", horner, u(4), u(5))
add("soft_kmeans", soft_kmeans, u(4, 2), u(3, 2))
add("rbf_kernel", rbf_kernel_ridge, u(3, 2), u(lo=0.5, hi=1.5))
add("normalize_rows", normalize_rows, nz(3, 2))
add("logsumexp_pool", pairwise_logsumexp_pool, u(3, 3))


# --- linalg (skipped where nnmath.numpy.linalg does not have the function yet) ----------------
def _spd(n):
    a = u(n, n)
    return a @ a.T + n * np.eye(n)


def _sym(a):
    return 0.5 * (a + a.T)


add("linalg_norm_vec", lambda np_, sp_, x: np_.linalg.norm(x), nz(5), linalg="norm")
add("linalg_norm_fro", lambda np_, sp_, x: np_.linalg.norm(x), u(3, 4), linalg="norm")
add("linalg_norm_axis", lambda np_, sp_, x: np_.linalg.norm(x, axis=0), nz(3, 4), linalg="norm")
add("linalg_inv", lambda np_, sp_, x: np_.linalg.inv(x), _spd(3), linalg="inv")
add("linalg_det", lambda np_, sp_, x: np_.linalg.det(x), u(3, 3) + 2 * np.eye(3), linalg="det")
add("linalg_slogdet", lambda np_, sp_, x: np_.linalg.slogdet(x)[1], u(3, 3) + 2 * np.eye(3), linalg="slogdet")
add("linalg_solve", lambda np_, sp_, a, b: np_.linalg.solve(a, b), _spd(3), u(3), linalg="solve")
add("linalg_cholesky", lambda np_, sp_, a: np_.linalg.cholesky(_sym(a)), _spd(3), linalg="cholesky")
add("linalg_eigvalsh", lambda np_, sp_, a: np_.linalg.eigvalsh(_sym(a)), _sym(u(3, 3)), linalg="eigvalsh")
add("linalg_pinv", lambda np_, sp_, a: np_.linalg.pinv(a), u(3, 2), linalg="pinv")
add("linalg_matrix_power", lambda np_, sp_, a: np_.linalg.matrix_power(a, 3), u(3, 3), linalg="matrix_power")
add("linalg_svdvals", lambda np_, sp_, a: np_.linalg.svdvals(a), u(3, 2), linalg="svdvals")
add("linalg_inv_quadratic", lambda np_, sp_, a, x: x @ np_.linalg.inv(a) @ x, _spd(3), u(3), linalg="inv")
add("linalg_norm_ord1", lambda np_, sp_, x: np_.linalg.norm(x, ord=1), nz(5), linalg="norm")
add("linalg_norm_ord3", lambda np_, sp_, x: np_.linalg.norm(x, ord=3, axis=1, keepdims=True), nz(3, 4),
    linalg="norm")
add("linalg_norm_inf", lambda np_, sp_, x: np_.linalg.norm(x, ord=np.inf), np.array([0.3, -1.7, 0.9, 1.2]),
    linalg="norm")
add("linalg_norm_nuc", lambda np_, sp_, x: np_.linalg.norm(x, ord="nuc"), u(3, 4), linalg="norm")
add("linalg_norm_spectral", lambda np_, sp_, x: np_.linalg.norm(x, ord=2), u(3, 4), linalg="norm")
add("linalg_norm_mat_inf", lambda np_, sp_, x: np_.linalg.norm(x, ord=np.inf),
    np.array([[0.3, -1.7, 0.9], [1.2, 0.4, -0.2], [-0.5, 0.6, 0.8]]), linalg="norm")
add("linalg_vector_norm", lambda np_, sp_, x: np_.linalg.vector_norm(x, axis=(0, 1), ord=3), nz(3, 4),
    linalg="vector_norm")
add("linalg_matrix_norm", lambda np_, sp_, x: np_.linalg.matrix_norm(x), u(2, 3, 2), linalg="matrix_norm")
add("linalg_cond", lambda np_, sp_, x: np_.linalg.cond(x), u(3, 3) + 2 * np.eye(3), linalg="cond")
add("linalg_lstsq", lambda np_, sp_, a, b: np_.linalg.lstsq(a, b)[0], u(4, 2), u(4), linalg="lstsq")
add("linalg_multi_dot", lambda np_, sp_, a, b, c: np_.linalg.multi_dot([a, b, c]), u(2, 3), u(3, 2), u(2, 2),
    linalg="multi_dot")
add("linalg_qr_squared", lambda np_, sp_, a: tuple(t * t for t in np_.linalg.qr(a)), u(3, 2), linalg="qr")
add("linalg_svd_squared", lambda np_, sp_, a: [t * t for t in np_.linalg.svd(a, full_matrices=False)],
    u(3, 2), linalg="svd")
add("linalg_eigh_squared", lambda np_, sp_, a: [t * t for t in np_.linalg.eigh(_sym(a))], _sym(u(3, 3)),
    linalg="eigh")
add("linalg_cholesky_upper", lambda np_, sp_, a: np_.linalg.cholesky(a @ a.T + np.eye(2), upper=True),
    u(2, 3), linalg="cholesky")
add("linalg_matrix_power_neg", lambda np_, sp_, a: np_.linalg.matrix_power(a, -2), u(3, 3) + 2 * np.eye(3),
    linalg="matrix_power")
add("linalg_solve_batched", lambda np_, sp_, a, b: np_.linalg.solve(a, b), u(2, 2, 2) + 2 * np.eye(2),
    u(2, 2, 1), linalg="solve")
add("linalg_det_batched", lambda np_, sp_, a: np_.linalg.det(a), u(3, 2, 2), linalg="det")
add("linalg_slogdet_negative", lambda np_, sp_, a: tuple(np_.linalg.slogdet(a)),
    np.array([[0.3, 1.2], [0.9, 0.1]]), linalg="slogdet")
add("linalg_inv_batched", lambda np_, sp_, a: np_.linalg.inv(a), u(2, 2, 2) + 2 * np.eye(2), linalg="inv")
add("linalg_pinv_hermitian", lambda np_, sp_, a: np_.linalg.pinv(a @ a.T + np.eye(3), hermitian=True),
    u(3, 2), linalg="pinv")
add("linalg_vecdot", lambda np_, sp_, a, b: np_.linalg.vecdot(a, b), u(3, 2), u(2), linalg="vecdot")


# --- general eigenproblems and Fourier transforms (complex intermediates, real outputs) -------
def _eig(np_, a):
    """(λ, V) of eig: JAX differentiates eigenvectors (which its second derivative of λ needs)
    only through jax.lax.linalg.eig's opt-in flag."""
    if np_ is jnp:
        return tuple(jax.lax.linalg.eig(a, compute_left_eigenvectors=False, enable_eigvec_derivs=True))
    return tuple(np_.linalg.eig(a))


def _eigvals(np_, a):
    return _eig(np_, a)[0] if np_ is jnp else np_.linalg.eigvals(a)


def _eig_vectors(np_, a):
    return _eig(np_, a)[1]


def _similar(block):
    """Q B Q⁻¹ for a random well-conditioned Q: the spectrum of B, eigenvectors not orthogonal."""
    q = np.eye(len(block)) + 0.3 * u(len(block), len(block))
    return q @ block @ np.linalg.inv(q)


_EIG_PAIR = _similar(np.array([[1.0, -1.5, 0.0], [1.5, 1.0, 0.0], [0.0, 0.0, -1.0]]))  # 1 ± 1.5i, −1
_EIG_REAL = _similar(np.diag([-1.0, 0.5, 2.0]))
add("linalg_eigvals_pair", lambda np_, sp_, a: (lambda w: (w.real, w.imag))(_eigvals(np_, a)),
    _EIG_PAIR, linalg="eigvals")
add("linalg_eigvals_real", lambda np_, sp_, a: np_.real(_eigvals(np_, a)), _EIG_REAL,
    linalg="eigvals")
add("linalg_eig_vectors", lambda np_, sp_, a: (lambda v: (v.real, v.imag))(_eig_vectors(np_, a)),
    _EIG_PAIR, linalg="eig")
add("linalg_eig_complex", lambda np_, sp_, a, b: (lambda v: np_.abs(v) + v.imag)(
    _eig_vectors(np_, a + 1j * b)) + np_.real(_eigvals(np_, a + 1j * b) * (1 - 2j)),
    _EIG_PAIR, 0.3 * u(3, 3), linalg="eig")
add("fft_abs_n", lambda np_, sp_, x: np_.abs(np_.fft.fft(x, n=6)) ** 2, u(5))
add("fft_ifft_complex", lambda np_, sp_, x, y: np_.imag(np_.fft.ifft(x + 1j * y, norm="ortho")), u(4), u(4))
add("fft_rfft", lambda np_, sp_, x: (lambda y: (y.real, y.imag))(np_.fft.rfft(x, n=7)), u(6))
add("fft_irfft", lambda np_, sp_, x, y: np_.fft.irfft(x + 1j * y, n=6, norm="forward"), u(4), u(4))
add("fft_rfft2_irfft2", lambda np_, sp_, x: np_.fft.irfft2(np_.fft.rfft2(x) ** 2, s=(2, 4)), u(2, 4))
add("fft_fftn_shift", lambda np_, sp_, x: np_.real(np_.fft.fftshift(np_.fft.fftn(x, axes=(0,))) * (1 + 1j)),
    u(3, 2))


# ---------------------------------------------------------------------------------------------
# Checks
# ---------------------------------------------------------------------------------------------


def _params(cases):
    out = []
    for c in cases:
        marks = [pytest.mark.xfail(strict=True, reason=c.xfail)] if c.xfail else []
        out.append(pytest.param(c, id=c.name, marks=marks))
    return out


def _prepare(case: Case) -> None:
    if case.linalg is not None and not hasattr(mnp.linalg, case.linalg):
        pytest.skip(f"nnmath.numpy.linalg has no {case.linalg!r} yet")


def _jx(tree):
    return jax.tree_util.tree_map(jnp.asarray, tree)


def _assert_trees_close(got, want, case: Case, what: str) -> None:
    g_struct = jax.tree_util.tree_structure(got)
    w_struct = jax.tree_util.tree_structure(want)
    assert g_struct == w_struct, f"{case.name} {what}: structure {g_struct} != JAX's {w_struct}"
    for k, (a, b) in enumerate(zip(jax.tree_util.tree_leaves(got), jax.tree_util.tree_leaves(want))):
        a, b = np.asarray(a), np.asarray(b)
        msg = f"{case.name} {what} (leaf {k})"
        assert a.shape == b.shape, f"{msg}: shape {a.shape} != JAX's {b.shape}"
        assert a.dtype == b.dtype, f"{msg}: dtype {a.dtype} != JAX's {b.dtype}"
        np.testing.assert_allclose(a, b, rtol=case.rtol, atol=case.atol, err_msg=msg)


def _bind(case: Case, ns):
    np_, sp_ = ns
    return lambda *args: case.fun(np_, sp_, *args)


_BY_NAME = {c.name: c for c in CASES}


@functools.lru_cache(maxsize=None)
def _out_leaves(name: str) -> list:
    """Shapes of the output leaves (from JAX's abstract evaluation), in JAX's leaf order."""
    case = _BY_NAME[name]
    out = jax.eval_shape(_bind(case, JX), *_jx(case.args))
    return [tuple(o.shape) for o in jax.tree_util.tree_leaves(out)]


@functools.lru_cache(maxsize=None)
def _randoms(name: str) -> dict:
    """The fixed random inputs of a case: scalarisation weights, tangents, cotangents, HVP vector."""
    case = _BY_NAME[name]
    rng = np.random.default_rng(case.seed("randoms"))
    shapes = _out_leaves(name)
    return {
        "w1": [rng.standard_normal(sh) for sh in shapes],
        "w2": [rng.uniform(0.1, 0.5, sh) for sh in shapes],
        "tangents": nm.tree_map(lambda a: rng.standard_normal(np.shape(a)), case.args),
        "cotangent": [rng.standard_normal(sh) for sh in shapes],
        "hvp": nm.tree_map(lambda a: rng.standard_normal(np.shape(a)), case.args),
    }


def _scalarised(case: Case, ns):
    """S(args) = Σ_leaves Σ y ⊙ (w₁ + w₂ ⊙ y) for fixed random w₁, w₂."""
    np_, sp_ = ns
    r = _randoms(case.name)

    def s(*args):
        leaves = jax.tree_util.tree_leaves(case.fun(np_, sp_, *args))
        return functools.reduce(operator.add,
                                [np_.sum(y * (a + b * y)) for y, a, b in zip(leaves, r["w1"], r["w2"])])
    return s


def _full_hessian(case: Case) -> bool:
    return case.size <= MAX_HESSIAN_INPUTS


def _small_jacobian(case: Case) -> bool:
    return sum(int(np.prod(sh)) for sh in _out_leaves(case.name)) * case.size <= MAX_JACOBIAN_ENTRIES


@contextlib.contextmanager
def _quick_compiles():
    """XLA's optimisations cost more than they save on these tiny one-shot programs."""
    before = jax.config.read("jax_disable_most_optimizations")
    jax.config.update("jax_disable_most_optimizations", True)
    try:
        yield
    finally:
        jax.config.update("jax_disable_most_optimizations", before)


@functools.lru_cache(maxsize=None)
def _reference(name: str) -> dict:
    """Everything JAX says about a case, from one jitted computation.

    Eager JAX would compile every primitive of every Hessian on its own, and a separate jit per
    quantity compiles the same forward and backward graphs many times; so the case's function is
    run once as ``first_order(x) = (f(x), S(x), ∇S(x), vjp_f(x)(ct))`` over the flattened
    arguments x, and that is pushed forward (``jax.jvp``, batched with ``jax.vmap``) along the
    random tangent, the HVP vector and, for small inputs, every basis vector. That gives the value,
    gradient, VJP, JVP, Jacobian columns and Hessian columns (exactly what jax.jacfwd and
    jax.hessian = jacfwd(jacrev) compute).
    """
    case = _BY_NAME[name]
    f = _bind(case, JX)
    r = _randoms(name)
    arg_leaves, arg_def = jax.tree_util.tree_flatten(case.args)
    shapes = [np.shape(leaf) for leaf in arg_leaves]
    sizes = [int(np.prod(sh)) for sh in shapes]
    offsets = np.cumsum([0] + sizes)
    n = int(offsets[-1])
    out_def = jax.tree_util.tree_structure(jax.eval_shape(f, *case.args))
    w1, w2, ct = (r[k] for k in ("w1", "w2", "cotangent"))
    full_h, small_j = _full_hessian(case), _small_jacobian(case)

    def flat(tree):
        return jnp.concatenate([jnp.ravel(leaf) for leaf in jax.tree_util.tree_leaves(tree)])

    def unflat(x):
        return jax.tree_util.tree_unflatten(
            arg_def, [jnp.reshape(x[offsets[i]:offsets[i + 1]], shapes[i]) for i in range(len(shapes))])

    def first_order(x):
        out, pullback = jax.vjp(f, *unflat(x))
        ys = jax.tree_util.tree_leaves(out)
        s_value = functools.reduce(operator.add, [jnp.sum(y * (a + b * y)) for y, a, b in zip(ys, w1, w2)])
        ct_s = [a + 2.0 * b * y for y, a, b in zip(ys, w1, w2)]          # ∂S/∂y
        both = jax.tree_util.tree_unflatten(out_def, [jnp.stack(p) for p in zip(ct_s, ct)])
        pulled = jax.vmap(lambda c: flat(pullback(c)))(both)
        return out, s_value, pulled[0], pulled[1]

    def np_flat(tree):          # outside jit: numpy, so that no eager JAX op is compiled
        return np.concatenate([np.ravel(leaf) for leaf in nm.tree_leaves(tree)])

    def np_unflat(x):
        return jax.tree_util.tree_unflatten(
            arg_def, [np.reshape(x[offsets[i]:offsets[i + 1]], shapes[i]) for i in range(len(shapes))])

    directions = [np_flat(r["tangents"])]
    if not full_h:
        directions.append(np_flat(r["hvp"]))
    basis_at = len(directions)
    if full_h or small_j:
        directions.extend(np.eye(n))

    out_shapes = _out_leaves(name)
    m = len(directions)

    @jax.jit
    def compute(x, dirs):
        def push(d):
            (out, s_value, grad, vjp), (t_out, _, t_grad, _) = jax.jvp(first_order, (x,), (d,))
            return (out, s_value, grad, vjp), (t_out, t_grad)
        primal, tangent = jax.vmap(push, out_axes=(None, 0))(dirs)
        # one flat output: every extra output of an XLA:CPU program costs compile time
        return jnp.concatenate([jnp.ravel(leaf) for leaf in jax.tree_util.tree_leaves((primal, tangent))])

    with _quick_compiles():
        packed = np.asarray(compute(np_flat(case.args), np.stack(directions)))
    layout = (out_shapes + [(), (n,), (n,)]                       # value leaves, S, ∇S, vjp
              + [(m,) + sh for sh in out_shapes] + [(m, n)])     # J·d and H·d for each direction d
    bounds = np.cumsum([0] + [int(np.prod(sh)) for sh in layout])
    assert bounds[-1] == packed.size
    parts = [packed[lo:hi].reshape(sh) for lo, hi, sh in zip(bounds[:-1], bounds[1:], layout)]
    k = len(out_shapes)
    out = jax.tree_util.tree_unflatten(out_def, parts[:k])
    s_value, grad, vjp = parts[k:k + 3]
    t_out_leaves, t_grad = parts[k + 3:2 * k + 3], parts[2 * k + 3]
    ref = {
        "value": out,
        "s_value": s_value,
        "grad": np_unflat(grad),
        "vjp": np_unflat(vjp),
        "jvp": jax.tree_util.tree_unflatten(out_def, [t[0] for t in t_out_leaves]),
    }
    if full_h:
        H = t_grad[basis_at:].T                  # column j of H is the tangent of ∇S along e_j
        blocks = [np.reshape(H[offsets[k]:offsets[k + 1], offsets[i]:offsets[i + 1]], shapes[k] + shapes[i])
                  for k in range(len(shapes)) for i in range(len(shapes))]
        ref["hessian"] = jax.tree_util.tree_unflatten(arg_def.compose(arg_def), blocks)
    else:
        ref["hvp"] = np_unflat(t_grad[1])
    if small_j:
        blocks = []
        for t in t_out_leaves:                   # rows j: J e_j, shaped like the output leaf
            cols = t[basis_at:]
            for i in range(len(shapes)):
                block = np.reshape(cols[offsets[i]:offsets[i + 1]], shapes[i] + cols.shape[1:])
                blocks.append(np.moveaxis(block, tuple(range(len(shapes[i]))),
                                           tuple(range(block.ndim - len(shapes[i]), block.ndim))))
        ref["jacobian"] = jax.tree_util.tree_unflatten(out_def.compose(arg_def), blocks)
    return ref


@pytest.mark.parametrize("case", _params(CASES))
def test_value(case):
    _prepare(case)
    got = case.fun(mnp, msp, *case.args)      # nnmath's fast path: plain numpy arrays
    _assert_trees_close(got, _reference(case.name)["value"], case, "value")


@pytest.mark.parametrize("case", _params(CASES))
def test_grad(case):
    _prepare(case)
    ref = _reference(case.name)
    argnums = tuple(range(len(case.args)))
    v, g = nm.value_and_grad(_scalarised(case, NM), argnums)(*case.args)
    _assert_trees_close(v, ref["s_value"], case, "scalarised value")
    _assert_trees_close(g, ref["grad"], case, "gradient")


@pytest.mark.parametrize("case", _params(CASES))
def test_jvp(case):
    _prepare(case)
    ref = _reference(case.name)
    out, t_out = nm.jvp(_bind(case, NM), case.args, _randoms(case.name)["tangents"])
    _assert_trees_close(out, ref["value"], case, "jvp primal")
    _assert_trees_close(t_out, ref["jvp"], case, "jvp tangent")


@pytest.mark.parametrize("case", _params(CASES))
def test_vjp(case):
    _prepare(case)
    ref = _reference(case.name)
    out, pullback = nm.vjp(_bind(case, NM), *case.args)
    _assert_trees_close(out, ref["value"], case, "vjp primal")
    ct = nm.tree_unflatten(nm.tree_structure(out), _randoms(case.name)["cotangent"])
    _assert_trees_close(pullback(ct), ref["vjp"], case, "vjp")


@pytest.mark.parametrize("case", _params(CASES))
def test_second_order(case):
    """Full Hessian of the scalarised function on small inputs, a Hessian-vector product otherwise."""
    _prepare(case)
    ref = _reference(case.name)
    argnums = tuple(range(len(case.args)))
    s = _scalarised(case, NM)
    if _full_hessian(case):
        _assert_trees_close(nm.hessian(s, argnums)(*case.args), ref["hessian"], case, "hessian")
    else:
        hv = nm.hvp(s, case.args, _randoms(case.name)["hvp"])
        _assert_trees_close(hv if len(case.args) > 1 else (hv,), ref["hvp"], case, "hvp")


@pytest.mark.parametrize("case", _params(CASES))
def test_jacobians(case):
    _prepare(case)
    if not _small_jacobian(case):
        pytest.skip("Jacobian too large for this check")
    want = _reference(case.name)["jacobian"]
    argnums = tuple(range(len(case.args)))
    _assert_trees_close(nm.jacrev(_bind(case, NM), argnums)(*case.args), want, case, "jacrev")
    _assert_trees_close(nm.jacfwd(_bind(case, NM), argnums)(*case.args), want, case, "jacfwd")


# ---------------------------------------------------------------------------------------------
# Beyond the table: rules that JAX can only check in part, custom rules, transform options
# ---------------------------------------------------------------------------------------------


def test_at_multiply_repeated_index():
    # Repeated indices multiply once per occurrence, as JAX's scatter-multiply does:
    # y = x with y[1] = x[1]·v[0]·v[1]; differentiable in x. A traced v with repeated indices is
    # refused (JAX has no gradient for a non-unique scatter-multiply either).
    x, v, idx = np.array([1.5, 2.0, -0.5]), np.array([3.0, -0.7]), np.array([1, 1])
    want = np.asarray(jnp.asarray(x).at[idx].multiply(v))
    np.testing.assert_allclose(mnp.at(x)[idx].multiply(v), want, rtol=RTOL)
    gx = nm.grad(lambda x: mnp.sum(x.at[idx].multiply(v)))(x)
    np.testing.assert_allclose(gx, [1.0, v[0] * v[1], 1.0], rtol=RTOL)
    with pytest.raises(NotImplementedError, match="repeated indices"):
        nm.grad(lambda x, v: mnp.sum(x.at[idx].multiply(v)), (0, 1))(x, v)


@pytest.mark.parametrize("mode", ["maximum", "minimum", "mean", "median", "linear_ramp"])
def test_pad_statistic_modes_are_refused_not_wrong(mode):
    with pytest.raises(NotImplementedError, match=mode):
        mnp.pad(np.array([1.0, 5.0, 2.0]), 1, mode=mode)
    with pytest.raises(NotImplementedError, match="reflect_type='odd'"):
        mnp.pad(np.arange(4.0), 2, mode="reflect", reflect_type="odd")


def test_hessian_where_an_intermediate_cotangent_is_zero():
    def f(np_):
        return lambda x: np_.sum(np_.sin(x) * np_.exp(x) + np_.tanh(x) * np_.log1p(x ** 2))
    x = np.array([0.0, 0.3, -0.5])
    _close(nm.hessian(f(mnp))(x), jax.hessian(f(jnp))(x))
    _close(nm.grad(nm.grad(lambda t: f(mnp)(t[None])))(np.float64(0.0)),
           jax.grad(jax.grad(lambda t: f(jnp)(t[None])))(0.0))


def test_prod_with_a_tiny_element():
    x, v = np.array([1e-170, 1.0, 2.0]), np.array([1.0, 1.0, 1.0])
    for f_nm, f_jx in ((lambda x: mnp.prod(x), lambda x: jnp.prod(x)),
                       (lambda x: mnp.sum(mnp.cumprod(x)), lambda x: jnp.sum(jnp.cumprod(x)))):
        _close(nm.hvp(f_nm, (x,), (v,)), jax.jvp(jax.grad(f_jx), (x,), (v,))[1])
    tiny = np.array([1e-200, 1e-200, 3.0])
    np.testing.assert_allclose(nm.grad(lambda x: mnp.prod(x))(tiny), jax.grad(lambda x: jnp.prod(x))(tiny),
                               rtol=RTOL, atol=0)


def _custom_pair(lib, np_):
    """The same two custom-rule functions for nnmath and for JAX (rules deliberately not the true
    derivative, so that the test sees whether the rule is used)."""

    @lib.custom_jvp
    def soft_clip(x):
        return np_.tanh(x)

    @soft_clip.defjvp
    def soft_clip_jvp(primals, tangents):
        (x,), (t,) = primals, tangents
        return soft_clip(x), t * np_.exp(-x * x)        # not tanh′: a chosen surrogate

    @lib.custom_vjp
    def scaled_grad(x, y):
        return np_.sin(x) * y

    def scaled_fwd(x, y):
        return np_.sin(x) * y, (x, y)

    def scaled_bwd(res, g):
        x, y = res
        return (g * np_.cos(x) * y * 0.5, g * np_.sin(x) ** 2)   # not the true cotangents

    scaled_grad.defvjp(scaled_fwd, scaled_bwd)

    def loss(x, y):
        return np_.sum(soft_clip(x * y) ** 2 + scaled_grad(x, y) * x)

    return soft_clip, loss


_CUSTOM_NM = _custom_pair(nm, mnp)
_CUSTOM_JX = _custom_pair(jax, jnp)
_X3, _Y3 = np.array([0.3, -1.1, 0.7]), np.array([1.2, 0.4, -0.9])


def _close(got, want):
    for a, b in zip(jax.tree_util.tree_leaves(got), jax.tree_util.tree_leaves(want), strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=RTOL, atol=ATOL)


def test_custom_jvp_all_modes():
    f_nm, f_jx = _CUSTOM_NM[0], _CUSTOM_JX[0]
    t = np.array([0.5, -1.0, 2.0])
    _close(nm.jvp(f_nm, (_X3,), (t,)), jax.jvp(f_jx, (_X3,), (t,)))
    _close(nm.vjp(f_nm, _X3)[1](t), jax.vjp(f_jx, _X3)[1](t))
    _close(nm.hessian(lambda x: mnp.sum(f_nm(x) ** 3))(_X3),
           jax.hessian(lambda x: jnp.sum(f_jx(x) ** 3))(_X3))


def test_custom_rules_reverse_and_second_order():
    l_nm, l_jx = _CUSTOM_NM[1], _CUSTOM_JX[1]
    _close(nm.value_and_grad(l_nm, (0, 1))(_X3, _Y3), jax.value_and_grad(l_jx, (0, 1))(_X3, _Y3))
    _close(nm.hessian(l_nm, (0, 1))(_X3, _Y3), jax.hessian(l_jx, (0, 1))(_X3, _Y3))
    _close(nm.jacrev(nm.grad(l_nm))(_X3, _Y3), jax.jacrev(jax.grad(l_jx))(_X3, _Y3))


def test_stop_gradient():
    def f(np_, sg):
        return lambda x: np_.sum(np_.sin(x) * sg(x ** 2) + sg(np_.exp(x)) * x)
    _close(nm.grad(f(mnp, nm.stop_gradient))(_X3), jax.grad(f(jnp, jax.lax.stop_gradient))(_X3))
    _close(nm.hessian(f(mnp, nm.stop_gradient))(_X3), jax.hessian(f(jnp, jax.lax.stop_gradient))(_X3))


def _dict_fun(np_):
    def f(p, z):
        h = np_.tanh(p["w"] @ z + p["b"])
        return {"h": h, "norm": np_.sum(h ** 2) + p["b"][0] * z[1]}, np_.max(z)
    return f


_P = {"w": u(2, 3), "b": u(2)}
_Z = u(3)


def test_transform_options():
    f_nm, f_jx = _dict_fun(mnp), _dict_fun(jnp)
    # has_aux, argnums, pytrees in and out
    for mode in ("jacrev", "jacfwd"):
        _close(getattr(nm, mode)(f_nm, argnums=(0, 1), has_aux=True)(_P, _Z),
               getattr(jax, mode)(f_jx, argnums=(0, 1), has_aux=True)(_P, _Z))
    g_nm = nm.grad(lambda p, z: f_nm(p, z)[0]["norm"], argnums=1)(_P, _Z)
    g_jx = jax.grad(lambda p, z: f_jx(p, z)[0]["norm"], argnums=1)(_P, _Z)
    _close(g_nm, g_jx)
    def with_aux(f):
        return lambda p: (f(p, _Z)[0]["norm"], f(p, _Z)[1])
    (v_nm, aux_nm), gp_nm = nm.value_and_grad(with_aux(f_nm), has_aux=True)(_P)
    (v_jx, aux_jx), gp_jx = jax.value_and_grad(with_aux(f_jx), has_aux=True)(_P)
    _close((v_nm, aux_nm, gp_nm), (v_jx, aux_jx, gp_jx))
    assert nm.tree_structure(gp_nm) == nm.tree_structure(_P)
    # vjp and jvp with pytrees and has_aux
    out_nm, pb_nm, aux_nm = nm.vjp(f_nm, _P, _Z, has_aux=True)
    out_jx, pb_jx, aux_jx = jax.vjp(f_jx, _P, _Z, has_aux=True)
    ct = {"h": np.array([0.3, -0.2]), "norm": np.array(1.5)}
    _close((out_nm, aux_nm, pb_nm(ct)), (out_jx, aux_jx, pb_jx(ct)))
    tp, tz = {"w": u(2, 3), "b": u(2)}, u(3)
    _close(nm.jvp(f_nm, (_P, _Z), (tp, tz), has_aux=True), jax.jvp(f_jx, (_P, _Z), (tp, tz), has_aux=True))
    # linearize, hessian and hvp of a pytree argument
    s_nm = lambda p: f_nm(p, _Z)[0]["norm"]                     # noqa: E731
    s_jx = lambda p: f_jx(p, _Z)[0]["norm"]                     # noqa: E731
    y_nm, lin_nm = nm.linearize(s_nm, _P)
    y_jx, lin_jx = jax.linearize(s_jx, _P)
    _close((y_nm, lin_nm(tp)), (y_jx, lin_jx(tp)))
    _close(nm.hessian(s_nm)(_P), jax.hessian(s_jx)(_P))
    _close(nm.hvp(s_nm, (_P,), (tp,)), jax.jvp(jax.grad(s_jx), (_P,), (tp,))[1])
    # negative argnums
    _close(nm.grad(lambda a, b: mnp.sum(mnp.sin(a) * b), argnums=-1)(_X3, _Y3),
           jax.grad(lambda a, b: jnp.sum(jnp.sin(a) * b), argnums=-1)(_X3, _Y3))


def test_enough_functions():
    assert len(CASES) >= 100
    assert len({c.fun for c in CASES}) >= 100
