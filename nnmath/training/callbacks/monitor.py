"""Callbacks that watch a logged quantity or drive the learning rate: ``EarlyStopping``,
``ModelCheckpoint``, ``LearningRateScheduler``, ``ReduceLROnPlateau`` (Keras 3 semantics)."""
from __future__ import annotations

import inspect
import math
import os
import warnings
from typing import Callable

import numpy as np

from .base import Callback, _model_metrics, _scalar, record_stop

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


def _check_patience(patience, who: str) -> None:
    if isinstance(patience, bool) or not isinstance(patience, (int, np.integer)) or patience < 0:
        raise ValueError(f"{who}: `patience` must be a non-negative integer (epochs); received "
                         f"patience={patience!r}")


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
        _check_patience(patience, "EarlyStopping")
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
            warnings.warn(f"Early stopping conditioned on metric {self.monitor!r} which is not "
                          f"available; available metrics are: {', '.join(logs or {}) or '(none)'}",
                          stacklevel=2)
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
            record_stop(self.model, "EarlyStopping", epoch, None,
                        f"{self.monitor} did not improve on {self.best} for {self.wait} epochs")

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
        _check_patience(patience, "ReduceLROnPlateau")
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
