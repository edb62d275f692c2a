"""``nnmath.keras``: Keras's names over nnmath's own modules, so that a Keras 3 script runs with
only its imports changed (``import keras`` → ``from nnmath import keras``)."""
from . import activations, callbacks, initializers, layers, losses, metrics, models, optimizers  # noqa: F401
from . import backend, ops, random, regularizers, saving, utils  # noqa: F401
from . import distribution  # noqa: F401  (set_distribution: data-parallel, issue 13)
from ..nn.layers import Layer  # noqa: F401
from ..nn.layers._keras_style import Variable  # noqa: F401
from ..training.functional import KerasTensor  # noqa: F401
from .models import Input, Model, Sequential  # noqa: F401
