"""Argument checks shared by the analysis tools: one wording for every tool's errors, which name
the tool, the argument, what it got and what it needs."""
from __future__ import annotations

import numbers
from typing import Any

__all__ = ["check_count", "check_positive"]


def check_count(value: Any, name: str, who: str, minimum: int = 1) -> int:
    """``value`` as an int ≥ ``minimum`` (bools are not counts): TypeError / ValueError else."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{who}: {name} must be an int, got {type(value).__name__} {value!r}")
    if value < minimum:
        raise ValueError(f"{who}: {name} must be at least {minimum}, got {value}")
    return int(value)


def check_positive(value: Any, name: str, who: str) -> float:
    """``value`` as a float > 0: ValueError else."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value > 0:
        raise ValueError(f"{who}: {name} must be a positive number, got {value!r}")
    return float(value)
