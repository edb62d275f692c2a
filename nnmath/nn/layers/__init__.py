"""Layers (Keras names)."""
from .base import Layer  # noqa: F401
from .activation_layers import ELU, LeakyReLU, ReLU, Softmax  # noqa: F401
from .attention import MultiHeadAttention  # noqa: F401
from .normalization import BatchNormalization, LayerNormalization  # noqa: F401
from .recurrent import GRU, LSTM, RecurrentBase, SimpleRNN  # noqa: F401
from .wrappers import Bidirectional, SpectralNormalization, TimeDistributed  # noqa: F401
from .conv import Conv1D, Conv1DTranspose, Conv2D, Conv2DTranspose  # noqa: F401
from .core import (  # noqa: F401
    Activation, Dense, Dropout, Embedding, Flatten, Identity, InputLayer, Lambda, Reshape,
)
from .masking import Masking  # noqa: F401
from .merge import (  # noqa: F401
    Add, Average, Concatenate, Dot, Maximum, Minimum, Multiply, Subtract, add, average,
    concatenate, dot, maximum, minimum, multiply, subtract,
)
from .noise import (  # noqa: F401
    AlphaDropout, GaussianDropout, GaussianNoise, SpatialDropout1D, SpatialDropout2D,
    SpatialDropout3D,
)
from .pooling import (  # noqa: F401
    AveragePooling1D, AveragePooling2D, GlobalAveragePooling1D, GlobalAveragePooling2D,
    GlobalMaxPooling1D, GlobalMaxPooling2D, MaxPooling1D, MaxPooling2D,
)
from .preprocessing import (  # noqa: F401
    CategoryEncoding, IntegerLookup, Normalization, Rescaling, StringLookup,
)
from .reshaping import (  # noqa: F401
    Cropping1D, Cropping2D, Permute, RepeatVector, UpSampling1D, UpSampling2D, ZeroPadding1D,
    ZeroPadding2D,
)
