"""``nnmath.numpy``: the differentiable mirror of numpy.

On plain arrays every function returns what numpy returns. On values being differentiated by an
nnmath transform it records or pushes derivatives. Names and semantics follow numpy (and so JAX's
``jax.numpy``); dtypes follow numpy's rules, so float32 stays float32.
"""
from numpy import (  # noqa: F401  constants, dtypes and constant-creating functions, as numpy has them
    arange, bool_, complex64, complex128, dtype, e, empty, euler_gamma, eye, finfo, float16, float32, float64,
    full, geomspace, identity, iinfo, inf, int8, int16, int32, int64, integer, issubdtype, linspace,
    logspace, meshgrid, nan, ndarray, newaxis, number, ones, pi, random, tri, uint8, zeros,
    floating, indices, ix_, ravel_multi_index, unravel_index, diag_indices, tril_indices, triu_indices,
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
from ._products import dot, einsum, inner, kron, matmul, outer, tensordot, vdot  # noqa: F401
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
