"""Pooling layers (Keras 3 names and arguments): MaxPooling1D/2D, AveragePooling1D/2D,
GlobalAveragePooling1D/2D, GlobalMaxPooling1D/2D.

Windowed pooling uses the primitives of ``nnmath/nn/_pooling.py`` (strided views, no copies of
windows); the 1-D layers pool a height of 1. Conventions:
    * ``strides=None`` means strides = pool_size; "valid" drops the rows/columns that do not fill a
      window; "same" pads as TensorFlow (output ⌈L / stride⌉, an odd extra row/column after).
    * Max pooling: padding never wins (−∞); at a tie the derivative goes to the *first* maximum
      of the window in row-major order (as PyTorch, TensorFlow and JAX).
    * Average pooling with "same": the mean of the window's elements inside the input (padding is
      not counted, as Keras/TensorFlow; PyTorch's ``count_include_pad=False``).
    * Global max pooling uses ``nnmath.numpy.max``, which splits the derivative equally among tied
      maxima.
"""
from __future__ import annotations

from typing import Any

from ... import numpy as mnp
from .._conv import conv_output_length, normalize_tuple
from .._pooling import avg_pool2d, max_pool2d
from .base import Layer
from .core import as_input, data_format_of, input_error

__all__ = ["MaxPooling1D", "MaxPooling2D", "AveragePooling1D", "AveragePooling2D",
           "GlobalAveragePooling1D", "GlobalAveragePooling2D", "GlobalMaxPooling1D",
           "GlobalMaxPooling2D"]


class _Pooling(Layer):
    """What the windowed pooling layers share; ``rank`` spatial axes, ``_op`` the 2-D function."""

    rank = 2
    _op = None

    def __init__(self, pool_size: Any = 2, strides: Any = None, padding: str = "valid",
                 data_format: str | None = None, **kwargs):
        super().__init__(**kwargs)
        who = f"{type(self).__name__} {self.name!r}"
        try:
            self.pool_size = normalize_tuple(pool_size, self.rank, "pool_size")
            self.strides = self.pool_size if strides is None else normalize_tuple(
                strides, self.rank, "strides")
        except ValueError as e:
            raise ValueError(f"{who}: {e}") from None
        mode = padding.lower() if isinstance(padding, str) else padding
        if mode not in ("valid", "same"):
            raise ValueError(f"{who}: `padding` must be 'valid' or 'same', received padding={padding!r}")
        self.padding = mode
        self.data_format = data_format_of(data_format, who)

    def _spatial(self, shape: tuple) -> tuple:
        return tuple(shape[1:-1] if self.data_format == "channels_last" else shape[2:])

    def _check_input(self, shape: tuple) -> None:
        shape = tuple(shape)
        if len(shape) != self.rank + 2:
            raise input_error(self, f"an input of rank {self.rank + 2}", shape)
        if self.padding == "valid" and any(n is not None and n < k for n, k in zip(
                self._spatial(shape), self.pool_size)):
            raise input_error(self, f"spatial size ≥ pool_size {self.pool_size} with "
                                    f"padding='valid'", shape)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        input_shape = tuple(input_shape)
        self._check_input(input_shape)
        spatial = tuple(conv_output_length(n, k, self.padding, s) for n, k, s in zip(
            self._spatial(input_shape), self.pool_size, self.strides))
        if self.data_format == "channels_last":
            return (input_shape[0],) + spatial + (input_shape[-1],)
        return (input_shape[0], input_shape[1]) + spatial

    def call(self, params: dict, x: Any, training: bool = False, rng: Any = None) -> Any:
        x = as_input(x)
        self._check_input(x.shape)
        first = self.data_format == "channels_first"
        if first:
            x = mnp.moveaxis(x, 1, -1)
        op = type(self)._op
        if self.rank == 1:
            y = mnp.squeeze(op(mnp.expand_dims(x, 1), (1,) + self.pool_size, (1,) + self.strides,
                               self.padding), 1)
        else:
            y = op(x, self.pool_size, self.strides, self.padding)
        return mnp.moveaxis(y, -1, 1) if first else y

    def get_config(self) -> dict:
        return {**super().get_config(), "pool_size": list(self.pool_size),
                "strides": list(self.strides), "padding": self.padding,
                "data_format": self.data_format}


class MaxPooling2D(_Pooling):
    """Max pooling over 2-D windows (Keras ``MaxPooling2D``):
    y[n,i,j,c] = max_{0≤a<p, 0≤b<q} xₚ[n, i·sh + a, j·sw + b, c].

    The derivative goes to the first maximum of each window (row-major), as PyTorch/TensorFlow.

    Input shape: (batch, H, W, C). Output shape: (batch, OH, OW, C) with OH = ⌊(H − p)/sh⌋ + 1
    ("valid") or ⌈H / sh⌉ ("same").

    >>> import numpy as np
    >>> MaxPooling2D()(np.arange(16.0).reshape(1, 4, 4, 1))[0, :, :, 0]
    array([[ 5.,  7.],
           [13., 15.]])
    """

    rank = 2
    _op = staticmethod(max_pool2d)


class AveragePooling2D(_Pooling):
    """Average pooling over 2-D windows (Keras ``AveragePooling2D``): the mean of each window's
    elements that lie inside x (with "same", padding is not counted).

    Input shape: (batch, H, W, C). Output shape: as MaxPooling2D.

    >>> import numpy as np
    >>> AveragePooling2D()(np.arange(16.0).reshape(1, 4, 4, 1))[0, :, :, 0]
    array([[ 2.5,  4.5],
           [10.5, 12.5]])
    """

    rank = 2
    _op = staticmethod(avg_pool2d)


class MaxPooling1D(_Pooling):
    """Max pooling over 1-D windows (Keras ``MaxPooling1D``): y[n,i,c] = max_a xₚ[n, i·s + a, c].

    Input shape: (batch, L, C). Output shape: (batch, OL, C).

    >>> import numpy as np
    >>> MaxPooling1D()(np.array([[[1.0], [3.0], [2.0], [0.0]]]))[0, :, 0]
    array([3., 2.])
    """

    rank = 1
    _op = staticmethod(max_pool2d)


class AveragePooling1D(_Pooling):
    """Average pooling over 1-D windows (Keras ``AveragePooling1D``).

    Input shape: (batch, L, C). Output shape: (batch, OL, C).

    >>> import numpy as np
    >>> AveragePooling1D()(np.array([[[1.0], [3.0], [2.0], [0.0]]]))[0, :, 0]
    array([2., 1.])
    """

    rank = 1
    _op = staticmethod(avg_pool2d)


class _GlobalPooling(Layer):
    """Reduce over every spatial axis; ``keepdims`` keeps them with size 1 (Keras)."""

    rank = 2
    _reduce = None

    def __init__(self, data_format: str | None = None, keepdims: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.data_format = data_format_of(data_format, f"{type(self).__name__} {self.name!r}")
        self.keepdims = bool(keepdims)

    def _axes(self) -> tuple:
        return tuple(range(1, self.rank + 1)) if self.data_format == "channels_last" else \
            tuple(range(2, self.rank + 2))

    def call(self, params: dict, x: Any, training: bool = False, rng: Any = None) -> Any:
        x = as_input(x)
        if x.ndim != self.rank + 2:
            raise input_error(self, f"an input of rank {self.rank + 2}", x.shape)
        return type(self)._reduce(x, axis=self._axes(), keepdims=self.keepdims)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        input_shape = tuple(input_shape)
        if len(input_shape) != self.rank + 2:
            raise input_error(self, f"an input of rank {self.rank + 2}", input_shape)
        axes = self._axes()
        if self.keepdims:
            return tuple(1 if k in axes else n for k, n in enumerate(input_shape))
        return tuple(n for k, n in enumerate(input_shape) if k not in axes)

    def get_config(self) -> dict:
        return {**super().get_config(), "data_format": self.data_format, "keepdims": self.keepdims}


class GlobalAveragePooling2D(_GlobalPooling):
    """y[n,c] = mean_{i,j} x[n,i,j,c] (Keras ``GlobalAveragePooling2D``).

    Input shape: (batch, H, W, C). Output shape: (batch, C), or (batch, 1, 1, C) with keepdims.

    >>> import numpy as np
    >>> GlobalAveragePooling2D()(np.arange(8.0).reshape(1, 2, 2, 2))
    array([[3., 4.]])
    """

    rank = 2
    _reduce = staticmethod(mnp.mean)


class GlobalMaxPooling2D(_GlobalPooling):
    """y[n,c] = max_{i,j} x[n,i,j,c] (Keras ``GlobalMaxPooling2D``); tied maxima share the
    derivative equally (``nnmath.numpy.max``).

    >>> import numpy as np
    >>> GlobalMaxPooling2D()(np.arange(8.0).reshape(1, 2, 2, 2))
    array([[6., 7.]])
    """

    rank = 2
    _reduce = staticmethod(mnp.max)


class GlobalAveragePooling1D(_GlobalPooling):
    """y[n,c] = mean_i x[n,i,c] (Keras ``GlobalAveragePooling1D``).

    With a ``mask`` (batch, steps), True for real steps (``Embedding(mask_zero=True)``), the mean
    is over the real steps only, as Keras: y[n,c] = Σᵢ m[n,i] x[n,i,c] / Σᵢ m[n,i]. The output has
    no mask.

    Input shape: (batch, steps, features) (or channels_first). Output shape: (batch, features).

    >>> import numpy as np
    >>> GlobalAveragePooling1D()(np.arange(4.0).reshape(1, 2, 2))
    array([[1., 2.]])
    >>> GlobalAveragePooling1D()(np.arange(4.0).reshape(1, 2, 2), mask=np.array([[True, False]]))
    array([[0., 1.]])
    """

    rank = 1
    _reduce = staticmethod(mnp.mean)

    def call(self, params: dict, x: Any, training: bool = False, rng: Any = None,
             mask: Any = None) -> Any:
        if mask is None:
            return super().call(params, x, training=training, rng=rng)
        x = as_input(x)
        if x.ndim != 3:
            raise input_error(self, "an input of rank 3", x.shape)
        from .masking import step_mask
        xt = mnp.moveaxis(x, 1, 2) if self.data_format == "channels_first" else x
        m = mnp.astype(step_mask(mask, tuple(xt.shape), f"layer {self.name!r}"), xt.dtype)
        m = mnp.expand_dims(m, -1)
        y = mnp.sum(xt * m, axis=1, keepdims=self.keepdims) / mnp.sum(m, axis=1, keepdims=self.keepdims)
        if self.keepdims and self.data_format == "channels_first":
            y = mnp.moveaxis(y, 2, 1)
        return y

    def compute_mask(self, x: Any, mask: Any = None) -> Any:
        return None


class GlobalMaxPooling1D(_GlobalPooling):
    """y[n,c] = max_i x[n,i,c] (Keras ``GlobalMaxPooling1D``).

    >>> import numpy as np
    >>> GlobalMaxPooling1D()(np.arange(4.0).reshape(1, 2, 2))
    array([[2., 3.]])
    """

    rank = 1
    _reduce = staticmethod(mnp.max)
