"""Named optimizers as chains of the transforms in ``_transform``; PyTorch's conventions.

Each is a :class:`GradientTransformation`; its update formulas, paper and the places where other
libraries differ are in its docstring. Defaults follow ``torch.optim`` (so these are checked
step by step against PyTorch); the Keras-style classes in :mod:`nnmath.optimizers.keras` build
the same blocks with Keras's conventions.
"""
from __future__ import annotations

from ._transform import (
    GradientTransformation, Schedule, add_decayed_weights, chain, identity, scale_by_adam,
    scale_by_learning_rate, scale_by_lion, scale_by_nadam, scale_by_rms, scale_by_rss, trace,
)

__all__ = ["sgd", "heavy_ball", "nesterov", "adagrad", "rmsprop", "adam", "adamw", "nadam", "lion"]


def sgd(learning_rate: float | Schedule, momentum: float = 0.0,
        nesterov: bool = False) -> GradientTransformation:
    """Stochastic gradient descent, with optional momentum — PyTorch's ``SGD`` (dampening 0).

    θ ← θ − η_t·g;  with momentum μ: v ← μv + g, θ ← θ − η_t·v;  Nesterov: θ ← θ − η_t(g + μv).
    ``chain(trace(μ, nesterov), scale_by_learning_rate(η))``.

    Warning:
        Keras (and the heavy-ball form of :func:`heavy_ball`) put η inside the velocity,
        v ← μv − η_t g, θ ← θ + v. Same trajectory for a constant η; different under a schedule.

    Args:
        learning_rate: η ≥ 0, or a schedule ``step -> η``.
        momentum: μ in [0, 1]; 0 for plain gradient descent.
        nesterov: Nesterov's look-ahead output g + μv.

    References: Robbins & Monro (1951); Polyak (1964); Sutskever et al. (2013).

    >>> import numpy as np
    >>> opt = sgd(0.1, momentum=0.9)
    >>> u, s = opt.update(np.array([1.0]), opt.init(np.zeros(1)))
    >>> u, s = opt.update(np.array([1.0]), s); u     # −0.1·(0.9·1 + 1)
    array([-0.19])
    """
    if not (isinstance(momentum, (int, float)) and 0 <= momentum <= 1):
        raise ValueError(f"Argument `momentum` must be a float in [0, 1]. Received: "
                         f"momentum={momentum!r}")
    if nesterov and momentum == 0:
        raise ValueError("Nesterov momentum needs momentum > 0. Received: momentum=0, "
                         "nesterov=True")
    first = trace(momentum, nesterov) if momentum else identity()
    return chain(first, scale_by_learning_rate(learning_rate))


def heavy_ball(learning_rate: float | Schedule, beta: float = 0.9) -> GradientTransformation:
    """Polyak's heavy ball, as the reference formulas write it: v ← βv − η_t∇L(θ), θ ← θ + v.

    ``chain(scale_by_learning_rate(η), trace(β))`` (η inside the velocity: Keras's SGD momentum).
    Equal to :func:`sgd` with momentum β for constant η (v = −η·v_torch).

    Args:
        learning_rate: η ≥ 0, or a schedule ``step -> η``.
        beta: the momentum β in [0, 1].

    Reference: Polyak, "Some methods of speeding up the convergence of iteration methods" (1964).

    >>> import numpy as np
    >>> opt = heavy_ball(0.1, beta=0.9)
    >>> u, s = opt.update(np.array([1.0]), opt.init(np.zeros(1)))
    >>> u, s = opt.update(np.array([1.0]), s); u     # v = 0.9·(−0.1) − 0.1
    array([-0.19])
    """
    return chain(scale_by_learning_rate(learning_rate), trace(beta))


def nesterov(learning_rate: float | Schedule, beta: float = 0.9) -> GradientTransformation:
    """Nesterov's accelerated gradient: v ← βv − η∇L(θ + βv), θ ← θ + v.

    The gradient is taken at the look-ahead point θ + βv; written in the look-ahead variable
    φ = θ + βv (the parameters the model is evaluated at) it needs only ∇L(φ):
    v ← βv − η∇L(φ), φ ← φ + βv − η∇L(φ) — Keras's ``SGD(nesterov=True)``, implemented as
    ``chain(scale_by_learning_rate(η), trace(β, nesterov=True))``.

    Warning:
        PyTorch's ``SGD(nesterov=True)`` is v ← βv + g, θ ← θ − η(g + βv): the same trajectory for
        constant η, η outside the velocity under a schedule.

    Args:
        learning_rate: η ≥ 0, or a schedule ``step -> η``.
        beta: the momentum β in [0, 1].

    References: Nesterov (1983); Sutskever, Martens, Dahl & Hinton (2013), eq. 3–4; Bengio,
    Boulanger-Lewandowski & Pascanu (2013).

    >>> import numpy as np
    >>> opt = nesterov(0.1, beta=0.9)
    >>> u, s = opt.update(np.array([1.0]), opt.init(np.zeros(1))); u    # βv − ηg = −0.09 − 0.1
    array([-0.19])
    """
    return chain(scale_by_learning_rate(learning_rate), trace(beta, nesterov=True))


def adagrad(learning_rate: float | Schedule, initial_accumulator_value: float = 0.0,
            eps: float = 1e-10) -> GradientTransformation:
    """Adagrad (Duchi, Hazan & Singer 2011) — PyTorch's ``Adagrad`` (lr_decay 0).

    G ← G + g²,  θ ← θ − η_t·g/(√G + ε),  G₀ = ``initial_accumulator_value``.

    Warning:
        Keras's ``Adagrad`` starts G at 0.1 and puts ε = 1e-7 inside the root, g/√(G + ε);
        PyTorch starts at 0 with ε = 1e-10 outside. See ``scale_by_rss``.

    Args:
        learning_rate: η ≥ 0, or a schedule ``step -> η``.
        initial_accumulator_value: G₀ ≥ 0.
        eps: ε ≥ 0, added to √G.

    >>> import numpy as np
    >>> opt = adagrad(1.0)
    >>> u, s = opt.update(np.array([3.0, 4.0]), opt.init(np.zeros(2))); u   # −g/|g|
    array([-1., -1.])
    """
    return chain(scale_by_rss(initial_accumulator_value, eps),
                 scale_by_learning_rate(learning_rate))


def rmsprop(learning_rate: float | Schedule, decay: float = 0.99, eps: float = 1e-8,
            momentum: float = 0.0, centered: bool = False,
            eps_in_sqrt: bool = False) -> GradientTransformation:
    """RMSprop (Hinton 2012) — PyTorch's ``RMSprop`` (``decay`` is its ``alpha``).

    v ← ρv + (1−ρ)g²;  s = v (or v − ḡ², ḡ ← ρḡ + (1−ρ)g, when centered);
    d = g/(√s + ε);  θ ← θ − η_t·d, or with momentum μ: b ← μb + d, θ ← θ − η_t·b.

    Warning:
        Keras's ``RMSprop`` puts ε inside the root, g/√(s + ε) (``eps_in_sqrt=True`` here), keeps
        η inside its momentum buffer (b ← μb + η_t·d) and defaults to ρ = 0.9, ε = 1e-7; PyTorch
        defaults to ρ = 0.99, ε = 1e-8, lr = 0.01.

    Args:
        learning_rate: η ≥ 0, or a schedule ``step -> η``.
        decay: ρ in [0, 1), the moving average's decay.
        eps: ε ≥ 0.
        momentum: μ in [0, 1]; 0 for none.
        centered: divide by the estimated standard deviation √(v − ḡ²) instead of √v.
        eps_in_sqrt: Keras's placement, g/√(s + ε).

    References: Hinton, Srivastava & Swersky, Lecture 6e (2012); Graves (2013) for ``centered``.

    >>> import numpy as np
    >>> opt = rmsprop(0.1, decay=0.75, eps=0.0)
    >>> u, s = opt.update(np.array([2.0]), opt.init(np.zeros(1))); u     # −η·g/√(0.25 g²)
    array([-0.2])
    """
    tail = [trace(momentum)] if momentum else []
    return chain(scale_by_rms(decay, eps, eps_in_sqrt=eps_in_sqrt, centered=centered),
                 *tail, scale_by_learning_rate(learning_rate))


def adam(learning_rate: float | Schedule, b1: float = 0.9, b2: float = 0.999,
         eps: float = 1e-8, amsgrad: bool = False) -> GradientTransformation:
    """Adam (Kingma & Ba 2015) — PyTorch's ``Adam``; the reference formulas' Adam.

    m ← β₁m + (1−β₁)g,  v ← β₂v + (1−β₂)g²,  m̂ = m/(1−β₁ᵗ),  v̂ = v/(1−β₂ᵗ),
    θ ← θ − η_t·m̂/(√v̂ + ε).

    Warning:
        Keras's ``Adam`` uses the paper's ε̂ form, θ ← θ − η_t√(1−β₂ᵗ)/(1−β₁ᵗ)·m/(√v + ε̂), with
        ε̂ = 1e-7 (PyTorch: ε = 1e-8 in the form above); see ``scale_by_adam``.

    Args:
        learning_rate: η ≥ 0, or a schedule ``step -> η``.
        b1, b2: β₁, β₂ in [0, 1).
        eps: ε ≥ 0, added to √v̂.
        amsgrad: use the running maximum of v (Reddi, Kale & Kumar 2018).

    >>> import numpy as np
    >>> opt = adam(0.01)
    >>> u, s = opt.update(np.array([3.0, -0.2]), opt.init(np.zeros(2)))
    >>> np.round(u, 6)                  # the first step is −η·sign(g) (up to ε)
    array([-0.01,  0.01])
    """
    return chain(scale_by_adam(b1, b2, eps, amsgrad=amsgrad),
                 scale_by_learning_rate(learning_rate))


def adamw(learning_rate: float | Schedule, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8,
          weight_decay: float = 1e-2, amsgrad: bool = False) -> GradientTransformation:
    """AdamW: Adam with decoupled weight decay (Loshchilov & Hutter 2019) — PyTorch's ``AdamW``.

    θ ← θ − η_t·(m̂/(√v̂ + ε) + λθ)  (m̂, v̂ as in :func:`adam`).

    Warning:
        Defaults for λ differ: PyTorch 1e-2, Keras 4e-3, Optax 1e-4. The decay is scaled by η_t
        (as PyTorch, Keras and Optax do), not by the schedule multiplier alone as in the paper's
        Algorithm 2.

    Args:
        learning_rate: η ≥ 0, or a schedule ``step -> η``.
        b1, b2, eps, amsgrad: as in :func:`adam`.
        weight_decay: λ ≥ 0.

    >>> import numpy as np
    >>> opt = adamw(0.1, weight_decay=0.5)
    >>> p = np.array([2.0])
    >>> u, s = opt.update(np.array([1.0]), opt.init(p), p); np.round(u, 6)  # −0.1·(1 + 0.5·2)
    array([-0.2])
    """
    return chain(scale_by_adam(b1, b2, eps, amsgrad=amsgrad), add_decayed_weights(weight_decay),
                 scale_by_learning_rate(learning_rate))


def nadam(learning_rate: float | Schedule, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8,
          momentum_decay: float = 4e-3) -> GradientTransformation:
    """Nadam: Adam with Nesterov momentum (Dozat 2016) — PyTorch's ``NAdam``.

    μ_t = β₁(1 − ½·0.96^(ψt)),  θ ← θ − η_t·[μ_{t+1}m/(1 − Π_{t+1}) + (1−μ_t)g/(1 − Π_t)]/(√v̂ + ε).

    Warning:
        Keras's ``Nadam`` is this with ψ = 1 and ε = 1e-7; PyTorch's default ψ is 4e-3 (so its
        momentum schedule barely moves in the first thousand steps). See ``scale_by_nadam``.

    Args:
        learning_rate: η ≥ 0, or a schedule ``step -> η``.
        b1, b2: β₁, β₂ in [0, 1).
        eps: ε ≥ 0, added to √v̂.
        momentum_decay: ψ ≥ 0 of the momentum schedule.

    >>> import numpy as np
    >>> opt = nadam(0.1, momentum_decay=1.0)
    >>> u, s = opt.update(np.array([1.0]), opt.init(np.zeros(1))); np.round(u, 6)
    array([-0.106279])
    """
    return chain(scale_by_nadam(b1, b2, eps, momentum_decay), scale_by_learning_rate(learning_rate))


def lion(learning_rate: float | Schedule, b1: float = 0.9, b2: float = 0.99,
         weight_decay: float = 0.0) -> GradientTransformation:
    """Lion (Chen et al. 2023, "Symbolic Discovery of Optimization Algorithms", Program 1).

    c = β₁m + (1−β₁)g,  θ ← θ − η_t(sign(c) + λθ),  m ← β₂m + (1−β₂)g.

    Every coordinate moves by exactly η per step, so Lion wants an η 3–10× smaller than AdamW's
    (and λ that much larger). PyTorch has no Lion; Keras's ``Lion`` is the same rule.

    Args:
        learning_rate: η ≥ 0, or a schedule ``step -> η``.
        b1: β₁, the interpolation used for the step's sign.
        b2: β₂, the momentum's decay.
        weight_decay: λ ≥ 0 (decoupled, scaled by η).

    >>> import numpy as np
    >>> opt = lion(0.1)
    >>> u, s = opt.update(np.array([5.0, -1e-6, 0.0]), opt.init(np.zeros(3))); u
    array([-0.1,  0.1, -0. ])
    """
    wd = [add_decayed_weights(weight_decay)] if weight_decay else []
    return chain(scale_by_lion(b1, b2), *wd, scale_by_learning_rate(learning_rate))
