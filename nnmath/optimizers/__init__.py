"""``nnmath.optimizers``: optimizers as pure ``(init, update)`` transforms over parameter pytrees.

Three layers, each built on the one before:

* building blocks (Optax's design, ``_transform``): :class:`GradientTransformation`, :func:`chain`,
  :func:`apply_updates`, ``scale_by_adam``, ``scale_by_rms``, ``trace``, clipping, weight decay…;
* named optimizers as chains (``_alias``, PyTorch's conventions): :func:`sgd`, :func:`heavy_ball`,
  :func:`nesterov`, :func:`adagrad`, :func:`rmsprop`, :func:`adam`, :func:`adamw`, :func:`nadam`,
  :func:`lion`;
* Keras-style objects (:mod:`nnmath.optimizers.keras`): :class:`SGD`, :class:`Adam`, … with
  Keras 3's arguments and formulas, a pure path (``.transform``) and an in-place flat path
  (``init_flat`` / ``update_flat``) for the training loop; :func:`get` looks them up by name.

Schedules (``step -> learning rate``) are in :mod:`nnmath.optimizers.schedules`.

>>> import numpy as np
>>> import nnmath as nm
>>> from nnmath import optimizers as optim
>>> params = {"w": np.array([1.0, -2.0])}
>>> opt = optim.adam(learning_rate=0.1)
>>> state = opt.init(params)
>>> for _ in range(100):
...     grads = nm.grad(lambda p: (p["w"] ** 2).sum())(params)
...     updates, state = opt.update(grads, state, params)
...     params = optim.apply_updates(params, updates)
>>> bool(np.abs(params["w"]).max() < 0.1)
True
"""
from . import schedules  # noqa: F401
from ._alias import adagrad, adam, adamw, heavy_ball, lion, nadam, nesterov, rmsprop, sgd
from ._transform import (
    EmptyState, GradientTransformation, ScaleByAdamState, ScaleByLionState, ScaleByNadamState,
    ScaleByRmsState, ScaleByRssState, ScaleByScheduleState, TraceState, add_decayed_weights,
    apply_updates, chain, clip, clip_by_global_norm, clip_by_norm, decoupled_weight_decay,
    global_norm, identity, scale, scale_by_adam, scale_by_learning_rate, scale_by_lion,
    scale_by_nadam, scale_by_rms, scale_by_rss, trace,
)
from .keras import (
    SGD, Adagrad, Adam, AdamW, Lion, Nadam, Optimizer, RMSprop, deserialize, get, serialize,
)

__all__ = [
    # building blocks
    "GradientTransformation", "EmptyState", "chain", "apply_updates", "identity", "scale",
    "scale_by_learning_rate", "trace", "add_decayed_weights", "decoupled_weight_decay", "clip",
    "clip_by_norm", "clip_by_global_norm", "global_norm", "scale_by_adam", "scale_by_rms",
    "scale_by_rss", "scale_by_nadam", "scale_by_lion",
    "ScaleByScheduleState", "TraceState", "ScaleByAdamState", "ScaleByRmsState", "ScaleByRssState",
    "ScaleByNadamState", "ScaleByLionState",
    # named optimizers (PyTorch conventions)
    "sgd", "heavy_ball", "nesterov", "adagrad", "rmsprop", "adam", "adamw", "nadam", "lion",
    # Keras-style objects
    "Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Nadam", "Lion", "get", "serialize",
    "deserialize", "schedules",
]
