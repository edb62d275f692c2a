"""Build every registered section for a model and write the report directory: ``report.html``
(self-contained), one PNG per figure and ``summary.json`` (strict JSON)."""
from __future__ import annotations

import datetime
import json
import os
import pathlib
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from .. import __version__
from ..analysis._results import to_builtin
from ._base import Section, Table
from .html import format_number, render_html
from .sections import SECTIONS, ReportContext, run_section

__all__ = ["Report", "ReportFiles", "build_report", "write_report"]


@dataclass
class ReportFiles:
    """Where a written report lies: ``directory``, ``html``, ``summary`` and the ``pngs``."""

    directory: pathlib.Path
    html: pathlib.Path
    summary: pathlib.Path
    pngs: list = field(default_factory=list)


@dataclass
class Report:
    """Built sections and what the report says about the run.

    Attributes:
        sections: the :class:`~nnmath.report.Section` objects, in order.
        title: the page's title.
        overview: ``{name: value}`` shown first (model, data, dtype, timings).
        seconds: the time to build all sections.
    """

    sections: list
    title: str = "nnmath report"
    overview: dict = field(default_factory=dict)
    seconds: float = 0.0

    def __getitem__(self, key: str) -> Section:
        for s in self.sections:
            if s.key == key:
                return s
        raise KeyError(f"no section {key!r}; the sections are {[s.key for s in self.sections]}")

    def summary(self) -> dict:
        """Every section's numbers (results' ``to_dict()``), JSON-ready: ``json.dumps(...,
        allow_nan=False)`` succeeds (non-finite floats are the strings "inf", "-inf", "nan")."""
        return {"nnmath_version": __version__, "title": self.title,
                "created": datetime.datetime.now(datetime.timezone.utc).isoformat(
                    timespec="seconds"),
                "seconds": round(self.seconds, 3), "overview": to_builtin(self.overview),
                "sections": {s.key: s.to_dict() for s in self.sections}}

    def html(self) -> str:
        """The self-contained page (images embedded as ``data:`` URIs)."""
        counts = {st: sum(s.status == st for s in self.sections)
                  for st in ("ok", "skipped", "unavailable", "failed")}
        subtitle = (f"{counts['ok']} sections built in {self.seconds:.1f} s"
                    + "".join(f", {n} {st}" for st, n in counts.items() if n and st != "ok"))
        from .plots import MATPLOTLIB_MISSING, matplotlib_available
        if not matplotlib_available():
            subtitle += f"; {MATPLOTLIB_MISSING}"
        overview = Table(("", ""), [(k, format_number(v)) for k, v in self.overview.items()]) \
            if self.overview else None
        return render_html(self.sections, self.title, subtitle, overview,
                           f"Written by nnmath {__version__}. Numbers: summary.json next to this "
                           f"file.")

    def write(self, directory: Any = "nnmath-report") -> ReportFiles:
        """Write ``report.html``, the PNGs and ``summary.json`` into ``directory`` (created)."""
        return write_report(self, directory)


def build_report(context: ReportContext, sections: Sequence[str] | None = None, *,
                 title: str = "nnmath report", overview: dict | None = None,
                 strict: bool = False, log: Callable[[str], None] | None = None) -> Report:
    """Build the report's sections for ``context`` (every registered section by default).

    Args:
        context: a :class:`~nnmath.report.ReportContext` (the model, data, History, …).
        sections: keys of the sections to build, in order (default: all of
            :data:`~nnmath.report.SECTIONS`).
        title: the page's title.
        overview: extra ``{name: value}`` rows for the overview table.
        strict: re-raise a section's error instead of recording it as "failed".
        log: called with one line per section (its status and time), e.g. ``print``.

    Returns:
        A :class:`Report`; ``report.write(directory)`` writes it. (Without held-out data the
        calibration section is skipped and says so.)

    >>> import numpy as np
    >>> from nnmath import keras
    >>> from nnmath.report import ReportContext
    >>> keras.utils.set_random_seed(0)
    >>> model = keras.Sequential([keras.layers.Dense(3, "softmax", input_shape=(2,),
    ...                                              dtype="float64")])
    >>> model.compile(loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    >>> x, y = np.random.default_rng(0).standard_normal((20, 2)), np.arange(20) % 3
    >>> report = build_report(ReportContext(model, x, y, hessian_samples=20, trace_probes=4,
    ...                                     slq_probes=2, slq_steps=5),
    ...                       sections=["weights", "hessian", "training", "calibration"])
    >>> [(s.key, s.status) for s in report.sections]
    [('weights', 'ok'), ('hessian', 'ok'), ('training', 'skipped'), ('calibration', 'skipped')]
    >>> report["hessian"].summary["trace"]["num_samples"]
    4
    """
    keys = list(SECTIONS) if sections is None else list(sections)
    unknown = [k for k in keys if k not in SECTIONS]
    if unknown:
        raise ValueError(f"build_report: unknown sections {unknown}; the registered ones are "
                         f"{list(SECTIONS)}")
    model = context.model
    info = {"model": model.name,
            "parameters": int(sum(a.size for ws in model.params.values() for a in ws.values())),
            "analysis dtype": str(context.analysis_dtype)
                              + (" (cast explicitly from the parameters' dtype)"
                                 if context.dtype is not None else " (the parameters' dtype)"),
            "training samples": None if context.x_train is None else len(context.x_train),
            "test samples": None if context.x_test is None else len(context.x_test),
            "seed of the estimators": context.seed}
    info = {k: v for k, v in info.items() if v is not None}
    info.update(overview or {})
    t0 = time.perf_counter()
    built = []
    for key in keys:
        s = run_section(SECTIONS[key], context, strict=strict)
        built.append(s)
        if log is not None:
            note = {"ok": f"{s.seconds:6.1f} s", "unavailable": "not available in this version",
                    "skipped": s.text, "failed": s.text}[s.status]
            log(f"  {s.title:<54} {s.status:<12} {note}")
    seconds = time.perf_counter() - t0
    info["report time"] = f"{seconds:.1f} s"
    return Report(built, title, info, seconds)


def write_report(report: Report, directory: Any = "nnmath-report") -> ReportFiles:
    """Write ``report`` into ``directory``: ``report.html``, ``<section>-<figure>.png`` for every
    figure, ``summary.json``. Returns the paths.

    The files are written into a temporary folder beside ``directory`` and moved into place only
    when all are written (the old report, if any, is replaced in two renames), so an interrupted
    run never leaves a half-written report. A ``directory`` that exists and is not a report
    folder (a file, or a folder holding other things) is refused.
    """
    out = pathlib.Path(directory)
    if out.exists() and not out.is_dir():
        raise FileExistsError(f"write_report: {out} exists and is not a directory")
    if out.is_dir() and any(out.iterdir()) and not (out / "summary.json").exists():
        raise FileExistsError(f"write_report: {out} is a folder with other files (no "
                              f"summary.json): choose an empty or new directory for the report")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = pathlib.Path(tempfile.mkdtemp(prefix=f".{out.name}.part-", dir=out.parent))
    try:
        names = []
        for s in report.sections:
            for p in s.figures:
                (tmp / s.png_name(p)).write_bytes(p.png)
                names.append(s.png_name(p))
        (tmp / "summary.json").write_text(
            json.dumps(report.summary(), indent=1, allow_nan=False) + "\n", encoding="utf-8")
        (tmp / "report.html").write_text(report.html(), encoding="utf-8")
        os.chmod(tmp, 0o755)                # mkdtemp makes it private; a report is to be read
        old = None
        if out.exists():
            old = out.with_name(f".{out.name}.old-{os.getpid()}")
            if old.exists():
                shutil.rmtree(old)
            out.rename(old)
        tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    return ReportFiles(out, out / "report.html", out / "summary.json", [out / n for n in names])
