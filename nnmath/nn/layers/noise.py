"""Regularisation layers that draw random numbers in training (Keras 3 names): GaussianNoise,
GaussianDropout, AlphaDropout, SpatialDropout1D/2D/3D. At inference (``training=False``, the
default) each is the identity.

Random numbers come from the ``rng`` passed to ``call`` (the training loop's generator); without
one, from the layer's own generator seeded by ``seed``, else ``nnmath.nn.initializers.default_rng()``
— as :class:`~nnmath.nn.layers.core.Dropout`. Inside ``nnmath.jit`` the generator must be an
argument of the jitted function (``check_random_source``), so a draw is never frozen into a plan.
The noise is a constant: derivatives flow through the input only.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..._core.jit import check_random_source
from .. import initializers as _initializers
from .base import Layer
from .core import Dropout, as_input, input_error

__all__ = ["GaussianNoise", "GaussianDropout", "AlphaDropout", "SpatialDropout1D",
           "SpatialDropout2D", "SpatialDropout3D"]

# SELU's constants (Klambauer et al. 2017, eq. 14).
_ALPHA = 1.6732632423543772848170429916717
_SCALE = 1.0507009873554804934193349852946


def _seed(seed: Any, who: str) -> int | None:
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))):
        raise ValueError(f"{who}: `seed` must be an int or None, received seed={seed!r}")
    return None if seed is None else int(seed)


def _rate(rate: Any, who: str) -> float:
    try:
        r = float(rate)
    except (TypeError, ValueError):
        r = float("nan")
    if not 0.0 <= r < 1.0:
        raise ValueError(f"{who}: invalid value for argument `rate`: expected a float with "
                         f"0 <= rate < 1. Received: rate={rate!r}")
    return r


def _float_dtype(x: Any) -> np.dtype:
    return x.dtype if x.dtype.kind == "f" else np.dtype(np.float64)


class _Noise(Layer):
    """The generator handling shared by the noise layers."""

    def __init__(self, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.seed = _seed(seed, f"{type(self).__name__} {self.name!r}")
        self._rng = None if self.seed is None else np.random.default_rng(self.seed)

    def _generator(self, rng: Any, x: Any) -> Any:
        if rng is None:
            rng = self._rng if self._rng is not None else _initializers.default_rng()
        check_random_source(rng, x, f"{type(self).__name__} {self.name!r}")
        return rng

    def get_config(self) -> dict:
        return {**super().get_config(), "seed": self.seed}


class GaussianNoise(_Noise):
    """Additive zero-mean Gaussian noise (Keras ``GaussianNoise``): in training
    y = x + ε, ε ~ N(0, stddev²) elementwise; at inference y = x.

    Input shape: any. Output shape: the same.

    Args:
        stddev: the noise's standard deviation (≥ 0).
        seed: an int for the layer's own generator.

    >>> import numpy as np
    >>> GaussianNoise(0.1)(np.ones((1, 2)))            # inference: the identity
    array([[1., 1.]])
    """

    def __init__(self, stddev: float, seed: int | None = None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        s = float(stddev) if isinstance(stddev, (int, float, np.number)) else float("nan")
        if not s >= 0.0 or isinstance(stddev, bool):
            raise ValueError(f"GaussianNoise {self.name!r}: `stddev` must be a number ≥ 0, "
                             f"received stddev={stddev!r}")
        self.stddev = s

    def call(self, params: dict, x: Any, training: bool = False, rng: Any = None) -> Any:
        x = as_input(x)
        if not training or self.stddev == 0.0:
            return x
        rng = self._generator(rng, x)
        return x + (self.stddev * rng.standard_normal(tuple(x.shape))).astype(_float_dtype(x))

    def get_config(self) -> dict:
        return {**super().get_config(), "stddev": self.stddev}


class GaussianDropout(_Noise):
    """Multiplicative Gaussian noise (Srivastava et al. 2014, §10; Keras ``GaussianDropout``):
    in training y = x ⊙ ε, ε ~ N(1, rate / (1 − rate)); at inference y = x.

    Input shape: any. Output shape: the same.

    Args:
        rate: the equivalent dropout rate, 0 ≤ rate < 1.
        seed: an int for the layer's own generator.

    >>> import numpy as np
    >>> GaussianDropout(0.5)(np.ones((1, 2)))
    array([[1., 1.]])
    """

    def __init__(self, rate: float, seed: int | None = None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.rate = _rate(rate, f"GaussianDropout {self.name!r}")

    def call(self, params: dict, x: Any, training: bool = False, rng: Any = None) -> Any:
        x = as_input(x)
        if not training or self.rate == 0.0:
            return x
        rng = self._generator(rng, x)
        std = np.sqrt(self.rate / (1.0 - self.rate))
        return x * (1.0 + std * rng.standard_normal(tuple(x.shape))).astype(_float_dtype(x))

    def get_config(self) -> dict:
        return {**super().get_config(), "rate": self.rate}


class AlphaDropout(_Noise):
    """Alpha dropout (Klambauer et al. 2017, §"New dropout technique"; Keras ``AlphaDropout``):
    keeps SELU's zero mean and unit variance. In training, with mᵢ ~ Bernoulli(1 − rate) and
    α′ = −λα (SELU's negative saturation value)::

        y = a · (x ⊙ m + α′ (1 − m)) + b,   a = ((1 − rate)(1 + rate·α′²))^(−½),   b = −a α′ rate

    At inference y = x. ``noise_shape`` (None entries taken from the input) shares one mask value
    along axes of size 1, as Dropout.

    Input shape: any. Output shape: the same.

    Args:
        rate: the drop probability, 0 ≤ rate < 1.
        noise_shape: the mask's shape, broadcast against the input.
        seed: an int for the layer's own generator.

    >>> import numpy as np
    >>> AlphaDropout(0.2)(np.ones((1, 2)))
    array([[1., 1.]])
    """

    def __init__(self, rate: float, noise_shape: Any = None, seed: int | None = None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.rate = _rate(rate, f"AlphaDropout {self.name!r}")
        self.noise_shape = None if noise_shape is None else tuple(
            None if d is None else int(d) for d in noise_shape)

    def coefficients(self) -> tuple[float, float, float]:
        """(a, b, α′) of the formula above."""
        alpha_p = -_ALPHA * _SCALE
        a = ((1.0 - self.rate) * (1.0 + self.rate * alpha_p ** 2)) ** -0.5
        return a, -a * alpha_p * self.rate, alpha_p

    def call(self, params: dict, x: Any, training: bool = False, rng: Any = None) -> Any:
        x = as_input(x)
        if not training or self.rate == 0.0:
            return x
        shape = tuple(x.shape)
        if self.noise_shape is not None:
            if len(self.noise_shape) != len(shape):
                raise input_error(self, f"rank {len(self.noise_shape)} (noise_shape="
                                        f"{self.noise_shape})", shape)
            shape = tuple(n if d is None else d for d, n in zip(self.noise_shape, shape))
        rng = self._generator(rng, x)
        dtype = _float_dtype(x)
        keep = (rng.random(shape) >= self.rate).astype(dtype)
        a, b, alpha_p = self.coefficients()
        return x * (a * keep).astype(dtype) + (a * alpha_p * (1.0 - keep) + b).astype(dtype)

    def get_config(self) -> dict:
        return {**super().get_config(), "rate": self.rate,
                "noise_shape": None if self.noise_shape is None else list(self.noise_shape)}


class _SpatialDropout(Dropout):
    """Dropout of whole feature maps: the mask is shared along the spatial axes."""

    rank = 1

    def __init__(self, rate: float, data_format: str | None = None, seed: int | None = None,
                 **kwargs):
        kwargs.pop("noise_shape", None)
        super().__init__(rate, seed=seed, **kwargs)
        from .core import data_format_of
        self.data_format = data_format_of(data_format, f"{type(self).__name__} {self.name!r}")
        ones = (1,) * self.rank
        self.noise_shape = ((None,) + ones + (None,) if self.data_format == "channels_last"
                            else (None, None) + ones)

    def call(self, params: dict, x: Any, training: bool = False, rng: Any = None) -> Any:
        x = as_input(x)
        if x.ndim != self.rank + 2:
            raise input_error(self, f"an input of rank {self.rank + 2}", x.shape)
        return super().call(params, x, training=training, rng=rng)

    def get_config(self) -> dict:
        cfg = {**super().get_config(), "data_format": self.data_format}
        cfg.pop("noise_shape", None)
        if self.rank == 1:
            cfg.pop("data_format")
        return cfg


class SpatialDropout1D(_SpatialDropout):
    """Drops whole channels of a sequence (Tompson et al. 2015; Keras ``SpatialDropout1D``):
    y[n, t, c] = x[n, t, c] · m[n, c] / (1 − rate), mₙ꜀ ~ Bernoulli(1 − rate), one value per
    (example, channel) for every step.

    Input shape: (batch, steps, channels). Output shape: the same.

    >>> import numpy as np
    >>> y = SpatialDropout1D(0.5, seed=0)(np.ones((2, 5, 3)), training=True)
    >>> bool(np.all(y == y[:, :1]))                   # constant along the steps
    True
    """

    rank = 1

    def __init__(self, rate: float, seed: int | None = None, **kwargs):
        super().__init__(rate, seed=seed, **kwargs)


class SpatialDropout2D(_SpatialDropout):
    """Drops whole feature maps (Tompson et al. 2015; Keras ``SpatialDropout2D``): one mask value
    per (example, channel), shared over rows and columns, scaled by 1 / (1 − rate).

    Input shape: (batch, H, W, C) (or channels_first). Output shape: the same.

    References:
        J. Tompson, R. Goroshin, A. Jain, Y. LeCun, C. Bregler. Efficient object localization
        using convolutional networks. CVPR 2015.

    >>> import numpy as np
    >>> SpatialDropout2D(0.5)(np.ones((1, 2, 2, 1)))[0, :, :, 0]
    array([[1., 1.],
           [1., 1.]])
    """

    rank = 2


class SpatialDropout3D(_SpatialDropout):
    """As SpatialDropout2D over three spatial axes (Keras ``SpatialDropout3D``).

    Input shape: (batch, D, H, W, C) (or channels_first). Output shape: the same.

    >>> import numpy as np
    >>> SpatialDropout3D(0.5)(np.ones((1, 1, 1, 1, 2)))[0, 0, 0, 0]
    array([1., 1.])
    """

    rank = 3
