"""Stateless metric functions (one value per sample) and the input checks they share."""
from __future__ import annotations

import re

import numpy as np

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


def mean_absolute_percentage_error(y_true, y_pred) -> np.ndarray:
    """Per-sample ``100 · mean(|y_true − y_pred| / max(|y_true|, ε))`` over the last axis
    (Keras's, ε = 1e-7; ``sklearn.metrics.mean_absolute_percentage_error`` is this / 100 with
    its own ε).

    >>> mean_absolute_percentage_error([[2.0, 4.0]], [[1.0, 5.0]]).tolist()
    [37.5]
    """
    t, p = _same_shape(y_true, y_pred, "mean_absolute_percentage_error")
    t, p = t.astype(np.float64), p.astype(np.float64)
    return 100.0 * np.mean(np.abs(t - p) / np.maximum(np.abs(t), EPSILON), axis=-1)
