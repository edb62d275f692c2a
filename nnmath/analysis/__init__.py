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
from ._results import Result, to_builtin
from .curvature import (
    MAX_DENSE_BYTES,
    CurvatureOperator,
    DenseTooLargeError,
    fisher_operator,
    ggn_operator,
    hessian_matrix,
    hessian_operator,
)
from .bayes import (
    DeepEnsemble,
    EnsemblePrediction,
    LangevinSamples,
    MCDropoutPrediction,
    MeanFieldPosterior,
    SGLDState,
    bayes_by_backprop,
    deep_ensemble,
    ensemble_predict,
    mc_dropout_predict,
    sgld,
    sgld_sample,
)
from .calibration import (
    ReliabilityDiagram,
    TemperatureScaling,
    UncertaintyDecomposition,
    expected_calibration_error,
    fit_temperature,
    maximum_calibration_error,
    reliability_diagram,
    uncertainty_decomposition,
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
from .information import (
    InformationBottleneckResult,
    InformationPlane,
    InformationPlaneResult,
    MutualInformationEstimate,
    cross_entropy,
    entropy,
    ib_lagrangian,
    information_bottleneck,
    js_divergence,
    kl_divergence,
    mutual_information,
    mutual_information_binned,
    mutual_information_ksg,
)
from ._map import MAPView, PriorRow, map_view
from .laplace import Laplace, PriorOptimization
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
from ._second_order import (
    CurvatureOptimizer,
    SecondOrderState,
    SecondOrderTransformation,
    gauss_newton,
    natural_gradient,
    newton,
)
from .generalization import (
    GeneralizationBound,
    GeneralizationGap,
    LinearClass,
    PACBayesBound,
    RademacherResult,
    binary_kl,
    gaussian_kl,
    kl_inverse,
    pac_bayes_bound,
    rademacher_bound,
    rademacher_complexity,
    random_label_fitter,
    vc_bound,
    vc_dimension_linear,
)
from .optimization import (
    ConvergenceRate,
    EdgeOfStabilityMonitor,
    GradientFlowResult,
    NonFiniteLossError,
    Quadratic,
    SpectralBiasResult,
    StableLearningRate,
    as_quadratic,
    convergence_rate,
    gradient_flow,
    quadratic,
    spectral_bias,
    stable_learning_rate,
)
from .stats import (
    BootstrapResult,
    ConfidenceInterval,
    RunComparison,
    TtestResult,
    bootstrap_ci,
    compare_runs,
    hedges_g,
    metric_mode,
    ttest_ind,
    ttest_rel,
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
    "Objective", "as_objective", "as_generator", "DEFAULT_BATCH_SIZE", "Result", "to_builtin",
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
    # bayes, calibration
    "mc_dropout_predict", "deep_ensemble", "ensemble_predict", "bayes_by_backprop", "sgld",
    "sgld_sample", "MCDropoutPrediction", "EnsemblePrediction", "DeepEnsemble",
    "MeanFieldPosterior", "LangevinSamples", "SGLDState", "reliability_diagram",
    "expected_calibration_error", "maximum_calibration_error", "fit_temperature",
    "uncertainty_decomposition", "ReliabilityDiagram", "TemperatureScaling",
    "UncertaintyDecomposition",
    # laplace
    "Laplace", "PriorOptimization", "map_view", "MAPView", "PriorRow",
    # information
    "entropy", "cross_entropy", "kl_divergence", "js_divergence", "mutual_information",
    "ib_lagrangian", "mutual_information_binned", "mutual_information_ksg",
    "information_bottleneck", "InformationPlane", "MutualInformationEstimate",
    "InformationBottleneckResult", "InformationPlaneResult",
    # stats
    "ttest_ind", "ttest_rel", "bootstrap_ci", "compare_runs", "hedges_g", "metric_mode",
    "TtestResult", "ConfidenceInterval", "BootstrapResult", "RunComparison",
    # generalization
    "rademacher_complexity", "random_label_fitter", "rademacher_bound", "vc_dimension_linear",
    "vc_bound", "gaussian_kl", "binary_kl", "kl_inverse", "pac_bayes_bound", "LinearClass",
    "RademacherResult", "GeneralizationBound", "PACBayesBound", "GeneralizationGap",
    # optimization
    "Quadratic", "quadratic", "as_quadratic", "convergence_rate", "stable_learning_rate",
    "EdgeOfStabilityMonitor", "gradient_flow", "spectral_bias", "ConvergenceRate",
    "StableLearningRate", "GradientFlowResult", "NonFiniteLossError", "SpectralBiasResult",
    "newton", "gauss_newton", "natural_gradient", "CurvatureOptimizer", "SecondOrderState",
    "SecondOrderTransformation",
    # landscape
    "random_directions", "loss_slice_1d", "loss_surface_2d", "linear_interpolation",
    "trajectory_pca", "TrajectoryRecorder", "fit_bezier_curve", "loss_along_bezier", "bezier_point",
    "LossSlice1D", "LossSurface2D", "LinearInterpolation", "TrajectoryPCA", "BezierCurve",
]
