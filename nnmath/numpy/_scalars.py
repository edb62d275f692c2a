"""numpy's scalar types as casts that accept traced values (``mnp.float32(x)``, as in JAX).

``mnp.float64`` is a stand-in for ``np.float64``: called on a traced value it casts it
differentiably (``astype``); called on anything else it is ``np.float64(...)``. It works wherever
numpy takes a dtype (``dtype=mnp.float32``, ``np.dtype(mnp.int64)``, ``issubdtype``), and
``isinstance(v, mnp.float64)`` tests for the numpy type. ``np.float64(traced)`` itself cannot
return a traced value (numpy builds a plain scalar), so it raises, pointing here.
"""
from __future__ import annotations

import numpy as np

from .._core.primitive import Tracer

__all__ = ["bool_", "float16", "float32", "float64", "complex64", "complex128", "int8", "int16",
           "int32", "int64", "uint8"]


class _ScalarMeta(type):
    def __call__(cls, x=0, *args, **kwargs):
        if isinstance(x, Tracer):
            from ._elementwise import astype
            return astype(x, cls.dtype)
        if isinstance(x, (list, tuple)):
            from ._creation import asarray
            return asarray(x, dtype=cls.dtype)
        return cls._numpy(x, *args, **kwargs)

    def __instancecheck__(cls, obj) -> bool:
        return isinstance(obj, cls._numpy)

    def __subclasscheck__(cls, sub) -> bool:
        return issubclass(sub, cls._numpy)

    def __repr__(cls) -> str:
        return f"<class 'nnmath.numpy.{cls.__name__}' (casts like numpy.{cls._numpy.__name__})>"

    def __eq__(cls, other) -> bool:
        return other is cls or other is cls._numpy or (
            isinstance(other, (np.dtype, str)) and np.dtype(other) == cls.dtype)

    def __hash__(cls) -> int:
        return hash(cls._numpy)


def _scalar(numpy_type) -> type:
    return _ScalarMeta(numpy_type.__name__, (), {
        "_numpy": numpy_type, "dtype": np.dtype(numpy_type),
        "__doc__": f"``numpy.{numpy_type.__name__}`` as a cast: traced values are cast "
                   f"differentiably (``astype``), others go to numpy."})


bool_ = _scalar(np.bool_)
float16, float32, float64 = _scalar(np.float16), _scalar(np.float32), _scalar(np.float64)
complex64, complex128 = _scalar(np.complex64), _scalar(np.complex128)
int8, int16, int32, int64, uint8 = (_scalar(np.int8), _scalar(np.int16), _scalar(np.int32),
                                    _scalar(np.int64), _scalar(np.uint8))
