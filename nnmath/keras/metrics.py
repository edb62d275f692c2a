"""``keras.metrics``."""
from ..training.metrics import (  # noqa: F401
    AUC, Accuracy, BinaryAccuracy, CategoricalAccuracy, FalseNegatives, FalsePositives, Mean,
    MeanAbsoluteError, MeanAbsolutePercentageError, MeanMetricWrapper, MeanSquaredError, Metric,
    Precision, Recall, RootMeanSquaredError, SparseCategoricalAccuracy,
    SparseTopKCategoricalAccuracy, TopKCategoricalAccuracy, TrueNegatives, TruePositives, get,
    mean_absolute_percentage_error,
)
