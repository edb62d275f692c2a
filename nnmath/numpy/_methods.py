"""Give traced values the operators, methods and numpy protocols of an ``ndarray``.

``np.sin(traced)`` and ``np.sum(traced)`` work too: ``__array_ufunc__`` and ``__array_function__``
forward numpy's own functions to their differentiable ``nnmath.numpy`` versions, and raise
``NotImplementedError`` naming the function when nnmath has no rule for it (never a silent zero).
"""
from __future__ import annotations


from .._core.primitive import Primitive, Tracer, bind
from ._helpers import primal_value


def _install() -> None:
    import nnmath.numpy as mnp
    from nnmath.numpy import linalg as mlinalg
    from ._shape import _At, _index_of, getitem

    def binary(f):
        if isinstance(f, Primitive):    # self is traced: skip the plain-array check
            return ((lambda self, other: bind(f, (self, other), {})),
                    (lambda self, other: bind(f, (other, self), {})))
        return (lambda self, other: f(self, other)), (lambda self, other: f(other, self))

    T = Tracer
    T.__add__, T.__radd__ = binary(mnp.add)
    T.__sub__, T.__rsub__ = binary(mnp.subtract)
    T.__mul__, T.__rmul__ = binary(mnp.multiply)
    T.__truediv__, T.__rtruediv__ = binary(mnp.divide)
    T.__floordiv__, T.__rfloordiv__ = binary(mnp.floor_divide)
    T.__mod__, T.__rmod__ = binary(mnp.remainder)
    T.__pow__, T.__rpow__ = binary(mnp.power)
    T.__matmul__, T.__rmatmul__ = binary(mnp.matmul)
    T.__lt__ = lambda self, other: mnp.less(self, other)
    T.__le__ = lambda self, other: mnp.less_equal(self, other)
    T.__gt__ = lambda self, other: mnp.greater(self, other)
    T.__ge__ = lambda self, other: mnp.greater_equal(self, other)
    T.__eq__ = lambda self, other: mnp.equal(self, other)
    T.__ne__ = lambda self, other: mnp.not_equal(self, other)
    T.__and__, T.__rand__ = binary(mnp.bitwise_and)
    T.__or__, T.__ror__ = binary(mnp.bitwise_or)
    T.__xor__, T.__rxor__ = binary(mnp.bitwise_xor)
    T.__invert__ = lambda self: mnp.invert(self)
    T.__neg__ = lambda self: mnp.negative(self)
    T.__pos__ = lambda self: self
    T.__abs__ = lambda self: mnp.absolute(self)
    T.__getitem__ = lambda self, key: getitem(self, idx=_index_of(key))
    T.__iter__ = lambda self: (self[i] for i in range(len(self)))
    T.T = property(lambda self: mnp.transpose(self))
    T.mT = property(lambda self: mnp.swapaxes(self, -1, -2))
    T.at = property(lambda self: _At(self))
    T.real = property(lambda self: mnp.real(self))
    T.imag = property(lambda self: mnp.imag(self))

    def shaped(f):
        return lambda self, *shape, **kw: f(self, shape[0] if len(shape) == 1 else shape, **kw)

    T.reshape = shaped(mnp.reshape)
    T.transpose = lambda self, *axes: mnp.transpose(self, (axes[0] if len(axes) == 1 else axes) or None)
    T.astype = lambda self, dtype, copy=True: mnp.astype(self, dtype)
    T.ravel = lambda self: mnp.ravel(self)
    T.flatten = lambda self: mnp.ravel(self)
    T.copy = lambda self: self
    for name in ("sum", "mean", "prod", "max", "min", "var", "std", "cumsum", "cumprod", "squeeze",
                 "swapaxes", "clip", "dot", "trace", "diagonal", "repeat", "round", "argmax",
                 "argmin", "argsort", "any", "all", "nonzero", "sort", "conj", "conjugate"):
        setattr(T, name, getattr(mnp, name))
    T.item = lambda self, *a: primal_value(self).item(*a)

    modules = {"numpy": mnp, "numpy.linalg": mlinalg}

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        name = ufunc.__name__
        if method == "__call__" and not kwargs.get("out"):
            f = getattr(mnp, name, None)
            if f is not None:
                kwargs.pop("out", None)
                return f(*inputs, **kwargs)
        if method == "reduce" and name in ("add", "multiply", "maximum", "minimum"):
            f = {"add": mnp.sum, "multiply": mnp.prod, "maximum": mnp.max, "minimum": mnp.min}[name]
            return f(inputs[0], axis=kwargs.get("axis", 0), keepdims=kwargs.get("keepdims", False))
        suffix = "" if method == "__call__" else f".{method}"
        raise NotImplementedError(
            f"numpy.{name}{suffix} on a traced value has no differentiation rule in nnmath"
            + (" (out= is not supported: values are immutable while traced)" if kwargs.get("out") else "")
            + ". Use the functions of nnmath.numpy (import nnmath.numpy as mnp).")

    def __array_function__(self, func, types, args, kwargs):
        module = modules.get(func.__module__ or "numpy")
        f = getattr(module, func.__name__, None) if module is not None else None
        if f is None or f is func:
            raise NotImplementedError(
                f"{func.__module__}.{func.__name__} on a traced value has no differentiation rule "
                f"in nnmath. Write it with nnmath.numpy (import nnmath.numpy as mnp) functions, or "
                f"give it a rule with nnmath.custom_vjp / custom_jvp.")
        return f(*args, **kwargs)

    T.__array_ufunc__ = __array_ufunc__
    T.__array_function__ = __array_function__
