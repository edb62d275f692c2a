"""``keras.ops``: Keras 3's backend-agnostic ops namespace on ``nnmath.numpy`` / ``nnmath.nn``.

Every op is differentiable by every nnmath transform (it is ``nnmath.numpy`` underneath) and
accepts a layer's :class:`~nnmath.nn.layers.Variable` where Keras does (its value is used). Names,
arguments and defaults are Keras 3's; where Keras differs from numpy this follows Keras:
``gelu`` defaults to the tanh approximation, ``one_hot`` returns float32, ``convert_to_tensor``
of Python floats gives float32 and of Python ints int32, ``shape`` returns a tuple.

>>> import numpy as np
>>> from nnmath.keras import ops
>>> ops.softmax(np.array([[0.0, 0.0]]))
array([[0.5, 0.5]])
>>> ops.one_hot(np.array([0, 2]), 3)
array([[1., 0., 0.],
       [0., 0., 1.]], dtype=float32)
"""
from __future__ import annotations

import math as _math
from typing import Any

import numpy as np

from .. import numpy as mnp
from .._core.custom import stop_gradient as _stop_gradient
from ..nn import activations as _act
from ..nn import losses as _losses
from ..nn.layers._keras_style import Variable
from ..scipy import special as _special

_FLOATX = np.dtype("float32")


def _v(x: Any) -> Any:
    """A Variable's value; lists and tuples of them element by element; others unchanged."""
    if isinstance(x, Variable):
        return x.value
    if isinstance(x, (list, tuple)) and any(isinstance(v, Variable) for v in x):
        return type(x)(_v(v) for v in x)
    return x


def _wrap(fn, name: str, doc: str | None = None):
    def op(*args, **kwargs):
        return fn(*[_v(a) for a in args], **{k: _v(v) for k, v in kwargs.items()})
    op.__name__ = op.__qualname__ = name
    op.__doc__ = doc or f"Keras ``ops.{name}``: ``nnmath.numpy.{getattr(fn, '__name__', name)}``."
    return op


# Ops whose Keras signature is numpy's: one wrapper each (Variables unwrapped).
_SAME = ["add", "subtract", "multiply", "divide", "true_divide", "floor_divide", "mod", "power",
         "negative", "abs", "absolute", "sign", "square", "sqrt", "exp", "expm1", "log", "log1p",
         "log2", "log10", "sin", "cos", "tan", "arcsin", "arccos", "arctan", "arctan2", "sinh",
         "cosh", "tanh", "arcsinh", "arccosh", "arctanh", "floor", "ceil", "round", "trunc",
         "maximum", "minimum", "matmul", "dot", "tensordot", "outer", "inner", "einsum", "reshape",
         "transpose", "expand_dims", "squeeze", "moveaxis", "swapaxes", "broadcast_to", "tile",
         "repeat", "flip", "roll", "take", "take_along_axis", "sort", "argsort", "cumsum", "cumprod",
         "prod", "var", "std", "where", "equal", "not_equal", "greater", "greater_equal", "less",
         "less_equal", "logical_and", "logical_or", "logical_not", "logical_xor", "isnan",
         "isfinite", "isinf", "any", "all", "diag", "diagonal", "trace", "tril", "triu",
         "zeros_like", "ones_like", "full_like", "arange", "linspace", "eye", "identity", "full",
         "count_nonzero", "hstack", "vstack", "split", "pad", "ndim", "size", "reciprocal",
         "logaddexp", "hypot", "cbrt", "real", "imag", "conj", "vdot", "nonzero", "clip"]
for _name in _SAME:
    globals()[_name] = _wrap(getattr(mnp, _name), _name)


def sum(x, axis=None, keepdims=False):  # noqa: A001  (Keras's name)
    """Σ over ``axis`` (Keras ``ops.sum``)."""
    return mnp.sum(_v(x), axis=_axis(axis), keepdims=keepdims)


def mean(x, axis=None, keepdims=False):
    """Mean over ``axis`` (Keras ``ops.mean``)."""
    return mnp.mean(_v(x), axis=_axis(axis), keepdims=keepdims)


def max(x, axis=None, keepdims=False, initial=None):  # noqa: A001
    """Maximum over ``axis`` (Keras ``ops.max``; ``initial`` is a lower bound)."""
    y = mnp.max(_v(x), axis=_axis(axis), keepdims=keepdims)
    return y if initial is None else mnp.maximum(y, initial)


def min(x, axis=None, keepdims=False, initial=None):  # noqa: A001
    """Minimum over ``axis`` (Keras ``ops.min``)."""
    y = mnp.min(_v(x), axis=_axis(axis), keepdims=keepdims)
    return y if initial is None else mnp.minimum(y, initial)


def amax(x, axis=None, keepdims=False):
    return max(x, axis=axis, keepdims=keepdims)


def amin(x, axis=None, keepdims=False):
    return min(x, axis=axis, keepdims=keepdims)


def argmax(x, axis=None, keepdims=False):
    """Index of the maximum (Keras ``ops.argmax``; not differentiable)."""
    y = mnp.argmax(_v(x), axis=axis)
    return mnp.expand_dims(y, axis if axis is not None else 0) if keepdims else y


def argmin(x, axis=None, keepdims=False):
    y = mnp.argmin(_v(x), axis=axis)
    return mnp.expand_dims(y, axis if axis is not None else 0) if keepdims else y


def _axis(axis):
    return tuple(axis) if isinstance(axis, list) else axis


def concatenate(xs, axis=0):
    """Join arrays along ``axis`` (Keras ``ops.concatenate``)."""
    return mnp.concatenate([_v(x) for x in xs], axis=axis)


def stack(x, axis=0):
    """Stack arrays along a new ``axis`` (Keras ``ops.stack``)."""
    return mnp.stack([_v(v) for v in x], axis=axis)


def zeros(shape, dtype=None):
    """Zeros of ``shape`` (default dtype float32, Keras's floatx)."""
    return np.zeros(_shape(shape), dtype=np.dtype(dtype or _FLOATX))


def ones(shape, dtype=None):
    """Ones of ``shape`` (default dtype float32)."""
    return np.ones(_shape(shape), dtype=np.dtype(dtype or _FLOATX))


def _shape(shape):
    return (int(shape),) if isinstance(shape, (int, np.integer)) else tuple(int(d) for d in shape)


def shape(x) -> tuple:
    """The shape of ``x`` as a tuple of ints (Keras ``ops.shape``)."""
    return tuple(_v(x).shape) if hasattr(_v(x), "shape") else tuple(np.shape(x))


def cast(x, dtype):
    """``x`` in ``dtype`` (Keras ``ops.cast``)."""
    x = _v(x)
    x = x if hasattr(x, "dtype") else np.asarray(x)
    dtype = np.dtype(getattr(dtype, "name", dtype))
    return x if x.dtype == dtype else mnp.astype(x, dtype)


def convert_to_tensor(x, dtype=None, sparse=None):
    """``x`` as an array (Keras ``ops.convert_to_tensor``): Python floats become float32, ints
    int32, as Keras does; arrays and traced values keep their dtype unless ``dtype`` is given."""
    x = _v(x)
    if hasattr(x, "dtype") and hasattr(x, "shape"):
        return x if dtype is None else cast(x, dtype)
    a = np.asarray(x)
    if dtype is not None:
        return a.astype(np.dtype(getattr(dtype, "name", dtype)))
    if a.dtype.kind == "f":
        return a.astype(_FLOATX)
    if a.dtype.kind == "i":
        return a.astype(np.int32)
    return a


def convert_to_numpy(x) -> np.ndarray:
    """``x`` as a numpy array (Keras ``ops.convert_to_numpy``)."""
    return np.array(_v(x))


def is_tensor(x) -> bool:
    return isinstance(_v(x), np.ndarray) or hasattr(_v(x), "_trace")


def stop_gradient(x):
    """``x`` with no derivative (Keras ``ops.stop_gradient``)."""
    return _stop_gradient(_v(x))


# ---------------------------------------------------------------------------------- neural net
relu = _wrap(_act.relu, "relu")
relu6 = _wrap(_act.relu6, "relu6")
sigmoid = _wrap(_act.sigmoid, "sigmoid")
softplus = _wrap(_act.softplus, "softplus")
softsign = _wrap(_act.softsign, "softsign")
silu = _wrap(_act.silu, "silu")
swish = silu
selu = _wrap(_act.selu, "selu")
mish = _wrap(_act.mish, "mish")
log_sigmoid = _wrap(_act.log_sigmoid, "log_sigmoid")
hard_sigmoid = _wrap(_act.hard_sigmoid, "hard_sigmoid")
hard_silu = _wrap(_act.hard_silu, "hard_silu")
hard_swish = hard_silu
erf = _wrap(_special.erf, "erf")


def elu(x, alpha=1.0):
    return _act.elu(_v(x), alpha=alpha)


def leaky_relu(x, negative_slope=0.2):
    """max(x, negative_slope·x) (Keras ``ops.leaky_relu``, default slope 0.2)."""
    return _act.leaky_relu(_v(x), negative_slope=negative_slope)


def gelu(x, approximate=True):
    """Gaussian error linear unit (Keras ``ops.gelu``: the tanh approximation by default)."""
    return _act.gelu(_v(x), approximate=approximate)


def softmax(x, axis=-1):
    """exp(x) / Σ exp(x) along ``axis`` (Keras ``ops.softmax``)."""
    return _act.softmax(_v(x), axis=axis)


def log_softmax(x, axis=-1):
    """x − logsumexp(x) along ``axis`` (Keras ``ops.log_softmax``)."""
    return _act.log_softmax(_v(x), axis=axis)


def logsumexp(x, axis=None, keepdims=False):
    """log Σ exp(x), computed stably (Keras ``ops.logsumexp``)."""
    return _special.logsumexp(_v(x), axis=axis, keepdims=keepdims)


def rsqrt(x):
    """1 / √x (Keras ``ops.rsqrt``)."""
    return 1.0 / mnp.sqrt(_v(x))


def one_hot(x, num_classes, axis=-1, dtype=None):
    """One-hot encoding of integer ``x`` (Keras ``ops.one_hot``; float32 by default)."""
    idx = np.asarray(_v(x)).astype(np.int64)
    out = (idx[..., None] == np.arange(int(num_classes))).astype(np.dtype(dtype or _FLOATX))
    return out if axis in (-1, out.ndim - 1) else np.moveaxis(out, -1, axis)


def norm(x, ord=None, axis=None, keepdims=False):
    """Vector or matrix norm (Keras ``ops.norm``, numpy's ``ord`` conventions)."""
    return mnp.linalg.norm(_v(x), ord=ord, axis=axis, keepdims=keepdims)


def normalize(x, axis=-1, order=2, epsilon=None):
    """x / max(‖x‖_order, ε) along ``axis`` (Keras ``ops.normalize``)."""
    x = _v(x)
    n = mnp.linalg.norm(x, ord=order, axis=axis, keepdims=True)
    return x / mnp.maximum(n, 1e-12 if epsilon is None else epsilon)


def binary_crossentropy(target, output, from_logits=False):
    """Elementwise binary cross-entropy (Keras ``ops.binary_crossentropy``)."""
    t, o = _v(target), _v(output)
    if from_logits:
        return mnp.maximum(o, 0) - o * t + mnp.log1p(mnp.exp(-mnp.abs(o)))
    o = mnp.clip(o, 1e-7, 1 - 1e-7)
    return -(t * mnp.log(o) + (1 - t) * mnp.log(1 - o))


def categorical_crossentropy(target, output, from_logits=False, axis=-1):
    """Cross-entropy over ``axis`` (Keras ``ops.categorical_crossentropy``)."""
    return _losses.categorical_crossentropy(_v(target), _v(output), from_logits=from_logits,
                                            axis=axis)


def sparse_categorical_crossentropy(target, output, from_logits=False, axis=-1):
    """Cross-entropy with integer targets (Keras ``ops.sparse_categorical_crossentropy``)."""
    return _losses.sparse_categorical_crossentropy(_v(target), _v(output),
                                                   from_logits=from_logits, axis=axis)


def top_k(x, k, sorted=True):  # noqa: A002
    """(values, indices) of the ``k`` largest entries along the last axis (Keras ``ops.top_k``)."""
    x = _v(x)
    idx = np.argsort(-np.asarray(_stop_gradient(x)), axis=-1, kind="stable")[..., :k]
    return mnp.take_along_axis(x, idx, axis=-1), idx


def flatten(x):
    """``x`` raveled (Keras 3 has ``ops.ravel``; kept for old code)."""
    return mnp.ravel(_v(x))


ravel = flatten


def dtype(x) -> str:
    return np.dtype(_v(x).dtype).name


PI = _math.pi
