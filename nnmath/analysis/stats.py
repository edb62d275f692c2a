"""Statistics for comparing training runs: Student's, Welch's and the paired t-test (scipy's
signatures and results), bootstrap confidence intervals, and :func:`compare_runs` — "is optimiser
A better than B across seeds?" with a Welch test, Hedges' g and a plain-words verdict.

The t statistics are computed with :mod:`nnmath.numpy`, so they are differentiable in the data
(``nm.grad(lambda a: ttest_ind(a, b).statistic)(a)``); p-values, degrees of freedom and
confidence intervals are plain numbers from :mod:`scipy.stats` (not differentiated).
"""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import scipy.special
import scipy.stats

from .. import numpy as mnp
from .._core.primitive import is_tracer
from ._objective import as_generator
from ._results import Result

__all__ = ["ConfidenceInterval", "TtestResult", "ttest_ind", "ttest_rel", "BootstrapResult",
           "bootstrap_ci", "RunComparison", "compare_runs", "hedges_g", "metric_mode"]

_ALTERNATIVES = ("two-sided", "less", "greater")


# --------------------------------------------------------------------------------------------
# t-tests
# --------------------------------------------------------------------------------------------

@dataclass
class ConfidenceInterval(Result):
    """A confidence interval [``low``, ``high``] at ``confidence_level``; unpacks as
    ``low, high = ci`` like scipy's."""

    low: Any
    high: Any
    confidence_level: float

    def __iter__(self):
        return iter((self.low, self.high))


@dataclass
class TtestResult(Result):
    """What :func:`ttest_ind` and :func:`ttest_rel` return (the fields of scipy's result).

    Attributes:
        statistic: the t statistic (differentiable in the data: a traced value under
            ``nm.grad``).
        pvalue: its p-value under the ``alternative``.
        df: the degrees of freedom (Welch–Satterthwaite's for ``equal_var=False``).
        alternative: ``"two-sided"``, ``"less"`` or ``"greater"`` (for mean(a) − mean(b)).
        estimate: the estimated difference, mean(a) − mean(b) (paired: mean(a − b)).
        standard_error: the standard error of ``estimate``; statistic = estimate / standard_error.
        method: ``"student"``, ``"welch"`` or ``"paired"``.
    """

    statistic: Any
    pvalue: Any
    df: Any
    alternative: str
    estimate: Any = field(repr=False)
    standard_error: Any = field(repr=False)
    method: str = "student"

    def confidence_interval(self, confidence_level: float = 0.95) -> ConfidenceInterval:
        """The confidence interval of mean(a) − mean(b) at ``confidence_level`` that goes with the
        test (scipy's ``TtestResult.confidence_interval``): estimate ± t_{df, 1−α/2}·SE for a
        two-sided test, one-sided (an infinite end) for ``"less"`` and ``"greater"``."""
        level = _level(confidence_level, "TtestResult.confidence_interval")
        est, se = _value(self.estimate), _value(self.standard_error)
        df = np.asarray(self.df, dtype=float)
        if self.alternative == "two-sided":
            q = scipy.stats.t.ppf(0.5 + level / 2, df)
            low, high = est - q * se, est + q * se
        else:
            q = scipy.stats.t.ppf(level, df)
            low = est - q * se if self.alternative == "greater" else np.full_like(est, -np.inf)
            high = est + q * se if self.alternative == "less" else np.full_like(est, np.inf)
        return ConfidenceInterval(_out(low), _out(high), level)

    def __iter__(self):     # statistic, pvalue = ttest_ind(a, b), as with scipy
        return iter((self.statistic, self.pvalue))


def _value(x: Any) -> np.ndarray:
    """The plain value under any number of trace levels (p-values are not differentiated)."""
    while is_tracer(x):
        x = x._primal
    return np.asarray(x)


def _out(x: Any) -> Any:
    """0-d arrays as numpy scalars (scipy's convention for 1-D samples)."""
    if is_tracer(x):
        return x
    x = np.asarray(x)
    return x[()] if x.ndim == 0 else x


def _level(confidence_level: Any, who: str) -> float:
    if not isinstance(confidence_level, numbers.Real) or not 0 < confidence_level < 1:
        raise ValueError(f"{who}: confidence_level must be a number in (0, 1), got "
                         f"{confidence_level!r}")
    return float(confidence_level)


def _sample(x: Any, name: str, axis: int, who: str) -> Any:
    """``x`` as an array (a tracer stays one) with the samples along the last axis, checked."""
    if not is_tracer(x):
        if isinstance(x, (str, bytes)) or x is None:
            raise TypeError(f"{who}: {name} must be an array of numbers, got {type(x).__name__}")
        x = np.asarray(x)
        if x.dtype.kind not in "biuf":
            raise TypeError(f"{who}: {name} must hold real numbers, got dtype {x.dtype}")
        if x.dtype.kind != "f":
            x = x.astype(np.float64)            # as numpy's mean of integers
        if not np.all(np.isfinite(x)):
            raise ValueError(f"{who}: {name} contains NaN or infinite values; remove them first "
                             f"(scipy's nan_policy is not supported)")
    elif np.dtype(x.dtype).kind != "f":
        raise TypeError(f"{who}: {name} must be floating point, got dtype {x.dtype}")
    if x.ndim == 0:
        raise ValueError(f"{who}: {name} must be a sample (a 1-D array, or samples along axis), "
                         f"got a scalar")
    if not isinstance(axis, numbers.Integral) or not -x.ndim <= axis < x.ndim:
        raise ValueError(f"{who}: axis must be an integer in [-{x.ndim}, {x.ndim}) for {name} of "
                         f"shape {tuple(x.shape)}, got {axis!r}")
    n = x.shape[axis]
    if n == 0:
        raise ValueError(f"{who}: {name} is empty (no values along axis {axis})")
    if n < 2:
        raise ValueError(f"{who}: {name} has {n} value along axis {axis}; a t-test needs at "
                         f"least 2 (a variance cannot be estimated from one)")
    return mnp.moveaxis(x, axis, -1) if axis not in (-1, x.ndim - 1) else x


def _broadcast_ndim(a: Any, b: Any, who: str) -> tuple:
    """Leading axes of length 1 on the sample with fewer axes (scipy broadcasts that way)."""
    a = a if is_tracer(a) else np.asarray(a)
    b = b if is_tracer(b) else np.asarray(b)
    for name, x in (("a", a), ("b", b)):
        if x.ndim == 0:
            raise ValueError(f"{who}: {name} must be a sample (a 1-D array, or samples along "
                             f"axis), got a scalar")
    if a.ndim < b.ndim:
        a = mnp.reshape(a, (1,) * (b.ndim - a.ndim) + tuple(a.shape))
    elif b.ndim < a.ndim:
        b = mnp.reshape(b, (1,) * (a.ndim - b.ndim) + tuple(b.shape))
    return a, b


def _alternative(alternative: Any, who: str) -> str:
    if alternative not in _ALTERNATIVES:
        raise ValueError(f"{who}: alternative must be one of {', '.join(map(repr, _ALTERNATIVES))},"
                         f" got {alternative!r}")
    return alternative


def _pvalue(t: Any, df: Any, alternative: str) -> Any:
    t = _value(t)
    if alternative == "two-sided":
        p = 2 * scipy.stats.t.sf(np.abs(t), df)
    elif alternative == "less":
        p = scipy.stats.t.cdf(t, df)
    else:
        p = scipy.stats.t.sf(t, df)
    return _out(np.where(np.isnan(t), np.nan, np.minimum(p, 1.0)))


def _divide(est: Any, se: Any) -> Any:
    with np.errstate(divide="ignore", invalid="ignore"):   # se = 0: ±inf or NaN, as scipy
        return est / se


def ttest_ind(a: Any, b: Any, *, axis: int = 0, equal_var: bool = True,
              alternative: str = "two-sided") -> TtestResult:
    """The two-sample t-test for the means of two independent samples (scipy's ``ttest_ind``).

    Student (``equal_var=True``, Student 1908), with the pooled variance
    s_p² = ((n_a − 1)s_a² + (n_b − 1)s_b²)/(n_a + n_b − 2):
    t = (ā − b̄) / (s_p √(1/n_a + 1/n_b)), df = n_a + n_b − 2.
    Welch (``equal_var=False``, Welch 1947), not assuming equal variances:
    t = (ā − b̄) / √(s_a²/n_a + s_b²/n_b), df = (s_a²/n_a + s_b²/n_b)² /
    ((s_a²/n_a)²/(n_a − 1) + (s_b²/n_b)²/(n_b − 1)) (Welch–Satterthwaite).
    s² are the unbiased (ddof = 1) sample variances. A zero standard error gives t = ±inf or
    NaN, as scipy.

    Args:
        a, b: the samples (1-D, or arrays with the samples along ``axis``; other axes broadcast).
            At least 2 finite values each.
        axis: the axis holding the samples.
        equal_var: Student's test (True) or Welch's (False).
        alternative: the alternative hypothesis for μ_a − μ_b: ``"two-sided"`` (≠ 0),
            ``"less"`` (< 0) or ``"greater"`` (> 0).

    Returns:
        A :class:`TtestResult` (``statistic``, ``pvalue``, ``df``, ``confidence_interval()``).

    >>> a = [0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0]     # Student's sleep data
    >>> b = [1.9, 0.8, 1.1, 0.1, -0.1, 4.4, 5.5, 1.6, 4.6, 3.4]
    >>> r = ttest_ind(a, b, equal_var=False)
    >>> round(float(r.statistic), 4), round(float(r.df), 3), round(float(r.pvalue), 5)
    (-1.8608, 17.776, 0.07939)
    >>> [round(float(v), 7) for v in r.confidence_interval()]
    [-3.3654832, 0.2054832]
    """
    who = "ttest_ind"
    alternative = _alternative(alternative, who)
    a, b = _broadcast_ndim(a, b, who)
    a, b = _sample(a, "a", axis, who), _sample(b, "b", axis, who)
    na, nb = a.shape[-1], b.shape[-1]
    va, vb = mnp.var(a, axis=-1, ddof=1), mnp.var(b, axis=-1, ddof=1)
    est = mnp.mean(a, axis=-1) - mnp.mean(b, axis=-1)
    if equal_var:
        df = np.asarray(float(na + nb - 2))
        pooled = ((na - 1) * va + (nb - 1) * vb) / (na + nb - 2)
        se = mnp.sqrt(pooled * (1.0 / na + 1.0 / nb))
        method = "student"
    else:
        qa, qb = va / na, vb / nb
        se = mnp.sqrt(qa + qb)
        qa_, qb_ = _value(qa), _value(qb)
        with np.errstate(divide="ignore", invalid="ignore"):
            df = (qa_ + qb_) ** 2 / (qa_ ** 2 / (na - 1) + qb_ ** 2 / (nb - 1))
        method = "welch"
    t = _divide(est, se)
    df = np.broadcast_to(df, np.shape(_value(t)))
    return TtestResult(_out(t), _pvalue(t, df, alternative), _out(df), alternative, _out(est),
                       _out(se), method)


def ttest_rel(a: Any, b: Any, *, axis: int = 0, alternative: str = "two-sided") -> TtestResult:
    """The paired t-test for the mean of the differences dᵢ = aᵢ − bᵢ (scipy's ``ttest_rel``;
    Student 1908): t = d̄ / (s_d / √n), df = n − 1, s_d the unbiased standard deviation of d.

    Args:
        a, b: paired samples of the same shape (values along ``axis``; at least 2 pairs).
        axis: the axis holding the pairs.
        alternative: ``"two-sided"``, ``"less"`` or ``"greater"``, for the mean of a − b.

    Returns:
        A :class:`TtestResult`; ``estimate`` is mean(a − b).

    >>> a = [0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0]
    >>> b = [1.9, 0.8, 1.1, 0.1, -0.1, 4.4, 5.5, 1.6, 4.6, 3.4]
    >>> r = ttest_rel(a, b)
    >>> round(float(r.statistic), 4), int(r.df), round(float(r.pvalue), 6)
    (-4.0621, 9, 0.002833)
    """
    who = "ttest_rel"
    alternative = _alternative(alternative, who)
    a, b = _sample(a, "a", axis, who), _sample(b, "b", axis, who)
    if tuple(a.shape) != tuple(b.shape):
        raise ValueError(f"{who}: paired samples must have the same shape; a has shape "
                         f"{tuple(a.shape)} and b {tuple(b.shape)} (samples on the last axis)")
    d = a - b
    n = d.shape[-1]
    est = mnp.mean(d, axis=-1)
    se = mnp.sqrt(mnp.var(d, axis=-1, ddof=1) / n)
    t = _divide(est, se)
    df = np.broadcast_to(np.asarray(float(n - 1)), np.shape(_value(t)))
    return TtestResult(_out(t), _pvalue(t, df, alternative), _out(df), alternative, _out(est),
                       _out(se), "paired")


# --------------------------------------------------------------------------------------------
# Bootstrap
# --------------------------------------------------------------------------------------------

@dataclass
class BootstrapResult(Result):
    """What :func:`bootstrap_ci` returns.

    Attributes:
        estimate: the statistic on the data.
        low, high: the confidence interval.
        standard_error: the bootstrap standard error (the std of the resampled statistics).
        confidence_level, method, n_resamples: as given.
    """

    estimate: float
    low: float
    high: float
    standard_error: float
    confidence_level: float
    method: str
    n_resamples: int

    def confidence_interval(self) -> ConfidenceInterval:
        return ConfidenceInterval(self.low, self.high, self.confidence_level)


def _mean_statistic(x, axis=-1):
    return np.mean(x, axis=axis)


def _mean_difference(x, y, axis=-1):
    return np.mean(x, axis=axis) - np.mean(y, axis=axis)


def bootstrap_ci(data: Any, statistic: Callable | None = None, *, confidence_level: float = 0.95,
                 n_resamples: int = 9999, method: str = "BCa", paired: bool = False,
                 seed: Any = 0) -> BootstrapResult:
    """A bootstrap confidence interval (Efron 1979; BCa: Efron 1987), built on
    ``scipy.stats.bootstrap``: the data are resampled with replacement ``n_resamples`` times and
    the interval read off the distribution of the resampled statistic θ̂*: ``"percentile"``
    [q_{α/2}, q_{1−α/2}] of θ̂*, ``"basic"`` [2θ̂ − q_{1−α/2}, 2θ̂ − q_{α/2}], or ``"BCa"`` (bias-
    corrected and accelerated percentiles).

    Args:
        data: one sample (1-D), or a tuple of samples (each resampled independently, or jointly
            with ``paired=True``).
        statistic: ``statistic(*samples, axis=-1)`` → the statistic (vectorised, as scipy's);
            default the mean of one sample, or mean(a) − mean(b) for two.
        confidence_level: in (0, 1).
        n_resamples: bootstrap resamples.
        method: ``"BCa"``, ``"percentile"`` or ``"basic"``.
        paired: resample the samples' elements together (the samples must have one length).
        seed: an int or a ``numpy.random.Generator``.

    Returns:
        A :class:`BootstrapResult` (estimate, low, high, standard_error, …).

    >>> r = bootstrap_ci([2.1, 3.4, 1.9, 5.0, 4.2, 3.3], method="percentile", seed=0)
    >>> bool(r.low < r.estimate < r.high), round(float(r.estimate), 3)
    (True, 3.317)
    """
    who = "bootstrap_ci"
    samples = tuple(data) if isinstance(data, tuple) else (data,)
    checked = []
    for k, s in enumerate(samples):
        name = "data" if len(samples) == 1 else f"data[{k}]"
        s = np.asarray(s)
        if s.dtype.kind not in "biuf":
            raise TypeError(f"{who}: {name} must hold real numbers, got dtype {s.dtype}")
        if s.ndim != 1:
            raise ValueError(f"{who}: {name} must be a 1-D sample, got shape {s.shape}")
        if s.size < 2:
            raise ValueError(f"{who}: {name} has {s.size} values; the bootstrap needs at least 2")
        if not np.all(np.isfinite(s)):
            raise ValueError(f"{who}: {name} contains NaN or infinite values")
        checked.append(s if s.dtype.kind == "f" else s.astype(np.float64))
    if statistic is None:
        if len(checked) > 2:
            raise ValueError(f"{who}: pass statistic= for {len(checked)} samples (the default is "
                             f"the mean of one sample or the difference of two means)")
        statistic = _mean_statistic if len(checked) == 1 else _mean_difference
    if not callable(statistic):
        raise TypeError(f"{who}: statistic must be callable, got {type(statistic).__name__}")
    if method not in ("BCa", "percentile", "basic"):
        raise ValueError(f"{who}: method must be 'BCa', 'percentile' or 'basic', got {method!r}")
    if not isinstance(n_resamples, numbers.Integral) or n_resamples < 2:
        raise ValueError(f"{who}: n_resamples must be an integer ≥ 2, got {n_resamples!r}")
    level = _level(confidence_level, who)
    if paired and len({len(s) for s in checked}) > 1:
        raise ValueError(f"{who}: paired samples must have one length, got "
                         f"{[len(s) for s in checked]}")
    res = scipy.stats.bootstrap(tuple(checked), statistic, n_resamples=int(n_resamples),
                                confidence_level=level, method=method, paired=paired,
                                rng=as_generator(seed))
    return BootstrapResult(float(statistic(*checked, axis=-1)),
                           float(res.confidence_interval.low), float(res.confidence_interval.high),
                           float(res.standard_error), level, method, int(n_resamples))


# --------------------------------------------------------------------------------------------
# Comparing runs
# --------------------------------------------------------------------------------------------

#: Substrings that make a metric "higher is better" in ``mode="auto"`` (otherwise lower is).
HIGHER_IS_BETTER = ("acc", "auc", "precision", "recall", "f1", "iou", "r2")


def metric_mode(metric: str) -> str:
    """``"max"`` if higher values of ``metric`` are better, else ``"min"``: ``"max"`` when the
    name (lower-cased) contains one of ``acc``, ``auc``, ``precision``, ``recall``, ``f1``,
    ``iou``, ``r2`` (Keras's "auto" rule, extended); every other name (``loss``, ``mse``,
    ``mae``, ``val_loss``, …) is "lower is better".

    >>> metric_mode("val_accuracy"), metric_mode("val_loss")
    ('max', 'min')
    """
    name = str(metric).lower()
    return "max" if any(s in name for s in HIGHER_IS_BETTER) else "min"


def hedges_g(a: Any, b: Any, confidence_level: float = 0.95) -> tuple[float, ConfidenceInterval]:
    """Hedges' g, the bias-corrected standardised mean difference (Hedges 1981), and its
    confidence interval (Hedges & Olkin 1985, eq. 5.14's large-sample standard error):

    d = (ā − b̄)/s_p,  s_p² = ((n_a − 1)s_a² + (n_b − 1)s_b²)/(n_a + n_b − 2),
    g = J(m)·d with J(m) = Γ(m/2)/(√(m/2)·Γ((m − 1)/2)), m = n_a + n_b − 2 (exact: E[g] = δ),
    SE(g) = √((n_a + n_b)/(n_a n_b) + g²/(2(n_a + n_b))), CI = g ± z_{1−α/2}·SE(g).

    Args:
        a, b: 1-D samples, at least 2 values each and n_a + n_b ≥ 4.
        confidence_level: of the interval.

    Returns:
        (g, ConfidenceInterval).

    >>> g, ci = hedges_g([1.0, 2.0, 3.0], [2.0, 3.0, 4.0])
    >>> round(g, 4)
    -0.8
    """
    who = "hedges_g"
    level = _level(confidence_level, who)
    a = np.asarray(_sample(a, "a", 0, who), dtype=float)
    b = np.asarray(_sample(b, "b", 0, who), dtype=float)
    if a.ndim != 1 or b.ndim != 1:
        raise ValueError(f"{who}: a and b must be 1-D samples, got shapes {a.shape} and {b.shape}")
    na, nb = len(a), len(b)
    m = na + nb - 2
    pooled = ((na - 1) * np.var(a, ddof=1) + (nb - 1) * np.var(b, ddof=1)) / m
    with np.errstate(divide="ignore", invalid="ignore"):
        d = (a.mean() - b.mean()) / np.sqrt(pooled)
    log_j = scipy.special.gammaln(m / 2) - scipy.special.gammaln((m - 1) / 2)
    J = math.exp(log_j) / math.sqrt(m / 2)
    g = float(J * d)
    se = math.sqrt((na + nb) / (na * nb) + g * g / (2 * (na + nb)))
    z = scipy.stats.norm.ppf(0.5 + level / 2)
    return g, ConfidenceInterval(g - z * se, g + z * se, level)


@dataclass
class RunComparison(Result):
    """What :func:`compare_runs` returns.

    Attributes:
        metric: the metric compared; ``mode``: ``"min"`` (lower is better) or ``"max"``.
        final: True — each run's last epoch; False — each run's best epoch (by ``mode``).
        values_a, values_b: one value per run (seed).
        mean_a, mean_b, std_a, std_b: their means and unbiased standard deviations.
        difference: mean_a − mean_b.
        ttest: Welch's :class:`TtestResult` for mean_a − mean_b (two-sided).
        hedges_g, hedges_g_ci: Hedges' g of a against b and its confidence interval (at 1 − α).
        alpha: the significance level.
        significant: p < α and at least 3 runs on each side.
        better: ``names[0]``, ``names[1]`` or None (no significant difference, or too few runs).
        verdict: the conclusion in plain words.
    """

    metric: str
    mode: str
    final: bool
    values_a: np.ndarray
    values_b: np.ndarray
    mean_a: float
    mean_b: float
    std_a: float
    std_b: float
    difference: float
    ttest: TtestResult
    hedges_g: float
    hedges_g_ci: ConfidenceInterval
    alpha: float
    significant: bool
    better: str | None
    verdict: str

    def __str__(self) -> str:
        return self.verdict


def _run_values(runs: Any, metric: str, final: bool, mode: str, side: str) -> np.ndarray:
    """One value per run from Histories, history dicts, per-epoch sequences or numbers."""
    who = "compare_runs"
    if hasattr(runs, "history") or isinstance(runs, dict):
        raise TypeError(f"{who}: {side} must be a list of runs (one History per seed), got a "
                        f"single {type(runs).__name__}; wrap it in a list")
    if isinstance(runs, np.ndarray):
        runs = list(runs)
    if not isinstance(runs, (list, tuple)):
        raise TypeError(f"{who}: {side} must be a list of runs (Histories, lists of per-epoch "
                        f"values or numbers), got {type(runs).__name__}")
    if len(runs) == 0:
        raise ValueError(f"{who}: {side} is empty (no runs)")
    values = []
    for k, run in enumerate(runs):
        where = f"{side}[{k}]"
        if hasattr(run, "history") and isinstance(run.history, dict):
            run = run.history
        if isinstance(run, dict):
            if metric not in run:
                raise ValueError(f"{who}: {where} has no metric {metric!r}; it has "
                                 f"{sorted(run)} (validation metrics need validation data)")
            run = run[metric]
        curve = np.asarray(run, dtype=float) if not isinstance(run, str) else None
        if curve is None or curve.ndim > 1:
            raise TypeError(f"{who}: {where} must be a History, a dict of per-epoch lists, a "
                            f"sequence of per-epoch values or a number, got {type(run).__name__}")
        curve = np.atleast_1d(curve)
        if curve.size == 0:
            raise ValueError(f"{who}: {where} has no epochs for {metric!r}")
        if not np.all(np.isfinite(curve)):
            raise ValueError(f"{who}: {where} has NaN or infinite values of {metric!r} (a diverged "
                             f"run?); drop it or replace it explicitly")
        values.append(curve[-1] if final else (curve.min() if mode == "min" else curve.max()))
    return np.array(values, dtype=float)


def compare_runs(histories_a: Sequence, histories_b: Sequence, metric: str = "val_loss",
                 final: bool = True, *, alpha: float = 0.05, mode: str = "auto",
                 names: tuple[str, str] = ("A", "B")) -> RunComparison:
    """Is A (an optimiser, a schedule, an architecture) better than B across seeds?

    Each run is reduced to one number — its last epoch's ``metric`` (``final=True``) or its best
    (``final=False``: the minimum for lower-is-better metrics, the maximum for higher-is-better
    ones, see :func:`metric_mode`). The runs of A and B are then compared with Welch's t-test
    (Welch 1947; runs of different optimisers need not share a variance) and Hedges' g (Hedges
    1981) with its confidence interval (:func:`hedges_g`). The verdict names the better side
    only if p < α *and* each side has at least 3 runs; with fewer it says the comparison is
    inconclusive whatever the p-value (two seeds estimate a variance too poorly to trust).

    Args:
        histories_a, histories_b: lists of runs, one per seed: :class:`~nnmath.training.History`
            objects (``fit``'s return value), their ``.history`` dicts, per-epoch sequences of
            the metric, or one number per run. At least 2 runs per side.
        metric: the History key (default ``"val_loss"``).
        final: the last epoch (True) or the best epoch (False).
        alpha: the significance level of the two-sided test.
        mode: ``"auto"`` (from the metric's name), ``"min"`` or ``"max"``: which direction is
            better.
        names: how the verdict calls A and B.

    Returns:
        A :class:`RunComparison` (``str()`` of it is the verdict).

    >>> r = compare_runs([[0.9, 0.5], [0.8, 0.45], [0.85, 0.5]],
    ...                  [[0.9, 0.7], [0.9, 0.72], [0.8, 0.68]], metric="loss",
    ...                  names=("Adam", "SGD"))
    >>> r.better, r.significant
    ('Adam', True)
    >>> print(r.verdict)     # doctest: +ELLIPSIS
    Adam is better than SGD on loss (last epoch; lower is better): ... p = 0.000... < α = 0.05; ...
    """
    who = "compare_runs"
    if mode not in ("auto", "min", "max"):
        raise ValueError(f"{who}: mode must be 'auto', 'min' or 'max', got {mode!r}")
    if not isinstance(alpha, numbers.Real) or not 0 < alpha < 1:
        raise ValueError(f"{who}: alpha must be a number in (0, 1), got {alpha!r}")
    if not (isinstance(names, (tuple, list)) and len(names) == 2):
        raise ValueError(f"{who}: names must be two labels, got {names!r}")
    mode = metric_mode(metric) if mode == "auto" else mode
    a = _run_values(histories_a, metric, final, mode, "histories_a")
    b = _run_values(histories_b, metric, final, mode, "histories_b")
    for side, v in (("histories_a", a), ("histories_b", b)):
        if len(v) < 2:
            raise ValueError(f"{who}: {side} has {len(v)} run; comparing needs at least 2 per side "
                             f"(3 or more for a verdict): train more seeds")
    test = ttest_ind(a, b, equal_var=False)
    g, g_ci = hedges_g(a, b, 1 - alpha)
    p = float(test.pvalue)
    enough = len(a) >= 3 and len(b) >= 3
    significant = bool(enough and p < alpha)
    na, nb = str(names[0]), str(names[1])
    better = None
    if significant:
        a_better = (a.mean() < b.mean()) if mode == "min" else (a.mean() > b.mean())
        better = na if a_better else nb
    how = "last epoch" if final else "best epoch"
    sense = "lower is better" if mode == "min" else "higher is better"
    numbers_ = (f"mean {a.mean():.4g} ± {a.std(ddof=1):.2g} (n = {len(a)}) vs "
                f"{b.mean():.4g} ± {b.std(ddof=1):.2g} (n = {len(b)}); Welch t = "
                f"{float(test.statistic):.3g}, df = {float(test.df):.3g}, p = {p:.3g}")
    effect = (f"Hedges' g = {g:.2g} [{100 * (1 - alpha):.0f}% CI {g_ci.low:.2g}, "
              f"{g_ci.high:.2g}]")
    subject = f"on {metric} ({how}; {sense})"
    if not enough:
        verdict = (f"Inconclusive: too few runs to compare {na} and {nb} {subject} — at least 3 "
                   f"seeds per side are needed, got {len(a)} and {len(b)}. {numbers_}; {effect}.")
    elif significant:
        worse = nb if better == na else na
        verdict = (f"{better} is better than {worse} {subject}: {numbers_} < α = {alpha:g}; "
                   f"{effect}.")
    else:
        verdict = (f"No significant difference between {na} and {nb} {subject}: {numbers_} ≥ "
                   f"α = {alpha:g}; {effect}.")
    return RunComparison(metric, mode, bool(final), a, b, float(a.mean()), float(b.mean()),
                         float(a.std(ddof=1)), float(b.std(ddof=1)), float(a.mean() - b.mean()),
                         test, g, g_ci, float(alpha), significant, better, verdict)
