"""Gradient transformations: pure ``(init, update)`` pairs over parameter pytrees (Optax's design).

Vocabulary used in every formula below:

* ``g`` — the updates coming into a transform (the gradients ∇L at the start of a chain);
* ``u`` — the updates going out; a chain's last ``u`` is *added* to the parameters
  (:func:`apply_updates`), so a descent step carries its minus sign in ``u``;
* ``θ`` — the parameters, ``η`` (or ``η_t``) the learning rate, ``t`` — the step, 1 on the first
  update (states count updates already made, so ``t = count + 1``);
* ``⊙``, ``/``, ``√`` and squares act elementwise.

A transform's state is a NamedTuple (a pytree), ``init(params) -> state`` and
``update(updates, state, params=None) -> (updates, new_state)`` never mutate their inputs, and all
arithmetic is written with ``nnmath.numpy``: an update is itself differentiable, so a learning rate
or a β can be tuned by differentiating through unrolled steps. float32 trees stay float32 (Python
scalars never promote, and schedule values are converted to Python floats).

The update rules themselves (Adam's, RMSprop's, …) are written once, in ``_rules``; the blocks here
run them leaf by leaf in the functional namespace, the Keras-style objects' flat fast path runs the
same functions in place.
"""
from __future__ import annotations

import numbers
from typing import Any, Callable, NamedTuple

import numpy as np

import nnmath.numpy as mnp
from nnmath._core.primitive import Tracer
from nnmath._core.tree import tree_flatten, tree_leaves, tree_map, tree_unflatten

from . import _rules
from ._rules import PURE

__all__ = [
    "GradientTransformation", "EmptyState", "chain", "apply_updates", "identity", "scale",
    "scale_by_learning_rate", "trace", "add_decayed_weights", "decoupled_weight_decay", "clip",
    "clip_by_norm", "clip_by_global_norm", "global_norm", "scale_by_adam", "scale_by_rms",
    "scale_by_rss", "scale_by_nadam", "scale_by_lion",
    "ScaleByScheduleState", "TraceState", "ScaleByAdamState", "ScaleByRmsState", "ScaleByRssState",
    "ScaleByNadamState", "ScaleByLionState",
]

Schedule = Callable[[int], float]


class GradientTransformation(NamedTuple):
    """An optimizer, or one stage of one: a pair of pure functions.

    ``init(params) -> state`` builds the state (a NamedTuple pytree) for a parameter tree;
    ``update(updates, state, params=None) -> (updates, new_state)`` transforms a tree of updates
    (gradients at the start of a chain). Neither mutates its arguments.
    """

    init: Callable[[Any], Any]
    update: Callable[..., tuple[Any, Any]]


class EmptyState(NamedTuple):
    """The state of a stateless transform."""


class ScaleByScheduleState(NamedTuple):
    count: int          # updates made so far; the schedule is evaluated at ``count``


class TraceState(NamedTuple):
    trace: Any


class ScaleByAdamState(NamedTuple):
    count: int
    mu: Any             # first moment m
    nu: Any             # second moment v
    nu_max: Any         # running max of v (AMSGrad); None when amsgrad=False


class ScaleByRmsState(NamedTuple):
    nu: Any             # moving average of g²
    mu: Any             # moving average of g (centered=True); None otherwise


class ScaleByRssState(NamedTuple):
    sum_of_squares: Any


class ScaleByNadamState(NamedTuple):
    count: int
    mu_product: float   # Π_{i≤count} μ_i
    mu: Any
    nu: Any


class ScaleByLionState(NamedTuple):
    mu: Any


# ----------------------------------------------------------------------------- argument checks
def _is_number(x) -> bool:
    return isinstance(x, numbers.Real) and not isinstance(x, bool)


def _check_nonneg(name: str, value) -> None:
    if _is_number(value) and not value >= 0:      # also rejects NaN
        raise ValueError(f"Argument `{name}` must be >= 0. Received: {name}={value!r}")


def _check_rate(name: str, value, closed: bool = False) -> None:
    """A decay rate β: 0 ≤ β < 1 (≤ 1 when ``closed``)."""
    if _is_number(value) and not (0 <= value < 1 or (closed and value == 1)):
        interval = "[0, 1]" if closed else "[0, 1)"
        raise ValueError(f"Argument `{name}` must be in {interval}. Received: {name}={value!r}")


def check_learning_rate(learning_rate, name: str = "learning_rate"):
    """Return ``learning_rate`` (a number ≥ 0 or a callable ``step -> lr``), or raise ValueError."""
    if callable(learning_rate) or isinstance(learning_rate, Tracer):   # traced: tuned by grad
        return learning_rate
    if not _is_number(learning_rate):
        raise ValueError(f"Argument `{name}` must be a float >= 0 or a schedule (a callable "
                         f"step -> learning rate). Received: {name}={learning_rate!r}")
    _check_nonneg(name, learning_rate)
    return learning_rate


def scalar(x):
    """A schedule's value as a Python float (numpy float64 scalars would promote float32 trees)."""
    if isinstance(x, (np.generic, np.ndarray)):
        return float(x)
    return x


def _zeros(params):
    return tree_map(mnp.zeros_like, params)


def _per_leaf(rule, n_out: int, tree, *rest):
    """Run ``rule(*leaves)`` (one leaf of ``tree`` and of each of ``rest``, None for a missing
    tree) → ``n_out`` trees shaped like ``tree`` (an output that is None stays None)."""
    leaves, treedef = tree_flatten(tree)
    others = [[None] * len(leaves) if r is None else tree_flatten(r)[0] for r in rest]
    outs = [rule(*args) for args in zip(leaves, *others)]
    return tuple(None if outs and outs[0][k] is None else
                 tree_unflatten(treedef, [o[k] for o in outs]) for k in range(n_out))


def _need_params(name: str, params) -> None:
    if params is None:
        raise ValueError(f"{name}: `params` is required (update(grads, state, params)); "
                         "received params=None")


# ----------------------------------------------------------------------------- combinators
def chain(*transforms: GradientTransformation) -> GradientTransformation:
    """Apply ``transforms`` one after another; the state is the tuple of their states.

    >>> import numpy as np
    >>> opt = chain(clip(1.0), scale(-0.1))
    >>> u, _ = opt.update({"w": np.array([3.0, -0.5])}, opt.init({"w": np.zeros(2)}))
    >>> u["w"]
    array([-0.1 ,  0.05])
    """
    transforms = tuple(transforms)
    for i, t in enumerate(transforms):
        if not isinstance(t, GradientTransformation):
            raise TypeError(f"chain: argument {i} must be a GradientTransformation; "
                            f"received {type(t).__name__}")

    def init(params):
        return tuple(t.init(params) for t in transforms)

    def update(updates, state, params=None):
        if len(state) != len(transforms):
            raise ValueError(f"chain: state has {len(state)} entries for {len(transforms)} "
                             "transforms (was it built by this chain's init?)")
        new_state = []
        for t, s in zip(transforms, state):
            updates, s = t.update(updates, s, params)
            new_state.append(s)
        return updates, tuple(new_state)

    return GradientTransformation(init, update)


def apply_updates(params, updates):
    """θ ← θ + u, leaf by leaf, keeping each parameter's dtype.

    >>> import numpy as np
    >>> apply_updates({"w": np.ones(2, np.float32)}, {"w": np.array([0.5, -0.5])})["w"]
    array([1.5, 0.5], dtype=float32)
    """
    def add(p, u):
        out = p + u
        dt = getattr(p, "dtype", None)
        if dt is not None and getattr(out, "dtype", dt) != dt:
            out = mnp.astype(out, dt)
        return out
    return tree_map(add, params, updates)


def identity() -> GradientTransformation:
    """u = g."""
    return GradientTransformation(lambda params: EmptyState(),
                                  lambda updates, state, params=None: (updates, state))


def _stateless(fn: Callable[[Any, Any], Any]) -> GradientTransformation:
    """A transform whose update is ``fn(updates, params)`` and whose state is empty."""
    return GradientTransformation(lambda params: EmptyState(),
                                  lambda updates, state, params=None: (fn(updates, params), state))


# ----------------------------------------------------------------------------- scaling
def scale(step_size: float) -> GradientTransformation:
    """u = s·g (a constant factor; use ``scale(-η)`` for plain descent)."""
    return _stateless(lambda updates, params: tree_map(lambda g: g * step_size, updates))


def scale_by_learning_rate(learning_rate: float | Schedule, *,
                           flip_sign: bool = True) -> GradientTransformation:
    """u = −η_t·g, with η a float or a schedule ``step -> η`` evaluated at step = count (0 first).

    Args:
        learning_rate: a float ≥ 0, or a callable ``step -> learning rate`` (see
            :mod:`nnmath.optimizers.schedules`).
        flip_sign: multiply by −η (descent, the default) rather than +η.

    >>> import numpy as np
    >>> opt = scale_by_learning_rate(lambda step: 0.1 / (step + 1))
    >>> s = opt.init(None)
    >>> u, s = opt.update(np.array([1.0]), s); u
    array([-0.1])
    >>> u, s = opt.update(np.array([1.0]), s); u
    array([-0.05])
    """
    check_learning_rate(learning_rate)
    sign = -1.0 if flip_sign else 1.0
    if not callable(learning_rate):
        return scale(sign * learning_rate)

    def init(params):
        return ScaleByScheduleState(count=0)

    def update(updates, state, params=None):
        step = sign * scalar(learning_rate(state.count))
        return tree_map(lambda g: g * step, updates), ScaleByScheduleState(state.count + 1)

    return GradientTransformation(init, update)


def _lr_at(learning_rate, count):
    return scalar(learning_rate(count)) if callable(learning_rate) else learning_rate


# ----------------------------------------------------------------------------- momentum
def trace(decay: float, nesterov: bool = False) -> GradientTransformation:
    """Momentum: v ← μ·v + g;  u = v, or u = g + μ·v (Nesterov), v₀ = 0.

    Where the learning rate sits relative to this transform decides the convention:

    * ``chain(trace(μ), scale_by_learning_rate(η))`` is PyTorch's SGD:
      v ← μv + g, θ ← θ − ηv (Nesterov: θ ← θ − η(g + μv)).
    * ``chain(scale_by_learning_rate(η), trace(μ))`` is the heavy-ball form of Polyak (1964) and of
      Keras: v ← μv − ηg, θ ← θ + v (Nesterov: θ ← θ + μv − ηg, which is Sutskever et al.'s
      (2013) NAG, v ← μv − η∇L(θ + μv), rewritten in the look-ahead variable θ + μv).

    The two agree exactly (v_keras = −η·v_torch) while η is constant; with a schedule, PyTorch's
    form rescales the whole accumulated velocity when η changes, the heavy-ball form only new
    gradients.

    Args:
        decay: the momentum μ, 0 ≤ μ ≤ 1.
        nesterov: use Nesterov's look-ahead output.
    """
    _check_rate("decay", decay, closed=True)

    def init(params):
        return TraceState(trace=_zeros(params))

    def update(updates, state, params=None):
        u, v = _per_leaf(lambda g, t: _rules.trace(PURE, g, t, None, decay, nesterov), 2,
                         updates, state.trace)
        return u, TraceState(trace=v)

    return GradientTransformation(init, update)


# ----------------------------------------------------------------------------- weight decay
def add_decayed_weights(weight_decay: float) -> GradientTransformation:
    """u = g + λ·θ.

    Placed *after* an adaptive scaling and before ``scale_by_learning_rate`` this is decoupled
    weight decay (AdamW: θ ← θ − η(m̂/(√v̂ + ε) + λθ), Loshchilov & Hutter 2019); placed first it is
    an L2 penalty λ‖θ‖²/2 folded into the gradient (PyTorch's ``weight_decay`` for SGD/Adam).
    """
    _check_nonneg("weight_decay", weight_decay)

    def fn(updates, params):
        _need_params("add_decayed_weights", params)
        return tree_map(lambda g, p: g + weight_decay * p, updates, params)

    return _stateless(fn)


def decoupled_weight_decay(weight_decay: float,
                           learning_rate: float | Schedule) -> GradientTransformation:
    """u = g − η_t·λ·θ — Keras's ``weight_decay`` argument, added at the *end* of a chain.

    Keras applies θ ← θ − η_t·λ·θ before each optimizer step, with the same η_t as the step; as no
    Keras update rule reads θ this equals adding −η_t·λ·θ to the step's update.
    """
    _check_nonneg("weight_decay", weight_decay)
    check_learning_rate(learning_rate)

    def init(params):
        return ScaleByScheduleState(count=0)

    def update(updates, state, params=None):
        _need_params("decoupled_weight_decay", params)
        f = _lr_at(learning_rate, state.count) * weight_decay
        # the rule's θ_decayed − θ, added to the step's update (= −η_t·λ·θ)
        return (tree_map(lambda g, p: g + (_rules.weight_decay(PURE, p, f, None) - p),
                         updates, params),
                ScaleByScheduleState(state.count + 1))

    return GradientTransformation(init, update)


# ----------------------------------------------------------------------------- clipping
def clip(max_delta: float) -> GradientTransformation:
    """u = clip(g, −c, c) elementwise (Keras ``clipvalue``)."""
    _check_nonneg("max_delta", max_delta)
    return _stateless(lambda updates, params: tree_map(
        lambda g: _rules.clip_value(PURE, g, max_delta, None), updates))


def _norm_scale(sum_sq, max_norm):
    # c / max(‖g‖, c), NaN for a non-finite norm: the rule of ``_rules.norm_scale``
    return _rules.norm_scale(PURE, sum_sq, max_norm)


def clip_by_norm(max_norm: float) -> GradientTransformation:
    """Per leaf: u = g·c / max(‖g‖₂, c) (Keras ``clipnorm``: each weight's gradient separately)."""
    _check_nonneg("max_norm", max_norm)
    return _stateless(lambda updates, params: tree_map(
        lambda g: g * _norm_scale(mnp.sum(mnp.square(g)), max_norm), updates))


def global_norm(updates) -> Any:
    """‖g‖₂ over all leaves: √Σ_leaves Σ g²."""
    return mnp.sqrt(sum(mnp.sum(mnp.square(g)) for g in tree_leaves(updates)))


def clip_by_global_norm(max_norm: float) -> GradientTransformation:
    """u = g·c / max(‖g‖₂, c) with ‖g‖₂ the norm of all leaves together (Pascanu et al. 2013;
    Keras ``global_clipnorm``). Unchanged when ‖g‖₂ ≤ c; NaN when ‖g‖₂ is not finite."""
    _check_nonneg("max_norm", max_norm)

    def fn(updates, params):
        s = _norm_scale(sum(mnp.sum(mnp.square(g)) for g in tree_leaves(updates)), max_norm)
        return tree_map(lambda g: g * s, updates)

    return _stateless(fn)


# ----------------------------------------------------------------------------- adaptive scalings
def scale_by_adam(b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8, *,
                  eps_hat: bool = False, amsgrad: bool = False) -> GradientTransformation:
    """Adam's direction (Kingma & Ba 2015), before the learning rate.

    m ← β₁m + (1−β₁)g,  v ← β₂v + (1−β₂)g²,  m̂ = m/(1−β₁ᵗ),  v̂ = v/(1−β₂ᵗ);

    * ``eps_hat=False`` (Algorithm 1 of the paper; PyTorch, Optax):  u = m̂ / (√v̂ + ε);
    * ``eps_hat=True`` (the paper's "ε̂" form before its Section 2.1; Keras, TF):
      u = √(1−β₂ᵗ)/(1−β₁ᵗ) · m / (√v + ε̂) = m̂ / (√v̂ + ε̂/√(1−β₂ᵗ)).

    Warning:
        The two differ only through ε, but early in training √(1−β₂ᵗ) is small (0.03 at t = 1 for
        β₂ = 0.999) so ε̂ = 1e-7 acts like ε ≈ 3e-6: Keras's and PyTorch's Adam are *not* the same
        optimizer with the same ε, and their defaults differ too (Keras 1e-7, PyTorch 1e-8).

    ``amsgrad`` (Reddi et al. 2018) replaces v by its running maximum v_max ← max(v_max, v) in the
    denominator (bias correction as above, as both PyTorch and Keras do).
    """
    _check_rate("b1", b1)
    _check_rate("b2", b2)
    _check_nonneg("eps", eps)

    def init(params):
        return ScaleByAdamState(count=0, mu=_zeros(params), nu=_zeros(params),
                                nu_max=_zeros(params) if amsgrad else None)

    def update(updates, state, params=None):
        t = state.count + 1
        alpha, eps_t = _rules.adam_coeffs(b1, b2, eps, t, eps_hat)
        u, mu, nu, nu_max = _per_leaf(
            lambda g, m, v, vm: _rules.adam(PURE, g, m, v, vm, None, b1, b2, alpha, eps_t), 4,
            updates, state.mu, state.nu, state.nu_max)
        return u, ScaleByAdamState(count=t, mu=mu, nu=nu, nu_max=nu_max)

    return GradientTransformation(init, update)


def scale_by_rms(decay: float = 0.9, eps: float = 1e-8, *, eps_in_sqrt: bool = False,
                 centered: bool = False, initial_scale: float = 0.0) -> GradientTransformation:
    """RMSprop's direction (Hinton 2012, lecture 6e), before the learning rate.

    v ← ρv + (1−ρ)g² (v₀ = ``initial_scale``); centered (Graves 2013): ḡ ← ρḡ + (1−ρ)g and
    s = v − ḡ², else s = v;

    * ``eps_in_sqrt=False`` (PyTorch):  u = g / (√s + ε);
    * ``eps_in_sqrt=True`` (Keras, Optax):  u = g / √(s + ε).

    Warning:
        ε inside the root is ε² outside it: Keras's ε = 1e-7 in the root bounds the step by
        g/√1e-7 ≈ 3162·g, PyTorch's 1e-8 outside by 1e8·g.
    """
    _check_rate("decay", decay)
    _check_nonneg("eps", eps)
    _check_nonneg("initial_scale", initial_scale)

    def init(params):
        nu = tree_map(lambda p: mnp.full_like(p, initial_scale), params)
        return ScaleByRmsState(nu=nu, mu=_zeros(params) if centered else None)

    def update(updates, state, params=None):
        u, nu, mu = _per_leaf(
            lambda g, v, m: _rules.rms(PURE, g, v, m, None, decay, eps, eps_in_sqrt), 3,
            updates, state.nu, state.mu)
        return u, ScaleByRmsState(nu=nu, mu=mu)

    return GradientTransformation(init, update)


def scale_by_rss(initial_accumulator_value: float = 0.0, eps: float = 1e-10, *,
                 eps_in_sqrt: bool = False) -> GradientTransformation:
    """Adagrad's direction (Duchi, Hazan & Singer 2011), before the learning rate.

    G ← G + g² (G₀ = ``initial_accumulator_value``);  u = g/(√G + ε) (PyTorch, default) or
    u = g/√(G + ε) (``eps_in_sqrt=True``: Keras).

    Warning:
        Defaults differ: Keras starts the accumulator at 0.1 with ε = 1e-7 inside the root,
        PyTorch at 0 with ε = 1e-10 outside it; the first step is then ≈ −η·g/√(g² + 0.1)
        (Keras) against −η·sign(g) (PyTorch).
    """
    _check_nonneg("initial_accumulator_value", initial_accumulator_value)
    _check_nonneg("eps", eps)

    def init(params):
        return ScaleByRssState(tree_map(lambda p: mnp.full_like(p, initial_accumulator_value),
                                        params))

    def update(updates, state, params=None):
        u, acc = _per_leaf(lambda g, a: _rules.rss(PURE, g, a, None, eps, eps_in_sqrt), 2,
                           updates, state.sum_of_squares)
        return u, ScaleByRssState(acc)

    return GradientTransformation(init, update)


def scale_by_nadam(b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8,
                   momentum_decay: float = 4e-3) -> GradientTransformation:
    """Nadam's direction (Dozat 2016), with its momentum schedule, before the learning rate.

    μ_t = β₁(1 − ½·0.96^(ψt)),  Π_t = Π_{i≤t} μ_i;  m ← β₁m + (1−β₁)g,  v ← β₂v + (1−β₂)g²,
    v̂ = v/(1−β₂ᵗ);  u = [μ_{t+1}·m/(1 − Π_{t+1}) + (1−μ_t)·g/(1 − Π_t)] / (√v̂ + ε).

    Warning:
        ψ = ``momentum_decay``: PyTorch's ``NAdam`` uses ψ = 4e-3 (its default), Keras's ``Nadam``
        ψ = 1 (its u_t = β₁(1 − ½·0.96ᵗ)). Optax's ``nadam`` has no momentum schedule at all.
    """
    _check_rate("b1", b1)
    _check_rate("b2", b2)
    _check_nonneg("eps", eps)
    _check_nonneg("momentum_decay", momentum_decay)

    def init(params):
        return ScaleByNadamState(count=0, mu_product=1.0, mu=_zeros(params), nu=_zeros(params))

    def update(updates, state, params=None):
        t = state.count + 1
        prod, a_m, a_g, eps_t = _rules.nadam_coeffs(b1, b2, eps, momentum_decay, t,
                                                    state.mu_product)
        u, mu, nu = _per_leaf(
            lambda g, m, v: _rules.nadam(PURE, g, m, v, None, None, b1, b2, a_m, a_g, eps_t), 3,
            updates, state.mu, state.nu)
        return u, ScaleByNadamState(count=t, mu_product=prod, mu=mu, nu=nu)

    return GradientTransformation(init, update)


def scale_by_lion(b1: float = 0.9, b2: float = 0.99) -> GradientTransformation:
    """Lion's direction (Chen et al. 2023, "Symbolic Discovery of Optimization Algorithms").

    c = β₁m + (1−β₁)g,  u = sign(c),  then m ← β₂m + (1−β₂)g (the interpolation β₁ for the step
    and β₂ for the memory differ; sign(0) = 0).
    """
    _check_rate("b1", b1, closed=True)
    _check_rate("b2", b2, closed=True)

    def init(params):
        return ScaleByLionState(mu=_zeros(params))

    def update(updates, state, params=None):
        u, mu = _per_leaf(lambda g, m: _rules.lion(PURE, g, m, None, None, b1, b2), 2,
                          updates, state.mu)
        return u, ScaleByLionState(mu=mu)

    return GradientTransformation(init, update)
