"""Layer wrappers: SpectralNormalization (Miyato et al. 2018)."""
from __future__ import annotations

from typing import Any

import numpy as np

from ... import numpy as mnp
from ..._core.custom import stop_gradient
from ...numpy._helpers import physical
from .base import Layer

__all__ = ["SpectralNormalization"]


def _truncated_normal_002(shape, dtype, rng):
    """u's initial value, as Keras: normal(0, 0.02²) truncated at two standard deviations."""
    z = rng.standard_normal(shape)
    while np.any(bad := np.abs(z) > 2.0):
        z[bad] = rng.standard_normal(int(bad.sum()))
    return (0.02 * z).astype(dtype)


def _normalize(a: Any, eps: float = 1e-12) -> Any:
    """a / max(‖a‖, eps) (as torch.nn.functional.normalize; eps guards a zero vector)."""
    return a / mnp.maximum(mnp.sqrt(mnp.sum(a * a)), eps)


class SpectralNormalization(Layer):
    """Spectral normalization of a wrapped layer's kernel (Miyato et al. 2018).

    The wrapped layer runs with W / σ(W) in place of its kernel W, where σ(W), the largest
    singular value of W reshaped to a matrix (−1, out), is estimated by power iteration from a
    persistent vector u (non-trainable weight ``vector_u``, shape (1, out))::

        repeat power_iterations times:   v ← normalize(u Wᵀ),   u ← normalize(v W)
        σ = v W uᵀ                       with u, v held constant (stop_gradient)

    so ∂σ/∂W = vᵀu, the paper's estimate of the gradient of the top singular value (Miyato et al.
    2018, eq. 12). In training (``training=True``) the iterations run from the stored u and
    :meth:`state_updates` returns the new u, so σ sharpens step by step; in inference no iteration
    runs: v = normalize(u Wᵀ) and σ = v W uᵀ = ‖W uᵀ‖ with the stored u. A kernel of zeros is
    used as is (σ := 1), as Keras skips it.

    Conventions: this is Keras's iteration (u on the output side, (1, out)) and its
    ``vector_u`` name. Keras's own layer *overwrites* the kernel with W/σ at each training call;
    here the kernel stays the trainable parameter and W/σ is computed in ``call``, as PyTorch's
    ``parametrizations.spectral_norm`` does. PyTorch's iteration is this one applied to the matrix
    W itself (shape (in, out)), its ``(_u, _v)`` being our (v, u); on an ``nn.Linear`` weight
    (Wᵀ) it starts from the other side, a different estimate after finitely many steps with the
    same limit. PyTorch also stores v, for inference; here only u is stored, as Keras.

    Args:
        layer: a :class:`Layer` with a weight named ``kernel`` (Dense, Conv, …) or ``embeddings``.
        power_iterations: iterations per training call (default 1; ≥ 1).
        **kwargs: the :class:`Layer` arguments (dtype defaults to the wrapped layer's).

    Weights: the wrapped layer's (same names, same arrays) and ``vector_u``.
    Input and output shapes: the wrapped layer's.

    Example:

    >>> import numpy as np
    >>> sn = SpectralNormalization(_Kernel(), power_iterations=1)
    >>> W = np.diag([3.0, 1.0])
    >>> sn.call({"kernel": W, "vector_u": np.array([[1.0, 0.0]])}, np.eye(2), training=True)
    array([[1.    , 0.    ],
           [0.    , 0.3333]])

    References:
        Miyato, Kataoka, Koyama & Yoshida (2018), "Spectral Normalization for Generative
        Adversarial Networks", arXiv:1802.05957; keras.layers.SpectralNormalization.
    """

    def __init__(self, layer: Layer, power_iterations: int = 1, **kwargs):
        if not isinstance(layer, Layer):
            raise TypeError(f"SpectralNormalization: layer must be a Layer, got {type(layer).__name__}")
        if (isinstance(power_iterations, bool) or not isinstance(power_iterations, (int, np.integer))
                or power_iterations <= 0):
            raise ValueError(f"SpectralNormalization: power_iterations must be a positive integer, "
                             f"got {power_iterations!r}")
        kwargs.setdefault("dtype", layer.dtype)
        kwargs.setdefault("name", "spectral_normalization_" + layer.name)
        super().__init__(**kwargs)
        self.layer, self.power_iterations = layer, int(power_iterations)
        self._kernel_name: str | None = None

    # -- lifecycle ------------------------------------------------------------------------------
    def build(self, input_shape: Any) -> None:
        if not self.layer.built:
            self.layer.build(input_shape)
            self.layer.built = True
        name = next((n for n in ("kernel", "embeddings") if n in self.layer.values), None)
        if name is None:
            raise ValueError(f"SpectralNormalization: the wrapped layer {self.layer.name!r} "
                             f"({type(self.layer).__name__}) has no weight 'kernel' nor 'embeddings'; "
                             f"its weights are {list(self.layer.values)}")
        self._kernel_name = name
        self.weights_spec = dict(self.layer.weights_spec)
        self.values = dict(self.layer.values)         # the same arrays: set_weights reaches both
        out = self.layer.values[name].shape[-1]
        self.add_weight("vector_u", (1, out), _truncated_normal_002, trainable=False,
                        dtype=self.layer.values[name].dtype)
        self.built = True

    def _kernel_key(self, params: dict) -> str:
        if self._kernel_name is None:
            self._kernel_name = "kernel" if "kernel" in params else "embeddings"
        if self._kernel_name not in params or "vector_u" not in params:
            raise ValueError(f"layer {self.name!r} (SpectralNormalization): params must hold "
                             f"{self._kernel_name!r} and 'vector_u', got {sorted(params)}")
        return self._kernel_name

    # -- the math -------------------------------------------------------------------------------
    def _sigma(self, kernel: Any, u: Any, iterations: int) -> tuple:
        """(σ, u after ``iterations`` power-iteration steps)."""
        w = mnp.reshape(kernel, (-1, kernel.shape[-1]))
        if not np.any(physical(kernel)):
            return 1.0, u                                  # a zero kernel: leave it (Keras)
        w_const, u = stop_gradient(w), stop_gradient(u)
        if iterations == 0:                                # inference: the stored u as it is
            v = _normalize(u @ w_const.T)
        for _ in range(iterations):
            v = _normalize(u @ w_const.T)
            u = _normalize(v @ w_const)
        # σ = v W uᵀ (= ‖v W‖ after an iteration, ‖W uᵀ‖ in inference: never negative)
        return mnp.sum((v @ w) * u), u

    def normalized_kernel(self, params: dict, training: bool = False) -> Any:
        """W / σ(W) as ``call`` uses it (with ``training``: after the power iterations)."""
        name = self._kernel_key(params)
        sigma, _ = self._sigma(params[name], params["vector_u"], self.power_iterations if training else 0)
        return params[name] / sigma

    def call(self, params: dict, x: Any, training: bool = False, rng: np.random.Generator | None = None):
        name = self._kernel_key(params)
        inner = {k: v for k, v in params.items() if k != "vector_u"}
        inner[name] = self.normalized_kernel(params, training)
        return self.layer.call(inner, x, training=training, rng=rng)

    def state_updates(self, params: dict, x: Any, rng: np.random.Generator | None = None) -> dict:
        """The new ``vector_u`` after a training step (and the wrapped layer's own updates)."""
        name = self._kernel_key(params)
        _, u = self._sigma(params[name], params["vector_u"], self.power_iterations)
        inner = {k: v for k, v in params.items() if k != "vector_u"}
        inner[name] = self.normalized_kernel(params, training=True)
        return {**self.layer.state_updates(inner, x, rng=rng), "vector_u": u}

    # -- shapes and config ----------------------------------------------------------------------
    def compute_output_shape(self, input_shape: Any) -> Any:
        return self.layer.compute_output_shape(input_shape)

    def get_config(self) -> dict:
        return {**super().get_config(), "power_iterations": self.power_iterations,
                "layer": {"class_name": type(self.layer).__name__, "config": self.layer.get_config()}}

    @classmethod
    def from_config(cls, config: dict, custom_objects: dict | None = None) -> "SpectralNormalization":
        """Rebuild from :meth:`get_config`; the wrapped layer's class is looked up in
        ``custom_objects`` (name → class), then in ``nnmath.nn.layers``."""
        config = dict(config)
        spec = config.pop("layer")
        name = spec["class_name"]
        klass = (custom_objects or {}).get(name)
        if klass is None:
            from .. import layers as _layers
            klass = getattr(_layers, name, None)
        if not (isinstance(klass, type) and issubclass(klass, Layer)):
            raise ValueError(f"SpectralNormalization.from_config: unknown layer class {name!r}; pass "
                             f"it in custom_objects={{{name!r}: cls}}")
        return cls(klass.from_config(spec["config"]), **config)


class _Kernel(Layer):
    """y = x W (the smallest layer with a kernel; for the doctest above)."""

    def build(self, input_shape):
        self.add_weight("kernel", (input_shape[-1], input_shape[-1]))
        self.built = True

    def call(self, params, x, training=False, rng=None):
        return x @ params["kernel"]
