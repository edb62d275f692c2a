"""Helpers that name the structure of a derivative rule, so no rule repeats it.

Vocabulary (as in every rule table): ``g`` = ȳ, the output cotangent; ``t`` = ẋ, an input tangent;
``y``/``ans`` = the forward output.
"""
from __future__ import annotations

import sys
from typing import Any, Callable

import numpy as np

from .._core.primitive import Primitive, Tracer, defjvp, defvjp, full_lower, primitive

__all__ = ["elementwise", "linear", "nondifferentiable", "safe_mul", "Variadic", "raw"]


def raw(x: Any) -> Any:
    """The plain numpy value beneath every trace level (for masks, indices and shapes)."""
    return full_lower(x)


def safe_mul(g: Any, d: Any) -> Any:
    """ḡ ⊙ d with the convention 0 · ∞ = 0 · NaN = 0.

    A cotangent that is exactly zero (the branch ``where`` did not take, the elements an index did
    not pick) stays zero even where the local derivative ``d`` is infinite or undefined, so that an
    untaken branch never poisons a gradient with NaN.
    """
    from ._elementwise import multiply, where
    if (type(d) is float or type(d) is int) and abs(d) != float("inf"):
        return g * d          # a finite constant: nothing to guard
    r = multiply(g, d)
    if isinstance(r, Tracer) or not np.isfinite(r).all():
        zero = raw(g) == 0
        if np.any(zero):
            r = where(zero, 0.0, r)
    return r


def elementwise(name: str, impl: Callable, deriv: Callable, singular: bool = False) -> Primitive:
    """An elementwise unary primitive y = f(x) with derivative f′ given as ``deriv(y, x)``.

    x̄ = ȳ ⊙ f′(x)      ẏ = ẋ ⊙ f′(x)
    ``singular``: f′ can be infinite or undefined, so the VJP uses :func:`safe_mul`.
    """
    p = primitive(name, impl)
    if singular:
        defvjp(p, lambda g, y, x: safe_mul(g, deriv(y, x)))
    else:
        defvjp(p, lambda g, y, x: g * deriv(y, x))
    defjvp(p, lambda t, y, x: t * deriv(y, x))
    return p


def linear(prim: Primitive, transpose: Callable) -> Primitive:
    """A primitive linear in its first argument (other arguments static parameters).

    ẏ = f(ẋ)        x̄ = fᵀ(ȳ), given as ``transpose(g, y, x, **params)``
    """
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


def nondifferentiable(impl: Callable, name: str | None = None) -> Callable:
    """Wrap a numpy function whose derivative is zero wherever it exists (floor, argmax,
    comparisons, …): traced arguments are replaced by their values, the result is a constant."""

    def f(*args, **kwargs):
        return impl(*[full_lower(a) for a in args],
                    **{k: full_lower(v) for k, v in kwargs.items()})

    f.__name__ = name or impl.__name__
    f.__qualname__ = f.__name__
    f.__doc__ = (f"``numpy.{f.__name__}``: piecewise constant or discrete, so its derivative is zero; "
                 f"traced arguments are read as constants.")
    f.nondifferentiable = True
    return f
