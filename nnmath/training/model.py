"""Keras-style models: ``Sequential`` (and the shared ``Model`` machinery) with compile, fit,
evaluate, predict, summary and train_on_batch — on nnmath's autodiff.

Every model is also a pure function of its parameters: ``model.params`` is a dict
layer name → {weight name → array} of the trainable weights and
``model.apply(params, x, training=False, rng=None)`` computes the output from them alone, so
``nnmath.grad``, ``hessian``, ``jvp`` and ``vmap`` apply to a model directly:

>>> import numpy as np, nnmath as nm
>>> from nnmath.training import Sequential
>>> from nnmath.nn.layers import Dense
>>> model = Sequential([Dense(2, input_dim=3, dtype="float64")])
>>> g = nm.grad(lambda p: model.apply(p, np.ones((4, 3))).sum())(model.params)
>>> sorted(g[model.layers[0].name])
['bias', 'kernel']

The weights live in one flat buffer (``model.flat_params``; one per dtype when the layers' dtypes
differ); each layer's arrays are views into it, so the optimizer updates every weight with a few
vectorised numpy calls.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from .. import numpy as mnp
from .._core.jit import ConcretizationError, jit
from .._core.primitive import call_plain, needs_rules
from .._core.transforms import value_and_grad
from ..nn.layers import _keras_style as _ks
from ..nn.layers.base import Layer
from . import data as _data
from .keras_api import KerasModelAPI
from .loops import TrainingLoops

__all__ = ["Model", "Sequential"]


def _per_output(spec: Any, names: list, what: str, convert, default: Any = None,
                required: bool = False) -> list:
    """One value per output from compile's ``spec``: a single value (every output), a list (one
    per output) or a dict keyed by output name."""
    if isinstance(spec, dict):
        unknown = sorted(set(spec) - set(names))
        missing = [n for n in names if n not in spec]
        if unknown or (required and missing):
            raise ValueError(f"compile: {what} is a dict with keys {sorted(spec)}; the model's "
                             f"outputs are {names}")
        return [convert(spec[n]) if n in spec else default for n in names]
    if isinstance(spec, (list, tuple)) and len(names) == 1 and len(spec) == 1:
        spec = spec[0]                  # [loss] for a one-output model, as Keras accepts
    if isinstance(spec, (list, tuple)) and len(names) > 1:
        if len(spec) != len(names):
            raise ValueError(f"compile: {what} has {len(spec)} entries for the model's {len(names)} "
                             f"outputs {names}")
        return [convert(v) for v in spec]
    return [default if spec is None else convert(spec)] * len(names)


def _resolve_optimizer(optimizer: Any) -> Any:
    """A Keras-style optimizer object from compile's argument: a name, an object, or one of
    nnmath's Optax-style ``(init, update)`` transforms (wrapped, see
    :class:`~nnmath.training.optax_adapter.TransformOptimizer`)."""
    from .. import optimizers as _optimizers
    if isinstance(optimizer, _optimizers.GradientTransformation):
        from .optax_adapter import TransformOptimizer
        return TransformOptimizer(optimizer)
    return _optimizers.get(optimizer)


def cast_to_layer(layer: Layer, params: dict, x: Any) -> Any:
    """Floating inputs of a layer with weights in its weights' dtype, as Keras casts a layer's
    inputs to its compute dtype — so a float32 Dense after a ``dtype="float64"`` one computes in
    float32. The dtype is read from the weights the layer is given (``params``), not from
    ``layer.dtype``, so a float32 model applied to float64 weights (a gradient check, an analysis
    in float64) computes in float64. Layers without weights pass their input's dtype on (Keras
    would cast to their float32 default), and models and Keras-style composite layers are left to
    their own layers. Costs one dtype comparison when nothing is cast (one dtype throughout)."""
    if not params or getattr(type(layer), "_tracks_sublayers", False) \
            or getattr(type(layer), "_composite", False):
        return x
    dtype = getattr(next(iter(params.values())), "dtype", None)
    if dtype is None or dtype.kind != "f":
        return x
    if isinstance(x, (list, tuple)):
        return type(x)(_cast_to(v, dtype) for v in x)
    return _cast_to(x, dtype)


def _own_attrs(cls: type) -> set:
    """Names defined by ``cls`` and its bases below ``Model``."""
    names: set = set()
    for k in cls.__mro__:
        if k.__module__.startswith("nnmath.training"):
            break
        names |= set(vars(k))
    return names


_FUNCTIONAL_SUBCLASSES: dict = {}


def _functional_subclass(cls: type, functional: type) -> type:
    """``cls`` with the functional model mixed in (one class per ``cls``)."""
    sub = _FUNCTIONAL_SUBCLASSES.get(cls)
    if sub is None:
        sub = type(cls.__name__, (cls, functional), {"__module__": cls.__module__,
                                                     "__qualname__": cls.__qualname__})
        _FUNCTIONAL_SUBCLASSES[cls] = sub
    return sub


def _cast_to(x: Any, dtype: np.dtype) -> Any:
    xd = getattr(x, "dtype", None)
    if xd is None or xd == dtype or xd.kind != "f":
        return x
    return mnp.astype(x, dtype)


def _concatenate_raveled(*arrays: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """The arrays raveled and concatenated into one new array of ``dtype``."""
    return np.concatenate([a.ravel() for a in arrays], dtype=dtype, casting="same_kind")


class Model(KerasModelAPI, TrainingLoops, Layer):
    """The shared machinery of models (see :class:`Sequential`); as in Keras, calling
    ``Model(inputs, outputs)`` builds a functional model (:class:`~nnmath.training.functional.Functional`),
    every model — Sequential or functional — is an instance of ``Model``, and every model is a
    ``Layer``: it can be called on arrays (``model(x)``), used inside another model, and
    subclassed Keras-style (``class MyModel(Model)`` with ``__init__`` creating layers as
    attributes and ``call(self, inputs, training=None)``; see
    :class:`~nnmath.training.keras_api.KerasModelAPI`)."""

    _composite = True           # weights are the layers' (Layer.values is a view over them)

    def __new__(cls, *args, **kwargs):
        functional_args = (len(args) >= 2 and not isinstance(args[0], str)) or "inputs" in kwargs
        if cls is Model and (args or "inputs" in kwargs):
            from .functional import Functional
            return super().__new__(Functional)
        if functional_args and "call" not in _own_attrs(cls):
            # ``class CustomModel(keras.Model)`` built as CustomModel(inputs, outputs): a
            # functional model with the subclass's methods (a custom train_step), as Keras's
            # inject_functional_model_class
            from .functional import Functional
            if not issubclass(cls, Functional):
                cls = _functional_subclass(cls, Functional)
        return super().__new__(cls)

    def __init__(self, *args, name: str | None = None, dtype: Any = None, trainable: bool = True,
                 **kwargs):
        if args and isinstance(args[0], str) and name is None:
            name, args = args[0], args[1:]
        if args or "inputs" in kwargs or "outputs" in kwargs:
            raise TypeError(f"{type(self).__name__}: a subclassed model cannot take the "
                            f"functional API's inputs/outputs; build Model(inputs, outputs) "
                            f"instead (received {len(args)} positional arguments)")
        Layer.__init__(self, name=name, dtype=dtype, trainable=trainable, **kwargs)
        self.built = False
        self.optimizer = None
        self.loss = None
        self.compiled_metrics: list = []
        self._metric_specs: list = []
        self.stop_training = False
        self.history = None
        self.flat_params: np.ndarray | None = None
        self._slots: list[tuple[str, str]] = []
        self._buffers: list = []          # the flat buffers, one per dtype (usually one)
        self._groups: list = []           # for each buffer, the indices into _slots it holds
        self._leaf_views: list = []

    @property
    def layers(self) -> list:
        """The model's layers, in order (Keras ``model.layers``)."""
        return self._sublayers

    @layers.setter
    def layers(self, value: Sequence) -> None:
        object.__setattr__(self, "_sublayers", list(value))

    # ------------------------------------------------------------------ the pure function
    @property
    def params(self) -> dict:
        """Trainable weights: {layer name: {weight name: array}} (views of ``flat_params``)."""
        self._build_if_shape_known()
        return {l.name: l._weight_dict(True) for l in self.layers
                if l._weight_dict(True)}

    @property
    def state(self) -> dict:
        """Non-trainable weights (e.g. moving statistics): {layer name: {weight name: array}}."""
        self._build_if_shape_known()
        return {l.name: l._weight_dict(False) for l in self.layers
                if l._weight_dict(False)}

    def apply(self, params: dict, x: Any, training: bool = False, rng: np.random.Generator | None = None,
              state: dict | None = None) -> Any:
        """The model's output, a pure function of ``params`` (and ``state``, default the model's)."""
        return self._forward(params, x, training, rng, state, collect=False)[0]

    def apply_with_state(self, params: dict, x: Any, training: bool = False, rng=None, state=None):
        """``(output, new_state)``: new values of the non-trainable weights after this batch."""
        return self._forward(params, x, training, rng, state, collect=True)

    # ------------------------------------------------------------------ building
    def _build_if_shape_known(self) -> None:
        if not self.built and getattr(self, "input_shape", None) is not None:
            self.build(self.input_shape)

    def _cast(self, x: Any) -> Any:
        """Inputs in the model's input dtype: floating inputs in the first layer's dtype (Keras
        casts inputs to the compute dtype), and integer or boolean ones too, unless the first
        layer takes indices (``Embedding``) or an ``Input`` declared an integer dtype."""
        if isinstance(x, (list, tuple)):
            return type(x)(self._cast(v) for v in x)
        if not hasattr(x, "dtype"):
            x = np.asarray(x)
        declared = self._input_dtype()
        first = self.layers[0] if self.layers else None
        dtype = declared if declared is not None else (first.dtype if first is not None else x.dtype)
        if x.dtype == dtype or dtype.kind != "f":
            return x
        if x.dtype.kind == "f" or (x.dtype.kind in "iub"
                                   and not getattr(first, "_takes_indices", False)):
            return x.astype(dtype)
        return x

    def _input_dtype(self) -> np.dtype | None:
        """The dtype an ``Input`` declared for the (first) input, None if none did."""
        return None

    def _check_unique_names(self) -> None:
        seen = set()
        for layer in self.layers:
            if layer.name in seen:
                raise ValueError(f"model {self.name!r}: two layers are named {layer.name!r}; names "
                                 f"must be unique")
            seen.add(layer.name)

    def _flatten_weights(self) -> None:
        """Move every trainable weight into one flat buffer per dtype (one buffer in the common
        case) and make the layers hold views. ``flat_params`` is that buffer, or the tuple of
        buffers when the weights have several dtypes (a ``dtype="float64"`` layer in a float32
        model keeps float64 weights, as in Keras)."""
        slots = [(l, k) for l in self.layers for k in l._weight_dict(True)]
        self._slots = [(l.name, k) for l, k in slots]
        if not slots:
            self.flat_params, self._leaf_views = np.zeros(0, np.float32), []
            self._buffers, self._groups = [self.flat_params], [[]]
            return
        by_dtype: dict = {}
        for i, (l, k) in enumerate(slots):
            by_dtype.setdefault(l.values[k].dtype, []).append(i)
        # the buffer of the first trainable weight's dtype first (the model's compute dtype)
        self._groups = list(by_dtype.values())
        self._buffers = []
        for dtype, group in by_dtype.items():
            flat = np.empty(sum(slots[i][0].values[slots[i][1]].size for i in group), dtype)
            offset = 0
            for i in group:
                l, k = slots[i]
                v = l.values[k]
                view = flat[offset:offset + v.size].reshape(v.shape)
                view[...] = v
                l.values[k] = view
                offset += v.size
            self._buffers.append(flat)
        self.flat_params = self._buffers[0] if len(self._buffers) == 1 else tuple(self._buffers)
        self._leaf_views = [l.values[k] for l, k in slots]

    def _params_of(self, leaves: Sequence) -> dict:
        """The params dict from the trainable weights listed in flat-buffer order."""
        params: dict = {}
        for (l, k), v in zip(self._slots, leaves):
            params.setdefault(l, {})[k] = v
        return params

    def count_params(self) -> int:
        return int(sum(l.count_params() for l in self.layers))

    def get_weights(self) -> list:
        return [w for l in self.layers for w in l.get_weights()]

    def set_weights(self, weights: Sequence) -> None:
        weights = list(weights)
        expected = sum(len(l.values) for l in self.layers)
        if len(weights) != expected:
            raise ValueError(f"set_weights: model has {expected} weight arrays, got {len(weights)}")
        k = 0
        for l in self.layers:
            n = len(l.values)
            l.set_weights(weights[k:k + n])
            k += n

    # ------------------------------------------------------------------ compile
    def compile(self, optimizer: Any = "rmsprop", loss: Any = None, metrics: Any = None,
                loss_weights: Any = None, run_eagerly: bool = False, jit_compile: bool | str = "auto"
                ) -> None:
        """Configure training (Keras): optimizer and loss by name or object, metrics by name or
        object ('accuracy' is resolved from the loss and the shapes at the first fit/evaluate).

        A model with several outputs takes ``loss`` as one loss for every output, a list (one per
        output) or a dict keyed by the output layers' names; ``loss_weights`` likewise (default
        1): the trained loss is Σₖ wₖ·lossₖ. ``metrics`` is a list applied to every output, a
        list of lists (one per output) or a dict by output name. Logs then name ``loss`` (the
        weighted sum), ``<output>_loss`` and ``<output>_<metric>``, as Keras does.

        ``jit_compile`` (Keras' name): ``"auto"`` records the training step once per batch shape
        with :func:`nnmath.jit` and replays it, falling back to tracing every step if a layer or
        loss cannot be recorded; ``True`` makes that an error; ``False`` (or ``run_eagerly=True``)
        traces every step. Both give the same numbers (jit replays the same numpy calls). As with
        Keras' compiled steps, Python attributes of layers and of the loss (a dropout rate, a
        ``from_logits`` flag) are read when a step is recorded: compile again after changing them.
        """
        from ..nn import losses as _losses
        if jit_compile not in (True, False, "auto"):
            raise ValueError(f"compile: jit_compile must be True, False or 'auto', got {jit_compile!r}")
        names = self._output_names()
        self.optimizer = _resolve_optimizer(optimizer)
        # loss=None: the model's own add_loss terms are the whole loss (Keras)
        self._output_losses = ([None] * len(names) if loss is None else
                               _per_output(loss, names, "loss", _losses.get, required=True))
        if len(names) == 1 and isinstance(loss_weights, np.ndarray):
            loss_weights = float(np.ravel(loss_weights)[0])
        self._loss_weights = _per_output(loss_weights, names, "loss_weights", float, default=1.0)
        self.loss = self._output_losses[0] if len(names) == 1 else list(self._output_losses)
        self.loss_weight = self._loss_weights[0] if len(names) == 1 else list(self._loss_weights)
        self._metric_specs = metrics if isinstance(metrics, dict) else list(metrics or [])
        self.compiled_metrics = []
        self._metric_outputs = []   # the output each compiled metric watches
        self._opt_ready = False
        self.run_eagerly = bool(run_eagerly)
        self.jit_compile = False if run_eagerly else jit_compile
        self._jitted = {}           # step name → nnmath.jit of it (recorded again after compile)
        self._compiled = True

    # ------------------------------------------------------------------ inputs and outputs
    def _input_names(self) -> list:
        """Names of the model's inputs (one for a Sequential model)."""
        return ["input"]

    def _output_names(self) -> list:
        """Names of the model's outputs: the layers that produce them (one for Sequential)."""
        return [self.layers[-1].name] if self.layers else ["output"]

    # A model takes one array or a list, and returns one array or a list (a functional model built
    # from lists, even of one tensor, takes and returns lists, as in Keras).
    _single_in = _single_out = True

    def _model_input(self, xs: list) -> Any:
        """The data's list of input arrays as the model takes it: one array, or the list."""
        return xs[0] if self._single_in else list(xs)

    def _model_target(self, ys: list) -> Any:
        """The data's list of target arrays shaped like the model's output."""
        return ys[0] if self._single_out else list(ys)

    def _output_list(self, y: Any) -> list:
        """The model's output (or targets shaped like it) as a list."""
        return [y] if self._single_out else list(y)

    def _check_data(self, x, y, sample_weight, what: str, finite: bool = True):
        return _data.check_data(x, y, sample_weight, what, self._input_names(), self._output_names(),
                                finite=finite)

    def _log_names(self) -> tuple[list, list]:
        """Log keys of the per-output losses (none for one output) and of the metrics."""
        names = self._output_names()
        multi = len(names) > 1
        with_loss = [n for n, fn in zip(names, getattr(self, "_output_losses", names))
                     if fn is not None]          # as Keras: outputs with a loss, if several
        losses = [f"{n}_loss" for n in with_loss] if len(with_loss) > 1 else []
        metrics = [f"{names[k]}_{m.name}" if multi else m.name
                   for k, m in zip(getattr(self, "_metric_outputs", []), self.compiled_metrics)]
        return losses, metrics

    def _resolve_metrics(self, ys: list, preds: list) -> None:
        """Metric objects per output, resolved at the first batch ('accuracy' needs shapes)."""
        if self.compiled_metrics or not self._metric_specs:
            return
        from . import metrics as _metrics
        names = self._output_names()
        spec = self._metric_specs
        if isinstance(spec, dict):
            unknown = sorted(set(spec) - set(names))
            if unknown:
                raise ValueError(f"compile: metrics names outputs {unknown}; the model's outputs are "
                                 f"{names}")
            per_output = [spec.get(n, []) for n in names]
        elif spec and all(isinstance(m, (list, tuple)) for m in spec):
            if len(spec) != len(names):
                raise ValueError(f"compile: metrics has {len(spec)} lists for the model's "
                                 f"{len(names)} outputs {names}")
            per_output = spec
        else:
            per_output = [spec] * len(names)
        self._metric_outputs = []
        for k, specs in enumerate(per_output):
            specs = specs if isinstance(specs, (list, tuple)) else [specs]
            probe = np.zeros((1,) + tuple(preds[k].shape[1:]))
            for m in specs:
                self.compiled_metrics.append(_metrics.get(m, loss=self._output_losses[k],
                                                          y_true=ys[k][:1], y_pred=probe))
                self._metric_outputs.append(k)

    def _update_metrics(self, ys: list, preds: list, sample_weight) -> None:
        for k, m in zip(getattr(self, "_metric_outputs", []), self.compiled_metrics):
            m.update_state(ys[k], preds[k], sample_weight)

    def _ensure_optimizer(self) -> None:
        """Re-pack the flat buffer if the layers' weights moved since (a layer reused by another
        model, or a ``trainable`` flag changed), then set up the optimizer's state once."""
        if self.optimizer is None or not getattr(self, "_compiled", False):
            raise RuntimeError("the model must be compiled before training: call "
                               "model.compile(optimizer=..., loss=...)")
        slots = [(l.name, k) for l in self.layers for k in l._weight_dict(True)]
        if slots != self._slots:
            self._flatten_weights()
            self._opt_ready = False
        elif any(self._by_name[l].values[k] is not v for (l, k), v in zip(self._slots, self._leaf_views)):
            self._flatten_weights()
        if not getattr(self, "_opt_ready", False):
            sizes = [[self._leaf_views[i].size for i in group] for group in self._groups]
            if len(self._buffers) == 1:
                self.optimizer.init_flat(self.flat_params, sizes=sizes[0])
                if hasattr(self.optimizer, "_var_shapes"):    # Keras's optimizer.variables
                    self.optimizer._var_shapes = [v.shape for v in self._leaf_views]
            elif getattr(type(self.optimizer).init_flat, "_accepts_buffer_lists", False):
                self.optimizer.init_flat(list(self._buffers), sizes=sizes)
            else:
                raise TypeError(f"model {self.name!r} has trainable weights of several dtypes "
                                f"{[b.dtype.name for b in self._buffers]} (one flat buffer each); "
                                f"optimizer {type(self.optimizer).__name__} steps only one buffer: "
                                f"give every layer the same dtype")
            self._opt_ready = True

    # ------------------------------------------------------------------ one step
    def _data_loss(self, y, y_pred, sample_weight) -> tuple:
        """(Σₖ wₖ·lossₖ, the per-output losses — empty for one output) of one batch."""
        # outputs compiled with loss None are left out, each weight stays with its own output
        terms = [(w, fn(t, p, sample_weight=sample_weight)) for fn, w, t, p in
                 zip(self._output_losses, self._loss_weights, self._output_list(y),
                     self._output_list(y_pred)) if fn is not None]
        parts = [part for _, part in terms]
        if not parts:                        # compiled without a loss: only add_loss terms
            return 0.0, ()
        total = None
        for w, part in terms:
            term = part if w == 1.0 else part * w
            total = term if total is None else total + term
        return total, (tuple(parts) if len(parts) > 1 else ())

    def _loss_value(self, leaves, state, x, y, sample_weight, rng):
        """The training loss as a function of the trainable weights in flat-buffer order (a
        list, so the gradient comes back ready to concatenate into the flat buffer)."""
        params = self._params_of(leaves)
        with _ks.LossCollector() as added:
            y_pred, new_state = self.apply_with_state(params, x, training=True, rng=rng,
                                                      state=state)
        loss, parts = self._data_loss(y, y_pred, sample_weight)
        for term in added:                   # the layers' add_loss terms (Keras adds them)
            loss = loss + mnp.sum(term)
        return self._add_regularization(loss, params), (y_pred, new_state, parts)

    def _add_regularization(self, loss, params: dict):
        """``loss`` plus the layers' weight regularisers Σ R(w) (Keras adds them to the loss of
        training *and* evaluation: ``Model.losses`` holds them in both)."""
        for l in self.layers:
            if l.name in params:
                reg = l.regularization_loss(params[l.name])
                if not (isinstance(reg, float) and reg == 0.0):
                    loss = loss + reg
        return loss

    def _state_slots(self) -> list:
        """(layer name, weight name) of every non-trainable weight, in a fixed order."""
        return [(l.name, k) for l in self.layers for k in l._weight_dict(False)]

    def _gradient_step(self, x, y, sample_weight, rng, *weights):
        """One batch's loss, predictions, gradient as one flat array (None without trainable
        weights) and new non-trainable weights (in :meth:`_state_slots` order, None where a layer
        keeps its value): everything a training step computes but the optimizer's in-place update.
        ``weights``: the trainable weights in flat-buffer order, then the non-trainable ones. A pure
        function of flat arguments, so that :func:`nnmath.jit` records it and replays it cheaply."""
        n = len(self._slots)
        slots = self._state_slots()
        state = self._state_of(weights)
        (loss, (y_pred, new_state, parts)), grads = value_and_grad(self._loss_value, has_aux=True)(
            list(weights[:n]), state, x, y, sample_weight, rng)
        flat = None
        if grads:
            flats = tuple(self._flat_grad([grads[i] for i in group], buf.dtype)
                          for group, buf in zip(self._groups, self._buffers))
            flat = flats[0] if len(flats) == 1 else flats
        return (loss, parts, y_pred, flat) + tuple(new_state.get(l, {}).get(k) for l, k in slots)

    @staticmethod
    def _flat_grad(grads: list, dtype: np.dtype) -> Any:
        """The gradients raveled into one array of their buffer's ``dtype``."""
        if any(needs_rules(g) for g in grads):               # the step itself differentiated
            flat = mnp.concatenate([mnp.ravel(g) for g in grads])
            return flat if flat.dtype == dtype else mnp.astype(flat, dtype)
        return call_plain(_concatenate_raveled, *grads, dtype=dtype)   # one step under jit

    def _state_of(self, weights: Sequence) -> dict:
        """The state dict from the non-trainable weights, which follow the trainable ones."""
        state: dict = {}
        for (lname, k), v in zip(self._state_slots(), weights[len(self._slots):]):
            state.setdefault(lname, {})[k] = v
        return state

    def _weights_of(self, weights: Sequence) -> tuple[dict, dict]:
        """(params, state) dicts from the trainable then non-trainable weights in flat order."""
        return self._params_of(weights[:len(self._slots)]), self._state_of(weights)

    def _all_weights(self) -> list:
        """The arrays :meth:`_weights_of` takes, as the layers hold them now (a layer shared with
        another model may have moved into that model's buffer): trainable, then the rest."""
        by_name = self._by_name
        return ([by_name[l].values[k] for l, k in self._slots]
                + [by_name[l].values[k] for l, k in self._state_slots()])

    def _predict_step(self, x, *weights):
        params, state = self._weights_of(weights)
        return self._forward(params, x, False, None, state, False)[0]

    def _test_step(self, x, y, sample_weight, *weights):
        with _ks.LossCollector() as added:
            y_pred = self._predict_step(x, *weights)
        loss, parts = self._data_loss(y, y_pred, sample_weight)
        for term in added:
            loss = loss + mnp.sum(term)
        params = self._params_of(weights[:len(self._slots)])
        return self._add_regularization(loss, params), parts, y_pred

    def _run(self, step: str, *args):
        """Run the step method named ``step``, recorded and replayed by :func:`nnmath.jit` unless
        compile said not to; ``jit_compile="auto"`` falls back to tracing every call if a layer or
        loss cannot be recorded (as Keras' "auto" falls back from XLA)."""
        dist = self.__dict__.get("_distribution")
        if dist is not None:        # data parallel: this rank's shard, then one collective
            return dist.run_step(self, step, args)
        setting = getattr(self, "jit_compile", "auto")
        if setting:
            jitted = self.__dict__.setdefault("_jitted", {})
            fn = jitted.get(step)
            if fn is None:
                fn = jitted[step] = jit(getattr(self, step))
            try:
                return fn(*args)
            except ConcretizationError:
                if setting is True:
                    raise
                self.jit_compile = False
        return getattr(self, step)(*args)

    def _train_step(self, xs: list, ys: list, sample_weight, rng):
        """One optimizer step; returns (loss, per-output losses, the outputs as a list)."""
        weights = self._all_weights()
        state_views = weights[len(self._slots):]
        loss, parts, y_pred, flat_grads, *new_state = self._run(
            "_gradient_step", self._model_input(xs), self._model_target(ys),
            sample_weight, rng, *weights)
        if flat_grads is not None:
            self.optimizer.update_flat(self.flat_params, flat_grads)
        for view, v in zip(state_views, new_state):
            if v is not None:
                view[...] = v
        return float(loss), [float(p) for p in parts], self._output_list(y_pred)

    def _prepare(self, x, y, sample_weight, class_weight, what: str):
        """Checked lists of input and target arrays, cast and with class weights applied."""
        xs, ys, sample_weight = self._check_data(x, y, sample_weight, what)
        if ys is None:
            custom = self._overrides("train_step" if what in ("fit", "train_on_batch")
                                     else "test_step")
            if not custom and any(fn is not None for fn in getattr(self, "_output_losses", [None])):
                raise ValueError(f"{what}: y (the targets) is required for the compiled loss "
                                 f"(compile(loss=None) trains on the model's add_loss terms)")
            ys = [np.zeros((len(xs[0]), 0), np.float32)]        # no targets: a placeholder
        xs = self._cast_list(xs)
        self._build_from(self._model_input(xs))
        if class_weight is not None:
            if len(ys) > 1:
                raise ValueError(f"{what}: class_weight is for single-output models (as in Keras); "
                                 f"pass sample_weight instead")
            cw = _data.class_weights_to_sample_weights(ys[0], class_weight)
            sample_weight = cw if sample_weight is None else sample_weight * cw
        return xs, ys, sample_weight

    def _pydataset_batches(self, ds, order, class_weight, what: str):
        """The PyDataset's batches in ``order``, each checked and cast as fit's arrays are, with
        the dataset's ``on_epoch_begin`` / ``on_epoch_end`` around the pass."""
        ds.on_epoch_begin()
        for i in order:
            x, y, sw = _data.unpack_batch(ds[int(i)])
            if what == "predict":                         # targets in the batch are ignored
                yield self._cast_list(self._check_data(x, None, None, what, finite=False)[0]), \
                    None, None
                continue
            yield self._prepare(x, y, sw, class_weight, what)
        ds.on_epoch_end()

    def _cast_list(self, xs: list) -> list:
        x = self._cast(self._model_input(xs))
        return [x] if self._single_in else list(x)

    def train_on_batch(self, x, y=None, sample_weight=None, class_weight=None, return_dict=False):
        """One optimizer step on one batch; returns the loss (and metrics)."""
        xs, ys, sample_weight = self._prepare(x, y, sample_weight, class_weight, "train_on_batch")
        self._ensure_optimizer()
        if self._overrides("train_step"):
            logs = self._custom_step("train_step", xs, None if y is None else ys, sample_weight)
            return logs if return_dict else (logs["loss"] if list(logs) == ["loss"]
                                             else list(logs.values()))
        loss, parts, preds = self._train_step(xs, ys, sample_weight, _data.global_rng())
        self._resolve_metrics(ys, preds)
        for m in self.compiled_metrics:
            m.reset_state()
        self._update_metrics(ys, preds, sample_weight)
        logs = self._logs(loss, parts)
        return logs if return_dict else (loss if len(logs) == 1 else list(logs.values()))

    def _logs(self, loss: float, parts: list) -> dict:
        loss_names, metric_names = self._log_names()
        logs = {"loss": loss}
        logs.update(zip(loss_names, parts))
        logs.update((k, float(m.result())) for k, m in zip(metric_names, self.compiled_metrics))
        return logs

    # ------------------------------------------------------------------ summary
    def summary(self, print_fn=print) -> None:
        """Layers with output shapes and parameter counts; trainable and non-trainable totals."""
        rows = [("Layer (type)", "Output Shape", "Param #")]
        shape = None if getattr(type(self), "_keras_style", False) else getattr(self, "input_shape", None)
        for l in self.layers:
            out = l.compute_output_shape(shape) if shape is not None and l.built else "?"
            shape = out if out != "?" else None
            rows.append((f"{l.name} ({type(l).__name__})", str(out), f"{l.count_params():,}"))
        widths = [max(len(r[i]) for r in rows) + 2 for i in range(3)]
        line = "─" * sum(widths)
        print_fn(f'Model: "{self.name}"')
        print_fn(line)
        for i, r in enumerate(rows):
            print_fn("".join(c.ljust(w) for c, w in zip(r, widths)))
            print_fn(line if i == 0 or i == len(rows) - 1 else "")
        trainable = sum(v.size for l in self.layers for v in l._weight_dict(True).values())
        total = self.count_params()
        print_fn(f" Total params: {total:,}")
        print_fn(f" Trainable params: {trainable:,}")
        print_fn(f" Non-trainable params: {total - trainable:,}")
        if self.compiled_metrics:
            resolved = ", ".join(f"{m.name} → {getattr(m, 'resolved', m.name)}" for m in self.compiled_metrics)
            print_fn(f" Metrics: {resolved}")

    # ------------------------------------------------------------------ saving
    def save(self, filepath: str) -> None:
        """Architecture, weights, compile config and optimizer state in one ``.npz`` file that
        loads without running code (no pickle), written atomically."""
        from .saving import save_model
        save_model(self, filepath)

    def save_weights(self, filepath: str) -> None:
        from .saving import save_weights
        save_weights(self, filepath)

    def load_weights(self, filepath: str) -> None:
        from .saving import load_weights
        load_weights(self, filepath)




from .sequential import Sequential  # noqa: E402  (it subclasses Model)
