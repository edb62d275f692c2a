"""Array creation, inspection and discrete (non-differentiable) functions that accept traced values.

Creation functions make constants; functions of a traced value that are discrete (argmax, nonzero,
unique, …) read its value and return constants — their derivative is zero wherever it exists.
"""
from __future__ import annotations

import numpy as np

from ._helpers import nondifferentiable, primal_value
from ._shape import stack


def shape(a):
    """``numpy.shape``."""
    return a.shape if hasattr(a, "shape") else np.shape(a)


def ndim(a):
    """``numpy.ndim``."""
    return a.ndim if hasattr(a, "ndim") else np.ndim(a)


def size(a, axis=None):
    """``numpy.size``."""
    return np.size(primal_value(a), axis)


def _like(fill, a, dtype, shape):
    if hasattr(a, "_trace"):          # a constant of the traced value's (logical) shape
        return np.full(a.shape if shape is None else shape, fill, dtype=a.dtype if dtype is None else dtype)
    return np.full_like(a, fill, dtype=dtype, shape=shape)


def zeros_like(a, dtype=None, shape=None):
    """``numpy.zeros_like`` (a constant)."""
    return _like(0, a, dtype, shape)


def ones_like(a, dtype=None, shape=None):
    """``numpy.ones_like`` (a constant)."""
    return _like(1, a, dtype, shape)


def empty_like(a, dtype=None, shape=None):
    """``numpy.empty_like`` (a constant, zero-filled when ``a`` is traced)."""
    return _like(0, a, dtype, shape) if hasattr(a, "_trace") else np.empty_like(a, dtype=dtype, shape=shape)


def full_like(a, fill_value, dtype=None, shape=None):
    """``numpy.full_like``: differentiable in ``fill_value``, constant in ``a``."""
    out = _like(0, a, dtype, shape)
    return out + fill_value if hasattr(fill_value, "_trace") else np.full_like(out, fill_value)


def asarray(a, dtype=None):
    """``numpy.asarray``: traced values pass through (cast if ``dtype`` is given); a list that holds
    traced values is stacked."""
    from ._elementwise import astype
    if hasattr(a, "_trace"):
        return a if dtype is None or np.dtype(dtype) == a.dtype else astype(a, dtype)
    if isinstance(a, (list, tuple)) and _holds_tracer(a):
        out = stack([asarray(x) for x in a])
        return out if dtype is None else astype(out, dtype)
    return np.asarray(a, dtype=dtype)


def array(a, dtype=None, copy=True):
    """``numpy.array`` (see :func:`asarray`)."""
    out = asarray(a, dtype)
    return np.array(out, copy=True) if copy and isinstance(out, np.ndarray) else out


def _holds_tracer(seq) -> bool:
    for x in seq:
        if hasattr(x, "_trace") or (isinstance(x, (list, tuple)) and _holds_tracer(x)):
            return True
    return False


argmax = nondifferentiable(np.argmax, kind="axis")
argmin = nondifferentiable(np.argmin, kind="axis")
argsort = nondifferentiable(np.argsort, kind="axis")
argwhere = nondifferentiable(np.argwhere)
nonzero = nondifferentiable(np.nonzero)
flatnonzero = nondifferentiable(np.flatnonzero)
count_nonzero = nondifferentiable(np.count_nonzero, kind="axis")
searchsorted = nondifferentiable(np.searchsorted)
unique = nondifferentiable(np.unique)
digitize = nondifferentiable(np.digitize)
bincount = nondifferentiable(np.bincount)
any = nondifferentiable(np.any, kind="axis")
all = nondifferentiable(np.all, kind="axis")


def result_type(*arrays_and_dtypes):
    """``numpy.result_type`` (traced values contribute their dtype)."""
    return np.result_type(*[a.dtype if hasattr(a, "_trace") else a for a in arrays_and_dtypes])
