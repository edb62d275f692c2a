"""Activation functions (Keras 3's names and definitions), each a function of one array.

Vocabulary: ``g`` = ȳ, ``t`` = ẋ, ``y`` = forward output.

Only ``relu`` is a primitive of its own (see below); every other activation is a composite of
``nnmath.numpy`` / ``nnmath.scipy.special`` primitives, so its derivatives of every order, in both
modes and under vmap, come for free. Each is written to stay finite at large |x| (no overflow
warning, no NaN in values or gradients at |x| = 1000), except ``exponential``, whose value eˣ is
itself beyond the float range there:

    softplus x = logaddexp(x, 0)            never exp(x) of a large x
    sigmoid x  = expit x                    scipy's stable logistic
    elu, selu, celu: exp only of min(x, 0), chosen with ``where`` (the untaken branch gets an exact
                     zero cotangent, so it cannot poison the gradient)
    gelu (tanh) = x σ(2u), u = √(2/π)(x + 0.044715x³)   (= ½x(1 + tanh u), without 1 − 1 cancellation)

Conventions at kinks (where the derivative is undefined, the one-sided value PyTorch and
TensorFlow use): relu′(0) = 0; leaky_relu′(0) = α; elu′(0) = α; relu6′ and hard_sigmoid′ are 0 at
their corners (the open interval, as PyTorch's hardtanh and TF's relu6), and so is hard_tanh′.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from .. import numpy as mnp
from ..scipy import special as _sps
from .._core.declare import defprimitive
from ..numpy._helpers import primal_value

__all__ = [
    "celu", "elu", "exponential", "gelu", "get", "hard_sigmoid", "hard_silu", "hard_swish",
    "hard_tanh", "leaky_relu", "linear", "log_sigmoid", "log_softmax", "mish", "relu", "relu6",
    "selu", "serialize", "sigmoid", "silu", "softmax", "softplus", "softsign", "swish", "tanh",
]


def _relu_impl(x):
    return np.maximum(x, 0)


def _relu_slope(y):
    return primal_value(y) > 0      # [y > 0] = [x > 0] (the tape keeps only y); a bool mask multiplies
                            # as 0/1 in the other operand's dtype


# y = max(x, 0)                   x̄ = ȳ ⊙ [x > 0]      ẏ = ẋ ⊙ [x > 0]      (relu′(0) = 0)
# A primitive of its own, not maximum(x, 0): maximum would split the derivative ½/½ at the tie x = 0.
relu = defprimitive("relu", _relu_impl, vjp=lambda g, y, x: g * _relu_slope(y),
                    jvp=lambda t, y, x: t * _relu_slope(y), batch="elementwise", saves="ans")
relu.__doc__ = """Rectified linear unit max(x, 0), with the convention relu′(0) = 0.

    >>> import numpy as np, nnmath as nm
    >>> nm.grad(lambda x: nm.nn.relu(x).sum())(np.array([-1.0, 0.0, 2.0]))
    array([0., 0., 1.])
    """

# SELU's constants (Klambauer et al. 2017, eq. 14), as Keras and PyTorch.
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946
_SQRT_2_OVER_PI = float(np.sqrt(2.0 / np.pi))


def _positive(x: Any) -> Any:
    """The mask x > 0 on the raw value (a constant: masks carry no derivative)."""
    return primal_value(x) > 0


def _open_clip(x: Any, lo: float, hi: float) -> Any:
    """clip(x, lo, hi) whose derivative is 1 on the open interval (lo, hi) and 0 elsewhere."""
    rx = primal_value(x)
    return mnp.where((rx > lo) & (rx < hi), x, mnp.clip(rx, lo, hi))


def _neg_part(x: Any) -> Any:
    """min(x, 0) as a where (x where x ≤ 0, exactly 0 elsewhere): safe to exponentiate."""
    return mnp.where(_positive(x), 0.0, x)


# --- piecewise linear --------------------------------------------------------------------------

def leaky_relu(x: Any, alpha: float | None = None, *, negative_slope: float | None = None) -> Any:
    """Leaky ReLU: x if x > 0 else αx (Maas et al. 2013).

    Args:
        x: input array.
        alpha: the negative slope α (Keras 3 calls it ``negative_slope``; either name works).
            Default 0.2 as Keras 3 (Keras 2's LeakyReLU layer used 0.3, PyTorch uses 0.01).

    The derivative at 0 is α (TensorFlow's and PyTorch's convention).

    >>> import numpy as np
    >>> leaky_relu(np.array([-2.0, 3.0]), alpha=0.1)
    array([-0.2,  3. ])
    """
    if alpha is not None and negative_slope is not None:
        raise ValueError(f"leaky_relu: give alpha or negative_slope, not both (got alpha={alpha}, "
                         f"negative_slope={negative_slope})")
    a = 0.2 if alpha is None and negative_slope is None else (alpha if alpha is not None else negative_slope)
    return mnp.where(_positive(x), x, a * x)


def relu6(x: Any) -> Any:
    """min(max(x, 0), 6) (Krizhevsky 2010); derivative 1 on (0, 6), 0 elsewhere, corners included.

    >>> import numpy as np
    >>> relu6(np.array([-1.0, 3.0, 9.0]))
    array([0., 3., 6.])
    """
    return _open_clip(x, 0.0, 6.0)


def hard_sigmoid(x: Any) -> Any:
    """Keras 3's hard sigmoid relu6(x + 3)/6 (as PyTorch's hardsigmoid; Keras 2 used
    clip(0.2x + 0.5, 0, 1)). Derivative 1/6 on (−3, 3), 0 elsewhere.

    >>> import numpy as np
    >>> hard_sigmoid(np.array([-4.0, 0.0, 1.5, 4.0]))
    array([0.  , 0.5 , 0.75, 1.  ])
    """
    return relu6(x + 3.0) / 6.0


def hard_silu(x: Any) -> Any:
    """Hard SiLU / hard swish x · relu6(x + 3)/6 (Howard et al. 2019, MobileNetV3).

    >>> import numpy as np
    >>> hard_silu(np.array([-4.0, 1.5, 4.0]))
    array([-0.   ,  1.125,  4.   ])
    """
    return x * hard_sigmoid(x)


hard_swish = hard_silu


def hard_tanh(x: Any) -> Any:
    """clip(x, −1, 1); derivative 1 on (−1, 1), 0 elsewhere (as PyTorch's hardtanh).

    >>> import numpy as np
    >>> hard_tanh(np.array([-3.0, 0.5, 2.0]))
    array([-1. ,  0.5,  1. ])
    """
    return _open_clip(x, -1.0, 1.0)


def linear(x: Any) -> Any:
    """The identity (Keras's "linear"; also what ``get(None)`` returns).

    >>> linear(2.5)
    2.5
    """
    return x


# --- exponential family --------------------------------------------------------------------------

def elu(x: Any, alpha: float = 1.0) -> Any:
    """Exponential linear unit: x if x > 0 else α(eˣ − 1) (Clevert et al. 2016). elu′(0) = α.

    >>> import numpy as np
    >>> elu(np.array([-1000.0, 0.0, 2.0]))
    array([-1.,  0.,  2.])
    """
    return mnp.where(_positive(x), x, alpha * mnp.expm1(_neg_part(x)))


def selu(x: Any) -> Any:
    """Scaled ELU: λ · elu(x, α) with λ ≈ 1.0507, α ≈ 1.6733 (Klambauer et al. 2017,
    "Self-Normalizing Neural Networks"); pair it with ``lecun_normal`` initialisation.

    >>> import numpy as np
    >>> float(selu(np.array(1.0)))
    1.0507009873554805
    """
    return SELU_SCALE * elu(x, SELU_ALPHA)


def celu(x: Any, alpha: float = 1.0) -> Any:
    """Continuously differentiable ELU: x if x > 0 else α(e^(x/α) − 1) (Barron 2017).

    >>> import numpy as np
    >>> celu(np.array([-1000.0, 2.0]), alpha=2.0)
    array([-2.,  2.])
    """
    return mnp.where(_positive(x), x, alpha * mnp.expm1(_neg_part(x) / alpha))


def exponential(x: Any) -> Any:
    """eˣ (overflows to inf beyond x ≈ 709 in float64, 88 in float32, as eˣ must).

    >>> import numpy as np
    >>> float(exponential(np.array(0.0)))
    1.0
    """
    return mnp.exp(x)


# --- sigmoidal ----------------------------------------------------------------------------------

def sigmoid(x: Any) -> Any:
    """σ(x) = 1/(1 + e⁻ˣ), computed stably (``scipy.special.expit``); σ′ = σ(1 − σ).

    >>> import numpy as np
    >>> sigmoid(np.array([-1000.0, 0.0, 1000.0]))
    array([0. , 0.5, 1. ])
    """
    return _sps.expit(x)


def log_sigmoid(x: Any) -> Any:
    """ln σ(x) = −softplus(−x), stable for large |x|.

    >>> import numpy as np
    >>> log_sigmoid(np.array([-1000.0, 1000.0]))
    array([-1000.,    -0.])
    """
    return -softplus(-x)


def tanh(x: Any) -> Any:
    """tanh x; tanh′ = 1 − tanh².

    >>> float(tanh(0.0))
    0.0
    """
    return mnp.tanh(x)


def softplus(x: Any) -> Any:
    """softplus x = ln(1 + eˣ) = logaddexp(x, 0) (Dugas et al. 2001); softplus′ = σ.

    >>> import numpy as np
    >>> softplus(np.array([-1000.0, 1000.0]))
    array([   0., 1000.])
    """
    return mnp.logaddexp(x, 0.0)


def softsign(x: Any) -> Any:
    """x / (1 + |x|) (Bergstra et al. 2009).

    >>> import numpy as np
    >>> softsign(np.array([-3.0, 1.0]))
    array([-0.75,  0.5 ])
    """
    return x / (1.0 + mnp.abs(x))


def silu(x: Any) -> Any:
    """SiLU / swish: x σ(x) (Hendrycks & Gimpel 2016; Ramachandran et al. 2017).

    >>> import numpy as np
    >>> silu(np.array([-1000.0, 0.0, 1000.0]))
    array([  -0.,    0., 1000.])
    """
    return x * _sps.expit(x)


swish = silu


def mish(x: Any) -> Any:
    """x · tanh(softplus x) (Misra 2019).

    >>> import numpy as np
    >>> mish(np.array([0.0, 1000.0]))
    array([   0., 1000.])
    """
    return x * mnp.tanh(softplus(x))


def gelu(x: Any, approximate: bool | str = False) -> Any:
    """Gaussian error linear unit (Hendrycks & Gimpel 2016).

    Exact (``approximate=False`` or ``"none"``, Keras 3's and PyTorch's default):
        gelu x = x Φ(x) = ½x(1 + erf(x/√2)),  Φ the standard normal CDF (``ndtr``, accurate in
        the left tail where 1 + erf would cancel).
    Tanh approximation (``approximate=True`` or ``"tanh"``):
        gelu x ≈ ½x(1 + tanh u) = x σ(2u),  u = √(2/π)(x + 0.044715x³).

    >>> import numpy as np
    >>> gelu(np.array([-1000.0, 0.0, 1.0]))
    array([-0.        ,  0.        ,  0.84134475])
    """
    if approximate in (False, "none"):
        return x * _sps.ndtr(x)
    if approximate in (True, "tanh"):
        u = _SQRT_2_OVER_PI * (x + 0.044715 * (x * x * x))
        return x * _sps.expit(2.0 * u)
    raise ValueError(f"gelu: approximate must be False/'none' or True/'tanh', got {approximate!r}")


# --- normalising over an axis ----------------------------------------------------------------------

def softmax(x: Any, axis: int = -1) -> Any:
    """softmax(x)ᵢ = e^(xᵢ − logsumexp x) along ``axis`` (stable for any magnitude).

    >>> import numpy as np
    >>> softmax(np.array([[1000.0, 1000.0]]))
    array([[0.5, 0.5]])
    """
    return _sps.softmax(x, axis=axis)


def log_softmax(x: Any, axis: int = -1) -> Any:
    """x − logsumexp(x) along ``axis``: log-probabilities without forming e^x.

    >>> import numpy as np
    >>> log_softmax(np.array([0.0, 1000.0]))
    array([-1000.,     0.])
    """
    return _sps.log_softmax(x, axis=axis)


# --- lookup -------------------------------------------------------------------------------------

_BY_NAME: dict[str, Callable] = {
    "celu": celu, "elu": elu, "exponential": exponential, "gelu": gelu,
    "hard_sigmoid": hard_sigmoid, "hard_silu": hard_silu, "hard_swish": hard_silu,
    "hard_tanh": hard_tanh, "leaky_relu": leaky_relu, "linear": linear,
    "log_sigmoid": log_sigmoid, "log_softmax": log_softmax, "mish": mish, "relu": relu,
    "relu6": relu6, "selu": selu, "sigmoid": sigmoid, "silu": silu, "softmax": softmax,
    "softplus": softplus, "softsign": softsign, "swish": silu, "tanh": tanh,
}


def get(identifier: str | Callable | None) -> Callable:
    """The activation for a Keras name, a callable (returned as is) or None (``linear``).

    Raises:
        ValueError: for an unknown name, listing the valid ones.

    >>> get("relu") is relu, get(None) is linear
    (True, True)
    """
    if identifier is None:
        return linear
    if isinstance(identifier, str):
        fn = _BY_NAME.get(identifier)
        if fn is None:
            raise ValueError(f"Unknown activation {identifier!r}; valid names: {', '.join(sorted(_BY_NAME))}")
        return fn
    if callable(identifier):
        return identifier
    raise ValueError(f"Could not interpret activation {identifier!r} (of type "
                     f"{type(identifier).__name__}): expected a name, a callable or None")


def serialize(activation: Callable) -> str:
    """The Keras name of an activation from this module (for ``get_config``); a user function is
    named by its ``__name__``.

    >>> serialize(swish)
    'silu'
    """
    for name, fn in _BY_NAME.items():
        if fn is activation and name not in ("swish", "hard_swish"):
            return name
    name = getattr(activation, "__name__", None)
    if name is None:
        raise ValueError(f"Cannot serialise activation {activation!r}: it has no name")
    return name
