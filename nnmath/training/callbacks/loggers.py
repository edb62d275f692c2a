"""Logging and control: ``CSVLogger``, ``TensorBoard``, ``TerminateOnNaN``, ``LambdaCallback``
(Keras 3 semantics)."""
from __future__ import annotations

import collections.abc
import contextlib
import csv
import math
import os
import warnings
from typing import Callable

import numpy as np

from .base import HOOKS, Callback, _scalar, record_stop


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


def _summary_writer_class():
    """An installed TensorBoard event writer class (PyTorch's, else tensorboardX's), or None."""
    try:
        from torch.utils.tensorboard import SummaryWriter
        return SummaryWriter
    except Exception:                      # ImportError, or tensorboard missing underneath
        pass
    try:
        from tensorboardX import SummaryWriter
        return SummaryWriter
    except Exception:
        return None


class TensorBoard(Callback):
    """Write the logged scalars as TensorBoard event files (Keras's ``TensorBoard``), when an event
    writer is installed (``torch.utils.tensorboard`` with the ``tensorboard`` package, or
    ``tensorboardX``); otherwise warn once and do nothing — training never fails because of it.

    As Keras: training values go to ``log_dir/train`` and ``val_*`` values (without the prefix) to
    ``log_dir/validation``, tagged ``epoch_<name>`` at step = epoch; with ``update_freq="batch"``
    or an int N, ``batch_<name>`` every N training batches (step = batches seen). A writer that
    fails is closed, with one warning, and the callback goes quiet.

    Args:
        log_dir: the folder of the event files.
        update_freq: ``'epoch'``, ``'batch'`` or an int.
        histogram_freq, write_graph, write_images, write_steps_per_second, profile_batch,
            embeddings_freq, embeddings_metadata: accepted for Keras compatibility; not written.

    Attributes:
        available: whether a writer was found (after ``on_train_begin``).
    """

    def __init__(self, log_dir="logs", histogram_freq: int = 0, write_graph: bool = True,
                 write_images: bool = False, write_steps_per_second: bool = False,
                 update_freq="epoch", profile_batch=0, embeddings_freq: int = 0,
                 embeddings_metadata=None):
        super().__init__()
        if update_freq not in ("epoch", "batch") and not (
                isinstance(update_freq, int) and not isinstance(update_freq, bool) and update_freq > 0):
            raise ValueError(f"TensorBoard: `update_freq` must be 'epoch', 'batch' or a positive "
                             f"int, received update_freq={update_freq!r}")
        self.log_dir = os.fspath(log_dir)
        self.update_freq = 1 if update_freq == "batch" else update_freq
        self.available: bool | None = None
        self._writers: dict = {}
        self._steps = 0

    def _writer(self, part: str):
        if part not in self._writers:
            self._writers[part] = self._cls(os.path.join(self.log_dir, part))
        return self._writers[part]

    def _write(self, part: str, tag: str, value, step: int) -> None:
        if not self.available:
            return
        v = _scalar(value)
        if v is None:
            return
        try:
            self._writer(part).add_scalar(tag, v, step)
        except Exception as e:             # a broken writer must not stop training
            warnings.warn(f"TensorBoard: writing to {self.log_dir!r} failed ({type(e).__name__}: "
                          f"{e}); no more events are written", stacklevel=2)
            self._close()
            self.available = False

    def on_train_begin(self, logs=None):
        self._cls = _summary_writer_class()
        self.available = self._cls is not None
        if not self.available:
            warnings.warn("TensorBoard: no event writer is installed (pip install tensorboard, "
                          "or tensorboardX); nothing is written", stacklevel=2)

    def on_train_batch_end(self, batch, logs=None):
        if self.update_freq == "epoch":
            return
        self._steps += 1
        if self._steps % self.update_freq == 0:
            for k, v in (logs or {}).items():
                self._write("train", f"batch_{k}", v, self._steps)

    def on_epoch_end(self, epoch, logs=None):
        for k, v in (logs or {}).items():
            if k.startswith("val_"):
                self._write("validation", f"epoch_{k[4:]}", v, epoch)
            else:
                self._write("train", f"epoch_{k}", v, epoch)
        for w in self._writers.values():
            with contextlib.suppress(Exception):
                w.flush()

    def _close(self):
        for w in self._writers.values():
            with contextlib.suppress(Exception):
                w.close()
        self._writers = {}

    def on_train_end(self, logs=None):
        self._close()


class TerminateOnNaN(Callback):
    """Stop training when a batch's loss is NaN or infinite.

    Sets ``model.stop_training = True`` (so ``on_train_end`` still runs for every callback), prints
    a message naming the epoch and the batch, and keeps it in ``message``; ``epoch`` and
    ``batch`` (0-based, as the hooks) say where, and so does the History fit returns
    (``history.stopped_by``). With ``raise_error=True`` it raises
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
        record_stop(self.model, "TerminateOnNaN", self.epoch, batch, f"invalid loss {loss}")
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
