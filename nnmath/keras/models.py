"""``keras.models``: the model classes, ``load_model``, ``model_from_json``, ``clone_model``."""
from __future__ import annotations

import json

from ..training import Functional, Input, Model, Sequential  # noqa: F401
from ..training.serialization import deserialize_keras_object, serialize_keras_object
from .saving import load_model  # noqa: F401


def model_from_json(json_string: str, custom_objects: dict | None = None):
    """The model (fresh weights) described by ``model.to_json()`` (Keras ``model_from_json``)."""
    try:
        config = json.loads(json_string)
    except json.JSONDecodeError as e:
        raise ValueError(f"model_from_json: the string is not JSON: {e}") from None
    return deserialize_keras_object(config, custom_objects=custom_objects)


def clone_model(model, input_tensors=None, clone_function=None, **kwargs):
    """A new model with the same architecture and freshly initialised weights (Keras
    ``clone_model``: weights are not copied; use ``set_weights(model.get_weights())``).

    Args:
        model: a Sequential, functional or (with ``get_config``) subclassed model.
        input_tensors / clone_function: not supported (None), as nnmath rebuilds from the config.
    """
    if input_tensors is not None or clone_function is not None:
        raise NotImplementedError("clone_model: input_tensors and clone_function are not "
                                  "supported; the clone is rebuilt from model.get_config()")
    return deserialize_keras_object(serialize_keras_object(model))
