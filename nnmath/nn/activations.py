"""Activation functions.

Vocabulary: ``g`` = ȳ, ``t`` = ẋ, ``y`` = forward output.
"""
from __future__ import annotations

import numpy as np

from .._core.batching import batch_elementwise
from .._core.primitive import defjvp, defvjp, primitive
from ..numpy._helpers import raw


def _relu_impl(x):
    return np.maximum(x, 0)


def _relu_slope(y):
    ry = raw(y)
    return (ry > 0).astype(ry.dtype)       # [y > 0] = [x > 0]: the tape keeps only y


# y = max(x, 0)                   x̄ = ȳ ⊙ [x > 0]      ẏ = ẋ ⊙ [x > 0]      (relu′(0) = 0)
# A primitive of its own, not maximum(x, 0): maximum would split the derivative ½/½ at the tie x = 0.
relu = batch_elementwise(primitive("relu", _relu_impl))
relu.saves = "ans"
defvjp(relu, lambda g, y, x: g * _relu_slope(y))
defjvp(relu, lambda t, y, x: t * _relu_slope(y))
relu.__doc__ = """Rectified linear unit max(x, 0), with the convention relu′(0) = 0.

    >>> import numpy as np, nnmath as nm
    >>> nm.grad(lambda x: nm.nn.relu(x).sum())(np.array([-1.0, 0.0, 2.0]))
    array([0., 0., 1.])
    """
