"""Checkpoints under damage and tampering (nnmath/training/saving.py): every bad file raises the
loader's ValueError (or, where a flipped byte is one the format never reads, loads the very same
model); configs are checked against the stored arrays before anything is allocated; killed saves
leave no temporary file after the next save; only registered optimizer / loss / layer classes are
restored."""
from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tracemalloc
import zipfile

import numpy as np
import pytest

from nnmath.nn.layers import Dense, Dropout
from nnmath.training import Sequential, load_model, saving


def _model():
    model = Sequential([Dense(5, activation="relu", input_dim=4), Dropout(0.1), Dense(2)])
    model.compile(optimizer="adam", loss="mse", metrics=["mae"])
    x = np.random.default_rng(0).normal(size=(16, 4))
    model.fit(x, x[:, :2], epochs=1, verbose=0)
    return model, x


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    model, x = _model()
    path = str(tmp_path_factory.mktemp("ckpt") / "m.npz")
    model.save(path)
    with open(path, "rb") as f:
        return path, f.read(), model.predict(x), x


def _load_or_value_error(path, reference, x):
    """The loader's contract: ValueError, or a model that computes exactly what was saved."""
    try:
        model = load_model(path)
    except ValueError:
        return "error"
    np.testing.assert_array_equal(model.predict(x), reference)
    return "same"


def test_flipped_bytes_everywhere_raise_value_error(saved, tmp_path):
    path, data, reference, x = saved
    offsets = sorted(set(np.linspace(0, len(data) - 1, 160).astype(int).tolist())
                     | set(range(0, 64)) | set(range(len(data) - 120, len(data))))
    outcomes = {}
    for off in offsets:
        bad = bytearray(data)
        bad[off] ^= 0xFF
        p = tmp_path / "bad.npz"
        p.write_bytes(bytes(bad))
        outcomes[off] = _load_or_value_error(str(p), reference, x)
    assert list(outcomes.values()).count("error") > len(offsets) // 2


def test_truncated_files_raise_value_error(saved, tmp_path):
    path, data, reference, x = saved
    for n in sorted(set(np.linspace(0, len(data) - 1, 80).astype(int).tolist()) | {1, 4, 22}):
        p = tmp_path / "short.npz"
        p.write_bytes(data[:n])
        with pytest.raises(ValueError, match="not a readable nnmath checkpoint"):
            load_model(str(p))
    p.write_bytes(b"")
    with pytest.raises(ValueError):
        load_model(str(p))
    with pytest.raises(FileNotFoundError):
        load_model(str(tmp_path / "missing.npz"))


def _rewrite(data: bytes, edit_meta=None, edit_arrays=None) -> bytes:
    with np.load(io.BytesIO(data), allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    meta = json.loads(arrays["__nnmath__"].tobytes())
    if edit_meta:
        edit_meta(meta)
    if edit_arrays:
        edit_arrays(arrays)
    arrays["__nnmath__"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def test_a_config_asking_for_a_billion_units_allocates_nothing(saved, tmp_path):
    path, data, _, _ = saved

    def huge(meta):
        meta["model"]["config"]["layers"][0]["config"]["units"] = 1_000_000_000
    p = tmp_path / "huge.npz"
    p.write_bytes(_rewrite(data, huge))
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match="more weights"):
            load_model(str(p))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 50 * 2 ** 20                  # a billion float32 would be 4 GB (×4 inputs)


def test_npy_header_claiming_a_huge_shape_allocates_nothing(saved, tmp_path):
    path, data, _, _ = saved
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        members = {i.filename: zf.read(i) for i in zf.infolist()}
    name = next(n for n in members if n.startswith("weights/0/kernel"))
    raw = members[name]
    header_end = raw.index(b"\n") + 1
    header = raw[:header_end].replace(b"(4, 5)", b"(400000, 50000)".ljust(6))
    members[name] = header + raw[header_end:]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for n, b in members.items():
            zf.writestr(n, b)
    p = tmp_path / "hdr.npz"
    p.write_bytes(buf.getvalue())
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match="header claims shape"):
            load_model(str(p))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 50 * 2 ** 20


@pytest.mark.parametrize("edit", [
    lambda m: m.__setitem__("model", "Sequential"),
    lambda m: m["model"]["config"].__setitem__("layers", [{"class_name": "Dense"}]),
    lambda m: m["model"]["config"]["layers"][0].__setitem__("class_name", "Layer2"),
    lambda m: m["model"]["config"]["layers"][0].__setitem__("class_name", "add"),
    lambda m: m["model"]["config"]["layers"][0]["config"].__setitem__("units", "five"),
    lambda m: m["model"]["config"]["layers"][0]["config"].__setitem__("units", 6),
    lambda m: m.__setitem__("weights", [3]),
    lambda m: m.__setitem__("rng_state", {"bit_generator": "MT19937"}),
    lambda m: m["compile"].__setitem__("optimizer", {"class_name": "apply_updates", "config": {}}),
    lambda m: m["compile"].__setitem__("optimizer", {"class_name": "GradientTransformation",
                                                     "config": {}}),
    lambda m: m["compile"].__setitem__("loss", {"class_name": "get", "config": {}}),
    lambda m: m["compile"].__setitem__("optimizer", ["adam"]),
    lambda m: m.__setitem__("optimizer_state", ["nope"]),
])
def test_tampered_metadata_raises_value_error(saved, tmp_path, edit):
    path, data, _, _ = saved
    p = tmp_path / "t.npz"
    p.write_bytes(_rewrite(data, edit))
    with pytest.raises(ValueError):
        load_model(str(p))


def test_optimizer_restored_only_from_registered_names(saved, tmp_path, monkeypatch):
    import nnmath.optimizers as opt
    path, data, _, _ = saved
    called = []
    monkeypatch.setattr(opt, "evil", lambda **kw: called.append(kw), raising=False)
    p = tmp_path / "o.npz"
    p.write_bytes(_rewrite(data, lambda m: m["compile"].__setitem__(
        "optimizer", {"class_name": "evil", "config": {"x": 1}})))
    with pytest.raises(ValueError, match="registered Optimizer"):
        load_model(str(p))
    assert not called
    model = load_model(path)                       # the honest file still loads
    assert type(model.optimizer).__name__ == "Adam"


def test_swapped_array_dtype_or_shape_raise(saved, tmp_path):
    path, data, _, _ = saved
    key = "weights/0/kernel"
    for change in (lambda a: a.__setitem__(key, a[key].T.copy()),
                   lambda a: a.__setitem__(key, np.zeros((4, 5), "<U3")),
                   lambda a: a.pop(key)):
        p = tmp_path / "s.npz"
        p.write_bytes(_rewrite(data, edit_arrays=change))
        with pytest.raises(ValueError):
            load_model(str(p))


def test_killed_save_leaves_no_temporary_after_the_next_save(tmp_path):
    model, _ = _model()
    target = tmp_path / "model.npz"
    script = f"""
import os, sys, numpy as np
sys.path.insert(0, {os.getcwd()!r})
from nnmath.training import saving
real = np.savez
def slow(f, **arrays):
    real(f, **arrays)
    f.flush()
    os.kill(os.getpid(), 9)                  # killed in the middle of the save
np.savez = slow
from nnmath.nn.layers import Dense
from nnmath.training import Sequential
m = Sequential([Dense(2, input_dim=3)]); m.build((None, 3))
saving.save_model(m, {str(target)!r})
"""
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True)
    assert proc.returncode != 0
    leftovers = [f for f in os.listdir(tmp_path) if f.endswith(".tmp")]
    assert leftovers and not target.exists()          # the kill left its temporary
    model.save(str(target))
    assert [f for f in os.listdir(tmp_path) if f.endswith(".tmp")] == []
    assert load_model(str(target)) is not None


def test_live_temporaries_of_other_processes_are_kept(tmp_path):
    model, _ = _model()
    target = tmp_path / "model.npz"
    live = tmp_path / f".model.npz.nnmath-{os.getppid()}-abc.tmp"
    live.write_bytes(b"in progress")
    model.save(str(target))
    assert live.exists()


def test_weights_only_and_training_state_round_trip(tmp_path):
    model, x = _model()
    p = str(tmp_path / "state.npz")
    saving.save_training_state(model, p, {"epoch": 3})
    other, _ = _model()
    other.layers[0].values["kernel"][...] = 0
    assert saving.restore_training_state(other, p) == {"epoch": 3}
    np.testing.assert_array_equal(other.predict(x), model.predict(x))
