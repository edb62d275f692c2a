"""numpy functions written as composites of the primitives (derivatives for free).

Each entry follows numpy's semantics on plain arrays (most call numpy itself there) and is built
from differentiable ``nnmath.numpy`` functions when a value is traced. Non-differentiable inputs
(indices, conditions, bin edges, quantile levels) are read as constants.

Conventions, where a derivative is a choice:
    fmax/fmin        as maximum/minimum (ties split ½/½); a NaN operand gets 0, the other all
    nan_to_num       derivative 1 where x is finite, 0 where it was replaced
    median/quantile  through the sorted values: each order statistic's cotangent goes to the
                     element it came from; linear interpolation between neighbours
    partition        traced: the sorted values (a valid partition for every kth)
    histogram        counts and edges are piecewise constant in ``a`` (constants); with
                     ``weights`` the bin sums are linear (differentiable) in the weights
"""
from __future__ import annotations

import builtins
import string

import numpy as np

from .._core.primitive import Tracer, needs_rules
from ._creation import asarray
from ._elementwise import (astype, deg2rad, divide, exp, imag, isinf, isnan, log, maximum, minimum,
                           multiply, power, rad2deg, real, sign, sqrt, where)
from ._helpers import strip_tracers, primal_value
from ._products import einsum as _einsum_str
from ._products import matmul
from ._creation import any as _any_nd
from ._reductions import sum
from ._shape import (concatenate, diagonal, expand_dims, flip, moveaxis, ravel, reshape,
                     sort, split, swapaxes, take, take_along_axis, vstack)

__all__ = ["append", "r_", "c_", "cross", "degrees", "radians", "fmax", "fmin", "nan_to_num",
           "select", "rot90", "rollaxis", "partition", "hsplit", "vsplit", "dsplit", "row_stack",
           "real_if_close", "linspace", "logspace", "geomspace", "einsum", "cov", "corrcoef",
           "median", "quantile", "percentile", "nanmean", "nansum", "histogram", "trapezoid",
           "gradient", "ediff1d", "interp"]


def _traced(*xs) -> bool:
    return builtins.any(isinstance(x, Tracer) for x in xs)


def _a(x):
    return x if hasattr(x, "ndim") else asarray(x)


# --------------------------------------------------------------------------------- joining
def append(arr, values, axis=None):
    """``numpy.append``: ``values`` after ``arr`` (both flattened when ``axis`` is None)."""
    arr, values = _a(arr), _a(values)
    if axis is None:
        return concatenate([ravel(arr), ravel(values)])
    return concatenate([arr, values], axis=axis)


row_stack = vstack


class _Concatenator:
    """``np.r_`` / ``np.c_``: slices become ranges, scalars and arrays are joined."""

    def __init__(self, column: bool):
        self.column = column

    def __getitem__(self, key):
        items = key if isinstance(key, tuple) else (key,)
        axis = -1 if self.column else 0
        if items and isinstance(items[0], str):
            try:
                axis = int(items[0])
            except ValueError:
                raise NotImplementedError(
                    f"nnmath's r_/c_ support an integer axis string only, not {items[0]!r}; use "
                    f"mnp.concatenate / mnp.stack") from None
            items = items[1:]
        parts, weak = [], []
        for it in items:
            weak.append(isinstance(it, (int, float, complex)) and not isinstance(it, bool))
            if isinstance(it, slice):
                step = 1 if it.step is None else it.step
                start = 0 if it.start is None else it.start
                if isinstance(step, complex):
                    part = np.linspace(start, it.stop, int(abs(step)))
                else:
                    part = np.arange(start, it.stop, step)
            else:
                part = _a(it)
            if self.column:
                part = reshape(part, (1, 1)) if part.ndim == 0 else (
                    reshape(part, (-1, 1)) if part.ndim == 1 else part)
            elif part.ndim == 0:
                part = reshape(part, (1,))
            parts.append(part)
        strong = [p.dtype for p, w in zip(parts, weak) if not w]
        if strong and builtins.any(weak):     # Python numbers take the arrays' dtype, as in numpy
            dt = np.result_type(*strong, *[it for it, w in zip(items, weak) if w])
            parts = [astype(p, dt) if w else p for p, w in zip(parts, weak)]
        return concatenate(parts, axis=axis)


r_ = _Concatenator(column=False)
c_ = _Concatenator(column=True)


def _split_along(ary, indices_or_sections, axis: int, name: str, min_ndim: int):
    ary = _a(ary)
    if ary.ndim < min_ndim:
        raise ValueError(f"{name} only works on arrays of {min_ndim} or more dimensions, got "
                         f"shape {ary.shape}")
    return split(ary, indices_or_sections, axis=axis)


def hsplit(ary, indices_or_sections):
    """``numpy.hsplit``: split along axis 1 (axis 0 for 1-D arrays)."""
    ary = _a(ary)
    return _split_along(ary, indices_or_sections, 1 if ary.ndim > 1 else 0, "hsplit", 1)


def vsplit(ary, indices_or_sections):
    """``numpy.vsplit``: split along axis 0."""
    return _split_along(ary, indices_or_sections, 0, "vsplit", 2)


def dsplit(ary, indices_or_sections):
    """``numpy.dsplit``: split along axis 2."""
    return _split_along(ary, indices_or_sections, 2, "dsplit", 3)


# --------------------------------------------------------------------------------- rearranging
def rot90(m, k=1, axes=(0, 1)):
    """``numpy.rot90``: rotate by 90° k times in the plane of ``axes`` (flips and a transpose)."""
    m = _a(m)
    axes = tuple(axes)
    if len(axes) != 2 or axes[0] % m.ndim == axes[1] % m.ndim:
        raise ValueError(f"rot90: axes must be two different axes, got {axes}")
    k = int(k) % 4
    if k == 0:
        return m
    if k == 2:
        return flip(flip(m, axes[0]), axes[1])
    if k == 1:
        return swapaxes(flip(m, axes[1]), axes[0], axes[1])
    return flip(swapaxes(m, axes[0], axes[1]), axes[1])


def rollaxis(a, axis, start=0):
    """``numpy.rollaxis``: move ``axis`` to before position ``start`` (numpy's rules)."""
    a = _a(a)
    n = a.ndim
    axis = int(axis) % n
    start = int(start)
    if start < 0:
        start += n
    if not 0 <= start <= n:
        raise np.exceptions.AxisError(f"rollaxis: start={start} is out of range for {n} dims")
    if axis < start:
        start -= 1
    if axis == start:
        return a
    return moveaxis(a, axis, start)


def partition(a, kth, axis=-1):
    """``numpy.partition``: plain arrays go to numpy; a traced one is sorted along ``axis`` — a
    valid partition for every ``kth`` (the k-th element is numpy's; the order of the others may
    differ from ``np.partition``'s, which numpy leaves unspecified)."""
    if not _traced(a):
        return np.partition(a, primal_value(kth), axis=axis)
    return sort(a, axis=axis)


# --------------------------------------------------------------------------------- elementwise
degrees = rad2deg
radians = deg2rad


def fmax(x1, x2):
    """``numpy.fmax``: the maximum, ignoring a NaN operand (ties split ½/½ as ``maximum``)."""
    n1, n2 = isnan(primal_value(x1)), isnan(primal_value(x2))
    return where(n2, x1, where(n1, x2, maximum(x1, x2)))


def fmin(x1, x2):
    """``numpy.fmin``: the minimum, ignoring a NaN operand (ties split ½/½ as ``minimum``)."""
    n1, n2 = isnan(primal_value(x1)), isnan(primal_value(x2))
    return where(n2, x1, where(n1, x2, minimum(x1, x2)))


def nan_to_num(x, copy=True, nan=0.0, posinf=None, neginf=None):
    """``numpy.nan_to_num``: NaN → ``nan``, ±∞ → ``posinf``/``neginf`` (default: the dtype's
    largest finite values). Derivative 1 where x is finite, 0 where an element was replaced."""
    if not _traced(x):
        return np.nan_to_num(x, copy=copy, nan=nan, posinf=posinf, neginf=neginf)
    if x.dtype.kind == "c":
        return nan_to_num(real(x), nan=nan, posinf=posinf, neginf=neginf) + 1j * nan_to_num(
            imag(x), nan=nan, posinf=posinf, neginf=neginf)
    if x.dtype.kind != "f":
        return x
    info = np.finfo(x.dtype)
    posinf = info.max if posinf is None else posinf
    neginf = info.min if neginf is None else neginf
    rx = primal_value(x)
    out = where(isnan(rx), nan, x)
    return where(isinf(rx) & (rx > 0), posinf, where(isinf(rx) & (rx < 0), neginf, out))


def select(condlist, choicelist, default=0):
    """``numpy.select``: the first choice whose condition holds, elementwise (differentiable in
    the choices and ``default``)."""
    if len(condlist) != len(choicelist):
        raise ValueError(f"select: list of cases must be same length as list of conditions, got "
                         f"{len(condlist)} and {len(choicelist)}")
    if not _traced(default, *choicelist, *condlist):
        return np.select(condlist, choicelist, default)
    out = default
    for cond, choice in zip(reversed(condlist), reversed(choicelist)):
        out = where(primal_value(cond), choice, out)
    shape = np.broadcast_shapes(*[np.shape(primal_value(c)) for c in condlist],
                                *[np.shape(primal_value(c)) for c in choicelist])
    return out if np.shape(out) == shape else out + np.zeros(shape, np.result_type(
        *[getattr(c, "dtype", np.result_type(c)) for c in choicelist]))


def real_if_close(a, tol=100):
    """``numpy.real_if_close``: the real part if every imaginary part is within ``tol`` machine
    epsilons of 0 (``tol`` > 1), else ``a`` unchanged. The choice is made on the values."""
    if not _traced(a):
        return np.real_if_close(a, tol)
    if a.dtype.kind != "c":
        return a
    if tol > 1:
        tol = np.finfo(a.dtype).eps * tol
    return real(a) if bool(np.all(np.abs(strip_tracers(imag(a))) < tol)) else a


# --------------------------------------------------------------------------------- ranges
def linspace(start, stop, num=50, endpoint=True, retstep=False, dtype=None, axis=0):
    """``numpy.linspace``, differentiable in ``start`` and ``stop`` (numpy's own formula:
    start + k·step, with the last point set to ``stop`` exactly)."""
    if not _traced(start, stop):
        return np.linspace(start, stop, num, endpoint, retstep, dtype, axis)
    num = int(num)
    if num < 0:
        raise ValueError(f"linspace: number of samples, {num}, must be non-negative")
    start, stop = _a(start), _a(stop)
    div = (num - 1) if endpoint else num
    delta = stop - start
    ndim = builtins.max(start.ndim, stop.ndim)
    k = np.arange(num, dtype=np.result_type(start.dtype, stop.dtype, 1.0)).reshape(
        (-1,) + (1,) * ndim)
    if div > 0:
        step = delta / div
        y = k * step + start
    else:
        step = np.nan * delta
        y = k * delta + start
    if endpoint and num > 1:
        y = concatenate([y[:-1], expand_dims(stop + np.zeros(y.shape[1:], y.dtype), 0)], axis=0)
    if axis != 0:
        y = moveaxis(y, 0, axis)
    if dtype is not None:
        y = astype(y, dtype)
    return (y, step) if retstep else y


def logspace(start, stop, num=50, endpoint=True, base=10.0, dtype=None, axis=0):
    """``numpy.logspace``: base ** linspace(start, stop), differentiable in the exponents and the
    base."""
    if not _traced(start, stop, base):
        return np.logspace(start, stop, num, endpoint, base, dtype, axis)
    y = linspace(start, stop, num=num, endpoint=endpoint, axis=axis)
    if isinstance(base, Tracer) or np.ndim(base):
        base = _a(base)
        if base.ndim:
            base = expand_dims(base, axis)
    y = power(base, y)
    return y if dtype is None else astype(y, dtype)


def geomspace(start, stop, num=50, endpoint=True, dtype=None, axis=0):
    """``numpy.geomspace`` for real endpoints of one sign, differentiable in both: sign · exp of
    a linspace of log|start|, log|stop|, with the end points exactly ``start`` and ``stop``."""
    if not _traced(start, stop):
        return np.geomspace(start, stop, num, endpoint, dtype, axis)
    start, stop = _a(start), _a(stop)
    rs, rt = primal_value(start), primal_value(stop)
    if start.dtype.kind == "c" or stop.dtype.kind == "c" or np.any(np.sign(rs) != np.sign(rt)) \
            or np.any(rs == 0):
        raise NotImplementedError("geomspace: nnmath differentiates real endpoints of one sign "
                                  "(nonzero); for others use mnp.exp(mnp.linspace(...)) on "
                                  "complex logarithms")
    s = np.sign(rs)
    y = s * exp(linspace(log(s * start), log(s * stop), num=num, endpoint=endpoint))
    num = int(num)
    if num > 0:
        parts = [expand_dims(start + np.zeros(y.shape[1:], y.dtype), 0)]
        if endpoint and num > 1:
            parts += [y[1:-1], expand_dims(stop + np.zeros(y.shape[1:], y.dtype), 0)]
        else:
            parts += [y[1:]]
        y = concatenate(parts, axis=0)
    if axis != 0:
        y = moveaxis(y, 0, axis)
    return y if dtype is None else astype(y, dtype)


# --------------------------------------------------------------------------------- products
def cross(a, b, axisa=-1, axisb=-1, axisc=-1, axis=None):
    """``numpy.cross`` of 3-vectors (2-vectors: the z component, as numpy gives for two 2-vectors)."""
    if not _traced(a, b):
        return np.cross(a, b, axisa, axisb, axisc, axis)
    a, b = _a(a), _a(b)
    if axis is not None:
        axisa = axisb = axisc = axis
    a, b = moveaxis(a, axisa, -1), moveaxis(b, axisb, -1)
    na, nb = a.shape[-1], b.shape[-1]
    if na not in (2, 3) or nb not in (2, 3):
        raise ValueError(f"cross: incompatible dimensions for cross product (dimension must be 2 "
                         f"or 3), got {na} and {nb}")
    a0, a1 = a[..., 0], a[..., 1]
    b0, b1 = b[..., 0], b[..., 1]
    if na == 2 and nb == 2:
        return a0 * b1 - a1 * b0
    a2 = a[..., 2] if na == 3 else 0.0
    b2 = b[..., 2] if nb == 3 else 0.0
    from ._shape import broadcast_arrays, stack
    c = stack(broadcast_arrays(a1 * b2 - a2 * b1, a2 * b0 - a0 * b2, a0 * b1 - a1 * b0), axis=-1)
    return moveaxis(c, -1, axisc)


def einsum(*operands, optimize=None):
    """``numpy.einsum``: subscripts as a string, or numpy's operand/sublist form
    ``einsum(x, [0, 1], y, [1, 2], [0, 2])`` (integers name indices, ``...`` an ellipsis)."""
    if operands and isinstance(operands[0], str):
        return _einsum_str(operands[0], *operands[1:], optimize=optimize)
    ops = list(operands)
    out_sub = ops.pop() if len(ops) % 2 == 1 else None
    arrays, subs = ops[0::2], ops[1::2]

    def letters(sub) -> str:
        text = ""
        for s in sub:
            if s is Ellipsis:
                text += "..."
            else:
                k = operator_index(s)
                if not 0 <= k < 52:
                    raise ValueError(f"einsum: subscript {s!r} is not in [0, 52)")
                text += string.ascii_letters[k]
        return text

    spec = ",".join(letters(s) for s in subs)
    if out_sub is not None:
        spec += "->" + letters(out_sub)
    return _einsum_str(spec, *arrays, optimize=optimize)


def operator_index(s) -> int:
    import operator
    return operator.index(s)


# --------------------------------------------------------------------------------- statistics
def _mean(a, axis=None, keepdims=False):
    from ._reductions import mean
    return mean(a, axis=axis, keepdims=keepdims)


def cov(m, y=None, rowvar=True, bias=False, ddof=None, fweights=None, aweights=None, *,
        dtype=None):
    """``numpy.cov`` (numpy's formula, weights included; weights are constants)."""
    if not _traced(m, y):
        return np.cov(m, y, rowvar, bias, ddof, fweights, aweights, dtype=dtype)
    X = _a(m)
    if X.ndim > 2:
        raise ValueError(f"cov: m has more than 2 dimensions (shape {X.shape})")
    if X.ndim < 2:
        X = reshape(X, (1, -1))
    if not rowvar and X.shape[0] != 1:
        X = swapaxes(X, 0, 1)
    if y is not None:
        Y = _a(y)
        Y = reshape(Y, (1, -1)) if Y.ndim < 2 else Y
        if not rowvar and Y.shape[0] != 1:
            Y = swapaxes(Y, 0, 1)
        X = concatenate([X, astype(Y, np.result_type(X.dtype, Y.dtype))], axis=0)
    if dtype is not None:
        X = astype(X, dtype)
    if ddof is None:
        ddof = 0 if bias else 1
    w = None
    if fweights is not None:
        w = np.asarray(primal_value(fweights), dtype=float)
    if aweights is not None:
        aw = np.asarray(primal_value(aweights), dtype=float)
        w = aw if w is None else w * aw
    if w is None:
        avg = _mean(X, axis=1)
        fact = X.shape[1] - ddof
        Xc = X - expand_dims(avg, 1)
        Xw = Xc
    else:
        w_sum = float(w.sum())
        avg = sum(X * w, axis=1) / w_sum
        fact = w_sum - ddof if aweights is None else \
            w_sum - ddof * float((w * np.asarray(primal_value(aweights), float)).sum()) / w_sum
        Xc = X - expand_dims(avg, 1)
        Xw = Xc * w
    from ._elementwise import conj
    c = matmul(Xc, swapaxes(conj(Xw) if Xw.dtype.kind == "c" else Xw, 0, 1)) / fact
    return reshape(c, ()) if c.shape == (1, 1) else c


def corrcoef(x, y=None, rowvar=True, *, dtype=None):
    """``numpy.corrcoef``: cov / (σᵢ σⱼ), the real part clipped to [−1, 1] as numpy does."""
    if not _traced(x, y):
        return np.corrcoef(x, y, rowvar, dtype=dtype)
    c = cov(x, y, rowvar, dtype=dtype)
    if c.ndim == 0:
        return c / c
    d = diagonal(c)
    sd = sqrt(real(d) if d.dtype.kind == "c" else d)
    c = c / expand_dims(sd, 1) / expand_dims(sd, 0)
    from ._elementwise import clip
    if c.dtype.kind == "c":
        return clip(real(c), -1, 1) + 1j * clip(imag(c), -1, 1)
    return clip(c, -1, 1)


_METHODS = ("linear", "lower", "higher", "nearest", "midpoint")


def quantile(a, q, axis=None, out=None, overwrite_input=False, method="linear",
             keepdims=False, *, weights=None, interpolation=None):
    """``numpy.quantile`` (methods linear, lower, higher, nearest, midpoint), differentiable in
    ``a`` through its sorted values; ``q`` is a constant. A NaN in a slice gives NaN, as numpy."""
    if not _traced(a):
        return np.quantile(a, primal_value(q), axis=axis, method=method, keepdims=keepdims,
                           weights=weights)
    if out is not None or weights is not None or interpolation is not None:
        raise NotImplementedError("quantile: out=, weights= and interpolation= are not supported "
                                  "on traced values (use method=...)")
    if method not in _METHODS:
        raise NotImplementedError(f"quantile: method {method!r} is not supported on traced values; "
                                  f"use one of {', '.join(_METHODS)}")
    a = _a(a)
    qv = np.asarray(primal_value(q), dtype=np.float64)
    if np.any((qv < 0) | (qv > 1)):
        raise ValueError("quantile: quantiles must be in the range [0, 1]")
    nd = a.ndim
    q1 = np.atleast_1d(qv).ravel()
    if axis is None:
        x, ax = ravel(a), 0
        kept = (1,) * nd
    else:
        axes = tuple(int(ax_) % nd for ax_ in np.atleast_1d(axis))
        rest = [d for d in range(nd) if d not in axes]
        x = moveaxis(a, axes, tuple(range(nd - len(axes), nd)))
        x = reshape(x, tuple(a.shape[d] for d in rest) + (-1,))
        ax = x.ndim - 1
        kept = tuple(1 if d in axes else a.shape[d] for d in range(nd))
    s = sort(x, axis=ax)
    n = s.shape[ax]
    pos = q1 * (n - 1)
    lo = np.floor(pos).astype(int)
    hi = np.minimum(lo + 1, n - 1)
    gamma = pos - lo
    if method == "lower":
        res = take(s, lo, axis=ax)
    elif method == "higher":
        res = take(s, np.ceil(pos).astype(int), axis=ax)
    elif method == "nearest":
        res = take(s, np.around(pos).astype(int), axis=ax)
    else:
        if method == "midpoint":
            gamma = np.where(hi > lo, 0.5, 0.0)
        below, above = take(s, lo, axis=ax), take(s, hi, axis=ax)
        g = gamma.astype(s.dtype) if s.dtype.kind == "f" else gamma
        res = below + (above - below) * g     # q's axis last: (…rest, q)
    nan = _any_nd(isnan(primal_value(x)), axis=ax, keepdims=True)
    if np.any(nan):
        res = where(nan, np.nan, res)
    rest_shape = res.shape[:-1]
    res = moveaxis(res, -1, 0)               # (Q, …rest)
    res = reshape(res, qv.shape + (kept if keepdims else rest_shape))
    return res


def percentile(a, q, axis=None, out=None, overwrite_input=False, method="linear",
               keepdims=False, *, weights=None, interpolation=None):
    """``numpy.percentile``: :func:`quantile` at q / 100."""
    if not _traced(a):
        return np.percentile(a, primal_value(q), axis=axis, method=method, keepdims=keepdims,
                             weights=weights)
    return quantile(a, np.asarray(primal_value(q), np.float64) / 100.0, axis=axis, out=out,
                    method=method, keepdims=keepdims, weights=weights, interpolation=interpolation)


def median(a, axis=None, out=None, overwrite_input=False, keepdims=False):
    """``numpy.median``: the mean of the middle one or two sorted values (their cotangents go to
    the elements they came from)."""
    if not _traced(a):
        return np.median(a, axis=axis, keepdims=keepdims)
    return quantile(a, 0.5, axis=axis, out=out, keepdims=keepdims)


def nansum(a, axis=None, dtype=None, keepdims=False):
    """``numpy.nansum``: NaNs count as 0 (and get derivative 0)."""
    return sum(where(isnan(primal_value(a)), 0.0, a), axis=axis, dtype=dtype, keepdims=keepdims)


def nanmean(a, axis=None, dtype=None, keepdims=False):
    """``numpy.nanmean``: the mean of the non-NaN elements."""
    ok = ~isnan(primal_value(a))
    return nansum(a, axis=axis, dtype=dtype, keepdims=keepdims) / np.sum(ok, axis=axis,
                                                                         keepdims=keepdims)


def histogram(a, bins=10, range=None, density=None, weights=None):
    """``numpy.histogram``: ``(hist, bin_edges)``. Counts and edges are piecewise constant in
    ``a``, so they are constants; with ``weights`` the bin sums are differentiable in them."""
    edges = np.histogram_bin_edges(primal_value(a), bins, range)
    if weights is None or not _traced(weights):
        return np.histogram(primal_value(a), edges, density=density,
                            weights=None if weights is None else primal_value(weights))
    x = np.ravel(primal_value(a))
    w = ravel(_a(weights))
    idx = np.searchsorted(edges, x, side="right") - 1
    idx[x == edges[-1]] = len(edges) - 2         # the last bin is closed on the right
    inside = (idx >= 0) & (idx < len(edges) - 1)
    from ._shape import _index_add
    hist = _index_add(np.zeros(len(edges) - 1, w.dtype), take(w, np.flatnonzero(inside)),
                      idx=(idx[inside],))
    if density:
        hist = hist / sum(hist) / np.diff(edges)
    return hist, edges


def trapezoid(y, x=None, dx=1.0, axis=-1):
    """``numpy.trapezoid``: Σ (xᵢ₊₁ − xᵢ)(yᵢ + yᵢ₊₁)/2 along ``axis``, differentiable in y and x."""
    if not _traced(y, x, dx):
        return np.trapezoid(y, x, dx, axis)
    y = _a(y)
    nd = y.ndim
    axis = int(axis) % nd
    hi = [slice(None)] * nd
    lo = [slice(None)] * nd
    hi[axis], lo[axis] = slice(1, None), slice(None, -1)
    if x is None:
        d = dx
    else:
        x = _a(x)
        if x.ndim == 1:
            d = x[1:] - x[:-1]
            shape = [1] * nd
            shape[axis] = d.shape[0]
            d = reshape(d, tuple(shape))
        else:
            d = x[tuple(hi)] - x[tuple(lo)]
    return sum(d * (y[tuple(hi)] + y[tuple(lo)]) / 2.0, axis=axis)


def ediff1d(ary, to_end=None, to_begin=None):
    """``numpy.ediff1d``: differences of the flattened array, with optional ends."""
    a = ravel(_a(ary))
    parts = [] if to_begin is None else [ravel(_a(to_begin))]
    parts.append(a[1:] - a[:-1])
    if to_end is not None:
        parts.append(ravel(_a(to_end)))
    return concatenate(parts) if len(parts) > 1 else parts[0]


def interp(x, xp, fp, left=None, right=None, period=None):
    """``numpy.interp``: piecewise-linear interpolation, differentiable in ``x`` and ``fp``
    (``xp`` is a constant); outside [xp₀, xpₙ] the end values (slope 0)."""
    if not _traced(x, xp, fp):
        return np.interp(x, xp, fp, left, right, period)
    if period is not None:
        raise NotImplementedError("interp: period= is not supported on traced values")
    xp = np.asarray(primal_value(xp), dtype=np.float64)
    fp = _a(fp)
    x = _a(x)
    rx = primal_value(x)
    j = np.clip(np.searchsorted(xp, rx, side="right") - 1, 0, len(xp) - 2)
    x0, x1 = xp[j], xp[j + 1]
    f0, f1 = take(fp, j), take(fp, j + 1)
    t = (x - x0) / (x1 - x0)
    y = f0 + (f1 - f0) * t
    lv = take(fp, 0) if left is None else left
    rv = take(fp, len(xp) - 1) if right is None else right
    y = where(rx < xp[0], lv, y)
    return where(rx > xp[-1], rv, y)


def gradient(f, *varargs, axis=None, edge_order=1):
    """``numpy.gradient``: central differences inside, one-sided (first or second order) at the
    ends, with uniform spacings or coordinate arrays; differentiable in ``f`` and coordinates."""
    if not _traced(f, *varargs):
        return np.gradient(f, *varargs, axis=axis, edge_order=edge_order)
    f = _a(f)
    nd = f.ndim
    axes = list(range(nd)) if axis is None else [int(a) % nd for a in np.atleast_1d(axis)]
    if len(varargs) == 0:
        spacing = [1.0] * len(axes)
    elif len(varargs) == 1 and np.ndim(primal_value(varargs[0])) == 0:
        spacing = [varargs[0]] * len(axes)
    elif len(varargs) == len(axes):
        spacing = list(varargs)
    else:
        raise TypeError("gradient: invalid number of spacing arguments")
    if edge_order not in (1, 2):
        raise ValueError("gradient: edge_order must be 1 or 2")
    if f.dtype.kind not in "fc":
        f = astype(f, np.float64)
    outs = []
    for ax, h in zip(axes, spacing):
        n = f.shape[ax]
        if n < edge_order + 1:
            raise ValueError("gradient: shape of the array too small to calculate a numerical "
                             "gradient, at least (edge_order + 1) elements are required")

        def sl(a, b):
            idx = [slice(None)] * nd
            idx[ax] = slice(a, b)
            return f[tuple(idx)]

        def along(v):
            shape = [1] * nd
            shape[ax] = -1
            return reshape(v, tuple(shape))

        uniform = np.ndim(primal_value(h)) == 0
        if uniform:
            interior = (sl(2, None) - sl(None, -2)) / (2.0 * h)
            if edge_order == 1:
                first = (sl(1, 2) - sl(0, 1)) / h
                last = (sl(n - 1, n) - sl(n - 2, n - 1)) / h
            else:
                first = (-1.5 * sl(0, 1) + 2.0 * sl(1, 2) - 0.5 * sl(2, 3)) / h
                last = (0.5 * sl(n - 3, n - 2) - 2.0 * sl(n - 2, n - 1) + 1.5 * sl(n - 1, n)) / h
        else:
            x = _a(h)
            if x.ndim != 1 or x.shape[0] != n:
                raise ValueError("gradient: distances must be scalars or 1-D of the axis length")
            dx = x[1:] - x[:-1]
            dx1, dx2 = dx[:-1], dx[1:]
            a = -dx2 / (dx1 * (dx1 + dx2))
            b = (dx2 - dx1) / (dx1 * dx2)
            c = dx1 / (dx2 * (dx1 + dx2))
            interior = along(a) * sl(None, -2) + along(b) * sl(1, -1) + along(c) * sl(2, None)
            if edge_order == 1:
                first = (sl(1, 2) - sl(0, 1)) / dx[0]
                last = (sl(n - 1, n) - sl(n - 2, n - 1)) / dx[-1]
            else:
                d1, d2 = dx[0], dx[1]
                first = (-(2.0 * d1 + d2) / (d1 * (d1 + d2)) * sl(0, 1)
                         + (d1 + d2) / (d1 * d2) * sl(1, 2) - d1 / (d2 * (d1 + d2)) * sl(2, 3))
                d1, d2 = dx[-2], dx[-1]
                last = (d2 / (d1 * (d1 + d2)) * sl(n - 3, n - 2)
                        - (d2 + d1) / (d1 * d2) * sl(n - 2, n - 1)
                        + (2.0 * d2 + d1) / (d2 * (d1 + d2)) * sl(n - 1, n))
        g = concatenate([first, interior, last], axis=ax)
        outs.append(g if g.dtype == f.dtype else astype(g, f.dtype))   # numpy keeps f's dtype
    return outs[0] if len(outs) == 1 else tuple(outs)
