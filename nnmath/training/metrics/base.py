"""Metric objects: ``Metric``, ``Mean`` (Σ wᵢvᵢ / Σ wᵢ), ``MeanMetricWrapper`` and the mean-of-a-function
metrics (accuracies, MSE, MAE, RMSE)."""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from .functions import (
    _array,
    mean_absolute_percentage_error,
    _samplewise,
    _to_snake,
    accuracy,
    binary_accuracy,
    categorical_accuracy,
    mean_absolute_error,
    mean_squared_error,
    sparse_categorical_accuracy,
    sparse_top_k_categorical_accuracy,
    top_k_categorical_accuracy,
)


# ---------------------------------------------------------------------------------------------
# State variables (for metrics written as Keras users write them)
# ---------------------------------------------------------------------------------------------
class MetricVariable(np.lib.mixins.NDArrayOperatorsMixin):
    """A metric's state (what Keras's ``Metric.add_variable`` returns): a numpy array with
    ``assign``, ``assign_add``, ``assign_sub``, ``numpy()`` and every arithmetic operator and numpy
    function (``v + 1``, ``np.sum(v)``, ``float(v)`` for a scalar).

    >>> v = MetricVariable(np.zeros(()), "total")
    >>> _ = v.assign_add(2.5)
    >>> _ = v.assign(v * 2)
    >>> float(v), float(np.sum(v) + 1)
    (5.0, 6.0)
    """

    def __init__(self, value: np.ndarray, name: str):
        self._value, self.name = np.array(value), name

    def assign(self, value) -> "MetricVariable":
        value = np.asarray(value)
        if value.shape != self._value.shape and value.size != self._value.size:
            raise ValueError(f"variable {self.name!r}: assign expects shape {self._value.shape}, "
                             f"received {value.shape}")
        self._value[...] = value.reshape(self._value.shape)
        return self

    def assign_add(self, value) -> "MetricVariable":
        return self.assign(self._value + np.asarray(value))

    def assign_sub(self, value) -> "MetricVariable":
        return self.assign(self._value - np.asarray(value))

    def numpy(self) -> np.ndarray:
        return self._value.copy()

    @property
    def value(self) -> np.ndarray:
        return self._value

    shape = property(lambda self: self._value.shape)
    dtype = property(lambda self: self._value.dtype)
    ndim = property(lambda self: self._value.ndim)

    def __array__(self, dtype=None, copy=None):
        return self._value.astype(dtype) if dtype is not None else self._value.copy()

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        inputs = tuple(i._value if isinstance(i, MetricVariable) else i for i in inputs)
        return getattr(ufunc, method)(*inputs, **kwargs)

    def __float__(self) -> float:
        return float(self._value)

    def __int__(self) -> int:
        return int(self._value)

    def __len__(self) -> int:
        return len(self._value)

    def __getitem__(self, index):
        return self._value[index]

    def __repr__(self) -> str:
        return f"<MetricVariable {self.name!r} {self._value!r}>"


# ---------------------------------------------------------------------------------------------
# Metric objects
# ---------------------------------------------------------------------------------------------
class Metric:
    """Base class: a named accumulator. Subclasses implement ``update_state``, ``result``,
    ``reset_state`` and extend ``get_config``.

    Written as Keras users write them, state lives in variables created in ``__init__`` *after*
    ``super().__init__()``::

        class BinaryTruePositives(Metric):
            def __init__(self, name="binary_true_positives", **kwargs):
                super().__init__(name=name, **kwargs)
                self.true_positives = self.add_variable(shape=(), initializer="zeros",
                                                        name="true_positives")

            def update_state(self, y_true, y_pred, sample_weight=None):
                values = np.logical_and(np.asarray(y_true, bool), np.asarray(y_pred) > 0.5)
                ...
                self.true_positives.assign_add(np.sum(values))

            def result(self):
                return self.true_positives

    and the default :meth:`reset_state` sets every variable to zeros (Keras's). ``__init__`` calls
    ``reset_state`` once, for metrics whose ``reset_state`` creates plain attributes; if it fails
    for want of a variable that the subclass creates later, that first call is skipped.

    Attributes:
        name: the key under which the result is logged.
        resolved: the metric's kind, e.g. ``'binary_accuracy'`` (for ``'accuracy'``: what it
            resolved to; ``None`` until known).
        direction: ``'up'`` (bigger is better), ``'down'`` or ``None`` (unknown).
    """

    direction: str | None = None
    reason: str | None = None       # for 'accuracy': why it resolved as it did

    def __init__(self, name: str | None = None, dtype: Any = None):
        if name is not None and not isinstance(name, str):
            raise ValueError(f"{type(self).__name__}: name must be a string; received {name!r}")
        self.name = name or _to_snake(type(self).__name__)
        self.dtype = dtype              # accepted for Keras compatibility; state is float64
        self._variables: list[MetricVariable] = []
        try:
            self.reset_state()
        except AttributeError:
            if type(self).__module__.startswith("nnmath."):
                raise                   # the built-in metrics must not hide their own bugs

    # -- Keras's variable API ---------------------------------------------------------------------
    def add_variable(self, shape=(), initializer="zeros", dtype=None, aggregation="sum",
                     name=None) -> MetricVariable:
        """A state variable, registered for :meth:`reset_state` (Keras's ``add_variable``).

        Args:
            shape: the variable's shape (default a scalar).
            initializer: an initializer name or object (``nnmath.nn.initializers``).
            dtype: default float64 (Keras: the metric's dtype, float32).
            aggregation: accepted for Keras compatibility (one device: nothing to aggregate).
            name: for messages.
        """
        from ...nn import initializers as _initializers
        if not hasattr(self, "_variables"):
            raise RuntimeError(f"{type(self).__name__}: call super().__init__() before "
                               f"add_variable (Keras's order)")
        shape = () if shape is None else tuple(int(d) for d in np.atleast_1d(shape).tolist())
        dtype = np.dtype(dtype or "float64")
        init = _initializers.get(initializer or "zeros")
        value = np.asarray(init(shape, dtype, _initializers.default_rng()), dtype).reshape(shape)
        var = MetricVariable(value, name or f"variable_{len(self._variables)}")
        self._variables.append(var)
        return var

    def add_weight(self, name=None, shape=(), initializer=None, dtype=None,
                   aggregation="sum") -> MetricVariable:
        """Keras's older spelling of :meth:`add_variable` (name first)."""
        return self.add_variable(shape=shape, initializer=initializer or "zeros", dtype=dtype,
                                 aggregation=aggregation, name=name)

    # plain attributes holding a built-in metric's state (Mean: total, count), listed by
    # ``variables`` and threaded by the stateless methods like a subclass's variables
    _state_attrs: tuple = ()

    @property
    def variables(self) -> list:
        """The variables made with :meth:`add_variable` (Keras's ``metric.variables``); for a
        built-in metric, its state (Mean: ``total``, ``count``) as variables holding copies."""
        own = list(getattr(self, "_variables", []))
        if own or not self._state_attrs:
            return own
        return [MetricVariable(np.array(getattr(self, a), np.float64), a)
                for a in self._state_attrs]

    def _get_state(self) -> list:
        if getattr(self, "_variables", None):
            return [np.array(v.value) for v in self._variables]
        return [np.array(getattr(self, a), np.float64) for a in self._state_attrs]

    def _set_state(self, values: Sequence) -> None:
        values = list(values)
        n = len(self._variables) if getattr(self, "_variables", None) else len(self._state_attrs)
        if len(values) != n:
            raise ValueError(f"metric {self.name!r}: expected {n} metric variables, received "
                             f"{len(values)}")
        if getattr(self, "_variables", None):
            for v, value in zip(self._variables, values):
                v.assign(np.asarray(value))
            return
        for a, value in zip(self._state_attrs, values):
            old = getattr(self, a)
            value = np.asarray(value)
            setattr(self, a, float(value) if isinstance(old, float) else value.astype(np.float64))

    def _stateless(self, metric_variables: Sequence, fn) -> tuple:
        if not getattr(self, "_variables", None) and not self._state_attrs:
            raise NotImplementedError(
                f"metric {self.name!r} ({type(self).__name__}) keeps its state in attributes "
                f"that are not metric variables, so it has no stateless form; create its state "
                f"with add_variable, or update it with update_state in a train_step(self, data)")
        saved = self._get_state()
        try:
            self._set_state(metric_variables)
            out = fn()
            return out, self._get_state()
        finally:
            self._set_state(saved)

    def stateless_update_state(self, metric_variables: Sequence, *args, **kwargs) -> list:
        """``update_state`` as a function of the state (Keras 3): returns the new variables'
        values; the metric itself is unchanged."""
        return self._stateless(metric_variables, lambda: self.update_state(*args, **kwargs))[1]

    def stateless_result(self, metric_variables: Sequence) -> Any:
        """``result()`` of the state ``metric_variables`` (Keras 3); the metric is unchanged."""
        return self._stateless(metric_variables, self.result)[0]

    def stateless_reset_state(self) -> list:
        """The variables' values after ``reset_state()`` (Keras 3); the metric is unchanged."""
        return self._stateless(self._get_state(), self.reset_state)[1]

    @property
    def resolved(self) -> str | None:
        return _to_snake(type(self).__name__)

    @property
    def _direction(self) -> str | None:             # Keras's spelling, read by Keras-style code
        return self.direction

    def update_state(self, *args, **kwargs) -> None:
        raise NotImplementedError

    def result(self):
        raise NotImplementedError

    def reset_state(self) -> None:
        """Set every variable to zeros (Keras's default); built-in metrics override this."""
        for v in getattr(self, "_variables", []):
            v.assign(np.zeros(v.shape, v.dtype))

    def __call__(self, *args, **kwargs):
        """Update with one batch and return the running result (Keras's ``Metric.__call__``)."""
        self.update_state(*args, **kwargs)
        return self.result()

    def get_config(self) -> dict:
        return {"name": self.name, "dtype": self.dtype}

    @classmethod
    def from_config(cls, config: dict) -> "Metric":
        return cls(**config)

    def __repr__(self) -> str:
        extra = f", resolved={self.resolved!r}" if self.resolved != self.name else ""
        return f"<{type(self).__name__} name={self.name!r}{extra}>"


class Mean(Metric):
    """Weighted mean of values: ``Σ wᵢ vᵢ / Σ wᵢ`` (0 before any weight), Keras's ``Mean``.

    ``update_state(values, sample_weight=None)``: values of rank > 1 are first averaged over their
    trailing axes (one value per sample). A scalar value with a scalar weight adds ``w·v`` to the
    total and ``w`` to the count, which is how ``fit`` tracks the loss: ``update_state(batch_loss,
    sample_weight=batch_size)``.

    >>> m = Mean()
    >>> m.update_state([1, 3, 5, 7]); m.result()
    4.0
    >>> m.reset_state(); m.update_state([1, 3, 5, 7], sample_weight=[1, 1, 0, 0]); m.result()
    2.0
    """

    _state_attrs = ("total", "count")

    def reset_state(self) -> None:
        self.total = 0.0
        self.count = 0.0

    def update_state(self, values, sample_weight=None) -> None:
        v = _array(values, "values", self.name)
        v, sw = _samplewise(v, sample_weight, self.name)
        self.total += float(np.sum(v))
        if sw is not None:
            self.count += float(np.sum(sw))
        else:
            self.count += float(v.shape[0]) if v.ndim else 1.0

    def result(self) -> float:
        return self.total / self.count if self.count != 0 else 0.0


class MeanMetricWrapper(Mean):
    """The weighted mean of a per-sample function ``fn(y_true, y_pred, **kwargs)``.

    Args:
        fn: returns one value per sample (or per element; averaged over the last axes).
        name: defaults to ``fn.__name__``.
        direction: ``'up'``, ``'down'`` or ``None``.
        **kwargs: passed to ``fn``.

    >>> m = MeanMetricWrapper(lambda t, p: (np.asarray(t) - p) ** 2, name="sq")
    >>> m.update_state([0.0, 2.0], [1.0, 2.0]); m.result()
    0.5
    """

    def __init__(self, fn: Callable, name: str | None = None, dtype: Any = None,
                 direction: str | None = None, **kwargs):
        if not callable(fn):
            raise ValueError(f"MeanMetricWrapper: fn must be callable; received {fn!r}")
        self._fn, self._fn_kwargs = fn, kwargs
        if direction is not None:
            self.direction = direction
        super().__init__(name=name or getattr(fn, "__name__", None), dtype=dtype)

    @property
    def resolved(self) -> str | None:
        return getattr(self._fn, "__name__", self.name)

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        super().update_state(self._fn(y_true, y_pred, **self._fn_kwargs), sample_weight)

    def get_config(self) -> dict:
        return {**super().get_config(), **self._fn_kwargs}


class _MeanOf(MeanMetricWrapper):
    """A named metric class over one of this module's functions (no ``fn`` in its config)."""

    _function: Callable

    def __init__(self, name: str | None = None, dtype: Any = None, **kwargs):
        super().__init__(type(self)._function, name=name or self._function.__name__, dtype=dtype,
                         **kwargs)

    @property
    def resolved(self) -> str:
        return self._function.__name__


class Accuracy(_MeanOf):
    """How often ``y_pred`` equals ``y_true`` exactly (labels against predicted labels).

    >>> m = Accuracy(); m.update_state([[1], [2], [3], [4]], [[0], [2], [3], [4]]); m.result()
    0.75
    >>> m.reset_state()
    >>> m.update_state([[1], [2], [3], [4]], [[0], [2], [3], [4]], sample_weight=[1, 1, 0, 0])
    >>> m.result()
    0.5
    """
    _function = staticmethod(accuracy)
    direction = "up"


class BinaryAccuracy(_MeanOf):
    """How often ``y_pred > threshold`` matches binary ``y_true``.

    Args:
        threshold: in (0, 1); a prediction strictly above it is class 1.
        from_logits: ``y_pred`` are logits, compared with ``log(t / (1 − t))`` (0 for 0.5).
            Not in Keras; set by :func:`get` when the loss has ``from_logits=True``.

    >>> m = BinaryAccuracy(); m.update_state([[1], [1], [0], [0]], [[0.98], [1], [0], [0.6]])
    >>> m.result()
    0.75
    """
    _function = staticmethod(binary_accuracy)
    direction = "up"

    def __init__(self, name: str | None = None, dtype: Any = None, threshold: float = 0.5,
                 from_logits: bool = False):
        if not 0 < threshold < 1:
            raise ValueError(f"BinaryAccuracy: threshold must be in (0, 1); received "
                             f"threshold={threshold}")
        self.threshold, self.from_logits = float(threshold), bool(from_logits)
        cut = float(np.log(threshold / (1 - threshold))) if from_logits else float(threshold)
        super().__init__(name=name, dtype=dtype, threshold=cut)

    def get_config(self) -> dict:
        return {"name": self.name, "dtype": self.dtype, "threshold": self.threshold,
                "from_logits": self.from_logits}


class CategoricalAccuracy(_MeanOf):
    """How often ``argmax(y_pred)`` matches one-hot ``y_true``.

    >>> m = CategoricalAccuracy()
    >>> m.update_state([[0, 0, 1], [0, 1, 0]], [[0.1, 0.9, 0.8], [0.05, 0.95, 0]],
    ...                sample_weight=[0.7, 0.3]); m.result()
    0.3
    """
    _function = staticmethod(categorical_accuracy)
    direction = "up"


class SparseCategoricalAccuracy(_MeanOf):
    """How often ``argmax(y_pred)`` matches integer ``y_true``.

    >>> m = SparseCategoricalAccuracy()
    >>> m.update_state([[2], [1]], [[0.1, 0.6, 0.3], [0.05, 0.95, 0]]); m.result()
    0.5
    """
    _function = staticmethod(sparse_categorical_accuracy)
    direction = "up"


class TopKCategoricalAccuracy(_MeanOf):
    """How often the one-hot target is among the ``k`` highest scores (default ``k=5``).

    >>> m = TopKCategoricalAccuracy(k=1)
    >>> m.update_state([[0, 0, 1], [0, 1, 0]], [[0.1, 0.9, 0.8], [0.05, 0.95, 0]]); m.result()
    0.5
    """
    _function = staticmethod(top_k_categorical_accuracy)
    direction = "up"

    def __init__(self, k: int = 5, name: str | None = None, dtype: Any = None):
        if int(k) != k or k < 1:
            raise ValueError(f"{type(self).__name__}: k must be a positive integer; "
                             f"received k={k!r}")
        self.k = int(k)
        super().__init__(name=name, dtype=dtype, k=self.k)


class SparseTopKCategoricalAccuracy(TopKCategoricalAccuracy):
    """How often the integer target is among the ``k`` highest scores (default ``k=5``).

    >>> m = SparseTopKCategoricalAccuracy(k=1)
    >>> m.update_state([2, 1], [[0.1, 0.9, 0.8], [0.05, 0.95, 0]]); m.result()
    0.5
    """
    _function = staticmethod(sparse_top_k_categorical_accuracy)


class MeanSquaredError(_MeanOf):
    """Weighted mean over samples of ``mean((y_pred − y_true)²)`` over the last axis.

    >>> m = MeanSquaredError(); m.update_state([[0, 1], [0, 0]], [[1, 1], [0, 0]]); m.result()
    0.25
    """
    _function = staticmethod(mean_squared_error)
    direction = "down"


class MeanAbsoluteError(_MeanOf):
    """Weighted mean over samples of ``mean(|y_pred − y_true|)`` over the last axis.

    >>> m = MeanAbsoluteError(); m.update_state([[0, 1], [0, 0]], [[1, 1], [0, 0]]); m.result()
    0.25
    """
    _function = staticmethod(mean_absolute_error)
    direction = "down"


class RootMeanSquaredError(MeanSquaredError):
    """``sqrt`` of :class:`MeanSquaredError`'s result (Keras: the root of the accumulated mean,
    not a mean of per-batch roots).

    >>> m = RootMeanSquaredError(); m.update_state([[0, 1], [0, 0]], [[1, 1], [0, 0]]); m.result()
    0.5
    """

    def __init__(self, name: str | None = None, dtype: Any = None):
        super().__init__(name=name or "root_mean_squared_error", dtype=dtype)

    @property
    def resolved(self) -> str:
        return "root_mean_squared_error"

    def result(self) -> float:
        return float(np.sqrt(super().result()))


class MeanAbsolutePercentageError(_MeanOf):
    """Weighted mean over samples of ``100 · mean(|y_true − y_pred| / max(|y_true|, ε))``.

    >>> m = MeanAbsolutePercentageError(); m.update_state([[2.0, 4.0]], [[1.0, 5.0]]); m.result()
    37.5
    """
    _function = staticmethod(mean_absolute_percentage_error)
    direction = "down"
