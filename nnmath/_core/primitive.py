"""Primitives, tracers and the dispatch between them.

A *primitive* is a numpy function together with its derivative rules. Calling a primitive on plain
arrays calls numpy directly (the fast path). When any argument is a *tracer* — a value being
differentiated — the call is handed to the trace that owns the innermost (highest-level) tracer:
reverse mode records it on a tape, forward mode pushes tangents through it. Because derivative rules
are written with the differentiable namespace ``nnmath.numpy``, the rules themselves can be traced by
an enclosing transform, which gives derivatives of any order and any nesting of modes.

Vocabulary used by all rule tables:
    g    the cotangent of the output (reverse mode, "ȳ")
    t    the tangent of one input (forward mode, "ẋ")
    ans  the primal output y of the forward computation
A VJP rule for argument i maps (g, ans, *args, **params) to that argument's cotangent; a JVP rule for
argument i maps (t, ans, *args, **params) to its contribution to the output tangent. Broadcasting and
dtype are fixed in one place (:func:`fit_cotangent`, :func:`fit_tangent`), never inside a rule.

Complex values follow JAX's convention (the cotangent z̄ of z is the c with df = Re(c·dz)). A
primitive declares ``complex_rules=True`` when its rules hold for complex values; reverse and
forward mode refuse every other primitive on a complex value (:func:`complex_error`), so a rule
written for real numbers never returns a wrong complex derivative.
"""
from __future__ import annotations

import inspect
import itertools
import math
import os
from typing import Any, Callable

import numpy as np

__all__ = ["Primitive", "Tracer", "REGISTRY", "new_level", "full_lower",
           "is_tracer", "needs_rules", "call_plain", "complex_error", "check_real_result",
           "strict_saves"]

#: Every registered primitive, by name. The test-suite checks each has VJP/JVP rules and a test row.
REGISTRY: dict[str, "Primitive"] = {}

_levels = itertools.count(1)


def new_level() -> int:
    """A fresh trace level; a transform started later (hence nested inside) gets a higher one."""
    return next(_levels)


class Tracer:
    """A value being differentiated by one trace level; behaves like an ``ndarray``.

    Operators, methods and the numpy protocols (``__array_ufunc__``, ``__array_function__``) are
    attached by :mod:`nnmath.numpy`, so that this layer does not depend on it.
    """

    __slots__ = ("_trace", "_primal")
    __array_priority__ = 1000.0
    _staged = False     # True for values being recorded by jit (the base level, never stripped)

    @property
    def shape(self) -> tuple:
        return self._primal.shape

    @property
    def dtype(self) -> np.dtype:
        return self._primal.dtype

    @property
    def ndim(self) -> int:
        return self._primal.ndim

    @property
    def size(self) -> int:
        return self._primal.size

    def __len__(self) -> int:
        return len(self._primal)

    def __bool__(self) -> bool:
        return bool(self._primal)

    def __index__(self) -> int:
        return self._primal.__index__()

    def __int__(self) -> int:
        return int(self._primal)

    def __float__(self) -> float:
        raise TypeError(
            "float() of a traced value would drop its derivative. Use nnmath.stop_gradient(x) first "
            "if that is intended, or keep the value as an array.")

    def __array__(self, dtype=None, copy=None):
        raise TypeError(
            "A traced value cannot be converted to a plain numpy array without losing its derivative. "
            "Use the matching function from nnmath.numpy (import nnmath.numpy as mnp): "
            "mnp.mean([a, b]) rather than np.mean of a list holding traced values, "
            "mnp.float64(x) or x.astype(np.float64) rather than np.float64(x); or "
            "nnmath.stop_gradient(x) if the value is meant to be a constant.")

    def __setitem__(self, idx, value):
        raise TypeError(
            "In-place assignment into a traced array is not differentiable. Use the functional "
            "update x = x.at[idx].set(value) (also .add, .multiply) instead.")

    def __hash__(self) -> int:
        return id(self)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(level={self._trace.level}, {self._primal!r})"


class ShapeDtype:
    """What the tape keeps of a value that no VJP rule reads: its shape and dtype."""

    __slots__ = ("shape", "dtype")

    def __init__(self, x: Any):
        self.shape, self.dtype = x.shape, x.dtype

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))


#: Arrays with more elements than this are reduced to a ShapeDtype on the tape when no VJP rule
#: reads them; smaller ones are kept (dropping them saves no memory and costs time). 0 while
#: :func:`strict_saves` is active, so that every undeclared value is dropped.
_KEEP_BELOW = [4096]


def shape_only(x: Any) -> Any:
    """``x`` reduced to its shape and dtype if it is an array worth freeing (more than 4,096
    elements; smaller ones and scalars are kept: dropping them saves no memory and costs time).
    Under :func:`strict_saves` every array and numpy scalar is reduced."""
    if type(x) is np.ndarray:
        return ShapeDtype(x) if x.size > _KEEP_BELOW[0] else x
    if isinstance(x, Tracer):
        return ShapeDtype(x)
    if not _KEEP_BELOW[0] and isinstance(x, np.generic):
        return ShapeDtype(x)
    return x


class strict_saves:
    """Context manager (also on with the environment variable ``NNMATH_STRICT_SAVES=1``): the
    reverse-mode tape drops every input and output a primitive has not declared in ``saves``,
    whatever its size (normally arrays of ≤ 4,096 elements are kept). A VJP rule that reads a
    value its primitive did not declare then fails at once instead of working by luck on small
    arrays. For tests; it costs nothing when off.

    >>> import numpy as np, nnmath as nm, nnmath.numpy as mnp
    >>> from nnmath._core.primitive import strict_saves
    >>> with strict_saves():
    ...     nm.grad(lambda x: mnp.sum(mnp.tanh(x)))(np.zeros(3))
    array([1., 1., 1.])
    """

    def __enter__(self):
        self._old = _KEEP_BELOW[0]
        _KEEP_BELOW[0] = 0
        return self

    def __exit__(self, *exc):
        _KEEP_BELOW[0] = self._old
        return False


if os.environ.get("NNMATH_STRICT_SAVES", "") not in ("", "0"):
    _KEEP_BELOW[0] = 0


def is_tracer(x: Any) -> bool:
    return isinstance(x, Tracer)


def needs_rules(x: Any) -> bool:
    """Whether ``x`` is traced by a transform that needs derivative or batching rules: any tracer
    except jit's staged values, which are plain values being recorded."""
    return isinstance(x, Tracer) and not x._staged


def call_plain(fn: Callable, *args, multiple_results: bool = False, **kwargs) -> Any:
    """``fn(*args, **kwargs)`` for plain numpy code on values that need no rules (check
    :func:`needs_rules` first): called directly, or recorded by jit as one step of its plan. Fast
    paths for plain arrays use it, so that jit replays exactly the numbers an untraced call gives."""
    for a in args:
        if isinstance(a, Tracer):
            return a._trace.stage(fn, args, kwargs, multiple=multiple_results)
    return fn(*args, **kwargs)


def full_lower(x: Any) -> Any:
    """Strip every derivative level: the value underneath, as a constant (used by stop_gradient,
    masks and indices). vmap levels and jit's staged values are kept — they are part of the value,
    not a derivative."""
    while isinstance(x, Tracer):
        if x._staged:
            return x
        if x._trace.is_batch:
            inner = full_lower(x._primal)
            return x if inner is x._primal else type(x)(x._trace, inner)
        x = x._primal
    return x


class Primitive:
    """A numpy function with its derivative rules; declared by
    :func:`nnmath._core.declare.defprimitive` (public as ``nnmath.extend.defprimitive``).

    Args:
        name: the name users see in error messages.
        impl: the numpy implementation on plain values; positional arguments are the (possibly
            differentiable) array operands, keyword arguments are static parameters.
        multiple_results: ``impl`` returns a tuple of arrays.
    """

    __slots__ = ("name", "impl", "vjps", "jvps", "batch", "saves", "multiple_results",
                 "complex_rules", "__dict__")

    def __init__(self, name: str, impl: Callable, multiple_results: bool = False,
                 complex_rules: bool = False):
        self.name = name
        self.impl = impl
        self.vjps: tuple | None = None
        self.jvps: tuple | None = None
        self.batch: Callable | None = None     # vmap rule, see nnmath._core.batching
        # What the VJP rules read, so reverse mode keeps no more than it needs on the tape:
        # "all", "ans" (the output only), "args" (the inputs only) or "none" (shapes and dtypes).
        self.saves = "all"
        self.multiple_results = multiple_results
        # Whether the rules are right for complex values too (JAX's convention, see
        # complex_error); if not, the derivative traces refuse a complex argument or result.
        self.complex_rules = complex_rules
        self.__doc__ = getattr(impl, "__doc__", None)
        self.__wrapped__ = impl

    def __call__(self, *args, **params):
        for a in args:
            if isinstance(a, Tracer):
                return bind(self, args, params)
        return self.impl(*args, **params)

    def __repr__(self) -> str:
        return f"<primitive {self.name}>"


def bind(prim: Primitive, args: tuple, params: dict):
    """Hand ``prim(*args)`` to the trace of the innermost tracer among ``args``."""
    top = None
    level = -1
    for a in args:
        if isinstance(a, Tracer):
            trace = a._trace
            if trace.level > level:
                top, level = trace, trace.level
    return top.process(prim, args, params)


def missing_rule(prim: Primitive, mode: str, argpos: int | None = None) -> NotImplementedError:
    where = "" if argpos is None else f" with respect to its argument {argpos}"
    kind = "VJP (reverse mode)" if mode == "rev" else "JVP (forward mode)"
    return NotImplementedError(f"nnmath has no {kind} rule for '{prim.name}'{where}")


def complex_error(prim: Primitive, what: str, dtype) -> NotImplementedError:
    """The error for a primitive with real-only rules met by a complex value in a derivative
    trace (reverse and forward mode test ``prim.complex_rules`` and the dtypes of the traced
    arguments before computing, and :func:`check_real_result` after)."""
    return NotImplementedError(
        f"nnmath cannot differentiate '{prim.name}' at a complex value ({what} has dtype {dtype}): "
        f"derivatives of '{prim.name}' for complex numbers are not supported yet (its rules hold "
        f"for real values only). Write it on the real and imaginary parts (z.real, z.imag) or on "
        f"mnp.abs(z), or use nnmath.stop_gradient if no derivative is needed.")


def check_real_result(prim: Primitive, ans: Any) -> None:
    """Refuse a primitive with real-only rules whose result is complex (a real traced argument
    next to a complex constant): a wrong derivative must never be returned silently."""
    for a in (ans if prim.multiple_results else (ans,)):
        dtype = a.dtype if hasattr(a, "dtype") else np.result_type(a)
        if dtype.kind == "c":
            raise complex_error(prim, "its result", dtype)


def unbroadcast(c: Any, shape: tuple) -> Any:
    """Sum a cotangent over the axes along which its primal of ``shape`` was broadcast."""
    extra = c.ndim - len(shape)
    if extra > 0:
        lead = math.prod(c.shape[:extra])
        base = c._primal if isinstance(c, Tracer) and c._staged else c   # jit: as when untraced
        if type(base) is np.ndarray and c.dtype.kind == "f" and lead >= 256 and base.flags.c_contiguous:
            # Σ over leading axes as 1ᵀC: one BLAS call, ~10× faster than reduce for tall, narrow C
            c = (np.ones(lead, c.dtype) @ c.reshape(lead, -1)).reshape(c.shape[extra:])
        else:
            c = c.sum(axis=tuple(range(extra)))
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and c.shape[i] != 1)
    if axes:
        c = c.sum(axis=axes, keepdims=True)
    return c


def fit_cotangent(c: Any, like: Any) -> Any:
    """Give cotangent ``c`` the shape and dtype of primal ``like`` (undo broadcasting, keep dtype)."""
    shape = np.shape(like) if not isinstance(like, (np.ndarray, Tracer)) else like.shape
    if c.shape != shape:
        c = unbroadcast(c, shape)
        if c.shape != shape:
            c = c.reshape(shape)
    dtype = like.dtype if hasattr(like, "dtype") else np.result_type(like)
    if c.dtype != dtype and dtype.kind in "fc":
        if c.dtype.kind == "c" and dtype.kind == "f":
            c = c.real      # a real x pairs as Re(c·ẋ) = Re(c)·ẋ: its cotangent is Re c
        if c.dtype != dtype:
            c = c.astype(dtype)
    return c


def fit_tangent(t: Any, ans: Any) -> Any:
    """Give an output tangent the shape and dtype of the primal output ``ans``."""
    try:
        reshape = t.shape != ans.shape
    except AttributeError:      # a Python scalar: 1j · (a numpy float64 scalar) is a Python complex
        t = np.asarray(t)
        reshape = t.shape != ans.shape
    if reshape:
        t = t + np.zeros(ans.shape, dtype=t.dtype)
    if t.dtype != ans.dtype and ans.dtype.kind in "fc":
        if t.dtype.kind == "c" and ans.dtype.kind == "f":
            t = t.real      # a real output's tangent is real: the real part, explicitly
        if t.dtype != ans.dtype:
            t = t.astype(ans.dtype)
    return t
