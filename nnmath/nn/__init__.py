"""``nnmath.nn``: neural-network building blocks on top of ``nnmath.numpy``: activations,
initializers, regularizers, losses and layers."""
from . import activations, initializers, losses, regularizers  # noqa: F401
from .activations import gelu, log_softmax, relu, sigmoid, silu, softmax  # noqa: F401

__all__ = ["activations", "initializers", "losses", "regularizers", "relu", "sigmoid", "softmax",
           "log_softmax", "gelu", "silu"]
