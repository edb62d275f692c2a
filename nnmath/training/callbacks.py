"""Callbacks with Keras 3 semantics: hooks that ``fit``, ``evaluate`` and ``predict`` call.

``fit`` drives them as Keras does (``keras/src/trainers``)::

    callbacks = CallbackList(user_callbacks, add_history=True, add_progbar=verbose != 0,
                             model=model, verbose=verbose, epochs=epochs, steps=steps)
    model.stop_training = False
    callbacks.on_train_begin()
    for epoch in range(initial_epoch, epochs):
        callbacks.on_epoch_begin(epoch)
        for step, batch in enumerate(batches):
            callbacks.on_train_batch_begin(step)
            logs = train_step(batch)                  # running means: {'loss': …, 'accuracy': …}
            callbacks.on_train_batch_end(step, logs)
            if model.stop_training:
                break
        epoch_logs = dict(logs)                       # plus 'val_loss', 'val_accuracy', … from
        callbacks.on_epoch_end(epoch, epoch_logs)     # validation (on_test_* hooks, silent)
        if model.stop_training:
            break
    callbacks.on_train_end(epoch_logs)
    return callbacks.history

Epochs and batches are 0-based in the hooks; printed messages say ``Epoch {epoch + 1}`` like Keras.
The progress display is itself a callback (:class:`ProgbarLogger`), added last so that it sees
what other callbacks put in the logs (``learning_rate``).

The model interface the callbacks use: ``model.stop_training`` (bool),
``model.optimizer.learning_rate`` (a settable float), ``model.get_weights()`` /
``model.set_weights(weights)``, ``model.save(path)``, ``model.save_weights(path)``, and optionally
``model.metrics`` (objects with ``name`` and ``direction``, for ``mode='auto'``) and
``model.metrics_names`` (for CSVLogger's columns).

References: Keras 3 ``keras/src/callbacks/*.py``.
"""
from __future__ import annotations

import collections.abc
import csv
import inspect
import math
import os
import sys
import time
import warnings
from typing import Callable

import numpy as np

__all__ = [
    "Callback", "CallbackList", "History", "ProgbarLogger", "EarlyStopping", "ModelCheckpoint",
    "LearningRateScheduler", "ReduceLROnPlateau", "CSVLogger", "TerminateOnNaN",
    "LambdaCallback",
]

HOOKS = (
    "on_train_begin", "on_train_end", "on_epoch_begin", "on_epoch_end",
    "on_train_batch_begin", "on_train_batch_end", "on_batch_begin", "on_batch_end",
    "on_test_begin", "on_test_end", "on_test_batch_begin", "on_test_batch_end",
    "on_predict_begin", "on_predict_end", "on_predict_batch_begin", "on_predict_batch_end",
)


class Callback:
    """Base class: every hook does nothing. Subclasses override the ones they need.

    Attributes:
        model: the model being trained (set by :meth:`set_model`).
        params: dict from ``fit`` (``verbose``, ``epochs``, ``steps``).

    ``on_train_batch_begin`` / ``on_train_batch_end`` call ``on_batch_begin`` / ``on_batch_end``
    (Keras's backwards-compatible aliases), so overriding either works.
    """

    def __init__(self):
        self.params: dict = {}
        self._model = None

    def set_params(self, params: dict) -> None:
        self.params = params

    def set_model(self, model) -> None:
        self._model = model

    @property
    def model(self):
        return self._model

    def on_train_begin(self, logs=None): """Called once before the first epoch."""
    def on_train_end(self, logs=None): """Called once after training (logs: the last epoch's)."""
    def on_epoch_begin(self, epoch, logs=None): """Called at the start of epoch ``epoch``."""
    def on_epoch_end(self, epoch, logs=None):
        """Called at the end of an epoch; ``logs`` holds the epoch's metrics and ``val_*``."""
    def on_batch_begin(self, batch, logs=None): """Alias of ``on_train_batch_begin``."""
    def on_batch_end(self, batch, logs=None): """Alias of ``on_train_batch_end``."""

    def on_train_batch_begin(self, batch, logs=None):
        """Called before training batch ``batch`` (0-based within the epoch)."""
        self.on_batch_begin(batch, logs=logs)

    def on_train_batch_end(self, batch, logs=None):
        """Called after a training batch; ``logs`` holds the running means of this epoch."""
        self.on_batch_end(batch, logs=logs)

    def on_test_begin(self, logs=None): """Called before evaluation (or validation in fit)."""
    def on_test_end(self, logs=None): """Called after evaluation."""
    def on_test_batch_begin(self, batch, logs=None): """Called before an evaluation batch."""
    def on_test_batch_end(self, batch, logs=None): """Called after an evaluation batch."""
    def on_predict_begin(self, logs=None): """Called before prediction."""
    def on_predict_end(self, logs=None): """Called after prediction."""
    def on_predict_batch_begin(self, batch, logs=None): """Called before a prediction batch."""
    def on_predict_batch_end(self, batch, logs=None): """Called after a prediction batch."""


def _pythonify(logs: dict) -> dict:
    """Numpy scalars and 0-d arrays in ``logs`` become Python floats, in place (so History and
    the CSV hold plain numbers, and callbacks that add keys are seen by the caller)."""
    for key, value in logs.items():
        if isinstance(value, (np.generic, np.ndarray)) and np.ndim(value) == 0:
            logs[key] = float(value)
    return logs


class CallbackList(Callback):
    """Calls every hook on each callback in turn (Keras's ``CallbackList``).

    Args:
        callbacks: a list of :class:`Callback` (nested lists are flattened).
        add_history: append a :class:`History` unless one is given (``fit`` passes True).
        add_progbar: append a :class:`ProgbarLogger` unless one is given (``fit``: verbose ≠ 0).
        model: set on every callback (and ``model.history`` is the History).
        **params: ``verbose``, ``epochs``, ``steps``…, passed to every ``set_params``.

    Logs are handed over as the same dict to every callback, so a callback that adds a key
    (``learning_rate``) is seen by the ones after it; numpy scalars become floats first. Keras
    dispatches batch hooks on a thread pool when no callback overrides them; here they run inline.
    """

    def __init__(self, callbacks=None, add_history: bool = False, add_progbar: bool = False,
                 model=None, **params):
        super().__init__()
        self.callbacks: list[Callback] = list(_flatten(callbacks or []))
        for cb in self.callbacks:
            if not isinstance(cb, Callback):
                raise ValueError(f"callbacks must be Callback instances; received "
                                 f"{type(cb).__name__}: {cb!r}")
        self._history = next((c for c in self.callbacks if isinstance(c, History)), None)
        self._progbar = next((c for c in self.callbacks if isinstance(c, ProgbarLogger)), None)
        if self._history is None and add_history:
            self._history = History()
            self.callbacks.append(self._history)
        if self._progbar is None and add_progbar:
            self._progbar = ProgbarLogger()
            self.callbacks.append(self._progbar)
        if model is not None:
            self.set_model(model)
        if params:
            self.set_params(params)

    @property
    def history(self) -> History | None:
        """The History callback (what ``fit`` returns)."""
        return self._history

    @property
    def has_batch_hooks(self) -> bool:
        """Whether some callback overrides a training-batch hook (Keras skips the per-batch logs
        when none does, and so does ``fit``)."""
        hooks = ("on_train_batch_begin", "on_train_batch_end", "on_batch_begin", "on_batch_end")
        return any(getattr(type(cb), h) is not getattr(Callback, h)
                   for cb in self.callbacks for h in hooks)

    @property
    def progbar(self) -> ProgbarLogger | None:
        return self._progbar

    def append(self, callback: Callback) -> None:
        self.callbacks.append(callback)

    def __iter__(self):
        return iter(self.callbacks)

    def __len__(self) -> int:
        return len(self.callbacks)

    def set_params(self, params: dict) -> None:
        self.params = params
        for cb in self.callbacks:
            cb.set_params(params)

    def set_model(self, model) -> None:
        super().set_model(model)
        if self._history is not None:
            model.history = self._history
        for cb in self.callbacks:
            cb.set_model(model)

    def _call(self, hook: str, *args, logs=None):
        logs = _pythonify(logs if logs is not None else {})
        for cb in self.callbacks:
            getattr(cb, hook)(*args, logs)

    def on_train_begin(self, logs=None): self._call("on_train_begin", logs=logs)
    def on_train_end(self, logs=None): self._call("on_train_end", logs=logs)
    def on_epoch_begin(self, epoch, logs=None): self._call("on_epoch_begin", epoch, logs=logs)
    def on_epoch_end(self, epoch, logs=None): self._call("on_epoch_end", epoch, logs=logs)
    def on_batch_begin(self, batch, logs=None): self._call("on_batch_begin", batch, logs=logs)
    def on_batch_end(self, batch, logs=None): self._call("on_batch_end", batch, logs=logs)

    def on_train_batch_begin(self, batch, logs=None):
        self._call("on_train_batch_begin", batch, logs=logs)

    def on_train_batch_end(self, batch, logs=None):
        self._call("on_train_batch_end", batch, logs=logs)

    def on_test_begin(self, logs=None): self._call("on_test_begin", logs=logs)
    def on_test_end(self, logs=None): self._call("on_test_end", logs=logs)

    def on_test_batch_begin(self, batch, logs=None):
        self._call("on_test_batch_begin", batch, logs=logs)

    def on_test_batch_end(self, batch, logs=None):
        self._call("on_test_batch_end", batch, logs=logs)

    def on_predict_begin(self, logs=None): self._call("on_predict_begin", logs=logs)
    def on_predict_end(self, logs=None): self._call("on_predict_end", logs=logs)

    def on_predict_batch_begin(self, batch, logs=None):
        self._call("on_predict_batch_begin", batch, logs=logs)

    def on_predict_batch_end(self, batch, logs=None):
        self._call("on_predict_batch_end", batch, logs=logs)


def _flatten(items):
    for item in items:
        if isinstance(item, (list, tuple)):
            yield from _flatten(item)
        else:
            yield item


class History(Callback):
    """Records every epoch's logs; ``fit`` returns it.

    Attributes:
        history: dict name → list of values, one per epoch (``{'loss': [...], 'val_loss': [...]}``).
        epoch: the epoch indices seen (0-based).
        resolved: dict metric name → what it resolved to, for metrics whose kind differs from
            their name (``{'accuracy': 'categorical_accuracy'}``), read from ``model.metrics``.

    As Keras: ``history`` survives a second ``fit`` with the same History (values are appended)
    while ``epoch`` restarts, and ``model.history`` is set to this object.
    """

    def __init__(self):
        super().__init__()
        self.history: dict[str, list] = {}
        self.epoch: list[int] = []
        self.resolved: dict[str, str] = {}

    def on_train_begin(self, logs=None):
        self.epoch = []

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        self.epoch.append(epoch)
        for key, value in logs.items():
            self.history.setdefault(key, []).append(value)
        for m in _model_metrics(self.model):
            kind = getattr(m, "resolved", None)
            if kind and kind != m.name:
                self.resolved[m.name] = kind
        if self.model is not None:
            self.model.history = self


def _model_metrics(model) -> list:
    """``model.metrics`` (else ``model.compiled_metrics``) flattened; objects with a ``.metrics``
    list are containers."""
    try:
        stack = list(getattr(model, "metrics", None) or getattr(model, "compiled_metrics", None)
                     or [])
    except Exception:                       # a model whose metrics are not built yet
        return []
    out = []
    while stack:
        m = stack.pop(0)
        inner = getattr(m, "metrics", None)
        if isinstance(inner, (list, tuple)):
            stack[:0] = list(inner)
        elif isinstance(getattr(m, "name", None), str):
            out.append(m)
    return out


# ---------------------------------------------------------------------------------------------
# Progress display
# ---------------------------------------------------------------------------------------------
def _format_value(value) -> str:
    """Keras's Progbar format: 4 decimals, or scientific notation for tiny magnitudes."""
    if isinstance(value, (int, float, np.number)) and not isinstance(value, bool):
        v = float(value)
        return f"{v:.4f}" if abs(v) > 1e-3 or v == 0 or not math.isfinite(v) else f"{v:.4e}"
    return str(value)


def _format_logs(logs: dict, sep: str = " - ") -> str:
    return sep.join(f"{k}: {_format_value(v)}" for k, v in (logs or {}).items())


class ProgbarLogger(Callback):
    """The progress display: a tqdm bar on a terminal, one line per epoch otherwise.

    * ``verbose`` (from ``fit``'s params; ``'auto'`` is 1): 0 prints nothing; 1 shows a bar per
      epoch when the stream is a terminal (per batch: ``loss`` and the metrics; at the end of the
      epoch the ``val_*`` values too, and tqdm's elapsed time) and one line per epoch when it is
      not (a log file, CI, a pipe; a Jupyter kernel counts as a terminal, as in Keras); 2 always
      prints one line per epoch::

          Epoch 3/50 - 0.05s - loss: 0.2000 - accuracy: 0.9000 - val_loss: 0.2500

      (Keras's verbose=2 line starts with ``steps/steps`` and a per-step time instead.)
    * ``evaluate`` (the ``on_test_*`` hooks outside ``fit``) and ``predict`` get a bar or a line
      the same way; validation inside ``fit`` is silent, its results appear in the epoch's line.

    Args:
        bar: None (default) decides from ``verbose`` and the terminal as above; True forces a tqdm
            bar (when verbose ≠ 0), False forces the one-line form.
        stream: where to write; default ``sys.stdout`` at the time of writing.
        verbose: overrides ``params['verbose']`` (Keras takes it only from ``fit``'s params).

    tqdm is imported only when a bar is shown.
    """

    def __init__(self, bar: bool | None = None, stream=None, verbose: int | str | None = None):
        super().__init__()
        self.bar = bar
        self._verbose = verbose
        self._stream = stream
        self._tqdm = None
        self._in_fit = False
        self._t0 = 0.0
        self._seen = 0

    # -- settings ---------------------------------------------------------------------------
    @property
    def stream(self):
        return self._stream if self._stream is not None else sys.stdout

    @property
    def verbose(self) -> int:
        v = self._verbose if self._verbose is not None else (self.params or {}).get("verbose", 1)
        return 1 if v == "auto" else int(v)

    @property
    def epochs(self) -> int:
        return int((self.params or {}).get("epochs", 1) or 1)

    @property
    def steps(self) -> int | None:
        return (self.params or {}).get("steps")

    def _use_bar(self) -> bool:
        if self.verbose == 0:
            return False
        if self.bar is not None:
            return bool(self.bar)
        if self.verbose != 1:
            return False
        if "ipykernel" in sys.modules:                 # a notebook renders the bar (Keras too)
            return True
        isatty = getattr(self.stream, "isatty", None)
        try:
            return bool(isatty and isatty())
        except ValueError:                                     # closed stream
            return False

    def _write(self, line: str) -> None:
        self.stream.write(line + "\n")
        self.stream.flush()

    # -- a bar or a clock -------------------------------------------------------------------
    def _start(self, desc: str) -> None:
        self._t0, self._seen = time.perf_counter(), 0
        self._close()
        if self._use_bar():
            from tqdm import tqdm             # lazily: only a run that shows a bar needs it
            self._tqdm = tqdm(total=self.steps, desc=desc, unit="step", file=self.stream,
                              leave=True, dynamic_ncols=True)

    def _update(self, batch: int, logs) -> None:
        self._seen = batch + 1
        if self._tqdm is not None:
            self._tqdm.update(self._seen - self._tqdm.n)
            if logs:
                self._tqdm.set_postfix_str(_format_logs(logs, sep=", "), refresh=False)

    def _finish(self, head: str, logs) -> None:
        elapsed = time.perf_counter() - self._t0
        if self._tqdm is not None:
            if self._tqdm.total is None:
                self._tqdm.total = self._seen
            if logs:
                self._tqdm.set_postfix_str(_format_logs(logs, sep=", "), refresh=False)
            self._close()
        elif self.verbose:
            parts = [head, f"{elapsed:.2f}s"] + ([_format_logs(logs)] if logs else [])
            self._write(" - ".join(p for p in parts if p))

    def _close(self) -> None:
        if self._tqdm is not None:
            self._tqdm.close()
            self._tqdm = None

    # -- hooks ------------------------------------------------------------------------------
    def on_train_begin(self, logs=None):
        self._in_fit = True                   # validation inside fit is silent

    def on_train_end(self, logs=None):
        self._close()
        self._in_fit = False

    def on_epoch_begin(self, epoch, logs=None):
        if self.verbose:
            self._start(f"Epoch {epoch + 1}/{self.epochs}")

    def on_train_batch_end(self, batch, logs=None):
        if self.verbose:
            self._update(batch, logs)

    def on_epoch_end(self, epoch, logs=None):
        if self.verbose:
            self._finish(f"Epoch {epoch + 1}/{self.epochs}", logs)

    def on_test_begin(self, logs=None):
        if self.verbose and not self._in_fit:
            self._start("Evaluate")

    def on_test_batch_end(self, batch, logs=None):
        if self.verbose and not self._in_fit:
            self._update(batch, logs)

    def on_test_end(self, logs=None):
        if self.verbose and not self._in_fit:
            self._finish(f"Evaluate {self._seen}/{self.steps or self._seen}", logs)

    def on_predict_begin(self, logs=None):
        if self.verbose:
            self._start("Predict")

    def on_predict_batch_end(self, batch, logs=None):
        if self.verbose:
            self._update(batch, None)             # Keras: predictions are not displayed

    def on_predict_end(self, logs=None):
        if self.verbose:
            self._finish(f"Predict {self._seen}/{self.steps or self._seen}", None)


# ---------------------------------------------------------------------------------------------
# Monitoring a quantity: EarlyStopping, ModelCheckpoint, ReduceLROnPlateau
# ---------------------------------------------------------------------------------------------
_UP_WORDS = ("acc", "auc", "precision", "recall", "f1", "r2", "iou")
_DOWN_WORDS = ("loss", "error", "crossentropy", "hinge", "divergence")
_DOWN_NAMES = {"mse", "mae", "rmse", "mape", "msle", "kld", "logcosh"}


def _direction(monitor: str, mode: str, model, who: str) -> str:
    """``'min'`` or ``'max'`` for ``monitor``.

    ``mode='auto'`` follows Keras 3's ``MonitorCallback``: ``loss`` / ``val_loss`` are minimised;
    otherwise the model's metric of that name (without ``val_``) says, by its ``direction``. When
    the model has no such metric (a custom loop, a fake model), the name decides: it contains
    ``acc``, ``auc``, ``precision``, ``recall``, ``f1`` → max; ``loss``, ``error``, ``mse``,
    ``mae``… → min (where Keras would raise). Otherwise ValueError, as Keras.
    """
    if mode in ("min", "max"):
        return mode
    name = monitor.removeprefix("val_")
    if name == "loss":
        return "min"
    for m in _model_metrics(model):
        if m.name == name:
            d = getattr(m, "direction", None) or getattr(m, "_direction", None)
            if d in ("up", "down"):
                return "max" if d == "up" else "min"
    low = name.lower()
    if any(w in low for w in _UP_WORDS):
        return "max"
    if low in _DOWN_NAMES or any(w in low for w in _DOWN_WORDS):
        return "min"
    raise ValueError(f"{who}: cannot tell whether monitor={monitor!r} should be minimised or "
                     f"maximised; pass mode='min' or mode='max'")


def _check_mode(mode: str, who: str) -> str:
    if mode not in ("auto", "min", "max"):
        raise ValueError(f"{who}: mode must be 'auto', 'min' or 'max'; received mode={mode!r}")
    return mode


def _copy_weights(weights):
    """A deep copy of ``model.get_weights()`` (a list / dict of arrays): a model whose weights
    live in a buffer updated in place may hand out views, and the best weights must not move."""
    if isinstance(weights, dict):
        return {k: _copy_weights(v) for k, v in weights.items()}
    if isinstance(weights, (list, tuple)):
        return type(weights)(_copy_weights(w) for w in weights)
    return np.array(weights, copy=True)


def _scalar(value) -> float | None:
    if value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


class EarlyStopping(Callback):
    """Stop training when ``monitor`` has stopped improving (Keras 3's rules, exactly).

    At each epoch end (from ``start_from_epoch`` on; a missing ``monitor`` warns and is skipped):
    ``wait += 1``; if ``current`` improves on ``best`` (``current < best − min_delta`` in min mode,
    ``current > best + min_delta`` in max mode; the first value always does) it becomes ``best``
    (weights saved when ``restore_best_weights``) and ``wait`` returns to 0, but only if
    ``current`` also beats ``baseline`` when one is given. Otherwise, once ``wait ≥ patience`` (and
    not at epoch 0), ``model.stop_training = True``. With ``restore_best_weights`` the best
    epoch's weights are put back at the end of training, whether or not it stopped early.

    Args:
        monitor: a key of the epoch logs (default ``'val_loss'``).
        min_delta: the smallest change that counts as an improvement (its sign is ignored).
        patience: epochs without improvement before stopping.
        verbose: 1 prints when it stops and when it restores.
        mode: ``'auto'``, ``'min'`` or ``'max'`` (auto: see ``_direction``).
        baseline: a value the monitor must beat to reset the patience.
        restore_best_weights: put back the best epoch's weights at the end.
        start_from_epoch: epochs of warm-up that are not monitored.

    Attributes:
        stopped_epoch: the epoch (0-based) at which it stopped, 0 if it did not.
        best, best_epoch, wait: the state above.
    """

    def __init__(self, monitor: str = "val_loss", min_delta: float = 0, patience: int = 0,
                 verbose: int = 0, mode: str = "auto", baseline: float | None = None,
                 restore_best_weights: bool = False, start_from_epoch: int = 0):
        super().__init__()
        self.monitor, self.patience, self.verbose = monitor, int(patience), verbose
        self.min_delta = abs(float(min_delta))
        self.mode = _check_mode(mode, "EarlyStopping")
        self.baseline, self.restore_best_weights = baseline, bool(restore_best_weights)
        self.start_from_epoch = int(start_from_epoch)
        self._op: str | None = None
        self.on_train_begin()

    def on_train_begin(self, logs=None):
        self.wait, self.stopped_epoch, self.best_epoch = 0, 0, 0
        self.best: float | None = None
        self.best_weights = None

    def _improves(self, current: float, reference: float | None) -> bool:
        if reference is None:
            return True
        if self._op == "min":
            return current + self.min_delta < reference
        return current - self.min_delta > reference

    def on_epoch_end(self, epoch, logs=None):
        if self._op is None:
            self._op = _direction(self.monitor, self.mode, self.model, "EarlyStopping")
        current = _scalar((logs or {}).get(self.monitor))
        if current is None:
            warnings.warn(f"EarlyStopping conditioned on {self.monitor!r}, which is not in the "
                          f"logs; available: {', '.join(logs or {})}", stacklevel=2)
            return
        if epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights = _copy_weights(self.model.get_weights())
            self.best_epoch = epoch
        self.wait += 1
        if self._improves(current, self.best):
            self.best, self.best_epoch = current, epoch
            if self.restore_best_weights:
                self.best_weights = _copy_weights(self.model.get_weights())
            if self.baseline is None or self._improves(current, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.stopped_epoch > 0 and self.verbose > 0:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose > 0:
                print(f"Restoring model weights from the end of the best epoch: "
                      f"{self.best_epoch + 1}.")
            self.model.set_weights(self.best_weights)


class ModelCheckpoint(Callback):
    """Save the model (``model.save(path)``) or its weights (``model.save_weights(path)``).

    ``filepath`` is formatted with ``epoch`` (1-based, as Keras) and the logs' keys, plus
    ``batch`` (1-based) when saving every ``save_freq`` batches, e.g.
    ``"ckpt-{epoch:02d}-{val_loss:.2f}.weights.npz"`` → ``ckpt-03-0.25.weights.npz``; missing
    directories are created. With ``save_best_only`` a file is written only when ``monitor``
    improves on the best so far (initially ``initial_value_threshold``, or none); a missing
    monitor warns and saves (Keras). Keras's required extensions (``.keras``,
    ``.weights.h5``) are not enforced: the format is the model's.

    Args:
        filepath: a path or format string.
        monitor: the key compared when ``save_best_only`` (default ``'val_loss'``).
        verbose: 1 prints each decision.
        save_best_only: save only improvements.
        save_weights_only: call ``save_weights`` instead of ``save``.
        mode: ``'auto'``, ``'min'`` or ``'max'``.
        save_freq: ``'epoch'`` or a number of batches.
        initial_value_threshold: the value to beat at first.

    Attributes:
        best: the best monitored value so far; ``saved``: the paths written, in order.
    """

    def __init__(self, filepath, monitor: str = "val_loss", verbose: int = 0,
                 save_best_only: bool = False, save_weights_only: bool = False,
                 mode: str = "auto", save_freq: str | int = "epoch",
                 initial_value_threshold: float | None = None):
        super().__init__()
        self.filepath = os.fspath(filepath)
        self.monitor, self.verbose = monitor, verbose
        self.save_best_only, self.save_weights_only = bool(save_best_only), bool(save_weights_only)
        self.mode = _check_mode(mode, "ModelCheckpoint")
        if save_freq != "epoch" and not (isinstance(save_freq, int) and save_freq > 0):
            raise ValueError(f"ModelCheckpoint: save_freq must be 'epoch' or a positive number of "
                             f"batches; received save_freq={save_freq!r}")
        self.save_freq = save_freq
        self.best = initial_value_threshold
        self.saved: list[str] = []
        self._op: str | None = None
        self._epoch = 0
        self._since_save = 0
        self._last_batch = -1

    def _improves(self, current: float) -> bool:
        if self._op is None:
            self._op = _direction(self.monitor, self.mode, self.model, "ModelCheckpoint")
        if self.best is None:
            return True
        return current < self.best if self._op == "min" else current > self.best

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.save_freq == "epoch":
            return
        self._since_save += batch + 1 if batch <= self._last_batch else batch - self._last_batch
        self._last_batch = batch
        if self._since_save >= self.save_freq:
            self._since_save = 0
            self._save(self._epoch, batch, logs)

    def on_epoch_end(self, epoch, logs=None):
        if self.save_freq == "epoch":
            self._save(epoch, None, logs)

    def _path(self, epoch: int, batch: int | None, logs: dict) -> str:
        fields = dict(logs)
        fields["epoch"] = epoch + 1
        if batch is not None and "batch" not in logs:
            fields["batch"] = batch + 1
        try:
            return self.filepath.format(**fields)
        except KeyError as e:
            raise KeyError(f"ModelCheckpoint: filepath {self.filepath!r} names {e}, which is not "
                           f"among epoch, batch and the logs' keys: {', '.join(logs)}") from None

    def _save(self, epoch: int, batch: int | None, logs) -> None:
        logs = logs or {}
        path = self._path(epoch, batch, logs)
        if self.save_best_only:
            current = logs.get(self.monitor)
            if current is None:
                warnings.warn(f"ModelCheckpoint: can save the best model only with "
                              f"{self.monitor!r} in the logs; saving anyway", stacklevel=2)
            elif np.ndim(current) > 0:
                warnings.warn(f"ModelCheckpoint: {self.monitor!r} is not a scalar; saving anyway",
                              stacklevel=2)
            else:
                previous = "None" if self.best is None else f"{self.best:.5f}"
                if not self._improves(float(current)):
                    if self.verbose > 0:
                        print(f"Epoch {epoch + 1}: {self.monitor} did not improve from {previous}")
                    return
                if self.verbose > 0:
                    print(f"Epoch {epoch + 1}: {self.monitor} improved from {previous} to "
                          f"{float(current):.5f}, saving model to {path}")
                self.best = float(current)
        elif self.verbose > 0:
            print(f"Epoch {epoch + 1}: saving model to {path}")
        directory = os.path.dirname(path)
        if directory:
            os.makedirs(directory, exist_ok=True)
        if self.save_weights_only:
            self.model.save_weights(path)
        else:
            self.model.save(path)
        self.saved.append(path)


# ---------------------------------------------------------------------------------------------
# Learning rate
# ---------------------------------------------------------------------------------------------
def _get_lr(model, who: str) -> float:
    optimizer = getattr(model, "optimizer", None)
    if optimizer is None or not hasattr(optimizer, "learning_rate"):
        raise ValueError(f"{who}: the model's optimizer must have a 'learning_rate' attribute")
    return float(np.asarray(optimizer.learning_rate))


class LearningRateScheduler(Callback):
    """Set ``model.optimizer.learning_rate = schedule(epoch, lr)`` at the start of every epoch
    (``epoch`` 0-based, ``lr`` the current rate), and log ``learning_rate`` at its end.

    A one-argument ``schedule(epoch)`` (Keras's old API) is accepted too; the arity is read from
    the signature (Keras retries on any TypeError, which hides errors raised inside the schedule).

    Args:
        schedule: the function.
        verbose: 1 prints each new rate.

    Raises:
        ValueError: the schedule returns something that is not a real number.
    """

    def __init__(self, schedule: Callable, verbose: int = 0):
        super().__init__()
        if not callable(schedule):
            raise ValueError(f"LearningRateScheduler: schedule must be callable; received "
                             f"{schedule!r}")
        self.schedule, self.verbose = schedule, verbose
        self._two_args = _takes_two_args(schedule)

    def on_epoch_begin(self, epoch, logs=None):
        lr = _get_lr(self.model, "LearningRateScheduler")
        new = self.schedule(epoch, lr) if self._two_args else self.schedule(epoch)
        is_real = isinstance(new, (int, float, np.integer, np.floating)) or (
            isinstance(new, np.ndarray) and new.ndim == 0 and new.dtype.kind in "iuf")
        if isinstance(new, (bool, np.bool_)) or not is_real:
            raise ValueError(f"LearningRateScheduler: the schedule must return a float; "
                             f"received {new!r} at epoch {epoch}")
        self.model.optimizer.learning_rate = float(new)
        if self.verbose > 0:
            print(f"Epoch {epoch + 1}: LearningRateScheduler setting learning rate to "
                  f"{float(new)}.")

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = _get_lr(self.model, "LearningRateScheduler")


def _takes_two_args(fn: Callable) -> bool:
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return True
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return len(positional) >= 2 or any(p.kind == p.VAR_POSITIONAL for p in params)


class ReduceLROnPlateau(Callback):
    """Multiply the learning rate by ``factor`` when ``monitor`` has not improved for ``patience``
    epochs (Keras 3's rules).

    At each epoch end ``learning_rate`` is added to the logs; then, if the monitored value is
    present: during a cooldown the counter goes down and ``wait`` stays 0; an improvement
    (``current < best − min_delta`` in min mode, ``> best + min_delta`` in max mode) resets
    ``wait``; otherwise, outside a cooldown, ``wait += 1`` and when ``wait ≥ patience`` and
    ``lr > min_lr`` the rate becomes ``max(lr · factor, min_lr)``, starting a cooldown of
    ``cooldown`` epochs.

    Args:
        monitor: default ``'val_loss'``.
        factor: < 1 (default 0.1).
        patience: default 10.
        verbose: 1 prints each reduction.
        mode: ``'auto'`` (Keras 3 guesses from ``'acc'`` in the name; here the same rule as
            EarlyStopping), ``'min'``, ``'max'``.
        min_delta: default 1e-4.
        cooldown: epochs to wait after a reduction.
        min_lr: the floor.
    """

    def __init__(self, monitor: str = "val_loss", factor: float = 0.1, patience: int = 10,
                 verbose: int = 0, mode: str = "auto", min_delta: float = 1e-4,
                 cooldown: int = 0, min_lr: float = 0.0, **kwargs):
        super().__init__()
        if factor >= 1.0:
            raise ValueError(f"ReduceLROnPlateau does not support a factor >= 1.0; received "
                             f"factor={factor}")
        self.monitor, self.factor, self.patience = monitor, float(factor), int(patience)
        self.verbose, self.min_delta = verbose, float(min_delta)
        self.mode = _check_mode(mode, "ReduceLROnPlateau")
        self.cooldown, self.min_lr = int(cooldown), float(min_lr)
        self._op: str | None = None
        self._reset()

    def _reset(self):
        self.wait, self.cooldown_counter = 0, 0
        self.best: float | None = None

    def in_cooldown(self) -> bool:
        return self.cooldown_counter > 0

    def on_train_begin(self, logs=None):
        self._reset()

    def _improves(self, current: float) -> bool:
        # Keras starts from best = ±inf (so a NaN never improves, not even the first)
        if self._op == "min":
            return current < (math.inf if self.best is None else self.best) - self.min_delta
        return current > (-math.inf if self.best is None else self.best) + self.min_delta

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        logs["learning_rate"] = _get_lr(self.model, "ReduceLROnPlateau")
        current = _scalar(logs.get(self.monitor))
        if current is None:
            warnings.warn(f"ReduceLROnPlateau conditioned on {self.monitor!r}, which is not in "
                          f"the logs; available: {', '.join(logs)}", stacklevel=2)
            return
        if self._op is None:
            self._op = _direction(self.monitor, self.mode, self.model, "ReduceLROnPlateau")
        if self.in_cooldown():
            self.cooldown_counter -= 1
            self.wait = 0
        if self._improves(current):
            self.best, self.wait = current, 0
        elif not self.in_cooldown():
            self.wait += 1
            if self.wait >= self.patience:
                old = _get_lr(self.model, "ReduceLROnPlateau")
                if old > np.float32(self.min_lr):
                    new = max(old * self.factor, self.min_lr)
                    self.model.optimizer.learning_rate = new
                    if self.verbose > 0:
                        print(f"Epoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to "
                              f"{new}.")
                    self.cooldown_counter, self.wait = self.cooldown, 0


# ---------------------------------------------------------------------------------------------
# Logging and control
# ---------------------------------------------------------------------------------------------
class CSVLogger(Callback):
    """Write one CSV row per epoch: ``epoch`` (0-based, as Keras) then the logs' keys, sorted.

    The columns are fixed by the first epoch (plus any ``val_*`` names in
    ``model.metrics_names``, so a first epoch without validation keeps their columns); a missing
    value is written ``NA``. The file is flushed every epoch and closed at the end of training.

    Args:
        filename: the path.
        separator: the field delimiter (default ``','``).
        append: add to an existing file (its header is kept, none is written again).
    """

    def __init__(self, filename, separator: str = ",", append: bool = False):
        super().__init__()
        self.filename, self.sep, self.append = os.fspath(filename), separator, bool(append)
        self.keys: list[str] | None = None
        self.writer = None
        self.csv_file = None

    def on_train_begin(self, logs=None):
        header = True
        if self.append and os.path.exists(self.filename):
            with open(self.filename, newline="") as f:
                header = not f.readline()
        if self.csv_file is not None and not self.csv_file.closed:
            self.csv_file.close()
        self.csv_file = open(self.filename, "a" if self.append else "w", newline="")
        self._header = header
        self.writer, self.keys = None, None

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.csv_file is None:                 # used without on_train_begin
            self.on_train_begin()
        if self.keys is None:
            self.keys = sorted(logs)
            for name in getattr(self.model, "metrics_names", None) or []:
                if name.startswith("val_") and name not in self.keys:
                    self.keys.append(name)
        if self.writer is None:
            self.writer = csv.DictWriter(self.csv_file, fieldnames=["epoch"] + self.keys,
                                         delimiter=self.sep, extrasaction="ignore")
            if self._header:
                self.writer.writeheader()
        row = {"epoch": epoch}
        row.update((k, _csv_value(logs.get(k, "NA"))) for k in self.keys)
        self.writer.writerow(row)
        self.csv_file.flush()

    def on_train_end(self, logs=None):
        if self.csv_file is not None and not self.csv_file.closed:
            self.csv_file.close()
        self.writer = None


def _csv_value(v):
    if isinstance(v, str):
        return v
    if isinstance(v, collections.abc.Iterable) and not (isinstance(v, np.ndarray) and v.ndim == 0):
        return f"[{', '.join(map(str, v))}]"
    return float(v) if isinstance(v, np.generic) else v


class TerminateOnNaN(Callback):
    """Stop training when a batch's loss is NaN or infinite.

    Sets ``model.stop_training = True`` (so ``on_train_end`` still runs for every callback), prints
    a message naming the epoch and the batch, and keeps it in ``message``; ``epoch`` and
    ``batch`` (0-based, as the hooks) say where. With ``raise_error=True`` it raises
    ``RuntimeError`` with that message instead (Keras 3.x's option).

    Keras prints only ``Batch 7: Invalid loss, terminating training``.
    """

    def __init__(self, raise_error: bool = False):
        super().__init__()
        self.raise_error = bool(raise_error)
        self._current_epoch = 0
        self.epoch: int | None = None
        self.batch: int | None = None
        self.message: str | None = None

    def on_train_begin(self, logs=None):
        self.epoch = self.batch = self.message = None

    def on_epoch_begin(self, epoch, logs=None):
        self._current_epoch = epoch

    def on_batch_end(self, batch, logs=None):
        loss = _scalar((logs or {}).get("loss"))
        if loss is None or math.isfinite(loss):
            return
        self.epoch, self.batch = self._current_epoch, batch
        self.message = (f"Epoch {self.epoch + 1}/{self.params.get('epochs', '?')} "
                        f"(epoch index {self.epoch}), batch index {batch}: invalid loss {loss}, "
                        f"terminating training")
        if self.raise_error:
            raise RuntimeError(self.message)
        print(self.message)
        self.model.stop_training = True


class LambdaCallback(Callback):
    """A callback from functions: ``LambdaCallback(on_epoch_end=lambda epoch, logs: …)``.

    The functions take the hooks' arguments positionally: ``on_epoch_begin/end(epoch, logs)``,
    ``on_train_begin/end(logs)``, ``on_train_batch_begin/end(batch, logs)``; any other hook can be
    given by name (``on_test_end=…``). Unknown names raise ValueError (Keras silently sets them).
    """

    def __init__(self, on_epoch_begin=None, on_epoch_end=None, on_train_begin=None,
                 on_train_end=None, on_train_batch_begin=None, on_train_batch_end=None,
                 **kwargs):
        super().__init__()
        unknown = sorted(set(kwargs) - set(HOOKS))
        if unknown:
            raise ValueError(f"LambdaCallback: unknown hook(s) {', '.join(unknown)}; valid: "
                             f"{', '.join(HOOKS)}")
        given = dict(on_epoch_begin=on_epoch_begin, on_epoch_end=on_epoch_end,
                     on_train_begin=on_train_begin, on_train_end=on_train_end,
                     on_train_batch_begin=on_train_batch_begin,
                     on_train_batch_end=on_train_batch_end, **kwargs)
        for hook, fn in given.items():
            if fn is None:
                continue
            if not callable(fn):
                raise ValueError(f"LambdaCallback: {hook} must be callable; received {fn!r}")
            setattr(self, hook, _positional(fn))


def _positional(fn: Callable) -> Callable:
    # Hooks are called as f(epoch, logs), f(epoch, logs=logs) or f(logs); the user's function gets
    # its arguments positionally either way, so ``lambda epoch, l: …`` works.
    def call(*args, **kwargs):
        if "logs" in kwargs:
            args = args + (kwargs.pop("logs"),)
        return fn(*args, **kwargs)
    return call

