"""Stateful metrics with Keras 3 semantics, in plain numpy (no autodiff: arrays in, floats out).

A metric accumulates over batches and reports once::

    m.update_state(y_true, y_pred, sample_weight=None)   # add a batch
    m.result()                                           # a Python float
    m.reset_state()                                      # start again (fit does this every epoch)

``m.name`` is the key History, the progress bar and the callbacks use (``'accuracy'`` if the user
wrote ``'accuracy'``); ``m.resolved`` is the metric's kind (``'categorical_accuracy'``), so a
summary can say what ``'accuracy'`` turned into; ``m.direction`` is ``'up'`` or ``'down'`` (Keras's
``_direction``), read by EarlyStopping / ModelCheckpoint in ``mode='auto'``.

How values are averaged (Keras 3, ``keras/src/metrics/reduction_metrics.py``): a metric function
gives one value per element, it is averaged over the last axis into one value per sample, and the
state is ``total = Σᵢ wᵢ vᵢ``, ``count = Σᵢ wᵢ`` (``wᵢ = 1`` without ``sample_weight``), so
``result = total / count`` (0 when ``count = 0``, Keras's ``divide_no_nan``). Accumulating batch by
batch therefore gives exactly the one-shot value. Weights of rank > 1 are averaged over their
trailing axes, like Keras.

Where this module differs from Keras 3, on purpose:

* Rank-1 ``y_true`` and ``y_pred`` (``(n,)`` and ``(n,)``): Keras averages the batch to a scalar
  and counts the whole batch as *one* sample (so batches of unequal size are weighted per batch,
  and a ``sample_weight`` of shape ``(n,)`` does not broadcast); here each element is a sample.
* Accumulation is float64 and ``result()`` a Python float (Keras: a float32 tensor).
* Mismatched shapes raise ``ValueError`` naming both shapes instead of broadcasting; labels for
  Precision / Recall / AUC must be 0 or 1 (Keras casts any non-zero label to True).
* ``'accuracy'`` also looks at the loss (see :func:`resolve_accuracy`), and thresholds logits at 0
  when the loss says ``from_logits=True``.

References: Keras 3 ``keras/src/metrics/{accuracy,confusion,regression,reduction}_metrics.py`` and
``keras/src/trainers/compile_utils.py`` (``get_metric``); Fawcett (2006), "An introduction to ROC
analysis", for the AUC.
"""
from __future__ import annotations

import re
from typing import Any, Callable

import numpy as np

__all__ = [
    "Metric", "Mean", "MeanMetricWrapper",
    "Accuracy", "BinaryAccuracy", "CategoricalAccuracy", "SparseCategoricalAccuracy",
    "TopKCategoricalAccuracy", "SparseTopKCategoricalAccuracy", "AutoAccuracy",
    "Precision", "Recall", "AUC",
    "MeanSquaredError", "MeanAbsoluteError", "RootMeanSquaredError",
    "accuracy", "binary_accuracy", "categorical_accuracy", "sparse_categorical_accuracy",
    "top_k_categorical_accuracy", "sparse_top_k_categorical_accuracy",
    "mean_squared_error", "mean_absolute_error",
    "get", "resolve_accuracy",
]

EPSILON = 1e-7          # Keras's backend.epsilon(): the AUC's end thresholds are -ε and 1 + ε


# ---------------------------------------------------------------------------------------------
# Shapes and weights
# ---------------------------------------------------------------------------------------------
def _to_snake(name: str) -> str:
    """Keras's ``to_snake_case``: ``'BinaryCrossentropy'`` → ``'binary_crossentropy'``,
    ``'AUC'`` → ``'auc'``."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def _array(x, what: str, metric: str) -> np.ndarray:
    try:
        a = np.asarray(x)
    except Exception as e:                                       # ragged lists and the like
        raise ValueError(f"{metric}: {what} must be an array; received {type(x).__name__}") from e
    if a.dtype == object:
        raise ValueError(f"{metric}: {what} must be numeric; received an object array "
                         f"of shape {a.shape}")
    return a


def _squeeze_or_expand(x1: np.ndarray, x2: np.ndarray, expand_rank_1: bool = True):
    """Keras's ``squeeze_or_expand_to_same_rank``: when the ranks differ by one and the longer has
    a trailing axis of size 1, drop it (or, if the shorter is rank 1, give that one the axis)."""
    r1, r2 = x1.ndim, x2.ndim
    if r1 == r2 + 1 and x1.shape[-1] == 1:
        if r2 == 1 and expand_rank_1:
            x2 = x2[..., None]
        else:
            x1 = x1[..., 0]
    elif r2 == r1 + 1 and x2.shape[-1] == 1:
        if r1 == 1 and expand_rank_1:
            x1 = x1[..., None]
        else:
            x2 = x2[..., 0]
    return x1, x2


def _same_shape(y_true, y_pred, metric: str) -> tuple[np.ndarray, np.ndarray]:
    """``y_true`` and ``y_pred`` of one shape, at least ``(n, 1)`` (each row a sample)."""
    t, p = _array(y_true, "y_true", metric), _array(y_pred, "y_pred", metric)
    t2, p2 = _squeeze_or_expand(t, p)
    if t2.shape != p2.shape:
        raise ValueError(f"{metric}: y_true and y_pred must have the same shape (a trailing axis "
                         f"of size 1 may differ); received y_true.shape={t.shape} and "
                         f"y_pred.shape={p.shape}")
    if t2.ndim == 0:
        t2, p2 = t2.reshape(1, 1), p2.reshape(1, 1)
    elif t2.ndim == 1:                  # each element a sample (Keras: the batch is one sample)
        t2, p2 = t2[:, None], p2[:, None]
    return t2, p2


def _labels_and_scores(y_true, y_pred, metric: str) -> tuple[np.ndarray, np.ndarray]:
    """Integer labels of shape ``y_pred.shape[:-1]`` from ``y_true`` of that shape or with a
    trailing axis of size 1 (the sparse metrics)."""
    t, p = _array(y_true, "y_true", metric), _array(y_pred, "y_pred", metric)
    if p.ndim < 1 or p.shape[-1] < 1:
        raise ValueError(f"{metric}: y_pred must have a class axis last, shape (..., classes); "
                         f"received y_pred.shape={p.shape}")
    if p.ndim == 1:                     # a single sample's scores
        p = p[None]
        t = t.reshape(1) if t.size == 1 else t
    if t.shape == p.shape[:-1] + (1,):
        t = t[..., 0]
    if t.shape != p.shape[:-1]:
        hint = (" (one-hot y_true: use categorical accuracy)" if t.shape == p.shape else "")
        raise ValueError(f"{metric}: y_true must hold integer class indices of shape "
                         f"y_pred.shape[:-1]={p.shape[:-1]} (or with a trailing 1); received "
                         f"y_true.shape={_array(y_true, 'y_true', metric).shape} and "
                         f"y_pred.shape={_array(y_pred, 'y_pred', metric).shape}{hint}")
    if t.size and (not np.all(np.isfinite(t)) or np.any(t != np.round(t))
                   or t.min() < 0 or t.max() >= p.shape[-1]):
        raise ValueError(f"{metric}: y_true must hold integer class indices in [0, "
                         f"{p.shape[-1]}); received values from {t.min()} to {t.max()}")
    return t.astype(np.int64), p


def _one_hot_labels(y_true, y_pred, metric: str) -> tuple[np.ndarray, np.ndarray]:
    """Labels ``argmax(y_true)`` from one-hot (or soft) ``y_true`` of ``y_pred``'s shape."""
    t, p = _array(y_true, "y_true", metric), _array(y_pred, "y_pred", metric)
    if t.shape != p.shape or p.ndim < 1:
        hint = (" (integer labels: use sparse categorical accuracy)"
                if p.ndim >= 1 and t.shape in (p.shape[:-1], p.shape[:-1] + (1,)) else "")
        raise ValueError(f"{metric}: y_true must be one-hot with the same shape as y_pred; "
                         f"received y_true.shape={t.shape} and y_pred.shape={p.shape}{hint}")
    if p.ndim == 1:
        t, p = t[None], p[None]
    return np.argmax(t, axis=-1), p


def _samplewise(values: np.ndarray, sample_weight, metric: str):
    """Keras's ``reduce_to_samplewise_values`` with ``reduce_fn=mean``: per-sample values and
    per-sample weights (``None`` when no weights were given)."""
    values = np.asarray(values, dtype=np.float64)
    sw = None
    if sample_weight is not None:
        sw = _array(sample_weight, "sample_weight", metric).astype(np.float64)
        values, sw = _squeeze_or_expand(values, sw)
        if values.ndim > sw.ndim:
            values = values.mean(axis=tuple(range(sw.ndim, values.ndim)))
        try:
            sw = np.broadcast_to(sw, values.shape)
        except ValueError:
            raise ValueError(f"{metric}: sample_weight of shape "
                             f"{np.shape(sample_weight)} does not match the batch: expected a "
                             f"scalar or shape ({values.shape[0] if values.ndim else ''},) "
                             f"(per-sample values have shape {values.shape})") from None
        values = values * sw
        if sw.ndim > 1:
            sw = sw.mean(axis=tuple(range(1, sw.ndim)))
    if values.ndim > 1:
        values = values.mean(axis=tuple(range(1, values.ndim)))
    return values, sw


def _elementwise_weights(sample_weight, shape: tuple, metric: str) -> np.ndarray:
    """``sample_weight`` broadcast to every element of ``y_pred`` (the confusion metrics)."""
    if sample_weight is None:
        return np.ones(shape)
    sw = _array(sample_weight, "sample_weight", metric).astype(np.float64)
    while sw.ndim and sw.ndim < len(shape):                      # (n,) against (n, k): per row
        sw = sw[..., None]
    try:
        return np.broadcast_to(sw, shape)
    except ValueError:
        raise ValueError(f"{metric}: sample_weight of shape {np.shape(sample_weight)} does not "
                         f"broadcast to y_pred's shape {shape}") from None


def _binary_labels(t: np.ndarray, metric: str) -> np.ndarray:
    if t.size and not np.all((t == 0) | (t == 1)):
        bad = t[(t != 0) & (t != 1)].ravel()[:3]
        raise ValueError(f"{metric}: y_true must be binary labels (0 or 1); received values such "
                         f"as {bad.tolist()}")
    return t.astype(np.float64)


# ---------------------------------------------------------------------------------------------
# Per-sample metric functions (Keras names; each returns one value per sample)
# ---------------------------------------------------------------------------------------------
def accuracy(y_true, y_pred) -> np.ndarray:
    """Exact-match accuracy per sample: ``mean(y_true == y_pred)`` over the last axis.

    >>> accuracy([[1], [2], [3], [4]], [[0], [2], [3], [4]]).tolist()
    [0.0, 1.0, 1.0, 1.0]
    """
    t, p = _same_shape(y_true, y_pred, "accuracy")
    return np.mean(t == p, axis=-1)


def binary_accuracy(y_true, y_pred, threshold: float = 0.5) -> np.ndarray:
    """Per-sample ``mean(y_true == (y_pred > threshold))`` over the last axis (Keras: strictly
    greater, so 0.5 predicts 0).

    >>> binary_accuracy([[1], [1], [0], [0]], [[0.98], [1], [0], [0.6]]).tolist()
    [1.0, 1.0, 1.0, 0.0]
    """
    t, p = _same_shape(y_true, y_pred, "binary_accuracy")
    return np.mean(t == (p > threshold), axis=-1)


def categorical_accuracy(y_true, y_pred) -> np.ndarray:
    """Per-sample ``argmax(y_true) == argmax(y_pred)`` for one-hot ``y_true`` (logits or
    probabilities: the argmax is the same; ties go to the first class, as ``argmax``).

    >>> categorical_accuracy([[0, 0, 1], [0, 1, 0]], [[0.1, 0.9, 0.8], [0.05, 0.95, 0]]).tolist()
    [0.0, 1.0]
    """
    labels, p = _one_hot_labels(y_true, y_pred, "categorical_accuracy")
    return (labels == np.argmax(p, axis=-1)).astype(np.float64)


def sparse_categorical_accuracy(y_true, y_pred) -> np.ndarray:
    """Per-sample ``y_true == argmax(y_pred)`` for integer labels of shape ``(n,)`` or ``(n, 1)``.

    >>> sparse_categorical_accuracy([[2], [1]], [[0.1, 0.6, 0.3], [0.05, 0.95, 0]]).tolist()
    [0.0, 1.0]
    """
    labels, p = _labels_and_scores(y_true, y_pred, "sparse_categorical_accuracy")
    return (labels == np.argmax(p, axis=-1)).astype(np.float64)


def _in_top_k(labels: np.ndarray, scores: np.ndarray, k: int) -> np.ndarray:
    # Keras's in_top_k: the target is in the top k when its score ≥ the k-th largest score, so
    # ties straddling the boundary count as in (k ≥ the number of classes: always in).
    c = scores.shape[-1]
    k = min(int(k), c)
    kth = np.partition(scores, c - k, axis=-1)[..., c - k]
    target = np.take_along_axis(scores, labels[..., None], axis=-1)[..., 0]
    return (target >= kth).astype(np.float64)


def top_k_categorical_accuracy(y_true, y_pred, k: int = 5) -> np.ndarray:
    """Per-sample: is ``argmax(y_true)`` among the ``k`` largest scores of ``y_pred``?

    >>> top_k_categorical_accuracy([[0, 0, 1], [0, 1, 0]], [[0.1, 0.9, 0.8], [0.05, 0.95, 0]],
    ...                            k=1).tolist()
    [0.0, 1.0]
    """
    labels, p = _one_hot_labels(y_true, y_pred, "top_k_categorical_accuracy")
    return _in_top_k(labels, p, k)


def sparse_top_k_categorical_accuracy(y_true, y_pred, k: int = 5) -> np.ndarray:
    """Per-sample: is the integer label among the ``k`` largest scores of ``y_pred``?

    >>> sparse_top_k_categorical_accuracy([2, 1], [[0.1, 0.9, 0.8], [0.05, 0.95, 0]],
    ...                                   k=1).tolist()
    [0.0, 1.0]
    """
    labels, p = _labels_and_scores(y_true, y_pred, "sparse_top_k_categorical_accuracy")
    return _in_top_k(labels, p, k)


def mean_squared_error(y_true, y_pred) -> np.ndarray:
    """Per-sample ``mean((y_pred − y_true)²)`` over the last axis.

    >>> mean_squared_error([[0, 1], [0, 0]], [[1, 1], [0, 0]]).tolist()
    [0.5, 0.0]
    """
    t, p = _same_shape(y_true, y_pred, "mean_squared_error")
    return np.mean(np.square(p.astype(np.float64) - t), axis=-1)


def mean_absolute_error(y_true, y_pred) -> np.ndarray:
    """Per-sample ``mean(|y_pred − y_true|)`` over the last axis.

    >>> mean_absolute_error([[0, 1], [0, 0]], [[1, 1], [0, 0]]).tolist()
    [0.5, 0.0]
    """
    t, p = _same_shape(y_true, y_pred, "mean_absolute_error")
    return np.mean(np.abs(p.astype(np.float64) - t), axis=-1)


# ---------------------------------------------------------------------------------------------
# Metric objects
# ---------------------------------------------------------------------------------------------
class Metric:
    """Base class: a named accumulator. Subclasses implement ``update_state``, ``result``,
    ``reset_state`` and extend ``get_config``.

    Attributes:
        name: the key under which the result is logged.
        resolved: the metric's kind, e.g. ``'binary_accuracy'`` (for ``'accuracy'``: what it
            resolved to; ``None`` until known).
        direction: ``'up'`` (bigger is better), ``'down'`` or ``None`` (unknown).
    """

    direction: str | None = None
    reason: str | None = None       # for 'accuracy': why it resolved as it did

    def __init__(self, name: str | None = None, dtype: Any = None):
        if name is not None and not isinstance(name, str):
            raise ValueError(f"{type(self).__name__}: name must be a string; received {name!r}")
        self.name = name or _to_snake(type(self).__name__)
        self.dtype = dtype              # accepted for Keras compatibility; state is float64
        self.reset_state()

    @property
    def resolved(self) -> str | None:
        return _to_snake(type(self).__name__)

    @property
    def _direction(self) -> str | None:             # Keras's spelling, read by Keras-style code
        return self.direction

    def update_state(self, *args, **kwargs) -> None:
        raise NotImplementedError

    def result(self):
        raise NotImplementedError

    def reset_state(self) -> None:
        raise NotImplementedError

    def __call__(self, *args, **kwargs):
        """Update with one batch and return the running result (Keras's ``Metric.__call__``)."""
        self.update_state(*args, **kwargs)
        return self.result()

    def get_config(self) -> dict:
        return {"name": self.name, "dtype": self.dtype}

    @classmethod
    def from_config(cls, config: dict) -> "Metric":
        return cls(**config)

    def __repr__(self) -> str:
        extra = f", resolved={self.resolved!r}" if self.resolved != self.name else ""
        return f"<{type(self).__name__} name={self.name!r}{extra}>"


class Mean(Metric):
    """Weighted mean of values: ``Σ wᵢ vᵢ / Σ wᵢ`` (0 before any weight), Keras's ``Mean``.

    ``update_state(values, sample_weight=None)``: values of rank > 1 are first averaged over their
    trailing axes (one value per sample). A scalar value with a scalar weight adds ``w·v`` to the
    total and ``w`` to the count, which is how ``fit`` tracks the loss: ``update_state(batch_loss,
    sample_weight=batch_size)``.

    >>> m = Mean()
    >>> m.update_state([1, 3, 5, 7]); m.result()
    4.0
    >>> m.reset_state(); m.update_state([1, 3, 5, 7], sample_weight=[1, 1, 0, 0]); m.result()
    2.0
    """

    def reset_state(self) -> None:
        self.total = 0.0
        self.count = 0.0

    def update_state(self, values, sample_weight=None) -> None:
        v = _array(values, "values", self.name)
        v, sw = _samplewise(v, sample_weight, self.name)
        self.total += float(np.sum(v))
        if sw is not None:
            self.count += float(np.sum(sw))
        else:
            self.count += float(v.shape[0]) if v.ndim else 1.0

    def result(self) -> float:
        return self.total / self.count if self.count != 0 else 0.0


class MeanMetricWrapper(Mean):
    """The weighted mean of a per-sample function ``fn(y_true, y_pred, **kwargs)``.

    Args:
        fn: returns one value per sample (or per element; averaged over the last axes).
        name: defaults to ``fn.__name__``.
        direction: ``'up'``, ``'down'`` or ``None``.
        **kwargs: passed to ``fn``.

    >>> m = MeanMetricWrapper(lambda t, p: (np.asarray(t) - p) ** 2, name="sq")
    >>> m.update_state([0.0, 2.0], [1.0, 2.0]); m.result()
    0.5
    """

    def __init__(self, fn: Callable, name: str | None = None, dtype: Any = None,
                 direction: str | None = None, **kwargs):
        if not callable(fn):
            raise ValueError(f"MeanMetricWrapper: fn must be callable; received {fn!r}")
        self._fn, self._fn_kwargs = fn, kwargs
        if direction is not None:
            self.direction = direction
        super().__init__(name=name or getattr(fn, "__name__", None), dtype=dtype)

    @property
    def resolved(self) -> str | None:
        return getattr(self._fn, "__name__", self.name)

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        super().update_state(self._fn(y_true, y_pred, **self._fn_kwargs), sample_weight)

    def get_config(self) -> dict:
        return {**super().get_config(), **self._fn_kwargs}


class _MeanOf(MeanMetricWrapper):
    """A named metric class over one of this module's functions (no ``fn`` in its config)."""

    _function: Callable

    def __init__(self, name: str | None = None, dtype: Any = None, **kwargs):
        super().__init__(type(self)._function, name=name or self._function.__name__, dtype=dtype,
                         **kwargs)

    @property
    def resolved(self) -> str:
        return self._function.__name__


class Accuracy(_MeanOf):
    """How often ``y_pred`` equals ``y_true`` exactly (labels against predicted labels).

    >>> m = Accuracy(); m.update_state([[1], [2], [3], [4]], [[0], [2], [3], [4]]); m.result()
    0.75
    >>> m.reset_state()
    >>> m.update_state([[1], [2], [3], [4]], [[0], [2], [3], [4]], sample_weight=[1, 1, 0, 0])
    >>> m.result()
    0.5
    """
    _function = staticmethod(accuracy)
    direction = "up"


class BinaryAccuracy(_MeanOf):
    """How often ``y_pred > threshold`` matches binary ``y_true``.

    Args:
        threshold: in (0, 1); a prediction strictly above it is class 1.
        from_logits: ``y_pred`` are logits, compared with ``log(t / (1 − t))`` (0 for 0.5).
            Not in Keras; set by :func:`get` when the loss has ``from_logits=True``.

    >>> m = BinaryAccuracy(); m.update_state([[1], [1], [0], [0]], [[0.98], [1], [0], [0.6]])
    >>> m.result()
    0.75
    """
    _function = staticmethod(binary_accuracy)
    direction = "up"

    def __init__(self, name: str | None = None, dtype: Any = None, threshold: float = 0.5,
                 from_logits: bool = False):
        if not 0 < threshold < 1:
            raise ValueError(f"BinaryAccuracy: threshold must be in (0, 1); received "
                             f"threshold={threshold}")
        self.threshold, self.from_logits = float(threshold), bool(from_logits)
        cut = float(np.log(threshold / (1 - threshold))) if from_logits else float(threshold)
        super().__init__(name=name, dtype=dtype, threshold=cut)

    def get_config(self) -> dict:
        return {"name": self.name, "dtype": self.dtype, "threshold": self.threshold,
                "from_logits": self.from_logits}


class CategoricalAccuracy(_MeanOf):
    """How often ``argmax(y_pred)`` matches one-hot ``y_true``.

    >>> m = CategoricalAccuracy()
    >>> m.update_state([[0, 0, 1], [0, 1, 0]], [[0.1, 0.9, 0.8], [0.05, 0.95, 0]],
    ...                sample_weight=[0.7, 0.3]); m.result()
    0.3
    """
    _function = staticmethod(categorical_accuracy)
    direction = "up"


class SparseCategoricalAccuracy(_MeanOf):
    """How often ``argmax(y_pred)`` matches integer ``y_true``.

    >>> m = SparseCategoricalAccuracy()
    >>> m.update_state([[2], [1]], [[0.1, 0.6, 0.3], [0.05, 0.95, 0]]); m.result()
    0.5
    """
    _function = staticmethod(sparse_categorical_accuracy)
    direction = "up"


class TopKCategoricalAccuracy(_MeanOf):
    """How often the one-hot target is among the ``k`` highest scores (default ``k=5``).

    >>> m = TopKCategoricalAccuracy(k=1)
    >>> m.update_state([[0, 0, 1], [0, 1, 0]], [[0.1, 0.9, 0.8], [0.05, 0.95, 0]]); m.result()
    0.5
    """
    _function = staticmethod(top_k_categorical_accuracy)
    direction = "up"

    def __init__(self, k: int = 5, name: str | None = None, dtype: Any = None):
        if int(k) != k or k < 1:
            raise ValueError(f"{type(self).__name__}: k must be a positive integer; "
                             f"received k={k!r}")
        self.k = int(k)
        super().__init__(name=name, dtype=dtype, k=self.k)


class SparseTopKCategoricalAccuracy(TopKCategoricalAccuracy):
    """How often the integer target is among the ``k`` highest scores (default ``k=5``).

    >>> m = SparseTopKCategoricalAccuracy(k=1)
    >>> m.update_state([2, 1], [[0.1, 0.9, 0.8], [0.05, 0.95, 0]]); m.result()
    0.5
    """
    _function = staticmethod(sparse_top_k_categorical_accuracy)


class MeanSquaredError(_MeanOf):
    """Weighted mean over samples of ``mean((y_pred − y_true)²)`` over the last axis.

    >>> m = MeanSquaredError(); m.update_state([[0, 1], [0, 0]], [[1, 1], [0, 0]]); m.result()
    0.25
    """
    _function = staticmethod(mean_squared_error)
    direction = "down"


class MeanAbsoluteError(_MeanOf):
    """Weighted mean over samples of ``mean(|y_pred − y_true|)`` over the last axis.

    >>> m = MeanAbsoluteError(); m.update_state([[0, 1], [0, 0]], [[1, 1], [0, 0]]); m.result()
    0.25
    """
    _function = staticmethod(mean_absolute_error)
    direction = "down"


class RootMeanSquaredError(MeanSquaredError):
    """``sqrt`` of :class:`MeanSquaredError`'s result (Keras: the root of the accumulated mean,
    not a mean of per-batch roots).

    >>> m = RootMeanSquaredError(); m.update_state([[0, 1], [0, 0]], [[1, 1], [0, 0]]); m.result()
    0.5
    """

    def __init__(self, name: str | None = None, dtype: Any = None):
        super().__init__(name=name or "root_mean_squared_error", dtype=dtype)

    @property
    def resolved(self) -> str:
        return "root_mean_squared_error"

    def result(self) -> float:
        return float(np.sqrt(super().result()))


# ---------------------------------------------------------------------------------------------
# Confusion-matrix metrics
# ---------------------------------------------------------------------------------------------
def _counts_above(thresholds: np.ndarray, y_true: np.ndarray, y_pred: np.ndarray,
                  weight: np.ndarray) -> tuple[np.ndarray, np.ndarray, float, float]:
    """Weighted true and false positives at each (ascending) threshold, with Keras's rule
    "positive ⇔ y_pred > threshold", and the total positive and negative weights.

    One pass: ``k = #{thresholds < y_pred}`` is each prediction's bucket; it is positive at
    threshold ``i`` iff ``k > i``, so ``tp[i]`` is a suffix sum of the bucket histogram.
    """
    k = np.searchsorted(thresholds, y_pred, side="left")
    k[np.isnan(y_pred)] = 0                               # NaN > t is false: never positive
    n = len(thresholds) + 1
    pos = np.bincount(k, weights=weight * y_true, minlength=n)
    neg = np.bincount(k, weights=weight * (1.0 - y_true), minlength=n)
    tp = np.cumsum(pos[::-1])[::-1][1:]
    fp = np.cumsum(neg[::-1])[::-1][1:]
    return tp, fp, float(pos.sum()), float(neg.sum())


class _ConfusionMetric(Metric):
    direction = "up"

    def __init__(self, thresholds, name: str | None = None, dtype: Any = None,
                 from_logits: bool = False):
        thr = np.atleast_1d(np.asarray(thresholds, dtype=np.float64))
        if thr.ndim != 1 or thr.size == 0:
            raise ValueError(f"{type(self).__name__}: thresholds must be a float or a list of "
                             f"floats; received {thresholds!r}")
        self._order = np.argsort(thr, kind="stable")
        self._sorted = thr[self._order]
        self._inverse = np.argsort(self._order)
        self.from_logits = bool(from_logits)
        super().__init__(name=name, dtype=dtype)

    def reset_state(self) -> None:
        n = len(self._sorted)
        self.true_positives, self.false_positives = np.zeros(n), np.zeros(n)
        self.true_negatives, self.false_negatives = np.zeros(n), np.zeros(n)

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        who = type(self).__name__
        t, p = _same_shape(y_true, y_pred, who)
        w = _elementwise_weights(sample_weight, p.shape, who).ravel()
        t = _binary_labels(t, who).ravel()
        p = p.astype(np.float64).ravel()
        if self.from_logits:
            p = 1.0 / (1.0 + np.exp(-p))
        tp, fp, n_pos, n_neg = _counts_above(self._sorted, t, p, w)
        self.true_positives += tp
        self.false_positives += fp
        self.false_negatives += n_pos - tp
        self.true_negatives += n_neg - fp

    def _out(self, values: np.ndarray):
        values = values[self._inverse]                       # back to the user's order
        return float(values[0]) if self._scalar else values


def _ratio(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a / b`` with 0 where ``b = 0`` (Keras's ``divide_no_nan``)."""
    return np.divide(a, b, out=np.zeros_like(a), where=b != 0)


class Precision(_ConfusionMetric):
    """Precision ``tp / (tp + fp)`` of binary predictions ``y_pred > threshold`` (0 when nothing
    is predicted positive). Keras's ``top_k`` and ``class_id`` are not supported.

    Args:
        thresholds: a float (default 0.5) or a list; with a list, ``result()`` is an array with
            one precision per threshold.

    >>> m = Precision(); m.update_state([0, 1, 1, 1], [1, 0, 1, 1]); round(m.result(), 4)
    0.6667
    """

    def __init__(self, thresholds=None, top_k=None, class_id=None, name: str | None = None,
                 dtype: Any = None):
        if top_k is not None or class_id is not None:
            raise ValueError(f"{type(self).__name__}: top_k and class_id are not supported; "
                             f"received top_k={top_k!r}, class_id={class_id!r}")
        self._scalar = thresholds is None or np.ndim(thresholds) == 0
        self.thresholds = 0.5 if thresholds is None else thresholds
        super().__init__(self.thresholds, name=name, dtype=dtype)

    def result(self):
        tp, fp = self.true_positives, self.false_positives
        return self._out(_ratio(tp, tp + fp))

    def get_config(self) -> dict:
        th = self.thresholds
        return {**super().get_config(), "thresholds": th if np.ndim(th) == 0 else list(th)}


class Recall(Precision):
    """Recall ``tp / (tp + fn)`` of binary predictions ``y_pred > threshold`` (default 0.5).

    >>> m = Recall(); m.update_state([0, 1, 1, 1], [1, 0, 1, 1]); round(m.result(), 4)
    0.6667
    """

    def result(self):
        tp, fn = self.true_positives, self.false_negatives
        return self._out(_ratio(tp, tp + fn))


class AUC(_ConfusionMetric):
    """Area under the ROC curve, approximated as Keras does, or exactly.

    Keras's approximation (the default): the confusion matrix is accumulated at
    ``num_thresholds`` thresholds, ``−ε, 1/(N−1), …, (N−2)/(N−1), 1 + ε`` (``ε = 1e-7``), giving
    ROC points ``(FPR_i, TPR_i)``, joined by straight lines (the trapezoidal rule, Keras's
    ``summation_method='interpolation'``):

        AUC ≈ Σᵢ (FPR_i − FPR_{i+1}) · (TPR_i + TPR_{i+1}) / 2.

    This equals the exact AUC (the probability that a random positive outscores a random
    negative, ties counting ½) with every positive–negative pair whose scores fall in the same
    bucket counted as a tie, so ``|approx − exact| ≤ ½ Σ_b P_b N_b / (P N)`` (``P_b``, ``N_b``:
    positive and negative weight in bucket ``b``): small when the scores spread over [0, 1].

    ``summation_method='minoring'`` / ``'majoring'`` use ``min`` / ``max`` of the two heights
    instead of their mean: lower and upper bounds for the bucketed curve.

    With ``exact=True`` (not in Keras) the scores are kept and the AUC is the trapezoid over every
    distinct score, what ``sklearn.metrics.roc_auc_score`` returns; memory grows with the data.

    Args:
        num_thresholds: > 1 (default 200).
        curve: ``'ROC'`` (the PR curve is not supported).
        summation_method: ``'interpolation'`` (default), ``'minoring'`` or ``'majoring'``.
        thresholds: explicit thresholds in [0, 1] (then ``num_thresholds = len + 2``).
        from_logits: apply a sigmoid to ``y_pred`` first.
        exact: compute the exact AUC instead.

    Without positives or negatives the ROC is undefined: the approximation gives 0 (Keras) and
    ``exact=True`` gives NaN. ``multi_label`` and ``label_weights`` are not supported (they
    raise ValueError).

    >>> m = AUC(num_thresholds=3); m.update_state([0, 0, 1, 1], [0, 0.5, 0.3, 0.9]); m.result()
    0.75
    >>> m = AUC(exact=True); m.update_state([0, 0, 1, 1], [0, 0.5, 0.3, 0.9]); m.result()
    0.75
    """

    def __init__(self, num_thresholds: int = 200, curve: str = "ROC",
                 summation_method: str = "interpolation", name: str | None = None,
                 dtype: Any = None, thresholds=None, multi_label: bool = False,
                 num_labels: int | None = None, label_weights=None, from_logits: bool = False,
                 *, exact: bool = False):
        if str(curve).upper() != "ROC":
            raise ValueError(f"AUC: only curve='ROC' is supported; received curve={curve!r}")
        self.summation_method = str(summation_method).lower()
        if self.summation_method not in ("interpolation", "minoring", "majoring"):
            raise ValueError(f"AUC: summation_method must be 'interpolation', 'minoring' or "
                             f"'majoring'; received summation_method={summation_method!r}")
        if multi_label or num_labels is not None or label_weights is not None:
            raise ValueError("AUC: multi_label, num_labels and label_weights are not supported")
        self._user_thresholds = thresholds
        if thresholds is not None:
            inner = sorted(float(t) for t in np.atleast_1d(thresholds))
            self.num_thresholds = len(inner) + 2
        else:
            if int(num_thresholds) != num_thresholds or num_thresholds <= 1:
                raise ValueError(f"AUC: num_thresholds must be an integer > 1; received "
                                 f"num_thresholds={num_thresholds!r}")
            self.num_thresholds = int(num_thresholds)
            inner = [(i + 1) / (self.num_thresholds - 1) for i in range(self.num_thresholds - 2)]
        self.exact = bool(exact)
        self._scalar = True
        super().__init__([0.0 - EPSILON] + inner + [1.0 + EPSILON], name=name, dtype=dtype,
                         from_logits=from_logits)

    @property
    def thresholds(self) -> list[float]:
        return self._sorted.tolist()

    def reset_state(self) -> None:
        super().reset_state()
        self._scores: list[np.ndarray] = []
        self._labels: list[np.ndarray] = []
        self._weights: list[np.ndarray] = []

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        super().update_state(y_true, y_pred, sample_weight)
        if self.exact:
            t, p = _same_shape(y_true, y_pred, "AUC")
            p = p.astype(np.float64).ravel()
            self._scores.append(1.0 / (1.0 + np.exp(-p)) if self.from_logits else p)
            self._labels.append(t.astype(np.float64).ravel())
            self._weights.append(_elementwise_weights(sample_weight, t.shape, "AUC").ravel())

    def result(self) -> float:
        if self.exact:
            return self._exact()
        tpr = _ratio(self.true_positives, self.true_positives + self.false_negatives)
        fpr = _ratio(self.false_positives, self.false_positives + self.true_negatives)
        heights = {"interpolation": (tpr[:-1] + tpr[1:]) / 2.0,
                   "minoring": np.minimum(tpr[:-1], tpr[1:]),
                   "majoring": np.maximum(tpr[:-1], tpr[1:])}[self.summation_method]
        return float(np.sum((fpr[:-1] - fpr[1:]) * heights))

    def _exact(self) -> float:
        if not self._scores:
            return float("nan")
        s, t, w = (np.concatenate(a) for a in (self._scores, self._labels, self._weights))
        order = np.argsort(-s, kind="mergesort")
        s, t, w = s[order], t[order], w[order]
        last = np.r_[np.nonzero(np.diff(s))[0], s.size - 1]    # last index of each distinct score
        tps = np.r_[0.0, np.cumsum(w * t)[last]]
        fps = np.r_[0.0, np.cumsum(w * (1 - t))[last]]
        if tps[-1] <= 0 or fps[-1] <= 0:
            return float("nan")
        tpr, fpr = tps / tps[-1], fps / fps[-1]
        return float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2.0))

    def get_config(self) -> dict:
        cfg = {"name": self.name, "dtype": self.dtype, "num_thresholds": self.num_thresholds,
               "curve": "ROC", "summation_method": self.summation_method,
               "from_logits": self.from_logits, "exact": self.exact}
        if self._user_thresholds is not None:
            cfg["thresholds"] = self.thresholds[1:-1]
        return cfg


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
        MeanSquaredError, MeanAbsoluteError, RootMeanSquaredError)}
# Keras's table: class names, their snake_case, and the mse / mae aliases. ``Mean`` is left out:
# it takes values, not (y_true, y_pred), so it cannot be a compiled metric.
_REGISTRY: dict[str, type] = {**_CLASSES, **{_to_snake(k): c for k, c in _CLASSES.items()},
                              "mse": MeanSquaredError, "MSE": MeanSquaredError,
                              "mae": MeanAbsoluteError, "MAE": MeanAbsoluteError}


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
