"""Linear algebra primitives (to be completed)."""
from __future__ import annotations

from ._elementwise import sqrt
from ._reductions import sum


def norm(x, ord=None, axis=None, keepdims=False):
    """``numpy.linalg.norm`` (Frobenius / 2-norm only, for now)."""
    return sqrt(sum(x * x, axis=axis, keepdims=keepdims))
