"""Reshaping layers (Keras 3 names and arguments): UpSampling1D/2D, ZeroPadding1D/2D,
Cropping1D/2D, RepeatVector, Permute.

All are linear maps of the input written with ``nnmath.numpy`` (gathers, pads, slices, one
einsum for bilinear upsampling), so their derivatives are their transposes and every transform
applies. Layout: channels last by default; ``data_format="channels_first"`` where Keras has it.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ... import numpy as mnp
from .._conv import normalize_tuple
from .base import Layer
from .core import as_input, data_format_of, input_error, positive_int

__all__ = ["UpSampling1D", "UpSampling2D", "ZeroPadding1D", "ZeroPadding2D", "Cropping1D",
           "Cropping2D", "RepeatVector", "Permute"]


def _pairs(value: Any, n: int, arg: str, who: str) -> tuple:
    """Keras's padding / cropping argument as n (before, after) pairs of ints ≥ 0: an int (all
    sides), n ints (symmetric per axis) or n pairs."""
    try:
        if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
            out = ((int(value), int(value)),) * n
        elif n == 1 and len(value) == 2 and all(np.ndim(v) == 0 for v in value):
            out = ((int(value[0]), int(value[1])),)
        elif len(value) == n and all(np.ndim(v) == 0 for v in value):
            out = tuple((int(v), int(v)) for v in value)
        elif len(value) == n:
            out = tuple((int(a), int(b)) for a, b in value)
        else:
            out = ()
    except (TypeError, ValueError):
        out = ()
    if len(out) != n or any(v < 0 for p in out for v in p):
        form = "an int or a pair (before, after)" if n == 1 else \
            f"an int, {n} ints or {n} pairs ((before, after), …)"
        raise ValueError(f"{who}: `{arg}` must be {form} of non-negative ints, received "
                         f"{arg}={value!r}")
    return out


def _spatial_axes(rank: int, data_format: str) -> tuple:
    return tuple(range(1, rank + 1)) if data_format == "channels_last" else \
        tuple(range(2, rank + 2))


def _bilinear_matrix(n_in: int, scale: int) -> np.ndarray:
    """(n_in·scale, n_in) weights of half-pixel bilinear upsampling (``align_corners=False`` in
    PyTorch, TensorFlow's and JAX's ``resize``): source = (i + ½)/scale − ½, clamped to the edges."""
    out = n_in * scale
    src = np.clip((np.arange(out) + 0.5) / scale - 0.5, 0.0, n_in - 1)
    lo = np.floor(src).astype(int)
    hi = np.minimum(lo + 1, n_in - 1)
    w = src - lo
    a = np.zeros((out, n_in))
    np.add.at(a, (np.arange(out), lo), 1.0 - w)
    np.add.at(a, (np.arange(out), hi), w)
    return a


class _UpSampling(Layer):
    rank = 2

    def __init__(self, size: Any = 2, data_format: str | None = None,
                 interpolation: str = "nearest", **kwargs):
        super().__init__(**kwargs)
        who = f"{type(self).__name__} {self.name!r}"
        try:
            self.size = normalize_tuple(size, self.rank, "size")
        except ValueError as e:
            raise ValueError(f"{who}: {e}") from None
        self.data_format = data_format_of(data_format, who)
        if interpolation not in ("nearest", "bilinear"):
            raise ValueError(f"{who}: `interpolation` must be 'nearest' or 'bilinear', received "
                             f"interpolation={interpolation!r}")
        self.interpolation = interpolation

    def call(self, params: dict, x: Any, training: bool = False, rng: Any = None) -> Any:
        x = as_input(x)
        if x.ndim != self.rank + 2:
            raise input_error(self, f"an input of rank {self.rank + 2}", x.shape)
        for axis, s in zip(_spatial_axes(self.rank, self.data_format), self.size):
            if s == 1:
                continue
            if self.interpolation == "nearest":
                x = mnp.repeat(x, s, axis=axis)
            else:
                a = _bilinear_matrix(x.shape[axis], s).astype(x.dtype)
                x = mnp.moveaxis(mnp.tensordot(a, mnp.moveaxis(x, axis, 0), axes=1), 0, axis)
        return x

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        out = list(input_shape)
        for axis, s in zip(_spatial_axes(self.rank, self.data_format), self.size):
            out[axis] = None if out[axis] is None else out[axis] * s
        return tuple(out)

    def get_config(self) -> dict:
        cfg = {**super().get_config(), "size": list(self.size), "data_format": self.data_format,
               "interpolation": self.interpolation}
        if self.rank == 1:
            cfg.pop("data_format")
            cfg.pop("interpolation")
            cfg["size"] = self.size[0]
        return cfg


class UpSampling2D(_UpSampling):
    """Upsamples rows and columns by ``size`` (Keras ``UpSampling2D``).

    "nearest": y[n, i, j, c] = x[n, ⌊i / sh⌋, ⌊j / sw⌋, c] (each value repeated).
    "bilinear": y = A_h · x · A_wᵀ per channel, A the half-pixel interpolation weights (as
    ``torch.nn.functional.interpolate(mode="bilinear", align_corners=False)``).

    Input shape: (batch, H, W, C) (or channels_first). Output shape: (batch, H·sh, W·sw, C).

    >>> import numpy as np
    >>> UpSampling2D()(np.arange(4.0).reshape(1, 2, 2, 1))[0, :, :, 0]
    array([[0., 0., 1., 1.],
           [0., 0., 1., 1.],
           [2., 2., 3., 3.],
           [2., 2., 3., 3.]])
    """

    rank = 2


class UpSampling1D(_UpSampling):
    """Repeats each time step ``size`` times (Keras ``UpSampling1D``): y[n, i, c] = x[n, ⌊i/s⌋, c].

    Input shape: (batch, steps, features). Output shape: (batch, steps·size, features).

    >>> import numpy as np
    >>> UpSampling1D(size=3)(np.array([[[1.0], [2.0]]]))[0, :, 0]
    array([1., 1., 1., 2., 2., 2.])
    """

    rank = 1

    def __init__(self, size: int = 2, **kwargs):
        super().__init__(size=size, **kwargs)


class _ZeroPadding(Layer):
    rank = 2

    def __init__(self, padding: Any = 1, data_format: str | None = None, **kwargs):
        super().__init__(**kwargs)
        who = f"{type(self).__name__} {self.name!r}"
        self.padding = _pairs(padding, self.rank, "padding", who)
        self.data_format = data_format_of(data_format, who)

    def _widths(self, ndim: int) -> list:
        widths = [(0, 0)] * ndim
        for axis, p in zip(_spatial_axes(self.rank, self.data_format), self.padding):
            widths[axis] = p
        return widths

    def call(self, params: dict, x: Any, training: bool = False, rng: Any = None) -> Any:
        x = as_input(x)
        if x.ndim != self.rank + 2:
            raise input_error(self, f"an input of rank {self.rank + 2}", x.shape)
        return mnp.pad(x, self._widths(x.ndim))

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return tuple(None if n is None else n + a + b
                     for n, (a, b) in zip(input_shape, self._widths(len(input_shape))))

    def get_config(self) -> dict:
        cfg = {**super().get_config(), "padding": [list(p) for p in self.padding],
               "data_format": self.data_format}
        if self.rank == 1:
            cfg.pop("data_format")
            cfg["padding"] = list(self.padding[0])
        return cfg


class ZeroPadding2D(_ZeroPadding):
    """Adds rows and columns of zeros (Keras ``ZeroPadding2D``).

    Args:
        padding: an int (all four sides), (h, w) (symmetric) or ((top, bottom), (left, right)).

    Input shape: (batch, H, W, C). Output shape: (batch, H + top + bottom, W + left + right, C).

    >>> import numpy as np
    >>> ZeroPadding2D(((0, 1), (1, 0)))(np.ones((1, 1, 1, 1)))[0, :, :, 0]
    array([[0., 1.],
           [0., 0.]])
    """

    rank = 2


class ZeroPadding1D(_ZeroPadding):
    """Adds zeros at the start and end of the time axis (Keras ``ZeroPadding1D``).

    Args:
        padding: an int (both ends) or (left, right).

    Input shape: (batch, steps, features). Output shape: (batch, left + steps + right, features).

    >>> import numpy as np
    >>> ZeroPadding1D((1, 2))(np.ones((1, 1, 1)))[0, :, 0]
    array([0., 1., 0., 0.])
    """

    rank = 1

    def __init__(self, padding: Any = 1, **kwargs):
        super().__init__(padding=padding, **kwargs)


class _Cropping(Layer):
    rank = 2

    def __init__(self, cropping: Any = 0, data_format: str | None = None, **kwargs):
        super().__init__(**kwargs)
        who = f"{type(self).__name__} {self.name!r}"
        self.cropping = _pairs(cropping, self.rank, "cropping", who)
        self.data_format = data_format_of(data_format, who)

    def _check(self, shape: tuple) -> None:
        if len(shape) != self.rank + 2:
            raise input_error(self, f"an input of rank {self.rank + 2}", shape)
        for axis, (a, b) in zip(_spatial_axes(self.rank, self.data_format), self.cropping):
            if shape[axis] is not None and a + b >= shape[axis]:
                raise input_error(self, f"axis {axis} longer than the cropping {a} + {b} "
                                        f"(cropping={self.cropping})", shape)

    def call(self, params: dict, x: Any, training: bool = False, rng: Any = None) -> Any:
        x = as_input(x)
        self._check(tuple(x.shape))
        index = [slice(None)] * x.ndim
        for axis, (a, b) in zip(_spatial_axes(self.rank, self.data_format), self.cropping):
            index[axis] = slice(a, x.shape[axis] - b)
        return x[tuple(index)]

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        input_shape = tuple(input_shape)
        self._check(input_shape)
        out = list(input_shape)
        for axis, (a, b) in zip(_spatial_axes(self.rank, self.data_format), self.cropping):
            out[axis] = None if out[axis] is None else out[axis] - a - b
        return tuple(out)

    def get_config(self) -> dict:
        cfg = {**super().get_config(), "cropping": [list(p) for p in self.cropping],
               "data_format": self.data_format}
        if self.rank == 1:
            cfg.pop("data_format")
            cfg["cropping"] = list(self.cropping[0])
        return cfg


class Cropping2D(_Cropping):
    """Crops rows and columns (Keras ``Cropping2D``).

    Args:
        cropping: an int, (h, w) (symmetric) or ((top, bottom), (left, right)).

    Input shape: (batch, H, W, C). Output shape: (batch, H − top − bottom, W − left − right, C).

    >>> import numpy as np
    >>> Cropping2D(((1, 0), (0, 1)))(np.arange(9.0).reshape(1, 3, 3, 1))[0, :, :, 0]
    array([[3., 4.],
           [6., 7.]])
    """

    rank = 2


class Cropping1D(_Cropping):
    """Crops the start and end of the time axis (Keras ``Cropping1D``).

    Args:
        cropping: an int (both ends) or (start, end); default (1, 1).

    Input shape: (batch, steps, features). Output shape: (batch, steps − start − end, features).

    >>> import numpy as np
    >>> Cropping1D()(np.arange(4.0).reshape(1, 4, 1))[0, :, 0]
    array([1., 2.])
    """

    rank = 1

    def __init__(self, cropping: Any = (1, 1), **kwargs):
        super().__init__(cropping=cropping, **kwargs)


class RepeatVector(Layer):
    """Repeats the input n times along a new time axis (Keras ``RepeatVector``):
    y[b, t, f] = x[b, f].

    Input shape: (batch, features). Output shape: (batch, n, features).

    >>> import numpy as np
    >>> RepeatVector(2)(np.array([[1.0, 2.0]]))
    array([[[1., 2.],
            [1., 2.]]])
    """

    def __init__(self, n: int, **kwargs):
        super().__init__(**kwargs)
        self.n = positive_int(n, "n", f"RepeatVector {self.name!r}")

    def call(self, params: dict, x: Any, training: bool = False, rng: Any = None) -> Any:
        x = as_input(x)
        if x.ndim != 2:
            raise input_error(self, "an input of rank 2 (batch, features)", x.shape)
        return mnp.broadcast_to(mnp.expand_dims(x, 1), (x.shape[0], self.n, x.shape[1]))

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        if len(input_shape) != 2:
            raise input_error(self, "an input of rank 2 (batch, features)", input_shape)
        return (input_shape[0], self.n, input_shape[1])

    def get_config(self) -> dict:
        return {**super().get_config(), "n": self.n}


class Permute(Layer):
    """Permutes the non-batch axes (Keras ``Permute``): ``dims`` is a permutation of 1 … rank − 1
    (1-based, the batch axis 0 stays first); y = transpose(x, (0, *dims)).

    Input shape: (batch, d₁, …, dₖ). Output shape: (batch, d_dims[0], …).

    >>> import numpy as np
    >>> Permute((2, 1))(np.zeros((4, 2, 3))).shape
    (4, 3, 2)
    """

    def __init__(self, dims: Any, **kwargs):
        super().__init__(**kwargs)
        try:
            dims = tuple(int(d) for d in dims)
        except (TypeError, ValueError):
            dims = ()
        if not dims or sorted(dims) != list(range(1, len(dims) + 1)):
            raise ValueError(f"Permute {self.name!r}: `dims` must be a permutation of the axes "
                             f"1 … rank − 1 (1-based, without the batch axis), received "
                             f"dims={dims!r}")
        self.dims = dims

    def call(self, params: dict, x: Any, training: bool = False, rng: Any = None) -> Any:
        x = as_input(x)
        if x.ndim != len(self.dims) + 1:
            raise input_error(self, f"an input of rank {len(self.dims) + 1} (dims={self.dims})",
                              x.shape)
        return mnp.transpose(x, (0,) + self.dims)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        input_shape = tuple(input_shape)
        if len(input_shape) != len(self.dims) + 1:
            raise input_error(self, f"an input of rank {len(self.dims) + 1} (dims={self.dims})",
                              input_shape)
        return (input_shape[0],) + tuple(input_shape[d] for d in self.dims)

    def get_config(self) -> dict:
        return {**super().get_config(), "dims": list(self.dims)}
