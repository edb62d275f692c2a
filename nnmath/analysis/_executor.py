"""Running an analysis tool's independent jobs on a ``concurrent.futures.Executor``.

The tools that are a map over independent jobs (landscape grids, ensemble members, MC-dropout
samples, Hutchinson and SLQ probe blocks) take ``executor=``: any ``concurrent.futures.Executor``
(a ``ProcessPoolExecutor``, ``distributed.Client(...).get_executor()``,
``mpi4py.futures.MPIPoolExecutor``; :mod:`nnmath.distributed` builds them). This module is the
one place that talks to it, and only through ``executor.submit``; analysis never imports an
engine.

A job is ``(setup, work, token, blob, item)``: ``blob`` is the tool's *context* — what it was
given (``f``, ``params``, the data, …), pickled once here — and ``setup(context)`` rebuilds the
tool's state in the worker (an :class:`~nnmath.analysis.Objective`, a model, …), which each worker
keeps under ``token`` so that the rebuild and its ``jit`` recordings are paid once per worker, not
once per job; ``work(state, item)`` computes one job exactly as the serial loop does (the same
numpy calls in the same order on the same values), so the results are bit-identical to the serial
run. Seeds and generator states are derived in the calling process as the serial code derives
them, and sent with the items.

Pickling: with cloudpickle installed (it comes with dask) functions defined in ``__main__`` or a
notebook travel by value; recorded ``jit`` plans (compiled code) are dropped and recorded again
in the worker, so trained Models pickle.
"""
from __future__ import annotations

import collections
import io
import pickle
import threading
import uuid
from typing import Any, Callable, Sequence

from .._core.jit import _Jitted

__all__ = ["dumps", "loads", "check_executor", "split", "run_jobs", "num_workers"]

#: Contexts a worker keeps (the most recent first out): one per tool call in flight.
CACHE_SIZE = 4
_CACHE: collections.OrderedDict = collections.OrderedDict()
_LOCK = threading.Lock()


def _none() -> None:
    return None


def _pickler_base() -> type:
    try:
        import cloudpickle
        return cloudpickle.CloudPickler
    except ImportError:                 # pragma: no cover - cloudpickle comes with the extras
        return pickle.Pickler


class _Pickler(_pickler_base()):
    """cloudpickle's (or pickle's) Pickler that sends a recorded ``jit`` function as None: a
    Model's step cache and an Objective's products are recorded again where they are used."""

    def reducer_override(self, obj: Any):
        if isinstance(obj, _Jitted):
            return (_none, ())
        parent = getattr(super(), "reducer_override", None)
        return NotImplemented if parent is None else parent(obj)


def dumps(obj: Any, what: str = "the job") -> bytes:
    """``obj`` pickled for a worker, or a TypeError saying what could not be pickled."""
    buf = io.BytesIO()
    try:
        _Pickler(buf, protocol=pickle.HIGHEST_PROTOCOL).dump(obj)
    except Exception as e:              # PicklingError, TypeError, AttributeError
        try:
            import cloudpickle  # noqa: F401
            hint = ""
        except ImportError:
            hint = (" (install cloudpickle — pip install 'nnmath[dask]' — to send lambdas and "
                    "functions defined in __main__ by value)")
        raise TypeError(f"executor=: {what} cannot be sent to a worker: {type(e).__name__}: "
                        f"{e}{hint}; define functions at module level, or run without "
                        f"executor=") from None
    return buf.getvalue()


def loads(blob: bytes) -> Any:
    return pickle.loads(blob)


def check_executor(executor: Any, who: str) -> None:
    if not (callable(getattr(executor, "submit", None))):
        raise TypeError(f"{who}: executor must be a concurrent.futures.Executor (with submit), "
                        f"e.g. nnmath.distributed.local_executor(); got {type(executor).__name__}")


def num_workers(executor: Any) -> int:
    """How many jobs ``executor`` runs at once, as far as it says (default 4)."""
    n = getattr(executor, "num_workers", None) or getattr(executor, "_max_workers", None)
    client = getattr(executor, "_client", None)
    if not n and client is not None:
        try:
            n = sum(client.nthreads().values())
        except Exception:               # pragma: no cover - a client that cannot say
            n = None
    return max(1, int(n)) if n else 4


def split(n: int, executor: Any, per_worker: int = 2) -> list[range]:
    """``range(n)`` cut into at most ``per_worker`` contiguous parts per worker (load balance
    against the per-job cost of sending the context)."""
    parts = max(1, min(n, per_worker * num_workers(executor)))
    bounds = [round(k * n / parts) for k in range(parts + 1)]
    return [range(a, b) for a, b in zip(bounds, bounds[1:]) if b > a]


def _job(setup: Callable, work: Callable, token: str, blob: bytes, item: Any) -> Any:
    """Runs in the worker: the context's state (rebuilt once per worker and thread), then one
    job."""
    key = (token, threading.get_ident())
    with _LOCK:
        state = _CACHE.get(key)
        if state is not None:
            _CACHE.move_to_end(key)
    if state is None:
        state = setup(loads(blob))
        with _LOCK:
            _CACHE[key] = state
            while len(_CACHE) > CACHE_SIZE:
                _CACHE.popitem(last=False)
    return work(state, item)


def run_jobs(executor: Any, setup: Callable, work: Callable, context: Any,
             items: Sequence, who: str) -> list:
    """``[work(setup(context), item) for item in items]`` on ``executor``, results in order."""
    check_executor(executor, who)
    blob = dumps(context, f"{who}'s context (f, params, data, …)")
    token = uuid.uuid4().hex
    futures = [executor.submit(_job, setup, work, token, blob, item) for item in items]
    return [f.result() for f in futures]
