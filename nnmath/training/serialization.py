"""Keras's object serialization: configs as data, classes looked up by name, never code.

``serialize_keras_object(obj)`` gives Keras 3's dict ``{"module", "class_name", "config",
"registered_name"}``; ``deserialize_keras_object(d)`` finds the class by name — in
``custom_objects``, then among the classes registered with :func:`register_keras_serializable`
(by ``"package>Name"`` or by class name), then nnmath's own layers, models, losses, optimizers,
initializers, regularizers and metrics — and calls its ``from_config``. Nothing is imported or
evaluated from the data, so a config (or a checkpoint holding one) cannot run code.

>>> from nnmath.nn.layers import Layer
>>> @register_keras_serializable(package="demo")
... class Scale(Layer):
...     def __init__(self, factor=2.0, **kwargs):
...         super().__init__(**kwargs)
...         self.factor = factor
...     def call(self, inputs):
...         return inputs * self.factor
...     def get_config(self):
...         return {**super().get_config(), "factor": self.factor}
>>> d = serialize_keras_object(Scale(3.0, name="s"))
>>> d["registered_name"], d["config"]["factor"]
('demo>Scale', 3.0)
>>> deserialize_keras_object(d).factor
3.0
"""
from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["register_keras_serializable", "get_registered_name", "get_registered_object",
           "serialize_keras_object", "deserialize_keras_object", "layer_class",
           "get_custom_objects", "CustomObjectScope"]

_REGISTRY: dict[str, type] = {}          # "package>Name" → class
_BY_CLASS_NAME: dict[str, type] = {}     # "Name" → class (the last registered)
_SCOPES: list[dict] = []


def register_keras_serializable(package: str = "Custom", name: str | None = None):
    """Class decorator: make the class findable by name when a config is deserialized
    (Keras ``keras.saving.register_keras_serializable``).

    Args:
        package: a namespace for the name.
        name: the registered name (default: the class name).

    Returns:
        the decorator (it returns the class unchanged, recording ``"package>name"``).
    """
    if not isinstance(package, str) or ">" in package:
        raise ValueError(f"register_keras_serializable: `package` must be a string without '>', "
                         f"received package={package!r}")

    def decorator(cls):
        key = f"{package}>{name or cls.__name__}"
        if isinstance(cls, type) and not hasattr(cls, "get_config"):
            raise ValueError(f"Cannot register a class that does not have a get_config() method: "
                             f"{cls!r}")
        if not callable(cls):
            raise TypeError(f"register_keras_serializable: expected a class or a function, "
                            f"received {cls!r}")
        _REGISTRY[key] = cls            # a class, or a function (an activation, a loss), as Keras
        _BY_CLASS_NAME[name or cls.__name__] = cls
        cls._registered_name = key
        return cls
    return decorator


def get_registered_name(obj: Any) -> str:
    """``"package>Name"`` of a registered class (or of an instance's class), else its name."""
    cls = obj if isinstance(obj, type) or _is_function(obj) else type(obj)
    key = getattr(cls, "__dict__", {}).get("_registered_name")
    return key if key is not None else getattr(cls, "__name__", str(cls))


def _is_function(obj: Any) -> bool:
    import types
    return isinstance(obj, (types.FunctionType, types.BuiltinFunctionType))


def get_custom_objects() -> dict:
    """The registry (``"package>Name"`` → class), as Keras's ``get_custom_objects``."""
    return _REGISTRY


class CustomObjectScope:
    """``with CustomObjectScope({"MyLayer": MyLayer}):`` — extra names for deserialization."""

    def __init__(self, custom_objects: dict | None = None):
        self.custom_objects = dict(custom_objects or {})

    def __enter__(self):
        _SCOPES.append(self.custom_objects)
        return self

    def __exit__(self, *exc):
        _SCOPES.pop()


def _nnmath_namespaces() -> list:
    from .. import optimizers
    from ..nn import initializers, layers, losses, regularizers
    from . import metrics
    from .functional import Functional
    from .model import Model, Sequential
    models = {"Sequential": Sequential, "Functional": Functional, "Model": Model}
    return [models, vars(layers), vars(losses), vars(optimizers), vars(initializers),
            vars(regularizers), vars(metrics)]


def get_registered_object(name: str, custom_objects: dict | None = None) -> Any:
    """The class called ``name`` (see the module docstring for the order searched), or None."""
    for table in [custom_objects or {}] + list(reversed(_SCOPES)):
        if name in table:
            return table[name]
    if name in _REGISTRY:
        return _REGISTRY[name]
    if name in _BY_CLASS_NAME:
        return _BY_CLASS_NAME[name]
    short = name.split(">")[-1]
    for table in _nnmath_namespaces():
        obj = table.get(short)
        if isinstance(obj, type):
            return obj
    return None


def layer_class(name: str, custom_objects: dict | None = None) -> type:
    """The layer (or model) class called ``name``; ValueError naming it when none is known."""
    from ..nn.layers.base import Layer
    cls = get_registered_object(name, custom_objects)
    if not (isinstance(cls, type) and issubclass(cls, Layer)):
        raise ValueError(f"Could not locate class {name!r}. Make sure custom classes are "
                         f"decorated with `@keras.saving.register_keras_serializable()` or passed "
                         f"in `custom_objects`")
    return cls


def serialize_keras_object(obj: Any) -> Any:
    """Keras 3's serialized form of ``obj``: plain values as they are, objects with
    ``get_config`` as ``{"module", "class_name", "config", "registered_name"}``, functions by
    name.

    Args:
        obj: a layer, model, loss, optimizer, initializer, …, or a plain value.

    Returns:
        JSON-serialisable data.
    """
    if obj is None or isinstance(obj, (str, bool, int, float)):
        return obj
    if isinstance(obj, (list, tuple)):
        return [serialize_keras_object(v) for v in obj]
    if isinstance(obj, dict):
        return {k: serialize_keras_object(v) for k, v in obj.items()}
    if hasattr(obj, "get_config") and not isinstance(obj, type):
        cls = type(obj)
        # objects inside the config (a sublayer a subclassed model's get_config returns) are
        # serialized too, as Keras 3 does; from_config deserializes them
        return {"module": cls.__module__, "class_name": cls.__name__,
                "config": serialize_keras_object(obj.get_config()),
                "registered_name": get_registered_name(cls)}
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if callable(obj) and hasattr(obj, "__name__"):
        key = getattr(obj, "__dict__", {}).get("_registered_name")
        return key if key is not None else obj.__name__
    raise TypeError(f"serialize_keras_object: cannot serialize {obj!r} (of type "
                    f"{type(obj).__name__}): it has no get_config()")


def deserialize_keras_object(config: Any, custom_objects: dict | None = None,
                             safe_mode: bool = True, **kwargs) -> Any:
    """Rebuild an object from :func:`serialize_keras_object`'s output (also Keras 3's, and the
    ``{"class_name", "config"}`` form of nnmath's model configs). No code is run: the class is
    looked up by name and built with its ``from_config``.

    Args:
        config: the serialized data.
        custom_objects: extra name → class entries searched first.
        safe_mode: accepted for Keras compatibility (nnmath never deserializes code).

    Returns:
        the object (plain values are returned as they are).
    """
    if config is None or isinstance(config, (bool, int, float)):
        return config
    if isinstance(config, str):
        obj = get_registered_object(config, custom_objects)
        return obj if obj is not None else config
    if isinstance(config, list):
        return [deserialize_keras_object(v, custom_objects) for v in config]
    if not isinstance(config, dict) or "class_name" not in config:
        return config
    name = config.get("registered_name") or config["class_name"]
    if name == "function":
        return deserialize_keras_object(config.get("config"), custom_objects)
    cls = get_registered_object(name, custom_objects)
    if cls is None and name != config["class_name"]:
        cls = get_registered_object(config["class_name"], custom_objects)
    if not isinstance(cls, type):
        raise ValueError(f"Could not locate class {name!r}. Make sure custom classes are decorated "
                         f"with `@keras.saving.register_keras_serializable()` or passed in "
                         f"`custom_objects`. Full object config: {config}")
    inner = config.get("config", {})
    from_config = getattr(cls, "from_config", None)
    if from_config is None:
        return cls(**inner)
    import inspect
    try:
        takes_custom = "custom_objects" in inspect.signature(from_config).parameters
    except (TypeError, ValueError):
        takes_custom = False
    with CustomObjectScope(custom_objects):
        return from_config(inner, custom_objects=custom_objects) if takes_custom else from_config(inner)


def _register_lookup() -> None:
    """Let layers resolve registered names in their configs (``Dense(activation="pkg>fn")``)."""
    from ..nn.layers import core
    if get_registered_object not in core.CUSTOM_LOOKUPS:
        core.CUSTOM_LOOKUPS.append(get_registered_object)


_register_lookup()
