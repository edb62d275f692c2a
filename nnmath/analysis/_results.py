"""The common base of analysis results: small dataclasses with named fields that render as
JSON-ready dicts (``to_dict``), so the report draws any of them without knowing its type."""
from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

__all__ = ["Result", "RowsResult", "to_builtin"]


def to_builtin(value: Any) -> Any:
    """``value`` with numpy arrays and scalars turned into lists and Python numbers (recursively
    through dicts, lists, tuples and nested Results), for strict JSON: a complex number (or
    array) becomes ``{"real": …, "imag": …}`` and a non-finite float the string ``"inf"``, ``"-inf"`` or
    ``"nan"``.

    >>> to_builtin({"a": np.array([1.0, np.inf]), "z": 1 + 2j})
    {'a': [1.0, 'inf'], 'z': {'real': 1.0, 'imag': 2.0}}
    """
    if isinstance(value, Result):
        return value.to_dict()
    if isinstance(value, np.ndarray) and value.dtype.kind == "c":
        return {"real": to_builtin(value.real), "imag": to_builtin(value.imag)}
    if isinstance(value, np.ndarray):
        return [to_builtin(v) for v in value.tolist()] if value.dtype.kind == "f" else value.tolist()
    if isinstance(value, np.generic):
        return to_builtin(value.item())
    if isinstance(value, complex):
        return {"real": to_builtin(value.real), "imag": to_builtin(value.imag)}
    if isinstance(value, float) and not np.isfinite(value):
        return "nan" if np.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, dict):
        return {str(k): to_builtin(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_builtin(v) for v in value]
    return value


class Result:
    """Mixin for ``@dataclass`` results: ``to_dict()`` of every field (see :func:`to_builtin`)."""

    def to_dict(self) -> dict:
        return {f.name: to_builtin(getattr(self, f.name)) for f in dataclasses.fields(self)
                if f.repr}

    # pictures (nnmath.analysis._plot; matplotlib, the optional extra, imported only there)
    def plot(self, ax: Any = None) -> Any:
        """Draw the result on ``ax`` (a matplotlib Axes; a sequence for a figure of several
        panels) or on a new Figure; returns the Axes (a list for several panels). TypeError for
        a result without a picture."""
        from ._plot import plot_result
        return plot_result(self, ax=ax)

    def _repr_png_(self) -> bytes | None:          # Jupyter: the picture, when there is one
        from ._plot import figure_png, plotter_for
        if plotter_for(self) is None:
            return None
        try:
            return figure_png(self.plot())
        except ImportError:
            return None

    def _repr_html_(self) -> str | None:           # Jupyter: a table for the others
        from ._plot import plotter_for, result_html
        if plotter_for(self) is not None:
            try:
                import matplotlib  # noqa: F401
                return None                        # the PNG is shown
            except ImportError:
                pass
        return result_html(self)


class RowsResult(Result):
    """Mixin for results holding ``rows`` with ``layer`` and ``weight`` fields (one row per
    weight): ``result["layer", "weight"]`` picks a row."""

    def __getitem__(self, key: tuple) -> Any:
        for r in self.rows:
            if (r.layer, r.weight) == tuple(key):
                return r
        raise KeyError(f"no weight {key!r}; the rows are "
                       f"{', '.join(f'{r.layer}/{r.weight}' for r in self.rows)}")
