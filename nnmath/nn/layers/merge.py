"""Merge layers (Keras 3 names): Add, Subtract, Multiply, Average, Maximum, Minimum, Concatenate,
Dot, and Keras's functional helpers ``add``, ``subtract``, ``multiply``, ``average``, ``maximum``,
``minimum``, ``concatenate``, ``dot`` (``layers.add([a, b])`` ≡ ``layers.Add()([a, b])``).

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

__all__ = ["Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Concatenate", "Dot",
           "add", "subtract", "multiply", "average", "maximum", "minimum", "concatenate", "dot"]


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

    def compute_mask(self, x: Any, mask: Any = None) -> Any:
        """Keras 3's merge mask (``base_merge.py``): a step is real where it is real in *any*
        input (the OR of the masks); None as soon as one input has no mask."""
        if mask is None:
            return None
        masks = list(mask) if isinstance(mask, (list, tuple)) else [mask]
        if any(m is None for m in masks):
            return None
        return reduce(mnp.logical_or, masks)


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

    def compute_mask(self, x: Any, mask: Any = None) -> Any:
        """Keras 3's (``concatenate.py``): the masks concatenated as the inputs are (an input
        without one counts as all real; a (batch, time) mask is broadcast over the features),
        then OR over the last axis."""
        if mask is None:
            return None
        masks = list(mask) if isinstance(mask, (list, tuple)) else [mask]
        if all(m is None for m in masks):
            return None
        xs = self._check_list(x)
        full = []
        for xi, mi in zip(xs, masks):
            shape = tuple(np.shape(xi))
            if mi is None:
                full.append(np.ones(shape, bool))
            elif np.ndim(mi) < len(shape):
                full.append(mnp.logical_or(mnp.expand_dims(mi, -1), np.zeros(shape, bool)))
            else:
                full.append(mi)
        return mnp.any(mnp.concatenate(full, axis=self.axis), axis=-1)

    def get_config(self) -> dict:
        return {**super().get_config(), "axis": self.axis}


class Dot(_Merge):
    """Dot product of two inputs along ``axes`` (Keras ``Dot``), per example:
    y[b] = Σ_k x₁[b, …, k, …] x₂[b, …, k, …] over the paired axes; with ``normalize=True`` each
    input is first L2-normalised along its axis, so y is the cosine similarity.

    Input shapes: two tensors (batch, …). Output shape: the remaining axes of x₁ then of x₂
    ((batch, 1) for two (batch, d) inputs).

    Args:
        axes: an int (the same axis of both) or a pair, not the batch axis 0.
        normalize: L2-normalise first.

    >>> import numpy as np
    >>> Dot(axes=1)([np.array([[1.0, 2.0]]), np.array([[3.0, 4.0]])])
    array([[11.]])
    """

    _exactly = 2

    def __init__(self, axes: Any, normalize: bool = False, **kwargs):
        super().__init__(**kwargs)
        try:
            pair = (int(axes), int(axes)) if np.ndim(axes) == 0 else tuple(int(a) for a in axes)
        except (TypeError, ValueError):
            pair = ()
        if len(pair) != 2 or isinstance(axes, bool):
            raise ValueError(f"Dot: `axes` must be an int or a pair of ints, received axes={axes!r}")
        self.axes, self.normalize = pair, bool(normalize)

    def _axes(self, shapes: list) -> tuple:
        out = []
        for a, s in zip(self.axes, shapes):
            if not -len(s) <= a < len(s) or a % len(s) == 0:
                raise ValueError(f"{self._who()}: axes={self.axes} must name non-batch axes of the "
                                 f"inputs; received shapes {[tuple(v) for v in shapes]}")
            out.append(a % len(s))
        return tuple(out)

    def _output_shape(self, shapes: list) -> tuple:
        a1, a2 = self._axes(shapes)
        s1, s2 = tuple(shapes[0]), tuple(shapes[1])
        if s1[a1] is not None and s2[a2] is not None and s1[a1] != s2[a2]:
            raise ValueError(f"{self._who()}: incompatible input shapes {s1} and {s2}: axis {a1} "
                             f"of the first ({s1[a1]}) must equal axis {a2} of the second "
                             f"({s2[a2]})")
        rest = s1[1:a1] + s1[a1 + 1:] + s2[1:a2] + s2[a2 + 1:]
        return (s1[0],) + (rest or (1,))

    def _merge(self, xs):
        a1, a2 = self._axes(_shapes(xs))
        x1, x2 = xs
        if self.normalize:
            x1 = x1 / mnp.maximum(mnp.sqrt(mnp.sum(x1 * x1, axis=a1, keepdims=True)), 1e-12)
            x2 = x2 / mnp.maximum(mnp.sqrt(mnp.sum(x2 * x2, axis=a2, keepdims=True)), 1e-12)
        r1, r2 = x1.ndim, x2.ndim
        letters = "abcdefghijklmnopqrstuvwxyz"
        i1 = list(letters[:r1])
        i2 = ["a"] + list(letters[r1:r1 + r2 - 1])
        i2[a2] = i1[a1]
        out = i1[:a1] + i1[a1 + 1:] + [c for k, c in enumerate(i2) if k not in (0, a2)]
        y = mnp.einsum(f"{''.join(i1)},{''.join(i2)}->{''.join(out)}", x1, x2)
        return mnp.reshape(y, (y.shape[0], 1)) if y.ndim == 1 else y

    def get_config(self) -> dict:
        return {**super().get_config(), "axes": list(self.axes), "normalize": self.normalize}

    def compute_mask(self, x: Any, mask: Any = None) -> Any:
        """None: a dot product has no time axis left to mask (Keras 3's ``Dot``)."""
        return None


def _functional(cls, doc: str):
    def helper(inputs: list, **kwargs):
        return cls(**kwargs)(inputs)
    helper.__name__ = helper.__qualname__ = cls.__name__.lower()
    helper.__doc__ = (f"``{cls.__name__}(**kwargs)(inputs)``: {doc} (Keras's functional interface "
                      f"``keras.layers.{cls.__name__.lower()}``).")
    return helper


add = _functional(Add, "the elementwise sum of the inputs")
subtract = _functional(Subtract, "the difference of two inputs")
multiply = _functional(Multiply, "the elementwise product of the inputs")
average = _functional(Average, "the elementwise mean of the inputs")
maximum = _functional(Maximum, "the elementwise maximum of the inputs")
minimum = _functional(Minimum, "the elementwise minimum of the inputs")


def concatenate(inputs: list, axis: int = -1, **kwargs):
    """``Concatenate(axis=axis, **kwargs)(inputs)`` (Keras's ``keras.layers.concatenate``).

    >>> import numpy as np
    >>> concatenate([np.ones((1, 1)), np.zeros((1, 2))])
    array([[1., 0., 0.]])
    """
    return Concatenate(axis=axis, **kwargs)(inputs)


def dot(inputs: list, axes: Any = -1, normalize: bool = False, **kwargs):
    """``Dot(axes, normalize, **kwargs)(inputs)`` (Keras's ``keras.layers.dot``)."""
    return Dot(axes=axes, normalize=normalize, **kwargs)(inputs)
