"""Curvature as linear operators on the flat parameter vector: the Hessian, the generalised
Gauss–Newton matrix and the Fisher information, each a ``scipy.sparse.linalg.LinearOperator``
whose product is computed from the general transforms (never a stored matrix), so
``scipy.sparse.linalg.eigsh``, ``cg``, ``minres`` and every tool of :mod:`nnmath.analysis` apply.

* Hessian  H = ∇²L(θ), by forward-over-reverse Hessian-vector products (Pearlmutter 1994).
* GGN      G = Σ_b w_b J_bᵀ H_ℓ J_b + ∇²R, J = ∂f/∂θ the Jacobian of the model's outputs and
  H_ℓ = ∂²ℓ/∂f² the Hessian of the loss in output space (Schraudolph 2002; Martens 2014 §8). G is
  positive semi-definite when ℓ is convex in f; G = H when f is linear in θ.
* Fisher   "empirical": F̂ = (1/N) Σ_i ∇s_i ∇s_iᵀ, s_i the loss of sample i (Kunstner et al. 2019
  on its pitfalls); "true": F = E_x E_{y∼p(y|x,θ)}[∇log p ∇log pᵀ] = Σ_b w_b J_bᵀ E_y[H_ℓ] J_b,
  the GGN with the targets replaced by the model's predictive mean (exact for categorical,
  Bernoulli and Gaussian likelihoods — cross-entropies and mean squared error — because their
  output-space Hessians are linear in, or independent of, the targets; Martens 2014 §9).

Each product sums over the data batches of the :class:`~nnmath.analysis.Objective`, so memory
is one batch's activations. ``to_dense()`` builds the matrix column by column — only on request,
and refused above :data:`MAX_DENSE_BYTES` (or ``max_bytes=``) with the memory it would need.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np
from scipy.sparse.linalg import LinearOperator

from ._objective import Objective, as_objective

__all__ = ["CurvatureOperator", "hessian_operator", "ggn_operator", "fisher_operator",
           "hessian_matrix", "MAX_DENSE_BYTES", "DenseTooLargeError", "check_dense_size"]

#: The largest dense matrix (bytes) that ``to_dense`` builds unless told otherwise (1 GiB).
MAX_DENSE_BYTES = 1 << 30
#: Columns per vectorised pass of a Hessian operator's ``matmat`` (and ``to_dense``).
MATMAT_BLOCK = 16


class DenseTooLargeError(MemoryError):
    """A dense matrix was asked for above the memory limit."""


def _format_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024
    return f"{n:.1f} TiB"


def check_dense_size(rows: int, cols: int, dtype: Any, what: str, max_bytes: int | None) -> None:
    """Raise :class:`DenseTooLargeError` if a ``rows × cols`` matrix exceeds the limit."""
    limit = MAX_DENSE_BYTES if max_bytes is None else int(max_bytes)
    need = rows * cols * np.dtype(dtype).itemsize
    if need > limit:
        raise DenseTooLargeError(
            f"a dense {rows:,} × {cols:,} {np.dtype(dtype)} {what} needs {_format_bytes(need)}; the "
            f"limit is {_format_bytes(limit)}. Use the operator's products (eigsh, cg, "
            f"hessian_top_eigenvalues, …) or pass max_bytes= to raise the limit")


class CurvatureOperator(LinearOperator):
    """A symmetric P × P curvature matrix of an :class:`Objective`, known by its products.

    Attributes:
        objective: the Objective whose curvature this is.
        kind: "hessian", "ggn", "fisher_empirical" or "fisher_true".
        num_matvecs: how many products have been computed (each over all data batches).
    """

    def __init__(self, objective: Objective, matvec: Callable[[np.ndarray], np.ndarray], kind: str,
                 rows: Callable[[np.ndarray], np.ndarray] | None = None):
        super().__init__(dtype=objective.dtype, shape=(objective.size, objective.size))
        self.objective = objective
        self.kind = kind
        self._product = matvec
        self._rows = rows           # A vᵢ for the rows of V at once (vmapped), if available
        self.num_matvecs = 0

    def _matvec(self, v: np.ndarray) -> np.ndarray:
        v = np.asarray(v)
        self.num_matvecs += 1
        out = self._product(v.reshape(-1))
        return out.reshape(v.shape)

    def _matmat(self, V: np.ndarray) -> np.ndarray:
        """A V, a block of columns at a time through the vectorised product where there is one."""
        V = np.asarray(V)
        if self._rows is None:
            return np.column_stack([self._matvec(V[:, j]) for j in range(V.shape[1])])
        out = np.empty((V.shape[0], V.shape[1]), np.result_type(self.dtype, V.dtype))
        for j in range(0, V.shape[1], MATMAT_BLOCK):
            block = V[:, j:j + MATMAT_BLOCK]
            out[:, j:j + block.shape[1]] = self._rows(np.ascontiguousarray(block.T)).T
            self.num_matvecs += block.shape[1]
        return out

    def _rmatvec(self, v: np.ndarray) -> np.ndarray:
        return self._matvec(v)              # symmetric

    def _adjoint(self) -> "CurvatureOperator":
        return self

    def matvec_tree(self, v: Any) -> Any:
        """The product with ``v`` given (and returned) as a pytree like the parameters."""
        return self.objective.unravel(self._matvec(self.objective._vec(v)))

    def to_dense(self, max_bytes: int | None = None) -> np.ndarray:
        """The P × P matrix, one product per column (symmetrised: (A + Aᵀ)/2, which only removes
        rounding). Refused above ``max_bytes`` (default :data:`MAX_DENSE_BYTES`)."""
        n = self.shape[0]
        check_dense_size(n, n, self.dtype, self.kind.replace("_", " ") + " matrix", max_bytes)
        if self._rows is not None:
            out = self._matmat(np.eye(n, dtype=self.dtype))
        else:
            out = np.empty((n, n), self.dtype)
            e = np.zeros(n, self.dtype)
            for j in range(n):
                e[j] = 1
                out[:, j] = self._matvec(e)
                e[j] = 0
        return (out + out.T) / 2

    def __repr__(self) -> str:
        return f"<{self.shape[0]}×{self.shape[1]} {self.kind} operator of {self.objective!r}>"


def hessian_operator(f: Any, params: Any = None, **data: Any) -> CurvatureOperator:
    """The Hessian H = ∇²L(θ) as a LinearOperator (Pearlmutter 1994: Hv = ∂/∂ε ∇L(θ + εv)).

    Args:
        f, params, **data: as :func:`~nnmath.analysis.as_objective` (``loss_fn(params)``;
            ``apply_fn`` with ``x``, ``y``, ``loss``; or a compiled Model with ``x``, ``y``;
            ``batch_size``, ``sample_weight``, ``dtype``).

    >>> import numpy as np, nnmath.numpy as mnp
    >>> H = hessian_operator(lambda w: mnp.sum(w ** 3), np.array([1.0, 2.0]))
    >>> H @ np.array([1.0, 1.0])              # diag(6w) · 1
    array([ 6., 12.])
    """
    obj = as_objective(f, params, **data)
    return CurvatureOperator(obj, obj.hvp_flat, "hessian", rows=obj.hvp_rows_flat)


def ggn_operator(f: Any, params: Any = None, **data: Any) -> CurvatureOperator:
    """The generalised Gauss–Newton matrix G = Σ_b w_b J_bᵀ H_ℓ J_b + ∇²R (Schraudolph 2002;
    Martens 2014), as a LinearOperator: Gv = Jᵀ(H_ℓ(Jv)) by a JVP, an output-space HVP and a VJP.
    The regulariser R (a function of θ alone) enters with its exact Hessian.

    Needs the model's outputs: a compiled Model with ``x``, ``y`` or ``apply_fn`` with ``x``,
    ``y`` and ``loss`` (see :func:`~nnmath.analysis.as_objective`).

    >>> import numpy as np, nnmath.numpy as mnp
    >>> X = np.array([[1.0, 2.0], [3.0, 4.0]])
    >>> G = ggn_operator(lambda w, x: x @ w, np.zeros(2), x=X, y=np.zeros(2), loss="mse")
    >>> np.allclose(G.to_dense(), X.T @ X)     # mse over 2 samples: (1/2)·Σ 2 xxᵀ
    True
    """
    obj = as_objective(f, params, **data)
    obj._need_outputs("ggn_operator")
    return CurvatureOperator(obj, obj.ggn_vp_flat, "ggn")


def fisher_operator(f: Any, params: Any = None, kind: str = "empirical",
                    **data: Any) -> CurvatureOperator:
    """The Fisher information as a LinearOperator.

    ``kind="empirical"``: F̂ = (1/N) Σ_i ∇s_i ∇s_iᵀ over the samples' (weighted) losses s_i at the
    observed targets (one JVP and one VJP of the per-sample loss vector per batch).
    ``kind="true"``: F = (1/N) Σ_i E_{y∼p(y|x_i,θ)}[∇log p(y|x_i) ∇log p(y|x_i)ᵀ] = Jᵀ E_y[H_ℓ] J,
    for losses that are negative log-likelihoods: categorical and sparse categorical
    cross-entropy, binary cross-entropy, mean squared error (Amari 1998; Martens 2014 §9).

    >>> import numpy as np
    >>> X = np.array([[1.0, 0.0], [0.0, 1.0]]); Y = np.array([1.0, 2.0])
    >>> F = fisher_operator(lambda w, x: x @ w, np.zeros(2), x=X, y=Y, loss="mse")
    >>> F.to_dense()                           # s_i = (yᵢ − wᵢ)², ∇s_i = −2yᵢeᵢ, mean over 2
    array([[2., 0.],
           [0., 8.]])
    """
    if kind not in ("empirical", "true"):
        raise ValueError(f"fisher_operator: kind must be 'empirical' or 'true', got {kind!r}")
    obj = as_objective(f, params, **data)
    if kind == "empirical":
        return CurvatureOperator(obj, obj.empirical_fisher_vp_flat, "fisher_empirical")
    obj._need_outputs("fisher_operator(kind='true')")
    if obj._expected_targets is None:
        raise ValueError("fisher_operator(kind='true') needs a loss that is a negative "
                         "log-likelihood with a known predictive distribution: categorical or "
                         "sparse categorical cross-entropy, binary cross-entropy or mean squared "
                         "error; use kind='empirical' or ggn_operator for other losses")
    return CurvatureOperator(obj, lambda v: obj.ggn_vp_flat(v, expected=True), "fisher_true")


def hessian_matrix(f: Any, params: Any = None, max_bytes: int | None = None,
                   **data: Any) -> np.ndarray:
    """The dense Hessian ∇²L(θ) (P × P, flat parameter order of ``ravel_pytree``) for small
    models, built from the Hessian operator; refused above ``max_bytes`` (default 1 GiB) with the
    memory it would need.

    >>> import numpy as np, nnmath.numpy as mnp
    >>> hessian_matrix(lambda w: w[0] * w[1] ** 2, np.array([1.0, 2.0]))
    array([[0., 4.],
           [4., 2.]])
    """
    return hessian_operator(f, params, **data).to_dense(max_bytes=max_bytes)
