"""Kronecker-factored curvature (K-FAC) of the Dense and convolution layers of a Model, for
:mod:`nnmath.analysis.laplace`.

For a layer s = W̃ᵀã (ã the layer's input with a 1 appended for the bias, W̃ = [W; bᵀ]) the
per-sample Jacobian of the outputs is ∂f/∂W̃ = ã ⊗ ∂f/∂s, so the layer's block of the Gauss–Newton
matrix Σ_i J_iᵀ H_i J_i is Σ_i (ã_i ã_iᵀ) ⊗ (g_i g_iᵀ summed over the columns of H_i^{1/2}), with
g = (∂f/∂s)ᵀ H^{1/2} the output-side factor. K-FAC (Martens & Grosse 2015) replaces the sum of
products by the product of sums,

    G_W̃ ≈ A ⊗ G,   A = (1/N) Σ_i ã_i ã_iᵀ,   G = Σ_i Σ_m g_im g_imᵀ,

exact for one sample. A convolution is a Dense layer applied at every output position t to the
patch around t (im2col), and a Dense layer on a sequence one applied at every step; both sum
ã_t ã_tᵀ and g_t g_tᵀ over the positions (the "expand" setting of Grosse & Martens 2016 and
Eschenhagen et al. 2023; exact for one sample at one position).

The factors come from the model's own forward pass: each Dense/Conv layer's ``call`` is wrapped for
the duration of one pass (an instance attribute, removed in ``finally``), recording its input and
adding a perturbation ε to its pre-activation s, so g = ∂(cᵀf)/∂ε by one vmapped pullback per
column c of H^{1/2} — every other layer (BatchNorm, LSTM, attention …) is differentiated as it is.

References:
    J. Martens, R. Grosse. Optimizing neural networks with Kronecker-factored approximate
    curvature. ICML 2015.
    R. Grosse, J. Martens. A Kronecker-factored approximate Fisher matrix for convolution layers.
    ICML 2016.
    R. Eschenhagen et al. Kronecker-factored approximate curvature for modern neural network
    architectures. NeurIPS 2023.
"""
from __future__ import annotations

import contextlib
import copy
from typing import Any, Callable

import numpy as np

from .. import numpy as mnp
from .._core.batching import vmap
from .._core.transforms import vjp

__all__ = ["kron_layers", "KronSpec", "kron_factors_batch", "EigBlock", "KronBlock"]


class KronSpec:
    """One Kronecker-factored layer: its flat indices (W̃ row-major: the kernel as a
    (fan_in, units) matrix, then the bias as the last row) and how to form its patches."""

    def __init__(self, layer: Any, index: np.ndarray, fan_in: int, units: int, bias: bool,
                 conv: bool):
        self.layer, self.index, self.fan_in, self.units = layer, index, fan_in, units
        self.bias, self.conv = bias, conv
        self.name = layer.name
        self.a_dim = fan_in + (1 if bias else 0)
        self.linear = copy.copy(layer)                 # the same layer without its activation
        self.linear.activation = _identity
        if conv:                                        # im2col by convolution with a basis kernel
            self.patches = copy.copy(layer)
            self.patches.activation, self.patches.use_bias = _identity, False
            ks = tuple(layer.kernel_size)
            c_in = fan_in // int(np.prod(ks))
            self.basis = np.eye(fan_in, dtype=layer.dtype).reshape(ks + (c_in, fan_in))


def _identity(x: Any) -> Any:
    return x


def kron_layers(model: Any, params: dict, leaf_index: dict) -> list:
    """The model's layers that get Kronecker factors: Dense, and Conv1D/Conv2D in channels_last
    (not transposed), with their trainable kernel (and bias) among ``params``. ``leaf_index``
    maps (layer name, weight name) to that leaf's flat indices (same shape as the leaf)."""
    from ..nn.layers.conv import _Conv, _ConvTranspose
    from ..nn.layers.core import Dense
    out = []
    for layer in model.layers:
        p = params.get(layer.name, {})
        if "kernel" not in p or ("bias" in p) != bool(getattr(layer, "use_bias", False)):
            continue
        if isinstance(layer, Dense):
            conv = False
        elif isinstance(layer, _Conv) and not isinstance(layer, _ConvTranspose) and \
                layer.data_format == "channels_last":
            conv = True
        else:
            continue
        if set(p) - {"kernel", "bias"}:
            continue
        kidx = leaf_index[(layer.name, "kernel")]
        units = kidx.shape[-1]
        fan_in = kidx.size // units
        rows = [kidx.reshape(fan_in, units)]
        if "bias" in p:
            rows.append(leaf_index[(layer.name, "bias")].reshape(1, units))
        out.append(KronSpec(layer, np.concatenate(rows).reshape(-1), fan_in, units, "bias" in p,
                            conv))
    return out


@contextlib.contextmanager
def _tapped(specs: list, eps: list | None, record: dict):
    """Wrap each spec's layer ``call`` for one forward pass: record the input, add ε (if given)
    to the pre-activation, then apply the activation."""
    def make(i, spec):
        def call(p, x, training=False, rng=None, **kw):
            if i in record["a"]:
                raise ValueError(f"hessian_structure='kron': layer {spec.name!r} is called more "
                                 f"than once in one forward pass (shared weights); use "
                                 f"hessian_structure='diag' or 'full'")
            s = spec.linear.call(p, x, training=training, rng=rng, **kw)
            record["a"][i] = x
            record["s"][i] = tuple(s.shape)
            if eps is not None:
                s = s + eps[i]
            return spec.layer.activation(s)
        return call
    try:
        for i, spec in enumerate(specs):
            spec.layer.call = make(i, spec)
        yield record
    finally:
        for spec in specs:
            spec.layer.__dict__.pop("call", None)


def _rows(spec: KronSpec, a: Any) -> Any:
    """ã for every sample and position: (n·T, fan_in [+1])."""
    if spec.conv:
        a = spec.patches.call({"kernel": spec.basis.astype(a.dtype)}, a)
    a = mnp.reshape(a, (-1, spec.fan_in))
    if spec.bias:
        a = mnp.concatenate([a, mnp.ones((a.shape[0], 1), a.dtype)], axis=1)
    return a


def kron_factors_batch(specs: list, logits: Callable, sqrt_hessian: Callable, theta: Any,
                       x: Any, y: Any, sw: Any) -> tuple:
    """(Σ ããᵀ, Σ ggᵀ) of every spec over one batch, and the batch's logits.

    ``logits(theta, x)`` is the (n, k) output (run with the layers tapped), ``sqrt_hessian(f, y,
    sw)`` the (n, k, k) factors L_i with H_i = L_i L_iᵀ of the negative log-likelihood."""
    record: dict = {"a": {}, "s": {}}
    with _tapped(specs, None, record):
        f0 = logits(theta, x)
    if len(record["a"]) != len(specs):
        missing = [s.name for i, s in enumerate(specs) if i not in record["a"]]
        raise ValueError(f"hessian_structure='kron': layers {missing} were not reached by the "
                         f"model's forward pass")
    eps0 = [mnp.zeros(record["s"][i], f0.dtype) for i in range(len(specs))]

    def forward(eps):
        rec: dict = {"a": {}, "s": {}}
        with _tapped(specs, eps, rec):
            return logits(theta, x)
    _, pull = vjp(forward, eps0)
    L = sqrt_hessian(f0, y, sw)                         # (n, k, k)
    cots = mnp.moveaxis(L, 2, 0)                        # column m of every L_i: (k, n, k)
    gs = vmap(lambda c: pull(c)[0])(cots)               # per spec: (k, n, *s_shape)
    out = []
    for i, spec in enumerate(specs):
        a = _rows(spec, record["a"][i])
        g = mnp.reshape(gs[i], (-1, spec.units))          # every direction, sample, position
        out.append((mnp.matmul(mnp.swapaxes(a, 0, 1), a), mnp.matmul(mnp.swapaxes(g, 0, 1), g)))
    return out, f0


# --------------------------------------------------------------------------------------------
# Posterior blocks: Σ restricted to a set of parameters, in an eigenbasis
# --------------------------------------------------------------------------------------------

class EigBlock:
    """Precision Q diag(w) Qᵀ on the parameters ``idx`` (Q = None: diagonal)."""

    def __init__(self, idx: np.ndarray, w: np.ndarray, Q: np.ndarray | None = None):
        self.idx, self.w, self.Q = idx, w, Q

    def logdet(self) -> float:
        return float(np.sum(np.log(self.w)))

    def sample(self, z: np.ndarray) -> np.ndarray:          # z: (s, |idx|)
        z = z / np.sqrt(self.w)
        return z if self.Q is None else z @ self.Q.T

    def f_cov(self, J: np.ndarray) -> np.ndarray:            # J: (n, k, |idx|) → (n, k, k)
        JQ = J if self.Q is None else J @ self.Q
        return np.einsum("nkp,nlp->nkl", JQ / self.w, JQ)

    def variance(self) -> np.ndarray:
        return 1 / self.w if self.Q is None else (self.Q ** 2) @ (1 / self.w)


class KronBlock:
    """Precision (Q_A ⊗ Q_G)(h Λ_A ⊗ Λ_G + δ)(Q_A ⊗ Q_G)ᵀ on W̃ (row-major ``idx``)."""

    def __init__(self, idx: np.ndarray, QA: np.ndarray, QG: np.ndarray, W: np.ndarray):
        self.idx, self.QA, self.QG, self.W = idx, QA, QG, W

    def logdet(self) -> float:
        return float(np.sum(np.log(self.W)))

    def sample(self, z: np.ndarray) -> np.ndarray:
        Z = z.reshape(len(z), *self.W.shape) / np.sqrt(self.W)
        return (self.QA @ Z @ self.QG.T).reshape(len(z), -1)

    def f_cov(self, J: np.ndarray) -> np.ndarray:
        n, k = J.shape[:2]
        M = self.QA.T @ J.reshape(n, k, *self.W.shape) @ self.QG
        return np.einsum("nkag,nlag->nkl", M / self.W, M)

    def variance(self) -> np.ndarray:
        return ((self.QA ** 2) @ (1 / self.W) @ (self.QG ** 2).T).reshape(-1)
