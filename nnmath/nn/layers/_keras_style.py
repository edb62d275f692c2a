"""Keras-style layers (and models) on nnmath's pure contract.

nnmath's layers compute ``call(params, x, training=False, rng=None)`` from ``params`` alone, so the
transforms differentiate with respect to the weights. Keras users write instead

    class Linear(keras.layers.Layer):
        def build(self, input_shape):
            self.w = self.add_weight(shape=(input_shape[-1], 4), initializer="random_normal")
        def call(self, inputs, training=None):
            return keras.ops.matmul(inputs, self.w)

reading weights from attributes and calling sublayers held as attributes. A subclass whose
``call`` does not take ``params`` first is *Keras-style*: ``Layer.__init_subclass__`` keeps the
user's method and installs a pure ``call(params, x, training, rng)`` that runs it with
:func:`run`, which for the duration of the user's code

* replaces each attribute holding a trainable :class:`Variable` (also inside lists, tuples and
  dicts) by the value of that weight in ``params`` — a traced value under ``grad``, a staged one
  under ``jit`` — so operators and ``keras.ops`` see it directly;
* binds each non-trainable Variable to its value in ``params``; ``assign`` records the new value
  as a state update (what Keras's ``stateless_call`` returns), which ``fit`` stores after the step;
* opens a :class:`Scope` in which each tracked sublayer the user's code calls is computed from its
  slice of ``params`` (keys ``"<sublayer name>/<weight>"``), with the enclosing call's
  ``training`` flag and random generator unless the call passes its own.

A weight of a composite layer is named by its path below it (``"dense/kernel"``, as Keras's
``variable.path`` without the outer layer), so a composite layer holds one flat dict of weights
like any other layer and a model's flat buffer, ``params`` and saving treat it alike.
"""
from __future__ import annotations

import inspect
from collections.abc import MutableMapping
from typing import Any

import numpy as np

__all__ = ["Variable", "Scope", "current_scope", "run", "adapt_call", "LossCollector",
           "SubValues", "SubSpecs"]

_STACK: list["Scope"] = []
_LOSSES: list[list] = []


def current_scope() -> "Scope | None":
    """The innermost Keras-style call in progress, or None."""
    return _STACK[-1] if _STACK else None


class LossCollector:
    """``with LossCollector() as losses:`` gathers the values passed to ``add_loss`` meanwhile
    (the training loss adds them, as Keras adds ``model.losses``)."""

    def __enter__(self) -> list:
        self.losses: list = []
        _LOSSES.append(self.losses)
        return self.losses

    def __exit__(self, *exc) -> None:
        _LOSSES.pop()


def record_loss(layer, value) -> bool:
    """Hand ``value`` to the innermost collector; False when none is open (an eager call)."""
    if _LOSSES:
        _LOSSES[-1].append(value)
        return True
    return False


class Scope:
    """One Keras-style call in progress: the params bound to its sublayers (by ``id``), the
    ``training`` flag and random generator the sublayers inherit, and the state updates recorded
    (flat keys relative to the layer being called)."""

    __slots__ = ("bound", "training", "rng", "updates", "collect")

    def __init__(self, training: bool, rng: Any, collect: bool):
        self.bound: dict = {}
        self.training, self.rng, self.collect = training, rng, collect
        self.updates: dict = {}

    def lookup(self, layer) -> dict | None:
        """The params bound to ``layer`` in this call or an enclosing one (None: not bound)."""
        for scope in reversed(_STACK):
            p = scope.bound.get(id(layer))
            if p is not None:
                return p
        return None


class Variable:
    """A layer's weight as Keras code holds it (``self.w = self.add_weight(...)``).

    The value lives in the layer's ``values`` dict (a view of the model's flat buffer once the
    layer is in a model), so the Variable always reads the current weight; ``assign`` writes it in
    place. Inside a Keras-style call a non-trainable Variable reads the value being computed with,
    and ``assign`` records a state update instead (see the module docstring). Arithmetic operators,
    ``shape``, ``dtype``, ``numpy()`` and ``np.asarray`` work as on the array.
    """

    __array_priority__ = 100

    def __init__(self, layer, key: str):
        self._layer, self._key = layer, key
        self._bound: list = []            # (scope, value) while a call computes with it

    @property
    def name(self) -> str:
        return self._key

    @property
    def path(self) -> str:
        return f"{self._layer.name}/{self._key}"

    @property
    def trainable(self) -> bool:
        return bool(self._layer.weights_spec[self._key].trainable and self._layer.trainable)

    @trainable.setter
    def trainable(self, value: bool) -> None:
        self._layer.weights_spec[self._key].trainable = bool(value)

    @property
    def value(self) -> Any:
        return self._bound[-1][1] if self._bound else self._layer.values[self._key]

    @property
    def shape(self) -> tuple:
        return tuple(self._layer.weights_spec[self._key].shape)

    @property
    def dtype(self) -> np.dtype:
        return self._layer.weights_spec[self._key].dtype

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def numpy(self) -> np.ndarray:
        return np.array(self.value)

    def assign(self, value: Any) -> "Variable":
        """Set the weight (Keras ``Variable.assign``); inside a call, record a state update."""
        if self._bound:
            scope, _ = self._bound[-1]
            self._bound[-1] = (scope, value)
            scope.updates[self._key] = value
            return self
        target = self._layer.values[self._key]
        value = np.asarray(value)
        if value.shape != target.shape and value.size != target.size:
            raise ValueError(f"Variable {self.path!r}: assign received a value of shape "
                             f"{value.shape}, expected {target.shape}")
        target[...] = value.reshape(target.shape)
        return self

    def assign_add(self, delta: Any) -> "Variable":
        return self.assign(self.value + _value(delta))

    def assign_sub(self, delta: Any) -> "Variable":
        return self.assign(self.value - _value(delta))

    def __array__(self, dtype=None, copy=None):
        a = np.asarray(self.value)
        return a if dtype is None else a.astype(dtype)

    def __repr__(self) -> str:
        return f"<Variable path={self.path!r} shape={self.shape} dtype={self.dtype.name}>"

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, idx):
        return self.value[idx]

    @property
    def T(self):
        return self.value.T


def _value(x: Any) -> Any:
    return x.value if isinstance(x, Variable) else x


def _binary(name: str):
    def op(self, other):
        return getattr(self.value, name)(_value(other))
    op.__name__ = name
    return op


for _name in ("add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "matmul"):
    for _n in (f"__{_name}__", f"__r{_name}__"):
        setattr(Variable, _n, _binary(_n))
for _n in ("__lt__", "__le__", "__gt__", "__ge__", "__eq__", "__ne__"):
    setattr(Variable, _n, _binary(_n))
Variable.__hash__ = object.__hash__
Variable.__neg__ = lambda self: -self.value
Variable.__pos__ = lambda self: self.value
Variable.__abs__ = lambda self: abs(self.value)


def unwrap(tree: Any) -> Any:
    """Variables in a (nested) output replaced by their values."""
    if isinstance(tree, Variable):
        return tree.value
    if isinstance(tree, (list, tuple)) and not hasattr(tree, "_fields"):
        return type(tree)(unwrap(v) for v in tree)
    if isinstance(tree, dict):
        return {k: unwrap(v) for k, v in tree.items()}
    return tree


# ------------------------------------------------------------------ composite weight dicts
class SubValues(MutableMapping):
    """A composite layer's weights: its own (a plain dict) then each tracked sublayer's, under
    ``"<sublayer name>/<key>"``; reads and writes go to the layer that holds the array."""

    def __init__(self, layer, own: dict):
        self._layer, self._own = layer, own

    def _find(self, key: str):
        head, sep, rest = key.partition("/")
        if sep:
            for sub in self._layer._sublayers:
                if sub.name == head:
                    return sub, rest
        return None, key

    def _dict(self, sub):
        return self._own if sub is None else self._sub_dict(sub)

    def _sub_dict(self, sub):
        return sub.values

    def __getitem__(self, key):
        sub, k = self._find(key)
        return self._dict(sub)[k]

    def __setitem__(self, key, value):
        sub, k = self._find(key)
        self._dict(sub)[k] = value

    def __delitem__(self, key):
        sub, k = self._find(key)
        del self._dict(sub)[k]

    def __iter__(self):
        yield from self._own
        seen = set()
        for sub in self._layer._sublayers:
            if id(sub) not in seen:
                seen.add(id(sub))
                for k in self._sub_dict(sub):
                    yield f"{sub.name}/{k}"

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({list(self)})"


class SubSpecs(SubValues):
    """The composite layer's weight metadata, keyed like :class:`SubValues`; a sublayer's weight
    counts as trainable only when the sublayer is (``sublayer.trainable = False`` freezes it)."""

    def _sub_dict(self, sub):
        return sub.weights_spec

    def __getitem__(self, key):
        sub, k = self._find(key)
        spec = self._dict(sub)[k]
        if sub is None or sub.trainable or not spec.trainable:
            return spec
        frozen = type(spec)(key, spec.shape, spec.dtype, spec.initializer, spec.regularizer, False)
        return frozen


def split_params(params: dict) -> tuple[dict, dict]:
    """(own weights, {sublayer name: its weights}) from a composite layer's flat params."""
    own: dict = {}
    subs: dict = {}
    for key, v in params.items():
        head, sep, rest = key.partition("/")
        if sep:
            subs.setdefault(head, {})[rest] = v
        else:
            own[key] = v
    return own, subs


# ------------------------------------------------------------------ running a Keras-style call
def _replace(obj: Any, fn) -> Any:
    """``obj`` with every Variable ``v`` in it replaced by ``fn(v)`` (lists, tuples, dicts)."""
    if isinstance(obj, Variable):
        return fn(obj)
    if isinstance(obj, list) and any(isinstance(v, (Variable, list, tuple, dict)) for v in obj):
        return [_replace(v, fn) for v in obj]
    if isinstance(obj, tuple) and not hasattr(obj, "_fields") and any(
            isinstance(v, (Variable, list, tuple, dict)) for v in obj):
        return tuple(_replace(v, fn) for v in obj)
    if isinstance(obj, dict) and any(isinstance(v, (Variable, list, tuple, dict)) for v in obj.values()):
        return {k: _replace(v, fn) for k, v in obj.items()}
    return obj


def run(layer, user_call, params: dict, x: Any, training: bool, rng: Any, kwargs: dict,
        collect: bool = False) -> tuple[Any, dict]:
    """Run the user's Keras-style ``call`` as a pure function of ``params``.

    Args:
        layer: the layer (its attributes are rebound for the duration of the call).
        user_call: the user's ``call(self, inputs, ...)``.
        params: the layer's weights by flat key (own keys, and ``"<sublayer>/<key>"``).
        x: the input; training, rng: the flags the sublayers inherit.
        kwargs: extra keywords for the user's call (``mask=...``).
        collect: record state updates of the sublayers (``assign`` is always recorded).

    Returns:
        (output with Variables unwrapped, state updates by flat key).
    """
    scope = Scope(bool(training), rng, collect)
    own, subs = split_params(params)
    for sub in layer._sublayers:
        if sub.built and sub.name in subs:
            scope.bound[id(sub)] = subs[sub.name]
    # weights created trainable are replaced by their values; non-trainable ones stay Variables
    # (bound), so that ``assign`` can record a state update
    trainable = {k for k in own if layer.weights_spec[k].trainable}

    bound_vars: list = []

    def bind(v: Variable):
        if v._layer is not layer or v._key not in own:
            return v
        if v._key in trainable:
            return own[v._key]
        v._bound.append((scope, own[v._key]))
        bound_vars.append(v)
        return v

    saved = {}
    for attr, val in list(vars(layer).items()):
        new = _replace(val, bind)
        if new is not val:
            saved[attr] = val
            object.__setattr__(layer, attr, new)
    kw = dict(kwargs)
    accepts = layer._keras_call_args
    if "training" in accepts:
        kw["training"] = bool(training)
    n_in = len(getattr(layer, "_keras_input_names", ()))
    args = tuple(x) if n_in > 1 and isinstance(x, (list, tuple)) and len(x) == n_in else (x,)
    _STACK.append(scope)
    try:
        y = user_call(layer, *args, **kw)
    finally:
        _STACK.pop()
        for attr, val in saved.items():
            object.__setattr__(layer, attr, val)
        for v in bound_vars:
            v._bound.pop()
    return unwrap(y), scope.updates


def variable_of(layer, key: str) -> Variable:
    """The :class:`Variable` of ``layer``'s weight ``key`` (a flat key names a sublayer's), the
    same object each time."""
    head, sep, rest = key.partition("/")
    if sep and head not in layer.__dict__.get("_variable_cache", {}):
        for sub in layer._sublayers:
            if sub.name == head:
                return variable_of(sub, rest)
    cache = layer.__dict__.setdefault("_variable_cache", {})
    v = cache.get(key)
    if v is None:
        v = cache[key] = Variable(layer, key)
    return v


def infer_output_shape(layer, input_shape: Any, dtype: Any = None) -> Any:
    """``layer``'s output shape for ``input_shape``, by running it on zeros (``None`` read as 2;
    the batch axis of the result reported as None) of ``dtype`` (the inputs' dtypes, a list for
    several; default the layer's: integer token inputs stay integers); builds the layer and its
    sublayers."""
    def zeros(shape, dt):
        dt = layer.dtype if dt is None or np.dtype(dt).kind == "f" else np.dtype(dt)
        return np.zeros(tuple(2 if d is None else int(d) for d in shape), dt)

    many = isinstance(input_shape, list) and all(isinstance(s, (list, tuple)) for s in input_shape)
    dts = dtype if isinstance(dtype, (list, tuple)) else [dtype] * (len(input_shape) if many else 1)
    x = [zeros(s, d) for s, d in zip(input_shape, dts)] if many else zeros(input_shape, dts[0])
    if not layer.built:
        layer.build(input_shape)
        layer.built = True
    with LossCollector():
        y = run(layer, layer._keras_user_call, dict(layer.values), x, False, None, {})[0]

    def shape(v):
        return (None,) + tuple(np.shape(v))[1:]
    if isinstance(y, (list, tuple)):
        return [shape(v) for v in y]
    return shape(y)


def adapt_call(cls) -> None:
    """Install the pure ``call`` for a class whose own ``call`` is Keras-style (see module doc)."""
    user = cls.__dict__["call"]
    sig = inspect.signature(user)
    names = set(sig.parameters)
    if any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values()):
        names.add("training")
    cls._keras_call_args = frozenset(names)
    # Keras 3 layers may take several tensors positionally, ``call(self, targets, logits)``: the
    # parameters without a default (``training`` and ``mask`` aside) are the inputs; nnmath
    # carries them as one list, so a functional node records them as a multi-input call
    params = list(sig.parameters.values())[1:]
    inputs = []
    for p in params:
        if p.kind not in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) or p.default is not p.empty:
            break
        if p.name not in ("training", "mask"):
            inputs.append(p.name)
    cls._keras_input_names = tuple(inputs)
    if len(inputs) > 1 and "__call__" not in cls.__dict__ and not getattr(cls, "_composite", False):
        cls.__call__ = _multi_input_call(cls)

    def call(self, params: dict, x: Any, training: bool = False, rng: Any = None, **kwargs):
        return run(self, user, params, x, training, rng, kwargs)[0]

    call.__doc__ = user.__doc__
    call.__wrapped_keras_call__ = user
    cls.call = call
    cls._keras_style = True
    cls._keras_user_call = staticmethod(user)


def _multi_input_call(cls):
    """``layer(a, b, …)`` for a Keras-style ``call(self, a, b, …)``: the tensors (positional, by
    name, or as one list) are packed into the list the pure contract carries."""
    from .base import Layer

    def __call__(self, *args, training=None, rng=None, **kwargs):
        names = type(self)._keras_input_names
        given = list(args)
        for name in names[len(given):]:
            if name in kwargs:
                given.append(kwargs.pop(name))
        if len(given) == 1 and isinstance(given[0], (list, tuple)) and len(given[0]) == len(names):
            given = list(given[0])
        if len(given) != len(names):
            raise TypeError(f"layer {self.name!r} ({type(self).__name__}): call takes the "
                            f"{len(names)} inputs {list(names)}, received {len(given)}")
        return Layer.__call__(self, given, training=training, rng=rng, **kwargs)

    __call__._symbolic_aware = True
    return __call__
