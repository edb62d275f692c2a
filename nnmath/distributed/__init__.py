"""Scale-out on engines people already run: executors for the analysis tools' ``executor=``
argument (a local process pool, Dask, MPI) and curvature products over data sharded across MPI
ranks.

A layer beside :mod:`nnmath.analysis` (it imports analysis and training; analysis never imports
it: its tools take any ``concurrent.futures.Executor``). The engines are optional extras:
``pip install 'nnmath[dask]'`` (dask.distributed) and ``pip install 'nnmath[mpi]'`` (mpi4py and
MPICH); a missing one is a :class:`MissingExtraError` naming the extra.

* :func:`local_executor`, :func:`dask_executor`, :func:`mpi_executor` — executors whose workers
  use one BLAS thread each; pass one as ``executor=`` to ``loss_surface_2d``, ``loss_slice_1d``,
  ``linear_interpolation``, ``deep_ensemble``, ``mc_dropout_predict``, ``hessian_trace``,
  ``hessian_diagonal``, ``hessian_spectral_density``: the results are bit-identical to the
  serial run's for the same seed.
* :class:`MPIObjective`, :func:`shard`, :func:`shard_slice` — each rank holds a shard of the
  data; products are summed over the rank's batches and ``Allreduce``-d (one collective per
  product), so ``hessian_top_eigenvalues``, ``hessian_trace``, … run on it unchanged under
  ``mpiexec -n P``.
* :class:`MPIDataParallel` — data-parallel ``fit(..., distribution=MPIDataParallel())`` (or
  ``nnmath.training.distribution.set_distribution`` once per script) under
  ``mpiexec -n P python train.py``: one Allreduce of the flat gradient buffer per step;
  :func:`mpiexec` launches a job with the ``mpiexec`` installed beside the interpreter.
"""
from ._executors import (DaskExecutor, MissingExtraError, dask_executor, local_executor,
                         mpi_executor)
from ._data_parallel import MPIDataParallel, mpiexec, mpiexec_path
from ._mpi import MPIObjective, shard, shard_slice

__all__ = ["local_executor", "dask_executor", "mpi_executor", "DaskExecutor", "MissingExtraError",
           "MPIObjective", "shard", "shard_slice", "MPIDataParallel", "mpiexec", "mpiexec_path"]
