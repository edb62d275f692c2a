"""Merge layers (Keras 3 names): Add, Subtract, Multiply, Average, Maximum, Minimum, Concatenate.

They take a *list* of inputs (``call(params, [x1, x2, …])``), for residual connections and
functional models. Elementwise merges need shapes that broadcast (Keras: equal, or 1 where they
differ); Concatenate needs equal shapes except along ``axis``.
"""
from __future__ import annotations

from functools import reduce
from typing import Any

import numpy as np

from ... import numpy as mnp
from .base import Layer
from .core import as_input

__all__ = ["Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Concatenate"]


def _shapes(inputs: Any) -> list:
    return [tuple(np.shape(x)) if not hasattr(x, "shape") else tuple(x.shape) for x in inputs]


class _Merge(Layer):
    """A layer of several inputs; subclasses give ``_merge(list of arrays)``."""

    _exactly: int | None = None       # Subtract: exactly two inputs

    def _who(self) -> str:
        return f"Layer {self.name!r} ({type(self).__name__})"

    def _check_list(self, inputs: Any) -> list:
        if not isinstance(inputs, (list, tuple)):
            raise ValueError(f"{self._who()} must be called on a list of inputs, received "
                             f"{type(inputs).__name__} of shape {tuple(np.shape(inputs))}")
        n = len(inputs)
        if self._exactly is not None and n != self._exactly:
            raise ValueError(f"{self._who()} expects exactly {self._exactly} inputs, received {n}")
        if n < 2:
            raise ValueError(f"{self._who()} expects at least 2 inputs, received {n}")
        return list(inputs)

    def _output_shape(self, shapes: list) -> tuple:
        """Broadcast the shapes (None: unknown) as Keras's elementwise merges do."""
        rank = max(len(s) for s in shapes)
        out = []
        for dims in zip(*[(1,) * (rank - len(s)) + tuple(s) for s in shapes]):
            known = {d for d in dims if d is not None and d != 1}
            if len(known) > 1:
                raise ValueError(f"{self._who()}: inputs have incompatible shapes: received "
                                 f"{[tuple(s) for s in shapes]}")
            if known:
                out.append(known.pop())
            elif any(d is None for d in dims):
                out.append(None)
            else:
                out.append(1)
        return tuple(out)

    def build(self, input_shape: Any) -> None:
        self._output_shape(self._check_list(input_shape))
        self.built = True

    def compute_output_shape(self, input_shape: Any) -> tuple:
        return self._output_shape(self._check_list(input_shape))

    def call(self, params: dict, x: Any, training: bool = False, rng: Any = None) -> Any:
        xs = [as_input(a) for a in self._check_list(x)]
        self._output_shape(_shapes(xs))
        return self._merge(xs)

    def __call__(self, x: Any, training: bool = False, rng: Any = None, **kwargs) -> Any:
        """Apply eagerly; a wrong input is reported with the shapes received."""
        xs = self._check_list(x)
        self._output_shape(_shapes(xs))
        return super().__call__(xs, training=training, rng=rng, **kwargs)

    def _merge(self, xs: list) -> Any:
        raise NotImplementedError


class Add(_Merge):
    """y = x₁ + x₂ + … + xₖ (Keras ``Add``).

    >>> import numpy as np
    >>> Add()([np.ones((1, 2)), np.full((1, 2), 2.0)])
    array([[3., 3.]])
    """

    def _merge(self, xs):
        return reduce(lambda a, b: a + b, xs)


class Subtract(_Merge):
    """y = x₁ − x₂ (Keras ``Subtract``; exactly two inputs).

    >>> import numpy as np
    >>> Subtract()([np.ones((1, 2)), np.full((1, 2), 2.0)])
    array([[-1., -1.]])
    """

    _exactly = 2

    def _merge(self, xs):
        return xs[0] - xs[1]


class Multiply(_Merge):
    """y = x₁ ⊙ x₂ ⊙ … ⊙ xₖ (Keras ``Multiply``).

    >>> import numpy as np
    >>> Multiply()([np.full((1, 2), 3.0), np.full((1, 2), 2.0)])
    array([[6., 6.]])
    """

    def _merge(self, xs):
        return reduce(lambda a, b: a * b, xs)


class Average(_Merge):
    """y = (x₁ + … + xₖ) / k (Keras ``Average``).

    >>> import numpy as np
    >>> Average()([np.ones((1, 2)), np.full((1, 2), 2.0)])
    array([[1.5, 1.5]])
    """

    def _merge(self, xs):
        return reduce(lambda a, b: a + b, xs) * (1.0 / len(xs))


class Maximum(_Merge):
    """y = max(x₁, …, xₖ) elementwise (Keras ``Maximum``); at a tie the derivative is split
    (``nnmath.numpy.maximum``: ½ / ½ for two inputs).

    >>> import numpy as np
    >>> Maximum()([np.array([[1.0, 4.0]]), np.array([[3.0, 2.0]])])
    array([[3., 4.]])
    """

    def _merge(self, xs):
        return reduce(mnp.maximum, xs)


class Minimum(_Merge):
    """y = min(x₁, …, xₖ) elementwise (Keras ``Minimum``); ties as Maximum.

    >>> import numpy as np
    >>> Minimum()([np.array([[1.0, 4.0]]), np.array([[3.0, 2.0]])])
    array([[1., 2.]])
    """

    def _merge(self, xs):
        return reduce(mnp.minimum, xs)


class Concatenate(_Merge):
    """Concatenates the inputs along ``axis`` (Keras ``Concatenate``, default the last axis).

    Input shapes: equal except along ``axis``. Output shape: the sizes along ``axis`` added.

    >>> import numpy as np
    >>> Concatenate()([np.ones((2, 1)), np.zeros((2, 3))]).shape
    (2, 4)
    """

    def __init__(self, axis: int = -1, **kwargs):
        super().__init__(**kwargs)
        if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
            raise ValueError(f"Concatenate: `axis` must be an int, received axis={axis!r}")
        self.axis = int(axis)

    def _output_shape(self, shapes: list) -> tuple:
        rank = len(shapes[0])
        if any(len(s) != rank for s in shapes) or not -rank <= self.axis < rank:
            raise ValueError(f"{self._who()}: inputs must have the same rank, with axis={self.axis}"
                             f" inside it; received shapes {[tuple(s) for s in shapes]}")
        ax = self.axis % rank
        out = []
        for k, dims in enumerate(zip(*shapes)):
            if k == ax:
                out.append(None if any(d is None for d in dims) else sum(dims))
                continue
            known = {d for d in dims if d is not None}
            if len(known) > 1:
                raise ValueError(f"{self._who()} requires inputs with matching shapes except for "
                                 f"the concatenation axis {self.axis}; received shapes "
                                 f"{[tuple(s) for s in shapes]}")
            out.append(known.pop() if known else None)
        return tuple(out)

    def _merge(self, xs):
        return mnp.concatenate(xs, axis=self.axis)

    def get_config(self) -> dict:
        return {**super().get_config(), "axis": self.axis}
