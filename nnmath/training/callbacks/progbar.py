"""The progress display: ``ProgbarLogger``, a tqdm bar per epoch on a terminal and one line per
epoch otherwise (Keras 3 ``keras/src/callbacks/progbar_logger.py``)."""
from __future__ import annotations

import math
import sys
import time

import numpy as np

from .base import Callback


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
            from tqdm import tqdm  # lazily: only a run that shows a bar needs it
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
