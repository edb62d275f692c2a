"""The basic transforms: vjp, grad, value_and_grad and jvp (JAX names and semantics).

Jacobians, Hessians and HVPs are built on these in :mod:`nnmath._transforms`.

Complex inputs and outputs follow JAX. The cotangent z̄ of a complex z is the c with
df = Re(c·dz) (a bilinear pairing, no conjugate), so for a real-valued f of z = x + iy

    grad(f)(z) = ∂f/∂x − i ∂f/∂y         (= 2 ∂f/∂z, the conjugate of the steepest-ascent direction)

and for a holomorphic f with ``holomorphic=True``, grad(f)(z) = f′(z). ``grad`` refuses a complex
output unless ``holomorphic=True`` (which then needs complex inputs and a complex output), as JAX
does; ``vjp`` and ``jvp`` take any real or complex inputs and outputs.
"""
from __future__ import annotations

import functools
from typing import Any, Callable, Sequence

import numpy as np

from .forward import ForwardTrace, ForwardTracer
from .primitive import Tracer
from .reverse import ReverseTrace, backward
from .tree import LEAF, tree_flatten, tree_unflatten

__all__ = ["vjp", "grad", "value_and_grad", "jvp", "normalize_argnums", "as_float_input",
           "check_holomorphic_inputs", "check_output_dtype"]


def normalize_argnums(argnums: int | Sequence[int], nargs: int, fname: str) -> tuple[int, ...]:
    """Validate ``argnums`` against the number of positional arguments given."""
    nums = (argnums,) if isinstance(argnums, (int, np.integer)) else tuple(argnums)
    if not nums:
        raise ValueError(f"{fname}: argnums must name at least one argument, got {argnums!r}")
    out = []
    for n in nums:
        if not isinstance(n, (int, np.integer)):
            raise TypeError(f"{fname}: argnums must be ints, got {n!r} of type {type(n).__name__}")
        if not -nargs <= n < nargs:
            raise ValueError(f"{fname}: argnums={argnums!r} is out of range for a call with {nargs} "
                             f"positional argument(s); valid positions are 0..{nargs - 1}")
        out.append(int(n) % nargs)
    return tuple(out)


def as_float_input(x: Any, fname: str, where: str) -> Any:
    """Convert a differentiated input leaf to an array and check it has a floating (real or
    complex) dtype."""
    if not isinstance(x, (np.ndarray, Tracer)):
        x = np.asarray(x)
    kind = x.dtype.kind
    if kind != "f" and kind != "c":
        raise TypeError(
            f"{fname}: {where} has dtype {x.dtype}; only floating (real or complex) inputs can be "
            f"differentiated. Convert it first, e.g. x.astype(np.float64) (or float32, complex128).")
    return x


def check_holomorphic_inputs(tree: Any, fname: str, where: str) -> None:
    """``holomorphic=True`` needs complex inputs (JAX's rule): raise naming the first real one."""
    leaves, _ = tree_flatten(tree)
    for i, x in enumerate(leaves):
        dtype = x.dtype if hasattr(x, "dtype") else np.result_type(x)
        if dtype.kind != "c":
            raise TypeError(f"{fname} with holomorphic=True requires inputs with complex dtype, "
                            f"but {where}{f' (leaf {i})' if len(leaves) > 1 else ''} has dtype "
                            f"{dtype}; convert it (x.astype(np.complex128)) or drop holomorphic=True")


def check_output_dtype(fname: str, dtype: np.dtype, holomorphic: bool, where: str = "output") -> None:
    """JAX's rule for reverse-mode derivatives of a whole function (grad, jacrev): a real
    floating output, or with ``holomorphic=True`` a complex one."""
    if holomorphic:
        if dtype.kind != "c":
            raise TypeError(f"{fname} with holomorphic=True requires outputs with complex dtype, "
                            f"but the {where} has dtype {dtype}")
    elif dtype.kind == "c":
        raise TypeError(f"{fname} requires real-valued outputs (a floating dtype), but the {where} "
                        f"has dtype {dtype}. For a holomorphic function pass holomorphic=True; for "
                        f"a non-holomorphic function with complex outputs use nnmath.vjp directly "
                        f"(or differentiate mnp.real / mnp.abs of the output).")
    elif dtype.kind != "f":
        raise TypeError(f"{fname} requires a floating-point output, got dtype {dtype}")


def _box_inputs(trace: ReverseTrace, tree: Any, fname: str, argnum: int | None = None):
    """Box the leaves of one argument (``argnum``; None: the tuple of all primals)."""
    if type(tree) is np.ndarray and tree.dtype.kind == "f":      # the common case, kept fast
        return [trace.new_input(tree)], LEAF
    leaves, treedef = tree_flatten(tree)
    boxed = []
    for i, x in enumerate(leaves):
        where = "primal" if argnum is None else f"argument {argnum}"
        boxed.append(trace.new_input(as_float_input(
            x, fname, f"{where} (leaf {i})" if len(leaves) > 1 or argnum is None else where)))
    return boxed, treedef


def _lower_out(trace, x: Any) -> Any:
    """The value of ``x`` one level below ``trace`` (outputs and aux leave the level this way)."""
    return x._primal if isinstance(x, Tracer) and x._trace is trace else x


def _split_aux(out: Any, has_aux: bool, fname: str):
    if not has_aux:
        return out, None
    if not (isinstance(out, (tuple, list)) and len(out) == 2):
        raise TypeError(f"{fname} with has_aux=True needs the function to return a pair "
                        f"(output, aux), got {type(out).__name__}")
    return out[0], out[1]


def _input_grads(cts: list, boxed: list) -> list:
    out = []
    for b in boxed:
        c = cts[b._node]
        if c is None:
            c = np.zeros(b.shape, b.dtype)
        elif type(c) is not np.ndarray:
            if not isinstance(c, Tracer):
                c = np.asarray(c)   # numpy scalars from 0-d arithmetic: keep "always an ndarray"
        elif not c.flags.writeable:
            c = c.copy()            # a shared seed or a broadcast view: give the caller its own array
        out.append(c)
    return out


def vjp(fun: Callable, *primals: Any, has_aux: bool = False):
    """Evaluate ``fun(*primals)`` and return ``(out, vjp_fun)``; ``vjp_fun(ct)`` is ctᵀ·J.

    ``vjp_fun`` takes a cotangent with the structure, shapes and dtypes of ``out`` and returns a
    tuple with one cotangent per primal (each shaped like its primal). It may be called many times.
    With ``has_aux=True``, ``fun`` returns ``(out, aux)`` and ``vjp`` returns ``(out, vjp_fun, aux)``.
    """
    trace = ReverseTrace()
    boxed, in_def = _box_inputs(trace, primals, "vjp")
    out, aux = _split_aux(fun(*tree_unflatten(in_def, boxed)), has_aux, "vjp")
    out_leaves, out_def = tree_flatten(out)
    out_vals = [_lower_out(trace, o) for o in out_leaves]
    traced = [o if isinstance(o, Tracer) and o._trace is trace else None for o in out_leaves]

    def vjp_fun(cotangent: Any) -> tuple:
        ct_leaves, ct_def = tree_flatten(cotangent)
        if ct_def != out_def:
            raise TypeError(f"vjp_fun: the cotangent has structure {ct_def!r} but the function's "
                            f"output has structure {out_def!r}")
        seeds = []
        for k, (c, v, o) in enumerate(zip(ct_leaves, out_vals, traced)):
            c = _check_like(c, v, "vjp_fun", f"cotangent leaf {k}", "output")
            if o is not None:
                seeds.append((o._node, o._out, c))
        cts = backward(trace, seeds, keep_tape=True)
        return tuple(tree_unflatten(in_def, _input_grads(cts, boxed)))

    out_primal = tree_unflatten(out_def, out_vals)
    if has_aux:
        return out_primal, vjp_fun, _lower_tree(trace, aux)
    return out_primal, vjp_fun


def _lower_tree(trace, tree: Any) -> Any:
    leaves, treedef = tree_flatten(tree)
    return tree_unflatten(treedef, [_lower_out(trace, x) for x in leaves])


def _check_like(c: Any, ref: Any, fname: str, what: str, ref_name: str) -> Any:
    """Check a (co)tangent against the value it belongs to; Python scalars take its dtype."""
    ref_shape = np.shape(ref) if not isinstance(ref, (np.ndarray, Tracer)) else ref.shape
    ref_dtype = ref.dtype if hasattr(ref, "dtype") else np.result_type(ref)
    if not isinstance(c, (np.ndarray, Tracer, np.generic)):
        c = np.asarray(c, dtype=ref_dtype if ref_dtype.kind in "fc" else None)
    if c.shape != ref_shape:
        raise ValueError(f"{fname}: {what} has shape {c.shape} but its {ref_name} has shape "
                         f"{ref_shape}; they must match")
    if c.dtype != ref_dtype:
        raise TypeError(f"{fname}: {what} has dtype {c.dtype} but its {ref_name} has dtype "
                        f"{ref_dtype}; they must match")
    return c


def _describe(x: Any) -> str:
    """``x`` named for an error message: its type, and a short repr."""
    if x is None:
        return "None"
    text = repr(x)
    return f"a {type(x).__name__} ({text[:60]}{'…' if len(text) > 60 else ''})"


_ONES: dict = {}


def _one(dtype: np.dtype) -> np.ndarray:
    """The seed cotangent 1 of a scalar output (cached: no rule writes into its cotangent)."""
    one = _ONES.get(dtype)
    if one is None:
        one = _ONES[dtype] = np.ones((), dtype)
        one.flags.writeable = False
    return one


def _check_scalar_output(out: Any, holomorphic: bool = False) -> None:
    if not isinstance(out, (np.ndarray, Tracer, np.generic, float, int, complex)):
        hint = (" (did the function forget its `return`?)" if out is None else
                "; return the scalar itself (use has_aux=True to return more)")
        raise TypeError(f"grad requires a function returning a scalar array, but it returned "
                        f"{_describe(out)}{hint}")
    shape = out.shape if isinstance(out, (np.ndarray, Tracer, np.generic)) else np.shape(out)
    if shape != ():
        raise TypeError(f"grad requires a function with a scalar output, but it returned an "
                        f"array of shape {shape}. Reduce it (e.g. .sum()) or use jacrev/vjp.")
    dtype = out.dtype if hasattr(out, "dtype") else np.result_type(out)
    check_output_dtype("grad", dtype, holomorphic)


def value_and_grad(fun: Callable, argnums: int | Sequence[int] = 0, has_aux: bool = False,
                   holomorphic: bool = False):
    """Return a function computing ``(fun(*args), ∇fun(*args))`` for a scalar-valued ``fun``.

    The gradient has the structure of the argument(s) named by ``argnums`` (a tuple of gradients
    when ``argnums`` is a tuple). With ``has_aux=True`` it returns ``((value, aux), grad)``.
    A complex argument z = x + iy of a real-valued ``fun`` gets ∂f/∂x − i ∂f/∂y (JAX's
    convention); with ``holomorphic=True`` (complex arguments, complex output) it gets f′(z).
    """
    single = isinstance(argnums, (int, np.integer))
    out_kind = "c" if holomorphic else "f"

    @functools.wraps(fun)
    def value_and_grad_fun(*args, **kwargs):
        trace = ReverseTrace()
        if single and 0 <= argnums < len(args):
            nums = (argnums,)
        else:
            nums = normalize_argnums(argnums, len(args), "grad")
        args = list(args)
        if holomorphic:
            for n in nums:
                check_holomorphic_inputs(args[n], "grad", f"argument {n}")
        boxed_per_arg = []
        for n in nums:
            boxed, treedef = _box_inputs(trace, args[n], "grad", n)
            boxed_per_arg.append((boxed, treedef))
            args[n] = boxed[0] if treedef is LEAF else tree_unflatten(treedef, boxed)
        out, aux = _split_aux(fun(*args, **kwargs), has_aux, "grad")
        if (isinstance(out, Tracer) and out._trace is trace and out.shape == ()
                and out.dtype.kind == out_kind):
            cts = backward(trace, [(out._node, out._out, _one(out.dtype))], keep_tape=False)
            value = out._primal
        else:
            _check_scalar_output(out, holomorphic)
            cts = [None] * len(trace.tape)
            value = _lower_out(trace, out)
        grads = tuple(_input_grads(cts, boxed)[0] if treedef is LEAF
                      else tree_unflatten(treedef, _input_grads(cts, boxed))
                      for boxed, treedef in boxed_per_arg)
        g = grads[0] if single else grads
        if has_aux:
            return (value, _lower_tree(trace, aux)), g
        return value, g

    return value_and_grad_fun


def grad(fun: Callable, argnums: int | Sequence[int] = 0, has_aux: bool = False,
         holomorphic: bool = False):
    """Return a function computing the gradient of scalar-valued ``fun`` (reverse mode).

    For a complex argument z = x + iy of a real-valued ``fun`` the gradient is
    ∂f/∂x − i ∂f/∂y (JAX's convention); ``holomorphic=True`` (complex arguments and output)
    gives the complex derivative f′(z).

    >>> import nnmath as nm, nnmath.numpy as mnp
    >>> float(nm.grad(lambda x: mnp.sin(x) * x)(0.0))
    0.0
    >>> complex(nm.grad(lambda z: mnp.abs(z) ** 2)(1 + 2j))          # 2 z̄
    (2-4j)
    >>> complex(nm.grad(lambda z: z ** 3, holomorphic=True)(1j))      # 3 z²
    (-3+0j)
    """
    vg = value_and_grad(fun, argnums, has_aux, holomorphic)

    @functools.wraps(fun)
    def grad_fun(*args, **kwargs):
        out, g = vg(*args, **kwargs)
        return (g, out[1]) if has_aux else g

    return grad_fun


def jvp(fun: Callable, primals: Sequence, tangents: Sequence, has_aux: bool = False):
    """Forward mode: return ``(fun(*primals), J·tangents)`` from a single pass.

    ``primals`` and ``tangents`` are tuples (or lists) of the same pytree structure; each tangent
    has the shape and dtype of its primal (a complex primal takes a complex tangent ż = ẋ + iẏ).
    """
    for name, seq in (("primals", primals), ("tangents", tangents)):
        if not isinstance(seq, (tuple, list)):
            raise TypeError(f"jvp: {name} must be a tuple or list with one entry per argument of "
                            f"fun, got {type(seq).__name__}")
    p_leaves, p_def = tree_flatten(tuple(primals))
    t_leaves, t_def = tree_flatten(tuple(tangents))
    if p_def != t_def:
        raise TypeError(f"jvp: tangents have structure {t_def!r} but primals have {p_def!r}")
    trace = ForwardTrace()
    boxed = []
    for i, (p, t) in enumerate(zip(p_leaves, t_leaves)):
        p = as_float_input(p, "jvp", f"primal leaf {i}")
        t = _check_like(t, p, "jvp", f"tangent leaf {i}", "primal")
        boxed.append(ForwardTracer(trace, p, t))
    out, aux = _split_aux(fun(*tree_unflatten(p_def, boxed)), has_aux, "jvp")
    out_leaves, out_def = tree_flatten(out)
    vals, tans = [], []
    for o in out_leaves:
        if isinstance(o, Tracer) and o._trace is trace:
            vals.append(o._primal)
            t = o._tangent
            tans.append(t.copy() if type(t) is np.ndarray and not t.flags.writeable else t)
        else:
            vals.append(o)
            tans.append(np.zeros(np.shape(o), o.dtype if hasattr(o, "dtype") else np.result_type(o)))
    result = tree_unflatten(out_def, vals), tree_unflatten(out_def, tans)
    if has_aux:
        return result + (_lower_tree(trace, aux),)
    return result
