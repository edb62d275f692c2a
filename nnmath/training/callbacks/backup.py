"""Fault tolerance: ``BackupAndRestore`` (Keras 3 semantics).

A long ``fit`` that is interrupted (killed, pre-empted) resumes where it stopped when run again
with the same callback: at each epoch end the callback saves the weights, the optimizer state,
the training random generator and the epoch to ``backup_dir`` (one atomic checkpoint, see
``nnmath.training.saving``); at the start of the next ``fit`` it restores them and sets
``model._initial_epoch`` to the first epoch not yet done, which ``fit`` starts from (Keras reads
the same attribute). At the end of a completed ``fit`` the backup is deleted (unless
``delete_checkpoint=False``).
"""
from __future__ import annotations

import os
import shutil

from .base import Callback

__all__ = ["BackupAndRestore"]

_FILE = "latest.nnmath.npz"


class BackupAndRestore(Callback):
    """Back up the training state every epoch (or every ``save_freq`` batches) and restore it
    when ``fit`` starts again.

    Args:
        backup_dir: a folder for this run only (created if missing).
        save_freq: ``'epoch'`` (default), an int number of batches, or False (never save, only
            restore). A batch-level backup records the epoch in progress: a resumed ``fit``
            repeats that epoch from its first batch (Keras skips the batches already seen).
        double_checkpoint: also keep the previous backup (``latest.nnmath.npz.prev``) and fall
            back to it if the latest one cannot be read.
        delete_checkpoint: remove ``backup_dir`` when training completes.

    Attributes:
        restored_epoch: the epoch training resumed at (None when nothing was restored).

    Raises:
        ValueError: ``backup_dir`` empty or ``save_freq`` invalid.
    """

    def __init__(self, backup_dir, save_freq="epoch", double_checkpoint: bool = False,
                 delete_checkpoint: bool = True):
        super().__init__()
        if not backup_dir:
            raise ValueError(f"BackupAndRestore: `backup_dir` must be a folder path, received "
                             f"backup_dir={backup_dir!r}")
        if save_freq != "epoch" and save_freq is not False and not (
                isinstance(save_freq, int) and not isinstance(save_freq, bool) and save_freq > 0):
            raise ValueError(f"BackupAndRestore: `save_freq` must be 'epoch', False or a positive "
                             f"number of batches, received save_freq={save_freq!r}")
        self.backup_dir = os.fspath(backup_dir)
        self.save_freq, self.double_checkpoint = save_freq, bool(double_checkpoint)
        self.delete_checkpoint = bool(delete_checkpoint)
        self.restored_epoch: int | None = None
        self._epoch, self._batches = 0, 0

    @property
    def path(self) -> str:
        return os.path.join(self.backup_dir, _FILE)

    def on_train_begin(self, logs=None):
        from ..saving import restore_training_state
        self.restored_epoch = None
        candidates = [self.path] + ([self.path + ".prev"] if self.double_checkpoint else [])
        for k, path in enumerate(candidates):
            if not os.path.exists(path):
                continue
            try:
                extra = restore_training_state(self.model, path)
            except ValueError:
                if k + 1 < len(candidates):
                    continue                   # the latest backup is damaged: try the previous
                raise
            epoch = int(extra.get("epoch", 0))
            self.model._initial_epoch = epoch
            self.restored_epoch = epoch
            break

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.save_freq not in ("epoch",) and self.save_freq is not False:
            self._batches += 1
            if self._batches % self.save_freq == 0:
                self._save(self._epoch)

    def on_epoch_end(self, epoch, logs=None):
        if self.save_freq == "epoch":
            self._save(epoch + 1)

    def _save(self, next_epoch: int) -> None:
        from ..saving import save_training_state
        os.makedirs(self.backup_dir, exist_ok=True)
        if self.double_checkpoint and os.path.exists(self.path):
            os.replace(self.path, self.path + ".prev")
        save_training_state(self.model, self.path, {"epoch": int(next_epoch)})

    def on_train_end(self, logs=None):
        if self.delete_checkpoint and os.path.isdir(self.backup_dir):
            shutil.rmtree(self.backup_dir, ignore_errors=True)
