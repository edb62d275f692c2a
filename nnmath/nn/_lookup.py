"""What the ``get(identifier)`` functions of initializers, regularizers and losses share."""
from __future__ import annotations

from typing import Any


def from_config_dict(identifier: dict, classes: dict, kind: str) -> Any:
    """Rebuild an object from Keras's ``{"class_name": ..., "config": {...}}`` form."""
    cls = classes.get(identifier.get("class_name"))
    if cls is None:
        raise ValueError(f"Unknown {kind} config {identifier!r}; class_name must be one of "
                         f"{', '.join(sorted(classes))}")
    return cls.from_config(identifier.get("config", {}))
