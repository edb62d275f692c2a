"""Saving and loading models: data, never code.

A checkpoint is one ``.npz`` archive (numpy's zip of ``.npy`` arrays) read with
``allow_pickle=False``: the arrays ``weights/<layer>/<weight>`` and ``optimizer/<slot>``, plus one
entry ``__nnmath__`` holding a versioned JSON document (architecture, compile configuration, the
order of the arrays, the training random generator's state). Loading therefore runs no code from
the file. Files are written to a temporary file in the same folder and moved into place with
``os.replace``, so a crash mid-save leaves the previous file intact; a truncated or tampered file
raises ``ValueError`` and leaves the model untouched (everything is read and checked before any
weight is assigned).
"""
from __future__ import annotations

import datetime
import json
import os
import tempfile
import zipfile
from typing import Any

import numpy as np

FORMAT_VERSION = 1
_META = "__nnmath__"

__all__ = ["save_model", "load_model", "save_weights", "load_weights", "FORMAT_VERSION"]


def _atomic_savez(path: str, arrays: dict) -> None:
    folder = os.path.dirname(os.path.abspath(path)) or "."
    fd, tmp = tempfile.mkstemp(prefix=".nnmath-", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, _file_mode(path))      # mkstemp makes 0600; give the file the usual mode
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _file_mode(path: str) -> int:
    """The existing file's mode, else what ``open`` would give a new file (0666 less the umask)."""
    try:
        return os.stat(path).st_mode & 0o777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def _meta_array(meta: dict) -> np.ndarray:
    return np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8)


def _key(index: int, weight: str) -> str:
    """Weights are matched by layer position, as Keras does (names differ between instances)."""
    return f"weights/{index}/{weight}"


def _weights_arrays(model) -> tuple[dict, list]:
    arrays, keys = {}, []
    for i, layer in enumerate(model.layers):
        for name, value in layer.values.items():
            arrays[_key(i, name)] = np.array(value)
            keys.append(_key(i, name))
    return arrays, keys


def _layer_list(model) -> list:
    return [{"name": l.name, "class_name": type(l).__name__} for l in model.layers]


def _config_of(obj: Any) -> Any:
    if obj is None or isinstance(obj, str):
        return obj
    cfg = obj.get_config() if hasattr(obj, "get_config") else {}
    return {"class_name": type(obj).__name__, "config": cfg}


def save_model(model, filepath: str) -> None:
    """Save architecture, weights, compile configuration and optimizer state (see module doc)."""
    if not model.built:
        raise ValueError("save: the model is not built yet (fit it or call model.build(shape))")
    arrays, keys = _weights_arrays(model)
    opt_keys = []
    if model.optimizer is not None and getattr(model, "_opt_ready", False):
        for k, v in model.optimizer.flat_state().items():
            arrays[f"optimizer/{k}"] = np.asarray(v)
            opt_keys.append(k)
    from . import data as _data
    meta = {
        "format": "nnmath.model", "version": FORMAT_VERSION,
        "saved": datetime.datetime.now(datetime.timezone.utc).isoformat(),
        "model": {"class_name": type(model).__name__, "config": model.get_config()},
        "compile": None if model.loss is None else {
            "optimizer": _config_of(model.optimizer), "loss": _spec_config(model.loss),
            "metrics": _spec_config(model._metric_specs),
            "loss_weights": getattr(model, "loss_weight", 1.0)},
        "weights": keys, "layers": _layer_list(model), "optimizer_state": opt_keys,
        "rng_state": _data.global_rng().bit_generator.state,
    }
    arrays[_META] = _meta_array(meta)
    _atomic_savez(filepath, arrays)


def save_weights(model, filepath: str) -> None:
    """Save the weights only (layer by layer, by name)."""
    arrays, keys = _weights_arrays(model)
    arrays[_META] = _meta_array({"format": "nnmath.weights", "version": FORMAT_VERSION, "weights": keys,
                                 "layers": _layer_list(model)})
    _atomic_savez(filepath, arrays)


def _read(filepath: str) -> tuple[dict, dict]:
    """Every array and the metadata, fully read and checked; raises ValueError if unreadable."""
    if not os.path.exists(filepath):
        raise FileNotFoundError(f"no checkpoint at {filepath!r}")
    try:
        with np.load(filepath, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
        meta = json.loads(arrays.pop(_META).tobytes().decode("utf-8"))
    except (zipfile.BadZipFile, ValueError, KeyError, OSError, EOFError, UnicodeDecodeError,
            json.JSONDecodeError) as e:
        raise ValueError(f"{filepath!r} is not a readable nnmath checkpoint (truncated, corrupted or "
                         f"not written by nnmath): {type(e).__name__}: {e}") from None
    version = meta.get("version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise ValueError(f"{filepath!r} has format version {version!r}; this nnmath reads versions "
                         f"up to {FORMAT_VERSION} (upgrade nnmath)")
    missing = [k for k in meta.get("weights", []) if k not in arrays]
    if missing:
        raise ValueError(f"{filepath!r} is missing arrays {missing[:3]}")
    return arrays, meta


def _assign_weights(model, arrays: dict, meta: dict, filepath: str) -> None:
    saved = meta.get("layers", [])
    if len(saved) != len(model.layers):
        raise ValueError(f"{filepath!r} holds {len(saved)} layers; the model has {len(model.layers)}")
    plan = []
    for i, layer in enumerate(model.layers):
        if saved[i]["class_name"] != type(layer).__name__:
            raise ValueError(f"{filepath!r}: layer {i} is a {saved[i]['class_name']} in the file but a "
                             f"{type(layer).__name__} ({layer.name!r}) in the model")
        for name, value in layer.values.items():
            key = _key(i, name)
            if key not in arrays:
                raise ValueError(f"{filepath!r} has no weight {name!r} for layer {i} ({layer.name!r})")
            new = arrays[key]
            if new.shape != value.shape:
                raise ValueError(f"{filepath!r}: weight {key} has shape {new.shape}, the model "
                                 f"expects {value.shape}")
            plan.append((value, new))
    for value, new in plan:                   # only now, with everything checked, assign
        value[...] = new


def load_weights(model, filepath: str) -> None:
    """Load weights saved by save_weights or save into a model with the same layers."""
    arrays, meta = _read(filepath)
    if not model.built:
        raise ValueError("load_weights: build the model first (it must have the saved shapes)")
    _assign_weights(model, arrays, meta, filepath)


def _layer_class(name: str):
    from ..nn import layers
    cls = getattr(layers, name, None)
    if cls is None or not isinstance(cls, type):
        raise ValueError(f"checkpoint names an unknown layer class {name!r}")
    return cls


def _spec_config(spec: Any) -> Any:
    """A compile argument (one loss or metric, or lists and dicts of them, per output) as JSON:
    names stay names, objects become their configs."""
    if isinstance(spec, str):
        return spec
    if isinstance(spec, (list, tuple)):
        return [_spec_config(v) for v in spec]
    if isinstance(spec, dict):
        return {"__per_output__": {k: _spec_config(v) for k, v in spec.items()}}
    return _config_of(spec)


def _spec_from(spec: Any, from_config) -> Any:
    """Inverse of :func:`_spec_config` (``from_config`` rebuilds one object from its config)."""
    if spec is None or isinstance(spec, str):
        return spec
    if isinstance(spec, list):
        return [_spec_from(v, from_config) for v in spec]
    if "__per_output__" in spec:
        return {k: _spec_from(v, from_config) for k, v in spec["__per_output__"].items()}
    return from_config(spec)


def _object_from(spec: Any, module) -> Any:
    if spec is None or isinstance(spec, str):
        return module.get(spec) if spec is not None else None
    cls = getattr(module, spec["class_name"], None)
    if cls is None:
        raise ValueError(f"checkpoint names an unknown {module.__name__} class {spec['class_name']!r}")
    return cls.from_config(spec["config"]) if hasattr(cls, "from_config") else cls(**spec["config"])


def load_model(filepath: str):
    """Rebuild a model saved by :func:`save_model`: architecture, weights, compile configuration,
    optimizer state and the training random generator's state (so training resumes exactly)."""
    from .. import optimizers as _optimizers
    from ..nn import losses as _losses
    from . import data as _data
    from .model import Sequential
    arrays, meta = _read(filepath)
    if meta.get("format") != "nnmath.model":
        raise ValueError(f"{filepath!r} holds {meta.get('format')!r}, not a whole model; use "
                         f"model.load_weights for weights-only files")
    mcfg = meta["model"]
    cfg = mcfg["config"]
    if mcfg["class_name"] == "Functional":
        from .functional import Functional
        model = Functional.from_config(cfg, layer_class=_layer_class)
    elif mcfg["class_name"] != "Sequential":
        raise ValueError(f"load_model: unsupported model class {mcfg['class_name']!r}")
    else:
        layers = [_layer_class(l["class_name"]).from_config(l["config"]) for l in cfg["layers"]]
        model = Sequential(layers, name=cfg["name"])
        if cfg.get("input_shape") is None:
            raise ValueError(f"{filepath!r}: the saved model has no input shape")
        model.build((None,) + tuple(cfg["input_shape"]))
    _assign_weights(model, arrays, meta, filepath)
    comp = meta.get("compile")
    if comp:
        model.compile(optimizer=_object_from(comp["optimizer"], _optimizers),
                      loss=_spec_from(comp["loss"], lambda c: _object_from(c, _losses)),
                      metrics=_spec_from(comp["metrics"], lambda c: c["class_name"]),
                      loss_weights=comp.get("loss_weights"))
        keys = meta.get("optimizer_state", [])
        if keys:
            model._ensure_optimizer()
            model.optimizer.set_flat_state({k: arrays[f"optimizer/{k}"] for k in keys})
    if meta.get("rng_state"):
        _data.global_rng().bit_generator.state = meta["rng_state"]
    return model
