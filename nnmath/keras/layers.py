"""``keras.layers``."""
from ..nn.layers import (  # noqa: F401
    ELU, GRU, LSTM, Activation, Add, AlphaDropout, Average, AveragePooling1D, AveragePooling2D,
    BatchNormalization, Bidirectional, CategoryEncoding, Concatenate, Conv1D, Conv1DTranspose,
    Conv2D, Conv2DTranspose, Cropping1D, Cropping2D, Dense, Dot, Dropout, Embedding, Flatten,
    GaussianDropout, GaussianNoise, GlobalAveragePooling1D, GlobalAveragePooling2D,
    GlobalMaxPooling1D, GlobalMaxPooling2D, Identity, InputLayer, IntegerLookup, Lambda, Layer,
    LayerNormalization, LeakyReLU, Masking, Maximum, MaxPooling1D, MaxPooling2D, Minimum,
    MultiHeadAttention, Multiply, Normalization, Permute, ReLU, RepeatVector, Rescaling, Reshape,
    SimpleRNN, Softmax, SpatialDropout1D, SpatialDropout2D, SpatialDropout3D,
    SpectralNormalization, StringLookup, Subtract, TimeDistributed, UpSampling1D, UpSampling2D,
    ZeroPadding1D, ZeroPadding2D, add, average, concatenate, dot, maximum, minimum, multiply,
    subtract,
)
from ..training.functional import Input  # noqa: F401  (keras.layers.Input)

# Keras's aliases
MaxPool1D, MaxPool2D = MaxPooling1D, MaxPooling2D
AvgPool1D, AvgPool2D = AveragePooling1D, AveragePooling2D
GlobalAvgPool1D, GlobalAvgPool2D = GlobalAveragePooling1D, GlobalAveragePooling2D
GlobalMaxPool1D, GlobalMaxPool2D = GlobalMaxPooling1D, GlobalMaxPooling2D
Convolution1D, Convolution2D = Conv1D, Conv2D
Convolution2DTranspose = Conv2DTranspose
