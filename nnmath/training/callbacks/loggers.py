"""Logging and control: ``CSVLogger``, ``TerminateOnNaN``, ``LambdaCallback`` (Keras 3 semantics)."""
from __future__ import annotations

import collections.abc
import csv
import math
import os
from typing import Callable

import numpy as np

from .base import HOOKS, Callback, _scalar


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
