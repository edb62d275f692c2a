"""The live progress line in a real pseudo-terminal of 80 (and 120, and 40) columns: what a person
sees after ``fit`` is every epoch's line with its validation metrics whole — nothing cut off,
nothing wrapped — the bar dropped first when the metrics need the room (as Keras does)."""
from __future__ import annotations

import fcntl
import os
import pathlib
import pty
import re
import select
import struct
import subprocess
import sys
import termios

import pytest

from nnmath.training.callbacks.progbar import progress_line

ROOT = pathlib.Path(__file__).resolve().parents[1]

SCRIPT = r"""
import numpy as np
from nnmath import keras
keras.utils.set_random_seed(0)
x = np.random.default_rng(0).standard_normal((400, 8)); y = (x[:, 0] > 0).astype(int)
m = keras.Sequential([keras.layers.Dense(16, "relu", input_shape=(8,)),
                      keras.layers.Dense(2, "softmax")])
m.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
m.fit(x, y, epochs=3, batch_size=16, validation_split=0.2, verbose=1)
"""


def _run_in_pty(columns: int, code: str = SCRIPT) -> bytes:
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    env = dict(os.environ, PYTHONPATH=str(ROOT), TERM="xterm")
    env.pop("COLUMNS", None)
    proc = subprocess.Popen([sys.executable, "-c", code], stdin=slave, stdout=slave, stderr=slave,
                            env=env, close_fds=True)
    os.close(slave)
    out = b""
    while True:
        ready, _, _ = select.select([master], [], [], 120)
        if not ready:
            proc.kill()
            raise AssertionError("the child printed nothing for 120 s")
        try:
            chunk = os.read(master, 65536)
        except OSError:                 # the child closed the terminal
            break
        if not chunk:
            break
        out += chunk
    os.close(master)
    assert proc.wait(60) == 0, out.decode(errors="replace")
    return out


def _screen(raw: bytes, columns: int) -> list:
    """What a terminal of ``columns`` shows after ``raw``: \\r, \\n, ESC[K (erase to the end of
    the line) and ESC[nA (cursor up); a character written past the last column wraps, which the
    test counts as a failure."""
    text = raw.decode("utf-8")
    lines, row, col, wraps = [[]], 0, 0, 0
    i = 0
    while i < len(text):
        c = text[i]
        if c == "\x1b":
            m = re.match(r"\x1b\[(\d*)([AK])", text[i:])
            assert m, repr(text[i:i + 10])
            if m.group(2) == "K":
                del lines[row][col:]
            else:
                row = max(0, row - int(m.group(1) or 1))
            i += m.end()
            continue
        if c == "\r":
            col = 0
        elif c == "\n":
            row += 1
            col = 0
        else:
            if col >= columns:
                wraps += 1
                row, col = row + 1, 0
            while len(lines) <= row:
                lines.append([])
            line = lines[row]
            line.extend(" " * (col - len(line)))
            if col < len(line):
                line[col] = c
            else:
                line.append(c)
            col += 1
        while len(lines) <= row:
            lines.append([])
        i += 1
    return ["".join(l).rstrip() for l in lines if "".join(l).strip()], wraps


@pytest.mark.parametrize("columns", [80, 120])
def test_epoch_lines_fit_and_keep_the_validation_metrics(columns):
    raw = _run_in_pty(columns)
    screen, wraps = _screen(raw, columns)
    assert wraps == 0, screen
    epochs = [l for l in screen if l.startswith("Epoch ")]
    assert [l.split()[1] for l in epochs] == ["1/3", "2/3", "3/3"], screen
    full = "\n".join(screen)
    for k in (1, 2, 3):
        block = full.split(f"Epoch {k}/3")[1].split("Epoch ")[0]
        for name in ("loss: ", "accuracy: ", "val_loss: ", "val_accuracy: "):
            assert re.search(re.escape(name) + r"\d\.\d{4}", block), (k, name, screen)
        assert "/step" in block
    assert all(len(l) < columns for l in screen)
    assert b"\r" in raw                               # it was redrawn live, in place


def test_narrow_terminal_drops_the_bar_and_wraps_metrics_whole():
    raw = _run_in_pty(40)
    screen, wraps = _screen(raw, 40)
    assert wraps == 0, screen
    assert "━" not in "\n".join(screen)                # no room: no bar
    assert re.search(r"val_accuracy: \d\.\d{4}", "\n".join(screen))


def test_progress_line_drops_the_bar_before_the_metrics():
    logs = {"loss": 0.1234, "accuracy": 0.9876, "val_loss": 0.2, "val_accuracy": 0.95}
    wide = progress_line("Epoch 3/60", 42, 42, 1.0, logs, 150)
    assert len(wide) == 1 and "━" in wide[0] and wide[0].endswith("val_accuracy: 0.9500")
    narrow = progress_line("Epoch 3/60", 42, 42, 1.0, logs, 80)
    assert all(len(l) < 80 for l in narrow) and "val_accuracy: 0.9500" in " ".join(narrow)
    assert "━" not in " ".join(narrow) or len(narrow) == 1
    # per-layer monitor records are not shown
    assert "grad_norm/dense" not in " ".join(progress_line("E", 1, 2, 0.1, {"grad_norm/dense": 1.0,
                                                                              "loss": 1.0}, 80))
