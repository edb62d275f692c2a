"""Masks (Keras 3 semantics): the ``Masking`` layer and the two functions a model uses to carry a
mask from layer to layer.

A mask is a boolean array over the leading axes of a sequence, (batch, time): True where a step
is real, False where it is padding. It is produced by ``Embedding(mask_zero=True)`` (index 0 is
padding) or ``Masking(mask_value)`` and consumed by layers whose ``call`` takes ``mask=``:
recurrent layers skip masked steps (the state and the output are carried over unchanged),
``GlobalAveragePooling1D`` averages over real steps only, ``Softmax`` gives masked entries
probability 0. Layers with ``supports_masking = True`` (elementwise layers, Dense, Dropout, …)
pass it on unchanged; any other layer drops it, as Keras 3 does.

How a model threads it (per layer, in order)::

    y, mask = call_masked(layer, params, x, mask, training=training, rng=rng)

Masks are constants: they carry no derivative.
"""
from __future__ import annotations

import inspect
from typing import Any

import numpy as np

from ... import numpy as mnp
from ...numpy._helpers import primal_value
from .base import Layer
from .core import as_input

__all__ = ["Masking", "compute_mask", "call_masked", "accepts_mask"]

# Layers in modules this package does not own that pass a mask through (Keras: supports_masking).
_PASS_THROUGH = {"BatchNormalization", "LayerNormalization", "SpectralNormalization"}


def accepts_mask(layer: Layer) -> bool:
    """Whether ``layer.call`` takes a ``mask`` keyword."""
    cache = type(layer).__dict__.get("_accepts_mask_cache")
    if cache is None:
        if getattr(type(layer), "_keras_style", False):      # the user's call(self, inputs, mask=None)
            cache = "mask" in type(layer)._keras_call_args
        else:
            try:
                cache = "mask" in inspect.signature(type(layer).call).parameters
            except (TypeError, ValueError):
                cache = False
        type.__setattr__(type(layer), "_accepts_mask_cache", cache)
    return cache


def compute_mask(layer: Layer, x: Any, mask: Any = None) -> Any:
    """The mask of ``layer``'s output for input ``x`` carrying ``mask`` (Keras's
    ``Layer.compute_mask``): the layer's own ``compute_mask`` if it has one, else ``mask`` when
    the layer supports masking, else None."""
    own = getattr(layer, "compute_mask", None)
    if own is not None:
        return own(x, mask)
    supports = getattr(layer, "supports_masking", type(layer).__name__ in _PASS_THROUGH)
    return mask if supports else None


def call_masked(layer: Layer, params: dict, x: Any, mask: Any = None, training: bool = False,
                rng: Any = None, **kwargs) -> tuple:
    """``(layer.call(params, x, …, mask=mask), output mask)``: the mask is passed only to layers
    whose ``call`` takes one, and only when there is one."""
    if mask is not None and accepts_mask(layer):
        kwargs["mask"] = mask
    y = layer.call(params, x, training=training, rng=rng, **kwargs)
    return y, compute_mask(layer, x, mask)


def step_mask(mask: Any, shape: tuple, who: str) -> Any:
    """A (batch, time) boolean mask checked against an input of shape (batch, time, …)."""
    m = primal_value(mask)
    if tuple(m.shape) != tuple(shape[:2]):
        raise ValueError(f"{who}: the mask must have shape (batch, time) = {tuple(shape[:2])}, "
                         f"received mask of shape {tuple(m.shape)}")
    return m if getattr(m, "dtype", None) == np.bool_ else mnp.not_equal(m, 0)


class Masking(Layer):
    """Masks the time steps whose features all equal ``mask_value`` (Keras ``Masking``):
    mask[b, t] = ∃ f: x[b, t, f] ≠ mask_value, and y = x ⊙ mask (masked steps become 0).

    Input shape: (batch, time, …). Output shape: the same; output mask (batch, time).

    Args:
        mask_value: the padding value (default 0).

    >>> import numpy as np
    >>> x = np.array([[[1.0, 2.0], [0.0, 0.0]]])
    >>> layer = Masking()
    >>> layer.compute_mask(x)
    array([[ True, False]])
    """

    supports_masking = True

    def __init__(self, mask_value: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        try:
            self.mask_value = float(mask_value)
        except (TypeError, ValueError):
            raise ValueError(f"Masking {self.name!r}: `mask_value` must be a number, received "
                             f"mask_value={mask_value!r}") from None

    def compute_mask(self, x: Any, mask: Any = None) -> Any:
        x = as_input(x)
        return mnp.any(mnp.not_equal(primal_value(x), self.mask_value), axis=-1)

    def call(self, params: dict, x: Any, training: bool = False, rng: Any = None) -> Any:
        x = as_input(x)
        keep = self.compute_mask(x)
        return mnp.where(mnp.expand_dims(keep, -1), x, mnp.zeros_like(x))

    def get_config(self) -> dict:
        return {**super().get_config(), "mask_value": self.mask_value}
