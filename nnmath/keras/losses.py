"""``keras.losses``."""
from ..nn.losses import (  # noqa: F401
    BinaryCrossentropy, CategoricalCrossentropy, DistillationLoss, distillation_loss, CategoricalHinge, CosineSimilarity, EPSILON,
    GaussianNLL, Hinge, Huber, KLDivergence, LogCosh, Loss, LossFunctionWrapper,
    MeanAbsoluteError, MeanAbsolutePercentageError, MeanSquaredError,
    MeanSquaredLogarithmicError, Poisson, SparseCategoricalCrossentropy, SquaredHinge,
    binary_crossentropy, categorical_crossentropy, categorical_hinge, cosine_similarity,
    gaussian_nll, get, hinge, huber, kl_divergence, log_cosh, mean_absolute_error,
    mean_absolute_percentage_error, mean_squared_error, mean_squared_logarithmic_error,
    poisson, reduce_weighted_values, serialize, sparse_categorical_crossentropy, squared_hinge,
)
