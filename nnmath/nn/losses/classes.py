"""Keras's reduction of per-sample losses (``reduce_weighted_values``), the ``Loss`` classes and
``get``/``serialize``; see the package docstring."""
from __future__ import annotations

import re
from typing import Any, Callable

import numpy as np

from ... import numpy as mnp
from ...numpy._helpers import primal_value
from .._lookup import from_config_dict
from .functions import (
    EPSILON,
    REDUCTIONS,
    _arr,
    _class_axis,
    _same_rank,
    _sparse_labels,
    binary_crossentropy,
    categorical_crossentropy,
    categorical_hinge,
    cosine_similarity,
    gaussian_nll,
    hinge,
    huber,
    kl_divergence,
    log_cosh,
    mean_absolute_error,
    mean_absolute_percentage_error,
    mean_squared_error,
    mean_squared_logarithmic_error,
    poisson,
    sparse_categorical_crossentropy,
    squared_hinge,
)

# --------------------------------------------------------------------------------------------
# Reduction and the Loss classes
# --------------------------------------------------------------------------------------------

def _check_reduction(reduction: Any) -> str:
    if reduction not in REDUCTIONS:
        raise ValueError(f"Invalid value for argument reduction: expected one of "
                         f"{[r for r in REDUCTIONS]}; received reduction={reduction!r}")
    return "none" if reduction is None else reduction


def reduce_weighted_values(values: Any, sample_weight: Any = None, mask: Any = None,
                           reduction: str = "sum_over_batch_size") -> Any:
    """Weight per-sample losses and reduce them (Keras's ``reduce_weighted_values``; see the
    module docstring). A boolean ``mask`` drops entries; under "sum_over_batch_size" the mean is
    then over the kept entries (Keras: weight total/(kept + ε))."""
    reduction = _check_reduction(reduction)
    values = _arr(values)
    if mask is not None:
        m = mnp.astype(mask, values.dtype)
        if reduction in ("sum_over_batch_size", "mean"):
            m = m * (m.size / (mnp.sum(m) + EPSILON))
        if sample_weight is not None:
            sw = _arr(sample_weight)
            m, sw = _same_rank(m, sw)
            sample_weight = sw * m
        else:
            sample_weight = m
    if sample_weight is not None:
        sw = _arr(sample_weight)
        if sw.dtype != values.dtype:
            sw = mnp.astype(sw, values.dtype)
        values, sw = _same_rank(values, sw)
        if 0 < sw.ndim < values.ndim:       # align with the leading (batch) axes
            sw = mnp.reshape(sw, tuple(sw.shape) + (1,) * (values.ndim - sw.ndim))
        try:
            np.broadcast_shapes(tuple(values.shape), tuple(sw.shape))
        except ValueError:
            raise ValueError(f"sample_weight of shape {tuple(np.shape(sample_weight))} does not fit "
                             f"the per-sample losses of shape {tuple(values.shape)}") from None
        values = values * sw
        sample_weight = sw
    if reduction == "none" or values.ndim == 0 or tuple(values.shape) == (0,):
        return values
    total = mnp.sum(values)
    if reduction == "sum":
        return total
    if reduction == "mean_with_sample_weight" and sample_weight is not None:
        divisor = mnp.sum(sample_weight)
        return mnp.where(primal_value(divisor) != 0, total / mnp.where(primal_value(divisor) != 0, divisor, 1.0), 0.0)
    return total / values.size if values.size else total


class Loss:
    """Base class (Keras 3): ``loss(y_true, y_pred, sample_weight=None)`` → scalar; subclasses
    implement ``call(y_true, y_pred)`` → per-sample losses.

    Args:
        reduction: "sum_over_batch_size" (default), "sum", "mean", "mean_with_sample_weight",
            "none" or None.
        name: the loss's name (default: the snake_case function name).
    """

    def __init__(self, reduction: str | None = "sum_over_batch_size", name: str | None = None):
        self.reduction = _check_reduction(reduction)
        self.name = name or re.sub(r"(?<!^)(?=[A-Z])", "_", type(self).__name__).lower()

    def __call__(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> Any:
        return reduce_weighted_values(self.call(y_true, y_pred), sample_weight,
                                      self._mask(y_true, y_pred), self.reduction)

    def call(self, y_true: Any, y_pred: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must implement call(y_true, y_pred)")

    def _mask(self, y_true: Any, y_pred: Any) -> Any:
        return None

    def get_config(self) -> dict:
        return {"name": self.name, "reduction": self.reduction}

    @classmethod
    def from_config(cls, config: dict) -> "Loss":
        return cls(**config)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.get_config().items())})"


class LossFunctionWrapper(Loss):
    """A Loss from a per-sample function ``fn(y_true, y_pred, **kwargs)`` (Keras): the ranks of
    y_true and y_pred are matched first (a trailing axis of length 1 squeezed or added)."""

    def __init__(self, fn: Callable, reduction: str | None = "sum_over_batch_size",
                 name: str | None = None, **kwargs):
        super().__init__(reduction=reduction, name=name or getattr(fn, "__name__", "loss"))
        self.fn = fn
        self._fn_kwargs = kwargs

    def call(self, y_true: Any, y_pred: Any) -> Any:
        if not isinstance(y_pred, (tuple, list)):
            y_pred = _arr(y_pred)
            if not (hasattr(y_true, "shape") and hasattr(y_true, "dtype")):
                y_true = np.asarray(y_true)
            y_true, y_pred = _same_rank(y_true, y_pred)
        return self.fn(y_true, y_pred, **self._fn_kwargs)

    def __getattr__(self, attr: str) -> Any:
        """The function's arguments read as attributes (``loss.from_logits``), as Keras has them."""
        kwargs = self.__dict__.get("_fn_kwargs", {})
        if attr in kwargs:
            return kwargs[attr]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {attr!r}")

    def get_config(self) -> dict:
        return {**super().get_config(), **self._fn_kwargs}


_R = "sum_over_batch_size"


class MeanSquaredError(LossFunctionWrapper):
    """Mean of squared errors per sample (the last axis), then reduced (module docstring).

    >>> float(MeanSquaredError()(np.array([[0.0, 1.0], [1.0, 1.0]]), np.array([[1.0, 1.0], [1.0, 0.0]])))
    0.5
    """

    def __init__(self, reduction: str | None = _R, name: str = "mean_squared_error"):
        super().__init__(mean_squared_error, reduction, name)


class MeanAbsoluteError(LossFunctionWrapper):
    """Mean of absolute errors per sample.

    >>> float(MeanAbsoluteError(reduction="sum")(np.zeros((2, 2)), np.ones((2, 2))))
    2.0
    """

    def __init__(self, reduction: str | None = _R, name: str = "mean_absolute_error"):
        super().__init__(mean_absolute_error, reduction, name)


class MeanAbsolutePercentageError(LossFunctionWrapper):
    """100 · mean(|y − ŷ| / max(|y|, ε)) per sample.

    >>> float(MeanAbsolutePercentageError()(np.array([[2.0]]), np.array([[1.0]])))
    50.0
    """

    def __init__(self, reduction: str | None = _R, name: str = "mean_absolute_percentage_error"):
        super().__init__(mean_absolute_percentage_error, reduction, name)


class MeanSquaredLogarithmicError(LossFunctionWrapper):
    """mean((ln(1 + ŷ) − ln(1 + y))²) per sample.

    >>> float(MeanSquaredLogarithmicError()(np.array([[0.0]]), np.array([[0.0]])))
    0.0
    """

    def __init__(self, reduction: str | None = _R, name: str = "mean_squared_logarithmic_error"):
        super().__init__(mean_squared_logarithmic_error, reduction, name)


class Huber(LossFunctionWrapper):
    """Huber loss with threshold ``delta`` (see :func:`huber`).

    >>> float(Huber(delta=1.0)(np.array([[0.0]]), np.array([[3.0]])))
    2.5
    """

    def __init__(self, delta: float = 1.0, reduction: str | None = _R, name: str = "huber_loss"):
        super().__init__(huber, reduction, name, delta=delta)


class LogCosh(LossFunctionWrapper):
    """mean(ln cosh(ŷ − y)) per sample.

    >>> float(LogCosh()(np.array([[0.0]]), np.array([[0.0]])))
    0.0
    """

    def __init__(self, reduction: str | None = _R, name: str = "log_cosh"):
        super().__init__(log_cosh, reduction, name)


class CosineSimilarity(LossFunctionWrapper):
    """−cos(y, ŷ) along ``axis`` (see :func:`cosine_similarity`).

    >>> float(CosineSimilarity()(np.array([[0.0, 1.0]]), np.array([[0.0, 3.0]])))
    -1.0
    """

    def __init__(self, axis: int = -1, reduction: str | None = _R, name: str = "cosine_similarity"):
        super().__init__(cosine_similarity, reduction, name, axis=axis)


class Hinge(LossFunctionWrapper):
    """mean(max(1 − y·ŷ, 0)) with labels ±1 (or 0/1).

    >>> float(Hinge()(np.array([[1.0]]), np.array([[0.25]])))
    0.75
    """

    def __init__(self, reduction: str | None = _R, name: str = "hinge"):
        super().__init__(hinge, reduction, name)


class SquaredHinge(LossFunctionWrapper):
    """mean(max(1 − y·ŷ, 0)²).

    >>> float(SquaredHinge()(np.array([[1.0]]), np.array([[0.5]])))
    0.25
    """

    def __init__(self, reduction: str | None = _R, name: str = "squared_hinge"):
        super().__init__(squared_hinge, reduction, name)


class CategoricalHinge(LossFunctionWrapper):
    """max(max_{j≠y} ŷ_j − ŷ_y + 1, 0) for one-hot labels.

    >>> float(CategoricalHinge()(np.array([[0.0, 1.0]]), np.array([[0.0, 2.0]])))
    0.0
    """

    def __init__(self, reduction: str | None = _R, name: str = "categorical_hinge"):
        super().__init__(categorical_hinge, reduction, name)


class KLDivergence(LossFunctionWrapper):
    """KL(y_true ‖ y_pred) of probability vectors (see :func:`kl_divergence`).

    >>> round(float(KLDivergence()(np.array([[1.0, 0.0]]), np.array([[0.5, 0.5]]))), 6)
    0.693147
    """

    def __init__(self, reduction: str | None = _R, name: str = "kl_divergence"):
        super().__init__(kl_divergence, reduction, name)


class Poisson(LossFunctionWrapper):
    """Poisson negative log-likelihood ŷ − y ln ŷ (see :func:`poisson`).

    >>> float(Poisson()(np.array([[0.0]]), np.array([[2.0]])))
    2.0
    """

    def __init__(self, reduction: str | None = _R, name: str = "poisson"):
        super().__init__(poisson, reduction, name)


class BinaryCrossentropy(LossFunctionWrapper):
    """Binary cross-entropy (see :func:`binary_crossentropy`).

    >>> round(float(BinaryCrossentropy(from_logits=True)(np.array([[1.0]]), np.array([[0.0]]))), 6)
    0.693147
    """

    def __init__(self, from_logits: bool = False, label_smoothing: float = 0.0, axis: int = -1,
                 reduction: str | None = _R, name: str = "binary_crossentropy"):
        super().__init__(binary_crossentropy, reduction, name, from_logits=from_logits,
                         label_smoothing=label_smoothing, axis=axis)


class CategoricalCrossentropy(LossFunctionWrapper):
    """Cross-entropy of one-hot (or soft) labels (see :func:`categorical_crossentropy`).

    >>> round(float(CategoricalCrossentropy()(np.array([[0.0, 1.0]]), np.array([[0.5, 0.5]]))), 6)
    0.693147
    """

    def __init__(self, from_logits: bool = False, label_smoothing: float = 0.0, axis: int = -1,
                 reduction: str | None = _R, name: str = "categorical_crossentropy"):
        super().__init__(categorical_crossentropy, reduction, name, from_logits=from_logits,
                         label_smoothing=label_smoothing, axis=axis)

    def call(self, y_true: Any, y_pred: Any) -> Any:      # no rank matching: the checks name shapes
        return self.fn(y_true, y_pred, **self._fn_kwargs)


class GaussianNLL(LossFunctionWrapper):
    """Gaussian negative log-likelihood of y_true under N(mean, variance), called with
    y_pred = (mean, variance) (torch's GaussianNLLLoss; see :func:`gaussian_nll`).

    >>> float(GaussianNLL()(np.array([[1.0]]), (np.array([[0.0]]), np.array([[1.0]]))))
    0.5
    """

    def __init__(self, full: bool = False, eps: float = 1e-6, reduction: str | None = _R,
                 name: str = "gaussian_nll"):
        super().__init__(gaussian_nll, reduction, name, full=full, eps=eps)


class SparseCategoricalCrossentropy(LossFunctionWrapper):
    """Cross-entropy of integer labels (``from_logits``, ``ignore_class``, ``axis``: see
    :func:`sparse_categorical_crossentropy`). Samples whose label is ``ignore_class`` are left
    out of "sum_over_batch_size" means (Keras's mask).

    >>> round(float(SparseCategoricalCrossentropy(from_logits=True)(np.array([0, 1]),
    ...                                                              np.zeros((2, 2)))), 6)
    0.693147
    """

    def __init__(self, from_logits: bool = False, ignore_class: int | None = None,
                 reduction: str | None = "sum_over_batch_size", axis: int = -1,
                 name: str = "sparse_categorical_crossentropy"):
        super().__init__(sparse_categorical_crossentropy, reduction=reduction, name=name,
                         from_logits=from_logits, ignore_class=ignore_class, axis=axis)

    def call(self, y_true: Any, y_pred: Any) -> Any:
        return self.fn(y_true, y_pred, **self._fn_kwargs)

    def _mask(self, y_true: Any, y_pred: Any) -> Any:
        ignore = self._fn_kwargs["ignore_class"]
        if ignore is None:
            return None
        _, valid = _sparse_labels("sparse_categorical_crossentropy", y_true, _arr(y_pred),
                                  _class_axis("sparse_categorical_crossentropy", _arr(y_pred),
                                              self._fn_kwargs["axis"]), ignore)
        return valid


# --------------------------------------------------------------------------------------------
# Lookup
# --------------------------------------------------------------------------------------------

_CLASSES = {c.__name__: c for c in (
    MeanSquaredError, MeanAbsoluteError, MeanAbsolutePercentageError, MeanSquaredLogarithmicError,
    Huber, LogCosh, CosineSimilarity, Hinge, SquaredHinge, CategoricalHinge, KLDivergence, Poisson,
    BinaryCrossentropy, CategoricalCrossentropy, SparseCategoricalCrossentropy, GaussianNLL)}

_FUNCTIONS = {
    mean_squared_error: "MeanSquaredError", mean_absolute_error: "MeanAbsoluteError",
    mean_absolute_percentage_error: "MeanAbsolutePercentageError",
    mean_squared_logarithmic_error: "MeanSquaredLogarithmicError", huber: "Huber",
    log_cosh: "LogCosh", cosine_similarity: "CosineSimilarity", hinge: "Hinge",
    squared_hinge: "SquaredHinge", categorical_hinge: "CategoricalHinge",
    kl_divergence: "KLDivergence", poisson: "Poisson", binary_crossentropy: "BinaryCrossentropy",
    categorical_crossentropy: "CategoricalCrossentropy",
    sparse_categorical_crossentropy: "SparseCategoricalCrossentropy", gaussian_nll: "GaussianNLL",
}
_BY_NAME = {fn.__name__: cls for fn, cls in _FUNCTIONS.items()}
_BY_NAME.update({"mse": "MeanSquaredError", "MSE": "MeanSquaredError", "mae": "MeanAbsoluteError",
                 "MAE": "MeanAbsoluteError", "mape": "MeanAbsolutePercentageError",
                 "MAPE": "MeanAbsolutePercentageError", "msle": "MeanSquaredLogarithmicError",
                 "MSLE": "MeanSquaredLogarithmicError", "kld": "KLDivergence", "KLD": "KLDivergence",
                 "kullback_leibler_divergence": "KLDivergence", "bce": "BinaryCrossentropy",
                 "BCE": "BinaryCrossentropy", "logcosh": "LogCosh", "huber_loss": "Huber"})


def get(identifier: Any) -> Loss | None:
    """A Loss object from a Keras name (function names such as "mse", "mean_squared_error",
    "categorical_crossentropy", or class names such as "MeanSquaredError"), a config dict
    ``{"class_name", "config"}``, a Loss class or instance, or a per-sample function (wrapped in a
    :class:`LossFunctionWrapper`, as Keras's ``compile`` does). The result is always called as
    ``loss(y_true, y_pred, sample_weight=None)`` → scalar. None gives None.

    Raises:
        ValueError: for an unknown name, listing the valid ones.

    >>> get("mse")
    MeanSquaredError(name='mean_squared_error', reduction='sum_over_batch_size')
    """
    if identifier is None:
        return None
    if isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, str):
        cls_name = _BY_NAME.get(identifier, identifier if identifier in _CLASSES else None)
        if cls_name is None:
            raise ValueError(f"Unknown loss {identifier!r}; valid names: "
                             f"{', '.join(sorted(set(_BY_NAME) | set(_CLASSES)))}")
        return _CLASSES[cls_name]()
    if isinstance(identifier, dict):
        return from_config_dict(identifier, _CLASSES, "loss")
    if isinstance(identifier, type) and issubclass(identifier, Loss):
        return identifier()
    if callable(identifier):
        if identifier in _FUNCTIONS:
            return _CLASSES[_FUNCTIONS[identifier]]()
        return LossFunctionWrapper(identifier)
    raise ValueError(f"Could not interpret loss {identifier!r} (of type {type(identifier).__name__}): "
                     f"expected a name, a config dict, a Loss or a function")


def serialize(loss: Loss) -> dict:
    """``{"class_name": ..., "config": ...}`` (``get`` inverts it).

    >>> serialize(Huber(delta=2.0))["config"]["delta"]
    2.0
    """
    if not isinstance(loss, Loss) or type(loss).__name__ not in _CLASSES:
        raise ValueError(f"Cannot serialise loss {loss!r}: only the built-in Loss classes can be")
    return {"class_name": type(loss).__name__, "config": loss.get_config()}
