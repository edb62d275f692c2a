"""Pictures of generalisation bounds, curvature per layer, NTK predictions and signal propagation.

Part of :mod:`nnmath.analysis._plot` (see its docstring for the conventions)."""
from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from ._base import PALETTE, _color, _log_y, new_axes


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
