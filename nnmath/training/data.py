"""Input checks and batching for ``fit``/``evaluate``/``predict`` (Keras semantics).

``validation_split`` takes the *last* fraction of the data, before any shuffling, as Keras does
(split point ⌈n·(1 − split)⌉); shuffling then permutes the training part each epoch.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = ["as_array", "check_finite", "check_data", "validation_split", "class_weights_to_sample_weights",
           "batches", "array_batches", "PyDataset", "unpack_batch", "endless",
           "check_pydataset_call",
           "set_random_seed", "global_rng", "to_categorical"]

_GLOBAL = {"rng": np.random.default_rng()}


def set_random_seed(seed: int) -> None:
    """Seed everything nnmath draws at random: weight initialisation, shuffling and dropout
    (Keras's ``keras.utils.set_random_seed``)."""
    from ..nn import initializers
    initializers.set_seed(int(seed))
    _GLOBAL["rng"] = np.random.default_rng(int(seed) + 1)


def global_rng() -> np.random.Generator:
    return _GLOBAL["rng"]


def as_array(x: Any, name: str) -> np.ndarray:
    """``x`` as a numeric array, or an error saying what is wrong (ragged, strings, objects)."""
    if x is None:
        raise ValueError(f"{name} is None; expected an array")
    try:
        arr = np.asarray(x)
    except ValueError as e:                 # numpy ≥ 1.24: ragged nested lists
        raise ValueError(f"{name} is ragged (its rows have different lengths) and cannot be a "
                         f"tensor; pad the sequences to one length (e.g. with "
                         f"keras.utils.pad_sequences) first. numpy said: {e}") from None
    if arr.dtype == object:
        raise TypeError(f"{name} could not be converted to a numeric array (got dtype object: "
                        f"ragged rows or mixed types)")
    if arr.dtype.kind in "USV":
        raise ValueError(f"{name} holds {'strings' if arr.dtype.kind in 'US' else 'raw bytes'} "
                         f"(dtype {arr.dtype}); the model needs numbers — map them first (e.g. "
                         f"with a StringLookup layer applied to the data)")
    return arr


def check_finite(arr: np.ndarray, name: str) -> None:
    """Refuse NaN or inf, naming the first bad row."""
    if arr.dtype.kind in "fc" and not np.isfinite(arr).all():
        bad = np.argwhere(~np.isfinite(arr.reshape(len(arr), -1)) if arr.ndim else ~np.isfinite(arr))
        row = int(bad[0][0]) if bad.size else 0
        value = arr.reshape(len(arr), -1)[row][~np.isfinite(arr.reshape(len(arr), -1)[row])][0]
        raise ValueError(f"{name} contains {value} at row {row}: refusing to train on non-finite "
                         f"data (clean or impute it first)")


def check_data(x: Any, y: Any = None, sample_weight: Any = None, what: str = "fit",
               input_names: list | None = None, output_names: list | None = None,
               finite: bool = True):
    """Inputs and targets as lists of arrays (one per model input / output), checked: numeric,
    finite, non-empty, and the same number of samples everywhere.

    A model with several inputs (outputs) takes a list or tuple with one array per input, or a
    dict keyed by the input (output) layers' names, as Keras does; a single one takes an array.
    """
    xs = _arrays(x, "x", input_names or ["input"], what)
    n = len(xs[0])
    if n == 0:
        raise ValueError(f"{what}: x is empty (0 samples)")
    for name, a in _named(xs, "x"):
        if len(a) != n:
            raise ValueError(f"{what}: the inputs have different numbers of samples "
                             f"{[len(v) for v in xs]}; they must match")
        if finite:              # predict computes on whatever it is given, as Keras
            check_finite(a, name)
    ys = None
    if y is not None:
        ys = _arrays(y, "y", output_names or ["output"], what)
        for name, a in _named(ys, "y"):
            if len(a) != n:
                raise ValueError(f"{what}: x has {n} samples but {name} has {len(a)}; they must match")
            check_finite(a, name)
    if sample_weight is not None:
        sample_weight = as_array(sample_weight, "sample_weight").astype(np.float64)
        if sample_weight.shape != (n,):
            raise ValueError(f"{what}: sample_weight must have shape ({n},) (one weight per sample, "
                             f"shared by every output), got {sample_weight.shape}")
        check_finite(sample_weight, "sample_weight")
    return xs, ys, sample_weight


def _named(arrays: list, name: str):
    return [(name if len(arrays) == 1 else f"{name}[{i}]", a) for i, a in enumerate(arrays)]


def _arrays(v: Any, name: str, names: list, what: str) -> list:
    """``v`` as a list of ``len(names)`` arrays, each with a batch axis."""
    k = len(names)
    if isinstance(v, dict):
        unknown = sorted(set(v) - set(names))
        missing = [m for m in names if m not in v]
        if unknown or missing:
            raise ValueError(f"{what}: {name} is a dict with keys {sorted(v)}; the model's "
                             f"{'inputs' if name == 'x' else 'outputs'} are {names}")
        v = [v[m] for m in names]
    elif k == 1:
        if isinstance(v, (list, tuple)) and len(v) == 1 and isinstance(v[0], np.ndarray):
            v = v[0]             # [x] for a one-input model, as Keras accepts
        elif isinstance(v, (list, tuple)) and len(v) > 1 and all(
                hasattr(a, "shape") and np.ndim(a) >= 1 for a in v):
            what = "input" if name == "x" else "output"
            raise ValueError(f"{what}: the model expects 1 {what}, but it received {len(v)} "
                             f"{what} tensors (a list of {len(v)} arrays of shapes "
                             f"{[tuple(np.shape(a)) for a in v]}); pass one array")
        v = [v]
    elif not isinstance(v, (list, tuple)) or len(v) != k:
        got = f"a list of {len(v)}" if isinstance(v, (list, tuple)) else type(v).__name__
        raise ValueError(f"{what}: the model has {k} {'inputs' if name == 'x' else 'outputs'} "
                         f"{names}; pass {name} as a list of {k} arrays (or a dict keyed by those "
                         f"names), received {got}")
    out = []
    for label, a in _named(list(v), name):
        a = as_array(a, label)
        if a.ndim == 0:
            raise ValueError(f"{what}: {label} must have a batch axis, got a scalar")
        out.append(a)
    return out


def validation_split(x, y, sample_weight, split: float):
    """Keras: the last ``split`` fraction, before shuffling, is the validation set. ``x`` and
    ``y`` are arrays or lists of arrays (several inputs or outputs)."""
    if not 0.0 <= split < 1.0:
        raise ValueError(f"validation_split must be in [0, 1), got {split}")
    n = len(x[0]) if isinstance(x, list) else len(x)
    at = int(math.ceil(n * (1.0 - split)))
    if at == 0 or at == n:
        raise ValueError(f"validation_split={split} leaves {'no training' if at == 0 else 'no validation'} "
                         f"samples out of {n}")

    def cut(a, part):
        if a is None:
            return None
        sl = slice(None, at) if part == 0 else slice(at, None)
        return [v[sl] for v in a] if isinstance(a, list) else a[sl]

    return tuple(tuple(cut(a, part) for a in (x, y, sample_weight)) for part in (0, 1))


def labels_of(y: np.ndarray) -> np.ndarray:
    """Integer class labels of one-hot, probability or integer targets."""
    if y.ndim >= 2 and y.shape[-1] > 1:
        return np.argmax(y, axis=-1).reshape(len(y))
    return np.asarray(y).reshape(len(y)).astype(np.int64)


def _check_class_weight(class_weight: Any, y: np.ndarray) -> None:
    """Keras's rule: a dict with integer keys (class indices, below the number of classes when
    ``y`` is one-hot) and finite weights ≥ 0."""
    if not isinstance(class_weight, dict):
        raise ValueError(f"`class_weight` must be a dict mapping class indices (ints) to weights, "
                         f"received {type(class_weight).__name__}: {class_weight!r}")
    bad = [k for k in class_weight if isinstance(k, bool) or not isinstance(k, (int, np.integer))]
    if bad:
        raise ValueError(f"Expected `class_weight` to be a dict with keys from 0 to one less than "
                         f"the number of classes, found {class_weight}: keys {bad} are not "
                         f"integers")
    n_classes = y.shape[-1] if y.ndim >= 2 and y.shape[-1] > 1 else None   # one-hot: known
    unknown = sorted(int(k) for k in class_weight
                     if k < 0 or (n_classes is not None and k >= n_classes))
    if unknown:
        raise ValueError(f"Expected `class_weight` to be a dict with keys from 0 to one less than "
                         f"the number of classes{'' if n_classes is None else f' ({n_classes})'}, "
                         f"found {class_weight}: keys {unknown} name no class")
    for k, w in class_weight.items():
        try:
            ok = np.isfinite(float(w)) and float(w) >= 0
        except (TypeError, ValueError):
            ok = False
        if not ok:
            raise ValueError(f"`class_weight` values must be finite numbers ≥ 0, received "
                             f"class_weight[{k!r}]={w!r}")


def class_weights_to_sample_weights(y: np.ndarray, class_weight: dict) -> np.ndarray:
    _check_class_weight(class_weight, np.asarray(y))
    labels = labels_of(y)
    missing = sorted(set(np.unique(labels).tolist()) - set(int(k) for k in class_weight))
    if missing:
        raise ValueError(f"class_weight has no entry for class(es) {missing}")
    table = np.zeros(int(max(max(int(k) for k in class_weight), labels.max())) + 1)
    for k, w in class_weight.items():
        table[int(k)] = float(w)
    return table[labels]


def batches(n: int, batch_size: int, order: np.ndarray | None = None):
    """Index arrays of consecutive batches (the last may be smaller)."""
    idx = np.arange(n) if order is None else order
    for start in range(0, n, batch_size):
        yield idx[start:start + batch_size]


def array_batches(xs: list, ys: list, sample_weight, index_batches):
    """``(x, y, sample_weight)`` of each batch of index arrays (lists of arrays, one per input and
    output; sample_weight None or an array)."""
    for idx in index_batches:
        yield ([v[idx] for v in xs], [v[idx] for v in ys],
               None if sample_weight is None else sample_weight[idx])


class PyDataset:
    """Batches computed by Python code — Keras 3's ``keras.utils.PyDataset``.

    Subclass it, call ``super().__init__(**kwargs)``, and define ``__len__`` (the number of
    batches; or the ``num_batches`` property) and ``__getitem__(index)`` returning one batch:
    ``x``, ``(x,)``, ``(x, y)`` or ``(x, y, sample_weight)`` (``x`` and ``y`` arrays, lists or
    dicts as ``fit`` takes them). ``fit``, ``evaluate`` and ``predict`` take it as ``x`` (and
    ``fit`` as ``validation_data``), with Keras's rules: no ``y``, ``sample_weight`` or
    ``batch_size`` beside it, no ``validation_split``; ``fit(shuffle=True)`` (the default)
    visits the batches in a new random order each epoch (nnmath's seeded generator); the
    dataset's ``on_epoch_begin()`` / ``on_epoch_end()`` run around every pass.

    ``workers``, ``use_multiprocessing`` and ``max_queue_size`` are accepted and kept (Keras's
    config); nnmath fetches the batches in the calling thread, one at a time, in order.

    >>> class Squares(PyDataset):
    ...     def __len__(self):
    ...         return 2
    ...     def __getitem__(self, i):
    ...         x = np.arange(4.0).reshape(2, 2) + 4 * i
    ...         return x, x ** 2
    >>> len(Squares()), Squares()[1][0].tolist()
    (2, [[4.0, 5.0], [6.0, 7.0]])
    """

    def __init__(self, workers: int = 1, use_multiprocessing: bool = False,
                 max_queue_size: int = 10):
        for name, v in (("workers", workers), ("max_queue_size", max_queue_size)):
            if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 1:
                raise ValueError(f"PyDataset: `{name}` must be a positive integer; received "
                                 f"{name}={v!r}")
        self.workers = int(workers)
        self.use_multiprocessing = bool(use_multiprocessing)
        self.max_queue_size = int(max_queue_size)

    def __getitem__(self, index: int):
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__(index) "
                                  "returning one batch")

    @property
    def num_batches(self) -> int:
        """The number of batches (``len(self)``)."""
        if type(self).__len__ is PyDataset.__len__:
            raise NotImplementedError(f"{type(self).__name__} must define __len__ (the number of "
                                      "batches) or the num_batches property")
        return len(self)

    def __len__(self) -> int:
        return self.num_batches

    def __iter__(self):
        for i in range(self.num_batches):
            yield self[i]

    def on_epoch_begin(self) -> None:
        """Called before every pass over the batches."""

    def on_epoch_end(self) -> None:
        """Called after every pass over the batches (e.g. to reshuffle the samples)."""


def endless(one_pass):
    """The batches of ``one_pass()``, then of a new pass, and so on (fit's ``steps_per_epoch``:
    Keras 3 draws an epoch's batches from one iterator and restarts it when it runs out)."""
    while True:
        empty = True
        for batch in one_pass():
            empty = False
            yield batch
        if empty:
            return


def unpack_batch(batch: Any) -> tuple:
    """``(x, y, sample_weight)`` of a PyDataset batch: ``x``, ``(x,)``, ``(x, y)`` or
    ``(x, y, sample_weight)``."""
    if isinstance(batch, tuple):
        if not 1 <= len(batch) <= 3:
            raise ValueError(f"PyDataset: a batch must be x, (x,), (x, y) or (x, y, "
                             f"sample_weight); received a tuple of {len(batch)}")
        return tuple(batch) + (None,) * (3 - len(batch))
    return batch, None, None


def check_pydataset_call(what: str, n_batches: Any, **given: Any) -> int:
    """Refuse, as Keras does, the arguments that cannot go with a PyDataset; return its length."""
    for name, value in given.items():
        if value is not None and not (isinstance(value, (bool, int, float)) and not value):
            raise ValueError(f"{what}: `{name}` is not supported when x is a PyDataset (its "
                             f"batches carry the targets and weights and set the batch size); "
                             f"received {name}={value!r}")
    if not isinstance(n_batches, (int, np.integer)) or n_batches < 1:
        raise ValueError(f"{what}: the PyDataset has {n_batches!r} batches; expected at least 1 "
                         "(infinite datasets are not supported)")
    return int(n_batches)


def to_categorical(y: Any, num_classes: int | None = None, dtype: Any = "float32") -> np.ndarray:
    """One-hot encode integer labels (Keras's ``keras.utils.to_categorical``)."""
    y = np.asarray(y)
    if y.dtype.kind == "f":
        if not np.all(np.equal(np.mod(y, 1), 0)):
            raise ValueError("to_categorical: labels must be integers")
        y = y.astype(np.int64)
    if y.size and y.min() < 0:
        raise ValueError(f"to_categorical: labels must be non-negative, got {y.min()}")
    if y.ndim >= 1 and y.shape[-1] == 1 and y.ndim > 1:
        y = y.reshape(y.shape[:-1])
    n = int(y.max()) + 1 if num_classes is None else int(num_classes)
    if y.size and y.max() >= n:
        raise ValueError(f"to_categorical: label {int(y.max())} does not fit num_classes={n}")
    out = np.zeros(y.shape + (n,), dtype=dtype)
    np.put_along_axis(out, y[..., None], 1, axis=-1)
    return out
