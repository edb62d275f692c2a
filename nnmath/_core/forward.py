"""Forward mode: every traced value carries its tangent, pushed through each primitive as it runs.

A primitive's output tangent is the sum of its JVP rules' contributions over the arguments that
carry a tangent (a missing tangent is a symbolic zero and costs nothing). One pass, no finite
differences; the rules are written with ``nnmath.numpy``, so forward mode nests with itself and with
reverse mode to any order.
"""
from __future__ import annotations

from typing import Any

from .primitive import Tracer, check_real_result, complex_error, fit_tangent, missing_rule, new_level

__all__ = ["ForwardTrace", "ForwardTracer"]


class ForwardTracer(Tracer):
    """A primal value with its tangent at one forward-mode level."""

    __slots__ = ("_tangent",)

    def __init__(self, trace: "ForwardTrace", primal: Any, tangent: Any):
        self._trace = trace
        self._primal = primal
        self._tangent = tangent


class ForwardTrace:
    """One forward-mode level."""

    __slots__ = ("level",)
    is_batch = False
    is_staging = False

    def __init__(self):
        self.level = new_level()

    def process(self, prim, args, params):
        rules = prim.jvps
        if rules is None:
            raise missing_rule(prim, "fwd")
        vals = list(args)
        tans = [None] * len(args)
        lower = False           # does any value still carry an outer (lower-level) trace?
        complex_ok = prim.complex_rules     # else a complex value is refused (real-only rules)
        for i, a in enumerate(args):
            if isinstance(a, Tracer):
                if not complex_ok and a.dtype.kind == "c":
                    raise complex_error(prim, f"argument {i}", a.dtype)
                if a._trace is self:
                    v = vals[i] = a._primal
                    tans[i] = a._tangent
                    if isinstance(v, Tracer):
                        lower = True
                else:
                    lower = True
        ans = prim(*vals, **params) if lower else prim.impl(*vals, **params)
        if not complex_ok:
            check_real_result(prim, ans)
        out = None
        for i, t in enumerate(tans):
            if t is None:
                continue
            if i >= len(rules):
                raise missing_rule(prim, "fwd", i)
            rule = rules[i]
            if rule is None:
                continue
            c = rule(t, ans, *vals, **params)
            if c is None:
                continue
            if out is None:
                out = c
            elif prim.multiple_results:
                out = tuple(a + b for a, b in zip(out, c))
            else:
                out = out + c
        return self.box(ans, out, prim.multiple_results)

    def box(self, ans: Any, tangent: Any, multiple_results: bool = False) -> Any:
        """Wrap ``ans`` with ``tangent`` (None: no dependence on this level's inputs)."""
        if tangent is None:
            return ans
        if multiple_results:
            return tuple(ForwardTracer(self, a, fit_tangent(t, a)) for a, t in zip(ans, tangent))
        return ForwardTracer(self, ans, fit_tangent(tangent, ans))


def lower(trace: ForwardTrace, x: Any) -> tuple[Any, Any]:
    """(primal, tangent or None) of ``x`` at ``trace``'s level."""
    if isinstance(x, Tracer) and x._trace is trace:
        return x._primal, x._tangent
    return x, None

