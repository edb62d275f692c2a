"""``defprimitive``: the one way to declare a primitive, checked when it is declared.

A primitive is declared once, with everything the transforms need: its numpy implementation, a
VJP and a JVP rule per positional argument (``None`` where it is not differentiable), its
batching (vmap) rule and what the VJP rules read (``saves``). Structure helpers built on it
(``elementwise``, ``elementwise2``, ``linear``, ``bilinear`` in :mod:`nnmath.numpy._helpers`,
public as :mod:`nnmath.extend`) derive the rules that follow from the structure of the op.

Rule signatures (vocabulary of every rule table: ``g`` = ȳ, ``t`` = ẋ, ``ans``/``y`` = output):
    vjp rule for argument i:  ``rule(g, ans, *args, **params)`` → x̄ᵢ (or None for zero)
    jvp rule for argument i:  ``rule(t, ans, *args, **params)`` → its contribution to ẏ
    batch rule:               ``rule(size, vals, batched, **params)`` → the stacked output
where ``args`` are the positional (array) operands and ``params`` the keyword (static) ones.
"""
from __future__ import annotations

import inspect
import sys
from typing import Any, Callable

import numpy as np

from . import batching as _b
from .primitive import REGISTRY, Primitive

__all__ = ["defprimitive", "Variadic", "SAVES", "BATCH_STRUCTURES"]

#: What a primitive's VJP rules read, so that the tape keeps no more: "all" (inputs and output),
#: "ans" (the output only), "args" (the inputs only), "none" (shapes and dtypes only).
SAVES = ("all", "ans", "args", "none")

#: Batching rules named by the structure of the primitive (see nnmath._core.batching).
BATCH_STRUCTURES: dict[str, Callable[[Primitive], Primitive]] = {
    "elementwise": _b.batch_elementwise,    # broadcasting: align ranks, the op broadcasts itself
    "reduction": _b.batch_reduction,        # ``axis`` (None or tuple) and ``keepdims`` params
    "axis": _b.batch_axis_param,            # one integer ``axis`` param (cumsum): shift it by one
    "leading": _b.batch_leading,            # acts on trailing axes, broadcasts over leading ones
}


class Variadic:
    """Rules for a primitive with any number of array arguments (concatenate, einsum):
    ``rule(position, g_or_t, ans, *args, **params)``."""

    __slots__ = ("rule",)

    def __init__(self, rule: Callable):
        self.rule = rule

    def __getitem__(self, i: int) -> Callable:
        rule = self.rule
        return lambda c, ans, *args, **params: rule(i, c, ans, *args, **params)

    def __len__(self) -> int:
        return sys.maxsize


def _positional(fn: Callable) -> tuple[int, bool] | None:
    """(number of positional parameters, has *args) of a Python function; None if unknown."""
    code = getattr(fn, "__code__", None)
    if code is None:
        try:
            sig = inspect.signature(fn)
        except (TypeError, ValueError):
            return None
        P = inspect.Parameter
        kinds = [q.kind for q in sig.parameters.values()]
        n = sum(k in (P.POSITIONAL_ONLY, P.POSITIONAL_OR_KEYWORD) for k in kinds)
        return n, P.VAR_POSITIONAL in kinds
    return code.co_argcount, bool(code.co_flags & inspect.CO_VARARGS)


def _rules(name: str, mode: str, rules: Any) -> tuple | Variadic:
    if isinstance(rules, Variadic):
        return rules
    if callable(rules):
        return (rules,)
    if not isinstance(rules, (tuple, list)) or not rules:
        raise TypeError(f"defprimitive({name!r}): {mode} must be a rule, a tuple with one rule (or "
                        f"None, for an argument that is not differentiable) per positional "
                        f"argument, or a Variadic; got {rules!r}")
    for k, r in enumerate(rules):
        if r is not None and not callable(r):
            raise TypeError(f"defprimitive({name!r}): {mode}[{k}] must be a function or None "
                            f"(argument {k} not differentiable), got {r!r}")
    return tuple(rules)


def _check_arity(name: str, what: str, fn: Callable, need: int, shape: str) -> None:
    pos = _positional(fn)
    if pos is not None and not pos[1] and pos[0] < need:
        raise TypeError(f"defprimitive({name!r}): {what} takes {pos[0]} positional argument(s) "
                        f"but is called as {shape} ({need})")


def defprimitive(name: str, impl: Callable, *, vjp: Any, jvp: Any, batch: Callable | str,
                 saves: str = "all", complex_rules: bool = False,
                 multiple_results: bool = False) -> Primitive:
    """Declare and register a primitive: a numpy function with all of its rules.

    Args:
        name: the name users see in error messages (unique).
        impl: the numpy implementation on plain values; positional arguments are the (possibly
            differentiable) array operands, keyword arguments static parameters.
        vjp: one VJP rule ``rule(g, ans, *args, **params)`` per positional argument (a single
            function for a one-argument primitive), ``None`` for an argument that is not
            differentiable, or a :class:`Variadic` for any number of arguments.
        jvp: likewise, ``rule(t, ans, *args, **params)``; ``None`` exactly where ``vjp`` has None.
        batch: the vmap rule ``rule(size, vals, batched, **params)``, or the name of a structure:
            "elementwise", "reduction", "axis" or "leading" (see ``BATCH_STRUCTURES``).
        saves: what the VJP rules read of the forward pass: "all", "ans", "args" or "none"
            (shapes and dtypes only); the tape frees the rest.
        complex_rules: the rules are right for complex values too (JAX's convention: the
            cotangent z̄ of z is the c with df = Re(c·dz)); otherwise a complex value is refused.
        multiple_results: ``impl`` returns a tuple of arrays (rules then see a tuple ``ans`` and
            VJPs a tuple ``g``; a JVP returns a tuple of output tangents).

    Returns:
        The registered :class:`~nnmath._core.primitive.Primitive`, callable like ``impl``.

    Raises:
        TypeError, ValueError: naming the primitive, if a rule is missing or malformed, ``saves``
            or ``batch`` is not valid, or the name is taken.
    """
    if not isinstance(name, str) or not name:
        raise TypeError(f"defprimitive: name must be a non-empty string, got {name!r}")
    if name in REGISTRY:
        raise ValueError(f"defprimitive({name!r}): a primitive of that name is already registered")
    if not callable(impl):
        raise TypeError(f"defprimitive({name!r}): impl must be callable, got {impl!r}")
    vjps, jvps = _rules(name, "vjp", vjp), _rules(name, "jvp", jvp)
    if isinstance(vjps, Variadic) or isinstance(jvps, Variadic):
        if not (isinstance(vjps, Variadic) and isinstance(jvps, Variadic)):
            raise TypeError(f"defprimitive({name!r}): vjp and jvp must both be Variadic or both "
                            f"tuples of per-argument rules")
        _check_arity(name, "the Variadic vjp rule", vjps.rule, 3, "rule(i, g, ans, *args)")
        _check_arity(name, "the Variadic jvp rule", jvps.rule, 3, "rule(i, t, ans, *args)")
    else:
        if len(vjps) != len(jvps):
            raise ValueError(f"defprimitive({name!r}): vjp has {len(vjps)} rule(s) but jvp has "
                             f"{len(jvps)}: give one of each per positional argument")
        for k, (r, s) in enumerate(zip(vjps, jvps)):
            if (r is None) != (s is None):
                have, lack = ("vjp", "jvp") if s is None else ("jvp", "vjp")
                raise ValueError(f"defprimitive({name!r}): argument {k} has a {have} rule but its "
                                 f"{lack} rule is None: give both, or None in both if it is not "
                                 f"differentiable")
        if all(r is None for r in vjps):
            raise ValueError(f"defprimitive({name!r}): no argument is differentiable; use "
                             f"nondifferentiable(...) for a function whose derivative is zero")
        n = len(vjps)
        nin = getattr(impl, "nin", None)        # a numpy ufunc
        pos = (nin, False) if isinstance(nin, int) else _positional(impl)
        if pos is not None and not pos[1] and (pos[0] < n or (nin is not None and nin != n)):
            raise ValueError(f"defprimitive({name!r}): {n} rule(s) given but impl takes "
                             f"{pos[0]} positional argument(s)")
        for mode, rules, g in (("vjp", vjps, "g"), ("jvp", jvps, "t")):
            for k, r in enumerate(rules):
                if r is not None:
                    _check_arity(name, f"{mode}[{k}]", r, n + 2, f"rule({g}, ans, *{n} args)")
    if saves not in SAVES:
        raise ValueError(f"defprimitive({name!r}): saves must be one of {SAVES}, got {saves!r}")
    if isinstance(batch, str):
        if batch not in BATCH_STRUCTURES:
            raise ValueError(f"defprimitive({name!r}): batch={batch!r} is not a known structure; "
                             f"expected one of {sorted(BATCH_STRUCTURES)} or a function "
                             f"rule(size, vals, batched, **params)")
    elif callable(batch):
        _check_arity(name, "batch", batch, 3, "rule(size, vals, batched)")
    else:
        raise TypeError(f"defprimitive({name!r}): batch must be a function rule(size, vals, "
                        f"batched, **params) or one of {sorted(BATCH_STRUCTURES)}, got {batch!r}")
    for flag, value in (("complex_rules", complex_rules), ("multiple_results", multiple_results)):
        if not isinstance(value, (bool, np.bool_)):
            raise TypeError(f"defprimitive({name!r}): {flag} must be True or False, got {value!r}")
    p = Primitive(name, impl, bool(multiple_results), bool(complex_rules))
    p.vjps, p.jvps, p.saves = vjps, jvps, saves
    if isinstance(batch, str):
        BATCH_STRUCTURES[batch](p)
    else:
        p.batch = batch
    REGISTRY[name] = p
    return p
