"""``keras.saving``: saving and loading models as data, never code.

``save_model`` / ``load_model`` are nnmath's checkpoints (one ``.npz`` archive read with
``allow_pickle=False``; see :mod:`nnmath.training.saving`). ``load_model`` rebuilds any model
whose classes it can find by name — nnmath's layers and models, classes registered with
:func:`register_keras_serializable`, and ``custom_objects`` — so a model with custom layers
loads as in Keras; nothing from the file is executed.
"""
from __future__ import annotations

from ..training import saving as _saving
from ..training.serialization import (  # noqa: F401
    CustomObjectScope, deserialize_keras_object, get_custom_objects, get_registered_name,
    get_registered_object, register_keras_serializable, serialize_keras_object,
)

custom_object_scope = CustomObjectScope

__all__ = ["save_model", "load_model", "register_keras_serializable", "serialize_keras_object",
           "deserialize_keras_object", "get_registered_name", "get_registered_object",
           "get_custom_objects", "custom_object_scope", "CustomObjectScope"]


def save_model(model, filepath: str, overwrite: bool = True, **kwargs) -> None:
    """Save architecture, weights, compile configuration and optimizer state (``model.save``).

    Args:
        model: a built model; filepath: where to write (any extension; the content is npz).
        overwrite: False refuses to replace an existing file.
    """
    import os
    if not overwrite and os.path.exists(filepath):
        raise FileExistsError(f"save_model: {filepath!r} exists and overwrite=False")
    _saving.save_model(model, filepath)


def load_model(filepath: str, custom_objects: dict | None = None, compile: bool = True,
               safe_mode: bool = True):
    """Rebuild a model saved by :func:`save_model`.

    Args:
        filepath: the checkpoint.
        custom_objects: name → class for custom layers (besides registered ones).
        compile: restore the compile configuration and optimizer state.
        safe_mode: accepted for Keras compatibility (nothing is ever deserialized as code).

    Returns:
        the model.
    """
    with CustomObjectScope(custom_objects):
        try:
            model = _saving.load_model(filepath)
        except ValueError as e:
            if "unknown layer class" not in str(e) and "unsupported model class" not in str(e):
                raise
            model = _load_custom(filepath)
    if not compile:
        model.optimizer, model.loss, model._compiled = None, None, False
    return model


def _load_custom(filepath: str):
    """Rebuild a model with classes that nnmath's checkpoint reader does not know by itself."""
    arrays, meta = _saving._read(filepath)
    model = deserialize_keras_object(meta["model"])
    shape = meta["model"].get("build_input_shape")
    if not model.built and shape is not None:          # Keras's build_from_config
        many = bool(shape) and isinstance(shape[0], list)
        model.build([tuple(s) for s in shape] if many else tuple(shape))
    if not model.built:
        raise ValueError(f"{filepath!r}: the saved model cannot be rebuilt without data (a "
                         f"subclassed model needs a get_config and an input shape)")
    _saving._assign_weights(model, arrays, meta, filepath)
    return model
