"""The common base of analysis results: small dataclasses with named fields that render as
JSON-ready dicts (``to_dict``), so the report draws any of them without knowing its type."""
from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

__all__ = ["Result", "to_builtin"]


def to_builtin(value: Any) -> Any:
    """``value`` with numpy arrays and scalars turned into lists and Python numbers (recursively
    through dicts, lists, tuples and nested Results), for JSON."""
    if isinstance(value, Result):
        return value.to_dict()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
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
