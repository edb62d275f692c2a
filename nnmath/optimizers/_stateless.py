"""Keras 3's stateless optimizer API on the flat path: ``optimizer.variables`` and
``optimizer.stateless_apply(optimizer_variables, grads, trainable_variables)``.

Keras-JAX code keeps the optimizer's state outside the object and threads it through a pure
step::

    trainable, opt_vars = optimizer.stateless_apply(opt_vars, grads, trainable)

nnmath runs that step with the optimizer's one update rule (``_rules``, through the flat path
``update_flat``) on a *copy* of the optimizer, so the object itself is unchanged, as in Keras.

The variables are Keras's, in Keras's order: ``iterations`` (an int64 scalar array), the
optimizer's scalar state if it has one (Nadam's ``u_product``), then for each trainable
variable in turn its slots (``momentum``, ``velocity``, … — ``Optimizer._slots``), each shaped
like the variable. :meth:`StatelessAPI.build` creates them for a list of variables (Keras
``optimizer.build(var_list)``); a model's optimizer has them once the model has set it up.
"""
from __future__ import annotations

import copy
from typing import Any, Sequence

import numpy as np

__all__ = ["StatelessAPI"]


def _shapes_sizes(values: Sequence) -> tuple[list, list]:
    shapes = [tuple(np.shape(v)) for v in values]
    return shapes, [int(np.prod(s, dtype=np.int64)) for s in shapes]


def _flat(values: Sequence, dtype: np.dtype) -> np.ndarray:
    return np.concatenate([np.ravel(np.asarray(v)) for v in values]).astype(dtype, copy=True) \
        if len(values) else np.zeros(0, dtype)


def _dtype_of(values: Sequence, who: str) -> np.dtype:
    dtypes = {np.asarray(v).dtype for v in values}
    if len(dtypes) != 1 or next(iter(dtypes)) not in (np.float32, np.float64):
        raise ValueError(f"{who}: the trainable variables must all be float32 or all float64; "
                         f"received dtypes {sorted(d.name for d in dtypes)}")
    return next(iter(dtypes))


class StatelessAPI:
    """Mixin of :class:`~nnmath.optimizers.keras.Optimizer` (see the module docstring)."""

    _var_shapes: list | None = None    # shapes of the variables the flat buffer packs, in order

    def build(self, var_list: Sequence) -> None:
        """Create the optimizer's state for ``var_list`` (Keras ``optimizer.build``): zeroed
        slots shaped like each variable, ``iterations`` = 0."""
        values = [np.asarray(v) for v in var_list]
        shapes, sizes = _shapes_sizes(values)
        dtype = _dtype_of(values, "build")
        self.init_flat(_flat(values, dtype), sizes=sizes or None)
        object.__setattr__(self, "_var_shapes", shapes)

    def _variable_names(self) -> list:
        names = ["iterations"] + list(self._scalar_state())
        return names + [f"{s}_{i}" for i in range(len(self._var_shapes or ())) for s in self._slots]

    @property
    def variables(self) -> list:
        """The optimizer's state as Keras lists it (copies): ``iterations``, the scalars, then
        each variable's slots (see the module docstring)."""
        if self._var_shapes is None or self._buffers is None or self._groups is not None:
            raise ValueError(f"{type(self).__name__}.variables: the optimizer has no state for "
                             f"known variables yet; call optimizer.build(trainable_variables) "
                             f"(a model's optimizer has it once fit or apply_gradients ran)")
        out = [np.asarray(self._iterations, np.int64)]
        out += [np.asarray(v) for v in self._scalar_state().values()]
        offset = 0
        for shape in self._var_shapes:
            size = int(np.prod(shape, dtype=np.int64))
            for s in self._slots:
                out.append(self._buffers[s][offset:offset + size].reshape(shape).copy())
            offset += size
        return out

    def _assign_variables(self, values: Sequence) -> None:
        """Set the state from a list shaped like :attr:`variables`."""
        values = list(values)
        want = self._variable_names()
        if len(values) != len(want):
            raise ValueError(f"{type(self).__name__}: expected {len(want)} optimizer variables "
                             f"({', '.join(want[:6])}{', …' if len(want) > 6 else ''}); "
                             f"received {len(values)}")
        scalars = list(self._scalar_state())
        state: dict[str, Any] = {"iterations": int(np.asarray(values[0]))}
        for k, name in enumerate(scalars):
            state[name] = float(np.asarray(values[1 + k]))
        slots = values[1 + len(scalars):]
        n_slots = len(self._slots)
        for j, s in enumerate(self._slots):
            parts = []
            for i, shape in enumerate(self._var_shapes):
                v = np.asarray(slots[i * n_slots + j])
                if v.shape != tuple(shape):
                    raise ValueError(f"{type(self).__name__}: optimizer variable {s}_{i} has "
                                     f"shape {v.shape}, expected {tuple(shape)}")
                parts.append(v.ravel())
            state[s] = np.concatenate(parts) if parts else np.zeros(0, self._dtype)
        self.set_flat_state(state)

    def stateless_apply(self, optimizer_variables: Sequence, grads: Sequence,
                        trainable_variables: Sequence) -> tuple[list, list]:
        """One step as a function (Keras 3 ``stateless_apply``): returns
        ``(new trainable variables, new optimizer variables)``; the optimizer is unchanged.

        The step is the optimizer's own (clipping, weight decay, its rule of ``_rules``, the
        learning rate at ``iterations``), run by ``update_flat`` on a copy of the state.

        Args:
            optimizer_variables: a list shaped like :attr:`variables`.
            grads: one gradient per trainable variable.
            trainable_variables: the values (arrays) of the variables being trained.
        """
        values = [np.asarray(v) for v in trainable_variables]
        grads = list(grads)
        if len(grads) != len(values):
            raise ValueError(f"stateless_apply: {len(grads)} gradients for {len(values)} "
                             f"trainable variables")
        shapes, sizes = _shapes_sizes(values)
        bad = [i for i, (g, s) in enumerate(zip(grads, shapes)) if tuple(np.shape(g)) != s]
        if bad:
            i = bad[0]
            raise ValueError(f"stateless_apply: gradient {i} has shape {np.shape(grads[i])}, "
                             f"its variable {shapes[i]}")
        dtype = _dtype_of(values, "stateless_apply")
        flat, flat_g = _flat(values, dtype), _flat(grads, dtype)
        work = copy.copy(self)
        work._allocate(flat, sizes=sizes or None)
        object.__setattr__(work, "_var_shapes", shapes)
        work._assign_variables(optimizer_variables)
        work.update_flat(flat, flat_g)
        new_values, offset = [], 0
        for shape, size in zip(shapes, sizes):
            new_values.append(flat[offset:offset + size].reshape(shape))
            offset += size
        return new_values, work.variables
