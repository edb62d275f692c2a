"""Loss functions with Keras 3's semantics, written with ``nnmath.numpy`` (differentiable to any order).

Two forms, as in Keras:

* **functions** ``mean_squared_error(y_true, y_pred)`` … return the loss *per sample*: reduced over
  the last axis (the class or feature axis), so a batch (N, d) gives shape (N,);
* **classes** ``MeanSquaredError(reduction="sum_over_batch_size", name=...)`` are called as
  ``loss(y_true, y_pred, sample_weight=None)`` and return a scalar (or, with ``reduction="none"``,
  the weighted per-sample losses).

Reductions (Keras's ``reduce_weighted_values``), with per-sample losses ℓ and weights s:

    "sum_over_batch_size" (default), "mean"   Σ sᵢℓᵢ / (number of entries of ℓ)
    "sum"                                     Σ sᵢℓᵢ
    "mean_with_sample_weight"                 Σ sᵢℓᵢ / Σ sᵢ
    "none" or None                            the array sᵢℓᵢ

Note that "sum_over_batch_size" divides by the batch size, not by Σ sᵢ (as Keras). Before
weighting, the ranks of ℓ and s are matched as Keras does (a trailing axis of length 1 is
squeezed or added); a lower-rank weight is then aligned with the *leading* (batch) axes of ℓ —
sample weights weight samples — where Keras would broadcast from the right.

Shapes: the classes (and the regression functions) first match the ranks of ``y_true`` and
``y_pred`` the same way, so labels (N,) against predictions (N, 1) mean N samples, not an N×N
broadcast. ``y_true`` is cast to ``y_pred``'s dtype (Keras casts both to float32), so float32
predictions give a float32 loss.

Stability: from logits, the cross-entropies never form a probability: binary uses
softplus(z) − yz, categorical uses log_softmax (logsumexp), sparse uses logsumexp(z) − z_label.
From probabilities they clip to [ε, 1 − ε] with ε = 1e-7 (Keras's ``backend.epsilon()``), after
renormalising categorical predictions to sum to 1, as Keras does; the clipped entries get a zero
gradient.

Where Keras and PyTorch differ, Keras is followed: MSE/MAE reduce over the last axis first (so
"sum" is the sum of per-sample means, whereas torch's sum is over all entries); Huber is Keras's
(½e² if |e| ≤ δ else δ|e| − ½δ²), which equals torch's HuberLoss(delta); KLDivergence takes
probabilities (torch's KLDivLoss takes log-probabilities) and clips both to [ε, 1];
CosineSimilarity returns −cos. GaussianNLL follows torch's GaussianNLLLoss (Keras has none).

Modules: ``functions`` (the per-sample functions and the fused primitive), ``classes``
(reductions, the ``Loss`` classes, ``get``). One primitive lives here, ``softmax_cross_entropy`` (fused for speed: one tape entry and plain
numpy instead of about eight primitives); its rules use the vocabulary of every rule table:
``g`` = ȳ (output cotangent), ``t`` = an input tangent, ``y`` = the forward output.
"""
from .classes import (
    BinaryCrossentropy,
    CategoricalCrossentropy,
    CategoricalHinge,
    CosineSimilarity,
    GaussianNLL,
    Hinge,
    Huber,
    KLDivergence,
    LogCosh,
    Loss,
    LossFunctionWrapper,
    MeanAbsoluteError,
    MeanAbsolutePercentageError,
    MeanSquaredError,
    MeanSquaredLogarithmicError,
    Poisson,
    SparseCategoricalCrossentropy,
    SquaredHinge,
    get,
    reduce_weighted_values,
    serialize,
)
from .functions import (
    EPSILON,
    REDUCTIONS,
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
    softmax_cross_entropy,
    sparse_categorical_crossentropy,
    squared_hinge,
)
from .distillation import DistillationLoss, distillation_loss
from . import classes as _classes

# The distillation loss lives in its own module (it needs the classes); registered here so that
# get("distillation_loss"), get("DistillationLoss") and saved models find it like the others.
_classes._CLASSES["DistillationLoss"] = DistillationLoss
_classes._FUNCTIONS[distillation_loss] = "DistillationLoss"
_classes._BY_NAME["distillation_loss"] = "DistillationLoss"

__all__ = [
    "DistillationLoss", "distillation_loss",
    "EPSILON", "REDUCTIONS", "softmax_cross_entropy", "Loss", "LossFunctionWrapper", "get", "serialize", "reduce_weighted_values",
    "MeanSquaredError", "MeanAbsoluteError", "MeanAbsolutePercentageError",
    "MeanSquaredLogarithmicError", "Huber", "LogCosh", "BinaryCrossentropy",
    "CategoricalCrossentropy", "SparseCategoricalCrossentropy", "KLDivergence", "Poisson",
    "CosineSimilarity", "Hinge", "SquaredHinge", "CategoricalHinge", "GaussianNLL",
    "mean_squared_error", "mean_absolute_error", "mean_absolute_percentage_error",
    "mean_squared_logarithmic_error", "huber", "log_cosh", "binary_crossentropy",
    "categorical_crossentropy", "sparse_categorical_crossentropy", "kl_divergence", "poisson",
    "cosine_similarity", "hinge", "squared_hinge", "categorical_hinge", "gaussian_nll",
]
