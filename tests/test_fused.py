"""Fused primitives of the nn layer (one tape entry for a common composite): rule-table rows and
their agreement with the unfused composite."""
from __future__ import annotations

import numpy as np

import nnmath as nm
import nnmath.numpy as mnp
from nnmath.nn._dense import affine
from rowtable import Row, rng

R = rng(5)
X, W, B = R.normal(size=(6, 4)), R.normal(size=(4, 3)), R.normal(size=3)

ROWS = [Row("affine", lambda x, w, b: affine(x, w, b), (X, W, B))]


def test_affine_equals_matmul_plus_bias_in_value_and_derivatives():
    ref = lambda x, w, b: mnp.sum(mnp.tanh(x @ w + b) ** 2)
    fused = lambda x, w, b: mnp.sum(mnp.tanh(affine(x, w, b)) ** 2)
    np.testing.assert_allclose(fused(X, W, B), ref(X, W, B), rtol=1e-14)
    for a, b in zip(nm.grad(fused, (0, 1, 2))(X, W, B), nm.grad(ref, (0, 1, 2))(X, W, B)):
        np.testing.assert_allclose(a, b, rtol=1e-12)
    np.testing.assert_allclose(nm.hessian(fused, 2)(X, W, B), nm.hessian(ref, 2)(X, W, B), rtol=1e-12)
