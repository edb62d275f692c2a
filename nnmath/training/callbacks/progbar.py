"""The progress display: ``ProgbarLogger``, a live Keras-style line per epoch on a terminal and
one line per epoch otherwise (Keras 3 ``keras/src/callbacks/progbar_logger.py`` and
``keras/src/utils/progbar.py``)."""
from __future__ import annotations

import math
import os
import shutil
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


def _shown(logs: dict) -> dict:
    """The logs a progress line shows: not the per-layer records of monitors ('name/layer',
    'I(X;T)/layer'), which are in the History but would fill the line."""
    return {k: v for k, v in (logs or {}).items() if "/" not in str(k)}


def _format_logs(logs: dict, sep: str = " - ") -> str:
    return sep.join(f"{k}: {_format_value(v)}" for k, v in _shown(logs).items())


def _duration(seconds: float) -> str:
    if seconds >= 3600:
        return f"{int(seconds // 3600)}:{int(seconds % 3600 // 60):02d}:{int(seconds % 60):02d}"
    if seconds >= 60:
        return f"{int(seconds // 60)}:{int(seconds % 60):02d}"
    return f"{seconds:.0f}s" if seconds >= 1 else f"{1e3 * seconds:.0f}ms"


def progress_line(desc: str, seen: int, total: int | None, elapsed: float, logs: dict | None,
                  width: int) -> list:
    """The lines of one progress display, none longer than ``width`` − 1 columns.

    Parts, in Keras 3's order: ``Epoch 3/60``, ``12/42``, a bar, the time (``1s 24ms/step``, or
    the ETA while running), then the metrics ``loss: 0.1234 - accuracy: 0.9876 - …``. When they
    do not fit, the bar goes first (Keras keeps the metrics on the line); if the metrics still do
    not fit, they continue on further lines, indented, each ``name: value`` kept whole.
    """
    width = max(int(width) - 1, 20)          # the last column would wrap on some terminals
    count = f"{seen}/{total}" if total else f"{seen}"
    per = elapsed / seen if seen else 0.0
    done = total is not None and seen >= total
    if done or total is None:
        clock = f"{_duration(elapsed)} {_duration(per)}/step" if seen else _duration(elapsed)
    else:
        clock = f"ETA {_duration(per * (total - seen))}" if seen else ""
    items = [f"{k}: {_format_value(v)}" for k, v in _shown(logs).items()]
    head = " ".join(p for p in (desc, count) if p)

    def join(parts):
        return " - ".join(p for p in parts if p)
    bar_room = width - len(join([head + " []", clock] + items)) - 1
    if total and bar_room >= 10:                             # it all fits with a bar
        n = min(bar_room, 30)
        filled = int(round(n * min(seen, total) / total))
        bar = "━" * filled + ("─" * (n - filled))
        return [join([f"{head} {bar}", clock] + items)]
    first = join([head, clock])
    lines = [first]
    for item in items:                                        # the metrics, whole, across lines
        candidate = join([lines[-1], item])
        if len(candidate) <= width:
            lines[-1] = candidate
        else:
            lines.append("    " + item[:width - 4])
    return lines


class ProgbarLogger(Callback):
    """The progress display: a live line per epoch on a terminal, one line per epoch otherwise.

    * ``verbose`` (from ``fit``'s params; ``'auto'`` is 1): 0 prints nothing; 1 shows a live line
      per epoch when the stream is a terminal — ``Epoch 3/60 12/42 ━━━━──── ETA 0s - loss: … -
      accuracy: …``, redrawn in place per batch, finished at the epoch's end with the ``val_*``
      values and the time per step (see :func:`progress_line`: it fits the terminal's width,
      dropping the bar first and keeping the metrics, as Keras) — and one line per epoch when it
      is not (a log file, CI, a pipe; a Jupyter kernel counts as a terminal, as in Keras); 2
      always prints one line per epoch::

          Epoch 3/50 - 0.05s - loss: 0.2000 - accuracy: 0.9000 - val_loss: 0.2500

      (Keras's verbose=2 line starts with ``steps/steps`` and a per-step time instead.)
    * ``evaluate`` (the ``on_test_*`` hooks outside ``fit``) and ``predict`` get a bar or a line
      the same way; validation inside ``fit`` is silent, its results appear in the epoch's line.

    Per-layer records of monitors (keys with a ``/``: ``grad_norm/dense``, ``I(X;T)/dense``) are
    not shown; they are in the History.

    Args:
        bar: None (default) decides from ``verbose`` and the terminal as above; True forces the
            live line (when verbose ≠ 0), False forces the one-line form.
        stream: where to write; default ``sys.stdout`` at the time of writing.
        verbose: overrides ``params['verbose']`` (Keras takes it only from ``fit``'s params).
        width: the line width; default the terminal's (``COLUMNS``, else 80 when unknown).
    """

    def __init__(self, bar: bool | None = None, stream=None, verbose: int | str | None = None,
                 width: int | None = None):
        super().__init__()
        self.bar = bar
        self._verbose = verbose
        self._stream = stream
        self._width = width
        self._live = False
        self._desc = ""
        self._drawn = 0             # lines of the live display now on the screen
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

    # -- the live line or a clock -------------------------------------------------------------
    def width(self) -> int:
        """The columns of the stream's terminal (``COLUMNS``, else 80 when unknown)."""
        if self._width is not None:
            return int(self._width)
        try:
            return os.get_terminal_size(self.stream.fileno()).columns
        except (AttributeError, OSError, ValueError):
            return shutil.get_terminal_size((80, 24)).columns

    def _draw(self, logs, final: bool) -> None:
        lines = progress_line(self._desc, self._seen, self.steps or (self._seen if final else None),
                              time.perf_counter() - self._t0, logs, self.width())
        up = f"\x1b[{self._drawn - 1}A" if self._drawn > 1 else ""
        self.stream.write(up + "\r" + "\x1b[K" + "\n\x1b[K".join(lines) + ("\n" if final else ""))
        self.stream.flush()
        self._drawn = 0 if final else len(lines)

    def _start(self, desc: str) -> None:
        self._t0, self._seen = time.perf_counter(), 0
        self._close()
        self._desc = desc
        self._live = self._use_bar()
        if self._live:
            self._draw(None, final=False)

    def _update(self, batch: int, logs) -> None:
        self._seen = batch + 1
        if self._live:
            now = time.perf_counter()
            if now - getattr(self, "_last", 0.0) >= 0.05 or self._seen == self.steps:
                self._last = now
                self._draw(logs, final=False)

    def _finish(self, head: str, logs) -> None:
        elapsed = time.perf_counter() - self._t0
        if self._live:
            self._draw(logs, final=True)
            self._live = False
        elif self.verbose:
            parts = [head, f"{elapsed:.2f}s"] + ([_format_logs(logs)] if _shown(logs) else [])
            self._write(" - ".join(p for p in parts if p))

    def _close(self) -> None:
        if self._live and self._drawn:
            self.stream.write("\n")
            self.stream.flush()
        self._live, self._drawn = False, 0

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
