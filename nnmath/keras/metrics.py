"""``keras.metrics``."""
from ..training.metrics import (  # noqa: F401
    AUC, Accuracy, BinaryAccuracy, CategoricalAccuracy, Mean, MeanAbsoluteError, MeanSquaredError,
    Metric, Precision, Recall, RootMeanSquaredError, SparseCategoricalAccuracy,
    SparseTopKCategoricalAccuracy, TopKCategoricalAccuracy, get,
)
