"""Neural tangent kernels: the empirical NTK of any model, its spectrum, the gradient-flow
predictions of the linearised model, and the analytic infinite-width kernels of fully-connected
networks.

* Empirical NTK (Jacot, Gabriel & Hongler 2018): Θ(x, x′) = J(x) J(x′)ᵀ, J(x) = ∂f(x; θ)/∂θ,
  for ``apply_fn(params, x)`` or a :class:`~nnmath.training.Model`. Two ways to the same kernel:
  Jacobian contraction (per-sample Jacobians by ``vmap`` of ``jacrev``, then one GEMM per
  parameter leaf) and NTK-vector products Θv = J(Jᵀv) (a VJP, then a vmapped JVP; Novak,
  Sohl-Dickstein & Schoenholz 2022).
* Linearised training (Lee et al. 2019): under gradient flow on a squared loss, the linearised
  network's outputs are f_t = f₀ + Θ(·, X) Θ(X, X)⁻¹ (I − e^{−aηΘ(X, X)t}) (y − f₀(X)), with
  a = 1, 1/(n·k) or 2/(n·k) for the summed, neural-tangents and Keras losses (see
  :func:`ntk_predict`).
* Infinite width (Jacot et al. 2018; Lee et al. 2018; Cho & Saul 2009; Williams 1997): the NNGP
  and NTK of Dense → φ → … → Dense in the NTK parameterisation, in closed form for relu and erf.

Every kernel is computed in the parameters' dtype; memory is bounded by working on chunks of
samples (``batch_size``) and by :func:`~nnmath.analysis.curvature.check_dense_size` for the dense
results.
"""
from __future__ import annotations

import dataclasses
import numbers
import weakref
from typing import Any, Callable

import numpy as np
import scipy.linalg
from scipy.sparse.linalg import LinearOperator, eigsh

from .. import numpy as mnp
from .._core.batching import vmap
from .._core.transforms import jvp, vjp
from .._core.tree import tree_flatten, tree_unflatten
from .._transforms import jacrev
from ._objective import _Jittable, _is_model
from ._results import Result
from .curvature import MAX_DENSE_BYTES, check_dense_size

__all__ = ["empirical_ntk", "ntk_operator", "ntk_eigenspectrum", "NTKSpectrum", "ntk_predict",
           "NTKPrediction", "infinite_width_kernels", "InfiniteWidthKernels", "NTKOperator",
           "choose_method"]

#: Bytes of per-sample Jacobians one chunk may hold when ``batch_size`` is not given (64 MiB).
CHUNK_BYTES = 1 << 26

#: Tangents × samples in one vmapped JVP pass of the "ntvp" method (bounds its activations).
PUSH_ELEMENTS = 1 << 14

_METHODS = ("auto", "jacobian", "ntvp")
_TRACES = (None, "mean", "sum")


# --------------------------------------------------------------------------------------------
# The model as a function of (params, a batch of samples)
# --------------------------------------------------------------------------------------------

class _Model:
    """What every NTK tool needs of ``apply_fn``/a Model: the batched function, the point θ₀,
    its dtype, the per-sample flat output f_i ∈ ℝᵏ and jit-recorded per-chunk products."""

    def __init__(self, f: Any, params: Any, x1: Any, use_jit: bool = True):
        if _is_model(f):
            model = f
            xs = list(x1) if not model._single_in else [x1]
            model._build_from(model._model_input([np.asarray(v) for v in xs]))
            params = model.params if params is None else params
            self.state = model.state
            ref = weakref.ref(model)

            def call(p, x, state):
                return ref().apply(p, x, training=False, state=state)
            self.cast = lambda x: model._model_input(model._cast_list(
                [x] if model._single_in else list(x)))
        elif callable(f):
            if params is None:
                raise ValueError("params is required with apply_fn(params, x) (the point θ₀ at "
                                 "which the kernel is taken)")
            self.state = None
            try:
                ref = weakref.ref(f)
            except TypeError:
                ref = lambda: f          # noqa: E731  (not weak-referenceable: held strongly)

            def call(p, x, state):
                return ref()(p, x)
            self.cast = lambda x: x
        else:
            raise TypeError(f"apply_fn must be a function apply_fn(params, x) or a Model, got "
                            f"{type(f).__name__}")
        leaves, self.treedef = tree_flatten(params)
        leaves = [np.asarray(p) for p in leaves]
        if not leaves:
            raise ValueError("params has no arrays: the NTK needs parameters to differentiate")
        bad = [str(p.dtype) for p in leaves if p.dtype.kind != "f"]
        if bad:
            raise TypeError(f"the parameters must be floating point, got dtype {bad[0]}")
        self.dtype = np.result_type(*leaves)
        self.params = tree_unflatten(self.treedef, leaves)
        self.leaves = leaves
        self.size = int(sum(p.size for p in leaves))
        self.call = call
        self.owner = f                  # held while this computation lives (the plans hold `ref`)
        self.use_jit = use_jit
        # Plans are kept per (apply_fn or Model, parameter structure) across calls, weakly, so a
        # second kernel of the same model replays them (like jax.jit, on the function's identity).
        try:
            owner = _PLANS.setdefault(f, {})
        except TypeError:
            owner = {}
        self._fns = owner.setdefault((self.treedef, use_jit), {})

    # ------------------------------------------------------------------ data
    def samples(self, x: Any, what: str) -> tuple[Any, int, list]:
        """(x cast for the model, number of samples, per-sample shapes of its leaves)."""
        if x is None:
            raise ValueError(f"{what} is required: an array (or a list of arrays) of samples, "
                             f"batch axis first")
        x = self.cast(x)
        leaves, _ = tree_flatten(x)
        if not leaves:
            raise ValueError(f"{what} holds no arrays")
        shapes = [tuple(np.shape(a)) for a in leaves]
        if any(len(s) == 0 for s in shapes):
            raise ValueError(f"{what} must have a batch axis first, got a 0-d array")
        ns = {s[0] for s in shapes}
        if len(ns) != 1:
            raise ValueError(f"{what}: its arrays have different numbers of samples "
                             f"{sorted(ns)}; they must match")
        return x, ns.pop(), [s[1:] for s in shapes]

    # ------------------------------------------------------------------ functions of θ
    def outputs(self, p: Any, x: Any) -> np.ndarray:
        """f(θ, x) as an (n, k) array, untraced."""
        return np.asarray(_outputs(self.call, p, x, self.state))

    def _f(self, key: Any, make: Callable) -> Callable:
        fn = self._fns.get(key)
        if fn is None:
            fn = self._fns[key] = _Jittable(make(), self.use_jit)
        return fn

    def jacobian(self, x: Any) -> list:
        """Per-sample Jacobians of the chunk ``x``: one array (c, k, *leaf.shape) per leaf —
        ``vmap`` over samples of ``jacrev`` of the sample's k outputs."""
        call, treedef, x_def = self.call, self.treedef, tree_flatten(x)[1]

        def make():
            def one(leaves, xi, state):
                xb = tree_unflatten(x_def, [mnp.expand_dims(a, 0) for a in tree_flatten(xi)[0]])
                return _outputs(call, tree_unflatten(treedef, list(leaves)), xb, state)[0]
            return lambda leaves, x, state: vmap(jacrev(one), in_axes=(None, 0, None))(
                leaves, x, state)
        fn = self._f(("jacobian", x_def), make)
        return [np.asarray(j) for j in fn(list(self.leaves), x, self.state)]

    def push(self, tangents: list, x: Any) -> np.ndarray:
        """J(x) t for a stack of tangents (one array (m, *leaf.shape) per leaf): (m, n, k)."""
        call, treedef = self.call, self.treedef

        def make():
            def push(leaves, tangents, x, state):
                f = lambda *ls: _outputs(call, tree_unflatten(treedef, list(ls)), x, state)  # noqa
                return vmap(lambda *ts: jvp(f, tuple(leaves), tuple(ts))[1])(*tangents)
            return push
        fn = self._f("push", make)
        return np.asarray(fn(list(self.leaves), list(tangents), x, self.state))

    def pull(self, cot: np.ndarray, x: Any) -> list:
        """J(x)ᵀ v for one cotangent v of shape (n, k): one array per parameter leaf."""
        call, treedef = self.call, self.treedef

        def make():
            def pull(leaves, cot, x, state):
                f = lambda *ls: _outputs(call, tree_unflatten(treedef, list(ls)), x, state)  # noqa
                return list(vjp(f, *leaves)[1](cot))
            return pull
        fn = self._f("pull", make)
        return [np.asarray(g) for g in fn(list(self.leaves), cot, x, self.state)]


#: Recorded plans per apply_fn / Model (weak keys: they go with the function or the model).
_PLANS: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def _outputs(call: Callable, p: Any, x: Any, state: Any):
    """f(θ, x) as an (n, k) array (every output leaf flattened per sample)."""
    n = tree_flatten(x)[0][0].shape[0]
    leaves, _ = tree_flatten(call(p, x, state))
    flat = []
    for o in leaves:
        shape = tuple(o.shape)
        if not shape or shape[0] != n:
            raise ValueError(f"apply_fn(params, x) must return outputs with the batch axis "
                             f"first: got shape {shape} for {n} samples")
        flat.append(mnp.reshape(o, (n, -1)))
    return flat[0] if len(flat) == 1 else mnp.concatenate(flat, axis=1)


def _take(x: Any, s: slice) -> Any:
    leaves, treedef = tree_flatten(x)
    return tree_unflatten(treedef, [a[s] for a in leaves])


def _chunks(n: int, size: int) -> list:
    return [slice(a, min(n, a + size)) for a in range(0, n, size)]


def _check_choice(value: Any, what: str, choices: tuple) -> None:
    if value not in choices:
        raise ValueError(f"{what} must be one of {', '.join(map(repr, choices))}, got {value!r}")


def _chunk_size(batch_size: Any, k: int, model: _Model, n: int) -> int:
    if batch_size is None:
        per_sample = max(1, k * model.size * np.dtype(model.dtype).itemsize)
        return max(1, min(n, CHUNK_BYTES // per_sample))
    if not isinstance(batch_size, numbers.Integral) or isinstance(batch_size, bool) \
            or batch_size <= 0:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    return int(batch_size)


def choose_method(n1: int, n2: int, k: int, num_params: int) -> str:
    """The cheaper method by estimated FLOPs (the rule of ``method="auto"``).

    With F the FLOPs of one sample's forward pass, estimated as 2P (one multiply-add per
    parameter: exact for dense layers, low for weight-sharing layers), a backward or a tangent
    pass costing ≈ 2F more, and the same per-sample Jacobians J(x′) of ``x2`` in both methods:

    * "jacobian": n₁·k·3F (J(x) of ``x1``) + 2·n₁·n₂·k²·P (the GEMMs J(x) J(x′)ᵀ);
    * "ntvp":     2 × n₁·n₂·k·3F (one JVP over ``x1`` per row of J(x′)), the factor 2 because
      the vmapped JVPs run as stacked small matrix products, measured at about half the rate
      of one large GEMM (numpy/OpenBLAS, 2 threads).

    So "ntvp" is chosen when 6F·(2n₂ − 1) < 2·n₂·k·P, i.e. (F = 2P) for k ≥ 7 outputs; it also
    holds no Jacobian of ``x1``. For convolutional or recurrent models (F ≫ P) pass
    ``method="jacobian"``.
    """
    flops_forward = 2.0 * num_params
    jacobian = n1 * k * 3 * flops_forward + 2.0 * n1 * n2 * k * k * num_params
    ntvp = 2 * n1 * n2 * k * 3 * flops_forward
    return "ntvp" if ntvp < jacobian else "jacobian"


# --------------------------------------------------------------------------------------------
# The empirical NTK
# --------------------------------------------------------------------------------------------

def empirical_ntk(apply_fn: Any, params: Any, x1: Any, x2: Any = None, *, method: str = "auto",
                  batch_size: int | None = None, trace: str | None = None,
                  max_bytes: int | None = None) -> np.ndarray:
    """The empirical neural tangent kernel Θ(x, x′) = J(x) J(x′)ᵀ, J = ∂f(x; θ)/∂θ
    (Jacot, Gabriel & Hongler 2018), at θ = ``params``.

    ``method="jacobian"`` builds the per-sample Jacobians of a chunk of samples (``vmap`` of
    ``jacrev``) and contracts them with one GEMM per parameter leaf; ``method="ntvp"`` uses
    NTK-vector products Θ v = J(x)(J(x′)ᵀ v) — for the standard basis v, J(x′)ᵀ v is a row of
    J(x′), pushed forward by a vmapped JVP over ``x1`` (Novak, Sohl-Dickstein & Schoenholz
    2022), so J(x) is never stored. Both give the same kernel; ``"auto"`` picks by estimated FLOPs
    (:func:`choose_method`: "ntvp" for k ≥ 7 outputs, else "jacobian").

    Args:
        apply_fn: ``apply_fn(params, x)`` returning outputs with the batch axis first (an array
            or a pytree of arrays: each sample's outputs are flattened and concatenated into k
            numbers), or a :class:`~nnmath.training.Model` (``model.apply(..., training=False)``
            with its state held fixed).
        params: the parameter pytree θ (for a Model, None means ``model.params``).
        x1: n₁ samples, batch axis first (an array or a list of arrays).
        x2: n₂ samples; default ``x1`` (the symmetric kernel, each Jacobian computed once).
        method: "auto", "jacobian" or "ntvp".
        batch_size: samples per chunk (default: as many as fit in 64 MiB of Jacobian).
        trace: None (the full kernel over output pairs), "mean" or "sum": contract the output
            axes, Θ̄(x, x′) = (1/k)·Σ_o Θ_oo(x, x′) (neural-tangents' ``trace_axes=(-1,)``) or the
            sum.
        max_bytes: the largest dense result (and cache of Jacobians) allowed, default 1 GiB.

    Returns:
        The kernel in the parameters' dtype: shape (n₁, n₂) when each sample has one output or
        ``trace`` is given, else (n₁, n₂, k, k) with ``[i, j, o, o′] = ∂f_o(x_i)/∂θ ·
        ∂f_o′(x′_j)/∂θ`` (neural-tangents' layout with ``trace_axes=()``).

    >>> import numpy as np, nnmath.numpy as mnp
    >>> f = lambda w, x: x @ w                     # linear model: J = X, Θ = X Xᵀ
    >>> X = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    >>> empirical_ntk(f, np.zeros(2), X)
    array([[ 5., 11., 17.],
           [11., 25., 39.],
           [17., 39., 61.]])
    """
    _check_choice(method, "method", _METHODS)
    _check_choice(trace, "trace", _TRACES)
    model = _Model(apply_fn, params, x1)
    x1, n1, shapes1 = model.samples(x1, "x1")
    symmetric = x2 is None
    if symmetric:
        x2, n2 = x1, n1
    else:
        x2, n2, shapes2 = model.samples(x2, "x2")
        if shapes2 != shapes1:
            raise ValueError(f"x2's samples have shape {_fmt_shapes(shapes2)} but x1's have "
                             f"{_fmt_shapes(shapes1)}; they must match")
    k = int(model.outputs(model.params, _take(x1, slice(0, 1))).shape[1])
    squeeze = trace is not None or k == 1
    rows, cols = (n1, n2) if squeeze else (n1 * k, n2 * k)
    check_dense_size(rows, cols, model.dtype, "NTK", max_bytes)
    if method == "auto":
        method = choose_method(n1, n2, k, model.size)
    size = _chunk_size(batch_size, k, model, max(n1, n2))
    out = np.zeros((n1, n2) if squeeze else (n1, n2, k, k), model.dtype)
    s1, s2 = _chunks(n1, size), _chunks(n2, size)
    limit = MAX_DENSE_BYTES if max_bytes is None else int(max_bytes)
    cache_cols = n2 * k * model.size * np.dtype(model.dtype).itemsize <= limit
    cache: dict = {}

    def jac(x, s, key):
        if key in cache:
            return cache[key]
        j = model.jacobian(_take(x, s))
        if cache_cols:
            cache[key] = j
        return j

    for b in s2:
        jb = jac(x2, b, ("x2" if not symmetric else "x1", b.start))
        for a in s1:
            if symmetric and a.start > b.start:
                continue            # filled by symmetry
            if method == "ntvp":
                tangents = [j.reshape((-1,) + j.shape[2:]) for j in jb]       # (cb·k, *leaf)
                cb, ca = b.stop - b.start, a.stop - a.start
                step = max(1, PUSH_ELEMENTS // ca)        # tangents × samples per JVP pass
                xa = _take(x1, a)
                pushed = np.concatenate([model.push([t[i:i + step] for t in tangents], xa)
                                         for i in range(0, cb * k, step)])   # (cb·k, ca, k)
                block = pushed.reshape(cb, k, ca, k).transpose(2, 0, 3, 1)
                block = _reduce(block, trace)
            else:
                ja = jb if symmetric and a == b else jac(x1, a, ("x1", a.start))
                block = _contract(ja, jb, trace)
            if squeeze and block.ndim == 4:
                block = block[:, :, 0, 0]
            if symmetric and a == b:        # exactly symmetric (GEMM rounding is not)
                block = (block + (block.T if squeeze else block.transpose(1, 0, 3, 2))) / 2
            out[a, b] = block
            if symmetric and a != b:
                out[b, a] = block.T if squeeze else block.transpose(1, 0, 3, 2)
    return out


def _fmt_shapes(shapes: list) -> str:
    return str(shapes[0]) if len(shapes) == 1 else str(shapes)


def _contract(ja: list, jb: list, trace: str | None) -> np.ndarray:
    """Σ over parameter leaves of J_a J_bᵀ (one GEMM each): (ca, cb) or (ca, cb, k, k)."""
    ca, k = ja[0].shape[:2]
    cb = jb[0].shape[0]
    if trace is None:
        acc = None
        for u, v in zip(ja, jb):
            g = u.reshape(ca * k, -1) @ v.reshape(cb * k, -1).T
            acc = g if acc is None else acc + g
        return acc.reshape(ca, k, cb, k).transpose(0, 2, 1, 3)
    acc = np.zeros((ca, cb), ja[0].dtype)
    for u, v in zip(ja, jb):
        u, v = u.reshape(ca, k, -1), v.reshape(cb, k, -1)
        for o in range(k):
            acc += u[:, o] @ v[:, o].T
    return acc / k if trace == "mean" else acc


def _reduce(block: np.ndarray, trace: str | None) -> np.ndarray:
    if trace is None:
        return block
    diag = np.einsum("abkk->ab", block)
    return diag / block.shape[-1] if trace == "mean" else diag


class NTKOperator(LinearOperator):
    """Θ(X, X) as a LinearOperator on ℝ^{n·k} (sample-major: index i·k + o), known by its
    NTK-vector products Θ v = J(Jᵀ v): one VJP then one JVP per chunk of samples, the matrix and
    J never formed. ``num_matvecs`` counts the products."""

    def __init__(self, model: _Model, x: Any, n: int, k: int, size: int):
        super().__init__(dtype=model.dtype, shape=(n * k, n * k))
        self._model, self._x, self._n, self._k = model, x, n, k
        self._slices = _chunks(n, size)
        self.num_matvecs = 0

    def _matvec(self, v: np.ndarray) -> np.ndarray:
        m, k = self._model, self._k
        v = np.asarray(v).reshape(self._n, k).astype(m.dtype, copy=False)
        self.num_matvecs += 1
        u = None
        for s in self._slices:
            g = m.pull(v[s], _take(self._x, s))
            u = g if u is None else [a + b for a, b in zip(u, g)]
        out = np.empty((self._n, k), m.dtype)
        for s in self._slices:
            tangents = [a[None] for a in u]
            out[s] = m.push(tangents, _take(self._x, s))[0]
        return out.reshape(-1)

    def _rmatvec(self, v: np.ndarray) -> np.ndarray:
        return self._matvec(v)              # symmetric

    def _adjoint(self) -> "NTKOperator":
        return self


def ntk_operator(apply_fn: Any, params: Any, x: Any, *,
                 batch_size: int | None = None) -> NTKOperator:
    """The empirical NTK Θ(X, X) as a ``scipy.sparse.linalg.LinearOperator`` of size n·k,
    applied by NTK-vector products Θv = J(Jᵀv) (Novak, Sohl-Dickstein & Schoenholz 2022): a VJP
    over the data, then a JVP, per chunk of ``batch_size`` samples; memory is P plus one chunk's
    activations, so ``eigsh`` reaches the top of the spectrum of kernels too large to store.

    Args:
        apply_fn, params, x: as :func:`empirical_ntk` (``x`` the n samples).
        batch_size: samples per VJP/JVP pass (default 256).

    Returns:
        An :class:`NTKOperator` (vectors indexed sample-major, i·k + o).

    >>> import numpy as np
    >>> X = np.array([[1.0, 2.0], [3.0, 4.0]])
    >>> ntk_operator(lambda w, x: x @ w, np.zeros(2), X) @ np.array([1.0, 0.0])   # X Xᵀ e₁
    array([ 5., 11.])
    """
    model = _Model(apply_fn, params, x)
    x, n, _ = model.samples(x, "x")
    k = int(model.outputs(model.params, _take(x, slice(0, 1))).shape[1])
    size = 256 if batch_size is None else _chunk_size(batch_size, k, model, n)
    return NTKOperator(model, x, n, k, size)


# --------------------------------------------------------------------------------------------
# Spectrum
# --------------------------------------------------------------------------------------------

@dataclasses.dataclass
class NTKSpectrum(Result):
    """Eigen-decomposition of the empirical NTK Θ(X, X) (an (n·k) × (n·k) matrix, sample-major,
    or n × n with ``trace``).

    Attributes:
        eigenvalues: in descending order (all of them, or the top ``num_eigenvalues``).
        eigenvectors: columns matching ``eigenvalues`` (None unless asked for).
        condition_number: λ_max / λ_min (inf when λ_min ≤ 0; None for a partial spectrum).
        trace: tr Θ = Σ_i ‖J(x_i)‖²_F (exact, also for a partial spectrum).
        size: the order of the matrix.
        method: how it was computed ("dense" eigh, or "lanczos" on NTK-vector products).
    """

    eigenvalues: np.ndarray
    eigenvectors: np.ndarray | None
    condition_number: float | None
    trace: float
    size: int
    method: str


def ntk_eigenspectrum(apply_fn: Any, params: Any, x: Any, *, num_eigenvalues: int | None = None,
                      eigenvectors: bool = False, trace: str | None = None,
                      method: str = "auto", batch_size: int | None = None,
                      max_bytes: int | None = None, tol: float = 0.0) -> NTKSpectrum:
    """Eigenvalues of the empirical NTK Θ(X, X) = J Jᵀ (Jacot et al. 2018), which set the
    rates of the linearised network's gradient flow along each eigenvector (Lee et al. 2019):
    residual components decay as e^{−ηλt}.

    With ``num_eigenvalues=None`` the dense kernel (:func:`empirical_ntk`) is diagonalised
    (``scipy.linalg.eigh``); with ``num_eigenvalues=m`` the top m come from Lanczos
    (``scipy.sparse.linalg.eigsh``) on NTK-vector products (:func:`ntk_operator`), never forming
    Θ; the trace is then Σ_i ‖J(x_i)‖² from per-sample Jacobians.

    Args:
        apply_fn, params, x: as :func:`empirical_ntk`.
        num_eigenvalues: how many of the largest to compute (None: all, densely).
        eigenvectors: also return the eigenvectors.
        trace: None, "mean" or "sum": the spectrum of the output-traced n × n kernel (dense only).
        method, batch_size, max_bytes: as :func:`empirical_ntk`.
        tol: relative accuracy for Lanczos (0: machine precision).

    Returns:
        An :class:`NTKSpectrum`.

    >>> import numpy as np
    >>> X = np.array([[1.0, 0.0], [0.0, 2.0]])
    >>> s = ntk_eigenspectrum(lambda w, x: x @ w, np.zeros(2), X)
    >>> s.eigenvalues, s.condition_number, s.trace
    (array([4., 1.]), 4.0, 5.0)
    """
    _check_choice(trace, "trace", _TRACES)
    if num_eigenvalues is None:
        theta = empirical_ntk(apply_fn, params, x, method=method, batch_size=batch_size,
                              trace=trace, max_bytes=max_bytes)
        if theta.ndim == 4:
            n, _, k, _ = theta.shape
            theta = theta.transpose(0, 2, 1, 3).reshape(n * k, n * k)
        theta = (theta + theta.T) / 2
        if eigenvectors:
            w, v = scipy.linalg.eigh(theta)
            w, v = w[::-1], v[:, ::-1]
        else:
            w, v = scipy.linalg.eigh(theta, eigvals_only=True)[::-1], None
        cond = float(w[0] / w[-1]) if w[-1] > 0 else float("inf")
        return NTKSpectrum(w, v, cond, float(np.trace(theta)), int(theta.shape[0]), "dense")
    if trace is not None:
        raise ValueError("trace= needs the dense spectrum: pass num_eigenvalues=None")
    op = ntk_operator(apply_fn, params, x, batch_size=batch_size)
    m = num_eigenvalues
    if not isinstance(m, numbers.Integral) or isinstance(m, bool) or not 0 < m < op.shape[0]:
        raise ValueError(f"num_eigenvalues must be an integer in [1, {op.shape[0] - 1}] (the "
                         f"kernel has order {op.shape[0]}; use None for all), got {m!r}")
    rng = np.random.default_rng(0)                 # a fixed start: reproducible
    v0 = rng.standard_normal(op.shape[0]).astype(op.dtype)
    res = eigsh(op, k=int(m), which="LA", tol=tol, v0=v0, return_eigenvectors=eigenvectors)
    w, v = (res[0], res[1]) if eigenvectors else (res, None)
    order = np.argsort(w)[::-1]
    w = w[order]
    v = None if v is None else v[:, order]
    total = 0.0
    model, xs = op._model, op._x
    for s in op._slices:
        total += sum(float(np.sum(j * j)) for j in model.jacobian(_take(xs, s)))
    return NTKSpectrum(w, v, None, total, int(op.shape[0]), "lanczos")


# --------------------------------------------------------------------------------------------
# Linearised training: kernel regression and gradient flow
# --------------------------------------------------------------------------------------------

@dataclasses.dataclass
class NTKPrediction(Result):
    """Outputs of the linearised network trained by gradient flow on a squared loss.

    Attributes:
        t: the training times (as given: a number or an array; ``inf`` = converged).
        train: f_t(X), shaped like ``y_train`` (a leading time axis when ``t`` is an array).
        test: f_t(x) on the test points (None without ``ntk_test_train``).
    """

    t: Any
    train: np.ndarray
    test: np.ndarray | None


_LOSSES = ("sum", "mean", "mse")


def _as_matrix(kernel: np.ndarray, n_rows: int | None, n: int, k: int, what: str) -> tuple:
    """A kernel as a 2-D matrix and whether it is the full (output-pair) form."""
    kernel = np.asarray(kernel)
    if kernel.ndim == 2:
        if n_rows is not None and kernel.shape[0] != n_rows or kernel.shape[1] != n:
            raise ValueError(f"{what} has shape {kernel.shape}; expected ({n_rows or n}, {n})")
        return kernel, False
    if kernel.ndim == 4:
        m = kernel.shape[0]
        if kernel.shape[1:] != (n, k, k) or (n_rows is not None and m != n_rows):
            raise ValueError(f"{what} has shape {kernel.shape}; expected "
                             f"({n_rows or n}, {n}, {k}, {k}) for targets with {k} outputs")
        return kernel.transpose(0, 2, 1, 3).reshape(m * k, n * k), True
    raise ValueError(f"{what} must be 2-D (n, n) or 4-D (n, n, k, k), got shape {kernel.shape}")


def ntk_predict(ntk_train_train: Any, y_train: Any, t: Any = np.inf, *,
                learning_rate: float = 1.0, ntk_test_train: Any = None, f_train_0: Any = None,
                f_test_0: Any = None, loss: str = "sum", diag_reg: float = 0.0) -> NTKPrediction:
    """Predictions of a network linearised at θ₀ and trained by gradient flow on a squared loss
    (Lee et al. 2019, "Wide neural networks of any depth evolve as linear models under gradient
    descent"; Jacot et al. 2018):

        f_t(X) = f₀(X) + (I − e^{−aηΘt}) (y − f₀(X)),
        f_t(x) = f₀(x) + Θ(x, X) Θ⁻¹ (I − e^{−aηΘt}) (y − f₀(X)),    Θ = Θ(X, X),

    computed in the eigenbasis of Θ (``scipy.linalg.eigh``; eigenvalues below n·ε·λ_max are
    treated as 0, and negative rounding clipped, as neural-tangents does). ``t = inf`` gives
    kernel regression f₀(x) + Θ(x, X) Θ⁺ (y − f₀(X)).

    The loss fixes a: gradient flow θ̇ = −η∇L gives ḟ = −aηΘ(f − y) for

    * ``loss="sum"``:  L = ½ Σ (f − y)²,           a = 1;
    * ``loss="mean"``: L = (1/2nk) Σ (f − y)²,     a = 1/(n·k) — neural-tangents'
      ``predict.gradient_descent_mse`` convention (same η and t);
    * ``loss="mse"``:  L = (1/nk) Σ (f − y)²,      a = 2/(n·k) — Keras' ``"mse"``.

    t counts in the units of η: t = s·η_step/η for s gradient-descent steps of size η_step (with
    η = 1, t is the sum of the step sizes; small steps follow the flow to O(η_step)).

    Args:
        ntk_train_train: Θ(X, X), (n, n) (one output, or a kernel shared by every output as from
            ``trace="mean"``) or (n, n, k, k) (:func:`empirical_ntk`).
        y_train: targets, (n,) or (n, k).
        t: a time or an array of times (default inf).
        learning_rate: η.
        ntk_test_train: Θ(x, X), (m, n) or (m, n, k, k), for test predictions.
        f_train_0, f_test_0: the network's outputs at θ₀ (default 0), shaped like the targets.
        loss: "sum", "mean" or "mse" (above).
        diag_reg: added to Θ's diagonal (ridge); 0 by default.

    Returns:
        An :class:`NTKPrediction`.

    >>> import numpy as np
    >>> K = np.array([[2.0, 0.0], [0.0, 1.0]]); y = np.array([1.0, 1.0])
    >>> p = ntk_predict(K, y, t=np.array([0.0, np.log(2), np.inf]))
    >>> np.round(p.train, 6)                      # 1 − e^{−λt}
    array([[0.  , 0.  ],
           [0.75, 0.5 ],
           [1.  , 1.  ]])
    """
    _check_choice(loss, "loss", _LOSSES)
    y = np.asarray(y_train)
    if y.ndim not in (1, 2):
        raise ValueError(f"y_train must be (n,) or (n, k), got shape {y.shape}")
    n = y.shape[0]
    k = 1 if y.ndim == 1 else y.shape[1]
    K, full = _as_matrix(ntk_train_train, n, n, k, "ntk_train_train")
    dtype = np.result_type(K.dtype, y.dtype, np.float32 if K.dtype == np.float32 else float)
    f0 = np.zeros(y.shape, dtype) if f_train_0 is None else np.asarray(f_train_0, dtype)
    if f0.shape != y.shape:
        raise ValueError(f"f_train_0 has shape {f0.shape}; expected y_train's {y.shape}")
    if not isinstance(learning_rate, numbers.Real) or learning_rate <= 0:
        raise ValueError(f"learning_rate must be a positive number, got {learning_rate!r}")
    times = np.asarray(t, dtype=float)
    if times.ndim > 1 or np.any(times < 0) or np.any(np.isnan(times)):
        raise ValueError(f"t must be a non-negative time or a 1-D array of them, got {t!r}")
    a = {"sum": 1.0, "mean": 1.0 / y.size, "mse": 2.0 / y.size}[loss] * learning_rate
    r = (y - f0).astype(dtype)
    r = r.reshape(-1, 1) if full or y.ndim == 1 else r          # (N, columns)
    lam, V = scipy.linalg.eigh(K.astype(dtype) + diag_reg * np.eye(K.shape[0], dtype=dtype))
    lam = np.maximum(lam, 0)
    live = lam > lam.max(initial=0) * K.shape[0] * np.finfo(dtype).eps
    ts = times.reshape(-1, 1)                                  # (T, 1)
    with np.errstate(invalid="ignore", over="ignore"):
        decay = np.where(live, -np.expm1(-a * lam * ts), 0.0)   # 1 − e^{−aλt}; inf·0 avoided
    z = V.T @ r                                                # (N, c)
    train = f0 + np.einsum("ij,tj,jc->tic", V, decay, z).reshape((len(ts),) + y.shape)
    test = None
    if ntk_test_train is not None:
        kt = np.asarray(ntk_test_train)
        m = kt.shape[0] if kt.ndim in (2, 4) else None
        Kt, full_t = _as_matrix(kt, m, n, k, "ntk_test_train")
        if full_t != full:
            raise ValueError("ntk_test_train and ntk_train_train must both be full (4-D) or both "
                             "traced (2-D) kernels")
        shape = (m,) + y.shape[1:]
        ft0 = np.zeros(shape, dtype) if f_test_0 is None else np.asarray(f_test_0, dtype)
        if ft0.shape != shape:
            raise ValueError(f"f_test_0 has shape {ft0.shape}; expected {shape}")
        gain = np.where(live, decay / np.where(live, lam, 1), 0.0)    # (1 − e^{−aλt}) / λ
        test = ft0 + np.einsum("ij,tj,jc->tic", Kt.astype(dtype) @ V, gain, z).reshape(
            (len(ts),) + shape)
        test = test if times.ndim else test[0]
    return NTKPrediction(t, train if times.ndim else train[0], test)


# --------------------------------------------------------------------------------------------
# Infinite width
# --------------------------------------------------------------------------------------------

@dataclasses.dataclass
class InfiniteWidthKernels(Result):
    """Analytic kernels of an infinitely wide fully-connected network.

    Attributes:
        nngp: Σ(x, x′), the covariance of the outputs at initialisation (the NNGP kernel).
        ntk: Θ(x, x′), the neural tangent kernel (constant during training at infinite width).
        depth, activation, W_std, b_std: the architecture.
    """

    nngp: np.ndarray
    ntk: np.ndarray
    depth: int
    activation: str
    W_std: float
    b_std: float


def _relu_expectations(k12, k11, k22):
    """E[relu(u)relu(v)] and E[relu′(u)relu′(v)] for (u, v) ~ N(0, [[k11, k12], [k12, k22]])
    (Cho & Saul 2009, arc-cosine kernels of degree 1 and 0)."""
    norm = np.sqrt(k11 * k22)
    with np.errstate(invalid="ignore", divide="ignore"):
        cos = np.clip(np.where(norm > 0, k12 / np.where(norm > 0, norm, 1), 0.0), -1.0, 1.0)
    theta = np.arccos(cos)
    e_phi = norm / (2 * np.pi) * (np.sin(theta) + (np.pi - theta) * cos)
    e_dphi = np.where(norm > 0, (np.pi - theta) / (2 * np.pi), 0.0)   # relu′(0) = 0
    return e_phi, e_dphi


def _erf_expectations(k12, k11, k22):
    """E[erf(u)erf(v)] and E[erf′(u)erf′(v)] (Williams 1997)."""
    a, b = 1 + 2 * k11, 1 + 2 * k22
    e_phi = 2 / np.pi * np.arcsin(np.clip(2 * k12 / np.sqrt(a * b), -1.0, 1.0))
    e_dphi = 4 / np.pi / np.sqrt(a * b - 4 * k12 ** 2)
    return e_phi, e_dphi


_EXPECTATIONS = {"relu": _relu_expectations, "erf": _erf_expectations}


def infinite_width_kernels(x1: Any, x2: Any = None, depth: int = 1, activation: str = "relu",
                           W_std: float = 1.0, b_std: float = 0.0) -> InfiniteWidthKernels:
    """The NNGP and NTK of an infinitely wide fully-connected network with ``depth`` hidden
    layers (Dense then φ) and a Dense readout, in the NTK parameterisation
    zˡ⁺¹ = W_std·Wˡ⁺¹ φ(zˡ)/√(fanᵢₙ) + b_std·bˡ⁺¹, all weights and biases ~ N(0, 1)
    (Jacot et al. 2018; Lee et al. 2018/2019):

        Σ¹ = W_std²·xᵀx′/d_in + b_std²,                       Θ¹ = Σ¹,
        Σˡ⁺¹ = W_std²·E[φ(u)φ(v)] + b_std²,                   Θˡ⁺¹ = Σˡ⁺¹ + W_std²·E[φ′(u)φ′(v)]·Θˡ,

    (u, v) ~ N(0, [[Σˡ(x, x), Σˡ(x, x′)], [Σˡ(x, x′), Σˡ(x′, x′)]]); the result is layer
    depth + 1 (the readout). The expectations are closed forms: relu by the arc-cosine kernels
    (Cho & Saul 2009), E[φφ] = √(k₁₁k₂₂)/(2π)·(sin θ + (π − θ) cos θ), E[φ′φ′] = (π − θ)/(2π),
    cos θ = k₁₂/√(k₁₁k₂₂); erf by Williams (1997), E[φφ] = (2/π) arcsin(2k₁₂/√((1+2k₁₁)(1+2k₂₂))),
    E[φ′φ′] = (4/π)/√((1+2k₁₁)(1+2k₂₂) − 4k₁₂²). Each output of the network has these kernels
    (outputs are independent); they match neural-tangents' ``stax.serial(Dense, Relu(), …,
    Dense)`` with the same W_std, b_std.

    Args:
        x1: inputs, (n₁, d) (each sample flattened if it has more axes).
        x2: inputs, (n₂, d); default ``x1``.
        depth: the number of hidden layers (0: a linear model).
        activation: "relu" or "erf".
        W_std, b_std: the weight and bias standard deviations σ_w, σ_b.

    Returns:
        :class:`InfiniteWidthKernels` with ``nngp`` and ``ntk`` of shape (n₁, n₂).

    >>> import numpy as np
    >>> x = np.array([[1.0, 0.0], [0.0, 1.0]])
    >>> kern = infinite_width_kernels(x, depth=1)       # orthogonal unit-scale inputs
    >>> np.round(kern.nngp, 4), np.round(kern.ntk, 4)     # diag 1/4; off 1/(4π)
    (array([[0.25  , 0.0796],
           [0.0796, 0.25  ]]), array([[0.5   , 0.0796],
           [0.0796, 0.5   ]]))
    """
    _check_choice(activation, "activation", tuple(_EXPECTATIONS))
    if not isinstance(depth, numbers.Integral) or isinstance(depth, bool) or depth < 0:
        raise ValueError(f"depth must be a non-negative integer (hidden layers), got {depth!r}")
    for name, v in (("W_std", W_std), ("b_std", b_std)):
        if not isinstance(v, numbers.Real) or not np.isfinite(v) or v < 0:
            raise ValueError(f"{name} must be a finite non-negative number, got {v!r}")
    a = _inputs(x1, "x1")
    b = a if x2 is None else _inputs(x2, "x2")
    if b.shape[1] != a.shape[1]:
        raise ValueError(f"x2's samples have {b.shape[1]} features but x1's have {a.shape[1]}; "
                         f"they must match")
    d = a.shape[1]
    w2, b2 = float(W_std) ** 2, float(b_std) ** 2
    sigma = w2 * (a @ b.T) / d + b2
    s11 = w2 * np.einsum("ij,ij->i", a, a) / d + b2
    s22 = w2 * np.einsum("ij,ij->i", b, b) / d + b2
    ntk = sigma.copy()
    expect = _EXPECTATIONS[activation]
    for _ in range(depth):
        e, de = expect(sigma, s11[:, None], s22[None, :])
        e11 = expect(s11, s11, s11)[0]
        e22 = expect(s22, s22, s22)[0]
        sigma = w2 * e + b2
        ntk = sigma + w2 * de * ntk
        s11, s22 = w2 * e11 + b2, w2 * e22 + b2
    return InfiniteWidthKernels(sigma, ntk, int(depth), activation, float(W_std), float(b_std))


def _inputs(x: Any, what: str) -> np.ndarray:
    x = np.asarray(x)
    if x.ndim < 2:
        raise ValueError(f"{what} must be (n, d) with the batch axis first, got shape {x.shape}")
    if x.dtype.kind not in "fiu":
        raise TypeError(f"{what} must be real numbers, got dtype {x.dtype}")
    x = x.reshape(x.shape[0], -1)
    return x if x.dtype.kind == "f" else x.astype(np.float64)
