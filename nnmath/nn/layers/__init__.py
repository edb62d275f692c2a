"""Layers (Keras names)."""
from .base import Layer  # noqa: F401
