"""The MAP view of training: log p(D|θ) + log p(θ) for a compiled model, with L2 as a Gaussian
prior and L1 as a Laplace prior (the reference document's correspondence between regularisers and
priors, with the scale that maps λ to the prior's variance). See :func:`map_view`."""
from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
import scipy.special

from .._ravel import ravel_pytree
from ._objective import _is_model, as_objective
from ._results import Result
from .laplace import _loss_name, _take

__all__ = ["MAPView", "PriorRow", "map_view"]


@dataclasses.dataclass
class PriorRow(Result):
    """The prior that one weight's regulariser implies (see :func:`map_view`).

    Attributes:
        layer, weight: names; size: number of entries.
        prior: "gaussian" (L2), "laplace" (L1), "gaussian×laplace" (L1L2), "flat" (none:
            improper, contributes 0), "unnormalised" (another regulariser: exp(−cD·R), whose
            normalising constant is not known; log_prior then omits it).
        scale: the Gaussian's standard deviation σ = 1/√(2cDλ₂) and/or the Laplace's b = 1/(cDλ₁).
        log_prior: log p(w) summed over the entries.
    """

    layer: str
    weight: str
    size: int
    prior: str
    scale: dict
    log_prior: float


@dataclasses.dataclass
class MAPView(Result):
    """Training as MAP estimation (see :func:`map_view`).

    Attributes:
        log_likelihood: log p(D|θ), normalised. log_prior: Σ log p(w) over the weights.
        log_joint: their sum, = −c·D·(data loss + R(θ)) + const.
        likelihood: the likelihood the compiled loss is the NLL of (words).
        scale: c·D, the factor from the compiled objective to the NLL: D = N
            ("sum_over_batch_size"), 1 ("sum") or Σ sample weights ("mean_with_sample_weight"); c = 1 for cross-entropy and
            mean squared error (σ² = k/2), k for binary cross-entropy over k outputs.
        data_loss, regularization: the compiled loss's two terms at θ.
        prior_precision: per parameter (flat order of ``model.params``), 2cDλ₂ of the Gaussian
            priors (0 where there is none) — the ``prior_precision`` of a :class:`Laplace`.
        rows: one :class:`PriorRow` per weight.
        sigma_noise: σ of the Gaussian likelihood (mean squared error), else None.
        normalised: False if some prior's normalising constant is unknown.
    """

    log_likelihood: float
    log_prior: float
    log_joint: float
    likelihood: str
    scale: float
    data_loss: float
    regularization: float
    prior_precision: np.ndarray
    rows: list
    sigma_noise: float | None
    normalised: bool


def _log_norm_l1l2(a: float, b: float) -> float:
    """log ∫ exp(−a|w| − b w²) dw = log(√(π/b) · erfcx(a/(2√b)))."""
    return 0.5 * math.log(math.pi / b) + math.log(scipy.special.erfcx(a / (2 * math.sqrt(b))))


def map_view(model: Any, x: Any, y: Any, sample_weight: Any = None, params: Any = None,
             batch_size: int | None = None) -> MAPView:
    """log p(D|θ) + log p(θ) of a compiled model: training minimises J(θ) = L(θ) + R(θ) (the
    compiled loss and the weight regularisers); with L = (1/(cD)) · (−log p(D|θ)) + const this is
    MAP estimation, cD·J = −log p(D|θ) − log p(θ) + const, under the prior p(θ) ∝ exp(−cD·R(θ)):

        L2:  λ‖w‖²  ↔  w ~ N(0, σ² = 1/(2cDλ)),    L1:  λ‖w‖₁  ↔  w ~ Laplace(0, b = 1/(cDλ)),

    (Bishop 2006 §3.1.4, §5.5; Tibshirani 1996; the reference "regularization as prior"), with D = N
    for Keras's mean over samples. Weights without a regulariser get a flat (improper) prior.

    Args:
        model: a compiled Model whose loss is a cross-entropy (categorical, sparse, binary) or mean
            squared error (a Gaussian likelihood with σ² = k/2 for k outputs).
        x, y, sample_weight: the training data. params: θ (default ``model.params``).

    Returns:
        a :class:`MAPView`.

    >>> import numpy as np
    >>> from nnmath import keras
    >>> m = keras.Sequential([keras.layers.Dense(1, kernel_regularizer=keras.regularizers.L2(0.5),
    ...                       input_dim=1, dtype="float64")]); m.compile(loss="mse")
    >>> m.set_weights([np.array([[2.0]]), np.zeros(1)])
    >>> v = map_view(m, np.ones((4, 1)), np.ones(4))
    >>> v.rows[0].prior, v.rows[0].scale, float(v.prior_precision[1])   # σ² = 1/(2·4·0.5)
    ('gaussian', {'sigma': 0.5}, 4.0)
    """
    if not _is_model(model):
        raise TypeError(f"map_view: expected a compiled Model, got {type(model).__name__}")
    losses = [l for l in (getattr(model, "_output_losses", None) or []) if l is not None]
    if not losses:
        raise ValueError(f"map_view: model {model.name!r} is not compiled: call "
                         f"model.compile(loss=...) first")
    if len(losses) != 1:
        raise ValueError("map_view: supports models with one output")
    loss = losses[0]
    name, _ = _loss_name(loss)
    red = getattr(loss, "reduction", "sum_over_batch_size")
    obj = as_objective(model, params, x=x, y=y, sample_weight=sample_weight, batch_size=batch_size)
    p = obj.params
    n = obj.num_samples
    sw = None if sample_weight is None else np.asarray(sample_weight, float)
    D = {"sum": 1.0, "mean_with_sample_weight": float(np.sum(sw)) if sw is not None else n}.get(
        red, float(n))
    k = int(np.prod(np.shape(model.predict(_take(obj.batches[0][1][0], slice(0, 1)),
                                           verbose=0))[1:]))
    if name == "mean_squared_error":
        c, sigma, what = 1.0, math.sqrt(k / 2), f"Gaussian, σ² = k/2 = {k / 2:g}"
    elif name in ("categorical_crossentropy", "sparse_categorical_crossentropy"):
        c, sigma, what = 1.0, None, "categorical"
    elif name == "binary_crossentropy":
        c, sigma, what = float(k), None, f"Bernoulli (×{k} outputs)"
    else:
        raise ValueError(f"map_view: the loss {name!r} is not the negative log-likelihood of a "
                         f"known likelihood; use mean squared error or a cross-entropy")
    reg = 0.0
    if obj._regularizer is not None:
        reg = float(obj._f("reg", lambda: obj._reg_flat)(obj.flat))
    total = obj.value()
    data = total - reg
    s = 0.0                                   # Σ_i w_i ℓ_i, the weighted per-sample losses
    for _, b in obj.batches:
        s += float(np.sum(np.asarray(obj._sample_losses(p, *b))))
    nll = c * s
    if sigma is not None:
        nll += 0.5 * k * math.log(2 * math.pi * sigma ** 2) * (n if sw is None else np.sum(sw))
    rows, log_prior, normalised = [], 0.0, True
    from ..nn.regularizers import L1, L1L2, L2
    flat_prec = {}
    cd = c * D
    for layer in model.layers:
        for wname, w in p.get(layer.name, {}).items():
            w = np.asarray(w)
            spec = layer.weights_spec.get(wname)
            r = None if spec is None else spec.regularizer
            l1 = r.l1 if isinstance(r, (L1, L1L2)) else 0.0
            l2 = r.l2 if isinstance(r, (L2, L1L2)) else 0.0
            prec = 0.0
            if r is None or (isinstance(r, (L1, L2, L1L2)) and not (l1 or l2)):
                kind, scale, lp = "flat", {}, 0.0
            elif isinstance(r, (L1, L2, L1L2)):
                a, bq = cd * l1, cd * l2
                lp = -float(a * np.sum(np.abs(w)) + bq * np.sum(w * w))
                if l1 and l2:
                    kind, scale = "gaussian×laplace", {"sigma": 1 / math.sqrt(2 * bq), "b": 1 / a}
                    lp -= w.size * _log_norm_l1l2(a, bq)
                elif l2:
                    kind, scale = "gaussian", {"sigma": 1 / math.sqrt(2 * bq)}
                    lp -= w.size * 0.5 * math.log(math.pi / bq)
                else:
                    kind, scale = "laplace", {"b": 1 / a}
                    lp -= w.size * math.log(2 / a)
                prec = 2 * bq
            else:
                kind, scale, normalised = "unnormalised", {}, False
                lp = -cd * float(r(w))
            flat_prec[(layer.name, wname)] = np.full(w.shape, prec)
            rows.append(PriorRow(layer=layer.name, weight=wname, size=int(w.size), prior=kind,
                                 scale=scale, log_prior=lp))
            log_prior += lp
    prec_vec = np.asarray(ravel_pytree({ln: {wn: flat_prec[(ln, wn)] for wn in ws}
                                        for ln, ws in p.items()})[0])
    return MAPView(log_likelihood=-nll, log_prior=log_prior, log_joint=log_prior - nll,
                   likelihood=what, scale=cd, data_loss=data, regularization=reg,
                   prior_precision=prec_vec, rows=rows, sigma_noise=sigma, normalised=normalised)
