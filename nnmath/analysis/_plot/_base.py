"""Shared drawing helpers of :mod:`nnmath.analysis._plot`: the palette (Okabe & Ito 2008; Wong
2011, Nature Methods 8:441), new axes, PNG output."""
from __future__ import annotations

import io
from typing import Any

import numpy as np

PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442",
           "#000000")

#: Resolution of PNGs (pixels per inch of the figure's size).
PNG_DPI = 110

_ONE = (6.4, 3.6)             # one panel (inches)
_PANEL = 4.3                  # width of each of several panels


def require_matplotlib():
    """Import matplotlib (Agg, no pyplot) or raise an ImportError that says how to get it."""
    try:
        import matplotlib
        from matplotlib.figure import Figure  # noqa: F401
    except ImportError as e:
        raise ImportError("drawing needs matplotlib, an optional extra of nnmath: "
                          "pip install \"nnmath[plot]\" (or pip install matplotlib)") from e
    return matplotlib


def _style(ax) -> None:
    ax.set_prop_cycle(color=list(PALETTE))
    ax.grid(True, alpha=0.3, linewidth=0.6)


def new_axes(ncols: int = 1, size: tuple | None = None, ax: Any = None) -> list:
    """``ncols`` styled Axes: the given ``ax`` (one Axes, or a sequence of ``ncols``), else a new
    Figure's (made without pyplot, constrained layout)."""
    if ax is not None:
        axes = list(ax) if isinstance(ax, (list, tuple, np.ndarray)) else [ax]
        if len(axes) < ncols:
            raise ValueError(f"this figure has {ncols} panels: pass ax as a sequence of {ncols} "
                             f"Axes (got {len(axes)})")
        axes = axes[:ncols]
    else:
        require_matplotlib()
        from matplotlib.figure import Figure
        if size is None:
            size = _ONE if ncols == 1 else (_PANEL * ncols + 0.6, 3.4)
        fig = Figure(figsize=size, layout="constrained")
        axes = list(fig.subplots(1, ncols, squeeze=False)[0])
    for a in axes:
        _style(a)
    return axes


def _color(i: int) -> str:
    return PALETTE[i % len(PALETTE)]


def _out(axes: list) -> Any:
    return axes[0] if len(axes) == 1 else axes


def figure_png(figure: Any, dpi: int = PNG_DPI) -> bytes:
    """A Figure (or an Axes, or a list of Axes: their Figure) as PNG bytes, drawn by Agg."""
    if isinstance(figure, (list, tuple)):
        figure = figure[0]
    figure = getattr(figure, "figure", figure) if not hasattr(figure, "savefig") else figure
    buf = io.BytesIO()
    figure.savefig(buf, format="png", dpi=dpi, bbox_inches="tight", metadata={"Software": None})
    return buf.getvalue()


def _log_y(ax, values: Any) -> None:
    """A log y axis when every value is positive; over less than two decades, ticks at 1, 2, 5 ×
    10^k labelled as plain numbers."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter
    v = np.asarray(values, dtype=float).ravel()
    v = v[np.isfinite(v)]
    if v.size == 0 or np.any(v <= 0):
        return
    ax.set_yscale("log")
    if v.max() / v.min() < 100:
        ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda y, _: f"{y:g}"))
        ax.yaxis.set_minor_formatter(NullFormatter())
