"""Executors for the analysis tools' ``executor=`` argument, on engines people already run.

Every analysis tool that is a map over independent jobs takes any ``concurrent.futures.Executor``;
these build the usual ones, each worker limited to one BLAS thread (the jobs are the parallelism;
a worker whose BLAS also spawns threads would oversubscribe the cores):

* :func:`local_executor` — a ``ProcessPoolExecutor`` on this machine (spawn or forkserver);
* :func:`dask_executor` — a Dask ``distributed`` cluster (an embedded ``LocalCluster`` by default,
  or an existing scheduler / Client), through ``Client.get_executor()``;
* :func:`mpi_executor` — ``mpi4py.futures.MPIPoolExecutor`` (MPICH or Open MPI).

>>> import numpy as np, nnmath.numpy as mnp
>>> from nnmath.analysis import loss_slice_1d
>>> with local_executor(2) as ex:               # doctest: +SKIP
...     s = loss_slice_1d(mnp.sum, np.ones(3), direction=np.ones(3), executor=ex)
"""
from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os
import pickle
from typing import Any

__all__ = ["local_executor", "dask_executor", "mpi_executor", "MissingExtraError"]

_BLAS_LIMIT: list = []          # the worker's threadpoolctl limiter, kept alive


class MissingExtraError(ImportError):
    """An optional dependency of nnmath.distributed is not installed."""


def _require(module: str, extra: str, what: str):
    import importlib
    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise MissingExtraError(f"{what} needs {module.split('.')[0]}, which is not installed "
                                f"({e}); install the extra: pip install 'nnmath[{extra}]'") from None


def _one_blas_thread() -> None:
    """Worker initializer: one BLAS/OpenMP thread (threadpoolctl, and the environment for
    libraries loaded later)."""
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = "1"
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:                 # pragma: no cover - threadpoolctl is in the test extra
        return
    _BLAS_LIMIT.append(threadpool_limits(1))


def local_executor(max_workers: int | None = None, *, context: str = "spawn") -> cf.Executor:
    """A ``ProcessPoolExecutor`` of ``max_workers`` processes (default ``os.cpu_count()``), each
    with one BLAS thread.

    Args:
        max_workers: the number of worker processes.
        context: ``"spawn"`` (default: safe with threads in the parent) or ``"forkserver"``
            (faster starts on Linux). ``"fork"`` is refused: forking a process whose BLAS has
            started threads can deadlock.

    Returns:
        a ``concurrent.futures.ProcessPoolExecutor`` (use it as a context manager, or call
        ``shutdown()``).
    """
    if context not in ("spawn", "forkserver"):
        raise ValueError(f"local_executor: context must be 'spawn' or 'forkserver', got "
                         f"{context!r} (fork can deadlock a process whose BLAS runs threads)")
    if max_workers is not None and (isinstance(max_workers, bool) or
                                    not isinstance(max_workers, int) or max_workers < 1):
        raise ValueError(f"local_executor: max_workers must be a positive integer, got "
                         f"{max_workers!r}")
    return cf.ProcessPoolExecutor(max_workers, mp_context=multiprocessing.get_context(context),
                                  initializer=_one_blas_thread)


class DaskExecutor(cf.Executor):
    """``Client.get_executor()`` that also owns the Client (and the LocalCluster it started):
    ``shutdown()`` closes them."""

    def __init__(self, client: Any, cluster: Any = None, own_client: bool = True):
        self.client, self.cluster, self._own = client, cluster, own_client
        self._executor = client.get_executor(pure=False)
        self.num_workers = sum(client.nthreads().values()) or None

    def submit(self, fn, /, *args, **kwargs):
        return self._executor.submit(fn, *args, **kwargs)

    def map(self, fn, *iterables, timeout=None, chunksize=1):
        return self._executor.map(fn, *iterables, timeout=timeout)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self._executor.shutdown(wait=wait)
        if self._own:
            self.client.close()
            if self.cluster is not None:
                self.cluster.close()

    def __repr__(self) -> str:
        return f"DaskExecutor({self.client!r})"


def dask_executor(n_workers: int | None = 2, *, address: str | None = None, client: Any = None,
                  threads_per_worker: int = 1, **cluster_kwargs: Any) -> DaskExecutor:
    """A Dask ``distributed`` executor: an embedded ``LocalCluster`` of ``n_workers`` worker
    processes with ``threads_per_worker`` threads each (default: 2 × 1), or the scheduler at
    ``address`` (``"tcp://host:8786"``), or an existing ``distributed.Client``.

    Dask's nanny starts workers with ``OMP_NUM_THREADS=MKL_NUM_THREADS=OPENBLAS_NUM_THREADS=1``.

    Args:
        n_workers: worker processes of the LocalCluster.
        address: connect to this scheduler instead of starting a cluster.
        client: use this Client instead (not closed by ``shutdown()``).
        threads_per_worker: threads per worker process (1: the jobs are numpy-bound).
        **cluster_kwargs: passed to ``distributed.LocalCluster`` (``memory_limit``, …).

    Returns:
        a :class:`DaskExecutor` (a ``concurrent.futures.Executor``; ``shutdown()`` closes what
        it started).
    """
    distributed = _require("distributed", "dask", "dask_executor")
    if client is not None:
        return DaskExecutor(client, None, own_client=False)
    if address is not None:
        return DaskExecutor(distributed.Client(address), None)
    cluster_kwargs.setdefault("dashboard_address", None)
    cluster_kwargs.setdefault("processes", True)
    cluster = distributed.LocalCluster(n_workers=n_workers, threads_per_worker=threads_per_worker,
                                       **cluster_kwargs)
    return DaskExecutor(distributed.Client(cluster), cluster)


def mpi_executor(max_workers: int | None = None, *, spawn: bool = False,
                 **kwargs: Any) -> cf.Executor:
    """``mpi4py.futures.MPIPoolExecutor``, sending jobs with cloudpickle (so functions defined
    in ``__main__`` travel by value).

    Launch the script with ``mpiexec -n P python -m mpi4py.futures script.py``: rank 0 runs the
    script, the other P − 1 ranks are the workers (the script needs the
    ``if __name__ == "__main__":`` guard). ``spawn=True`` starts workers with
    ``MPI_Comm_spawn`` from a process not launched by mpiexec instead, where the MPI
    implementation supports it (with MPICH's singleton init from PyPI it can hang, so it is not
    the default).

    Args:
        max_workers: workers to spawn (with ``spawn=True``).
        spawn: allow spawning workers when not running under ``python -m mpi4py.futures``.
        **kwargs: passed to ``MPIPoolExecutor``.
    """
    futures = _require("mpi4py.futures", "mpi", "mpi_executor")
    from mpi4py import MPI
    try:
        import cloudpickle
        MPI.pickle.__init__(cloudpickle.dumps, pickle.loads)
    except ImportError:                 # pragma: no cover - cloudpickle comes with the extras
        pass                            # then mpi4py's pickle: module-level functions only
    world = MPI.COMM_WORLD.Get_size()
    if world == 1 and not spawn:
        raise RuntimeError("mpi_executor: this process was not started by mpiexec with workers; "
                           "launch it as `mpiexec -n P python -m mpi4py.futures script.py` (P − 1 "
                           "workers), or pass spawn=True to spawn workers with MPI_Comm_spawn")
    return futures.MPIPoolExecutor(max_workers=max_workers, **kwargs)
