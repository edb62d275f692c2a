"""Knowledge distillation (Hinton, Vinyals & Dean 2015): the student matches the teacher's
softened class distribution, a per-sample loss usable in ``compile``."""
from __future__ import annotations

import math
import numbers
from typing import Any

from ... import numpy as mnp
from ...scipy.special import log_softmax
from .classes import LossFunctionWrapper
from .functions import _arr

__all__ = ["distillation_loss", "DistillationLoss"]


def _temperature(temperature: Any) -> float:
    if isinstance(temperature, bool) or not isinstance(temperature, numbers.Real) \
            or not (math.isfinite(temperature) and temperature > 0):
        raise ValueError(f"distillation_loss: temperature must be a finite number > 0; got "
                         f"{temperature!r}")
    return float(temperature)


def distillation_loss(teacher_logits: Any, student_logits: Any, temperature: float = 1.0,
                      axis: int = -1) -> Any:
    """Hinton et al.'s (2015) distillation loss, per sample:

        T² · KL(softmax(t/T) ‖ softmax(s/T)) = T² Σ_c p_c (log p_c − log q_c),

    with teacher logits t, student logits s, temperature T, p = softmax(t/T), q = softmax(s/T),
    over the class ``axis``. Both log-probabilities are ``log_softmax`` (stable for any logits).
    The T² keeps the gradient's scale independent of T: ∂/∂s_c = T·(q_c − p_c), which for large T
    tends to (s_c − t_c)/C when the logits are centred (logit matching). Hinton et al. add it to
    the cross-entropy on the true labels; T = 1 gives the plain KL divergence of the two softmaxes.

    In ``compile``, the teacher's logits are the targets: ``model.compile(loss=DistillationLoss(
    temperature=4.0))``, then ``model.fit(x, teacher_logits)``; the student's last layer outputs
    logits (no softmax).

    Args:
        teacher_logits: the teacher's logits (the targets, y_true), shape (N, C).
        student_logits: the student's logits (y_pred), the same shape.
        temperature: T > 0.
        axis: the class axis.

    Returns:
        The per-sample losses (the input's shape without ``axis``), in the student's dtype.

    Raises:
        ValueError: shapes that differ, or a temperature that is not a finite positive number.

    >>> import numpy as np
    >>> t = np.array([[2.0, 0.0]]); s = np.array([[0.0, 0.0]])
    >>> p = np.exp(t / 2) / np.exp(t / 2).sum()
    >>> bool(np.isclose(distillation_loss(t, s, 2.0)[0], 4 * np.sum(p * np.log(2 * p))))
    True
    >>> distillation_loss(t, t, 3.0)
    array([0.])
    """
    temp = _temperature(temperature)
    s = _arr(student_logits)
    t = teacher_logits if hasattr(teacher_logits, "shape") and hasattr(teacher_logits, "dtype") \
        else mnp.asarray(teacher_logits)
    if tuple(t.shape) != tuple(s.shape):
        raise ValueError(f"distillation_loss: teacher_logits and student_logits must have the same "
                         f"shape; got {tuple(t.shape)} and {tuple(s.shape)}")
    if t.dtype != s.dtype:
        t = mnp.astype(t, s.dtype)
    log_p = log_softmax(t / temp, axis=axis)
    log_q = log_softmax(s / temp, axis=axis)
    return (temp * temp) * mnp.sum(mnp.exp(log_p) * (log_p - log_q), axis=axis)


class DistillationLoss(LossFunctionWrapper):
    """:func:`distillation_loss` as a Loss for ``compile`` (y_true = the teacher's logits,
    y_pred = the student's), reduced as every loss (``sum_over_batch_size`` by default).

    >>> import numpy as np
    >>> loss = DistillationLoss(temperature=2.0)
    >>> float(loss(np.zeros((3, 4)), np.zeros((3, 4)))), loss.temperature
    (0.0, 2.0)
    """

    def __init__(self, temperature: float = 1.0, axis: int = -1,
                 reduction: str | None = "sum_over_batch_size", name: str = "distillation"):
        super().__init__(distillation_loss, reduction, name,
                         temperature=_temperature(temperature), axis=axis)

    def call(self, y_true: Any, y_pred: Any) -> Any:      # no rank matching: logits match exactly
        return self.fn(y_true, y_pred, **self._fn_kwargs)
