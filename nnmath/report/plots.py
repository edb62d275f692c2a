"""Figures of analysis results as report :class:`~nnmath.report.Plot` objects, and
:func:`render`, which turns any results into a :class:`~nnmath.report.Section` (figures, tables
and the numbers behind them) — in a notebook as in the written report.

The drawing itself is done by one function per kind of result, which lives below the report:
:mod:`nnmath.analysis._plot` (what ``result.plot(ax=None)`` and Jupyter's ``_repr_png_`` call) and
``History.plot`` for training curves. Each function here calls that one function on a new Figure
and adds the file name and a caption. matplotlib (the optional extra ``nnmath[plot]``) is imported
only when a figure is drawn; :func:`matplotlib_available` says whether it can be.
"""
from __future__ import annotations

from typing import Any, Callable, Mapping

from ..analysis import (
    EigenResult,
    GradientFlowAnalysis,
    InformationPlaneResult,
    LinearInterpolation,
    LossSurface2D,
    MCDropoutPrediction,
    NTKSpectrum,
    ReliabilityDiagram,
    Result,
    RunComparison,
    SpectralDensityResult,
    TraceResult,
    UncertaintyDecomposition,
    WeightSpectra,
)
from ..analysis import _plot as draw
from ..training.callbacks import History
from ._base import Plot, Section, Table

__all__ = ["plot_history", "plot_gradient_flow", "plot_weight_spectra", "plot_hessian_spectrum",
           "plot_loss_surface", "plot_interpolation", "plot_ntk", "plot_reliability",
           "plot_uncertainty", "plot_information_plane", "plot_run_comparison",
           "plot_run_curves", "render",
           "history_dict", "RENDERERS", "register_renderer", "matplotlib_available",
           "MATPLOTLIB_MISSING"]

#: What a report says where its figures would be when matplotlib is not installed.
MATPLOTLIB_MISSING = ("figures not drawn: matplotlib is not installed (it is the optional extra "
                      "nnmath[plot]: pip install \"nnmath[plot]\")")


def matplotlib_available() -> bool:
    """Whether matplotlib can be imported (the report then has figures)."""
    try:
        draw.require_matplotlib()
    except ImportError:
        return False
    return True


def _fig(drawn: Any) -> Any:
    """The Figure of what a drawing function returned (an Axes or a list of them)."""
    first = drawn[0] if isinstance(drawn, (list, tuple)) else drawn
    return first.figure


def history_dict(history: Any) -> dict:
    """``{name: [value per epoch]}`` of a History (``fit``'s return value), ``model.history``
    or a plain dict."""
    return draw._history_dict(history)


def _as_history(history: Any) -> History:
    if isinstance(history, History):
        return history
    h = History()
    h.history = history_dict(history)
    return h


def _curve_metrics(h: dict) -> list:
    """Names of the per-epoch training curves: 'loss' first, then the metrics (not the
    monitors' 'name/layer' records or their validation twins)."""
    names = [k for k in h if not k.startswith("val_") and "/" not in k
             and k not in ("grad_norm", "lr", "learning_rate")]
    return sorted(names, key=lambda k: (k != "loss", k))


_layer_keys = draw.layer_keys


def plot_history(history: Any, metrics: list | None = None) -> Plot:
    """Loss and metric curves over epochs (``History.plot``), training solid, validation dashed.

    Returns:
        A :class:`~nnmath.report.Plot` called ``"curves"``.

    >>> p = plot_history({"loss": [1.0, 0.5], "val_loss": [1.1, 0.7], "accuracy": [0.5, 0.8]})
    >>> p.name, len(p.figure.axes), p.png[:4]
    ('curves', 2, b'\\x89PNG')
    """
    h = _as_history(history)
    if metrics is None and not _curve_metrics(h.history):
        raise ValueError(f"the history has no training curves; its keys are {sorted(h.history)}")
    return Plot("curves", _fig(h.plot(metrics)),
                "Per-epoch training (solid) and validation (dashed) curves; the loss on a log "
                "scale.")


def plot_gradient_flow(history: Any) -> Plot:
    """Per-layer gradient norms, update ratios and weight norms over epochs, as recorded by
    :class:`~nnmath.analysis.GradientFlowMonitor`. A :class:`Plot` called ``"by_layer"``."""
    return Plot("by_layer", _fig(draw.plot_gradient_flow(history)),
                "Per layer, at the end of each epoch: the gradient norm on a fixed probe batch, "
                "the relative size of the epoch's updates, and the weight norm.")


def plot_weight_spectra(spectra: WeightSpectra) -> Plot:
    """The singular values of every weight matrix. A :class:`Plot` called
    ``"singular_values"``."""
    return Plot("singular_values", _fig(draw.plot_weight_spectra(spectra)),
                "Singular values of each weight matrix, in descending order.")


def plot_hessian_spectrum(density: SpectralDensityResult, top: EigenResult | None = None) -> Plot:
    """The SLQ spectral density with the top Lanczos eigenvalues marked. A :class:`Plot` called
    ``"spectral_density"``."""
    return Plot("spectral_density", _fig(draw.plot_hessian_spectrum(density, top)),
                f"Eigenvalue density of the Hessian by stochastic Lanczos quadrature "
                f"({len(density.nodes)} probes × {density.lanczos_steps} steps, Gaussian "
                f"smoothing σ = {density.sigma:.3g}), log scale"
                + ("; dotted lines: the top eigenvalues by Lanczos." if top is not None else "."))


def plot_loss_surface(surface: LossSurface2D) -> Plot:
    """Contours of the 2-D loss surface (and the metric). A :class:`Plot` called
    ``"surface"``."""
    a, b = surface.alphas, surface.betas
    return Plot("surface", _fig(draw.plot_loss_surface(surface)),
                f"L(θ + αd₁ + βd₂) on a {len(a)}×{len(b)} grid along two filter-normalised random "
                f"directions (cosine {surface.cosine:+.3f}); the star is the trained model.")


def plot_interpolation(*paths: LinearInterpolation, labels: list | None = None) -> Plot:
    """The loss (and metric) on the straight line between two solutions. A :class:`Plot` called
    ``"linear_path"``."""
    return Plot("linear_path", _fig(draw.plot_interpolation(*paths, labels=labels)),
                "The loss (and the metric) at (1−α)θ_A + αθ_B between two solutions trained "
                "from different seeds; the barrier is the highest loss above the endpoints' "
                "mean.")


def plot_ntk(spectrum: NTKSpectrum, kernel: Any = None, labels: Any = None) -> Plot:
    """The empirical NTK's eigenvalues (and the normalised kernel). A :class:`Plot` called
    ``"spectrum"``."""
    return Plot("spectrum", _fig(draw.plot_ntk(spectrum, kernel, labels)),
                "Eigenvalues of the empirical neural tangent kernel Θ = J Jᵀ (below the dashed "
                "line they are rounding noise)"
                + ("; right: the output-averaged kernel normalised to a correlation, samples "
                   "grouped by class." if kernel is not None else "."))


def plot_reliability(diagram: ReliabilityDiagram, name: str = "reliability",
                     caption: str = "") -> Plot:
    """A reliability diagram and the confidence histogram. A :class:`Plot` called ``name``."""
    return Plot(name, _fig(draw.plot_reliability(diagram)), caption or
                f"Accuracy against confidence in {len(diagram.bin_count)} equal-width bins "
                f"(hatched: the gap to the diagonal); right: how the predictions' confidences "
                f"are distributed. ECE = {diagram.ece:.4f}.")


def plot_uncertainty(u: UncertaintyDecomposition, correct: Any = None,
                     name: str = "decomposition", caption: str = "") -> Plot:
    """Total/aleatoric/epistemic uncertainty per point. A :class:`Plot` called ``name``."""
    return Plot(name, _fig(draw.plot_uncertainty(u, correct)), caption or
                "Per held-out point: the predictive entropy H[p̄] (total), the expected entropy "
                "(aleatoric) and their difference, the mutual information I(y; θ) (epistemic)"
                + ("; right: the epistemic part of right and wrong predictions."
                   if correct is not None else "."))


def plot_information_plane(r: InformationPlaneResult) -> Plot:
    """Each layer's path in the information plane. A :class:`Plot` called ``"plane"``."""
    return Plot("plane", _fig(draw.plot_information_plane(r)),
                f"I(X;T) against I(T;Y) of each layer's output T on a fixed probe set, before "
                f"training and after every epoch ({r.estimator} estimator, {r.unit}); circle: "
                f"before training, square: the end.")


def plot_run_comparison(c: RunComparison, names: Any = None) -> Plot:
    """The runs of two sides with means and 95 % intervals. A :class:`Plot` called
    ``"runs"``."""
    return Plot("runs", _fig(draw.plot_run_comparison(c, names)),
                f"One dot per seed: the {c.metric} of each run ({'last' if c.final else 'best'} "
                f"epoch), with each side's mean ± 95 % t-interval; Welch's t-test in the title.")


def plot_run_curves(runs: Mapping, metric: str = "val_loss") -> Plot:
    """Every seed's curve of ``metric`` for each group of runs. A :class:`Plot` called
    ``"curves"``."""
    return Plot("curves", _fig(draw.plot_run_curves(runs, metric)),
                f"{metric} after every epoch: thin lines one seed each, thick lines the mean.")


# ---------------------------------------------------------------------------------------------
# render: any results → a Section
# ---------------------------------------------------------------------------------------------

def _history_like(obj: Any) -> bool:
    return hasattr(obj, "history") and isinstance(getattr(obj, "history"), Mapping)


def _fmt(x: Any) -> str:
    return f"{float(x):.4g}"


def _render_trace(r: TraceResult) -> tuple[list, list, str]:
    t = Table(("estimate", "standard error", "probes"),
              [(r.estimate, r.standard_error, r.num_samples)],
              f"{'Hutch++' if r.method == 'hutch++' else 'Hutchinson'} trace of the Hessian")
    return [], [t], f"tr H ≈ {_fmt(r.estimate)} ± {_fmt(r.standard_error)} (1 SE)."


def _render_eigen(r: EigenResult) -> tuple[list, list, str]:
    rows = [(i + 1, lam, res) for i, (lam, res) in enumerate(zip(r.eigenvalues, r.residual_norms))]
    t = Table(("i", "λᵢ", "residual ‖Hv − λv‖"), rows, f"eigenvalues ({r.which}, {r.kind})")
    return [], [t], ""


def _render_flow(r: GradientFlowAnalysis) -> tuple[list, list, str]:
    rows = [("spectral norm ‖W‖₂", r.spectral_norm), ("condition number κ", r.condition_number),
            ("rank", r.rank)]
    if r.spectral_radius is not None:
        rows.append(("spectral radius ρ", r.spectral_radius))
    plot = Plot("singular_values", _fig(draw.plot_gradient_flow_analysis(r)),
                "Singular values of the matrix.")
    return [plot], [Table(("quantity", "value"), rows)], ""


def _render_comparison(r: RunComparison) -> tuple[list, list, str]:
    return [plot_run_comparison(r)], [], r.verdict


#: type → function(result) -> (plots, tables, text); extended with :func:`register_renderer`.
RENDERERS: dict[type, Callable] = {
    WeightSpectra: lambda r: ([plot_weight_spectra(r)], [], ""),
    SpectralDensityResult: lambda r: ([plot_hessian_spectrum(r)], [], ""),
    LossSurface2D: lambda r: ([plot_loss_surface(r)], [], ""),
    LinearInterpolation: lambda r: ([plot_interpolation(r)], [], f"barrier {_fmt(r.barrier)} at "
                                                                   f"α = {_fmt(r.barrier_alpha)}"),
    NTKSpectrum: lambda r: ([plot_ntk(r)], [], ""),
    ReliabilityDiagram: lambda r: ([plot_reliability(r)], [], f"ECE {_fmt(r.ece)}, MCE "
                                                              f"{_fmt(r.mce)}"),
    UncertaintyDecomposition: lambda r: ([plot_uncertainty(r)], [], ""),
    MCDropoutPrediction: lambda r: ([Plot("mc_dropout", _fig(draw.plot_mc_dropout(r)),
                                          "MC dropout predictions.")], [], ""),
    InformationPlaneResult: lambda r: ([plot_information_plane(r)], [], ""),
    RunComparison: _render_comparison,
    TraceResult: _render_trace,
    EigenResult: _render_eigen,
    GradientFlowAnalysis: _render_flow,
}


def register_renderer(kind: type, fn: Callable) -> None:
    """Make :func:`render` draw results of type ``kind`` with ``fn(result) -> (plots, tables,
    text)`` (for the tools of later increments)."""
    RENDERERS[kind] = fn


def render(*results: Any, title: str = "nnmath analysis") -> Section:
    """Figures, tables and numbers for analysis results, as one :class:`~nnmath.report.Section`.

    Each result is drawn by the renderer of its type (:data:`RENDERERS`): a History → loss and
    metric curves (and gradient flow by layer if it holds GradientFlowMonitor records);
    WeightSpectra, SpectralDensityResult (+ an EigenResult given with it: marked on the
    density), LossSurface2D, LinearInterpolation, NTKSpectrum, GradientFlowAnalysis,
    ReliabilityDiagram, UncertaintyDecomposition, MCDropoutPrediction, InformationPlaneResult,
    RunComparison → a figure; TraceResult, EigenResult → a table. ``summary`` holds every
    result's ``to_dict()``. (A single result also draws itself: ``result.plot()``.)

    Args:
        *results: analysis results and/or Histories.
        title: the section's title.

    Returns:
        A :class:`~nnmath.report.Section`: ``section.figures[i].figure`` is a matplotlib
        Figure, ``.png`` its PNG bytes.

    >>> import numpy as np
    >>> from nnmath.analysis import weight_spectra
    >>> s = render(weight_spectra({"dense": {"kernel": np.diag([3.0, 4.0])}}))
    >>> [p.name for p in s.figures], s.summary["WeightSpectra"]["rows"][0]["spectral_norm"]
    (['singular_values'], 4.0)
    >>> s.figures[0].png[:4]
    b'\\x89PNG'
    """
    plots, tables, texts, summary = [], [], [], {}
    eig = [r for r in results if isinstance(r, EigenResult)]
    for i, r in enumerate(results):
        name = type(r).__name__
        key = name if name not in summary else f"{name}_{i}"
        if _history_like(r) or (isinstance(r, Mapping) and not isinstance(r, Result)):
            h = history_dict(r)
            summary[key if _history_like(r) else f"history_{i}"] = h
            if _curve_metrics(h):
                plots.append(plot_history(h))
            if _layer_keys(h, "grad_norm"):
                plots.append(plot_gradient_flow(h))
            continue
        fn = next((f for t, f in RENDERERS.items() if isinstance(r, t)), None)
        if fn is None:
            raise TypeError(f"render: no renderer for a {name}; it draws "
                            f"{', '.join(t.__name__ for t in RENDERERS)} and Histories "
                            f"(register_renderer adds one)")
        if isinstance(r, SpectralDensityResult) and eig:
            p, t, text = [plot_hessian_spectrum(r, eig[0])], [], ""
        else:
            p, t, text = fn(r)
        plots += p
        tables += t
        if text:
            texts.append(text)
        summary[key] = r.to_dict() if isinstance(r, Result) else r
    seen: dict = {}
    for p in plots:                 # unique file names
        n = seen[p.name] = seen.get(p.name, 0) + 1
        if n > 1:
            p.name = f"{p.name}_{n}"
    return Section(title, "\n\n".join(texts), plots, summary, key="render", tables=tables)
