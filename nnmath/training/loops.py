"""The training loops of every model: ``fit``, ``evaluate`` and ``predict`` (Keras 3
semantics), as a mixin of :class:`~nnmath.training.Model`.

Each loop drives a ``CallbackList`` (progress bar, History, the user's callbacks) around the
model's steps — the recorded ``_train_step`` / ``_test_step`` / ``_predict_step`` of
``model.py``, or a subclass's own ``train_step`` / ``test_step`` — over array batches
(``data.array_batches``) or a ``PyDataset``. The data-parallel hooks of ``distribution`` wrap
each loop.
"""
from __future__ import annotations

import itertools
import math
import warnings
from typing import Any

import numpy as np

from . import data as _data
from . import distribution as _distribution   # data-parallel hooks (issue 13)

__all__ = ["TrainingLoops"]


class TrainingLoops:
    """Mixin of :class:`~nnmath.training.Model`: the loops (see the module docstring)."""

    # ------------------------------------------------------------------ fit
    @_distribution.data_parallel("fit")
    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None,
            validation_split=0.0, validation_data=None, shuffle=True, class_weight=None,
            sample_weight=None, initial_epoch=0, steps_per_epoch=None, validation_steps=None,
            validation_batch_size=None, validation_freq=1):
        """Train (Keras semantics). ``validation_split`` takes the last fraction *before*
        shuffling; ``shuffle`` permutes the training samples each epoch; returns a ``History``.
        Several inputs or outputs: lists of arrays (or dicts by layer name), as in Keras.

        ``steps_per_epoch`` (Keras 3): an epoch is that many batches, drawn from one stream
        that continues across epochs and starts a new (reshuffled) pass over the data when it
        runs out; ``validation_steps`` limits each validation to its first batches."""
        from . import callbacks as _callbacks
        ds = x if isinstance(x, _data.PyDataset) else None        # batches from Python code
        if ds is not None:
            # batch_size is ignored, as Keras 3 does: the dataset's batches set it
            n_ds = _data.check_pydataset_call("fit", ds.num_batches, y=y,
                                              sample_weight=sample_weight,
                                              validation_split=validation_split)
            first = _data.unpack_batch(ds[0])
            batch_size = len(_data.as_array(_flat_first(first[0]), "x"))
        batch_size = 32 if batch_size is None else batch_size
        if not isinstance(batch_size, (int, np.integer)) or batch_size <= 0:
            raise ValueError(f"fit: batch_size must be a positive integer, got {batch_size!r}")
        if not isinstance(epochs, (int, np.integer)) or epochs < 0:
            raise ValueError(f"fit: epochs must be a non-negative integer, got {epochs!r}")
        if ds is not None:
            xs, ys, sample_weight = self._prepare(*first, class_weight, "fit")
            y = first[1]
        else:
            xs, ys, sample_weight = self._prepare(x, y, sample_weight, class_weight, "fit")
        if isinstance(validation_data, _data.PyDataset):
            val = validation_data
        elif validation_data is not None:
            vx, vy, *rest = tuple(validation_data) + (None,)
            val = self._check_data(vx, vy, rest[0] if rest else None, "validation_data")
            val = (self._cast_list(val[0]),) + tuple(val[1:])
        elif validation_split:
            (xs, ys, sample_weight), val = _data.validation_split(xs, ys, sample_weight,
                                                                  validation_split)
        else:
            val = None
        self._ensure_optimizer()
        rng = _data.global_rng()
        n = len(xs[0])
        steps = n_ds if ds is not None else -(-n // batch_size)
        if steps_per_epoch is not None:
            if not isinstance(steps_per_epoch, (int, np.integer)) or steps_per_epoch <= 0:
                raise ValueError(f"fit: steps_per_epoch must be a positive integer or None, "
                                 f"received steps_per_epoch={steps_per_epoch!r}")
            steps = int(steps_per_epoch)
        stream = None                              # steps_per_epoch: batches across epochs
        verbose = 1 if verbose == "auto" else int(verbose)
        history = _callbacks.History()
        cbs = list(callbacks or [])
        if verbose:
            cbs.append(_callbacks.ProgbarLogger(verbose=verbose))
        cbl = _callbacks.CallbackList(cbs + [history], model=self)
        cbl.set_params({"epochs": epochs, "steps": steps, "verbose": verbose, "batch_size": batch_size,
                        "samples": n})
        self.stop_training = False
        self._initial_epoch = None
        cbl.on_train_begin()
        # BackupAndRestore sets _initial_epoch in on_train_begin: resume there (Keras reads it too)
        initial_epoch = max(initial_epoch, getattr(self, "_initial_epoch", None) or 0)
        logs: dict = {}
        loss_mean = _RunningMean()
        part_means = [_RunningMean() for _ in ys] if len(ys) > 1 else []
        batch_hooks = cbl.has_batch_hooks          # without them, no per-batch logs (as Keras)
        custom = self._overrides("train_step")
        finite = True                              # until the first non-finite loss (warned once)
        for epoch in range(initial_epoch, epochs):
            for m in (self.metrics if custom else self.compiled_metrics):
                m.reset_state()
            for r in [loss_mean] + part_means:
                r.reset()
            cbl.on_epoch_begin(epoch)
            def one_pass():
                if ds is not None:
                    return self._pydataset_batches(ds, rng.permutation(n_ds) if shuffle
                                                   else range(n_ds), class_weight, "fit")
                order = rng.permutation(n) if shuffle else None
                return _data.array_batches(xs, ys, sample_weight,
                                           _data.batches(n, batch_size, order))
            if steps_per_epoch is None:
                epoch_batches = one_pass()
            else:
                stream = stream or _data.endless(one_pass)
                epoch_batches = itertools.islice(stream, steps)
            for step, (xb, yb, swb) in enumerate(epoch_batches):
                if batch_hooks:
                    cbl.on_train_batch_begin(step)
                if custom:                         # the subclass's own step (Keras's hook)
                    logs = self._custom_step("train_step", xb, None if y is None else yb, swb)
                    if finite:
                        finite = _finite_or_warn(logs.get("loss"), epoch, epochs, step)
                    if batch_hooks:
                        cbl.on_train_batch_end(step, dict(logs))
                    if self.stop_training:
                        break
                    continue
                loss, parts, preds = self._train_step(xb, yb, swb, rng)
                if finite:
                    finite = _finite_or_warn(loss, epoch, epochs, step)
                if step == 0 and epoch == initial_epoch:
                    self._resolve_metrics(yb, preds)
                loss_mean.update(loss, len(xb[0]))
                for r, p in zip(part_means, parts):
                    r.update(p, len(xb[0]))
                self._update_metrics(yb, preds, swb)
                if batch_hooks:
                    logs = self._logs(loss_mean.result(), [r.result() for r in part_means])
                    cbl.on_train_batch_end(step, dict(logs, batch_loss=loss))
                if self.stop_training:
                    break
            if not custom:
                logs = self._logs(loss_mean.result(), [r.result() for r in part_means])
            if val is not None and (epoch + 1) % validation_freq == 0:
                vds = isinstance(val, _data.PyDataset)
                val_logs = self.evaluate(val if vds else self._model_input(val[0]),
                                         None if vds else self._model_target(val[1]),
                                         sample_weight=None if vds else val[2],
                                         batch_size=None if vds else
                                         validation_batch_size or batch_size,
                                         verbose=0, callbacks=cbl, return_dict=True,
                                         steps=validation_steps)
                logs.update({"val_" + k: v for k, v in val_logs.items()})
            cbl.on_epoch_end(epoch, logs)
            if self.stop_training:
                break
        self._initial_epoch = None
        cbl.on_train_end(logs)
        self.history = history
        return history

    # ------------------------------------------------------------------ evaluate / predict
    def _inference_batches(self, ds, n_ds: int, xs: list, ys: list, sample_weight,
                           batch_size, steps, who: str) -> tuple:
        """The batches of ``evaluate``/``predict`` (in order, the first ``steps``; Keras's
        default batch size 32, ignored for a PyDataset) and an iterator over their data."""
        batch_size = 32 if batch_size is None else int(batch_size)
        if batch_size <= 0:
            raise ValueError(f"{who}: batch_size must be positive, got {batch_size}")
        if ds is not None:
            batches = _limit(range(n_ds), steps, who)
            return batches, self._pydataset_batches(ds, batches, None, who)
        batches = _limit(_data.batches(len(xs[0]), batch_size), steps, who)
        return batches, _data.array_batches(xs, ys, sample_weight, batches)

    @_distribution.data_parallel("predict")
    def predict(self, x, batch_size=None, verbose=0, steps=None, callbacks=None):
        """Outputs in inference mode, computed in batches (default 32); a list of arrays for a
        model with several outputs.

        ``callbacks`` get Keras's hooks: ``on_predict_begin``, per batch
        ``on_predict_batch_begin(step)`` / ``on_predict_batch_end(step, {"outputs": …})``, then
        ``on_predict_end``; ``verbose`` ≠ 0 shows a progress line. ``steps`` stops after that many
        batches. (Keras's default ``verbose`` is ``"auto"``; nnmath's 0 keeps scripts quiet.)"""
        ds, n_ds = (x if isinstance(x, _data.PyDataset) else None), 0
        if ds is not None:
            n_ds = _data.check_pydataset_call("predict", ds.num_batches)   # batch_size ignored
            x = _data.unpack_batch(ds[0])[0]
        xs = self._cast_list(self._check_data(x, None, None, "predict", finite=False)[0])
        self._build_from(self._model_input(xs))
        batches, batch_iter = self._inference_batches(ds, n_ds, xs, [], None, batch_size, steps,
                                                      "predict")
        cbl = self._loop_callbacks(callbacks, verbose, len(batches))
        hooks = cbl is not None and cbl.has_predict_batch_hooks
        if cbl is not None:
            cbl.on_predict_begin()
        weights = self._all_weights()
        outs = []
        for step, (xb, _, _) in enumerate(batch_iter):
            if hooks:
                cbl.on_predict_batch_begin(step)
            out = self._run("_predict_step", self._model_input(xb), *weights)
            outs.append(self._output_list(out))
            if hooks:
                cbl.on_predict_batch_end(step, {"outputs": out})
        if cbl is not None:
            cbl.on_predict_end()
        ys = [np.concatenate([o[k] for o in outs], axis=0) for k in range(len(outs[0]))]
        return self._model_target(ys)

    def _loop_callbacks(self, callbacks, verbose, steps):
        """The CallbackList an evaluate/predict loop drives, None when there is nothing to call
        (no callbacks and silent: the loop then costs nothing extra)."""
        from . import callbacks as _callbacks
        verbose = 1 if verbose == "auto" else int(verbose)
        if callbacks is None and not verbose:
            return None
        return _callbacks.CallbackList.for_loop(callbacks, self, verbose=verbose, steps=steps)

    @_distribution.data_parallel("evaluate")
    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None,
                 steps=None, callbacks=None, return_dict=False):
        """Loss and metrics over the data in inference mode (Keras: a scalar when there are no
        metrics, else a list; a dict with ``return_dict=True``).

        ``callbacks`` get Keras's hooks: ``on_test_begin``, per batch
        ``on_test_batch_begin(step)`` / ``on_test_batch_end(step, logs)`` (the running means so
        far), then ``on_test_end(logs)``; inside ``fit`` the validation pass calls them on fit's
        callbacks. ``verbose`` ≠ 0 shows a progress line; ``steps`` stops after that many
        batches."""
        if not getattr(self, "_compiled", False):
            raise RuntimeError("evaluate: compile the model first")
        ds, n_ds = (x if isinstance(x, _data.PyDataset) else None), 0
        if ds is not None:
            n_ds = _data.check_pydataset_call("evaluate", ds.num_batches, y=y,   # batch_size ignored
                                              sample_weight=sample_weight)
            x, y, sample_weight = _data.unpack_batch(ds[0])
        xs, ys, sample_weight = self._prepare(x, y, sample_weight, None, "evaluate")
        batches, batch_iter = self._inference_batches(ds, n_ds, xs, ys, sample_weight,
                                                      batch_size, steps, "evaluate")
        cbl = self._loop_callbacks(callbacks, verbose, len(batches))
        hooks = cbl is not None and cbl.has_test_batch_hooks
        if cbl is not None:
            cbl.on_test_begin()
        weights = self._all_weights()
        loss_mean = _RunningMean()
        part_means = [_RunningMean() for _ in ys] if len(ys) > 1 else []
        custom = self._overrides("test_step")
        for m in (self.metrics if custom else self.compiled_metrics):
            m.reset_state()
        logs: dict = {}
        for step, (xb, yb, swb) in enumerate(batch_iter):
            if hooks:
                cbl.on_test_batch_begin(step)
            if custom:
                logs = self._custom_step("test_step", xb, None if y is None else yb, swb)
                if hooks:
                    cbl.on_test_batch_end(step, dict(logs))
                continue
            loss, parts, y_pred = self._run("_test_step", self._model_input(xb),
                                            self._model_target(yb), swb, *weights)
            preds = self._output_list(y_pred)
            self._resolve_metrics(yb, preds)      # no-op once resolved
            loss_mean.update(float(loss), len(xb[0]))
            for r, p in zip(part_means, parts):
                r.update(float(p), len(xb[0]))
            self._update_metrics(yb, preds, swb)
            if hooks:
                cbl.on_test_batch_end(step, self._logs(loss_mean.result(),
                                                       [r.result() for r in part_means]))
        if not custom:
            logs = self._logs(loss_mean.result(), [r.result() for r in part_means])
        if cbl is not None:
            cbl.on_test_end(logs)
        if return_dict:
            return logs
        return logs["loss"] if len(logs) == 1 else list(logs.values())


def _finite_or_warn(loss: Any, epoch: int, epochs: int, step: int) -> bool:
    """False, after one RuntimeWarning naming the epoch and the batch, when the batch's loss
    is NaN or infinite (fit warns once per call; ``TerminateOnNaN`` stops training there)."""
    if isinstance(loss, float):                     # fit's own step (the hot path)
        value = loss
    else:                                           # a custom train_step's logs["loss"]
        try:
            value = float(np.asarray(loss, dtype=np.float64).sum())
        except (TypeError, ValueError):
            return True
    if math.isfinite(value):
        return True
    warnings.warn(f"fit: the loss became {value} at epoch {epoch + 1}/{epochs} (epoch index "
                  f"{epoch}), batch index {step}; training diverged (try a smaller "
                  "learning_rate or gradient clipping, or stop it with "
                  "keras.callbacks.TerminateOnNaN())", RuntimeWarning, stacklevel=3)
    return False


def _flat_first(x: Any) -> Any:
    """The first array of ``x`` (an array, or a list/tuple/dict of them)."""
    while isinstance(x, (list, tuple, dict)) and len(x):
        x = next(iter(x.values())) if isinstance(x, dict) else x[0]
    return x


def _limit(batches, steps, what: str) -> list:
    """The first ``steps`` batches (all of them when ``steps`` is None)."""
    batches = list(batches)
    if steps is None:
        return batches
    if not isinstance(steps, (int, np.integer)) or steps <= 0:
        raise ValueError(f"{what}: steps must be a positive integer or None, got {steps!r}")
    return batches[:int(steps)]


class _RunningMean:
    """Weighted running mean (Keras reports the epoch's mean batch loss, weighted by batch size).
    ``metrics.Mean`` computes the same but validates arrays on each update (~12 µs), too much for
    a once-per-step scalar on the training loop's hot path."""

    __slots__ = ("total", "count")

    def __init__(self):
        self.reset()

    def reset(self):
        self.total, self.count = 0.0, 0.0

    def update(self, value: float, weight: float):
        self.total += value * weight
        self.count += weight

    def result(self) -> float:
        return self.total / self.count if self.count else 0.0
