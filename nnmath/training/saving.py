"""Saving and loading models: data, never code.

A checkpoint is one ``.npz`` archive (numpy's zip of ``.npy`` arrays) read with
``allow_pickle=False``: the arrays ``weights/<layer>/<weight>`` and ``optimizer/<slot>``, plus one
entry ``__nnmath__`` holding a versioned JSON document (architecture, compile configuration, the
order of the arrays, the training random generator's state). Loading therefore runs no code from
the file. Files are written to a temporary file in the same folder and moved into place with
``os.replace``, so a crash mid-save leaves the previous file intact; a truncated or tampered file
raises ``ValueError`` and leaves the model untouched (everything is read and checked before any
weight is assigned).

What a loader guarantees, whatever the file holds (truncated, bytes flipped, members swapped,
a config edited by hand):

* the only error is ``ValueError`` (``FileNotFoundError`` for a missing path) — zip damage, bad
  ``.npy`` headers, bad JSON, a config of the wrong types all become ``ValueError``;
* no array is read before its header is checked against the member's stored size, so a header
  claiming a huge shape allocates nothing;
* the architecture is first built *without weights* (initializers replaced by zero-stride views,
  with a budget: the elements stored in the file), so a config asking for a billion units fails
  before anything is allocated; only then is the real model built and filled;
* layer, loss and optimizer classes are looked up by name among nnmath's registered classes
  (subclasses of ``Layer`` / ``Loss`` / ``Optimizer``), never by calling an arbitrary attribute.

A killed save leaves its temporary file (``.<name>.nnmath-<pid>-….tmp``) in the folder; the next
successful save of the same file removes those whose process is gone.
"""
from __future__ import annotations

import contextlib
import datetime
import glob
import json
import math
import os
import tempfile
import zipfile
from typing import Any

import numpy as np

FORMAT_VERSION = 1
_META = "__nnmath__"

__all__ = ["save_model", "load_model", "save_weights", "load_weights", "save_training_state",
           "restore_training_state", "FORMAT_VERSION"]


def _tmp_prefix(path: str) -> str:
    return "." + os.path.basename(path) + ".nnmath-"


def _atomic_savez(path: str, arrays: dict) -> None:
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path)) or "."
    fd, tmp = tempfile.mkstemp(prefix=f"{_tmp_prefix(path)}{os.getpid()}-", suffix=".tmp",
                               dir=folder)
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
    _remove_stale_temporaries(path, folder)


def _remove_stale_temporaries(path: str, folder: str) -> None:
    """Delete temporaries of earlier saves of ``path`` whose process no longer runs (a save that
    was killed); a save in progress in a live process is left alone."""
    prefix = _tmp_prefix(path)
    for stale in glob.glob(os.path.join(glob.escape(folder), glob.escape(prefix) + "*.tmp")):
        pid = os.path.basename(stale)[len(prefix):].split("-", 1)[0]
        if pid.isdigit() and int(pid) != os.getpid() and _alive(int(pid)):
            continue
        with contextlib.suppress(OSError):
            os.unlink(stale)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


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


def _model_entry(model) -> dict:
    """The model's class and config, objects in the config serialized (Keras 3), with its
    registered name when it has one (a ``register_keras_serializable`` subclass)."""
    from .serialization import get_registered_name, serialize_keras_object
    entry = {"class_name": type(model).__name__,
             "config": serialize_keras_object(model.get_config())}
    name = get_registered_name(type(model))
    if name != type(model).__name__:
        entry["registered_name"] = name
    if getattr(type(model), "_keras_style", False) and getattr(model, "input_shape", None):
        # a subclassed model is rebuilt from its input shape (Keras's build_config)
        entry["build_input_shape"] = serialize_keras_object(model.input_shape)
    return entry


def save_model(model, filepath: str, _extra: dict | None = None) -> None:
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
        "model": _model_entry(model),
        "compile": None if model.loss is None else {
            "optimizer": _config_of(model.optimizer), "loss": _spec_config(model.loss),
            "metrics": _spec_config(model._metric_specs),
            "loss_weights": getattr(model, "loss_weight", 1.0)},
        "weights": keys, "layers": _layer_list(model), "optimizer_state": opt_keys,
        "rng_state": _data.global_rng().bit_generator.state,
    }
    if _extra is not None:
        meta["extra"] = _extra
    arrays[_META] = _meta_array(meta)
    _atomic_savez(filepath, arrays)


def save_weights(model, filepath: str) -> None:
    """Save the weights only (layer by layer, by name)."""
    arrays, keys = _weights_arrays(model)
    arrays[_META] = _meta_array({"format": "nnmath.weights", "version": FORMAT_VERSION, "weights": keys,
                                 "layers": _layer_list(model)})
    _atomic_savez(filepath, arrays)


def _check_members(zf: zipfile.ZipFile) -> int:
    """Check every member's ``.npy`` header against its stored size before anything is read;
    returns the total number of elements. Raises ValueError naming the first bad member."""
    total = 0
    names = zf.namelist()
    if len(set(names)) != len(names):
        raise ValueError("the archive lists a member twice")
    for info in zf.infolist():
        if not info.filename.endswith(".npy") or info.compress_type != zipfile.ZIP_STORED:
            raise ValueError(f"unexpected member {info.filename!r} (compression "
                             f"{info.compress_type})")
        with zf.open(info) as f:
            version = np.lib.format.read_magic(f)
            if version == (1, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
            elif version in ((2, 0), (3, 0)):
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
            else:
                raise ValueError(f"member {info.filename!r}: unknown .npy version {version}")
            header = f.tell()
        if dtype.hasobject:
            raise ValueError(f"member {info.filename!r} holds Python objects (dtype {dtype})")
        count = math.prod(shape)
        if count * dtype.itemsize != info.file_size - header:
            raise ValueError(f"member {info.filename!r}: its header claims shape {shape} of "
                             f"{dtype} ({count * dtype.itemsize} bytes) but {info.file_size - header} "
                             f"bytes are stored")
        total += count
    return total


def _read(filepath: str) -> tuple[dict, dict]:
    """Every array and the metadata, fully read and checked; raises ValueError if unreadable."""
    filepath = os.fspath(filepath)
    if not os.path.exists(filepath):
        raise FileNotFoundError(f"no checkpoint at {filepath!r}")
    try:
        with zipfile.ZipFile(filepath) as zf:
            total = _check_members(zf)
        with np.load(filepath, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
        meta = json.loads(arrays.pop(_META).tobytes().decode("utf-8"))
        _check_meta(meta)
    except Exception as e:                 # zip, npy, JSON or structure: all are the file's fault
        raise ValueError(f"{filepath!r} is not a readable nnmath checkpoint (truncated, corrupted or "
                         f"not written by nnmath): {type(e).__name__}: {e}") from None
    version = meta.get("version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise ValueError(f"{filepath!r} has format version {version!r}; this nnmath reads versions "
                         f"up to {FORMAT_VERSION} (upgrade nnmath)")
    missing = [k for k in meta.get("weights", []) if k not in arrays]
    if missing:
        raise ValueError(f"{filepath!r} is missing arrays {missing[:3]}")
    meta["_elements"] = total
    return arrays, meta


def _check_meta(meta: Any) -> None:
    """The metadata's structure (types), so that later code cannot fail with Key/TypeError."""
    def need(cond, what):
        if not cond:
            raise ValueError(f"metadata: {what}")
    need(isinstance(meta, dict), "not a JSON object")
    need(meta.get("format") in ("nnmath.model", "nnmath.weights"), f"format {meta.get('format')!r}")
    need(isinstance(meta.get("weights", []), list) and all(isinstance(k, str) for k in meta.get("weights", [])),
         "weights must be a list of names")
    layers = meta.get("layers", [])
    need(isinstance(layers, list) and all(isinstance(l, dict) and isinstance(l.get("class_name"), str)
                                          for l in layers), "layers must be a list of {class_name}")
    if meta["format"] == "nnmath.model":
        m = meta.get("model")
        need(isinstance(m, dict) and isinstance(m.get("class_name"), str)
             and isinstance(m.get("config"), dict), "model must be {class_name, config}")
        comp = meta.get("compile")
        need(comp is None or isinstance(comp, dict), "compile must be an object or null")
        need(isinstance(meta.get("optimizer_state", []), list), "optimizer_state must be a list")


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
    cls = getattr(layers, name, None) if isinstance(name, str) else None
    if not (isinstance(cls, type) and issubclass(cls, layers.Layer)):
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


def _object_from(spec: Any, module, base: type) -> Any:
    """A loss or optimizer from its saved name or ``{class_name, config}``: only subclasses of
    ``base`` exported by ``module`` (its registered classes) are ever instantiated."""
    if spec is None or isinstance(spec, str):
        return module.get(spec) if spec is not None else None
    if not (isinstance(spec, dict) and isinstance(spec.get("class_name"), str)
            and isinstance(spec.get("config", {}), dict)):
        raise ValueError(f"checkpoint has a malformed {base.__name__} entry {spec!r}")
    name = spec["class_name"]
    cls = getattr(module, name, None) if not name.startswith("_") else None
    if not (isinstance(cls, type) and issubclass(cls, base)):
        raise ValueError(f"checkpoint names an unknown {module.__name__} class {name!r}; only "
                         f"registered {base.__name__} classes are restored")
    config = spec.get("config", {})
    return cls.from_config(config) if hasattr(cls, "from_config") else cls(**config)


@contextlib.contextmanager
def _no_allocation(budget: int, filepath: str):
    """Build layers without allocating weights: every initializer returns a zero-stride view, and
    the elements asked for in total may not exceed ``budget`` (what the file stores)."""
    from ..nn import initializers as _inits
    real_get = _inits.get
    asked = [0]

    def fake_get(identifier):
        real_get(identifier)                          # unknown names still fail here

        def init(shape, dtype, rng=None):
            shape = tuple(int(d) for d in shape)
            if any(d < 0 for d in shape):
                raise ValueError(f"{filepath!r}: the saved config asks for a weight of shape {shape}")
            asked[0] += math.prod(shape)
            if asked[0] > budget:
                raise ValueError(f"{filepath!r}: the saved config asks for more weights "
                                 f"(≥ {asked[0]} values, e.g. a weight of shape {shape}) than the "
                                 f"file stores ({budget}); it does not match its arrays")
            return np.broadcast_to(np.zeros((), dtype), shape)
        return init

    _inits.get = fake_get
    try:
        yield
    finally:
        _inits.get = real_get


def _build_model(meta: dict, filepath: str):
    """The model the metadata describes, built (fresh weights, not yet assigned)."""
    from .model import Sequential
    mcfg = meta["model"]
    cfg = mcfg["config"]
    if mcfg["class_name"] == "Functional":
        from .functional import Functional
        return Functional.from_config(cfg, layer_class=_layer_class)
    if mcfg["class_name"] != "Sequential":
        raise ValueError(f"load_model: unsupported model class {mcfg['class_name']!r}")
    specs = cfg.get("layers")
    if not isinstance(specs, list) or not all(
            isinstance(l, dict) and isinstance(l.get("config"), dict) for l in specs):
        raise ValueError(f"{filepath!r}: the saved Sequential config has no valid layer list")
    layers = [_layer_class(l.get("class_name")).from_config(l["config"]) for l in specs]
    model = Sequential(layers, name=cfg.get("name"))
    if not isinstance(cfg.get("input_shape"), list):
        raise ValueError(f"{filepath!r}: the saved model has no input shape")
    model.build((None,) + tuple(cfg["input_shape"]))
    return model


def load_model(filepath: str):
    """Rebuild a model saved by :func:`save_model`: architecture, weights, compile configuration,
    optimizer state and the training random generator's state (so training resumes exactly).

    Raises:
        ValueError: the file is damaged, tampered with or inconsistent (see the module doc).
        FileNotFoundError: no file at ``filepath``.
    """
    arrays, meta = _read(filepath)
    if meta.get("format") != "nnmath.model":
        raise ValueError(f"{filepath!r} holds {meta.get('format')!r}, not a whole model; use "
                         f"model.load_weights for weights-only files")
    try:
        with _no_allocation(meta["_elements"], filepath):
            _build_model(meta, filepath)              # dry run: shapes only, nothing allocated
        model = _build_model(meta, filepath)
        _assign_weights(model, arrays, meta, filepath)
        _restore_compile(model, arrays, meta)
    except ValueError:
        raise
    except Exception as e:                  # a config of the right types but wrong values
        raise ValueError(f"{filepath!r}: the saved configuration cannot be rebuilt: "
                         f"{type(e).__name__}: {e}") from None
    _restore_rng(meta)
    return model


def _restore_compile(model, arrays: dict, meta: dict) -> None:
    from .. import optimizers as _optimizers
    from ..nn import losses as _losses
    comp = meta.get("compile")
    if not comp:
        return
    model.compile(optimizer=_object_from(comp.get("optimizer"), _optimizers, _optimizers.Optimizer),
                  loss=_spec_from(comp.get("loss"), lambda c: _object_from(c, _losses, _losses.Loss)),
                  metrics=_spec_from(comp.get("metrics"), lambda c: c["class_name"]),
                  loss_weights=comp.get("loss_weights"))
    _restore_optimizer_state(model, arrays, meta)


def _restore_optimizer_state(model, arrays: dict, meta: dict) -> None:
    keys = meta.get("optimizer_state", [])
    if keys:
        missing = [k for k in keys if f"optimizer/{k}" not in arrays]
        if missing:
            raise ValueError(f"the checkpoint's optimizer state lacks {missing[:3]}")
        model._ensure_optimizer()
        model.optimizer.set_flat_state({k: arrays[f"optimizer/{k}"] for k in keys})


def _restore_rng(meta: dict) -> None:
    from . import data as _data
    state = meta.get("rng_state")
    if state:
        try:
            _data.global_rng().bit_generator.state = state
        except Exception as e:
            raise ValueError(f"the checkpoint's random generator state is invalid: {e}") from None


def save_training_state(model, filepath: str, extra: dict) -> None:
    """:func:`save_model` plus ``extra`` (JSON) in the metadata — what BackupAndRestore writes."""
    save_model(model, filepath, _extra=extra)


def restore_training_state(model, filepath: str) -> dict:
    """Put the weights, optimizer state and generator state of a :func:`save_training_state`
    file back into ``model`` (which must have the saved layers); returns its ``extra``."""
    arrays, meta = _read(filepath)
    if meta.get("format") != "nnmath.model":
        raise ValueError(f"{filepath!r} holds {meta.get('format')!r}, not a training state")
    _assign_weights(model, arrays, meta, filepath)
    if model.optimizer is not None:
        _restore_optimizer_state(model, arrays, meta)
    _restore_rng(meta)
    extra = meta.get("extra")
    return extra if isinstance(extra, dict) else {}
