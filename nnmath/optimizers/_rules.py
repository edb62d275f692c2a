"""Every optimizer's update rule, written once and run two ways.

A rule is a short function of an array namespace ``o`` whose operations take a destination
``out=``; it is run

* with :data:`PURE` by the ``(init, update)`` transforms of ``_transform`` (and so by the
  Optax-style optimizers of ``_alias`` and by ``Optimizer.transform``): every operation is a new
  value written with ``nnmath.numpy``, ``out`` is ignored, nothing is mutated, and the update is
  differentiable;
* with :data:`IN_PLACE` by the Keras-style objects' flat fast path (``Optimizer.update_flat``):
  the operations are numpy's ufuncs writing into ``out`` — the slot buffers themselves and a
  few preallocated scratch arrays — so a step allocates nothing.

Both runs make the same floating-point operations in the same order, so the two paths differ
only where the paths *around* the rule differ (the pure chain scales by −η in a separate
transform; the flat path folds η into the rule's coefficient and subtracts). Each rule is run
both ways and compared bit for bit in ``tests/test_optimizers_rules.py``; the two paths agree
to 1e-12 in ``tests/test_optimizers.py``.
A rule states which of its arguments it overwrites; it must not read a buffer after writing an
alias of it (the in-place run would see the new value — the bit-for-bit test catches that).

Vocabulary: ``g`` the gradient (or incoming update), ``m``, ``v``, … the state buffers (updated
and returned), ``tmp``/``tmp2`` scratch; ``d`` the rule's output, a *direction* to be scaled by
the caller; ``t`` the step, 1 on the first update.
"""
from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np

import nnmath.numpy as mnp

__all__ = ["PURE", "IN_PLACE", "ema", "ema_sq", "adam", "adam_coeffs", "rms", "rss", "nadam",
           "nadam_coeffs", "lion", "trace", "clip_value", "norm_scale", "weight_decay"]


def _pure(fn):
    def op(*args, out=None):
        return fn(*args)
    return op


# The functional namespace: operators on arrays or tracers (``nnmath.numpy`` semantics).
PURE = SimpleNamespace(
    add=_pure(lambda a, b: a + b), sub=_pure(lambda a, b: a - b),
    mul=_pure(lambda a, b: a * b), div=_pure(lambda a, b: a / b),
    sqrt=_pure(mnp.sqrt), sign=_pure(mnp.sign), maximum=_pure(mnp.maximum),
    clip=_pure(mnp.clip))

# The in-place namespace: numpy's ufuncs, each writing into ``out``.
IN_PLACE = SimpleNamespace(
    add=np.add, sub=np.subtract, mul=np.multiply, div=np.divide, sqrt=np.sqrt, sign=np.sign,
    maximum=np.maximum, clip=np.clip)


def _scaled(o, x, s, out):
    # x·s; multiplying by exactly 1.0 is skipped (it is exact, and the pure chains pass 1.0).
    return x if isinstance(s, float) and s == 1.0 else o.mul(x, s, out=out)


# ----------------------------------------------------------------------------- around every rule
# What every Keras optimizer does before (clipping) and beside (weight decay) its own rule.
def clip_value(o, g, c, out):
    """Keras ``clipvalue``: g ← clip(g, −c, c) elementwise (into ``out``, which may be ``g``)."""
    return o.clip(g, -c, c, out=out)


def norm_scale(o, sum_sq, c):
    """The factor of ``clipnorm`` / ``global_clipnorm`` (Keras, Pascanu et al. 2013): g ← s·g with
    s = c / max(‖g‖₂, c) for ‖g‖₂² = ``sum_sq`` (a scalar, or one per weight), so s = 1 exactly
    when ‖g‖₂ ≤ c; + (‖g‖² − ‖g‖²), which is 0 for a finite norm and NaN otherwise: a
    non-finite gradient gives NaN, as in Keras, instead of a silently zeroed step. (At g = 0,
    √′(0) = 0 by nnmath's convention, so the pure run stays differentiable.)"""
    return o.add(o.div(c, o.maximum(o.sqrt(sum_sq), c)), o.sub(sum_sq, sum_sq))


def weight_decay(o, p, f, out):
    """Decoupled weight decay (Loshchilov & Hutter 2019; Keras's ``weight_decay``):
    θ ← θ − η_t·λ·θ = (1 − f)·θ with f = η_t·λ (into ``out``, which may be ``p``)."""
    return o.mul(p, 1.0 - f, out=out)


# ----------------------------------------------------------------------------- moving averages
def ema(o, x, g, beta, tmp):
    """x ← βx + (1−β)g (overwrites ``x`` and ``tmp``)."""
    return o.add(o.mul(x, beta, out=x), o.mul(g, 1 - beta, out=tmp), out=x)


def ema_sq(o, x, g, beta, tmp):
    """x ← βx + (1−β)g² (overwrites ``x`` and ``tmp``)."""
    return o.add(o.mul(x, beta, out=x), o.mul(o.mul(g, g, out=tmp), 1 - beta, out=tmp), out=x)


# ----------------------------------------------------------------------------- momentum
def trace(o, s, v, tmp, decay, nesterov):
    """Momentum on the step ``s``: v ← μv + s;  out = v, or s + μv with Nesterov.

    Returns ``(out, v)``; overwrites ``v``, and ``s`` and ``tmp`` when ``nesterov``.
    """
    v = o.add(o.mul(v, decay, out=v), s, out=v)
    if not nesterov:
        return v, v
    return o.add(s, o.mul(v, decay, out=tmp), out=s), v


# ----------------------------------------------------------------------------- adaptive rules
def adam_coeffs(b1, b2, eps, t, eps_hat, scale=1.0):
    """(α, ε′) of Adam's step t, with d = α·m/(√v + ε′) (see :func:`adam`).

    ``eps_hat`` (Keras): α = s·√(1−β₂ᵗ)/(1−β₁ᵗ), ε′ = ε̂.  Otherwise (the paper's Algorithm 1,
    PyTorch): m̂/(√v̂ + ε) = α·m/(√v + ε′) with α = s·√(1−β₂ᵗ)/(1−β₁ᵗ) and ε′ = ε·√(1−β₂ᵗ).
    ``s`` folds a learning rate into α (the flat path); the pure transforms pass 1.
    """
    r = math.sqrt(1 - b2 ** t)
    return scale * r / (1 - b1 ** t), (eps if eps_hat else eps * r)


def adam(o, g, m, v, v_max, tmp, b1, b2, alpha, eps):
    """Adam (Kingma & Ba 2015): m ← β₁m + (1−β₁)g,  v ← β₂v + (1−β₂)g²,
    AMSGrad (``v_max`` not None): v_max ← max(v_max, v), used for v below;  d = α·m/(√v + ε′).

    Returns ``(d, m, v, v_max)``; overwrites ``m``, ``v``, ``v_max`` and ``tmp`` (d is in ``tmp``).
    """
    m = ema(o, m, g, b1, tmp)
    v = ema_sq(o, v, g, b2, tmp)
    den = v if v_max is None else o.maximum(v_max, v, out=v_max)
    d = o.div(m, o.add(o.sqrt(den, out=tmp), eps, out=tmp), out=tmp)
    return _scaled(o, d, alpha, tmp), m, v, (None if v_max is None else den)


def rms(o, g, v, a, tmp, rho, eps, eps_in_sqrt, scale=1.0):
    """RMSprop (Hinton 2012): v ← ρv + (1−ρ)g²;  centered (``a`` not None, Graves 2013):
    a ← ρa + (1−ρ)g, s = v − a², else s = v;  d = scale·g/√(s + ε) (``eps_in_sqrt``, Keras) or
    scale·g/(√s + ε) (PyTorch).

    Returns ``(d, v, a)``; overwrites ``v``, ``a`` and ``tmp`` (d is in ``tmp``).
    """
    v = ema_sq(o, v, g, rho, tmp)
    if a is not None:
        a = ema(o, a, g, rho, tmp)
        s = o.sub(v, o.mul(a, a, out=tmp), out=tmp)
    else:
        s = v
    if eps_in_sqrt:
        den = o.sqrt(o.add(s, eps, out=tmp), out=tmp)
    else:
        den = o.add(o.sqrt(s, out=tmp), eps, out=tmp)
    return _scaled(o, o.div(g, den, out=tmp), scale, tmp), v, a


def rss(o, g, acc, tmp, eps, eps_in_sqrt, scale=1.0):
    """Adagrad (Duchi, Hazan & Singer 2011): G ← G + g²;  d = scale·g/√(G + ε)
    (``eps_in_sqrt``, Keras) or scale·g/(√G + ε) (PyTorch).

    Returns ``(d, acc)``; overwrites ``acc`` and ``tmp`` (d is in ``tmp``).
    """
    acc = o.add(acc, o.mul(g, g, out=tmp), out=acc)
    if eps_in_sqrt:
        den = o.sqrt(o.add(acc, eps, out=tmp), out=tmp)
    else:
        den = o.add(o.sqrt(acc, out=tmp), eps, out=tmp)
    return _scaled(o, o.div(g, den, out=tmp), scale, tmp), acc


def nadam_coeffs(b1, b2, eps, momentum_decay, t, mu_product, scale=1.0):
    """(Π_t, a_m, a_g, ε′) of Nadam's step t, with d = (a_m·m + a_g·g)/(√v + ε′) (:func:`nadam`).

    μ_t = β₁(1 − ½·0.96^(ψt)), Π_t = Π_{t−1}·μ_t, r = √(1−β₂ᵗ):
    a_m = s·r·μ_{t+1}/(1 − Π_t μ_{t+1}),  a_g = s·r·(1−μ_t)/(1 − Π_t),  ε′ = r·ε
    (the rule m̂/(√v̂ + ε) of :func:`~nnmath.optimizers.scale_by_nadam` multiplied through by r).
    """
    mu_t = b1 * (1 - 0.5 * 0.96 ** (t * momentum_decay))
    mu_next = b1 * (1 - 0.5 * 0.96 ** ((t + 1) * momentum_decay))
    prod = mu_product * mu_t
    r = math.sqrt(1 - b2 ** t)
    return (prod, r * scale * mu_next / (1 - prod * mu_next),
            r * scale * (1 - mu_t) / (1 - prod), r * eps)


def nadam(o, g, m, v, tmp, num, b1, b2, a_m, a_g, eps):
    """Nadam (Dozat 2016): m ← β₁m + (1−β₁)g,  v ← β₂v + (1−β₂)g²,
    d = (a_m·m + a_g·g)/(√v + ε′) with the coefficients of :func:`nadam_coeffs`.

    Returns ``(d, m, v)``; overwrites ``m``, ``v``, ``tmp`` and ``num`` (d is in ``num``).
    """
    m = ema(o, m, g, b1, tmp)
    v = ema_sq(o, v, g, b2, tmp)
    n = o.add(o.mul(m, a_m, out=num), o.mul(g, a_g, out=tmp), out=num)
    return o.div(n, o.add(o.sqrt(v, out=tmp), eps, out=tmp), out=num), m, v


def lion(o, g, m, tmp, tmp2, b1, b2, scale=1.0):
    """Lion (Chen et al. 2023): d = scale·sign(β₁m + (1−β₁)g),  then m ← β₂m + (1−β₂)g.

    Returns ``(d, m)``; overwrites ``m``, ``tmp`` and ``tmp2`` (d is in ``tmp``).
    """
    c = o.add(o.mul(m, b1, out=tmp), o.mul(g, 1 - b1, out=tmp2), out=tmp)
    d = _scaled(o, o.sign(c, out=tmp), scale, tmp)
    m = o.add(o.mul(m, b2, out=m), o.mul(g, 1 - b2, out=tmp2), out=m)
    return d, m
