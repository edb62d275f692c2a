"""Entropic optimal transport in the log domain: the Sinkhorn solver, the Sinkhorn divergence and
Sinkhorn barycenters (re-exported by :mod:`nnmath.analysis.transport`; see its docstring).

Conventions (Peyré & Cuturi 2019, §4; Feydy et al. 2019). For histograms a ∈ ℝⁿ₊, b ∈ ℝᵐ₊ of
equal mass and a cost M ∈ ℝⁿˣᵐ,

    OT_ε(a, b) = min_{P ≥ 0, P1 = a, Pᵀ1 = b} ⟨P, M⟩ + ε KL(P ‖ a⊗b),

whose dual potentials f, g give the plan P_ij = a_i b_j exp((f_i + g_j − M_ij)/ε) and the value
OT_ε = ⟨f, a⟩ + ⟨g, b⟩. The plan is the one of POT's ``ot.sinkhorn`` (entropy −Σ P log P differs
from KL(P ‖ a⊗b) by a constant on the transport polytope). Sinkhorn's iterations (Cuturi 2013) in
the log domain (Schmitzer 2019) alternate the soft-min (c-transform) updates

    g_j ← −ε log Σ_i a_i exp((f_i − M_ij)/ε),     f_i ← −ε log Σ_j b_j exp((g_j − M_ij)/ε),

each a log-sum-exp, so nothing under- or overflows for small ε (the exp-domain kernel e^(−M/ε)
underflows to 0 at ε = 1e-3: POT #54). After an f-update the row marginal is exact; the column
marginal of that plan comes free with the next g-update: Pᵀ1 = b ⊙ exp(g_old − g_new)/ε. The solver
stops when ‖Pᵀ1 − b‖₁ < tol, reports both marginal errors of the returned plan (computed from it),
the iterations, and warns when it stopped on ``max_iter`` instead.
"""
from __future__ import annotations

import dataclasses
import warnings
from typing import Any, Callable

import numpy as np

from .. import numpy as mnp
from .._core.primitive import Tracer, needs_rules
from ..numpy._helpers import raw
from ..scipy.special import logsumexp
from ._results import Result

__all__ = ["SinkhornResult", "SinkhornBarycenterResult", "SinkhornConvergenceWarning", "sinkhorn",
           "sinkhorn_divergence", "sinkhorn_barycenter", "cost_matrix"]


class SinkhornConvergenceWarning(RuntimeWarning):
    """A Sinkhorn solve stopped on its iteration limit before its marginals met ``tol``."""


# --------------------------------------------------------------------------------------------
# Input checks shared with transport.py
# --------------------------------------------------------------------------------------------

def _float_array(x: Any, name: str, who: str) -> Any:
    """``x`` as an array of a floating dtype (integers and booleans → float64); tracers pass."""
    if isinstance(x, Tracer):
        return x
    try:
        arr = np.asarray(x)
    except Exception as e:
        raise TypeError(f"{who}: {name} must be an array of numbers; got {type(x).__name__}") from e
    if arr.dtype.kind in "biu":
        return arr.astype(np.float64)
    if arr.dtype.kind != "f":
        raise TypeError(f"{who}: {name} must be real numbers; got an array of dtype {arr.dtype}")
    return arr


def check_weights(w: Any, n: int, name: str, who: str, dtype: Any) -> Any:
    """Checked weights of ``n`` points: None → uniform 1/n; else 1-D of length n, finite,
    non-negative, with a positive sum. Raises ValueError naming ``name``."""
    if w is None:
        return np.full(n, 1.0 / n, dtype=dtype)
    w = _float_array(w, name, who)
    rw = np.asarray(raw(w))
    if rw.ndim != 1 or rw.shape[0] != n:
        raise ValueError(f"{who}: {name} must be a vector of {n} weights (one per point); got "
                         f"shape {rw.shape}")
    if not np.all(np.isfinite(rw)):
        raise ValueError(f"{who}: {name} contains non-finite values")
    if np.any(rw < 0):
        raise ValueError(f"{who}: {name} must be non-negative; got a minimum of {rw.min():.6g}")
    if not rw.sum() > 0:
        raise ValueError(f"{who}: {name} sums to 0; give at least one point positive weight (or "
                         f"None for equal weights)")
    return w


def _check_reg(reg: Any, who: str) -> float:
    try:
        r = float(raw(reg))
    except (TypeError, ValueError):
        raise TypeError(f"{who}: reg must be a positive number; got {reg!r:.60}") from None
    if not (np.isfinite(r) and r > 0):
        raise ValueError(f"{who}: reg (the entropic regularisation ε) must be positive and finite; "
                         f"got reg={r!r}")
    return r


def _masked_log(w: Any) -> Any:
    """log w with log 0 = −∞ and a zero (not NaN) derivative at the zeros."""
    pos = raw(w) > 0
    return mnp.where(pos, mnp.log(mnp.where(pos, w, 1.0)), -np.inf)


def _traced(*xs: Any) -> bool:
    return any(needs_rules(x) for x in xs)


def cost_matrix(x: Any, y: Any, cost: str | Callable = "sqeuclidean") -> Any:
    """The cost matrix M_ij = c(x_i, y_j) of two point clouds (differentiable in both).

    Args:
        x, y: points, shape (n, d) and (m, d) (1-D arrays are read as d = 1).
        cost: "sqeuclidean" (‖x − y‖², POT's ``ot.dist`` default), "euclidean" (‖x − y‖, with
            derivative 0 where x = y) or a function ``cost(x, y) -> (n, m)`` written with
            ``nnmath.numpy``.

    >>> import numpy as np
    >>> cost_matrix(np.array([[0.0], [1.0]]), np.array([[0.0], [3.0]])).tolist()
    [[0.0, 9.0], [1.0, 4.0]]
    """
    x, y = _points(x, "x", "cost_matrix"), _points(y, "y", "cost_matrix")
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"cost_matrix: x and y must have the same dimension; got x of shape "
                         f"{tuple(x.shape)} and y of shape {tuple(y.shape)}")
    if callable(cost):
        return cost(x, y)
    if cost not in ("sqeuclidean", "euclidean"):
        raise ValueError(f"cost must be 'sqeuclidean', 'euclidean' or a function; got {cost!r}")
    d2 = mnp.sum((x[:, None, :] - y[None, :, :]) ** 2, axis=-1)
    return d2 if cost == "sqeuclidean" else mnp.sqrt(d2)


def _points(x: Any, name: str, who: str) -> Any:
    x = _float_array(x, name, who)
    if x.ndim == 1:
        x = mnp.reshape(x, (-1, 1))
    if x.ndim != 2 or x.shape[0] == 0:
        raise ValueError(f"{who}: {name} must be a non-empty (n, d) array of points; got shape "
                         f"{tuple(x.shape)}")
    return x


# --------------------------------------------------------------------------------------------
# The solver
# --------------------------------------------------------------------------------------------

@dataclasses.dataclass
class SinkhornResult(Result):
    """The solution of an entropic OT problem (see :func:`sinkhorn`).

    Attributes:
        plan: P, shape (n, m).
        cost: ⟨P, M⟩, the transport cost of the plan (POT's ``ot.sinkhorn2``).
        value: OT_ε = ⟨P, M⟩ + ε KL(P ‖ a⊗b) = ⟨f, a⟩ + ⟨g, b⟩.
        f, g: the dual potentials (in cost units): P = diag(a) e^((f⊕g − M)/ε) diag(b).
        reg: ε.
        n_iter: Sinkhorn iterations (pairs of updates), over all ε-scaling stages.
        marginal_error: max(‖P1 − a‖₁, ‖Pᵀ1 − b‖₁) of the returned plan.
        converged: whether the marginal error met ``tol`` before ``max_iter``.
    """

    plan: Any
    cost: Any
    value: Any
    f: Any
    g: Any
    reg: float
    n_iter: int
    marginal_error: float
    converged: bool


def _stage_plain(loga, logb, b, Mr, F, G, tol, max_iter, buf):
    """Log-domain Sinkhorn on plain arrays, buffers reused: potentials F = f/ε, G = g/ε on the
    cost Mr = M/ε. Returns (F, G, iterations, column-marginal error, converged)."""
    err = np.inf
    for it in range(max_iter + 1):
        np.subtract((loga + F)[:, None], Mr, out=buf)       # G_j = −LSE_i(log a_i + F_i − Mr_ij)
        mx = buf.max(axis=0)
        buf -= mx
        np.exp(buf, out=buf)
        Gn = -(np.log(buf.sum(axis=0)) + mx)
        if it > 0:                                               # P(F, G) has exact rows here
            err = float(np.abs(b * np.expm1(G - Gn)).sum())
            if err < tol or it == max_iter:
                return F, G, it, err, err < tol
        G = Gn
        np.subtract((logb + G)[None, :], Mr, out=buf)       # F_i = −LSE_j(log b_j + G_j − Mr_ij)
        mx = buf.max(axis=1)
        buf -= mx[:, None]
        np.exp(buf, out=buf)
        F = -(np.log(buf.sum(axis=1)) + mx)
    raise AssertionError("unreachable")


def _stage_traced(loga, logb, b, Mr, F, G, tol, max_iter):
    """The same iterations written with nnmath.numpy, so any transform differentiates them
    (unrolled); the stopping test reads the plain values."""
    rb = np.asarray(raw(b))
    err = np.inf
    for it in range(max_iter + 1):
        Gn = -logsumexp(loga[:, None] + F[:, None] - Mr, axis=0)
        if it > 0:
            err = float(np.abs(rb * np.expm1(np.asarray(raw(G)) - np.asarray(raw(Gn)))).sum())
            if err < tol or it == max_iter:
                return F, G, it, err, err < tol
        G = Gn
        F = -logsumexp(logb[None, :] + G[None, :] - Mr, axis=1)
    raise AssertionError("unreachable")


def _schedule(reg: float, scale: float, eps_scaling: float | None) -> list:
    """ε for each stage: scale·qᵏ down to reg (one stage, reg, without ε-scaling)."""
    if eps_scaling is None or not scale > reg:
        return [reg]
    eps, out = scale, []
    while eps > reg:
        out.append(eps)
        eps *= eps_scaling
    return out + [reg]


def _solve(a, b, M, reg, tol, max_iter, eps_scaling, traced):
    """Potentials (f, g) in cost units, iterations, column error and convergence of all stages."""
    loga, logb = _masked_log(a), _masked_log(b)
    rM = np.asarray(raw(M))
    stages = _schedule(reg, float(np.max(np.abs(rM))), eps_scaling)
    n, m = rM.shape
    dtype = np.result_type(rM, np.asarray(raw(a)), np.asarray(raw(b)))
    f = np.zeros(n, dtype)
    g = np.zeros(m, dtype)
    total, buf = 0, None
    for k, eps in enumerate(stages):
        last = k == len(stages) - 1
        stage_tol = tol if last else max(tol, 1e-3)     # intermediate stages: a warm start only
        budget = max_iter - total if last else max(1, min(max_iter - total, 100))
        if traced:
            F, G, it, err, ok = _stage_traced(loga, logb, b, M / eps, f / eps, g / eps, stage_tol,
                                              budget)
        else:
            buf = np.empty(rM.shape, dtype) if buf is None else buf
            F, G, it, err, ok = _stage_plain(loga, logb, b, rM / eps, f / eps, g / eps, stage_tol,
                                             budget, buf)
        f, g = F * eps, G * eps
        total += it
    return f, g, total, err, ok


def _check_problem(a, b, M, who):
    M = _float_array(M, "M", who)
    if M.ndim != 2 or 0 in M.shape:
        raise ValueError(f"{who}: M (the cost matrix) must be a non-empty 2-D array; got shape "
                         f"{tuple(M.shape)}")
    rM = np.asarray(raw(M))
    if not np.all(np.isfinite(rM)):
        raise ValueError(f"{who}: M (the cost matrix) contains non-finite values")
    n, m = M.shape
    for w, name, k, side in ((a, "a", n, "rows"), (b, "b", m, "columns")):
        if w is not None and np.ndim(raw(w)) == 1 and np.shape(raw(w))[0] != k:
            raise ValueError(f"{who}: M has shape {tuple(M.shape)} but {name} has "
                             f"{np.shape(raw(w))[0]} entries; {name} must have one weight per "
                             f"{side[:-1]} of M ({k})")
    a = check_weights(a, n, "a", who, rM.dtype)
    b = check_weights(b, m, "b", who, rM.dtype)
    sa, sb = float(np.sum(raw(a))), float(np.sum(raw(b)))
    rtol = np.sqrt(np.finfo(np.result_type(rM.dtype, np.asarray(raw(a)).dtype)).eps)
    if abs(sa - sb) > rtol * max(sa, sb):
        raise ValueError(f"{who}: a and b must have the same total mass (balanced transport); got "
                         f"sum(a)={sa:.10g} and sum(b)={sb:.10g}. Normalise them, e.g. a / a.sum()")
    return a, b, M


def sinkhorn(a: Any, b: Any, M: Any, reg: float, *, tol: float | None = None,
             max_iter: int = 1000, eps_scaling: float | None = None,
             gradient: str = "unroll") -> SinkhornResult:
    """Entropic optimal transport by Sinkhorn's algorithm in the log domain.

    Solves OT_ε(a, b) = min_{P1 = a, Pᵀ1 = b} ⟨P, M⟩ + ε KL(P ‖ a⊗b) (Cuturi 2013) with the
    log-sum-exp (soft c-transform) updates g ← −ε log Σ_i a_i e^((f_i − M_ij)/ε),
    f ← −ε log Σ_j b_j e^((g_j − M_ij)/ε), stable for small ε (Schmitzer 2019), optionally with
    ε-scaling (annealing ε from max|M| down to ``reg``, warm-starting the potentials; Schmitzer
    2019). The plan equals POT's ``ot.sinkhorn(a, b, M, reg)`` (``method="sinkhorn_log"``).

    Differentiable in ``a``, ``b`` and ``M`` under every nnmath transform. ``gradient="unroll"``
    differentiates the iterations themselves (every field; memory grows with the iterations).
    ``gradient="envelope"`` gives ``value`` the gradient of the converged solution, by the envelope
    theorem ∂OT_ε/∂M = P, ∂OT_ε/∂a = f, ∂OT_ε/∂b = g (the last two up to a constant, which is
    all that matters on the simplex), at the cost of one plain solve; second derivatives of
    ``value`` are then 0, and the other fields (plan, cost, f, g) are constants.

    Args:
        a, b: the histograms (n,) and (m,), non-negative with equal sums; None for uniform.
        M: the cost matrix (n, m).
        reg: ε > 0, in the units of M.
        tol: stop when ‖Pᵀ1 − b‖₁ < tol (the rows are exact after each f-update). Default 1e-9
            (float64) or 1e-5 (float32).
        max_iter: the most iterations; the solver warns (:class:`SinkhornConvergenceWarning`)
            when it stops on this limit.
        eps_scaling: None, or a factor q in (0, 1): solve for ε = max|M|·qᵏ, k = 0, 1, … (up to
            100 iterations each, to a marginal error of 1e-3) before ``reg``. It helps most when
            the plan is close to a permutation, where plain Sinkhorn converges slowly.
        gradient: "unroll" or "envelope" (see above).

    Returns:
        :class:`SinkhornResult` (plan, cost, value, f, g, reg, n_iter, marginal_error, converged).

    References:
        Cuturi 2013, "Sinkhorn distances: lightspeed computation of optimal transport".
        Schmitzer 2019, "Stabilized sparse scaling algorithms for entropy regularized transport
        problems". Peyré & Cuturi 2019, "Computational optimal transport", §4.

    >>> import numpy as np
    >>> M = np.array([[0.0, 1.0], [1.0, 0.0]])
    >>> r = sinkhorn([0.5, 0.5], [0.5, 0.5], M, reg=0.01)
    >>> np.round(r.plan, 6).tolist(), round(float(r.cost), 6), r.converged
    ([[0.5, 0.0], [0.0, 0.5]], 0.0, True)
    """
    who = "sinkhorn"
    reg = _check_reg(reg, who)
    if gradient not in ("unroll", "envelope"):
        raise ValueError(f"{who}: gradient must be 'unroll' or 'envelope'; got {gradient!r}")
    if not (isinstance(max_iter, (int, np.integer)) and max_iter >= 1):
        raise ValueError(f"{who}: max_iter must be a positive integer; got {max_iter!r}")
    if eps_scaling is not None and not 0 < eps_scaling < 1:
        raise ValueError(f"{who}: eps_scaling must be None or a factor in (0, 1); got "
                         f"{eps_scaling!r}")
    a, b, M = _check_problem(a, b, M, who)
    dtype = np.result_type(np.asarray(raw(M)).dtype, np.asarray(raw(a)).dtype,
                           np.asarray(raw(b)).dtype)
    if tol is None:
        tol = 1e-9 if dtype.itemsize >= 8 else 1e-5
    if not tol > 0:
        raise ValueError(f"{who}: tol must be positive; got {tol!r}")
    traced = _traced(a, b, M) and gradient == "unroll"
    if traced:
        f, g, n_iter, err, ok = _solve(a, b, M, reg, tol, max_iter, eps_scaling, True)
        plan = mnp.exp(_masked_log(a)[:, None] + _masked_log(b)[None, :]
                       + (f[:, None] + g[None, :] - M) / reg)
        value = mnp.sum(f * a) + mnp.sum(g * b)
    else:
        ra, rb, rM = (np.asarray(raw(v), dtype) for v in (a, b, M))
        f, g, n_iter, err, ok = _solve(ra, rb, rM, reg, tol, max_iter, eps_scaling, False)
        with np.errstate(divide="ignore"):
            plan = np.exp(np.log(ra)[:, None] + np.log(rb)[None, :] + (f[:, None] + g - rM) / reg)
        value = np.dot(f, ra) + np.dot(g, rb)
        if _traced(a, b, M):    # envelope: first-order model whose derivatives are (f, g, P)
            value = (value + mnp.sum(f * (a - ra)) + mnp.sum(g * (b - rb))
                     + mnp.sum(plan * (M - rM)))
    cost = mnp.sum(plan * M) if traced else np.sum(plan * np.asarray(raw(M)))
    rplan = np.asarray(raw(plan))
    marg = max(float(np.abs(rplan.sum(1) - np.asarray(raw(a))).sum()),
               float(np.abs(rplan.sum(0) - np.asarray(raw(b))).sum()))
    if not ok:
        warnings.warn(f"sinkhorn did not converge: after {n_iter} iterations (max_iter={max_iter}) "
                      f"the marginal error is {marg:.3g} > tol={tol:.3g} at reg={reg:g}. Raise "
                      f"max_iter, pass eps_scaling=0.5, or use a larger reg",
                      SinkhornConvergenceWarning, stacklevel=2)
    return SinkhornResult(plan=plan, cost=cost, value=value, f=f, g=g, reg=reg, n_iter=int(n_iter),
                          marginal_error=marg, converged=bool(ok))


# --------------------------------------------------------------------------------------------
# Sinkhorn divergence
# --------------------------------------------------------------------------------------------

def sinkhorn_divergence(x: Any, y: Any, a: Any = None, b: Any = None, *, reg: float = 0.1,
                        cost: str | Callable = "sqeuclidean", **solver: Any) -> Any:
    """The Sinkhorn divergence of two point clouds, OT_ε debiased.

    S_ε(α, β) = OT_ε(α, β) − ½ OT_ε(α, α) − ½ OT_ε(β, β), with OT_ε = ⟨P, M⟩ + ε KL(P ‖ a⊗b) (the
    ``value`` of :func:`sinkhorn`). S_ε ≥ 0, S_ε = 0 iff α = β, and S_ε interpolates between
    OT (ε → 0) and an MMD (ε → ∞) (Genevay et al. 2018; Feydy et al. 2019, Thm 1). POT's
    ``empirical_sinkhorn_divergence`` debiases ⟨P, M⟩ instead, which has neither guarantee.

    Args:
        x, y: points (n, d) and (m, d).
        a, b: their weights (None for uniform), non-negative with equal sums.
        reg: ε.
        cost: as in :func:`cost_matrix`.
        **solver: passed to :func:`sinkhorn` (tol, max_iter, eps_scaling, gradient).

    Returns:
        S_ε, a scalar differentiable in x, y, a and b.

    References:
        Genevay, Peyré & Cuturi 2018, "Learning generative models with Sinkhorn divergences".
        Feydy, Séjourné, Vialard, Amari, Trouvé & Peyré 2019, "Interpolating between optimal
        transport and MMD using Sinkhorn divergences".

    >>> import numpy as np
    >>> x = np.array([[0.0], [1.0]])
    >>> float(sinkhorn_divergence(x, x, reg=0.5))
    0.0
    >>> bool(sinkhorn_divergence(x, x + 0.5, reg=0.5) > 0)
    True
    """
    who = "sinkhorn_divergence"
    x, y = _points(x, "x", who), _points(y, "y", who)
    a = check_weights(a, x.shape[0], "a", who, np.asarray(raw(x)).dtype)
    b = check_weights(b, y.shape[0], "b", who, np.asarray(raw(y)).dtype)
    xy = sinkhorn(a, b, cost_matrix(x, y, cost), reg, **solver).value
    xx = _symmetric_ot(a, cost_matrix(x, x, cost), reg, who, **solver)
    yy = _symmetric_ot(b, cost_matrix(y, y, cost), reg, who, **solver)
    return xy - 0.5 * xx - 0.5 * yy


def _symmetric_ot(a: Any, M: Any, reg: float, who: str, *, tol: float | None = None,
                  max_iter: int = 1000, eps_scaling: float | None = None,
                  gradient: str = "unroll") -> Any:
    """OT_ε(a, a) = 2⟨f, a⟩ for a symmetric cost, by the averaged fixed point
    f ← ½(f + T(f)), T(f)_i = −ε log Σ_j a_j e^((f_j − M_ij)/ε) (Feydy et al. 2019), which
    converges fast where plain Sinkhorn on (a, a) is slow: the plan is close to the identity.
    ``eps_scaling`` is not needed here and is ignored."""
    reg = _check_reg(reg, who)
    tol = (1e-9 if np.asarray(raw(M)).dtype.itemsize >= 8 else 1e-5) if tol is None else tol
    traced = _traced(a, M) and gradient == "unroll"
    ra, rM = np.asarray(raw(a)), np.asarray(raw(M))
    loga = _masked_log(a if traced else ra)
    Mr = (M if traced else rM) / reg
    F = np.zeros(rM.shape[0], rM.dtype)
    err, it = np.inf, 0
    for it in range(1, max_iter + 1):
        T = -logsumexp(loga[None, :] + F[None, :] - Mr, axis=1)
        # the row sums of P(F, F) are a ⊙ e^(F − T)
        err = float(np.abs(ra * np.expm1(np.asarray(raw(F)) - np.asarray(raw(T)))).sum())
        if err < tol:
            break
        F = 0.5 * (F + T)
    if err >= tol:
        warnings.warn(f"{who}: the symmetric Sinkhorn solve did not converge: after {it} "
                      f"iterations the marginal error is {err:.3g} > tol={tol:.3g} at reg={reg:g}",
                      SinkhornConvergenceWarning, stacklevel=3)
    f = reg * F
    value = 2.0 * mnp.sum(f * (a if traced else ra))
    if _traced(a, M) and not traced:      # envelope: ∂/∂M = P, ∂/∂a = 2f
        la = np.asarray(loga)
        P = np.exp(la[:, None] + la[None, :] + (f[:, None] + f[None, :] - rM) / reg)
        value = value + 2.0 * mnp.sum(f * (a - ra)) + mnp.sum(P * (M - rM))
    return value


# --------------------------------------------------------------------------------------------
# Barycenters by iterated Bregman projections
# --------------------------------------------------------------------------------------------

@dataclasses.dataclass
class SinkhornBarycenterResult(Result):
    """An entropic Wasserstein barycenter (see :func:`sinkhorn_barycenter`).

    Attributes:
        barycenter: the histogram (n,).
        n_iter: iterations.
        marginal_error: maxₖ ‖Pₖᵀ1 − barycenter‖₁ over the K transport plans at the last check
            (their other marginals Pₖ1 = aₖ are exact).
        converged: whether ``marginal_error`` met ``tol`` before ``max_iter``.
    """

    barycenter: Any
    n_iter: int
    marginal_error: float
    converged: bool


def sinkhorn_barycenter(A: Any, M: Any, reg: float, weights: Any = None, *, tol: float = 1e-9,
                        max_iter: int = 10000) -> SinkhornBarycenterResult:
    """The entropic Wasserstein barycenter of histograms on one support, in the log domain.

    argmin_q Σₖ λₖ OT_ε(aₖ, q) by iterated Bregman projections (Benamou et al. 2015): with
    K = e^(−M/ε) and scalings uₖ, vₖ, repeat uₖ = aₖ/(K vₖ), q = Πₖ (Kᵀuₖ)^λₖ, vₖ = q/(Kᵀuₖ), each
    product a log-sum-exp. The result equals POT's ``ot.bregman.barycenter(A, M, reg, weights,
    method="sinkhorn_log")``. Differentiable (unrolled) in A, M and the weights.

    Args:
        A: the K histograms as columns, shape (n, K); each column non-negative, summing to 1.
        M: the cost matrix on the support, (n, n).
        reg: ε > 0.
        weights: λ (K,), non-negative (normalised to sum 1); None for uniform.
        tol: stop when every plan's second marginal is within ``tol`` (ℓ¹) of the barycenter.
        max_iter: the most iterations (warns when reached).

    Returns:
        :class:`SinkhornBarycenterResult` (barycenter, n_iter, marginal_error, converged).

    References:
        Benamou, Carlier, Cuturi, Nenna & Peyré 2015, "Iterative Bregman projections for
        regularized transportation problems".

    >>> import numpy as np
    >>> A = np.array([[1.0, 0.0], [0.0, 0.0], [0.0, 1.0]])      # Diracs at 0 and 2
    >>> M = (np.arange(3.0)[:, None] - np.arange(3.0)) ** 2
    >>> np.round(sinkhorn_barycenter(A, M, reg=0.05).barycenter, 4).tolist()
    [0.0, 1.0, 0.0]
    """
    who = "sinkhorn_barycenter"
    reg = _check_reg(reg, who)
    A = _float_array(A, "A", who)
    M = _float_array(M, "M", who)
    if A.ndim != 2 or 0 in A.shape:
        raise ValueError(f"{who}: A must be a non-empty (n, K) array with one histogram per "
                         f"column; got shape {tuple(A.shape)}")
    n, K = A.shape
    if tuple(M.shape) != (n, n):
        raise ValueError(f"{who}: M must be ({n}, {n}) for histograms on {n} points (A has shape "
                         f"{tuple(A.shape)}); got M of shape {tuple(M.shape)}")
    if not np.all(np.isfinite(np.asarray(raw(M)))):
        raise ValueError(f"{who}: M (the cost matrix) contains non-finite values")
    for k in range(K):
        check_weights(A[:, k], n, f"A[:, {k}]", who, None)
    lam = check_weights(weights, K, "weights", who, np.asarray(raw(A)).dtype)
    lam = lam / mnp.sum(lam)
    logA = mnp.transpose(_masked_log(A))                       # (K, n)
    Mr = -M / reg
    G = mnp.zeros((K, n), dtype=np.asarray(raw(A)).dtype)      # log vₖ
    err, ok, it = np.inf, False, 0
    for it in range(1, max_iter + 1):
        F = logA - logsumexp(Mr[None, :, :] + G[:, None, :], axis=2)      # log uₖ
        logKU = logsumexp(Mr[None, :, :] + F[:, :, None], axis=1)         # log Kᵀuₖ
        log_bar = mnp.sum(lam[:, None] * logKU, axis=0)
        # the plans (uₖ, vₖ) have rows aₖ and columns e^(G + log Kᵀuₖ): compare them with q
        cols = np.exp(np.asarray(raw(G)) + np.asarray(raw(logKU)))
        err = float(np.abs(cols - np.exp(np.asarray(raw(log_bar)))[None, :]).sum(axis=1).max())
        if err < tol:
            ok = True
            break
        G = log_bar[None, :] - logKU
    if not ok:
        warnings.warn(f"sinkhorn_barycenter did not converge: after {it} iterations the marginal "
                      f"error is {err:.3g} > tol={tol:.3g} at reg={reg:g}. Raise max_iter or reg",
                      SinkhornConvergenceWarning, stacklevel=2)
    return SinkhornBarycenterResult(barycenter=mnp.exp(log_bar), n_iter=it, marginal_error=err,
                                    converged=ok)
