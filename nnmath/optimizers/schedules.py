"""Learning-rate schedules: callables ``step -> learning rate`` (Keras's classes and names).

``step`` is the number of optimizer updates already made (0 for the first update), as in Keras
(``optimizer.iterations``) and Optax (the transform's count). Every schedule is a
:class:`LearningRateSchedule` — a callable with ``get_config``/``from_config`` — so an optimizer
holding one can be serialised; the snake_case functions build the same objects under Optax-like
names. Values are Python floats, computed in float64.

Schedules count optimizer *steps*. For a schedule in epochs, multiply by the steps per epoch
(e.g. ``step_decay(0.1, step_size=30 * steps_per_epoch)`` is PyTorch's ``StepLR(step_size=30)``).
"""
from __future__ import annotations

import math
import numbers
from typing import Any, Sequence

__all__ = [
    "LearningRateSchedule", "Constant", "ExponentialDecay", "PiecewiseConstantDecay", "CosineDecay",
    "constant", "exponential_decay", "step_decay", "cosine_decay", "warmup_cosine",
    "piecewise_constant", "get", "serialize", "deserialize",
]


def _check(name: str, value, *, positive: bool = False) -> None:
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and (
        value > 0 if positive else value >= 0)
    if not ok:
        raise ValueError(f"Argument `{name}` must be a number {'> 0' if positive else '>= 0'}. "
                         f"Received: {name}={value!r}")


class LearningRateSchedule:
    """Base class: subclasses implement ``__call__(step) -> float`` and ``get_config()``."""

    def __call__(self, step) -> float:
        raise NotImplementedError(f"Learning rate schedule '{type(self).__name__}' must "
                                  "override `__call__(self, step)`.")

    def get_config(self) -> dict:
        raise NotImplementedError(f"Learning rate schedule '{type(self).__name__}' must "
                                  "override `get_config()` to be serialisable.")

    @classmethod
    def from_config(cls, config: dict) -> "LearningRateSchedule":
        return cls(**config)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items() if k != "name")
        return f"{type(self).__name__}({args})"

    def __eq__(self, other) -> bool:
        return type(self) is type(other) and self.get_config() == other.get_config()

    __hash__ = object.__hash__


class Constant(LearningRateSchedule):
    """η_t = η (an nnmath addition: Keras uses a plain float for this).

    >>> Constant(0.1)(1000)
    0.1
    """

    def __init__(self, value: float, name: str = "Constant"):
        _check("value", value)
        self.value = value
        self.name = name

    def __call__(self, step) -> float:
        return float(self.value)

    def get_config(self) -> dict:
        return {"value": self.value, "name": self.name}


class ExponentialDecay(LearningRateSchedule):
    """η_t = η₀·r^(t/T), or η₀·r^⌊t/T⌋ with ``staircase=True`` (Keras ``ExponentialDecay``).

    Args:
        initial_learning_rate: η₀ ≥ 0.
        decay_steps: T > 0.
        decay_rate: r > 0 (r < 1 decays).
        staircase: decay at discrete intervals (PyTorch's ``StepLR`` with gamma = r, step_size = T).

    >>> s = ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5, staircase=True)
    >>> s(9), s(10), s(25)
    (0.1, 0.05, 0.025)
    """

    def __init__(self, initial_learning_rate: float, decay_steps: int, decay_rate: float,
                 staircase: bool = False, name: str = "ExponentialDecay"):
        _check("initial_learning_rate", initial_learning_rate)
        _check("decay_steps", decay_steps, positive=True)
        _check("decay_rate", decay_rate, positive=True)
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.decay_rate = decay_rate
        self.staircase = bool(staircase)
        self.name = name

    def __call__(self, step) -> float:
        p = float(step) / self.decay_steps
        if self.staircase:
            p = math.floor(p)
        return float(self.initial_learning_rate) * float(self.decay_rate) ** p

    def get_config(self) -> dict:
        return {"initial_learning_rate": self.initial_learning_rate,
                "decay_steps": self.decay_steps, "decay_rate": self.decay_rate,
                "staircase": self.staircase, "name": self.name}


class PiecewiseConstantDecay(LearningRateSchedule):
    """η_t = values[0] for t ≤ b₀, values[i] for b_{i−1} < t ≤ b_i, values[−1] for t > b_last
    (Keras ``PiecewiseConstantDecay``; note the boundary step itself still gets the earlier value).

    >>> s = PiecewiseConstantDecay([10, 20], [1.0, 0.5, 0.1])
    >>> s(10), s(11), s(20), s(21)
    (1.0, 0.5, 0.5, 0.1)
    """

    def __init__(self, boundaries: Sequence[int], values: Sequence[float],
                 name: str = "PiecewiseConstant"):
        boundaries, values = list(boundaries), list(values)
        if len(boundaries) != len(values) - 1:
            raise ValueError("The length of boundaries should be 1 less than the length of "
                             f"values. Received: boundaries={boundaries} of length "
                             f"{len(boundaries)}, and values={values} of length {len(values)}.")
        if any(b1 <= b0 for b0, b1 in zip(boundaries, boundaries[1:])):
            raise ValueError(f"Argument `boundaries` must be strictly increasing. Received: "
                             f"boundaries={boundaries}")
        for i, v in enumerate(values):
            _check(f"values[{i}]", v)
        self.boundaries = boundaries
        self.values = values
        self.name = name

    def __call__(self, step) -> float:
        for b, v in zip(self.boundaries, self.values):
            if step <= b:
                return float(v)
        return float(self.values[-1])

    def get_config(self) -> dict:
        return {"boundaries": self.boundaries, "values": self.values, "name": self.name}


class CosineDecay(LearningRateSchedule):
    """Cosine decay (Loshchilov & Hutter 2017, SGDR without restarts) with optional linear warmup
    (Goyal et al. 2017) — Keras ``CosineDecay``.

    Without warmup (``warmup_target=None``), with τ = min(t, T):
        η_t = η₀·((1 − α)·½(1 + cos(πτ/T)) + α).
    With warmup to η_w over W steps: η_t = η₀ + (η_w − η₀)·t/W for t < W, then the cosine above
    from η_w, over the next T steps (τ = min(t − W, T)), ending at α·η_w.

    Args:
        initial_learning_rate: η₀ (the warmup's start when warming up).
        decay_steps: T > 0, counted *after* the warmup (Optax's ``warmup_cosine_decay_schedule``
            counts its ``decay_steps`` from step 0, warmup included).
        alpha: the final fraction α of the decayed-from value.
        warmup_target: η_w, or None for no warmup.
        warmup_steps: W ≥ 0.

    >>> s = CosineDecay(1.0, decay_steps=10, alpha=0.1)
    >>> s(0), round(s(5), 12), s(10), s(50)
    (1.0, 0.55, 0.1, 0.1)
    """

    def __init__(self, initial_learning_rate: float, decay_steps: int, alpha: float = 0.0,
                 name: str = "CosineDecay", warmup_target: float | None = None,
                 warmup_steps: int = 0):
        _check("initial_learning_rate", initial_learning_rate)
        _check("decay_steps", decay_steps, positive=True)
        _check("alpha", alpha)
        if warmup_target is not None:
            _check("warmup_target", warmup_target)
        _check("warmup_steps", warmup_steps)
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.alpha = alpha
        self.name = name
        self.warmup_target = warmup_target
        self.warmup_steps = warmup_steps

    def _decay(self, step: float, decay_from: float) -> float:
        cosine = 0.5 * (1.0 + math.cos(math.pi * step / self.decay_steps))
        return decay_from * ((1.0 - self.alpha) * cosine + self.alpha)

    def __call__(self, step) -> float:
        step = float(step)
        eta0 = float(self.initial_learning_rate)
        if self.warmup_target is None:
            return self._decay(min(step, self.decay_steps), eta0)
        step = min(step, self.decay_steps + self.warmup_steps)
        if step < self.warmup_steps:
            return (float(self.warmup_target) - eta0) * (step / self.warmup_steps) + eta0
        return self._decay(step - self.warmup_steps, float(self.warmup_target))

    def get_config(self) -> dict:
        return {"initial_learning_rate": self.initial_learning_rate,
                "decay_steps": self.decay_steps, "alpha": self.alpha, "name": self.name,
                "warmup_target": self.warmup_target, "warmup_steps": self.warmup_steps}


# ----------------------------------------------------------------------------- functional names
def constant(value: float) -> Constant:
    """η_t = ``value``."""
    return Constant(value)


def exponential_decay(initial_learning_rate: float, decay_steps: int, decay_rate: float,
                      staircase: bool = False) -> ExponentialDecay:
    """η_t = η₀·r^(t/T) (r^⌊t/T⌋ when ``staircase``); see :class:`ExponentialDecay`."""
    return ExponentialDecay(initial_learning_rate, decay_steps, decay_rate, staircase)


def step_decay(initial_learning_rate: float, step_size: int,
               gamma: float = 0.1) -> ExponentialDecay:
    """Step decay: η_t = η₀·γ^⌊t/step_size⌋ (PyTorch's ``StepLR``, counted in optimizer steps).

    >>> s = step_decay(1.0, step_size=3, gamma=0.1)
    >>> [round(s(t), 12) for t in range(7)]
    [1.0, 1.0, 1.0, 0.1, 0.1, 0.1, 0.01]
    """
    return ExponentialDecay(initial_learning_rate, step_size, gamma, staircase=True)


def cosine_decay(initial_learning_rate: float, decay_steps: int,
                 alpha: float = 0.0) -> CosineDecay:
    """η_t = η₀((1−α)·½(1 + cos(π·min(t, T)/T)) + α); see :class:`CosineDecay`."""
    return CosineDecay(initial_learning_rate, decay_steps, alpha)


def warmup_cosine(peak_learning_rate: float, warmup_steps: int, decay_steps: int,
                  initial_learning_rate: float = 0.0, alpha: float = 0.0) -> CosineDecay:
    """Linear warmup from η₀ to the peak over ``warmup_steps``, then cosine decay to α·peak over
    the next ``decay_steps`` (Keras ``CosineDecay(warmup_target=peak)``).

    >>> s = warmup_cosine(1.0, warmup_steps=4, decay_steps=10)
    >>> [s(t) for t in (0, 2, 4)], s(14)
    ([0.0, 0.5, 1.0], 0.0)
    """
    return CosineDecay(initial_learning_rate, decay_steps, alpha, warmup_target=peak_learning_rate,
                       warmup_steps=warmup_steps)


def piecewise_constant(boundaries: Sequence[int],
                       values: Sequence[float]) -> PiecewiseConstantDecay:
    """``values[i]`` between boundaries (boundary steps inclusive on the left piece); see
    :class:`PiecewiseConstantDecay`."""
    return PiecewiseConstantDecay(boundaries, values)


# ----------------------------------------------------------------------------- (de)serialisation
_CLASSES = {c.__name__: c for c in (Constant, ExponentialDecay, PiecewiseConstantDecay,
                                    CosineDecay)}


def serialize(schedule: LearningRateSchedule) -> dict:
    """``{"class_name": ..., "config": ...}`` (JSON-serialisable)."""
    if not isinstance(schedule, LearningRateSchedule):
        raise TypeError(f"serialize: expected a LearningRateSchedule; received "
                        f"{type(schedule).__name__} (a plain callable has no config)")
    return {"class_name": type(schedule).__name__, "config": schedule.get_config()}


def deserialize(config: dict) -> LearningRateSchedule:
    """Inverse of :func:`serialize`."""
    name = config.get("class_name") if isinstance(config, dict) else None
    if name not in _CLASSES:
        raise ValueError(f"Unknown learning rate schedule {name!r}; valid class names: "
                         f"{sorted(_CLASSES)}")
    return _CLASSES[name].from_config(dict(config.get("config", {})))


def get(identifier: Any) -> Any:
    """A schedule from a schedule, a callable, a number (→ :class:`Constant`) or a config dict."""
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if callable(identifier):
        return identifier
    if isinstance(identifier, numbers.Real) and not isinstance(identifier, bool):
        return Constant(identifier)
    raise ValueError(f"Could not interpret learning rate schedule: {identifier!r}")
