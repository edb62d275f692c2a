"""What ``'accuracy'`` means for a loss and shapes (``resolve_accuracy``, ``AutoAccuracy``), and
``get``: metrics by name or object."""
from __future__ import annotations

from typing import Any

import numpy as np

from .base import (
    Accuracy,
    BinaryAccuracy,
    CategoricalAccuracy,
    MeanAbsoluteError,
    MeanAbsolutePercentageError,
    MeanMetricWrapper,
    MeanSquaredError,
    Metric,
    RootMeanSquaredError,
    SparseCategoricalAccuracy,
    SparseTopKCategoricalAccuracy,
    TopKCategoricalAccuracy,
)
from .confusion import (AUC, FalseNegatives, FalsePositives, Precision, Recall, TrueNegatives,
                        TruePositives)
from .functions import _to_snake

# ---------------------------------------------------------------------------------------------
# 'accuracy' and get()
# ---------------------------------------------------------------------------------------------
_BINARY_LOSSES = {"binary_crossentropy", "bce", "binary_focal_crossentropy"}
_SPARSE_LOSSES = {"sparse_categorical_crossentropy"}


def _loss_names(loss) -> set[str]:
    """Names a loss goes by: the string, the function's or the class's name in snake_case, and a
    ``name`` attribute (instances). Matched by name, so the losses module is not imported."""
    if loss is None:
        return set()
    if isinstance(loss, str):
        raw = [loss]
    elif isinstance(loss, type) or callable(loss) and hasattr(loss, "__name__"):
        raw = [loss.__name__]
    else:
        raw = [type(loss).__name__]
    if isinstance(getattr(loss, "name", None), str):
        raw.append(loss.name)
    return {_to_snake(r) for r in raw} | {r.lower() for r in raw}


def resolve_accuracy(loss=None, y_true_shape=None, y_pred_shape=None) -> tuple[str | None, str]:
    """Which accuracy ``'accuracy'`` / ``'acc'`` means, and why.

    The rule (checked in order):

    1. ``binary_accuracy`` if the loss is binary cross-entropy or ``y_pred``'s last dimension is 1;
    2. ``sparse_categorical_accuracy`` if the loss is sparse categorical cross-entropy, or
       ``y_true`` has lower rank than ``y_pred``, or ``y_true``'s last dimension is 1 while
       ``y_pred``'s is larger;
    3. ``categorical_accuracy`` otherwise (one-hot targets; e.g. one-hot ``Y`` of shape (n, 3),
       a softmax output and a mean-squared-error loss).

    The shape tests are Keras 3's (``compile_utils.is_binary_or_sparse_categorical``); the loss
    tests are what Keras ≤ 2.2 did and the tf.keras documentation still promises (tensorflow
    #41361). They disagree only for binary cross-entropy over several sigmoid outputs
    (multi-label): Keras 3 picks categorical accuracy (argmax of a multi-hot target, which is
    meaningless there), this rule picks element-wise binary accuracy.

    Args:
        loss: a loss name or object (matched by name), or None.
        y_true_shape, y_pred_shape: shapes (tuples) or None when not yet known.

    Returns:
        ``(resolved, reason)``; ``resolved`` is None when the shapes are needed but not given.

    >>> resolve_accuracy("mean_squared_error", (150, 3), (150, 3))
    ('categorical_accuracy', 'y_true and y_pred both have shape (150, 3): one-hot targets')
    >>> resolve_accuracy("binary_crossentropy")[0]
    'binary_accuracy'
    """
    names = _loss_names(loss)
    if names & _BINARY_LOSSES:
        return "binary_accuracy", f"the loss is binary cross-entropy ({_loss_label(loss)})"
    p = None if y_pred_shape is None else tuple(y_pred_shape)
    t = None if y_true_shape is None else tuple(y_true_shape)
    if p is not None and len(p) >= 1 and p[-1] == 1:
        return "binary_accuracy", f"y_pred's last dimension is 1 (shape {p})"
    if names & _SPARSE_LOSSES:
        return ("sparse_categorical_accuracy",
                f"the loss is sparse categorical cross-entropy ({_loss_label(loss)})")
    if p is None or t is None:
        return None, "needs the shapes of y_true and y_pred"
    if len(t) < len(p):
        return ("sparse_categorical_accuracy",
                f"y_true has rank {len(t)} < y_pred's rank {len(p)}: integer labels")
    if len(t) >= 1 and len(p) >= 1 and t[-1] == 1 and (p[-1] is None or p[-1] > 1):
        return ("sparse_categorical_accuracy",
                f"y_true's last dimension is 1 and y_pred's is {p[-1]}: integer labels")
    if t == p:
        return "categorical_accuracy", f"y_true and y_pred both have shape {p}: one-hot targets"
    return "categorical_accuracy", f"y_true shape {t}, y_pred shape {p}: one-hot targets"


def _loss_label(loss) -> str:
    return loss if isinstance(loss, str) else getattr(loss, "__name__", type(loss).__name__)


def _accuracy_metric(resolved: str, name: str, loss) -> Metric:
    if resolved == "binary_accuracy":
        return BinaryAccuracy(name=name, from_logits=bool(getattr(loss, "from_logits", False)))
    return {"sparse_categorical_accuracy": SparseCategoricalAccuracy,
            "categorical_accuracy": CategoricalAccuracy}[resolved](name=name)


class AutoAccuracy(Metric):
    """``'accuracy'`` before the shapes are known: resolved by :func:`resolve_accuracy` on the
    first ``update_state`` (as Keras builds its compiled metrics on the first batch), then
    delegating to the chosen metric. ``resolved`` is None until then; ``reason`` says why.

    >>> m = AutoAccuracy(); m.update_state([0, 2], [[0.9, 0.1, 0], [0.2, 0.3, 0.5]])
    >>> m.name, m.resolved, m.result()
    ('accuracy', 'sparse_categorical_accuracy', 1.0)
    """
    direction = "up"

    def __init__(self, name: str = "accuracy", loss=None, dtype: Any = None):
        self.loss = loss
        self._inner: Metric | None = None
        self.reason = "not resolved yet: needs the shapes of y_true and y_pred"
        super().__init__(name=name, dtype=dtype)

    @property
    def resolved(self) -> str | None:
        return None if self._inner is None else self._inner.resolved

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        if self._inner is None:
            kind, self.reason = resolve_accuracy(self.loss, np.shape(y_true), np.shape(y_pred))
            self._inner = _accuracy_metric(kind, self.name, self.loss)
        self._inner.update_state(y_true, y_pred, sample_weight)

    def result(self) -> float:
        return 0.0 if self._inner is None else self._inner.result()

    def reset_state(self) -> None:
        if getattr(self, "_inner", None) is not None:
            self._inner.reset_state()

    def get_config(self) -> dict:
        loss = self.loss if self.loss is None or isinstance(self.loss, str) else \
            _to_snake(_loss_label(self.loss))
        return {"name": self.name, "dtype": self.dtype, "loss": loss}


_CLASSES: dict[str, type] = {
    c.__name__: c for c in (
        Accuracy, BinaryAccuracy, CategoricalAccuracy, SparseCategoricalAccuracy,
        TopKCategoricalAccuracy, SparseTopKCategoricalAccuracy, Precision, Recall, AUC,
        TruePositives, FalsePositives, TrueNegatives, FalseNegatives,
        MeanSquaredError, MeanAbsoluteError, MeanAbsolutePercentageError, RootMeanSquaredError)}
# Keras's table: class names, their snake_case, and the mse / mae aliases. ``Mean`` is left out:
# it takes values, not (y_true, y_pred), so it cannot be a compiled metric.
_REGISTRY: dict[str, type] = {**_CLASSES, **{_to_snake(k): c for k, c in _CLASSES.items()},
                              "mse": MeanSquaredError, "MSE": MeanSquaredError,
                              "mae": MeanAbsoluteError, "MAE": MeanAbsoluteError,
                              "mape": MeanAbsolutePercentageError,
                              "MAPE": MeanAbsolutePercentageError}


def get(identifier, loss=None, y_true=None, y_pred=None) -> Metric | None:
    """A metric object from a name, a class, an instance or a function (Keras's ``get_metric``).

    * ``'accuracy'`` / ``'acc'`` (any case) resolve with :func:`resolve_accuracy` from ``loss`` and
      the shapes of ``y_true`` / ``y_pred`` (arrays; may be omitted, then an :class:`AutoAccuracy`
      resolves on the first batch). The metric keeps the user's string as its ``name`` and says
      what it became in ``resolved`` (and ``reason``).
    * Other strings: Keras's class names (``'BinaryAccuracy'``), their snake_case
      (``'binary_accuracy'``, ``'auc'``, ``'root_mean_squared_error'``) and ``'mse'``/``'mae'``;
      the metric is named by the string, as in Keras.
    * A :class:`Metric` instance is returned as is, a class is instantiated, a function
      ``fn(y_true, y_pred)`` is wrapped in :class:`MeanMetricWrapper`; None gives None.

    Raises:
        ValueError: an unknown name (listing the valid ones) or an unusable object.

    >>> Y = np.eye(3)[[0, 1, 2, 1]]
    >>> m = get("accuracy", loss="mean_squared_error", y_true=Y, y_pred=Y)
    >>> m.name, m.resolved
    ('accuracy', 'categorical_accuracy')
    >>> get("mse").name, get("mse").resolved
    ('mse', 'mean_squared_error')
    """
    if identifier is None:
        return None
    if isinstance(identifier, Metric):
        return identifier
    if isinstance(identifier, str):
        if identifier.lower() in ("accuracy", "acc"):
            has_shapes = y_true is not None and y_pred is not None
            kind, reason = resolve_accuracy(
                loss, np.shape(y_true) if has_shapes else None,
                np.shape(y_pred) if y_pred is not None else None)
            if kind is None:
                return AutoAccuracy(name=identifier, loss=loss)
            metric = _accuracy_metric(kind, identifier, loss)
            metric.reason = reason
            return metric
        cls = _REGISTRY.get(identifier)
        if cls is None:
            valid = sorted({"accuracy", "acc", *_REGISTRY})
            raise ValueError(f"unknown metric {identifier!r}; valid names: {', '.join(valid)}")
        return cls(name=identifier)
    if isinstance(identifier, type) and issubclass(identifier, Metric):
        return identifier()
    if callable(identifier):
        return MeanMetricWrapper(identifier)
    raise ValueError(f"a metric must be a name, a Metric, a Metric class or a function "
                     f"fn(y_true, y_pred); received {identifier!r}")
