"""``keras.utils``: ``to_categorical``, ``pad_sequences``, ``set_random_seed``, ``plot_model``,
``normalize``, ``PyDataset``, ``clear_session``, and the serialization helpers Keras keeps here."""
from __future__ import annotations

from typing import Any

import numpy as np

from ..nn.layers.base import reset_layer_names
from ..training.data import PyDataset as _PyDataset
from ..training.data import set_random_seed, to_categorical  # noqa: F401
from ..training.serialization import (  # noqa: F401
    CustomObjectScope, deserialize_keras_object, get_custom_objects, get_registered_name,
    get_registered_object, register_keras_serializable, serialize_keras_object,
)

custom_object_scope = CustomObjectScope


def unpack_x_y_sample_weight(data: Any) -> tuple:
    """``(x, y, sample_weight)`` from a step's ``data``: ``x``, ``(x,)``, ``(x, y)`` or
    ``(x, y, sample_weight)`` (Keras ``unpack_x_y_sample_weight``; missing entries are None).

    >>> unpack_x_y_sample_weight((1, 2))
    (1, 2, None)
    """
    if isinstance(data, list):
        data = tuple(data)
    if not isinstance(data, tuple):
        return data, None, None
    if not 1 <= len(data) <= 3:
        raise ValueError(f"unpack_x_y_sample_weight: data must be x, (x,), (x, y) or (x, y, "
                         f"sample_weight); received a tuple of {len(data)}")
    return tuple(data) + (None,) * (3 - len(data))


def pack_x_y_sample_weight(x: Any, y: Any = None, sample_weight: Any = None) -> tuple:
    """The inverse of :func:`unpack_x_y_sample_weight` (Keras): ``(x,)``, ``(x, y)`` or
    ``(x, y, sample_weight)``.

    >>> pack_x_y_sample_weight(1, 2)
    (1, 2)
    """
    if y is None:
        return (x,)
    return (x, y) if sample_weight is None else (x, y, sample_weight)


def pad_sequences(sequences, maxlen=None, dtype="int32", padding="pre", truncating="pre",
                  value=0.0) -> np.ndarray:
    """Pad (or truncate) sequences to one length (Keras ``pad_sequences``).

    Args:
        sequences: a list of sequences (lists or arrays; each entry a scalar or an array).
        maxlen: the length (default: the longest sequence).
        dtype: the output dtype; padding / truncating: "pre" or "post"; value: the pad value.

    Returns:
        an array (len(sequences), maxlen, …).

    >>> pad_sequences([[1, 2], [3]], maxlen=3)
    array([[0, 1, 2],
           [0, 0, 3]], dtype=int32)
    """
    for arg, v in (("padding", padding), ("truncating", truncating)):
        if v not in ("pre", "post"):
            raise ValueError(f'pad_sequences: `{arg}` must be "pre" or "post", received {arg}={v!r}')
    seqs = [np.asarray(s) for s in sequences]
    lengths = [len(s) for s in seqs]
    maxlen = max(lengths, default=0) if maxlen is None else int(maxlen)
    tail = next((s.shape[1:] for s in seqs if len(s)), ())
    out = np.full((len(seqs), maxlen) + tuple(tail), value, dtype=np.dtype(dtype))
    for i, s in enumerate(seqs):
        if not len(s):
            continue
        s = s[-maxlen:] if truncating == "pre" else s[:maxlen]
        if padding == "post":
            out[i, :len(s)] = s
        else:
            out[i, maxlen - len(s):] = s
    return out


def normalize(x, axis=-1, order=2) -> np.ndarray:
    """x / ‖x‖_order along ``axis`` (Keras ``keras.utils.normalize``; zero rows stay zero)."""
    x = np.asarray(x)
    n = np.atleast_1d(np.linalg.norm(x, order, axis))
    n[n == 0] = 1
    return x / np.expand_dims(n, axis)


def plot_model(model, to_file: str | None = None, show_shapes: bool = False, **kwargs) -> str:
    """A text drawing of the model's layers (nnmath draws no images: Keras's ``plot_model``
    needs pydot and graphviz). Returns the text and writes it to ``to_file`` when given (with
    a ``.txt`` content whatever the extension)."""
    lines = []
    model.summary(print_fn=lines.append)
    text = "\n".join(lines)
    if to_file:
        with open(to_file, "w", encoding="utf-8") as f:
            f.write(text + "\n")
    return text


def get_file(*args: Any, **kwargs: Any):
    """Not available: nnmath never downloads (Keras ``get_file``)."""
    raise NotImplementedError("keras.utils.get_file: nnmath does not download files; fetch the "
                              "file yourself and pass its path")


PyDataset = _PyDataset
Sequence = _PyDataset          # Keras 2's name, kept by Keras 3 as an alias


def clear_session(free_memory: bool = True) -> None:
    """Reset Keras's global state (``keras.utils.clear_session`` /
    ``keras.backend.clear_session``): the automatic layer names start again (``dense``,
    ``dense_1``, …). nnmath keeps no graph or device memory; the random seed is left as is, as
    in Keras. ``free_memory`` is accepted (Keras's argument) and needs nothing here."""
    reset_layer_names()
