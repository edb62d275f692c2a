"""Matrix-calculus identities from the reference documents, each checked numerically.

(Matrix Cookbook equation numbers where they exist.)
"""
from __future__ import annotations

import numpy as np
import pytest

import nnmath as nm
import nnmath.numpy as mnp

R = np.random.default_rng(1)
N = 5
A = R.normal(size=(N, N))
x = R.normal(size=N)
y = R.normal(size=N)


def test_quadratic_form():
    # d(xᵀAx)/dx = (A + Aᵀ)x                                   (Cookbook 81)
    g = nm.grad(lambda x: x @ A @ x)(x)
    np.testing.assert_allclose(g, (A + A.T) @ x, rtol=1e-12)


def test_linear_map_jacobian():
    # d(Ax)/dx = A, in both modes
    np.testing.assert_allclose(nm.jacrev(lambda x: A @ x)(x), A, rtol=1e-12)
    np.testing.assert_allclose(nm.jacfwd(lambda x: A @ x)(x), A, rtol=1e-12)


def test_inner_product():
    # d(xᵀy)/dx = y                                           (Cookbook 69)
    np.testing.assert_allclose(nm.grad(lambda x: mnp.dot(x, y))(x), y, rtol=1e-12)


def test_squared_norm():
    # d‖x‖²/dx = 2x
    np.testing.assert_allclose(nm.grad(lambda x: mnp.sum(x ** 2))(x), 2 * x, rtol=1e-12)
    np.testing.assert_allclose(nm.grad(lambda x: mnp.linalg.norm(x) ** 2)(x), 2 * x, rtol=1e-12)


def test_log_det():
    # d log|det A|/dA = A⁻ᵀ                                   (Cookbook 57)
    if not hasattr(mnp.linalg, "slogdet"):
        pytest.skip("linalg.slogdet not available")
    g = nm.grad(lambda a: mnp.linalg.slogdet(a)[1])(A)
    np.testing.assert_allclose(g, np.linalg.inv(A).T, rtol=1e-9)


def test_trace_of_product():
    # d tr(AB)/dA = Bᵀ                                        (Cookbook 100)
    B = R.normal(size=(N, N))
    np.testing.assert_allclose(nm.grad(lambda a: mnp.trace(a @ B))(A), B.T, rtol=1e-12)


def test_linear_layer_backprop():
    # Y = WX: dL/dW = (dL/dY) Xᵀ and dL/dX = Wᵀ (dL/dY), for any upstream dL/dY
    W, X = R.normal(size=(4, 3)), R.normal(size=(3, 6))
    G = R.normal(size=(4, 6))                          # dL/dY, via L = Σ G ⊙ Y
    dW, dX = nm.grad(lambda W, X: mnp.sum(G * (W @ X)), argnums=(0, 1))(W, X)
    np.testing.assert_allclose(dW, G @ X.T, rtol=1e-12)
    np.testing.assert_allclose(dX, W.T @ G, rtol=1e-12)


def layer_norm(x, gamma, beta, eps=1e-5):
    mu = mnp.mean(x, axis=-1, keepdims=True)
    var = mnp.mean((x - mu) ** 2, axis=-1, keepdims=True)
    return gamma * (x - mu) / mnp.sqrt(var + eps) + beta


def layer_norm_backward_by_hand(x, gamma, g, eps=1e-5):
    """The LayerNorm backward derived by hand (the reference workflow "derive backprop"):
    with x̂ = (x − μ)/σ, σ = √(var + ε) and n features,
        dβ = Σ_batch ȳ,   dγ = Σ_batch ȳ ⊙ x̂,
        dx = (1/σ) (ĝ − mean(ĝ) − x̂ ⊙ mean(ĝ ⊙ x̂)),  ĝ = ȳ ⊙ γ.
    """
    mu = x.mean(-1, keepdims=True)
    sigma = np.sqrt(((x - mu) ** 2).mean(-1, keepdims=True) + eps)
    xhat = (x - mu) / sigma
    gh = g * gamma
    dx = (gh - gh.mean(-1, keepdims=True) - xhat * (gh * xhat).mean(-1, keepdims=True)) / sigma
    return dx, (g * xhat).sum(0), g.sum(0)


def test_layer_norm_backward_matches_hand_derivation():
    x = R.normal(size=(4, 6))
    gamma, beta = R.normal(size=6), R.normal(size=6)
    g = R.normal(size=(4, 6))
    auto = nm.vjp(layer_norm, x, gamma, beta)[1](g)
    hand = layer_norm_backward_by_hand(x, gamma, g)
    for a, h in zip(auto, hand):
        np.testing.assert_allclose(a, h, rtol=1e-9, atol=1e-12)
