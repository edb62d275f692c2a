"""Pictures of spectra, gradient flow, curvature, loss landscapes and kernels.

Part of :mod:`nnmath.analysis._plot` (see its docstring for the conventions)."""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

from ._base import PALETTE, _color, _log_y, _out, new_axes


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
    hutchpp = r.method == "hutch++"
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
