"""Lanczos tridiagonalisation with full reorthogonalisation (private to :mod:`nnmath.analysis`).

For a symmetric operator A (known by its products) and a unit start vector q₀, m steps build an
orthonormal basis Q = [q₀ … q_{m−1}] of the Krylov space K_m(A, q₀) and the tridiagonal
T = QᵀAQ (diagonal α, off-diagonal β) from the three-term recurrence (Lanczos 1950)

    β_j q_{j+1} = A q_j − α_j q_j − β_{j−1} q_{j−1},    α_j = q_jᵀ A q_j.

In floating point the q_j lose orthogonality as Ritz values converge (Paige 1976), which shows up
as spurious copies of eigenvalues; we therefore orthogonalise every new vector against the whole
basis, twice (classical Gram–Schmidt twice is enough: Giraud et al. 2005). The cost is O(P·m)
memory and O(P·m²) flops, small next to m Hessian-vector products for the m (≤ a few hundred)
used here.

A Ritz pair (θ_i, y_i = Q s_i) of T = S diag(θ) Sᵀ has the residual
‖A y_i − θ_i y_i‖ = |β_{m−1}| · |s_{m−1,i}| (Golub & Van Loan 2013, §10.1.4), exact in exact
arithmetic and accurate with full reorthogonalisation, so convergence is read off T without
extra products.

When β_j vanishes, K_{j+1} is an invariant subspace and every eigenvalue of T is an eigenvalue of
A. For eigenvalues the run then continues from a fresh random vector orthogonal to Q (β_j = 0:
T becomes block diagonal), so multiple eigenvalues are found with their multiplicity; for
quadrature (:func:`~nnmath.analysis.hessian_spectral_density`) it stops, the quadrature being
exact.
"""
from __future__ import annotations

import warnings
from typing import Callable

import numpy as np
from scipy.linalg import eigh_tridiagonal

from .curvature import check_dense_size

__all__ = ["Lanczos", "lanczos_eigs", "WHICH"]

#: The orders :func:`lanczos_eigs` knows: the k algebraically largest (descending), the k largest
#: in magnitude (by |λ| descending), the k smallest (ascending), and both ends ("both", internal).
WHICH = ("algebraic", "magnitude", "smallest")


class Lanczos:
    """An extendable Lanczos run on ``matvec`` (P-vectors of ``dtype``) from ``v0``.

    Args:
        matvec: v ↦ A v for a symmetric A.
        v0: the start vector (any nonzero norm).
        max_steps: the most steps this run may take (the basis is allocated once, P × steps).
        rng: draws a fresh start vector after a breakdown; None: stop at a breakdown.
        max_bytes: memory limit for the basis (default that of dense matrices).
    """

    def __init__(self, matvec: Callable[[np.ndarray], np.ndarray], v0: np.ndarray,
                 max_steps: int, rng: np.random.Generator | None = None,
                 max_bytes: int | None = None):
        n = v0.size
        self.n, self.dtype = n, v0.dtype
        self.max_steps = min(int(max_steps), n)
        check_dense_size(self.max_steps + 1, n, self.dtype, "Lanczos basis", max_bytes)
        self.matvec, self.rng = matvec, rng
        self.Q = np.zeros((self.max_steps + 1, n), self.dtype)      # rows q_j
        self.Q[0] = v0 / np.linalg.norm(v0)
        self.alpha: list = []
        self.beta: list = []        # beta[j] couples q_j and q_{j+1}; beta[m−1] is the residual
        self.m = 0
        self.anorm = 0.0            # running estimate of ‖A‖ (for the breakdown threshold)
        self.exhausted = False      # no further step possible (invariant subspace, or m = P)
        self.block_start = 0        # first step of the current Krylov block (after restarts)
        self.restarts = 0

    def _orthogonalise(self, w: np.ndarray, upto: int) -> np.ndarray:
        B = self.Q[:upto]
        for _ in range(2):
            w = w - B.T @ (B @ w)
        return w

    @property
    def done(self) -> bool:
        """No further step: exhausted, or ``max_steps`` taken."""
        return self.exhausted or self.m >= self.max_steps

    @property
    def current(self) -> np.ndarray:
        """q_m, the vector the next step multiplies."""
        return self.Q[self.m]

    def step(self, product: np.ndarray | None = None) -> None:
        """One more step (a no-op when :attr:`done`); ``product``: A q_m if already computed
        (several runs advanced by one vectorised product)."""
        if self.done:
            return
        j = self.m
        q = self.Q[j]
        w = self.matvec(q) if product is None else product
        w = np.asarray(w).reshape(-1).astype(self.dtype, copy=False)
        a = q @ w
        w = w - a * q
        if j > 0:
            w = w - self.beta[j - 1] * self.Q[j - 1]
        w = self._orthogonalise(w, j + 1)
        b = float(np.linalg.norm(w))
        self.alpha.append(a)
        self.anorm = max(self.anorm, abs(float(a)) + b + (self.beta[j - 1] if j else 0.0))
        self.m += 1
        if self.m == self.n:                            # Q spans everything: T is A
            self.beta.append(b)
            self.exhausted = True
            return
        if b > self.n * np.finfo(self.dtype).eps * self.anorm:
            self.beta.append(b)
            self.Q[j + 1] = w / b
            return
        self.beta.append(0.0)                           # invariant subspace: T is block diagonal
        if self.rng is None:
            self.exhausted = True
            return
        r = self._orthogonalise(self.rng.standard_normal(self.n).astype(self.dtype), j + 1)
        nr = np.linalg.norm(r)
        if nr <= np.sqrt(np.finfo(self.dtype).eps):
            self.exhausted = True
            return
        self.Q[j + 1] = r / nr
        self.block_start, self.restarts = j + 1, self.restarts + 1

    def tridiagonal(self) -> tuple[np.ndarray, np.ndarray]:
        """(α, β) of the m × m tridiagonal T."""
        return (np.asarray(self.alpha, self.dtype),
                np.asarray(self.beta[:self.m - 1], self.dtype))

    def ritz(self, start: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(θ ascending, S, residual norms |β_{m−1} s_{m−1,i}|) of T (of its trailing block
        from step ``start``)."""
        a, b = self.tridiagonal()
        theta, S = eigh_tridiagonal(a[start:], b[start:])
        return theta, S, np.abs(self.beta[self.m - 1] * S[-1, :])


def _select(theta: np.ndarray, k: int, which: str) -> np.ndarray:
    if which == "algebraic":
        return np.argsort(-theta, kind="stable")[:k]
    if which == "smallest":
        return np.argsort(theta, kind="stable")[:k]
    if which == "magnitude":
        return np.argsort(-np.abs(theta), kind="stable")[:k]
    if which == "both":                     # k largest, then k smallest
        return np.concatenate([np.argsort(-theta, kind="stable")[:k],
                               np.argsort(theta, kind="stable")[:k]])
    raise ValueError(f"which must be one of {WHICH}, got {which!r}")


def _complement_settled(run: Lanczos, wanted: np.ndarray, k: int, which: str,
                        thr: float) -> bool:
    """After a breakdown, copies of a found eigenvalue may remain in the complement of the
    finished blocks, which the current block explores: the wanted set is final once that
    block's best Ritz value has converged strictly below (in the order asked for) the worst
    wanted value."""
    if run.block_start >= run.m:
        return False
    theta, _, res = run.ritz(run.block_start)
    scores = {"algebraic": [(1.0, wanted)], "smallest": [(-1.0, wanted)],
              "both": [(1.0, wanted[:k]), (-1.0, wanted[k:])]}.get(which)
    if scores is None:                                              # magnitude
        i = int(np.argmax(np.abs(theta)))
        return bool(res[i] <= thr and abs(theta[i]) < np.min(np.abs(wanted)) - thr)
    for sign, part in scores:
        i = int(np.argmax(sign * theta))
        if not (res[i] <= thr and sign * theta[i] < np.min(sign * part) - thr):
            return False
    return True


def lanczos_eigs(matvec: Callable, n: int, dtype, k: int, which: str, tol: float,
                 max_iter: int, rng: np.random.Generator, want_vectors: bool, who: str):
    """Extreme eigenpairs of a symmetric operator by Lanczos with full reorthogonalisation.

    Steps until the wanted Ritz pairs have residual ≤ tol · max|θ| (θ the Ritz values, an
    estimate of ‖A‖) — and, after a breakdown, until the restarted block shows that no further
    copy of a wanted eigenvalue remains (:func:`_complement_settled`) — or the Krylov space is
    exhausted (then T's eigenvalues are A's) or ``max_iter`` steps; warns (RuntimeWarning) when
    not converged.

    Returns:
        (values, vectors (n × len) or None, residual norms, converged, steps).
    """
    run = Lanczos(matvec, rng.standard_normal(n).astype(dtype), max_iter, rng=rng)
    need = min(2 * k if which == "both" else k, n)
    while True:
        run.step()
        if run.m >= need:
            theta, S, res = run.ritz()
            idx = _select(theta, k, which)
            scale = max(float(np.max(np.abs(theta))), np.finfo(dtype).tiny)
            converged = bool(np.all(res[idx] <= tol * scale)) and (
                run.restarts == 0 or _complement_settled(run, theta[idx], k, which, tol * scale))
            if converged or run.exhausted or run.m >= run.max_steps:
                break
    if run.exhausted:
        converged = True
    if not converged:
        why = (f"the Krylov space became invariant {run.restarts} time(s): the spectrum has "
               f"repeated eigenvalues and copies of the wanted ones may remain unfound"
               if run.restarts and np.all(res[idx] <= tol * scale) else
               f"residual norms {np.array2string(res[idx], precision=3)}, tolerance {tol:.3g} × "
               f"{scale:.3g}")
        warnings.warn(f"{who}: Lanczos did not converge in {run.m} steps ({why}); raise "
                      f"max_iter (or tol)", RuntimeWarning, stacklevel=3)
    vectors = run.Q[:run.m].T @ S[:, idx] if want_vectors else None
    return theta[idx], vectors, res[idx], converged, run.m
