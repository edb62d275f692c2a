"""Normalization layers (Keras 3 semantics): BatchNormalization and LayerNormalization.

Both compute  y = γ ⊙ (x − μ) / √(σ² + ε) + β  with the *biased* variance σ² = mean((x − μ)²);
they differ in the axes μ and σ² are taken over (Ioffe & Szegedy 2015; Ba, Kiros & Hinton 2016).
The math is written with ``nnmath.numpy``, so every transform differentiates it (the mean and the
variance are differentiated through: that is what makes batch-norm's input gradient couple the
examples of a batch).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ... import numpy as mnp
from .base import Layer

__all__ = ["BatchNormalization", "LayerNormalization"]


def _ones(shape, dtype, rng):
    """γ's and the moving variance's default value, 1 (Keras's "ones")."""
    return np.ones(shape, dtype)


def _init_or_ones(identifier: Any) -> Any:
    # "ones" may be absent from an initializers module still being written; it is not random, so
    # it is spelled out here rather than depending on that.
    return _ones if identifier == "ones" else identifier


def _broadcast_shape(ndim: int, axes: tuple, sizes: tuple) -> tuple:
    """The shape that places a weight of shape ``sizes`` on ``axes`` of an ndim-array."""
    shape = [1] * ndim
    for a, n in zip(axes, sizes):
        shape[a] = n
    return tuple(shape)


class BatchNormalization(Layer):
    """Batch normalization (Ioffe & Szegedy 2015), with Keras 3's conventions.

    Training (``training=True`` and the layer trainable) normalises with the statistics of the
    batch, over every axis except ``axis``::

        μ_B = mean(x),  σ²_B = mean((x − μ_B)²)   (biased)
        y = γ ⊙ (x − μ_B) / √(σ²_B + ε) + β

    and :meth:`state_updates` returns the new moving statistics (Keras's formula; momentum m is the
    weight of the *old* value)::

        moving_mean     ← m · moving_mean     + (1 − m) · μ_B
        moving_variance ← m · moving_variance + (1 − m) · σ²_B      (biased σ²_B, as Keras 3)

    Inference (the default, or a non-trainable layer, as Keras: freezing a BatchNormalization puts
    it in inference mode) uses ``moving_mean`` and ``moving_variance`` in place of μ_B and σ²_B.

    PyTorch differs in two conventions: its ``momentum`` is the weight of the *new* value
    (torch momentum = 1 − Keras momentum), and its running variance is updated with the unbiased
    batch variance (n/(n − 1) · σ²_B); its default ε is 1e-5, Keras's 1e-3.

    Args:
        axis: the features axis, which keeps its own γ, β and statistics (default −1).
        momentum: m in the moving-average update (default 0.99).
        epsilon: ε added to the variance (default 1e-3).
        center: add β (default True). scale: multiply by γ (default True).
        beta_initializer, gamma_initializer, moving_mean_initializer,
        moving_variance_initializer: defaults "zeros", "ones", "zeros", "ones".
        beta_regularizer, gamma_regularizer: optional regularizers.
        **kwargs: the :class:`Layer` arguments (name, dtype, trainable, input_shape).

    Input shape: any rank ≥ 2, features on ``axis``. Output shape: the input's.

    Weights: ``gamma`` and ``beta`` (trainable, shape (features,)), ``moving_mean`` and
    ``moving_variance`` (non-trainable), created in that order (Keras's).

    Example (the pure call, with the weights given explicitly):

    >>> import numpy as np
    >>> bn = BatchNormalization(momentum=0.9, epsilon=0.0, dtype="float64")
    >>> p = {"gamma": np.ones(2), "beta": np.zeros(2),
    ...      "moving_mean": np.zeros(2), "moving_variance": np.ones(2)}
    >>> x = np.array([[0.0, 1.0], [2.0, 5.0]])
    >>> bn.call(p, x, training=True)
    array([[-1., -1.],
           [ 1.,  1.]])
    >>> bn.state_updates(p, x)["moving_mean"]
    array([0.1, 0.3])

    References:
        Ioffe & Szegedy (2015), "Batch Normalization: Accelerating Deep Network Training by
        Reducing Internal Covariate Shift", arXiv:1502.03167; keras.layers.BatchNormalization.
    """

    def __init__(self, axis: int = -1, momentum: float = 0.99, epsilon: float = 1e-3,
                 center: bool = True, scale: bool = True, beta_initializer: Any = "zeros",
                 gamma_initializer: Any = "ones", moving_mean_initializer: Any = "zeros",
                 moving_variance_initializer: Any = "ones", beta_regularizer: Any = None,
                 gamma_regularizer: Any = None, **kwargs):
        super().__init__(**kwargs)
        if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
            raise TypeError(f"BatchNormalization: axis must be an int, got {axis!r}")
        if not 0.0 <= float(momentum) <= 1.0:
            raise ValueError(f"BatchNormalization: momentum must be in [0, 1], got {momentum!r}")
        if not float(epsilon) >= 0.0:
            raise ValueError(f"BatchNormalization: epsilon must be >= 0, got {epsilon!r}")
        self.axis, self.momentum, self.epsilon = int(axis), float(momentum), float(epsilon)
        self.center, self.scale = bool(center), bool(scale)
        self.beta_initializer, self.gamma_initializer = beta_initializer, gamma_initializer
        self.moving_mean_initializer = moving_mean_initializer
        self.moving_variance_initializer = moving_variance_initializer
        self.beta_regularizer, self.gamma_regularizer = beta_regularizer, gamma_regularizer
        self._ndim: int | None = None

    def _axis_for(self, shape: tuple) -> int:
        ndim = len(shape)
        if ndim < 2:
            raise ValueError(f"layer {self.name!r} (BatchNormalization): expected input of rank >= 2 "
                             f"(batch, ..., features), received shape {tuple(shape)}")
        if not -ndim <= self.axis < ndim:
            raise ValueError(f"layer {self.name!r} (BatchNormalization): axis={self.axis} is out of "
                             f"range for input shape {tuple(shape)}")
        return self.axis % ndim

    def build(self, input_shape: tuple) -> None:
        ax = self._axis_for(input_shape)
        if input_shape[ax] is None:
            raise ValueError(f"layer {self.name!r} (BatchNormalization): axis {self.axis} of the input "
                             f"shape {tuple(input_shape)} must be known")
        shape = (int(input_shape[ax]),)
        if self.scale:
            self.add_weight("gamma", shape, _init_or_ones(self.gamma_initializer), self.gamma_regularizer)
        if self.center:
            self.add_weight("beta", shape, _init_or_ones(self.beta_initializer), self.beta_regularizer)
        self.add_weight("moving_mean", shape, _init_or_ones(self.moving_mean_initializer), trainable=False)
        self.add_weight("moving_variance", shape, _init_or_ones(self.moving_variance_initializer),
                        trainable=False)
        self._ndim = len(input_shape)
        self.built = True

    def _check(self, params: dict, x: Any) -> tuple[int, tuple]:
        shape = tuple(np.shape(x)) if not hasattr(x, "shape") else tuple(x.shape)
        ax = self._axis_for(shape)
        n = np.shape(params["moving_mean"])[0]
        if (self._ndim is not None and len(shape) != self._ndim) or shape[ax] != n:
            want = "rank " + str(self._ndim) + ", " if self._ndim is not None else ""
            raise ValueError(f"layer {self.name!r} (BatchNormalization): expected input with {want}"
                             f"{n} features on axis {self.axis}, received shape {shape}")
        return ax, tuple(a for a in range(len(shape)) if a != ax)

    def _moments(self, x: Any, reduce: tuple) -> tuple:
        mean = mnp.mean(x, axis=reduce)
        return mean, mnp.var(x, axis=reduce)                   # biased, as Keras's ops.moments

    def call(self, params: dict, x: Any, training: bool = False, rng: np.random.Generator | None = None):
        ax, reduce = self._check(params, x)
        if training and self.trainable:
            mean, var = self._moments(x, reduce)
        else:
            mean, var = params["moving_mean"], params["moving_variance"]
        bshape = _broadcast_shape(x.ndim, (ax,), (x.shape[ax],))
        inv = 1.0 / mnp.sqrt(var + self.epsilon)
        if self.scale:
            inv = inv * params["gamma"]
        y = (x - mnp.reshape(mean, bshape)) * mnp.reshape(inv, bshape)
        return y + mnp.reshape(params["beta"], bshape) if self.center else y

    def state_updates(self, params: dict, x: Any, rng: np.random.Generator | None = None) -> dict:
        """The moving statistics after a training step on ``x`` (none when not trainable)."""
        if not self.trainable:
            return {}
        _, reduce = self._check(params, x)
        mean, var = self._moments(x, reduce)
        m = self.momentum
        return {"moving_mean": m * params["moving_mean"] + (1.0 - m) * mean,
                "moving_variance": m * params["moving_variance"] + (1.0 - m) * var}

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        self._axis_for(input_shape)
        return tuple(input_shape)

    def get_config(self) -> dict:
        return {**super().get_config(), "axis": self.axis, "momentum": self.momentum,
                "epsilon": self.epsilon, "center": self.center, "scale": self.scale,
                "beta_initializer": self.beta_initializer, "gamma_initializer": self.gamma_initializer,
                "moving_mean_initializer": self.moving_mean_initializer,
                "moving_variance_initializer": self.moving_variance_initializer,
                "beta_regularizer": self.beta_regularizer, "gamma_regularizer": self.gamma_regularizer}


class LayerNormalization(Layer):
    """Layer normalization (Ba, Kiros & Hinton 2016), with Keras 3's conventions.

    Each example is normalised over ``axis`` (one axis or several), with no running statistics::

        μ = mean_axis(x),  σ² = mean_axis((x − μ)²)   (biased)
        y = γ ⊙ (x − μ) / √(σ² + ε) + β

    γ and β have the shape of the normalised axes. PyTorch's ``nn.LayerNorm(normalized_shape)``
    is the case ``axis`` = the trailing axes (its default ε is 1e-5, Keras's 1e-3).

    Args:
        axis: int or list of ints, the axes to normalise over (default −1).
        epsilon: ε added to the variance (default 1e-3).
        center: add β (default True). scale: multiply by γ (default True).
        beta_initializer, gamma_initializer: defaults "zeros" and "ones".
        beta_regularizer, gamma_regularizer: optional regularizers.
        **kwargs: the :class:`Layer` arguments.

    Input shape: any rank ≥ 1 (batch first). Output shape: the input's.

    Example:

    >>> import numpy as np
    >>> ln = LayerNormalization(epsilon=0.0, dtype="float64")
    >>> ln.call({"gamma": np.ones(3), "beta": np.zeros(3)}, np.array([[1.0, 2.0, 3.0]]))
    array([[-1.2247,  0.    ,  1.2247]])

    References:
        Ba, Kiros & Hinton (2016), "Layer Normalization", arXiv:1607.06450;
        keras.layers.LayerNormalization.
    """

    def __init__(self, axis: Any = -1, epsilon: float = 1e-3, center: bool = True, scale: bool = True,
                 beta_initializer: Any = "zeros", gamma_initializer: Any = "ones",
                 beta_regularizer: Any = None, gamma_regularizer: Any = None, **kwargs):
        super().__init__(**kwargs)
        axes = list(axis) if isinstance(axis, (list, tuple)) else [axis]
        if not axes or any(isinstance(a, bool) or not isinstance(a, (int, np.integer)) for a in axes):
            raise TypeError(f"LayerNormalization: axis must be an int or a non-empty list of ints, "
                            f"got {axis!r}")
        if not float(epsilon) >= 0.0:
            raise ValueError(f"LayerNormalization: epsilon must be >= 0, got {epsilon!r}")
        self.axis = [int(a) for a in axes] if isinstance(axis, (list, tuple)) else int(axis)
        self.epsilon, self.center, self.scale = float(epsilon), bool(center), bool(scale)
        self.beta_initializer, self.gamma_initializer = beta_initializer, gamma_initializer
        self.beta_regularizer, self.gamma_regularizer = beta_regularizer, gamma_regularizer
        self._ndim: int | None = None

    def _axes_for(self, shape: tuple) -> tuple:
        ndim = len(shape)
        axes = self.axis if isinstance(self.axis, list) else [self.axis]
        bad = [a for a in axes if not -ndim <= a < ndim]
        if ndim < 1 or bad:
            raise ValueError(f"layer {self.name!r} (LayerNormalization): axis={self.axis} is out of "
                             f"range for input shape {tuple(shape)}")
        axes = sorted({a % ndim for a in axes})
        if len(axes) != len(self.axis if isinstance(self.axis, list) else [0]):
            raise ValueError(f"layer {self.name!r} (LayerNormalization): axis={self.axis} names an "
                             f"axis twice for input shape {tuple(shape)}")
        return tuple(axes)

    def build(self, input_shape: tuple) -> None:
        axes = self._axes_for(input_shape)
        if any(input_shape[a] is None for a in axes):
            raise ValueError(f"layer {self.name!r} (LayerNormalization): the normalised axes {axes} "
                             f"of input shape {tuple(input_shape)} must be known")
        shape = tuple(int(input_shape[a]) for a in axes)
        if self.scale:
            self.add_weight("gamma", shape, _init_or_ones(self.gamma_initializer), self.gamma_regularizer)
        if self.center:
            self.add_weight("beta", shape, _init_or_ones(self.beta_initializer), self.beta_regularizer)
        self._ndim = len(input_shape)
        self.built = True

    def call(self, params: dict, x: Any, training: bool = False, rng: np.random.Generator | None = None):
        shape = tuple(x.shape) if hasattr(x, "shape") else np.shape(x)
        axes = self._axes_for(shape)
        sizes = tuple(shape[a] for a in axes)
        w = params.get("gamma", params.get("beta"))
        if (self._ndim is not None and len(shape) != self._ndim) or (
                w is not None and tuple(np.shape(w)) != sizes):
            want = tuple(np.shape(w)) if w is not None else sizes
            raise ValueError(f"layer {self.name!r} (LayerNormalization): expected input with axes "
                             f"{list(axes)} of sizes {want}, received shape {shape}")
        mean = mnp.mean(x, axis=axes, keepdims=True)
        var = mnp.var(x, axis=axes, keepdims=True)
        y = (x - mean) / mnp.sqrt(var + self.epsilon)
        bshape = _broadcast_shape(len(shape), axes, sizes)
        if self.scale:
            y = y * mnp.reshape(params["gamma"], bshape)
        return y + mnp.reshape(params["beta"], bshape) if self.center else y

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        self._axes_for(input_shape)
        return tuple(input_shape)

    def get_config(self) -> dict:
        return {**super().get_config(), "axis": self.axis, "epsilon": self.epsilon,
                "center": self.center, "scale": self.scale, "beta_initializer": self.beta_initializer,
                "gamma_initializer": self.gamma_initializer, "beta_regularizer": self.beta_regularizer,
                "gamma_regularizer": self.gamma_regularizer}
