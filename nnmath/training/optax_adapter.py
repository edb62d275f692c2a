"""``compile(optimizer=nnmath.optimizers.adam(1e-3))``: an Optax-style ``(init, update)``
transform on the training loop's flat parameter buffer.

The loop steps every optimizer through ``init_flat(flat, sizes)`` / ``update_flat(flat, grads)``
and checkpoints it through ``flat_state()`` / ``set_flat_state()``. :class:`TransformOptimizer`
offers these for any :class:`~nnmath.optimizers.GradientTransformation`: the parameters it sees
are the model's weights as 1-D views of the buffer (one leaf per weight, so per-weight norms —
``clip_by_norm`` — are per weight), and ``update`` + ``apply_updates`` write the result back in
place. Its state pytree is checkpointed leaf by leaf.

>>> import numpy as np
>>> from nnmath import optimizers as optim
>>> opt = TransformOptimizer(optim.sgd(0.5))
>>> flat = np.array([1.0, 2.0, 3.0])
>>> opt.init_flat(flat, sizes=[2, 1])
>>> opt.update_flat(flat, np.array([1.0, 1.0, 2.0]))
>>> flat
array([0.5, 1.5, 2. ])
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from .._core.tree import tree_flatten, tree_unflatten

__all__ = ["TransformOptimizer"]


class TransformOptimizer:
    """The flat-buffer interface of Keras-style optimizers over an Optax-style transform.

    Args:
        transform: a ``GradientTransformation`` (``nnmath.optimizers.adam(1e-3)``, a ``chain``…).
    """

    def __init__(self, transform: Any):
        self.transform = transform
        self.iterations = 0
        self._state = None
        self._sizes: list[int] = []

    def _leaves(self, flat: Any) -> list:
        """The weights as 1-D views of the buffer (of each buffer in turn, for a list)."""
        if isinstance(flat, (list, tuple)):
            return [leaf for k, b in enumerate(flat) for leaf in self._views(b, self._sizes[k])]
        return self._views(flat, self._sizes)

    @staticmethod
    def _views(flat: np.ndarray, sizes: list) -> list:
        out, offset = [], 0
        for n in sizes:
            out.append(flat[offset:offset + n])
            offset += n
        return out

    def init_flat(self, flat_params: Any, sizes: Sequence | None = None) -> None:
        """Set up the state for a buffer holding weights of ``sizes`` (default: one weight), or
        for a list of buffers (one per dtype) with a list of such size lists."""
        if isinstance(flat_params, (list, tuple)):
            buffers = list(flat_params)
            sizes = sizes if sizes is not None else [None] * len(buffers)
            self._sizes = [self._checked(b, s) for b, s in zip(buffers, sizes)]
        else:
            self._sizes = self._checked(flat_params, sizes)
        self._state = self.transform.init(self._leaves(flat_params))
        self.iterations = 0

    init_flat._accepts_buffer_lists = True

    @staticmethod
    def _checked(flat: np.ndarray, sizes: Sequence[int] | None) -> list:
        sizes = [int(n) for n in (sizes if sizes is not None else [flat.size])]
        if sum(sizes) != flat.size:
            raise ValueError(f"init_flat: sizes sum to {sum(sizes)}, the buffer holds "
                             f"{flat.size} elements")
        return sizes

    def update_flat(self, flat_params: Any, flat_grads: Any) -> None:
        """One step: ``θ ← θ + u`` with ``(u, state) = update(g, state, θ)``, in place."""
        if self._state is None:
            self.init_flat(flat_params)
        params = self._leaves(flat_params)
        updates, self._state = self.transform.update(self._leaves(flat_grads), self._state, params)
        for p, u in zip(params, updates):
            p += np.asarray(u, dtype=p.dtype)
        self.iterations += 1

    def flat_state(self) -> dict:
        """The state as plain arrays and scalars (``s<i>`` per leaf, ``iterations``)."""
        leaves, _ = tree_flatten(self._state)
        out = {f"s{i}": np.asarray(v) for i, v in enumerate(leaves)}
        out["iterations"] = np.asarray(self.iterations)
        return out

    def set_flat_state(self, state: dict) -> None:
        """Restore what :meth:`flat_state` returned (after ``init_flat`` on the same buffer)."""
        leaves, treedef = tree_flatten(self._state)
        new = []
        for i, old in enumerate(leaves):
            v = np.asarray(state[f"s{i}"])
            new.append(v if isinstance(old, np.ndarray) else type(old)(v.item()) if
                       isinstance(old, (int, float)) else v)
        self._state = tree_unflatten(treedef, new)
        self.iterations = int(state.get("iterations", self.iterations))

    def get_config(self) -> dict:
        return {"transform": repr(self.transform)}

    def __repr__(self) -> str:
        return f"TransformOptimizer({self.transform!r})"
