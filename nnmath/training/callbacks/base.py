"""The callback protocol: ``Callback`` (every hook a no-op), ``CallbackList`` (calls them in
order, as Keras) and ``History`` (what ``fit`` returns). See the package docstring."""
from __future__ import annotations

import numpy as np

HOOKS = (
    "on_train_begin", "on_train_end", "on_epoch_begin", "on_epoch_end",
    "on_train_batch_begin", "on_train_batch_end", "on_batch_begin", "on_batch_end",
    "on_test_begin", "on_test_end", "on_test_batch_begin", "on_test_batch_end",
    "on_predict_begin", "on_predict_end", "on_predict_batch_begin", "on_predict_batch_end",
)


class Callback:
    """Base class: every hook does nothing. Subclasses override the ones they need.

    Attributes:
        model: the model being trained (set by :meth:`set_model`).
        params: dict from ``fit`` (``verbose``, ``epochs``, ``steps``).

    ``on_train_batch_begin`` / ``on_train_batch_end`` call ``on_batch_begin`` / ``on_batch_end``
    (Keras's backwards-compatible aliases), so overriding either works.
    """

    def __init__(self):
        self.params: dict = {}
        self._model = None

    def set_params(self, params: dict) -> None:
        self.params = params

    def set_model(self, model) -> None:
        self._model = model

    @property
    def model(self):
        return self._model

    def _overrides_hooks(self, hooks: tuple) -> bool:
        return any(getattr(type(self), h) is not getattr(Callback, h) for h in hooks)

    # Keras 3's names: whether fit/evaluate/predict must call the batch hooks and build per-batch
    # logs for this callback. By default: whether its class overrides one; a callback whose
    # hooks depend on a setting (GradientFlowMonitor(every=...)) overrides these.
    def _implements_train_batch_hooks(self) -> bool:
        return self._overrides_hooks(("on_train_batch_begin", "on_train_batch_end",
                                      "on_batch_begin", "on_batch_end"))

    def _implements_test_batch_hooks(self) -> bool:
        return self._overrides_hooks(("on_test_batch_begin", "on_test_batch_end"))

    def _implements_predict_batch_hooks(self) -> bool:
        return self._overrides_hooks(("on_predict_batch_begin", "on_predict_batch_end"))

    def on_train_begin(self, logs=None): """Called once before the first epoch."""
    def on_train_end(self, logs=None): """Called once after training (logs: the last epoch's)."""
    def on_epoch_begin(self, epoch, logs=None): """Called at the start of epoch ``epoch``."""
    def on_epoch_end(self, epoch, logs=None):
        """Called at the end of an epoch; ``logs`` holds the epoch's metrics and ``val_*``."""
    def on_batch_begin(self, batch, logs=None): """Alias of ``on_train_batch_begin``."""
    def on_batch_end(self, batch, logs=None): """Alias of ``on_train_batch_end``."""

    def on_train_batch_begin(self, batch, logs=None):
        """Called before training batch ``batch`` (0-based within the epoch)."""
        self.on_batch_begin(batch, logs=logs)

    def on_train_batch_end(self, batch, logs=None):
        """Called after a training batch; ``logs`` holds the running means of this epoch."""
        self.on_batch_end(batch, logs=logs)

    def on_test_begin(self, logs=None): """Called before evaluation (or validation in fit)."""
    def on_test_end(self, logs=None): """Called after evaluation."""
    def on_test_batch_begin(self, batch, logs=None): """Called before an evaluation batch."""
    def on_test_batch_end(self, batch, logs=None): """Called after an evaluation batch."""
    def on_predict_begin(self, logs=None): """Called before prediction."""
    def on_predict_end(self, logs=None): """Called after prediction."""
    def on_predict_batch_begin(self, batch, logs=None): """Called before a prediction batch."""
    def on_predict_batch_end(self, batch, logs=None): """Called after a prediction batch."""


def _pythonify(logs: dict) -> dict:
    """Numpy scalars and 0-d arrays in ``logs`` become Python floats, in place (so History and
    the CSV hold plain numbers, and callbacks that add keys are seen by the caller)."""
    for key, value in logs.items():
        if isinstance(value, (np.generic, np.ndarray)) and np.ndim(value) == 0:
            logs[key] = float(value)
    return logs


class CallbackList(Callback):
    """Calls every hook on each callback in turn (Keras's ``CallbackList``).

    Args:
        callbacks: a list of :class:`Callback` (nested lists are flattened).
        add_history: append a :class:`History` unless one is given (``fit`` passes True).
        add_progbar: append a :class:`ProgbarLogger` unless one is given (``fit``: verbose ≠ 0).
        model: set on every callback (and ``model.history`` is the History).
        **params: ``verbose``, ``epochs``, ``steps``…, passed to every ``set_params``.

    Logs are handed over as the same dict to every callback, so a callback that adds a key
    (``learning_rate``) is seen by the ones after it; numpy scalars become floats first. When no
    callback overrides a training-batch hook (:attr:`has_batch_hooks`), ``fit`` neither calls those
    hooks nor builds per-batch logs, as Keras skips them.
    """

    def __init__(self, callbacks=None, add_history: bool = False, add_progbar: bool = False,
                 model=None, **params):
        super().__init__()
        self.callbacks: list[Callback] = list(_flatten(callbacks or []))
        for cb in self.callbacks:
            if not isinstance(cb, Callback):
                raise ValueError(f"callbacks must be Callback instances; received "
                                 f"{type(cb).__name__}: {cb!r}")
        from .progbar import ProgbarLogger  # (progbar imports this module)
        self._history = next((c for c in self.callbacks if isinstance(c, History)), None)
        self._progbar = next((c for c in self.callbacks if isinstance(c, ProgbarLogger)), None)
        if self._history is None and add_history:
            self._history = History()
            self.callbacks.append(self._history)
        if self._progbar is None and add_progbar:
            self._progbar = ProgbarLogger()
            self.callbacks.append(self._progbar)
        if model is not None:
            self.set_model(model)
        if params:
            self.set_params(params)

    @property
    def history(self) -> History | None:
        """The History callback (what ``fit`` returns)."""
        return self._history

    @property
    def has_batch_hooks(self) -> bool:
        """Whether some callback implements a training-batch hook
        (``_implements_train_batch_hooks``; Keras skips the per-batch logs when none does, and
        so does ``fit``)."""
        return any(cb._implements_train_batch_hooks() for cb in self.callbacks)

    @property
    def has_test_batch_hooks(self) -> bool:
        """Whether some callback implements ``on_test_batch_begin/end`` (``evaluate`` may skip
        the per-batch logs otherwise)."""
        return any(cb._implements_test_batch_hooks() for cb in self.callbacks)

    @property
    def has_predict_batch_hooks(self) -> bool:
        """Whether some callback implements ``on_predict_batch_begin/end``."""
        return any(cb._implements_predict_batch_hooks() for cb in self.callbacks)

    @classmethod
    def for_loop(cls, callbacks, model, verbose: int = 0, steps: int | None = None,
                 **params) -> "CallbackList":
        """The list ``evaluate`` / ``predict`` drive (Keras: the user's callbacks, no History, a
        progress bar when ``verbose``); ``callbacks`` may already be a CallbackList (fit's, for
        validation), which is returned as is."""
        if isinstance(callbacks, CallbackList):
            return callbacks
        cbl = cls(callbacks, add_progbar=bool(verbose), model=model)
        cbl.set_params({"verbose": verbose, "steps": steps, "epochs": 1, **params})
        return cbl

    @property
    def progbar(self) -> "ProgbarLogger | None":  # noqa: F821
        return self._progbar

    def append(self, callback: Callback) -> None:
        self.callbacks.append(callback)

    def __iter__(self):
        return iter(self.callbacks)

    def __len__(self) -> int:
        return len(self.callbacks)

    def set_params(self, params: dict) -> None:
        self.params = params
        for cb in self.callbacks:
            cb.set_params(params)

    def set_model(self, model) -> None:
        super().set_model(model)
        if self._history is not None:
            model.history = self._history
        for cb in self.callbacks:
            cb.set_model(model)

    def _call(self, hook: str, *args, logs=None):
        logs = _pythonify(logs if logs is not None else {})
        for cb in self.callbacks:
            getattr(cb, hook)(*args, logs)

    def on_train_begin(self, logs=None): self._call("on_train_begin", logs=logs)
    def on_train_end(self, logs=None): self._call("on_train_end", logs=logs)
    def on_epoch_begin(self, epoch, logs=None): self._call("on_epoch_begin", epoch, logs=logs)
    def on_epoch_end(self, epoch, logs=None): self._call("on_epoch_end", epoch, logs=logs)
    def on_batch_begin(self, batch, logs=None): self._call("on_batch_begin", batch, logs=logs)
    def on_batch_end(self, batch, logs=None): self._call("on_batch_end", batch, logs=logs)

    def on_train_batch_begin(self, batch, logs=None):
        self._call("on_train_batch_begin", batch, logs=logs)

    def on_train_batch_end(self, batch, logs=None):
        self._call("on_train_batch_end", batch, logs=logs)

    def on_test_begin(self, logs=None): self._call("on_test_begin", logs=logs)
    def on_test_end(self, logs=None): self._call("on_test_end", logs=logs)

    def on_test_batch_begin(self, batch, logs=None):
        self._call("on_test_batch_begin", batch, logs=logs)

    def on_test_batch_end(self, batch, logs=None):
        self._call("on_test_batch_end", batch, logs=logs)

    def on_predict_begin(self, logs=None): self._call("on_predict_begin", logs=logs)
    def on_predict_end(self, logs=None): self._call("on_predict_end", logs=logs)

    def on_predict_batch_begin(self, batch, logs=None):
        self._call("on_predict_batch_begin", batch, logs=logs)

    def on_predict_batch_end(self, batch, logs=None):
        self._call("on_predict_batch_end", batch, logs=logs)


def _flatten(items):
    for item in items:
        if isinstance(item, (list, tuple)):
            yield from _flatten(item)
        else:
            yield item


class History(Callback):
    """Records every epoch's logs; ``fit`` returns it.

    Attributes:
        history: dict name → list of values, one per epoch (``{'loss': [...], 'val_loss': [...]}``).
        epoch: the epoch indices seen (0-based).
        resolved: dict metric name → what it resolved to, for metrics whose kind differs from
            their name (``{'accuracy': 'categorical_accuracy'}``), read from ``model.metrics``.
        stopped_by: None, or where and why a callback stopped training:
            ``{'callback': 'TerminateOnNaN', 'epoch': 2, 'batch': 7, 'reason': …}`` (0-based
            epoch and batch; EarlyStopping gives no batch).

    As Keras: ``history`` survives a second ``fit`` with the same History (values are appended)
    while ``epoch`` restarts, and ``model.history`` is set to this object.
    """

    def __init__(self):
        super().__init__()
        self.history: dict[str, list] = {}
        self.epoch: list[int] = []
        self.resolved: dict[str, str] = {}
        self.stopped_by: dict | None = None

    def on_train_begin(self, logs=None):
        self.epoch = []
        self.stopped_by = None

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        self.epoch.append(epoch)
        for key, value in logs.items():
            self.history.setdefault(key, []).append(value)
        for m in _model_metrics(self.model):
            kind = getattr(m, "resolved", None)
            if kind and kind != m.name:
                self.resolved[m.name] = kind
        if self.model is not None:
            self.model.history = self

    def plot(self, metrics: list | None = None, ax=None):
        """The loss and metric curves over epochs: training solid, validation (``val_*``)
        dashed, one panel per name (default ``'loss'`` then every metric, at most 3; not the
        per-layer ``'name/layer'`` records of monitors), the loss on a log scale when positive.

        Args:
            metrics: the names to draw.
            ax: a matplotlib Axes, or a sequence of one per name; default a new Figure (made
                without pyplot: nothing is shown, a notebook's backend is left alone).

        Returns:
            The list of Axes (``axes[0].figure`` is the Figure). matplotlib is the optional extra
            ``nnmath[plot]``, imported only here.

        >>> h = History(); h.history = {"loss": [1.0, 0.5], "val_loss": [1.1, 0.7]}
        >>> [a.get_ylabel() for a in h.plot()]
        ['loss (log scale)']
        """
        try:
            from matplotlib.figure import Figure
            from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter
        except ImportError as e:
            raise ImportError("History.plot needs matplotlib, an optional extra of nnmath: "
                              "pip install \"nnmath[plot]\"") from e
        okabe_ito = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9")
        h = {str(k): [float(v) for v in vs] for k, vs in self.history.items()}
        skip = ("lr", "learning_rate", "grad_norm")
        names = sorted((k for k in h if not k.startswith("val_") and "/" not in k
                        and k not in skip), key=lambda k: (k != "loss", k))[:3] \
            if metrics is None else list(metrics)
        if not names:
            raise ValueError(f"the history has no training curves; its keys are {sorted(h)}")
        missing = [n for n in names if n not in h]
        if missing:
            raise ValueError(f"the history has no {missing}; its keys are {sorted(h)}")
        if ax is None:
            fig = Figure(figsize=(4.2 * len(names) + 0.6, 3.4), layout="constrained")
            axes = list(fig.subplots(1, len(names), squeeze=False)[0])
        else:
            axes = list(ax) if isinstance(ax, (list, tuple, np.ndarray)) else [ax]
            if len(axes) < len(names):
                raise ValueError(f"{len(names)} curves {names}: pass ax as a sequence of "
                                 f"{len(names)} Axes (got {len(axes)})")
        for a, name in zip(axes, names):
            a.set_prop_cycle(color=list(okabe_ito))
            a.grid(True, alpha=0.3, linewidth=0.6)
            a.plot(np.arange(1, len(h[name]) + 1), h[name], color=okabe_ito[0],
                   label="training")
            val = h.get(f"val_{name}")
            if val:
                a.plot(np.arange(1, len(val) + 1), val, color=okabe_ito[1], linestyle="--",
                       label="validation")
            a.set_xlabel("epoch")
            ylabel = name
            values = np.asarray(h[name] + (val or []), dtype=float)
            values = values[np.isfinite(values)]
            if name == "loss" and values.size and np.all(values > 0):
                a.set_yscale("log")
                ylabel = "loss (log scale)"
                if values.max() / values.min() < 100:
                    a.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
                    a.yaxis.set_major_formatter(FuncFormatter(lambda y, _: f"{y:g}"))
                    a.yaxis.set_minor_formatter(NullFormatter())
            elif "accuracy" in name:
                ylabel = f"{name} (fraction correct)"
            a.set_ylabel(ylabel)
            a.set_title(name.replace("_", " "))
            a.legend(frameon=False)
        return axes


def _model_metrics(model) -> list:
    """``model.metrics`` (else ``model.compiled_metrics``) flattened; objects with a ``.metrics``
    list are containers."""
    try:
        stack = list(getattr(model, "metrics", None) or getattr(model, "compiled_metrics", None)
                     or [])
    except Exception:                       # a model whose metrics are not built yet
        return []
    out = []
    while stack:
        m = stack.pop(0)
        inner = getattr(m, "metrics", None)
        if isinstance(inner, (list, tuple)):
            stack[:0] = list(inner)
        elif isinstance(getattr(m, "name", None), str):
            out.append(m)
    return out


def _scalar(value) -> float | None:
    if value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def record_stop(model, callback: str, epoch: int, batch: int | None, reason: str) -> None:
    """Note in ``model.history`` (the History of the current fit) why training stopped."""
    history = getattr(model, "history", None)
    if isinstance(history, History):
        history.stopped_by = {"callback": callback, "epoch": epoch, "batch": batch,
                              "reason": reason}
