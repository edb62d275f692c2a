"""Data-parallel training: the protocol ``fit``/``evaluate``/``predict`` follow when a
:class:`Distribution` is given (``fit(..., distribution=d)``) or set once for a script
(:func:`set_distribution`, in the spirit of Keras 3's ``keras.distribution.set_distribution``).

The semantics live here, written once; an engine in a higher layer supplies only the transport
(:meth:`Distribution.allreduce_sum`, :meth:`~Distribution.broadcast`,
:meth:`~Distribution.broadcast_object`, :meth:`~Distribution.abort`) — e.g.
``nnmath.distributed.MPIDataParallel`` on mpi4py. Each of the ``size`` processes runs the same
script on the whole data set:

* **start** — the training random generator's state is broadcast from rank 0 (one seed → the
  same global permutation on every rank, seeded or not) and, at the first step, every weight is
  broadcast from rank 0;
* **every global batch** (the indices ``fit`` draws, identical everywhere) is cut into ``size``
  contiguous shards (sizes differ by at most one, as ``numpy.array_split``); rank r computes the
  loss, the flat gradient g_r and the predictions of its shard, then **one** ``Allreduce`` (sum)
  of one flat buffer [failure flag, w_r·loss_r, w_r·g_r, c_r·state_r, predictions placed at the
  shard's rows] gives every rank

      L = Σ_r w_r L_r,   g = Σ_r w_r g_r,   w_r = n_r / B  ("sum_over_batch_size", "mean"),
      w_r = Σ_{i∈r} s_i / Σ_{i∈B} s_i  ("mean_with_sample_weight"),   w_r = 1  ("sum"),

  which is the single-process loss and gradient of the global batch up to rounding (the sums are
  associated differently); weight regularisers R(θ) are added on every rank and Σ_r w_r = 1, so R
  counts once (the "sum" reduction with regularisers is refused: it would count R once per rank).
  The optimizer then steps identically everywhere. The whole batch's predictions come back too, so
  the metrics update with the global batch on every rank and the logs (losses and metrics) are
  the single-process ones, identical on every rank — callbacks such as ``EarlyStopping`` decide
  the same everywhere. Non-trainable state (BatchNormalization's moving statistics) is averaged
  with the count weights c_r = n_r / B (exact for moving means; the normalisation itself uses each
  shard's statistics, as Keras's MirroredStrategy without SyncBatchNormalization);
* ``evaluate`` and ``predict`` shard each batch the same way (one collective per batch);
* **only rank 0 prints and writes**: on the other ranks ``verbose`` is 0 and ``ModelCheckpoint``,
  ``CSVLogger``, ``TensorBoard``, ``ProgbarLogger`` and callbacks with ``chief_only = True`` are
  left out; ``BackupAndRestore`` restores on every rank but saves on rank 0 only. Saving a model
  yourself: ``if distribution.is_chief: model.save(...)``;
* **failures** — a rank whose step raises contributes a failure flag to the step's collective, so
  every rank raises :class:`DistributedError` naming it (the failing rank's error is the
  ``__cause__``); anything else that raises inside a distributed ``fit``/``evaluate``/``predict``
  (a callback, a write) prints the rank and traceback to stderr and ends the whole job with the
  engine's abort, since the other ranks would otherwise wait for that rank forever.

Dropout masks come from a per-rank generator derived from the synchronised training generator
(without drawing from it), so they are independent across shards; with dropout the trajectory
therefore differs from the single-process one (as it would with any other split of the draws).
Overridden ``train_step``/``test_step`` are refused. With one process (``size == 1``) nothing is
changed.
"""
from __future__ import annotations

import functools
import hashlib
import inspect
import sys
import traceback
from typing import Any, Callable

import numpy as np

__all__ = ["Distribution", "DistributedError", "set_distribution", "get_distribution",
           "data_parallel"]

_GLOBAL: dict = {"distribution": None}

# leading data arguments of each step method of Model (the weights follow them)
_DATA_ARGS = {"_gradient_step": 4, "_test_step": 3, "_predict_step": 1}


class DistributedError(RuntimeError):
    """A rank failed during a distributed ``fit``/``evaluate``/``predict``; raised on every rank."""


def set_distribution(value: "Distribution | None") -> None:
    """Make ``value`` the distribution of every later ``fit``/``evaluate``/``predict`` that is
    not given one (``None`` clears it); Keras 3's ``keras.distribution.set_distribution``.

    >>> set_distribution(None); get_distribution() is None
    True
    """
    if value is not None and not isinstance(value, Distribution):
        raise TypeError(f"set_distribution: expected a Distribution (e.g. "
                        f"nnmath.distributed.MPIDataParallel()) or None, got {value!r}")
    _GLOBAL["distribution"] = value


def get_distribution() -> "Distribution | None":
    """The distribution set with :func:`set_distribution` (Keras's ``distribution()``)."""
    return _GLOBAL["distribution"]


def _take(a: Any, sl: slice) -> Any:
    """Rows ``sl`` of an array, of each array of a list/tuple/dict, or None."""
    if a is None:
        return None
    if isinstance(a, dict):
        return {k: v[sl] for k, v in a.items()}
    if isinstance(a, (list, tuple)):
        return type(a)(v[sl] for v in a)
    return a[sl]


def _num_rows(a: Any) -> int:
    if isinstance(a, dict):
        a = next(iter(a.values()))
    if isinstance(a, (list, tuple)):
        a = a[0]
    return len(a)


class Distribution:
    """A group of ``size`` processes training one model data-parallel (see the module docstring).

    Subclasses implement the transport; everything else is here.

    Attributes:
        rank: this process's index, 0 … size − 1.
        size: the number of processes.
        num_collectives: the step collectives made so far (one per step and dtype).
    """

    rank: int = 0
    size: int = 1

    def __init__(self) -> None:
        self.num_collectives = 0
        self._templates: dict = {}       # step → shapes/dtypes of a successful local result
        self._synced = False
        self._step = 0
        self._what = ""
        self._dropout_rng: np.random.Generator | None = None

    # ------------------------------------------------------------------ the transport
    def allreduce_sum(self, buf: np.ndarray) -> None:
        """Replace ``buf`` (contiguous) in place by its sum over the ranks."""
        raise NotImplementedError(f"{type(self).__name__} must implement allreduce_sum")

    def broadcast(self, buf: np.ndarray, root: int = 0) -> None:
        """Replace ``buf`` (contiguous) in place by rank ``root``'s."""
        raise NotImplementedError(f"{type(self).__name__} must implement broadcast")

    def broadcast_object(self, obj: Any, root: int = 0) -> Any:
        """Rank ``root``'s ``obj`` (a small picklable value) on every rank."""
        raise NotImplementedError(f"{type(self).__name__} must implement broadcast_object")

    def abort(self, message: str, code: int = 1) -> None:
        """Print ``message`` to stderr and end every rank of the job."""
        raise NotImplementedError(f"{type(self).__name__} must implement abort")

    @property
    def is_chief(self) -> bool:
        """True on rank 0, the rank that prints, saves checkpoints and writes reports."""
        return self.rank == 0

    def shard_slice(self, n: int) -> slice:
        """This rank's contiguous block of ``n`` rows (block sizes differ by at most one)."""
        base, extra = divmod(int(n), int(self.size))
        start = self.rank * base + min(self.rank, extra)
        return slice(start, start + base + (1 if self.rank < extra else 0))

    # ------------------------------------------------------------------ a loop under it
    def _callbacks(self, cbs: Any) -> Any:
        """Rank 0 keeps every callback; the others drop the ones that print or write."""
        if self.is_chief or cbs is None:
            return cbs
        import copy

        from .callbacks import (BackupAndRestore, CSVLogger, ModelCheckpoint, ProgbarLogger,
                                TensorBoard)
        if not isinstance(cbs, (list, tuple)):
            return cbs                          # a CallbackList (fit's own, reaching evaluate)
        kept = []
        for cb in cbs:
            if getattr(cb, "chief_only", False) or isinstance(
                    cb, (ModelCheckpoint, CSVLogger, TensorBoard, ProgbarLogger)):
                continue
            if isinstance(cb, BackupAndRestore):
                cb = copy.copy(cb)
                cb.save_freq, cb.delete_checkpoint = False, False   # restore only
            kept.append(cb)
        return kept

    def _run_loop(self, model: Any, what: str, method: Callable, args: tuple,
                  kwargs: dict) -> Any:
        hook = "train_step" if what == "fit" else "test_step" if what == "evaluate" else None
        if hook is not None and model._overrides(hook) or (
                what == "fit" and model._overrides("test_step")):
            raise ValueError(f"{what}: distribution= does not run an overridden train_step/"
                             f"test_step ({type(model).__name__} overrides one); use the "
                             f"built-in steps or train without a distribution")
        if what != "predict":
            _reduction(model, what)             # a clear error on every rank, before any collective
        bound = inspect.signature(method).bind(model, *args, **kwargs)
        if not self.is_chief:
            bound.arguments["verbose"] = 0
            if "callbacks" in bound.arguments:
                bound.arguments["callbacks"] = self._callbacks(bound.arguments["callbacks"])
        self._synced, self._step, self._what = False, 0, what
        model.__dict__["_distribution"] = self
        try:
            if what == "fit":
                self._sync_rng()
            return method(*bound.args, **bound.kwargs)
        except DistributedError:
            raise                                   # every rank raises it: no one waits
        except BaseException as e:                  # only this rank: the others would wait
            self.abort(f"nnmath: rank {self.rank} of {self.size} raised "
                       f"{type(e).__name__}: {e} during {what} (outside a step's collective); "
                       f"ending all {self.size} ranks\n" + traceback.format_exc())
            raise
        finally:
            model.__dict__.pop("_distribution", None)

    def _sync_rng(self) -> None:
        """Rank 0's training generator everywhere, and a per-rank generator for dropout derived
        from it without drawing."""
        from . import data as _data
        rng = _data.global_rng()
        state = self.broadcast_object(rng.bit_generator.state)
        rng.bit_generator.state = state
        digest = hashlib.sha256(repr(state).encode()).digest()
        self._dropout_rng = np.random.default_rng(
            [int.from_bytes(digest[:8], "little"), int.from_bytes(digest[8:16], "little"),
             self.rank])

    def _broadcast_weights(self, weights: tuple) -> None:
        for w in weights:
            if isinstance(w, np.ndarray) and w.flags.c_contiguous and w.flags.writeable:
                self.broadcast(w)
            elif isinstance(w, np.ndarray):
                w[...] = self.broadcast_object(np.array(w))

    def _weight(self, model: Any, data: tuple, sl: slice, rows: int) -> float:
        """w_r of the module docstring for this rank's shard ``sl`` of ``rows`` rows."""
        red = _reduction(model, self._what)
        if red == "sum":
            reg = model._add_regularization(0.0, model.params)
            if not (isinstance(reg, float) and reg == 0.0):
                raise ValueError(f"{self._what}: a loss with reduction='sum' and weight "
                                 f"regularisers cannot be split across ranks (R would count once "
                                 f"per rank); use 'sum_over_batch_size' or drop the regularisers")
            return 1.0
        sw = data[2] if len(data) > 2 else None
        if red == "mean_with_sample_weight" and sw is not None:
            total = float(np.sum(sw))
            if total != 0.0:
                return float(np.sum(sw[sl])) / total
        return (sl.stop - sl.start) / rows

    def run_step(self, model: Any, step: str, args: tuple) -> Any:
        """``model._run(step, *args)`` for the global batch in ``args``, computed on this rank's
        shard and reduced with one collective per dtype; the same structure comes back."""
        nd = _DATA_ARGS[step]
        data, weights = args[:nd], args[nd:]
        if not self._synced:
            self._broadcast_weights(weights)
            self._synced = True
        self._step += 1
        rows = _num_rows(data[0])
        sl = self.shard_slice(rows)
        n_r = sl.stop - sl.start
        # an empty shard (a last batch smaller than the group) computes one row, weighted 0
        local_sl = sl if n_r else slice(0, 1)
        local = tuple(_take(a, local_sl) for a in data[:3])
        if step == "_gradient_step":
            local = local[:3] + (self._dropout_rng,)
        error = None
        try:
            w = self._weight(model, data, sl, rows) if step != "_predict_step" else 0.0
            model.__dict__.pop("_distribution", None)
            try:
                out = model._run(step, *local[:nd], *weights)
            finally:
                model.__dict__["_distribution"] = self
            parts = self._split(step, out, model)
            self._templates[id(model), step] = [
                None if p is None else (p[0], p[1].shape, p[1].dtype) for p in parts]
        except Exception as e:          # noqa: BLE001 - reported to every rank below
            error, w = e, 0.0
            template = self._templates.get((id(model), step))
            if template is None:        # no layout to join the collective with: end the job
                self.abort(f"nnmath: rank {self.rank} of {self.size} raised "
                           f"{type(e).__name__}: {e} in the first {step.strip('_')} of "
                           f"{self._what}; ending all {self.size} ranks\n"
                           + traceback.format_exc())
                raise
            parts = [None if t is None else (t[0], np.zeros(t[1], t[2])) for t in template]
        if not n_r:
            w = 0.0
        reduced, failed, who = self._reduce(parts, w, n_r / rows, sl, rows, error is not None)
        if failed:
            culprit = f"rank {who}" if failed == 1 else f"{failed} ranks"
            msg = (f"{self._what}: {culprit} of {self.size} raised during step {self._step}"
                   + (f" ({type(error).__name__}: {error})" if error is not None else
                      " (its traceback is on that rank's stderr)")
                   + f"; every rank stops")
            if error is not None:
                traceback.print_exception(error, file=sys.stderr)
                raise DistributedError(msg) from error
            raise DistributedError(msg)
        return self._assemble(step, reduced, model)

    # ------------------------------------------------------------------ the buffer
    @staticmethod
    def _split(step: str, out: Any, model: Any) -> list:
        """The local result as [(kind, array) or None]: kind "w" (scaled by w_r), "c" (by the
        count weight), "p" (predictions, placed at the shard's rows)."""
        def arr(v):
            return np.asarray(v)
        if step == "_predict_step":
            return [("p", arr(p)) for p in model._output_list(out)]
        if step == "_test_step":
            loss, parts, y_pred = out
            return ([("w", arr(loss))] + [("w", arr(p)) for p in parts]
                    + [("p", arr(p)) for p in model._output_list(y_pred)])
        loss, parts, y_pred, flat, *state = out
        flats = [] if flat is None else list(flat) if isinstance(flat, tuple) else [flat]
        return ([("w", arr(loss))] + [("w", arr(p)) for p in parts]
                + [("p", arr(p)) for p in model._output_list(y_pred)]
                + [("g", f) for f in flats]
                + [None if s is None else ("c", arr(s)) for s in state])

    def _reduce(self, parts: list, w: float, c: float, sl: slice, rows: int,
                failed: bool) -> tuple:
        """One flat buffer per dtype, summed over the ranks; the header (failure count, Σ of
        failing ranks) rides in the first one."""
        first = next(p[1].dtype for p in parts if p is not None)
        groups: dict = {first: [np.array([float(failed), float(self.rank if failed else 0)],
                                         first)]}
        for p in parts:
            if p is None:
                continue
            kind, a = p
            if kind == "p":                 # the shard's rows of the batch, zeros elsewhere
                seg = np.zeros((rows,) + a.shape[1:], a.dtype)
                if sl.stop > sl.start and not failed:
                    seg[sl] = a
            else:
                scale = c if kind == "c" else w
                seg = np.zeros(a.shape, a.dtype) if scale == 0 else a * a.dtype.type(scale)
            groups.setdefault(seg.dtype, []).append(seg.ravel())
        bufs = {}
        for dtype, segs in groups.items():
            buf = np.concatenate(segs).astype(dtype, copy=False)
            self.allreduce_sum(buf)
            self.num_collectives += 1
            bufs[dtype] = buf
        head = bufs[first][:2]
        offsets = {dtype: 0 for dtype in bufs}
        offsets[first] = 2
        out = []
        for p in parts:
            if p is None:
                out.append(None)
                continue
            kind, a = p
            shape = ((rows,) + a.shape[1:]) if kind == "p" else a.shape
            size = int(np.prod(shape))
            o = offsets[a.dtype]
            out.append(bufs[a.dtype][o:o + size].reshape(shape))
            offsets[a.dtype] = o + size
        failed_count = int(round(float(head[0])))
        who = int(round(float(head[1])))
        return out, failed_count, who

    def _assemble(self, step: str, vals: list, model: Any) -> Any:
        template = self._templates[id(model), step]
        kinds = [None if t is None else t[0] for t in template]
        n_out = kinds.count("p")
        preds = [v for v, k in zip(vals, kinds) if k == "p"]
        y_pred = model._model_target(preds) if n_out else None
        if step == "_predict_step":
            return y_pred
        scalars = [v for v, k in zip(vals, kinds) if k == "w"]
        loss, parts = scalars[0].reshape(()), tuple(s.reshape(()) for s in scalars[1:])
        if step == "_test_step":
            return loss, parts, y_pred
        grads = [v for v, k in zip(vals, kinds) if k == "g"]
        flat = None if not grads else grads[0] if len(grads) == 1 else tuple(grads)
        state = [v for v, k in zip(vals, kinds) if k in ("c", None)]
        return (loss, parts, y_pred, flat) + tuple(state)


def _reduction(model: Any, what: str) -> str:
    """The reduction every output's loss shares (the shard weights depend on it)."""
    losses = [l for l in getattr(model, "_output_losses", []) if l is not None]
    reductions = {getattr(l, "reduction", "sum_over_batch_size") for l in losses}
    if len(reductions) > 1:
        raise ValueError(f"{what}: with a distribution every output's loss needs the same "
                         f"reduction; got {sorted(map(str, reductions))}")
    red = reductions.pop() if reductions else "sum_over_batch_size"
    if red in ("none", None):
        raise ValueError(f"{what}: a loss with reduction={red!r} returns per-sample values; "
                         f"data-parallel training needs a reduced (scalar) loss")
    return red


def _resolve(distribution: Any, what: str) -> "Distribution | None":
    if distribution is None:
        return get_distribution()
    if not isinstance(distribution, Distribution):
        raise TypeError(f"{what}: distribution must be a Distribution (e.g. "
                        f"nnmath.distributed.MPIDataParallel()) or None, got {distribution!r}")
    return distribution


_DOC_ARG = """

        ``distribution`` (keyword): a :class:`~nnmath.training.distribution.Distribution` (e.g.
        ``nnmath.distributed.MPIDataParallel()`` under ``mpiexec -n P``) to run data-parallel:
        each rank computes its shard of every batch, one collective per step; default the one
        set with ``set_distribution``, else none. See :mod:`nnmath.training.distribution`."""


def data_parallel(what: str) -> Callable:
    """Decorate ``Model.fit``/``evaluate``/``predict``: add the ``distribution=`` argument and,
    when one applies (given, or set with :func:`set_distribution`) with more than one process,
    run the loop under it. Calls nested in a running loop (fit's validation) join it."""
    def deco(method: Callable) -> Callable:
        @functools.wraps(method)
        def wrapper(self, *args, distribution=None, **kwargs):
            if self.__dict__.get("_distribution") is not None:
                return method(self, *args, **kwargs)          # inside a distributed loop
            dist = _resolve(distribution, what)
            if dist is None or dist.size == 1:
                return method(self, *args, **kwargs)
            return dist._run_loop(self, what, method, args, kwargs)
        wrapper.__doc__ = (method.__doc__ or "") + _DOC_ARG
        sig = inspect.signature(method)
        wrapper.__signature__ = sig.replace(parameters=list(sig.parameters.values()) + [
            inspect.Parameter("distribution", inspect.Parameter.KEYWORD_ONLY, default=None)])
        return wrapper
    return deco
