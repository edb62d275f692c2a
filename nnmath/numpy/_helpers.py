"""Helpers that name the structure of a derivative rule, so no rule repeats it.

Vocabulary (as in every rule table): ``g`` = ȳ, the output cotangent; ``t`` = ẋ, an input tangent;
``y``/``ans`` = the forward output.
"""
from __future__ import annotations

import dis
import sys
from typing import Any, Callable

import numpy as np

from .._core.batching import batch_elementwise
from .._core.primitive import Primitive, Tracer, defjvp, defvjp, full_lower, primitive

__all__ = ["elementwise", "linear", "nondifferentiable", "safe_mul", "Variadic", "raw", "physical",
           "peek"]


def raw(x: Any) -> Any:
    """The plain numpy value beneath every trace level (for masks, indices and shapes)."""
    return full_lower(x)


def physical(x: Any) -> Any:
    """Every level stripped, vmap stacks included: for choosing between formulas that are both
    exact (e.g. "is any element zero?"), never for the values of a result. Under jit the staged
    value is kept, so that the choice is recorded as a guard."""
    while isinstance(x, Tracer) and not x._staged:
        x = x._primal
    return x


def peek(x: Any) -> np.ndarray:
    """The numbers of ``x`` now, for an error message only (under jit: while recording, which is
    when such a message is raised; replays re-record when the checked condition changes)."""
    x = physical(x)
    return np.asarray(x._primal if isinstance(x, Tracer) else x)


def safe_mul(g: Any, d: Any) -> Any:
    """ḡ ⊙ d with the convention 0 · ∞ = 0 · NaN = 0.

    A cotangent that is exactly zero (the branch ``where`` did not take, the elements an index did
    not pick) stays zero even where the local derivative ``d`` is infinite or undefined, so that an
    untaken branch never poisons a gradient with NaN.
    """
    r = g * d
    if (type(d) is float or type(d) is int) and abs(d) != float("inf"):
        return r              # a finite constant: nothing to guard
    if isinstance(r, Tracer):
        # Zero only where d is not finite: elsewhere ḡ·d is already right, and its derivative with
        # respect to an enclosing transform (ḡ may be 0 here yet vary) must be kept. ḡ is tested
        # first: it is often a constant without zeros (a mean's 1/n), which settles it at once
        # (and under jit records no test at all).
        if (not isinstance(d, (int, float)) and np.any(physical(g) == 0)
                and not np.all(np.isfinite(physical(d)))):
            from ._elementwise import where
            r = where((raw(g) == 0) & ~_isfinite(raw(d)), 0.0, r)
    elif not np.isfinite(r).all():
        zero = (g == 0) & ~np.isfinite(r)
        if zero.any():
            r = np.where(zero, 0.0, r).astype(r.dtype, copy=False)
    return r


def _isfinite(x):
    from ._elementwise import isfinite
    return isfinite(x)


def _reads(deriv: Callable) -> str:
    """Which of (y, x) a derivative ``deriv(y, x)`` reads, as a Primitive.saves value."""
    code = deriv.__code__
    y_name, x_name = code.co_varnames[:2]
    loaded = {ins.argval for ins in dis.get_instructions(deriv) if ins.opname.startswith("LOAD_")}
    uses_y, uses_x = y_name in loaded, x_name in loaded
    return {(True, True): "all", (True, False): "ans", (False, True): "args", (False, False): "none"}[
        (uses_y, uses_x)]


def elementwise(name: str, impl: Callable, deriv: Callable, singular: bool = False,
                holomorphic: bool = False) -> Primitive:
    """An elementwise unary primitive y = f(x) with derivative f′ given as ``deriv(y, x)``.

    x̄ = ȳ ⊙ f′(x)      ẏ = ẋ ⊙ f′(x)
    ``singular``: f′ can be infinite or undefined, so the VJP uses :func:`safe_mul`.
    ``holomorphic``: f is complex-analytic and ``deriv`` is right for complex x too, so the same
    two rules hold for complex values (JAX's convention: z̄ = ȳ ⊙ f′(z), no conjugate).
    """
    p = batch_elementwise(primitive(name, impl, complex_rules=holomorphic))
    p.saves = _reads(deriv)
    if singular:
        defvjp(p, lambda g, y, x: safe_mul(g, deriv(y, x)))
    else:
        defvjp(p, lambda g, y, x: g * deriv(y, x))
    defjvp(p, lambda t, y, x: t * deriv(y, x))
    return p


def linear(prim: Primitive, transpose: Callable) -> Primitive:
    """A primitive linear in its first argument (other arguments static parameters).

    ẏ = f(ẋ)        x̄ = fᵀ(ȳ), given as ``transpose(g, y, x, **params)``, which may read the
    shape and dtype of x but not its values (the tape keeps only those). For complex values the
    transpose is with respect to the pairing Re(c·w): the plain transpose for maps with real
    coefficients (reshape, indexing), conj for conj.
    """
    prim.saves = "none"
    defvjp(prim, transpose)
    defjvp(prim, lambda t, y, x, *rest, **params: prim(t, *rest, **params))
    return prim


class Variadic:
    """Rules for a primitive with any number of array arguments (concatenate, einsum):
    ``rule(position, g_or_t, ans, *args, **params)``."""

    def __init__(self, rule: Callable):
        self.rule = rule

    def __getitem__(self, i: int) -> Callable:
        rule = self.rule
        return lambda c, ans, *args, **params: rule(i, c, ans, *args, **params)

    def __len__(self) -> int:
        return sys.maxsize


def nondifferentiable(impl: Callable, name: str | None = None, kind: str | None = None) -> Callable:
    """Wrap a numpy function whose derivative is zero wherever it exists (floor, argmax,
    comparisons, …): traced arguments are replaced by their values, the result is a constant.

    ``kind`` says how it vectorises under vmap: "elementwise" (broadcasting), "axis" (one array
    and an ``axis`` argument, default None meaning all axes), or None (not supported in vmap).
    """
    fname = name or impl.__name__

    def f(*args, **kwargs):
        args = [full_lower(a) for a in args]
        kwargs = {k: full_lower(v) for k, v in kwargs.items()}
        trace = None
        for a in args:
            if isinstance(a, Tracer) and (trace is None or a._trace.level > trace.level):
                trace = a._trace
        if trace is None:
            return impl(*args, **kwargs)
        if trace.is_staging:    # jit: record the call; shapes that follow values are guarded
            return trace.stage(impl, args, kwargs, shape_guard=kind not in ("elementwise", "axis"))
        return _vectorised(f, fname, kind, trace, args, kwargs)

    f.__name__ = f.__qualname__ = fname
    f.__doc__ = (f"``numpy.{fname}``: piecewise constant or discrete, so its derivative is zero; "
                 f"traced arguments are read as constants.")
    f.nondifferentiable = True
    return f


def _vectorised(f: Callable, name: str, kind: str | None, trace, args: list, kwargs: dict):
    """A discrete function applied to vmapped values (see :func:`nondifferentiable`)."""
    from .._core.batching import BatchTracer, align, logical_ndim, lower_batched
    vals, bat = lower_batched(trace, args)
    if any(isinstance(v, Tracer) and v._trace is trace for v in kwargs.values()):
        kind = None
    if kind == "elementwise":
        return BatchTracer(trace, f(*align(vals, bat, logical_ndim(vals, bat)), **kwargs))
    if kind == "axis" and bat[0] and not any(bat[1:]):
        x = vals[0]
        axis = kwargs.pop("axis", vals[1] if len(vals) > 1 else None)
        if axis is None and name in ("argmax", "argmin"):
            x, axis = x.reshape(x.shape[0], -1), 1
        elif axis is None:
            axis = tuple(range(1, x.ndim))
        else:
            axis = tuple(a + 1 if a >= 0 else a for a in np.atleast_1d(axis))
            axis = axis[0] if len(axis) == 1 and name in ("argmax", "argmin", "argsort") else axis
        return BatchTracer(trace, f(x, axis=axis, **kwargs))
    raise NotImplementedError(f"numpy.{name} on a vmapped (batched) value is not supported by "
                              f"nnmath's vmap")
