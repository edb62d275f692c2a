"""``keras.backend``: the few global settings Keras 3 keeps here and scripts call."""
from __future__ import annotations

from .utils import clear_session  # noqa: F401

__all__ = ["clear_session", "floatx", "epsilon", "image_data_format", "backend"]


def floatx() -> str:
    """The default float type of weights: ``"float32"``, as in Keras."""
    return "float32"


def epsilon() -> float:
    """The fuzz factor Keras's losses and metrics use: 1e-7."""
    return 1e-7


def image_data_format() -> str:
    """``"channels_last"``: nnmath's convolutions take (batch, …, channels), Keras's default."""
    return "channels_last"


def backend() -> str:
    """The backend's name: ``"nnmath"``."""
    return "nnmath"
