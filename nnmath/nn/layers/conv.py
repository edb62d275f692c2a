"""Convolution layers (Keras 3 names, arguments and conventions): Conv1D, Conv2D and the
transposed Conv1DTranspose, Conv2DTranspose.

The math is the ``conv2d`` primitive of ``nnmath/nn/_conv.py`` (im2col + one GEMM, with VJP, JVP
and vmap rules to any order); Conv1D is a Conv2D over a height of 1.

Layout conventions, against PyTorch:
    input   Keras/nnmath (N, H, W, C) "channels_last" (default)   PyTorch (N, C, H, W)
    kernel  Keras/nnmath (KH, KW, C_in, C_out)                     PyTorch (C_out, C_in, KH, KW)
    'same'  TensorFlow's: output ⌈L / stride⌉, total padding split with the odd zero *after*
            (PyTorch's symmetric ``padding=`` cannot express this for even kernels).
``data_format="channels_first"`` is accepted and transposes to channels-last and back.
"""
from __future__ import annotations

from typing import Any

from ... import numpy as mnp
from .. import activations as _activations
from .. import initializers as _initializers
from .. import regularizers as _regularizers
from .._conv import (conv1d, conv1d_transpose, conv2d, conv2d_transpose, conv_output_length,
                     conv_transpose_output_length, normalize_tuple)
from .base import Layer
from .core import (activation_name, as_input, data_format_of, input_error, positive_int, resolve,
                   serialize, store_weight_args)

__all__ = ["Conv1D", "Conv2D", "Conv1DTranspose", "Conv2DTranspose"]


class _Conv(Layer):
    """What Conv1D and Conv2D share; ``rank`` is the number of spatial axes."""

    rank = 2
    _paddings = ("valid", "same")

    def __init__(self, filters: int, kernel_size: Any, strides: Any = 1, padding: str = "valid",
                 data_format: str | None = None, dilation_rate: Any = 1, activation: Any = None,
                 use_bias: bool = True, kernel_initializer: Any = "glorot_uniform",
                 bias_initializer: Any = "zeros", kernel_regularizer: Any = None,
                 bias_regularizer: Any = None, **kwargs):
        super().__init__(**kwargs)
        who = f"{type(self).__name__} {self.name!r}"
        self.filters = positive_int(filters, "filters", who)
        try:
            self.kernel_size = normalize_tuple(kernel_size, self.rank, "kernel_size")
            self.strides = normalize_tuple(strides, self.rank, "strides")
            self.dilation_rate = normalize_tuple(dilation_rate, self.rank, "dilation_rate")
        except ValueError as e:
            raise ValueError(f"{who}: {e}") from None
        mode = padding.lower() if isinstance(padding, str) else padding
        if mode not in self._paddings:
            raise ValueError(f"{who}: `padding` must be one of {', '.join(map(repr, self._paddings))}"
                             f", received padding={padding!r}")
        self.padding = mode
        self.data_format = data_format_of(data_format, who)
        self.activation = resolve(_activations, activation, "activation", who)
        self.use_bias = bool(use_bias)
        store_weight_args(self, who, kernel_initializer=kernel_initializer,
                          bias_initializer=bias_initializer, kernel_regularizer=kernel_regularizer,
                          bias_regularizer=bias_regularizer)

    # -- shapes ---------------------------------------------------------------------------------
    def _layout(self) -> str:
        spatial = ("H", "W")[-self.rank:] if self.rank == 2 else ("L",)
        names = ("N",) + spatial + ("C",) if self.data_format == "channels_last" else ("N", "C") + spatial
        return "(" + ", ".join(names) + ")"

    def _channels(self, shape: tuple) -> Any:
        return shape[-1] if self.data_format == "channels_last" else shape[1]

    def _spatial(self, shape: tuple) -> tuple:
        return tuple(shape[1:-1] if self.data_format == "channels_last" else shape[2:])

    def _check_input(self, shape: tuple, channels: Any = None) -> None:
        shape = tuple(shape)
        if len(shape) != self.rank + 2:
            raise input_error(self, f"an input of rank {self.rank + 2} {self._layout()}", shape)
        if channels is not None and self._channels(shape) != channels:
            raise input_error(self, f"{channels} input channels in {self._layout()}", shape)
        if self.padding == "valid":
            for n, k, d in zip(self._spatial(shape), self.kernel_size, self.dilation_rate):
                if n is not None and n < d * (k - 1) + 1:
                    raise input_error(self, f"spatial size ≥ the dilated kernel "
                                            f"{tuple(d * (k - 1) + 1 for k, d in zip(self.kernel_size, self.dilation_rate))}"
                                            f" with padding='valid'", shape)

    def build(self, input_shape: tuple) -> None:
        self._check_input(input_shape)
        channels = self._channels(tuple(input_shape))
        if channels is None:
            raise input_error(self, f"a known channel axis in {self._layout()}", input_shape)
        self.add_weight("kernel", self.kernel_size + (int(channels), self.filters),
                        self.kernel_initializer, self.kernel_regularizer)
        if self.use_bias:
            self.add_weight("bias", (self.filters,), self.bias_initializer, self.bias_regularizer)
        self.built = True

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        input_shape = tuple(input_shape)
        self._check_input(input_shape)
        spatial = tuple(conv_output_length(n, k, self.padding, s, d) for n, k, s, d in zip(
            self._spatial(input_shape), self.kernel_size, self.strides, self.dilation_rate))
        if self.data_format == "channels_last":
            return (input_shape[0],) + spatial + (self.filters,)
        return (input_shape[0], self.filters) + spatial

    # -- math -----------------------------------------------------------------------------------
    def call(self, params: dict, x: Any, training: bool = False, rng: Any = None) -> Any:
        x = as_input(x)
        kernel = params["kernel"]
        self._check_input(x.shape, channels=kernel.shape[-2])
        first = self.data_format == "channels_first"
        if first:
            x = mnp.moveaxis(x, 1, -1)
        conv = conv2d if self.rank == 2 else conv1d
        y = conv(x, kernel, params["bias"] if self.use_bias else None, strides=self.strides,
                 padding=self.padding, dilation_rate=self.dilation_rate)
        y = self.activation(y)
        return mnp.moveaxis(y, -1, 1) if first else y

    def get_config(self) -> dict:
        return {**super().get_config(), "filters": self.filters,
                "kernel_size": list(self.kernel_size), "strides": list(self.strides),
                "padding": self.padding, "data_format": self.data_format,
                "dilation_rate": list(self.dilation_rate),
                "activation": activation_name(self.activation), "use_bias": self.use_bias,
                "kernel_initializer": serialize(_initializers, self.kernel_initializer),
                "bias_initializer": serialize(_initializers, self.bias_initializer),
                "kernel_regularizer": serialize(_regularizers, self.kernel_regularizer),
                "bias_regularizer": serialize(_regularizers, self.bias_regularizer)}


class Conv2D(_Conv):
    """2-D convolution layer (Keras ``Conv2D``): y = activation(x ⋆ W + b), with the
    cross-correlation

        (x ⋆ W)[n,i,j,o] = Σ_{a,b,c} xₚ[n, i·sh + a·dh, j·sw + b·dw, c] · W[a,b,c,o]

    where xₚ is x zero-padded per ``padding`` ("valid": none; "same": TensorFlow's, output
    ⌈H / sh⌉ × ⌈W / sw⌉, an odd extra zero after). Strides and dilation may be combined.

    Input shape: (batch, H, W, C) (channels_last) or (batch, C, H, W) (channels_first).
    Output shape: (batch, OH, OW, filters), OH = ⌊(H − dh(KH − 1) − 1) / sh⌋ + 1 for "valid",
    ⌈H / sh⌉ for "same".

    Args:
        filters: output channels.
        kernel_size: an int or (KH, KW); the kernel has shape (KH, KW, C, filters).
        strides, dilation_rate: ints or pairs (default 1).
        padding: "valid" or "same".
        data_format: "channels_last" (default) or "channels_first".
        activation, use_bias, kernel_initializer, bias_initializer, kernel_regularizer,
            bias_regularizer: as ``Dense``.

    >>> import numpy as np
    >>> layer = Conv2D(1, 2, kernel_initializer="ones", dtype="float64")
    >>> layer(np.ones((1, 3, 3, 1)))[0, :, :, 0]
    array([[4., 4.],
           [4., 4.]])
    """

    rank = 2


class Conv1D(_Conv):
    """1-D convolution layer (Keras ``Conv1D``): y = activation(x ⋆ W + b),
    (x ⋆ W)[n,i,o] = Σ_{a,c} xₚ[n, i·s + a·d, c] · W[a,c,o], computed as a Conv2D over a height of 1.

    ``padding``: "valid", "same" (TensorFlow's) or "causal" (d(K − 1) zeros before the sequence,
    so y[i] sees only x[≤ i]).

    Input shape: (batch, L, C) (channels_last) or (batch, C, L). Output shape: (batch, OL, filters).

    >>> import numpy as np
    >>> layer = Conv1D(1, 2, padding="causal", kernel_initializer="ones", dtype="float64")
    >>> layer(np.arange(4.0).reshape(1, 4, 1))[0, :, 0]
    array([0., 1., 3., 5.])
    """

    rank = 1
    _paddings = ("valid", "same", "causal")


class _ConvTranspose(_Conv):
    """What Conv1DTranspose and Conv2DTranspose share: the kernel is (…, filters, C_in)."""

    _paddings = ("valid", "same")

    def __init__(self, filters: int, kernel_size: Any, strides: Any = 1, padding: str = "valid",
                 output_padding: Any = None, data_format: str | None = None,
                 dilation_rate: Any = 1, **kwargs):
        super().__init__(filters, kernel_size, strides=strides, padding=padding,
                         data_format=data_format, dilation_rate=dilation_rate, **kwargs)
        who = f"{type(self).__name__} {self.name!r}"
        if output_padding is None:
            self.output_padding = None
        else:
            try:
                self.output_padding = normalize_tuple(output_padding, self.rank, "output_padding",
                                                      allow_zero=True)
            except ValueError as e:
                raise ValueError(f"{who}: {e}") from None
            if any(p >= s for p, s in zip(self.output_padding, self.strides)):
                raise ValueError(f"{who}: `output_padding` must be smaller than `strides` "
                                 f"{self.strides} on every axis, received "
                                 f"output_padding={output_padding!r}")

    def _check_input(self, shape: tuple, channels: Any = None) -> None:
        shape = tuple(shape)
        if len(shape) != self.rank + 2:
            raise input_error(self, f"an input of rank {self.rank + 2} {self._layout()}", shape)
        if channels is not None and self._channels(shape) != channels:
            raise input_error(self, f"{channels} input channels in {self._layout()}", shape)

    def build(self, input_shape: tuple) -> None:
        self._check_input(input_shape)
        channels = self._channels(tuple(input_shape))
        if channels is None:
            raise input_error(self, f"a known channel axis in {self._layout()}", input_shape)
        self.add_weight("kernel", self.kernel_size + (self.filters, int(channels)),
                        self.kernel_initializer, self.kernel_regularizer)
        if self.use_bias:
            self.add_weight("bias", (self.filters,), self.bias_initializer, self.bias_regularizer)
        self.built = True

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        input_shape = tuple(input_shape)
        self._check_input(input_shape)
        ops = self.output_padding or (None,) * self.rank
        spatial = tuple(conv_transpose_output_length(n, k, self.padding, s, d, p)
                        for n, k, s, d, p in zip(self._spatial(input_shape), self.kernel_size,
                                                 self.strides, self.dilation_rate, ops))
        if self.data_format == "channels_last":
            return (input_shape[0],) + spatial + (self.filters,)
        return (input_shape[0], self.filters) + spatial

    def call(self, params: dict, x: Any, training: bool = False, rng: Any = None) -> Any:
        x = as_input(x)
        kernel = params["kernel"]
        self._check_input(x.shape, channels=kernel.shape[-1])
        first = self.data_format == "channels_first"
        if first:
            x = mnp.moveaxis(x, 1, -1)
        op = conv2d_transpose if self.rank == 2 else conv1d_transpose
        y = op(x, kernel, params["bias"] if self.use_bias else None, strides=self.strides,
               padding=self.padding, dilation_rate=self.dilation_rate,
               output_padding=self.output_padding)
        y = self.activation(y)
        return mnp.moveaxis(y, -1, 1) if first else y

    def get_config(self) -> dict:
        return {**super().get_config(), "output_padding": None if self.output_padding is None
                else list(self.output_padding)}


class Conv2DTranspose(_ConvTranspose):
    """Transposed 2-D convolution (Keras ``Conv2DTranspose``; "deconvolution", Dumoulin & Visin
    2016 §4): y = activation(x ⋆ᵀ W + b), where x ↦ x ⋆ᵀ W is the adjoint of the convolution
    u ↦ u ⋆ W of an output-sized u (the gradient of Conv2D with respect to its input):

        y[n, i·sh + a·dh − top, j·sw + b·dw − left, o] += x[n,i,j,c] · W[a,b,o,c]

    The kernel has shape (KH, KW, filters, C) — output channels first, as Keras.

    Input shape: (batch, H, W, C) (or channels_first).
    Output shape: (batch, OH, OW, filters), OH = H·sh + max(KH' − sh, 0) ("valid") or H·sh
    ("same"), KH' = dh(KH − 1) + 1; with ``output_padding`` p: (H − 1)·sh + KH' − 2·pad + p,
    pad = 0 ("valid") or ⌊KH'/2⌋ ("same").

    Args:
        filters, kernel_size, strides, padding ("valid" or "same"), data_format, dilation_rate,
            activation, use_bias, kernel_initializer, bias_initializer, kernel_regularizer,
            bias_regularizer: as ``Conv2D``.
        output_padding: None or an int / pair < strides: extra rows/columns at the end.

    >>> import numpy as np
    >>> layer = Conv2DTranspose(1, 2, strides=2, kernel_initializer="ones", dtype="float64")
    >>> layer(np.ones((1, 2, 2, 1))).shape
    (1, 4, 4, 1)
    """

    rank = 2


class Conv1DTranspose(_ConvTranspose):
    """Transposed 1-D convolution (Keras ``Conv1DTranspose``): the adjoint of Conv1D with respect
    to its input, y[n, i·s + a·d − left, o] += x[n,i,c] · W[a,o,c]; kernel (K, filters, C).

    Input shape: (batch, L, C). Output shape: (batch, OL, filters), OL as ``Conv2DTranspose``.

    >>> import numpy as np
    >>> layer = Conv1DTranspose(1, 3, strides=2, kernel_initializer="ones", dtype="float64")
    >>> layer(np.ones((1, 2, 1)))[0, :, 0]
    array([1., 1., 2., 1., 1.])
    """

    rank = 1
