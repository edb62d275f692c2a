"""The layer lifecycle (Keras's): ``__init__`` validates and stores the configuration, ``build``
creates the weights from named initializers once the input shape is known, ``call`` is the math,
``get_config`` serialises.

Every layer is also a pure function of its weights: ``call(params, x, training=False, rng=None)``
reads its weights only from ``params`` (a dict name → array), never from ``self``, so
``nnmath.grad``, ``hessian``, ``jvp`` and ``vmap`` apply to it directly. A layer with
non-trainable state (BatchNormalization's moving statistics) also implements ``state_updates``.

Shapes follow Keras: ``input_shape`` includes the batch axis as ``None``.
"""
from __future__ import annotations

import functools
import inspect
import re
from typing import Any

import numpy as np

from .. import initializers as _initializers
from .. import regularizers as _regularizers
from . import _keras_style as _ks

__all__ = ["Layer", "Weight"]

_counts: dict[str, int] = {}

# Keras 3 constructor arguments accepted and ignored (nnmath computes in the layer's dtype).
_KERAS_ONLY = {"autocast", "activity_regularizer", "batch_input_shape", "input_length"}
_ADD_WEIGHT_KERAS_ONLY = {"autocast", "constraint", "aggregation", "synchronization",
                          "overwrite_with_gradient"}


def _layers_in(value: Any) -> list:
    """The layers in an attribute value: itself, or those in a list, tuple or dict."""
    if isinstance(value, Layer):
        return [value]
    if isinstance(value, (list, tuple)):
        return [v for item in value for v in _layers_in(item)]
    if isinstance(value, dict):
        return [v for item in value.values() for v in _layers_in(item)]
    return []


def _symbolic(x: Any) -> Any:
    """The first symbolic tensor (``nnmath.training.functional.KerasTensor``) in ``x`` or None;
    recognised by duck typing, since this module may not import ``training``."""
    for v in (x if isinstance(x, (list, tuple)) else (x,)):
        if getattr(v, "_nnmath_symbolic", False):
            return v
    return None


def _shape_of(x: Any) -> Any:
    """The shape of ``x``, or the list of shapes when ``x`` is a list or tuple."""
    if isinstance(x, (list, tuple)):
        return [tuple(np.shape(v)) for v in x]
    return tuple(np.shape(x))


def _autocast(x: Any, dtype: np.dtype) -> Any:
    """Floating inputs in the layer's dtype (Keras casts a layer's inputs to its compute dtype)."""
    if isinstance(x, (list, tuple)):
        return type(x)(_autocast(v, dtype) for v in x)
    if isinstance(x, (float, list)) or (isinstance(x, np.ndarray) and x.dtype.kind == "f"
                                         and x.dtype != dtype and dtype.kind == "f"):
        return np.asarray(x, dtype=dtype)
    return x


def to_snake_case(name: str) -> str:
    """Keras's ``to_snake_case`` (``keras/src/utils/naming.py``): ``ReLU`` → ``re_lu``,
    ``Conv2D`` → ``conv2d``, ``LSTM`` → ``lstm``, ``GlobalAveragePooling1D`` →
    ``global_average_pooling1d``.

    >>> [to_snake_case(n) for n in ("ReLU", "Conv2D", "LSTM", "BatchNormalization")]
    ['re_lu', 'conv2d', 'lstm', 'batch_normalization']
    """
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def _auto_name(cls_name: str) -> str:
    """Keras's ``auto_name``: the snake-case class name, then ``_1``, ``_2``, … for the next
    layers of that name in this process."""
    base = to_snake_case(cls_name)
    n = _counts.get(base, 0)
    _counts[base] = n + 1
    return base if n == 0 else f"{base}_{n}"


def reset_layer_names() -> None:
    """Restart the automatic names (``dense``, ``dense_1``, …), as Keras's ``clear_session``."""
    _counts.clear()


class Weight:
    """A weight's metadata: shape, dtype, initializer, regularizer, trainability."""

    __slots__ = ("name", "shape", "dtype", "initializer", "regularizer", "trainable")

    def __init__(self, name, shape, dtype, initializer, regularizer, trainable):
        self.name, self.shape, self.dtype = name, tuple(shape), np.dtype(dtype)
        self.initializer, self.regularizer, self.trainable = initializer, regularizer, trainable


class Layer:
    """Base class of all layers.

    Args:
        name: unique within a model (default: the snake_case class name, numbered).
        dtype: the dtype of the weights and computation (default float32, as Keras).
        trainable: whether ``fit`` updates the weights.
        input_shape / input_dim: Keras's way to give the first layer of a Sequential its input
            shape (without the batch axis).
    """

    def __init__(self, name: str | None = None, dtype: Any = "float32", trainable: bool = True,
                 input_shape: tuple | None = None, input_dim: int | None = None, **kwargs):
        unknown = sorted(set(kwargs) - _KERAS_ONLY)
        if unknown:
            raise TypeError(f"{type(self).__name__}: unrecognized keyword arguments passed to the "
                            f"layer: {unknown}")
        if kwargs.get("batch_input_shape") is not None and input_shape is None:
            input_shape = tuple(kwargs["batch_input_shape"])[1:]
        if name is not None and (not isinstance(name, str) or "/" in name):
            raise ValueError(f"{type(self).__name__}: argument `name` must be a string and cannot "
                             f"contain character `/`. Received: name={name!r}")
        object.__setattr__(self, "_sublayers", [])
        self.name = name or _auto_name(type(self).__name__)
        self.dtype = np.dtype("float32" if dtype is None else getattr(dtype, "name", dtype))
        self.trainable = bool(trainable)
        if input_dim is not None:
            input_shape = (int(input_dim),)
        self._input_shape = None if input_shape is None else (None,) + tuple(input_shape)
        self.built = False
        own_specs: dict[str, Weight] = {}
        own_values: dict[str, np.ndarray] = {}
        if getattr(type(self), "_tracks_sublayers", False) or getattr(type(self), "_composite", False):
            self.weights_spec = _ks.SubSpecs(self, own_specs)
            self.values = _ks.SubValues(self, own_values)
        else:
            self.weights_spec, self.values = own_specs, own_values
        self._losses: list = []

    def __setattr__(self, name: str, value: Any) -> None:
        """Keras-style layers track the layers assigned to their attributes (also in lists,
        tuples and dicts): their weights become this layer's, under ``"<sublayer>/<weight>"``."""
        if getattr(type(self), "_tracks_sublayers", False) and name != "_sublayers":
            for sub in _layers_in(value):
                self._track(sub)
        object.__setattr__(self, name, value)

    def _track(self, sub: "Layer") -> None:
        subs = self.__dict__.get("_sublayers")
        if subs is None or sub is self or any(s is sub for s in subs):
            return
        if any(s.name == sub.name for s in subs):
            raise ValueError(f"layer {self.name!r}: two sublayers are named {sub.name!r}; names "
                             f"must be unique")
        subs.append(sub)

    # -- lifecycle --------------------------------------------------------------------------
    def build(self, input_shape: tuple) -> None:
        """Create the weights (with :meth:`add_weight`). Layers without weights need not override."""
        self.built = True

    def add_weight(self, *args: Any, shape: Any = None, initializer: Any = None,
                   dtype: Any = None, trainable: bool = True, regularizer: Any = None,
                   name: str | None = None, rng: np.random.Generator | None = None,
                   **kwargs: Any) -> "_ks.Variable":
        """Create, initialise and register one weight; returns it as a :class:`Variable`.

        Both orders are accepted: nnmath's ``add_weight(name, shape, initializer, regularizer,
        trainable)`` (a string first) and Keras 3's ``add_weight(shape, initializer, dtype,
        trainable, ...)`` (keywords, or the shape first); ``name`` is optional (Keras:
        "variable", numbered). Default initializer: Glorot-uniform for floats (zeros for ints).

        Args:
            shape: the weight's shape; initializer: a name or initializer object;
            dtype: default the layer's; trainable: whether ``fit`` updates it;
            regularizer: added by ``fit`` to the loss; name: unique within the layer;
            rng: the generator the initializer draws from (default the global one).

        Returns:
            the :class:`Variable` (its value lives in ``self.values[name]``).
        """
        unknown = sorted(set(kwargs) - _ADD_WEIGHT_KERAS_ONLY)
        if unknown:
            raise TypeError(f"layer {self.name!r}: add_weight got unexpected keyword arguments "
                            f"{unknown}")
        if args and isinstance(args[0], str):          # nnmath's positional order
            names = ("name", "shape", "initializer", "regularizer", "trainable", "dtype", "rng")
        else:                                          # Keras 3's
            names = ("shape", "initializer", "dtype", "trainable", "autocast", "regularizer")
        if len(args) > len(names):
            raise TypeError(f"layer {self.name!r}: add_weight takes at most {len(names)} "
                            f"positional arguments, got {len(args)}")
        given = dict(shape=shape, initializer=initializer, dtype=dtype, trainable=trainable,
                     regularizer=regularizer, name=name, rng=rng)
        for arg, value in zip(names, args):
            given[arg] = value
        shape, dtype, name = given["shape"], given["dtype"], given["name"]
        if shape is None:
            shape = ()
        try:
            shape = (int(shape),) if isinstance(shape, (int, np.integer)) else tuple(
                int(d) for d in shape)
        except (TypeError, ValueError):
            raise ValueError(f"layer {self.name!r}: add_weight: `shape` must be a tuple of ints, "
                             f"received shape={given['shape']!r}") from None
        dtype = np.dtype(dtype or self.dtype)
        initializer = given["initializer"]
        if initializer is None:
            initializer = "glorot_uniform" if dtype.kind == "f" and len(shape) >= 2 else "zeros"
        if name is None:
            name, n = "variable", 0
            while name in self.values:
                n += 1
                name = f"variable_{n}"
        elif not isinstance(name, str) or "/" in name:
            raise ValueError(f"layer {self.name!r}: add_weight: `name` must be a string without "
                             f"'/', received name={name!r}")
        init = _initializers.get(initializer)
        spec = Weight(name, shape, dtype, init, _regularizers.get(given["regularizer"]),
                      bool(given["trainable"]))
        self.weights_spec[name] = spec
        rng = given["rng"] if given["rng"] is not None else _initializers.default_rng()
        self.values[name] = np.asarray(init(spec.shape, dtype, rng), dtype=dtype)
        self.__dict__.get("_variable_cache", {}).pop(name, None)
        return _ks.variable_of(self, name)

    def call(self, params: dict, x: Any, training: bool = False, rng: np.random.Generator | None = None):
        """The layer's math, a pure function of ``params`` (name → array) and ``x``."""
        raise NotImplementedError(f"{type(self).__name__} must implement call(params, x, training, rng)")

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        """The output shape for ``input_shape`` (batch axis included, as None). A Keras-style
        layer that does not define it is run on zeros of that shape (``None`` read as 2)."""
        if getattr(type(self), "_keras_style", False):
            return _ks.infer_output_shape(self, input_shape)
        return tuple(input_shape)

    def get_config(self) -> dict:
        """A JSON-serialisable configuration from which :meth:`from_config` rebuilds the layer."""
        cfg = {"name": self.name, "dtype": self.dtype.name, "trainable": self.trainable}
        if self._input_shape is not None:
            cfg["input_shape"] = list(self._input_shape[1:])
        return cfg

    @classmethod
    def from_config(cls, config: dict) -> "Layer":
        return cls(**config)

    # -- weights --------------------------------------------------------------------------
    def _weight_dict(self, trainable: bool) -> dict:
        """This layer's trainable (or non-trainable) weights by flat key — the dict models keep
        per layer (a composite layer's include its sublayers' as ``"<sublayer>/<weight>"``)."""
        on, spec = self.trainable, self.weights_spec
        return {k: v for k, v in self.values.items() if (spec[k].trainable and on) is trainable}

    @property
    def params(self) -> dict:
        """Trainable weights by name (the arrays themselves, not copies)."""
        return self._weight_dict(True)

    @property
    def state(self) -> dict:
        """Non-trainable weights by name."""
        return self._weight_dict(False)

    def _variables(self, which: str) -> list:
        spec, on = self.weights_spec, self.trainable
        out = []
        for key in self.values:
            t = bool(spec[key].trainable and on)
            if which == "all" or (which == "trainable") is t:
                out.append(_ks.variable_of(self, key))
        return out

    @property
    def weights(self) -> list:
        """Every weight as a :class:`Variable` (Keras ``layer.weights``), sublayers' included."""
        return self._variables("all")

    @property
    def trainable_weights(self) -> list:
        return self._variables("trainable")

    @property
    def non_trainable_weights(self) -> list:
        return self._variables("non_trainable")

    trainable_variables = trainable_weights
    non_trainable_variables = non_trainable_weights
    variables = weights

    def add_loss(self, loss: Any) -> None:
        """Add a loss term (Keras ``add_loss``), typically inside ``call``: ``fit`` adds every
        term added during the forward pass to the training loss; after an eager call they are
        listed in :attr:`losses`."""
        if not _ks.record_loss(self, loss):
            self._losses.append(loss)

    @property
    def losses(self) -> list:
        """The terms added with :meth:`add_loss` during the last eager call (sublayers'
        included), and the weight regularization terms, as Keras lists them."""
        out = list(self._losses)
        for sub in self._sublayers:
            out += sub.losses
        spec = self.weights_spec
        for key, v in self.values.items():
            if key in spec and spec[key].regularizer is not None and "/" not in key:
                out.append(spec[key].regularizer(v))
        return out

    def _clear_losses(self) -> None:
        self._losses = []
        for sub in self._sublayers:
            sub._clear_losses()

    def get_weights(self) -> list:
        """Weights in creation order (Keras)."""
        return [np.array(v) for v in self.values.values()]

    def set_weights(self, weights: list) -> None:
        names = list(self.values)
        if len(weights) != len(names):
            raise ValueError(f"layer {self.name!r}: set_weights got {len(weights)} arrays, expected "
                             f"{len(names)} ({', '.join(names)})")
        for name, w in zip(names, weights):
            w = np.asarray(w)
            if w.shape != self.values[name].shape:
                raise ValueError(f"layer {self.name!r}: weight {name!r} has shape "
                                 f"{self.values[name].shape}, got {w.shape}")
            self.values[name][...] = w

    def count_params(self) -> int:
        return int(sum(v.size for v in self.values.values()))

    def regularization_loss(self, params: dict) -> Any:
        """Σ regularizer(w) over this layer's weights that have one (0.0 if none)."""
        total = 0.0
        for name, spec in self.weights_spec.items():
            if spec.regularizer is not None and name in params:
                total = total + spec.regularizer(params[name])
        return total

    def __init_subclass__(cls, **kwargs):
        """A subclass's own ``__call__`` is wrapped so that symbolic inputs still build a graph;
        a Keras-style ``call`` (first argument not named ``params``) is adapted to the pure
        contract (see ``_keras_style``) and the class then tracks its sublayers."""
        super().__init_subclass__(**kwargs)
        own = cls.__dict__.get("__call__")
        if own is not None and not getattr(own, "_symbolic_aware", False):
            @functools.wraps(own)
            def __call__(self, x, *args, **kw):
                t = _symbolic(x)
                if t is not None:
                    return type(t)._layer_call(self, x, *args, **kw)
                return own(self, x, *args, **kw)
            __call__._symbolic_aware = True
            cls.__call__ = __call__
        call = cls.__dict__.get("call")
        if call is not None and not hasattr(call, "__wrapped_keras_call__"):
            first = [p for p in inspect.signature(call).parameters][1:2]
            if first != ["params"]:
                _ks.adapt_call(cls)
        if getattr(cls, "_keras_style", False):
            cls._tracks_sublayers = True
            build = cls.__dict__.get("build")
            if build is not None and not getattr(build, "_keras_wrapped", False):
                @functools.wraps(build)
                def wrapped_build(self, input_shape, _build=build):
                    _build(self, input_shape)
                    self.built = True
                wrapped_build._keras_wrapped = True
                cls.build = wrapped_build

    def __call__(self, x: Any, training: bool | None = None, rng: np.random.Generator | None = None,
                 **kwargs):
        """Apply eagerly with the layer's own weights (building it on first use from the shape of
        ``x``, or the list of shapes when ``x`` is a list); extra keywords go to ``call``.

        On symbolic tensors (``Input(...)``, the functional API) it builds the layer from their
        shapes and returns a new symbolic tensor recording this call instead. Called by a
        Keras-style layer's ``call``, it computes with the weights that call was given (traced
        ones under ``grad``) and inherits its ``training`` flag and random generator."""
        t = _symbolic(x)
        if t is not None:
            return type(t)._layer_call(self, x, training=bool(training), rng=rng, **kwargs)
        scope = _ks.current_scope()
        bound = scope.lookup(self) if scope is not None else None
        if not self.built:
            self.build(_shape_of(x))
            self.built = True
            bound = None
        keras_style = getattr(type(self), "_keras_style", False)
        if keras_style:
            x = _autocast(x, self.dtype)
        if bound is None:
            training = bool(training) if training is not None else (
                scope.training if scope is not None else False)
            rng = rng if rng is not None or scope is None else scope.rng
            if not keras_style:
                return self.call(dict(self.values), x, training=training, rng=rng, **kwargs)
            if scope is None:
                self._clear_losses()
            y, updates = _ks.run(self, self._keras_user_call, dict(self.values), x, training, rng,
                                 kwargs, collect=True)
            for key, v in updates.items():       # an eager call updates its state (Keras)
                if isinstance(v, (np.ndarray, np.generic, float, int)):
                    self.values[key][...] = v
            return y
        training = scope.training if training is None else bool(training)
        rng = scope.rng if rng is None else rng
        if scope.collect:
            if keras_style:
                y, updates = _ks.run(self, self._keras_user_call, bound, x, training, rng, kwargs,
                                     collect=True)
            else:
                updates = self.state_updates(bound, x, rng) if training and self.state else {}
                y = self.call(bound, x, training=training, rng=rng, **kwargs)
            for key, v in updates.items():
                scope.updates[f"{self.name}/{key}"] = v
            if updates:                     # called again in this step: its updates chain (Keras)
                for sc in reversed(_ks._STACK):
                    if id(self) in sc.bound:
                        sc.bound[id(self)] = {**sc.bound[id(self)], **updates}
                        break
            return y
        return self.call(bound, x, training=training, rng=rng, **kwargs)

    # -- the functional graph ---------------------------------------------------------------
    def _node_tensors(self, which: str) -> Any:
        """The symbolic inputs or outputs of this layer's first call on symbolic tensors
        (Keras's ``layer.input`` / ``layer.output`` read node 0 too)."""
        nodes = self.__dict__.get("_nnmath_nodes")
        if not nodes:
            raise AttributeError(f"Layer {self.name!r} ({type(self).__name__}) has never been "
                                 f"called on symbolic tensors (keras.Input) and thus has no "
                                 f"defined {which}")
        node = nodes[0]
        ts = node.parents if which == "input" else node.outputs
        return list(ts) if (node.as_list if which == "input" else len(ts) > 1) else ts[0]

    @property
    def input(self) -> Any:
        """The symbolic tensor this layer was first called on (Keras ``layer.input``)."""
        return self._node_tensors("input")

    @property
    def output(self) -> Any:
        """The symbolic tensor of this layer's first call (Keras ``layer.output``): what
        ``keras.Model(inputs=model.inputs, outputs=[l.output for l in model.layers])`` reads."""
        return self._node_tensors("output")

    def state_updates(self, params: dict, x: Any, rng: np.random.Generator | None = None) -> dict:
        """New values of the non-trainable weights after a training step on ``x`` (default none;
        a Keras-style layer: the values its sublayers' updates and ``assign`` calls give)."""
        if getattr(type(self), "_keras_style", False):
            updates = _ks.run(self, self._keras_user_call, params, x, True, rng, {},
                              collect=True)[1]
            state = self.state
            return {k: v for k, v in updates.items() if k in state}
        return {}

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name!r}>"
