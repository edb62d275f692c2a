"""``ravel_pytree``: a pytree of arrays as one flat vector and back (JAX's
``jax.flatten_util.ravel_pytree``, same name and semantics).

Differentiable both ways: ``flat`` is built with ``nnmath.numpy.concatenate`` and ``unravel`` with
slices and reshapes, so a loss of a pytree becomes a loss of a vector (what Lanczos, CG and scipy's
``LinearOperator`` work on) without losing its derivatives.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from ._core.tree import tree_flatten, tree_unflatten
from . import numpy as mnp

__all__ = ["ravel_pytree"]


def ravel_pytree(tree: Any) -> tuple[Any, Callable[[Any], Any]]:
    """Flatten a pytree of arrays into one 1-D array and return the function that undoes it.

    The leaves are raveled in ``tree_flatten`` order (dict keys sorted) and concatenated in their
    common dtype (numpy's ``result_type``); ``unravel`` restores each leaf's shape *and* dtype, so
    ``unravel(flat)`` of a float32 tree is float32 again. An empty tree gives a float64 vector of
    length 0.

    Args:
        tree: a pytree (nested dicts, lists, tuples, namedtuples) of arrays or scalars.

    Returns:
        ``(flat, unravel)``: the vector and a function mapping a vector of the same length back to
        a pytree of the same structure.

    >>> import numpy as np
    >>> flat, unravel = ravel_pytree({"w": np.ones((2, 2)), "b": np.array([5.0, 6.0])})
    >>> flat                                  # "b" first: dict keys are sorted
    array([5., 6., 1., 1., 1., 1.])
    >>> unravel(np.arange(6.0))["w"]
    array([[2., 3.],
           [4., 5.]])
    """
    leaves, treedef = tree_flatten(tree)
    leaves = [x if hasattr(x, "dtype") else np.asarray(x) for x in leaves]
    shapes = [tuple(x.shape) for x in leaves]
    dtypes = [np.dtype(x.dtype) for x in leaves]
    sizes = [int(np.prod(s, dtype=np.int64)) for s in shapes]
    offsets = np.concatenate([[0], np.cumsum(sizes, dtype=np.int64)]).tolist()
    total = offsets[-1]
    dtype = np.result_type(*dtypes) if dtypes else np.dtype(np.float64)
    if not leaves:
        flat = np.zeros(0, dtype)
    elif len(leaves) == 1:
        flat = mnp.ravel(leaves[0])
    else:
        flat = mnp.concatenate([mnp.ravel(x) for x in leaves])
    if flat.dtype != dtype:
        flat = mnp.astype(flat, dtype)

    def unravel(vector: Any) -> Any:
        shape = tuple(getattr(vector, "shape", np.shape(vector)))
        if shape != (total,):
            raise ValueError(f"unravel: expected a vector of shape ({total},) for a tree of "
                             f"structure {treedef!r}, got shape {shape}")
        out = []
        for k, (shp, dt) in enumerate(zip(shapes, dtypes)):
            piece = mnp.reshape(vector[offsets[k]:offsets[k + 1]], shp)
            out.append(piece if piece.dtype == dt else mnp.astype(piece, dt))
        return tree_unflatten(treedef, out)

    return flat, unravel
