"""Functions with their own derivative rules: custom_vjp, custom_jvp, and stop_gradient.

Both follow JAX's API. Each composes with every transform, to any order:

* ``custom_vjp`` under reverse mode records one tape entry whose VJP is the user's ``bwd``; under
  forward mode its tangent is the JVP of the undecorated function (the same mathematics), while the
  primal is still computed through the custom function so that outer reverse levels keep the rule.
* ``custom_jvp`` under forward mode calls the user's rule; under reverse mode its VJP is obtained by
  differentiating the rule's tangent output, which is linear in the tangents, with reverse mode:
  ``x̄ = ∇ₜ ⟨ȳ, jvp_rule(x, t)⟩``.
"""
from __future__ import annotations

import functools
from typing import Any, Callable, Sequence

import numpy as np

from .forward import ForwardTrace
from .primitive import Tracer, fit_tangent, full_lower
from .reverse import ReverseTrace
from .tree import tree_flatten, tree_map, tree_unflatten

__all__ = ["custom_vjp", "custom_jvp", "stop_gradient"]


def stop_gradient(x: Any) -> Any:
    """Return ``x`` as a constant for every transform: its derivative is zero at every order."""
    return tree_map(full_lower, x)


class _CustomFunction:
    """Shared machinery: split static from differentiable arguments and find the innermost trace."""

    def __init__(self, fun: Callable, nondiff_argnums: Sequence[int] = ()):
        functools.update_wrapper(self, fun)
        self.fun = fun
        self.nondiff_argnums = tuple(nondiff_argnums)

    def _split(self, args: tuple):
        static = [a for i, a in enumerate(args) if i in self.nondiff_argnums]
        dyn = tuple(a for i, a in enumerate(args) if i not in self.nondiff_argnums)
        return static, dyn

    def _merge(self, static: list, dyn: Sequence) -> list:
        it_s, it_d = iter(static), iter(dyn)
        n = len(static) + len(dyn)
        return [next(it_s) if i in self.nondiff_argnums else next(it_d) for i in range(n)]

    def _top_trace(self, leaves: list):
        top, level = None, -1
        for x in leaves:
            if isinstance(x, Tracer) and x._trace.level > level:
                top, level = x._trace, x._trace.level
        return top


def _lower_leaves(trace, leaves: list):
    """Values one level below ``trace``, and the positions of the leaves traced at it."""
    vals, traced = [], []
    for i, x in enumerate(leaves):
        if isinstance(x, Tracer) and x._trace is trace:
            vals.append(x._primal)
            traced.append(i)
        else:
            vals.append(x)
    return vals, traced


def _record_reverse(trace: ReverseTrace, leaves: list, out: Any, vjp_leaves: Callable, name: str):
    """Record ``out`` (a pytree computed from ``leaves``) with one all-at-once VJP on the tape."""
    out_leaves, out_def = tree_flatten(out)
    parents = [(i, x._node, x._out) for i, x in enumerate(leaves)
               if isinstance(x, Tracer) and x._trace is trace]
    vals = [x._primal if isinstance(x, Tracer) and x._trace is trace else x for x in leaves]

    def vjp_all(ct_tuple):
        cts = vjp_leaves(tree_unflatten(out_def, list(ct_tuple)))
        if len(cts) != len(leaves):
            raise TypeError(f"{name}: the backward rule returned {len(cts)} cotangent leaves for "
                            f"{len(leaves)} differentiable input leaves")
        return cts

    boxed = trace.record_custom(vjp_all, vals, tuple(out_leaves), parents, multiple_results=True)
    return tree_unflatten(out_def, list(boxed))


class custom_vjp(_CustomFunction):
    """Give a function its own reverse-mode rule (JAX's ``jax.custom_vjp``).

    >>> import nnmath as nm, nnmath.numpy as mnp
    >>> @nm.custom_vjp
    ... def clip_gradient(x):
    ...     return x
    >>> clip_gradient.defvjp(lambda x: (x, None), lambda res, g: (mnp.clip(g, -1.0, 1.0),))
    >>> float(nm.grad(lambda x: 5.0 * clip_gradient(x))(2.0))
    1.0

    ``fwd(*args)`` returns ``(out, residuals)``; ``bwd(*nondiff_args, residuals, g)`` returns a
    tuple with one cotangent (or None for zero) per differentiable argument.
    """

    def __init__(self, fun: Callable, nondiff_argnums: Sequence[int] = ()):
        super().__init__(fun, nondiff_argnums)
        self.fwd: Callable | None = None
        self.bwd: Callable | None = None

    def defvjp(self, fwd: Callable, bwd: Callable) -> None:
        self.fwd, self.bwd = fwd, bwd

    def __call__(self, *args):
        if self.fwd is None:
            raise TypeError(f"custom_vjp function {self.__name__!r} has no rule yet: call "
                            f"{self.__name__}.defvjp(fwd, bwd) first")
        static, dyn = self._split(args)
        leaves, in_def = tree_flatten(dyn)
        trace = self._top_trace(leaves)
        if trace is None or trace.is_staging:       # jit records the function's own primitives
            return self.fun(*args)
        vals, traced = _lower_leaves(trace, leaves)
        lowered = self._merge(static, tree_unflatten(in_def, vals))
        if isinstance(trace, ForwardTrace):
            # Tangent: the JVP of the function itself (a nested, higher level); primal: through the
            # custom function, so that enclosing reverse levels still record its rule.
            from .transforms import jvp
            tans = [x._tangent if i in traced else np.zeros(np.shape(x), _dtype(x))
                    for i, x in enumerate(leaves)]
            out = self(*lowered)
            _, t_out = jvp(lambda *d: self.fun(*self._merge(static, d)),
                           tuple(tree_unflatten(in_def, vals)), tuple(tree_unflatten(in_def, tans)))
            return tree_map(lambda o, t: trace.box(o, t), out, t_out)
        out, res = self.fwd(*lowered)

        positions = [i for i in range(len(args)) if i not in self.nondiff_argnums]
        name = f"custom_vjp {self.__name__!r}"

        def vjp_leaves(ct):
            cts = self.bwd(*static, res, ct)
            if not isinstance(cts, (tuple, list)) or len(cts) != len(dyn):
                got = (f"{len(cts)} ({_short(cts)})" if isinstance(cts, (tuple, list))
                       else f"a {type(cts).__name__} ({_short(cts)})")
                raise TypeError(f"{name}: bwd must return a tuple with one entry per differentiable "
                                f"argument (a cotangent or None): {len(dyn)} expected, got {got}")
            flat = []
            for pos, arg, c in zip(positions, dyn, cts):
                arg_leaves, arg_def = tree_flatten(arg)
                if c is None:
                    flat.extend([None] * len(arg_leaves))
                    continue
                c_leaves, c_def = tree_flatten(c)
                if c_def != arg_def:
                    raise TypeError(f"{name}: bwd returned a cotangent for argument {pos} with "
                                    f"structure {c_def!r}, expected the structure of argument "
                                    f"{pos}: {arg_def!r}")
                for k, (cl, al) in enumerate(zip(c_leaves, arg_leaves)):
                    where = f"argument {pos}" + (f" (leaf {k})" if len(arg_leaves) > 1 else "")
                    flat.append(_checked(cl, al, f"{name}: bwd returned a cotangent for {where}",
                                         f"the shape of {where}"))
            return flat

        return _record_reverse(trace, leaves, out, vjp_leaves, f"custom_vjp {self.__name__!r}")


class custom_jvp(_CustomFunction):
    """Give a function its own forward-mode rule (JAX's ``jax.custom_jvp``).

    >>> import nnmath as nm, nnmath.numpy as mnp
    >>> @nm.custom_jvp
    ... def log1pexp(x):
    ...     return mnp.log1p(mnp.exp(x))
    >>> @log1pexp.defjvp
    ... def log1pexp_jvp(primals, tangents):
    ...     (x,), (t,) = primals, tangents
    ...     return log1pexp(x), t * (1.0 - 1.0 / (1.0 + mnp.exp(x)))
    >>> float(nm.grad(log1pexp)(100.0))
    1.0

    ``jvp_rule(primals, tangents)`` returns ``(out, tangent_out)``; it must be linear in tangents.
    """

    def __init__(self, fun: Callable, nondiff_argnums: Sequence[int] = ()):
        super().__init__(fun, nondiff_argnums)
        self.jvp_rule: Callable | None = None

    def defjvp(self, jvp_rule: Callable) -> Callable:
        self.jvp_rule = jvp_rule
        return jvp_rule

    def __call__(self, *args):
        if self.jvp_rule is None:
            raise TypeError(f"custom_jvp function {self.__name__!r} has no rule yet: call "
                            f"{self.__name__}.defjvp(rule) first")
        static, dyn = self._split(args)
        leaves, in_def = tree_flatten(dyn)
        trace = self._top_trace(leaves)
        if trace is None or trace.is_staging:       # jit records the function's own primitives
            return self.fun(*args)
        vals, traced = _lower_leaves(trace, leaves)
        primals = tuple(tree_unflatten(in_def, vals))

        def rule(tangent_leaves):
            return self.jvp_rule(*static, primals, tuple(tree_unflatten(in_def, tangent_leaves)))

        name = f"custom_jvp {self.__name__!r}"

        def checked_rule(tangent_leaves):
            """The rule's (out, tangent out), the tangents checked against the outputs."""
            res = rule(tangent_leaves)
            if not isinstance(res, (tuple, list)) or len(res) != 2:
                raise TypeError(f"{name}: the jvp rule must return a pair (primal_out, "
                                f"tangent_out), got {_short(res)}")
            out, t_out = res
            o_leaves, o_def = tree_flatten(out)
            t_leaves, t_def = tree_flatten(t_out)
            if o_def != t_def:
                raise TypeError(f"{name}: the jvp rule returned a tangent with structure "
                                f"{t_def!r}, expected the structure of its primal output: {o_def!r}")
            t_leaves = [_checked(t, o, f"{name}: the jvp rule returned a tangent"
                                 + (f" (output leaf {k})" if len(o_leaves) > 1 else ""),
                                 "the shape of its primal output", zero_ok=False)
                        for k, (t, o) in enumerate(zip(t_leaves, o_leaves))]
            return out, tree_unflatten(o_def, t_leaves)

        zeros = [np.zeros(np.shape(x), _dtype(x)) for x in leaves]
        if isinstance(trace, ForwardTrace):
            tans = [leaves[i]._tangent if i in traced else zeros[i] for i in range(len(leaves))]
            out, t_out = checked_rule(tans)
            return tree_map(lambda o, t: trace.box(o, fit_tangent(t, o)), out, t_out)
        out = self(*self._merge(static, primals))

        def vjp_leaves(ct):
            # The tangent map t ↦ jvp_rule(x, t)[1] is linear; its transpose is its VJP at any t.
            from .transforms import vjp
            _, pullback = vjp(lambda *ts: checked_rule(list(ts))[1], *zeros)
            return list(pullback(ct))

        return _record_reverse(trace, leaves, out, vjp_leaves, f"custom_jvp {self.__name__!r}")


def _dtype(x: Any) -> np.dtype:
    return x.dtype if hasattr(x, "dtype") else np.result_type(x)


def _short(x: Any) -> str:
    text = repr(x)
    return text if len(text) <= 80 else text[:79] + "…"


def _checked(c: Any, like: Any, what: str, shape_of: str, zero_ok: bool = True) -> Any:
    """A user rule's cotangent or tangent ``c`` for a value ``like``: the same shape, a dtype of
    the same kind (float for a real value, float or complex for a complex one; the precision is
    cast where it is used). Errors name the rule, the argument and what was expected."""
    shape, dtype = np.shape(like) if not hasattr(like, "shape") else like.shape, _dtype(like)
    if dtype.kind not in "fc":          # an integer input: its cotangent is not used
        return None if zero_ok else c
    if not isinstance(c, (np.ndarray, Tracer, np.generic)):
        if isinstance(c, (float, int, complex)) and not isinstance(c, bool) and shape == ():
            c = np.asarray(c, dtype if not isinstance(c, complex) else None)
        else:
            raise TypeError(f"{what} that is a {type(c).__name__} ({_short(c)}), expected an "
                            f"array of shape {shape} and dtype {dtype}")
    if c.shape != shape:
        raise ValueError(f"{what} with shape {c.shape}, expected shape {shape} ({shape_of}, "
                         f"dtype {dtype}); (co)tangents are not broadcast")
    kind = c.dtype.kind
    if not (kind == "f" or (kind == "c" and dtype.kind == "c")):
        raise TypeError(f"{what} with dtype {c.dtype}, expected a {'complex or ' if dtype.kind == 'c' else ''}"
                        f"floating dtype like {dtype}"
                        + ("; return its real part for a real argument" if kind == "c" else ""))
    return c
