"""Pictures of optimal transport, ensembles, variational and sampled posteriors.

Part of :mod:`nnmath.analysis._plot` (see its docstring for the conventions)."""
from __future__ import annotations

from typing import Any

import numpy as np

from ._base import PALETTE, _color, _log_y, _out, new_axes
from .spectra import _history_dict


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
