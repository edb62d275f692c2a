"""The Hessian of a loss, known only by its products: extreme eigenvalues (Lanczos), trace and
diagonal (Hutchinson / Bekas), spectral density (stochastic Lanczos quadrature), the type of a
critical point, and sharpness.

Every tool takes what :func:`~nnmath.analysis.as_objective` takes — ``loss_fn(params)``,
``apply_fn(params, x)`` with ``x``, ``y``, ``loss``, or a compiled Model with ``x``, ``y`` —
and the spectral tools (eigenvalues, trace, diagonal, density) also take a
:class:`~nnmath.analysis.CurvatureOperator` (a GGN or Fisher operator) or any symmetric
``scipy.sparse.linalg.LinearOperator`` in place of ``f``, so the same routine gives GGN and Fisher
spectra. All arithmetic is in the parameters' dtype; products are Hessian-vector products
(Pearlmutter 1994), one pass per data batch — the Hessian is never formed (for a dense one, use
:func:`~nnmath.analysis.hessian_matrix`).

Stochastic estimators draw their probes from ``seed`` (an int or a ``numpy.random.Generator``) and
report a standard error: the sample standard deviation over the probes divided by √n.
"""
from __future__ import annotations

import numbers
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.optimize
from scipy.sparse.linalg import LinearOperator

from . import _executor
from ._checks import check_count
from ._lanczos import WHICH, Lanczos, lanczos_eigs
from ._objective import Objective, as_generator, as_objective
from ._results import Result
from .curvature import MAX_DENSE_BYTES

__all__ = [
    "hessian_top_eigenvalues", "hessian_trace", "hessian_diagonal", "hessian_spectral_density",
    "classify_critical_point", "sharpness", "EigenResult", "TraceResult", "DiagonalResult",
    "SpectralDensityResult", "CriticalPointResult", "SharpnessResult",
]

#: Probes per vectorised pass in the stochastic estimators (memory: this many HVPs of one batch).
PROBE_CHUNK = 16


# --------------------------------------------------------------------------------------------
# The operator a tool works on
# --------------------------------------------------------------------------------------------

class _Op:
    """A symmetric P × P operator: Hessian of an Objective, or a given LinearOperator."""

    def __init__(self, f: Any, params: Any, data: dict, who: str, allow_operator: bool = True):
        self.objective: Objective | None = None
        self.operator: LinearOperator | None = None
        self.num_products = 0
        self.vectorise = True       # probes several per pass (falls back to a loop if vmap can't)
        if isinstance(f, LinearOperator):
            if not allow_operator:
                raise TypeError(f"{who}: needs the loss itself (its value and gradient), not a "
                                f"{type(f).__name__}: pass loss_fn(params), apply_fn with x, y, "
                                f"loss, or a compiled Model with x, y")
            if params is not None or data:
                given = ["params"] * (params is not None) + sorted(data)
                raise ValueError(f"{who}: f is a {type(f).__name__}, which already holds its "
                                 f"parameters and data; got {', '.join(given)} as well")
            if len(f.shape) != 2 or f.shape[0] != f.shape[1]:
                raise ValueError(f"{who}: the operator must be square, got shape {f.shape}")
            self.operator = f
            self.objective = getattr(f, "objective", None)
            self.size = int(f.shape[0])
            dtype = np.dtype(f.dtype if f.dtype is not None else np.float64)
            self.dtype = dtype if dtype.kind == "f" else np.dtype(np.float64)
            self.kind = getattr(f, "kind", "operator")
        else:
            self.objective = as_objective(f, params, **data)
            self.size, self.dtype, self.kind = self.objective.size, self.objective.dtype, "hessian"

    def matvec(self, v: np.ndarray) -> np.ndarray:
        self.num_products += 1
        if self.operator is not None:
            return np.asarray(self.operator.matvec(v)).reshape(-1)
        return self.objective.hvp_flat(v)

    def matmat(self, V: np.ndarray) -> np.ndarray:
        """A V for the rows of V (s × P → s × P): for a Hessian, vectorised over the rows with
        :func:`nnmath.vmap` (several probes per pass), chunks of :data:`PROBE_CHUNK`."""
        if self.operator is None and self.vectorise:
            try:
                out = [self.objective.hvp_rows_flat(V[i:i + PROBE_CHUNK])
                       for i in range(0, len(V), PROBE_CHUNK)]
                self.num_products += len(V)
                return np.concatenate(out)
            except (NotImplementedError, TypeError) as e:   # a primitive vmap cannot batch
                if isinstance(e, TypeError) and "batched" not in str(e):
                    raise
                self.vectorise = False
        return np.stack([self.matvec(v) for v in V])

    def unravel(self, v: np.ndarray) -> Any:
        return v if self.objective is None else self.objective.unravel(v)


@dataclass
class _Finished:
    """A probe's finished Lanczos run: T's eigenvalues θ, eigenvectors S, steps m."""
    theta: np.ndarray
    S: np.ndarray
    m: int


def _rademacher(rng: np.random.Generator, shape: tuple, dtype) -> np.ndarray:
    return rng.choice(np.array([-1.0, 1.0], dtype), size=shape)


def _eig_settings(op: _Op, k: int, tol: float | None, max_iter: int | None, who: str):
    tol = float(np.sqrt(np.finfo(op.dtype).eps)) if tol is None else float(tol)
    if not tol > 0:
        raise ValueError(f"{who}: tol must be positive, got {tol}")
    if max_iter is None:
        return tol, min(max(100, 10 * k), op.size)
    max_iter = check_count(max_iter, "max_iter", who)
    if max_iter < k:
        raise ValueError(f"{who}: max_iter={max_iter} Lanczos steps cannot give k={k} "
                         f"eigenvalues; max_iter must be at least k")
    return tol, min(max_iter, op.size)


# --------------------------------------------------------------------------------------------
# Extreme eigenvalues
# --------------------------------------------------------------------------------------------

@dataclass
class EigenResult(Result):
    """Extreme eigenvalues of a curvature matrix (see :func:`hessian_top_eigenvalues`).

    Attributes:
        eigenvalues: the k eigenvalues, in the order asked for.
        residual_norms: ‖H vᵢ − λᵢ vᵢ‖ of each pair (unit vᵢ), from the Lanczos recurrence.
        converged: every residual ≤ tol · ‖H‖ (or the Krylov space was exhausted: exact).
        num_iterations: Lanczos steps taken.
        num_hvps: curvature-vector products computed.
        which: "algebraic", "magnitude" or "smallest".
        kind: the matrix: "hessian", "ggn", "fisher_empirical", "fisher_true" or "operator".
        eigenvectors: None unless asked; a list of k pytrees like the parameters (flat vectors
            for a plain LinearOperator).
        eigenvectors_flat: None unless asked; the P × k matrix of unit eigenvectors (columns).
    """
    eigenvalues: np.ndarray
    residual_norms: np.ndarray
    converged: bool
    num_iterations: int
    num_hvps: int
    which: str
    kind: str
    eigenvectors: list | None = field(default=None, repr=False)
    eigenvectors_flat: np.ndarray | None = field(default=None, repr=False)


def hessian_top_eigenvalues(f: Any, params: Any = None, k: int = 1, which: str = "algebraic", *,
                            return_eigenvectors: bool = False, tol: float | None = None,
                            max_iter: int | None = None, seed: Any = 0,
                            **data: Any) -> EigenResult:
    """The k extreme eigenvalues of the Hessian H = ∇²L(θ) by Lanczos with full
    reorthogonalisation (Lanczos 1950; Golub & Van Loan 2013 §10.1; Ghorbani, Krishnan & Xiao
    2019 for neural networks).

    m steps of Lanczos from a random unit vector build T = QᵀHQ on the Krylov space
    K_m = span{q, Hq, …, H^{m−1}q}; the Ritz values (eigenvalues of T) converge first to the
    extremes of the spectrum. A Ritz pair (θ, y = Qs) has ‖Hy − θy‖ = |β_m s_m|; iteration stops
    when the k wanted pairs have ‖Hy − θy‖ ≤ tol · ‖H‖. ``which="algebraic"`` gives the k largest
    eigenvalues λ₁ ≥ λ₂ ≥ … (the *top* of the spectrum, so a negative curvature of large
    magnitude is not reported as the top — power iteration, as in PyHessian, converges to the
    eigenvalue largest in |λ|, which is ``which="magnitude"``); ``"smallest"`` gives the k
    smallest, ascending.

    Args:
        f, params, **data: as :func:`~nnmath.analysis.as_objective`; or a CurvatureOperator
            (``ggn_operator(...)``, ``fisher_operator(...)``) or any symmetric LinearOperator,
            for the eigenvalues of that matrix (then no params or data).
        k: how many eigenvalues (1 ≤ k ≤ P).
        which: "algebraic" (default), "magnitude" or "smallest".
        return_eigenvectors: also return the unit eigenvectors (as pytrees like params).
        tol: relative residual tolerance (default √ε of the dtype, 1.5e-8 in float64: the
            eigenvalues are then accurate to about tol² · ‖H‖ / gap).
        max_iter: most Lanczos steps = products (default max(100, 10k), at most P; with P steps
            the result is exact). Not converging warns (RuntimeWarning), with ``converged=False``.
        seed: the random start vector's seed (int or Generator).

    Returns:
        :class:`EigenResult` (``eigenvalues``, ``residual_norms``, ``converged``, ``num_hvps``,
        ``eigenvectors``).

    >>> import numpy as np, nnmath.numpy as mnp
    >>> loss = lambda w: w[0] ** 2 - 3 * w[1] ** 2 + 0.5 * w[2] ** 2    # H = diag(2, −6, 1)
    >>> hessian_top_eigenvalues(loss, np.zeros(3), k=2).eigenvalues
    array([2., 1.])
    >>> hessian_top_eigenvalues(loss, np.zeros(3), which="magnitude").eigenvalues
    array([-6.])
    """
    who = "hessian_top_eigenvalues"
    if which not in WHICH:
        raise ValueError(f"{who}: which must be one of {WHICH}, got {which!r}")
    k = check_count(k, "k", who)
    op = _Op(f, params, data, who)
    if k > op.size:
        raise ValueError(f"{who}: k={k} eigenvalues asked for, but the matrix is {op.size} × "
                         f"{op.size} ({op.size} parameters): k must be at most {op.size}")
    tol, max_iter = _eig_settings(op, k, tol, max_iter, who)
    values, vectors, res, converged, steps = lanczos_eigs(
        op.matvec, op.size, op.dtype, k, which, tol, max_iter, as_generator(seed),
        return_eigenvectors, who)
    trees = None if vectors is None else [op.unravel(vectors[:, i]) for i in range(k)]
    return EigenResult(eigenvalues=values, residual_norms=res, converged=converged,
                       num_iterations=steps, num_hvps=op.num_products, which=which, kind=op.kind,
                       eigenvectors=trees, eigenvectors_flat=vectors)


# --------------------------------------------------------------------------------------------
# Trace and diagonal
# --------------------------------------------------------------------------------------------

@dataclass
class TraceResult(Result):
    """A stochastic trace estimate (see :func:`hessian_trace`).

    Attributes:
        estimate: the mean of ``samples``.
        standard_error: the samples' standard deviation (ddof 1) / √n.
        num_samples: n, the number of random probes in ``samples``.
        samples: Hutchinson: the n values zᵢᵀ H zᵢ; Hutch++: the n values
            tr(QᵀHQ) + gᵢᵀ(I − QQᵀ)H(I − QQᵀ)gᵢ.
        num_hvps: curvature-vector products computed (Hutch++: the sketch and QᵀH included).
        method: ``"hutchinson"`` or ``"hutch++"``.
        low_rank_trace: Hutch++'s exact part tr(QᵀHQ) on the sketched subspace (0 for Hutchinson).
        sketch_rank: the number of columns of Q (0 for Hutchinson).
    """
    estimate: float
    standard_error: float
    num_samples: int
    samples: np.ndarray
    num_hvps: int
    method: str = "hutchinson"
    low_rank_trace: float = 0.0
    sketch_rank: int = 0


def hessian_trace(f: Any, params: Any = None, num_samples: int = 100, *, seed: Any = 0,
                  method: str = "hutchinson", executor: Any = None, **data: Any) -> TraceResult:
    """tr H by a stochastic estimator with Rademacher probes z ∈ {−1, +1}^P.

    ``method="hutchinson"`` (Hutchinson 1990; Avron & Toledo 2011; Yao et al. 2020, PyHessian):

        tr H ≈ (1/n) Σᵢ zᵢᵀ H zᵢ,

    unbiased, with variance 2 Σ_{j≠k} H_jk² per sample (the least among probe distributions); it
    is exact for a diagonal H.

    ``method="hutch++"`` (Meyer, Musco, Musco & Woodruff 2021), for the same budget of m HVPs:
    a sketch Q = orth(H S) from k = ⌊m/3⌋ probes S, then

        tr H ≈ tr(QᵀHQ) + (1/n) Σᵢ gᵢᵀ(I − QQᵀ) H (I − QQᵀ)gᵢ,   n = m − 2k,

    unbiased for any Q (tr H = tr(QᵀHQ) + tr((I − QQᵀ)H(I − QQᵀ))); the first term is exact, so
    only the deflated matrix's Hutchinson variance remains: far less when a few eigenvalues carry
    much of the Frobenius norm — the outliers of a trained network's Hessian (Ghorbani et al.
    2019). Exact when rank H ≤ k. The standard error is conditional on the sketch Q. It holds
    the sketch in memory (k vectors of P numbers, twice).

    Probes are applied several per pass (vectorised HVPs).

    Args:
        f, params, **data: as :func:`hessian_top_eigenvalues` (a function, a Model, or an
            operator).
        num_samples: Hutchinson: n ≥ 2 probes; Hutch++: the total number of HVPs m ≥ 4.
        seed: int or Generator for the probes.
        method: ``"hutchinson"`` or ``"hutch++"``.
        executor: a ``concurrent.futures.Executor`` to apply the probe blocks on (see
            :mod:`nnmath.distributed`); the same probes as the serial run, the same result bit
            for bit (Hutchinson only: Hutch++'s three phases depend on each other).

    Returns:
        :class:`TraceResult` (``estimate``, ``standard_error`` = std/√n, ``num_samples``,
        ``samples``, ``method``; Hutch++ also ``low_rank_trace`` and ``sketch_rank``).

    >>> import numpy as np, nnmath.numpy as mnp
    >>> r = hessian_trace(lambda w: mnp.sum(w ** 2 * np.arange(1.0, 5.0)), np.ones(4), 10)
    >>> r.estimate, r.standard_error                   # diagonal H = diag(2, 4, 6, 8): exact
    (20.0, 0.0)
    >>> u = 2.0 ** -np.arange(4)            # H = 2uuᵀ (rank 1), tr H = 2‖u‖² = 2.65625; z·u ≠ 0
    >>> r = hessian_trace(lambda w: mnp.dot(u, w) ** 2, np.zeros(4), 6, method="hutch++")
    >>> round(r.estimate, 10), round(r.standard_error, 10), r.sketch_rank    # exact: rank ≤ k
    (2.65625, 0.0, 2)
    """
    who = "hessian_trace"
    if method not in ("hutchinson", "hutch++"):
        raise ValueError(f"{who}: method must be 'hutchinson' or 'hutch++', got {method!r}")
    if method == "hutch++":
        if executor is not None:
            raise ValueError(f"{who}: executor= works with method='hutchinson' only (Hutch++'s "
                             "sketch, projection and residual phases depend on each other)")
        m = check_count(num_samples, "num_samples", who, minimum=4)
        return _hutchpp(_Op(f, params, data, who), m, as_generator(seed))
    n = check_count(num_samples, "num_samples", who, minimum=2)
    op = _Op(f, params, data, who)
    rng, samples = as_generator(seed), []
    if executor is not None:
        samples = _probes_on(executor, who, op, f, params, data, rng, n, "trace")
    else:
        for i in range(0, n, PROBE_CHUNK):          # memory: PROBE_CHUNK probes at a time
            Z = _rademacher(rng, (min(PROBE_CHUNK, n - i), op.size), op.dtype)
            samples.append(np.einsum("ij,ij->i", Z, op.matmat(Z)))
    samples = np.concatenate(samples)
    return TraceResult(estimate=float(samples.mean()),
                       standard_error=float(samples.std(ddof=1) / np.sqrt(n)),
                       num_samples=n, samples=samples, num_hvps=op.num_products)


def _hutchpp(op: _Op, m: int, rng: np.random.Generator) -> TraceResult:
    """Hutch++ with m products: k = ⌊m/3⌋ for the sketch H S, k for H Q, m − 2k residual probes."""
    k = min(m // 3, op.size)
    S = _rademacher(rng, (k, op.size), op.dtype)
    Q = np.linalg.qr(op.matmat(S).T)[0]                   # P × k, orthonormal columns
    low_rank = float(np.einsum("pk,kp->", Q, op.matmat(Q.T)))          # tr(QᵀHQ)
    G = _rademacher(rng, (m - 2 * k, op.size), op.dtype)
    G -= (G @ Q) @ Q.T                                    # rows (I − QQᵀ)gᵢ
    samples = low_rank + np.einsum("ij,ij->i", G, op.matmat(G))
    n = len(samples)
    return TraceResult(estimate=float(samples.mean()),
                       standard_error=float(samples.std(ddof=1) / np.sqrt(n)),
                       num_samples=n, samples=samples, num_hvps=op.num_products,
                       method="hutch++", low_rank_trace=low_rank, sketch_rank=int(Q.shape[1]))


@dataclass
class DiagonalResult(Result):
    """The Hessian's diagonal (see :func:`hessian_diagonal`).

    Attributes:
        diagonal: diag H as a pytree like the parameters (a flat vector for a LinearOperator).
        standard_error: per entry, like ``diagonal`` (zeros when exact).
        diagonal_flat, standard_error_flat: the same as flat vectors.
        num_samples: probes used (P unit vectors when exact).
        exact: computed with unit vectors.
        num_hvps: curvature-vector products computed.
    """
    diagonal: Any
    standard_error: Any
    diagonal_flat: np.ndarray
    standard_error_flat: np.ndarray
    num_samples: int
    exact: bool
    num_hvps: int


def hessian_diagonal(f: Any, params: Any = None, num_samples: int = 100, *, exact: bool = False,
                     seed: Any = 0, executor: Any = None, **data: Any) -> DiagonalResult:
    """diag H by the stochastic estimator of Bekas, Kokiopoulou & Saad (2007):

        diag H ≈ (Σₖ vₖ ⊙ H vₖ) ⊘ (Σₖ vₖ ⊙ vₖ),   vₖ ∈ {−1, +1}^P uniform,

    which for Rademacher probes is the mean of vₖ ⊙ H vₖ, unbiased, with entry i's variance
    Σ_{j≠i} H_ij² per probe; the standard error is the per-entry sample std / √n. ``exact=True``
    uses the P unit vectors instead (H_ii = (H eᵢ)ᵢ; P products, for small models).

    Args:
        f, params, **data: as :func:`hessian_top_eigenvalues`.
        num_samples: probes (≥ 2; ignored when ``exact``).
        exact: unit vectors instead of random probes.
        seed: int or Generator for the probes.
        executor: as :func:`hessian_trace` (the blocks of probes or unit vectors on it).

    Returns:
        :class:`DiagonalResult` (``diagonal`` and ``standard_error`` as pytrees like params, and
        as flat vectors).

    >>> import numpy as np, nnmath.numpy as mnp
    >>> loss = lambda p: mnp.sum(p["a"] ** 2) * 1.5 + p["a"][0] * p["b"]
    >>> hessian_diagonal(loss, {"a": np.ones(2), "b": np.array(0.0)}, exact=True).diagonal
    {'a': array([3., 3.]), 'b': array(0.)}
    """
    who = "hessian_diagonal"
    op = _Op(f, params, data, who)
    if exact:
        est = np.empty(op.size, op.dtype)
        if executor is not None:
            est[:] = np.concatenate(_probes_on(executor, who, op, f, params, data, None, op.size,
                                               "unit"))
        else:
            for i in range(0, op.size, PROBE_CHUNK):
                idx = np.arange(i, min(i + PROBE_CHUNK, op.size))
                E = np.zeros((len(idx), op.size), op.dtype)
                E[np.arange(len(idx)), idx] = 1
                est[idx] = op.matmat(E)[np.arange(len(idx)), idx]
        se, n = np.zeros(op.size, op.dtype), op.size
    else:
        n = check_count(num_samples, "num_samples", who, minimum=2)
        rng = as_generator(seed)
        count, est, m2 = 0, np.zeros(op.size, op.dtype), np.zeros(op.size, op.dtype)
        blocks = None if executor is None else iter(
            _probes_on(executor, who, op, f, params, data, rng, n, "diagonal"))
        for i in range(0, n, PROBE_CHUNK):          # memory: PROBE_CHUNK probes at a time
            if blocks is None:
                V = _rademacher(rng, (min(PROBE_CHUNK, n - i), op.size), op.dtype)
                S = V * op.matmat(V)            # vₖ ⊙ H vₖ; Σ vₖ ⊙ vₖ = n for Rademacher
            else:
                S = next(blocks)
            # running mean and sum of squared deviations, merged chunk by chunk (Chan et al. 1979)
            c, mean = len(S), S.mean(axis=0)
            delta, total = mean - est, count + len(S)
            m2 += ((S - mean) ** 2).sum(axis=0) + delta ** 2 * (count * c / total)
            est, count = est + delta * (c / total), total
        se = np.sqrt(m2 / (n - 1) / n)
    return DiagonalResult(diagonal=op.unravel(est), standard_error=op.unravel(se),
                          diagonal_flat=est, standard_error_flat=se, num_samples=n,
                          exact=bool(exact), num_hvps=op.num_products)


# --------------------------------------------------------------------------------------------
# Probe blocks on an executor (see _executor): the probes drawn from generator states derived
# in this process exactly as the serial loops draw them
# --------------------------------------------------------------------------------------------

def _probe_setup(context: tuple) -> _Op:
    f, params, data, who = context
    return _Op(f, params, data, who)


def _probe_work(op: _Op, item: tuple) -> tuple[np.ndarray, int]:
    """One block of :data:`PROBE_CHUNK` probes: ("trace", rng, c) → zᵢᵀHzᵢ; ("diagonal", rng,
    c) → vₖ ⊙ H vₖ; ("unit", start, stop) → H_ii."""
    kind, a, b = item
    before = op.num_products
    if kind == "unit":
        idx = np.arange(a, b)
        E = np.zeros((len(idx), op.size), op.dtype)
        E[np.arange(len(idx)), idx] = 1
        out = op.matmat(E)[np.arange(len(idx)), idx]
    else:
        Z = _rademacher(a, (b, op.size), op.dtype)
        out = np.einsum("ij,ij->i", Z, op.matmat(Z)) if kind == "trace" else Z * op.matmat(Z)
    return out, op.num_products - before


def _probes_on(executor: Any, who: str, op: _Op, f: Any, params: Any, data: dict,
               rng: np.random.Generator | None, n: int, kind: str) -> list:
    """The blocks' results, in order; ``rng`` is left where the serial loop leaves it."""
    items = []
    for i in range(0, n, PROBE_CHUNK):
        c = min(PROBE_CHUNK, n - i)
        if kind == "unit":
            items.append((kind, i, i + c))
        else:
            start = np.random.Generator(type(rng.bit_generator)())
            start.bit_generator.state = rng.bit_generator.state
            _rademacher(rng, (c, op.size), op.dtype)            # advance as the serial loop does
            items.append((kind, start, c))
    parts = _executor.run_jobs(executor, _probe_setup, _probe_work, (f, params, data, who),
                               items, who)
    op.num_products += sum(p[1] for p in parts)
    return [p[0] for p in parts]


def _slq_group(op: _Op, probes: np.ndarray, m: int) -> list:
    """Lanczos runs for a group of probes advancing together (one vmapped pass per step)."""
    batch = [Lanczos(op.matvec, z, m) for z in probes]
    while True:
        live_runs = [run for run in batch if not run.done]
        if not live_runs:
            break
        products = op.matmat(np.stack([run.current for run in live_runs]))
        for run, w in zip(live_runs, products):
            run.step(w)
    return [_Finished(*run.ritz()[:2], run.m) for run in batch]


def _slq_work(op: _Op, item: tuple) -> tuple[list, int]:
    probes, m = item
    before = op.num_products
    return _slq_group(op, probes, m), op.num_products - before


# --------------------------------------------------------------------------------------------
# Spectral density
# --------------------------------------------------------------------------------------------

@dataclass
class SpectralDensityResult(Result):
    """The spectral density of a curvature matrix by stochastic Lanczos quadrature (see
    :func:`hessian_spectral_density`).

    Attributes:
        nodes: (num_probes × m) Gauss quadrature nodes, the Ritz values θ_pj of probe p.
        weights: (num_probes × m) the weights τ_pj = (first component of T_p's j-th unit
            eigenvector)²; each row sums to 1. A probe whose Krylov space became invariant before
            m steps has fewer nodes: its row is padded with weight 0 (node repeated).
        grid: the points t where the density is evaluated.
        density: φ(t) = (1/n_v) Σ_p Σ_j τ_pj N(t; θ_pj, σ²) ≈ (1/P) Σᵢ N(t; λᵢ, σ²); it
            integrates to 1 (when the grid covers the nodes ± 6σ).
        sigma: the Gaussian smoothing width σ.
        num_parameters: P (the moments of the spectrum times P are trace moments).
        lanczos_steps: m.
        num_hvps: curvature-vector products computed.
    """
    nodes: np.ndarray
    weights: np.ndarray
    grid: np.ndarray
    density: np.ndarray
    sigma: float
    num_parameters: int
    lanczos_steps: int
    num_hvps: int

    def moment(self, power: int) -> tuple[float, float]:
        """(estimate, standard error) of the spectrum's moment (1/P) Σᵢ λᵢ^power = (1/P) tr H^power
        by Σ_j τ_pj θ_pj^power averaged over the probes (exact per probe for power ≤ 2m − 1:
        Gauss quadrature of vᵀH^power v); the error is the probes' std / √n_v."""
        per_probe = np.sum(self.weights * self.nodes.astype(float) ** power, axis=1)
        n = len(per_probe)
        se = float(per_probe.std(ddof=1) / np.sqrt(n)) if n > 1 else float("nan")
        return float(per_probe.mean()), se

    def trace_moment(self, power: int) -> tuple[float, float]:
        """(estimate, standard error) of tr H^power = P × :meth:`moment` (power 1: the trace)."""
        value, se = self.moment(power)
        return value * self.num_parameters, se * self.num_parameters


def hessian_spectral_density(f: Any, params: Any = None, num_probes: int = 10,
                             lanczos_steps: int | None = None, *, grid: Any = None,
                             sigma: float | None = None, seed: Any = 0,
                             executor: Any = None, **data: Any) -> SpectralDensityResult:
    """The eigenvalue density of H by stochastic Lanczos quadrature (Golub & Meurant 1994; Lin,
    Saad & Yang 2016; Ghorbani, Krishnan & Xiao 2019).

    For a unit probe v = z/√P (z Rademacher), vᵀ g(H) v = Σᵢ (vᵀuᵢ)² g(λᵢ) is an integral against
    the spectral measure of v, whose expectation over v is (1/P) Σᵢ g(λᵢ). m Lanczos steps from v
    give T = S diag(θ) Sᵀ, and Σⱼ τⱼ g(θⱼ) with τⱼ = S₀ⱼ² is its m-point Gauss quadrature (exact
    for polynomials of degree ≤ 2m − 1). Averaging over n_v probes and smoothing each node with a
    Gaussian of width σ gives the density

        φ(t) = (1/n_v) Σ_p Σⱼ τ_pj exp(−(t − θ_pj)² / 2σ²) / (σ√(2π)).

    The weights are the *squared first components* of T's eigenvectors, so they sum to 1 (the
    mistake of PyHessian #23 was to use other components).

    Args:
        f, params, **data: as :func:`hessian_top_eigenvalues`.
        num_probes: n_v ≥ 1 random probes (≥ 2 for standard errors of the moments).
        lanczos_steps: m (default min(80, P); at most P — with m = P the nodes are H's distinct
            eigenvalues).
        grid: points to evaluate the density at (default 1001 points — more when σ is small —
            spanning the nodes ± 6σ).
        sigma: smoothing width (default 1% of the nodes' range).
        seed: int or Generator for the probes.
        executor: as :func:`hessian_trace` (each group of probes runs its Lanczos on it).

    Returns:
        :class:`SpectralDensityResult` (``nodes``, ``weights``, ``grid``, ``density``;
        ``moment(power)`` and ``trace_moment(power)`` with standard errors).

    >>> import numpy as np, nnmath.numpy as mnp
    >>> r = hessian_spectral_density(lambda w: mnp.sum(w ** 2), np.ones(5), num_probes=2)
    >>> r.nodes, r.weights.sum(axis=1)          # H = 2I: one node, weight 1
    (array([[2.],
           [2.]]), array([1., 1.]))
    """
    who = "hessian_spectral_density"
    n_v = check_count(num_probes, "num_probes", who)
    op = _Op(f, params, data, who)
    if lanczos_steps is None:
        m = min(80, op.size)
    else:
        m = check_count(lanczos_steps, "lanczos_steps", who)
        if m > op.size:
            raise ValueError(f"{who}: lanczos_steps={m} exceeds the number of parameters "
                             f"{op.size}; at most {op.size} steps are possible")
    if sigma is not None and not (isinstance(sigma, numbers.Real) and sigma > 0):
        raise ValueError(f"{who}: sigma must be a positive number, got {sigma!r}")
    if grid is not None and np.ndim(grid) != 1:
        raise ValueError(f"{who}: grid must be a 1-D array of points, got shape "
                         f"{np.shape(grid)}")
    rng = as_generator(seed)
    probes = _rademacher(rng, (n_v, op.size), op.dtype)
    # probes advance together (one vmapped pass per step), as many as fit the memory limit
    basis = (m + 1) * op.size * op.dtype.itemsize
    group = int(max(1, min(PROBE_CHUNK, MAX_DENSE_BYTES // basis)))
    runs = []
    if executor is not None:
        starts = range(0, n_v, group)
        parts = _executor.run_jobs(executor, _probe_setup, _slq_work, (f, params, data, who),
                                   [(probes[g:g + group], m) for g in starts], who)
        for finished, products in parts:
            runs += finished
            op.num_products += products
    else:
        for g in range(0, n_v, group):
            runs += _slq_group(op, probes[g:g + group], m)
    nodes, weights = np.zeros((n_v, m), op.dtype), np.zeros((n_v, m), op.dtype)
    width = 0
    for p, run in enumerate(runs):
        theta, S = run.theta, run.S
        nodes[p, :run.m], weights[p, :run.m] = theta, S[0] ** 2
        nodes[p, run.m:] = theta[-1]
        width = max(width, run.m)
    if width < m:                               # every probe found an invariant subspace early
        nodes, weights = nodes[:, :width], weights[:, :width]
    live = nodes[weights > 0] if np.any(weights > 0) else nodes.ravel()
    lo, hi = float(live.min()), float(live.max())
    if sigma is None:
        spread = hi - lo
        sigma = 0.01 * (spread if spread > 0 else max(abs(lo), abs(hi), 1.0))
    sigma = float(sigma)
    if grid is None:
        points = int(min(max(1001, 2 * (hi - lo + 12 * sigma) / sigma + 1), 100_001))
        grid = np.linspace(lo - 6 * sigma, hi + 6 * sigma, points)
    grid = np.asarray(grid, dtype=float)
    density = np.zeros(grid.shape)
    norm = 1.0 / (sigma * np.sqrt(2 * np.pi) * n_v)
    for p in range(n_v):
        z = (grid[:, None] - nodes[p][None, :].astype(float)) / sigma
        density += norm * np.exp(-0.5 * z ** 2) @ weights[p].astype(float)
    return SpectralDensityResult(nodes=nodes, weights=weights, grid=grid, density=density,
                                 sigma=sigma, num_parameters=op.size, lanczos_steps=m,
                                 num_hvps=op.num_products)


# --------------------------------------------------------------------------------------------
# Critical points and sharpness
# --------------------------------------------------------------------------------------------

@dataclass
class CriticalPointResult(Result):
    """The second-order test at θ (see :func:`classify_critical_point`).

    Attributes:
        kind: "minimum", "maximum", "saddle", "degenerate" or "not critical".
        grad_norm: ‖∇L(θ)‖₂.
        lambda_max, lambda_min: the extreme Hessian eigenvalues (None when not critical).
        grad_tol, eig_tol: the tolerances used (eigenvalues count as zero within
            eig_tol · max(|λ_max|, |λ_min|)).
        method: "lanczos" or "dense".
        num_hvps: Hessian-vector products computed.
    """
    kind: str
    grad_norm: float
    lambda_max: float | None
    lambda_min: float | None
    grad_tol: float
    eig_tol: float
    method: str
    num_hvps: int


def classify_critical_point(f: Any, params: Any = None, *, grad_tol: float = 1e-6,
                            eig_tol: float = 1e-6, method: str = "lanczos",
                            tol: float | None = None, max_iter: int | None = None,
                            seed: Any = 0, **data: Any) -> CriticalPointResult:
    """The second-derivative test: θ is critical when ‖∇L(θ)‖ ≤ grad_tol; then with the extreme
    eigenvalues λ_min ≤ λ_max of H = ∇²L(θ) and τ = eig_tol · max(|λ_min|, |λ_max|):
    λ_min > τ: strict local "minimum"; λ_max < −τ: strict local "maximum"; λ_min < −τ < τ < λ_max:
    "saddle"; otherwise "degenerate" (H semi-definite and singular: the test is inconclusive).
    Both extremes come from one Lanczos run (Ritz values converge at both ends of the spectrum);
    ``method="dense"`` uses ``numpy.linalg.eigvalsh`` of the dense Hessian instead (small P).
    See Nocedal & Wright 2006, Thm 2.3–2.4; Dauphin et al. 2014 on saddles in neural networks.

    Args:
        f, params, **data: as :func:`~nnmath.analysis.as_objective` (not an operator: the
            gradient is needed).
        grad_tol: absolute tolerance on ‖∇L‖₂.
        eig_tol: relative tolerance below which an eigenvalue counts as zero.
        method: "lanczos" (default) or "dense".
        tol, max_iter, seed: Lanczos settings, as :func:`hessian_top_eigenvalues`.

    Returns:
        :class:`CriticalPointResult` (``kind``, ``grad_norm``, ``lambda_max``, ``lambda_min``).

    >>> import numpy as np, nnmath.numpy as mnp
    >>> classify_critical_point(lambda w: w[0] ** 2 - w[1] ** 2, np.zeros(2)).kind
    'saddle'
    >>> classify_critical_point(lambda w: w[0] ** 2 + w[1] ** 4, np.zeros(2)).kind
    'degenerate'
    """
    who = "classify_critical_point"
    if method not in ("lanczos", "dense"):
        raise ValueError(f"{who}: method must be 'lanczos' or 'dense', got {method!r}")
    for name, value in (("grad_tol", grad_tol), ("eig_tol", eig_tol)):
        if not (isinstance(value, numbers.Real) and value >= 0):
            raise ValueError(f"{who}: {name} must be a non-negative number, got {value!r}")
    op = _Op(f, params, data, who, allow_operator=False)
    grad_norm = float(np.linalg.norm(op.objective.grad_flat()))
    lmax = lmin = None
    if grad_norm > grad_tol:
        kind = "not critical"
    else:
        if method == "dense":
            from .curvature import hessian_operator
            eigs = np.linalg.eigvalsh(hessian_operator(op.objective).to_dense())
            op.num_products += op.size
            lmax, lmin = float(eigs[-1]), float(eigs[0])
        else:
            t, it = _eig_settings(op, 1, tol, max_iter, who)
            vals, _, _, _, _ = lanczos_eigs(op.matvec, op.size, op.dtype, 1, "both", t, it,
                                            as_generator(seed), False, who)
            lmax, lmin = float(vals[0]), float(vals[1])
        tau = eig_tol * max(abs(lmax), abs(lmin))
        if lmin > tau:
            kind = "minimum"
        elif lmax < -tau:
            kind = "maximum"
        elif lmin < -tau and lmax > tau:
            kind = "saddle"
        else:
            kind = "degenerate"
    return CriticalPointResult(kind=kind, grad_norm=grad_norm, lambda_max=lmax, lambda_min=lmin,
                               grad_tol=float(grad_tol), eig_tol=float(eig_tol), method=method,
                               num_hvps=op.num_products)


@dataclass
class SharpnessResult(Result):
    """Sharpness measures at θ (see :func:`sharpness`).

    Attributes:
        loss: L(θ).
        lambda_max: the largest (algebraic) Hessian eigenvalue.
        trace, trace_standard_error: Hutchinson's estimate of tr H and its standard error.
        epsilon: ε of the box.
        epsilon_sharpness: 100 · (max_{z ∈ C_ε} L(θ + z) − L(θ)) / (1 + L(θ)).
        max_loss: the maximum found, L(θ + z*).
        num_hvps: Hessian-vector products computed.
        num_loss_evaluations: loss-and-gradient evaluations of the box maximisation.
        perturbation: z* as a pytree like the parameters.
    """
    loss: float
    lambda_max: float
    trace: float
    trace_standard_error: float
    epsilon: float
    epsilon_sharpness: float
    max_loss: float
    num_hvps: int
    num_loss_evaluations: int
    perturbation: Any = field(default=None, repr=False)


def sharpness(f: Any, params: Any = None, epsilon: float = 1e-3, *, num_samples: int = 100,
              max_iter: int = 20, num_restarts: int = 1, seed: Any = 0,
              **data: Any) -> SharpnessResult:
    """Sharpness of the loss at θ: λ_max(H), tr H (Hutchinson), and the ε-sharpness of Keskar et
    al. (2017, eq. 4, with A = I):

        φ_ε(θ) = 100 · (max_{z ∈ C_ε} L(θ + z) − L(θ)) / (1 + L(θ)),
        C_ε = {z : |zᵢ| ≤ ε (|θᵢ| + 1)}.

    The inner maximum is approximated, as in the paper, by L-BFGS-B with the box as bounds
    (``scipy.optimize.minimize`` of −L(θ + z), ``max_iter`` iterations), from z = 0 and from
    ``num_restarts`` random points of the box (at a critical point z = 0 is stationary); the best
    is kept, so φ_ε is a lower bound on the true maximum.

    Args:
        f, params, **data: as :func:`~nnmath.analysis.as_objective`.
        epsilon: ε > 0, the box's relative size.
        num_samples: Hutchinson probes for the trace.
        max_iter: L-BFGS-B iterations per start.
        num_restarts: random starts in addition to z = 0.
        seed: int or Generator (Lanczos start, trace probes, random starts).

    Returns:
        :class:`SharpnessResult`.

    >>> import numpy as np, nnmath.numpy as mnp
    >>> r = sharpness(lambda w: mnp.sum(w ** 2), np.array([1.0, -1.0]), epsilon=0.1)
    >>> r.lambda_max, r.trace, r.max_loss               # z* = ±0.2: L = 2 · 1.2²
    (2.0, 4.0, 2.88)
    """
    who = "sharpness"
    if not (isinstance(epsilon, numbers.Real) and epsilon > 0):
        raise ValueError(f"{who}: epsilon must be a positive number, got {epsilon!r}")
    max_iter = check_count(max_iter, "max_iter", who)
    num_restarts = check_count(num_restarts, "num_restarts", who, minimum=0)
    op = _Op(f, params, data, who, allow_operator=False)
    obj, rng = op.objective, as_generator(seed)
    top = hessian_top_eigenvalues(obj, k=1, seed=rng)
    tr = hessian_trace(obj, num_samples=num_samples, seed=rng)
    theta = obj.flat
    radius = float(epsilon) * (np.abs(theta).astype(np.float64) + 1.0)
    calls = [0]

    def neg(z):
        calls[0] += 1
        value, g = obj.value_and_grad_flat((theta + z).astype(obj.dtype))
        return -value, -np.asarray(g, np.float64)

    base = obj.value()
    best_value, best_z = base, np.zeros_like(radius)
    starts = [np.zeros_like(radius)] + [rng.uniform(-radius, radius) for _ in range(num_restarts)]
    bounds = list(zip(-radius, radius))
    for z0 in starts:
        res = scipy.optimize.minimize(neg, z0, jac=True, method="L-BFGS-B", bounds=bounds,
                                      options={"maxiter": max_iter})
        if -res.fun > best_value:
            best_value, best_z = float(-res.fun), np.clip(res.x, -radius, radius)
    return SharpnessResult(
        loss=base, lambda_max=float(top.eigenvalues[0]), trace=tr.estimate,
        trace_standard_error=tr.standard_error, epsilon=float(epsilon),
        epsilon_sharpness=100.0 * (best_value - base) / (1.0 + base), max_loss=best_value,
        num_hvps=top.num_hvps + tr.num_hvps, num_loss_evaluations=calls[0],
        perturbation=obj.unravel(best_z.astype(obj.dtype)))

