"""nnmath.analysis: instruments you point at any model — curvature, spectra, landscapes, kernels.

Every tool takes the mathematical form — ``loss_fn(params)`` of a parameter pytree, or a pure
``apply_fn(params, x)`` with data — or, for convenience, a compiled
:class:`~nnmath.training.Model` with ``x`` and ``y``, and builds an :class:`Objective` from it
(:func:`as_objective`): the loss summed over data batches with the right weights, its gradient and
its curvature products on the flat parameter vector. Curvature is a
``scipy.sparse.linalg.LinearOperator`` (:func:`hessian_operator`, :func:`ggn_operator`,
:func:`fisher_operator`). Results are small dataclasses with named fields (``to_dict()`` for
JSON). Stochastic estimators take ``seed`` (an int or a ``numpy.random.Generator``) and report a
standard error.
"""
from ._objective import DEFAULT_BATCH_SIZE, Objective, as_generator, as_objective
from ._results import Result
from .curvature import (
    MAX_DENSE_BYTES,
    CurvatureOperator,
    DenseTooLargeError,
    fisher_operator,
    ggn_operator,
    hessian_matrix,
    hessian_operator,
)
from .landscape import (
    BezierCurve,
    LinearInterpolation,
    LossSlice1D,
    LossSurface2D,
    TrajectoryPCA,
    TrajectoryRecorder,
    bezier_point,
    fit_bezier_curve,
    linear_interpolation,
    loss_along_bezier,
    loss_slice_1d,
    loss_surface_2d,
    random_directions,
    trajectory_pca,
)

__all__ = [
    "Objective", "as_objective", "as_generator", "DEFAULT_BATCH_SIZE", "Result",
    "CurvatureOperator", "DenseTooLargeError", "MAX_DENSE_BYTES", "hessian_operator",
    "ggn_operator", "fisher_operator", "hessian_matrix",
    # landscape
    "random_directions", "loss_slice_1d", "loss_surface_2d", "linear_interpolation",
    "trajectory_pca", "TrajectoryRecorder", "fit_bezier_curve", "loss_along_bezier", "bezier_point",
    "LossSlice1D", "LossSurface2D", "LinearInterpolation", "TrajectoryPCA", "BezierCurve",
]
