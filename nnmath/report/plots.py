"""Figures of analysis results, and :func:`render`, which turns any of them into a
:class:`~nnmath.report.Section` (figures, tables and the numbers behind them) — in a notebook as in
the written report, which draws with the same functions.

Every function takes a result of :mod:`nnmath.analysis` (or a training History) and returns a
:class:`~nnmath.report.Plot`: ``plot.figure`` is a ``matplotlib.figure.Figure`` (made without
pyplot, drawn by Agg; nothing is shown), ``plot.png`` its PNG bytes.
"""
from __future__ import annotations

from typing import Any, Callable, Mapping

import numpy as np
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from ..analysis import (
    EigenResult,
    GradientFlowAnalysis,
    LinearInterpolation,
    LossSlice1D,
    LossSurface2D,
    NTKSpectrum,
    Result,
    SpectralDensityResult,
    TraceResult,
    WeightSpectra,
)
from ._base import Plot, Section, Table

__all__ = ["plot_history", "plot_gradient_flow", "plot_weight_spectra", "plot_hessian_spectrum",
           "plot_loss_surface", "plot_interpolation", "plot_ntk", "render", "history_dict",
           "RENDERERS", "register_renderer"]

_WIDE = (9.0, 3.4)          # two panels side by side (inches)
_ONE = (6.4, 3.6)


def _figure(size=_ONE, ncols: int = 1):
    fig = Figure(figsize=size, layout="constrained")
    axes = fig.subplots(1, ncols, squeeze=False)[0]
    for ax in axes:
        ax.grid(True, alpha=0.3, linewidth=0.6)
    return fig, axes


def _log_y(ax, values: Any) -> None:
    """A log y axis when every value is positive; over less than two decades, ticks at 1, 2, 5 ×
    10^k labelled as plain numbers (not 6 × 10⁰)."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if v.size == 0 or np.any(v <= 0):
        return
    ax.set_yscale("log")
    if v.max() / v.min() < 100:
        ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda y, _: f"{y:g}"))
        ax.yaxis.set_minor_formatter(NullFormatter())


def history_dict(history: Any) -> dict:
    """``{name: [value per epoch]}`` of a History (``fit``'s return value), ``model.history``
    or a plain dict."""
    h = getattr(history, "history", history)
    if not isinstance(h, Mapping):
        raise TypeError(f"expected a History (what fit returns) or a dict of per-epoch lists, "
                        f"got {type(history).__name__}")
    return {str(k): [float(v) for v in vs] for k, vs in h.items()}


def _curve_metrics(h: dict) -> list:
    """Names of the per-epoch training curves: 'loss' first, then the metrics (not the
    monitor's 'grad_norm/…' records or their validation twins)."""
    names = [k for k in h if not k.startswith("val_") and "/" not in k and k != "grad_norm"
             and k != "lr" and k != "learning_rate"]
    return sorted(names, key=lambda k: (k != "loss", k))


def plot_history(history: Any, metrics: list | None = None) -> Plot:
    """Loss and metric curves over epochs, training (solid) and validation (dashed).

    Args:
        history: a History or ``{name: [per-epoch values]}``.
        metrics: the names to draw, one panel each (default 'loss' and every metric; at most 3).

    Returns:
        A :class:`~nnmath.report.Plot` called ``"curves"``.

    >>> p = plot_history({"loss": [1.0, 0.5], "val_loss": [1.1, 0.7], "accuracy": [0.5, 0.8]})
    >>> p.name, len(p.figure.axes), p.png[:4]
    ('curves', 2, b'\x89PNG')
    """
    h = history_dict(history)
    names = (_curve_metrics(h) if metrics is None else list(metrics))[:3]
    if not names:
        raise ValueError(f"the history has no training curves; its keys are {sorted(h)}")
    fig, axes = _figure((4.2 * len(names) + 0.6, 3.4), len(names))
    for ax, name in zip(axes, names):
        if name not in h:
            raise ValueError(f"the history has no {name!r}; its keys are {sorted(h)}")
        epochs = np.arange(1, len(h[name]) + 1)
        ax.plot(epochs, h[name], color="C0", label="training")
        if f"val_{name}" in h:
            ax.plot(np.arange(1, len(h[f"val_{name}"]) + 1), h[f"val_{name}"], color="C1",
                    linestyle="--", label="validation")
        ax.set_xlabel("epoch")
        ax.set_ylabel(name)
        if name == "loss":
            _log_y(ax, h[name] + h.get("val_loss", []))
        ax.set_title(name.replace("_", " "))
        ax.legend(frameon=False)
    return Plot("curves", fig, "Per-epoch training (solid) and validation (dashed) curves; the "
                               "loss on a log scale.")


def _layer_keys(h: dict, prefix: str) -> list:
    return [k for k in h if k.startswith(prefix + "/") and k.count("/") == 1]


def plot_gradient_flow(history: Any) -> Plot:
    """Per-layer gradient norms ‖∇_{θ_l} L‖, update ratios ‖Δθ_l‖/‖θ_l‖ and weight norms ‖θ_l‖
    over epochs, as recorded by :class:`~nnmath.analysis.GradientFlowMonitor`.

    Returns:
        A :class:`~nnmath.report.Plot` called ``"by_layer"``.

    >>> h = {"grad_norm/dense": [1.0, 0.1], "update_ratio/dense": [0.1, 0.01]}
    >>> [ax.get_yscale() for ax in plot_gradient_flow(h).figure.axes]
    ['log', 'log']
    """
    h = history_dict(history)
    panels = [("grad_norm", "gradient norm ‖∇θ_l L‖"),
              ("update_ratio", "update ratio ‖Δθ_l‖/‖θ_l‖"), ("weight_norm", "weight norm ‖θ_l‖")]
    panels = [(p, t) for p, t in panels if _layer_keys(h, p)]
    if not panels:
        raise ValueError("the history has no per-layer gradient records ('grad_norm/<layer>'): "
                         "train with callbacks=[GradientFlowMonitor(x_probe, y_probe)]")
    fig, axes = _figure((3.6 * len(panels) + 0.6, 3.3), len(panels))
    for ax, (prefix, title) in zip(axes, panels):
        for i, key in enumerate(_layer_keys(h, prefix)):
            values = np.asarray(h[key], dtype=float)
            epochs = np.arange(1, len(values) + 1)
            ax.plot(epochs, values, color=f"C{i % 10}", label=key.split("/", 1)[1])
        if prefix != "weight_norm":
            _log_y(ax, [v for k in _layer_keys(h, prefix) for v in h[k]])
        ax.set_xlabel("epoch")
        ax.set_title(title, fontsize=10)
    axes[0].legend(frameon=False, fontsize=8)
    return Plot("by_layer", fig, "Per layer, at the end of each epoch: the gradient norm on a "
                                 "fixed probe batch, the relative size of the epoch's updates, "
                                 "and the weight norm.")


def _singular_value_plot(lines: list, title: str) -> Plot:
    """[(label, σ)] → one line per matrix, log scale when every σ > 0."""
    fig, axes = _figure(_ONE)
    ax = axes[0]
    for i, (label, s) in enumerate(lines):
        s = np.asarray(s, dtype=float)
        ax.plot(np.arange(1, len(s) + 1), s, marker="." if len(s) < 40 else None,
                color=f"C{i % 10}", label=label)
    _log_y(ax, np.concatenate([np.asarray(s, dtype=float).ravel() for _, s in lines]))
    ax.set_xlabel("index i")
    ax.set_ylabel("singular value σᵢ")
    ax.set_title(title)
    ax.legend(frameon=False, fontsize=8)
    return Plot("singular_values", fig, "Singular values of each weight matrix, in descending "
                                        "order.")


def plot_weight_spectra(spectra: WeightSpectra) -> Plot:
    """The singular values σ₁ ≥ σ₂ ≥ … of every weight matrix (one line each, log scale).

    Returns:
        A :class:`~nnmath.report.Plot` called ``"singular_values"``.

    >>> from nnmath.analysis import weight_spectra
    >>> p = plot_weight_spectra(weight_spectra({"d": {"kernel": np.diag([3.0, 1.0])}}))
    >>> p.figure.axes[0].get_lines()[0].get_ydata()
    array([3., 1.])
    """
    if not spectra.rows:
        raise ValueError("weight_spectra found no weight matrices (weights with ≥ 2 axes)")
    lines = [(f"{r.layer}/{r.weight} ({r.matrix_shape[0]}×{r.matrix_shape[1]}), "
              f"‖W‖₂ = {r.spectral_norm:.3g}", r.singular_values) for r in spectra.rows]
    return _singular_value_plot(lines, "singular values of the weight matrices")


def plot_hessian_spectrum(density: SpectralDensityResult, top: EigenResult | None = None) -> Plot:
    """The spectral density φ(λ) from stochastic Lanczos quadrature (log scale), with the top
    eigenvalues from Lanczos marked.

    Returns:
        A :class:`~nnmath.report.Plot` called ``"spectral_density"``.

    >>> import nnmath.numpy as mnp
    >>> from nnmath.analysis import hessian_spectral_density
    >>> d = hessian_spectral_density(lambda w: mnp.sum(w ** 2), np.ones(3), num_probes=2)
    >>> plot_hessian_spectrum(d).name
    'spectral_density'
    """
    grid = np.asarray(density.grid, dtype=float)
    phi = np.asarray(density.density, dtype=float)
    fig, axes = _figure(_ONE)
    ax = axes[0]
    floor = max(float(phi.max()) * 1e-8, 1e-300)
    ax.semilogy(grid, np.maximum(phi, floor), color="C0", label="SLQ density φ(λ)")
    ax.set_ylim(bottom=floor)
    if top is not None:
        for i, lam in enumerate(np.asarray(top.eigenvalues, dtype=float)):
            ax.axvline(lam, color="C3", linestyle=":", linewidth=1,
                       label="top eigenvalues (Lanczos)" if i == 0 else None)
    ax.set_xlabel("eigenvalue λ")
    ax.set_ylabel("density")
    ax.set_title(f"Hessian spectrum ({density.num_parameters:,} parameters)")
    ax.legend(frameon=False, fontsize=8)
    return Plot("spectral_density", fig,
                f"Eigenvalue density of the Hessian by stochastic Lanczos quadrature "
                f"({len(density.nodes)} probes × {density.lanczos_steps} steps, Gaussian "
                f"smoothing σ = {density.sigma:.3g}), log scale"
                + ("; dotted lines: the top eigenvalues by Lanczos." if top is not None else "."))


def _log_levels(z: np.ndarray, n: int = 25) -> tuple[np.ndarray, Any] | tuple[int, None]:
    lo, hi = float(np.nanmin(z)), float(np.nanmax(z))
    if lo > 0 and hi > lo:
        return np.geomspace(lo, hi, n), LogNorm(lo, hi)
    return n, None


def plot_loss_surface(surface: LossSurface2D) -> Plot:
    """Contours of L(θ + αd₁ + βd₂) (log-spaced levels) and, when computed, of the metric, with
    the point θ (α = β = 0) marked.

    Returns:
        A :class:`~nnmath.report.Plot` called ``"surface"``.

    >>> import nnmath.numpy as mnp
    >>> from nnmath.analysis import loss_surface_2d
    >>> s = loss_surface_2d(lambda p: 1 + mnp.sum(p ** 2), np.zeros(2), alphas=[-1.0, 0.0, 1.0],
    ...                     directions=(np.array([1.0, 0.0]), np.array([0.0, 1.0])))
    >>> plot_loss_surface(s).name
    'surface'
    """
    a, b = np.asarray(surface.alphas, float), np.asarray(surface.betas, float)
    panels = [("loss", np.asarray(surface.loss, float))]
    if surface.metric is not None:
        panels.append((surface.metric_name or "metric", np.asarray(surface.metric, float)))
    fig, axes = _figure((4.6 * len(panels) + 0.4, 3.9), len(panels))
    for ax, (name, z) in zip(axes, panels):
        levels, norm = _log_levels(z) if name == "loss" else (20, None)
        filled = ax.contourf(a, b, z.T, levels=levels, norm=norm, cmap="viridis"
                             if name == "loss" else "magma")
        ax.contour(a, b, z.T, levels=filled.levels[::3], colors="white", linewidths=0.5,
                   alpha=0.6)
        cbar = fig.colorbar(filled, ax=ax)
        if norm is not None:
            cbar.ax.set_yscale("log")
        ax.plot([0], [0], marker="*", color="red", markersize=10, linestyle="none")
        ax.set_xlabel("α (direction d₁)")
        ax.set_ylabel("β (direction d₂)")
        ax.set_title(name)
        ax.set_aspect("equal")
        ax.grid(False)
    return Plot("surface", fig, f"L(θ + αd₁ + βd₂) on a {len(a)}×{len(b)} grid along two "
                                f"filter-normalised random directions (cosine "
                                f"{surface.cosine:+.3f}); the star is the trained model.")


def plot_interpolation(*paths: LinearInterpolation, labels: list | None = None) -> Plot:
    """L((1−α)θ_a + αθ_b) against α (and the metric, when computed), for one or more data sets.

    Args:
        *paths: :class:`~nnmath.analysis.LinearInterpolation` results on the same grid.
        labels: one name per path ("training", "test").

    Returns:
        A :class:`~nnmath.report.Plot` called ``"linear_path"``.

    >>> import nnmath.numpy as mnp
    >>> from nnmath.analysis import linear_interpolation
    >>> r = linear_interpolation(lambda p: mnp.sum((p ** 2 - 1) ** 2), np.array([-1.0]),
    ...                          np.array([1.0]), num=5)
    >>> plot_interpolation(r, labels=["double well"]).figure.axes[0].get_legend().get_texts()[0]
    Text(0, 0, 'double well (barrier 1)')
    """
    if not paths:
        raise ValueError("plot_interpolation needs at least one LinearInterpolation")
    labels = [f"path {i}" for i in range(len(paths))] if labels is None else list(labels)
    with_metric = any(p.metric is not None for p in paths)
    fig, axes = _figure(_WIDE if with_metric else _ONE, 2 if with_metric else 1)
    for i, (p, label) in enumerate(zip(paths, labels)):
        axes[0].plot(p.alphas, p.loss, color=f"C{i}", marker=".", label=f"{label} "
                     f"(barrier {p.barrier:.3g})")
        if with_metric and p.metric is not None:
            axes[1].plot(p.alphas, p.metric, color=f"C{i}", marker=".", label=label)
            axes[1].set_ylabel(p.metric_name or "metric")
            axes[1].set_title(f"{p.metric_name or 'metric'} on the straight line")
    axes[0].set_ylabel("loss")
    for ax in axes:
        ax.set_xlabel("α   (0: seed A's solution, 1: seed B's)")
        ax.axvline(0, color="grey", linewidth=0.6)
        ax.axvline(1, color="grey", linewidth=0.6)
        ax.legend(frameon=False, fontsize=8, loc="best")
    axes[0].set_title("loss on the straight line")
    return Plot("linear_path", fig, "The loss (and the metric) at (1−α)θ_A + αθ_B between two "
                                    "solutions trained from different seeds; the barrier is the "
                                    "highest loss above the endpoints' mean.")


def plot_ntk(spectrum: NTKSpectrum, kernel: np.ndarray | None = None,
             labels: np.ndarray | None = None) -> Plot:
    """The eigenvalues of the empirical NTK (descending, log scale, with the rounding level
    n·ε·λ_max of the dtype marked) and, when given, the normalised kernel
    Θ̄ᵢⱼ / (Θ̄ᵢᵢ Θ̄ⱼⱼ)^½ as an image, its samples ordered by ``labels``.

    Returns:
        A :class:`~nnmath.report.Plot` called ``"spectrum"``.

    >>> from nnmath.analysis import ntk_eigenspectrum
    >>> X = np.array([[1.0, 0.0], [0.0, 2.0]])
    >>> plot_ntk(ntk_eigenspectrum(lambda w, x: x @ w, np.zeros(2), X), X @ X.T).name
    'spectrum'
    """
    raw = np.asarray(spectrum.eigenvalues)
    dtype = raw.dtype if raw.dtype.kind == "f" else np.dtype(float)
    eps, w = np.finfo(dtype).eps, raw.astype(float)
    fig, axes = _figure(_WIDE if kernel is not None else _ONE, 2 if kernel is not None else 1)
    ax = axes[0]
    pos = w > 0
    ax.semilogy(np.arange(1, len(w) + 1)[pos], w[pos], marker="." if len(w) < 60 else None,
                color="C0")
    if len(w) and w[0] > 0:
        ax.axhline(len(w) * eps * w[0], color="grey", linestyle="--", linewidth=0.8,
                   label=f"rounding level n·ε·λ_max ({dtype})")
        ax.legend(frameon=False, fontsize=8)
    ax.set_xlabel("index i")
    ax.set_ylabel("eigenvalue λᵢ of Θ")
    ax.set_title(f"NTK eigenvalues (order {spectrum.size})")
    if kernel is not None:
        k = np.asarray(kernel, dtype=float)
        d = np.sqrt(np.clip(np.diag(k), np.finfo(float).tiny, None))
        corr = k / d[:, None] / d[None, :]
        order = np.arange(len(k)) if labels is None else np.argsort(labels, kind="stable")
        im = axes[1].imshow(corr[np.ix_(order, order)], cmap="RdBu_r", vmin=-1, vmax=1,
                            interpolation="nearest")
        fig.colorbar(im, ax=axes[1])
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
    return Plot("spectrum", fig, "Eigenvalues of the empirical neural tangent kernel Θ = J Jᵀ "
                                 "(below the dashed line they are rounding noise)"
                + ("; right: the output-averaged kernel normalised to a correlation, samples "
                   "grouped by class." if kernel is not None else "."))


# ---------------------------------------------------------------------------------------------
# render: any results → a Section
# ---------------------------------------------------------------------------------------------

def _history_like(obj: Any) -> bool:
    return hasattr(obj, "history") and isinstance(getattr(obj, "history"), Mapping)


def _fmt(x: Any) -> str:
    return f"{float(x):.4g}"


def _render_trace(r: TraceResult) -> tuple[list, list, str]:
    t = Table(("estimate", "standard error", "probes"),
              [(r.estimate, r.standard_error, r.num_samples)], "Hutchinson trace of the Hessian")
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
    plot = _singular_value_plot([(f"W ({r.shape[0]}×{r.shape[1]})", r.singular_values)],
                                "singular values")
    return [plot], [Table(("quantity", "value"), rows)], ""


#: type → function(result) -> (plots, tables, text); extended with :func:`register_renderer`.
RENDERERS: dict[type, Callable] = {
    WeightSpectra: lambda r: ([plot_weight_spectra(r)], [], ""),
    SpectralDensityResult: lambda r: ([plot_hessian_spectrum(r)], [], ""),
    LossSurface2D: lambda r: ([plot_loss_surface(r)], [], ""),
    LinearInterpolation: lambda r: ([plot_interpolation(r)], [], f"barrier {_fmt(r.barrier)} at "
                                                                   f"α = {_fmt(r.barrier_alpha)}"),
    NTKSpectrum: lambda r: ([plot_ntk(r)], [], ""),
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
    density), LossSurface2D, LinearInterpolation, NTKSpectrum, GradientFlowAnalysis → a figure;
    TraceResult, EigenResult → a table. ``summary`` holds every result's ``to_dict()``.

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
