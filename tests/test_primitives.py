"""The rule table's tests: every primitive, both modes, to second order, in float64.

One row per primitive (and per variant: broadcasting, axis, keepdims), run by rowtable.run_row.
The meta-test at the bottom fails when a registered primitive lacks a VJP rule, a JVP rule or a row.
"""
from __future__ import annotations

import importlib

import numpy as np
import pytest

import nnmath  # noqa: F401  (registers every primitive)
import nnmath.numpy as mnp
import nnmath.scipy.linalg as sla
import nnmath.scipy.special as sps
from nnmath._core.primitive import REGISTRY
from rowtable import Row, all_rows, rng, run_row

R = rng(0)
A = R.normal(size=(3, 4))               # anywhere
B = R.normal(size=(3, 4))
POS = R.uniform(0.5, 2.0, size=(3, 4))  # x > 0
UNIT = R.uniform(-0.8, 0.8, size=(3, 4))  # |x| < 1
GT1 = R.uniform(1.5, 3.0, size=(3, 4))  # x > 1
ROW = R.normal(size=(4,))               # broadcasts against (3, 4)
COL = R.normal(size=(3, 1))
M34, M45 = R.normal(size=(3, 4)), R.normal(size=(4, 5))
BATCH = R.normal(size=(2, 3, 4))
_S = R.normal(size=(3, 3))
SPD3 = _S @ _S.T / 3 + np.eye(3)         # symmetric positive definite: real log and square root
_Q = np.eye(3) + 0.3 * R.normal(size=(3, 3))
EIG_PAIR = _Q @ np.array([[1.0, -1.5, 0.0], [1.5, 1.0, 0.0], [0.0, 0.0, -1.0]]) @ np.linalg.inv(_Q)
EIG_REAL = _Q @ np.diag([-1.0, 0.5, 2.0]) @ np.linalg.inv(_Q)   # eig: 1 ± 1.5i, −1 and real ones


def unary(name, fun, x, **kw):
    return Row(name, lambda a: fun(a), (x,), **kw)


ROWS = [
    # --- unary elementwise -------------------------------------------------------------------
    unary("negative", mnp.negative, A),
    unary("exp", mnp.exp, A),
    unary("exp2", mnp.exp2, A),
    unary("expm1", mnp.expm1, A),
    unary("log", mnp.log, POS),
    unary("log1p", mnp.log1p, POS),
    unary("log2", mnp.log2, POS),
    unary("log10", mnp.log10, POS),
    unary("sqrt", mnp.sqrt, POS),
    unary("cbrt", mnp.cbrt, POS),
    unary("square", mnp.square, A),
    unary("reciprocal", mnp.reciprocal, POS),
    unary("absolute", mnp.abs, A),
    unary("sin", mnp.sin, A),
    unary("cos", mnp.cos, A),
    unary("tan", mnp.tan, UNIT),
    unary("arcsin", mnp.arcsin, UNIT),
    unary("arccos", mnp.arccos, UNIT),
    unary("arctan", mnp.arctan, A),
    unary("sinh", mnp.sinh, A),
    unary("cosh", mnp.cosh, A),
    unary("tanh", mnp.tanh, A),
    unary("arcsinh", mnp.arcsinh, A),
    unary("arccosh", mnp.arccosh, GT1),
    unary("arctanh", mnp.arctanh, UNIT),
    unary("sinc", mnp.sinc, A),
    Row("multiply", mnp.deg2rad, (A,), id="deg2rad"),        # composites: x·π/180, x·180/π
    Row("multiply", mnp.rad2deg, (A,), id="rad2deg"),
    unary("expit", sps.expit, A),
    unary("erf", sps.erf, A),
    unary("erfc", sps.erfc, A),
    unary("erfinv", sps.erfinv, UNIT),
    unary("gammaln", sps.gammaln, POS + 1),
    unary("digamma", sps.digamma, POS + 1),
    unary("ndtr", sps.ndtr, A),
    unary("relu", nnmath.nn.relu, A),
    Row("polygamma", lambda x: sps.polygamma(1, x), (POS + 1,)),
    Row("astype", lambda x: mnp.astype(x, np.float32) * 2.0, (A,), f32=False, eps=1e-2, rtol=1e-4),
    # --- complex parts (real in, real out; more in tests/test_complex.py) ----------------------
    Row("conj", lambda x, y: mnp.real(mnp.conj(x + 1j * y) * (y + 2j * x)), (A, B)),
    Row("real", lambda x, y: mnp.real((x + 1j * y) ** 2), (A, B)),
    Row("imag", lambda x, y: mnp.imag((x + 1j * y) ** 2), (A, B)),
    # --- binary elementwise, with broadcasting -----------------------------------------------
    Row("add", lambda a, b: a + b, (A, ROW), id="add-broadcast"),
    Row("subtract", lambda a, b: a - b, (COL, A), id="subtract-broadcast"),
    Row("multiply", lambda a, b: a * b, (A, B)),
    Row("multiply", lambda a, b: a * b, (A, COL), id="multiply-broadcast"),
    Row("divide", lambda a, b: a / b, (A, POS)),
    Row("divide", lambda a, b: a / b, (ROW, POS), id="divide-broadcast"),
    Row("power", lambda a, b: a ** b, (POS, A)),
    Row("power", lambda a: a ** 3, (A,), id="power-int-exponent"),
    Row("maximum", lambda a, b: mnp.maximum(a, b), (A, B)),
    Row("minimum", lambda a, b: mnp.minimum(a, b), (A, B)),
    Row("arctan2", lambda a, b: mnp.arctan2(a, b), (A, POS)),
    Row("hypot", lambda a, b: mnp.hypot(a, b), (A, B)),
    Row("logaddexp", lambda a, b: mnp.logaddexp(a, b), (A, B)),
    Row("logaddexp2", lambda a, b: mnp.logaddexp2(a, b), (A, B)),
    Row("remainder", lambda a, b: mnp.remainder(a, b), (POS * 3.3, POS + 0.05), order=1),
    Row("xlogy", lambda a, b: sps.xlogy(a, b), (A, POS)),
    Row("xlog1py", lambda a, b: sps.xlog1py(a, b), (A, POS)),
    Row("where", lambda a, b: mnp.where(A > 0, a, b), (A, B)),
    Row("clip", lambda a: mnp.clip(a, -0.5, 0.7), (A,)),
    Row("clip", lambda a, lo, hi: mnp.clip(a, lo, hi), (A, np.full((3, 4), -0.5), np.full((3, 4), 0.6)),
        id="clip-array-bounds"),
    # --- reductions ----------------------------------------------------------------------------
    Row("sum", lambda x: mnp.sum(x), (A,)),
    Row("sum", lambda x: mnp.sum(x, axis=1), (A,), id="sum-axis"),
    Row("sum", lambda x: mnp.sum(x, axis=(0, 2), keepdims=True), (BATCH,), id="sum-axes-keepdims"),
    Row("prod", lambda x: mnp.prod(x, axis=0), (POS,)),
    Row("prod", lambda x: mnp.prod(x, axis=1, keepdims=True), (np.array([[1.0, 0.0, 2.0], [0.0, 0.0, 3.0]]),),
        id="prod-with-zeros"),
    Row("max", lambda x: mnp.max(x, axis=1), (A,)),
    Row("max", lambda x: mnp.max(x), (A,), id="max-all"),
    Row("min", lambda x: mnp.min(x, axis=0, keepdims=True), (A,)),
    Row("cumsum", lambda x: mnp.cumsum(x, axis=1), (A,)),
    Row("cumsum", lambda x: mnp.cumsum(x), (A,), id="cumsum-flat"),
    Row("logsumexp", lambda x: sps.logsumexp(x, axis=1), (A,)),
    Row("logsumexp", lambda x: sps.logsumexp(x, axis=0, keepdims=True), (A,), id="logsumexp-keepdims"),
    Row("softmax", lambda x: sps.softmax(x, axis=1), (A,)),
    Row("softmax", lambda x: sps.softmax(x), (A,), id="softmax-all-axes"),
    Row("softmax", lambda x: sps.softmax(x, axis=(0, 1)) * sps.softmax(x, axis=-2), (A,),
        id="softmax-axis-tuple"),
    Row(("prod", "where"), lambda x: mnp.cumprod(x, axis=1), (POS,), id="cumprod"),
    Row("sum", lambda x: mnp.var(x, axis=0) + mnp.std(x, axis=1, ddof=1).sum() + mnp.mean(x), (A,),
        id="mean-var-std"),
    Row("sum", lambda x, w: mnp.average(x, axis=1, weights=w), (A, POS[0]), id="average-weights"),
    # --- shape and indexing ------------------------------------------------------------------
    Row("reshape", lambda x: mnp.reshape(x, (2, 6)) * 1.0, (A,)),
    Row("transpose", lambda x: mnp.transpose(x, (2, 0, 1)), (BATCH,)),
    Row("broadcast_to", lambda x: mnp.broadcast_to(x, (2, 3, 4)), (ROW,)),
    Row("broadcast_to", lambda x: mnp.broadcast_to(x, (300, 3, 4)), (ROW,), id="broadcast_to-large"),
    Row("getitem", lambda x: x[1:, ::-2], (A,)),
    Row("getitem", lambda x: x[np.array([0, 2, 0])], (A,), id="getitem-int-array-repeats"),
    Row("getitem", lambda x: x[A > 0], (A,), id="getitem-bool-mask"),
    Row("getitem", lambda x: x[None, ..., 1], (BATCH,), id="getitem-none-ellipsis"),
    Row("index_set", lambda x, v: mnp.at(x)[1, :2].set(v), (A, ROW[:2])),
    Row("index_add", lambda x, v: mnp.at(x)[np.array([0, 0, 2])].add(v), (A, B)),
    Row("concatenate", lambda a, b: mnp.concatenate([a, b, a], axis=1), (A, B)),
    Row("concatenate", lambda a, b: mnp.stack([a, b], axis=0), (A, B), id="stack"),
    Row("pad", lambda x: mnp.pad(x, ((1, 0), (2, 1)), constant_values=0.5), (A,)),
    Row("getitem", lambda x: mnp.pad(x, 2, mode="reflect"), (A,), id="pad-reflect"),
    Row("roll", lambda x: mnp.roll(x, (1, -1), axis=(0, 1)), (A,)),
    Row("roll", lambda x: mnp.roll(x, 3), (A,), id="roll-flat"),
    Row("triu", lambda x: mnp.triu(x, 1), (A,)),
    Row("tril", lambda x: mnp.tril(x, -1), (A,)),
    # --- products ------------------------------------------------------------------------------
    Row("matmul", lambda a, b: a @ b, (M34, M45)),
    Row("matmul", lambda a, b: a @ b, (BATCH, M45), id="matmul-batched-broadcast"),
    Row("matmul", lambda a, b: mnp.matmul(a, b), (ROW, M45), id="matmul-vector"),
    Row("einsum", lambda a, b: mnp.einsum("ij,jk->ik", a, b), (M34, M45)),
    Row("einsum", lambda a, b: mnp.einsum("bij,j->bi", a, b), (BATCH, ROW), id="einsum-batch"),
    Row("einsum", lambda a: mnp.einsum("ii->i", a), (R.normal(size=(4, 4)),), id="einsum-diagonal"),
    Row("einsum", lambda a: mnp.einsum("ij->", a), (A,), id="einsum-sum"),
    Row("einsum", lambda a, b: mnp.einsum("...ij,...jk", a, b), (BATCH, M45), id="einsum-ellipsis"),
    Row("einsum", lambda a, b: mnp.tensordot(a, b, axes=([1, 2], [0, 1])), (BATCH, R.normal(size=(3, 4, 2))),
        id="tensordot"),
    # --- matrix functions (nnmath.scipy.linalg: the block-triangular Fréchet rule) -------------
    Row("scipy.linalg.expm", sla.expm, (0.5 * R.normal(size=(3, 3)),)),
    Row("scipy.linalg.expm", sla.expm, (0.5 * R.normal(size=(2, 3, 3)),), id="expm-stacked"),
    Row("scipy.linalg.logm", sla.logm, (SPD3,)),
    Row("scipy.linalg.sqrtm", sla.sqrtm, (SPD3,)),
    # --- general eigenproblems (distinct eigenvalues; formulas in nnmath/numpy/_eig.py) ----------
    Row("linalg.eig", lambda a: mnp.real(mnp.linalg.eigvals(a) * (1 - 0.5j)), (EIG_PAIR,),
        id="eigvals-complex-pair"),
    Row("linalg.eig", lambda a: mnp.linalg.eig(a)[0] ** 2 + mnp.sum(mnp.linalg.eig(a)[1], axis=0),
        (EIG_REAL,), id="eig-real-spectrum"),
    Row("linalg.eig", lambda a: mnp.imag(mnp.linalg.eig(a)[1]) + mnp.abs(mnp.linalg.eig(a)[1]),
        (EIG_PAIR,), id="eig-vectors"),
    Row("linalg.eig", lambda a, b: mnp.real(mnp.linalg.eig(a + 1j * b)[1] * (0.5 + 1j))
        + mnp.imag(mnp.linalg.eigvals(a + 1j * b)), (EIG_PAIR, 0.3 * EIG_REAL), id="eig-complex",
        f32=False),
    Row("linalg.eig", lambda a: mnp.real(mnp.linalg.eigvals(a)), (np.stack([EIG_PAIR, EIG_REAL]),),
        id="eigvals-stacked"),
]


@pytest.mark.parametrize("row", ROWS, ids=lambda r: r.id)
def test_row(row):
    run_row(row)


COMPOSITE_ROWS = [
    ("expand_dims/squeeze", lambda x: mnp.squeeze(mnp.expand_dims(x, 0) * 2.0, 0), (A,)),
    ("swapaxes/moveaxis", lambda x: mnp.moveaxis(mnp.swapaxes(x, 0, 2), 0, 1), (BATCH,)),
    ("split", lambda x: mnp.split(x, [1, 3], axis=1)[1] * mnp.array_split(x, 2, axis=0)[0][0, :2], (A,)),
    ("hstack/vstack", lambda a, b: mnp.vstack([a, b]) + mnp.hstack([a, b])[:, :4].sum(), (A, B)),
    ("tile/repeat", lambda x: mnp.tile(x, (2, 1)) * mnp.repeat(x, 2, axis=0), (A,)),
    ("flip", lambda x: mnp.flip(x) * mnp.fliplr(x) + mnp.flipud(x), (A,)),
    ("diag/diagonal/trace", lambda x: mnp.diag(mnp.diagonal(x, 1)) * mnp.trace(x), (A,)),
    ("diag-1d", lambda v: mnp.diag(v, -1), (ROW,)),
    ("take/take_along_axis", lambda x: mnp.take(x, [2, 0], axis=1)
     * mnp.take_along_axis(x, np.argsort(A, axis=1)[:, :2], axis=1), (A,)),
    ("sort", lambda x: mnp.sort(x, axis=1), (A,)),
    ("dot/vdot/inner/outer", lambda a, b: mnp.dot(a, b.T) + mnp.vdot(a, b) + mnp.inner(a, b)
     + mnp.outer(a[0], b[1])[:3, :3], (A, B)),
    ("kron", lambda a, b: mnp.kron(a[:2, :2], b[:2, :3]), (A, B)),
    ("diff", lambda x: mnp.diff(x, n=2, axis=1), (A,)),
    ("softmax/log_softmax", lambda x: sps.softmax(x, axis=1) + sps.log_softmax(x, axis=0), (A,)),
    ("logit", lambda x: sps.logit(x), (R.uniform(0.1, 0.9, size=(5,)),)),
    ("numpy-protocols", lambda x: np.sum(np.sin(x) * np.exp(x), axis=0) + np.linalg.norm(x), (A,)),
    ("methods", lambda x: x.T.reshape(2, 6).sum(axis=1).mean() + x.max() * x.var(), (A,)),
    ("asarray-list", lambda x: mnp.asarray([x[0], x[1] * 2.0]), (A,)),
]


@pytest.mark.parametrize("name,fun,args", COMPOSITE_ROWS, ids=[r[0] for r in COMPOSITE_ROWS])
def test_composite(name, fun, args):
    run_row(Row(name, fun, args, id=name))


def test_every_primitive_has_rules_and_a_row():
    covered = {name for row in all_rows() for name in row.covers}
    importlib.import_module("nnmath.numpy.linalg")
    missing_vjp = [n for n, p in REGISTRY.items() if p.vjps is None]
    missing_jvp = [n for n, p in REGISTRY.items() if p.jvps is None]
    missing_row = sorted(set(REGISTRY) - covered)
    assert not missing_vjp, f"primitives without a VJP rule: {missing_vjp}"
    assert not missing_jvp, f"primitives without a JVP rule: {missing_jvp}"
    assert not missing_row, f"primitives without a test row: {missing_row}"


def test_rows_name_real_primitives():
    unknown = {c for r in ROWS for c in r.covers} - set(REGISTRY)
    assert not unknown, f"rows cover names that are not primitives: {unknown}"
