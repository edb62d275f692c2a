"""``nnmath.numpy``: the differentiable mirror of numpy.

On plain arrays every function returns what numpy returns. On values being differentiated by an
nnmath transform it records or pushes derivatives. Names and semantics follow numpy (and so JAX's
``jax.numpy``); dtypes follow numpy's rules, so float32 stays float32.
"""
from numpy import (  # noqa: F401  constants, dtypes and constant-creating functions, as numpy has them
    arange, dtype, e, empty, euler_gamma, eye, finfo,
    full, identity, iinfo, inf, integer, issubdtype,
    meshgrid, nan, ndarray, newaxis, number, ones, pi, random, tri, zeros,
    floating, indices, ix_, ravel_multi_index, unravel_index, diag_indices, tril_indices, triu_indices,
)
from ._scalars import (  # noqa: F401  numpy's scalar types, also casts of traced values
    bool_, complex64, complex128, float16, float32, float64, int8, int16, int32, int64, uint8,
)
from ._composites import (  # noqa: F401  numpy functions as composites of the primitives
    append, c_, corrcoef, cov, cross, degrees, dsplit, ediff1d, einsum, fmax, fmin, geomspace,
    gradient, histogram, hsplit, interp, linspace, logspace, median, nan_to_num, nanmean, nansum,
    partition, percentile, quantile, r_, radians, real_if_close, rollaxis, rot90, row_stack,
    select, trapezoid, vsplit,
)

from ._creation import (  # noqa: F401
    all, any, argmax, argmin, argsort, argwhere, array, asarray, bincount, count_nonzero, digitize,
    empty_like, flatnonzero, full_like, ndim, nonzero, ones_like, result_type, searchsorted, shape,
    size, unique, zeros_like,
)
from ._elementwise import (  # noqa: F401
    abs, absolute, add, allclose, angle, arccos, arccosh, arcsin, arcsinh, arctan, arctan2, arctanh,
    around, array_equal, astype, bitwise_and, bitwise_or, bitwise_xor, invert, cbrt, ceil, clip, conj, conjugate, cos, cosh, deg2rad, divide,
    equal, exp, exp2, expm1, fabs, fix, float_power, floor, floor_divide, greater, greater_equal,
    heaviside, hypot, imag, isclose, isfinite, isinf, isnan, less, less_equal, log, log1p, log2, log10,
    logaddexp, logaddexp2, logical_and, logical_not, logical_or, logical_xor, maximum, minimum, mod,
    multiply, negative, not_equal, positive, power, rad2deg, real, reciprocal, remainder, rint,
    round, sign, signbit, sin, sinc, sinh, sqrt, square, subtract, tan, tanh, true_divide, trunc, where,
)
from ._products import dot, inner, kron, matmul, outer, tensordot, vdot  # noqa: F401
from ._reductions import (  # noqa: F401
    amax, amin, average, cumprod, cumsum, max, mean, min, prod, std, sum, var,
)
from ._shape import (  # noqa: F401
    array_split, at, atleast_1d, atleast_2d, atleast_3d, broadcast_arrays, broadcast_to,
    column_stack, concatenate, copy, diag, diagonal, dstack, expand_dims, flip, fliplr, flipud,
    hstack, matrix_transpose, moveaxis, pad, ravel, repeat, reshape, roll, sort, split, squeeze,
    stack, swapaxes, take, take_along_axis, tile, trace, transpose, tril, triu, vstack,
)
from . import linalg  # noqa: F401,E402
from . import fft  # noqa: F401,E402
from ._methods import _install

_install()
del _install


def diff(a, n=1, axis=-1):
    """``numpy.diff``: a[1:] − a[:-1] along ``axis``, ``n`` times."""
    a = asarray(a)
    axis = int(axis) % a.ndim
    for _ in range(n):
        hi = [slice(None)] * a.ndim
        lo = [slice(None)] * a.ndim
        hi[axis], lo[axis] = slice(1, None), slice(None, -1)
        a = a[tuple(hi)] - a[tuple(lo)]
    return a


# numpy 2's array-API names for the same functions
acos, acosh, asin, asinh, atan, atan2, atanh = arccos, arccosh, arcsin, arcsinh, arctan, arctan2, arctanh
pow = power
concat = concatenate
permute_dims = transpose
vecdot = linalg.vecdot


def ptp(a, axis=None, keepdims=False):
    """``numpy.ptp``: max − min (ties share the cotangent, as in max and min)."""
    return max(a, axis=axis, keepdims=keepdims) - min(a, axis=axis, keepdims=keepdims)
