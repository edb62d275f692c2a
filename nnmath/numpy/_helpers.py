"""Structure helpers: declarations of primitives whose rules follow from their structure.

Each helper is one declaration (it calls :func:`nnmath._core.declare.defprimitive`), so a
primitive of that structure is one line with its formula above it. Public as ``nnmath.extend``.

Vocabulary (as in every rule table): ``g`` = ȳ, the output cotangent; ``t`` = ẋ, an input tangent;
``y``/``ans`` = the forward output.
"""
from __future__ import annotations

import dis
from typing import Any, Callable, Sequence

import numpy as np

from .._core.declare import Variadic, defprimitive
from .._core.primitive import Primitive, Tracer, full_lower

__all__ = ["elementwise", "elementwise2", "elementwise_n", "linear", "bilinear",
           "nondifferentiable", "safe_mul", "Variadic", "primal_value", "strip_tracers",
           "concrete_value", "defprimitive"]


def primal_value(x: Any) -> Any:
    """``x`` with every derivative level (grad, jvp, …) stripped: its value as a constant, for
    masks, indices and branch choices inside rules. vmap's batched values and jit's recorded
    values are kept, since they are part of the value, not a derivative."""
    return full_lower(x)


def strip_tracers(x: Any) -> Any:
    """``x`` with every trace level stripped, vmap stacks included (the stacked numbers): for
    choosing between formulas that are both exact (e.g. "is any element zero?"), never for the
    values of a result. Under jit the recorded value is kept, so that the choice is recorded as
    a guard."""
    while isinstance(x, Tracer) and not x._staged:
        x = x._primal
    return x


def concrete_value(x: Any) -> np.ndarray:
    """The numbers of ``x`` now, as a numpy array, for an error message only (under jit: while
    recording, which is when such a message is raised; replays re-record when the checked
    condition changes)."""
    x = strip_tracers(x)
    return np.asarray(x._primal if isinstance(x, Tracer) else x)


# Old private names, still imported by nnmath.nn.layers and nnmath.analysis (other owners):
# use primal_value / strip_tracers / concrete_value in new code.
raw, physical, peek = primal_value, strip_tracers, concrete_value


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
        if (not isinstance(d, (int, float)) and np.any(strip_tracers(g) == 0)
                and not np.all(np.isfinite(strip_tracers(d)))):
            from ._elementwise import where
            r = where((primal_value(g) == 0) & ~_isfinite(primal_value(d)), 0.0, r)
    elif not np.isfinite(r).all():
        zero = (g == 0) & ~np.isfinite(r)
        if zero.any():
            r = np.where(zero, 0.0, r).astype(r.dtype, copy=False)
    return r


def _isfinite(x):
    from ._elementwise import isfinite
    return isfinite(x)


def _reads(partials: Sequence[Callable | None]) -> str:
    """Which of (y, args) the partial derivatives ``d(y, *args)`` read, as a ``saves`` value."""
    uses_y = uses_x = False
    for d in partials:
        if d is None:
            continue
        code = d.__code__
        names = code.co_varnames[:code.co_argcount]
        loaded = {i.argval for i in dis.get_instructions(d) if i.opname.startswith("LOAD_")}
        if code.co_flags & 0x04 or code.co_flags & 0x08:        # *args / **kw: assume both
            return "all"
        uses_y = uses_y or names[0] in loaded
        uses_x = uses_x or any(n in loaded for n in names[1:])
    return {(True, True): "all", (True, False): "ans", (False, True): "args",
            (False, False): "none"}[(uses_y, uses_x)]


def _flags(name: str, singular: bool | Sequence[bool], n: int) -> tuple:
    if isinstance(singular, (bool, np.bool_)):
        return (bool(singular),) * n
    flags = tuple(bool(s) for s in singular)
    if len(flags) != n:
        raise ValueError(f"elementwise({name!r}): singular has {len(flags)} entries for {n} "
                         f"arguments")
    return flags


def _partial_rules(partials: Sequence[Callable | None], singular: tuple) -> tuple[tuple, tuple]:
    """x̄ᵢ = ȳ ⊙ ∂f/∂xᵢ (safe_mul where ∂f/∂xᵢ may be infinite) and ẏ ⊇ ẋᵢ ⊙ ∂f/∂xᵢ."""
    vjps, jvps = [], []
    for d, s in zip(partials, singular):
        if d is None:
            vjps.append(None)
            jvps.append(None)
        elif len(partials) == 1:       # fixed arity: the unary fast path of every activation
            vjps.append((lambda g, y, x, d=d: safe_mul(g, d(y, x))) if s else
                        (lambda g, y, x, d=d: g * d(y, x)))
            jvps.append(lambda t, y, x, d=d: t * d(y, x))
        elif len(partials) == 2:
            vjps.append((lambda g, y, a, b, d=d, **p: safe_mul(g, d(y, a, b, **p))) if s else
                        (lambda g, y, a, b, d=d, **p: g * d(y, a, b, **p)))
            jvps.append(lambda t, y, a, b, d=d, **p: t * d(y, a, b, **p))
        else:
            vjps.append((lambda g, y, *xs, d=d, **p: safe_mul(g, d(y, *xs, **p))) if s else
                        (lambda g, y, *xs, d=d, **p: g * d(y, *xs, **p)))
            jvps.append(lambda t, y, *xs, d=d, **p: t * d(y, *xs, **p))
    return tuple(vjps), tuple(jvps)


def elementwise_n(name: str, impl: Callable, partials: Sequence[Callable | None], *,
                  singular: bool | Sequence[bool] = False, holomorphic: bool = False,
                  saves: str | None = None) -> Primitive:
    """An elementwise (broadcasting) primitive y = f(x₁, …, xₙ), given its partial derivatives
    ``partials[i](y, x₁, …, xₙ, **params)`` = ∂f/∂xᵢ (None: not differentiable in xᵢ).

    x̄ᵢ = ȳ ⊙ ∂f/∂xᵢ (broadcasting summed back by fit_cotangent)      ẏ = Σᵢ ẋᵢ ⊙ ∂f/∂xᵢ
    ``singular`` (one flag, or one per argument): ∂f/∂xᵢ can be infinite or undefined, so the
    VJP uses :func:`safe_mul` (a zero cotangent stays zero). ``holomorphic``: f is complex-analytic
    and the partials are right for complex x too (JAX's convention: z̄ = ȳ ⊙ f′(z)). ``saves`` is
    inferred from what the partials read unless given.
    """
    partials = tuple(partials)
    vjps, jvps = _partial_rules(partials, _flags(name, singular, len(partials)))
    return defprimitive(name, impl, vjp=vjps, jvp=jvps, batch="elementwise",
                        saves=_reads(partials) if saves is None else saves,
                        complex_rules=holomorphic)


def elementwise(name: str, impl: Callable, deriv: Callable, singular: bool = False,
                holomorphic: bool = False) -> Primitive:
    """An elementwise unary primitive y = f(x) with derivative f′ given as ``deriv(y, x)``.

    x̄ = ȳ ⊙ f′(x)      ẏ = ẋ ⊙ f′(x)
    ``singular``: f′ can be infinite or undefined, so the VJP uses :func:`safe_mul`.
    ``holomorphic``: f is complex-analytic and ``deriv`` is right for complex x too, so the same
    two rules hold for complex values (JAX's convention: z̄ = ȳ ⊙ f′(z), no conjugate).
    """
    return elementwise_n(name, impl, (deriv,), singular=singular, holomorphic=holomorphic)


def elementwise2(name: str, impl: Callable, d_a: Callable | None, d_b: Callable | None, *,
                 singular: bool | Sequence[bool] = False, holomorphic: bool = False,
                 saves: str | None = None) -> Primitive:
    """An elementwise binary primitive y = f(a, b), given ∂f/∂a = ``d_a(y, a, b)`` and
    ∂f/∂b = ``d_b(y, a, b)`` once (None: not differentiable in that argument); both modes follow.

    ā = ȳ ⊙ ∂f/∂a,  b̄ = ȳ ⊙ ∂f/∂b  (broadcasting undone by fit_cotangent)
    ẏ = ȧ ⊙ ∂f/∂a + ḃ ⊙ ∂f/∂b
    ``singular``, ``holomorphic`` and ``saves`` as for :func:`elementwise_n`.
    """
    return elementwise_n(name, impl, (d_a, d_b), singular=singular, holomorphic=holomorphic,
                         saves=saves)


def linear(name: str, impl: Callable, transpose: Callable, *, batch: Callable | str,
           complex_rules: bool = False, multiple_results: bool = False) -> Primitive:
    """A primitive linear in its first argument (other arguments static parameters).

    ẏ = f(ẋ)        x̄ = fᵀ(ȳ), given as ``transpose(g, y, x, **params)``, which may read the
    shape and dtype of x but not its values (the tape keeps only those). For complex values the
    transpose is with respect to the pairing Re(c·w): the plain transpose for maps with real
    coefficients (reshape, indexing), conj for conj.
    """
    prim = None

    def jvp(t, y, x, *rest, **params):
        return prim(t, *rest, **params)

    prim = defprimitive(name, impl, vjp=(transpose,), jvp=(jvp,), batch=batch, saves="none",
                        complex_rules=complex_rules, multiple_results=multiple_results)
    return prim


def bilinear(name: str, impl: Callable, transpose_a: Callable | Variadic,
             transpose_b: Callable | None = None, *, batch: Callable | str, saves: str = "args",
             complex_rules: bool = False) -> Primitive:
    """A primitive y = f(a, b) linear in each argument (matmul, multiply, einsum, tensordot).

    ẏ = f(ȧ, b) + f(a, ḃ), derived from the form itself; the VJPs are its two transposes,
    ā = ``transpose_a(g, y, a, b, **params)`` (the adjoint of a ↦ f(a, b)) and likewise b̄.
    For a multilinear f of any number of operands (einsum), pass one :class:`Variadic`
    ``transpose(i, g, y, *xs, **params)``: ẏ = Σᵢ f(x₁, …, ẋᵢ, …, xₙ).
    The transposes read the operands, not the output: ``saves="args"`` by default.
    """
    prim = None
    if isinstance(transpose_a, Variadic):
        if transpose_b is not None:
            raise TypeError(f"bilinear({name!r}): a Variadic transpose covers every operand; "
                            f"transpose_b must not be given")

        def jvp_i(i, t, y, *xs, **params):
            return prim(*[t if j == i else x for j, x in enumerate(xs)], **params)

        vjp, jvp = transpose_a, Variadic(jvp_i)
    else:
        if transpose_b is None:
            raise TypeError(f"bilinear({name!r}): give the transposes for both arguments")
        vjp = (transpose_a, transpose_b)
        jvp = (lambda t, y, a, b, **params: prim(t, b, **params),
               lambda t, y, a, b, **params: prim(a, t, **params))
    prim = defprimitive(name, impl, vjp=vjp, jvp=jvp, batch=batch, saves=saves,
                        complex_rules=complex_rules)
    return prim


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
