"""What a report is made of: :class:`Section` (a title, text, figures, tables and the numbers
behind them), :class:`Plot` (a matplotlib Figure with its PNG bytes) and :class:`Table`.

Figures are ``matplotlib.figure.Figure`` objects made without ``pyplot``: they are drawn by the
Agg renderer when their PNG is asked for, need no display, leave a notebook's backend alone and
are freed like any other object (no global figure registry to close).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from ..analysis._plot import PNG_DPI, figure_png
from ..analysis._results import to_builtin

__all__ = ["Plot", "Table", "Section", "STATUSES", "PNG_DPI"]

#: What a section's ``status`` may be: built; its tool is not in this version of nnmath; its
#: inputs were not given (the text says which); its computation raised (the text says what).
STATUSES = ("ok", "unavailable", "skipped", "failed")


@dataclass
class Plot:
    """One figure of a section.

    Attributes:
        name: a short file-name stem (``"loss_curves"``); the PNG is ``<section>-<name>.png``.
        figure: the ``matplotlib.figure.Figure``.
        caption: one or two sentences saying what is drawn.
    """

    name: str
    figure: Any
    caption: str = ""
    _png: bytes | None = field(default=None, repr=False, compare=False)

    @property
    def png(self) -> bytes:
        """The figure as PNG bytes (drawn once by Agg, then cached)."""
        if self._png is None:
            self._png = figure_png(self.figure, PNG_DPI)
        return self._png

    def _repr_png_(self) -> bytes:            # shown inline by Jupyter
        return self.png


@dataclass
class Table:
    """A small table: ``head`` (column names), ``rows`` (tuples of cells: numbers are formatted
    by the HTML renderer, strings kept) and an optional ``caption``."""

    head: tuple
    rows: list
    caption: str = ""

    def to_dict(self) -> dict:
        return {"head": list(self.head), "rows": to_builtin([list(r) for r in self.rows]),
                "caption": self.caption}


@dataclass
class Section:
    """One part of a report: what a section function returns (see :mod:`nnmath.report.sections`).

    Attributes:
        title: the heading.
        text: plain text; paragraphs separated by blank lines.
        figures: :class:`Plot` objects (``.figure`` the matplotlib Figure, ``.png`` its bytes).
        summary: the numbers behind the section, JSON-ready (results' ``to_dict()``).
        key: a short identifier (``"hessian"``): the key in ``summary.json`` and the PNG prefix.
        tables: :class:`Table` objects.
        status: one of :data:`STATUSES`.
        seconds: how long the section took to build.
        references: the papers its formulas come from ("Author et al. (year)").
    """

    title: str
    text: str = ""
    figures: list = field(default_factory=list)
    summary: dict = field(default_factory=dict)
    key: str = ""
    tables: list = field(default_factory=list)
    status: str = "ok"
    seconds: float = 0.0
    references: list = field(default_factory=list)

    def __post_init__(self):
        if self.status not in STATUSES:
            raise ValueError(f"Section.status must be one of {STATUSES}, got {self.status!r}")
        if not self.key:
            self.key = "".join(c if c.isalnum() else "_" for c in self.title.lower()).strip("_")
        self.figures, self.tables = list(self.figures), list(self.tables)
        self.references = list(self.references)

    def figure(self, name: str) -> Plot:
        """The :class:`Plot` called ``name``."""
        for p in self.figures:
            if p.name == name:
                return p
        raise KeyError(f"section {self.key!r} has no figure {name!r}; it has "
                       f"{[p.name for p in self.figures]}")

    def png_name(self, plot: Plot) -> str:
        """The file name of ``plot``'s PNG in a written report."""
        return f"{self.key}-{plot.name}.png"

    def to_dict(self) -> dict:
        """Everything but the images, as strict-JSON-ready builtins."""
        return {"title": self.title, "status": self.status, "seconds": round(self.seconds, 3),
                "text": self.text, "figures": [self.png_name(p) for p in self.figures],
                "tables": [t.to_dict() for t in self.tables], "references": self.references,
                "summary": to_builtin(self.summary)}

    def replace(self, **changes: Any) -> "Section":
        return dataclasses.replace(self, **changes)
