"""Curvature products over a data set sharded across MPI ranks.

Each rank holds a shard of the data; :class:`MPIObjective` is the
:class:`~nnmath.analysis.Objective` of the *whole* data set built from it: every product
(loss, gradient, Hessian-, Gauss–Newton- and Fisher-vector) is the sum over the rank's batches,
then **one** ``Allreduce`` (sum) of the flat result, so the analysis tools run on it unchanged —
:func:`~nnmath.analysis.hessian_top_eigenvalues` (Lanczos), :func:`~nnmath.analysis.hessian_trace`
(Hutchinson), the SLQ density, ``ggn_operator`` … — each rank running the same algorithm on the
same reduced products, with the data (and its activations) divided among the ranks:

    L(θ) = Σ_r Σ_{b ∈ shard r} w_b L_b(θ) + R(θ),   w_b = n_b / N  (N = Σ_r N_r, all ranks),

(w_b = 1 for ``reduction="sum"``, w_b = Σ_{i∈b} s_i / Σ_all s for "mean_with_sample_weight"), and
the regulariser R is added on rank 0 only. The loss is therefore the single-process loss of the
concatenated shards, up to rounding (the batches' sums are associated differently).

Every rank must call the same products in the same order (as the tools do: their control flow
depends only on reduced values, which MPI's sum gives identically on every rank for the
implementations' reduction trees — MPICH and Open MPI combine each element in one place and
broadcast it, or pairwise in a commutative order).

Run with ``mpiexec -n P python script.py``.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..analysis._objective import (Objective, _batch_slices, _is_model, _loss_object,
                                   as_objective)
from ._executors import _require

__all__ = ["MPIObjective", "shard_slice", "shard"]


def _comm(comm: Any):
    if comm is None:
        mpi4py = _require("mpi4py.MPI", "mpi", "MPIObjective")
        return mpi4py.COMM_WORLD
    return comm


def shard_slice(n: int, comm: Any = None, *, rank: int | None = None,
                size: int | None = None) -> slice:
    """This rank's contiguous block of ``n`` samples (sizes differ by at most one, as
    ``numpy.array_split``).

    >>> [shard_slice(10, rank=r, size=3) for r in range(3)]
    [slice(0, 4, None), slice(4, 7, None), slice(7, 10, None)]
    """
    if rank is None or size is None:
        c = _comm(comm)
        rank, size = c.Get_rank(), c.Get_size()
    base, extra = divmod(int(n), int(size))
    start = rank * base + min(rank, extra)
    return slice(start, start + base + (1 if rank < extra else 0))


def shard(*arrays: Any, comm: Any = None) -> Any:
    """This rank's rows of each array (see :func:`shard_slice`); one array → one array."""
    n = len(arrays[0][0]) if isinstance(arrays[0], (list, tuple)) else len(arrays[0])
    s = shard_slice(n, comm)
    out = [None if a is None else ([v[s] for v in a] if isinstance(a, (list, tuple)) else a[s])
           for a in arrays]
    return out[0] if len(out) == 1 else out


class MPIObjective(Objective):
    """The Objective of the data set whose shards the ranks hold (see the module docstring).

    Args:
        f, params: as :func:`~nnmath.analysis.as_objective` (the same on every rank: a compiled
            Model, or ``apply_fn(params, x)`` with ``loss``; a bare ``loss_fn(params)`` is each
            rank's term of a sum).
        comm: an ``mpi4py`` communicator (default ``MPI.COMM_WORLD``).
        x, y, sample_weight: **this rank's shard** of the data (:func:`shard` cuts one).
        batch_size, loss, dtype, use_jit: as :func:`~nnmath.analysis.as_objective`.

    Attributes:
        comm, rank, num_ranks: the communicator, this rank, the number of ranks.
        num_samples: N, over all ranks; ``local_samples``: this rank's.
        num_allreduces: the collectives made so far (one per product).
    """

    def __init__(self, f: Any, params: Any = None, *, comm: Any = None, x: Any = None,
                 y: Any = None, sample_weight: Any = None, batch_size: int | None = None,
                 loss: Any = None, dtype: Any = None, use_jit: bool = True):
        comm = _comm(comm)
        local = as_objective(f, params, x=x, y=y, sample_weight=sample_weight,
                             batch_size=batch_size, loss=loss, dtype=dtype, use_jit=use_jit)
        self.__dict__.update(local.__dict__)
        self.comm, self.rank, self.num_ranks = comm, comm.Get_rank(), comm.Get_size()
        self.num_allreduces = 0
        self.local_samples = local.num_samples
        if local.num_samples is not None:
            self.batches = self._global_weights(f, loss, sample_weight, batch_size)
        if self.rank != 0:
            self._regularizer = None            # R(θ) once, on rank 0

    def _global_weights(self, f: Any, loss: Any, sample_weight: Any,
                        batch_size: int | None) -> list:
        """w_b with the whole data set's normaliser (N or Σ s over all ranks)."""
        if loss is not None:
            losses = [_loss_object(loss)]
        elif _is_model(f):
            losses = list(f._output_losses)
        else:
            losses = [_loss_object(loss)]
        reductions = {getattr(l, "reduction", "sum_over_batch_size") for l in losses}
        red = reductions.pop() if len(reductions) == 1 else None
        counts = [s.stop - s.start for s in _batch_slices(self.local_samples, batch_size)]
        n = int(self.comm.allreduce(int(self.local_samples)))
        self.num_samples = n
        if red == "sum":
            return [(1.0, b) for _, b in self.batches]
        if red == "mean_with_sample_weight" and sample_weight is not None:
            sws = [float(np.sum(b[2])) for _, b in self.batches]
            total = float(self.comm.allreduce(float(np.sum(sample_weight))))
            return [(s / total, b) for s, (_, b) in zip(sws, self.batches)]
        return [(c / n, b) for c, (_, b) in zip(counts, self.batches)]

    # ------------------------------------------------------------------ reduced products
    def _sum(self, a: np.ndarray) -> np.ndarray:
        """Σ over ranks of ``a``, in place: one Allreduce."""
        from mpi4py import MPI
        a = np.ascontiguousarray(a)
        self.comm.Allreduce(MPI.IN_PLACE, a, op=MPI.SUM)
        self.num_allreduces += 1
        return a

    def value(self, params: Any = None) -> float:
        return float(self._sum(np.array([super().value(params)], np.float64))[0])

    def value_and_grad_flat(self, params: Any = None) -> tuple[float, np.ndarray]:
        v, g = super().value_and_grad_flat(params)
        buf = self._sum(np.concatenate([g, np.array([v], g.dtype)]))   # one collective for both
        return float(buf[-1]), buf[:-1]

    def hvp_flat(self, v: Any, params: Any = None) -> np.ndarray:
        return self._sum(super().hvp_flat(v, params))

    def hvp_rows_flat(self, V: np.ndarray, params: Any = None) -> np.ndarray:
        return self._sum(super().hvp_rows_flat(V, params))

    def ggn_vp_flat(self, v: Any, params: Any = None, expected: bool = False) -> np.ndarray:
        return self._sum(super().ggn_vp_flat(v, params, expected))

    def empirical_fisher_vp_flat(self, v: Any, params: Any = None) -> np.ndarray:
        return self._sum(super().empirical_fisher_vp_flat(v, params))

    def __repr__(self) -> str:
        return (f"MPIObjective({self.kind}, {self.size} parameters ({self.dtype}), "
                f"{self.num_samples} samples on {self.num_ranks} ranks; rank {self.rank} holds "
                f"{self.local_samples} in {len(self.batches)} batches)")
