"""Loss functions (per-sample losses, reduced over the last axis) and the fused
``softmax_cross_entropy`` primitive; see the package docstring for the conventions."""
from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from ... import numpy as mnp
from ..._core.custom import stop_gradient
from ..._core.declare import defprimitive
from ..._core.primitive import call_plain, needs_rules
from ...numpy._helpers import concrete_value, primal_value, strip_tracers
from ...scipy import special as _sps

#: Keras's ``backend.epsilon()``: the clip of probabilities and the guard of logarithms
EPSILON = 1e-7
_LN2 = math.log(2.0)
_LN_2PI = math.log(2.0 * math.pi)

REDUCTIONS = ("sum_over_batch_size", "sum", "mean", "mean_with_sample_weight", "none", None)


# --------------------------------------------------------------------------------------------
# Shapes and dtypes
# --------------------------------------------------------------------------------------------

def _arr(x: Any) -> Any:
    """An array (tracers pass through), with integer/bool data promoted to float64."""
    if not (hasattr(x, "shape") and hasattr(x, "dtype")):
        x = np.asarray(x)
    if x.dtype.kind not in "fc":
        x = mnp.astype(x, np.float64)
    return x


def _pair(y_true: Any, y_pred: Any, same_rank: bool = True) -> tuple:
    """(y_true, y_pred) as arrays, y_true cast to y_pred's dtype, ranks matched (Keras)."""
    y_pred = _arr(y_pred)
    if not (hasattr(y_true, "shape") and hasattr(y_true, "dtype")):
        y_true = np.asarray(y_true)
    if y_true.dtype != y_pred.dtype:
        y_true = mnp.astype(y_true, y_pred.dtype)
    if same_rank:
        y_true, y_pred = _same_rank(y_true, y_pred)
    return y_true, y_pred


def _same_rank(a: Any, b: Any) -> tuple:
    """Keras's ``squeeze_or_expand_to_same_rank``: if the ranks differ by one and the longer one
    ends in an axis of length 1, squeeze it (or, against a vector, expand the vector)."""
    ra, rb = a.ndim, b.ndim
    if ra == rb + 1 and a.shape[-1] == 1:
        if rb == 1:
            b = mnp.expand_dims(b, -1)
        else:
            a = mnp.squeeze(a, -1)
    elif rb == ra + 1 and b.shape[-1] == 1:
        if ra == 1:
            a = mnp.expand_dims(a, -1)
        else:
            b = mnp.squeeze(b, -1)
    return a, b


def _check_same_shape(fn: str, y_true: Any, y_pred: Any) -> None:
    if tuple(y_true.shape) != tuple(y_pred.shape):
        raise ValueError(f"{fn}: y_true and y_pred must have the same shape; received "
                         f"y_true.shape={tuple(y_true.shape)}, y_pred.shape={tuple(y_pred.shape)}")


def _check_broadcast(fn: str, y_true: Any, y_pred: Any) -> None:
    try:
        np.broadcast_shapes(tuple(y_true.shape), tuple(y_pred.shape))
    except ValueError:
        raise ValueError(f"{fn}: y_true and y_pred have incompatible shapes: "
                         f"y_true.shape={tuple(y_true.shape)}, y_pred.shape={tuple(y_pred.shape)}") from None


def _clip(p: Any, lo: float, hi: float) -> Any:
    return mnp.clip(p, lo, hi)


# --------------------------------------------------------------------------------------------
# Regression
# --------------------------------------------------------------------------------------------

def mean_squared_error(y_true: Any, y_pred: Any) -> Any:
    """mean((y_true − y_pred)², axis=−1): the Gaussian negative log-likelihood up to constants.

    >>> mean_squared_error(np.array([[0.0, 1.0]]), np.array([[1.0, 1.0]]))
    array([0.5])
    """
    y_true, y_pred = _pair(y_true, y_pred)
    _check_broadcast("mean_squared_error", y_true, y_pred)
    return mnp.mean(mnp.square(y_true - y_pred), axis=-1)


def mean_absolute_error(y_true: Any, y_pred: Any) -> Any:
    """mean(|y_true − y_pred|, axis=−1): the Laplace negative log-likelihood up to constants
    (its gradient at a zero error is 0: abs′(0) = 0).

    >>> mean_absolute_error(np.array([[0.0, 1.0]]), np.array([[2.0, 1.0]]))
    array([1.])
    """
    y_true, y_pred = _pair(y_true, y_pred)
    _check_broadcast("mean_absolute_error", y_true, y_pred)
    return mnp.mean(mnp.abs(y_true - y_pred), axis=-1)


def mean_absolute_percentage_error(y_true: Any, y_pred: Any) -> Any:
    """100 · mean(|y_true − y_pred| / max(|y_true|, ε), axis=−1).

    >>> mean_absolute_percentage_error(np.array([[2.0, 4.0]]), np.array([[1.0, 4.0]]))
    array([25.])
    """
    y_true, y_pred = _pair(y_true, y_pred)
    _check_broadcast("mean_absolute_percentage_error", y_true, y_pred)
    denom = mnp.maximum(mnp.abs(y_true), EPSILON)
    return 100.0 * mnp.mean(mnp.abs((y_true - y_pred) / denom), axis=-1)


def mean_squared_logarithmic_error(y_true: Any, y_pred: Any) -> Any:
    """mean((ln(1 + max(y_pred, ε)) − ln(1 + max(y_true, ε)))², axis=−1).

    >>> mean_squared_logarithmic_error(np.array([[0.0]]), np.array([[np.e - 1.0]]))
    array([1.])
    """
    y_true, y_pred = _pair(y_true, y_pred)
    _check_broadcast("mean_squared_logarithmic_error", y_true, y_pred)
    d = mnp.log1p(mnp.maximum(y_pred, EPSILON)) - mnp.log1p(mnp.maximum(y_true, EPSILON))
    return mnp.mean(mnp.square(d), axis=-1)


def huber(y_true: Any, y_pred: Any, delta: float = 1.0) -> Any:
    """Huber (1964): with e = y_pred − y_true, mean(½e² if |e| ≤ δ else δ|e| − ½δ², axis=−1):
    quadratic near 0, linear (robust to outliers) beyond δ; equals torch's HuberLoss(delta).

    >>> huber(np.array([[0.0, 0.0]]), np.array([[0.5, 3.0]]))
    array([1.3125])
    """
    if not delta > 0:
        raise ValueError(f"huber: delta must be positive, got delta={delta!r}")
    y_true, y_pred = _pair(y_true, y_pred)
    _check_broadcast("huber", y_true, y_pred)
    e = y_pred - y_true
    a = mnp.abs(e)
    return mnp.mean(mnp.where(primal_value(a) <= delta, 0.5 * e * e, delta * a - 0.5 * delta * delta), axis=-1)


def log_cosh(y_true: Any, y_pred: Any) -> Any:
    """mean(ln cosh(y_pred − y_true), axis=−1), computed as x + softplus(−2x) − ln 2 (no overflow).

    >>> log_cosh(np.array([[0.0]]), np.array([[1000.0]]))
    array([999.30685282])
    """
    y_true, y_pred = _pair(y_true, y_pred)
    _check_broadcast("log_cosh", y_true, y_pred)
    x = y_pred - y_true
    return mnp.mean(x + mnp.logaddexp(-2.0 * x, 0.0) - _LN2, axis=-1)


def cosine_similarity(y_true: Any, y_pred: Any, axis: int = -1) -> Any:
    """−Σ û_true · û_pred along ``axis``, û = u / max(‖u‖, ε) (Keras's sign: minimising the loss
    aligns the vectors; −1 for parallel, 0 for orthogonal).

    >>> cosine_similarity(np.array([[1.0, 0.0]]), np.array([[2.0, 0.0]]))
    array([-1.])
    """
    y_true, y_pred = _pair(y_true, y_pred)
    _check_broadcast("cosine_similarity", y_true, y_pred)
    return -mnp.sum(_l2_normalize(y_true, axis) * _l2_normalize(y_pred, axis), axis=axis)


def _l2_normalize(x: Any, axis: int) -> Any:
    """x / max(‖x‖, ε) along ``axis`` (Keras's ``normalize``, ε = 1e-7)."""
    norm = mnp.sqrt(mnp.sum(x * x, axis=axis, keepdims=True))
    return x / mnp.where(primal_value(norm) > EPSILON, norm, EPSILON)


def hinge(y_true: Any, y_pred: Any) -> Any:
    """mean(max(1 − y_true·y_pred, 0), axis=−1) with labels ±1 (labels all in {0, 1} are mapped
    to ±1, as Keras does).

    >>> hinge(np.array([[1.0, 0.0]]), np.array([[0.5, -2.0]]))
    array([0.25])
    """
    y_true, y_pred = _pair(y_true, y_pred)
    _check_broadcast("hinge", y_true, y_pred)
    return mnp.mean(_relu(1.0 - _pm_one(y_true) * y_pred), axis=-1)


def squared_hinge(y_true: Any, y_pred: Any) -> Any:
    """mean(max(1 − y_true·y_pred, 0)², axis=−1), labels as in :func:`hinge`.

    >>> squared_hinge(np.array([[1.0, 0.0]]), np.array([[0.5, -2.0]]))
    array([0.125])
    """
    y_true, y_pred = _pair(y_true, y_pred)
    _check_broadcast("squared_hinge", y_true, y_pred)
    return mnp.mean(mnp.square(_relu(1.0 - _pm_one(y_true) * y_pred)), axis=-1)


def categorical_hinge(y_true: Any, y_pred: Any) -> Any:
    """max(max_{j≠true}(y_pred_j) − y_pred_true + 1, 0) for one-hot y_true (Crammer & Singer 2001),
    as Keras: neg = max((1 − y_true) ⊙ y_pred), pos = Σ y_true ⊙ y_pred.

    >>> categorical_hinge(np.array([[0.0, 1.0]]), np.array([[0.5, 1.0]]))
    array([0.5])
    """
    y_true, y_pred = _pair(y_true, y_pred, same_rank=False)
    _check_same_shape("categorical_hinge", y_true, y_pred)
    pos = mnp.sum(y_true * y_pred, axis=-1)
    neg = mnp.max((1.0 - y_true) * y_pred, axis=-1)
    return _relu(neg - pos + 1.0)


def _relu(x: Any) -> Any:
    from ..activations import relu
    return relu(x)


def _pm_one(y_true: Any) -> Any:
    r = strip_tracers(y_true)
    if np.all((r == 0) | (r == 1)):
        return 2.0 * y_true - 1.0
    return y_true


def poisson(y_true: Any, y_pred: Any) -> Any:
    """mean(y_pred − y_true · ln(y_pred + ε), axis=−1): the Poisson negative log-likelihood of
    counts y_true with rate y_pred, up to the constant ln(y_true!) (torch's PoissonNLLLoss with
    log_input=False, eps=ε).

    >>> poisson(np.array([[1.0]]), np.array([[1.0]]))
    array([1.])
    """
    y_true, y_pred = _pair(y_true, y_pred)
    _check_broadcast("poisson", y_true, y_pred)
    return mnp.mean(y_pred - y_true * mnp.log(y_pred + EPSILON), axis=-1)


def kl_divergence(y_true: Any, y_pred: Any) -> Any:
    """KL(y_true ‖ y_pred) = Σ p ln(p/q) over the last axis, with p = clip(y_true, ε, 1) and
    q = clip(y_pred, ε, 1) (Keras). Inputs are probabilities (torch's KLDivLoss takes log q).

    >>> float(kl_divergence(np.array([[0.5, 0.5]]), np.array([[0.5, 0.5]]))[0])
    0.0
    """
    y_true, y_pred = _pair(y_true, y_pred)
    _check_broadcast("kl_divergence", y_true, y_pred)
    p = _clip(y_true, EPSILON, 1.0)
    q = _clip(y_pred, EPSILON, 1.0)
    return mnp.sum(p * mnp.log(p / q), axis=-1)


def gaussian_nll(y_true: Any, y_pred: Any, full: bool = False, eps: float = 1e-6) -> Any:
    """Heteroscedastic Gaussian negative log-likelihood (Nix & Weigend 1994), as torch's
    GaussianNLLLoss, averaged over the last axis:

        ½ (ln max(σ², eps) + (y − μ)² / max(σ², eps))  [+ ½ ln 2π if ``full``]

    Args:
        y_true: targets y.
        y_pred: a pair ``(mean, variance)`` (μ, σ² > 0, broadcastable to y), or one array whose
            last axis holds the means in its first half and the variances in its second.
        full: add the constant ½ ln 2π.
        eps: the variance is clamped at ``eps`` in value only; its gradient passes through
            unchanged, as in torch (so a variance below eps is still pushed upwards).

    Raises:
        ValueError: if any variance is negative.

    >>> gaussian_nll(np.array([[1.0]]), (np.array([[0.0]]), np.array([[1.0]])))
    array([0.5])
    """
    if isinstance(y_pred, (tuple, list)):
        if len(y_pred) != 2:
            raise ValueError(f"gaussian_nll: y_pred must be a pair (mean, variance), got a sequence "
                             f"of length {len(y_pred)}")
        mean, var = _arr(y_pred[0]), _arr(y_pred[1])
    else:
        y_pred = _arr(y_pred)
        k = y_pred.shape[-1] if y_pred.ndim else 0
        if k % 2:
            raise ValueError(f"gaussian_nll: a single y_pred array must hold means and variances in "
                             f"the two halves of its last axis, so that axis must be even; received "
                             f"y_pred.shape={tuple(y_pred.shape)}")
        mean, var = y_pred[..., : k // 2], y_pred[..., k // 2:]
    y_true, mean = _pair(y_true, mean)
    _check_broadcast("gaussian_nll", y_true, mean)
    _check_broadcast("gaussian_nll", y_true, var)
    if np.any(strip_tracers(var) < 0):
        raise ValueError("gaussian_nll: the variance has negative entries (it must be ≥ 0)")
    v = var + stop_gradient(mnp.maximum(var, eps) - var)      # value max(σ², eps), slope 1
    nll = 0.5 * (mnp.log(v) + mnp.square(y_true - mean) / v)
    if full:
        nll = nll + 0.5 * _LN_2PI
    return mnp.mean(nll, axis=-1)


# --------------------------------------------------------------------------------------------
# Classification
# --------------------------------------------------------------------------------------------

def binary_crossentropy(y_true: Any, y_pred: Any, from_logits: bool = False,
                        label_smoothing: float = 0.0, axis: int = -1) -> Any:
    """mean over ``axis`` of −[y ln p + (1 − y) ln(1 − p)].

    From logits z (p = σ(z)): softplus(z) − y·z, exact for any |z|. From probabilities: p clipped
    to [ε, 1 − ε]. Label smoothing s replaces y by y(1 − s) + s/2.

    >>> binary_crossentropy(np.array([[1.0, 0.0]]), np.array([[0.0, 0.0]]), from_logits=True)
    array([0.69314718])
    """
    _check_smoothing("binary_crossentropy", label_smoothing)
    y_true, y_pred = _pair(y_true, y_pred)
    _check_same_shape("binary_crossentropy", y_true, y_pred)
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + 0.5 * label_smoothing
    if from_logits:
        ce = mnp.logaddexp(y_pred, 0.0) - y_true * y_pred
    else:
        p = _clip(y_pred, EPSILON, 1.0 - EPSILON)
        ce = -(y_true * mnp.log(p) + (1.0 - y_true) * mnp.log1p(-p))
    return mnp.mean(ce, axis=axis)


def _check_smoothing(fn: str, s: float) -> None:
    if not 0.0 <= s <= 1.0:
        raise ValueError(f"{fn}: label_smoothing must be in [0, 1], got label_smoothing={s!r}")


def _class_axis(fn: str, y_pred: Any, axis: int) -> int:
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
        raise ValueError(f"{fn}: axis must be an int, got axis={axis!r}")
    if y_pred.ndim < 1:
        raise ValueError(f"{fn}: y_pred must have at least one axis (the classes); received "
                         f"y_pred.shape={tuple(y_pred.shape)}")
    if not -y_pred.ndim <= axis < y_pred.ndim:
        raise ValueError(f"{fn}: axis={axis} is out of range for y_pred.shape={tuple(y_pred.shape)}")
    return int(axis) % y_pred.ndim


def _log_softmax(z: Any, axis: int) -> Any:
    """z − logsumexp(z) along ``axis``: plain numpy on arrays (fast; one recorded step under jit),
    the differentiable composite on traced values (so the rules below can be differentiated)."""
    if needs_rules(z):
        return _sps.log_softmax(z, axis=axis)
    return call_plain(_log_softmax_plain, z, axis)


def _log_softmax_plain(z: np.ndarray, axis: int) -> np.ndarray:
    shifted = z - np.maximum.reduce(z, axis=axis, keepdims=True)
    return shifted - np.log(np.add.reduce(np.exp(shifted), axis=axis, keepdims=True))


def _sce_impl(z, y, axis):
    return -np.sum(y * _log_softmax(z, axis), axis=axis)


def _sce_dz(z, y, axis):
    """∂ℓ/∂z = softmax(z) · Σ_c y_c − y  (= softmax(z) − y for labels summing to 1)."""
    return mnp.exp(_log_softmax(z, axis)) * mnp.sum(y, axis=axis, keepdims=True) - y


# ℓ = −Σ_c y_c ln softmax(z)_c      z̄ = ȳ ⊙ (softmax(z) Σy − y)     ȳ_y = −ȳ ⊙ ln softmax(z)
#                                   ℓ̇ = Σ_c (softmax(z) Σy − y) ⊙ ż − Σ_c ln softmax(z) ⊙ ẏ
# ``axis`` is negative (the class axis counted from the end), so that vmap's leading batch axis
# and broadcasting leave it in place: the primitive batches like an elementwise one.
softmax_cross_entropy = defprimitive(
    "softmax_cross_entropy", _sce_impl,
    vjp=(lambda g, ans, z, y, axis: mnp.expand_dims(g, axis) * _sce_dz(z, y, axis),
         lambda g, ans, z, y, axis: -mnp.expand_dims(g, axis) * _log_softmax(z, axis)),
    jvp=(lambda t, ans, z, y, axis: mnp.sum(_sce_dz(z, y, axis) * t, axis=axis),
         lambda t, ans, z, y, axis: -mnp.sum(_log_softmax(z, axis) * t, axis=axis)),
    batch="elementwise", saves="args")
softmax_cross_entropy.__doc__ = """−Σ_c y_c ln softmax(z)_c along the (negative) ``axis``: the
    cross-entropy of labels y (one-hot or soft, z's shape) given logits z, fused into one primitive.

    >>> softmax_cross_entropy(np.zeros((1, 4)), np.eye(4)[:1], axis=-1)
    array([1.38629436])
    """


def categorical_crossentropy(y_true: Any, y_pred: Any, from_logits: bool = False,
                             label_smoothing: float = 0.0, axis: int = -1) -> Any:
    """−Σ_c y_c ln p_c over the class ``axis``, for one-hot (or soft) labels y_true of y_pred's shape.

    From logits z: ln p = log_softmax(z) = z − logsumexp(z), stable for any magnitude (the fused
    primitive ``softmax_cross_entropy``, whose gradient is softmax(z) − y). From probabilities:
    p is renormalised to sum to 1, then clipped to [ε, 1 − ε] (Keras). Label smoothing s replaces
    y by y(1 − s) + s/C for C classes.

    Raises:
        ValueError: integer labels (use :func:`sparse_categorical_crossentropy`), or a class count
            different from y_pred's, naming both shapes.

    >>> categorical_crossentropy(np.array([[0.0, 1.0]]), np.array([[0.0, 0.0]]), from_logits=True)
    array([0.69314718])
    """
    fn = "categorical_crossentropy"
    _check_smoothing(fn, label_smoothing)
    y_true, y_pred = _pair(y_true, y_pred, same_rank=False)
    ax = _class_axis(fn, y_pred, axis)
    _check_one_hot(fn, y_true, y_pred, ax)
    c = y_pred.shape[ax]
    if c == 1:
        warnings.warn(f"{fn}: y_pred has a single class (y_pred.shape={tuple(y_pred.shape)}), so the "
                      f"loss is constant; for two classes use binary_crossentropy", stacklevel=2)
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + label_smoothing / c
    return _crossentropy(y_true, y_pred, from_logits, ax - y_pred.ndim)


def _crossentropy(y: Any, y_pred: Any, from_logits: bool, axis: int) -> Any:
    """−Σ y ln p along ``axis`` (negative): fused from logits, clipped from probabilities."""
    if from_logits:
        return softmax_cross_entropy(y_pred, y, axis=axis)
    p = y_pred / mnp.sum(y_pred, axis=axis, keepdims=True)
    return -mnp.sum(y * mnp.log(_clip(p, EPSILON, 1.0 - EPSILON)), axis=axis)


def _check_one_hot(fn: str, y_true: Any, y_pred: Any, ax: int) -> None:
    ts, ps = tuple(y_true.shape), tuple(y_pred.shape)
    if ts == ps:
        return
    c = ps[ax]
    without = ps[:ax] + ps[ax + 1:]
    if ts == without or (len(ts) == len(ps) and ts[ax] == 1 and ts[:ax] + ts[ax + 1:] == without):
        raise ValueError(
            f"{fn} expects one-hot labels y_true of y_pred's shape {ps} ({c} classes on axis {ax}); "
            f"received y_true.shape={ts}, which holds one integer class label per sample: use "
            f"sparse_categorical_crossentropy (SparseCategoricalCrossentropy) for integer labels, or "
            f"one-hot encode them first")
    if len(ts) == len(ps) and ts[:ax] + ts[ax + 1:] == without:
        raise ValueError(f"{fn}: y_true has {ts[ax]} classes on axis {ax} but y_pred has {c}; "
                         f"received y_true.shape={ts}, y_pred.shape={ps}")
    raise ValueError(f"{fn}: y_true and y_pred must have the same shape (one-hot labels); received "
                     f"y_true.shape={ts}, y_pred.shape={ps}")


def sparse_categorical_crossentropy(y_true: Any, y_pred: Any, from_logits: bool = False,
                                    ignore_class: int | None = None, axis: int = -1) -> Any:
    """−ln p_y for integer class labels y (y_true has y_pred's shape without the class ``axis``,
    or with it of length 1): the categorical cross-entropy of one_hot(y).

    From logits z: logsumexp(z) − z_y (fused). From probabilities: p renormalised, clipped to
    [ε, 1 − ε]. With ``ignore_class`` the loss of samples with that label is 0 (and the class form
    leaves them out of the mean, as Keras does).

    Raises:
        ValueError: one-hot labels (use :func:`categorical_crossentropy`), non-integer labels,
            labels outside [0, C) for C = y_pred.shape[axis], or mismatched shapes.

    >>> sparse_categorical_crossentropy(np.array([1]), np.array([[0.0, 0.0]]), from_logits=True)
    array([0.69314718])
    """
    fn = "sparse_categorical_crossentropy"
    y_pred = _arr(y_pred)
    ax = _class_axis(fn, y_pred, axis)
    labels, valid = _sparse_labels(fn, y_true, y_pred, ax, ignore_class)
    c, neg = y_pred.shape[ax], ax - y_pred.ndim
    one_hot = mnp.astype(mnp.expand_dims(labels, neg) == np.arange(c).reshape((c,) + (1,) * (-neg - 1)),
                         y_pred.dtype)
    loss = _crossentropy(one_hot, y_pred, from_logits, neg)
    return loss if valid is None else mnp.where(valid, loss, 0.0)


def _sparse_labels(fn: str, y_true: Any, y_pred: Any, ax: int, ignore_class: int | None):
    """The labels (raw: no derivative, but vmap levels kept) of y_pred's shape without its class
    axis, checked; and the mask of labels other than ``ignore_class`` (None without one)."""
    ps = tuple(y_pred.shape)
    c = ps[ax]
    without = ps[:ax] + ps[ax + 1:]
    t = primal_value(y_true) if hasattr(y_true, "shape") else np.asarray(y_true)
    ts = tuple(t.shape)
    if len(ts) == len(ps) and ts[ax] == 1 and ts[:ax] + ts[ax + 1:] == without:
        t = mnp.squeeze(t, ax)
    elif ts == ps and c > 1:
        raise ValueError(
            f"{fn} expects integer class labels of shape {without} (y_pred.shape={ps} without its "
            f"class axis {ax}, {c} classes); received y_true.shape={ts}, the shape of y_pred, which "
            f"looks one-hot: use categorical_crossentropy (CategoricalCrossentropy) for one-hot "
            f"labels, or pass their argmax")
    if tuple(t.shape) != without:
        raise ValueError(f"{fn}: y_true must hold one integer class label per sample, of shape "
                         f"{without} (y_pred.shape={ps} without its class axis {ax}); received "
                         f"y_true.shape={ts}")
    values = strip_tracers(t)        # checks on values are guards under jit (see nnmath.jit)
    if values.dtype.kind == "f":
        ok = mnp.isfinite(values) & (values == mnp.round(values))
        if not mnp.all(ok):
            v = concrete_value(values)
            bad = v[~(np.isfinite(v) & (v == np.round(v)))]
            raise ValueError(f"{fn}: y_true must hold integer class labels; received non-integer "
                             f"values such as {bad.ravel()[:3].tolist()}")
    elif values.dtype.kind not in "iub":
        raise ValueError(f"{fn}: y_true must hold integer class labels; received dtype {values.dtype}")
    valid = None
    if ignore_class is not None:
        valid = t != ignore_class
        values = mnp.where(strip_tracers(valid), values, 0)      # ignored labels: any valid class
    if values.size and (mnp.min(values) < 0 or mnp.max(values) >= c):
        v = concrete_value(values)
        raise ValueError(f"{fn}: labels must lie in [0, {c}) for the {c} classes of y_pred "
                         f"(y_pred.shape={ps}); received labels from {v.min():g} to {v.max():g}")
    return t, valid
