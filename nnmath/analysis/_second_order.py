"""Second-order steps for small problems: Newton, damped Gauss–Newton and the natural gradient,
as Optax-style ``(init, update)`` transforms whose ``update`` also takes the Objective (the loss
and its curvature products), and a Keras-style optimizer that ``compile`` accepts.

Every step is u = −η (C + λI)⁻¹ g with C a curvature matrix at θ known by its products (never
stored unless ``solver="dense"``):

* Newton: C = H = ∇²L(θ); on a quadratic with η = 1, λ = 0 it lands on the minimiser in one step.
  H may be indefinite (a saddle attracts Newton): the default solver is MINRES (Paige & Saunders
  1975), which handles symmetric indefinite systems.
* Gauss–Newton: C = G = Jᵀ H_ℓ J, the generalised Gauss–Newton matrix (Schraudolph 2002), PSD for
  convex losses; with λ > 0 it is Levenberg–Marquardt's damped step (Levenberg 1944; Marquardt
  1963). Solved by conjugate gradients (Hestenes & Stiefel 1952) as in Hessian-free
  optimisation (Martens 2010).
* natural gradient (Amari 1998): C = F, the Fisher information (``fisher="true"``: the model's
  predictive distribution, = G for cross-entropies and MSE; ``"empirical"``: the observed
  targets' outer products, Kunstner et al. 2019 on why it is not a substitute), damped and solved
  by CG (Martens 2014, "New insights and perspectives on the natural gradient method").

The training loop of ``compile``/``fit`` hands its optimizer only the flat gradient, so
:class:`CurvatureOptimizer` binds a transform to a model and a curvature batch (its own
Objective); ``model.compile(optimizer=CurvatureOptimizer(newton(), model, x, y), loss=...)``.
"""
from __future__ import annotations

import numbers
import warnings
from typing import Any, Callable, NamedTuple

import numpy as np
from scipy.sparse.linalg import LinearOperator, cg, minres

from .._ravel import ravel_pytree
from ..optimizers.keras import Optimizer
from ._objective import Objective, as_objective

__all__ = ["SecondOrderState", "SecondOrderTransformation", "newton", "gauss_newton",
           "natural_gradient", "CurvatureOptimizer"]

CURVATURES = ("hessian", "ggn", "fisher_true", "fisher_empirical")
SOLVERS = ("cg", "minres", "dense")


class SecondOrderState(NamedTuple):
    """count: updates made; solver_iterations: the last solve's iterations (0 for dense)."""
    count: int
    solver_iterations: int


def _product(obj: Objective, curvature: str, theta: np.ndarray) -> Callable:
    if curvature == "hessian":
        return lambda v: obj.hvp_flat(v, theta)
    if curvature == "fisher_empirical":
        return lambda v: obj.empirical_fisher_vp_flat(v, theta)
    obj._need_outputs(f"the {curvature.replace('_', ' ')} step")
    if curvature == "fisher_true" and obj._expected_targets is None:
        raise ValueError("natural_gradient(fisher='true') needs a negative log-likelihood loss "
                         "with a known predictive distribution (categorical or sparse "
                         "categorical cross-entropy, binary cross-entropy, mean squared error); "
                         "use fisher='empirical' for other losses")
    expected = curvature == "fisher_true"
    return lambda v: obj.ggn_vp_flat(v, theta, expected=expected)


def solve_damped(obj: Objective, curvature: str, theta: np.ndarray, g: np.ndarray,
                 damping: float, solver: str, tol: float, maxiter: int | None,
                 who: str) -> tuple[np.ndarray, int]:
    """d = (C(θ) + λI)⁻¹ g and the solver's iteration count."""
    product = _product(obj, curvature, theta)
    n = g.size
    if solver == "dense":
        C = np.column_stack([product(e) for e in np.eye(n, dtype=g.dtype)])
        C = (C + C.T) / 2 + damping * np.eye(n, dtype=g.dtype)
        try:
            return np.linalg.solve(C, g), 0
        except np.linalg.LinAlgError:
            raise ValueError(f"{who}: the damped curvature matrix is singular; use damping > 0")
    count = [0]

    def matvec(v):
        count[0] += 1
        return product(np.asarray(v, g.dtype).reshape(-1)) + damping * v.reshape(-1)
    op = LinearOperator((n, n), matvec=matvec, dtype=g.dtype)
    if solver == "cg":
        d, info = cg(op, g, rtol=tol, maxiter=maxiter)
    else:
        d, info = minres(op, g, rtol=tol, maxiter=maxiter)
    if info > 0:
        warnings.warn(f"{who}: {solver} did not reach rtol={tol:g} in {count[0]} products; "
                      f"the step is approximate", RuntimeWarning, stacklevel=4)
    elif info < 0:
        raise ValueError(f"{who}: {solver} failed (info={info}): the damped curvature is not "
                         f"suitable for {solver} (indefinite for cg?); try solver='minres' or "
                         f"damping > 0")
    return np.asarray(d, g.dtype), count[0]


class SecondOrderTransformation(NamedTuple):
    """A second-order optimizer: ``init(params) -> state`` and
    ``update(grads, state, params, *, objective) -> (updates, state)``, where ``objective`` gives
    the curvature at ``params`` (an :class:`~nnmath.analysis.Objective`, or anything
    :func:`~nnmath.analysis.as_objective` takes with ``params``). ``grads`` and ``params`` are
    pytrees like the Objective's parameters or flat vectors; the updates come back in the same
    form as ``params``. ``step(f, params, state)`` does gradient, solve and update at once."""

    init: Callable[[Any], SecondOrderState]
    update: Callable[..., tuple[Any, SecondOrderState]]
    name: str
    curvature: str
    learning_rate: float
    damping: float

    def step(self, f: Any, params: Any, state: SecondOrderState | None = None,
             **data: Any) -> tuple[Any, SecondOrderState, float]:
        """One step on ``f`` (an Objective, or a form :func:`as_objective` takes with ``data``):
        returns (new params, new state, the loss before the step)."""
        obj = f if isinstance(f, Objective) else as_objective(f, params, **data)
        state = self.init(params) if state is None else state
        value, g = obj.value_and_grad_flat(params)
        updates, state = self.update(g, state, params, objective=obj)
        if isinstance(params, np.ndarray) and params.ndim == 1:
            return params + updates, state, value
        new = obj.unravel(obj._vec(params, "params") + obj._vec(updates, "updates"))
        return new, state, value


def _make(name: str, curvature: str, learning_rate: float, damping: float, solver: str,
          tol: float, maxiter: int | None) -> SecondOrderTransformation:
    for arg, v in (("learning_rate", learning_rate), ("damping", damping), ("tol", tol)):
        if not (isinstance(v, numbers.Real) and v >= 0 and np.isfinite(v)):
            raise ValueError(f"{name}: {arg} must be a finite number ≥ 0, got {v!r}")
    if solver not in SOLVERS:
        raise ValueError(f"{name}: solver must be one of {SOLVERS}, got {solver!r}")
    if solver == "cg" and curvature == "hessian" and damping == 0:
        warnings.warn(f"{name}: conjugate gradients need a positive definite matrix; the "
                      f"Hessian may be indefinite (use solver='minres')", UserWarning,
                      stacklevel=3)

    def init(params: Any) -> SecondOrderState:
        return SecondOrderState(count=0, solver_iterations=0)

    def update(grads: Any, state: SecondOrderState, params: Any = None, *,
               objective: Any = None) -> tuple[Any, SecondOrderState]:
        if objective is None or params is None:
            raise TypeError(f"{name}: update needs params and objective= (the loss whose "
                            f"curvature it uses, e.g. as_objective(loss_fn, params)); the "
                            f"training loop's plain (grads, state, params) is not enough — "
                            f"use CurvatureOptimizer for compile")
        obj = objective if isinstance(objective, Objective) else as_objective(objective, params)
        theta = obj._vec(params, "params")
        g = obj._vec(grads, "grads")
        d, its = solve_damped(obj, curvature, theta, g, float(damping), solver, float(tol),
                              maxiter, name)
        u = -learning_rate * d
        flat_in = isinstance(params, np.ndarray) and params.ndim == 1
        return (u if flat_in else obj.unravel(u)), SecondOrderState(state.count + 1, its)

    return SecondOrderTransformation(init, update, name, curvature, float(learning_rate),
                                     float(damping))


def newton(learning_rate: float = 1.0, damping: float = 0.0, *, solver: str = "minres",
           tol: float = 1e-10, maxiter: int | None = None) -> SecondOrderTransformation:
    """Newton's method: u = −η (H + λI)⁻¹ ∇L(θ), H = ∇²L(θ) by Hessian-vector products.

    With η = 1, λ = 0 it minimises a strictly convex quadratic in one step (Nocedal & Wright 2006,
    §3.3); near a non-degenerate minimum it converges quadratically. λ > 0 is the damped
    (Levenberg-regularised) Newton step; on an indefinite H the undamped step heads for saddles.

    Args:
        learning_rate: η (1 is the pure Newton step).
        damping: λ ≥ 0.
        solver: "minres" (default: symmetric, possibly indefinite), "cg" or "dense" (P × P).
        tol, maxiter: the iterative solver's relative residual tolerance and iteration cap.

    >>> import numpy as np, nnmath.numpy as mnp
    >>> loss = lambda w: (w[0] - 1.0) ** 2 + 10 * (w[1] + 2.0) ** 2
    >>> new, state, _ = newton().step(loss, np.zeros(2))
    >>> np.round(new, 8)
    array([ 1., -2.])
    """
    return _make("newton", "hessian", learning_rate, damping, solver, tol, maxiter)


def gauss_newton(learning_rate: float = 1.0, damping: float = 1e-3, *, solver: str = "cg",
                 tol: float = 1e-10, maxiter: int | None = None) -> SecondOrderTransformation:
    """Damped Gauss–Newton (Levenberg–Marquardt): u = −η (G + λI)⁻¹ ∇L(θ), G = Jᵀ H_ℓ J.

    For least squares L = (1/N)Σᵢ‖rᵢ(θ)‖² (``loss="mse"``) G = (2/N)JᵀJ and the step is
    −(JᵀJ + (N/2)λI)⁻¹Jᵀr. G needs the model's outputs: a compiled Model with x, y, or
    ``apply_fn`` with x, y and loss.

    Args:
        learning_rate: η. damping: λ ≥ 0 (Levenberg 1944; Marquardt 1963).
        solver: "cg" (default; G is PSD), "minres" or "dense". tol, maxiter: as in :func:`newton`.

    >>> import numpy as np
    >>> X = np.array([[1.0, 0.0], [1.0, 1.0], [1.0, 2.0]]); Y = np.array([1.0, 3.0, 5.0])
    >>> new, _, _ = gauss_newton(damping=0.0).step(lambda w, x: x @ w, np.zeros(2), x=X, y=Y,
    ...                                              loss="mse")
    >>> np.round(new, 8)                                 # linear least squares: one step
    array([1., 2.])
    """
    return _make("gauss_newton", "ggn", learning_rate, damping, solver, tol, maxiter)


def natural_gradient(learning_rate: float = 1.0, damping: float = 1e-3, *, fisher: str = "true",
                     solver: str = "cg", tol: float = 1e-10,
                     maxiter: int | None = None) -> SecondOrderTransformation:
    """The natural gradient (Amari 1998): u = −η (F + λI)⁻¹ ∇L(θ), the steepest descent of L in
    the metric of the KL divergence between the model's predictive distributions,
    KL(p_θ ‖ p_{θ+δ}) ≈ ½δᵀFδ. F v by Fisher-vector products, the damped system by conjugate
    gradients (Martens 2014).

    ``fisher="true"``: F = E_x E_{y∼p_θ(y|x)}[∇log p ∇log pᵀ] (categorical, Bernoulli and Gaussian
    likelihoods: cross-entropies and MSE); ``"empirical"``: the observed targets' (1/N)Σ∇sᵢ∇sᵢᵀ.

    Args:
        learning_rate: η. damping: λ ≥ 0. fisher: "true" or "empirical".
        solver, tol, maxiter: as in :func:`gauss_newton`.

    >>> import numpy as np
    >>> X = np.eye(2); Y = np.array([1.0, 2.0])        # Gaussian mean, MSE: F = diag(1, 1)
    >>> opt = natural_gradient(damping=0.0)
    >>> u, _ = opt.update(np.array([-1.0, -2.0]), opt.init(None), np.zeros(2),
    ...                   objective=as_objective(lambda w, x: x @ w, np.zeros(2), x=X, y=Y,
    ...                                          loss="mse"))
    >>> u
    array([1., 2.])
    """
    if fisher not in ("true", "empirical"):
        raise ValueError(f"natural_gradient: fisher must be 'true' or 'empirical', got "
                         f"{fisher!r}")
    return _make("natural_gradient", f"fisher_{fisher}", learning_rate, damping, solver, tol,
                 maxiter)


class CurvatureOptimizer(Optimizer):
    """A :class:`SecondOrderTransformation` as a Keras-style optimizer for ``compile``/``fit``.

    The training loop passes only the flat gradient (of the current batch, training mode); the
    curvature comes from this optimizer's own Objective — the compiled loss on the curvature batch
    ``x``, ``y`` (inference mode, as :func:`~nnmath.analysis.as_objective` of the model) at the
    current weights. For full-batch training pass the training data. The model's flat buffer
    (layer by layer) and the Objective's vector (``ravel_pytree``, keys sorted) are matched by a
    permutation found once.

    Args:
        transform: :func:`newton`, :func:`gauss_newton` or :func:`natural_gradient`.
        model: the model being compiled.
        x, y, sample_weight, batch_size: the curvature batch (see ``as_objective``).

    >>> import numpy as np
    >>> from nnmath import keras
    >>> keras.utils.set_random_seed(0)
    >>> model = keras.Sequential([keras.layers.Dense(1, input_shape=(2,), dtype="float64")])
    >>> x = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]); y = x @ [[2.0], [-1.0]] + 0.5
    >>> model.compile(optimizer=CurvatureOptimizer(gauss_newton(damping=0.0), model, x, y),
    ...               loss="mse")
    >>> h = model.fit(x, y, epochs=1, batch_size=3, verbose=0)
    >>> np.round(model.predict(x, verbose=0) - y, 8).ravel()       # one step: exact fit
    array([0., 0., 0.])
    """

    def __init__(self, transform: SecondOrderTransformation, model: Any, x: Any, y: Any, *,
                 sample_weight: Any = None, batch_size: int | None = None, name: str | None = None):
        if not isinstance(transform, SecondOrderTransformation):
            raise TypeError(f"CurvatureOptimizer: transform must be newton(...), gauss_newton(...)"
                            f" or natural_gradient(...), got {type(transform).__name__}")
        super().__init__(learning_rate=transform.learning_rate,
                         name=name or f"curvature_{transform.name}")
        self._t = transform
        self._model, self._data = model, dict(x=x, y=y, sample_weight=sample_weight,
                                              batch_size=batch_size)
        self._obj: Objective | None = None
        self._perm: np.ndarray | None = None
        self._state: SecondOrderState | None = None

    @property
    def transform(self) -> SecondOrderTransformation:        # noqa: D102 (not the chain form)
        return self._t

    def init_flat(self, flat_params: np.ndarray, sizes=None) -> None:
        self._state = self._t.init(None)
        self._perm = None
        self._iterations = 0

    def _setup(self, flat_params: np.ndarray) -> None:
        self._obj = as_objective(self._model, **self._data)
        offset, index = 0, {}
        for lname, ws in self._model.params.items():
            index[lname] = {}
            for k, v in ws.items():
                index[lname][k] = np.arange(offset, offset + v.size).reshape(v.shape)
                offset += v.size
        perm = np.asarray(ravel_pytree(index)[0]).astype(np.intp)
        if offset != flat_params.size or not np.array_equal(
                flat_params[perm], self._obj._vec(self._model.params)):
            raise RuntimeError("CurvatureOptimizer: the model's flat buffer does not match its "
                               "params (was the optimizer built for another model?)")
        self._perm = perm

    def update_flat(self, flat_params: np.ndarray, flat_grads: np.ndarray) -> None:
        if self._state is None:
            self.init_flat(flat_params)
        if self._perm is None:
            self._setup(flat_params)
        perm = self._perm
        u, self._state = self._t.update(np.asarray(flat_grads)[perm], self._state,
                                        flat_params[perm].copy(), objective=self._obj)
        flat_params[perm] += u.astype(flat_params.dtype, copy=False)
        self._iterations += 1

    def flat_state(self) -> dict:
        return {"iterations": np.asarray(self._iterations)}

    def set_flat_state(self, state: dict) -> None:
        self._iterations = int(state.get("iterations", self._iterations))
        self._state = SecondOrderState(self._iterations, 0)

    def get_config(self) -> dict:
        return {"name": self.name, "transform": self._t.name, "curvature": self._t.curvature,
                "learning_rate": self._t.learning_rate, "damping": self._t.damping}

    def __repr__(self) -> str:
        return (f"CurvatureOptimizer({self._t.name}, learning_rate={self._t.learning_rate}, "
                f"damping={self._t.damping})")
