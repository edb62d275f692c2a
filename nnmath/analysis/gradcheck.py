"""Gradient checks: :func:`check_grads` (the core's, for any function, to any order) and
:func:`gradcheck_model`, which checks a whole model's parameter gradient weight by weight.

``gradcheck_model`` compares the gradient that reverse mode gives for the compiled loss with
central finite differences, on a float64 copy of the model (the user's model is not touched):

    numeric_i = (L(θ + ε eᵢ) − L(θ − ε eᵢ)) / 2ε          (error O(ε²) + O(δ·|L|/ε), δ = 2⁻⁵²)

for every entry i of a weight with at most ``max_entries_per_weight`` entries, or for a random
subset of that many entries of a larger weight, plus one directional derivative along a random
direction v over *all* the weight's entries,

    ⟨∇_w L, v⟩ ≈ (L(θ + ε v) − L(θ − ε v)) / 2ε,

so a wrong entry outside the sampled subset still shows. Each check costs two loss evaluations.
A weight passes when ‖a − n‖₂ ≤ atol + rtol · max(‖a‖₂, ‖n‖₂) for the sampled entries (a: the
reverse-mode values, n: the finite differences) and the same holds for the directional
derivative — the criterion of :func:`nnmath.check_grads`.

References:
    The central-difference gradient check as in PyTorch's ``torch.autograd.gradcheck`` (float64,
    ε = 1e-6) and CS231n's notes; random directional checks as in HIPS autograd / JAX
    ``check_grads``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from .._gradcheck import check_grads
from ._objective import as_generator, as_objective
from ._results import Result, RowsResult

__all__ = ["check_grads", "gradcheck_model", "GradcheckResult", "GradcheckRow"]


def _format_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A plain-text table: a header, a rule, one line per row; columns padded to fit."""
    def cell(v: Any) -> str:
        if isinstance(v, (bool, np.bool_)):
            return "yes" if v else "NO"
        if isinstance(v, (float, np.floating)):
            return f"{float(v):.3g}"
        if isinstance(v, tuple):
            return "×".join(map(str, v)) if v else "scalar"
        return str(v)
    text = [[str(h) for h in headers]] + [[cell(v) for v in r] for r in rows]
    widths = [max(len(r[k]) for r in text) for k in range(len(headers))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in text]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


@dataclass
class GradcheckRow(Result):
    """One weight's check.

    Attributes:
        layer, weight: where the weight lives (``model.params[layer][weight]``).
        shape: the weight's shape.
        max_abs_error: maxᵢ |aᵢ − nᵢ| over the sampled entries.
        relative_error: ‖a − n‖₂ / max(‖a‖₂, ‖n‖₂) over the sampled entries (0 when both are 0).
        direction_error: |⟨a, v⟩ − n_v| / max(|⟨a, v⟩|, |n_v|) along one random direction v over
            all entries.
        entries_checked: how many entries were compared (all of them, or a random subset).
        passed: both comparisons within the tolerance.
    """

    layer: str
    weight: str
    shape: tuple
    max_abs_error: float
    relative_error: float
    direction_error: float
    entries_checked: int
    passed: bool


@dataclass
class GradcheckResult(RowsResult):
    """The table :func:`gradcheck_model` returns; ``str(result)`` renders it.

    Attributes:
        rows: one :class:`GradcheckRow` per trainable weight, in the model's layer order.
        passed: every row passed.
        eps, rtol, atol: the step and the tolerance used.
        loss: the float64 loss at the model's weights.
    """

    rows: list
    passed: bool
    eps: float
    rtol: float
    atol: float
    loss: float
    method: str = field(default="central differences on sampled entries + one random direction "
                                "per weight, float64")

    def failed(self) -> list:
        """The rows that did not pass."""
        return [r for r in self.rows if not r.passed]


    def __str__(self) -> str:
        head = ("layer", "weight", "shape", "max abs err", "rel err", "dir err", "entries",
                "passed")
        body = [(r.layer, r.weight, r.shape, r.max_abs_error, r.relative_error,
                 r.direction_error, r.entries_checked, r.passed) for r in self.rows]
        verdict = "all weights passed" if self.passed else \
            f"{len(self.failed())} of {len(self.rows)} weights FAILED"
        return (f"gradcheck (ε = {self.eps:g}, rtol = {self.rtol:g}, atol = {self.atol:g}, "
                f"float64): {verdict}\n" + _format_table(head, body))


def _relative(a: np.ndarray, n: np.ndarray) -> tuple[float, float]:
    """(‖a − n‖₂, max(‖a‖₂, ‖n‖₂))."""
    return float(np.linalg.norm(a - n)), float(max(np.linalg.norm(a), np.linalg.norm(n)))


def gradcheck_model(model: Any, x: Any, y: Any, *, eps: float = 1e-6,
                    max_entries_per_weight: int = 20, rtol: float = 1e-5, atol: float = 1e-8,
                    sample_weight: Any = None, batch_size: int | None = None,
                    seed: Any = 0) -> GradcheckResult:
    """Check a compiled model's parameter gradient against central finite differences, weight by
    weight, in float64.

    The loss is the compiled loss (regularisers included) in inference mode, built with
    ``as_objective(model, x=x, y=y, dtype=np.float64)``: parameters, non-trainable state and
    floating inputs are cast to float64 copies, so a float32 model is checked in float64 and the
    model itself is left unchanged. For each trainable weight w (see the module docstring):
    aᵢ = ∂L/∂wᵢ by reverse mode and nᵢ = (L(θ + ε eᵢ) − L(θ − ε eᵢ)) / 2ε on all entries, or on
    ``max_entries_per_weight`` entries drawn at random (without replacement) for larger weights,
    plus one random direction over all of w's entries.

    Args:
        model: a compiled :class:`~nnmath.training.Model`.
        x, y: a (small) batch of inputs and targets.
        eps: the finite-difference step ε (default 1e-6, as PyTorch's gradcheck).
        max_entries_per_weight: entries compared per weight (all of them if it has fewer).
        rtol, atol: pass when ‖a − n‖₂ ≤ atol + rtol · max(‖a‖₂, ‖n‖₂).
        sample_weight, batch_size: as :func:`~nnmath.analysis.as_objective`.
        seed: an int or ``numpy.random.Generator`` choosing the entries and directions.

    Returns:
        A :class:`GradcheckResult`: ``rows`` (layer, weight, shape, max abs error, relative
        error, direction error, entries checked, passed), ``passed``, ``str()`` a text table,
        ``to_dict()`` for JSON.

    >>> import numpy as np
    >>> from nnmath import keras
    >>> model = keras.Sequential([keras.layers.Dense(3, "tanh", input_shape=(2,), name="hidden"),
    ...                           keras.layers.Dense(1, name="out")])
    >>> model.compile(loss="mse")
    >>> x, y = np.random.default_rng(0).standard_normal((8, 2)), np.zeros((8, 1))
    >>> result = gradcheck_model(model, x, y)
    >>> result.passed, [(r.layer, r.weight, r.entries_checked) for r in result.rows][:2]
    (True, [('hidden', 'kernel', 6), ('hidden', 'bias', 3)])
    """
    from ..training.model import Model
    if not isinstance(model, Model):
        raise TypeError(f"gradcheck_model: model must be a compiled nnmath Model, got "
                        f"{type(model).__name__}; for a function use check_grads(f, args)")
    for name, value in (("eps", eps), ("rtol", rtol), ("atol", atol)):
        if not (isinstance(value, (int, float, np.floating)) and np.isfinite(value) and value >= 0):
            raise ValueError(f"gradcheck_model: {name} must be a finite number ≥ 0, got {value!r}")
    if eps == 0:
        raise ValueError("gradcheck_model: eps must be > 0, got 0")
    if not isinstance(max_entries_per_weight, (int, np.integer)) or max_entries_per_weight < 1:
        raise ValueError(f"gradcheck_model: max_entries_per_weight must be a positive integer, "
                         f"got {max_entries_per_weight!r}")
    rng = as_generator(seed)
    obj = as_objective(model, x=x, y=y, sample_weight=sample_weight, batch_size=batch_size,
                       dtype=np.float64)
    theta = obj.flat
    loss = obj.value()
    analytic = obj.grad_flat()
    index = obj.unravel(np.arange(obj.size, dtype=np.float64))    # flat position of every entry

    def central(direction: np.ndarray) -> float:
        return (obj.value(theta + eps * direction) - obj.value(theta - eps * direction)) / (2 * eps)

    rows = []
    for layer in model.layers:
        for wname in layer.params:
            pos = np.asarray(index[layer.name][wname]).astype(np.int64).reshape(-1)
            shape = tuple(np.shape(index[layer.name][wname]))
            k = pos.size if pos.size <= max_entries_per_weight else int(max_entries_per_weight)
            chosen = pos if k == pos.size else np.sort(rng.choice(pos, size=k, replace=False))
            numeric = np.empty(k)
            e = np.zeros(obj.size)
            for j, p in enumerate(chosen):
                e[p] = 1.0
                numeric[j] = central(e)
                e[p] = 0.0
            a = analytic[chosen]
            diff, scale = _relative(a, numeric)
            v = np.zeros(obj.size)
            v[pos] = rng.standard_normal(pos.size)
            a_v, n_v = float(analytic @ v), central(v)
            d_diff, d_scale = abs(a_v - n_v), max(abs(a_v), abs(n_v))
            passed = diff <= atol + rtol * scale and d_diff <= atol + rtol * d_scale
            rows.append(GradcheckRow(
                layer=layer.name, weight=wname, shape=shape,
                max_abs_error=float(np.max(np.abs(a - numeric))) if k else 0.0,
                relative_error=diff / scale if scale > 0 else 0.0,
                direction_error=d_diff / d_scale if d_scale > 0 else 0.0,
                entries_checked=int(k), passed=bool(passed)))
    return GradcheckResult(rows=rows, passed=all(r.passed for r in rows), eps=float(eps),
                           rtol=float(rtol), atol=float(atol), loss=float(loss))
