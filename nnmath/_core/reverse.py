"""Reverse mode: record primitives on a tape, then pull cotangents back through it.

Each call of :func:`vjp` opens a trace level with its own tape. A primitive applied to a tracer of
that level is computed on the values one level down (which may themselves be tracers of an outer
transform) and appended to the tape; the tape is therefore already in topological order, and the
backward pass is a single reverse sweep. The VJP rules are evaluated with ``nnmath.numpy``, so an
outer transform traces the backward pass too: that is how ``grad(grad(f))`` and ``jvp(grad(f))``
(forward-over-reverse Hessian-vector products) work with no extra code.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from .primitive import (Tracer, check_real_result, complex_error, fit_cotangent, missing_rule,
                        new_level, shape_only)

__all__ = ["ReverseTrace", "ReverseTracer", "backward"]


class ReverseTracer(Tracer):
    """A value recorded on a reverse-mode tape: its primal and the tape entry that made it."""

    __slots__ = ("_node", "_out")

    def __init__(self, trace: "ReverseTrace", primal: Any, node: int, out: int = -1):
        self._trace = trace
        self._primal = primal
        self._node = node
        self._out = out


class ReverseTrace:
    """One reverse-mode level. ``tape`` holds entries ``(prim, vals, params, ans, parents)``,
    where ``parents`` lists ``(argument position, tape index, output index)`` of traced arguments.
    Input entries have ``prim`` None."""

    __slots__ = ("level", "tape")
    is_batch = False
    is_staging = False

    def __init__(self):
        self.level = new_level()
        self.tape: list = []

    def new_input(self, value: Any) -> ReverseTracer:
        self.tape.append((None, None, None, value, ()))
        return ReverseTracer(self, value, len(self.tape) - 1)

    def process(self, prim, args, params):
        rules = prim.vjps
        if rules is None:
            raise missing_rule(prim, "rev")
        vals = list(args)
        parents = []
        lower = False           # does any value still carry an outer (lower-level) trace?
        complex_ok = prim.complex_rules     # else a complex value is refused (real-only rules)
        for i, a in enumerate(args):
            if isinstance(a, Tracer):
                if not complex_ok and a.dtype.kind == "c":
                    raise complex_error(prim, f"argument {i}", a.dtype)
                if a._trace is self:
                    v = vals[i] = a._primal
                    parents.append((i, a._node, a._out))
                    if isinstance(v, Tracer):
                        lower = True
                else:
                    lower = True
        if parents[-1][0] >= len(rules):
            raise missing_rule(prim, "rev", parents[-1][0])
        ans = prim(*vals, **params) if lower else prim.impl(*vals, **params)
        if not complex_ok:
            check_real_result(prim, ans)
        tape = self.tape
        node = len(tape)
        saves = prim.saves
        if saves == "all":
            tape.append((prim, vals, params, ans, parents))
        else:       # keep only what the rules read; the rest as shape and dtype
            kept_vals = vals if saves == "args" else [shape_only(v) for v in vals]
            kept_ans = ans if saves == "ans" else (
                tuple(shape_only(a) for a in ans) if prim.multiple_results else shape_only(ans))
            tape.append((prim, kept_vals, params, kept_ans, parents))
        if prim.multiple_results:
            return tuple(ReverseTracer(self, a, node, k) for k, a in enumerate(ans))
        return ReverseTracer(self, ans, node)

    def record_custom(self, vjp_all: Callable, vals: list, ans: Any, parents: list,
                      multiple_results: bool):
        """Record an entry whose VJP is one function of (g) returning every argument's cotangent."""
        tape = self.tape
        node = len(tape)
        tape.append((vjp_all, vals, None, ans, parents))
        if multiple_results:
            return tuple(ReverseTracer(self, a, node, k) for k, a in enumerate(ans))
        return ReverseTracer(self, ans, node)


def _zeros_like(x: Any) -> np.ndarray:
    return np.zeros(x.shape, dtype=x.dtype)


def backward(trace: ReverseTrace, seeds: list[tuple[int, int, Any]], keep_tape: bool) -> list:
    """Pull cotangents from the outputs back to every tape entry.

    Args:
        trace: the recorded level.
        seeds: ``(tape index, output index, cotangent)`` for each traced output.
        keep_tape: keep entries for another sweep (``vjp`` functions may be called many times);
            otherwise each entry is released as soon as it has been processed.

    Returns:
        The cotangent (or None for zero) of every tape entry, indexed like the tape; only the
        entries of inputs are kept.
    """
    tape = trace.tape
    cts: list = [None] * len(tape)
    for node, out, ct in seeds:
        _accumulate(cts, tape, node, out, ct)
    for i in range(len(tape) - 1, -1, -1):
        ct = cts[i]
        entry = tape[i]
        rule_owner = entry[0]
        if ct is None or rule_owner is None:
            continue
        cts[i] = None
        if not keep_tape:
            tape[i] = None
        _, vals, params, ans, parents = entry
        if type(ct) is list:   # several outputs: fill the zero ones
            ct = tuple(_zeros_like(a) if c is None else c for c, a in zip(ct, ans))
        if params is None:      # a custom rule: every cotangent at once
            contributions = rule_owner(ct)
            for pos, node, out in parents:
                c = contributions[pos]
                if c is not None:
                    _accumulate(cts, tape, node, out, fit_cotangent(c, vals[pos]))
            continue
        rules = rule_owner.vjps
        for pos, node, out in parents:
            rule = rules[pos]
            if rule is None:
                continue
            c = rule(ct, ans, *vals, **params)
            if c is None:
                continue
            v = vals[pos]
            if c.shape != v.shape or c.dtype != v.dtype:
                c = fit_cotangent(c, v)
            if out < 0:         # _accumulate, inlined for the common single-output case
                old = cts[node]
                cts[node] = c if old is None else old + c
            else:
                _accumulate(cts, tape, node, out, c)
    return cts


def _accumulate(cts: list, tape: list, node: int, out: int, c: Any) -> None:
    if out < 0:
        old = cts[node]
        cts[node] = c if old is None else old + c
        return
    slot = cts[node]
    if slot is None:
        slot = cts[node] = [None] * len(tape[node][3])
    slot[out] = c if slot[out] is None else slot[out] + c

