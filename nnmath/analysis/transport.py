"""Optimal transport: Wasserstein distances, entropic OT (Sinkhorn), barycenters and the WGAN-GP
critic loss — each differentiable with every nnmath transform.

* One dimension, exactly: W_p(μ, ν)ᵖ = ∫₀¹ |F_μ⁻¹(t) − F_ν⁻¹(t)|ᵖ dt, the quantile functions of
  the two (weighted) samples (Villani 2003, Rem. 2.19; Peyré & Cuturi 2019, §2.6):
  :func:`wasserstein_distance` (p = 1, scipy's signature and values) and :func:`wasserstein_p`;
  the W₂ barycenter averages quantile functions (:func:`wasserstein_barycenter_1d`).
* Any dimension, by projection: the sliced distance (:func:`sliced_wasserstein`, Monte Carlo
  over directions, with its standard error).
* Entropic OT on a cost matrix, in the log domain: :func:`sinkhorn`, :func:`sinkhorn_divergence`,
  :func:`sinkhorn_barycenter` (in :mod:`nnmath.analysis._sinkhorn`).
* GANs: :class:`WassersteinLoss` (for ``compile``) and :func:`gradient_penalty` /
  :func:`wgan_gp_critic_loss` (Gulrajani et al. 2017) for the critic's step.

Every function is written with ``nnmath.numpy``: gradients w.r.t. the sample values and the weights
come from the general transforms. Sorting and the quantile matching are piecewise constant, so
their indices are computed on plain values; ties split nothing (each tied value is matched once).
"""
from __future__ import annotations

import dataclasses
from typing import Any, Callable

import numpy as np

from .. import numpy as mnp
from .._core.transforms import grad
from ..nn.losses.classes import Loss
from ..numpy._helpers import raw
from ._objective import as_generator
from ._results import Result
from ._sinkhorn import (
    SinkhornBarycenterResult,
    SinkhornConvergenceWarning,
    SinkhornResult,
    _float_array,
    _points,
    check_weights,
    cost_matrix,
    sinkhorn,
    sinkhorn_barycenter,
    sinkhorn_divergence,
)

__all__ = ["wasserstein_distance", "wasserstein_p", "wasserstein_barycenter_1d",
           "Barycenter1DResult", "sliced_wasserstein", "SlicedWassersteinResult", "sinkhorn",
           "SinkhornResult", "sinkhorn_divergence", "sinkhorn_barycenter",
           "SinkhornBarycenterResult", "SinkhornConvergenceWarning", "cost_matrix",
           "WassersteinLoss", "gradient_penalty", "wgan_gp_critic_loss"]


# --------------------------------------------------------------------------------------------
# One dimension: quantile functions
# --------------------------------------------------------------------------------------------

def _sample(values: Any, weights: Any, name: str, who: str) -> tuple:
    values = _float_array(values, f"{name}_values", who)
    if values.ndim != 1:
        raise ValueError(f"{who}: {name}_values must be one-dimensional; got shape "
                         f"{tuple(values.shape)}")
    if values.shape[0] == 0:
        raise ValueError(f"{who}: {name}_values is empty; a distribution needs at least one value")
    if not np.all(np.isfinite(np.asarray(raw(values)))):
        raise ValueError(f"{who}: {name}_values contains non-finite values")
    if weights is not None:
        weights = check_weights(weights, values.shape[0], f"{name}_weights", who, None)
    return values, weights


def _sorted_quantiles(values: Any, weights: Any) -> tuple:
    """(sorted values, their cumulative levels in (0, 1] as plain or traced, plain levels)."""
    n = values.shape[0]
    order = np.argsort(np.asarray(raw(values)), kind="stable")
    vs = mnp.take(values, order)
    if weights is None:
        levels = np.arange(1, n + 1, dtype=np.asarray(raw(values)).dtype) / n
        return vs, levels, levels
    c = mnp.cumsum(mnp.take(weights, order))
    levels = c / c[-1]                      # exactly 1 at the end
    return vs, levels, np.asarray(raw(levels))


def _matched_quantiles(samples: list) -> tuple:
    """For samples [(values, weights), …]: the common levels' widths dt (Σ dt = 1) and, per
    sample, its quantile on each level: Q_k(t) for t ∈ (t_{i−1}, t_i]."""
    parts = [_sorted_quantiles(v, w) for v, w in samples]
    if len(samples) == 2 and samples[0][1] is None and samples[1][1] is None \
            and parts[0][0].shape[0] == parts[1][0].shape[0]:
        n = parts[0][0].shape[0]                # equal, unweighted samples: sorted pairs
        return np.full(n, 1.0 / n, dtype=parts[0][2].dtype), [p[0] for p in parts]
    levels = mnp.concatenate([p[1] for p in parts])
    rlev = np.concatenate([p[2] for p in parts])
    order = np.argsort(rlev, kind="stable")
    t = mnp.take(levels, order)
    dt = mnp.diff(mnp.concatenate([mnp.zeros(1, dtype=rlev.dtype), t]))
    rt = rlev[order]
    quantiles = []
    for vs, _, rl in parts:
        idx = np.minimum(np.searchsorted(rl, rt, side="left"), rl.shape[0] - 1)
        quantiles.append(mnp.take(vs, idx))
    return dt, quantiles


def _wasserstein_pp(u: Any, v: Any, uw: Any, vw: Any, p: float) -> Any:
    """W_p(u, v)ᵖ = Σᵢ dtᵢ |Q_u(tᵢ) − Q_v(tᵢ)|ᵖ."""
    dt, (qu, qv) = _matched_quantiles([(u, uw), (v, vw)])
    d = mnp.abs(qu - qv)
    return mnp.sum(dt * (d if p == 1 else d ** p))


def wasserstein_distance(u_values: Any, v_values: Any, u_weights: Any = None,
                         v_weights: Any = None) -> Any:
    """The 1-Wasserstein distance between two 1-D distributions (scipy's signature and values).

    W₁(u, v) = ∫ |U(x) − V(x)| dx = ∫₀¹ |U⁻¹(t) − V⁻¹(t)| dt, U, V the cumulative distribution
    functions of the weighted samples (Ramdas, García Trillos & Cuturi 2017); computed from the
    quantile functions, in the values' dtype. Differentiable in the values and the weights.

    Args:
        u_values, v_values: the samples, 1-D, non-empty.
        u_weights, v_weights: their weights (None for equal weights): non-negative, finite, with
            a positive sum (normalised).

    Returns:
        W₁, a scalar.

    References:
        Villani 2003, "Topics in optimal transportation", Rem. 2.19; ``scipy.stats``.

    >>> wasserstein_distance([0, 1, 3], [5, 6, 8])
    5.0
    >>> wasserstein_distance([0, 1], [0, 1], [3, 1], [2, 2])
    0.25
    >>> round(float(wasserstein_distance([3.4, 3.9, 7.5, 7.8], [4.5, 1.4],
    ...                                  [1.4, 0.9, 3.1, 7.2], [3.2, 3.5])), 12)
    4.078133143805
    """
    u, uw = _sample(u_values, u_weights, "u", "wasserstein_distance")
    v, vw = _sample(v_values, v_weights, "v", "wasserstein_distance")
    out = _wasserstein_pp(u, v, uw, vw, 1)
    plain64 = isinstance(out, (np.ndarray, np.generic)) and out.dtype == np.float64
    return float(out) if plain64 else out


def wasserstein_p(u_values: Any, v_values: Any, u_weights: Any = None, v_weights: Any = None,
                  p: float = 2.0) -> Any:
    """The p-Wasserstein distance (p ≥ 1) between two 1-D distributions.

    W_p(u, v) = (∫₀¹ |U⁻¹(t) − V⁻¹(t)|ᵖ dt)^(1/p), U⁻¹, V⁻¹ the quantile functions of the weighted
    samples (exact: monotone rearrangement is optimal in 1-D for every convex cost; Villani 2003,
    Rem. 2.19). Differentiable in the values and the weights (the derivative of t ↦ t^(1/p) is
    infinite at W_p = 0 for p > 1). Note that ``scipy.stats``' p-th "CDF distances" (energy
    distance at p = 2) are ‖U − V‖_p, which equals W_p only at p = 1.

    Args:
        u_values, v_values: the samples, 1-D, non-empty.
        u_weights, v_weights: their weights (None for equal weights).
        p: the order, ≥ 1.

    Returns:
        W_p, a scalar.

    >>> round(float(wasserstein_p([0.0, 1.0], [0.0, 3.0], p=2)), 6)     # √(½·0² + ½·2²)
    1.414214
    """
    who = "wasserstein_p"
    if not (np.isscalar(p) and np.isfinite(p) and p >= 1):
        raise ValueError(f"{who}: p must be a number ≥ 1; got p={p!r}")
    u, uw = _sample(u_values, u_weights, "u", who)
    v, vw = _sample(v_values, v_weights, "v", who)
    out = _wasserstein_pp(u, v, uw, vw, p)
    return out if p == 1 else out ** (1.0 / p)


@dataclasses.dataclass
class Barycenter1DResult(Result):
    """A discrete 1-D distribution: ``values`` (sorted) with probabilities ``weights``."""

    values: Any
    weights: Any


def wasserstein_barycenter_1d(values: list, weights: list | None = None,
                              lambdas: Any = None) -> Barycenter1DResult:
    """The W₂ barycenter of 1-D distributions: the average of their quantile functions.

    argmin_ν Σₖ λₖ W₂(ν, μₖ)² has quantile function Σₖ λₖ F_μₖ⁻¹ (Agueh & Carlier 2011;
    :func:`sinkhorn_barycenter` solves its entropic version on a grid). The result is supported on
    one point per interval between the samples' cumulative levels. Differentiable in the values
    and the weights.

    Args:
        values: a list of K 1-D samples.
        weights: None, or a list of K weight vectors (None entries for equal weights).
        lambdas: the barycentric weights λ (K,), non-negative; None for uniform.

    Returns:
        :class:`Barycenter1DResult` (values, weights).

    References:
        Agueh & Carlier 2011, "Barycenters in the Wasserstein space".

    >>> r = wasserstein_barycenter_1d([[0.0, 2.0], [4.0, 10.0]])
    >>> r.values.tolist(), r.weights.tolist()
    ([2.0, 6.0], [0.5, 0.5])
    """
    who = "wasserstein_barycenter_1d"
    if not isinstance(values, (list, tuple)) or not values:
        raise TypeError(f"{who}: values must be a non-empty list of 1-D samples; got "
                        f"{type(values).__name__}")
    weights = [None] * len(values) if weights is None else list(weights)
    if len(weights) != len(values):
        raise ValueError(f"{who}: weights has {len(weights)} entries for {len(values)} samples")
    samples = [_sample(v, w, f"values[{k}]", who) for k, (v, w) in
               enumerate(zip(values, weights))]
    lam = check_weights(lambdas, len(samples), "lambdas", who, np.float64)
    lam = lam / mnp.sum(lam)
    if len(samples) == 1:
        samples = samples * 2
        lam = mnp.concatenate([lam, mnp.zeros(1, dtype=np.asarray(raw(lam)).dtype)])
    dt, quantiles = _matched_quantiles(samples)
    bary = sum(lam[k] * q for k, q in enumerate(quantiles))
    keep = np.nonzero(np.asarray(raw(dt)) > 0)[0]
    return Barycenter1DResult(values=mnp.take(bary, keep), weights=mnp.take(dt, keep))


# --------------------------------------------------------------------------------------------
# Sliced Wasserstein
# --------------------------------------------------------------------------------------------

@dataclasses.dataclass
class SlicedWassersteinResult(Result):
    """A Monte-Carlo sliced Wasserstein distance (see :func:`sliced_wasserstein`).

    Attributes:
        value: SW_p = (mean over directions of W_pᵖ)^(1/p) (POT's convention).
        std_error: its standard error (delta method from that of the mean of W_pᵖ).
        value_p: the mean of W_pᵖ, an unbiased estimate of SW_pᵖ.
        std_error_p: the standard error of ``value_p``.
        n_projections: the number of directions.
        p: the order.
    """

    value: Any
    std_error: float
    value_p: Any
    std_error_p: float
    n_projections: int
    p: float


def sliced_wasserstein(x: Any, y: Any, a: Any = None, b: Any = None, *, n_projections: int = 50,
                       p: float = 2.0, projections: Any = None,
                       seed: Any = None) -> SlicedWassersteinResult:
    """The sliced p-Wasserstein distance of two point clouds, by Monte Carlo over directions.

    SW_p(α, β)ᵖ = ∫_{S^{d−1}} W_p(θ#α, θ#β)ᵖ dσ(θ), θ#α the 1-D projection ⟨θ, x⟩ and σ uniform on
    the sphere (Bonneel et al. 2015), estimated by the mean over L random directions (standard
    error s/√L) and reported as SW_p = mean^(1/p), as POT's ``ot.sliced_wasserstein_distance``
    does (which it equals for the same ``projections``). Differentiable in x, y, a and b.

    Args:
        x, y: points (n, d) and (m, d).
        a, b: their weights (None for uniform).
        n_projections: L, when ``projections`` is not given.
        p: the order, ≥ 1.
        projections: optional unit directions as columns, (d, L) (POT's layout).
        seed: int or ``numpy.random.Generator`` for the directions (normalised Gaussians).

    Returns:
        :class:`SlicedWassersteinResult` (value, std_error, value_p, std_error_p, n_projections, p).

    References:
        Bonneel, Rabin, Peyré & Pfister 2015, "Sliced and Radon Wasserstein barycenters of
        measures".

    >>> import numpy as np
    >>> x = np.array([[0.0, 0.0], [1.0, 0.0]])
    >>> r = sliced_wasserstein(x, x + [3.0, 4.0], n_projections=500, seed=0)
    >>> exact = 5.0 / np.sqrt(2)             # a translation by t: SW₂ = |t|/√d
    >>> bool(abs(float(r.value) - exact) < 3 * r.std_error), round(float(r.value), 1)
    (True, 3.5)
    """
    who = "sliced_wasserstein"
    if not (np.isscalar(p) and np.isfinite(p) and p >= 1):
        raise ValueError(f"{who}: p must be a number ≥ 1; got p={p!r}")
    x, y = _points(x, "x", who), _points(y, "y", who)
    d = x.shape[1]
    if y.shape[1] != d:
        raise ValueError(f"{who}: x and y must have the same dimension; got shapes "
                         f"{tuple(x.shape)} and {tuple(y.shape)}")
    dtype = np.result_type(np.asarray(raw(x)).dtype, np.asarray(raw(y)).dtype)
    if a is not None:
        a = check_weights(a, x.shape[0], "a", who, dtype)
    if b is not None:
        b = check_weights(b, y.shape[0], "b", who, dtype)
    if projections is None:
        if not (isinstance(n_projections, (int, np.integer)) and n_projections >= 2):
            raise ValueError(f"{who}: n_projections must be an integer ≥ 2 (for a standard "
                             f"error); got {n_projections!r}")
        theta = as_generator(seed).standard_normal((d, int(n_projections)))
        theta = (theta / np.linalg.norm(theta, axis=0)).astype(dtype)
    else:
        theta = np.asarray(projections, dtype=dtype)
        if theta.ndim != 2 or theta.shape[0] != d or theta.shape[1] < 2:
            raise ValueError(f"{who}: projections must be a (d, L) array of directions, d={d}, "
                             f"L ≥ 2; got shape {theta.shape}")
    L = theta.shape[1]
    px, py = x @ theta, y @ theta                                # (n, L), (m, L)
    if a is None and b is None and x.shape[0] == y.shape[0]:
        dist = mnp.abs(mnp.sort(px, axis=0) - mnp.sort(py, axis=0))
        wpp = mnp.mean(dist ** p, axis=0)
    else:
        wpp = mnp.stack([_wasserstein_pp(px[:, k], py[:, k], a, b, p) for k in range(L)])
    mean = mnp.mean(wpp)
    se_p = float(np.std(np.asarray(raw(wpp)), ddof=1) / np.sqrt(L))
    m = float(raw(mean))
    value = mean ** (1.0 / p)
    se = se_p / (p * m ** (1.0 - 1.0 / p)) if m > 0 else 0.0
    return SlicedWassersteinResult(value=value, std_error=se, value_p=mean, std_error_p=se_p,
                                   n_projections=L, p=float(p))


# --------------------------------------------------------------------------------------------
# WGAN-GP
# --------------------------------------------------------------------------------------------

class WassersteinLoss(Loss):
    """The Wasserstein (critic) loss for ``compile``: mean(y_true · y_pred).

    With labels y = −1 for real and +1 for generated samples, the critic D minimises
    E[D(fake)] − E[D(real)], the negative of the Kantorovich–Rubinstein estimate of W₁ (Arjovsky
    et al. 2017); the generator, trained through the critic with labels −1 on its samples,
    minimises −E[D(fake)]. The 1-Lipschitz constraint is the gradient penalty
    (:func:`gradient_penalty`), which needs the critic's inputs and so is added in the critic's
    own step (:func:`wgan_gp_critic_loss`), not by ``compile``.

    References:
        Arjovsky, Chintala & Bottou 2017, "Wasserstein GAN".

    >>> import numpy as np
    >>> float(WassersteinLoss()(np.array([[-1.0], [1.0]]), np.array([[2.0], [0.5]])))
    -0.75
    """

    def __init__(self, reduction: str | None = "sum_over_batch_size",
                 name: str = "wasserstein_loss"):
        super().__init__(reduction=reduction, name=name)

    def call(self, y_true: Any, y_pred: Any) -> Any:
        y_pred = y_pred if hasattr(y_pred, "ndim") else np.asarray(y_pred)
        y_true = mnp.astype(y_true if hasattr(y_true, "ndim") else np.asarray(y_true),
                            np.asarray(raw(y_pred)).dtype)
        if y_true.ndim == y_pred.ndim - 1:
            y_true = mnp.expand_dims(y_true, -1)
        prod = y_true * y_pred
        return mnp.mean(prod, axis=-1) if prod.ndim > 1 else prod


def gradient_penalty(critic_apply: Callable, params: Any, real: Any, fake: Any, rng: Any = None,
                     *, weight: float = 10.0) -> Any:
    """The WGAN-GP gradient penalty λ·E[(‖∇ₓ̂ D(x̂)‖₂ − 1)²] on random interpolates.

    x̂ᵢ = tᵢ·realᵢ + (1 − tᵢ)·fakeᵢ with tᵢ ~ U[0, 1] drawn as ``rng.uniform(size=n)`` (Gulrajani et
    al. 2017, Alg. 1). The per-sample gradients are those of Σᵢ D(x̂ᵢ), which assumes the critic
    treats samples independently (no batch normalisation, as the paper advises). Differentiable in
    ``params`` (and in ``real``, ``fake``) — a gradient of a gradient.

    Args:
        critic_apply: ``critic_apply(params, x)`` → one score per sample, (n,) or (n, 1)
            (e.g. ``model.apply``).
        params: the critic's parameters.
        real, fake: batches of the same shape (n, …).
        rng: int or ``numpy.random.Generator`` for t.
        weight: λ (10 in the paper).

    Returns:
        The penalty, a scalar.

    References:
        Gulrajani, Ahmed, Arjovsky, Dumoulin & Courville 2017, "Improved training of Wasserstein
        GANs".

    >>> import numpy as np
    >>> D = lambda w, x: x @ w                 # a linear critic: ∇ₓD = w everywhere
    >>> x = np.zeros((4, 2))
    >>> float(gradient_penalty(D, np.array([3.0, 4.0]), x, x + 1.0, rng=0))     # 10·(5 − 1)²
    160.0
    """
    who = "gradient_penalty"
    real, fake = _float_array(real, "real", who), _float_array(fake, "fake", who)
    if tuple(real.shape) != tuple(fake.shape) or real.ndim < 1 or real.shape[0] == 0:
        raise ValueError(f"{who}: real and fake must be non-empty batches of the same shape; got "
                         f"{tuple(real.shape)} and {tuple(fake.shape)}")
    if not callable(critic_apply):
        raise TypeError(f"{who}: critic_apply must be a function (params, x) -> scores; got "
                        f"{type(critic_apply).__name__}")
    n = real.shape[0]
    dtype = np.result_type(np.asarray(raw(real)).dtype, np.asarray(raw(fake)).dtype)
    t = as_generator(rng).uniform(size=n).astype(dtype).reshape((n,) + (1,) * (real.ndim - 1))
    x_hat = t * real + (1.0 - t) * fake
    scores = critic_apply(params, x_hat)
    if tuple(scores.shape) not in ((n,), (n, 1)):
        raise ValueError(f"{who}: critic_apply must return one score per sample, shape ({n},) or "
                         f"({n}, 1); got {tuple(scores.shape)}")
    g = grad(lambda z: mnp.sum(critic_apply(params, z)))(x_hat)
    norms = mnp.sqrt(mnp.sum(mnp.reshape(g, (n, -1)) ** 2, axis=1))
    return weight * mnp.mean((norms - 1.0) ** 2)


def wgan_gp_critic_loss(critic_apply: Callable, params: Any, real: Any, fake: Any,
                        rng: Any = None, *, weight: float = 10.0) -> Any:
    """The WGAN-GP critic loss E[D(fake)] − E[D(real)] + λ·E[(‖∇ₓ̂ D(x̂)‖₂ − 1)²].

    For a critic step: ``nm.value_and_grad(lambda p: wgan_gp_critic_loss(D, p, real, fake, rng))``.
    Arguments as in :func:`gradient_penalty` (Gulrajani et al. 2017, Alg. 1).

    >>> import numpy as np
    >>> D = lambda w, x: x @ w
    >>> x = np.zeros((4, 2))
    >>> float(wgan_gp_critic_loss(D, np.array([0.6, 0.8]), x, x + 1.0, rng=0))   # 1.4 + 0
    1.4
    """
    fake_scores = critic_apply(params, fake)
    real_scores = critic_apply(params, real)
    return (mnp.mean(fake_scores) - mnp.mean(real_scores)
            + gradient_penalty(critic_apply, params, real, fake, rng, weight=weight))
