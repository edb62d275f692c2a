"""The fused affine map of a Dense layer: one primitive (one tape entry) instead of matmul + add.

Vocabulary: ``g`` = Ȳ, ``t`` = a tangent, ``y`` = the output. For Y = XW + b (X: (m, k), W: (k, n),
b: (n,)) — Matrix Cookbook eq. 37 for the product, the bias broadcast over rows:
    X̄ = Ȳ Wᵀ,   W̄ = Xᵀ Ȳ,   b̄ = 1ᵀ Ȳ (summed by fit_cotangent),   Ẏ = Ẋ W + X Ẇ + 1 ḃᵀ.
"""
from __future__ import annotations

import numpy as np

from .._core.batching import align, logical_ndim
from .._core.declare import defprimitive
from ..numpy._products import _matmul, _mT

__all__ = ["affine"]


def _affine_impl(x, w, b):
    y = np.matmul(x, w)
    y += b
    return y


def _batch_affine(size, vals, bat):
    # Under vmap: the unfused form, whose parts batch by themselves.
    x, w, b = vals
    xw = _matmul(*align([x, w], bat[:2], logical_ndim([x, w], bat[:2])))
    return xw + (b.reshape((b.shape[0], 1) + tuple(b.shape[1:])) if bat[2] else b)


# Y = XW + b                      X̄ = ȲWᵀ, W̄ = XᵀȲ, b̄ = 1ᵀȲ       Ẏ = ẊW + XẆ + ḃ
affine = defprimitive(
    "affine", _affine_impl,
    vjp=(lambda g, y, x, w, b: _matmul(g, _mT(w)), lambda g, y, x, w, b: _matmul(_mT(x), g),
         lambda g, y, x, w, b: g),
    jvp=(lambda t, y, x, w, b: _matmul(t, w), lambda t, y, x, w, b: _matmul(x, t),
         lambda t, y, x, w, b: t),
    batch=_batch_affine, saves="args")
