"""Layers (Keras names)."""
from .base import Layer  # noqa: F401
from .attention import MultiHeadAttention  # noqa: F401
from .normalization import BatchNormalization, LayerNormalization  # noqa: F401
from .recurrent import GRU, LSTM, RecurrentBase, SimpleRNN  # noqa: F401
from .wrappers import SpectralNormalization  # noqa: F401
from .conv import Conv1D, Conv2D  # noqa: F401
from .core import Activation, Dense, Dropout, Embedding, Flatten, Identity, InputLayer, Reshape  # noqa: F401
from .merge import Add, Average, Concatenate, Maximum, Minimum, Multiply, Subtract  # noqa: F401
from .pooling import (  # noqa: F401
    AveragePooling1D, AveragePooling2D, GlobalAveragePooling1D, GlobalAveragePooling2D,
    GlobalMaxPooling1D, GlobalMaxPooling2D, MaxPooling1D, MaxPooling2D,
)
