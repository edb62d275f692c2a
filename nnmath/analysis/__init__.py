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
from .gradcheck import GradcheckResult, GradcheckRow, check_grads, gradcheck_model
from .hessian import (
    CriticalPointResult,
    DiagonalResult,
    EigenResult,
    SharpnessResult,
    SpectralDensityResult,
    TraceResult,
    classify_critical_point,
    hessian_diagonal,
    hessian_spectral_density,
    hessian_top_eigenvalues,
    hessian_trace,
    sharpness,
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
from .ntk import (
    InfiniteWidthKernels,
    NTKOperator,
    NTKPrediction,
    NTKSpectrum,
    empirical_ntk,
    infinite_width_kernels,
    ntk_eigenspectrum,
    ntk_operator,
    ntk_predict,
)
from .transport import (
    Barycenter1DResult,
    SinkhornBarycenterResult,
    SinkhornConvergenceWarning,
    SinkhornResult,
    SlicedWassersteinResult,
    WassersteinLoss,
    cost_matrix,
    gradient_penalty,
    sinkhorn,
    sinkhorn_barycenter,
    sinkhorn_divergence,
    sliced_wasserstein,
    wasserstein_barycenter_1d,
    wasserstein_distance,
    wasserstein_p,
    wgan_gp_critic_loss,
)
from .spectra import (
    ActivationRow,
    ActivationStatistics,
    GradientFlowAnalysis,
    GradientFlowMonitor,
    JacobianSpectrum,
    WeightSpectra,
    WeightSpectrumRow,
    activation_statistics,
    analyze_gradient_flow,
    jacobian_spectrum,
    weight_spectra,
)

__all__ = [
    "Objective", "as_objective", "as_generator", "DEFAULT_BATCH_SIZE", "Result",
    "CurvatureOperator", "DenseTooLargeError", "MAX_DENSE_BYTES", "hessian_operator",
    "ggn_operator", "fisher_operator", "hessian_matrix",
    # gradcheck
    "check_grads", "gradcheck_model", "GradcheckResult", "GradcheckRow",
    # hessian
    "hessian_top_eigenvalues", "hessian_trace", "hessian_diagonal", "hessian_spectral_density",
    "classify_critical_point", "sharpness", "EigenResult", "TraceResult", "DiagonalResult",
    "SpectralDensityResult", "CriticalPointResult", "SharpnessResult",
    # spectra
    "analyze_gradient_flow", "weight_spectra", "jacobian_spectrum", "GradientFlowMonitor",
    "activation_statistics", "GradientFlowAnalysis", "WeightSpectra", "WeightSpectrumRow",
    "JacobianSpectrum", "ActivationStatistics", "ActivationRow",
    # ntk
    "empirical_ntk", "ntk_operator", "ntk_eigenspectrum", "ntk_predict", "infinite_width_kernels",
    "NTKOperator", "NTKSpectrum", "NTKPrediction", "InfiniteWidthKernels",
    # transport
    "wasserstein_distance", "wasserstein_p", "wasserstein_barycenter_1d", "sliced_wasserstein",
    "sinkhorn", "sinkhorn_divergence", "sinkhorn_barycenter", "cost_matrix", "WassersteinLoss",
    "gradient_penalty", "wgan_gp_critic_loss", "SinkhornResult", "SinkhornBarycenterResult",
    "SlicedWassersteinResult", "Barycenter1DResult", "SinkhornConvergenceWarning",
    # landscape
    "random_directions", "loss_slice_1d", "loss_surface_2d", "linear_interpolation",
    "trajectory_pca", "TrajectoryRecorder", "fit_bezier_curve", "loss_along_bezier", "bezier_point",
    "LossSlice1D", "LossSurface2D", "LinearInterpolation", "TrajectoryPCA", "BezierCurve",
]
