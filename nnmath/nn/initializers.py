"""Weight initializers (Keras names). Interface: ``get(name_or_object)`` returns a callable
``init(shape, dtype, rng) -> ndarray``; ``default_rng()`` is the generator used when none is given.

(Stub: the full set with formulas and tests is being written.)
"""
from __future__ import annotations

import numpy as np

_RNG = np.random.default_rng(0)


def default_rng() -> np.random.Generator:
    return _RNG


def set_seed(seed: int) -> None:
    global _RNG
    _RNG = np.random.default_rng(seed)


def zeros(shape, dtype, rng):
    return np.zeros(shape, dtype)


def glorot_uniform(shape, dtype, rng):
    fan_in, fan_out = (shape[0], shape[-1]) if len(shape) >= 2 else (shape[0], shape[0])
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, size=shape).astype(dtype)


def get(identifier):
    if callable(identifier):
        return identifier
    table = {"zeros": zeros, "glorot_uniform": glorot_uniform}
    if identifier not in table:
        raise ValueError(f"unknown initializer {identifier!r}; valid: {sorted(table)}")
    return table[identifier]
