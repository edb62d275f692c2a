"""Weight initializers (Keras 3's names, formulas and fans).

Interface (docs/NN_API.md): ``get(identifier)`` returns a callable ``init(shape, dtype, rng)``
giving a numpy array of that shape and dtype, drawn from the ``numpy.random.Generator`` ``rng``
(``default_rng()`` when ``rng`` is None). The lowercase module names (``glorot_uniform``,
``he_normal``, …) are ready-made instances, so ``glorot_uniform(shape, dtype, rng)`` works as a
function; the classes (``GlorotUniform(seed=None)``, ``Orthogonal(gain=1.0, seed=None)``,
``Constant(value)``, …) take Keras's arguments.

**Seeds.** An initializer built with an integer ``seed`` ignores ``rng`` and draws from a fresh
``numpy.random.default_rng(seed)`` at every call, so it returns the same values every time (as a
Keras 3 initializer seeded with an integer does). Without a seed it draws from ``rng``, so one
generator (``set_seed``) makes a whole model reproducible.

**Fans** (Keras's ``compute_fans``): for a shape (…, n_in, n_out) with receptive field
r = ∏ shape[:-2] (1 for a dense kernel), fan_in = r·n_in and fan_out = r·n_out; a vector of
length n has fan_in = fan_out = n; a scalar 1.

**Variance scaling** (all of Glorot, He and LeCun): with n = fan_in, fan_out or (fan_in + fan_out)/2
per ``mode``, the target variance is Var[w] = scale / n, reached by
    uniform              U(−L, L),  L = √(3·scale/n)
    truncated_normal     N(0, σ²) cut at ±2σ, σ = √(scale/n) / 0.8796256610342398
                         (0.87962… = the standard deviation of N(0, 1) truncated to [−2, 2])
    untruncated_normal   N(0, scale/n)

    Glorot (Xavier)  scale 1, fan_avg   Var = 2/(fan_in + fan_out)  Glorot & Bengio 2010
    He (Kaiming)     scale 2, fan_in    Var = 2/fan_in              He et al. 2015
    LeCun            scale 1, fan_in    Var = 1/fan_in              LeCun et al. 1998

References:
    X. Glorot, Y. Bengio. Understanding the difficulty of training deep feedforward neural
        networks. AISTATS 2010.
    K. He, X. Zhang, S. Ren, J. Sun. Delving deep into rectifiers: surpassing human-level
        performance on ImageNet classification. ICCV 2015.
    Y. LeCun, L. Bottou, G. Orr, K.-R. Müller. Efficient BackProp. Neural Networks: Tricks of the
        Trade, 1998.
    A. Saxe, J. McClelland, S. Ganguli. Exact solutions to the nonlinear dynamics of learning in
        deep linear neural networks. ICLR 2014.
"""
from __future__ import annotations

import math
import re
from typing import Any, Callable

import numpy as np

from ._lookup import from_config_dict

__all__ = [
    "Initializer", "Zeros", "Ones", "Constant", "Identity", "RandomNormal", "RandomUniform",
    "TruncatedNormal", "VarianceScaling", "GlorotUniform", "GlorotNormal", "HeUniform", "HeNormal",
    "LecunUniform", "LecunNormal", "Orthogonal", "compute_fans", "default_rng", "set_seed", "get",
    "serialize", "zeros", "ones", "constant", "identity", "random_normal", "random_uniform",
    "truncated_normal", "variance_scaling", "glorot_uniform", "glorot_normal", "he_uniform",
    "he_normal", "lecun_uniform", "lecun_normal", "orthogonal",
]

_RNG = np.random.default_rng(0)

#: the standard deviation of N(0, 1) truncated to [−2, 2] (Keras's constant)
_TRUNC_STD = 0.87962566103423978


def default_rng() -> np.random.Generator:
    """The generator initializers draw from when given none."""
    return _RNG


def set_seed(seed: int) -> None:
    """Reseed the default generator (makes unseeded initialisation reproducible)."""
    global _RNG
    _RNG = np.random.default_rng(seed)


def compute_fans(shape: tuple) -> tuple[int, int]:
    """(fan_in, fan_out) as Keras computes them (see the module docstring).

    >>> compute_fans((3, 3, 16, 32))          # a 3×3 convolution kernel, 16 → 32 channels
    (144, 288)
    """
    shape = tuple(shape)
    if len(shape) < 1:
        return 1, 1
    if len(shape) == 1:
        return int(shape[0]), int(shape[0])
    receptive = math.prod(shape[:-2])
    return int(shape[-2] * receptive), int(shape[-1] * receptive)


def _check_shape(shape: Any, who: str) -> tuple:
    try:
        shape = (int(shape),) if np.ndim(shape) == 0 else tuple(int(s) for s in shape)
    except (TypeError, ValueError):
        raise ValueError(f"{who}: shape must be a tuple of non-negative integers, got {shape!r}") from None
    if any(s < 0 for s in shape):
        raise ValueError(f"{who}: shape must be a tuple of non-negative integers, got {shape!r}")
    return shape


def _check_seed(seed: Any, who: str) -> int | None:
    if seed is None or (isinstance(seed, (int, np.integer)) and not isinstance(seed, bool) and seed >= 0):
        return None if seed is None else int(seed)
    raise ValueError(f"{who}: seed must be a non-negative integer or None, got {seed!r}")


class Initializer:
    """Base class: ``init(shape, dtype=None, rng=None)`` → array (dtype default float32, as
    Keras's floatx); ``get_config()`` / ``from_config(config)`` round-trip it."""

    def __call__(self, shape: tuple, dtype: Any = None, rng: np.random.Generator | None = None) -> np.ndarray:
        shape = _check_shape(shape, type(self).__name__)
        dtype = np.dtype("float32" if dtype is None else dtype)
        return np.asarray(self._generate(shape, dtype, rng), dtype=dtype)

    def _generate(self, shape: tuple, dtype: np.dtype, rng: np.random.Generator | None) -> np.ndarray:
        raise NotImplementedError

    def get_config(self) -> dict:
        return {}

    @classmethod
    def from_config(cls, config: dict) -> "Initializer":
        return cls(**config)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class _Random(Initializer):
    """An initializer that draws random numbers; ``seed`` makes every call return the same values."""

    def __init__(self, seed: int | None = None):
        self.seed = _check_seed(seed, type(self).__name__)

    def _rng(self, rng: np.random.Generator | None) -> np.random.Generator:
        if self.seed is not None:
            return np.random.default_rng(self.seed)
        return rng if rng is not None else default_rng()

    def get_config(self) -> dict:
        return {"seed": self.seed}


# --- constants -----------------------------------------------------------------------------------

class Zeros(Initializer):
    """All zeros (the usual bias initializer).

    >>> Zeros()((2,), "float64")
    array([0., 0.])
    """

    def _generate(self, shape, dtype, rng):
        return np.zeros(shape, dtype)


class Ones(Initializer):
    """All ones (e.g. BatchNormalization's γ).

    >>> Ones()((2,), "float64")
    array([1., 1.])
    """

    def _generate(self, shape, dtype, rng):
        return np.ones(shape, dtype)


class Constant(Initializer):
    """Every entry equal to ``value`` (a scalar, or an array broadcastable to the shape).

    >>> Constant(0.5)((2,), "float64")
    array([0.5, 0.5])
    """

    def __init__(self, value: Any = 0.0):
        if not np.all(np.isfinite(np.asarray(value, dtype=float))):
            raise ValueError(f"Constant: value must be finite, got {value!r}")
        self.value = value

    def _generate(self, shape, dtype, rng):
        try:
            return np.broadcast_to(np.asarray(self.value, dtype), shape).copy()
        except ValueError:
            raise ValueError(f"Constant: value of shape {np.shape(self.value)} cannot fill shape "
                             f"{shape}") from None

    def get_config(self) -> dict:
        v = self.value
        return {"value": v.tolist() if isinstance(v, np.ndarray) else v}


class Identity(Initializer):
    """``gain`` times the identity matrix (2-D shapes only; rectangular ones get ones on the
    main diagonal, as ``numpy.eye``).

    >>> Identity(gain=2.0)((2, 2), "float64")
    array([[2., 0.],
           [0., 2.]])
    """

    def __init__(self, gain: float = 1.0):
        self.gain = float(gain)

    def _generate(self, shape, dtype, rng):
        if len(shape) != 2:
            raise ValueError(f"Identity: can only initialise 2-D matrices; received shape={shape} of "
                             f"rank {len(shape)}")
        return self.gain * np.eye(*shape)

    def get_config(self) -> dict:
        return {"gain": self.gain}


# --- plain distributions -------------------------------------------------------------------------

def _truncated_normal(rng: np.random.Generator, shape: tuple, mean: float, stddev: float) -> np.ndarray:
    """N(mean, stddev²) conditioned on |w − mean| ≤ 2·stddev, by redrawing the rejected entries."""
    z = rng.standard_normal(shape)
    bad = np.abs(z) > 2.0
    while bad.any():
        z[bad] = rng.standard_normal(int(bad.sum()))
        bad = np.abs(z) > 2.0
    return mean + stddev * z


class RandomNormal(_Random):
    """w ~ N(mean, stddev²) (Keras defaults mean 0, stddev 0.05).

    >>> RandomNormal(stddev=1.0, seed=0)((2,), "float64").shape
    (2,)
    """

    def __init__(self, mean: float = 0.0, stddev: float = 0.05, seed: int | None = None):
        if not stddev >= 0:
            raise ValueError(f"RandomNormal: stddev must be non-negative, got {stddev!r}")
        self.mean, self.stddev = float(mean), float(stddev)
        super().__init__(seed)

    def _generate(self, shape, dtype, rng):
        return self._rng(rng).normal(self.mean, self.stddev, size=shape)

    def get_config(self) -> dict:
        return {"mean": self.mean, "stddev": self.stddev, **super().get_config()}


class RandomUniform(_Random):
    """w ~ U(minval, maxval) (Keras defaults ±0.05); mean (a+b)/2, variance (b−a)²/12.

    >>> w = RandomUniform(-1.0, 1.0, seed=0)((1000,), "float64")
    >>> bool(w.min() >= -1.0 and w.max() < 1.0)
    True
    """

    def __init__(self, minval: float = -0.05, maxval: float = 0.05, seed: int | None = None):
        if not maxval >= minval:
            raise ValueError(f"RandomUniform: need minval ≤ maxval, got minval={minval!r}, maxval={maxval!r}")
        self.minval, self.maxval = float(minval), float(maxval)
        super().__init__(seed)

    def _generate(self, shape, dtype, rng):
        return self._rng(rng).uniform(self.minval, self.maxval, size=shape)

    def get_config(self) -> dict:
        return {"minval": self.minval, "maxval": self.maxval, **super().get_config()}


class TruncatedNormal(_Random):
    """w ~ N(mean, stddev²) truncated to mean ± 2·stddev (values outside are redrawn); its
    variance is (0.8796·stddev)² (Keras defaults mean 0, stddev 0.05).

    >>> w = TruncatedNormal(stddev=1.0, seed=0)((1000,), "float64")
    >>> bool(np.abs(w).max() <= 2.0)
    True
    """

    def __init__(self, mean: float = 0.0, stddev: float = 0.05, seed: int | None = None):
        if not stddev >= 0:
            raise ValueError(f"TruncatedNormal: stddev must be non-negative, got {stddev!r}")
        self.mean, self.stddev = float(mean), float(stddev)
        super().__init__(seed)

    def _generate(self, shape, dtype, rng):
        return _truncated_normal(self._rng(rng), shape, self.mean, self.stddev)

    def get_config(self) -> dict:
        return {"mean": self.mean, "stddev": self.stddev, **super().get_config()}


# --- variance scaling ----------------------------------------------------------------------------

_MODES = ("fan_in", "fan_out", "fan_avg")
_DISTRIBUTIONS = ("truncated_normal", "untruncated_normal", "uniform")


class VarianceScaling(_Random):
    """Var[w] = scale / n with n = fan_in, fan_out or (fan_in + fan_out)/2 (``mode``), drawn from
    ``distribution`` ("truncated_normal" (default; "normal" is read as it, as Keras does),
    "untruncated_normal" or "uniform"); see the module docstring for the three formulas.

    >>> w = VarianceScaling(2.0, "fan_in", "uniform", seed=0)((400, 300), "float64")
    >>> round(float(w.var() * 400), 1)                    # ≈ scale
    2.0
    """

    def __init__(self, scale: float = 1.0, mode: str = "fan_in",
                 distribution: str = "truncated_normal", seed: int | None = None):
        if not (isinstance(scale, (int, float, np.floating)) and scale > 0):
            raise ValueError(f"VarianceScaling: scale must be a positive float, got scale={scale!r}")
        if mode not in _MODES:
            raise ValueError(f"VarianceScaling: mode must be one of {_MODES}, got mode={mode!r}")
        dist = distribution.lower() if isinstance(distribution, str) else distribution
        dist = "truncated_normal" if dist == "normal" else dist
        if dist not in _DISTRIBUTIONS:
            raise ValueError(f"VarianceScaling: distribution must be one of {_DISTRIBUTIONS}, got "
                             f"distribution={distribution!r}")
        self.scale, self.mode, self.distribution = float(scale), mode, dist
        super().__init__(seed)

    def variance(self, shape: tuple) -> float:
        """The target variance scale/n for ``shape``."""
        fan_in, fan_out = compute_fans(shape)
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2.0}[self.mode]
        return self.scale / max(1.0, n)

    def _generate(self, shape, dtype, rng):
        var = self.variance(shape)
        g = self._rng(rng)
        if self.distribution == "uniform":
            limit = math.sqrt(3.0 * var)
            return g.uniform(-limit, limit, size=shape)
        if self.distribution == "untruncated_normal":
            return g.normal(0.0, math.sqrt(var), size=shape)
        return _truncated_normal(g, shape, 0.0, math.sqrt(var) / _TRUNC_STD)

    def get_config(self) -> dict:
        return {"scale": self.scale, "mode": self.mode, "distribution": self.distribution,
                **super().get_config()}


class _Preset(VarianceScaling):
    """A VarianceScaling with fixed scale, mode and distribution: only ``seed`` is configurable."""

    _preset: tuple = ()

    def __init__(self, seed: int | None = None):
        super().__init__(*self._preset, seed=seed)

    def get_config(self) -> dict:
        return {"seed": self.seed}


class GlorotUniform(_Preset):
    """Glorot (Xavier) uniform: U(−L, L), L = √(6/(fan_in + fan_out)), so Var = 2/(fan_in + fan_out)
    (Glorot & Bengio 2010): the compromise between keeping forward activations' variance
    (n_in·Var = 1) and back-propagated gradients' variance (n_out·Var = 1) for tanh-like units.

    >>> GlorotUniform(seed=1)((2, 3), "float32").dtype
    dtype('float32')
    """
    _preset = (1.0, "fan_avg", "uniform")


class GlorotNormal(_Preset):
    """Glorot (Xavier) normal: truncated N with Var = 2/(fan_in + fan_out) (Glorot & Bengio 2010).

    >>> GlorotNormal(seed=1)((2, 3)).shape
    (2, 3)
    """
    _preset = (1.0, "fan_avg", "truncated_normal")


class HeUniform(_Preset):
    """He (Kaiming) uniform: U(−L, L), L = √(6/fan_in), Var = 2/fan_in (He et al. 2015): ReLU
    halves the second moment, so doubling LeCun's variance keeps it constant with depth.

    >>> HeUniform(seed=1)((2, 3)).shape
    (2, 3)
    """
    _preset = (2.0, "fan_in", "uniform")


class HeNormal(_Preset):
    """He (Kaiming) normal: truncated N with Var = 2/fan_in (He et al. 2015).

    >>> HeNormal(seed=1)((2, 3)).shape
    (2, 3)
    """
    _preset = (2.0, "fan_in", "truncated_normal")


class LecunUniform(_Preset):
    """LeCun uniform: U(−L, L), L = √(3/fan_in), Var = 1/fan_in (LeCun et al. 1998).

    >>> LecunUniform(seed=1)((2, 3)).shape
    (2, 3)
    """
    _preset = (1.0, "fan_in", "uniform")


class LecunNormal(_Preset):
    """LeCun normal: truncated N with Var = 1/fan_in (LeCun et al. 1998); SELU's initializer
    (Klambauer et al. 2017).

    >>> LecunNormal(seed=1)((2, 3)).shape
    (2, 3)
    """
    _preset = (1.0, "fan_in", "truncated_normal")


class Orthogonal(_Random):
    """A (semi-)orthogonal matrix times ``gain`` (Saxe et al. 2014): the QR factor Q of a standard
    normal matrix, with signs fixed by sign(diag R) so it is Haar-distributed. A shape
    (…, n) is treated as a matrix of ∏shape[:-1] rows and n columns: QᵀQ = gain²·I when
    rows ≥ columns, QQᵀ = gain²·I otherwise. In a deep linear network it keeps every singular
    value of the layer maps at ``gain``, giving depth-independent learning dynamics.

    >>> q = Orthogonal(gain=2.0, seed=0)((4, 3), "float64")
    >>> bool(np.allclose(q.T @ q, 4.0 * np.eye(3)))
    True
    """

    def __init__(self, gain: float = 1.0, seed: int | None = None):
        self.gain = float(gain)
        super().__init__(seed)

    def _generate(self, shape, dtype, rng):
        if len(shape) < 2:
            raise ValueError(f"Orthogonal: the array to initialise must be at least 2-D; received "
                             f"shape={shape} of rank {len(shape)}")
        rows, cols = math.prod(shape[:-1]), shape[-1]
        a = self._rng(rng).standard_normal((max(rows, cols), min(rows, cols)))
        q, r = np.linalg.qr(a)
        d = np.sign(np.diag(r))
        q = q * np.where(d == 0, 1.0, d)
        if rows < cols:
            q = q.T
        return self.gain * q.reshape(shape)

    def get_config(self) -> dict:
        return {"gain": self.gain, **super().get_config()}


# --- lookup --------------------------------------------------------------------------------------

_CLASSES = {c.__name__: c for c in (
    Zeros, Ones, Constant, Identity, RandomNormal, RandomUniform, TruncatedNormal, VarianceScaling,
    GlorotUniform, GlorotNormal, HeUniform, HeNormal, LecunUniform, LecunNormal, Orthogonal)}


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


_BY_NAME = {_snake(n): c for n, c in _CLASSES.items()}
_BY_NAME.update({"normal": RandomNormal, "uniform": RandomUniform, "zero": Zeros, "one": Ones,
                 "OrthogonalInitializer": Orthogonal, "IdentityInitializer": Identity})
_BY_NAME.update(_CLASSES)

# Ready-made instances under Keras's function names: ``glorot_uniform(shape, dtype, rng)``.
zeros, ones, constant, identity = Zeros(), Ones(), Constant(), Identity()
random_normal, random_uniform, truncated_normal = RandomNormal(), RandomUniform(), TruncatedNormal()
variance_scaling = VarianceScaling()
glorot_uniform, glorot_normal = GlorotUniform(), GlorotNormal()
he_uniform, he_normal = HeUniform(), HeNormal()
lecun_uniform, lecun_normal = LecunUniform(), LecunNormal()
orthogonal = Orthogonal()


def get(identifier: Any) -> Callable | None:
    """An initializer from a Keras name (``"glorot_uniform"`` or ``"GlorotUniform"``), a config
    dict ``{"class_name": ..., "config": {...}}``, an Initializer class or instance, a callable
    ``init(shape, dtype, rng)`` (returned as is), or an array (returned whatever the call, whose
    shape must then match). None gives None, as in Keras.

    Raises:
        ValueError: for an unknown name, listing the valid ones.

    >>> get("he_normal")
    HeNormal(seed=None)
    """
    if identifier is None:
        return None
    if isinstance(identifier, str):
        cls = _BY_NAME.get(identifier)
        if cls is None:
            valid = sorted(n for n in _BY_NAME if n.islower())
            raise ValueError(f"Unknown initializer {identifier!r}; valid names: {', '.join(valid)} "
                             f"(or the class names, e.g. 'GlorotUniform')")
        return cls()
    if isinstance(identifier, dict):
        if "class_name" not in identifier:
            raise ValueError(f"An initializer config must have a 'class_name' key, got {identifier!r}")
        return from_config_dict(identifier, {**_BY_NAME, **_CLASSES}, "initializer")
    if isinstance(identifier, type) and issubclass(identifier, Initializer):
        return identifier()
    if isinstance(identifier, (np.ndarray, np.generic)):
        value = np.asarray(identifier)

        def from_array(shape, dtype=None, rng=None):
            if tuple(shape) != value.shape:
                raise ValueError(f"initializer array has shape {value.shape}, but shape={tuple(shape)} "
                                 f"was requested")
            return value.astype(dtype or value.dtype, copy=True)
        return from_array
    if callable(identifier):
        return identifier
    raise ValueError(f"Could not interpret initializer {identifier!r} (of type "
                     f"{type(identifier).__name__}): expected a name, a config dict or a callable")


def serialize(initializer: Any) -> Any:
    """``{"class_name": ..., "config": ...}`` for an Initializer (``get`` inverts it).

    >>> serialize(GlorotUniform(seed=3))
    {'class_name': 'GlorotUniform', 'config': {'seed': 3}}
    """
    if isinstance(initializer, Initializer):
        return {"class_name": type(initializer).__name__, "config": initializer.get_config()}
    if isinstance(initializer, str) or initializer is None:
        return initializer
    raise ValueError(f"Cannot serialise initializer {initializer!r}: it is not an Initializer")
