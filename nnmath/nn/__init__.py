"""``nnmath.nn``: neural-network building blocks on top of ``nnmath.numpy``."""
from .activations import relu  # noqa: F401

__all__ = ["relu"]
