"""``nnmath.keras``: Keras's names over nnmath's own modules, so that a Keras script runs with only
its imports changed (``tensorflow.keras`` → ``nnmath.keras``)."""
from . import activations, callbacks, initializers, layers, losses, metrics, models, optimizers  # noqa: F401
from . import regularizers, utils  # noqa: F401
from .models import Input, Model, Sequential  # noqa: F401
