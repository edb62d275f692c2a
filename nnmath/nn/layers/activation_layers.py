"""Activation layers with their own arguments (Keras 3 names): ReLU, LeakyReLU, ELU, Softmax.

Each is a weightless elementwise (Softmax: along an axis) map written with ``nnmath.numpy``, so
every transform applies. Masks for the kinks are taken on the raw values, so the derivative at a
kink is a stated convention (below), never a split ½/½ from ``maximum``.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ... import numpy as mnp
from ...numpy._helpers import primal_value
from .. import activations as _activations
from .base import Layer
from .core import as_input

__all__ = ["ReLU", "LeakyReLU", "ELU", "Softmax"]


def _real(value: Any, arg: str, who: str, low: float | None = None, allow_none: bool = False):
    if value is None and allow_none:
        return None
    try:
        v = float(value)
    except (TypeError, ValueError):
        v = float("nan")
    if isinstance(value, bool) or v != v or (low is not None and v < low):
        bound = f" ≥ {low}" if low is not None else ""
        raise ValueError(f"{who}: `{arg}` must be a number{bound}{' or None' if allow_none else ''}"
                         f", received {arg}={value!r}")
    return v


class ReLU(Layer):
    """Rectified linear unit with Keras's three options (Keras ``ReLU``)::

        f(x) = max_value                          x ≥ max_value
             = x                                  threshold < x < max_value
             = negative_slope · (x − threshold)   x ≤ threshold

    Derivative: 1 on (threshold, max_value), ``negative_slope`` for x ≤ threshold, 0 for
    x ≥ max_value (relu′(0) = 0 with the defaults, as ``nnmath.nn.relu``).

    Input shape: any. Output shape: the same.

    Args:
        max_value: the ceiling (≥ 0), or None for none.
        negative_slope: the slope below the threshold (≥ 0).
        threshold: where the unit starts to pass x (≥ 0, as Keras).

    >>> import numpy as np
    >>> ReLU(max_value=6.0, negative_slope=0.1, threshold=1.0)(np.array([[-1.0, 2.0, 9.0]]))
    array([[-0.2,  2. ,  6. ]])
    """

    def __init__(self, max_value: float | None = None, negative_slope: float = 0.0,
                 threshold: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        who = f"ReLU {self.name!r}"
        self.max_value = _real(max_value, "max_value", who, low=0.0, allow_none=True)
        self.negative_slope = _real(negative_slope, "negative_slope", who, low=0.0)
        self.threshold = _real(threshold, "threshold", who, low=0.0)

    def call(self, params: dict, x: Any, training: bool = False, rng: Any = None) -> Any:
        x = as_input(x)
        if self.max_value is None and self.negative_slope == 0.0 and self.threshold == 0.0:
            return _activations.relu(x)
        rx = primal_value(x)
        if self.negative_slope == 0.0:
            below = mnp.zeros_like(x)
        else:
            below = self.negative_slope * (x - self.threshold)
        y = mnp.where(rx > self.threshold, x, below)
        if self.max_value is not None:
            y = mnp.where(rx >= self.max_value, np.asarray(self.max_value, rx.dtype), y)
        return y

    def get_config(self) -> dict:
        return {**super().get_config(), "max_value": self.max_value,
                "negative_slope": self.negative_slope, "threshold": self.threshold}


class LeakyReLU(Layer):
    """Leaky ReLU (Maas et al. 2013; Keras ``LeakyReLU``): f(x) = x for x > 0, αx otherwise, with
    α = ``negative_slope`` (Keras 3's layer default 0.3; the function's is 0.2). f′(0) = α.

    Input shape: any. Output shape: the same.

    >>> import numpy as np
    >>> LeakyReLU()(np.array([[-1.0, 2.0]]))
    array([[-0.3,  2. ]])
    """

    def __init__(self, negative_slope: float = 0.3, **kwargs):
        if "alpha" in kwargs:                    # Keras 2's name, accepted by Keras 3 too
            negative_slope = kwargs.pop("alpha")
        super().__init__(**kwargs)
        self.negative_slope = _real(negative_slope, "negative_slope", f"LeakyReLU {self.name!r}",
                                    low=0.0)

    def call(self, params: dict, x: Any, training: bool = False, rng: Any = None) -> Any:
        return _activations.leaky_relu(as_input(x), negative_slope=self.negative_slope)

    def get_config(self) -> dict:
        return {**super().get_config(), "negative_slope": self.negative_slope}


class ELU(Layer):
    """Exponential linear unit (Clevert et al. 2016; Keras ``ELU``): f(x) = x for x > 0,
    α(eˣ − 1) otherwise. f′(0) = α.

    Input shape: any. Output shape: the same.

    >>> import numpy as np
    >>> ELU(alpha=2.0)(np.array([[0.0, 1.0]]))
    array([[0., 1.]])
    """

    def __init__(self, alpha: float = 1.0, **kwargs):
        super().__init__(**kwargs)
        self.alpha = _real(alpha, "alpha", f"ELU {self.name!r}")

    def call(self, params: dict, x: Any, training: bool = False, rng: Any = None) -> Any:
        return _activations.elu(as_input(x), alpha=self.alpha)

    def get_config(self) -> dict:
        return {**super().get_config(), "alpha": self.alpha}


class Softmax(Layer):
    """softmax(x)ᵢ = exp(xᵢ − logsumexp(x)) along ``axis`` (Keras ``Softmax``).

    With a boolean ``mask`` (same shape as x, True = keep), masked entries get probability 0, as
    Keras (which adds a large negative number there, then multiplies by the mask): here they are
    replaced by −∞-like values through ``where``, so no gradient reaches them. A row that is
    entirely masked gives zeros.

    Input shape: any. Output shape: the same.

    Args:
        axis: an int or a tuple of ints (normalised jointly).

    >>> import numpy as np
    >>> Softmax()(np.array([[0.0, 0.0]]))
    array([[0.5, 0.5]])
    >>> Softmax()(np.array([[1.0, 5.0]]), mask=np.array([[True, False]]))
    array([[1., 0.]])
    """

    supports_masking = True

    def __init__(self, axis: Any = -1, **kwargs):
        super().__init__(**kwargs)
        try:
            axes = (int(axis),) if np.ndim(axis) == 0 else tuple(int(a) for a in axis)
        except (TypeError, ValueError):
            axes = ()
        if not axes or isinstance(axis, bool):
            raise ValueError(f"Softmax {self.name!r}: `axis` must be an int or a tuple of ints, "
                             f"received axis={axis!r}")
        self.axis = axes[0] if np.ndim(axis) == 0 else axes

    def call(self, params: dict, x: Any, training: bool = False, rng: Any = None,
             mask: Any = None) -> Any:
        x = as_input(x)
        axes = (self.axis,) if isinstance(self.axis, int) else self.axis
        if mask is not None:
            keep = primal_value(mask)
            if getattr(keep, "dtype", None) != np.bool_:
                keep = mnp.not_equal(keep, 0)
            low = np.finfo(x.dtype if x.dtype.kind == "f" else np.float64).min / 2
            x = mnp.where(keep, x, low)
        e = mnp.exp(x - mnp.max(primal_value(x), axis=axes, keepdims=True))     # shift: a constant
        y = e / mnp.sum(e, axis=axes, keepdims=True)
        if mask is not None:
            y = mnp.where(keep, y, 0.0)
        return y

    def compute_mask(self, x: Any, mask: Any = None) -> Any:
        return mask

    def get_config(self) -> dict:
        axis = self.axis if isinstance(self.axis, int) else list(self.axis)
        return {**super().get_config(), "axis": axis}
