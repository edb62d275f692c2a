"""Weight regularizers (Keras 3's names and formulas).

Interface (docs/NN_API.md): ``get(identifier)`` returns None or a callable ``reg(w) -> scalar``,
written with ``nnmath.numpy`` so that it is differentiable by every transform; the layer adds
Σ reg(w) over its weights to the training loss.

**As priors.** Minimising loss(w) + R(w) is maximum a posteriori estimation when the loss is a
negative log-likelihood and R(w) = −ln p(w) + const:

    λ‖w‖₁ = λ Σ|wᵢ|      ↔  wᵢ ~ Laplace(0, b = 1/λ),   p(w) ∝ e^(−|w|/b)   (sparse: the lasso)
    λ‖w‖₂² = λ Σwᵢ²      ↔  wᵢ ~ N(0, σ² = 1/(2λ)),     p(w) ∝ e^(−w²/2σ²)  (weight decay: ridge)

Because a Keras loss is an average over the batch while a log-likelihood is a sum over the data
set, the prior implied for a data set of N samples has λ scaled by N: b = 1/(Nλ), σ² = 1/(2Nλ).

References:
    R. Tibshirani. Regression shrinkage and selection via the lasso. JRSS B, 1996.
    A. Hoerl, R. Kennard. Ridge regression. Technometrics, 1970.
    C. Bishop. Pattern Recognition and Machine Learning, §3.1.4 and §5.5 (2006).
"""
from __future__ import annotations

import math
from typing import Any, Callable

from .. import numpy as mnp
from ._lookup import from_config_dict

__all__ = ["Regularizer", "L1", "L2", "L1L2", "OrthogonalRegularizer", "get", "serialize",
           "l1", "l2", "l1_l2"]


def _factor(value: Any, name: str, who: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or value < 0:
        raise ValueError(f"{who}: argument {name} must be a non-negative float, got {name}={value!r}")
    return float(value)


class Regularizer:
    """Base class: ``reg(w)`` → a scalar penalty; ``get_config`` / ``from_config``."""

    def __call__(self, w: Any) -> Any:
        return 0.0

    def get_config(self) -> dict:
        return {}

    @classmethod
    def from_config(cls, config: dict) -> "Regularizer":
        return cls(**config)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class L1(Regularizer):
    """R(w) = l1 · Σ|wᵢ|: the MAP penalty of a Laplace(0, 1/l1) prior on each weight; drives
    weights exactly to zero (sparsity). Its gradient at wᵢ = 0 is 0 (abs′(0) = 0).

    >>> import numpy as np
    >>> float(L1(0.5)(np.array([1.0, -2.0])))
    1.5
    """

    def __init__(self, l1: float = 0.01):
        self.l1 = _factor(0.01 if l1 is None else l1, "l1", "L1")

    def __call__(self, w: Any) -> Any:
        return self.l1 * mnp.sum(mnp.abs(w))

    def get_config(self) -> dict:
        return {"l1": self.l1}


class L2(Regularizer):
    """R(w) = l2 · Σwᵢ²: the MAP penalty of a N(0, 1/(2·l2)) prior on each weight (weight decay:
    plain gradient descent with rate η multiplies w by 1 − 2η·l2 each step).

    >>> import numpy as np
    >>> float(L2(0.5)(np.array([1.0, -2.0])))
    2.5
    """

    def __init__(self, l2: float = 0.01):
        self.l2 = _factor(0.01 if l2 is None else l2, "l2", "L2")

    def __call__(self, w: Any) -> Any:
        return self.l2 * mnp.sum(mnp.square(w))

    def get_config(self) -> dict:
        return {"l2": self.l2}


class L1L2(Regularizer):
    """R(w) = l1 · Σ|wᵢ| + l2 · Σwᵢ² (the elastic net, Zou & Hastie 2005): the MAP penalty of a
    prior ∝ exp(−l1|w| − l2 w²). Keras 3 defaults l1 = l2 = 0; the string "l1_l2" gives
    l1 = l2 = 0.01 (as Keras documents).

    >>> import numpy as np
    >>> float(L1L2(l1=0.5, l2=0.5)(np.array([1.0, -2.0])))
    4.0
    """

    def __init__(self, l1: float = 0.0, l2: float = 0.0):
        self.l1 = _factor(0.0 if l1 is None else l1, "l1", "L1L2")
        self.l2 = _factor(0.0 if l2 is None else l2, "l2", "L1L2")

    def __call__(self, w: Any) -> Any:
        if not (self.l1 or self.l2):        # no penalty: a zero of w's dtype, still differentiable
            return 0.0 * mnp.sum(w)
        total = self.l1 * mnp.sum(mnp.abs(w)) if self.l1 else 0.0
        return total + self.l2 * mnp.sum(mnp.square(w)) if self.l2 else total

    def get_config(self) -> dict:
        return {"l1": self.l1, "l2": self.l2}


class OrthogonalRegularizer(Regularizer):
    """Keras's soft orthogonality penalty on a 2-D kernel: with the rows (``mode="rows"``) or
    columns (``"columns"``) of w normalised to unit length, u_i,

        R(w) = factor · ½ Σ_{i≠j} |u_iᵀ u_j| / (n(n − 1)/2),   n the number of rows (columns).

    >>> import numpy as np
    >>> float(OrthogonalRegularizer(1.0)(np.eye(3)))
    0.0
    """

    def __init__(self, factor: float = 0.01, mode: str = "rows"):
        self.factor = _factor(factor, "factor", "OrthogonalRegularizer")
        if mode not in ("rows", "columns"):
            raise ValueError(f"OrthogonalRegularizer: mode must be 'rows' or 'columns', got mode={mode!r}")
        self.mode = mode

    def __call__(self, w: Any) -> Any:
        if w.ndim != 2:
            raise ValueError(f"OrthogonalRegularizer: inputs must have rank 2, got shape {tuple(w.shape)}")
        axis = 1 if self.mode == "rows" else 0
        u = w / mnp.sqrt(mnp.maximum(mnp.sum(w * w, axis=axis, keepdims=True), 1e-12))
        product = u @ u.T if self.mode == "rows" else u.T @ u
        n = product.shape[0]
        off = product * (1.0 - mnp.eye(n, dtype=w.dtype))
        return self.factor * 0.5 * mnp.sum(mnp.abs(off)) / (n * (n - 1) / 2.0)

    def get_config(self) -> dict:
        return {"factor": self.factor, "mode": self.mode}


_CLASSES = {c.__name__: c for c in (L1, L2, L1L2, OrthogonalRegularizer)}
_BY_NAME: dict[str, Callable[[], Regularizer]] = {
    "l1": L1, "l2": L2, "l1_l2": lambda: L1L2(l1=0.01, l2=0.01),
    "orthogonal_regularizer": OrthogonalRegularizer, **_CLASSES,
}
l1, l2, l1_l2 = L1, L2, L1L2          # Keras's lowercase aliases of the classes


def get(identifier: Any) -> Callable | None:
    """A regularizer from None (no penalty: returns None), a name ("l1", "l2", "l1_l2",
    "orthogonal_regularizer", or a class name), a config dict ``{"class_name", "config"}``,
    a Regularizer class, or any callable ``reg(w) -> scalar`` (returned as is).

    Raises:
        ValueError: for an unknown name, listing the valid ones.

    >>> get("l2")
    L2(l2=0.01)
    """
    if identifier is None:
        return None
    if isinstance(identifier, str):
        make = _BY_NAME.get(identifier)
        if make is None:
            raise ValueError(f"Unknown regularizer {identifier!r}; valid names: "
                             f"{', '.join(sorted(_BY_NAME))}")
        return make()
    if isinstance(identifier, dict):
        return from_config_dict(identifier, _CLASSES, "regularizer")
    if isinstance(identifier, type) and issubclass(identifier, Regularizer):
        return identifier()
    if callable(identifier):
        return identifier
    raise ValueError(f"Could not interpret regularizer {identifier!r} (of type "
                     f"{type(identifier).__name__}): expected None, a name, a config dict or a callable")


def serialize(regularizer: Any) -> Any:
    """``{"class_name": ..., "config": ...}`` for a Regularizer (``get`` inverts it).

    >>> serialize(L1(0.1))
    {'class_name': 'L1', 'config': {'l1': 0.1}}
    """
    if regularizer is None or isinstance(regularizer, str):
        return regularizer
    if isinstance(regularizer, Regularizer):
        return {"class_name": type(regularizer).__name__, "config": regularizer.get_config()}
    raise ValueError(f"Cannot serialise regularizer {regularizer!r}: it is not a Regularizer")
