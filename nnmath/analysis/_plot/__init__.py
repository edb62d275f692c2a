"""Pictures of analysis results: one drawing function per kind of result, used by
``result.plot(ax=None)``, by Jupyter (``result._repr_png_()``) and by :mod:`nnmath.report` — so
each picture is drawn by exactly one function.

Every function takes a result (and optionally ``ax``: a matplotlib ``Axes``, or a sequence of them
for a figure with several panels) and returns what it drew on: an ``Axes``, or a list of ``Axes``
for several panels (``axes[0].figure`` is the Figure). Without ``ax`` a new
``matplotlib.figure.Figure`` is made *without pyplot* — drawn by the Agg renderer when saved, never
shown, leaving a notebook's backend alone, freed like any object.

matplotlib is an optional extra (``pip install "nnmath[plot]"``) imported only inside these
functions; :func:`require_matplotlib` raises an ImportError saying how to install it.

Colours: the Okabe–Ito palette (Okabe & Ito 2008; Wong 2011, Nature Methods 8:441), readable with
every common colour-vision deficiency; images use viridis/magma (perceptually uniform) and the
blue–red diverging map for signed correlations. Every axis says its quantity and, where it has
one, its unit.
"""
from __future__ import annotations

import html as _html
import numbers
from typing import Any, Callable

import numpy as np

__all__ = ["PALETTE", "PNG_DPI", "require_matplotlib", "new_axes", "figure_png", "plot_result",
           "plotter_for", "PLOTTERS", "register_plotter", "result_html",
           "plot_weight_spectra", "plot_singular_values", "plot_gradient_flow_analysis",
           "plot_gradient_flow", "plot_eigenvalues", "plot_hessian_spectrum", "plot_trace",
           "plot_loss_surface", "plot_interpolation", "plot_ntk", "plot_reliability",
           "plot_uncertainty", "plot_mc_dropout", "plot_information_plane",
           "plot_run_comparison", "plot_run_curves", "plot_ttest", "plot_loss_slice",
           "plot_bezier", "plot_trajectory_pca", "plot_convergence", "plot_gradient_flow_ode",
           "plot_spectral_bias", "plot_gradcheck", "plot_sinkhorn",
           "plot_sinkhorn_barycenter", "plot_barycenter_1d", "plot_ensemble_prediction",
           "plot_deep_ensemble", "plot_mean_field", "plot_langevin", "plot_rademacher",
           "plot_hessian_diagonal", "plot_ntk_prediction", "plot_jacobian_spectrum",
           "plot_activation_statistics", "layer_keys"]

from ._base import PALETTE, PNG_DPI, figure_png, new_axes, require_matplotlib
from .spectra import (_history_dict, layer_keys, plot_bezier, plot_eigenvalues, plot_gradient_flow,
    plot_gradient_flow_analysis, plot_hessian_spectrum, plot_interpolation, plot_loss_slice,
    plot_loss_surface, plot_ntk, plot_singular_values, plot_trace, plot_trajectory_pca,
    plot_weight_spectra)
from .probability import (plot_convergence, plot_gradcheck, plot_gradient_flow_ode,
    plot_information_plane, plot_mc_dropout, plot_reliability, plot_run_comparison,
    plot_run_curves, plot_spectral_bias, plot_ttest, plot_uncertainty)
from .transport import (plot_barycenter_1d, plot_deep_ensemble, plot_ensemble_prediction,
    plot_langevin, plot_mean_field, plot_sinkhorn, plot_sinkhorn_barycenter)
from .more import (plot_activation_statistics, plot_hessian_diagonal, plot_jacobian_spectrum,
    plot_ntk_prediction, plot_rademacher)


# ---------------------------------------------------------------------------------------------
# Dispatch: result.plot(), result._repr_png_(), result._repr_html_()
# ---------------------------------------------------------------------------------------------

#: result type name → drawing function(result, ax=None) (names, so that this module imports no
#: result module and each result module needs nothing from here).
PLOTTERS: dict[str, Callable] = {
    "WeightSpectra": plot_weight_spectra,
    "GradientFlowAnalysis": plot_gradient_flow_analysis,
    "EigenResult": plot_eigenvalues,
    "TraceResult": plot_trace,
    "SpectralDensityResult": plot_hessian_spectrum,
    "LossSurface2D": plot_loss_surface,
    "LinearInterpolation": plot_interpolation,
    "NTKSpectrum": plot_ntk,
    "ReliabilityDiagram": plot_reliability,
    "UncertaintyDecomposition": plot_uncertainty,
    "MCDropoutPrediction": plot_mc_dropout,
    "InformationPlaneResult": plot_information_plane,
    "RunComparison": plot_run_comparison,
    "TtestResult": plot_ttest,
    "LossSlice1D": plot_loss_slice,
    "BezierCurve": plot_bezier,
    "TrajectoryPCA": plot_trajectory_pca,
    "ConvergenceRate": plot_convergence,
    "GradientFlowResult": plot_gradient_flow_ode,
    "SpectralBiasResult": plot_spectral_bias,
    "GradcheckResult": plot_gradcheck,
    "SinkhornResult": plot_sinkhorn,
    "SinkhornBarycenterResult": plot_sinkhorn_barycenter,
    "Barycenter1DResult": plot_barycenter_1d,
    "EnsemblePrediction": plot_ensemble_prediction,
    "DeepEnsemble": plot_deep_ensemble,
    "MeanFieldPosterior": plot_mean_field,
    "LangevinSamples": plot_langevin,
    "RademacherResult": plot_rademacher,
    "DiagonalResult": plot_hessian_diagonal,
    "NTKPrediction": plot_ntk_prediction,
    "JacobianSpectrum": plot_jacobian_spectrum,
    "ActivationStatistics": plot_activation_statistics,
}


def register_plotter(kind: type | str, fn: Callable) -> None:
    """Draw results of type ``kind`` (a class or its name) with ``fn(result, ax=None)``."""
    PLOTTERS[kind if isinstance(kind, str) else kind.__name__] = fn


def plotter_for(result: Any) -> Callable | None:
    """The drawing function of ``result``'s type (or of a base class), or None."""
    for cls in type(result).__mro__:
        fn = PLOTTERS.get(cls.__name__)
        if fn is not None:
            return fn
    return None


def plot_result(result: Any, ax: Any = None):
    """Draw ``result`` with its type's function (see :data:`PLOTTERS`); returns the Axes (a list
    for several panels)."""
    fn = plotter_for(result)
    if fn is None:
        raise TypeError(f"{type(result).__name__} has no picture; results with one: "
                        f"{', '.join(sorted(PLOTTERS))}")
    return fn(result, ax=ax)


def result_html(result: Any) -> str:
    """A small HTML table of a result's scalar fields (numbers and strings; arrays by shape)."""
    rows = []
    for key, value in vars(result).items():
        if key.startswith("_"):
            continue
        if isinstance(value, (bool, str)) or value is None:
            text = str(value)
        elif isinstance(value, numbers.Number):
            text = f"{value:,}" if isinstance(value, numbers.Integral) else f"{float(value):.6g}"
        elif isinstance(value, np.ndarray):
            text = (f"{float(value):.6g}" if value.ndim == 0 and value.dtype.kind in "fiu"
                    else f"array {value.shape} {value.dtype}")
        elif isinstance(value, (list, tuple, dict)):
            text = f"{type(value).__name__} of {len(value)}"
        else:
            text = type(value).__name__
        rows.append(f"<tr><th style=\"text-align:left\">{_html.escape(key)}</th>"
                    f"<td>{_html.escape(text)}</td></tr>")
    return (f"<table><caption style=\"text-align:left\"><b>{type(result).__name__}</b></caption>"
            + "".join(rows) + "</table>")
