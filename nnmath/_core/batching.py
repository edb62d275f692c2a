"""vmap: vectorise a function over a leading batch axis (JAX's ``jax.vmap``).

A batched value is stored stacked, batch axis first; its tracer reports the *logical* (per-example)
shape, so code inside ``vmap`` sees one example. Each primitive has a batching rule mapping stacked
inputs to the stacked output; most follow from the structure of the primitive (elementwise ops
align ranks and broadcast, reductions shift their axes, matmul folds the batch into one GEMM), and
are named by the helpers below.

vmap nests with every derivative transform: ``vmap(jvp(f))`` pushes many tangents through one
pass, which is how ``jacfwd``, ``jacrev`` and ``hessian`` turn per-direction work into matrix
products; ``vmap(grad(f))`` gives per-example gradients.
"""
from __future__ import annotations

import functools
import math
from typing import Any, Callable, Sequence

import numpy as np

from .primitive import Primitive, Tracer, new_level
from .tree import tree_flatten, tree_unflatten

__all__ = ["vmap", "BatchTrace", "BatchTracer", "batch_elementwise", "batch_reduction",
           "batch_axis_param", "batch_leading", "lower_batched"]


class BatchTracer(Tracer):
    """A stack of values (batch axis first) that code sees as one value of the logical shape."""

    __slots__ = ()

    def __init__(self, trace: "BatchTrace", stacked: Any):
        self._trace = trace
        self._primal = stacked

    @property
    def shape(self) -> tuple:
        return self._primal.shape[1:]

    @property
    def ndim(self) -> int:
        return self._primal.ndim - 1

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    def __len__(self) -> int:
        return self.shape[0]

    def __bool__(self) -> bool:
        raise TypeError("The truth value of a batched (vmapped) value depends on the example: "
                        "Python control flow on it is not possible inside vmap. Use mnp.where.")

    __int__ = __index__ = __bool__


class BatchTrace:
    """One vmap level of a given batch size."""

    __slots__ = ("level", "size")
    is_batch = True
    is_staging = False

    def __init__(self, size: int):
        self.level = new_level()
        self.size = size

    def process(self, prim: Primitive, args: tuple, params: dict):
        rule = prim.batch
        if rule is None:
            raise NotImplementedError(f"nnmath has no batching rule (vmap) for '{prim.name}'")
        vals, bat = lower_batched(self, args)
        out = rule(self.size, vals, bat, **params)
        if prim.multiple_results:
            return tuple(BatchTracer(self, o) for o in out)
        return BatchTracer(self, out)


def lower_batched(trace: BatchTrace, args: Sequence) -> tuple[list, list]:
    """The stacked values of ``trace``'s tracers (others unchanged) and which were batched."""
    vals, bat = [], []
    for a in args:
        if isinstance(a, Tracer) and a._trace is trace:
            vals.append(a._primal)
            bat.append(True)
        else:
            vals.append(a)
            bat.append(False)
    return vals, bat


# ---------------------------------------------------------------------------------------------
# Rules named by structure
# ---------------------------------------------------------------------------------------------

def _ndim(x: Any) -> int:
    return x.ndim if hasattr(x, "ndim") else np.ndim(x)


def align(vals: list, bat: list, ndim: int) -> list:
    """Give stacked values the shape (B, 1, …, 1, *logical) of rank ``ndim + 1``, so that they
    broadcast against unbatched operands of rank ≤ ``ndim`` exactly as the logical values would."""
    out = []
    for v, b in zip(vals, bat):
        if b and _ndim(v) - 1 < ndim:
            v = v.reshape((v.shape[0],) + (1,) * (ndim - _ndim(v) + 1) + tuple(v.shape[1:]))
        out.append(v)
    return out


def logical_ndim(vals: list, bat: list) -> int:
    return max(_ndim(v) - 1 if b else _ndim(v) for v, b in zip(vals, bat))


def batch_elementwise(prim: Primitive) -> Primitive:
    """Elementwise (broadcasting) primitives: align ranks, then the op broadcasts by itself."""
    def rule(size, vals, bat, **params):
        return prim(*align(vals, bat, logical_ndim(vals, bat)), **params)
    prim.batch = rule
    return prim


def batch_reduction(prim: Primitive) -> Primitive:
    """Reductions with ``axis`` (None or a tuple) and ``keepdims``: shift the axes past the batch."""
    def rule(size, vals, bat, axis, **params):
        x = vals[0]
        axis = tuple(range(1, _ndim(x))) if axis is None else tuple(a + 1 for a in axis)
        return prim(x, axis=axis, **params)
    prim.batch = rule
    return prim


def batch_axis_param(prim: Primitive, name: str = "axis") -> Primitive:
    """Primitives of one array with an integer axis parameter (cumsum): shift it by one."""
    def rule(size, vals, bat, **params):
        params[name] = params[name] + 1
        return prim(vals[0], **params)
    prim.batch = rule
    return prim


def batch_leading(prim: Primitive) -> Primitive:
    """Primitives of one array that act on its trailing axes and broadcast over leading ones
    (triu, tril, most of numpy.linalg): the batch axis is just one more leading axis."""
    def rule(size, vals, bat, **params):
        return prim(*vals, **params)
    prim.batch = rule
    return prim


# ---------------------------------------------------------------------------------------------
# The transform
# ---------------------------------------------------------------------------------------------

def _move(x: Any, src: int, dst: int) -> Any:
    """moveaxis by the array's own ``transpose`` method (plain or traced alike)."""
    if src == dst:
        return x
    order = [k for k in range(_ndim(x)) if k != src]
    order.insert(dst, src)
    return x.transpose(tuple(order))


def vmap(fun: Callable, in_axes: int | None | Sequence = 0, out_axes: int | None = 0) -> Callable:
    """Vectorise ``fun`` over an axis of its inputs (JAX semantics).

    Args:
        fun: the function of one example.
        in_axes: for each positional argument, the axis to map over (applied to every leaf of
            that argument) or None to broadcast it; an int applies to every argument.
        out_axes: where the mapped axis goes in every output leaf (None: outputs must not be
            batched).

    >>> import numpy as np, nnmath as nm, nnmath.numpy as mnp
    >>> nm.vmap(lambda x: mnp.sum(x ** 2))(np.array([[1.0, 2.0], [3.0, 4.0]]))
    array([ 5., 25.])
    """
    if not (in_axes is None or _is_axis(in_axes) or isinstance(in_axes, (tuple, list))):
        raise TypeError(f"vmap: in_axes must be an int, None, or a tuple/list with one int or None "
                        f"per positional argument, got {in_axes!r}")
    if isinstance(in_axes, (tuple, list)):
        for k, ax in enumerate(in_axes):
            if not (ax is None or _is_axis(ax)):
                raise TypeError(f"vmap: in_axes[{k}] must be an int or None (one axis for every "
                                f"leaf of argument {k}), got {ax!r}")
    if not (out_axes is None or _is_axis(out_axes)):
        raise TypeError(f"vmap: out_axes must be an int or None, got {out_axes!r}")

    @functools.wraps(fun)
    def batched(*args):
        axes = [in_axes] * len(args) if not isinstance(in_axes, (tuple, list)) else list(in_axes)
        if len(axes) != len(args):
            raise ValueError(f"vmap: in_axes has {len(axes)} entries but the function was called "
                             f"with {len(args)} positional arguments")
        sizes = {}
        for k, (a, ax) in enumerate(zip(args, axes)):
            if ax is None:
                continue
            for leaf in tree_flatten(a)[0]:
                shape = np.shape(leaf) if not hasattr(leaf, "shape") else leaf.shape
                if not -len(shape) <= ax < len(shape):
                    raise ValueError(f"vmap: in_axes={ax} for argument {k} is out of range for a "
                                     f"leaf of shape {shape}")
                sizes.setdefault(shape[ax], (k, shape))
        if not sizes:
            raise ValueError("vmap: at least one argument must be mapped (in_axes all None)")
        if len(sizes) > 1:
            detail = ", ".join(f"argument {k} of shape {s} has {n}" for n, (k, s) in sizes.items())
            raise ValueError(f"vmap: mapped axes have different sizes: {detail}")
        size = next(iter(sizes))
        trace = BatchTrace(size)
        boxed_args = []
        for a, ax in zip(args, axes):
            if ax is None:
                boxed_args.append(a)
                continue
            leaves, treedef = tree_flatten(a)
            leaves = [x if hasattr(x, "shape") else np.asarray(x) for x in leaves]
            boxed_args.append(tree_unflatten(treedef, [
                BatchTracer(trace, _move(x, ax % x.ndim, 0)) for x in leaves]))
        out = fun(*boxed_args)
        leaves, treedef = tree_flatten(out)
        result = []
        for o in leaves:
            if isinstance(o, Tracer) and o._trace is trace:
                if out_axes is None:
                    raise ValueError("vmap: out_axes=None but an output depends on the mapped axis")
                stacked = o._primal
            else:
                if out_axes is None:
                    result.append(o)
                    continue
                shape = o.shape if hasattr(o, "shape") else np.shape(o)
                dtype = o.dtype if hasattr(o, "dtype") else np.result_type(o)
                stacked = o + np.zeros((size,) + tuple(shape), dtype)     # broadcast, owned
            nd = _ndim(stacked)
            if not -nd <= out_axes < nd:
                raise ValueError(f"vmap: out_axes={out_axes} is out of range for an output of "
                                 f"{nd - 1} dimension(s) (shape {tuple(stacked.shape[1:])}) with "
                                 f"the mapped axis added: valid values are {-nd}..{nd - 1}")
            result.append(_move(stacked, 0, out_axes % nd))
        return tree_unflatten(treedef, result)

    return batched


def _is_axis(ax: Any) -> bool:
    """An axis number: an int (numpy integers too), not a bool."""
    return isinstance(ax, (int, np.integer)) and not isinstance(ax, (bool, np.bool_))
