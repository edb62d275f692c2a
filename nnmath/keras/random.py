"""``keras.random``: random draws with Keras 3's signatures on numpy generators.

``seed`` is an int (the same draw every call, as Keras), a :class:`SeedGenerator` (a new draw
each call, reproducible from its seed), or None (the global generator, which
``keras.utils.set_random_seed`` seeds). Draws are constants to the derivative transforms;
``dropout`` multiplies its input by the mask, so it is differentiable in the input.

>>> from nnmath.keras import random
>>> a = random.normal((2,), seed=1); b = random.normal((2,), seed=1)
>>> bool((a == b).all()), a.dtype
(True, dtype('float32'))
>>> g = random.SeedGenerator(0)
>>> bool((random.uniform((3,), seed=g) != random.uniform((3,), seed=g)).any())
True
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..nn.layers._keras_style import Variable

__all__ = ["SeedGenerator", "normal", "uniform", "randint", "truncated_normal", "dropout",
           "shuffle", "categorical"]


class SeedGenerator:
    """A stream of random draws (Keras ``keras.random.SeedGenerator``).

    Args:
        seed: an int (reproducible) or None (from the global generator's entropy).
    """

    def __init__(self, seed: int | None = None, **kwargs):
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))):
            raise ValueError(f"SeedGenerator: `seed` must be an int or None, received seed={seed!r}")
        self.seed = seed
        self._rng = np.random.default_rng(seed)

    def generator(self) -> np.random.Generator:
        return self._rng

    def get_config(self) -> dict:
        return {"seed": self.seed}


def _rng(seed: Any) -> np.random.Generator:
    if seed is None:
        from ..training.data import global_rng
        return global_rng()
    if isinstance(seed, SeedGenerator):
        return seed.generator()
    if isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise ValueError(f"keras.random: `seed` must be an int, a SeedGenerator or None, "
                         f"received seed={seed!r}")
    return np.random.default_rng(int(seed))


def _dtype(dtype: Any, default: str = "float32") -> np.dtype:
    return np.dtype(getattr(dtype, "name", dtype) or default)


def _shape(shape: Any) -> tuple:
    return (int(shape),) if isinstance(shape, (int, np.integer)) else tuple(int(d) for d in shape)


def normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None) -> np.ndarray:
    """Draws from N(mean, stddev²)."""
    return _rng(seed).normal(mean, stddev, _shape(shape)).astype(_dtype(dtype))


def uniform(shape, minval=0.0, maxval=1.0, dtype=None, seed=None) -> np.ndarray:
    """Draws from U[minval, maxval)."""
    return _rng(seed).uniform(minval, maxval, _shape(shape)).astype(_dtype(dtype))


def randint(shape, minval, maxval, dtype="int32", seed=None) -> np.ndarray:
    """Integers in [minval, maxval)."""
    return _rng(seed).integers(minval, maxval, _shape(shape)).astype(_dtype(dtype, "int32"))


def truncated_normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None) -> np.ndarray:
    """N(mean, stddev²) redrawn outside two standard deviations (Keras's)."""
    rng, shape = _rng(seed), _shape(shape)
    z = rng.standard_normal(shape)
    bad = np.abs(z) > 2
    while bad.any():
        z[bad] = rng.standard_normal(int(bad.sum()))
        bad = np.abs(z) > 2
    return (mean + stddev * z).astype(_dtype(dtype))


def categorical(logits, num_samples, dtype="int32", seed=None) -> np.ndarray:
    """``num_samples`` class indices per row of ``logits`` (batch, classes)."""
    logits = np.asarray(logits.value if isinstance(logits, Variable) else logits, np.float64)
    p = np.exp(logits - logits.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    rng = _rng(seed)
    return np.stack([rng.choice(p.shape[-1], size=num_samples, p=row) for row in p]).astype(
        _dtype(dtype, "int32"))


def dropout(inputs, rate, noise_shape=None, seed=None) -> Any:
    """Inverted dropout: x ⊙ m / (1 − rate), mᵢ ~ Bernoulli(1 − rate)."""
    x = inputs.value if isinstance(inputs, Variable) else inputs
    if not 0.0 <= float(rate) < 1.0:
        raise ValueError(f"keras.random.dropout: `rate` must be in [0, 1), received rate={rate!r}")
    shape = tuple(np.shape(x)) if noise_shape is None else _shape(noise_shape)
    keep = _rng(seed).random(shape) >= rate
    dtype = x.dtype if getattr(x, "dtype", np.dtype("float64")).kind == "f" else np.float32
    return x * (keep / (1.0 - rate)).astype(dtype)


def shuffle(x, axis=0, seed=None) -> np.ndarray:
    """``x`` permuted along ``axis``."""
    x = np.asarray(x.value if isinstance(x, Variable) else x)
    return np.take(x, _rng(seed).permutation(x.shape[axis]), axis=axis)
