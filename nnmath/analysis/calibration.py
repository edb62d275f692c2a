"""The quality of predictive uncertainty: a classifier's calibration — reliability diagrams, the
expected and maximum calibration errors, temperature scaling (Guo, Pleiss, Sun & Weinberger
2017) — and the split of a Bayesian prediction's uncertainty into aleatoric and epistemic parts
(Houlsby et al. 2011; Depeweg et al. 2018).

Vocabulary: ``probs`` is an array (N, K) of predicted class probabilities (rows on the simplex; a
vector (N,) is read as a binary classifier's P(y = 1)); ``labels`` are the true classes, integers
(N,) in [0, K) or one-hot rows (N, K). The *confidence* of a prediction is its top-class
probability p̂ᵢ = maxₖ pᵢₖ and it is *correct* when argmaxₖ pᵢₖ = yᵢ. Probabilities are checked:
a negative entry, a NaN, or a row whose sum differs from 1 by more than
:data:`SIMPLEX_TOLERANCE` (or 100 ε of the dtype, if larger) is an error saying by how much;
``normalize=True`` divides each row by its sum instead.

These are numbers about predictions, not derivatives: they are computed with numpy and scipy.
Temperature scaling differentiates its negative log-likelihood with :func:`nnmath.value_and_grad`.
"""
from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.optimize
import scipy.special

from .. import numpy as mnp
from .._core.transforms import grad, value_and_grad
from ..scipy.special import log_softmax, softmax
from ._results import Result

__all__ = [
    "reliability_diagram", "expected_calibration_error", "maximum_calibration_error",
    "fit_temperature", "uncertainty_decomposition", "ReliabilityDiagram", "TemperatureScaling",
    "UncertaintyDecomposition", "SIMPLEX_TOLERANCE",
]

#: Largest |Σₖ pₖ − 1| accepted for a probability vector (unless ``normalize=True``).
SIMPLEX_TOLERANCE = 1e-6


# --------------------------------------------------------------------------------------------
# Checking inputs
# --------------------------------------------------------------------------------------------

def check_probabilities(probs: Any, name: str = "probs", normalize: bool = False) -> np.ndarray:
    """``probs`` as a floating array whose last axis is a probability vector, or a ValueError
    naming ``name`` and saying what is wrong and by how much. ``normalize=True`` rescales each
    vector to sum to 1 (negative entries are still an error)."""
    p = np.asarray(probs)
    if p.dtype.kind not in "fiub" or p.ndim == 0:
        raise TypeError(f"{name} must be a numeric array with the classes on the last axis, got "
                        f"{type(probs).__name__} of dtype {p.dtype} and shape {p.shape}")
    if p.dtype.kind != "f":
        p = p.astype(np.float64)
    if p.shape[-1] == 0:
        raise ValueError(f"{name} has no classes (its last axis has length 0)")
    if not np.all(np.isfinite(p)):
        bad = np.argwhere(~np.isfinite(p))[0]
        raise ValueError(f"{name} has a non-finite entry {p[tuple(bad)]} at index {tuple(bad)}; "
                         f"expected probabilities in [0, 1]")
    if np.any(p < 0):
        bad = np.unravel_index(np.argmin(p), p.shape)
        raise ValueError(f"{name} has negative entries (the smallest is {p[bad]:.3g} at index "
                         f"{tuple(int(i) for i in bad)}); expected probabilities in [0, 1]")
    sums = p.sum(axis=-1, keepdims=True)
    if normalize:
        if np.any(sums == 0):
            bad = np.argwhere(sums[..., 0] == 0)[0]
            raise ValueError(f"{name}: the vector at index {tuple(bad)} is all zeros and cannot be "
                             f"normalised")
        return p / sums
    tol = max(SIMPLEX_TOLERANCE, 100 * float(np.finfo(p.dtype).eps))
    dev = np.abs(sums[..., 0] - 1)
    if np.any(dev > tol):
        worst = np.unravel_index(np.argmax(dev), dev.shape)
        raise ValueError(f"{name} are not probability vectors: {int(np.sum(dev > tol))} of "
                         f"{dev.size} do not sum to 1 along the last axis (the worst, at index "
                         f"{tuple(int(i) for i in worst)}, sums to {float(sums[worst][0]):.6g}, "
                         f"off by {float(dev[worst]):.3g}; tolerance {tol:.1g}); pass "
                         f"normalize=True to rescale them")
    return p


def _as_class_probs(probs: Any, normalize: bool) -> np.ndarray:
    """(N, K) probabilities; a vector (N,) of P(y = 1) becomes [1 − p, p]."""
    p = np.asarray(probs)
    if p.ndim == 1:
        if p.dtype.kind in "fiub" and (np.any(p < 0) or np.any(p > 1)):
            i = int(np.argmax((p < 0) | (p > 1)))
            raise ValueError(f"probs: a vector is read as a binary classifier's P(y = 1), which "
                             f"must lie in [0, 1]; entry {i} is {p[i]!r}")
        p = np.stack([1 - p, p], axis=-1)
    if p.ndim != 2:
        raise ValueError(f"probs must have shape (N, K) (or (N,) for a binary classifier), got "
                         f"shape {p.shape}")
    return check_probabilities(p, "probs", normalize)


def _as_labels(labels: Any, n: int, k: int, what: str = "probs") -> np.ndarray:
    """Integer class labels (N,) from integers or one-hot rows, checked against N and K."""
    y = np.asarray(labels)
    if y.ndim == 2 and y.shape[1] == k and k > 1:
        y = np.argmax(y, axis=1)
    elif y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise ValueError(f"labels must be class indices (N,) or one-hot rows (N, {k}), got shape "
                         f"{y.shape}")
    if len(y) != n:
        raise ValueError(f"{what} has {n} samples but labels has {len(y)}; they must match")
    if y.dtype.kind == "f":
        if not np.all(y == np.round(y)):
            raise ValueError("labels must be integer class indices, got non-integral values")
        y = y.astype(np.int64)
    if y.dtype.kind not in "iub":
        raise TypeError(f"labels must be integer class indices, got dtype {y.dtype}")
    if n and (y.min() < 0 or y.max() >= k):
        raise ValueError(f"labels must lie in [0, {k}) for {k} classes, got values in "
                         f"[{y.min()}, {y.max()}]")
    return y.astype(np.int64)


def _num_bins(num_bins: Any) -> int:
    if isinstance(num_bins, bool) or not isinstance(num_bins, numbers.Integral):
        raise TypeError(f"num_bins must be an int, got {type(num_bins).__name__} {num_bins!r}")
    if num_bins < 1:
        raise ValueError(f"num_bins must be at least 1, got {num_bins}")
    return int(num_bins)


# --------------------------------------------------------------------------------------------
# Reliability diagram, ECE, MCE
# --------------------------------------------------------------------------------------------

@dataclass
class ReliabilityDiagram(Result):
    """Per-bin accuracy and confidence of a classifier (see :func:`reliability_diagram`).

    Attributes:
        bin_edges: the M + 1 edges 0, 1/M, …, 1; bin m is the interval (edgeₘ, edgeₘ₊₁] (the first
            also holds 0).
        bin_count: |Bₘ|, the predictions whose confidence falls in bin m.
        bin_accuracy: acc(Bₘ) = fraction correct in bin m (NaN for an empty bin).
        bin_confidence: conf(Bₘ) = mean confidence in bin m (NaN for an empty bin).
        ece: the expected calibration error Σₘ (|Bₘ|/N)·|acc(Bₘ) − conf(Bₘ)|.
        mce: the maximum calibration error maxₘ |acc(Bₘ) − conf(Bₘ)| over non-empty bins.
        accuracy: the overall accuracy; confidence: the overall mean confidence.
        num_samples: N.
    """

    bin_edges: np.ndarray
    bin_count: np.ndarray
    bin_accuracy: np.ndarray
    bin_confidence: np.ndarray
    ece: float
    mce: float
    accuracy: float
    confidence: float
    num_samples: int


def reliability_diagram(probs: Any, labels: Any, num_bins: int = 15, *,
                        normalize: bool = False) -> ReliabilityDiagram:
    """The data of a reliability diagram: accuracy against confidence in M equal-width bins.

    The top-class confidence p̂ᵢ = maxₖ pᵢₖ of each prediction is put in the bin
    Iₘ = ((m − 1)/M, m/M] that holds it, and per bin

        acc(Bₘ) = (1/|Bₘ|) Σ_{i∈Bₘ} 1[ŷᵢ = yᵢ],   conf(Bₘ) = (1/|Bₘ|) Σ_{i∈Bₘ} p̂ᵢ,
        ECE = Σₘ (|Bₘ|/N) |acc(Bₘ) − conf(Bₘ)|,    MCE = maxₘ |acc(Bₘ) − conf(Bₘ)|

    (Guo et al. 2017, eqs. 2–5; Naeini, Cooper & Hauskrecht 2015). A perfectly calibrated model
    has acc(Bₘ) = conf(Bₘ) in every bin. Ties in the argmax go to the lowest class index.

    Args:
        probs: predicted probabilities (N, K), or (N,) for a binary classifier's P(y = 1).
        labels: true classes, integers (N,) or one-hot rows (N, K).
        num_bins: M, the number of equal-width bins on [0, 1] (default 15, as Guo et al.).
        normalize: rescale rows that do not sum to 1 instead of raising.

    Returns:
        a :class:`ReliabilityDiagram`.

    References:
        C. Guo, G. Pleiss, Y. Sun, K. Q. Weinberger. On calibration of modern neural networks.
        ICML 2017.

    >>> import numpy as np
    >>> d = reliability_diagram(np.array([[0.95, 0.05], [0.15, 0.85], [0.55, 0.45]]), [0, 0, 0],
    ...                         num_bins=5)
    >>> d.bin_count.tolist(), d.bin_accuracy[4], round(d.ece, 4)   # ⅔·|½ − .9| + ⅓·|1 − .55|
    ([0, 0, 1, 0, 2], np.float64(0.5), 0.4167)
    """
    M = _num_bins(num_bins)
    p = _as_class_probs(probs, normalize)
    n, k = p.shape
    y = _as_labels(labels, n, k)
    conf = p.max(axis=1)
    correct = (p.argmax(axis=1) == y).astype(p.dtype)
    edges = np.linspace(0.0, 1.0, M + 1)
    which = np.clip(np.searchsorted(edges[1:-1], conf, side="left"), 0, M - 1)   # (e_m, e_m+1]
    count = np.bincount(which, minlength=M)
    with np.errstate(invalid="ignore", divide="ignore"):
        acc = np.bincount(which, weights=correct, minlength=M) / count
        mean_conf = np.bincount(which, weights=conf, minlength=M) / count
    gap = np.abs(acc - mean_conf)
    full = count > 0
    ece = float(np.sum(count[full] / n * gap[full])) if n else float("nan")
    mce = float(np.max(gap[full])) if n else float("nan")
    return ReliabilityDiagram(edges, count, acc, mean_conf, ece, mce,
                              float(correct.mean()) if n else float("nan"),
                              float(conf.mean()) if n else float("nan"), int(n))


def expected_calibration_error(probs: Any, labels: Any, num_bins: int = 15, *,
                               normalize: bool = False) -> float:
    """ECE = Σₘ (|Bₘ|/N) |acc(Bₘ) − conf(Bₘ)| over M equal-width bins of the top-class confidence
    (Guo et al. 2017, eq. 3; Naeini et al. 2015). See :func:`reliability_diagram` for the bins
    and the arguments.

    Returns:
        the ECE, a float in [0, 1].

    >>> import numpy as np
    >>> p = np.array([[0.95, 0.05], [0.15, 0.85], [0.55, 0.45]])
    >>> round(expected_calibration_error(p, [0, 1, 1], num_bins=5), 4)   # ⅔·|1 − .9| + ⅓·|0 − .55|
    0.25
    """
    return reliability_diagram(probs, labels, num_bins, normalize=normalize).ece


def maximum_calibration_error(probs: Any, labels: Any, num_bins: int = 15, *,
                              normalize: bool = False) -> float:
    """MCE = maxₘ |acc(Bₘ) − conf(Bₘ)| over the non-empty equal-width bins of the top-class
    confidence (Guo et al. 2017, eq. 5; Naeini et al. 2015). See :func:`reliability_diagram`.

    Returns:
        the MCE, a float in [0, 1].

    >>> import numpy as np
    >>> p = np.array([[0.95, 0.05], [0.15, 0.85], [0.55, 0.45]])
    >>> round(maximum_calibration_error(p, [0, 1, 1], num_bins=5), 4)
    0.55
    """
    return reliability_diagram(probs, labels, num_bins, normalize=normalize).mce


# --------------------------------------------------------------------------------------------
# Temperature scaling
# --------------------------------------------------------------------------------------------

@dataclass
class TemperatureScaling(Result):
    """A fitted temperature (see :func:`fit_temperature`).

    Attributes:
        temperature: T̂ > 0; calibrated probabilities are softmax(z / T̂).
        temperature_std_error: the standard error of T̂ from the observed information,
            T̂ · (∂²NLL_sum/∂(log T)²)^(-1/2) (the delta method on log T).
        nll_before: the mean negative log-likelihood at T = 1.
        nll_after: the mean negative log-likelihood at T̂.
        num_samples: N, the held-out samples it was fitted on.
        converged: whether scipy's optimiser reported success.
    """

    temperature: float
    temperature_std_error: float
    nll_before: float
    nll_after: float
    num_samples: int
    converged: bool

    def probabilities(self, logits: Any) -> np.ndarray:
        """softmax(z / T̂) along the last axis."""
        z = _as_logits(logits)
        return np.asarray(softmax(z / z.dtype.type(self.temperature), axis=-1))

    def logits(self, logits: Any) -> np.ndarray:
        """The scaled logits z / T̂."""
        z = _as_logits(logits)
        return z / z.dtype.type(self.temperature)


def _as_logits(logits: Any) -> np.ndarray:
    z = np.asarray(logits)
    if z.dtype.kind not in "fiu" or z.ndim != 2 or z.shape[1] < 2:
        raise ValueError(f"logits must be a numeric array (N, K) with K ≥ 2 classes, got dtype "
                         f"{z.dtype} and shape {z.shape}")
    if not np.all(np.isfinite(z)):
        raise ValueError("logits has non-finite entries")
    return z if z.dtype.kind == "f" else z.astype(np.float64)


def fit_temperature(logits: Any, labels: Any, *, bounds: tuple[float, float] = (1e-3, 1e3),
                    ) -> TemperatureScaling:
    """Temperature scaling: one T > 0 that divides all logits, fitted on held-out data by
    minimising the negative log-likelihood (Guo et al. 2017, §4.2):

        T̂ = argmin_T  NLL(T),   NLL(T) = −(1/N) Σᵢ log softmax(zᵢ / T)_{yᵢ}.

    T̂ > 1 softens an overconfident model; the predicted class (argmax) never changes, so the
    accuracy is unchanged. The minimisation is over s = log T (so T stays positive) with
    ``scipy.optimize.minimize`` (L-BFGS-B, bounded), the gradient by :func:`nnmath.value_and_grad`,
    and the standard error of T̂ from the curvature of the summed NLL in s (observed Fisher
    information; Var ŝ ≈ 1/∂²NLL_sum, Var T̂ ≈ T̂² Var ŝ).

    Args:
        logits: held-out logits z (N, K) (not probabilities: pass a model's pre-softmax output).
        labels: their true classes, integers (N,) or one-hot rows (N, K).
        bounds: the range searched for T (default 10⁻³ … 10³).

    Returns:
        a :class:`TemperatureScaling` (``.probabilities(logits)`` applies it).

    References:
        C. Guo, G. Pleiss, Y. Sun, K. Q. Weinberger. On calibration of modern neural networks.
        ICML 2017.

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> z = rng.normal(size=(2000, 3)) * 2
    >>> y = np.array([rng.choice(3, p=np.exp(r) / np.exp(r).sum()) for r in z])
    >>> ts = fit_temperature(3 * z, y)            # logits 3× too large: T̂ ≈ 3
    >>> bool(abs(ts.temperature - 3) < 4 * ts.temperature_std_error)
    True
    """
    z = _as_logits(logits)
    n, k = z.shape
    y = _as_labels(labels, n, k, "logits")
    lo, hi = (float(b) for b in bounds)
    if not 0 < lo < 1 < hi:
        raise ValueError(f"bounds must satisfy 0 < lower < 1 < upper (T = 1 inside), got "
                         f"{bounds!r}")
    onehot = np.eye(k, dtype=z.dtype)[y]

    def nll_sum(s):                                  # Σᵢ −log softmax(zᵢ e^{−s})_{yᵢ}
        return -mnp.sum(onehot * log_softmax(z * mnp.exp(-s), axis=-1))

    vg = value_and_grad(nll_sum)

    def fun(s):
        v, g = vg(z.dtype.type(s[0]))
        return float(v) / n, np.array([float(g) / n])

    res = scipy.optimize.minimize(fun, np.zeros(1), jac=True, method="L-BFGS-B",
                                  bounds=[(np.log(lo), np.log(hi))],
                                  options={"ftol": 1e-15, "gtol": 1e-12})
    s_hat = float(res.x[0])
    t_hat = float(np.exp(s_hat))
    curvature = float(grad(grad(nll_sum))(z.dtype.type(s_hat)))
    se = t_hat / np.sqrt(curvature) if curvature > 0 else float("inf")
    return TemperatureScaling(t_hat, float(se), float(nll_sum(z.dtype.type(0.0))) / n,
                              float(res.fun), int(n), bool(res.success))


# --------------------------------------------------------------------------------------------
# Uncertainty decomposition
# --------------------------------------------------------------------------------------------

@dataclass
class UncertaintyDecomposition(Result):
    """Total = aleatoric + epistemic uncertainty per point (see :func:`uncertainty_decomposition`).

    Attributes:
        total: H[p̄] (classification, nats) or the predictive variance (regression).
        aleatoric: the expected entropy (1/S) Σₛ H[pₛ], or the mean of the predicted variances.
        epistemic: the mutual information I(y; θ) (BALD), or the variance of the predicted means.
        mean: p̄ = (1/S) Σₛ pₛ, or the mean of the predicted means.
        task: "classification" or "regression".
        num_samples: S.
    """

    total: np.ndarray
    aleatoric: np.ndarray
    epistemic: np.ndarray
    mean: np.ndarray
    task: str
    num_samples: int


def uncertainty_decomposition(samples: Any, variances: Any = None, *, task: str | None = None,
                              normalize: bool = False) -> UncertaintyDecomposition:
    """Split predictive uncertainty into its aleatoric and epistemic parts, from S posterior
    samples (MC dropout, an ensemble, VI or SGLD draws).

    Classification (``samples`` = probabilities pₛ, shape (S, N, K)), in nats:

        H[p̄] = (1/S) Σₛ H[pₛ] + (1/S) Σₛ KL(pₛ ‖ p̄),   p̄ = (1/S) Σₛ pₛ,
        total = aleatoric (expected entropy) + epistemic (mutual information I(y; θ), BALD).

    The epistemic term is computed as the mean KL divergence, independently of the other two, so
    the identity is a check (it holds to rounding). Regression (``samples`` = predicted means
    μₛ, ``variances`` = predicted variances σₛ², both (S, N, …); σₛ² = 0 if not given), by the
    law of total variance: Var[y] = (1/S) Σₛ σₛ² + (1/S) Σₛ (μₛ − μ̄)².

    Args:
        samples: (S, N, K) probabilities (classes last), or (S, N, …) predicted means.
        variances: (S, N, …) predicted variances (regression only).
        task: "classification" or "regression"; default regression iff ``variances`` is given.
        normalize: rescale probability vectors that do not sum to 1 instead of raising.

    Returns:
        an :class:`UncertaintyDecomposition`, one value per point (per output for regression).

    References:
        N. Houlsby, F. Huszár, Z. Ghahramani, M. Lengyel. Bayesian active learning for
        classification and preference learning. arXiv:1112.5745, 2011. S. Depeweg,
        J. M. Hernández-Lobato, F. Doshi-Velez, S. Udluft. Decomposition of uncertainty in
        Bayesian deep learning for efficient and risk-sensitive learning. ICML 2018.

    >>> import numpy as np
    >>> u = uncertainty_decomposition(np.array([[[1.0, 0.0]], [[0.0, 1.0]]]))   # sure, disagreeing
    >>> np.round([u.total[0], u.aleatoric[0], u.epistemic[0]], 4)                # all log 2 is MI
    array([0.6931, 0.    , 0.6931])
    """
    who = "uncertainty_decomposition"
    if task is None:
        task = "classification" if variances is None else "regression"
    if task not in ("classification", "regression"):
        raise ValueError(f"{who}: task must be 'classification' or 'regression', got {task!r}")
    if task == "classification":
        if variances is not None:
            raise ValueError(f"{who}: variances is for regression; got task='classification'")
        p = check_probabilities(samples, "samples", normalize)
        if p.ndim < 2:
            raise ValueError(f"{who}: samples must have shape (S, N, K) — samples, points, "
                             f"classes — got shape {p.shape}")
        mean = p.mean(axis=0)
        total = scipy.special.entr(mean).sum(axis=-1)
        aleatoric = scipy.special.entr(p).sum(axis=-1).mean(axis=0)
        epistemic = scipy.special.rel_entr(p, mean[None]).sum(axis=-1).mean(axis=0)
        return UncertaintyDecomposition(total, aleatoric, epistemic, mean, task, len(p))
    mu = np.asarray(samples)
    if mu.dtype.kind not in "fiu" or mu.ndim < 1:
        raise ValueError(f"{who}: samples must be a numeric array (S, N, …), got dtype "
                         f"{mu.dtype} and shape {mu.shape}")
    mu = mu if mu.dtype.kind == "f" else mu.astype(np.float64)
    if variances is None:
        var = np.zeros_like(mu)
    else:
        var = np.asarray(variances, dtype=mu.dtype)
        if var.shape != mu.shape:
            raise ValueError(f"{who}: variances has shape {var.shape} but samples has shape "
                             f"{mu.shape}; they must match (one variance per sampled mean)")
        if np.any(var < 0) or not np.all(np.isfinite(var)):
            raise ValueError(f"{who}: variances must be finite and ≥ 0, got a smallest value "
                             f"{np.nanmin(var):.3g}")
    aleatoric = var.mean(axis=0)
    epistemic = mu.var(axis=0)
    return UncertaintyDecomposition(aleatoric + epistemic, aleatoric, epistemic,
                                    mu.mean(axis=0), task, len(mu))
