"""Jacobians, Hessians and Hessian-vector products, built from vjp and jvp (JAX names).

``jacrev`` pulls back one basis cotangent per output element (cheap for wide Jacobians: few
outputs, many inputs); ``jacfwd`` pushes forward one basis tangent per input element (cheap for
tall ones). Both vectorise the basis with ``vmap`` in chunks, so memory stays bounded and the work
is done as matrix products. ``hessian = jacfwd(jacrev(f))``; ``hvp`` is forward-over-reverse and
never forms H.

Complex values follow JAX: ``jacrev`` takes real or complex inputs and needs real outputs (row k
is the gradient of output k, ∂f/∂x − i ∂f/∂y for a complex input); ``jacfwd`` needs real inputs.
With ``holomorphic=True`` both (and ``hessian``) need complex inputs and outputs and give the
complex derivative ∂fᵢ/∂zⱼ.
"""
from __future__ import annotations

import functools
from typing import Any, Callable, Sequence

import numpy as np

from ._core.batching import vmap as nm_vmap
from ._core.transforms import (check_holomorphic_inputs, check_output_dtype, grad, jvp,
                               normalize_argnums, vjp)
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


DEFAULT_CHUNK = 256     # directions pushed through one vmapped pass (bounds the memory)


def _basis_chunk(leaves: list, start: int, stop: int) -> list:
    """Rows ``start:stop`` of the identity over the concatenated leaves, split per leaf and
    shaped ``(rows, *leaf.shape)`` with each leaf's dtype."""
    out, offset = [], 0
    rows = np.arange(stop - start)
    for x in leaves:
        block = np.zeros((stop - start, x.size), dtype=x.dtype)
        hit = (start + rows >= offset) & (start + rows < offset + x.size)
        block[rows[hit], start + rows[hit] - offset] = 1
        out.append(block.reshape((stop - start,) + tuple(x.shape)))
        offset += x.size
    return out


def _stack_chunks(chunks: list) -> Any:
    return chunks[0] if len(chunks) == 1 else mnp.concatenate(chunks, axis=0)


def _chunk_ranges(n: int, chunk_size: int | None):
    step = max(1, int(chunk_size or DEFAULT_CHUNK))
    return [(a, min(n, a + step)) for a in range(0, n, step)]


def _as_arrays(leaves: list) -> list:
    return [x if hasattr(x, "dtype") else np.asarray(x) for x in leaves]


def _check_jac_inputs(fname: str, leaves: list, holomorphic: bool) -> None:
    if holomorphic:
        check_holomorphic_inputs(leaves, fname, "the differentiated input")
        return
    if fname == "jacfwd":
        for x in leaves:
            if x.dtype.kind == "c":
                raise TypeError(f"jacfwd requires real-valued inputs (a floating dtype), but got "
                                f"{x.dtype}. For holomorphic differentiation pass holomorphic=True; "
                                f"for a non-holomorphic function of complex inputs use jacrev (real "
                                f"outputs) or nnmath.jvp directly.")


def _check_jac_outputs(fname: str, leaves: list, holomorphic: bool) -> None:
    for x in leaves:
        if fname == "jacrev":
            check_output_dtype("jacrev", x.dtype, holomorphic)
        elif holomorphic and x.dtype.kind != "c":
            raise TypeError(f"jacfwd with holomorphic=True requires outputs with complex dtype, "
                            f"but got {x.dtype}")


def jacrev(fun: Callable, argnums: int | Sequence[int] = 0, has_aux: bool = False,
           chunk_size: int | None = None, holomorphic: bool = False) -> Callable:
    """Jacobian by reverse mode: one pullback per output element, vmapped in chunks.

    Each output leaf of shape ``S`` gets, per input leaf of shape ``I``, an array of shape
    ``S + I``; the result keeps the output's structure, with the input's structure inside it
    (a tuple over arguments when ``argnums`` is a tuple). ``chunk_size`` (an nnmath extension)
    bounds how many cotangents one vectorised backward pass carries (default 256).
    ``holomorphic=True``: complex inputs and outputs, entries ∂fᵢ/∂zⱼ (as ``jax.jacrev``).
    """
    single = isinstance(argnums, (int, np.integer))

    @functools.wraps(fun)
    def jac(*args, **kwargs):
        nums = normalize_argnums(argnums, len(args), "jacrev")
        f = _bind_dynamic(fun, args, kwargs, nums)
        in_leaves, in_def = tree_flatten(tuple(args[n] for n in nums))
        in_leaves = _as_arrays(in_leaves)
        _check_jac_inputs("jacrev", in_leaves, holomorphic)
        res = vjp(f, *[args[n] for n in nums], has_aux=has_aux)
        out, pullback = res[0], res[1]
        out_leaves, out_def = tree_flatten(out)
        out_leaves = _as_arrays(out_leaves)
        _check_jac_outputs("jacrev", out_leaves, holomorphic)
        m = sum(o.size for o in out_leaves)

        def pull(*ct_leaves):
            return tree_flatten(pullback(tree_unflatten(out_def, list(ct_leaves))))[0]

        if m == 1:              # a scalar function: one plain pullback, no vmap needed
            rows = [mnp.reshape(g, (1,) + tuple(x.shape))
                    for g, x in zip(pull(*[np.ones(o.shape, o.dtype) for o in out_leaves]), in_leaves)]
        elif m == 0:
            rows = [np.zeros((0,) + tuple(x.shape), x.dtype) for x in in_leaves]
        else:
            chunks = [nm_vmap(pull)(*_basis_chunk(out_leaves, a, b)) for a, b in _chunk_ranges(m, chunk_size)]
            rows = [_stack_chunks([c[i] for c in chunks]) for i in range(len(in_leaves))]
        blocks, offset = [], 0
        for o in out_leaves:
            per_in = [mnp.reshape(r[offset:offset + o.size], tuple(o.shape) + tuple(x.shape))
                      for r, x in zip(rows, in_leaves)]
            offset += o.size
            per_arg = tree_unflatten(in_def, per_in)
            blocks.append(per_arg[0] if single else per_arg)
        result = tree_unflatten(out_def, blocks)
        return (result, res[2]) if has_aux else result

    return jac


jacobian = jacrev


def jacfwd(fun: Callable, argnums: int | Sequence[int] = 0, has_aux: bool = False,
           chunk_size: int | None = None, holomorphic: bool = False) -> Callable:
    """Jacobian by forward mode: one tangent per input element, pushed through vmapped JVPs in
    chunks of ``chunk_size`` (default 256) so that the work becomes matrix products. Same
    layout as :func:`jacrev`. Inputs must be real unless ``holomorphic=True`` (complex inputs
    and outputs, entries ∂fᵢ/∂zⱼ), as for ``jax.jacfwd``."""
    single = isinstance(argnums, (int, np.integer))

    @functools.wraps(fun)
    def jac(*args, **kwargs):
        nums = normalize_argnums(argnums, len(args), "jacfwd")
        f = _bind_dynamic(fun, args, kwargs, nums)
        in_leaves, in_def = tree_flatten(tuple(args[n] for n in nums))
        in_leaves = _as_arrays(in_leaves)
        _check_jac_inputs("jacfwd", in_leaves, holomorphic)
        primals = tuple(tree_unflatten(in_def, in_leaves))
        n = sum(x.size for x in in_leaves)

        def push(*tan_leaves):
            res = jvp(f, primals, tuple(tree_unflatten(in_def, list(tan_leaves))), has_aux=has_aux)
            return res[1]

        out = f(*primals)
        out, aux = (out[0], out[1]) if has_aux else (out, None)
        out_leaves, out_def = tree_flatten(out)
        out_leaves = _as_arrays(out_leaves)
        _check_jac_outputs("jacfwd", out_leaves, holomorphic)
        if n:
            chunks = [tree_flatten(nm_vmap(push)(*_basis_chunk(in_leaves, a, b)))[0]
                      for a, b in _chunk_ranges(n, chunk_size)]
            cols = [_stack_chunks([c[k] for c in chunks]) for k in range(len(out_leaves))]
        else:
            cols = [np.zeros((0,) + tuple(o.shape), o.dtype) for o in out_leaves]
        blocks = []
        for k, o in enumerate(out_leaves):
            col = mnp.moveaxis(cols[k], 0, -1) if o.ndim else cols[k]      # S + (n,)
            per_in, offset = [], 0
            for x in in_leaves:
                per_in.append(mnp.reshape(col[..., offset:offset + x.size], tuple(o.shape) + tuple(x.shape)))
                offset += x.size
            per_arg = tree_unflatten(in_def, per_in)
            blocks.append(per_arg[0] if single else per_arg)
        result = tree_unflatten(out_def, blocks)
        return (result, aux) if has_aux else result

    return jac


def hessian(fun: Callable, argnums: int | Sequence[int] = 0, has_aux: bool = False,
            chunk_size: int | None = None, holomorphic: bool = False) -> Callable:
    """Hessian of a scalar function: ``jacfwd(jacrev(fun))`` — batched forward-over-reverse, i.e.
    ``chunk_size`` Hessian-vector products per vectorised pass. Shape ``in.shape + in.shape``.
    ``holomorphic=True``: f″(z) of a holomorphic function of complex inputs (as ``jax.hessian``;
    a real-valued function of complex inputs is refused by ``jacfwd``, as in JAX)."""
    if has_aux:
        inner = jacrev(fun, argnums, has_aux=True, holomorphic=holomorphic)
        return jacfwd(inner, argnums, has_aux=True, chunk_size=chunk_size, holomorphic=holomorphic)
    return jacfwd(jacrev(fun, argnums, holomorphic=holomorphic), argnums, chunk_size=chunk_size,
                  holomorphic=holomorphic)


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
