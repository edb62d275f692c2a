"""Optimization dynamics: linear rates on quadratics, the stable step size and the edge of
stability, gradient flow, and spectral bias.

* :class:`Quadratic` / :func:`quadratic` — f(θ) = ½θᵀAθ − bᵀθ + c with its spectrum (μ, L, κ) and
  exact minimiser; :func:`as_quadratic` reads one off a loss that is exactly quadratic.
* :func:`convergence_rate` — runs gradient descent, heavy ball, Nesterov or Adam (or any nnmath
  ``(init, update)`` transform) on a quadratic and reports the measured linear rate beside the
  theoretical one, and the iteration counts of the O(log 1/ε) and O(1/ε) bounds.
* :func:`stable_learning_rate` — 2/λ_max(∇²L), the largest stable step of gradient descent;
  :class:`EdgeOfStabilityMonitor` records λ_max and 2/η during ``fit`` (Cohen et al. 2021).
* :func:`gradient_flow` — the ODE dθ/dt = −∇L(θ) by ``scipy.integrate.solve_ivp``, with the
  Lyapunov check and gradient descent compared with the flow at t = kη.
* :func:`spectral_bias` — the Fourier spectrum of a model's function during training on a 1-D
  target: low frequencies are learned first (Rahaman et al. 2019).

Second-order steps (Newton, Gauss–Newton, natural gradient) are in :mod:`._second_order`.
Everything is computed in the parameters' dtype.
"""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np
from scipy.integrate import solve_ivp
from scipy.sparse.linalg import LinearOperator

from .. import numpy as mnp
from ..training.callbacks import Callback
from ._objective import Objective, as_generator, as_objective
from ._results import Result
from .curvature import hessian_matrix
from .hessian import hessian_top_eigenvalues

__all__ = ["Quadratic", "quadratic", "as_quadratic", "ConvergenceRate", "convergence_rate",
           "StableLearningRate", "stable_learning_rate", "EdgeOfStabilityMonitor",
           "GradientFlowResult", "NonFiniteLossError", "gradient_flow", "SpectralBiasResult",
           "spectral_bias"]


# --------------------------------------------------------------------------------------------
# Quadratics
# --------------------------------------------------------------------------------------------

@dataclass(eq=False)
class Quadratic(Result):
    """f(θ) = ½ θᵀAθ − bᵀθ + c with A symmetric positive semi-definite: ∇f = Aθ − b, ∇²f = A.

    μ = λ_min(A), L = λ_max(A), κ = L/μ (∞ when μ = 0: convex but not strongly convex). The
    minimiser θ* solves Aθ* = b (the least-norm one, A⁺b, when A is singular and b is in its range).
    The object is callable (written with ``nnmath.numpy``), so it is a ``loss_fn`` for every tool.

    Args:
        A: an n × n symmetric positive semi-definite matrix.
        b: the linear term (default 0, so θ* = 0).
        c: the constant.

    >>> import numpy as np
    >>> q = Quadratic(np.diag([1.0, 10.0]), b=np.array([1.0, 1.0]))
    >>> q.mu, q.L, q.kappa, q.minimizer
    (1.0, 10.0, 10.0, array([1. , 0.1]))
    """

    A: np.ndarray
    b: np.ndarray | None = None
    c: float = 0.0
    eigenvalues: np.ndarray = field(init=False)
    eigenvectors: np.ndarray = field(init=False, repr=False)
    mu: float = field(init=False)
    L: float = field(init=False)
    kappa: float = field(init=False)
    minimizer: np.ndarray = field(init=False)
    min_value: float = field(init=False)

    def __post_init__(self):
        A = np.asarray(self.A)
        if A.ndim != 2 or A.shape[0] != A.shape[1] or A.dtype.kind not in "fi":
            raise ValueError(f"Quadratic: A must be a square real matrix, got shape {A.shape} and "
                             f"dtype {A.dtype}")
        A = A.astype(np.result_type(A.dtype, np.float32)) if A.dtype.kind == "i" else A
        scale = max(float(np.max(np.abs(A))), np.finfo(A.dtype).tiny) if A.size else 1.0
        if not np.allclose(A, A.T, rtol=0, atol=1e3 * np.finfo(A.dtype).eps * scale):
            raise ValueError(f"Quadratic: A must be symmetric, got max |A − Aᵀ| = "
                             f"{float(np.max(np.abs(A - A.T))):.3g}")
        A = (A + A.T) / 2
        lam, Q = np.linalg.eigh(A)
        tol = A.shape[0] * np.finfo(A.dtype).eps * max(abs(lam[-1]), abs(lam[0]), 1e-300)
        if lam[0] < -tol:
            raise ValueError(f"Quadratic: A must be positive semi-definite (a convex quadratic), "
                             f"but it has the eigenvalue {lam[0]:.6g} < 0")
        lam = np.where(np.abs(lam) <= tol, 0.0, lam).astype(A.dtype)
        b = np.zeros(A.shape[0], A.dtype) if self.b is None else np.asarray(self.b, A.dtype)
        if b.shape != (A.shape[0],):
            raise ValueError(f"Quadratic: b must have shape ({A.shape[0]},), got {b.shape}")
        inv = np.where(lam > 0, 1.0 / np.where(lam > 0, lam, 1.0), 0.0)
        theta = Q @ (inv * (Q.T @ b))
        if np.linalg.norm(A @ theta - b) > 1e3 * tol * (1 + np.linalg.norm(b)):
            raise ValueError("Quadratic: b is not in the range of the singular A, so f is "
                             "unbounded below and has no minimiser")
        self.A, self.b, self.c = A, b, float(self.c)
        self.eigenvalues, self.eigenvectors = lam, Q
        self.mu, self.L = float(lam[0]), float(lam[-1])
        self.kappa = self.L / self.mu if self.mu > 0 else math.inf
        self.minimizer = theta
        self.min_value = float(self.c - 0.5 * b @ theta)

    @property
    def dim(self) -> int:
        """n, the number of parameters."""
        return int(self.A.shape[0])

    def __call__(self, theta: Any) -> Any:
        """f(θ) (differentiable: ``nm.grad(q)`` works)."""
        return 0.5 * mnp.dot(theta, mnp.dot(self.A, theta)) - mnp.dot(self.b, theta) + self.c

    def grad(self, theta: np.ndarray) -> np.ndarray:
        """∇f(θ) = Aθ − b."""
        return self.A @ theta - self.b


def quadratic(eigenvalues: Sequence[float], seed: Any = 0, minimizer: Any = None,
              dtype: Any = np.float64) -> Quadratic:
    """A :class:`Quadratic` with the given spectrum: A = Q diag(λ) Qᵀ, Q a random orthogonal matrix
    (Haar, ``scipy.stats.ortho_group``), b = Aθ* for the given minimiser (default 0).

    >>> q = quadratic([1.0, 10.0, 100.0], seed=0)
    >>> q.kappa, bool(np.allclose(q.eigenvalues, [1, 10, 100]))
    (100.0, True)
    """
    from scipy.stats import ortho_group
    lam = np.asarray(eigenvalues, dtype)
    if lam.ndim != 1 or lam.size == 0:
        raise ValueError(f"quadratic: eigenvalues must be a non-empty 1-D sequence, got shape "
                         f"{lam.shape}")
    n = lam.size
    Q = ortho_group.rvs(n, random_state=as_generator(seed)).astype(dtype) if n > 1 else \
        np.ones((1, 1), dtype)
    A = (Q * lam) @ Q.T
    theta = np.zeros(n, dtype) if minimizer is None else np.asarray(minimizer, dtype)
    if theta.shape != (n,):
        raise ValueError(f"quadratic: minimizer must have shape ({n},), got {theta.shape}")
    return Quadratic((A + A.T) / 2, b=A @ theta)


def as_quadratic(f: Any, params: Any = None, *, num_checks: int = 3, rtol: float | None = None,
                 seed: Any = 0, **data: Any) -> Quadratic:
    """The :class:`Quadratic` that ``f`` is, in the flat parameter vector of ``params``; a
    ValueError if ``f`` is not quadratic.

    Reads L₀ = f(θ₀), g₀ = ∇f(θ₀) and the dense Hessian A (:func:`hessian_matrix`), so that
    f(θ₀ + d) = L₀ + g₀ᵀd + ½dᵀAd exactly for a quadratic; checks this (and ∇f(θ₀ + d) = g₀ + Ad)
    at ``num_checks`` random points d with ‖d‖ ~ 1 + ‖θ₀‖. Then b = Aθ₀ − g₀ and
    c = L₀ − ½θ₀ᵀAθ₀ + bᵀθ₀.

    Args:
        f, params, **data: as :func:`~nnmath.analysis.as_objective` (or a Quadratic, returned).
        num_checks: random points the quadratic model is checked at.
        rtol: relative tolerance of the check (default 1e4·ε of the dtype).
        seed: for the check points.

    >>> import numpy as np, nnmath.numpy as mnp
    >>> as_quadratic(lambda w: (w[0] - 1) ** 2 + 3 * w[1] ** 2, np.zeros(2)).minimizer
    array([1., 0.])
    """
    if isinstance(f, Quadratic):
        return f
    obj = as_objective(f, params, **data)
    theta0 = obj.flat
    A = hessian_matrix(obj)
    L0, g0 = obj.value_and_grad_flat(theta0)
    rtol = 1e4 * np.finfo(obj.dtype).eps if rtol is None else rtol
    rng = as_generator(seed)
    for _ in range(num_checks):
        d = rng.standard_normal(obj.size).astype(obj.dtype)
        d *= (1 + np.linalg.norm(theta0)) / max(np.linalg.norm(d), 1e-300)
        model_v, model_g = L0 + g0 @ d + 0.5 * d @ (A @ d), g0 + A @ d
        v, g = obj.value_and_grad_flat(theta0 + d)
        scale_v = abs(L0) + abs(g0 @ d) + abs(0.5 * d @ (A @ d)) + 1e-300
        scale_g = np.linalg.norm(g0) + np.linalg.norm(A @ d) + 1e-300
        err_v, err_g = abs(v - model_v) / scale_v, np.linalg.norm(g - model_g) / scale_g
        if not (err_v <= rtol and err_g <= rtol):
            raise ValueError(
                f"f is not a quadratic function of its parameters: at a random point θ₀ + d its "
                f"value differs from the quadratic model L₀ + g₀ᵀd + ½dᵀHd by {err_v:.3g} and its "
                f"gradient by {err_g:.3g} (relative; tolerance {rtol:.3g}). A quadratic is "
                f"required here: pass a Quadratic, or a loss whose Hessian is constant")
    b = A @ theta0 - g0
    return Quadratic(A, b=b, c=float(L0 - 0.5 * theta0 @ (A @ theta0) + b @ theta0))


# --------------------------------------------------------------------------------------------
# Convergence rates
# --------------------------------------------------------------------------------------------

METHODS = ("gd", "heavy_ball", "nesterov", "adam")


def _default_hyper(method: str, q: Quadratic, lr: float | None, beta: float | None):
    mu, L = q.mu, q.L
    if method in ("heavy_ball", "nesterov") and mu <= 0 and (lr is None or beta is None):
        raise ValueError(f"convergence_rate: the optimal {method} parameters need μ > 0 (a "
                         f"strongly convex quadratic); this one has μ = 0: pass learning_rate "
                         f"and beta")
    if method == "gd":
        return (2.0 / (L + mu) if mu > 0 else 1.0 / L) if lr is None else lr, None
    if method == "heavy_ball":
        r = (math.sqrt(L) - math.sqrt(mu)) / (math.sqrt(L) + math.sqrt(mu)) if mu > 0 else 1.0
        return (4.0 / (math.sqrt(L) + math.sqrt(mu)) ** 2 if lr is None else lr,
                r ** 2 if beta is None else beta)
    if method == "nesterov":
        sk = math.sqrt(q.kappa) if mu > 0 else math.inf
        return 1.0 / L if lr is None else lr, ((sk - 1) / (sk + 1) if beta is None else beta)
    return 1e-2 if lr is None else lr, beta


def _theoretical_rate(method: str, lam: np.ndarray, lr: float, beta: float | None) -> float | None:
    """max over the eigenvalues λ of A of the spectral radius of one step's iteration matrix."""
    if method == "gd":
        return float(np.max(np.abs(1 - lr * lam)))
    if method == "heavy_ball":         # e_{k+1} = (1 + β − ηλ) e_k − β e_{k−1}
        a, c = 1 + beta - lr * lam, np.full_like(lam, beta)
    elif method == "nesterov":         # e_{k+1} = (1 + β)(1 − ηλ) e_k − β(1 − ηλ) e_{k−1}
        a, c = (1 + beta) * (1 - lr * lam), beta * (1 - lr * lam)
    else:
        return None
    disc = np.sqrt((a * a - 4 * c).astype(complex))
    return float(np.max(np.maximum(np.abs(a + disc), np.abs(a - disc)) / 2))


def _transform_for(method: str, lr: float, beta: float | None):
    from .. import optimizers as optim
    if method == "gd":
        return optim.sgd(lr)
    if method == "heavy_ball":
        return optim.heavy_ball(lr, beta)
    if method == "nesterov":
        return optim.nesterov(lr, beta)
    return optim.adam(lr) if beta is None else optim.adam(lr, b1=beta)


def _fit_rate(errors: np.ndarray) -> float:
    """exp of the least-squares slope of log ‖e_k‖ over the second half of the run."""
    k = np.arange(errors.size)
    keep = (k >= errors.size // 2) & (errors > 0) & np.isfinite(errors)
    if keep.sum() < 2:
        return float("nan")
    slope = np.polyfit(k[keep].astype(float), np.log(errors[keep].astype(float)), 1)[0]
    return float(np.exp(slope))


@dataclass
class ConvergenceRate(Result):
    """What :func:`convergence_rate` measured (rates are per iteration, of ‖θ_k − θ*‖).

    Attributes:
        method: "gd", "heavy_ball", "nesterov", "adam" or "transform".
        learning_rate, beta: the hyper-parameters used (None where not applicable/known).
        measured_rate: ρ̂ = exp(slope of log ‖θ_k − θ*‖) fitted over the second half of the run.
        theoretical_rate: the spectral radius of the iteration (None for Adam and transforms).
        mu, L, kappa: the quadratic's spectrum.
        num_iterations: iterations run; converged: ‖θ_k − θ*‖ ≤ tol·‖θ₀ − θ*‖ was reached;
        diverged: the error grew past 1e20·‖θ₀ − θ*‖ (or became non-finite).
        errors: ‖θ_k − θ*‖ for k = 0…num_iterations; gaps: f(θ_k) − f*.
        epsilon: the target gap f − f* (absolute); iterations_to_epsilon: the first k with
            f(θ_k) − f* ≤ ε (None if not reached).
        iterations_strongly_convex: ⌈log(L‖e₀‖²/2ε) / (2 log 1/ρ)⌉, the O(log 1/ε) count of a
            linear rate ρ = theoretical_rate (an upper bound for gradient descent, whose
            iteration matrix is symmetric).
        iterations_convex: ⌈L‖e₀‖²/2ε⌉, the O(1/ε) bound f(θ_k) − f* ≤ L‖θ₀ − θ*‖²/(2k) of
            gradient descent at η = 1/L on a convex (μ = 0 allowed) L-smooth function.
    """

    method: str
    learning_rate: float | None
    beta: float | None
    measured_rate: float
    theoretical_rate: float | None
    mu: float
    L: float
    kappa: float
    num_iterations: int
    converged: bool
    diverged: bool
    epsilon: float
    iterations_to_epsilon: int | None
    iterations_strongly_convex: int | None
    iterations_convex: int
    errors: np.ndarray = field(repr=False)
    gaps: np.ndarray = field(repr=False)

    @property
    def relative_error(self) -> float | None:
        """|log ρ̂ − log ρ| / |log ρ|: the error of the measured e-folding rate."""
        if self.theoretical_rate is None or not 0 < self.theoretical_rate < 1 or \
                not self.measured_rate > 0:
            return None
        return abs(math.log(self.measured_rate) / math.log(self.theoretical_rate) - 1)


def _as_quadratic_arg(quad: Any, params: Any, data: dict) -> tuple[Quadratic, np.ndarray | None]:
    if isinstance(quad, Quadratic):
        return quad, None
    if isinstance(quad, np.ndarray) and quad.ndim == 2:
        return Quadratic(quad), None
    if callable(quad) or isinstance(quad, Objective):
        q = as_quadratic(quad, params, **data)
        return q, np.asarray(as_objective(quad, params, **data).flat)
    raise TypeError(f"convergence_rate: quadratic must be a Quadratic, a symmetric matrix A or a "
                    f"loss_fn that is quadratic in its parameters (with params), got "
                    f"{type(quad).__name__}")


def convergence_rate(optimizer: Any, quadratic: Any, params: Any = None, *,
                     learning_rate: float | None = None, beta: float | None = None,
                     theta0: Any = None, tol: float = 1e-30, max_iter: int = 20_000,
                     epsilon: float = 1e-8, seed: Any = 0, **data: Any) -> ConvergenceRate:
    """Run an optimizer on a quadratic and compare its measured linear rate with the theory.

    On f(θ) = ½θᵀAθ − bᵀθ with spectrum μ ≤ λ ≤ L, κ = L/μ, the error e = θ − θ* obeys a linear
    recurrence, and the rate ρ (‖e_k‖ ~ ρᵏ) is the largest spectral radius over λ of one step's
    iteration matrix (reported as ``theoretical_rate`` for any η, β). At the optimal parameters
    (the defaults) it is:

    * gradient descent, η = 2/(L + μ): |1 − ηλ| ≤ (κ − 1)/(κ + 1);
    * heavy ball (Polyak 1964), η = 4/(√L + √μ)², β = ((√κ − 1)/(√κ + 1))²:
      e_{k+1} = (1 + β − ηλ)e_k − βe_{k−1}, ρ = √β = (√κ − 1)/(√κ + 1);
    * Nesterov (1983), η = 1/L, β = (√κ − 1)/(√κ + 1):
      e_{k+1} = (1 + β)(1 − ηλ)e_k − β(1 − ηλ)e_{k−1}, ρ = 1 − 1/√κ;
    * Adam (Kingma & Ba 2015): no linear-rate theory; measured only (default η = 0.01).

    The names run nnmath's own transforms: ``optimizers.sgd(η)``, ``optimizers.heavy_ball(η, β)``
    (v ← βv − η∇L, θ ← θ + v: Polyak's form exactly; ``sgd(η, momentum=β)``, PyTorch's
    v ← βv + g, θ ← θ − ηv, is the same trajectory for constant η, so η and β map one to one),
    ``optimizers.nesterov(η, β)`` (Sutskever et al. 2013's v ← βv − η∇L(θ + βv), θ ← θ + v;
    PyTorch's ``sgd(η, momentum=β, nesterov=True)`` again the same for constant η) and
    ``optimizers.adam(η)``. Any other ``(init, update)`` transform runs as given (measured only).

    The optimizer runs on the error e = θ − θ* (it sees the gradients Ae, the same numbers as at
    θ, and its ``params`` argument is θ* + e), so there is no rounding floor near θ* and the rate
    can be fitted over many e-folds: the run stops when ‖e_k‖ ≤ tol·‖e₀‖ (default 1e-30) or after
    ``max_iter``. ρ̂ is exp of the least-squares slope of log ‖e_k‖ over the second half of the run
    (where the slowest mode dominates; the k·ρᵏ of the double roots at the optimal momentum
    parameters biases it by about ln 2/(number of iterations in the window)).

    Iteration counts (``epsilon`` = target f − f*): measured; the O(log 1/ε) count of the linear
    rate; the O(1/ε) convex bound of gradient descent (see :class:`ConvergenceRate`).

    Args:
        optimizer: "gd", "heavy_ball", "nesterov", "adam" or a ``GradientTransformation``.
        quadratic: a :class:`Quadratic`, a symmetric PSD matrix A, or a loss (``loss_fn`` with
            ``params``, or any form of :func:`as_objective`) that is quadratic in its parameters
            — checked by :func:`as_quadratic`; anything else is an error.
        params: the parameters (for a loss; also its starting point unless ``theta0``).
        learning_rate, beta: override the optimal η and momentum β (β is Adam's β₁).
        theta0: the start (default θ* + Q z, z ~ N(0, I) with ``seed``, which excites every
            eigendirection).
        tol, max_iter: when to stop. epsilon: the target gap, relative to f(θ₀) − f*.

    Returns:
        :class:`ConvergenceRate`.

    >>> q = quadratic([1.0, 3.0, 10.0], seed=0)
    >>> r = convergence_rate("gd", q)
    >>> round(r.theoretical_rate, 6), round(r.measured_rate, 6)       # (κ−1)/(κ+1) = 9/11
    (0.818182, 0.818182)
    """
    from ..optimizers import GradientTransformation
    q, start = _as_quadratic_arg(quadratic, params, data)
    if isinstance(optimizer, str):
        if optimizer not in METHODS:
            raise ValueError(f"convergence_rate: optimizer must be one of {METHODS} or an nnmath "
                             f"(init, update) transform, got {optimizer!r}")
        method = optimizer
        lr, beta = _default_hyper(method, q, learning_rate, beta)
        transform = _transform_for(method, lr, beta)
        theory = _theoretical_rate(method, q.eigenvalues.astype(float), lr, beta)
    elif isinstance(optimizer, GradientTransformation):
        if learning_rate is not None or beta is not None:
            raise ValueError("convergence_rate: learning_rate and beta go with an optimizer "
                             "name; a transform already holds its own")
        method, lr, transform, theory = "transform", None, optimizer, None
    else:
        raise TypeError(f"convergence_rate: optimizer must be one of {METHODS} or an nnmath "
                        f"GradientTransformation, got {type(optimizer).__name__}")
    if not (isinstance(max_iter, numbers.Integral) and max_iter >= 4):
        raise ValueError(f"convergence_rate: max_iter must be an integer ≥ 4, got {max_iter!r}")
    A, star = q.A, q.minimizer
    if theta0 is not None:
        start = np.asarray(theta0, A.dtype)
        if start.shape != star.shape:
            raise ValueError(f"convergence_rate: theta0 must have shape {star.shape}, got "
                             f"{start.shape}")
    if start is None:
        start = star + q.eigenvectors @ as_generator(seed).standard_normal(q.dim).astype(A.dtype)
    e = start - star
    e0 = float(np.linalg.norm(e))
    if e0 == 0:
        raise ValueError("convergence_rate: the start is the minimiser already; pass another "
                         "theta0")
    state = transform.init(star + e)
    errors, gaps = [e0], [float(0.5 * e @ (A @ e))]
    converged = diverged = False
    for _ in range(max_iter):
        updates, state = transform.update(A @ e, state, star + e)
        e = e + np.asarray(updates)
        err = float(np.linalg.norm(e))
        errors.append(err)
        gaps.append(float(0.5 * e @ (A @ e)))
        if not math.isfinite(err) or err > 1e20 * e0:
            diverged = True
            break
        if err <= tol * e0:
            converged = True
            break
    errors, gaps = np.asarray(errors), np.asarray(gaps)
    eps_abs = epsilon * gaps[0]
    hit = np.nonzero(gaps <= eps_abs)[0]
    lin = None
    if theory is not None and 0 < theory < 1:
        lin = int(math.ceil(max(math.log(q.L * e0 ** 2 / (2 * eps_abs)), 0) /
                            (2 * math.log(1 / theory))))
    return ConvergenceRate(
        method=method, learning_rate=None if lr is None else float(lr),
        beta=None if beta is None else float(beta), measured_rate=_fit_rate(errors),
        theoretical_rate=theory, mu=q.mu, L=q.L, kappa=q.kappa, num_iterations=errors.size - 1,
        converged=converged, diverged=diverged, epsilon=float(eps_abs),
        iterations_to_epsilon=int(hit[0]) if hit.size else None, iterations_strongly_convex=lin,
        iterations_convex=int(math.ceil(q.L * e0 ** 2 / (2 * eps_abs))), errors=errors, gaps=gaps)


# --------------------------------------------------------------------------------------------
# The stable step size and the edge of stability
# --------------------------------------------------------------------------------------------

@dataclass
class StableLearningRate(Result):
    """2/λ_max: gradient descent's largest stable step at θ.

    Attributes:
        learning_rate: 2/λ_max (∞ when λ_max ≤ 0: no direction of positive curvature).
        sharpness: λ_max, the largest eigenvalue of the Hessian.
        converged: whether Lanczos met its tolerance; num_hvps: products used.
    """

    learning_rate: float
    sharpness: float
    converged: bool
    num_hvps: int


def stable_learning_rate(f: Any, params: Any = None, *, tol: float | None = None,
                         max_iter: int | None = None, seed: Any = 0,
                         **data: Any) -> StableLearningRate:
    """η_max = 2/λ_max(∇²L(θ)), the largest learning rate at which gradient descent is stable at θ.

    Linearised at θ, gradient descent maps a perturbation δ to (I − ηH)δ, which shrinks along
    every eigenvector iff |1 − ηλᵢ| < 1 for all λᵢ > 0, i.e. η < 2/λ_max (LeCun, Simard &
    Pearlmutter 1993; on a quadratic this is exact and global). λ_max is the top eigenvalue by
    Lanczos (:func:`~nnmath.analysis.hessian_top_eigenvalues`, ``which="algebraic"``).

    Args:
        f, params, **data: as :func:`~nnmath.analysis.as_objective`; or a ``CurvatureOperator``
            (e.g. ``ggn_operator(...)``: the Gauss–Newton stable step).
        tol, max_iter, seed: Lanczos settings (see ``hessian_top_eigenvalues``).

    Returns:
        :class:`StableLearningRate`.

    >>> q = quadratic([1.0, 4.0], seed=0)
    >>> round(stable_learning_rate(q, np.zeros(2)).learning_rate, 10)
    0.5
    """
    res = hessian_top_eigenvalues(f, params, k=1, which="algebraic", tol=tol, max_iter=max_iter,
                                  seed=seed, **data)
    lam = float(res.eigenvalues[0])
    return StableLearningRate(learning_rate=2.0 / lam if lam > 0 else math.inf, sharpness=lam,
                              converged=bool(np.all(res.converged)), num_hvps=int(res.num_hvps))


class EdgeOfStabilityMonitor(Callback):
    """Record the sharpness λ_max of the training loss's Hessian and 2/η during ``fit``.

    Cohen, Kaur, Li, Kolter & Talwalkar (2021), "Gradient descent on neural networks typically
    occurs at the edge of stability": under full-batch gradient descent λ_max rises
    (progressive sharpening) until it reaches 2/η, then hovers just above it while the loss keeps
    falling non-monotonically.

    Every ``every`` epochs (at the epoch's end; and after the last one) λ_max of the compiled loss
    (regularisers included, inference mode, state fixed) on the probe batch is computed by
    Lanczos (:func:`~nnmath.analysis.hessian_top_eigenvalues`) and added to the epoch's logs:
    ``"sharpness"`` and ``"2/lr"`` (2/η with η the optimizer's current learning rate). Other
    epochs get NaN, so ``history.history[key]`` has one value per epoch. The probe's Objective
    is built once (its products recorded with jit once).

    Args:
        probe_x, probe_y: the batch to measure the Hessian on (for full-batch training: the
            training set).
        every: measure every ``every`` epochs.
        tol, max_iter, seed: Lanczos settings.

    Attributes:
        epochs, sharpness, two_over_lr: the measurements (lists).

    >>> import numpy as np
    >>> from nnmath import keras
    >>> keras.utils.set_random_seed(0)
    >>> model = keras.Sequential([keras.layers.Dense(1, input_shape=(2,), dtype="float64")])
    >>> model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    >>> x = np.array([[1.0, 0.0], [0.0, 2.0]]); y = np.zeros((2, 1))
    >>> h = model.fit(x, y, epochs=2, verbose=0, callbacks=[EdgeOfStabilityMonitor(x, y)])
    >>> [round(v, 6) for v in h.history["sharpness"]]   # H = [[1,0,1],[0,4,2],[1,2,2]]: (7+√13)/2
    [5.302776, 5.302776]
    >>> h.history["2/lr"]
    [20.0, 20.0]
    """

    def __init__(self, probe_x: Any, probe_y: Any, *, every: int = 1, tol: float | None = None,
                 max_iter: int | None = None, seed: Any = 0):
        super().__init__()
        if probe_x is None or probe_y is None:
            raise ValueError("EdgeOfStabilityMonitor: probe_x and probe_y (the batch to measure "
                             "the Hessian on) are required")
        if not (isinstance(every, numbers.Integral) and every >= 1):
            raise ValueError(f"EdgeOfStabilityMonitor: every must be a positive integer, got "
                             f"{every!r}")
        self.probe_x, self.probe_y, self.every = probe_x, probe_y, int(every)
        self.tol, self.max_iter, self.seed = tol, max_iter, seed
        self.epochs: list[int] = []
        self.sharpness: list[float] = []
        self.two_over_lr: list[float] = []
        self._objective: Objective | None = None
        self._last_epoch: int | None = None

    def on_train_begin(self, logs=None):
        self._objective = as_objective(self.model, x=self.probe_x, y=self.probe_y)
        self._last_epoch = (self.params or {}).get("epochs")

    def measure(self) -> float:
        """λ_max at the model's current weights."""
        obj = self._objective or as_objective(self.model, x=self.probe_x, y=self.probe_y)
        theta = np.array(obj._vec(self.model.params), copy=True)
        op = LinearOperator((obj.size, obj.size), matvec=lambda v: obj.hvp_flat(v, theta),
                            dtype=obj.dtype)
        res = hessian_top_eigenvalues(op, tol=self.tol, max_iter=self.max_iter, seed=self.seed)
        return float(res.eigenvalues[0])

    def on_epoch_end(self, epoch, logs=None):
        if logs is None:
            return
        last = self._last_epoch is not None and epoch == self._last_epoch - 1
        if (epoch + 1) % self.every == 0 or last:
            lam, lr = self.measure(), float(self.model.optimizer.learning_rate)
            two = 2.0 / lr if lr > 0 else math.inf
            self.epochs.append(int(epoch))
            self.sharpness.append(lam)
            self.two_over_lr.append(two)
            logs.update({"sharpness": lam, "2/lr": two})
        else:
            logs.update({"sharpness": math.nan, "2/lr": math.nan})


# --------------------------------------------------------------------------------------------
# Gradient flow
# --------------------------------------------------------------------------------------------

class NonFiniteLossError(FloatingPointError):
    """The loss (or its gradient) became non-finite along the gradient flow.

    Attributes:
        t: the time at which it happened; theta: the (flat) parameters there;
        last_finite_t: the last time with a finite loss.
    """

    def __init__(self, message: str, t: float, theta: np.ndarray, last_finite_t: float):
        super().__init__(message)
        self.t, self.theta, self.last_finite_t = t, theta, last_finite_t


class _Stop(Exception):
    def __init__(self, t, theta, value):
        self.t, self.theta, self.value = t, theta, value


@dataclass
class GradientFlowResult(Result):
    """The gradient flow dθ/dt = −∇L(θ) (flat parameters) and its checks.

    Attributes:
        t: the times; theta: θ(t) (len(t) × P); loss: L(θ(t)); grad_norm: ‖∇L(θ(t))‖, so that
            dL/dt = −grad_norm² ≤ 0.
        is_lyapunov: L is non-increasing along the solution (up to the solver's tolerance);
        max_loss_increase: the largest L(t_{i+1}) − L(t_i) (≤ 0 for an exact flow).
        learning_rate: η of the comparison with gradient descent (None if not asked);
        gd_theta: the gradient-descent iterates θ_k (k = 0…K, kη ≤ t_end);
        flow_at_gd: θ(t₀ + kη) from the solver's dense output;
        gd_deviation: ‖θ_k − θ(t₀ + kη)‖ for each k (O(η) over a fixed time: GD is the explicit
            Euler method of the flow).
        num_evaluations: gradient evaluations of the solver; message: the solver's.
    """

    t: np.ndarray
    theta: np.ndarray = field(repr=False)
    loss: np.ndarray = field(repr=False)
    grad_norm: np.ndarray = field(repr=False)
    is_lyapunov: bool
    max_loss_increase: float
    learning_rate: float | None
    gd_theta: np.ndarray | None = field(repr=False)
    flow_at_gd: np.ndarray | None = field(repr=False)
    gd_deviation: np.ndarray | None = field(repr=False)
    num_evaluations: int
    message: str


def gradient_flow(f: Any, params: Any = None, t_span: tuple[float, float] = (0.0, 1.0), *,
                  t_eval: Any = None, learning_rate: float | None = None, method: str = "RK45",
                  rtol: float = 1e-8, atol: float = 1e-10, **data: Any) -> GradientFlowResult:
    """Solve the gradient flow dθ/dt = −∇L(θ), θ(t₀) = θ₀, with ``scipy.integrate.solve_ivp``.

    Gradient descent θ_{k+1} = θ_k − η∇L(θ_k) is the explicit Euler method for this ODE, so
    θ_k ≈ θ(t₀ + kη) with a global error O(η) over a fixed time. Along the flow
    dL/dt = ∇Lᵀθ̇ = −‖∇L‖² ≤ 0: L is a Lyapunov function, strictly decreasing away from critical
    points (checked at the output times, up to the solver's tolerance). On a quadratic,
    θ(t) = θ* + exp(−At)(θ₀ − θ*). (The continuous-time view: e.g. Saxe, McClelland & Ganguli
    2014; Elkabetz & Cohen 2021; the reference docs' "Continuous-Time Limit".)

    Args:
        f, params, **data: as :func:`~nnmath.analysis.as_objective`.
        t_span: (t₀, t_end).
        t_eval: output times (default: 101 equally spaced).
        learning_rate: also run gradient descent with this η for ⌊(t_end − t₀)/η⌋ steps and
            compare θ_k with θ(t₀ + kη).
        method, rtol, atol: solver settings (``"LSODA"`` or ``"Radau"`` for stiff problems:
            ill-conditioned Hessians). The integrator's own state is float64 (scipy's); every
            gradient is computed, and θ(t) returned, in the parameters' dtype.

    Returns:
        :class:`GradientFlowResult`.

    Raises:
        NonFiniteLossError: the loss or gradient became non-finite (or the solver could not
            continue, as at a finite-time blow-up); the message and ``.t`` say at which t.

    >>> q = Quadratic(np.diag([1.0, 2.0]))
    >>> r = gradient_flow(q, np.array([1.0, 1.0]), (0.0, 1.0), t_eval=[1.0])
    >>> np.round(r.theta[-1], 6), np.round(np.exp([-1.0, -2.0]), 6)     # e^{−At} θ₀
    (array([0.367879, 0.135335]), array([0.367879, 0.135335]))
    """
    obj = as_objective(f, params, **data)
    t0, t1 = (float(v) for v in t_span)
    if not t1 > t0:
        raise ValueError(f"gradient_flow: t_span must be (t0, t_end) with t_end > t0, got "
                         f"{t_span!r}")
    if t_eval is None:
        t_eval = np.linspace(t0, t1, 101)
    t_eval = np.asarray(t_eval, float)
    if t_eval.ndim != 1 or np.any(t_eval < t0) or np.any(t_eval > t1):
        raise ValueError(f"gradient_flow: t_eval must be 1-D times in [{t0}, {t1}]")
    last = {"t": t0}

    def rhs(t, theta):
        theta = theta.astype(obj.dtype, copy=False)
        value, g = obj.value_and_grad_flat(theta) if np.all(np.isfinite(theta)) else \
            (math.nan, None)
        if not math.isfinite(value) or g is None or not np.all(np.isfinite(g)):
            raise _Stop(t, theta, value)
        last["t"] = t
        return -g

    def fail(t, theta, why):
        raise NonFiniteLossError(
            f"gradient_flow: {why} at t = {t:.6g} (the last finite loss was at t = "
            f"{last['t']:.6g}); the flow diverges or leaves the loss's domain there — shorten "
            f"t_span or check the loss", t, theta, last["t"])

    try:                        # non-finite values are caught and reported, not warned about
        with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
            sol = solve_ivp(rhs, (t0, t1), obj.flat.astype(float), method=method, t_eval=t_eval,
                            dense_output=learning_rate is not None, rtol=rtol, atol=atol)
    except _Stop as stop:
        fail(stop.t, stop.theta, f"the loss became non-finite ({stop.value})")
    if sol.status == -1:
        fail(float(last["t"]), None, f"the solver stopped ({sol.message})")
    theta = sol.y.T.astype(obj.dtype)
    vg = [obj.value_and_grad_flat(th) for th in theta]
    loss = np.array([v for v, _ in vg])
    gnorm = np.array([np.linalg.norm(g) for _, g in vg])
    increase = float(np.max(np.diff(loss))) if loss.size > 1 else 0.0
    slack = 10 * (rtol * np.max(np.abs(loss)) + atol * (1 + float(np.max(gnorm))))
    gd = flow_gd = dev = None
    if learning_rate is not None:
        if not (isinstance(learning_rate, numbers.Real) and learning_rate > 0):
            raise ValueError(f"gradient_flow: learning_rate must be a positive number, got "
                             f"{learning_rate!r}")
        steps = int(math.floor((t1 - t0) / learning_rate + 1e-9))
        gd = [obj.flat.copy()]
        for _ in range(steps):
            gd.append(gd[-1] - learning_rate * obj.grad_flat(gd[-1]))
        gd = np.asarray(gd)
        flow_gd = sol.sol(t0 + learning_rate * np.arange(steps + 1)).T.astype(obj.dtype)
        dev = np.linalg.norm(gd - flow_gd, axis=1)
    return GradientFlowResult(
        t=sol.t, theta=theta, loss=loss, grad_norm=gnorm, is_lyapunov=increase <= slack,
        max_loss_increase=increase, learning_rate=None if learning_rate is None else
        float(learning_rate), gd_theta=gd, flow_at_gd=flow_gd, gd_deviation=dev,
        num_evaluations=int(sol.nfev), message=str(sol.message))


# --------------------------------------------------------------------------------------------
# Spectral bias
# --------------------------------------------------------------------------------------------

@dataclass
class SpectralBiasResult(Result):
    """The Fourier spectrum of the learned function over training.

    Attributes:
        frequencies: the frequencies k tracked (cycles over the grid's period).
        epochs: the epochs at which the function was recorded (0 = before training).
        target_amplitudes: |f̂*(k)| of the target.
        amplitudes: |f̂_θ(k)| of the model (len(epochs) × len(frequencies)).
        relative_errors: |f̂_θ(k) − f̂*(k)| / |f̂*(k)| (complex coefficients: phase counts).
        learned_epoch: for each frequency the first recorded epoch with relative error
            ≤ ``threshold`` (None if never).
        threshold: that threshold; loss: the training loss at each recorded epoch.
    """

    frequencies: np.ndarray
    epochs: np.ndarray
    target_amplitudes: np.ndarray
    amplitudes: np.ndarray
    relative_errors: np.ndarray
    learned_epoch: list
    threshold: float
    loss: np.ndarray


class _Recorder(Callback):
    def __init__(self, every, record):
        super().__init__()
        self.every, self.record = every, record

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every == 0:
            self.record(epoch + 1, (logs or {}).get("loss", math.nan))


def spectral_bias(model_builder: Callable[[], Any], target_fn: Callable[[np.ndarray], Any], *,
                  num_points: int = 64, epochs: int = 200, record_every: int = 10,
                  frequencies: Sequence[int] | None = None, threshold: float = 0.1,
                  batch_size: int | None = None, dtype: Any = None) -> SpectralBiasResult:
    """Train a model on a 1-D target and track the Fourier coefficients of the learned function.

    Rahaman et al. (2019), "On the spectral bias of neural networks": gradient descent fits the
    low-frequency components of a target first. On the periodic grid x_j = j/N (j = 0…N−1) the
    discrete Fourier coefficients f̂(k) = Σ_j f(x_j) e^{−2πikj/N} (``numpy.fft.rfft``) of the
    model's output and of the target are compared frequency by frequency at every
    ``record_every`` epochs: relative error |f̂_θ(k) − f̂*(k)| / |f̂*(k)|.

    Args:
        model_builder: ``() -> compiled Model`` mapping inputs of shape (N, 1) to (N, 1); trained
            full-batch (unless ``batch_size``) on (x, target(x)) with ``fit``.
        target_fn: the target, a function of x ∈ [0, 1) (vectorised), e.g.
            ``lambda x: np.sin(2πx) + np.sin(2π·5x)``.
        num_points: N, grid points (frequencies up to N/2 are resolved).
        epochs, record_every: training length and recording interval.
        frequencies: the k to track (default: those with |f̂*(k)| ≥ 1% of the largest, k ≥ 1).
        threshold: the relative error at which a frequency counts as learned.
        batch_size: ``fit``'s batch size (default: the whole grid, i.e. gradient descent).
        dtype: the grid's dtype (default: the model's first weight's).

    The loss recorded at epoch 0 is the mean squared error of the untrained model; later ones
    are ``fit``'s (the compiled loss).

    Returns:
        :class:`SpectralBiasResult`.

    >>> import numpy as np
    >>> from nnmath import keras
    >>> def build():
    ...     keras.utils.set_random_seed(0)
    ...     m = keras.Sequential([keras.layers.Dense(1, input_shape=(1,), dtype="float64")])
    ...     m.compile(optimizer=keras.optimizers.SGD(0.5), loss="mse")
    ...     return m
    >>> r = spectral_bias(build, lambda x: x, num_points=8, epochs=20, record_every=10)
    >>> r.frequencies.tolist(), r.epochs.tolist()
    ([1, 2, 3, 4], [0, 10, 20])
    """
    for name, v in (("num_points", num_points), ("epochs", epochs),
                    ("record_every", record_every)):
        if not (isinstance(v, numbers.Integral) and v >= 1):
            raise ValueError(f"spectral_bias: {name} must be a positive integer, got {v!r}")
    if num_points < 4:
        raise ValueError(f"spectral_bias: num_points must be at least 4, got {num_points}")
    model = model_builder()
    if getattr(model, "loss", None) is None:
        raise TypeError("spectral_bias: model_builder must return a compiled Model (call "
                        "model.compile(optimizer=..., loss=...) in it)")
    leaves = [a for ws in model.params.values() for a in ws.values()]
    if not leaves:
        raise ValueError("spectral_bias: model_builder must return a built model with weights "
                         "(give its first layer input_shape=(1,))")
    dtype = leaves[0].dtype if dtype is None else np.dtype(dtype)
    x = (np.arange(num_points) / num_points).astype(dtype)[:, None]
    y = np.asarray(target_fn(x[:, 0]), dtype).reshape(num_points, 1)
    target_hat = np.fft.rfft(y[:, 0].astype(float))
    if frequencies is None:
        amp = np.abs(target_hat)
        freqs = np.array([k for k in range(1, amp.size) if amp[k] >= 0.01 * amp[1:].max()])
    else:
        freqs = np.asarray(frequencies, int)
        if freqs.ndim != 1 or np.any(freqs < 0) or np.any(freqs >= target_hat.size):
            raise ValueError(f"spectral_bias: frequencies must be integers in [0, "
                             f"{target_hat.size - 1}] for num_points={num_points}, got "
                             f"{frequencies!r}")
    if freqs.size == 0 or np.any(np.abs(target_hat[freqs]) == 0):
        raise ValueError("spectral_bias: the target has no energy at the tracked frequencies "
                         "(its relative errors are undefined)")
    rec_epochs, coeffs, losses = [], [], []

    def record(epoch, loss):
        out = np.asarray(model.apply(model.params, x, training=False)).reshape(num_points)
        rec_epochs.append(epoch)
        coeffs.append(np.fft.rfft(out.astype(float))[freqs])
        losses.append(loss)

    record(0, float(np.mean((np.asarray(model.apply(model.params, x, training=False)) - y) ** 2)))
    model.fit(x, y, epochs=epochs, batch_size=num_points if batch_size is None else batch_size,
              verbose=0, shuffle=False, callbacks=[_Recorder(record_every, record)])
    coeffs = np.asarray(coeffs)
    rel = np.abs(coeffs - target_hat[freqs]) / np.abs(target_hat[freqs])
    learned = []
    for j in range(freqs.size):
        hit = np.nonzero(rel[:, j] <= threshold)[0]
        learned.append(int(rec_epochs[hit[0]]) if hit.size else None)
    return SpectralBiasResult(
        frequencies=freqs, epochs=np.asarray(rec_epochs), target_amplitudes=np.abs(
            target_hat[freqs]), amplitudes=np.abs(coeffs), relative_errors=rel,
        learned_epoch=learned, threshold=float(threshold), loss=np.asarray(losses, float))
