"""``keras.layers``."""
from ..nn.layers import (  # noqa: F401
    GRU, LSTM, Activation, Add, Average, AveragePooling1D, AveragePooling2D, BatchNormalization,
    Concatenate, Conv1D, Conv2D, Dense, Dropout, Embedding, Flatten, GlobalAveragePooling1D,
    GlobalAveragePooling2D, GlobalMaxPooling1D, GlobalMaxPooling2D, Identity, InputLayer, Layer,
    LayerNormalization, Maximum, MaxPooling1D, MaxPooling2D, Minimum, MultiHeadAttention, Multiply,
    Reshape, SimpleRNN, SpectralNormalization, Subtract,
)
from ..training.functional import Input  # noqa: F401  (keras.layers.Input)
