"""Pictures of calibration, uncertainty, the information plane, comparisons of runs, optimisation theory and gradient checks.

Part of :mod:`nnmath.analysis._plot` (see its docstring for the conventions)."""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

from ._base import PALETTE, _color, _log_y, _out, new_axes
from .spectra import _history_dict


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
