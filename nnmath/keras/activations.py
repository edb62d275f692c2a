"""``keras.activations``."""
from ..nn.activations import (  # noqa: F401
    celu, elu, exponential, gelu, get, hard_sigmoid, hard_silu, hard_swish, hard_tanh,
    leaky_relu, linear, log_sigmoid, log_softmax, mish, relu, relu6, selu, serialize, sigmoid,
    silu, softmax, softplus, softsign, swish, tanh,
)
