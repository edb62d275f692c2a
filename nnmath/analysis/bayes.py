"""Bayesian tools for any model: Monte Carlo dropout, deep ensembles, mean-field variational
inference (Bayes by Backprop) and stochastic-gradient Langevin dynamics. Their samples' predictive
uncertainty splits into aleatoric and epistemic parts with
:func:`~nnmath.analysis.calibration.uncertainty_decomposition`.

The likelihood of a loss. A loss L(θ) that is a *mean* of per-sample negative log-likelihoods
ℓᵢ(θ) = −log p(yᵢ | xᵢ, θ) gives the log-likelihood of the data as

    log p(D | θ) = −N · L(θ)   (+ a constant),

with N the number of samples: cross-entropies are exactly such means; ``"mse"``, the mean of
(y − f)², is the Gaussian likelihood with noise variance σ² = ½. :func:`bayes_by_backprop` uses this
scaling (N from the data, or ``num_data=`` for a bare ``loss_fn``); :func:`sgld` and
:func:`sgld_sample` sample the Boltzmann distribution p(θ) ∝ exp(−L(θ)/T), which for a mean loss
is the posterior (flat prior) at T = 1/N. A Model's regularisers are part of L and scale with it.

Everything runs in the parameters' dtype; randomness comes from ``seed`` (an int or a
``numpy.random.Generator``) and every Monte Carlo estimate reports its standard error.
"""
from __future__ import annotations

import inspect
import numbers
from dataclasses import dataclass, field
from typing import Any, Callable, NamedTuple

import numpy as np
import scipy.special

from .._core.tree import tree_flatten, tree_unflatten
from ..optimizers import adam
from ..optimizers._transform import GradientTransformation, check_learning_rate, scalar
from . import _executor
from ._checks import check_count, check_positive
from ._objective import Objective, _is_model, _Jittable, as_generator, as_objective
from ._results import Result

__all__ = [
    "mc_dropout_predict", "deep_ensemble", "ensemble_predict", "bayes_by_backprop", "sgld",
    "sgld_sample", "MCDropoutPrediction", "EnsemblePrediction", "DeepEnsemble",
    "MeanFieldPosterior", "SGLDState", "LangevinSamples",
]


def _num_rows(x: Any, who: str) -> int:
    if isinstance(x, (list, tuple)):
        return len(x[0])
    if not hasattr(x, "shape") or np.ndim(x) == 0:
        raise TypeError(f"{who}: x must be an array with samples on the first axis, got "
                        f"{type(x).__name__}")
    return len(x)


def _rows(x: Any, s: slice) -> Any:
    return [v[s] for v in x] if isinstance(x, (list, tuple)) else x[s]


def _predict(model: Any, x: Any, batch_size: int | None) -> Any:
    return model.predict(x, batch_size=batch_size, verbose=0)


# --------------------------------------------------------------------------------------------
# Monte Carlo dropout
# --------------------------------------------------------------------------------------------

@dataclass
class MCDropoutPrediction(Result):
    """The predictive distribution of MC dropout (see :func:`mc_dropout_predict`).

    Attributes:
        mean: the predictive mean (1/S) Σₛ f(x; θ, mₛ), the shape of one prediction.
        variance: the sample variance (1/S) Σₛ (fₛ − mean)² (Gal's estimator, without the
            observation noise τ⁻¹, which a user adds for regression).
        mean_std_error: the Monte Carlo standard error of ``mean``, √(variance / (S − 1)).
        samples: the S predictions, stacked on the first axis.
        num_samples: S.
    """

    mean: np.ndarray
    variance: np.ndarray
    mean_std_error: np.ndarray
    samples: np.ndarray = field(repr=False)
    num_samples: int


def _draws_random_numbers(model: Any, params: Any, x: Any) -> bool:
    """Whether ``model.apply(..., training=True, rng=g)`` draws from ``g``: compare the bit
    generator's state before and after one call (any layer, whatever its type)."""
    g = np.random.default_rng(0)
    before = g.bit_generator.state
    model.apply(params, _rows(x, slice(0, 1)), training=True, rng=g)
    return g.bit_generator.state != before


def mc_dropout_predict(model: Any, x: Any, num_samples: int = 100, *, params: Any = None,
                       batch_size: int | None = None, seed: Any = None,
                       executor: Any = None) -> MCDropoutPrediction:
    """Monte Carlo dropout: predict with dropout kept on, S times, and average (Gal &
    Ghahramani 2016).

    Each sample s draws fresh masks mₛ (every example its own), and

        E[y | x] ≈ (1/S) Σₛ f(x; θ, mₛ),   Var[y | x] ≈ (1/S) Σₛ fₛ² − E[y | x]²  (+ τ⁻¹),

    which approximates the predictive distribution of a deep Gaussian process / a Bernoulli
    variational posterior over the weights. The samples run ``model.apply(params, x,
    training=True, rng=…)``, so *every* layer is in training mode — as Keras's
    ``model(x, training=True)`` recipe: BatchNorm then normalises with the batch's own
    statistics (its moving averages are not updated).

    Args:
        model: a built :class:`~nnmath.training.Model` with at least one layer that draws random
            numbers in training (Dropout, SpatialDropout, GaussianDropout, AlphaDropout,
            GaussianNoise, …): one that draws none is refused.
        x: the inputs (N, …).
        num_samples: S ≥ 2.
        params: the parameters (default ``model.params``).
        batch_size: samples of x per forward pass (default: all).
        seed: an int or a ``numpy.random.Generator`` for the masks.
        executor: a ``concurrent.futures.Executor`` to draw the samples on, in contiguous chunks
            (see :mod:`nnmath.distributed`). Each chunk starts from the generator state the
            serial loop reaches there (found by replaying one sample's draws, without the
            arithmetic), so the samples are bit-identical to the serial run's.

    Returns:
        an :class:`MCDropoutPrediction` (mean, variance, standard error, samples).

    References:
        Y. Gal, Z. Ghahramani. Dropout as a Bayesian approximation: representing model
        uncertainty in deep learning. ICML 2016.

    >>> import numpy as np
    >>> from nnmath import keras
    >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dropout(0.5),
    ...                           keras.layers.Dense(1, dtype="float64")])
    >>> pred = mc_dropout_predict(model, np.ones((3, 2)), num_samples=200, seed=0)
    >>> pred.samples.shape, pred.mean.shape
    ((200, 3, 1), (3, 1))
    """
    who = "mc_dropout_predict"
    if not _is_model(model):
        raise TypeError(f"{who}: model must be an nnmath Model (Sequential, functional or "
                        f"subclassed), got {type(model).__name__}")
    S = check_count(num_samples, "num_samples", who, minimum=2)
    n = _num_rows(x, who)
    if n == 0:
        raise ValueError(f"{who}: x has no samples")
    if not getattr(model, "built", True):
        _predict(model, _rows(x, slice(0, 1)), None)
    params = model.params if params is None else params
    if not _draws_random_numbers(model, params, x):
        raise ValueError(f"{who}: model {model.name!r} draws no random numbers with "
                         f"training=True (it has no Dropout layer, or every rate is 0), so all "
                         f"its samples would be equal; MC dropout needs a stochastic layer "
                         f"(Dropout, SpatialDropout, GaussianDropout, GaussianNoise, …)")
    size = n if batch_size is None else check_count(batch_size, "batch_size", who)
    slices = [slice(a, min(n, a + size)) for a in range(0, n, size)]
    rng = as_generator(seed)
    if executor is not None:
        return _mc_dropout_on(executor, who, model, params, x, slices, rng, S)
    forward = _Jittable(lambda p, xb, g: model.apply(p, xb, training=True, rng=g))
    out = []
    for _ in range(S):
        parts = [forward(params, _rows(x, s), rng) for s in slices]
        if isinstance(parts[0], (list, tuple, dict)):
            raise ValueError(f"{who}: model {model.name!r} has several outputs; MC dropout here "
                             f"takes a model with one")
        out.append(np.concatenate([np.asarray(p) for p in parts]))
    samples = np.stack(out)
    mean = samples.mean(axis=0)
    var = samples.var(axis=0)
    return MCDropoutPrediction(mean, var, np.sqrt(var / (S - 1)), samples, S)


class _RecordingGenerator(np.random.Generator):
    """A Generator that notes every draw ``(method, args, kwargs)`` it makes."""

    def __init__(self, bit_generator):
        super().__init__(bit_generator)
        self.calls: list = []

    def __getattribute__(self, name: str):
        attr = super().__getattribute__(name)
        if name.startswith("_") or name in ("calls", "bit_generator", "spawn") or \
                not callable(attr):
            return attr
        calls = super().__getattribute__("calls")

        def draw(*args, **kwargs):
            calls.append((name, args, kwargs))
            return attr(*args, **kwargs)
        return draw


def _copy_generator(rng: np.random.Generator) -> np.random.Generator:
    g = np.random.Generator(type(rng.bit_generator)())
    g.bit_generator.state = rng.bit_generator.state
    return g


def _mc_setup(context: tuple) -> tuple:
    model, params, x, slices = context
    forward = _Jittable(lambda p, xb, g: model.apply(p, xb, training=True, rng=g))
    return forward, params, x, slices


def _mc_work(state: tuple, item: tuple) -> tuple[np.ndarray, dict]:
    """``count`` samples from generator ``rng``, as the serial loop draws them; and the state
    the generator ends in (checked against the replay)."""
    forward, params, x, slices = state
    rng, count = item
    out = []
    for _ in range(count):
        parts = [forward(params, _rows(x, s), rng) for s in slices]
        if isinstance(parts[0], (list, tuple, dict)):
            raise ValueError("mc_dropout_predict: the model has several outputs; MC dropout here "
                             "takes a model with one")
        out.append(np.concatenate([np.asarray(p) for p in parts]))
    return np.stack(out), rng.bit_generator.state


def _mc_dropout_on(executor: Any, who: str, model: Any, params: Any, x: Any, slices: list,
                   rng: np.random.Generator, S: int) -> MCDropoutPrediction:
    """The serial loop's samples in chunks on ``executor``. One sample's draws are recorded
    (a forward pass here); replaying them advances a copy of ``rng`` to each chunk's start."""
    recorder = _RecordingGenerator(type(rng.bit_generator)())
    recorder.bit_generator.state = rng.bit_generator.state
    first = model.apply(params, _rows(x, slices[0]), training=True, rng=recorder)
    if isinstance(first, (list, tuple, dict)):
        raise ValueError(f"{who}: model {model.name!r} has several outputs; MC dropout here "
                         f"takes a model with one")
    for s in slices[1:]:
        model.apply(params, _rows(x, s), training=True, rng=recorder)
    calls = recorder.calls
    chunks = _executor.split(S, executor)
    starts = []

    def items():
        for chunk in chunks:
            starts.append(rng.bit_generator.state)
            yield _copy_generator(rng), len(chunk)
            for _ in chunk:                         # advance rng by the chunk's draws
                for name, args, kwargs in calls:
                    getattr(rng, name)(*args, **kwargs)
    parts = _executor.run_jobs(executor, _mc_setup, _mc_work, (model, params, x, slices),
                               items(), who)
    ends = [p[1] for p in parts]
    if ends != starts[1:] + [rng.bit_generator.state]:
        raise RuntimeError(f"{who}: the model's random draws differ from sample to sample (a "
                           f"layer draws a data-dependent number of values), so the chunks "
                           f"cannot start where the serial loop would; run without executor=")
    samples = np.concatenate([p[0] for p in parts])
    mean = samples.mean(axis=0)
    var = samples.var(axis=0)
    return MCDropoutPrediction(mean, var, np.sqrt(var / (S - 1)), samples, S)


# --------------------------------------------------------------------------------------------
# Deep ensembles
# --------------------------------------------------------------------------------------------

@dataclass
class EnsemblePrediction(Result):
    """An ensemble's combined prediction (see :func:`ensemble_predict`).

    Attributes:
        mean: μ* = (1/M) Σₘ μₘ.
        variance: the predictive variance; for Gaussian members the mixture's,
            σ*² = (1/M) Σₘ (σₘ² + μₘ²) − μ*² = aleatoric + epistemic; otherwise the spread of
            the members, (1/M) Σₘ (μₘ − μ*)².
        aleatoric: (1/M) Σₘ σₘ² (Gaussian members), else None.
        epistemic: (1/M) Σₘ (μₘ − μ*)², the members' disagreement.
        member_means: μₘ, stacked on the first axis (M, …).
        member_variances: σₘ² (M, …) for Gaussian members, else None.
    """

    mean: np.ndarray
    variance: np.ndarray
    aleatoric: np.ndarray | None
    epistemic: np.ndarray
    member_means: np.ndarray = field(repr=False)
    member_variances: np.ndarray | None = field(repr=False)


@dataclass
class DeepEnsemble(Result):
    """A trained deep ensemble (see :func:`deep_ensemble`).

    Attributes:
        prediction: the :class:`EnsemblePrediction` on ``x_predict`` (default the training x).
        seeds: the seed each member was built and trained with.
        final_losses: each member's training loss after its last epoch.
        gaussian: whether members predict (mean, variance).
        models: the trained members (not serialised by ``to_dict``).
        histories: their ``fit`` Histories (not serialised).
    """

    prediction: EnsemblePrediction
    seeds: list
    final_losses: list
    gaussian: bool
    models: list = field(repr=False)
    histories: list = field(repr=False)

    def predict(self, x: Any, batch_size: int | None = None) -> EnsemblePrediction:
        """The ensemble's prediction on new inputs ``x``."""
        return ensemble_predict(self.models, x, gaussian=self.gaussian, batch_size=batch_size)


def _split_gaussian(out: Any, m: int) -> tuple[np.ndarray, np.ndarray]:
    """(mean, variance) from a member's output: two outputs, or the last axis halved."""
    if isinstance(out, (list, tuple)):
        if len(out) != 2:
            raise ValueError(f"ensemble_predict: gaussian=True needs each member to output "
                             f"(mean, variance); member {m} has {len(out)} outputs")
        mu, var = (np.asarray(o) for o in out)
    else:
        out = np.asarray(out)
        if out.ndim < 1 or out.shape[-1] % 2:
            raise ValueError(f"ensemble_predict: gaussian=True needs each member to output "
                             f"(mean, variance): two outputs, or a last axis of even size 2k "
                             f"(k means, then k variances); member {m} gave shape {out.shape}")
        k = out.shape[-1] // 2
        mu, var = out[..., :k], out[..., k:]
    if mu.shape != var.shape:
        raise ValueError(f"ensemble_predict: member {m}'s mean has shape {mu.shape} but its "
                         f"variance has shape {var.shape}")
    if not np.all(var > 0):
        raise ValueError(f"ensemble_predict: member {m} predicted a variance ≤ 0 (the smallest "
                         f"is {var.min():.3g}); end its variance head with a positive map such "
                         f"as softplus(·) + 1e-6 (Lakshminarayanan et al. 2017)")
    return mu, var


def ensemble_predict(models: Any, x: Any, *, gaussian: bool = False,
                     batch_size: int | None = None) -> EnsemblePrediction:
    """Combine the predictions of M models (Lakshminarayanan, Pritzel & Blundell 2017).

    Point predictions average: μ* = (1/M) Σₘ μₘ(x), with the spread (1/M) Σₘ (μₘ − μ*)².
    Gaussian members (``gaussian=True``; each predicts a mean and a variance) combine as the
    uniform mixture (1/M) Σₘ N(μₘ, σₘ²), whose mean and variance are

        μ* = (1/M) Σₘ μₘ,   σ*² = (1/M) Σₘ (σₘ² + μₘ²) − μ*²   (eq. in §2.4 of the paper).

    For classifiers, average the probabilities and split their uncertainty with
    :func:`~nnmath.analysis.calibration.uncertainty_decomposition` (``member_means``).

    Args:
        models: the members (Models with ``predict``).
        x: the inputs.
        gaussian: members output (mean, variance): two outputs, or a last axis of size 2k
            (k means then k variances, all positive).
        batch_size: passed to ``predict``.

    Returns:
        an :class:`EnsemblePrediction`.

    >>> import numpy as np
    >>> class Constant:                              # any object with predict(x) is a member
    ...     def __init__(self, mu, var): self.out = np.array([[mu, var]])
    ...     def predict(self, x, batch_size=None, verbose=0): return self.out
    >>> p = ensemble_predict([Constant(0.0, 1.0), Constant(2.0, 1.0)], None, gaussian=True)
    >>> p.mean, p.variance, p.aleatoric, p.epistemic             # 1 + 1 = ½(1+0 + 1+4) − 1
    (array([[1.]]), array([[2.]]), array([[1.]]), array([[1.]]))
    """
    models = list(models)
    if not models:
        raise ValueError("ensemble_predict: models is empty; an ensemble needs at least one member")
    outs = [_predict(m, x, batch_size) for m in models]
    if gaussian:
        pairs = [_split_gaussian(o, i) for i, o in enumerate(outs)]
        means = np.stack([p[0] for p in pairs])
        variances = np.stack([p[1] for p in pairs])
    else:
        if any(isinstance(o, (list, tuple, dict)) for o in outs):
            raise ValueError("ensemble_predict: members have several outputs; pass "
                             "gaussian=True for (mean, variance) members")
        shapes = {np.shape(o) for o in outs}
        if len(shapes) > 1:
            raise ValueError(f"ensemble_predict: the members' predictions have different shapes "
                             f"{sorted(shapes)}")
        means, variances = np.stack([np.asarray(o) for o in outs]), None
    mean = means.mean(axis=0)
    epistemic = means.var(axis=0)
    aleatoric = None if variances is None else variances.mean(axis=0)
    total = epistemic if aleatoric is None else aleatoric + epistemic
    return EnsemblePrediction(mean, total, aleatoric, epistemic, means, variances)


def deep_ensemble(build_fn: Callable, x: Any, y: Any, num_models: int = 5, *,
                  x_predict: Any = None, epochs: int = 1, batch_size: int | None = None,
                  seed: int = 0, gaussian: bool = False, verbose: Any = 0,
                  executor: Any = None, **fit_kwargs: Any) -> DeepEnsemble:
    """Deep ensembles: M networks trained from different random initialisations (and data
    orders), their predictions combined (Lakshminarayanan, Pritzel & Blundell 2017).

    Member m is built and trained after ``keras.utils.set_random_seed(seed + m)`` (weights,
    shuffling and dropout all follow it), so the ensemble is reproducible. Predictions combine
    as in :func:`ensemble_predict`: means average, and Gaussian members (``gaussian=True``,
    trained with a Gaussian negative log-likelihood) combine as a uniform mixture,
    σ*² = (1/M) Σₘ (σₘ² + μₘ²) − μ*². (The paper's optional adversarial training is not done.)

    Args:
        build_fn: ``build_fn(seed)`` or ``build_fn()`` returning a new compiled Model.
        x, y: the training data, passed to ``fit``.
        num_models: M ≥ 1.
        x_predict: inputs to predict on (default ``x``); ``DeepEnsemble.predict`` takes others.
        epochs, batch_size, verbose, **fit_kwargs: passed to each member's ``fit``.
        seed: member m uses ``seed + m``.
        gaussian: members output (mean, variance) (see :func:`ensemble_predict`).
        executor: a ``concurrent.futures.Executor`` to train the members on, one job each (see
            :mod:`nnmath.distributed`): ``build_fn``, the data and ``fit_kwargs`` are pickled
            to the workers and the trained members back; the members are bit-identical to the
            serial run's. Callbacks in ``fit_kwargs`` run in the workers (their copies).

    Returns:
        a :class:`DeepEnsemble` (the prediction, the members, their histories).

    References:
        B. Lakshminarayanan, A. Pritzel, C. Blundell. Simple and scalable predictive uncertainty
        estimation using deep ensembles. NeurIPS 2017.

    >>> import numpy as np
    >>> from nnmath import keras
    >>> def build():
    ...     m = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1, dtype="float64")])
    ...     m.compile(optimizer="sgd", loss="mse")
    ...     return m
    >>> x = np.linspace(-1, 1, 8)[:, None]
    >>> ens = deep_ensemble(build, x, 2 * x, num_models=3, epochs=2)
    >>> ens.prediction.mean.shape, len(ens.models), ens.seeds
    ((8, 1), 3, [0, 1, 2])
    """
    from ..training.data import set_random_seed
    who = "deep_ensemble"
    if not callable(build_fn):
        raise TypeError(f"{who}: build_fn must be a function returning a compiled Model, got "
                        f"{type(build_fn).__name__}")
    M = check_count(num_models, "num_models", who)
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"{who}: seed must be an int (member m uses seed + m), got {seed!r}")
    try:                         # build_fn(seed) if it names `seed` or needs a positional argument
        takes_seed = any(p.name == "seed" or p.kind == p.VAR_POSITIONAL or (
            p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty)
            for p in inspect.signature(build_fn).parameters.values())
    except (TypeError, ValueError):
        takes_seed = False
    models, histories, seeds = [], [], []
    train = (build_fn, takes_seed, x, y, epochs, batch_size, verbose, fit_kwargs)
    if executor is not None:
        seeds = [int(seed) + m for m in range(M)]
        members = [_executor.loads(blob) for blob in _executor.run_jobs(
            executor, _member_setup, _member_work, train, seeds, who)]
        models, histories = [m[0] for m in members], [m[1] for m in members]
        _set_random_state(*members[-1][2])      # the random state the serial loop leaves
    else:
        for m in range(M):
            s = int(seed) + m
            set_random_seed(s)
            model = build_fn(s) if takes_seed else build_fn()
            _check_member(model, who)
            if any(model is other for other in models):
                raise ValueError(f"{who}: build_fn returned the same Model object twice; it "
                                 f"must build a new model on each call")
            histories.append(model.fit(x, y, epochs=epochs, batch_size=batch_size,
                                       verbose=verbose, **fit_kwargs))
            models.append(model)
            seeds.append(s)
    losses = [float(h.history["loss"][-1]) if h.history.get("loss") else float("nan")
              for h in histories]
    pred = ensemble_predict(models, x if x_predict is None else x_predict, gaussian=gaussian,
                            batch_size=batch_size)
    return DeepEnsemble(pred, seeds, losses, bool(gaussian), models, histories)


def _check_member(model: Any, who: str) -> None:
    if not _is_model(model):
        raise TypeError(f"{who}: build_fn returned {type(model).__name__}, expected a "
                        f"compiled nnmath Model")
    if getattr(model, "optimizer", None) is None:
        raise RuntimeError(f"{who}: build_fn returned model {model.name!r}, which is not "
                           f"compiled; call model.compile(optimizer=..., loss=...) in build_fn")


def _random_state() -> tuple:
    from ..nn import initializers
    from ..training import data
    return data.global_rng(), initializers.default_rng()


def _set_random_state(data_rng: np.random.Generator, init_rng: np.random.Generator) -> None:
    from ..nn import initializers
    from ..training import data
    data._GLOBAL["rng"] = data_rng
    initializers._RNG = init_rng


def _member_setup(context: tuple) -> tuple:
    return context


def _member_work(train: tuple, s: int) -> bytes:
    """Member ``s`` built and trained as the serial loop does; (model, history, random state)
    pickled (the model's recorded steps are dropped, recorded again where it is used)."""
    from ..training.data import set_random_seed
    build_fn, takes_seed, x, y, epochs, batch_size, verbose, fit_kwargs = train
    set_random_seed(s)
    model = build_fn(s) if takes_seed else build_fn()
    _check_member(model, "deep_ensemble")
    history = model.fit(x, y, epochs=epochs, batch_size=batch_size, verbose=verbose,
                        **fit_kwargs)
    return _executor.dumps((model, history, _random_state()), "a trained member")


# --------------------------------------------------------------------------------------------
# Variational inference: Bayes by Backprop
# --------------------------------------------------------------------------------------------

@dataclass
class MeanFieldPosterior(Result):
    """A mean-field Gaussian posterior q(θ) = Πᵢ N(θᵢ; μᵢ, σᵢ²) (see :func:`bayes_by_backprop`).

    Attributes:
        mean_flat, std_flat: μ and σ as flat vectors (like ``Objective.flat``).
        elbo: the final ELBO estimate, E_q[log p(D|θ)] − KL(q‖p), from ``num_eval_samples`` draws.
        elbo_std_error: its Monte Carlo standard error (the KL is exact).
        expected_log_likelihood: the estimate of E_q[log p(D|θ)] = −N·E_q[L(θ)].
        kl: KL(q‖p) in closed form.
        history: the one-draw estimates of −ELBO at every step (noisy; for convergence plots).
        num_data: N, the likelihood's scale.
        num_steps: optimisation steps taken.
    """

    mean_flat: np.ndarray
    std_flat: np.ndarray
    elbo: float
    elbo_std_error: float
    expected_log_likelihood: float
    kl: float
    history: np.ndarray = field(repr=False)
    num_data: float
    num_steps: int
    unravel: Callable = field(repr=False)

    @property
    def mean(self) -> Any:
        """μ as a pytree like the parameters."""
        return self.unravel(self.mean_flat)

    @property
    def std(self) -> Any:
        """σ as a pytree like the parameters."""
        return self.unravel(self.std_flat)

    def sample_flat(self, num_samples: int, seed: Any = None) -> np.ndarray:
        """θ = μ + σ ⊙ ε, ε ~ N(0, I): ``num_samples`` draws as rows (S, P)."""
        S = check_count(num_samples, "num_samples", "MeanFieldPosterior.sample_flat")
        eps = as_generator(seed).standard_normal((S, self.mean_flat.size),
                                                 dtype=self.mean_flat.dtype)
        return self.mean_flat + self.std_flat * eps

    def sample(self, num_samples: int, seed: Any = None) -> list:
        """``num_samples`` draws of θ as pytrees like the parameters."""
        return [self.unravel(t) for t in self.sample_flat(num_samples, seed)]


def _per_parameter(value: Any, obj: Objective, name: str, who: str, positive: bool) -> np.ndarray:
    """A scalar, a vector of P entries or a pytree like params, as a flat vector of P."""
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        out = np.full(obj.size, value, dtype=obj.dtype)
    else:
        out = obj._vec(value, name).astype(obj.dtype)
    if positive and not np.all(out > 0):
        raise ValueError(f"{who}: {name} must be positive, got a smallest value {out.min()!r}")
    if not np.all(np.isfinite(out)):
        raise ValueError(f"{who}: {name} must be finite")
    return out


def _softplus(r: np.ndarray) -> np.ndarray:
    return np.logaddexp(0, r)


def _gaussian_kl(mu, sigma, m0, s0) -> float:
    """KL(N(μ, σ²) ‖ N(m₀, s₀²)) summed over the coordinates."""
    return float(np.sum(np.log(s0 / sigma) + (sigma ** 2 + (mu - m0) ** 2) / (2 * s0 ** 2) - 0.5))


def bayes_by_backprop(f: Any, params: Any = None, *, x: Any = None, y: Any = None,
                      loss: Any = None, sample_weight: Any = None, batch_size: int | None = None,
                      num_data: float | None = None, prior_mean: Any = 0.0, prior_std: Any = 1.0,
                      init_std: float = 1e-2, num_steps: int = 1000,
                      learning_rate: Any = 1e-2, optimizer: GradientTransformation | None = None,
                      num_samples: int = 1, num_eval_samples: int = 64,
                      seed: Any = None) -> MeanFieldPosterior:
    """Mean-field Gaussian variational inference by the reparameterisation trick — Bayes by
    Backprop (Blundell, Cornebise, Kavukcuoglu & Wierstra 2015).

    With q(θ) = N(μ, diag σ²), σ = softplus(ρ), and the prior p(θ) = N(m₀, diag s₀²), it maximises

        ELBO(μ, ρ) = E_q[log p(D|θ)] − KL(q‖p),   log p(D|θ) = −N·L(θ),
        KL(q‖p) = Σᵢ [log(s₀ᵢ/σᵢ) + (σᵢ² + (μᵢ − m₀ᵢ)²)/(2s₀ᵢ²) − ½]   (closed form),

    by stochastic gradients: θ = μ + σ ⊙ ε with ε ~ N(0, I) (Kingma & Welling 2014), so with
    g = ∇L(θ) averaged over ``num_samples`` draws,

        ∂(−ELBO)/∂μ = N·g + (μ − m₀)/s₀²,
        ∂(−ELBO)/∂ρ = [N·g ⊙ ε + σ/s₀² − 1/σ] ⊙ sigmoid(ρ).

    Each step uses the whole data set's gradient (summed over batches by the Objective); the
    stochasticity is only in ε. μ starts at the given parameters, σ at ``init_std``.

    Args:
        f, params, x, y, loss, sample_weight, batch_size: as :func:`~nnmath.analysis.as_objective`
            (``loss_fn(params)``, ``apply_fn`` with data and a loss, or a compiled Model). The loss
            must be a mean of per-sample negative log-likelihoods (see the module docstring).
        num_data: N in log p(D|θ) = −N·L(θ); default the number of samples in x. Required for
            a bare ``loss_fn`` (pass 1 if it is already the total negative log-likelihood).
        prior_mean, prior_std: m₀ and s₀ > 0: scalars, flat vectors or pytrees like params.
        init_std: the initial σ (> 0).
        num_steps: optimisation steps.
        learning_rate: Adam's step size (a number or a schedule ``step -> η``).
        optimizer: a GradientTransformation on the pair (μ, ρ) instead of Adam.
        num_samples: draws of ε per step.
        num_eval_samples: draws for the final ELBO estimate and its standard error.
        seed: an int or a ``numpy.random.Generator``.

    Returns:
        a :class:`MeanFieldPosterior` (μ, σ, the ELBO with its standard error, the KL).

    References:
        C. Blundell, J. Cornebise, K. Kavukcuoglu, D. Wierstra. Weight uncertainty in neural
        networks. ICML 2015. D. P. Kingma, M. Welling. Auto-encoding variational Bayes. ICLR 2014.

    >>> import numpy as np, nnmath.numpy as mnp
    >>> q = bayes_by_backprop(lambda t: 0.5 * mnp.sum(t ** 2), np.zeros(2), num_data=1,
    ...                       num_steps=1500, learning_rate=0.05, num_samples=4, seed=0)
    >>> np.round(q.std_flat, 1)            # prior N(0, 1) × likelihood N(0, 1): σ² = ½
    array([0.7, 0.7])
    """
    who = "bayes_by_backprop"
    obj = as_objective(f, params, x=x, y=y, sample_weight=sample_weight, batch_size=batch_size,
                       loss=loss)
    if num_data is None:
        if obj.num_samples is None:
            raise ValueError(f"{who}: num_data is required with loss_fn(params): the "
                             f"log-likelihood is −num_data·loss_fn(θ) (pass num_data=1 if "
                             f"loss_fn is already the total negative log-likelihood)")
        num_data = obj.num_samples
    N = check_positive(num_data, "num_data", who)
    m0 = _per_parameter(prior_mean, obj, "prior_mean", who, positive=False)
    s0 = _per_parameter(prior_std, obj, "prior_std", who, positive=True)
    sigma0 = check_positive(init_std, "init_std", who)
    T = check_count(num_steps, "num_steps", who, minimum=0)
    S = check_count(num_samples, "num_samples", who)
    E = check_count(num_eval_samples, "num_eval_samples", who, minimum=2)
    if optimizer is None:
        optimizer = adam(check_learning_rate(learning_rate))
    elif not isinstance(optimizer, GradientTransformation):
        raise TypeError(f"{who}: optimizer must be a GradientTransformation (e.g. "
                        f"nnmath.optimizers.adam(1e-2)), got {type(optimizer).__name__}")
    rng = as_generator(seed)
    dt = obj.dtype
    mu = obj.flat.astype(dt).copy()
    rho = np.full(obj.size, np.log(np.expm1(sigma0)), dtype=dt)
    state = optimizer.init((mu, rho))
    history = np.empty(T, dtype=np.float64)
    for t in range(T):
        sigma = _softplus(rho)
        eps = rng.standard_normal((S, obj.size), dtype=dt)
        g_mu = np.zeros(obj.size, dt)
        g_sig = np.zeros(obj.size, dt)
        value = 0.0
        for e in eps:
            v, g = obj.value_and_grad_flat(mu + sigma * e)
            value += v / S
            g_mu += g / S
            g_sig += g * e / S
        grad_mu = N * g_mu + (mu - m0) / s0 ** 2
        grad_rho = (N * g_sig + sigma / s0 ** 2 - 1 / sigma) * scipy.special.expit(rho)
        history[t] = N * value + _gaussian_kl(mu, sigma, m0, s0)
        updates, state = optimizer.update((grad_mu, grad_rho), state, (mu, rho))
        mu = (mu + np.asarray(updates[0])).astype(dt)
        rho = (rho + np.asarray(updates[1])).astype(dt)
    sigma = _softplus(rho)
    eps = rng.standard_normal((E, obj.size), dtype=dt)
    loglik = np.array([-N * obj.value(mu + sigma * e) for e in eps])
    kl = _gaussian_kl(mu, sigma, m0, s0)
    return MeanFieldPosterior(mu, sigma, float(loglik.mean() - kl),
                              float(loglik.std(ddof=1) / np.sqrt(E)), float(loglik.mean()), kl,
                              history, N, T, obj.unravel)


# --------------------------------------------------------------------------------------------
# Stochastic-gradient Langevin dynamics
# --------------------------------------------------------------------------------------------

class SGLDState(NamedTuple):
    count: int          # updates made so far (the noise of step t is drawn from (seed, t))
    seed: int


def sgld(learning_rate: Any, temperature: float = 1.0, seed: Any = 0) -> GradientTransformation:
    """Stochastic-gradient Langevin dynamics as a gradient transformation (Welling & Teh 2011):
    a sampler of the Boltzmann distribution p(θ) ∝ exp(−L(θ)/T).

    Given the (stochastic) gradient g of L, the update added to θ is

        u = −η_t g + √(2 η_t T) ξ,   ξ ~ N(0, I),

    the Euler–Maruyama step of the Langevin diffusion dθ = −∇L dt + √(2T) dW, whose stationary
    density is ∝ exp(−L/T). This is Welling & Teh's Δθ = (ε/2) ∇log p(θ) + N(0, ε) with
    log p = −L/T and ε = 2η_t/T. For a mean loss (N samples), T = 1/N samples the Bayesian
    posterior under a flat prior. Welling & Teh decay η_t (Σ η_t = ∞, Σ η_t² < ∞, e.g.
    a(b + t)^(−γ)) so the discretisation bias vanishes; with a constant η the chain samples a
    slightly wider distribution (for a quadratic L = ½θᵀAθ its covariance is
    T (A − ηA²/2)⁻¹). The update is pure: the noise of step t is drawn from
    ``numpy.random.default_rng((seed, t))``, in each leaf's dtype.

    Args:
        learning_rate: η ≥ 0, or a schedule ``step -> η``.
        temperature: T ≥ 0 (T = 0 is gradient descent).
        seed: an int (or a Generator, from which one int is drawn) for the noise.

    Returns:
        a GradientTransformation (``init``, ``update``), as those of :mod:`nnmath.optimizers`.

    References:
        M. Welling, Y. W. Teh. Bayesian learning via stochastic gradient Langevin dynamics.
        ICML 2011.

    >>> import numpy as np
    >>> opt = sgld(0.1, temperature=0.0)              # T = 0: plain gradient descent
    >>> u, state = opt.update({"w": np.array([1.0, -2.0])}, opt.init({"w": np.zeros(2)}))
    >>> u["w"], state.count
    (array([-0.1,  0.2]), 1)
    """
    learning_rate = check_learning_rate(learning_rate)
    if isinstance(temperature, bool) or not isinstance(temperature, numbers.Real) or \
            not temperature >= 0:
        raise ValueError(f"sgld: temperature must be a number >= 0, got {temperature!r}")
    if isinstance(seed, np.random.Generator):
        seed = int(seed.integers(2 ** 63))
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ValueError(f"sgld: seed must be a non-negative int or a numpy.random.Generator, "
                         f"got {seed!r}")
    temperature, seed = float(temperature), int(seed)

    def init(params):
        return SGLDState(0, seed)

    def update(updates, state, params=None):
        eta = scalar(learning_rate(state.count) if callable(learning_rate) else learning_rate)
        rng = np.random.default_rng((state.seed, state.count))
        leaves, treedef = tree_flatten(updates)
        noise_scale = float(np.sqrt(2 * eta * temperature))
        out = []
        for g in leaves:
            dtype = np.dtype(getattr(g, "dtype", np.float64))
            dtype = dtype if dtype.kind == "f" else np.dtype(np.float64)
            xi = rng.standard_normal(np.shape(g), dtype=dtype)
            out.append(-eta * g + noise_scale * xi if temperature else -eta * g)
        return tree_unflatten(treedef, out), SGLDState(state.count + 1, state.seed)

    return GradientTransformation(init, update)


@dataclass
class LangevinSamples(Result):
    """Samples of p(θ) ∝ exp(−L(θ)/T) from SGLD (see :func:`sgld_sample`).

    Attributes:
        mean, variance: the sample mean and variance (ddof=1) of each parameter, flat vectors.
        mean_std_error, variance_std_error: their Monte Carlo standard errors by batch means
            (the chain is split into ``num_batches`` contiguous batches, SE = sd(batch
            estimates)/√B), which accounts for the autocorrelation of the chain.
        samples: the kept states (S, P).
        temperature: T; learning_rate: η (the first, for a schedule).
        num_steps: all steps, burn-in included.
    """

    mean: np.ndarray
    variance: np.ndarray
    mean_std_error: np.ndarray
    variance_std_error: np.ndarray
    samples: np.ndarray = field(repr=False)
    temperature: float
    learning_rate: float
    num_steps: int
    unravel: Callable = field(repr=False)

    def sample_trees(self) -> list:
        """The samples as pytrees like the parameters."""
        return [self.unravel(t) for t in self.samples]


def sgld_sample(f: Any, params: Any = None, *, x: Any = None, y: Any = None, loss: Any = None,
                sample_weight: Any = None, batch_size: int | None = None,
                num_samples: int = 1000, learning_rate: Any = 1e-3, temperature: float = 1.0,
                burn_in: int = 100, thin: int = 1, num_batches: int = 20,
                seed: Any = None) -> LangevinSamples:
    """Run a Langevin chain θ ← θ − η∇L(θ) + √(2ηT) ξ (:func:`sgld`; Welling & Teh 2011) from
    the given parameters and keep every ``thin``-th state after ``burn_in`` steps.

    Gradients are of the whole data set's loss (an Objective's, summed over batches), so this is
    the unadjusted Langevin algorithm; for minibatch gradients use the :func:`sgld` transform in
    a training loop. For a mean loss over N samples, ``temperature=1/N`` samples the posterior
    with a flat prior (see the module docstring).

    Args:
        f, params, x, y, loss, sample_weight, batch_size: as :func:`~nnmath.analysis.as_objective`.
        num_samples: S, the states kept.
        learning_rate: η (a number or a schedule ``step -> η``).
        temperature: T ≥ 0.
        burn_in: steps discarded first.
        thin: keep every ``thin``-th state.
        num_batches: B for the batch-means standard errors (S ≥ 2B).
        seed: an int or a Generator.

    Returns:
        a :class:`LangevinSamples`.

    >>> import numpy as np, nnmath.numpy as mnp
    >>> out = sgld_sample(lambda t: 0.5 * mnp.sum(t ** 2), np.zeros(1), num_samples=4000,
    ...                   learning_rate=0.1, temperature=1.0, seed=0)
    >>> bool(abs(out.variance[0] - 1 / (1 - 0.05)) < 4 * out.variance_std_error[0])  # T/(a − ηa²/2)
    True
    """
    who = "sgld_sample"
    obj = as_objective(f, params, x=x, y=y, sample_weight=sample_weight, batch_size=batch_size,
                       loss=loss)
    S = check_count(num_samples, "num_samples", who)
    burn = check_count(burn_in, "burn_in", who, minimum=0)
    th = check_count(thin, "thin", who)
    B = check_count(num_batches, "num_batches", who, minimum=2)
    if S < 2 * B:
        raise ValueError(f"{who}: num_samples={S} must be at least 2·num_batches={2 * B} for the "
                         f"batch-means standard errors")
    rng = as_generator(seed)
    opt = sgld(learning_rate, temperature, int(rng.integers(2 ** 63)))
    theta = obj.flat.copy()
    state = opt.init(theta)
    kept = np.empty((S, obj.size), dtype=obj.dtype)
    total = burn + S * th
    for t in range(total):
        u, state = opt.update(obj.grad_flat(theta), state)
        theta = (theta + u).astype(obj.dtype)
        if not np.all(np.isfinite(theta)):
            raise FloatingPointError(f"{who}: the chain diverged at step {t + 1} (non-finite "
                                     f"parameters); lower the learning rate (η must be below "
                                     f"2/λ_max of the Hessian of L)")
        k = t - burn
        if k >= 0 and (k + 1) % th == 0:
            kept[k // th] = theta
    mean = kept.mean(axis=0)
    var = kept.var(axis=0, ddof=1)
    used = (S // B) * B
    batches = kept[:used].reshape(B, S // B, obj.size)
    mean_se = batches.mean(axis=1).std(axis=0, ddof=1) / np.sqrt(B)
    var_se = ((batches - mean) ** 2).mean(axis=1).std(axis=0, ddof=1) / np.sqrt(B)
    lr0 = learning_rate(0) if callable(learning_rate) else learning_rate
    return LangevinSamples(mean, var, mean_se, var_se, kept, float(temperature), float(lr0),
                           total, obj.unravel)
