"""Layers (Keras names)."""
from .base import Layer  # noqa: F401
from .attention import MultiHeadAttention  # noqa: F401
from .normalization import BatchNormalization, LayerNormalization  # noqa: F401
from .recurrent import GRU, LSTM, RecurrentBase, SimpleRNN  # noqa: F401
from .wrappers import SpectralNormalization  # noqa: F401
