"""Loss landscapes: the loss along lines, planes and curves through parameter space.

* :func:`random_directions` — Gaussian directions scaled to the weights, filter by filter (Li, Xu,
  Taylor, Studer & Goldstein 2018), so that plots of networks of different scale compare;
* :func:`loss_slice_1d`, :func:`loss_surface_2d` — L(θ + αd) and L(θ + αd₁ + βd₂) on a grid;
* :func:`linear_interpolation` — L((1−α)θ_a + αθ_b) and its barrier (Goodfellow, Vinyals & Saxe
  2015; Frankle, Dziugaite, Roy & Carbin 2020);
* :func:`trajectory_pca`, :class:`TrajectoryRecorder` — the principal directions of a training
  trajectory and its coordinates in them (Li et al. 2018 §6);
* :func:`fit_bezier_curve`, :func:`loss_along_bezier`, :func:`bezier_point` — a quadratic Bézier
  path of low loss between two solutions (Garipov, Izmailov, Podoprikhin, Vetrov & Wilson 2018).

Every tool takes ``loss_fn(params)``, ``apply_fn(params, x)`` with ``x``, ``y``, ``loss``, or a
compiled Model with ``x``, ``y`` (see :func:`~nnmath.analysis.as_objective`) and evaluates the
loss with ``Objective.value`` — batch by batch, in the parameters' dtype. Directions and points
are pytrees shaped like the parameters (or flat vectors); a wrong structure or shape is a
``ValueError`` naming the argument.

A "barrier" is max_{α∈[0,1]} L(path(α)) − ½(L(θ_a) + L(θ_b)) (Frankle et al. 2020; ≥ 0): the
loss a path climbs above its endpoints' mean.
"""
from __future__ import annotations

import numbers
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

from .._core.tree import tree_flatten, tree_map, tree_unflatten
from .._ravel import ravel_pytree
from ..training.callbacks.base import Callback
from . import _executor
from ._objective import Objective, _is_model, as_generator, as_objective
from ._results import Result

__all__ = [
    "random_directions", "loss_slice_1d", "loss_surface_2d", "linear_interpolation",
    "trajectory_pca", "TrajectoryRecorder", "fit_bezier_curve", "loss_along_bezier",
    "bezier_point", "LossSlice1D", "LossSurface2D", "LinearInterpolation", "TrajectoryPCA",
    "BezierCurve",
]

NORMALIZATIONS = ("filter", "layer", "weight", None)
IGNORES = ("biasbn", None)


# ---------------------------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------------------------

def _tree_of(params: Any, what: str) -> Any:
    """A parameter pytree from a pytree or a Model (its ``params``)."""
    if params is None:
        raise ValueError(f"{what} is required (a parameter pytree or a Model)")
    return params.params if _is_model(params) else params


def _grid(values: Any, what: str) -> np.ndarray:
    """``values`` as a non-empty 1-D float64 array of finite numbers."""
    try:
        a = np.array(values, dtype=np.float64)      # a copy: defaults are shared arrays
    except (TypeError, ValueError):
        raise TypeError(f"{what} must be a 1-D array of numbers, got {type(values).__name__}")
    if a.ndim != 1 or a.size == 0:
        raise ValueError(f"{what} must be a non-empty 1-D array of numbers, got shape {a.shape}")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{what} must be finite, got {a.tolist()}")
    return a


def _count(value: Any, what: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{what} must be an integer ≥ {minimum}, got {value!r}")
    return int(value)


def _params_like(obj: Objective, model: Any) -> Any:
    """``model.params`` keyed like the Objective's parameters: two models built alike carry
    different automatic layer names (``dense_3`` / ``dense_7``), so when the names differ, layers
    with weights are matched in order (their shapes are then checked by ``Objective._vec``)."""
    params = model.params
    if (obj.model is None or model is obj.model or not isinstance(obj.params, dict)
            or set(params) == set(obj.params)):
        return params
    mine = [l.name for l in obj.model.layers if l.params]
    theirs = [l.name for l in model.layers if l.params]
    if len(mine) != len(theirs) or set(mine) != set(obj.params):
        return params
    return {m: params[t] for m, t in zip(mine, theirs)}


def _objective_at(f: Any, params: Any, data: dict) -> Objective:
    """``as_objective(f, params)`` where ``params`` may also be a Model (its weights, matched to
    ``f``'s layers by :func:`_params_like` when ``f`` is a Model too)."""
    if not _is_model(params):
        return as_objective(f, params, **data)
    if not _is_model(f) or params is f:
        return as_objective(f, params.params, **data)
    return as_objective(f, _params_like(as_objective(f, None, **data), params), **data)


def _point(obj: Objective, v: Any, what: str) -> np.ndarray:
    """A pytree / Model / flat vector as a flat vector in the parameters' dtype (a direction or a
    point in another dtype is cast to it: the loss is always evaluated in the parameters' dtype)."""
    if _is_model(v):
        v = _params_like(obj, v)
    vec = obj._vec(_tree_of(v, what), what)
    if vec.dtype != obj.dtype:
        vec = vec.astype(obj.dtype)
    if not np.all(np.isfinite(vec)):
        raise ValueError(f"{what} has non-finite entries")
    return vec


def _barrier(alphas: np.ndarray, values: np.ndarray, at_a: float, at_b: float,
             up: bool = False) -> tuple[float, float]:
    """(height, where) of the barrier of a path over [0, 1]: max − mean of the endpoints (for a
    metric where bigger is better, ``up``: mean of the endpoints − min)."""
    inside = (alphas >= 0) & (alphas <= 1)
    a = np.concatenate([[0.0, 1.0], alphas[inside]])
    v = np.concatenate([[at_a, at_b], values[inside]])
    k = int(np.argmin(v) if up else np.argmax(v))
    mean = 0.5 * (at_a + at_b)
    return float(mean - v[k] if up else v[k] - mean), float(a[k])


class _MetricEvaluator:
    """A metric of the predictions over all batches at a flat θ: a name, Metric or Metric class
    through ``nnmath.training.metrics.get`` (``"accuracy"`` resolved as ``compile`` does),
    accumulated batch by batch with the sample weights; a function ``metric(y_true, y_pred)``
    called once on all targets and predictions (its mean)."""

    def __init__(self, obj: Objective, metric: Any, loss: Any):
        from ..training import metrics as _metrics
        if obj._predict is None:
            raise ValueError("metric= needs the model's predictions: pass a compiled Model with x "
                             "and y, or apply_fn(params, x) with x, y and loss=..., not a bare "
                             "loss_fn(params)")
        if obj.model is not None and not obj.model._single_out:
            raise ValueError(f"metric= supports models with one output; model {obj.model.name!r} "
                             f"has outputs {obj.model._output_names()}")
        if loss is None and obj.model is not None:
            loss = obj.model.loss
        self.obj = obj
        self.is_object = isinstance(metric, (str, _metrics.Metric)) or (
            isinstance(metric, type) and issubclass(metric, _metrics.Metric))
        if self.is_object:
            b0 = obj.batches[0][1]
            pred0 = self._single(obj._predict(obj.params, b0[0]))     # first batch: the shapes
            self.metric = _metrics.get(metric, loss=loss, y_true=np.asarray(b0[1]),
                                       y_pred=pred0)
            self.name = self.metric.name
            self.direction = self.metric.direction
        elif callable(metric):
            self.metric = metric
            self.name = getattr(metric, "__name__", type(metric).__name__)
            self.direction = None
        else:
            raise TypeError(f"metric must be None, a metric name (e.g. 'accuracy'), a Metric or a "
                            f"function metric(y_true, y_pred), got {type(metric).__name__}")

    @staticmethod
    def _single(pred: Any) -> np.ndarray:
        if isinstance(pred, (list, tuple, dict)):
            raise ValueError("metric= supports models with one output; the model returned "
                             f"a {type(pred).__name__} of outputs")
        return np.asarray(pred)

    def __call__(self, theta: np.ndarray) -> float:
        preds = [self._single(p) for p in self.obj.predict(theta)]
        targets = [np.asarray(b[1]) for _, b in self.obj.batches]
        if self.is_object:
            self.metric.reset_state()
            for p, t, (_, b) in zip(preds, targets, self.obj.batches):
                self.metric.update_state(t, p, b[2])
            return float(self.metric.result())
        return float(np.mean(self.metric(np.concatenate(targets), np.concatenate(preds))))


def _metric_evaluator(obj: Objective, metric: Any, data: dict) -> _MetricEvaluator | None:
    return None if metric is None else _MetricEvaluator(obj, metric, data.get("loss"))


# ---------------------------------------------------------------------------------------------
# Directions
# ---------------------------------------------------------------------------------------------

def _normalized(d: np.ndarray, w: np.ndarray, normalization: str | None) -> np.ndarray:
    if normalization is None:
        return d
    if normalization == "weight":
        return d * np.abs(w)
    axes = tuple(range(d.ndim - 1)) if normalization == "filter" and d.ndim >= 2 else None
    keep = axes is not None
    dn = np.sqrt(np.sum(d * d, axis=axes, keepdims=keep))
    wn = np.sqrt(np.sum(w * w, axis=axes, keepdims=keep))
    scale = np.divide(wn, dn, out=np.zeros_like(wn), where=dn > 0)
    return d * scale


def random_directions(params: Any, normalization: str | None = "filter",
                      ignore: str | None = "biasbn", seed: Any = 0,
                      num: int | None = None) -> Any:
    """Random directions in parameter space, scaled to the weights (Li et al. 2018).

    Each leaf of d is drawn from N(0, I) (in float64, then cast to the leaf's dtype) and scaled:

    * ``"filter"``: d_j ← d_j · ‖θ_j‖ / ‖d_j‖ for every *filter* j of a weight with ≥ 2 axes —
      the output unit, which is the **last axis** in nnmath's (Keras's) layout: a column of a Dense
      kernel (in, out), a slice ``[..., j]`` of a Conv2D kernel (kh, kw, cin, cout); a weight with
      fewer axes is one filter;
    * ``"layer"``: d ← d · ‖θ‖ / ‖d‖ per weight array;
    * ``"weight"``: d ← d ⊙ |θ|, element by element;
    * ``None``: the raw Gaussian.

    ``ignore="biasbn"`` sets every weight with fewer than 2 axes (biases, BatchNorm/LayerNorm γ and
    β) to zero in d, whatever the normalisation, as Li et al.'s code does (loss-landscapes #3 gets
    biases wrong); ``ignore=None`` keeps them, scaled as above. (Li et al.'s code copies θ into d
    for such weights when they are not ignored; here they are one filter, ‖d‖ = ‖θ‖.) One draw is
    made per leaf in ``tree_flatten`` order whether or not it is zeroed, so ``ignore`` does not
    change the other leaves' values.

    Args:
        params: the parameter pytree (or a Model: its ``params``); leaves must be floating.
        normalization: ``"filter"``, ``"layer"``, ``"weight"`` or None.
        ignore: ``"biasbn"`` or None.
        seed: an int or a ``numpy.random.Generator``.
        num: None for one direction; an integer k for a list of k independent directions.

    Returns:
        A pytree shaped like ``params`` (or a list of ``num`` of them).

    Raises:
        ValueError: a bad option, or a direction that is zero everywhere (every weight ignored,
            or zero weights under a weight-scaled normalisation).

    References:
        Li, Xu, Taylor, Studer & Goldstein (2018), "Visualizing the loss landscape of neural
        nets", NeurIPS, §4.

    >>> import numpy as np
    >>> params = {"kernel": np.array([[3.0, 0.0], [4.0, 1.0]]), "bias": np.array([1.0, 2.0])}
    >>> d = random_directions(params, seed=0)
    >>> np.round(np.linalg.norm(d["kernel"], axis=0), 12)    # column norms = the weights'
    array([5., 1.])
    >>> d["bias"]
    array([0., 0.])
    """
    params = _tree_of(params, "params")
    if normalization not in NORMALIZATIONS:
        raise ValueError(f"normalization must be one of {NORMALIZATIONS}, got {normalization!r}")
    if ignore not in IGNORES:
        raise ValueError(f"ignore must be 'biasbn' or None, got {ignore!r}")
    count = 1 if num is None else _count(num, "num", 1)
    leaves, treedef = tree_flatten(params)
    if not leaves:
        raise ValueError("params has no arrays to draw a direction for")
    arrays = [np.asarray(leaf) for leaf in leaves]
    for a in arrays:
        if a.dtype.kind != "f":
            raise TypeError(f"params must have floating leaves, got one of dtype {a.dtype} "
                            f"(shape {a.shape})")
    rng = as_generator(seed)
    out = []
    for _ in range(count):
        dirs = []
        for w in arrays:
            d = rng.standard_normal(w.shape).astype(w.dtype, copy=False)
            if ignore == "biasbn" and w.ndim < 2:
                dirs.append(np.zeros_like(w))
            else:
                dirs.append(_normalized(d, w, normalization).astype(w.dtype, copy=False))
        if not any(np.any(d != 0) for d in dirs):
            if ignore == "biasbn" and all(w.ndim < 2 for w in arrays):
                why = ("every weight has fewer than 2 axes and ignore='biasbn' zeroes them (pass "
                       "ignore=None)")
            else:
                why = (f"the weights it is scaled to are zero (normalization={normalization!r}; "
                       f"try normalization=None)")
            raise ValueError(f"the random direction is zero everywhere: {why}")
        out.append(tree_unflatten(treedef, dirs))
    return out[0] if num is None else out


# ---------------------------------------------------------------------------------------------
# Slices and surfaces
# ---------------------------------------------------------------------------------------------

@dataclass
class LossSlice1D(Result):
    """L(θ + αd) on a grid of α.

    Attributes:
        alphas: the grid (float64).
        loss: L(θ + α_i d), one value per α.
        metric: the metric on the same grid (None without ``metric=``).
        metric_name: its name.
        direction: d, a pytree like the parameters (not in ``to_dict``).
    """
    alphas: np.ndarray
    loss: np.ndarray
    metric: np.ndarray | None = None
    metric_name: str | None = None
    direction: Any = field(default=None, repr=False)


@dataclass
class LossSurface2D(Result):
    """L(θ + αd₁ + βd₂) on a grid: ``loss[i, j]`` at (α_i, β_j) (for matplotlib,
    ``contour(alphas, betas, loss.T)``).

    Attributes:
        alphas, betas: the grids (float64).
        loss: array of shape (len(alphas), len(betas)).
        metric: the metric on the same grid (None without ``metric=``).
        metric_name: its name.
        cosine: d₁·d₂ / (‖d₁‖‖d₂‖) (random directions in many dimensions are nearly orthogonal).
        directions: (d₁, d₂), pytrees like the parameters (not in ``to_dict``).
    """
    alphas: np.ndarray
    betas: np.ndarray
    loss: np.ndarray
    cosine: float
    metric: np.ndarray | None = None
    metric_name: str | None = None
    directions: tuple = field(default=(), repr=False)


def loss_slice_1d(f: Any, params: Any = None, direction: Any = None, *,
                  alphas: Any = np.linspace(-1, 1, 21), seed: Any = 0, metric: Any = None,
                  normalization: str | None = "filter", ignore: str | None = "biasbn",
                  executor: Any = None, **data: Any) -> LossSlice1D:
    """The loss along a line through θ: L(θ + αd) for each α (Li et al. 2018 §3–4).

    Args:
        f: ``loss_fn(params)``, ``apply_fn(params, x)`` (with ``x``, ``y``, ``loss``) or a compiled
            Model (with ``x``, ``y``); see :func:`~nnmath.analysis.as_objective`.
        params: θ (default for a Model: ``model.params``).
        direction: d, a pytree like ``params`` or a flat vector (default:
            ``random_directions(params, normalization, ignore, seed)``).
        alphas: the grid of α.
        seed: for the random direction.
        metric: also evaluate a metric of the predictions: a name (``"accuracy"`` resolved from the
            loss and the shapes, as ``compile`` does), a Metric, or ``metric(y_true, y_pred)``
            (called on all data; its mean is taken).
        normalization, ignore: for the random direction (see :func:`random_directions`).
        executor: a ``concurrent.futures.Executor`` to evaluate the grid on (chunks of points;
            see :mod:`nnmath.distributed`); the result is bit-identical to the serial one.
        **data: ``x``, ``y``, ``sample_weight``, ``batch_size``, ``loss``, … for ``as_objective``.

    Returns:
        A :class:`LossSlice1D`.

    >>> import numpy as np, nnmath.numpy as mnp
    >>> s = loss_slice_1d(lambda p: mnp.sum(p ** 2), np.array([1.0, 0.0]),
    ...                   direction=np.array([1.0, 1.0]), alphas=[-1.0, 0.0, 1.0])
    >>> s.loss                          # (1 + α)² + α²
    array([1., 1., 5.])
    """
    obj = _objective_at(f, params, data)
    alphas = _grid(alphas, "alphas")
    if direction is None:
        direction = random_directions(obj.params, normalization, ignore, seed)
    d = _point(obj, direction, "direction")
    evaluate = _metric_evaluator(obj, metric, data)
    if executor is not None:
        loss, values = _grid_on(executor, "loss_slice_1d", f, params, data, metric,
                                ("slice", obj.flat, d), alphas, None)
        return LossSlice1D(alphas=alphas, loss=loss, metric=values,
                           metric_name=None if evaluate is None else evaluate.name,
                           direction=obj.unravel(d))
    loss = np.empty(alphas.size)
    values = None if evaluate is None else np.empty(alphas.size)
    for i, a in enumerate(alphas):
        theta = obj.flat + float(a) * d
        loss[i] = obj.value(theta)
        if evaluate is not None:
            values[i] = evaluate(theta)
    return LossSlice1D(alphas=alphas, loss=loss, metric=values,
                       metric_name=None if evaluate is None else evaluate.name,
                       direction=obj.unravel(d))


def loss_surface_2d(f: Any, params: Any = None, directions: Sequence | None = None, *,
                    alphas: Any = np.linspace(-1, 1, 21), betas: Any = None, seed: Any = 0,
                    metric: Any = None, normalization: str | None = "filter",
                    ignore: str | None = "biasbn", executor: Any = None,
                    **data: Any) -> LossSurface2D:
    """The loss on a plane through θ: L(θ + α d₁ + β d₂) on the grid α × β (Li et al. 2018).

    Args:
        f: ``loss_fn(params)``, ``apply_fn(params, x)`` or a compiled Model.
        params: θ (default for a Model: ``model.params``).
        directions: (d₁, d₂), pytrees like ``params`` or flat vectors (default: two
            ``random_directions(..., num=2)``).
        alphas, betas: the grids (``betas`` defaults to ``alphas``).
        seed, metric, normalization, ignore, executor, **data: as in :func:`loss_slice_1d`.

    Returns:
        A :class:`LossSurface2D` with ``loss`` of shape (len(alphas), len(betas)).

    >>> import numpy as np, nnmath.numpy as mnp
    >>> s = loss_surface_2d(lambda p: mnp.sum(p ** 2), np.zeros(2),
    ...                     directions=(np.array([1.0, 0.0]), np.array([0.0, 2.0])),
    ...                     alphas=[0.0, 1.0], betas=[0.0, 1.0])
    >>> s.loss                          # α² + 4β²
    array([[0., 4.],
           [1., 5.]])
    """
    obj = _objective_at(f, params, data)
    alphas = _grid(alphas, "alphas")
    betas = alphas if betas is None else _grid(betas, "betas")
    if directions is None:
        directions = random_directions(obj.params, normalization, ignore, seed, num=2)
    pair = isinstance(directions, (list, tuple))
    if not pair or len(directions) != 2:
        raise ValueError(f"directions must be a pair (d1, d2) of pytrees like the parameters, got "
                         f"a {type(directions).__name__}"
                         f"{f' of length {len(directions)}' if pair else ''}")
    d1, d2 = (_point(obj, d, f"directions[{k}]") for k, d in enumerate(directions))
    n1, n2 = float(np.linalg.norm(d1)), float(np.linalg.norm(d2))
    cosine = float(np.dot(d1, d2) / (n1 * n2)) if n1 > 0 and n2 > 0 else float("nan")
    evaluate = _metric_evaluator(obj, metric, data)
    if executor is not None:
        loss, values = _grid_on(executor, "loss_surface_2d", f, params, data, metric,
                                ("surface", obj.flat, d1, d2), alphas, betas)
        return LossSurface2D(alphas=alphas, betas=betas, loss=loss, cosine=cosine, metric=values,
                             metric_name=None if evaluate is None else evaluate.name,
                             directions=(obj.unravel(d1), obj.unravel(d2)))
    loss = np.empty((alphas.size, betas.size))
    values = None if evaluate is None else np.empty_like(loss)
    for i, a in enumerate(alphas):
        row = obj.flat + float(a) * d1
        for j, b in enumerate(betas):
            theta = row + float(b) * d2
            loss[i, j] = obj.value(theta)
            if evaluate is not None:
                values[i, j] = evaluate(theta)
    return LossSurface2D(alphas=alphas, betas=betas, loss=loss, cosine=cosine, metric=values,
                         metric_name=None if evaluate is None else evaluate.name,
                         directions=(obj.unravel(d1), obj.unravel(d2)))


# ---------------------------------------------------------------------------------------------
# Linear interpolation between two solutions
# ---------------------------------------------------------------------------------------------

@dataclass
class LinearInterpolation(Result):
    """L((1−α)θ_a + αθ_b) on a grid of α, and the path's barrier.

    Attributes:
        alphas: the grid (α = 0 is θ_a, α = 1 is θ_b).
        loss: the loss at each α.
        loss_a, loss_b: L(θ_a), L(θ_b).
        barrier: max_{α∈[0,1]} L − ½(L(θ_a) + L(θ_b)) over the grid's points in [0, 1] and the
            endpoints (Frankle et al. 2020); ≥ 0.
        barrier_alpha: where the maximum is.
        metric, metric_name: the metric on the grid (None without ``metric=``).
        metric_a, metric_b: the metric at the endpoints.
        metric_barrier: the metric's barrier: for a metric where bigger is better (accuracy)
            ½(m_a + m_b) − min, else max − ½(m_a + m_b); None when the direction is unknown
            (a plain function).
    """
    alphas: np.ndarray
    loss: np.ndarray
    loss_a: float
    loss_b: float
    barrier: float
    barrier_alpha: float
    metric: np.ndarray | None = None
    metric_name: str | None = None
    metric_a: float | None = None
    metric_b: float | None = None
    metric_barrier: float | None = None


def linear_interpolation(f: Any, params_a: Any, params_b: Any, *, num: int = 21,
                         alphas: Any = None, metric: Any = None, executor: Any = None,
                         **data: Any) -> LinearInterpolation:
    """The loss on the straight line between two solutions, L((1−α)θ_a + αθ_b)
    (Goodfellow, Vinyals & Saxe 2015), with its barrier height (Frankle et al. 2020).

    Args:
        f: ``loss_fn(params)``, ``apply_fn(params, x)`` or a compiled Model.
        params_a, params_b: θ_a and θ_b, pytrees of the same structure, flat vectors, or Models
            (their ``params``); ``params_a=None`` with a Model is ``model.params``.
        num: the number of evenly spaced α in [0, 1] (when ``alphas`` is not given).
        alphas: the grid of α (may reach beyond [0, 1]; the barrier uses the part inside).
        metric, executor: as in :func:`loss_slice_1d`.
        **data: ``x``, ``y``, ``loss``, … (see :func:`loss_slice_1d`).

    Returns:
        A :class:`LinearInterpolation`.

    References:
        Goodfellow, Vinyals & Saxe (2015), "Qualitatively characterizing neural network
        optimization problems", ICLR. Frankle, Dziugaite, Roy & Carbin (2020), "Linear mode
        connectivity and the lottery ticket hypothesis", ICML.

    >>> import numpy as np, nnmath.numpy as mnp
    >>> double_well = lambda p: mnp.sum((p ** 2 - 1.0) ** 2)
    >>> r = linear_interpolation(double_well, np.array([-1.0]), np.array([1.0]), num=5)
    >>> r.loss, r.barrier, r.barrier_alpha
    (array([0.    , 0.5625, 1.    , 0.5625, 0.    ]), 1.0, 0.5)
    """
    obj = _objective_at(f, params_a, data)
    if alphas is None:
        alphas = np.linspace(0.0, 1.0, _count(num, "num", 2))
    alphas = _grid(alphas, "alphas")
    wa, wb = obj.flat, _point(obj, params_b, "params_b")
    evaluate = _metric_evaluator(obj, metric, data)
    if executor is not None:
        loss, values = _grid_on(executor, "linear_interpolation", f, params_a, data, metric,
                                ("line", wa, wb), alphas, None)
    else:
        loss = np.empty(alphas.size)
        values = None if evaluate is None else np.empty(alphas.size)
        for i, a in enumerate(alphas):
            theta = (1.0 - float(a)) * wa + float(a) * wb
            loss[i] = obj.value(theta)
            if evaluate is not None:
                values[i] = evaluate(theta)
    la, lb = obj.value(wa), obj.value(wb)
    barrier, where = _barrier(alphas, loss, la, lb)
    result = LinearInterpolation(alphas=alphas, loss=loss, loss_a=la, loss_b=lb, barrier=barrier,
                                 barrier_alpha=where, metric=values)
    if evaluate is not None:
        result.metric_name = evaluate.name
        result.metric_a, result.metric_b = evaluate(wa), evaluate(wb)
        if evaluate.direction in ("up", "down"):
            result.metric_barrier = _barrier(alphas, values, result.metric_a, result.metric_b,
                                             up=evaluate.direction == "up")[0]
    return result


# ---------------------------------------------------------------------------------------------
# Grids on an executor (see _executor): chunks of points, each computed as the serial loop does
# ---------------------------------------------------------------------------------------------

def _grid_setup(context: tuple) -> tuple:
    f, params, data, metric, path, alphas, betas = context
    obj = _objective_at(f, params, data)
    return obj, _metric_evaluator(obj, metric, data), path, alphas, betas


def _grid_point(path: tuple, a: float, b: float | None) -> np.ndarray:
    """θ at grid point (α, β), by the serial loops' expressions (bit for bit)."""
    kind = path[0]
    if kind == "slice":
        return path[1] + a * path[2]
    if kind == "surface":
        return (path[1] + a * path[2]) + b * path[3]
    return (1.0 - a) * path[1] + a * path[2]


def _grid_work(state: tuple, points: range) -> tuple[list, list | None]:
    obj, evaluate, path, alphas, betas = state
    losses, values = [], None if evaluate is None else []
    width = 1 if betas is None else betas.size
    for k in points:
        i, j = divmod(k, width)
        theta = _grid_point(path, float(alphas[i]), None if betas is None else float(betas[j]))
        losses.append(obj.value(theta))
        if evaluate is not None:
            values.append(evaluate(theta))
    return losses, values


def _grid_on(executor: Any, who: str, f: Any, params: Any, data: dict, metric: Any,
             path: tuple, alphas: np.ndarray, betas: np.ndarray | None):
    """(loss, metric) on the grid, its points in contiguous chunks on ``executor``."""
    shape = (alphas.size,) if betas is None else (alphas.size, betas.size)
    total = int(np.prod(shape))
    parts = _executor.run_jobs(executor, _grid_setup, _grid_work,
                               (f, params, data, metric, path, alphas, betas),
                               _executor.split(total, executor), who)
    loss = np.array([v for p in parts for v in p[0]], dtype=np.float64).reshape(shape)
    values = None if metric is None else np.array(
        [v for p in parts for v in p[1]], dtype=np.float64).reshape(shape)
    return loss, values


# ---------------------------------------------------------------------------------------------
# Training trajectories
# ---------------------------------------------------------------------------------------------

@dataclass
class TrajectoryPCA(Result):
    """The principal directions of a trajectory's displacements from its final point.

    Attributes:
        explained_variance_ratio: σ_k² / Σ_i σ_i² for the kept components (sklearn's
            ``explained_variance_ratio_``).
        singular_values: σ_k of the (centred) displacement matrix, kept components.
        coordinates: (θ_i − θ_final) · u_k, shape (len(trajectory), n_components): where each
            checkpoint lies in the plane of the directions, θ_final at the origin.
        directions: u_k as pytrees like the parameters, orthonormal as flat vectors (pass them to
            :func:`loss_surface_2d`; not in ``to_dict``).
    """
    explained_variance_ratio: np.ndarray
    singular_values: np.ndarray
    coordinates: np.ndarray
    directions: list = field(default_factory=list, repr=False)


def trajectory_pca(trajectory: Any, final: Any = None, n_components: int = 2, *,
                   center: bool = True) -> TrajectoryPCA:
    """PCA of a training trajectory (Li et al. 2018 §6): the top principal directions of
    M = [θ_0 − θ_n; …; θ_{n−1} − θ_n], and each checkpoint's coordinates in them.

    M's rows are the displacements θ_i − θ_final (without the final point itself when it is the
    trajectory's last entry, as in the paper); with ``center`` (default, what PCA — and Li et al.'s
    code through sklearn — does) their mean is subtracted before the SVD M = U Σ Vᵀ. The
    directions are the top rows of Vᵀ; the explained variance ratio is σ_k² / Σ σ_i²; the
    coordinates are the *uncentred* displacements projected, (θ_i − θ_final)·u_k, so the final
    point is the origin of a plot made with :func:`loss_surface_2d` (``directions=r.directions``,
    ``params=final``). Each direction's sign is chosen so that the first checkpoint's coordinate is
    ≥ 0 (an SVD fixes directions only up to sign).

    Args:
        trajectory: a list of parameter pytrees (or flat vectors) in training order, or a
            :class:`TrajectoryRecorder`.
        final: θ_final (default: the last entry of ``trajectory``).
        n_components: how many directions to keep (≤ the number of displacements and of
            parameters).
        center: subtract the displacements' mean before the SVD.

    Returns:
        A :class:`TrajectoryPCA`.

    >>> import numpy as np
    >>> path = [np.array([4.0, 2.0, 0.0]), np.array([2.0, 1.0, 0.0]), np.zeros(3)]
    >>> r = trajectory_pca(path, n_components=1)
    >>> r.explained_variance_ratio, np.round(r.coordinates[:, 0] ** 2, 6)
    (array([1.]), array([20.,  5.,  0.]))
    >>> bool(r.coordinates[0, 0] > 0)
    True
    """
    if isinstance(trajectory, TrajectoryRecorder):
        trajectory = trajectory.trajectory
    if not isinstance(trajectory, (list, tuple)) or not trajectory:
        raise ValueError(f"trajectory must be a non-empty list of parameter pytrees, got "
                         f"{type(trajectory).__name__}")
    flats, unravel, structure = [], None, None
    for k, theta in enumerate(list(trajectory) + ([] if final is None else [final])):
        what = "final" if k == len(trajectory) else f"trajectory[{k}]"
        theta = _tree_of(theta, what)
        leaves, treedef = tree_flatten(theta)
        shapes = [np.shape(leaf) for leaf in leaves]
        if structure is None:
            structure = (treedef, shapes)
            flat, unravel = ravel_pytree(theta)
        elif (treedef, shapes) != structure:
            raise ValueError(f"{what} has structure {treedef!r} with shapes {shapes}; "
                             f"trajectory[0] has {structure[0]!r} with shapes {structure[1]}")
        else:
            flat = ravel_pytree(theta)[0]
        flat = np.asarray(flat)
        if flat.dtype.kind != "f":
            raise TypeError(f"{what} must be floating point, got dtype {flat.dtype}")
        flats.append(flat)
    if final is None:
        final_flat, rows = flats[-1], flats[:-1]
    else:
        final_flat, rows, flats = flats[-1], flats[:-1], flats[:-1]
    if not rows:
        raise ValueError("trajectory needs at least 2 points (or 1 and final=...)")
    disp = np.stack(rows) - final_flat
    limit = min(disp.shape[0] - (1 if center else 0), disp.shape[1])
    n_components = _count(n_components, "n_components", 1)
    if n_components > limit:
        raise ValueError(f"n_components={n_components} exceeds the {limit} available from "
                         f"{disp.shape[0]} displacements of {disp.shape[1]} parameters"
                         f"{' (centring removes one)' if center else ''}")
    m = disp - disp.mean(axis=0) if center else disp
    _, s, vt = np.linalg.svd(m, full_matrices=False)
    total = float(np.sum(s ** 2))
    if total == 0:
        raise ValueError("the trajectory does not move (all displacements are equal): no "
                         "principal directions")
    comps = vt[:n_components]
    coords = (np.stack(flats) - final_flat) @ comps.T
    signs = np.where(coords[0] < 0, -1, 1).astype(comps.dtype)    # the start at coordinates ≥ 0
    comps, coords = comps * signs[:, None], coords * signs
    return TrajectoryPCA(explained_variance_ratio=s[:n_components] ** 2 / total,
                         singular_values=s[:n_components], coordinates=coords,
                         directions=[unravel(c) for c in comps])


class TrajectoryRecorder(Callback):
    """A callback that keeps copies of ``model.params`` during ``fit``, for
    :func:`trajectory_pca` (Li et al. 2018 §6).

    Args:
        every: record after every ``every``-th epoch (and after the last one).
        include_initial: also record the weights before the first epoch.

    Attributes:
        trajectory: the recorded parameter pytrees (copies), in order.
        epochs: the number of epochs completed at each record (0 = the initial weights).

    >>> import numpy as np, nnmath.keras as keras
    >>> model = keras.Sequential([keras.layers.Dense(1, input_dim=2, dtype="float64")])
    >>> model.compile(optimizer="sgd", loss="mse")
    >>> rec = TrajectoryRecorder()
    >>> _ = model.fit(np.ones((4, 2)), np.ones((4, 1)), epochs=3, verbose=0, callbacks=[rec])
    >>> rec.epochs
    [0, 1, 2, 3]
    """

    def __init__(self, every: int = 1, include_initial: bool = True):
        super().__init__()
        self.every = _count(every, "every", 1)
        self.include_initial = bool(include_initial)
        self.trajectory: list = []
        self.epochs: list[int] = []
        self._completed = 0

    def _record(self) -> None:
        self.trajectory.append(tree_map(np.array, self.model.params))
        self.epochs.append(self._completed)

    def on_train_begin(self, logs=None):
        if self.include_initial and not self.trajectory:
            self._record()

    def on_epoch_end(self, epoch, logs=None):
        self._completed += 1
        if self._completed % self.every == 0:
            self._record()

    def on_train_end(self, logs=None):
        if not self.epochs or self.epochs[-1] != self._completed:
            self._record()


# ---------------------------------------------------------------------------------------------
# Mode connectivity: quadratic Bézier curves
# ---------------------------------------------------------------------------------------------

def _bezier(w1: np.ndarray, theta: np.ndarray, w2: np.ndarray, t: float) -> np.ndarray:
    # φ(t) = (1−t)² w₁ + 2t(1−t) θ + t² w₂
    return (1.0 - t) ** 2 * w1 + 2.0 * t * (1.0 - t) * theta + t ** 2 * w2


def _bezier_value_and_grad(obj: Objective, w1: np.ndarray, theta: np.ndarray, w2: np.ndarray,
                           t: float) -> tuple[float, np.ndarray]:
    # ∂L(φ(t))/∂θ = 2t(1−t) ∇L(φ(t))   (the chain rule: ∂φ/∂θ = 2t(1−t) I)
    value, g = obj.value_and_grad_flat(_bezier(w1, theta, w2, t))
    return value, (2.0 * t * (1.0 - t)) * g


def bezier_point(params_a: Any, control: Any, params_b: Any, t: float) -> Any:
    """The point φ(t) = (1−t)² θ_a + 2t(1−t) θ_c + t² θ_b of a quadratic Bézier curve, as a pytree
    (Garipov et al. 2018).

    >>> import numpy as np
    >>> bezier_point(np.array([-1.0, 0.0]), np.array([0.0, 2.0]), np.array([1.0, 0.0]), 0.5)
    array([0., 1.])
    """
    t = float(t)
    return tree_map(lambda a, c, b: _bezier(a, c, b, t), _tree_of(params_a, "params_a"),
                    _tree_of(control, "control"), _tree_of(params_b, "params_b"))


def loss_along_bezier(f: Any, params_a: Any, control: Any, params_b: Any,
                      ts: Any = np.linspace(0, 1, 21), **data: Any) -> np.ndarray:
    """L(φ(t)) along the quadratic Bézier curve φ(t) = (1−t)² θ_a + 2t(1−t) θ_c + t² θ_b
    (Garipov et al. 2018).

    Args:
        f: ``loss_fn(params)``, ``apply_fn(params, x)`` or a compiled Model.
        params_a, control, params_b: θ_a, θ_c, θ_b (pytrees of one structure, flat vectors or
            Models).
        ts: the values of t.
        **data: ``x``, ``y``, ``loss``, … (see :func:`loss_slice_1d`).

    Returns:
        The losses, one per t (float64).

    >>> import numpy as np, nnmath.numpy as mnp
    >>> loss_along_bezier(lambda p: mnp.sum(p ** 2), np.array([-1.0]), np.array([0.0]),
    ...                   np.array([1.0]), ts=[0.0, 0.5, 1.0])
    array([1., 0., 1.])
    """
    obj = _objective_at(f, params_a, data)
    ts = _grid(ts, "ts")
    w1, theta, w2 = obj.flat, _point(obj, control, "control"), _point(obj, params_b, "params_b")
    return np.array([obj.value(_bezier(w1, theta, w2, float(t))) for t in ts])


@dataclass
class BezierCurve(Result):
    """A trained quadratic Bézier curve between two solutions.

    Attributes:
        train_losses: L(φ(t_k)) at the random t_k of each training step.
        ts: the grid of t the curve was evaluated on.
        loss: L(φ(t)) on ``ts``.
        loss_a, loss_b: the endpoints' losses.
        barrier: the curve's barrier, max_t L(φ(t)) − ½(L(θ_a) + L(θ_b)) on the grid.
        linear_loss: the straight line's loss L((1−t)θ_a + tθ_b) on the same grid.
        linear_barrier: the straight line's barrier.
        control: the trained control point θ_c, a pytree like the parameters (not in
            ``to_dict``).
    """
    train_losses: np.ndarray
    ts: np.ndarray
    loss: np.ndarray
    loss_a: float
    loss_b: float
    barrier: float
    linear_loss: np.ndarray
    linear_barrier: float
    control: Any = field(default=None, repr=False)


def _optimizer(optimizer: Any, learning_rate: float | None):
    from .. import optimizers as optim
    if optimizer is None:
        return optim.adam(1e-2 if learning_rate is None else learning_rate)
    if learning_rate is not None:
        raise ValueError("pass learning_rate or optimizer, not both (the optimizer carries its "
                         "own learning rate)")
    if isinstance(optimizer, optim.GradientTransformation):
        return optimizer
    if isinstance(optimizer, (str, optim.Optimizer)):
        return optim.get(optimizer).transform
    raise TypeError(f"optimizer must be a GradientTransformation (e.g. "
                    f"nnmath.optimizers.adam(1e-2)), a Keras-style optimizer or its name, got "
                    f"{type(optimizer).__name__}")


def fit_bezier_curve(f: Any, params_a: Any, params_b: Any, *, num_steps: int = 200,
                     learning_rate: float | None = None, optimizer: Any = None, seed: Any = 0,
                     init: Any = None, num_points: int = 21, **data: Any) -> BezierCurve:
    """Train the control point θ_c of a quadratic Bézier curve between two solutions so that the
    whole curve has low loss (Garipov et al. 2018, "mode connectivity").

    φ(t) = (1−t)² θ_a + 2t(1−t) θ_c + t² θ_b with the endpoints fixed; θ_c minimises
    E_{t∼U[0,1]} L(φ(t)) by stochastic gradient steps, a fresh t per step, with gradient
    ∂L(φ(t))/∂θ_c = 2t(1−t) ∇L(φ(t)). Each step's loss is over all the data (summed batch by
    batch); the paper draws a data minibatch too.

    Args:
        f: ``loss_fn(params)``, ``apply_fn(params, x)`` or a compiled Model.
        params_a, params_b: the endpoints θ_a, θ_b (pytrees of one structure, flat vectors or
            Models; ``params_a=None`` with a Model is ``model.params``).
        num_steps: the number of optimisation steps.
        learning_rate: for the default optimizer, ``nnmath.optimizers.adam`` (default 1e-2).
        optimizer: an ``(init, update)`` GradientTransformation (``nnmath.optimizers``), or a
            Keras-style optimizer or name (its pure ``transform``); not with ``learning_rate``.
        seed: for the draws of t (int or Generator).
        init: the initial control point (default the midpoint ½(θ_a + θ_b), the straight line).
        num_points: the size of the t grid the result evaluates the curve and the line on.
        **data: ``x``, ``y``, ``loss``, … (see :func:`loss_slice_1d`).

    Returns:
        A :class:`BezierCurve` (``control`` is the trained θ_c).

    References:
        Garipov, Izmailov, Podoprikhin, Vetrov & Wilson (2018), "Loss surfaces, mode
        connectivity, and fast ensembling of DNNs", NeurIPS.

    >>> import numpy as np, nnmath.numpy as mnp
    >>> valley = lambda p: (p[1] - (1 - p[0] ** 2)) ** 2 + 0.01 * (p[0] ** 2 - 1) ** 2
    >>> r = fit_bezier_curve(valley, np.array([-1.0, 0.0]), np.array([1.0, 0.0]),
    ...                      num_steps=300, learning_rate=0.1)
    >>> bool(r.barrier < 0.05 < 1.0 < r.linear_barrier)
    True
    """
    obj = _objective_at(f, params_a, data)
    num_steps = _count(num_steps, "num_steps", 0)
    num_points = _count(num_points, "num_points", 2)
    w1, w2 = obj.flat, _point(obj, params_b, "params_b")
    theta = (0.5 * (w1 + w2)).astype(obj.dtype) if init is None else _point(obj, init, "init")
    from ..optimizers import apply_updates
    opt = _optimizer(optimizer, learning_rate)
    state = opt.init(theta)
    rng = as_generator(seed)
    train_losses = np.empty(num_steps)
    for k in range(num_steps):
        t = float(rng.uniform())
        train_losses[k], g = _bezier_value_and_grad(obj, w1, theta, w2, t)
        updates, state = opt.update(g, state, theta)
        theta = np.asarray(apply_updates(theta, updates))
    ts = np.linspace(0.0, 1.0, num_points)
    loss = np.array([obj.value(_bezier(w1, theta, w2, float(t))) for t in ts])
    line = np.array([obj.value((1.0 - float(t)) * w1 + float(t) * w2) for t in ts])
    la, lb = float(loss[0]), float(loss[-1])
    return BezierCurve(train_losses=train_losses, ts=ts, loss=loss, loss_a=la, loss_b=lb,
                       barrier=_barrier(ts, loss, la, lb)[0], linear_loss=line,
                       linear_barrier=_barrier(ts, line, la, lb)[0], control=obj.unravel(theta))
