"""Weight regularizers (Keras names). Interface: ``get(name_or_object_or_None)`` returns None or a
callable ``reg(w) -> scalar``. (Stub: L1, L2, L1L2 with their priors are being written.)
"""
from __future__ import annotations


def get(identifier):
    if identifier is None or callable(identifier):
        return identifier
    raise ValueError(f"unknown regularizer {identifier!r}")
