"""What makes a model a Keras 3 ``Model`` beyond compile/fit: it is a layer.

:class:`KerasModelAPI` is mixed into :class:`~nnmath.training.Model`. It gives every model

* eager calls: ``model(x)`` / ``model(x, training=True)`` return arrays (on the model's own
  weights; under ``nnmath.grad`` of ``x`` they are traced like any function);
* use as a layer: a Sequential inside a Sequential, a model called on symbolic tensors inside a
  functional model, a model held as an attribute of a subclassed layer or model. Seen from the
  outer model it is a layer whose weights are named ``"<inner layer>/<weight>"``; its pure
  ``call(params, x, training, rng)`` splits that dict back per inner layer;
* Keras-style subclassing: ``class MyModel(Model)`` whose ``__init__`` creates layers as
  attributes (tracked, in assignment order, as ``model.layers``) and whose
  ``call(self, inputs, training=None)`` is written with ``keras.ops``. It is built on first use
  (``fit``, ``model(x)``, ``build(shape)``) by running ``call`` once on zeros, after which its
  weights live in one flat buffer as for any model, and ``_forward`` computes it as a pure
  function of ``params`` (see ``nnmath/nn/layers/_keras_style.py``);
* Keras's hooks for custom training: ``train_step`` / ``test_step`` (overridden, ``fit``,
  ``train_on_batch`` and ``evaluate`` call them per batch), ``metrics``, ``compute_loss``,
  ``apply_gradients`` and ``stateless_call``;
* ``get_layer``, ``to_json``.
"""
from __future__ import annotations

import json
from typing import Any

import numpy as np

from ..nn.layers import _keras_style as _ks
from ..nn.layers.base import Layer
from . import data as _data

__all__ = ["KerasModelAPI"]


def _zeros(shape: Any, dtype: np.dtype) -> Any:
    if isinstance(shape, list) and all(isinstance(s, (list, tuple)) for s in shape):
        return [_zeros(s, dtype) for s in shape]
    return np.zeros(tuple(2 if d is None else int(d) for d in shape), dtype)


def _batch_none(shape: Any) -> Any:
    if isinstance(shape, list) and all(isinstance(s, (list, tuple)) for s in shape):
        return [_batch_none(s) for s in shape]
    return (None,) + tuple(shape)[1:]


def _unpack(data) -> tuple:
    """``(x, y, sample_weight)`` from a step's ``data`` (Keras's ``unpack_x_y_sample_weight``)."""
    if isinstance(data, tuple) and 1 <= len(data) <= 3:
        return tuple(data) + (None,) * (3 - len(data))
    return data, None, None


def _takes_state(step) -> bool:
    """Whether an overridden step has Keras-JAX's stateless signature ``(self, state, data)``."""
    import inspect
    try:
        params = [p for p in inspect.signature(step).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        return False
    return len(params) == 3


class KerasModelAPI:
    """Mixin of :class:`~nnmath.training.Model` (see the module docstring)."""

    # ------------------------------------------------------------------ calling a model
    def __call__(self, x: Any, training: bool | None = None, rng: Any = None, **kwargs):
        """``model(x)``: the output on the model's own weights, as arrays (Keras). On symbolic
        tensors it records a call (the model used as a layer of a functional model); called from
        a Keras-style layer's ``call`` it computes with the weights that call was given.

        Args:
            x: an array (a list for several inputs).
            training: training mode (dropout on); default the enclosing call's, else False.
            rng: the random generator of dropout (default the global one).

        Returns:
            the output array (a list for several outputs).
        """
        if getattr(x, "_nnmath_symbolic", False) or (
                isinstance(x, (list, tuple)) and any(getattr(v, "_nnmath_symbolic", False) for v in x)):
            return Layer.__call__(self, x, training=training, rng=rng, **kwargs)
        scope = _ks.current_scope()
        if scope is not None and scope.lookup(self) is not None:
            return Layer.__call__(self, x, training=training, rng=rng, **kwargs)
        if kwargs:
            raise TypeError(f"model {self.name!r}: unexpected keyword arguments {sorted(kwargs)}")
        if isinstance(x, dict):
            names = self._input_names()
            missing = [n for n in names if n not in x]
            if missing:
                raise ValueError(f"model {self.name!r} takes a dict with keys {names}; missing "
                                 f"{missing} in {sorted(x)}")
            x = [x[n] for n in names]
        if isinstance(x, (list, tuple)) and self._single_in:
            x = x[0] if len(x) == 1 else x
        x = self._cast(x if hasattr(x, "shape") or isinstance(x, (list, tuple)) else np.asarray(x))
        self._build_from(x)
        training = bool(training) if training is not None else (
            scope.training if scope is not None else False)
        if rng is None and scope is not None:
            rng = scope.rng
        if rng is None and training:
            from . import data as _data
            rng = _data.global_rng()
        if scope is None:
            self._clear_losses()
        collect = bool(training and scope is None and self.state)
        y, new_state = self._forward(self.params, x, training, rng, None, collect)
        if new_state:              # an eager training call updates BatchNorm's statistics (Keras)
            by_name = {l.name: l for l in self.layers}
            for lname, upd in new_state.items():
                for k, v in upd.items():
                    by_name[lname].values[k][...] = np.asarray(v)
        return y

    def _nest(self, params: dict) -> tuple[dict, dict]:
        """(params, state) nested per layer from this model's flat weights dict."""
        own, subs = _ks.split_params(params)
        nested, state = {}, {}
        for l in self.layers:
            p = subs.get(l.name)
            if not p:
                continue
            st = l._weight_dict(False)
            for k, v in p.items():
                (state if k in st else nested).setdefault(l.name, {})[k] = v
        return nested, state

    def call(self, params: dict, x: Any, training: bool = False, rng: Any = None) -> Any:
        """The model as a layer: a pure function of its weights by flat key
        (``"<layer>/<weight>"``, trainable and not)."""
        nested, state = self._nest(params)
        return self._forward(nested, x, training, rng, state, False)[0]

    def state_updates(self, params: dict, x: Any, rng: Any = None) -> dict:
        """New values of the inner layers' non-trainable weights after a training step on ``x``,
        by flat key."""
        if getattr(type(self), "_keras_style", False):
            return Layer.state_updates(self, params, x, rng)
        nested, state = self._nest(params)
        new_state = self._forward(nested, x, True, rng, state, True)[1]
        return {f"{l}/{k}": v for l, d in new_state.items() for k, v in d.items()}

    def regularization_loss(self, params: dict) -> Any:
        """Σ of the inner layers' regularization losses (``params`` by flat key)."""
        own, subs = _ks.split_params(params)
        total = 0.0
        for l in self.layers:
            if l.name in subs:
                reg = l.regularization_loss(subs[l.name])
                if not (isinstance(reg, float) and reg == 0.0):
                    total = total + reg
        return total

    def compute_output_shape(self, input_shape: Any) -> Any:
        """The output shape for ``input_shape`` (batch axis included, as None)."""
        if getattr(type(self), "_keras_style", False):
            if not self.built:
                self.build(input_shape)
            with _ks.LossCollector():
                y = _ks.run(self, self._keras_user_call, dict(self.values),
                            _zeros(input_shape, self.dtype), False, None, {})[0]
            return ([(None,) + tuple(np.shape(v))[1:] for v in y] if isinstance(y, (list, tuple))
                    else (None,) + tuple(np.shape(y))[1:])
        if not self.built:
            self.build(input_shape)
        return self.output_shape

    # ------------------------------------------------------------------ subclassed models
    def build(self, input_shape: Any) -> None:
        """Build a subclassed model for inputs of ``input_shape`` (batch axis first): run
        ``call`` once on zeros, which builds every layer it uses, then pack the weights."""
        self._after_build(input_shape)

    def _after_build(self, input_shape: Any) -> None:
        if self.__dict__.get("_building") or not getattr(type(self), "_keras_style", False):
            return
        if isinstance(input_shape, list) and input_shape and not isinstance(input_shape[0], (list, tuple)):
            input_shape = tuple(input_shape)
        object.__setattr__(self, "_building", True)
        try:
            self.input_shape = _batch_none(input_shape)
            with _ks.LossCollector():
                _ks.run(self, self._keras_user_call, dict(self.values),
                        _zeros(input_shape, self.dtype), False, None, {})
        finally:
            object.__setattr__(self, "_building", False)
        self._check_unique_names()
        self._by_name = {l.name: l for l in self.layers}
        self._flatten_weights()
        self.built = True

    def _build_from(self, x: Any) -> None:
        """Build a subclassed model from the first batch (Sequential and Functional check
        shapes instead)."""
        if not self.built:
            shape = ([tuple(np.shape(v)) for v in x] if isinstance(x, (list, tuple))
                     else tuple(np.shape(x)))
            self.build(shape)

    def _forward(self, params, x, training, rng, state, collect):
        """A subclassed model's output: the user's ``call`` run on ``params`` (and ``state``)."""
        if not getattr(type(self), "_keras_style", False):
            raise NotImplementedError(f"{type(self).__name__} must define call(self, inputs)")
        state = self.state if state is None else state
        flat = {}
        for l in self.layers:
            for d in (params.get(l.name, {}), state.get(l.name, {})):
                for k, v in d.items():
                    flat[f"{l.name}/{k}"] = v
        y, updates = _ks.run(self, self._keras_user_call, flat, x, training, rng, {},
                             collect=collect)
        new_state: dict = {}
        if collect and updates:
            from .._core.custom import stop_gradient
            for key, v in updates.items():
                lname, _, k = key.partition("/")
                if k in state.get(lname, {}):
                    new_state.setdefault(lname, {})[k] = stop_gradient(v)
        return y, new_state

    # ------------------------------------------------------------------ custom steps (Keras hooks)
    def train_step(self, data):
        """One training step on one batch, returning the logs (Keras's hook).

        ``fit`` and ``train_on_batch`` call it for every batch when a subclass overrides it,
        with ``data`` as Keras gives it: ``x`` (no targets), ``(x, y)`` or ``(x, y,
        sample_weight)``; the epoch's logs are the last batch's (Keras: use running metrics such
        as ``metrics.Mean`` for averages; the metrics in :attr:`metrics` are reset every epoch).
        nnmath's form of the step (Keras 3's JAX backend writes it statelessly; nnmath's
        weights are in place, the gradient comes from :func:`nnmath.value_and_grad`)::

            def train_step(self, data):
                x, y = data
                def loss_fn(params):
                    return self.compute_loss(y=y, y_pred=self.apply(params, x, training=True))
                loss, grads = nm.value_and_grad(loss_fn)(self.params)
                self.apply_gradients(grads)
                return {"loss": loss}

        :meth:`stateless_call` is there for code written against Keras's JAX guide. An
        overridden step runs eagerly (not recorded with ``jit``). The default is the built-in
        step (``super().train_step(data)`` works)."""
        x, y, sample_weight = _unpack(data)
        xs, ys, sample_weight = self._prepare(x, y, sample_weight, None, "train_step")
        self._ensure_optimizer()
        loss, parts, preds = self._train_step(xs, ys, sample_weight, _data.global_rng())
        self._resolve_metrics(ys, preds)
        self._update_metrics(ys, preds, sample_weight)
        return self._logs(loss, parts)

    def test_step(self, data):
        """One evaluation step on one batch, returning the logs (Keras's hook; ``evaluate`` and
        the validation in ``fit`` call an override per batch, as :meth:`train_step`)."""
        x, y, sample_weight = _unpack(data)
        xs, ys, sample_weight = self._prepare(x, y, sample_weight, None, "test_step")
        loss, parts, y_pred = self._run("_test_step", self._model_input(xs),
                                        self._model_target(ys), sample_weight,
                                        *self._all_weights())
        preds = self._output_list(y_pred)
        self._resolve_metrics(ys, preds)
        self._update_metrics(ys, preds, sample_weight)
        return self._logs(float(loss), [float(p) for p in parts])

    def _overrides(self, hook: str) -> bool:
        return getattr(type(self), hook) is not getattr(KerasModelAPI, hook)

    def _custom_step(self, hook: str, xs: list, ys: list | None, sample_weight) -> dict:
        """Call an overridden ``train_step``/``test_step`` on one batch; logs as floats."""
        x = self._model_input(xs)
        data = x if ys is None else (x, self._model_target(ys)) if sample_weight is None else (
            x, self._model_target(ys), sample_weight)
        if _takes_state(getattr(type(self), hook)):
            logs = self._stateless_step(hook, data)
        else:
            logs = getattr(self, hook)(data)
        if not isinstance(logs, dict):
            raise TypeError(f"{type(self).__name__}.{hook} must return a dict of logs "
                            f"(name → value), returned {type(logs).__name__}")
        out = {}
        for k, v in logs.items():
            v = v.result() if hasattr(v, "result") and hasattr(v, "update_state") else v
            try:
                out[k] = float(np.asarray(v))
            except (TypeError, ValueError):
                out[k] = v
        return out

    def _stateless_step(self, hook: str, data) -> Any:
        """Keras-JAX's stateless step ``train_step(self, state, data) -> (logs, state)``: the
        state is (trainable values, non-trainable values, optimizer variables — train_step
        only —, metrics variables), lists as Keras orders them; what the step returns is
        written back into the model, its optimizer and its metrics."""
        weights = self._all_weights()
        n = len(self._slots)
        trainable = [np.array(v) for v in weights[:n]]
        non_trainable = [np.array(v) for v in weights[n:]]
        metrics = self.metrics
        metric_vars = [v for m in metrics for v in m._get_state()]
        if hook == "train_step":
            self._ensure_optimizer()
            state = (trainable, non_trainable, self.optimizer.variables, metric_vars)
        else:
            state = (trainable, non_trainable, metric_vars)
        out = getattr(self, hook)(state, data)
        if not (isinstance(out, tuple) and len(out) == 2 and len(out[1]) == len(state)):
            raise TypeError(f"{type(self).__name__}.{hook}(state, data) must return (logs, "
                            f"state) with a state of {len(state)} lists, as it received")
        logs, new = out
        for view, v in zip(weights, list(new[0]) + list(new[1])):
            view[...] = np.asarray(v)
        if hook == "train_step":
            self.optimizer._assign_variables(new[2])
        k = 0
        values = list(new[-1])
        for m in metrics:
            count = len(m._get_state())
            m._set_state(values[k:k + count])
            k += count
        return logs

    @property
    def metrics(self) -> list:
        """The compiled metrics and the metric objects held as attributes (Keras's
        ``model.metrics``: what a custom ``train_step`` updates; ``fit`` resets them every
        epoch and ``evaluate`` before it starts)."""
        seen = {id(m) for m in self.compiled_metrics}
        out = list(self.compiled_metrics)
        for v in self.__dict__.values():
            if (id(v) not in seen and not isinstance(v, (type, Layer)) and hasattr(v, "update_state")
                    and hasattr(v, "result") and hasattr(v, "reset_state")):
                seen.add(id(v))
                out.append(v)
        return out

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """The compiled loss of a batch, Σₖ wₖ·lossₖ over the outputs (Keras 3's
        ``compute_loss``); differentiable, so a custom ``train_step`` differentiates it. (The
        weights' regularization terms need the weights: add
        ``self.regularization_loss(params)`` of the flat-keyed params, or use built-in ``fit``.)"""
        if getattr(self, "_output_losses", None) is None:
            raise RuntimeError("compute_loss: compile the model with a loss first")
        return self._data_loss(y, y_pred, sample_weight)[0]

    def apply_gradients(self, grads) -> None:
        """One optimizer step with ``grads`` — a dict shaped like :attr:`params` (what
        ``nnmath.grad`` of a function of ``self.params`` returns) or a list in the order of
        ``trainable_variables`` — on the model's flat weights, in place (what Keras's
        ``self.optimizer.apply(grads, self.trainable_variables)`` does)."""
        self._ensure_optimizer()
        if isinstance(grads, dict):
            missing = [f"{l}/{k}" for l, k in self._slots if k not in grads.get(l, {})]
            if missing:
                raise ValueError(f"apply_gradients: grads lacks {missing[:3]}; pass a dict shaped "
                                 f"like model.params")
            leaves = [grads[l][k] for l, k in self._slots]
        else:
            leaves = list(grads)
            if len(leaves) != len(self._slots):
                raise ValueError(f"apply_gradients: {len(leaves)} gradients for "
                                 f"{len(self._slots)} trainable weights")
        if not leaves:
            return
        flats = [np.concatenate([np.ravel(leaves[i]) for i in group], dtype=buf.dtype,
                                casting="same_kind")
                 for group, buf in zip(self._groups, self._buffers)]
        self.optimizer.update_flat(self.flat_params, flats[0] if len(flats) == 1 else flats)

    def stateless_call(self, trainable_variables, non_trainable_variables, x, training=False,
                       rng=None):
        """``(outputs, new non-trainable values)`` from lists of weight values in the order of
        ``trainable_variables`` and ``non_trainable_variables`` (Keras 3's ``stateless_call``):
        a pure function of the lists, so ``nnmath.value_and_grad`` differentiates it."""
        values = list(trainable_variables) + list(non_trainable_variables)
        if len(values) != len(self._slots) + len(self._state_slots()):
            raise ValueError(f"stateless_call: {len(trainable_variables)} trainable and "
                             f"{len(non_trainable_variables)} non-trainable values for a model "
                             f"with {len(self._slots)} and {len(self._state_slots())}")
        params, state = self._weights_of(values)
        y, new_state = self.apply_with_state(params, x, training=training, rng=rng, state=state)
        return y, [new_state.get(l, {}).get(k, state[l][k]) for l, k in self._state_slots()]

    # ------------------------------------------------------------------ Keras conveniences
    def get_layer(self, name: str | None = None, index: int | None = None) -> Layer:
        """A layer by name or by index (Keras ``get_layer``)."""
        if index is not None:
            if not -len(self.layers) <= index < len(self.layers):
                raise ValueError(f"get_layer: was asked to retrieve layer at index {index} but "
                                 f"model {self.name!r} only has {len(self.layers)} layers")
            return self.layers[index]
        for l in self.layers:
            if l.name == name:
                return l
        raise ValueError(f"No such layer: {name}. Existing layers are: "
                         f"{[l.name for l in self.layers]}.")

    def to_json(self, **kwargs) -> str:
        """The architecture as a JSON string (Keras ``to_json``; ``model_from_json`` reads it)."""
        from .serialization import serialize_keras_object
        return json.dumps(serialize_keras_object(self), **kwargs)

    @classmethod
    def from_config(cls, config: dict, custom_objects: dict | None = None):
        """A model from its config (Keras ``Model.from_config``): a functional config gives a
        functional model; a subclassed model's config is passed to its ``__init__``."""
        from .serialization import CustomObjectScope
        with CustomObjectScope(custom_objects):    # also for names inside layer configs
            if "input_layers" in config and "output_layers" in config:
                from .functional import Functional
                return Functional.from_config(config, custom_objects=custom_objects)
            if "layers" in config and cls.__name__ == "Model":
                from .sequential import Sequential
                return Sequential.from_config(config, custom_objects=custom_objects)
            return cls(**config)

    @property
    def metrics_names(self) -> list:
        loss_names, metric_names = self._log_names()
        return ["loss"] + loss_names + metric_names
