"""Data-parallel training on MPI: :class:`MPIDataParallel`, the mpi4py transport of
:class:`nnmath.training.distribution.Distribution` (which holds the semantics), and
:func:`mpiexec`, a launcher that finds MPICH's ``mpiexec`` beside the Python interpreter.

    # train.py — run with: mpiexec -n 4 python train.py
    import nnmath as nm
    from nnmath.distributed import MPIDataParallel
    dist = MPIDataParallel()
    nm.keras.utils.set_random_seed(0)
    model = ...; model.compile(...)
    model.fit(x, y, batch_size=256, epochs=5, distribution=dist)   # the *global* batch
    if dist.is_chief:
        model.save("model.nnmath.npz")

A Python exception that escapes the script on one rank leaves the others waiting in MPI (an
MPI property, not nnmath's); errors inside ``fit``/``evaluate``/``predict`` are handled (see
:mod:`nnmath.training.distribution`), and ``python -m mpi4py train.py`` covers the rest of the
script (mpi4py then aborts the job on an uncaught exception).
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from typing import Any, Sequence

import numpy as np

from ..training.distribution import Distribution
from ._executors import MissingExtraError, _require

__all__ = ["MPIDataParallel", "mpiexec", "mpiexec_path"]


class MPIDataParallel(Distribution):
    """Data-parallel ``fit``/``evaluate``/``predict`` over the ranks of an MPI communicator:
    weights broadcast from rank 0, each rank computes its shard of every global batch, one
    ``Allreduce`` of the flat gradient buffer per step (weighted by the shards' sizes), metrics and
    losses reduced for the logs, only rank 0 prints and writes (the full contract:
    :mod:`nnmath.training.distribution`).

    Args:
        comm: an mpi4py communicator (default ``MPI.COMM_WORLD``).

    Attributes:
        rank, size: this process's rank and the number of ranks.
        comm: the communicator.
        num_collectives: the step collectives so far (one per step for a model whose weights,
            loss and outputs share one dtype).
        allreduce_seconds, allreduce_bytes: the time spent in (and the bytes sent to) the step
            collectives — for measuring the communication share of a step.

    Raises:
        MissingExtraError: mpi4py is not installed (``pip install 'nnmath[mpi]'``).

    >>> MPIDataParallel().size >= 1          # doctest: +SKIP
    True
    """

    def __init__(self, comm: Any = None):
        super().__init__()
        MPI = _require("mpi4py.MPI", "mpi", "MPIDataParallel")
        self._MPI = MPI
        self.comm = MPI.COMM_WORLD if comm is None else comm
        self.rank, self.size = self.comm.Get_rank(), self.comm.Get_size()
        self.allreduce_seconds, self.allreduce_bytes = 0.0, 0

    def allreduce_sum(self, buf: np.ndarray) -> None:
        t = time.perf_counter()
        self.comm.Allreduce(self._MPI.IN_PLACE, buf, op=self._MPI.SUM)
        self.allreduce_seconds += time.perf_counter() - t
        self.allreduce_bytes += buf.nbytes

    def broadcast(self, buf: np.ndarray, root: int = 0) -> None:
        self.comm.Bcast(buf, root=root)

    def broadcast_object(self, obj: Any, root: int = 0) -> Any:
        return self.comm.bcast(obj, root=root)

    def abort(self, message: str, code: int = 1) -> None:
        sys.stdout.flush()
        sys.stderr.write(message if message.endswith("\n") else message + "\n")
        sys.stderr.flush()
        self.comm.Abort(code)

    def __repr__(self) -> str:
        return f"MPIDataParallel(rank={self.rank}, size={self.size})"


def mpiexec_path() -> str:
    """The ``mpiexec`` to launch with: the one beside ``sys.executable`` (MPICH from PyPI
    installs it there), else the first on ``PATH``.

    Raises:
        MissingExtraError: none is installed; the message says ``pip install 'nnmath[mpi]'``.
    """
    here = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    if os.path.isfile(here) and os.access(here, os.X_OK):
        return here
    found = shutil.which("mpiexec")
    if found:
        return found
    raise MissingExtraError("mpiexec is not installed (looked beside "
                            f"{sys.executable} and on PATH); install the extra: "
                            "pip install 'nnmath[mpi]' (mpi4py and MPICH)")


def mpiexec(n: int, argv: Sequence[str], *, timeout: float | None = None,
            env: dict | None = None, capture: bool = True) -> subprocess.CompletedProcess:
    """Run ``mpiexec -n n argv…`` (e.g. ``[sys.executable, "train.py"]``) and wait for it.

    Args:
        n: the number of ranks.
        argv: the command each rank runs.
        timeout: seconds before the job is killed (``subprocess.TimeoutExpired``).
        env: the environment (default this process's, with one BLAS thread per rank unless set).
        capture: capture stdout/stderr as text (else they go to this process's).

    Returns:
        the ``subprocess.CompletedProcess``.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"mpiexec: n must be a positive integer, got {n!r}")
    if isinstance(argv, str) or not argv:
        raise ValueError(f"mpiexec: argv must be a non-empty list of strings, got {argv!r}")
    env = dict(os.environ if env is None else env)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env.setdefault(var, "1")
    return subprocess.run([mpiexec_path(), "-n", str(n), *map(str, argv)], env=env,
                          timeout=timeout, capture_output=capture, text=capture)
