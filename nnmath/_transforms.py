"""Jacobians, Hessians and Hessian-vector products, built from vjp and jvp (JAX names).

``jacrev`` pulls back one basis cotangent per output element (cheap for wide Jacobians: few
outputs, many inputs); ``jacfwd`` pushes forward one basis tangent per input element (cheap for
tall ones). ``hessian = jacfwd(jacrev(f))``; ``hvp`` is forward-over-reverse and never forms H.
"""
from __future__ import annotations

import functools
from typing import Any, Callable, Sequence

import numpy as np

from ._core.transforms import grad, jvp, normalize_argnums, vjp
from ._core.tree import tree_flatten, tree_unflatten
from . import numpy as mnp

__all__ = ["jacrev", "jacfwd", "jacobian", "hessian", "hvp", "linearize"]


def _bind_dynamic(fun: Callable, args: tuple, kwargs: dict, nums: tuple) -> Callable:
    """``fun`` as a function of the arguments named by ``nums`` only."""
    def f(*dyn):
        full = list(args)
        for n, d in zip(nums, dyn):
            full[n] = d
        return fun(*full, **kwargs)
    return f


def _basis(shape: tuple, dtype, j: int) -> np.ndarray:
    e = np.zeros(int(np.prod(shape)), dtype)
    e[j] = 1
    return e.reshape(shape)


def jacrev(fun: Callable, argnums: int | Sequence[int] = 0, has_aux: bool = False) -> Callable:
    """Jacobian by reverse mode: one backward sweep per output element.

    Each output leaf of shape ``S`` gets, per input leaf of shape ``I``, an array of shape
    ``S + I``; the result keeps the output's structure, with the input's structure inside it
    (a tuple over arguments when ``argnums`` is a tuple).
    """
    single = isinstance(argnums, (int, np.integer))

    @functools.wraps(fun)
    def jac(*args, **kwargs):
        nums = normalize_argnums(argnums, len(args), "jacrev")
        f = _bind_dynamic(fun, args, kwargs, nums)
        res = vjp(f, *[args[n] for n in nums], has_aux=has_aux)
        out, pullback = res[0], res[1]
        out_leaves, out_def = tree_flatten(out)
        zeros = [np.zeros(np.shape(o), o.dtype) for o in out_leaves]
        blocks = []
        for k, o in enumerate(out_leaves):
            rows = []
            for j in range(int(np.prod(np.shape(o)))):
                ct = list(zeros)
                ct[k] = _basis(np.shape(o), o.dtype, j)
                rows.append(tree_flatten(pullback(tree_unflatten(out_def, ct)))[0])
            in_leaves, in_def = tree_flatten(tuple(args[n] for n in nums))
            cols = []
            for i, x in enumerate(in_leaves):
                shape = np.shape(o) + np.shape(x)
                cols.append(mnp.reshape(mnp.stack([r[i] for r in rows]), shape) if rows
                            else np.zeros(shape, np.result_type(x)))
            per_arg = tree_unflatten(in_def, cols)
            blocks.append(per_arg[0] if single else per_arg)
        result = tree_unflatten(out_def, blocks)
        return (result, res[2]) if has_aux else result

    return jac


jacobian = jacrev


def jacfwd(fun: Callable, argnums: int | Sequence[int] = 0, has_aux: bool = False) -> Callable:
    """Jacobian by forward mode: one forward pass per input element (same layout as jacrev)."""
    single = isinstance(argnums, (int, np.integer))

    @functools.wraps(fun)
    def jac(*args, **kwargs):
        nums = normalize_argnums(argnums, len(args), "jacfwd")
        f = _bind_dynamic(fun, args, kwargs, nums)
        primals = tuple(args[n] for n in nums)
        in_leaves, in_def = tree_flatten(primals)
        in_leaves = [x if hasattr(x, "dtype") else np.asarray(x) for x in in_leaves]
        zeros = [np.zeros(x.shape, x.dtype) for x in in_leaves]
        columns = []        # per input leaf: list of output-tangent leaf lists
        out = aux = None
        for i, x in enumerate(in_leaves):
            cols = []
            for j in range(x.size):
                tan = list(zeros)
                tan[i] = _basis(x.shape, x.dtype, j)
                res = jvp(f, tuple(tree_unflatten(in_def, in_leaves)), tuple(tree_unflatten(in_def, tan)),
                          has_aux=has_aux)
                out, t_out = res[0], res[1]
                aux = res[2] if has_aux else None
                cols.append(tree_flatten(t_out)[0])
            columns.append(cols)
        if out is None:     # no input elements: evaluate once for the output structure
            out = f(*primals)
            out, aux = (out[0], out[1]) if has_aux else (out, None)
        out_leaves, out_def = tree_flatten(out)
        blocks = []
        for k, o in enumerate(out_leaves):
            per_in = []
            for i, x in enumerate(in_leaves):
                cols = columns[i]
                if cols:
                    stacked = mnp.stack([c[k] for c in cols], axis=-1)     # S + (n,)
                    per_in.append(mnp.reshape(stacked, np.shape(o) + x.shape))
                else:
                    per_in.append(np.zeros(np.shape(o) + x.shape, o.dtype))
            per_arg = tree_unflatten(in_def, per_in)
            blocks.append(per_arg[0] if single else per_arg)
        result = tree_unflatten(out_def, blocks)
        return (result, aux) if has_aux else result

    return jac


def hessian(fun: Callable, argnums: int | Sequence[int] = 0, has_aux: bool = False) -> Callable:
    """Hessian of a scalar function: ``jacfwd(jacrev(fun))``, shape ``in.shape + in.shape``."""
    return jacfwd(jacrev(fun, argnums, has_aux), argnums, has_aux)


def hvp(fun: Callable, primals: Sequence, tangents: Sequence) -> Any:
    """Hessian-vector product H·v by forward-over-reverse (``jvp`` of ``grad``); H is never formed.

    ``primals`` and ``tangents`` are tuples as for :func:`nnmath.jvp`. For a function of one
    argument the result is shaped like that argument; otherwise a tuple, one entry per argument.

    >>> import numpy as np, nnmath as nm, nnmath.numpy as mnp
    >>> nm.hvp(lambda x: mnp.sum(x ** 3), (np.array([1.0, 2.0]),), (np.array([1.0, 0.0]),))
    array([6., 0.])
    """
    if not isinstance(primals, (tuple, list)) or not isinstance(tangents, (tuple, list)):
        raise TypeError("hvp: primals and tangents must be tuples with one entry per argument, "
                        f"got {type(primals).__name__} and {type(tangents).__name__}")
    g = grad(fun, argnums=tuple(range(len(primals))))
    out = jvp(g, tuple(primals), tuple(tangents))[1]
    return out[0] if len(primals) == 1 else out


def linearize(fun: Callable, *primals: Any):
    """Return ``(fun(*primals), f_jvp)`` where ``f_jvp(*tangents)`` is the JVP at ``primals``.

    Each call of ``f_jvp`` is one forward-mode pass (the primal is recomputed alongside).
    """
    out = fun(*primals)

    def f_jvp(*tangents):
        return jvp(fun, primals, tangents)[1]

    return out, f_jvp
