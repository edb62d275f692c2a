"""The report's sections: a registry of small functions ``(context) -> Section``.

A section is registered with :func:`register_section` under a key, with the names it needs from
:mod:`nnmath.analysis` (``requires``). :func:`run_section` builds it when every name is importable
and marks it "not available in this version" otherwise — so a section whose tool is still being
written is listed, never faked. Its inputs (a model, data, a History, a second model) come from a
:class:`ReportContext`; a section whose inputs are missing is "skipped" and says what to pass.

Sizes are kept small by default (Hessian on 256 samples, NTK on 50 points, a 15 × 15 landscape),
so that a report on a small MLP takes well under a minute on two cores.
"""
from __future__ import annotations

import time
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from .. import analysis
from .._core.tree import tree_map
from ._base import Section, Table
from .plots import (
    MATPLOTLIB_MISSING,
    _curve_metrics,
    _layer_keys,
    history_dict,
    matplotlib_available,
    plot_gradient_flow,
    plot_hessian_spectrum,
    plot_history,
    plot_information_plane,
    plot_interpolation,
    plot_loss_surface,
    plot_ntk,
    plot_reliability,
    plot_run_comparison,
    plot_run_curves,
    plot_uncertainty,
    plot_weight_spectra,
)

__all__ = ["ReportContext", "SectionSpec", "SECTIONS", "register_section", "run_section",
           "section_available", "Skip"]


class Skip(Exception):
    """Raised by a section function when the context lacks its inputs; the message says which."""


@dataclass
class ReportContext:
    """What the sections look at.

    Args:
        model: a compiled, built :class:`~nnmath.training.Model` (the analysed solution).
        x_train, y_train: training data (the Hessian, the landscape and the NTK use a subset).
        x_test, y_test: held-out data (the linear path is also evaluated on them).
        history: what ``fit`` returned (curves; gradient flow if trained with
            :class:`~nnmath.analysis.GradientFlowMonitor`).
        other_model: the same architecture trained from another seed (the linear path).
        dtype: compute the analyses in this dtype (cast explicitly, and said in the report);
            default None: the parameters' own dtype.
        seed: seed of every stochastic estimator (probes, random directions).
        hessian_samples: training samples the Hessian is taken over.
        top_k: how many top Hessian eigenvalues.
        trace_probes: Hutchinson probes for tr H.
        slq_probes, slq_steps: probes and Lanczos steps of the spectral density.
        landscape_points: grid points per axis of the 2-D landscape (in [−1, 1]).
        landscape_samples: training samples the landscape is evaluated on.
        path_points: points on the linear path (in [−0.25, 1.25]).
        ntk_points: samples of the empirical NTK.
        information_plane: the :class:`~nnmath.analysis.InformationPlane` callback the model was
            trained with (or its ``result()``); without it the section reads the
            ``"I(X;T)/<layer>"`` records of the History.
        comparison: runs to compare, ``{name: [History per seed], other name: [...]}`` (two
            entries; :func:`~nnmath.analysis.compare_runs` on ``comparison_metric``).
        comparison_metric: the History key compared (default ``"val_loss"``, last epoch).
        comparison_setup: one or two sentences saying exactly what was trained and compared.
        calibration_bins: equal-width confidence bins of the reliability diagram.
        mc_samples: dropout masks of MC dropout.
        laplace_samples: training samples the Laplace approximation's curvature is taken over.
        extras: anything later sections need.
    """

    model: Any
    x_train: Any = None
    y_train: Any = None
    x_test: Any = None
    y_test: Any = None
    history: Any = None
    other_model: Any = None
    dtype: Any = None
    seed: int = 0
    hessian_samples: int = 256
    top_k: int = 5
    trace_probes: int = 40
    slq_probes: int = 4
    slq_steps: int = 40
    landscape_points: int = 15
    landscape_samples: int = 512
    path_points: int = 25
    ntk_points: int = 50
    information_plane: Any = None
    comparison: Any = None
    comparison_metric: str = "val_loss"
    comparison_setup: str = ""
    calibration_bins: int = 15
    mc_samples: int = 30
    laplace_samples: int = 512
    extras: dict = field(default_factory=dict)
    _cache: dict = field(default_factory=dict, repr=False)

    def __post_init__(self):
        from ..training.model import Model
        if not isinstance(self.model, Model):
            raise TypeError(f"ReportContext: model must be a compiled nnmath Model, got "
                            f"{type(self.model).__name__}")
        if getattr(self.model, "loss", None) is None:
            raise ValueError(f"ReportContext: model {self.model.name!r} is not compiled; call "
                             f"model.compile(loss=..., metrics=[...]) first")
        for name in ("hessian_samples", "top_k", "trace_probes", "slq_probes", "slq_steps",
                     "landscape_points", "landscape_samples", "path_points", "ntk_points",
                     "calibration_bins", "mc_samples", "laplace_samples"):
            v = getattr(self, name)
            if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 1:
                raise ValueError(f"ReportContext: {name} must be a positive integer, got {v!r}")
        if self.trace_probes < 2:
            raise ValueError(f"ReportContext: trace_probes must be at least 2 (for a standard "
                             f"error), got {self.trace_probes}")
        if self.mc_samples < 2:
            raise ValueError(f"ReportContext: mc_samples must be at least 2, got "
                             f"{self.mc_samples}")
        if self.comparison is not None and (not isinstance(self.comparison, dict)
                                            or len(self.comparison) != 2):
            raise ValueError(f"ReportContext: comparison must be a dict of two entries "
                             f"{{name: [History per seed]}}, got {type(self.comparison).__name__}"
                             f"{' of ' + str(len(self.comparison)) if isinstance(self.comparison, dict) else ''}")
        if self.dtype is not None:
            self.dtype = np.dtype(self.dtype)
            if self.dtype.kind != "f":
                raise ValueError(f"ReportContext: dtype must be a floating dtype, got "
                                 f"{self.dtype}")

    # ------------------------------------------------------------------ helpers for sections
    @property
    def analysis_dtype(self) -> np.dtype:
        """The dtype the analyses run in."""
        if self.dtype is not None:
            return self.dtype
        leaves = [np.asarray(a) for ws in self.model.params.values() for a in ws.values()]
        return np.result_type(*leaves)

    def params(self, model: Any = None) -> dict:
        """``model.params`` (default: the analysed model's) in :attr:`analysis_dtype`."""
        p = (self.model if model is None else model).params
        return p if self.dtype is None else tree_map(lambda a: np.asarray(a, self.dtype), p)

    def train_subset(self, n: int) -> tuple:
        """The first ``n`` training samples (the split is already shuffled and stratified)."""
        if self.x_train is None or self.y_train is None:
            raise Skip("no training data: pass x_train and y_train")
        return self.x_train[:n], self.y_train[:n]

    def test_data(self) -> tuple:
        """The held-out data (``x_test``, ``y_test``); Skip when there are none."""
        if self.x_test is None or self.y_test is None:
            raise Skip("no held-out data: pass x_test and y_test")
        x = self.x_test if self.dtype is None else np.asarray(self.x_test, self.dtype)
        return x, self.y_test

    def probabilities(self, x: Any) -> np.ndarray:
        """The model's class probabilities at ``x`` in :attr:`analysis_dtype` (a softmax of its
        outputs when they are logits: rows that are not probability vectors)."""
        out = np.asarray(self.model.apply(self.params(), x, training=False))
        if out.ndim != 2 or out.shape[1] < 2:
            raise Skip(f"the model's output has shape {out.shape}: the calibration and "
                       f"uncertainty sections need a classifier with (N, K ≥ 2) outputs")
        if np.all(out >= 0) and np.allclose(out.sum(axis=1), 1.0, atol=1e-4):
            return out
        z = out - out.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)

    def data(self, n: int) -> dict:
        """``x``, ``y`` (the first n training samples) and ``dtype`` for an analysis tool."""
        x, y = self.train_subset(n)
        return {"x": x, "y": y, "dtype": self.dtype}

    def hessian_objective(self) -> analysis.Objective:
        """The Objective of the Hessian sections (built once: its recorded plans are shared)."""
        if "hessian" not in self._cache:
            self._cache["hessian"] = analysis.as_objective(self.model,
                                                           **self.data(self.hessian_samples))
        return self._cache["hessian"]


@dataclass(frozen=True)
class SectionSpec:
    """A registered section: ``key``, ``title``, ``build(context) -> Section`` (None while its
    report code is not written), ``requires`` (names in :mod:`nnmath.analysis`) and a one-line
    ``description``."""

    key: str
    title: str
    build: Callable | None
    requires: tuple = ()
    description: str = ""


#: The registered sections, in report order (key → :class:`SectionSpec`).
SECTIONS: dict[str, SectionSpec] = {}


def register_section(key: str, title: str, *, requires: tuple = (), description: str = "",
                     replace: bool = False) -> Callable:
    """Decorator: register ``build(context) -> Section`` as the section ``key``.

    Args:
        key: identifier (``summary.json`` key, PNG prefix).
        title: the heading.
        requires: names :mod:`nnmath.analysis` must export for the section to be built.
        description: what the section shows (the text of an unavailable section).
        replace: allow replacing a registered section (a pending one is always replaceable).
    """
    if not key.isidentifier():
        raise ValueError(f"register_section: key must be an identifier, got {key!r}")

    def decorate(build: Callable | None) -> Callable | None:
        old = SECTIONS.get(key)
        if old is not None and old.build is not None and not replace:
            raise ValueError(f"register_section: {key!r} is already registered (pass "
                             f"replace=True)")
        SECTIONS[key] = SectionSpec(key, title, build, tuple(requires), description)
        return build
    return decorate


def section_available(spec: SectionSpec) -> tuple[bool, list]:
    """(whether it can be built, the required names nnmath.analysis lacks)."""
    missing = [name for name in spec.requires if not hasattr(analysis, name)]
    return spec.build is not None and not missing, missing


def run_section(spec: SectionSpec, context: ReportContext, strict: bool = False) -> Section:
    """Build one section, timed; "unavailable" if its tool is missing, "skipped" when the context
    lacks its inputs, "failed" (with the error) if it raised and ``strict`` is False."""
    ok, missing = section_available(spec)
    if not ok:
        what = (f"needs nnmath.analysis.{', nnmath.analysis.'.join(missing)}" if missing
                else "its report code is not written yet")
        text = f"Not available in this version ({what}). {spec.description}"
        return Section(spec.title, text.strip(), key=spec.key, status="unavailable",
                       summary={"available": False, "missing": missing})
    t0 = time.perf_counter()
    try:
        section = spec.build(context)
    except Skip as e:
        return Section(spec.title, f"Skipped: {e}.", key=spec.key, status="skipped",
                       seconds=time.perf_counter() - t0, summary={"skipped": str(e)})
    except Exception as e:
        if strict:
            raise
        tb = traceback.format_exception_only(type(e), e)[-1].strip()
        return Section(spec.title, f"Failed: {tb}", key=spec.key, status="failed",
                       seconds=time.perf_counter() - t0, summary={"error": tb})
    for plot in section.figures:        # drawn now, so that the time includes the figures
        plot.png
    if not matplotlib_available():
        section.text = (section.text + "\n\n" if section.text else "") + \
            MATPLOTLIB_MISSING[0].upper() + MATPLOTLIB_MISSING[1:] + "."
    section.key, section.title = spec.key, spec.title
    section.seconds = time.perf_counter() - t0
    return section


def _fmt(x: Any) -> str:
    return f"{float(x):.4g}"


def figures(*draw: Callable) -> list:
    """The :class:`Plot` objects made by the thunks ``draw`` — none when matplotlib is absent
    (the section then says so, and its numbers and tables are unchanged)."""
    if not matplotlib_available():
        return []
    return [d() for d in draw]


# ---------------------------------------------------------------------------------------------
# The sections whose tools exist
# ---------------------------------------------------------------------------------------------

@register_section("training", "Training curves",
                  description="Loss and metrics per epoch, training and validation.")
def training_section(ctx: ReportContext) -> Section:
    if ctx.history is None:
        raise Skip("no History: pass history=model.fit(...)")
    h = history_dict(ctx.history)
    names = _curve_metrics(h)
    if not names:
        raise Skip(f"the History has no training curves (its keys: {sorted(h)})")
    rows = []
    for name in names:
        vals = h[name]
        val = h.get(f"val_{name}")
        best = (int(np.argmin(val) if name == "loss" else np.argmax(val)) + 1) if val else None
        rows.append((name, vals[-1], val[-1] if val else "—",
                     best if best is not None else "—"))
    n = len(h[names[0]])
    text = (f"{n} epochs. Final training loss {_fmt(h['loss'][-1])}"
            + (f", validation loss {_fmt(h['val_loss'][-1])}" if "val_loss" in h else "")
            + ". The validation data are the last fraction of the training set, set aside before "
              "shuffling (Keras's validation_split).") if "loss" in h else f"{n} epochs."
    table = Table(("curve", "final (training)", "final (validation)", "best validation epoch"),
                  rows)
    return Section("Training curves", text, figures(lambda: plot_history(h)),
                   {"epochs": n, "history": {k: h[k] for k in h if "/" not in k}},
                   tables=[table])


@register_section("weights", "Weight spectra",
                  requires=("weight_spectra", "analyze_gradient_flow"),
                  description="Singular values of each weight matrix; analyze_gradient_flow.")
def weights_section(ctx: ReportContext) -> Section:
    params = ctx.params()
    spectra = analysis.weight_spectra(params)
    flows = {}
    rows = []
    for r in spectra.rows:
        w = np.asarray(params[r.layer][r.weight]).reshape(r.matrix_shape)
        g = analysis.analyze_gradient_flow(w)
        flows[f"{r.layer}/{r.weight}"] = g.to_dict()
        rows.append((f"{r.layer}/{r.weight}", r.matrix_shape, r.spectral_norm, r.frobenius_norm,
                     r.stable_rank, g.condition_number, g.rank,
                     "—" if g.spectral_radius is None else g.spectral_radius))
    table = Table(("weight", "as matrix", "‖W‖₂ = σ₁", "‖W‖_F", "stable rank ‖W‖²_F/‖W‖²₂",
                   "κ = σ₁/σ_min", "rank", "spectral radius ρ"), rows)
    text = ("Each weight with two or more axes, read as a matrix (last axis = output units). "
            "The spectral norm σ₁ bounds how much one layer can stretch a signal (‖Wv‖ ≤ σ₁‖v‖) "
            "and so its contribution to exploding gradients; the stable rank Σσᵢ²/σ₁² counts the "
            "directions that carry weight; the condition number κ = σ₁/σ_min measures how "
            "unevenly directions are scaled (the spectral radius is defined for square matrices "
            "only).")
    return Section("Weight spectra", text, figures(lambda: plot_weight_spectra(spectra)),
                   {"weight_spectra": spectra.to_dict(), "analyze_gradient_flow": flows},
                   tables=[table],
                   references=["Pascanu, Mikolov & Bengio (2013)", "Saxe et al. (2014)",
                               "Martin & Mahoney (2021)"])


@register_section("gradient_flow", "Gradient flow by layer over training",
                  requires=("GradientFlowMonitor",),
                  description="Per-layer gradient norms and update ratios per epoch.")
def gradient_flow_section(ctx: ReportContext) -> Section:
    if ctx.history is None:
        raise Skip("no History: pass history=model.fit(...)")
    h = history_dict(ctx.history)
    if not _layer_keys(h, "grad_norm"):
        raise Skip("the History has no per-layer gradient norms: train with "
                   "callbacks=[GradientFlowMonitor(x_probe, y_probe)]")
    layers = [k.split("/", 1)[1] for k in _layer_keys(h, "grad_norm")]
    rows = [(l, h[f"grad_norm/{l}"][0], h[f"grad_norm/{l}"][-1],
             h.get(f"update_ratio/{l}", ["—"])[-1]) for l in layers]
    table = Table(("layer", "‖∇L‖ after epoch 1", "‖∇L‖ at the end", "last epoch's update ratio"),
                  rows)
    text = ("Recorded during training by GradientFlowMonitor: at the end of each epoch, the "
            "gradient of the compiled loss on a fixed probe batch, per layer, and the size of the "
            "epoch's change of the layer's weights relative to the weights. Gradients that shrink "
            "or grow by orders of magnitude from layer to layer signal vanishing or exploding "
            "gradients.")
    keys = [k for k in h if k.split("/", 1)[0] in ("grad_norm", "update_ratio", "weight_norm")]
    return Section("Gradient flow by layer over training", text, figures(lambda: plot_gradient_flow(h)),
                   {"history": {k: h[k] for k in keys}}, tables=[table],
                   references=["Glorot & Bengio (2010)", "Pascanu, Mikolov & Bengio (2013)"])


@register_section("hessian", "Hessian: top eigenvalues, trace and spectral density",
                  requires=("hessian_top_eigenvalues", "hessian_trace",
                            "hessian_spectral_density"),
                  description="Lanczos top eigenvalues, Hutchinson trace, SLQ density.")
def hessian_section(ctx: ReportContext) -> Section:
    obj = ctx.hessian_objective()
    top = analysis.hessian_top_eigenvalues(obj, k=min(ctx.top_k, obj.size), seed=ctx.seed)
    trace = analysis.hessian_trace(obj, num_samples=ctx.trace_probes, seed=ctx.seed)
    density = analysis.hessian_spectral_density(obj, num_probes=ctx.slq_probes,
                                                lanczos_steps=min(ctx.slq_steps, obj.size),
                                                seed=ctx.seed)
    slq_trace, slq_se = density.trace_moment(1)
    rows = [(i + 1, lam, res) for i, (lam, res) in enumerate(zip(top.eigenvalues,
                                                                  top.residual_norms))]
    eig_table = Table(("i", "λᵢ", "residual ‖Hv − λv‖"), rows,
                      f"top {len(rows)} eigenvalues by Lanczos ({top.num_hvps} Hessian-vector "
                      f"products, {'converged' if top.converged else 'NOT converged'})")
    trace_table = Table(("estimator", "tr H", "standard error", "probes"),
                        [("Hutchinson (Rademacher)", trace.estimate, trace.standard_error,
                          trace.num_samples),
                         ("SLQ (first moment × P)", slq_trace, slq_se, ctx.slq_probes)])
    n = obj.num_samples
    text = (f"The Hessian H = ∇²L(θ) of the compiled loss over {n} training samples at the trained "
            f"parameters ({obj.size:,} of them, {obj.dtype}), never formed: every quantity "
            f"comes from Hessian-vector products. λ₁ = {_fmt(top.eigenvalues[0])} is the "
            f"sharpest curvature (the largest algebraic eigenvalue, not the largest in "
            f"magnitude). tr H ≈ {_fmt(trace.estimate)} ± {_fmt(trace.standard_error)} "
            f"(Hutchinson, 1 standard error); the spectral density's first moment gives "
            f"{_fmt(slq_trace)} ± {_fmt(slq_se)}.")
    summary = {"num_samples": n, "num_parameters": obj.size, "dtype": str(obj.dtype),
               "top_eigenvalues": top.to_dict(), "trace": trace.to_dict(),
               "spectral_density": density.to_dict(),
               "slq_trace": {"estimate": slq_trace, "standard_error": slq_se}}
    return Section("Hessian", text, figures(lambda: plot_hessian_spectrum(density, top)), summary,
                   tables=[eig_table, trace_table],
                   references=["Lanczos (1950)", "Hutchinson (1990)", "Lin, Saad & Yang (2016)",
                               "Ghorbani, Krishnan & Xiao (2019)", "Yao et al. (2020)"])


@register_section("landscape", "Loss landscape (2-D, filter-normalised)",
                  requires=("loss_surface_2d", "random_directions"),
                  description="L(θ + αd₁ + βd₂) along two filter-normalised random directions.")
def landscape_section(ctx: ReportContext) -> Section:
    data = ctx.data(ctx.landscape_samples)
    grid = np.linspace(-1.0, 1.0, ctx.landscape_points)
    surface = analysis.loss_surface_2d(ctx.model, ctx.params(), alphas=grid, seed=ctx.seed,
                                       metric="accuracy", **data)
    i0 = np.unravel_index(np.argmin(surface.loss), surface.loss.shape)
    centre = surface.loss[len(grid) // 2, len(grid) // 2] if len(grid) % 2 else None
    text = (f"The training loss on {len(data['x'])} samples on the plane through the trained θ "
            f"spanned by two random directions, each rescaled filter by filter (column by column "
            f"of each kernel) to the norms of the weights, biases left out (Li et al. 2018), on "
            f"a {len(grid)}×{len(grid)} grid of α, β ∈ [−1, 1]. The loss ranges from "
            f"{_fmt(surface.loss.min())} (at α = {_fmt(grid[i0[0]])}, β = {_fmt(grid[i0[1]])}) "
            f"to {_fmt(surface.loss.max())}"
            + (f"; at θ it is {_fmt(centre)}." if centre is not None else "."))
    return Section("Loss landscape", text, figures(lambda: plot_loss_surface(surface)),
                   {"surface": surface.to_dict()},
                   references=["Li, Xu, Taylor, Studer & Goldstein (2018)"])


@register_section("linear_path", "Linear path between two seeds' solutions",
                  requires=("linear_interpolation",),
                  description="The loss on the straight line between two independently trained "
                              "solutions, and its barrier.")
def linear_path_section(ctx: ReportContext) -> Section:
    if ctx.other_model is None:
        raise Skip("no second solution: pass other_model= (the same architecture trained from "
                   "another seed)")
    alphas = np.linspace(-0.25, 1.25, ctx.path_points)
    paths, labels = [], []
    train = ctx.data(ctx.landscape_samples)
    # θ_B is given as the Model: linear_interpolation matches its layers to θ_A's by position
    # (the automatic layer names differ) and casts it to the analysis dtype
    paths.append(analysis.linear_interpolation(ctx.model, ctx.params(), ctx.other_model,
                                               alphas=alphas, metric="accuracy", **train))
    labels.append(f"training ({len(train['x'])} samples)")
    if ctx.x_test is not None and ctx.y_test is not None:
        paths.append(analysis.linear_interpolation(ctx.model, ctx.params(), ctx.other_model,
                                                   alphas=alphas, metric="accuracy",
                                                   x=ctx.x_test, y=ctx.y_test, dtype=ctx.dtype))
        labels.append(f"test ({len(ctx.x_test)} samples)")
    rows = [(label, p.loss_a, p.loss_b, p.barrier, p.barrier_alpha,
             "—" if p.metric_barrier is None else p.metric_barrier)
            for label, p in zip(labels, paths)]
    table = Table(("data", "L(θ_A)", "L(θ_B)", "loss barrier", "at α", "accuracy barrier"), rows)
    text = ("Two copies of the model trained from different seeds (θ_A: this model, θ_B: the "
            "second seed), and the loss at (1−α)θ_A + αθ_B. The barrier is max over α ∈ [0, 1] "
            "of L minus the endpoints' mean loss (Frankle et al. 2020): a barrier near 0 means "
            "the solutions are linearly connected; a large one that the straight line leaves "
            f"the low-loss region. Training-data barrier: {_fmt(paths[0].barrier)}.")
    summary = {key: p.to_dict() for key, p in zip(("training", "test"), paths)}
    return Section("Linear path", text, figures(lambda: plot_interpolation(*paths, labels=labels)), summary,
                   tables=[table],
                   references=["Goodfellow, Vinyals & Saxe (2015)", "Frankle et al. (2020)"])


@register_section("ntk", "Empirical NTK eigenspectrum",
                  requires=("ntk_eigenspectrum", "empirical_ntk"),
                  description="Eigenvalues of Θ = J Jᵀ on a subset of the training points.")
def ntk_section(ctx: ReportContext) -> Section:
    x, y = ctx.train_subset(ctx.ntk_points)
    params = ctx.params()
    if ctx.dtype is not None:
        x = np.asarray(x, ctx.dtype)
    spectrum = analysis.ntk_eigenspectrum(ctx.model, params, x)
    kernel = analysis.empirical_ntk(ctx.model, params, x, trace="mean")
    w = np.asarray(spectrum.eigenvalues)
    labels = np.asarray(y)
    labels = labels.argmax(axis=-1) if labels.ndim > 1 else labels
    total = float(np.sum(w))
    top10 = float(np.sum(w[:10]) / total) if total > 0 else float("nan")
    cond = spectrum.condition_number
    eps = np.finfo(np.asarray(spectrum.eigenvalues).dtype).eps
    rank = int(np.sum(w > len(w) * eps * w[0])) if len(w) and w[0] > 0 else 0
    text = (f"The empirical neural tangent kernel Θ(x, x′) = J(x) J(x′)ᵀ, J = ∂f/∂θ, on "
            f"{len(x)} training points × {spectrum.size // len(x)} outputs (an order-"
            f"{spectrum.size} matrix). Under gradient flow the linearised network fits the "
            f"component of the residual along eigenvector i at rate ∝ λᵢ, so the largest "
            f"eigenvalues are learned first. λ_max = {_fmt(w[0])}; the top 10 eigenvalues hold "
            f"{100 * top10:.1f}% of tr Θ = {_fmt(spectrum.trace)}"
            + (f"; condition number {_fmt(cond)}." if cond is not None and np.isfinite(cond)
               else f". Only {rank} of the {spectrum.size} eigenvalues lie above the rounding "
                    f"level n·ε·λ_max: Θ is numerically singular, and the linearised network "
                    f"learns only a few directions of the residual at an appreciable rate."))
    return Section("Empirical NTK", text, figures(lambda: plot_ntk(spectrum, kernel, labels)),
                   {"spectrum": spectrum.to_dict(), "num_points": len(x),
                    "top10_fraction": top10, "numerical_rank": rank},
                   references=["Jacot, Gabriel & Hongler (2018)", "Lee et al. (2019)"])


# ---------------------------------------------------------------------------------------------
# Calibration, uncertainty, the information plane, a comparison of optimisers
# ---------------------------------------------------------------------------------------------

@register_section("calibration", "Calibration: reliability diagram and ECE",
                  requires=("reliability_diagram", "expected_calibration_error",
                            "fit_temperature"),
                  description="Confidence against accuracy in bins, and the expected calibration "
                              "error (Guo et al. 2017).")
def calibration_section(ctx: ReportContext) -> Section:
    x, y = ctx.test_data()
    probs = ctx.probabilities(x)
    labels = np.asarray(y)
    labels = labels.argmax(axis=-1) if labels.ndim > 1 else labels
    M = ctx.calibration_bins
    diagram = analysis.reliability_diagram(probs, labels, M)
    ece = analysis.expected_calibration_error(probs, labels, M)
    # temperature scaling: T fitted on the first half of the held-out data, judged on the second
    # (log p are logits up to a constant per row, which softmax ignores)
    half = len(labels) // 2
    logits = np.log(np.clip(probs, np.finfo(probs.dtype).tiny, None))
    rows = [("model as trained (all held-out data)", len(labels), diagram.accuracy,
             diagram.confidence, ece, diagram.mce)]
    summary = {"reliability": diagram.to_dict(), "ece": ece, "num_bins": M}
    text_t = ""
    if half >= 20:
        ts = analysis.fit_temperature(logits[:half], labels[:half])
        second = slice(half, None)
        before = analysis.reliability_diagram(probs[second], labels[second], M)
        after = analysis.reliability_diagram(ts.probabilities(logits[second]), labels[second], M)
        rows += [("second half, before temperature scaling", len(labels) - half,
                  before.accuracy, before.confidence, before.ece, before.mce),
                 (f"second half, after (T = {ts.temperature:.3g})", len(labels) - half,
                  after.accuracy, after.confidence, after.ece, after.mce)]
        summary.update(temperature=ts.to_dict(), ece_second_half_before=before.ece,
                       ece_second_half_after=after.ece)
        text_t = (f" Temperature scaling (Guo et al. 2017, §4.2), fitted on the first half of the "
                  f"held-out data ({half} samples) by minimising the negative log-likelihood, "
                  f"gives T̂ = {ts.temperature:.3g} ± {ts.temperature_std_error:.2g} (T̂ > 1: the "
                  f"model was overconfident; < 1: underconfident); on the other half the ECE goes "
                  f"from {before.ece:.4f} to {after.ece:.4f}, the accuracy unchanged.")
    gap = diagram.confidence - diagram.accuracy
    text = (f"The top-class confidence p̂ = max_k p_k of each of the {len(labels)} held-out "
            f"predictions, in {M} equal-width bins; per bin the fraction correct against the "
            f"mean confidence. ECE = Σ_m (|B_m|/N)·|acc(B_m) − conf(B_m)| = {ece:.4f}, MCE "
            f"(the largest bin gap) = {diagram.mce:.4f}. The mean confidence "
            f"{diagram.confidence:.4f} is {'above' if gap > 0 else 'below'} the accuracy "
            f"{diagram.accuracy:.4f}: on average the model is "
            f"{'over' if gap > 0 else 'under'}confident by {abs(gap):.4f}." + text_t)
    table = Table(("predictions", "N", "accuracy", "mean confidence", "ECE", "MCE"), rows)
    return Section("Calibration", text, figures(lambda: plot_reliability(diagram)), summary,
                   tables=[table],
                   references=["Naeini, Cooper & Hauskrecht (2015)",
                               "Guo, Pleiss, Sun & Weinberger (2017)"])


def _laplace_class() -> Any:
    """``nnmath.analysis.Laplace`` once it is exported, else the module's class if it imports."""
    cls = getattr(analysis, "Laplace", None)
    if cls is None:
        try:
            from ..analysis.laplace import Laplace as cls
        except Exception:           # being written: the section says Laplace is not available
            return None
    return cls


@register_section("uncertainty", "Uncertainty: MC dropout and Laplace",
                  requires=("mc_dropout_predict", "uncertainty_decomposition",
                            "expected_calibration_error"),
                  description="Predictive uncertainty from dropout at test time (Gal & "
                              "Ghahramani 2016) and a Laplace approximation (MacKay 1992).")
def uncertainty_section(ctx: ReportContext) -> Section:
    x, y = ctx.test_data()
    labels = np.asarray(y)
    labels = labels.argmax(axis=-1) if labels.ndim > 1 else labels
    params = ctx.params()
    map_probs = ctx.probabilities(x)
    try:
        pred = analysis.mc_dropout_predict(ctx.model, x, ctx.mc_samples, params=params,
                                           seed=ctx.seed)
    except ValueError as e:
        if "draws no random numbers" in str(e):
            raise Skip("the model has no Dropout (or other stochastic) layer, so MC dropout has "
                       "nothing to sample") from None
        raise
    samples = np.asarray(pred.samples)
    if not (np.all(samples >= 0) and np.allclose(samples.sum(-1), 1.0, atol=1e-4)):
        z = samples - samples.max(-1, keepdims=True)
        samples = np.exp(z) / np.exp(z).sum(-1, keepdims=True)
    u = analysis.uncertainty_decomposition(samples)
    mean = u.mean
    correct = mean.argmax(-1) == labels
    M = ctx.calibration_bins

    def row(name, probs, extra=None):
        ent = -np.sum(probs * np.log(np.clip(probs, 1e-300, None)), axis=-1)
        ok = probs.argmax(-1) == labels
        return (name, float(ok.mean()), analysis.expected_calibration_error(probs, labels, M),
                float(ent[ok].mean()) if ok.any() else "—",
                float(ent[~ok].mean()) if (~ok).any() else "—")
    rows = [row("MAP (dropout off)", map_probs),
            row(f"MC dropout ({ctx.mc_samples} masks)", mean)]
    summary = {"mc_dropout": {"num_samples": pred.num_samples,
                              "mean_total": float(u.total.mean()),
                              "mean_aleatoric": float(u.aleatoric.mean()),
                              "mean_epistemic": float(u.epistemic.mean()),
                              "accuracy": float(correct.mean()),
                              "epistemic_correct": float(u.epistemic[correct].mean())
                              if correct.any() else None,
                              "epistemic_wrong": float(u.epistemic[~correct].mean())
                              if (~correct).any() else None}}
    refs = ["Gal & Ghahramani (2016)", "Houlsby et al. (2011)", "Depeweg et al. (2018)"]
    text = (f"MC dropout: {ctx.mc_samples} forward passes over the {len(labels)} held-out "
            f"samples with dropout on (fresh masks per pass), averaged. The predictive entropy "
            f"H[p̄] (total, mean {u.total.mean():.3g} nats) splits exactly into the expected "
            f"entropy (aleatoric, {u.aleatoric.mean():.3g}) and the mutual information I(y; θ) "
            f"between the label and the masks (epistemic, BALD, {u.epistemic.mean():.3g}).")
    if (~correct).any() and correct.any():
        text += (f" The epistemic part is {u.epistemic[~correct].mean() / max(u.epistemic[correct].mean(), 1e-300):.3g}× "
                 f"larger on the {int((~correct).sum())} wrong predictions than on the right "
                 f"ones: the model's doubt points at its mistakes.")
    Laplace = _laplace_class()
    if Laplace is None:
        text += ("\n\nLaplace: not available in this version (nnmath.analysis.Laplace is being "
                 "written).")
        summary["laplace"] = {"available": False}
    elif ctx.x_train is None or ctx.y_train is None:
        text += "\n\nLaplace: skipped (no training data: pass x_train and y_train)."
        summary["laplace"] = {"available": True, "skipped": "no training data"}
    else:
        xs, ys = ctx.train_subset(ctx.laplace_samples)
        xs = xs if ctx.dtype is None else np.asarray(xs, ctx.dtype)
        la = Laplace(ctx.model, params, subset="last_layer", hessian_structure="kron", x=xs,
                     y=ys).fit()
        prior = la.optimize_prior_precision()
        la_probs = np.asarray(la(x))
        rows.append(row(f"Laplace (last layer, K-FAC, δ = {prior.prior_precision:.3g})",
                        la_probs))
        summary["laplace"] = {"available": True, "subset": "last_layer",
                              "hessian_structure": "kron", "num_parameters": la.n_params,
                              "num_samples": len(xs), "prior": prior.to_dict(),
                              "ece": rows[-1][2], "accuracy": rows[-1][1]}
        text += (f"\n\nLaplace: a Gaussian N(θ*, (GGN + δI)⁻¹) over the last layer's "
                 f"{la.n_params:,} weights (the earlier layers fixed), the generalised "
                 f"Gauss–Newton matrix over {len(xs)} training samples in Kronecker factors "
                 f"(K-FAC), the prior precision δ = {prior.prior_precision:.3g} chosen by "
                 f"maximising the evidence (log p(D) ≈ {prior.log_marginal_likelihood:.4g}); "
                 f"predictions by the linearised model with the probit approximation. Its ECE is "
                 f"{rows[-1][2]:.4f} against the MAP's {rows[0][2]:.4f}"
                 + (": here the Laplace predictive is markedly less confident than the model "
                    "(its mean entropy on right predictions is "
                    f"{rows[-1][3]:.3g} nats against {rows[0][3]:.3g})."
                    if isinstance(rows[-1][3], float) and isinstance(rows[0][3], float)
                    and rows[-1][3] > 2 * rows[0][3] else "."))
        refs += ["MacKay (1992)", "Ritter, Botev & Barber (2018)", "Daxberger et al. (2021)"]
    table = Table(("predictive", "accuracy", "ECE", "mean entropy, right (nats)",
                   "mean entropy, wrong (nats)"), rows)
    return Section("Uncertainty", text,
                   figures(lambda: plot_uncertainty(u, correct)), summary, tables=[table],
                   references=refs)


def _plane_result(ctx: ReportContext) -> Any:
    plane = ctx.information_plane
    if plane is not None:
        return plane.result() if hasattr(plane, "result") else plane
    if ctx.history is None:
        raise Skip("no information plane: train with callbacks=[InformationPlane(x_probe, "
                   "y_probe)] and pass information_plane= (or the History)")
    h = history_dict(ctx.history)
    layers = [k.split("/", 1)[1] for k in _layer_keys(h, "I(X;T)")]
    if not layers:
        raise Skip("the History has no 'I(X;T)/<layer>' records: train with "
                   "callbacks=[InformationPlane(x_probe, y_probe)]")
    n = len(h[f"I(X;T)/{layers[0]}"])
    return analysis.InformationPlaneResult(
        layers=layers, epochs=list(range(n)),
        i_xt={l: np.asarray(h[f"I(X;T)/{l}"]) for l in layers},
        i_ty={l: np.asarray(h[f"I(T;Y)/{l}"]) for l in layers}, estimator="(from the History)",
        parameters={}, unit="(as recorded)")


@register_section("information_plane", "Information plane",
                  requires=("InformationPlane", "InformationPlaneResult"),
                  description="I(X; T) against I(T; Y) of each layer over training (Shwartz-Ziv "
                              "& Tishby 2017).")
def information_plane_section(ctx: ReportContext) -> Section:
    r = _plane_result(ctx)
    rows = []
    for layer in r.layers:
        ixt, ity = np.asarray(r.i_xt[layer], float), np.asarray(r.i_ty[layer], float)
        rows.append((layer, ixt[0], ixt[-1], ity[0], ity[-1], int(np.argmax(ixt)) + min(r.epochs)))
    est = ", ".join(f"{k} = {v}" for k, v in r.parameters.items())
    text = (f"Each layer's output T on a fixed probe set, before training and after each of the "
            f"{max(r.epochs) + 1} epochs: Î(X;T) (how much of the input the layer keeps) against "
            f"Î(T;Y) (how much of the label), in {r.unit}, by the {r.estimator} estimator"
            f"{' (' + est + ')' if est else ''}. With binning, X is the probe set itself, so "
            f"Î(X;T) = Ĥ(T binned) ≤ log N. Read with care (Saxe et al. 2018): a 'compression "
            f"phase' (Î(X;T) falling late in training) shows with saturating activations under "
            f"binning, not generally with ReLU; for a deterministic network the true I(X;T) is "
            f"infinite or H(X), so the picture describes the estimator and its bin width as much "
            f"as the representation (Goldfeld et al. 2019).")
    n_probe = None if ctx.information_plane is None or not hasattr(
        ctx.information_plane, "probe_x") else len(ctx.information_plane.probe_x)
    if n_probe and r.estimator == "binned":
        scale = {"bits": np.log2, "nats": np.log}.get(r.unit)
        top = scale(n_probe) if scale is not None else None
        full = [l for l in r.layers if top is not None
                and np.allclose(np.asarray(r.i_xt[l], float), top, atol=1e-9)]
        if full:
            text += (f" Layer{'s' if len(full) > 1 else ''} {', '.join(full)} stay at Î(X;T) = "
                     f"log N = {top:.3g} {r.unit} throughout: every one of the {n_probe} probe "
                     f"samples falls in its own bin (a wide layer's binned estimate saturates, "
                     f"and says nothing about compression).")
    table = Table(("layer", "Î(X;T) before", "Î(X;T) at the end", "Î(T;Y) before",
                   "Î(T;Y) at the end", "epoch of the largest Î(X;T)"), rows,
                  f"in {r.unit}")
    return Section("Information plane", text, figures(lambda: plot_information_plane(r)),
                   {"plane": r.to_dict()}, tables=[table],
                   references=["Tishby & Zaslavsky (2015)", "Shwartz-Ziv & Tishby (2017)",
                               "Saxe et al. (2018)", "Goldfeld et al. (2019)"])


@register_section("optimizer_comparison", "Two optimisers over seeds: Welch's t-test",
                  requires=("compare_runs", "ttest_ind"),
                  description="Final validation losses of two optimisers over seeds, compared "
                              "with Welch's t-test.")
def optimizer_comparison_section(ctx: ReportContext) -> Section:
    if ctx.comparison is None:
        raise Skip("no runs to compare: pass comparison={name: [History per seed], "
                   "other: [...]}")
    (na, ra), (nb, rb) = ctx.comparison.items()
    metric = ctx.comparison_metric
    c = analysis.compare_runs(list(ra), list(rb), metric=metric, names=(na, nb))
    t = c.ttest
    lo, hi = t.confidence_interval(0.95)
    rows = [(na, len(c.values_a), c.mean_a, c.std_a, ", ".join(f"{v:.4g}" for v in c.values_a)),
            (nb, len(c.values_b), c.mean_b, c.std_b, ", ".join(f"{v:.4g}" for v in c.values_b))]
    table = Table(("optimiser", "seeds", f"mean {metric}", "std (ddof 1)", "per seed"), rows)
    test_table = Table(("difference (A − B)", "95% CI", "Welch t", "df", "p", "Hedges' g"),
                       [(c.difference, f"[{float(lo):.4g}, {float(hi):.4g}]", float(t.statistic),
                         float(t.df), float(t.pvalue), c.hedges_g)])
    text = ((ctx.comparison_setup + "\n\n" if ctx.comparison_setup else "")
            + f"Each run is reduced to its {metric} at the last epoch; the two groups are "
              f"compared with Welch's t-test (unequal variances; Welch 1947) and Hedges' g. "
              f"Verdict (compare_runs): {c.verdict}")
    runs = {na: list(ra), nb: list(rb)}
    return Section("Optimiser comparison", text,
                   figures(lambda: plot_run_comparison(c, (na, nb)),
                           lambda: plot_run_curves(runs, metric)),
                   {"comparison": c.to_dict(), "setup": ctx.comparison_setup,
                    "names": [na, nb]}, tables=[table, test_table],
                   references=["Welch (1947)", "Hedges (1981)"])
