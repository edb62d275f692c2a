"""Confusion-matrix metrics: ``TruePositives``, ``FalsePositives``, ``TrueNegatives``,
``FalseNegatives``, ``Precision``, ``Recall`` and ``AUC`` (trapezoidal, interpolated as Keras;
Fawcett 2006)."""
from __future__ import annotations

from typing import Any

import numpy as np

from .base import Metric
from .functions import EPSILON, _binary_labels, _elementwise_weights, _same_shape


# ---------------------------------------------------------------------------------------------
# Confusion-matrix metrics
# ---------------------------------------------------------------------------------------------
def _counts_above(thresholds: np.ndarray, y_true: np.ndarray, y_pred: np.ndarray,
                  weight: np.ndarray) -> tuple[np.ndarray, np.ndarray, float, float]:
    """Weighted true and false positives at each (ascending) threshold, with Keras's rule
    "positive ⇔ y_pred > threshold", and the total positive and negative weights.

    One pass: ``k = #{thresholds < y_pred}`` is each prediction's bucket; it is positive at
    threshold ``i`` iff ``k > i``, so ``tp[i]`` is a suffix sum of the bucket histogram.
    """
    k = np.searchsorted(thresholds, y_pred, side="left")
    k[np.isnan(y_pred)] = 0                               # NaN > t is false: never positive
    n = len(thresholds) + 1
    pos = np.bincount(k, weights=weight * y_true, minlength=n)
    neg = np.bincount(k, weights=weight * (1.0 - y_true), minlength=n)
    tp = np.cumsum(pos[::-1])[::-1][1:]
    fp = np.cumsum(neg[::-1])[::-1][1:]
    return tp, fp, float(pos.sum()), float(neg.sum())


class _ConfusionMetric(Metric):
    direction = "up"
    # the state the stateless methods thread (Keras's variables of these metrics)
    _state_attrs = ("true_positives", "false_positives", "true_negatives", "false_negatives")

    def __init__(self, thresholds, name: str | None = None, dtype: Any = None,
                 from_logits: bool = False, top_k: int | None = None, class_id: int | None = None):
        who = type(self).__name__
        if top_k is not None and (isinstance(top_k, bool) or int(top_k) != top_k or top_k < 1):
            raise ValueError(f"{who}: top_k must be a positive integer or None; received "
                             f"top_k={top_k!r}")
        if class_id is not None and (isinstance(class_id, bool) or int(class_id) != class_id
                                     or class_id < 0):
            raise ValueError(f"{who}: class_id must be a non-negative integer or None; received "
                             f"class_id={class_id!r}")
        self.top_k = None if top_k is None else int(top_k)
        self.class_id = None if class_id is None else int(class_id)
        thr = np.atleast_1d(np.asarray(thresholds, dtype=np.float64))
        if thr.ndim != 1 or thr.size == 0:
            raise ValueError(f"{type(self).__name__}: thresholds must be a float or a list of "
                             f"floats; received {thresholds!r}")
        self._order = np.argsort(thr, kind="stable")
        self._sorted = thr[self._order]
        self._inverse = np.argsort(self._order)
        self.from_logits = bool(from_logits)
        super().__init__(name=name, dtype=dtype)

    def reset_state(self) -> None:
        n = len(self._sorted)
        self.true_positives, self.false_positives = np.zeros(n), np.zeros(n)
        self.true_negatives, self.false_negatives = np.zeros(n), np.zeros(n)

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        who = type(self).__name__
        t, p = _same_shape(y_true, y_pred, who)
        if self.top_k is not None:         # Keras: scores outside the top k never count as positive
            kth = -np.sort(-p, axis=-1)[..., min(self.top_k, p.shape[-1]) - 1:][..., :1]
            p = np.where(p >= kth, p.astype(np.float64), -np.inf)
        if self.class_id is not None:
            if self.class_id >= p.shape[-1]:
                raise ValueError(f"{who}: class_id={self.class_id} but y_pred has "
                                 f"{p.shape[-1]} classes (shape {p.shape})")
            t, p = t[..., self.class_id:self.class_id + 1], p[..., self.class_id:self.class_id + 1]
            if sample_weight is not None and np.ndim(sample_weight) == np.ndim(y_pred):
                sample_weight = np.asarray(sample_weight)[..., self.class_id:self.class_id + 1]
        w = _elementwise_weights(sample_weight, p.shape, who).ravel()
        t = _binary_labels(t, who).ravel()
        p = p.astype(np.float64).ravel()
        if self.from_logits:
            p = 1.0 / (1.0 + np.exp(-p))
        tp, fp, n_pos, n_neg = _counts_above(self._sorted, t, p, w)
        self.true_positives += tp
        self.false_positives += fp
        self.false_negatives += n_pos - tp
        self.true_negatives += n_neg - fp

    def _out(self, values: np.ndarray):
        values = values[self._inverse]                       # back to the user's order
        return float(values[0]) if self._scalar else values

    def get_config(self) -> dict:
        cfg = super().get_config()
        if self.top_k is not None or self.class_id is not None:
            cfg.update(top_k=self.top_k, class_id=self.class_id)
        return cfg


class _Count(_ConfusionMetric):
    """One cell of the confusion matrix, weighted, at each threshold (Keras's ``TruePositives``…):
    a prediction is positive iff ``y_pred > threshold``."""

    _field = "true_positives"

    def __init__(self, thresholds=None, name: str | None = None, dtype: Any = None):
        self._scalar = thresholds is None or np.ndim(thresholds) == 0
        self.thresholds = 0.5 if thresholds is None else thresholds
        super().__init__(self.thresholds, name=name, dtype=dtype)

    def result(self):
        return self._out(getattr(self, self._field))

    def get_config(self) -> dict:
        th = self.thresholds
        return {**super().get_config(), "thresholds": th if np.ndim(th) == 0 else list(th)}


class TruePositives(_Count):
    """Σ w·[y = 1 and ŷ > threshold] (Keras ``TruePositives``; thresholds default 0.5, a list
    gives one count per threshold).

    >>> m = TruePositives(); m.update_state([0, 1, 1, 1], [1, 0, 1, 1]); m.result()
    2.0
    """
    _field, direction = "true_positives", "up"


class FalsePositives(_Count):
    """Σ w·[y = 0 and ŷ > threshold] (Keras ``FalsePositives``).

    >>> m = FalsePositives(); m.update_state([0, 1, 0, 0], [0, 0, 1, 1]); m.result()
    2.0
    """
    _field, direction = "false_positives", "down"


class TrueNegatives(_Count):
    """Σ w·[y = 0 and ŷ ≤ threshold] (Keras ``TrueNegatives``).

    >>> m = TrueNegatives(); m.update_state([0, 1, 0, 0], [1, 1, 0, 0]); m.result()
    2.0
    """
    _field, direction = "true_negatives", "up"


class FalseNegatives(_Count):
    """Σ w·[y = 1 and ŷ ≤ threshold] (Keras ``FalseNegatives``).

    >>> m = FalseNegatives(); m.update_state([0, 1, 1, 1], [0, 1, 0, 0]); m.result()
    2.0
    """
    _field, direction = "false_negatives", "down"


def _ratio(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a / b`` with 0 where ``b = 0`` (Keras's ``divide_no_nan``)."""
    return np.divide(a, b, out=np.zeros_like(a), where=b != 0)


class Precision(_ConfusionMetric):
    """Precision ``tp / (tp + fp)`` of binary predictions ``y_pred > threshold`` (0 when nothing
    is predicted positive).

    Args:
        thresholds: a float (default 0.5; with ``top_k``, −∞) or a list; with a list,
            ``result()`` is an array with one precision per threshold.
        top_k: only the k highest scores of each sample can be positive (Keras).
        class_id: the metric of that one class (column) of multi-class / multi-label outputs.

    >>> m = Precision(); m.update_state([0, 1, 1, 1], [1, 0, 1, 1]); round(m.result(), 4)
    0.6667
    """

    def __init__(self, thresholds=None, top_k=None, class_id=None, name: str | None = None,
                 dtype: Any = None):
        self._scalar = thresholds is None or np.ndim(thresholds) == 0
        default = 0.5 if top_k is None else -np.inf
        self.thresholds = default if thresholds is None else thresholds
        super().__init__(self.thresholds, name=name, dtype=dtype, top_k=top_k, class_id=class_id)

    def result(self):
        tp, fp = self.true_positives, self.false_positives
        return self._out(_ratio(tp, tp + fp))

    def get_config(self) -> dict:
        th = self.thresholds
        return {**super().get_config(), "thresholds": th if np.ndim(th) == 0 else list(th)}


class Recall(Precision):
    """Recall ``tp / (tp + fn)`` of binary predictions ``y_pred > threshold`` (default 0.5).

    >>> m = Recall(); m.update_state([0, 1, 1, 1], [1, 0, 1, 1]); round(m.result(), 4)
    0.6667
    """

    def result(self):
        tp, fn = self.true_positives, self.false_negatives
        return self._out(_ratio(tp, tp + fn))


class AUC(_ConfusionMetric):
    """Area under the ROC curve, approximated as Keras does, or exactly.

    Keras's approximation (the default): the confusion matrix is accumulated at
    ``num_thresholds`` thresholds, ``−ε, 1/(N−1), …, (N−2)/(N−1), 1 + ε`` (``ε = 1e-7``), giving
    ROC points ``(FPR_i, TPR_i)``, joined by straight lines (the trapezoidal rule, Keras's
    ``summation_method='interpolation'``):

        AUC ≈ Σᵢ (FPR_i − FPR_{i+1}) · (TPR_i + TPR_{i+1}) / 2.

    This equals the exact AUC (the probability that a random positive outscores a random
    negative, ties counting ½) with every positive–negative pair whose scores fall in the same
    bucket counted as a tie, so ``|approx − exact| ≤ ½ Σ_b P_b N_b / (P N)`` (``P_b``, ``N_b``:
    positive and negative weight in bucket ``b``): small when the scores spread over [0, 1].

    ``summation_method='minoring'`` / ``'majoring'`` use ``min`` / ``max`` of the two heights
    instead of their mean: lower and upper bounds for the bucketed curve.

    With ``exact=True`` (not in Keras) the scores are kept and the AUC is the trapezoid over every
    distinct score, what ``sklearn.metrics.roc_auc_score`` returns; memory grows with the data.

    Args:
        num_thresholds: > 1 (default 200).
        curve: ``'ROC'`` (the PR curve is not supported).
        summation_method: ``'interpolation'`` (default), ``'minoring'`` or ``'majoring'``.
        thresholds: explicit thresholds in [0, 1] (then ``num_thresholds = len + 2``).
        from_logits: apply a sigmoid to ``y_pred`` first.
        exact: compute the exact AUC instead.

    Without positives or negatives the ROC is undefined: the approximation gives 0 (Keras) and
    ``exact=True`` gives NaN. ``multi_label`` and ``label_weights`` are not supported (they
    raise ValueError).

    >>> m = AUC(num_thresholds=3); m.update_state([0, 0, 1, 1], [0, 0.5, 0.3, 0.9]); m.result()
    0.75
    >>> m = AUC(exact=True); m.update_state([0, 0, 1, 1], [0, 0.5, 0.3, 0.9]); m.result()
    0.75
    """

    @property
    def _state_attrs(self) -> tuple:
        # exact=True keeps every score in lists: no stateless form (the base class then says so)
        return () if getattr(self, "exact", False) else _ConfusionMetric._state_attrs

    def __init__(self, num_thresholds: int = 200, curve: str = "ROC",
                 summation_method: str = "interpolation", name: str | None = None,
                 dtype: Any = None, thresholds=None, multi_label: bool = False,
                 num_labels: int | None = None, label_weights=None, from_logits: bool = False,
                 *, exact: bool = False):
        if str(curve).upper() != "ROC":
            raise ValueError(f"AUC: only curve='ROC' is supported; received curve={curve!r}")
        self.summation_method = str(summation_method).lower()
        if self.summation_method not in ("interpolation", "minoring", "majoring"):
            raise ValueError(f"AUC: summation_method must be 'interpolation', 'minoring' or "
                             f"'majoring'; received summation_method={summation_method!r}")
        if multi_label or num_labels is not None or label_weights is not None:
            raise ValueError("AUC: multi_label, num_labels and label_weights are not supported")
        self._user_thresholds = thresholds
        if thresholds is not None:
            inner = sorted(float(t) for t in np.atleast_1d(thresholds))
            self.num_thresholds = len(inner) + 2
        else:
            if int(num_thresholds) != num_thresholds or num_thresholds <= 1:
                raise ValueError(f"AUC: num_thresholds must be an integer > 1; received "
                                 f"num_thresholds={num_thresholds!r}")
            self.num_thresholds = int(num_thresholds)
            inner = [(i + 1) / (self.num_thresholds - 1) for i in range(self.num_thresholds - 2)]
        self.exact = bool(exact)
        self._scalar = True
        super().__init__([0.0 - EPSILON] + inner + [1.0 + EPSILON], name=name, dtype=dtype,
                         from_logits=from_logits)

    @property
    def thresholds(self) -> list[float]:
        return self._sorted.tolist()

    def reset_state(self) -> None:
        super().reset_state()
        self._scores: list[np.ndarray] = []
        self._labels: list[np.ndarray] = []
        self._weights: list[np.ndarray] = []

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        super().update_state(y_true, y_pred, sample_weight)
        if self.exact:
            t, p = _same_shape(y_true, y_pred, "AUC")
            p = p.astype(np.float64).ravel()
            self._scores.append(1.0 / (1.0 + np.exp(-p)) if self.from_logits else p)
            self._labels.append(t.astype(np.float64).ravel())
            self._weights.append(_elementwise_weights(sample_weight, t.shape, "AUC").ravel())

    def result(self) -> float:
        if self.exact:
            return self._exact()
        tpr = _ratio(self.true_positives, self.true_positives + self.false_negatives)
        fpr = _ratio(self.false_positives, self.false_positives + self.true_negatives)
        heights = {"interpolation": (tpr[:-1] + tpr[1:]) / 2.0,
                   "minoring": np.minimum(tpr[:-1], tpr[1:]),
                   "majoring": np.maximum(tpr[:-1], tpr[1:])}[self.summation_method]
        return float(np.sum((fpr[:-1] - fpr[1:]) * heights))

    def _exact(self) -> float:
        if not self._scores:
            return float("nan")
        s, t, w = (np.concatenate(a) for a in (self._scores, self._labels, self._weights))
        order = np.argsort(-s, kind="mergesort")
        s, t, w = s[order], t[order], w[order]
        last = np.r_[np.nonzero(np.diff(s))[0], s.size - 1]    # last index of each distinct score
        tps = np.r_[0.0, np.cumsum(w * t)[last]]
        fps = np.r_[0.0, np.cumsum(w * (1 - t))[last]]
        if tps[-1] <= 0 or fps[-1] <= 0:
            return float("nan")
        tpr, fpr = tps / tps[-1], fps / fps[-1]
        return float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2.0))

    def get_config(self) -> dict:
        cfg = {"name": self.name, "dtype": self.dtype, "num_thresholds": self.num_thresholds,
               "curve": "ROC", "summation_method": self.summation_method,
               "from_logits": self.from_logits, "exact": self.exact}
        if self._user_thresholds is not None:
            cfg["thresholds"] = self.thresholds[1:-1]
        return cfg
