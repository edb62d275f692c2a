"""Plans of :func:`nnmath.jit` as Python source: common subexpressions merged, intermediates
deleted after their last use, elementwise steps written into dying operands (:mod:`._jit_memory`),
and the result's pytree built by the plan's ``return``.

Vocabulary (see :class:`~nnmath._core.jit.StagingTrace`): a program is a list of calls
``(fn, arg_specs, kw_specs, out_vars, multiple, effect, is_method)`` and guards
``("guard", kind, var, expected)``; a spec is ``("v", var)``, ``("c", object)`` or
``("t", type, specs)``.
"""
from __future__ import annotations

import math
import operator
import sys
from typing import Any

import numpy as np

from . import _jit_memory

__all__ = ["_GuardFailed", "_same", "_codegen", "_common_subexpressions", "_renamed", "_vars_of"]


class _GuardFailed(Exception):
    """A replay met a value on which the recorded Python decision would go the other way."""


def _same(a: Any, b: Any) -> bool:
    """Equal, counting NaN equal to NaN (a guard on a NaN value must hold on replay)."""
    return a == b or (a != a and b != b)


def _renamed(spec, rename: dict):
    if spec[0] == "v":
        return ("v", rename.get(spec[1], spec[1]))
    if spec[0] == "t":
        return ("t", spec[1], [_renamed(e, rename) for e in spec[2]])
    return spec


_VALUE_KEYED = (bool, int, float, str, type(None))


def _key(spec):
    """A hashable key of a spec: variables by number, plain Python values by value, other
    constants (arrays, dtypes, …) by identity (the program holds them, so identities are unique)."""
    if spec[0] == "v":
        return spec
    if spec[0] == "t":
        return ("t", spec[1], tuple(_key(e) for e in spec[2]))
    c = spec[1]
    if type(c) in _VALUE_KEYED:
        return ("c", type(c), c)
    if type(c) is tuple and all(type(e) in _VALUE_KEYED for e in c):
        return ("c", tuple, c)
    return ("c", id(c))


def _common_subexpressions(program: list):
    """Drop a call that repeats an earlier one (same function, same arguments) and a repeated guard;
    uses of the repeat's outputs read the first call's. Draws are never merged."""
    rename: dict = {}
    seen: dict = {}
    out = []
    for entry in program:
        if entry[0] == "guard":
            _, kind, var, expected = entry
            g = ("guard", kind, rename.get(var, var), expected)
            key = (kind, g[2], expected if type(expected) in _VALUE_KEYED or type(expected) is tuple
                   else id(expected))
            if key not in seen:
                seen[key] = True
                out.append(g)
            continue
        fn, specs, kw_specs, outs, multiple, effect, is_method = entry
        specs = [_renamed(sp, rename) for sp in specs]
        kw_specs = {k: _renamed(sp, rename) for k, sp in kw_specs.items()}
        if not effect:
            key = (id(fn) if not is_method else fn, tuple(_key(sp) for sp in specs),
                   tuple((k, _key(sp)) for k, sp in kw_specs.items()))
            first = seen.get(key)
            if first is not None:
                rename.update(zip(outs, first))
                continue
            seen[key] = outs
        out.append((fn, specs, kw_specs, outs, multiple, effect, is_method))
    return out, rename


def _vars_of(spec) -> list:
    if spec[0] == "v":
        return [spec[1]]
    if spec[0] == "t":
        return [v for s in spec[2] for v in _vars_of(s)]
    return []


def _frozen(obj: Any) -> Any:
    """A constant as the plan keeps it: arrays (also inside tuples and lists) copied, so that a
    closed-over array changed in place after recording does not change the plan — JAX's semantics
    (constants are the values seen while recording), the same whether the plan reads the array
    itself or something computed from it while recording."""
    t = type(obj)
    if t is np.ndarray:
        return obj.copy() if obj.flags.writeable else obj
    if (t is tuple or t is list) and any(type(e) in (np.ndarray, tuple, list) for e in obj):
        return t(_frozen(e) for e in obj)
    return obj


def _codegen(program: list, in_vars: list, out_specs: list, out_def, info: dict):
    """Python source for the plan, and the namespace (functions and constants) it reads.

    The plan returns the function's result itself: its ``return`` builds the output pytree
    (``out_def``) directly, so a replay needs no ``tree_unflatten``. Elementwise steps write into
    an operand that dies there where that is safe (``info``: shapes and dtypes of the recorded
    arrays; see :mod:`nnmath._core._jit_memory`)."""
    namespace: dict = {"_GuardFailed": _GuardFailed, "_index": operator.index, "_same": _same,
                       "_refcount": sys.getrefcount}
    names: dict = {}

    def const(obj) -> str:
        if obj is None or type(obj) in (bool, int) or (type(obj) is float and math.isfinite(obj)):
            return repr(obj)
        if type(obj) is str:
            return repr(obj)
        key = id(obj)
        name = names.get(key)
        if name is None:
            name = names[key] = f"k{len(names)}"
            namespace[name] = _frozen(obj)
        return name

    number: dict = {}            # variables renumbered in order of definition, for reading

    def var(v: int) -> str:
        return f"v{number.setdefault(v, len(number))}"

    def expr(spec) -> str:
        if spec[0] == "v":
            return var(spec[1])
        if spec[0] == "c":
            return const(spec[1])
        items = ", ".join(expr(s) for s in spec[2])
        return f"({items},)" if spec[1] is tuple else f"[{items}]"

    # last use of each variable, to free intermediates as early as the untraced run would
    last: dict = {}
    for i, entry in enumerate(program):
        if entry[0] == "guard":
            last[entry[2]] = i
        else:
            for s in list(entry[1]) + list(entry[2].values()):
                for v in _vars_of(s):
                    last[v] = i
    keep = {s[1] for s in out_specs if s[0] == "v"}
    in_place = _jit_memory.in_place_steps(program, in_vars, keep, last, info)
    lines = [f"def plan({', '.join(var(v) for v in in_vars)}):"]
    for i, entry in enumerate(program):
        if entry[0] == "guard":
            _, kind, v_id, expected = entry
            v = var(v_id)
            if kind == "bool":
                lines.append(f"    if {'not ' if expected else ''}{v}: raise _GuardFailed")
            elif kind == "index":
                lines.append(f"    if _index({v}) != {expected!r}: raise _GuardFailed")
            elif kind == "int":
                lines.append(f"    if int({v}) != {expected!r}: raise _GuardFailed")
            elif kind == "shape":
                lines.append(f"    if {v}.shape != {expected!r}: raise _GuardFailed")
            else:           # float / item: exact, NaN equal to NaN
                conv = "float" if kind == "float" else "(lambda a: a.item())"
                lines.append(f"    if not _same({conv}({v}), {const(expected)}): raise _GuardFailed")
        else:
            fn, specs, kw_specs, outs, multiple, _, is_method = entry
            args = [expr(s) for s in specs]
            args += [f"{k}={expr(s)}" for k, s in kw_specs.items()]
            if is_method:
                call = f"{args[0]}.{fn}({', '.join(args[1:])})"
            else:
                call = f"{const(fn)}({', '.join(args)})"
            target = ", ".join(var(o) for o in outs) + ("," if multiple and len(outs) == 1 else "")
            label = fn if is_method else getattr(fn, "__name__", type(fn).__name__)
            if i in in_place:       # write into the dying operand (checked or proven unshared)
                v_id, checked = in_place[i]
                into = f"{const(fn)}({', '.join(args + [f'out={var(v_id)}'])})"
                call = f"{into} if {_jit_memory.owned_check(var(v_id))} else {call}" if checked \
                    else into
                label += " (in place)"
            lines.append(f"    {target} = {call}  # {label}")
        dead = [v for v, j in last.items() if j == i and v not in keep]
        if dead:
            lines.append(f"    del {', '.join(var(v) for v in sorted(dead, key=number.__getitem__))}")
    outs = []
    for s in out_specs:
        if s[0] == "v":
            outs.append(var(s[1]))
        elif isinstance(s[1], np.ndarray):
            outs.append(f"{const(s[1])}.copy()")   # callers own their results
        else:
            outs.append(const(s[1]))
    lines.append(f"    return {_structure(out_def, iter(outs), const)}")
    return "\n".join(lines) + "\n", namespace


def _structure(treedef, leaves, const) -> str:
    """A Python expression that builds a pytree of structure ``treedef`` from the expressions
    ``leaves`` (what :func:`tree_unflatten` would build: dicts in sorted-key order)."""
    kind = treedef.kind
    if kind == "leaf":
        return next(leaves)
    if kind == "none":
        return "None"
    items = [_structure(c, leaves, const) for c in treedef.children]
    if kind == "tuple":
        return f"({', '.join(items)}{',' if len(items) == 1 else ''})"
    if kind == "list":
        return f"[{', '.join(items)}]"
    if kind == "dict":
        return "{" + ", ".join(f"{const(k)}: {e}" for k, e in zip(treedef.meta, items)) + "}"
    return f"{const(treedef.meta)}({', '.join(items)})"       # namedtuple
