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
import io
import numbers
from typing import Any, Callable, Mapping, Sequence

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

#: The Okabe–Ito colours (blue, orange, bluish green, vermillion, reddish purple, sky blue,
#: yellow, black): distinguishable with protanopia, deuteranopia and tritanopia.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442",
           "#000000")

#: Resolution of PNGs (pixels per inch of the figure's size).
PNG_DPI = 110

_ONE = (6.4, 3.6)             # one panel (inches)
_PANEL = 4.3                  # width of each of several panels


def require_matplotlib():
    """Import matplotlib (Agg, no pyplot) or raise an ImportError that says how to get it."""
    try:
        import matplotlib
        from matplotlib.figure import Figure  # noqa: F401
    except ImportError as e:
        raise ImportError("drawing needs matplotlib, an optional extra of nnmath: "
                          "pip install \"nnmath[plot]\" (or pip install matplotlib)") from e
    return matplotlib


def _style(ax) -> None:
    ax.set_prop_cycle(color=list(PALETTE))
    ax.grid(True, alpha=0.3, linewidth=0.6)


def new_axes(ncols: int = 1, size: tuple | None = None, ax: Any = None) -> list:
    """``ncols`` styled Axes: the given ``ax`` (one Axes, or a sequence of ``ncols``), else a new
    Figure's (made without pyplot, constrained layout)."""
    if ax is not None:
        axes = list(ax) if isinstance(ax, (list, tuple, np.ndarray)) else [ax]
        if len(axes) < ncols:
            raise ValueError(f"this figure has {ncols} panels: pass ax as a sequence of {ncols} "
                             f"Axes (got {len(axes)})")
        axes = axes[:ncols]
    else:
        require_matplotlib()
        from matplotlib.figure import Figure
        if size is None:
            size = _ONE if ncols == 1 else (_PANEL * ncols + 0.6, 3.4)
        fig = Figure(figsize=size, layout="constrained")
        axes = list(fig.subplots(1, ncols, squeeze=False)[0])
    for a in axes:
        _style(a)
    return axes


def _color(i: int) -> str:
    return PALETTE[i % len(PALETTE)]


def _out(axes: list) -> Any:
    return axes[0] if len(axes) == 1 else axes


def figure_png(figure: Any, dpi: int = PNG_DPI) -> bytes:
    """A Figure (or an Axes, or a list of Axes: their Figure) as PNG bytes, drawn by Agg."""
    if isinstance(figure, (list, tuple)):
        figure = figure[0]
    figure = getattr(figure, "figure", figure) if not hasattr(figure, "savefig") else figure
    buf = io.BytesIO()
    figure.savefig(buf, format="png", dpi=dpi, bbox_inches="tight", metadata={"Software": None})
    return buf.getvalue()


def _log_y(ax, values: Any) -> None:
    """A log y axis when every value is positive; over less than two decades, ticks at 1, 2, 5 ×
    10^k labelled as plain numbers."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter
    v = np.asarray(values, dtype=float).ravel()
    v = v[np.isfinite(v)]
    if v.size == 0 or np.any(v <= 0):
        return
    ax.set_yscale("log")
    if v.max() / v.min() < 100:
        ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda y, _: f"{y:g}"))
        ax.yaxis.set_minor_formatter(NullFormatter())


# ---------------------------------------------------------------------------------------------
# Spectra and gradient flow
# ---------------------------------------------------------------------------------------------

def plot_singular_values(lines: Sequence, title: str = "singular values", ax: Any = None):
    """``[(label, σ)]`` → one line per matrix (σ₁ ≥ σ₂ ≥ … against i), log scale when every
    σ > 0. Returns the Axes."""
    (ax,) = new_axes(1, ax=ax)
    for i, (label, s) in enumerate(lines):
        s = np.asarray(s, dtype=float)
        ax.plot(np.arange(1, len(s) + 1), s, marker="." if len(s) < 40 else None,
                color=_color(i), label=label)
    if lines:
        _log_y(ax, np.concatenate([np.asarray(s, dtype=float).ravel() for _, s in lines]))
    ax.set_xlabel("index i (descending order)")
    ax.set_ylabel("singular value σᵢ (output units per input unit)")
    ax.set_title(title)
    ax.legend(frameon=False, fontsize=8)
    return ax


def plot_weight_spectra(spectra: Any, ax: Any = None):
    """The singular values of every weight matrix of a :class:`WeightSpectra` (one line each).

    >>> from nnmath.analysis import weight_spectra
    >>> ax = plot_weight_spectra(weight_spectra({"d": {"kernel": np.diag([3.0, 1.0])}}))
    >>> ax.get_lines()[0].get_ydata()
    array([3., 1.])
    """
    if not spectra.rows:
        raise ValueError("weight_spectra found no weight matrices (weights with ≥ 2 axes)")
    lines = [(f"{r.layer}/{r.weight} ({r.matrix_shape[0]}×{r.matrix_shape[1]}), "
              f"‖W‖₂ = {r.spectral_norm:.3g}", r.singular_values) for r in spectra.rows]
    return plot_singular_values(lines, "singular values of the weight matrices", ax)


def plot_gradient_flow_analysis(r: Any, ax: Any = None):
    """The singular values of the matrix an :func:`analyze_gradient_flow` result describes."""
    return plot_singular_values([(f"W ({r.shape[0]}×{r.shape[1]}), κ = "
                                  f"{float(r.condition_number):.3g}", r.singular_values)],
                                "singular values", ax)


def _history_dict(history: Any) -> dict:
    h = getattr(history, "history", history)
    if not isinstance(h, Mapping):
        raise TypeError(f"expected a History (what fit returns) or a dict of per-epoch lists, "
                        f"got {type(history).__name__}")
    return {str(k): [float(v) for v in vs] for k, vs in h.items()}


def layer_keys(h: Mapping, prefix: str) -> list:
    """The per-layer History keys ``"<prefix>/<layer>"``."""
    return [k for k in h if k.startswith(prefix + "/") and k.count("/") == 1]


def plot_gradient_flow(history: Any, ax: Any = None):
    """Per-layer gradient norms ‖∇_{θ_l} L‖, update ratios ‖Δθ_l‖/‖θ_l‖ and weight norms ‖θ_l‖
    over epochs, as :class:`GradientFlowMonitor` records them in a History. Returns the list of
    Axes (one per quantity recorded).

    >>> h = {"grad_norm/dense": [1.0, 0.1], "update_ratio/dense": [0.1, 0.01]}
    >>> [ax.get_yscale() for ax in plot_gradient_flow(h)]
    ['log', 'log']
    """
    h = _history_dict(history)
    panels = [("grad_norm", "gradient norm ‖∇θ_l L‖", "‖∇L‖ (loss units per weight unit)"),
              ("update_ratio", "update ratio ‖Δθ_l‖/‖θ_l‖", "ratio per epoch (dimensionless)"),
              ("weight_norm", "weight norm ‖θ_l‖", "‖θ_l‖ (weight units)")]
    panels = [p for p in panels if layer_keys(h, p[0])]
    if not panels:
        raise ValueError("the history has no per-layer gradient records ('grad_norm/<layer>'): "
                         "train with callbacks=[GradientFlowMonitor(x_probe, y_probe)]")
    axes = new_axes(len(panels), (3.7 * len(panels) + 0.6, 3.3), ax)
    for a, (prefix, title, unit) in zip(axes, panels):
        for i, key in enumerate(layer_keys(h, prefix)):
            values = np.asarray(h[key], dtype=float)
            a.plot(np.arange(1, len(values) + 1), values, color=_color(i),
                   label=key.split("/", 1)[1])
        if prefix != "weight_norm":
            _log_y(a, [v for k in layer_keys(h, prefix) for v in h[k]])
        a.set_xlabel("epoch")
        a.set_ylabel(unit, fontsize=9)
        a.set_title(title, fontsize=10)
    axes[0].legend(frameon=False, fontsize=8)
    return axes


# ---------------------------------------------------------------------------------------------
# Curvature
# ---------------------------------------------------------------------------------------------

def plot_eigenvalues(r: Any, ax: Any = None):
    """The eigenvalues of an :class:`EigenResult` against their index, with the Lanczos residual
    ‖Hv − λv‖ as an error bar (a bound on the distance to a true eigenvalue)."""
    (ax,) = new_axes(1, ax=ax)
    lam = np.asarray(r.eigenvalues, dtype=float)
    res = np.asarray(r.residual_norms, dtype=float)
    ax.errorbar(np.arange(1, len(lam) + 1), lam, yerr=res, fmt="o", color=PALETTE[0],
                capsize=3, label="λᵢ ± residual ‖Hv − λv‖")
    ax.set_xlabel("index i")
    ax.set_ylabel("eigenvalue λᵢ (loss units per parameter²)")
    ax.set_title(f"eigenvalues ({r.which}, {r.kind})")
    ax.legend(frameon=False, fontsize=8)
    return ax


def plot_trace(r: Any, ax: Any = None):
    """The probes' values of a :class:`TraceResult` (Hutchinson: zᵢᵀHzᵢ; Hutch++: tr(QᵀHQ) +
    gᵢᵀΠHΠgᵢ), their running mean and the estimate ± 2 standard errors."""
    (ax,) = new_axes(1, ax=ax)
    s = np.asarray(r.samples, dtype=float)
    i = np.arange(1, len(s) + 1)
    hutchpp = getattr(r, "method", "hutchinson") == "hutch++"
    ax.plot(i, s, ".", color=PALETTE[5], label="tr(QᵀHQ) + gᵢᵀΠHΠgᵢ" if hutchpp else "zᵢᵀHzᵢ")
    ax.plot(i, np.cumsum(s) / i, color=PALETTE[0], label="running mean")
    ax.axhspan(r.estimate - 2 * r.standard_error, r.estimate + 2 * r.standard_error,
               color=PALETTE[0], alpha=0.15, label="estimate ± 2 SE")
    ax.set_xlabel("probe i")
    ax.set_ylabel("tr H estimate (loss units per parameter²)")
    ax.set_title(f"{'Hutch++' if hutchpp else 'Hutchinson'} trace: {r.estimate:.4g} ± "
                 f"{r.standard_error:.2g}")
    ax.legend(frameon=False, fontsize=8)
    return ax


def plot_hessian_spectrum(density: Any, top: Any = None, ax: Any = None):
    """The spectral density φ(λ) of a :class:`SpectralDensityResult` (log scale), with the top
    eigenvalues of an :class:`EigenResult` marked when given.

    >>> import nnmath.numpy as mnp
    >>> from nnmath.analysis import hessian_spectral_density
    >>> d = hessian_spectral_density(lambda w: mnp.sum(w ** 2), np.ones(3), num_probes=2)
    >>> plot_hessian_spectrum(d).get_yscale()
    'log'
    """
    (ax,) = new_axes(1, ax=ax)
    grid = np.asarray(density.grid, dtype=float)
    phi = np.asarray(density.density, dtype=float)
    floor = max(float(phi.max()) * 1e-8, 1e-300)
    ax.semilogy(grid, np.maximum(phi, floor), color=PALETTE[0], label="SLQ density φ(λ)")
    ax.set_ylim(bottom=floor)
    if top is not None:
        for i, lam in enumerate(np.asarray(top.eigenvalues, dtype=float)):
            ax.axvline(lam, color=PALETTE[3], linestyle=":", linewidth=1,
                       label="top eigenvalues (Lanczos)" if i == 0 else None)
    ax.set_xlabel("eigenvalue λ (loss units per parameter²)")
    ax.set_ylabel("density φ(λ) (per unit of λ)")
    ax.set_title(f"Hessian spectrum ({density.num_parameters:,} parameters)")
    ax.legend(frameon=False, fontsize=8)
    return ax


# ---------------------------------------------------------------------------------------------
# Landscapes and kernels
# ---------------------------------------------------------------------------------------------

def plot_loss_surface(surface: Any, ax: Any = None):
    """Contours of L(θ + αd₁ + βd₂) of a :class:`LossSurface2D` (log-spaced levels) and, when
    computed, of the metric; the star is θ. Returns the list of Axes (one per panel)."""
    from matplotlib.colors import LogNorm
    a, b = np.asarray(surface.alphas, float), np.asarray(surface.betas, float)
    panels = [("loss", np.asarray(surface.loss, float))]
    if surface.metric is not None:
        panels.append((surface.metric_name or "metric", np.asarray(surface.metric, float)))
    axes = new_axes(len(panels), (4.6 * len(panels) + 0.4, 3.9), ax)
    for a_, (name, z) in zip(axes, panels):
        lo, hi = float(np.nanmin(z)), float(np.nanmax(z))
        if name == "loss" and lo > 0 and hi > lo:
            levels, norm = np.geomspace(lo, hi, 25), LogNorm(lo, hi)
        else:
            levels, norm = (20 if hi > lo else 1), None
        filled = a_.contourf(a, b, z.T, levels=levels, norm=norm,
                             cmap="viridis" if name == "loss" else "magma")
        a_.contour(a, b, z.T, levels=filled.levels[::3], colors="white", linewidths=0.5,
                   alpha=0.6)
        cbar = a_.figure.colorbar(filled, ax=a_)
        cbar.set_label(name + (" (log scale)" if norm is not None else ""), fontsize=8)
        if norm is not None:
            cbar.ax.set_yscale("log")
        a_.plot([0], [0], marker="*", color=PALETTE[3], markersize=11, linestyle="none")
        a_.set_xlabel("α (units of d₁, filter-normalised)")
        a_.set_ylabel("β (units of d₂)")
        a_.set_title(name)
        a_.set_aspect("equal")
        a_.grid(False)
    return _out(axes)


def plot_interpolation(*paths: Any, labels: Sequence | None = None, ax: Any = None):
    """L((1−α)θ_a + αθ_b) against α for one or more :class:`LinearInterpolation` results on the
    same grid (and the metric in a second panel when computed). Returns the Axes (a list of two
    with a metric).

    >>> import nnmath.numpy as mnp
    >>> from nnmath.analysis import linear_interpolation
    >>> r = linear_interpolation(lambda p: mnp.sum((p ** 2 - 1) ** 2), np.array([-1.0]),
    ...                          np.array([1.0]), num=5)
    >>> plot_interpolation(r, labels=["double well"]).get_legend().get_texts()[0]
    Text(0, 0, 'double well (barrier 1)')
    """
    if not paths:
        raise ValueError("plot_interpolation needs at least one LinearInterpolation")
    labels = [f"path {i}" for i in range(len(paths))] if labels is None else list(labels)
    with_metric = any(p.metric is not None for p in paths)
    axes = new_axes(2 if with_metric else 1, (9.0, 3.4) if with_metric else None, ax)
    for i, (p, label) in enumerate(zip(paths, labels)):
        axes[0].plot(p.alphas, p.loss, color=_color(i), marker=".",
                     label=f"{label} (barrier {p.barrier:.3g})")
        if with_metric and p.metric is not None:
            axes[1].plot(p.alphas, p.metric, color=_color(i), marker=".", label=label)
            axes[1].set_ylabel(p.metric_name or "metric")
            axes[1].set_title(f"{p.metric_name or 'metric'} on the straight line")
    axes[0].set_ylabel("loss")
    for a in axes:
        a.set_xlabel("α   (0: θ_A, 1: θ_B; dimensionless)")
        a.axvline(0, color="grey", linewidth=0.6)
        a.axvline(1, color="grey", linewidth=0.6)
        a.legend(frameon=False, fontsize=8, loc="best")
    axes[0].set_title("loss on the straight line")
    return _out(axes)


def plot_loss_slice(r: Any, ax: Any = None):
    """L(θ + αd) against α of a :class:`LossSlice1D` (and the metric in a second panel when
    computed); θ is at α = 0. Returns the Axes (a list of two with a metric).

    >>> import nnmath.numpy as mnp
    >>> from nnmath.analysis import loss_slice_1d
    >>> r = loss_slice_1d(lambda p: mnp.sum(p ** 2), np.array([0.0]), np.array([1.0]),
    ...                   alphas=np.linspace(-1, 1, 5))
    >>> plot_loss_slice(r).get_xlabel()
    'α (units of d)'
    """
    panels = [("loss", r.loss)] + ([(r.metric_name or "metric", r.metric)]
                                   if r.metric is not None else [])
    axes = new_axes(len(panels), (9.0, 3.4) if len(panels) == 2 else None, ax)
    for i, (a, (name, values)) in enumerate(zip(axes, panels)):
        a.plot(r.alphas, values, color=_color(i), marker=".")
        a.axvline(0, color="grey", linewidth=0.6)
        a.set_xlabel("α (units of d)")
        a.set_ylabel(name)
        a.set_title(f"{name} along a line through θ")
    return _out(axes)


def plot_bezier(r: Any, ax: Any = None):
    """Mode connectivity of a :class:`BezierCurve`: the loss along the trained curve φ(t) and
    along the straight line, with both barriers; and the training losses L(φ(t_k)).

    >>> from types import SimpleNamespace as R
    >>> t = np.linspace(0, 1, 5)
    >>> r = R(ts=t, loss=1 + 0 * t, linear_loss=1 + t * (1 - t), barrier=0.0,
    ...       linear_barrier=0.25, train_losses=np.array([2.0, 1.5, 1.0]))
    >>> [a.get_title() for a in plot_bezier(r)]
    ['loss along the paths', 'training the curve']
    """
    axes = new_axes(2, (9.0, 3.4), ax)
    axes[0].plot(r.ts, r.loss, color=_color(0), marker=".",
                 label=f"Bézier curve (barrier {r.barrier:.3g})")
    axes[0].plot(r.ts, r.linear_loss, color=_color(1), marker=".", linestyle="--",
                 label=f"straight line (barrier {r.linear_barrier:.3g})")
    axes[0].set_xlabel("t   (0: θ_A, 1: θ_B; dimensionless)")
    axes[0].set_ylabel("loss")
    axes[0].set_title("loss along the paths")
    axes[0].legend(frameon=False, fontsize=8)
    steps = np.arange(1, len(r.train_losses) + 1)
    axes[1].plot(steps, r.train_losses, color=_color(2), linewidth=0.8)
    _log_y(axes[1], r.train_losses)
    axes[1].set_xlabel("training step")
    axes[1].set_ylabel("L(φ(t_k)) at the sampled t_k")
    axes[1].set_title("training the curve")
    return axes


def plot_trajectory_pca(r: Any, ax: Any = None):
    """The checkpoints of a :class:`TrajectoryPCA` in the plane of its first two principal
    directions (θ_final at the origin), axes labelled with the variance they explain.

    >>> from types import SimpleNamespace as R
    >>> r = R(coordinates=np.array([[2.0, 1.0], [1.0, 0.2], [0.0, 0.0]]),
    ...       explained_variance_ratio=np.array([0.9, 0.1]))
    >>> plot_trajectory_pca(r).get_xlabel()
    'PC 1 (90.0% of the variance; parameter units)'
    """
    (ax,) = new_axes(1, ax=ax)
    c = np.asarray(r.coordinates, dtype=float)
    evr = np.asarray(r.explained_variance_ratio, dtype=float)
    ys = c[:, 1] if c.shape[1] > 1 else np.zeros(len(c))
    ax.plot(c[:, 0], ys, color=PALETTE[0], marker=".", label="checkpoints")
    ax.plot(c[:1, 0], ys[:1], marker="o", color=PALETTE[1], linestyle="none", label="start")
    ax.plot([0], [0], marker="*", color=PALETTE[3], markersize=11, linestyle="none",
            label="final θ")
    ax.set_xlabel(f"PC 1 ({100 * evr[0]:.1f}% of the variance; parameter units)")
    ax.set_ylabel(f"PC 2 ({100 * evr[1]:.1f}%)" if evr.size > 1 else "(one component)")
    ax.set_title("training trajectory in its principal plane")
    ax.legend(frameon=False, fontsize=8)
    return ax


def plot_ntk(spectrum: Any, kernel: Any = None, labels: Any = None, ax: Any = None):
    """The eigenvalues of an :class:`NTKSpectrum` (descending, log scale, the rounding level
    n·ε·λ_max of the dtype dashed) and, when ``kernel`` is given, the normalised kernel
    Θ̄ᵢⱼ/(Θ̄ᵢᵢΘ̄ⱼⱼ)^½ as an image, samples ordered by ``labels``."""
    raw = np.asarray(spectrum.eigenvalues)
    dtype = raw.dtype if raw.dtype.kind == "f" else np.dtype(float)
    eps, w = np.finfo(dtype).eps, raw.astype(float)
    axes = new_axes(2 if kernel is not None else 1, (9.0, 3.4) if kernel is not None else None,
                    ax)
    a = axes[0]
    pos = w > 0
    a.semilogy(np.arange(1, len(w) + 1)[pos], w[pos], marker="." if len(w) < 60 else None,
               color=PALETTE[0])
    if len(w) and w[0] > 0:
        a.axhline(len(w) * eps * w[0], color="grey", linestyle="--", linewidth=0.8,
                  label=f"rounding level n·ε·λ_max ({dtype})")
        a.legend(frameon=False, fontsize=8)
    a.set_xlabel("index i")
    a.set_ylabel("eigenvalue λᵢ of Θ (output units² per parameter²)", fontsize=9)
    a.set_title(f"NTK eigenvalues (order {spectrum.size})")
    if kernel is not None:
        k = np.asarray(kernel, dtype=float)
        d = np.sqrt(np.clip(np.diag(k), np.finfo(float).tiny, None))
        corr = k / d[:, None] / d[None, :]
        order = np.arange(len(k)) if labels is None else np.argsort(labels, kind="stable")
        im = axes[1].imshow(corr[np.ix_(order, order)], cmap="RdBu_r", vmin=-1, vmax=1,
                            interpolation="nearest")
        axes[1].figure.colorbar(im, ax=axes[1]).set_label("correlation", fontsize=8)
        axes[1].set_title("normalised kernel Θ̄ᵢⱼ/(Θ̄ᵢᵢΘ̄ⱼⱼ)^½"
                          + (" by class" if labels is not None else ""), fontsize=10)
        if labels is not None:
            lab = np.asarray(labels)[order]
            starts = [0] + [i for i in range(1, len(lab)) if lab[i] != lab[i - 1]]
            axes[1].set_xticks(starts, [str(lab[i]) for i in starts], fontsize=7)
            axes[1].set_yticks(starts, [str(lab[i]) for i in starts], fontsize=7)
            axes[1].set_xlabel("class of sample j")
            axes[1].set_ylabel("class of sample i")
        else:
            axes[1].set_xlabel("sample j")
            axes[1].set_ylabel("sample i")
        axes[1].grid(False)
    return _out(axes)


# ---------------------------------------------------------------------------------------------
# Calibration and uncertainty
# ---------------------------------------------------------------------------------------------

def plot_reliability(r: Any, ax: Any = None, label: str | None = None, color: int = 0):
    """A :class:`ReliabilityDiagram`: accuracy per confidence bin (bars) against the diagonal of
    perfect calibration, the gap to it hatched, and the share of predictions per bin below.
    With one ``ax`` only the diagram is drawn; otherwise two panels (diagram, histogram).

    >>> from nnmath.analysis import reliability_diagram
    >>> d = reliability_diagram(np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]]), [0, 1, 1], 5)
    >>> [a.get_xlabel() for a in plot_reliability(d)]
    ['confidence max_k p̂ₖ (probability)', 'confidence max_k p̂ₖ (probability)']
    """
    one = ax is not None and not isinstance(ax, (list, tuple, np.ndarray))
    axes = new_axes(1 if one else 2, None if one else (9.0, 3.6), ax)
    edges = np.asarray(r.bin_edges, float)
    width = np.diff(edges)
    full = np.asarray(r.bin_count) > 0
    acc = np.where(full, np.asarray(r.bin_accuracy, float), 0.0)
    conf = np.where(full, np.asarray(r.bin_confidence, float), 0.0)
    a = axes[0]
    name = label or "accuracy"
    a.bar(edges[:-1][full], acc[full], width[full], align="edge", color=_color(color),
          alpha=0.85, edgecolor="white", label=f"{name} (ECE {r.ece:.3f})")
    a.bar(edges[:-1][full], (conf - acc)[full], width[full], bottom=acc[full], align="edge",
          fill=False, hatch="//", edgecolor=PALETTE[3], linewidth=0.6,
          label="gap to calibration" if color == 0 else None)
    a.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1,
           label="perfect calibration" if color == 0 else None)
    a.set_xlim(0, 1)
    a.set_ylim(0, 1)
    a.set_xlabel("confidence max_k p̂ₖ (probability)")
    a.set_ylabel("accuracy in the bin (fraction)")
    a.set_title(f"reliability diagram ({len(width)} bins, N = {r.num_samples})")
    a.legend(frameon=True, framealpha=0.92, edgecolor="none", fontsize=8, loc="upper left")
    if not one:
        b = axes[1]
        share = np.asarray(r.bin_count, float) / max(r.num_samples, 1)
        b.bar(edges[:-1], share, width, align="edge", color=_color(color), alpha=0.85,
              edgecolor="white")
        b.axvline(r.accuracy, color=PALETTE[3], linestyle="--", linewidth=1,
                  label=f"accuracy {r.accuracy:.3f}")
        b.axvline(r.confidence, color="black", linestyle=":", linewidth=1,
                  label=f"mean confidence {r.confidence:.3f}")
        b.set_xlim(0, 1)
        b.set_xlabel("confidence max_k p̂ₖ (probability)")
        b.set_ylabel("share of predictions (fraction)")
        b.set_title("confidence histogram")
        b.legend(frameon=False, fontsize=8, loc="upper left")
    return _out(axes)


def plot_uncertainty(u: Any, correct: Any = None, ax: Any = None):
    """The per-point total, aleatoric and epistemic uncertainty of an
    :class:`UncertaintyDecomposition` (histograms, nats for classification); with ``correct``
    (one bool per point) the epistemic part of right and wrong predictions is compared in a
    second panel."""
    two = correct is not None
    axes = new_axes(2 if two else 1, (9.0, 3.4) if two else None, ax)
    unit = "nats" if u.task == "classification" else "output units²"
    parts = [("total", u.total), ("aleatoric", u.aleatoric), ("epistemic", u.epistemic)]
    top = max(float(np.max(np.asarray(v, float))) for _, v in parts) or 1.0
    bins = np.linspace(0.0, top, 31)
    for i, (name, v) in enumerate(parts):
        v = np.asarray(v, float).ravel()
        axes[0].hist(v, bins=bins, histtype="step", linewidth=1.4, color=_color(i),
                     label=f"{name} (mean {v.mean():.3g})")
    axes[0].set_xlabel(f"uncertainty per point ({unit})")
    axes[0].set_ylabel("points")
    axes[0].set_title(f"total = aleatoric + epistemic (S = {u.num_samples} samples)")
    axes[0].legend(frameon=False, fontsize=8)
    if two:
        c = np.asarray(correct, bool).ravel()
        e = np.asarray(u.epistemic, float).ravel()
        eb = np.linspace(0.0, float(e.max()) or 1.0, 26)
        for i, (name, m) in enumerate((("correct", c), ("wrong", ~c))):
            if m.any():
                axes[1].hist(e[m], bins=eb, density=True, histtype="stepfilled", alpha=0.5,
                             color=_color(2 * i), label=f"{name} ({m.sum()}, mean "
                                                        f"{e[m].mean():.3g})")
        axes[1].set_xlabel(f"epistemic uncertainty I(y; θ) ({unit})")
        axes[1].set_ylabel(f"density (per {unit.split()[0]})")
        axes[1].set_title("epistemic part: right vs wrong predictions")
        axes[1].legend(frameon=False, fontsize=8)
    return _out(axes)


def plot_mc_dropout(pred: Any, ax: Any = None):
    """An :class:`MCDropoutPrediction` of a classifier (samples (S, N, K)): per point, the mean
    top-class probability against its standard deviation across the S dropout masks; of a
    regression, the predictive standard deviation per point (sorted)."""
    (ax,) = new_axes(1, ax=ax)
    s = np.asarray(pred.samples, float)
    mean = np.asarray(pred.mean, float)
    if s.ndim == 3 and s.shape[-1] > 1:
        k = mean.argmax(-1)
        top = np.take_along_axis(s, k[None, :, None], axis=-1)[..., 0]
        ax.scatter(top.mean(0), top.std(0), s=8, alpha=0.6, color=PALETTE[0])
        ax.set_xlabel("mean probability of the predicted class")
        ax.set_ylabel("its std over dropout masks (probability)")
    else:
        sd = np.sort(np.sqrt(np.asarray(pred.variance, float)).ravel())
        ax.plot(np.arange(1, len(sd) + 1), sd, color=PALETTE[0])
        ax.set_xlabel("point (sorted)")
        ax.set_ylabel("predictive std (output units)")
    ax.set_title(f"MC dropout, S = {pred.num_samples} masks")
    return ax


# ---------------------------------------------------------------------------------------------
# Information plane, comparisons
# ---------------------------------------------------------------------------------------------

def plot_information_plane(r: Any, ax: Any = None):
    """The information plane of an :class:`InformationPlaneResult`: each layer's path of
    (I(X;T), I(T;Y)) over training, coloured by epoch (viridis), the first point a circle, the
    last a square."""
    from matplotlib.colors import Normalize
    (ax,) = new_axes(1, (6.4, 4.2), ax)
    epochs = np.asarray(r.epochs, float)
    norm = Normalize(epochs.min(), max(epochs.max(), epochs.min() + 1))
    sc = None
    for i, layer in enumerate(r.layers):
        x, y = np.asarray(r.i_xt[layer], float), np.asarray(r.i_ty[layer], float)
        ax.plot(x, y, color=_color(i), linewidth=0.8, alpha=0.7, label=layer)
        sc = ax.scatter(x, y, c=epochs[:len(x)], cmap="viridis", norm=norm, s=14, zorder=3)
        ax.plot(x[:1], y[:1], "o", mfc="none", mec=_color(i), markersize=9)
        ax.plot(x[-1:], y[-1:], "s", mfc="none", mec=_color(i), markersize=9)
    if sc is not None:
        ax.figure.colorbar(sc, ax=ax).set_label("epoch (−1: before training)", fontsize=8)
    est = ", ".join(f"{k} = {v}" for k, v in r.parameters.items())
    ax.set_xlabel(f"I(X; T) ({r.unit})")
    ax.set_ylabel(f"I(T; Y) ({r.unit})")
    ax.set_title(f"information plane ({r.estimator}{', ' + est if est else ''})", fontsize=10)
    ax.legend(frameon=False, fontsize=8, loc="lower right")
    return ax


def plot_run_comparison(c: Any, names: Sequence | None = None, ax: Any = None):
    """A :class:`RunComparison`: every run's value (one dot per seed) for A and B, with each
    side's mean ± 95 % t-interval, and Welch's p-value in the title."""
    import scipy.stats
    (ax,) = new_axes(1, (5.2, 3.6), ax)
    names = list(names) if names is not None else ["A", "B"]
    for i, (name, v) in enumerate(((names[0], c.values_a), (names[1], c.values_b))):
        v = np.asarray(v, float)
        jitter = np.linspace(-0.08, 0.08, len(v)) if len(v) > 1 else np.zeros(1)
        ax.plot(i + jitter, v, "o", color=_color(i), alpha=0.8, label=f"{name} (n = {len(v)})")
        if len(v) > 1:
            half = scipy.stats.t.ppf(0.975, len(v) - 1) * v.std(ddof=1) / np.sqrt(len(v))
            ax.errorbar(i + 0.25, v.mean(), yerr=half, fmt="D", color="black", capsize=4,
                        markersize=5, label="mean ± 95% CI" if i == 0 else None)
    ax.set_xticks([0, 1], names)
    ax.set_xlim(-0.5, 1.6)
    ax.set_xlabel("runs, one per seed")
    how = "last epoch" if c.final else "best epoch"
    ax.set_ylabel(f"{c.metric} ({how}; {'lower' if c.mode == 'min' else 'higher'} is better)")
    ax.set_title(f"Welch t = {float(c.ttest.statistic):.3g}, df = {float(c.ttest.df):.3g}, "
                 f"p = {float(c.ttest.pvalue):.3g}", fontsize=10)
    ax.legend(frameon=False, fontsize=8)
    return ax


def plot_run_curves(runs: Mapping, metric: str = "val_loss", ax: Any = None):
    """Per-epoch curves of ``metric`` for several groups of runs (``{name: [History or dict per
    seed]}``): each seed a thin line, each group's mean a thick one, one colour per group."""
    (ax,) = new_axes(1, (5.6, 3.6), ax)
    values = []
    for i, (name, group) in enumerate(runs.items()):
        curves = [np.asarray(_history_dict(r)[metric], float) for r in group]
        n = min(len(c) for c in curves)
        for c in curves:
            ax.plot(np.arange(1, len(c) + 1), c, color=_color(i), alpha=0.35, linewidth=0.8)
        mean = np.mean([c[:n] for c in curves], axis=0)
        ax.plot(np.arange(1, n + 1), mean, color=_color(i), linewidth=2,
                label=f"{name} (mean of {len(curves)})")
        values += [v for c in curves for v in c]
    if "loss" in metric:
        _log_y(ax, values)
    ax.set_xlabel("epoch")
    ax.set_ylabel(metric + (" (log scale)" if ax.get_yscale() == "log" else ""))
    ax.set_title(f"{metric} per epoch, every seed", fontsize=10)
    ax.legend(frameon=False, fontsize=8)
    return ax


def plot_ttest(r: Any, ax: Any = None):
    """A :class:`TtestResult`: the estimated difference with its 95 % confidence interval,
    against 0."""
    (ax,) = new_axes(1, (5.2, 2.4), ax)
    lo, hi = r.confidence_interval(0.95)
    est = float(np.asarray(r.estimate).ravel()[0])
    lo, hi = float(np.asarray(lo).ravel()[0]), float(np.asarray(hi).ravel()[0])
    ax.errorbar([est], [0], xerr=[[est - lo], [hi - est]], fmt="o", color=PALETTE[0], capsize=5)
    ax.axvline(0, color="grey", linestyle="--", linewidth=1)
    ax.set_yticks([])
    ax.set_xlabel("difference of means (units of the data)")
    ax.set_title(f"{r.method} t-test: p = {float(np.asarray(r.pvalue).ravel()[0]):.3g}",
                 fontsize=10)
    return ax


# ---------------------------------------------------------------------------------------------
# Optimisation theory and gradient checks
# ---------------------------------------------------------------------------------------------

def plot_convergence(r: Any, ax: Any = None):
    """‖θ_k − θ*‖ and f(θ_k) − f* of a :class:`ConvergenceRate` on a log scale, with the
    theoretical linear rate ρᵏ‖θ₀ − θ*‖ when known.

    >>> from types import SimpleNamespace as R
    >>> k = np.arange(6)
    >>> r = R(errors=0.5 ** k, gaps=0.25 ** k, theoretical_rate=0.5, measured_rate=0.5,
    ...       method="gd")
    >>> plot_convergence(r).get_yscale()
    'log'
    """
    (ax,) = new_axes(1, ax=ax)
    e, g = np.asarray(r.errors, dtype=float), np.asarray(r.gaps, dtype=float)
    k = np.arange(len(e))
    ax.plot(k, e, color=PALETTE[0], label=f"‖θ_k − θ*‖ (measured ρ̂ = {r.measured_rate:.4g})")
    ax.plot(np.arange(len(g)), g, color=PALETTE[2], label="f(θ_k) − f*")
    if r.theoretical_rate is not None and e.size and e[0] > 0:
        ax.plot(k, e[0] * float(r.theoretical_rate) ** k, color=PALETTE[3], linestyle="--",
                label=f"ρᵏ‖θ₀ − θ*‖ (ρ = {r.theoretical_rate:.4g})")
    positive = np.concatenate([e, g])
    positive = positive[np.isfinite(positive) & (positive > 0)]
    if positive.size:
        ax.set_yscale("log")
        ax.set_ylim(bottom=max(positive.min(), 1e-300) / 2)
    ax.set_xlabel("iteration k")
    ax.set_ylabel("error (parameter units) / gap (loss units)", fontsize=9)
    ax.set_title(f"convergence of {r.method}")
    ax.legend(frameon=False, fontsize=8)
    return ax


def plot_gradient_flow_ode(r: Any, ax: Any = None):
    """A :class:`GradientFlowResult`: L(θ(t)) and ‖∇L(θ(t))‖ along the flow dθ/dt = −∇L (log
    scales), and ‖θ_k − θ(kη)‖ of gradient descent against the flow when computed.

    >>> from types import SimpleNamespace as R
    >>> t = np.linspace(0, 1, 5)
    >>> r = R(t=t, loss=np.exp(-t), grad_norm=np.exp(-t), gd_deviation=None, learning_rate=None)
    >>> plot_gradient_flow_ode(r).get_xlabel()
    't (flow time: learning rate × steps)'
    """
    with_gd = getattr(r, "gd_deviation", None) is not None
    axes = new_axes(2 if with_gd else 1, (9.0, 3.4) if with_gd else None, ax)
    t = np.asarray(r.t, dtype=float)
    axes[0].plot(t, r.loss, color=PALETTE[0], label="L(θ(t))")
    axes[0].plot(t, r.grad_norm, color=PALETTE[2], label="‖∇L(θ(t))‖")
    _log_y(axes[0], np.concatenate([np.ravel(r.loss), np.ravel(r.grad_norm)]))
    axes[0].set_xlabel("t (flow time: learning rate × steps)")
    axes[0].set_ylabel("loss / gradient norm")
    axes[0].set_title("gradient flow dθ/dt = −∇L(θ)")
    axes[0].legend(frameon=False, fontsize=8)
    if with_gd:
        dev = np.asarray(r.gd_deviation, dtype=float)
        axes[1].plot(np.arange(len(dev)), dev, color=PALETTE[3], marker=".")
        axes[1].set_xlabel("gradient-descent step k")
        axes[1].set_ylabel("‖θ_k − θ(kη)‖ (parameter units)")
        axes[1].set_title(f"GD vs the flow (η = {r.learning_rate:g})")
    return _out(axes)


def plot_spectral_bias(r: Any, ax: Any = None):
    """A :class:`SpectralBiasResult` as an image: the relative error |f̂_θ(k) − f̂*(k)|/|f̂*(k)|
    of each tracked frequency (rows) over the recorded epochs (columns); low frequencies are
    learned first (Rahaman et al. 2019).

    >>> from types import SimpleNamespace as R
    >>> r = R(frequencies=np.array([1, 4]), epochs=np.array([0, 10, 20]),
    ...       relative_errors=np.array([[1.0, 1.0], [0.1, 0.8], [0.01, 0.2]]), threshold=0.1)
    >>> plot_spectral_bias(r).get_ylabel()
    'frequency k (cycles per period)'
    """
    from matplotlib.colors import LogNorm
    (ax,) = new_axes(1, ax=ax)
    err = np.asarray(r.relative_errors, dtype=float).T          # frequencies × epochs
    err = np.clip(err, 1e-6, None)
    epochs, freqs = np.asarray(r.epochs), np.asarray(r.frequencies)
    image = ax.imshow(err, aspect="auto", origin="lower", cmap="magma",
                      norm=LogNorm(err.min(), max(err.max(), err.min() * 10)),
                      extent=(-0.5, len(epochs) - 0.5, -0.5, len(freqs) - 0.5))
    ax.set_xticks(np.arange(len(epochs)), [str(int(e)) for e in epochs], fontsize=7)
    ax.set_yticks(np.arange(len(freqs)), [f"{f:g}" for f in freqs], fontsize=8)
    cbar = ax.figure.colorbar(image, ax=ax)
    cbar.set_label(f"relative error (log scale; learned below {r.threshold:g})", fontsize=8)
    ax.set_xlabel("epoch")
    ax.set_ylabel("frequency k (cycles per period)")
    ax.set_title("spectral bias: error of each frequency")
    ax.grid(False)
    return ax


def plot_gradcheck(r: Any, ax: Any = None):
    """A :class:`GradcheckResult`: each weight's relative error ‖g − g_fd‖/max(‖g‖, ‖g_fd‖)
    (log scale) against the tolerance; failed weights in vermillion.

    >>> from types import SimpleNamespace as R
    >>> rows = [R(layer="dense", weight="kernel", relative_error=1e-9, passed=True),
    ...         R(layer="dense", weight="bias", relative_error=1e-3, passed=False)]
    >>> plot_gradcheck(R(rows=rows, rtol=1e-5, passed=False)).get_ylabel()
    'relative error (dimensionless)'
    """
    (ax,) = new_axes(1, ax=ax)
    rel = np.array([max(float(row.relative_error), 1e-17) for row in r.rows])
    names = [f"{row.layer}/{row.weight}" for row in r.rows]
    colors = [PALETTE[2] if row.passed else PALETTE[3] for row in r.rows]
    ax.bar(np.arange(len(rel)), rel, color=colors)
    ax.axhline(r.rtol, color="black", linestyle="--", linewidth=0.8, label=f"rtol = {r.rtol:g}")
    ax.set_yscale("log")
    ax.set_xticks(np.arange(len(rel)), names, rotation=60, ha="right", fontsize=7)
    ax.set_xlabel("weight")
    ax.set_ylabel("relative error (dimensionless)")
    ax.set_title("gradient check: " + ("all passed" if r.passed else
                                        f"{sum(not row.passed for row in r.rows)} failed"))
    ax.legend(frameon=False, fontsize=8)
    return ax


# ---------------------------------------------------------------------------------------------
# Optimal transport
# ---------------------------------------------------------------------------------------------

def plot_sinkhorn(r: Any, ax: Any = None):
    """The plan P of a :class:`SinkhornResult` as an image (rows: source points i, columns:
    target points j), with its marginals P1 (right) and Pᵀ1 (top) as bars.

    >>> from types import SimpleNamespace as R
    >>> r = R(plan=np.array([[0.4, 0.1], [0.0, 0.5]]), reg=0.1, cost=0.1, marginal_error=0.0)
    >>> plot_sinkhorn(r).images[0].get_array().tolist()
    [[0.4, 0.1], [0.0, 0.5]]
    """
    (ax,) = new_axes(1, (5.2, 4.6), ax)
    P = np.asarray(r.plan, dtype=float)
    n, m = P.shape
    image = ax.imshow(P, cmap="viridis", aspect="auto", interpolation="nearest",
                      extent=(-0.5, m - 0.5, n - 0.5, -0.5))
    ax.figure.colorbar(image, ax=ax, location="bottom", shrink=0.7).set_label(
        "mass Pᵢⱼ (probability)", fontsize=8)
    ax.set_xlabel("target point j")
    ax.set_ylabel("source point i")
    ax.grid(False)
    from matplotlib.ticker import MaxNLocator
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    top = ax.inset_axes((0.0, 1.03, 1.0, 0.2), sharex=ax)
    top.bar(np.arange(m), P.sum(axis=0), width=0.9, color=PALETTE[1])
    top.set_ylabel("Pᵀ1", fontsize=7)
    right = ax.inset_axes((1.03, 0.0, 0.2, 1.0), sharey=ax)
    right.barh(np.arange(n), P.sum(axis=1), height=0.9, color=PALETTE[0])
    right.set_xlabel("P1", fontsize=7)
    for a in (top, right):
        a.tick_params(labelsize=6, labelbottom=a is right, labelleft=a is top)
    top.set_title(f"entropic OT plan (ε = {float(r.reg):g}, ⟨P, M⟩ = {float(r.cost):.4g}, "
                  f"marginal error {float(r.marginal_error):.1e})", fontsize=9)
    return ax


def plot_sinkhorn_barycenter(r: Any, ax: Any = None):
    """The histogram of a :class:`SinkhornBarycenterResult` over the grid's points.

    >>> from types import SimpleNamespace as R
    >>> r = R(barycenter=np.array([0.25, 0.5, 0.25]), n_iter=10, marginal_error=1e-10,
    ...       converged=True)
    >>> [float(p.get_height()) for p in plot_sinkhorn_barycenter(r).patches]
    [0.25, 0.5, 0.25]
    """
    (ax,) = new_axes(1, ax=ax)
    q = np.asarray(r.barycenter, dtype=float)
    ax.bar(np.arange(len(q)), q, width=0.9, color=PALETTE[0])
    ax.set_xlabel("grid point i (support of the cost matrix M)")
    ax.set_ylabel("mass qᵢ (probability)")
    state = "converged" if r.converged else "not converged"
    ax.set_title(f"entropic barycenter ({r.n_iter} iterations, {state}, marginal error "
                 f"{float(r.marginal_error):.1e})", fontsize=9)
    return ax


def plot_barycenter_1d(r: Any, ax: Any = None):
    """A :class:`Barycenter1DResult`: its quantile function F⁻¹(u) (the average of the inputs'
    quantile functions, a step function) and its probability masses at the support points.
    Returns the two Axes.

    >>> from types import SimpleNamespace as R
    >>> r = R(values=np.array([1.5, 2.0, 3.5]), weights=np.array([0.5, 0.25, 0.25]))
    >>> plot_barycenter_1d(r)[0].patches[0].get_data().edges.tolist()
    [0.0, 0.5, 0.75, 1.0]
    """
    axes = new_axes(2, (9.0, 3.4), ax)
    v, w = np.asarray(r.values, dtype=float), np.asarray(r.weights, dtype=float)
    axes[0].stairs(v, np.concatenate([[0.0], np.cumsum(w)]), baseline=None, color=PALETTE[0],
                   linewidth=1.6)
    axes[0].set_xlim(0, 1)
    axes[0].set_xlabel("cumulative level u (probability)")
    axes[0].set_ylabel("quantile F⁻¹(u) (units of the data)")
    axes[0].set_title("quantile function of the barycenter")
    axes[1].vlines(v, 0, w, color=PALETTE[0])
    axes[1].plot(v, w, "o", color=PALETTE[0])
    axes[1].set_ylim(bottom=0)
    axes[1].set_xlabel("support point (units of the data)")
    axes[1].set_ylabel("probability mass")
    axes[1].set_title(f"W₂ barycenter: {len(v)} support points")
    return axes


# ---------------------------------------------------------------------------------------------
# Ensembles, variational and sampled posteriors
# ---------------------------------------------------------------------------------------------

def _is_probabilities(x: np.ndarray) -> bool:
    return (x.ndim == 2 and x.shape[-1] > 1 and bool(np.all((x >= 0) & (x <= 1)))
            and np.allclose(x.sum(-1), 1.0, atol=1e-6))


def plot_ensemble_prediction(r: Any, ax: Any = None):
    """An :class:`EnsemblePrediction` per point (the result keeps no inputs: the x axis is the
    point's index). Regression: every member's μₘ (thin), the ensemble's μ* with ±2σ* (and ±2
    of the aleatoric σ when members are Gaussian); the first output when there are several.
    Classification (rows of probabilities): the mean probability of the predicted class, each
    member's probability of it (dots) and ±2 of their spread.

    >>> from types import SimpleNamespace as R
    >>> mu = np.array([[[0.0], [1.0]], [[2.0], [1.0]]])              # 2 members, 2 points
    >>> r = R(mean=mu.mean(0), variance=mu.var(0), aleatoric=None, epistemic=mu.var(0),
    ...       member_means=mu, member_variances=None)
    >>> plot_ensemble_prediction(r).get_lines()[-1].get_ydata().tolist()
    [1.0, 1.0]
    """
    (ax,) = new_axes(1, ax=ax)
    mean = np.asarray(r.mean, dtype=float)
    members = np.asarray(r.member_means, dtype=float)
    M = len(members)
    i = np.arange(len(mean))
    if _is_probabilities(mean):
        k = mean.argmax(-1)
        top = np.take_along_axis(mean, k[:, None], axis=-1)[:, 0]
        per_member = np.take_along_axis(members, np.broadcast_to(k[None, :, None],
                                                                 (M, len(k), 1)), -1)[..., 0]
        spread = per_member.std(axis=0)
        for m in range(M):
            ax.plot(i, per_member[m], ".", color=PALETTE[5], alpha=0.6,
                    label="members" if m == 0 else None)
        ax.errorbar(i, top, yerr=2 * spread, fmt="o", color=PALETTE[0], capsize=3,
                    label="ensemble ± 2 sd of the members")
        ax.set_ylim(0, 1.05)
        ax.set_xlabel("point (index)")
        ax.set_ylabel("probability of the predicted class")
        ax.set_title(f"deep ensemble, M = {M} members")
    else:
        flat = lambda a: np.asarray(a, dtype=float).reshape(len(mean), -1)[:, 0]  # noqa: E731
        mu, sd = flat(mean), np.sqrt(flat(r.variance))
        for m in range(M):
            ax.plot(i, members[m].reshape(len(mean), -1)[:, 0], color=PALETTE[5],
                    linewidth=0.7, alpha=0.7, label="members μₘ" if m == 0 else None)
        ax.fill_between(i, mu - 2 * sd, mu + 2 * sd, color=PALETTE[0], alpha=0.15,
                        label="μ* ± 2σ* (total)")
        if r.aleatoric is not None:
            sa = np.sqrt(flat(r.aleatoric))
            ax.fill_between(i, mu - 2 * sa, mu + 2 * sa, color=PALETTE[1], alpha=0.2,
                            label="μ* ± 2σ (aleatoric)")
        ax.plot(i, mu, color=PALETTE[0], linewidth=1.8, label="ensemble mean μ*")
        ax.set_xlabel("point (index)")
        ax.set_ylabel("prediction (output units)")
        extra = "" if mean.size == len(mean) else ", first output"
        ax.set_title(f"deep ensemble, M = {M} members{extra}")
    ax.legend(frameon=False, fontsize=8)
    return ax


def plot_deep_ensemble(r: Any, ax: Any = None):
    """A :class:`DeepEnsemble`: its prediction (see :func:`plot_ensemble_prediction`) and every
    member's training loss per epoch. Returns the two Axes (one without recorded histories).

    >>> from types import SimpleNamespace as R
    >>> mu = np.array([[[0.0], [1.0]], [[2.0], [1.0]]])
    >>> p = R(mean=mu.mean(0), variance=mu.var(0), aleatoric=None, epistemic=mu.var(0),
    ...       member_means=mu, member_variances=None)
    >>> r = R(prediction=p, seeds=[0, 1], final_losses=[0.5, 0.4],
    ...       histories=[{"loss": [1.0, 0.5]}, {"loss": [0.9, 0.4]}])
    >>> plot_deep_ensemble(r)[1].get_xlabel()
    'epoch'
    """
    hs = [_history_dict(h) for h in (getattr(r, "histories", None) or [])]
    hs = [h for h in hs if h.get("loss")]
    axes = new_axes(2 if hs else 1, (9.6, 3.6) if hs else None, ax)
    plot_ensemble_prediction(r.prediction, ax=axes[0])
    if hs:
        values = []
        for m, (h, seed) in enumerate(zip(hs, r.seeds)):
            loss = np.asarray(h["loss"], dtype=float)
            axes[1].plot(np.arange(1, len(loss) + 1), loss, color=_color(m),
                         label=f"seed {seed}" if m < 8 else None)
            values += list(loss)
        _log_y(axes[1], values)
        axes[1].set_xlabel("epoch")
        axes[1].set_ylabel("training loss")
        axes[1].set_title("members' training")
        axes[1].legend(frameon=False, fontsize=7)
    return _out(axes)


def plot_mean_field(r: Any, ax: Any = None):
    """A :class:`MeanFieldPosterior`: the one-draw estimates of −ELBO at each step with their
    running mean over a window, and each parameter's posterior μᵢ ± 2σᵢ (the σᵢ as a histogram
    for more than 60 parameters). Returns the two Axes.

    >>> from types import SimpleNamespace as R
    >>> r = R(history=np.array([3.0, 2.0, 1.5, 1.2]), mean_flat=np.array([0.5, -1.0]),
    ...       std_flat=np.array([0.1, 0.2]), elbo=-1.2, elbo_std_error=0.1, num_steps=4)
    >>> plot_mean_field(r)[0].get_lines()[0].get_ydata().tolist()
    [3.0, 2.0, 1.5, 1.2]
    """
    axes = new_axes(2, (9.6, 3.6), ax)
    h = np.asarray(r.history, dtype=float)
    steps = np.arange(1, len(h) + 1)
    axes[0].plot(steps, h, color=PALETTE[5], linewidth=0.6, label="one-draw −ELBO")
    w = max(1, len(h) // 20)
    if w > 1:
        smooth = np.convolve(h, np.ones(w) / w, mode="valid")
        axes[0].plot(steps[w - 1:], smooth, color=PALETTE[0], label=f"running mean ({w} steps)")
    axes[0].set_xlabel("optimisation step")
    axes[0].set_ylabel("−ELBO (nats)")
    axes[0].set_title(f"ELBO = {float(r.elbo):.4g} ± {float(r.elbo_std_error):.2g}")
    axes[0].legend(frameon=False, fontsize=8)
    mu, sd = np.asarray(r.mean_flat, dtype=float), np.asarray(r.std_flat, dtype=float)
    if mu.size <= 60:
        axes[1].errorbar(np.arange(mu.size), mu, yerr=2 * sd, fmt="o", color=PALETTE[0],
                         capsize=3, markersize=4)
        axes[1].set_xlabel("parameter (flat index)")
        axes[1].set_ylabel("posterior μᵢ ± 2σᵢ (parameter units)")
    else:
        axes[1].hist(sd, bins=30, color=PALETTE[0])
        axes[1].set_xlabel("posterior σᵢ (parameter units)")
        axes[1].set_ylabel("parameters")
    axes[1].set_title(f"q(θ) = Πᵢ N(μᵢ, σᵢ²), {mu.size:,} parameters")
    return axes


def plot_langevin(r: Any, ax: Any = None, max_parameters: int = 4):
    """:class:`LangevinSamples`: the trace of the first ``max_parameters`` parameters over the
    kept states, and their histograms with the sample means. Returns the two Axes.

    >>> from types import SimpleNamespace as R
    >>> s = np.array([[0.0, 1.0], [0.5, 0.8], [-0.5, 1.2]])
    >>> r = R(samples=s, mean=s.mean(0), mean_std_error=np.zeros(2), temperature=1.0,
    ...       learning_rate=0.01, num_steps=10)
    >>> plot_langevin(r)[0].get_lines()[1].get_ydata().tolist()
    [1.0, 0.8, 1.2]
    """
    axes = new_axes(2, (9.6, 3.6), ax)
    s = np.asarray(r.samples, dtype=float).reshape(len(r.samples), -1)
    mean, se = np.asarray(r.mean, dtype=float), np.asarray(r.mean_std_error, dtype=float)
    k = min(max_parameters, s.shape[1])
    for j in range(k):
        axes[0].plot(np.arange(len(s)), s[:, j], color=_color(j), linewidth=0.7,
                     label=f"θ[{j}]")
        axes[1].hist(s[:, j], bins=30, histtype="step", density=True, color=_color(j),
                     label=f"θ[{j}]: mean {mean[j]:.3g} ± {se[j]:.2g}")
        axes[1].axvline(mean[j], color=_color(j), linestyle="--", linewidth=0.8)
    axes[0].set_xlabel("kept sample (after burn-in and thinning)")
    axes[0].set_ylabel("parameter value (parameter units)")
    axes[0].set_title(f"SGLD trace (T = {float(r.temperature):g}, η = "
                      f"{float(r.learning_rate):g}, {r.num_steps:,} steps)", fontsize=9)
    axes[0].legend(frameon=False, fontsize=7)
    axes[1].set_xlabel("parameter value (parameter units)")
    axes[1].set_ylabel("density (per parameter unit)")
    extra = f" (first {k} of {s.shape[1]})" if s.shape[1] > k else ""
    axes[1].set_title("marginal histograms" + extra, fontsize=9)
    axes[1].legend(frameon=False, fontsize=7)
    return axes


# ---------------------------------------------------------------------------------------------
# Generalisation, curvature per layer, NTK predictions, signal propagation
# ---------------------------------------------------------------------------------------------

def plot_rademacher(r: Any, ax: Any = None):
    """A :class:`RademacherResult`: the histogram of the suprema sup_h (1/n) Σᵢ σᵢ h(xᵢ) over the
    sign draws, their mean R̂ₙ ± 2 SE and, when known, the upper bound B·√(Σ‖xᵢ‖²)/n.

    >>> from types import SimpleNamespace as R
    >>> r = R(draws=np.array([0.2, 0.3, 0.4]), estimate=0.3, standard_error=0.06, num_draws=3,
    ...       num_samples=5, exact=False, method="linear", upper_bound=0.5)
    >>> plot_rademacher(r).get_xlabel()
    'supremum over H of (1/n) Σᵢ σᵢ h(xᵢ) (output units)'
    """
    (ax,) = new_axes(1, ax=ax)
    d = np.asarray(r.draws, dtype=float)
    ax.hist(d, bins=min(30, max(5, len(d) // 5)), color=PALETTE[5], label="sign draws σ")
    ax.axvline(r.estimate, color=PALETTE[0], linewidth=1.6, label=f"R̂ₙ = {r.estimate:.4g}")
    if r.standard_error > 0:
        ax.axvspan(r.estimate - 2 * r.standard_error, r.estimate + 2 * r.standard_error,
                   color=PALETTE[0], alpha=0.15, label="R̂ₙ ± 2 SE")
    if r.upper_bound is not None:
        ax.axvline(r.upper_bound, color=PALETTE[3], linestyle="--",
                   label=f"bound B·√Σ‖xᵢ‖²/n = {r.upper_bound:.4g}")
    ax.set_xlabel("supremum over H of (1/n) Σᵢ σᵢ h(xᵢ) (output units)")
    ax.set_ylabel("sign draws")
    how = "all 2ⁿ sign vectors" if r.exact else f"{r.num_draws:,} sign draws"
    ax.set_title(f"empirical Rademacher complexity (n = {r.num_samples}, {how}, {r.method})",
                 fontsize=9)
    ax.legend(frameon=False, fontsize=8)
    return ax


def _leaves(tree: Any, path: str = "") -> list:
    """``[(path, array)]`` of a pytree of dicts, lists and tuples (an array at the top: "θ")."""
    if isinstance(tree, Mapping):
        return [leaf for k, v in tree.items()
                for leaf in _leaves(v, f"{path}/{k}" if path else str(k))]
    if isinstance(tree, (list, tuple)):
        return [leaf for i, v in enumerate(tree)
                for leaf in _leaves(v, f"{path}/{i}" if path else str(i))]
    return [(path or "θ", np.asarray(tree, dtype=float))]


def plot_hessian_diagonal(r: Any, ax: Any = None):
    """A :class:`DiagonalResult`: the histogram of the Hessian's diagonal entries ∂²L/∂θᵢ²,
    one per weight of the parameter tree (its path in the legend).

    >>> from types import SimpleNamespace as R
    >>> r = R(diagonal={"w": np.array([1.0, 2.0]), "b": np.array([0.5])}, num_samples=3,
    ...       exact=True, num_hvps=3)
    >>> plot_hessian_diagonal(r).get_legend().get_texts()[0].get_text()
    'w (2 entries, mean 1.5)'
    """
    (ax,) = new_axes(1, ax=ax)
    leaves = [(name, v.ravel()) for name, v in _leaves(r.diagonal) if v.size]
    everything = np.concatenate([v for _, v in leaves]) if leaves else np.zeros(1)
    lo, hi = float(everything.min()), float(everything.max())
    bins = np.linspace(lo, hi if hi > lo else lo + 1.0, 31)
    for i, (name, v) in enumerate(leaves):
        ax.hist(v, bins=bins, histtype="step", linewidth=1.4, color=_color(i),
                label=f"{name} ({v.size:,} entries, mean {v.mean():.3g})")
    ax.axvline(0, color="grey", linewidth=0.6)
    ax.set_xlabel("diagonal entry ∂²L/∂θᵢ² (loss units per parameter²)")
    ax.set_ylabel("entries")
    how = ("exact, unit vectors" if r.exact else f"Hutchinson, {r.num_samples} probes")
    ax.set_title(f"Hessian diagonal per weight ({how})", fontsize=10)
    ax.legend(frameon=False, fontsize=8)
    return ax


def plot_ntk_prediction(r: Any, ax: Any = None, max_outputs: int = 8):
    """An :class:`NTKPrediction`: the linearised network's outputs f_t on the training points
    (solid) and the test points (dashed) against the training time t (symlog axis; t = ∞ drawn
    as a dotted level on the right); for one time, the outputs per point.

    >>> from types import SimpleNamespace as R
    >>> t = np.array([0.0, 1.0, 2.0])
    >>> r = R(t=t, train=np.array([[0.0], [0.6], [0.9]]), test=None)
    >>> plot_ntk_prediction(r).get_lines()[0].get_ydata().tolist()
    [0.0, 0.6, 0.9]
    """
    (ax,) = new_axes(1, ax=ax)
    t = np.asarray(r.t, dtype=float)
    sets = [("train", np.asarray(r.train, dtype=float), "-")]
    if r.test is not None:
        sets.append(("test", np.asarray(r.test, dtype=float), "--"))
    if t.ndim == 0:
        start = 0
        for j, (name, f, _) in enumerate(sets):
            f = f.ravel()
            ax.plot(start + np.arange(len(f)), f, "o", color=_color(j), label=f"{name} points")
            start += len(f)
        ax.set_xlabel("point (index: training, then test)")
        ax.set_ylabel("f_t(x) (output units)")
        ax.set_title(f"linearised network at t = {float(t):g}")
    else:
        finite = np.isfinite(t)
        for j, (name, f, style) in enumerate(sets):
            f = f.reshape(len(t), -1)
            for c in range(min(max_outputs, f.shape[1])):
                ax.plot(t[finite], f[finite, c], style, color=_color(c), marker=".",
                        label=f"{name} outputs" if c == 0 else None, alpha=1.0 - 0.3 * j)
                if not finite.all():
                    ax.plot([t[finite].max() if finite.any() else 0.0], [f[~finite, c][0]],
                            marker="_", markersize=14, color=_color(c), linestyle="none",
                            label="t = ∞ (converged)" if c == 0 and j == 0 else None)
        ax.set_xscale("symlog", linthresh=max(float(np.min(t[finite & (t > 0)], initial=1.0)),
                                              1e-12))
        ax.set_xlabel("training time t (learning rate × steps)")
        ax.set_ylabel("f_t(x) (output units)")
        ax.set_title("linearised network under gradient flow (NTK)")
    ax.legend(frameon=False, fontsize=8)
    return ax


def plot_jacobian_spectrum(r: Any, ax: Any = None):
    """A :class:`JacobianSpectrum`: the singular values σ₁ ≥ σ₂ ≥ … of the input-output Jacobian,
    their median over samples and the range (min–max) across samples, against 1 (dynamical
    isometry).

    >>> from types import SimpleNamespace as R
    >>> sv = np.array([[2.0, 1.0], [1.0, 0.5], [3.0, 1.5]])
    >>> r = R(singular_values=sv, mean_squared_singular_value=2.5, spread=1.0, mode="jacrev")
    >>> plot_jacobian_spectrum(r).get_lines()[0].get_ydata().tolist()
    [2.0, 1.0]
    """
    (ax,) = new_axes(1, ax=ax)
    sv = np.asarray(r.singular_values, dtype=float)
    sv = sv.reshape(1, -1) if sv.ndim == 1 else sv
    i = np.arange(1, sv.shape[1] + 1)
    ax.plot(i, np.median(sv, axis=0), color=PALETTE[0], marker="." if len(i) < 40 else None,
            label=f"median over {len(sv)} samples")
    ax.fill_between(i, sv.min(axis=0), sv.max(axis=0), color=PALETTE[0], alpha=0.2,
                    label="range across samples")
    ax.axhline(1.0, color="grey", linestyle="--", linewidth=0.8, label="σ = 1 (isometry)")
    _log_y(ax, np.append(sv, 1.0))
    ax.set_xlabel("index i (descending order)")
    ax.set_ylabel("singular value σᵢ of ∂f/∂x (output per input unit)", fontsize=9)
    ax.set_title(f"Jacobian spectrum: mean σ² = {float(r.mean_squared_singular_value):.3g}, "
                 f"spread {float(r.spread):.3g}", fontsize=10)
    ax.legend(frameon=False, fontsize=8)
    return ax


def plot_activation_statistics(r: Any, ax: Any = None):
    """:class:`ActivationStatistics`: the variance of the activations Var[h_d] and of their
    gradients Var[∂/∂h_d] at every depth d (log scale), layers named on the x axis.

    >>> from types import SimpleNamespace as R
    >>> rows = [R(depth=d, layer=n, activation_variance=v, gradient_variance=g)
    ...         for d, n, v, g in [(0, "input", 1.0, 0.1), (1, "dense", 0.5, 0.2)]]
    >>> r = R(rows=rows, activation_variance_ratio=0.5, gradient_variance_ratio=0.5,
    ...       cotangent="random")
    >>> plot_activation_statistics(r).get_lines()[0].get_ydata().tolist()
    [1.0, 0.5]
    """
    (ax,) = new_axes(1, ax=ax)
    d = np.array([row.depth for row in r.rows])
    act = np.array([row.activation_variance for row in r.rows], dtype=float)
    grad = np.array([np.nan if row.gradient_variance is None else row.gradient_variance
                     for row in r.rows], dtype=float)
    ax.plot(d, act, marker="o", color=PALETTE[0], label="activations Var[h_d] (forward)")
    if np.isfinite(grad).any():
        ax.plot(d, grad, marker="s", color=PALETTE[3],
                label=f"gradients Var[∂/∂h_d] (backward, {r.cotangent} cotangent)")
    _log_y(ax, np.concatenate([act, grad[np.isfinite(grad)]]))
    ax.set_xticks(d, [f"{row.depth}\n{row.layer}" for row in r.rows], fontsize=7)
    ax.set_xlabel("depth d (layer)")
    ax.set_ylabel("variance of the entries (squared units)", fontsize=9)
    ratio = r.gradient_variance_ratio
    ax.set_title(f"signal propagation: forward ratio {r.activation_variance_ratio:.3g}"
                 + ("" if ratio is None else f", backward ratio {ratio:.3g}"), fontsize=10)
    ax.legend(frameon=False, fontsize=8)
    return ax


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
