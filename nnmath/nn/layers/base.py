"""The layer lifecycle (Keras's): ``__init__`` validates and stores the configuration, ``build``
creates the weights from named initializers once the input shape is known, ``call`` is the math,
``get_config`` serialises.

Every layer is also a pure function of its weights: ``call(params, x, training=False, rng=None)``
reads its weights only from ``params`` (a dict name → array), never from ``self``, so
``nnmath.grad``, ``hessian``, ``jvp`` and ``vmap`` apply to it directly. A layer with
non-trainable state (BatchNormalization's moving statistics) also implements ``state_updates``.

Shapes follow Keras: ``input_shape`` includes the batch axis as ``None``.
"""
from __future__ import annotations

import functools
import re
from typing import Any

import numpy as np

from .. import initializers as _initializers
from .. import regularizers as _regularizers

__all__ = ["Layer", "Weight"]

_counts: dict[str, int] = {}


def _symbolic(x: Any) -> Any:
    """The first symbolic tensor (``nnmath.training.functional.KerasTensor``) in ``x`` or None;
    recognised by duck typing, since this module may not import ``training``."""
    for v in (x if isinstance(x, (list, tuple)) else (x,)):
        if getattr(v, "_nnmath_symbolic", False):
            return v
    return None


def _auto_name(cls_name: str) -> str:
    base = re.sub(r"(?<!^)(?=[A-Z])", "_", cls_name).lower()
    n = _counts.get(base, 0)
    _counts[base] = n + 1
    return base if n == 0 else f"{base}_{n}"


class Weight:
    """A weight's metadata: shape, dtype, initializer, regularizer, trainability."""

    __slots__ = ("name", "shape", "dtype", "initializer", "regularizer", "trainable")

    def __init__(self, name, shape, dtype, initializer, regularizer, trainable):
        self.name, self.shape, self.dtype = name, tuple(shape), np.dtype(dtype)
        self.initializer, self.regularizer, self.trainable = initializer, regularizer, trainable


class Layer:
    """Base class of all layers.

    Args:
        name: unique within a model (default: the snake_case class name, numbered).
        dtype: the dtype of the weights and computation (default float32, as Keras).
        trainable: whether ``fit`` updates the weights.
        input_shape / input_dim: Keras's way to give the first layer of a Sequential its input
            shape (without the batch axis).
    """

    def __init__(self, name: str | None = None, dtype: Any = "float32", trainable: bool = True,
                 input_shape: tuple | None = None, input_dim: int | None = None):
        self.name = name or _auto_name(type(self).__name__)
        self.dtype = np.dtype(dtype)
        self.trainable = bool(trainable)
        if input_dim is not None:
            input_shape = (int(input_dim),)
        self._input_shape = None if input_shape is None else (None,) + tuple(input_shape)
        self.built = False
        self.weights_spec: dict[str, Weight] = {}
        self.values: dict[str, np.ndarray] = {}

    # -- lifecycle --------------------------------------------------------------------------
    def build(self, input_shape: tuple) -> None:
        """Create the weights (with :meth:`add_weight`). Layers without weights need not override."""
        self.built = True

    def add_weight(self, name: str, shape: tuple, initializer: Any = "glorot_uniform",
                   regularizer: Any = None, trainable: bool = True, dtype: Any = None,
                   rng: np.random.Generator | None = None) -> np.ndarray:
        """Create, initialise and register one weight; returns its value."""
        init = _initializers.get(initializer)
        dtype = np.dtype(dtype or self.dtype)
        spec = Weight(name, shape, dtype, init, _regularizers.get(regularizer), trainable)
        self.weights_spec[name] = spec
        rng = rng if rng is not None else _initializers.default_rng()
        self.values[name] = np.asarray(init(spec.shape, dtype, rng), dtype=dtype)
        return self.values[name]

    def call(self, params: dict, x: Any, training: bool = False, rng: np.random.Generator | None = None):
        """The layer's math, a pure function of ``params`` (name → array) and ``x``."""
        raise NotImplementedError(f"{type(self).__name__} must implement call(params, x, training, rng)")

    def state_updates(self, params: dict, x: Any, rng: np.random.Generator | None = None) -> dict:
        """New values of the non-trainable weights after a training step on ``x`` (default none)."""
        return {}

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        """The output shape for ``input_shape`` (batch axis included, as None)."""
        return tuple(input_shape)

    def get_config(self) -> dict:
        """A JSON-serialisable configuration from which :meth:`from_config` rebuilds the layer."""
        cfg = {"name": self.name, "dtype": self.dtype.name, "trainable": self.trainable}
        if self._input_shape is not None:
            cfg["input_shape"] = list(self._input_shape[1:])
        return cfg

    @classmethod
    def from_config(cls, config: dict) -> "Layer":
        return cls(**config)

    # -- weights --------------------------------------------------------------------------
    @property
    def params(self) -> dict:
        """Trainable weights by name (the arrays themselves, not copies)."""
        return {k: v for k, v in self.values.items() if self.weights_spec[k].trainable and self.trainable}

    @property
    def state(self) -> dict:
        """Non-trainable weights by name."""
        return {k: v for k, v in self.values.items() if not (self.weights_spec[k].trainable and self.trainable)}

    def get_weights(self) -> list:
        """Weights in creation order (Keras)."""
        return [np.array(v) for v in self.values.values()]

    def set_weights(self, weights: list) -> None:
        names = list(self.values)
        if len(weights) != len(names):
            raise ValueError(f"layer {self.name!r}: set_weights got {len(weights)} arrays, expected "
                             f"{len(names)} ({', '.join(names)})")
        for name, w in zip(names, weights):
            w = np.asarray(w)
            if w.shape != self.values[name].shape:
                raise ValueError(f"layer {self.name!r}: weight {name!r} has shape "
                                 f"{self.values[name].shape}, got {w.shape}")
            self.values[name][...] = w

    def count_params(self) -> int:
        return int(sum(v.size for v in self.values.values()))

    def regularization_loss(self, params: dict) -> Any:
        """Σ regularizer(w) over this layer's weights that have one (0.0 if none)."""
        total = 0.0
        for name, spec in self.weights_spec.items():
            if spec.regularizer is not None and name in params:
                total = total + spec.regularizer(params[name])
        return total

    def __init_subclass__(cls, **kwargs):
        """A subclass's own ``__call__`` is wrapped so that symbolic inputs still build a graph."""
        super().__init_subclass__(**kwargs)
        own = cls.__dict__.get("__call__")
        if own is not None and not getattr(own, "_symbolic_aware", False):
            @functools.wraps(own)
            def __call__(self, x, *args, **kw):
                t = _symbolic(x)
                if t is not None:
                    return type(t)._layer_call(self, x, *args, **kw)
                return own(self, x, *args, **kw)
            __call__._symbolic_aware = True
            cls.__call__ = __call__

    def __call__(self, x: Any, training: bool = False, rng: np.random.Generator | None = None,
                 **kwargs):
        """Apply eagerly with the layer's own weights (building it on first use from the shape of
        ``x``, or the list of shapes when ``x`` is a list); extra keywords go to ``call``.

        On symbolic tensors (``Input(...)``, the functional API) it builds the layer from their
        shapes and returns a new symbolic tensor recording this call instead."""
        t = _symbolic(x)
        if t is not None:
            return type(t)._layer_call(self, x, training=training, rng=rng, **kwargs)
        if not self.built:
            shape = [tuple(np.shape(v)) for v in x] if isinstance(x, (list, tuple)) else tuple(np.shape(x))
            self.build(shape)
            self.built = True
        return self.call(dict(self.values), x, training=training, rng=rng, **kwargs)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name!r}>"
