"""Spectra of weights and Jacobians, and how signals and gradients flow through depth.

* :func:`analyze_gradient_flow` — eigenvalues, spectral radius, singular values and condition
  number of one weight matrix (the reference's ``analyze_gradient_flow``, for square and
  rectangular matrices).
* :func:`weight_spectra` — the singular values, spectral norm, stable rank and condition number
  of every weight matrix of a model (Martin & Mahoney 2021; Bartlett, Foster & Telgarsky 2017).
* :func:`jacobian_spectrum` — the singular values of the input–output Jacobian ∂f(x)/∂x per
  sample: dynamical isometry (Saxe, McClelland & Ganguli 2014; Pennington, Schoenholz & Ganguli
  2017).
* :class:`GradientFlowMonitor` — per-layer gradient norms, weight norms and update/weight ratios
  recorded in the History during ``fit``.
* :func:`activation_statistics` — mean and variance of every layer's activations and of the
  gradients with respect to them, by depth (Glorot & Bengio 2010; He, Zhang, Ren & Sun 2015).

Conventions: a weight with more than two axes is read as a matrix with its last axis as columns,
W.reshape(-1, W.shape[-1]) — a Dense kernel (n_in, n_out) is unchanged, a Conv2D kernel
(kh, kw, c_in, c_out) becomes (kh·kw·c_in, c_out), the matrix of its im2col product. The condition
number is κ = σ_max/σ_min (= ``numpy.linalg.cond``): ∞ when σ_min = 0, also for the zero matrix.
Everything is computed in the dtype of the weights.
"""
from __future__ import annotations

import dataclasses
import numbers
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from .._core.batching import vmap
from .._core.transforms import grad, vjp
from .._core.tree import tree_map
from .._transforms import jacfwd, jacrev
from ..training.callbacks import Callback
from ._objective import as_generator, as_objective
from ._results import Result, RowsResult
from .gradcheck import _format_table

__all__ = ["analyze_gradient_flow", "GradientFlowAnalysis", "weight_spectra", "WeightSpectra",
           "WeightSpectrumRow", "jacobian_spectrum", "JacobianSpectrum", "GradientFlowMonitor",
           "activation_statistics", "ActivationStatistics", "ActivationRow"]


def _is_model(obj: Any) -> bool:
    from ..training import Model
    return isinstance(obj, Model)


def _as_matrix(w: Any, who: str) -> np.ndarray:
    """``w`` as a finite numeric 2-D array (integers and booleans → float64)."""
    a = np.asarray(w)
    if a.dtype.kind not in "biufc":
        raise TypeError(f"{who}: expected a numeric matrix, got dtype {a.dtype}")
    if a.ndim != 2:
        raise ValueError(f"{who}: expected a 2-D matrix, got an array of shape {a.shape} (for a "
                         f"kernel with more axes use weight_spectra, which reads it as "
                         f"W.reshape(-1, W.shape[-1]))")
    if a.size == 0:
        raise ValueError(f"{who}: expected a non-empty matrix, got shape {a.shape}")
    if a.dtype.kind in "biu":
        a = a.astype(np.float64)
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{who}: the matrix has non-finite entries (NaN or ±inf)")
    return a


def _condition(s: np.ndarray) -> float:
    """σ_max/σ_min of descending singular values; ∞ when σ_min = 0 (as ``numpy.linalg.cond``)."""
    if s[-1] == 0:
        return float("inf")
    return float(s[0] / s[-1])


def _scalar(v: Any) -> Any:
    return None if v is None else v.item() if isinstance(v, np.generic) else v


class _MappingResult(Result, Mapping):
    """A Result that is also a read-only mapping of its fields (``r["name"]``, ``dict(r)``)."""

    def __getitem__(self, key: str) -> Any:
        names = [f.name for f in dataclasses.fields(self)]
        if key not in names:
            raise KeyError(f"{key!r}; the keys are {', '.join(names)}")
        return getattr(self, key)

    def __iter__(self) -> Iterator[str]:
        return iter(f.name for f in dataclasses.fields(self))

    def __len__(self) -> int:
        return len(dataclasses.fields(self))

    def __eq__(self, other: Any) -> bool:
        if not isinstance(other, _MappingResult):
            return NotImplemented
        return type(self) is type(other) and self.to_dict() == other.to_dict()

    __hash__ = None  # type: ignore[assignment]


# --------------------------------------------------------------------------------------------
# One matrix
# --------------------------------------------------------------------------------------------

@dataclass(eq=False)
class GradientFlowAnalysis(_MappingResult):
    """What :func:`analyze_gradient_flow` returns: a dataclass that is also a mapping, so both
    ``r.spectral_radius`` and the reference's ``r["spectral_radius"]`` work.

    Attributes:
        spectral_radius: ρ(W) = max |λᵢ| (square W; None for rectangular W).
        condition_number: κ(W) = σ_max/σ_min (∞ if σ_min = 0), square or rectangular.
        max_eigenvalue, min_eigenvalue: the largest and smallest eigenvalue in numpy's ordering of
            complex numbers — by real part, ties broken by imaginary part — which is what
            ``np.max``/``np.min`` of the eigenvalues (the reference) return; a float when every
            eigenvalue is real, a complex otherwise. None for rectangular W.
        eigenvalues: the raw eigenvalues (``numpy.linalg.eigvals``; None for rectangular W).
        singular_values: σ₁ ≥ σ₂ ≥ … ≥ 0 (min(m, n) of them).
        spectral_norm: ‖W‖₂ = σ₁.
        rank: the numerical rank (``numpy.linalg.matrix_rank``'s tolerance σ₁·max(m, n)·eps).
        shape: (m, n).
    """

    spectral_radius: float | None
    condition_number: float
    max_eigenvalue: float | complex | None
    min_eigenvalue: float | complex | None
    eigenvalues: np.ndarray | None
    singular_values: np.ndarray
    spectral_norm: float
    rank: int
    shape: tuple


def analyze_gradient_flow(W: Any) -> GradientFlowAnalysis:
    """Eigenvalues, spectral radius, singular values and condition number of a weight matrix.

    For a square W the eigenvalues λᵢ govern repeated application (hᵗ = Wᵗh⁰, as in a linear RNN:
    signals and gradients grow when ρ(W) = max|λᵢ| > 1 and vanish when ρ(W) < 1); for any W the
    singular values bound one step: σ_min‖v‖ ≤ ‖Wv‖ ≤ σ_max‖v‖ = ‖W‖₂‖v‖ (‖W‖₂, the Lipschitz
    constant of v ↦ Wv, is what spectral normalisation constrains), and κ = σ_max/σ_min measures
    how unevenly directions are scaled (Pascanu, Mikolov & Bengio 2013; Saxe et al. 2014).

    This is the reference document's ``analyze_gradient_flow``, extended to rectangular W and with
    the singular values kept; for rectangular W the eigenvalue fields are None.

    Args:
        W: a 2-D real or complex matrix (square or rectangular).

    Returns:
        A :class:`GradientFlowAnalysis` (fields ``spectral_radius``, ``condition_number``,
        ``max_eigenvalue``, ``min_eigenvalue``, ``eigenvalues``, ``singular_values``,
        ``spectral_norm``, ``rank``, ``shape``), also readable as a dict.

    >>> import numpy as np
    >>> r = analyze_gradient_flow(np.array([[2.0, 0.0], [0.0, 0.5]]))
    >>> r["spectral_radius"], r["condition_number"], r.max_eigenvalue, r.min_eigenvalue
    (2.0, 4.0, 2.0, 0.5)
    >>> r = analyze_gradient_flow(np.array([[0.0, 3.0, 0.0], [1.0, 0.0, 0.0]]))   # rectangular
    >>> r.eigenvalues is None, r.singular_values, r.spectral_norm, r.condition_number, r.rank
    (True, array([3., 1.]), 3.0, 3.0, 2)
    """
    a = _as_matrix(W, "analyze_gradient_flow: W")
    s = np.linalg.svd(a, compute_uv=False)
    rank = int(np.sum(s > s[0] * max(a.shape) * np.finfo(s.dtype).eps)) if s[0] > 0 else 0
    kappa = _condition(s)
    if a.shape[0] == a.shape[1]:
        eig = np.linalg.eigvals(a)
        radius = _scalar(np.max(np.abs(eig)))
        big, small = _scalar(np.max(eig)), _scalar(np.min(eig))
    else:
        eig = radius = big = small = None
    return GradientFlowAnalysis(spectral_radius=radius, condition_number=kappa,
                                max_eigenvalue=big, min_eigenvalue=small, eigenvalues=eig,
                                singular_values=s, spectral_norm=_scalar(s[0]), rank=rank,
                                shape=tuple(a.shape))


# --------------------------------------------------------------------------------------------
# Every weight matrix of a model
# --------------------------------------------------------------------------------------------

@dataclass
class WeightSpectrumRow(Result):
    """One weight matrix: ``layer``/``weight`` names, its ``shape``, the ``matrix_shape`` it was
    read as, ``singular_values`` (descending), ``spectral_norm`` σ₁, ``frobenius_norm``,
    ``stable_rank`` ‖W‖_F²/‖W‖₂² (0 for the zero matrix) and ``condition_number`` σ₁/σ_min."""

    layer: str
    weight: str
    shape: tuple
    matrix_shape: tuple
    singular_values: np.ndarray
    spectral_norm: float
    frobenius_norm: float
    stable_rank: float
    condition_number: float


@dataclass
class WeightSpectra(RowsResult):
    """What :func:`weight_spectra` returns: ``rows`` (one :class:`WeightSpectrumRow` per weight
    with ≥ 2 axes); ``result["layer", "weight"]`` picks one; ``str()`` renders a table."""

    rows: list


    def __str__(self) -> str:
        head = ("layer", "weight", "shape", "as matrix", "‖W‖₂", "‖W‖_F", "stable rank", "cond")
        body = [(r.layer, r.weight, r.shape, r.matrix_shape, r.spectral_norm, r.frobenius_norm,
                 r.stable_rank, r.condition_number) for r in self.rows]
        return _format_table(head, body)


def _named_weights(source: Any) -> list:
    """[(layer, weight, array)] of a Model (its layers' trainable weights, in order) or of a
    nested dict of arrays (paths joined by "/")."""
    if _is_model(source):
        if not source.built:
            raise ValueError(f"weight_spectra: model {source.name!r} is not built yet; call it on "
                             f"data (fit, predict) or build(input_shape) first")
        return [(l.name, k, np.asarray(v)) for l in source.layers for k, v in l.params.items()]
    if not isinstance(source, Mapping):
        raise TypeError(f"weight_spectra: expected a Model or a dict of weights "
                        f"({{layer: {{weight: array}}}}), got {type(source).__name__}")
    out = []

    def walk(tree: Mapping, path: tuple):
        for k, v in tree.items():
            if isinstance(v, Mapping):
                walk(v, path + (str(k),))
            else:
                out.append(("/".join(path), str(k), np.asarray(v)))
    walk(source, ())
    return out


def weight_spectra(model: Any) -> WeightSpectra:
    """The singular values of every weight matrix of a model, with its spectral norm, stable rank
    and condition number.

    Each weight with ≥ 2 axes is read as W.reshape(-1, W.shape[-1]) (a Conv2D kernel as the
    (kh·kw·c_in, c_out) matrix of its im2col product; an LSTM kernel (n_in, 4·units) holds its
    four gates side by side); vectors (biases, normalisation scales) are skipped. For singular
    values σ₁ ≥ … ≥ σ_k:

        ‖W‖₂ = σ₁,   ‖W‖_F = (Σσᵢ²)^½,   stable rank ‖W‖_F²/‖W‖₂² = Σσᵢ²/σ₁² ∈ [1, rank],
        κ = σ₁/σ_k.

    The empirical spectral densities of trained weights are studied by Martin & Mahoney (2021);
    products of spectral norms (over stable ranks) enter the generalisation bounds of Bartlett,
    Foster & Telgarsky (2017); stable rank: Rudelson & Vershynin (2007).

    Args:
        model: a built :class:`~nnmath.training.Model` (its trainable weights), or a nested dict
            of arrays such as ``model.params``.

    Returns:
        A :class:`WeightSpectra` with one row per weight matrix.

    >>> import numpy as np
    >>> w = weight_spectra({"dense": {"kernel": np.diag([3.0, 4.0]), "bias": np.zeros(2)}})
    >>> r = w["dense", "kernel"]
    >>> r.singular_values, r.spectral_norm, r.stable_rank, r.condition_number
    (array([4., 3.]), 4.0, 1.5625, 1.3333333333333333)
    """
    rows = []
    for layer, wname, a in _named_weights(model):
        if a.ndim < 2:
            continue
        m = _as_matrix(a.reshape(-1, a.shape[-1]), f"weight_spectra: {layer}/{wname}")
        s = np.linalg.svd(m, compute_uv=False)
        fro2 = float(np.sum(s.astype(np.float64) ** 2))
        top = _scalar(s[0])
        rows.append(WeightSpectrumRow(
            layer=layer, weight=wname, shape=tuple(a.shape), matrix_shape=tuple(m.shape),
            singular_values=s, spectral_norm=top, frobenius_norm=float(np.sqrt(fro2)),
            stable_rank=fro2 / float(top) ** 2 if top > 0 else 0.0,
            condition_number=_condition(s)))
    return WeightSpectra(rows=rows)


# --------------------------------------------------------------------------------------------
# The input–output Jacobian
# --------------------------------------------------------------------------------------------

@dataclass
class JacobianSpectrum(Result):
    """What :func:`jacobian_spectrum` returns.

    Attributes:
        singular_values: shape (N, k), sample i's singular values of Jᵢ = ∂f(xᵢ)/∂xᵢ (descending,
            k = min(d_out, d_in)).
        mean_squared_singular_value: m₁ = mean of σ² over samples and singular values
            (= mean tr(JJᵀ)/k).
        spread: s₁ = mean of σ⁴ − m₁², the variance of the squared singular values (Pennington
            et al.'s spread; 0 at dynamical isometry).
        max_singular_value, min_singular_value: over every sample.
        input_shape, output_shape: per sample; ``mode``: "jacrev" or "jacfwd".
    """

    singular_values: np.ndarray
    mean_squared_singular_value: float
    spread: float
    max_singular_value: float
    min_singular_value: float
    input_shape: tuple
    output_shape: tuple
    mode: str


def _model_apply(model: Any, params: Any, x: np.ndarray, dtype: Any) -> tuple[Callable, Any, Any]:
    """(apply_fn, params, x) for a Model: inference mode, its non-trainable state held fixed."""
    x = model._cast(np.asarray(x))
    model._build_from(x)
    params = model.params if params is None else params
    state = model.state
    if dtype is not None:
        cast = lambda a: np.asarray(a).astype(dtype)          # noqa: E731
        params, state = tree_map(cast, params), tree_map(cast, state)
        x = x.astype(dtype) if x.dtype.kind == "f" else x
    return (lambda p, xb: model.apply(p, xb, training=False, state=state)), params, x


def jacobian_spectrum(f: Any, params: Any = None, x: Any = None, *, batch_size: int = 32,
                      mode: str = "auto", dtype: Any = None) -> JacobianSpectrum:
    """The singular values of the input–output Jacobian Jᵢ = ∂f(xᵢ)/∂xᵢ of every sample.

    A network is *dynamically isometric* when every singular value of J is close to 1, so that
    signals and gradients keep their norm in every direction through depth: exactly so for deep
    linear networks with orthogonal weights (Saxe, McClelland & Ganguli 2014), approximately for
    tanh networks with orthogonal weights at the edge of chaos, never for ReLU networks
    (Pennington, Schoenholz & Ganguli 2017). The summary follows Pennington et al.: the mean
    m₁ = E[σ²] and the spread s₁ = E[σ⁴] − m₁² of the squared singular values.

    Jᵢ is ``jacrev`` (d_out ≤ d_in) or ``jacfwd`` (d_out > d_in) of xᵢ ↦ f(params, xᵢ[None])[0],
    vmapped over ``batch_size`` samples at a time; the singular values come from
    ``numpy.linalg.svd`` of the (d_out, d_in) matrices.

    Args:
        f: ``apply_fn(params, x)`` taking a batch, or a :class:`~nnmath.training.Model`
            (inference mode, ``training=False``, its non-trainable state held fixed).
        params: the parameters (default for a Model: ``model.params``).
        x: the inputs, batch axis first (one array).
        batch_size: samples per vectorised Jacobian pass (bounds the memory).
        mode: "auto", "jacrev" or "jacfwd".
        dtype: compute in this floating dtype (parameters and inputs cast; default: as given).

    Returns:
        A :class:`JacobianSpectrum`.

    >>> import numpy as np
    >>> Q = np.linalg.qr(np.random.default_rng(0).standard_normal((3, 3)))[0]
    >>> r = jacobian_spectrum(lambda p, x: x @ p @ p, Q, np.ones((2, 3)))   # J = (QQ)ᵀ
    >>> np.allclose(r.singular_values, 1.0), round(r.spread, 12)
    (True, 0.0)
    """
    if mode not in ("auto", "jacrev", "jacfwd"):
        raise ValueError(f"jacobian_spectrum: mode must be 'auto', 'jacrev' or 'jacfwd', got "
                         f"{mode!r}")
    if not isinstance(batch_size, numbers.Integral) or batch_size <= 0:
        raise ValueError(f"jacobian_spectrum: batch_size must be a positive integer, got "
                         f"{batch_size!r}")
    if x is None:
        raise ValueError("jacobian_spectrum: x (the inputs, batch axis first) is required")
    if isinstance(x, (list, tuple, dict)):
        raise TypeError("jacobian_spectrum: x must be one array (a model with one input); got a "
                        f"{type(x).__name__}")
    if _is_model(f):
        apply_fn, params, x = _model_apply(f, params, x, dtype)
    elif callable(f):
        if params is None:
            raise ValueError("jacobian_spectrum: params is required with apply_fn(params, x)")
        x = np.asarray(x)
        if dtype is not None:
            params = tree_map(lambda a: np.asarray(a).astype(dtype), params)
            x = x.astype(dtype)
        apply_fn = f
    else:
        raise TypeError(f"jacobian_spectrum: expected apply_fn(params, x) or a Model, got "
                        f"{type(f).__name__}")
    if x.dtype.kind != "f":
        raise TypeError(f"jacobian_spectrum: the inputs must be floating point to differentiate "
                        f"with respect to them, got dtype {x.dtype}")
    if x.ndim < 1 or x.shape[0] == 0:
        raise ValueError(f"jacobian_spectrum: x needs a batch axis with ≥ 1 sample, got shape "
                         f"{x.shape}")

    def one(xi):
        out = apply_fn(params, xi[None])
        if isinstance(out, (list, tuple, dict)):
            raise TypeError("jacobian_spectrum: the model has several outputs; pass an apply_fn "
                            "that returns one array")
        return out[0]

    out_shape = tuple(np.shape(one(x[0])))
    d_in, d_out = int(np.prod(x.shape[1:])), int(np.prod(out_shape))
    if mode == "auto":
        mode = "jacrev" if d_out <= d_in else "jacfwd"
    jac = vmap((jacrev if mode == "jacrev" else jacfwd)(one))
    blocks = []
    for a in range(0, x.shape[0], batch_size):
        j = np.asarray(jac(x[a:a + batch_size]))
        blocks.append(np.linalg.svd(j.reshape(j.shape[0], d_out, d_in), compute_uv=False))
    s = np.concatenate(blocks, axis=0)
    s2 = s.astype(np.float64) ** 2
    m1 = float(np.mean(s2))
    return JacobianSpectrum(singular_values=s, mean_squared_singular_value=m1,
                            spread=float(np.mean(s2 ** 2) - m1 ** 2),
                            max_singular_value=float(np.max(s)),
                            min_singular_value=float(np.min(s)),
                            input_shape=tuple(x.shape[1:]), output_shape=out_shape, mode=mode)


# --------------------------------------------------------------------------------------------
# Gradient flow during training
# --------------------------------------------------------------------------------------------

def _norm(arrays: Sequence[np.ndarray]) -> float:
    return float(np.sqrt(sum(float(np.sum(np.square(a, dtype=np.float64))) for a in arrays)))


class GradientFlowMonitor(Callback):
    """Record per-layer gradient norms, weight norms and update/weight ratios during ``fit``, in
    the History.

    At the end of every epoch (and, with ``every="batch"``, after every training batch) the
    gradient of the compiled loss (regularisers included, inference mode, state fixed) on a fixed
    probe batch is computed with ``as_objective(model, x=probe_x, y=probe_y).grad(model.params)``
    and these keys are added to the epoch's logs, so ``history.history[key]`` has one value per
    epoch:

    * ``"grad_norm/<layer>"``   ‖∇_{θ_l} L(probe)‖₂ over all of layer l's trainable weights;
    * ``"weight_norm/<layer>"`` ‖θ_l‖₂;
    * ``"update_ratio/<layer>"`` ‖θ_l(end) − θ_l(start)‖₂ / ‖θ_l(start)‖₂ over the epoch (∞ if
      ‖θ_l(start)‖ = 0 and the weights moved): the relative size of the updates, ~1e-3 per step
      being the classic rule of thumb (Karpathy's CS231n notes);
    * ``"grad_norm"`` the norm of the whole gradient;
    * with ``per_weight=True`` also ``"grad_norm/<layer>/<weight>"``, ``"weight_norm/…"`` and
      ``"update_ratio/…"`` for each weight.

    With ``every="batch"`` the same keys are recorded after every training batch in
    :attr:`batch_history` (name → list over all batches of all epochs; the update ratio is then
    the step's). The probe gradient draws no random numbers and updates no state, so training is
    exactly as without the monitor. The keys also appear in the progress display's line.

    Vanishing and exploding gradients through depth: Hochreiter 1991; Bengio, Simard & Frasconi
    1994; Glorot & Bengio 2010; Pascanu, Mikolov & Bengio 2013.

    Args:
        probe_x, probe_y: a fixed batch (a few dozen samples) to measure the gradient on.
        sample_weight: optional weights of the probe samples.
        every: ``"epoch"`` (default) or ``"batch"``.
        per_weight: also record each weight's norms.

    Attributes:
        batch_history: per-batch records (``every="batch"``).
        keys: the names recorded (after the first measurement).

    >>> import numpy as np
    >>> from nnmath import keras
    >>> keras.utils.set_random_seed(0)
    >>> model = keras.Sequential([keras.layers.Dense(4, "tanh", input_shape=(3,), name="hidden"),
    ...                           keras.layers.Dense(1, name="out")])
    >>> model.compile(optimizer="sgd", loss="mse")
    >>> x, y = np.random.default_rng(0).standard_normal((16, 3)), np.zeros((16, 1))
    >>> h = model.fit(x, y, epochs=2, verbose=0, callbacks=[GradientFlowMonitor(x[:8], y[:8])])
    >>> sorted(k for k in h.history if k.endswith("/out"))
    ['grad_norm/out', 'update_ratio/out', 'weight_norm/out']
    >>> len(h.history["grad_norm/hidden"])
    2
    """

    def __init__(self, probe_x: Any, probe_y: Any, *, sample_weight: Any = None,
                 every: str = "epoch", per_weight: bool = False):
        super().__init__()
        if every not in ("epoch", "batch"):
            raise ValueError(f"GradientFlowMonitor: every must be 'epoch' or 'batch', got "
                             f"{every!r}")
        if probe_x is None or probe_y is None:
            raise ValueError("GradientFlowMonitor: probe_x and probe_y (a fixed batch to measure "
                             "the gradient on) are required")
        self.probe_x, self.probe_y, self.sample_weight = probe_x, probe_y, sample_weight
        self.every, self.per_weight = every, bool(per_weight)
        self.batch_history: dict[str, list] = {}
        self.keys: list[str] = []
        self._start: dict | None = None
        self._step_start: dict | None = None

    def _weights(self) -> dict:
        """{layer: {weight: a copy}} of the trainable weights."""
        return {l: {k: np.array(v, copy=True) for k, v in ws.items()}
                for l, ws in self.model.params.items()}

    def _measure(self, start: dict) -> dict:
        """The records at the current weights, with update ratios relative to ``start``."""
        model = self.model
        params = model.params
        obj = as_objective(model, x=self.probe_x, y=self.probe_y,
                           sample_weight=self.sample_weight, use_jit=False)
        g = obj.grad(params)
        out = {"grad_norm": _norm([np.asarray(a) for ws in g.values() for a in ws.values()])}
        for layer in model.layers:
            if layer.name not in params:
                continue
            names = list(params[layer.name])
            groups = [(layer.name, names)]
            if self.per_weight:
                groups += [(f"{layer.name}/{k}", [k]) for k in names]
            for key, ks in groups:
                w = [np.asarray(params[layer.name][k]) for k in ks]
                w0 = [start[layer.name][k] for k in ks]
                moved = _norm([a - b for a, b in zip(w, w0)])
                size0 = _norm(w0)
                out[f"grad_norm/{key}"] = _norm([np.asarray(g[layer.name][k]) for k in ks])
                out[f"weight_norm/{key}"] = _norm(w)
                out[f"update_ratio/{key}"] = moved / size0 if size0 > 0 else (
                    0.0 if moved == 0 else float("inf"))
        self.keys = list(out)
        return out

    def on_epoch_begin(self, epoch, logs=None):
        self._start = self._weights()

    def _implements_train_batch_hooks(self) -> bool:
        return self.every == "batch"        # per-epoch records need no per-batch logs

    def on_train_batch_begin(self, batch, logs=None):
        if self.every == "batch":
            self._step_start = self._weights()

    def on_train_batch_end(self, batch, logs=None):
        if self.every == "batch" and self._step_start is not None:
            for k, v in self._measure(self._step_start).items():
                self.batch_history.setdefault(k, []).append(v)

    def on_epoch_end(self, epoch, logs=None):
        if logs is None or self._start is None:
            return
        logs.update(self._measure(self._start))


# --------------------------------------------------------------------------------------------
# Activations and their gradients by depth
# --------------------------------------------------------------------------------------------

@dataclass
class ActivationRow(Result):
    """One depth: ``depth`` (0 = the input), ``layer`` name and ``kind`` (class), the output
    ``shape``, the mean and variance of its entries (``activation_mean``,
    ``activation_variance``) and of the gradient with respect to them (``gradient_mean``,
    ``gradient_variance``; None where the activation is not floating point)."""

    depth: int
    layer: str
    kind: str
    shape: tuple
    activation_mean: float
    activation_variance: float
    gradient_mean: float | None
    gradient_variance: float | None


@dataclass
class ActivationStatistics(Result):
    """What :func:`activation_statistics` returns.

    Attributes:
        rows: one :class:`ActivationRow` per depth, the input first.
        activation_variance_ratio: Var[h_L] / Var[h_1], last layer's output over the first's
            (≈ 1 when the forward signal keeps its scale).
        gradient_variance_ratio: Var[∂/∂h_1] / Var[∂/∂h_L], the gradient at the first layer's
            output over the gradient at the last (≈ 1 when the backward signal keeps its scale).
        cotangent: "loss" (∂L/∂output) or "random" (a standard normal cotangent).
    """

    rows: list
    activation_variance_ratio: float
    gradient_variance_ratio: float | None
    cotangent: str

    @property
    def activation_variances(self) -> np.ndarray:
        """Var[h_d] for d = 0 (input), 1, …, L."""
        return np.array([r.activation_variance for r in self.rows])

    @property
    def gradient_variances(self) -> np.ndarray:
        """Var[∂/∂h_d] for d = 0, …, L (NaN where undefined)."""
        return np.array([np.nan if r.gradient_variance is None else r.gradient_variance
                         for r in self.rows])

    def __str__(self) -> str:
        head = ("depth", "layer", "kind", "shape", "act mean", "act var", "grad mean", "grad var")
        body = [(r.depth, r.layer, r.kind, r.shape, r.activation_mean, r.activation_variance,
                 "-" if r.gradient_mean is None else r.gradient_mean,
                 "-" if r.gradient_variance is None else r.gradient_variance) for r in self.rows]
        return _format_table(head, body)


def _chain(source: Any, x: np.ndarray) -> tuple[list, np.ndarray]:
    """[(layer, weights incl. state)] of a Sequential model or a list of layers, and x cast to the
    first layer's dtype; unbuilt layers of a list are built from the shapes, as a call would."""
    from ..nn.layers.base import Layer
    from ..training import Sequential
    if _is_model(source):
        if not isinstance(source, Sequential):
            raise TypeError(f"activation_statistics follows a chain of layers: pass a Sequential "
                            f"model or a list of layers, not a {type(source).__name__} (a "
                            f"functional graph is not a chain)")
        x = source._cast(x)
        source._build_from(x)
        params, state = source.params, source.state
        layers = list(source.layers)
    elif isinstance(source, (list, tuple)) and source and all(isinstance(l, Layer)
                                                                for l in source):
        layers = list(source)
        if x.dtype.kind == "f" and x.dtype != layers[0].dtype:
            x = x.astype(layers[0].dtype)
        shape = (None,) + tuple(x.shape[1:])
        for l in layers:
            if not l.built:
                l.build(shape)
                l.built = True
            shape = l.compute_output_shape(shape)
        params = {l.name: l.params for l in layers}
        state = {l.name: l.state for l in layers}
    else:
        raise TypeError(f"activation_statistics: expected a Sequential model or a non-empty list "
                        f"of layers, got {type(source).__name__}")
    return [(l, {**params.get(l.name, {}), **(state.get(l.name) or {})}) for l in layers], x


def _moments(a: Any) -> tuple[float, float]:
    a = np.asarray(a)
    return float(np.mean(a)), float(np.var(a))


def activation_statistics(layers_or_model: Any, x: Any, *, y: Any = None, loss: Any = None,
                          seed: Any = 0) -> ActivationStatistics:
    """Mean and variance of every layer's activations, and of the gradients with respect to them,
    by depth — whether an initialisation preserves the scale of signals forward and of gradients
    backward.

    With h₀ = x and h_d = layer_d(h_{d−1}) (each layer's pure ``call(params, h, training=False)``,
    as ``Sequential`` runs them), and a cotangent ḡ_L at the output — ∂L/∂h_L of ``loss(y, h_L)``
    when ``y`` is given, else a standard normal draw — the gradients ḡ_{d−1} = J_dᵀ ḡ_d are pulled
    back layer by layer with ``nnmath.vjp``. Mean and variance are over all entries (samples and
    units) of h_d and ḡ_d.

    For a layer h = φ(Wz) with n inputs and i.i.d. weights of variance v, Var[Wz] = n·v·E[φ(z)²]
    forward and Var[ḡ_z] = n_out·v·Var[ḡ]·E[φ′²] backward: Glorot & Bengio (2010) choose
    v = 2/(n_in + n_out) to keep both near constant for tanh (φ′(0) = 1), He et al. (2015)
    v = 2/n_in for ReLU (E[relu(z)²] = Var[z]/2); orthogonal weights keep every singular value 1
    (Saxe et al. 2014). A badly scaled init makes the variances shrink or grow geometrically with
    depth.

    Args:
        layers_or_model: a :class:`~nnmath.training.Sequential` model or a list of layers.
        x: a batch of inputs.
        y: targets; with them the output cotangent is ∂L/∂h_L of the loss.
        loss: the loss (a Keras name, object or ``loss(y_true, y_pred)``; default: the model's
            compiled loss). Used only with ``y``.
        seed: seeds the random cotangent (an int or ``numpy.random.Generator``).

    Returns:
        An :class:`ActivationStatistics` (rows by depth, the forward and backward variance
        ratios; ``str()`` a table).

    >>> import numpy as np
    >>> from nnmath import keras
    >>> layers = [keras.layers.Dense(4, kernel_initializer="identity", dtype="float64")
    ...           for _ in range(3)]
    >>> s = activation_statistics(layers, np.random.default_rng(0).standard_normal((50, 4)))
    >>> s.activation_variance_ratio, s.gradient_variance_ratio      # identity layers
    (1.0, 1.0)
    """
    from ..nn import losses as _losses
    chain, x = _chain(layers_or_model, np.asarray(x))
    h, acts, pulls = x, [x], []
    for layer, p in chain:
        fn = lambda z, layer=layer, p=p: layer.call(p, z, training=False, rng=None)   # noqa: E731
        if np.asarray(h).dtype.kind == "f":
            h, pull = vjp(fn, h)
        else:
            h, pull = fn(h), None                 # integer inputs (Embedding): no gradient
        acts.append(h)
        pulls.append(pull)
    out = np.asarray(h)
    if y is not None:
        spec = loss if loss is not None else getattr(layers_or_model, "loss", None)
        if spec is None:
            raise ValueError("activation_statistics: y was given without a loss: pass loss=... "
                             "or a compiled model")
        loss_fn = spec if callable(spec) and not isinstance(spec, str) else _losses.get(spec)
        g = np.asarray(grad(lambda o: loss_fn(np.asarray(y), o))(out))
        kind = "loss"
    else:
        g = as_generator(seed).standard_normal(out.shape).astype(out.dtype)
        kind = "random"
    grads: list = [None] * len(acts)
    grads[-1] = g
    for d in range(len(pulls), 0, -1):
        if pulls[d - 1] is None:
            break
        g = np.asarray(pulls[d - 1](g)[0])
        grads[d - 1] = g
    rows = []
    for d, (a, gd) in enumerate(zip(acts, grads)):
        layer = chain[d - 1][0] if d else None
        am, av = _moments(a)
        gm, gv = _moments(gd) if gd is not None else (None, None)
        rows.append(ActivationRow(depth=d, layer="input" if layer is None else layer.name,
                                  kind="Input" if layer is None else type(layer).__name__,
                                  shape=tuple(np.shape(a)), activation_mean=am,
                                  activation_variance=av, gradient_mean=gm, gradient_variance=gv))
    first, last = rows[1], rows[-1]
    a_ratio = last.activation_variance / first.activation_variance \
        if first.activation_variance > 0 else float("nan")
    g_ratio = None
    if first.gradient_variance is not None and last.gradient_variance:
        g_ratio = first.gradient_variance / last.gradient_variance
    return ActivationStatistics(rows=rows, activation_variance_ratio=a_ratio,
                                gradient_variance_ratio=g_ratio, cotangent=kind)
