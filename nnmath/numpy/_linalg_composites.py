"""Composites of numpy.linalg: norms, cond, matrix_power, multi_dot and lstsq, written with the
primitives of :mod:`nnmath.numpy._linalg` (whose docstring holds the conventions: ‖x‖ at x = 0
has gradient 0, spectral and nuclear norms give a subgradient where singular values tie), so
every derivative, vmap and jit follow.
"""
from __future__ import annotations

import builtins
import operator

import numpy as np

from .._core.primitive import call_plain, needs_rules
from ._elementwise import abs, astype, power, sqrt, where
from ._helpers import primal_value
from ._linalg import (LinAlgError, LstsqResult, _arr, _check_matrix, _eye, _mm, inv, pinv, svd)
from ._products import matmul
from ._reductions import max, min, sum
from ._shape import moveaxis, reshape

__all__ = ["norm", "vector_norm", "matrix_norm", "cond", "matrix_power", "multi_dot", "lstsq"]


# ---------------------------------------------------------------------------------------------
# Norms (composites)
# ---------------------------------------------------------------------------------------------


def _l2(x, axis, keepdims):
    # ‖x‖₂ = √Σx²; sqrt′(0) = 0 makes the gradient 0 at x = 0
    return sqrt(sum(x * x, axis=axis, keepdims=keepdims))


def _vector_norm(x, ord, axis: int, keepdims: bool):
    if ord is None or ord == 2:
        return _l2(x, axis, keepdims)
    if isinstance(ord, str):
        raise ValueError(f"norm: invalid norm order {ord!r} for vectors")
    if ord == np.inf:
        return max(abs(x), axis=axis, keepdims=keepdims)
    if ord == -np.inf:
        return min(abs(x), axis=axis, keepdims=keepdims)
    if ord == 0:       # the number of non-zero entries: piecewise constant
        return astype(sum(primal_value(x) != 0, axis=axis, keepdims=keepdims), x.dtype)
    if ord == 1:
        return sum(abs(x), axis=axis, keepdims=keepdims)
    p = float(ord)
    ax = abs(x)
    if p > 0:          # |xᵢ|ᵖ with derivative 0 at xᵢ = 0 (also for p < 1), and y′ = 0 at x = 0
        nz = primal_value(ax) > 0
        ax = where(nz, power(where(nz, ax, 1.0), p), 0.0)
    else:
        ax = power(ax, p)
    s = sum(ax, axis=axis, keepdims=keepdims)
    pos = primal_value(s) > 0
    return where(pos, power(where(pos, s, 1.0), 1.0 / p), 0.0)


def _matrix_norm(x, ord, axis: tuple, keepdims: bool):
    row, col = axis
    if ord in (None, "fro", "f"):
        y = _l2(x, axis, False)
    elif ord in ("nuc", 2, -2):
        s = svd(moveaxis(x, axis, (-2, -1)), compute_uv=False)
        y = sum(s, axis=-1) if ord == "nuc" else (max if ord == 2 else min)(s, axis=-1)
    elif ord in (1, -1):               # the largest (smallest) column sum of |A|
        y = (max if ord == 1 else min)(sum(abs(x), axis=row), axis=col - (col > row))
    elif ord in (np.inf, -np.inf):     # the largest (smallest) row sum of |A|
        y = (max if ord == np.inf else min)(sum(abs(x), axis=col), axis=row - (row > col))
    else:
        raise ValueError(f"norm: invalid norm order {ord!r} for matrices")
    if keepdims:
        shape = list(x.shape)
        shape[row] = shape[col] = 1
        y = reshape(y, tuple(shape))
    return y


def norm(x, ord=None, axis=None, keepdims: bool = False):
    """``numpy.linalg.norm``: a vector norm (1 axis) or matrix norm (2 axes).

    Vectors: ``None``/2 √Σx², 1 Σ|x|, ∞ max|x|, −∞ min|x|, 0 the count of non-zeros (constant),
    other p (Σ|x|ᵖ)^(1/p). Matrices: ``None``/'fro' Frobenius, 'nuc' Σs, 2 / −2 the largest /
    smallest singular value, 1 / −1 the max / min column sum of |A|, ∞ / −∞ the max / min row sum.

    At x = 0 every norm has a finite gradient: 0 for the vector norms and the entrywise matrix
    norms (sqrt′(0) = abs′(0) = 0), a subgradient for 2 and 'nuc'. A zero entry contributes 0 to
    the gradient of a p-norm with 0 < p < 1.
    """
    x = _arr(x)
    if x.dtype.kind not in "fc":
        x = astype(x, np.float64)
    if x.dtype.kind == "c" and not _is_spectral(ord, axis, x.ndim):
        x = abs(x)      # every other norm is a norm of |x|, real as numpy's
    nd = x.ndim
    if axis is None:
        if ord is None or (ord in ("f", "fro") and nd == 2) or (ord == 2 and nd == 1):
            y = _l2(x, None, False)
            return reshape(y, (1,) * nd) if keepdims else y
        axis = tuple(range(nd))
    elif not isinstance(axis, tuple):
        try:
            axis = (operator.index(axis),)
        except TypeError:
            raise TypeError(f"norm: axis must be an int or a tuple of ints, got {axis!r}") from None
    axis = tuple(int(a) % nd if -nd <= a < nd else _bad_axis(a, nd) for a in axis)
    if len(set(axis)) != len(axis):
        raise ValueError(f"norm: duplicate axes given: {axis}")
    if len(axis) == 1:
        return _vector_norm(x, ord, axis[0], keepdims)
    if len(axis) == 2:
        return _matrix_norm(x, ord, axis, keepdims)
    raise ValueError(f"norm: improper number of dimensions to norm: axis={axis} for shape "
                     f"{x.shape}")


def _is_spectral(ord, axis, nd: int) -> bool:
    """Whether ``norm(x, ord, axis)`` is a matrix norm of singular values ('nuc', 2, −2)."""
    matrix = nd == 2 if axis is None else isinstance(axis, tuple) and len(axis) == 2
    return matrix and ord in ("nuc", 2, -2)


def _bad_axis(a, nd):
    raise np.exceptions.AxisError(f"norm: axis {a} is out of bounds for array of dimension {nd}")


def vector_norm(x, /, *, axis=None, keepdims: bool = False, ord=2):
    """``numpy.linalg.vector_norm``: a vector norm over ``axis`` (all axes, flattened, if None)."""
    x = _arr(x)
    if axis is None:
        y = norm(reshape(x, (-1,)), ord, 0)
        return reshape(y, (1,) * x.ndim) if keepdims else y
    if isinstance(axis, tuple) and len(axis) != 1:
        nd = x.ndim
        axes = [int(a) % nd for a in axis]
        rest = [d for d in range(nd) if d not in axes]
        moved = reshape(moveaxis(x, axes, range(nd - len(axes), nd)),
                        tuple(x.shape[d] for d in rest) + (-1,))
        y = norm(moved, ord, -1)
        if keepdims:
            y = reshape(y, tuple(1 if d in axes else x.shape[d] for d in range(nd)))
        return y
    return norm(x, ord, axis, keepdims)


def matrix_norm(x, /, *, keepdims: bool = False, ord="fro"):
    """``numpy.linalg.matrix_norm``: a matrix norm over the last two axes."""
    return norm(x, ord, (-2, -1), keepdims)


def cond(x, p=None):
    """``numpy.linalg.cond``: the condition number; s₁/sₙ for ``p`` None/2 (sₙ/s₁ for −2), else
    ‖A‖ₚ‖A⁻¹‖ₚ."""
    x = _arr(x)
    _check_matrix("cond", x)
    if p is None or p == 2 or p == -2:
        s = svd(x, compute_uv=False)
        return s[..., -1] / s[..., 0] if p == -2 else s[..., 0] / s[..., -1]
    _check_matrix("cond", x, square=True)
    return norm(x, p, axis=(-2, -1)) * norm(inv(x), p, axis=(-2, -1))


# ---------------------------------------------------------------------------------------------
# Other composites
# ---------------------------------------------------------------------------------------------


def matrix_power(a, n):
    """``numpy.linalg.matrix_power``: Aⁿ by repeated squaring (A⁻¹ first when n < 0)."""
    a = _arr(a)
    _check_matrix("matrix_power", a, square=True)
    try:
        n = operator.index(n)
    except TypeError:
        raise TypeError(f"matrix_power: exponent must be an integer, got {n!r}") from None
    if n == 0:
        return np.broadcast_to(_eye(a.shape[-1], a), a.shape).copy()
    if n < 0:
        a, n = inv(a), -n
    z = result = None
    while n > 0:
        z = a if z is None else _mm(z, z)
        n, bit = divmod(n, 2)
        if bit:
            result = z if result is None else _mm(result, z)
    return result


def _chain_order(shapes: list) -> list:
    """Where to split each sub-chain i..j so the product costs fewest multiplications (the
    textbook dynamic programme, as numpy's multi_dot)."""
    dims = [s[0] for s in shapes] + [shapes[-1][1]]
    k = len(shapes)
    cost = [[0] * k for _ in range(k)]
    split = [[0] * k for _ in range(k)]
    for length in range(1, k):
        for i in range(k - length):
            j = i + length
            cost[i][j] = float("inf")
            for c in range(i, j):
                q = cost[i][c] + cost[c + 1][j] + dims[i] * dims[c + 1] * dims[j + 1]
                if q < cost[i][j]:
                    cost[i][j], split[i][j] = q, c
    return split


def multi_dot(arrays, *, out=None):
    """``numpy.linalg.multi_dot``: A₁ A₂ ⋯ Aₖ in the cheapest order (first/last may be 1-D)."""
    if out is not None:
        raise NotImplementedError("multi_dot: out= is not supported (values are immutable)")
    arrays = [_arr(a) for a in arrays]
    if len(arrays) < 2:
        raise ValueError(f"multi_dot: expecting at least two arrays, got {len(arrays)}")
    if len(arrays) == 2:
        return matmul(arrays[0], arrays[1])
    first, last = arrays[0].ndim == 1, arrays[-1].ndim == 1
    if first:
        arrays[0] = reshape(arrays[0], (1, -1))
    if last:
        arrays[-1] = reshape(arrays[-1], (-1, 1))
    for k, a in enumerate(arrays):
        if a.ndim != 2:
            raise ValueError(f"multi_dot: array {k} must be 2-D (first and last may be 1-D), got "
                             f"shape {a.shape}")
    split = _chain_order([a.shape for a in arrays])

    def product(i, j):
        return arrays[i] if i == j else matmul(product(i, split[i][j]), product(split[i][j] + 1, j))

    y = product(0, len(arrays) - 1)
    if first and last:
        return reshape(y, ())
    if first or last:
        return reshape(y, (-1,))
    return y


def lstsq(a, b, rcond=None):
    """``numpy.linalg.lstsq``: ``(x, residuals, rank, singular_values)`` minimising ‖b − a x‖₂.

    Plain arrays go to numpy. Traced ones use x = A⁺ b, differentiable where the rank is locally
    constant; ``residuals`` Σ(b − a x)² per column is then returned whenever m > n (as JAX does),
    rank-deficient A included, so that its shape never depends on the data.
    """
    a, b = _arr(a), _arr(b)
    if not (needs_rules(a) or needs_rules(b)):
        return LstsqResult(*call_plain(np.linalg.lstsq, a, b, rcond=rcond, multiple_results=True))
    if a.ndim != 2 or b.ndim not in (1, 2) or b.shape[0] != a.shape[0]:
        raise LinAlgError(f"lstsq: a must be (m, n) and b (m,) or (m, k) with the same m, got "
                          f"{a.shape} and {b.shape}")
    m, n = a.shape
    if rcond is None:
        rcond = np.finfo(a.dtype).eps * builtins.max(m, n)
    x = matmul(pinv(a, rcond), b)
    s = svd(a, compute_uv=False)
    rank = astype(sum(primal_value(s) > rcond * max(primal_value(s)), axis=-1), np.int32)
    if m > n:
        r = b - matmul(a, x)
        residuals = reshape(sum(r * r, axis=0), (-1,))
    else:
        residuals = np.empty((0,), a.dtype)
    return LstsqResult(x, residuals, rank, s)
