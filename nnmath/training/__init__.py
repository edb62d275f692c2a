"""``nnmath.training``: Keras-style models on nnmath's autodiff (compile, fit, evaluate, predict,
summary, callbacks, metrics, saving)."""
from .data import set_random_seed, to_categorical  # noqa: F401
from .functional import Functional, Input, KerasTensor  # noqa: F401
from .model import Model, Sequential  # noqa: F401
from .saving import load_model  # noqa: F401

__all__ = ["Functional", "Input", "KerasTensor", "Model", "Sequential", "load_model", "set_random_seed",
           "to_categorical"]
