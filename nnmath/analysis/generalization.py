"""Generalization: the empirical Rademacher complexity (exact for norm-bounded linear classes,
estimated by fitting random labels for a network), the Rademacher, VC and PAC-Bayes bounds, and
the :class:`GeneralizationGap` callback.

Notation: n (or m) training samples, R(h) the true risk, R̂(h) the empirical risk on the training
sample, δ the confidence parameter (each bound holds with probability ≥ 1 − δ over the draw of
the sample). Risks are of losses with values in [0, 1] (e.g. the 0–1 loss).
"""
from __future__ import annotations

import itertools
import math
import numbers
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.optimize
import scipy.special

from ..training.callbacks import Callback
from ._checks import check_count
from ._objective import as_generator
from ._results import Result
from .stats import metric_mode

__all__ = ["LinearClass", "RademacherResult", "rademacher_complexity", "random_label_fitter",
           "GeneralizationBound", "rademacher_bound", "vc_dimension_linear", "vc_bound",
           "gaussian_kl", "binary_kl", "kl_inverse", "PACBayesBound", "pac_bayes_bound",
           "GeneralizationGap"]

#: The largest n for which ``exact=True`` enumerates all 2ⁿ sign vectors.
MAX_EXACT_SAMPLES = 20


def _unit(value: Any, name: str, who: str, closed: bool = True) -> float:
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and (
        0 <= value <= 1 if closed else 0 < value < 1)
    if not ok:
        interval = "[0, 1]" if closed else "(0, 1)"
        raise ValueError(f"{who}: {name} must be a number in {interval}, got {value!r}")
    return float(value)


# --------------------------------------------------------------------------------------------
# Rademacher complexity
# --------------------------------------------------------------------------------------------

@dataclass
class LinearClass:
    """The norm-bounded linear class H = {x ↦ ⟨w, x⟩ : ‖w‖_p ≤ B}.

    Its supremum is known in closed form for every sign vector σ (Hölder, tight):
    sup_{h∈H} (1/n) Σᵢ σᵢ h(xᵢ) = (B/n)·‖Σᵢ σᵢ xᵢ‖_q with 1/p + 1/q = 1.

    Attributes:
        bound: B > 0.
        norm: p ≥ 1 (``np.inf`` allowed); default 2.
    """

    bound: float
    norm: float = 2.0

    def __post_init__(self):
        if not isinstance(self.bound, numbers.Real) or not self.bound > 0:
            raise ValueError(f"LinearClass: bound must be a positive number, got {self.bound!r}")
        if not isinstance(self.norm, numbers.Real) or not self.norm >= 1:
            raise ValueError(f"LinearClass: norm must be a number p ≥ 1 (np.inf allowed), got "
                             f"{self.norm!r}")

    @property
    def dual_norm(self) -> float:
        """q with 1/p + 1/q = 1."""
        p = float(self.norm)
        return np.inf if p == 1 else (1.0 if np.isinf(p) else p / (p - 1))

    def sup(self, x: np.ndarray, sigma: np.ndarray) -> np.ndarray:
        """(B/n)‖σ X‖_q for each row σ of ``sigma`` (draws × n)."""
        return self.bound * np.linalg.norm(sigma @ x, ord=self.dual_norm, axis=-1) / x.shape[0]


@dataclass
class RademacherResult(Result):
    """What :func:`rademacher_complexity` returns.

    Attributes:
        estimate: R̂ₙ(H), the mean of the suprema over the sign draws (or over all 2ⁿ).
        standard_error: its Monte Carlo standard error (0 when ``exact``).
        num_draws: sign vectors used (2ⁿ when exact).
        num_samples: n.
        exact: whether all 2ⁿ sign vectors were enumerated.
        method: ``"linear"`` (closed-form suprema) or ``"fit"`` (suprema by fitting the labels).
        upper_bound: for an ℓ₂-bounded linear class, B·√(Σᵢ‖xᵢ‖²)/n ≥ R̂ₙ(H) (Jensen;
            Bartlett & Mendelson 2002, Lemma 22); None otherwise.
        draws: the supremum for each sign draw.
    """

    estimate: float
    standard_error: float
    num_draws: int
    num_samples: int
    exact: bool
    method: str
    upper_bound: float | None
    draws: np.ndarray = field(repr=False)


def _signs(n: int, num_draws: int, exact: bool, rng: np.random.Generator, dtype) -> np.ndarray:
    if exact:
        return np.array(list(itertools.product((-1.0, 1.0), repeat=n)), dtype=dtype)
    return rng.choice(np.array([-1.0, 1.0], dtype=dtype), size=(num_draws, n))


def rademacher_complexity(hypotheses: Any, x: Any, num_draws: int = 100, *, seed: Any = 0,
                          exact: bool = False) -> RademacherResult:
    """The empirical Rademacher complexity of a class H on the sample x₁…xₙ (Bartlett &
    Mendelson 2002; Koltchinskii 2001):

    R̂ₙ(H) = E_σ[ sup_{h∈H} (1/n) Σᵢ σᵢ h(xᵢ) ],  σᵢ independent uniform signs ±1,

    estimated as the mean over ``num_draws`` sign vectors with its standard error, or computed
    exactly over all 2ⁿ sign vectors (``exact=True``, n ≤ 20).

    * ``hypotheses`` a :class:`LinearClass` {⟨w, ·⟩ : ‖w‖_p ≤ B}: each supremum is exact,
      (B/n)‖Σᵢ σᵢxᵢ‖_q, so R̂ₙ = B·E‖Σσᵢxᵢ‖_q/n (Bartlett & Mendelson 2002); for p = 2 the result
      also carries the closed-form bound B√(Σ‖xᵢ‖²)/n.
    * ``hypotheses`` a function ``fit(x, sigma) → h(x)`` (n values in [−1, 1]) that trains a
      hypothesis on the labels σ — e.g. :func:`random_label_fitter` for a network: the supremum is
      replaced by what training reaches (fitting random labels, Zhang et al. 2017), so the result
      estimates the complexity of the hypotheses the training procedure finds (a lower estimate
      of the whole class's when training does not find the best fit).

    Args:
        hypotheses: a :class:`LinearClass` or ``fit(x, sigma)``.
        x: the sample, shape (n, d) (for ``fit``, anything with n = len(x) samples).
        num_draws: sign vectors to draw (ignored when exact).
        seed: an int or a ``numpy.random.Generator``.
        exact: enumerate all 2ⁿ sign vectors.

    Returns:
        A :class:`RademacherResult`.

    >>> import numpy as np
    >>> x = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    >>> r = rademacher_complexity(LinearClass(bound=1.0), x, exact=True)
    >>> round(r.estimate, 4), r.standard_error, round(r.upper_bound, 4)
    (0.569, 0.0, 0.6667)
    """
    who = "rademacher_complexity"
    if not isinstance(hypotheses, LinearClass) and not callable(hypotheses):
        raise TypeError(f"{who}: hypotheses must be a LinearClass or a function fit(x, sigma) → "
                        f"h(x), got {type(hypotheses).__name__}")
    n = len(x) if not isinstance(hypotheses, LinearClass) else None
    if isinstance(hypotheses, LinearClass):
        x = np.asarray(x)
        if x.ndim != 2 or x.dtype.kind not in "biuf":
            raise ValueError(f"{who}: x must be a real array of shape (n, d) for a LinearClass, "
                             f"got shape {x.shape} and dtype {x.dtype}")
        x = x if x.dtype.kind == "f" else x.astype(np.float64)
        n = x.shape[0]
    dtype = x.dtype if isinstance(x, np.ndarray) and x.dtype.kind == "f" else np.float64
    if n == 0:
        raise ValueError(f"{who}: x is empty (no samples)")
    if exact and n > MAX_EXACT_SAMPLES:
        raise ValueError(f"{who}: exact=True enumerates 2ⁿ sign vectors; n = {n} > "
                         f"{MAX_EXACT_SAMPLES}: use num_draws instead")
    if not exact:
        num_draws = check_count(num_draws, "num_draws", who, minimum=2)
    sigma = _signs(n, num_draws, exact, as_generator(seed), dtype)
    upper = None
    if isinstance(hypotheses, LinearClass):
        draws = np.concatenate([hypotheses.sup(x, s) for s in np.array_split(
            sigma, max(1, len(sigma) // 65536))])
        if float(hypotheses.norm) == 2.0:
            upper = float(hypotheses.bound * math.sqrt(float(np.sum(x * x))) / n)
        method = "linear"
    else:
        draws = np.empty(len(sigma), dtype)
        for k, s in enumerate(sigma):
            h = np.asarray(hypotheses(x, s.copy()), dtype=float).reshape(-1)
            if h.shape != (n,):
                raise ValueError(f"{who}: fit(x, sigma) must return the hypothesis' n = {n} "
                                 f"values on x, got {h.size} values")
            if not np.all(np.abs(h) <= 1 + 1e-12):
                raise ValueError(f"{who}: fit(x, sigma) must return values in [−1, 1] (e.g. a "
                                 f"classifier's signs), got values up to {np.max(np.abs(h)):.3g}")
            draws[k] = float(s @ h) / n
        method = "fit"
    m = len(draws)
    se = 0.0 if exact else float(np.std(draws, ddof=1) / math.sqrt(m))
    return RademacherResult(float(np.mean(draws)), se, m, n, bool(exact), method, upper, draws)


def random_label_fitter(build_model: Callable[[], Any], *, epochs: int = 100,
                        batch_size: int | None = None, output: str = "sign",
                        **fit_kwargs: Any) -> Callable:
    """A ``fit(x, sigma)`` for :func:`rademacher_complexity` that trains a fresh network on the
    random labels σ (Zhang et al. 2017, "Understanding deep learning requires rethinking
    generalization") and returns its hypothesis on x.

    Args:
        build_model: a function of no arguments returning a *compiled* Model with one output unit
            (a new one for each draw, freshly initialised), e.g. trained with ``loss="mse"`` or
            ``"hinge"`` on targets ±1.
        epochs, batch_size, fit_kwargs: passed to ``model.fit`` (default full batch, verbose=0).
        output: ``"sign"`` — h(x) = sign f(x) ∈ {−1, 0, 1} (a classifier); ``"clip"`` —
            h(x) = clip(f(x), −1, 1).

    Returns:
        ``fit(x, sigma) → h(x)`` (n values).

    >>> import numpy as np
    >>> from nnmath import keras
    >>> def build():
    ...     m = keras.Sequential([keras.layers.Dense(1, input_shape=(4,), dtype="float64")])
    ...     m.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    ...     return m
    >>> x = np.random.default_rng(0).standard_normal((4, 4))     # n ≤ d + 1: shattered
    >>> r = rademacher_complexity(random_label_fitter(build, epochs=200), x, num_draws=3)
    >>> r.estimate
    1.0
    """
    who = "random_label_fitter"
    if not callable(build_model):
        raise TypeError(f"{who}: build_model must be a function returning a compiled Model, got "
                        f"{type(build_model).__name__}")
    if output not in ("sign", "clip"):
        raise ValueError(f"{who}: output must be 'sign' or 'clip', got {output!r}")
    epochs = check_count(epochs, "epochs", who)
    fit_kwargs.setdefault("verbose", 0)

    def fit(x, sigma):
        model = build_model()
        if not hasattr(model, "fit") or not hasattr(model, "predict"):
            raise TypeError(f"{who}: build_model() must return a compiled Model, got "
                            f"{type(model).__name__}")
        targets = np.asarray(sigma).reshape(-1, 1)
        model.fit(x, targets, epochs=epochs, batch_size=batch_size or len(targets), **fit_kwargs)
        pred = np.asarray(model.predict(x))
        if pred.size != len(targets):
            raise ValueError(f"{who}: the model must have one output unit, got predictions of "
                             f"shape {pred.shape}")
        pred = pred.reshape(-1)
        return np.sign(pred) if output == "sign" else np.clip(pred, -1.0, 1.0)
    return fit


# --------------------------------------------------------------------------------------------
# Uniform-convergence bounds
# --------------------------------------------------------------------------------------------

@dataclass
class GeneralizationBound(Result):
    """A bound R(h) ≤ ``bound`` = ``empirical_risk`` + ``complexity_term`` + ``confidence_term``,
    holding with probability ≥ 1 − ``delta`` over the sample of ``num_samples``.

    Attributes:
        kind: ``"rademacher"`` or ``"vc"``; ``formula`` and ``reference`` say which form.
        vacuous: bound ≥ 1 (says nothing about a [0, 1] risk).
    """

    bound: float
    empirical_risk: float
    complexity_term: float
    confidence_term: float
    delta: float
    num_samples: int
    kind: str
    formula: str
    reference: str
    vacuous: bool


def _risk_n_delta(empirical_risk, num_samples, delta, who):
    return (_unit(empirical_risk, "empirical_risk", who),
            check_count(num_samples, "num_samples", who),
            _unit(delta, "delta", who, closed=False))


def rademacher_bound(empirical_risk: float, rademacher: Any, num_samples: int,
                     delta: float = 0.05, *, classifier: bool = False) -> GeneralizationBound:
    """The Rademacher generalization bound (Bartlett & Mendelson 2002; Mohri, Rostamizadeh &
    Talwalkar 2018, Theorem 3.5): for a loss class G with values in [0, 1], with probability
    ≥ 1 − δ, for every h,

    R(h) ≤ R̂(h) + 2 R̂ₙ(G) + 3 √(log(2/δ) / (2n)).

    For the 0–1 loss of a class H of ±1 classifiers R̂ₙ(G) = R̂ₙ(H)/2 (Mohri et al. Lemma 3.4),
    so with ``classifier=True`` the term is R̂ₙ(H) (their Corollary 3.8).

    Args:
        empirical_risk: R̂(h) ∈ [0, 1] on the n training samples.
        rademacher: R̂ₙ of the loss class (or of H with ``classifier=True``): a number or a
            :class:`RademacherResult` (its estimate).
        num_samples: n.
        delta: in (0, 1).
        classifier: ``rademacher`` is R̂ₙ(H) of ±1 classifiers under the 0–1 loss.

    >>> b = rademacher_bound(0.1, 0.05, 1000, delta=0.05)
    >>> round(b.bound, 4)
    0.3288
    """
    who = "rademacher_bound"
    risk, n, delta = _risk_n_delta(empirical_risk, num_samples, delta, who)
    rad = rademacher.estimate if isinstance(rademacher, RademacherResult) else rademacher
    if not isinstance(rad, numbers.Real) or not rad >= 0:
        raise ValueError(f"{who}: rademacher must be a non-negative number or a RademacherResult, "
                         f"got {rademacher!r}")
    complexity = float(rad) if classifier else 2.0 * float(rad)
    confidence = 3.0 * math.sqrt(math.log(2.0 / delta) / (2.0 * n))
    bound = risk + complexity + confidence
    formula = ("R ≤ R̂ + R̂ₙ(H) + 3√(log(2/δ)/2n)" if classifier else
               "R ≤ R̂ + 2R̂ₙ(G) + 3√(log(2/δ)/2n)")
    ref = "Mohri et al. 2018, Corollary 3.8" if classifier else "Mohri et al. 2018, Theorem 3.5"
    return GeneralizationBound(bound, risk, complexity, confidence, delta, n, "rademacher",
                               formula, ref, bound >= 1)


def vc_dimension_linear(input_dim: int, bias: bool = True) -> int:
    """The VC dimension of linear classifiers x ↦ sign(⟨w, x⟩ + b) in ℝᵈ: d + 1 (halfspaces;
    Mohri et al. 2018, Example 3.12), or d without the bias (through the origin).

    >>> vc_dimension_linear(10)
    11
    """
    return check_count(input_dim, "input_dim", "vc_dimension_linear") + (1 if bias else 0)


def vc_bound(empirical_risk: float, num_samples: int, vc_dimension: int,
             delta: float = 0.05) -> GeneralizationBound:
    """The VC generalization bound for binary classification with the 0–1 loss (Vapnik 1998;
    Mohri, Rostamizadeh & Talwalkar 2018, Corollary 3.19, via Sauer's lemma): for a class of VC
    dimension d and m ≥ d samples, with probability ≥ 1 − δ, for every h,

    R(h) ≤ R̂(h) + √(2d log(e m / d) / m) + √(log(1/δ) / (2m)).

    For linear classifiers in ℝᵈ use ``vc_dimension=vc_dimension_linear(d)`` (= d + 1).

    Args:
        empirical_risk: R̂(h) ∈ [0, 1].
        num_samples: m ≥ vc_dimension.
        vc_dimension: d ≥ 1.
        delta: in (0, 1).

    >>> round(vc_bound(0.1, 10_000, vc_dimension_linear(10)).bound, 4)
    0.2433
    """
    who = "vc_bound"
    risk, m, delta = _risk_n_delta(empirical_risk, num_samples, delta, who)
    d = check_count(vc_dimension, "vc_dimension", who)
    if m < d:
        raise ValueError(f"{who}: the bound needs num_samples ≥ vc_dimension (Sauer's lemma), got "
                         f"num_samples = {m} < vc_dimension = {d}")
    complexity = math.sqrt(2.0 * d * math.log(math.e * m / d) / m)
    confidence = math.sqrt(math.log(1.0 / delta) / (2.0 * m))
    bound = risk + complexity + confidence
    return GeneralizationBound(bound, risk, complexity, confidence, delta, m, "vc",
                               "R ≤ R̂ + √(2d log(em/d)/m) + √(log(1/δ)/2m)",
                               "Mohri et al. 2018, Corollary 3.19; Vapnik 1998", bound >= 1)


# --------------------------------------------------------------------------------------------
# PAC-Bayes
# --------------------------------------------------------------------------------------------

def _posterior(mean: Any, var_or_cov: Any, who: str) -> tuple[np.ndarray, np.ndarray]:
    mean = np.asarray(mean)
    if mean.ndim != 1 or mean.dtype.kind != "f" or mean.size == 0:
        raise ValueError(f"{who}: the posterior mean must be a non-empty floating 1-D vector (like "
                         f"Objective.flat), got shape {mean.shape} and dtype {mean.dtype}")
    s = np.asarray(var_or_cov)
    P = mean.size
    if s.shape == (P,):
        if not np.all(s > 0):
            raise ValueError(f"{who}: the posterior variances must be positive, got a minimum "
                             f"of {s.min():.3g}")
    elif s.shape == (P, P):
        if not np.allclose(s, s.T, rtol=1e-10, atol=0):
            raise ValueError(f"{who}: the posterior covariance matrix must be symmetric")
    else:
        raise ValueError(f"{who}: the posterior's var_or_cov must be a vector of {P} variances or "
                         f"a {P}×{P} covariance matrix, got shape {s.shape}")
    return mean, s


def _cholesky(cov: np.ndarray, who: str) -> np.ndarray:
    try:
        return np.linalg.cholesky(cov)
    except np.linalg.LinAlgError:
        raise ValueError(f"{who}: the posterior covariance matrix is not positive definite") \
            from None


def gaussian_kl(mean: Any, var_or_cov: Any, prior_mean: Any = 0.0, prior_var: Any = 1.0) -> float:
    """KL(Q ‖ P) for a Gaussian posterior Q = N(μ, Σ) and a Gaussian prior P = N(μ₀, diag(σ₀²)),
    in closed form:

    KL = ½ [ Σᵢ Σᵢᵢ/σ₀ᵢ² + Σᵢ (μᵢ − μ₀ᵢ)²/σ₀ᵢ² − P + Σᵢ log σ₀ᵢ² − log det Σ ].

    Args:
        mean: μ, a vector of P entries.
        var_or_cov: the variances (a vector, Σ diagonal) or the covariance matrix Σ (P × P).
        prior_mean: μ₀, a number or a vector.
        prior_var: σ₀², a positive number (isotropic) or a vector.

    >>> import numpy as np
    >>> round(gaussian_kl(np.zeros(2), np.ones(2), prior_var=2.0), 6)    # 2·½(½ − 1 + log 2)
    0.193147
    """
    who = "gaussian_kl"
    mu, s = _posterior(mean, var_or_cov, who)
    P = mu.size
    mu0 = np.broadcast_to(np.asarray(prior_mean, dtype=mu.dtype), (P,)) if np.ndim(prior_mean) \
        in (0, 1) and np.size(prior_mean) in (1, P) else None
    if mu0 is None:
        raise ValueError(f"{who}: prior_mean must be a number or a vector of {P}, got shape "
                         f"{np.shape(prior_mean)}")
    v0 = np.asarray(prior_var, dtype=mu.dtype)
    if v0.ndim > 1 or v0.size not in (1, P) or not np.all(v0 > 0):
        raise ValueError(f"{who}: prior_var must be a positive number or a vector of {P} positive "
                         f"variances, got {prior_var!r}")
    v0 = np.broadcast_to(v0.reshape(-1) if v0.ndim else v0, (P,))
    if s.ndim == 1:
        trace_term, logdet = float(np.sum(s / v0)), float(np.sum(np.log(s)))
    else:
        L = _cholesky(s, who)
        trace_term = float(np.sum(np.diag(s) / v0))
        logdet = 2.0 * float(np.sum(np.log(np.diag(L))))
    quad = float(np.sum((mu - mu0) ** 2 / v0))
    return 0.5 * (trace_term + quad - P + float(np.sum(np.log(v0))) - logdet)


def binary_kl(q: float, p: float) -> float:
    """kl(q ‖ p) = q log(q/p) + (1 − q) log((1 − q)/(1 − p)), the KL divergence between
    Bernoulli(q) and Bernoulli(p) (0 log 0 = 0; ∞ when p ∈ {0, 1} and q ≠ p).

    >>> round(binary_kl(0.1, 0.2), 6)
    0.03669
    """
    return float(scipy.special.rel_entr(q, p) + scipy.special.rel_entr(1 - q, 1 - p))


def kl_inverse(q: float, c: float) -> float:
    """The inverse binary kl: kl⁻¹(q, c) = sup{p ∈ [q, 1] : kl(q ‖ p) ≤ c}, by bisection
    (``scipy.optimize.bisect``, to 1e-12), as in Langford & Seeger 2001 and Dziugaite & Roy
    2017.

    >>> p = kl_inverse(0.1, 0.05)
    >>> round(binary_kl(0.1, p), 9), round(p, 4)
    (0.05, 0.2201)
    """
    who = "kl_inverse"
    q = _unit(q, "q", who)
    if not isinstance(c, numbers.Real) or not c >= 0:
        raise ValueError(f"{who}: c must be a non-negative number, got {c!r}")
    if c == 0 or q == 1:
        return q
    hi = np.nextafter(1.0, 0.0)
    if binary_kl(q, hi) <= c:
        return 1.0
    return float(scipy.optimize.bisect(lambda p: binary_kl(q, p) - c, q, hi, xtol=1e-12,
                                       maxiter=200))


@dataclass
class PACBayesBound(Result):
    """What :func:`pac_bayes_bound` returns (each bound holds with probability ≥ 1 − δ, or
    1 − δ − δ_mc when the empirical risk is a Monte Carlo estimate).

    Attributes:
        kl_inverse: the Dziugaite–Roy bound kl⁻¹(ê, (KL + log(m/δ))/(m − 1)) on e(Q).
        mcallester: the (looser) Pinsker form ê + √((KL + log(m/δ))/(2(m − 1))).
        kl: KL(Q ‖ P).
        empirical_risk: ê(Q, S) as given or estimated (the Monte Carlo mean).
        empirical_risk_bound: what the bounds used for ê(Q, S): kl⁻¹(ê_mc, log(2/δ_mc)/N_mc)
            when the risk is a Monte Carlo estimate of N_mc draws (Langford & Caruana 2001), else
            ê itself.
        empirical_risk_std_error: its Monte Carlo standard error (0 when given exactly).
        delta, delta_mc, num_samples, num_mc_samples: as given (num_mc_samples None: exact).
    """

    kl_inverse: float
    mcallester: float
    kl: float
    empirical_risk: float
    empirical_risk_bound: float
    empirical_risk_std_error: float
    delta: float
    delta_mc: float | None
    num_samples: int
    num_mc_samples: int | None


def pac_bayes_bound(empirical_risk: Any, mean: Any, var_or_cov: Any, num_samples: int, *,
                    prior_mean: Any = 0.0, prior_var: Any = 1.0, delta: float = 0.05,
                    num_mc_samples: int | None = None, delta_mc: float = 0.01,
                    seed: Any = 0) -> PACBayesBound:
    """The PAC-Bayes bound for a Gaussian posterior Q = N(μ, Σ) over the weights and a Gaussian
    prior P = N(μ₀, σ₀²I) fixed before seeing the data (McAllester 1999; Langford & Seeger 2001;
    in the form of Dziugaite & Roy 2017, Theorem 2.1): with probability ≥ 1 − δ over the m
    training samples, for every Q, the expected error e(Q) = E_{θ∼Q}[R(θ)] satisfies

    kl(ê(Q, S) ‖ e(Q)) ≤ (KL(Q ‖ P) + log(m/δ)) / (m − 1),

    hence e(Q) ≤ kl⁻¹(ê, (KL + log(m/δ))/(m − 1)) (:func:`kl_inverse`), and by Pinsker's
    inequality the McAllester form e(Q) ≤ ê + √((KL + log(m/δ))/(2(m − 1))). KL is
    :func:`gaussian_kl`. ê(Q, S) = E_{θ∼Q}[R̂(θ)] is an expectation over the posterior: pass it
    exactly, or estimate it from ``num_mc_samples`` draws — then it is first bounded by
    kl⁻¹(ê_mc, log(2/δ_mc)/N_mc) (Langford & Caruana 2001; Dziugaite & Roy 2017 §4) and the
    bounds hold with probability ≥ 1 − δ − δ_mc. Choosing σ₀² after seeing the data needs a
    union bound that is not included here.

    Where a posterior comes from: a mean-field variational posterior (``bayes_by_backprop``'s
    :class:`~nnmath.analysis.bayes.MeanFieldPosterior`) gives ``mean=q.mean_flat,
    var_or_cov=q.std_flat ** 2``; a Laplace approximation gives ``mean`` = the MAP's flat
    parameters (``Objective.flat``) and ``var_or_cov`` = the inverse of its posterior precision
    (e.g. ``np.linalg.inv(N · ggn_operator(...).to_dense() + I/σ₀²)``), or its diagonal.

    Args:
        empirical_risk: ê(Q, S) ∈ [0, 1] (exact, or a Monte Carlo mean if ``num_mc_samples``
            is given), or a function ``error(theta_flat) → R̂(θ) ∈ [0, 1]`` that the posterior
            is sampled into (``num_mc_samples`` draws, required).
        mean, var_or_cov: the posterior (a vector of P means; P variances or a P × P covariance).
        num_samples: m, the training samples (m ≥ 2).
        prior_mean, prior_var: the prior N(μ₀, σ₀²I) (μ₀ a number or a vector; σ₀² > 0).
        delta: in (0, 1).
        num_mc_samples: the draws behind a Monte Carlo ``empirical_risk``.
        delta_mc: the confidence spent on the Monte Carlo error.
        seed: for sampling the posterior (callable ``empirical_risk``).

    Returns:
        A :class:`PACBayesBound`.

    >>> import numpy as np
    >>> b = pac_bayes_bound(0.05, np.zeros(10), np.full(10, 0.5), num_samples=10_000)
    >>> round(b.kl, 4), round(b.kl_inverse, 4), round(b.mcallester, 4)
    (0.9657, 0.062, 0.0757)
    """
    who = "pac_bayes_bound"
    m = check_count(num_samples, "num_samples", who, minimum=2)
    delta = _unit(delta, "delta", who, closed=False)
    mu, s = _posterior(mean, var_or_cov, who)
    kl = gaussian_kl(mu, s, prior_mean, prior_var)
    se, d_mc = 0.0, None
    if callable(empirical_risk):
        if num_mc_samples is None:
            raise ValueError(f"{who}: num_mc_samples is required when empirical_risk is a "
                             f"function (the posterior draws to average it over)")
        N = check_count(num_mc_samples, "num_mc_samples", who, minimum=2)
        rng = as_generator(seed)
        eps = rng.standard_normal((N, mu.size)).astype(mu.dtype)
        thetas = mu + (eps * np.sqrt(s) if s.ndim == 1 else eps @ _cholesky(s, who).T)
        errors = np.array([float(empirical_risk(t)) for t in thetas])
        if np.any((errors < 0) | (errors > 1)) or not np.all(np.isfinite(errors)):
            raise ValueError(f"{who}: error(theta) must return values in [0, 1], got a range of "
                             f"[{errors.min():.3g}, {errors.max():.3g}]")
        risk = float(errors.mean())
        se = float(errors.std(ddof=1) / math.sqrt(N))
    else:
        risk = _unit(empirical_risk, "empirical_risk", who)
        N = None if num_mc_samples is None else check_count(num_mc_samples, "num_mc_samples",
                                                              who)
    risk_bound = risk
    if N is not None:
        d_mc = _unit(delta_mc, "delta_mc", who, closed=False)
        risk_bound = kl_inverse(risk, math.log(2.0 / d_mc) / N)
    c = (kl + math.log(m / delta)) / (m - 1)
    return PACBayesBound(kl_inverse(risk_bound, c), min(1.0, risk_bound + math.sqrt(c / 2)), kl,
                         risk, risk_bound, se, delta, d_mc, m, N)


# --------------------------------------------------------------------------------------------
# The generalization-gap callback
# --------------------------------------------------------------------------------------------

class GeneralizationGap(Callback):
    """Record the generalization gap over training, in the History.

    At the end of every epoch that has validation logs (``fit(..., validation_data=...)`` or
    ``validation_split=...``), for every logged quantity ``k`` with a ``val_k``, it adds

    ``"gap_k"`` = the validation value minus the training value for lower-is-better quantities
    (``gap_loss = val_loss − loss``, test minus train), and the training value minus the
    validation value for higher-is-better ones (``gap_accuracy = accuracy − val_accuracy``),
    by :func:`~nnmath.analysis.stats.metric_mode`'s rule —

    so that every gap is *positive when the model does worse on held-out data* (overfitting) and
    ``history.history["gap_loss"]`` has one value per validated epoch. The training values are
    Keras's running means over the epoch's batches (with dropout active), as ``fit`` logs them.

    Args:
        keys: the quantities to record (default: every logged ``k`` with a ``val_k``).

    Attributes:
        keys: the keys recorded (after the first validated epoch).

    Raises:
        ValueError: at the end of training if no epoch had validation logs (an epoch without
            them — ``validation_freq`` > 1 — is skipped; fit does not tell callbacks in advance
            whether validation data were given, so this cannot be checked before training).

    >>> import numpy as np
    >>> from nnmath import keras
    >>> keras.utils.set_random_seed(0)
    >>> model = keras.Sequential([keras.layers.Dense(1, input_shape=(3,), dtype="float64")])
    >>> model.compile(optimizer="sgd", loss="mse")
    >>> x, y = np.random.default_rng(0).standard_normal((20, 3)), np.ones((20, 1))
    >>> h = model.fit(x, y, epochs=2, verbose=0, validation_split=0.25,
    ...               callbacks=[GeneralizationGap()])
    >>> h.history["gap_loss"][-1] == h.history["val_loss"][-1] - h.history["loss"][-1]
    True
    """

    def __init__(self, keys: Any = None):
        super().__init__()
        if keys is not None:
            keys = [keys] if isinstance(keys, str) else list(keys)
            if not all(isinstance(k, str) for k in keys):
                raise TypeError(f"GeneralizationGap: keys must be metric names, got {keys!r}")
        self._requested = keys
        self.keys: list[str] = []
        self._validated = 0

    def on_train_begin(self, logs=None):
        self._validated = 0

    def on_epoch_end(self, epoch, logs=None):
        if logs is None:
            return
        names = self._requested or [k for k in list(logs) if not k.startswith(("val_", "gap_"))
                                    and f"val_{k}" in logs]
        if not any(f"val_{k}" in logs for k in names):
            return                      # not a validation epoch (validation_freq > 1)
        missing = [k for k in names if k not in logs or f"val_{k}" not in logs]
        if missing:
            raise ValueError(f"GeneralizationGap: no {' / '.join(missing)} (or its val_ "
                             f"counterpart) in the logs; logged: {sorted(logs)}")
        gaps = {}
        for k in names:
            train, val = float(logs[k]), float(logs[f"val_{k}"])
            gaps[f"gap_{k}"] = val - train if metric_mode(k) == "min" else train - val
        logs.update(gaps)
        self.keys = list(gaps)
        self._validated += 1

    def on_train_end(self, logs=None):
        if self._validated == 0:
            raise ValueError("GeneralizationGap: no epoch had validation logs; pass validation "
                             "data to fit (validation_data=(x_val, y_val) or validation_split=...)")
