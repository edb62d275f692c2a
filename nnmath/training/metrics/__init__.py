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

Modules: ``functions`` (stateless metric functions), ``base`` (Metric, Mean and the
mean-of-a-function metrics), ``confusion`` (TruePositives … FalseNegatives, Precision, Recall, AUC), ``resolve`` (``'accuracy'``
and ``get``).

References: Keras 3 ``keras/src/metrics/{accuracy,confusion,regression,reduction}_metrics.py`` and
``keras/src/trainers/compile_utils.py`` (``get_metric``); Fawcett (2006), "An introduction to ROC
analysis", for the AUC.
"""
from .base import (
    Accuracy,
    BinaryAccuracy,
    CategoricalAccuracy,
    Mean,
    MeanAbsoluteError,
    MeanAbsolutePercentageError,
    MeanMetricWrapper,
    MeanSquaredError,
    Metric,
    MetricVariable,
    RootMeanSquaredError,
    SparseCategoricalAccuracy,
    SparseTopKCategoricalAccuracy,
    TopKCategoricalAccuracy,
)
from .confusion import (
    AUC,
    FalseNegatives,
    FalsePositives,
    Precision,
    Recall,
    TrueNegatives,
    TruePositives,
)
from .functions import (
    accuracy,
    binary_accuracy,
    categorical_accuracy,
    mean_absolute_error,
    mean_absolute_percentage_error,
    mean_squared_error,
    sparse_categorical_accuracy,
    sparse_top_k_categorical_accuracy,
    top_k_categorical_accuracy,
)
from .resolve import AutoAccuracy, get, resolve_accuracy

__all__ = [
    "Metric", "MetricVariable", "Mean", "MeanMetricWrapper",
    "Accuracy", "BinaryAccuracy", "CategoricalAccuracy", "SparseCategoricalAccuracy",
    "TopKCategoricalAccuracy", "SparseTopKCategoricalAccuracy", "AutoAccuracy",
    "TruePositives", "FalsePositives", "TrueNegatives", "FalseNegatives",
    "Precision", "Recall", "AUC",
    "MeanSquaredError", "MeanAbsoluteError", "MeanAbsolutePercentageError", "RootMeanSquaredError",
    "accuracy", "binary_accuracy", "categorical_accuracy", "sparse_categorical_accuracy",
    "top_k_categorical_accuracy", "sparse_top_k_categorical_accuracy",
    "mean_squared_error", "mean_absolute_error", "mean_absolute_percentage_error",
    "get", "resolve_accuracy",
]
