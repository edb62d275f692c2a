"""The Laplace approximation of a trained network's posterior, its evidence and predictive, and
the MAP view of a compiled model's loss.

Around the MAP estimate θ* the log posterior is replaced by its second-order expansion (MacKay
1992; Ritter, Botev & Barber 2018; Daxberger et al. 2021):

    p(θ | D) ≈ N(θ*, Σ),   Σ⁻¹ = P = h · GGN + δ I,   GGN = Σ_i J_iᵀ H_i J_i,

with J_i = ∂f(x_i; θ)/∂θ the Jacobian of the outputs, H_i = ∂²(−log p(y_i | f))/∂f² the Hessian
of the *summed* negative log-likelihood (so GGN grows with N) and δ the precision of the prior
N(μ₀, δ⁻¹I). Likelihoods and their scaling:

* ``"regression"``: y ~ N(f, σ² I), −log p(D|θ) = Σ_i ‖y_i − f_i‖²/(2σ²) + (Nk/2) log 2πσ²; the
  GGN is JᵀJ and h = 1/σ². (Keras's mean squared error is (1/(Nk)) Σ‖y − f‖², whose GGN is
  (2/(Nk)) JᵀJ: the posterior precision is (Nk/(2σ²)) times it.)
* ``"classification"``: y ~ Categorical(softmax f) (H_i = diag p − ppᵀ) or, with one output,
  Bernoulli(sigmoid f) (H_i = p(1 − p)); h = 1. The NLL is the *summed* cross-entropy: N times
  Keras's mean. A model whose outputs are probabilities (a softmax or sigmoid last activation,
  ``from_logits=False``) is linearised in log p (or log p/(1−p)), whose softmax is the model's
  own output and whose GGN equals that of the pre-softmax logits.

Evidence (MacKay 1992; Immer et al. 2021): log p(D) ≈ log p(D|θ*) + log p(θ*) + (P/2) log 2π
− ½ log det P = log p(D|θ*) − ½ [log det P − log det(δI) + δ‖θ* − μ₀‖²].

Predictive by linearisation (the GLM predictive, Immer, Korzepa & Bauer 2021): f(x) ~ N(f(x; θ*),
J(x) Σ J(x)ᵀ), and for classification the probit approximation E[softmax f] ≈ softmax(μ/√(1 +
π/8 · diag Σ_f)) (MacKay 1992) or Monte Carlo; or by sampling θ ~ N(θ*, Σ) through the network.
The probit approximation is not invariant to a shift f + c·1 that leaves softmax f unchanged:
for a model with logits it takes them as they are (as laplace-torch does); for one linearised in
log p it first centres f and Σ_f on the zero-sum subspace (C = I − 11ᵀ/k; C log p = C z for the
logits z), so that such a model's probit predictive is exactly that of its logits twin taken
centred, and not inflated by the large variance of log p of the unlikely classes (on the demo's
digits MLP the total variation from the Monte-Carlo predictive falls from 0.096 to 0.072).

Structures of the GGN: ``"full"`` (P × P, memory-limited), ``"diag"`` (its exact diagonal) and
``"kron"`` (K-FAC factors A ⊗ G for Dense and Conv layers, Martens & Grosse 2015, see
:mod:`~nnmath.analysis._kfac`; every other layer — BatchNorm, LSTM, … — a diagonal or full block).
Every block is computed from per-sample Jacobians of the general transforms (``vmap`` of
``jacrev``), so every layer has one.

References:
    D. MacKay. A practical Bayesian framework for backpropagation networks. Neural Comp. 1992.
    D. MacKay. The evidence framework applied to classification networks. Neural Comp. 1992.
    H. Ritter, A. Botev, D. Barber. A scalable Laplace approximation for neural networks. ICLR 2018.
    E. Daxberger et al. Laplace redux — effortless Bayesian deep learning. NeurIPS 2021.
    A. Immer, M. Korzepa, M. Bauer. Improving predictions of Bayesian neural nets via local
    linearization. AISTATS 2021.
    A. Immer et al. Scalable marginal likelihood estimation for model selection in deep learning.
    ICML 2021.
"""
from __future__ import annotations

import dataclasses
import math
import numbers
from typing import Any, Callable

import numpy as np
import scipy.linalg
import scipy.optimize
import scipy.special

from .. import numpy as mnp
from .._core.batching import vmap
from .._transforms import jacrev
from .._ravel import ravel_pytree
from ..scipy.special import expit, softmax
from ._kfac import EigBlock, KronBlock, kron_factors_batch, kron_layers
from ._objective import DEFAULT_BATCH_SIZE, _is_model, as_generator
from ._results import Result
from .curvature import check_dense_size, hessian_matrix

__all__ = ["Laplace", "PriorOptimization"]

LIKELIHOODS = ("regression", "classification")
SUBSETS = ("all", "last_layer")
STRUCTURES = ("full", "diag", "kron")
#: Bytes of per-sample Jacobians (samples × outputs × parameters) one pass may hold (64 MiB).
JACOBIAN_BYTES = 1 << 26


def _choice(value: Any, allowed: tuple, name: str) -> str:
    if value not in allowed:
        raise ValueError(f"Laplace: {name} must be one of {', '.join(map(repr, allowed))}, got "
                         f"{value!r}")
    return value


def _positive(value: Any, name: str, size: int | None = None) -> Any:
    """A positive float, or (with ``size``) a positive vector of that length."""
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        if not (math.isfinite(value) and value > 0):
            raise ValueError(f"Laplace: {name} must be positive and finite, got {value!r}")
        return float(value)
    arr = np.asarray(value, dtype=float)
    if arr.ndim == 0:
        return _positive(float(arr), name)
    if size is None or arr.shape != (size,) or not np.all(np.isfinite(arr)) or np.any(arr <= 0):
        want = "a positive float" + ("" if size is None else f" or a positive vector of {size}")
        raise ValueError(f"Laplace: {name} must be {want}, got an array of shape {arr.shape}")
    return arr


def _loss_name(loss: Any) -> tuple[str, bool]:
    fn = getattr(loss, "fn", None)
    name = getattr(fn, "__name__", None) or type(loss).__name__
    name = {"MeanSquaredError": "mean_squared_error", "CategoricalCrossentropy":
            "categorical_crossentropy", "SparseCategoricalCrossentropy":
            "sparse_categorical_crossentropy", "BinaryCrossentropy": "binary_crossentropy"}.get(
        name, name)
    kwargs = getattr(loss, "_fn_kwargs", {})
    return name, bool(kwargs.get("from_logits", getattr(loss, "from_logits", False)))


# --------------------------------------------------------------------------------------------
# The Laplace approximation
# --------------------------------------------------------------------------------------------

@dataclasses.dataclass
class PriorOptimization(Result):
    """What :meth:`Laplace.optimize_prior_precision` found.

    Attributes:
        prior_precision: the δ that maximises the Laplace evidence (now the Laplace's).
        log_marginal_likelihood: the evidence at it.
        initial_log_marginal_likelihood: the evidence at the δ the search started from.
        evaluations: evidence evaluations used; converged: whether scipy's search converged.
    """

    prior_precision: float
    log_marginal_likelihood: float
    initial_log_marginal_likelihood: float
    evaluations: int
    converged: bool


class Laplace:
    """The Laplace approximation N(θ*, (h·GGN + δI)⁻¹) of a trained model's posterior (see the
    module docstring for the formulas, the likelihood scalings and the references).

    Args:
        model: a compiled :class:`~nnmath.training.Model` (trained to θ*; its compiled loss says
            whether its outputs are logits or probabilities), ``apply_fn(params, x)`` returning
            logits (or the regression mean), or ``loss_fn(params)`` = −log p(D|θ) (then the
            curvature is its Hessian and there is no predictive).
        params: θ* (default for a Model: ``model.params``; required for a function).
        likelihood: ``"regression"`` or ``"classification"`` (default for a Model: from its loss).
        subset: ``"all"`` parameters or the ``"last_layer"`` (the last Dense layer's weights,
            every earlier layer held fixed; a Model only).
        hessian_structure: ``"full"``, ``"diag"`` or ``"kron"`` (a Model only).
        other_structure: for ``"kron"``, the structure of the blocks of layers without Kronecker
            factors: ``"diag"`` or ``"full"``.
        x, y, sample_weight: the training data, used by :meth:`fit` if it gets none.
        prior_precision: δ, a positive float (or, for "full"/"diag", a vector of P).
        prior_mean: μ₀ (a float or a vector of P). sigma_noise: σ (regression only).
        batch_size: samples per pass (default 256). max_bytes: limit of the dense "full" matrix.

    >>> import numpy as np
    >>> X = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]); Y = np.array([1.0, 2.0, 3.0])
    >>> la = Laplace(lambda w, x: x @ w, np.array([1.0, 2.0]), likelihood="regression",
    ...              x=X, y=Y, prior_precision=1.0).fit()
    >>> np.allclose(la.posterior_precision, X.T @ X + np.eye(2))      # JᵀJ/σ² + δI
    True
    """

    def __init__(self, model: Any, params: Any = None, *, likelihood: str | None = None,
                 subset: str = "all", hessian_structure: str = "full",
                 other_structure: str = "diag", x: Any = None, y: Any = None,
                 sample_weight: Any = None, prior_precision: Any = 1.0, prior_mean: Any = 0.0,
                 sigma_noise: float = 1.0, loss: Any = None, batch_size: int | None = None,
                 max_bytes: int | None = None, use_jit: bool = True):
        self.subset = _choice(subset, SUBSETS, "subset")
        self.hessian_structure = _choice(hessian_structure, STRUCTURES, "hessian_structure")
        self.other_structure = _choice(other_structure, ("diag", "full"), "other_structure")
        if likelihood is not None:
            _choice(likelihood, LIKELIHOODS, "likelihood")
        self.model = model if _is_model(model) else None
        self._use_jit, self.max_bytes = use_jit, max_bytes
        self.batch_size = DEFAULT_BATCH_SIZE if batch_size is None else batch_size
        if not isinstance(self.batch_size, numbers.Integral) or self.batch_size <= 0:
            raise ValueError(f"Laplace: batch_size must be a positive integer, got {batch_size!r}")
        self._data = (x, y, sample_weight)
        self._fitted = False
        self._cache: dict = {}
        self._link, self._kind = "identity", None
        if self.model is not None:
            self._setup_model(model, params, likelihood, loss)
        elif callable(model):
            if params is None:
                raise ValueError("Laplace: params (the MAP estimate θ*) is required with a "
                                 "function")
            self.params = params
            self._apply = model
            self.likelihood = likelihood
            if likelihood is None:
                self._apply = None                         # loss_fn(params): an NLL of θ alone
                self._loss_fn = model
            elif likelihood == "classification" and loss is not None:
                self._link_from_loss(loss)
        else:
            raise TypeError(f"Laplace: expected a compiled Model, apply_fn(params, x) or "
                            f"loss_fn(params), got {type(model).__name__}")
        if self._apply is None and (self.hessian_structure == "kron" or self.subset != "all"):
            raise ValueError(f"Laplace: loss_fn(params) supports subset='all' with "
                             f"hessian_structure 'full' or 'diag' (its curvature is the Hessian), "
                             f"got subset={self.subset!r}, hessian_structure="
                             f"{self.hessian_structure!r}")
        if self.model is None and (self.hessian_structure == "kron" or self.subset != "all"):
            raise ValueError(f"Laplace: subset={self.subset!r} with hessian_structure="
                             f"{self.hessian_structure!r} needs a Model (its layers); a function "
                             f"supports subset='all' with 'full' or 'diag'")
        flat, self._unravel = ravel_pytree(self.params)
        self._flat = np.asarray(flat)
        if self._flat.dtype.kind != "f":
            raise TypeError(f"Laplace: the parameters must be floating point, got "
                            f"{self._flat.dtype}")
        self.dtype = self._flat.dtype
        self._leaf_index = None
        self._idx = None if self.subset == "all" else self._last_layer_index()
        self.mean = self._flat if self._idx is None else self._flat[self._idx]
        self.n_params = int(self.mean.size)
        self.prior_precision = prior_precision
        self.prior_mean = prior_mean
        self.sigma_noise = sigma_noise

    # ---------------------------------------------------------------- setup
    def _setup_model(self, model, params, likelihood, loss):
        losses = [l for l in (getattr(model, "_output_losses", None) or []) if l is not None]
        if loss is None and not losses:
            raise ValueError(f"Laplace: model {model.name!r} is not compiled: call "
                               f"model.compile(loss=...) (the loss it was trained with) first")
        if len(model._output_names()) != 1:
            raise ValueError(f"Laplace: model {model.name!r} has {len(model._output_names())} "
                             f"outputs; Laplace supports models with one output")
        name, _ = _loss_name(loss if loss is not None else losses[0])
        inferred = "regression" if name == "mean_squared_error" else (
            "classification" if "crossentropy" in name else None)
        if likelihood is None and inferred is None:
            raise ValueError(f"Laplace: cannot infer the likelihood from the loss {name!r}: pass "
                             f"likelihood='regression' or 'classification'")
        self.likelihood = likelihood or inferred
        if self.likelihood == "classification":
            self._link_from_loss(loss if loss is not None else losses[0])
        self.params = model.params if params is None else params
        state = model.state
        self._apply = lambda p, x: model.apply(p, x, training=False, state=state)  # noqa: E731

    def _link_from_loss(self, loss):
        name, logits = _loss_name(loss)
        if "crossentropy" not in name:
            raise ValueError(f"Laplace: likelihood='classification' needs a cross-entropy loss "
                             f"(it says whether the outputs are logits), got {name!r}")
        self._kind = "bernoulli" if name == "binary_crossentropy" else "categorical"
        if not logits:
            self._link = "logit" if self._kind == "bernoulli" else "log"

    def _leaves(self) -> dict:
        if self._leaf_index is None:
            pos = self._unravel(np.arange(self._flat.size, dtype=np.float64))
            self._leaf_index = {(ln, wn): np.asarray(a).astype(np.int64)
                                for ln, ws in pos.items() for wn, a in ws.items()}
        return self._leaf_index

    def _last_layer_index(self) -> np.ndarray:
        from ..nn.layers.core import Dense
        dense = [l for l in self.model.layers if isinstance(l, Dense) and l.name in self.params]
        if not dense:
            raise ValueError(f"Laplace: subset='last_layer' needs a trainable Dense layer; model "
                             f"{self.model.name!r} has none")
        self.last_layer = dense[-1].name
        return np.sort(np.concatenate([a.reshape(-1) for (ln, _), a in self._leaves().items()
                                       if ln == self.last_layer]))

    # ---------------------------------------------------------------- the network as f(θ_sub, x)
    def _tree(self, u, varying: np.ndarray | None):
        """The parameter pytree with the entries ``varying`` (sorted flat indices, whole leaves)
        taken from ``u`` and every other leaf the constant θ* — so derivatives w.r.t. u never
        touch the other leaves."""
        if varying is None:
            return self._unravel(u)
        tree = {ln: dict(ws) for ln, ws in self.params.items()}
        for (ln, wn), ix in self._leaves().items():
            a = int(np.searchsorted(varying, ix.flat[0]))
            if a < len(varying) and varying[a] == ix.flat[0]:
                tree[ln][wn] = mnp.reshape(u[a:a + ix.size], ix.shape)
        return tree

    def _full(self, t):
        """The full flat vector with the subset's entries set to ``t``."""
        if self._idx is None:
            return t
        out = self._flat.copy()
        out[self._idx] = t
        return out

    def _logits(self, t, x, varying: Any = None):
        """The (n, k) outputs whose likelihood is Gaussian / softmax / sigmoid at θ_sub = t."""
        o = self._apply(self._tree(t, self._idx if varying is None else varying), x)
        o = mnp.reshape(o, (o.shape[0], -1))
        if self._link == "identity":
            return o
        tiny = np.finfo(o.dtype).tiny
        if self._link == "log":
            return mnp.log(mnp.maximum(o, tiny))
        o = mnp.clip(o, tiny, 1 - np.finfo(o.dtype).epsneg)
        return mnp.log(o) - mnp.log1p(-o)

    def _jit(self, name: str, fn: Callable) -> Callable:
        f = self._cache.get(("fn", name))
        if f is None:
            from ._objective import _Jittable
            f = self._cache[("fn", name)] = _Jittable(fn, self._use_jit)
        return f

    def _sqrt_h(self, f, y=None, sw=None):
        """L_i with H_i = L_i L_iᵀ, the NLL's output Hessian per sample (σ = 1), (n, k, k)."""
        n, k = f.shape
        if self.likelihood == "regression":
            L = mnp.broadcast_to(mnp.eye(k, dtype=f.dtype), (n, k, k))
        elif self._kind == "bernoulli":
            p = expit(f)
            L = mnp.reshape(mnp.sqrt(p * (1 - p)), (n, 1, 1))
        else:                                            # diag p − ppᵀ = (D − p sᵀ)(D − s pᵀ)
            p = softmax(f, axis=-1)
            s = mnp.sqrt(p)
            L = mnp.eye(k, dtype=f.dtype) * s[:, None, :] - p[:, :, None] * s[:, None, :]
        if sw is not None:
            L = L * mnp.sqrt(mnp.reshape(mnp.astype(sw, f.dtype), (n, 1, 1)))
        return L

    def _jacobians(self, sel: np.ndarray | None, x) -> Any:
        """Per-sample Jacobians (n, k, |sel|) of the outputs w.r.t. θ_sub[sel] at θ*."""
        if sel is None:
            def g(t, xi):
                return jacrev(lambda u: mnp.reshape(self._logits(u, _one(xi)), (-1,)))(t)
            fn = self._jit("jac_all", lambda t, x: vmap(g, in_axes=(None, 0))(t, _add_axis(x)))
            return fn(self.mean, x)
        varying = sel if self._idx is None else self._idx[sel]

        def gsel(u, xi):
            return mnp.reshape(self._logits(u, _one(xi), varying), (-1,))
        key = "jac_" + str(hash(sel.tobytes()))
        fn = self._jit(key, lambda u, x: vmap(lambda xi: jacrev(gsel)(u, xi))(_add_axis(x)))
        return fn(self.mean[sel], x)

    # ---------------------------------------------------------------- data
    def _prepare(self, x, y, sw):
        if x is None or y is None:
            raise ValueError("Laplace.fit: no data: pass x and y to fit() or to Laplace(...)")
        if self.model is not None:
            xs, ys, sw = self.model._check_data(x, y, sw, "Laplace.fit")
            xs = self.model._cast_list(xs)
            x, y = self.model._model_input(xs), ys[0]
        n = _length(x)
        y = np.asarray(y)
        if len(y) != n:
            raise ValueError(f"Laplace.fit: x has {n} samples but y has {len(y)}")
        if sw is not None:
            sw = np.asarray(sw, dtype=self.dtype)
            if sw.shape != (n,):
                raise ValueError(f"Laplace.fit: sample_weight must have shape ({n},), got "
                                 f"{sw.shape}")
        f0 = np.asarray(self._logits(self.mean, _take(x, slice(0, 1))))
        k = f0.shape[1]
        if self.likelihood == "classification" and self._kind is None:
            self._kind = "bernoulli" if k == 1 else "categorical"
        if self.likelihood == "classification" and self._kind == "categorical":
            if y.dtype.kind in "iub" or y.ndim == 1 or (y.ndim == 2 and y.shape[1] == 1 and k > 1):
                labels = y.reshape(-1).astype(np.int64)
                if labels.min() < 0 or labels.max() >= k:
                    raise ValueError(f"Laplace.fit: labels must be in [0, {k}), got "
                                     f"[{labels.min()}, {labels.max()}]")
                y = np.eye(k, dtype=self.dtype)[labels]
        y = y.reshape(n, -1).astype(self.dtype)
        if y.shape[1] != k:
            raise ValueError(f"Laplace.fit: the model has {k} outputs per sample but y has "
                             f"{y.shape[1]}")
        return x, y, sw, n, k

    def fit(self, x: Any = None, y: Any = None, sample_weight: Any = None) -> "Laplace":
        """Compute the curvature at θ* over the data (those given here, else at construction).

        Returns:
            self (so ``la = Laplace(...).fit()`` reads well).
        """
        if x is None and y is None:
            x, y, sample_weight = self._data
        self._cache = {k: v for k, v in self._cache.items() if k[0] == "fn"}
        if self._apply is None:
            return self._fit_loss_fn()
        x, y, sw, n, k = self._prepare(x, y, sample_weight)
        self.num_samples, self.num_outputs = n, k
        self._weight_total = float(n if sw is None else np.sum(sw))
        P = self.n_params
        struct = self.hessian_structure
        specs, sel_other = [], None
        if struct == "kron":
            lidx = self._leaves()
            specs = kron_layers(self.model, self.params, lidx)
            pos = np.full(self._flat.size, -1)
            pos[self._idx if self._idx is not None else np.arange(P)] = np.arange(P)
            specs = [s for s in specs if np.all(pos[s.index] >= 0)]
            for s in specs:
                s.sub_index = pos[s.index]
            covered = np.zeros(P, bool)
            for s in specs:
                covered[s.sub_index] = True
            sel_other = np.flatnonzero(~covered)
        jac_sel = None if struct != "kron" else sel_other
        m = P if jac_sel is None else len(jac_sel)
        if struct == "full" or (struct == "kron" and self.other_structure == "full"):
            check_dense_size(m, m, self.dtype, "Gauss–Newton matrix", self.max_bytes)
        curv = np.zeros((m, m) if (struct == "full" or self.other_structure == "full")
                        and struct != "diag" else m, self.dtype)
        factors = [[np.zeros((s.a_dim, s.a_dim), self.dtype),
                    np.zeros((s.units, s.units), self.dtype)] for s in specs]
        chunk = max(1, min(self.batch_size, JACOBIAN_BYTES // max(1, k * m * self.dtype.itemsize)))
        sq = self._jit("sqrt_h", self._sqrt_h)
        logits = self._jit("logits", self._logits)
        nll = 0.0
        for a in range(0, n, chunk):
            s = slice(a, min(n, a + chunk))
            xb, yb, swb = _take(x, s), y[s], None if sw is None else sw[s]
            if specs:
                fn = self._jit("kron", lambda t, xx, yy, ww: kron_factors_batch(
                    specs, self._logits, self._sqrt_h, t, xx, yy, ww))
                out, f = fn(self.mean, xb, yb, swb)
                for acc, (A, G) in zip(factors, out):
                    acc[0] += np.asarray(A)
                    acc[1] += np.asarray(G)
            else:
                f = logits(self.mean, xb)
            f = np.asarray(f)
            nll += self._nll_sum(f, yb, swb)
            if m and (jac_sel is None or len(jac_sel)):
                J = np.asarray(self._jacobians(jac_sel, xb))
                L = np.asarray(sq(f, yb, swb))
                JL = np.einsum("nkm,nkp->nmp", L, J).reshape(-1, m)   # rows L_iᵀ J_i
                curv += JL.T @ JL if curv.ndim == 2 else np.sum(JL ** 2, axis=0)
        self._ggn, self._sel_other = curv, sel_other
        self._specs = specs
        self._factors = [(A / n, G) for A, G in factors]     # A = E[ããᵀ], G = Σ ggᵀ
        self._nll = nll
        self._fitted = True
        return self

    def _fit_loss_fn(self):
        m = self.n_params
        check_dense_size(m, m, self.dtype, "Hessian", self.max_bytes)
        H = hessian_matrix(self._loss_fn, self.params, max_bytes=self.max_bytes)
        self._ggn = H if self.hessian_structure == "full" else np.diag(H).copy()
        self._nll = float(self._loss_fn(self.params))
        self._specs, self._factors, self._sel_other = [], [], None
        self.num_samples, self.num_outputs = None, None
        self._fitted = True
        return self

    def _nll_sum(self, f, y, sw) -> float:
        """Σ_i w_i ℓ_i at σ = 1: ½‖y − f‖² (regression) or the cross-entropy."""
        if self.likelihood == "regression":
            v = 0.5 * np.sum((y - f) ** 2, axis=1)
        elif self._kind == "bernoulli":
            v = np.sum(np.logaddexp(0, f) - y * f, axis=1)
        else:
            v = -np.sum(y * (f - scipy.special.logsumexp(f, axis=1, keepdims=True)), axis=1)
        return float(np.sum(v if sw is None else v * sw))

    # ---------------------------------------------------------------- hyperparameters
    @property
    def prior_precision(self) -> Any:
        return self._prior_precision

    @prior_precision.setter
    def prior_precision(self, value: Any) -> None:
        value = _positive(value, "prior_precision", self.n_params)
        if not isinstance(value, float) and self.hessian_structure == "kron":
            raise ValueError("Laplace: hessian_structure='kron' takes a scalar prior_precision")
        self._prior_precision = value

    @property
    def prior_mean(self) -> Any:
        return self._prior_mean

    @prior_mean.setter
    def prior_mean(self, value: Any) -> None:
        arr = np.asarray(value, dtype=self.dtype)
        if arr.shape not in ((), (self.n_params,)):
            raise ValueError(f"Laplace: prior_mean must be a float or a vector of "
                             f"{self.n_params}, got shape {arr.shape}")
        self._prior_mean = arr

    @property
    def sigma_noise(self) -> float:
        return self._sigma_noise

    @sigma_noise.setter
    def sigma_noise(self, value: Any) -> None:
        value = _positive(value, "sigma_noise")
        if value != 1.0 and self.likelihood != "regression":
            raise ValueError(f"Laplace: sigma_noise is for likelihood='regression'; got "
                             f"sigma_noise={value} with likelihood={self.likelihood!r}")
        self._sigma_noise = value

    def _need_fit(self, what: str) -> None:
        if not self._fitted:
            raise RuntimeError(f"Laplace.{what}: call fit() first (the curvature at θ*)")

    def _h(self, sigma_noise: Any = None) -> float:
        if self.likelihood != "regression":
            return 1.0
        s = self.sigma_noise if sigma_noise is None else _positive(sigma_noise, "sigma_noise")
        return 1.0 / s ** 2

    def _blocks(self, prior_precision: Any = None, sigma_noise: Any = None) -> list:
        """The posterior precision as eigen-blocks for (δ, σ)."""
        self._need_fit("posterior")
        delta = self.prior_precision if prior_precision is None else _positive(
            prior_precision, "prior_precision", self.n_params)
        h = self._h(sigma_noise)
        scalar = isinstance(delta, float)
        blocks = []
        for spec, (A, G) in zip(self._specs, self._factors):
            ea = self._eigh(("A", spec.name), A)
            eg = self._eigh(("G", spec.name), G)
            W = h * np.outer(np.clip(ea[0], 0, None), np.clip(eg[0], 0, None)) + delta
            blocks.append(KronBlock(spec.sub_index, ea[1], eg[1], W))
        idx = self._sel_other if self._sel_other is not None else np.arange(self.n_params)
        if len(idx):
            d = delta if scalar else delta[idx]
            if self._ggn.ndim == 1:
                blocks.append(EigBlock(idx, h * self._ggn + d))
            elif scalar:
                lam, Q = self._eigh(("ggn",), self._ggn)
                blocks.append(EigBlock(idx, h * np.clip(lam, 0, None) + d, Q))
            else:
                lam, Q = np.linalg.eigh(h * self._ggn + np.diag(d))
                blocks.append(EigBlock(idx, lam, Q))
        return blocks

    def _eigh(self, key, M):
        out = self._cache.get(key)
        if out is None:
            out = self._cache[key] = np.linalg.eigh(M)
        return out

    # ---------------------------------------------------------------- posterior
    @property
    def posterior_precision(self) -> np.ndarray:
        """P = h·GGN + δ: the P × P matrix ("full"), its diagonal ("diag"); not formed for
        "kron" (use :attr:`posterior_variance`)."""
        self._need_fit("posterior_precision")
        if self.hessian_structure == "kron":
            raise ValueError("Laplace.posterior_precision: not formed for 'kron'; use "
                             "posterior_variance or log_marginal_likelihood")
        d = self.prior_precision
        if self._ggn.ndim == 1:
            return self._h() * self._ggn + d
        return self._h() * self._ggn + (np.eye(self.n_params) * d if isinstance(d, float)
                                        else np.diag(d))

    @property
    def posterior_covariance(self) -> np.ndarray:
        """Σ = P⁻¹ ("full": the matrix; "diag": the variances)."""
        if self.hessian_structure != "full":
            return self.posterior_variance
        (b,) = self._blocks()
        return (b.Q / b.w) @ b.Q.T

    @property
    def posterior_variance(self) -> np.ndarray:
        """The marginal variances diag Σ (every structure)."""
        out = np.empty(self.n_params, self.dtype)
        for b in self._blocks():
            out[b.idx] = b.variance()
        return out

    def log_det_posterior_precision(self, prior_precision: Any = None,
                                    sigma_noise: Any = None) -> float:
        """log det P."""
        return float(sum(b.logdet() for b in self._blocks(prior_precision, sigma_noise)))

    def log_likelihood(self, sigma_noise: Any = None) -> float:
        """log p(D | θ*) (regression: −S/σ² − (Nk/2)·log 2πσ², S = Σ w_i ½‖y_i − f_i‖²)."""
        self._need_fit("log_likelihood")
        if self._apply is None or self.likelihood != "regression":
            return -self._nll
        s2 = 1.0 / self._h(sigma_noise)
        return -self._nll / s2 - 0.5 * self._num_terms() * math.log(2 * math.pi * s2)

    def _num_terms(self) -> float:
        return self._weight_total * self.num_outputs

    def log_marginal_likelihood(self, prior_precision: Any = None,
                                sigma_noise: Any = None) -> float:
        """The Laplace evidence log p(D) ≈ log p(D|θ*) − ½[log det P − log det(δI) +
        (θ* − μ₀)ᵀ δ (θ* − μ₀)] (MacKay 1992; Immer et al. 2021), at the given δ and σ (default
        the Laplace's own)."""
        delta = self.prior_precision if prior_precision is None else _positive(
            prior_precision, "prior_precision", self.n_params)
        r = self.mean - self.prior_mean
        logdet_prior = self.n_params * math.log(delta) if isinstance(delta, float) else float(
            np.sum(np.log(delta)))
        scatter = float(np.sum(delta * r * r))
        return self.log_likelihood(sigma_noise) - 0.5 * (
            self.log_det_posterior_precision(delta, sigma_noise) - logdet_prior + scatter)

    def optimize_prior_precision(self, method: str = "marglik",
                                 bounds: tuple = (1e-8, 1e8)) -> PriorOptimization:
        """Set δ (a scalar) to the maximiser of :meth:`log_marginal_likelihood` over log δ
        (scipy's bounded Brent search; the curvature's eigenvalues are cached, so each
        evaluation is O(P)).

        Returns:
            a :class:`PriorOptimization`.
        """
        if method != "marglik":
            raise ValueError(f"Laplace.optimize_prior_precision: method must be 'marglik', got "
                             f"{method!r}")
        lo, hi = (float(b) for b in bounds)
        if not 0 < lo < hi:
            raise ValueError(f"Laplace.optimize_prior_precision: bounds must be 0 < lo < hi, got "
                             f"{bounds!r}")
        start = self.prior_precision if isinstance(self.prior_precision, float) else 1.0
        first = self.log_marginal_likelihood(start)
        res = scipy.optimize.minimize_scalar(
            lambda s: -self.log_marginal_likelihood(math.exp(s)), bounds=(math.log(lo),
                                                                          math.log(hi)),
            method="bounded", options={"xatol": 1e-8})
        self.prior_precision = float(math.exp(res.x))
        return PriorOptimization(prior_precision=self.prior_precision,
                                 log_marginal_likelihood=float(-res.fun),
                                 initial_log_marginal_likelihood=first,
                                 evaluations=int(res.nfev), converged=bool(res.success))

    def sample(self, n_samples: int = 100, seed: Any = 0) -> np.ndarray:
        """θ ~ N(θ*, Σ) for the subset's parameters: an (n_samples, P) array (see
        :meth:`to_params` for the parameter pytree of a sample)."""
        rng = as_generator(seed)
        z = rng.standard_normal((int(n_samples), self.n_params)).astype(self.dtype)
        out = np.repeat(self.mean[None], len(z), axis=0)
        for b in self._blocks():
            out[:, b.idx] += b.sample(z[:, b.idx])
        return out

    def to_params(self, theta: np.ndarray) -> Any:
        """The full parameter pytree with the subset's parameters set to ``theta``."""
        return self._unravel(self._full(np.asarray(theta, self.dtype)))

    # ---------------------------------------------------------------- predictive
    def functional_variance(self, x: Any) -> tuple[np.ndarray, np.ndarray]:
        """(f(x; θ*), J(x) Σ J(x)ᵀ): the linearised model's mean (n, k) and covariance (n, k, k)."""
        self._need_fit("functional_variance")
        if self._apply is None:
            raise ValueError("Laplace: the predictive needs the model's outputs; a loss_fn(params) "
                             "has none")
        x = self._cast_x(x)
        n, blocks = _length(x), self._blocks()
        logits = self._jit("logits", self._logits)
        mus, covs = [], []
        chunk = max(1, min(self.batch_size, JACOBIAN_BYTES // max(
            1, self.num_outputs * self.n_params * self.dtype.itemsize)))
        for a in range(0, n, chunk):
            xb = _take(x, slice(a, min(n, a + chunk)))
            mus.append(np.asarray(logits(self.mean, xb)))
            J = np.asarray(self._jacobians(None, xb))
            covs.append(sum(b.f_cov(J[:, :, b.idx]) for b in blocks))
        return np.concatenate(mus), np.concatenate(covs)

    def _cast_x(self, x):
        if self.model is None:
            return x
        xs = self.model._cast_list([x] if self.model._single_in else list(x))
        return self.model._model_input(xs)

    def __call__(self, x: Any, pred_type: str = "glm", link_approx: str = "probit",
                 n_samples: int = 100, seed: Any = 0) -> Any:
        """The predictive at ``x``.

        Args:
            pred_type: ``"glm"`` (the linearised model) or ``"nn"`` (θ sampled through the network).
            link_approx: for classification with "glm": ``"probit"`` (softmax(μ/√(1 + π/8·σ²)),
                MacKay 1992) or ``"mc"`` (``n_samples`` draws of f ~ N(μ, Σ_f)).
            n_samples, seed: draws for "mc" and "nn".

        Returns:
            regression: ``(f_mean (n, k), f_var (n, k, k))`` — the variance of f; add σ²I for
            that of y. classification: the predictive probabilities (n, k) (Bernoulli: (n, 1),
            the probability of 1).
        """
        _choice(pred_type, ("glm", "nn"), "pred_type")
        _choice(link_approx, ("probit", "mc"), "link_approx")
        rng = as_generator(seed)
        if pred_type == "nn":
            self._need_fit("__call__")
            xc = self._cast_x(x)
            fs = np.stack([np.asarray(self._logits(t, xc)) for t in self.sample(n_samples, rng)])
            if self.likelihood == "regression":
                d = fs - fs.mean(0)
                return fs.mean(0), np.einsum("snk,snl->nkl", d, d) / len(fs)
            return self._link_fn(fs).mean(0)
        mu, cov = self.functional_variance(x)
        if self.likelihood == "regression":
            return mu, cov
        if link_approx == "probit":
            if self._link == "log":         # centre: log p and the logits z agree as C f
                mu = mu - mu.mean(axis=-1, keepdims=True)
                cov = cov - cov.mean(axis=1, keepdims=True)
                cov = cov - cov.mean(axis=2, keepdims=True)          # C Σ_f C
            var = np.diagonal(cov, axis1=1, axis2=2)
            return self._link_fn(mu / np.sqrt(1 + math.pi / 8 * var))
        w, V = np.linalg.eigh(cov)
        root = V * np.sqrt(np.clip(w, 0, None))[:, None, :]
        z = rng.standard_normal((int(n_samples),) + mu.shape).astype(self.dtype)
        fs = mu + np.einsum("nkl,snl->snk", root, z)
        return self._link_fn(fs).mean(0)

    def _link_fn(self, f: np.ndarray) -> np.ndarray:
        if self._kind == "bernoulli":
            return scipy.special.expit(f)
        return scipy.special.softmax(f, axis=-1)

    def __repr__(self) -> str:
        return (f"Laplace({self.likelihood}, subset={self.subset!r}, hessian_structure="
                f"{self.hessian_structure!r}, {self.n_params} parameters"
                f"{'' if self._fitted else ', not fitted'})")


def _add_axis(x):
    """The data as vmap takes it (a list of inputs stays a list)."""
    return list(x) if isinstance(x, (list, tuple)) else x


def _one(xi):
    """One sample (inside ``vmap``) as a batch of one."""
    return [v[None] for v in xi] if isinstance(xi, list) else xi[None]


def _length(x) -> int:
    return len(x[0]) if isinstance(x, (list, tuple)) else len(x)


def _take(x, s):
    return [v[s] for v in x] if isinstance(x, (list, tuple)) else x[s]


# --------------------------------------------------------------------------------------------
# The MAP view of a compiled model
# --------------------------------------------------------------------------------------------
