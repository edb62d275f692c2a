"""The Keras-style training API: the reference example, fit semantics, reproducibility, saving and
resuming, real data, and the errors bad input gets."""
from __future__ import annotations

import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

import nnmath as nm
from nnmath import keras
from nnmath.keras import callbacks, layers, optimizers
from nnmath.training import Sequential, load_model, set_random_seed
from nnmath.training.datasets import load_digits, stratified_split

ROOT = pathlib.Path(__file__).resolve().parents[1]


def small_model(seed=0, dtype="float32"):
    set_random_seed(seed)
    model = Sequential([layers.Dense(16, activation="relu", input_dim=5, dtype=dtype),
                        layers.Dense(3, activation="softmax", dtype=dtype)])
    model.compile(optimizer=optimizers.Adam(learning_rate=0.01), loss="categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def toy_data(n=120, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 5)).astype(np.float32)
    y = (X[:, 0] > 0).astype(int) + (X[:, 1] > 0.5).astype(int)
    return X, keras.utils.to_categorical(y, 3)


def test_reference_example_runs_unchanged_but_for_imports():
    script = ROOT / "examples" / "keras_reference.py"
    text = script.read_text()
    assert "tensorflow" not in text.replace("`tensorflow.keras` → `nnmath.keras`", "").replace(
        "`import tensorflow as tf` → `import nnmath as tf`", "")
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300,
                         cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.returncode == 0, out.stderr[-2000:]
    assert "Epoch 50/50" in out.stdout and "val_loss" in out.stdout
    assert "Loss: " in out.stdout and "Accuracy: " in out.stdout and "Predictions: " in out.stdout


def test_accuracy_resolves_to_categorical_for_the_reference_setup():
    X, Y = toy_data()
    model = Sequential([layers.Dense(3, input_dim=5), layers.Activation("softmax")])
    model.compile(optimizer="adam", loss=keras.losses.MeanSquaredError(), metrics=["accuracy"])
    history = model.fit(X, Y, epochs=1, verbose=0)
    assert "accuracy" in history.history
    assert model.compiled_metrics[0].resolved == "categorical_accuracy"


def test_validation_split_takes_the_last_fraction_before_shuffling():
    X, Y = toy_data(100)
    model = small_model()
    history = model.fit(X, Y, epochs=1, batch_size=16, validation_split=0.2, verbose=0)
    val = model.evaluate(X[80:], Y[80:], verbose=0, return_dict=True)
    assert history.history["val_loss"][0] == pytest.approx(val["loss"], rel=1e-6)
    assert history.history["val_accuracy"][0] == pytest.approx(val["accuracy"], rel=1e-6)


def test_same_seed_same_history_and_weights():
    X, Y = toy_data()
    runs = []
    for _ in range(2):
        model = small_model(seed=7)
        set_random_seed(7)
        h = model.fit(X, Y, epochs=3, batch_size=16, validation_split=0.25, verbose=0)
        runs.append((h.history, model.get_weights()))
    assert runs[0][0] == runs[1][0]
    for a, b in zip(runs[0][1], runs[1][1]):
        np.testing.assert_array_equal(a, b)


def test_resuming_from_a_checkpoint_follows_the_same_trajectory_bit_for_bit(tmp_path):
    X, Y = toy_data()
    straight = small_model(seed=3)
    set_random_seed(3)
    straight.fit(X, Y, epochs=4, batch_size=16, verbose=0)

    first = small_model(seed=3)
    set_random_seed(3)
    first.fit(X, Y, epochs=2, batch_size=16, verbose=0)
    path = tmp_path / "ckpt.npz"
    first.save(str(path))
    resumed = load_model(str(path))
    resumed.fit(X, Y, epochs=4, initial_epoch=2, batch_size=16, verbose=0)
    for a, b in zip(straight.get_weights(), resumed.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_checkpoints_round_trip_exactly_and_run_no_code(tmp_path):
    X, Y = toy_data()
    model = small_model()
    model.fit(X, Y, epochs=1, verbose=0)
    path = tmp_path / "m.npz"
    model.save(str(path))
    with np.load(path, allow_pickle=False) as npz:      # plain arrays only: no pickle inside
        assert "__nnmath__" in npz.files
    again = load_model(str(path))
    np.testing.assert_array_equal(again.predict(X), model.predict(X))
    wpath = tmp_path / "w.weights.npz"
    model.save_weights(str(wpath))
    other = small_model(seed=99)
    other.predict(X)
    other.load_weights(str(wpath))
    np.testing.assert_array_equal(other.predict(X), model.predict(X))


def test_truncated_or_tampered_checkpoint_is_refused_and_the_model_untouched(tmp_path):
    X, Y = toy_data()
    model = small_model()
    model.fit(X, Y, epochs=1, verbose=0)
    path = tmp_path / "m.npz"
    model.save(str(path))
    data = path.read_bytes()
    before = [w.copy() for w in model.get_weights()]
    (tmp_path / "cut.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="not a readable nnmath checkpoint"):
        model.load_weights(str(tmp_path / "cut.npz"))
    bad = bytearray(data)
    bad[len(bad) // 3] ^= 0xFF
    (tmp_path / "flip.npz").write_bytes(bytes(bad))
    with pytest.raises(ValueError):
        model.load_weights(str(tmp_path / "flip.npz"))
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_save_is_atomic(tmp_path, monkeypatch):
    X, Y = toy_data()
    model = small_model()
    model.fit(X, Y, epochs=1, verbose=0)
    path = tmp_path / "m.npz"
    model.save(str(path))
    good = path.read_bytes()

    def crash(*a, **k):
        raise KeyboardInterrupt("power cut")
    monkeypatch.setattr(np, "savez", crash)
    with pytest.raises(KeyboardInterrupt):
        model.save(str(path))
    assert path.read_bytes() == good
    assert [p.name for p in tmp_path.iterdir()] == ["m.npz"]


def test_model_is_a_pure_function_of_its_params():
    X, Y = toy_data(8)
    model = small_model(dtype="float64")
    model.build((None, 5))
    loss = lambda p: keras.losses.CategoricalCrossentropy()(Y, model.apply(p, X.astype(np.float64)))
    g = nm.grad(loss)(model.params)
    assert set(g) == set(model.params)
    nm.check_grads(loss, (model.params,), order=1)
    H = nm.hessian(lambda p: loss({**model.params, model.layers[1].name: p}))(model.params[model.layers[1].name])
    assert H["kernel"]["kernel"].shape == (16, 3, 16, 3)


def test_summary_lists_layers_shapes_and_counts(capsys):
    model = small_model()
    model.build((None, 5))
    model.summary()
    out = capsys.readouterr().out
    assert "dense" in out and "(None, 16)" in out and "(None, 3)" in out
    assert "Total params: 147" in out


def test_predict_is_batched_and_matches_apply():
    X, _ = toy_data(70)
    model = small_model()
    np.testing.assert_allclose(model.predict(X, batch_size=16), model.apply(model.params, X), rtol=1e-6)


def test_errors_name_what_is_wrong():
    X, Y = toy_data()
    model = small_model()
    model.fit(X, Y, epochs=1, verbose=0)
    with pytest.raises(ValueError, match=r"dense.*expects inputs of shape \(batch, 5\).*\(120, 4\)"):
        model.fit(X[:, :4], Y, verbose=0)
    Xn = X.copy()
    Xn[17, 2] = np.nan
    with pytest.raises(ValueError, match="row 17"):
        model.fit(Xn, Y, verbose=0)
    with pytest.raises(ValueError, match="empty"):
        model.fit(X[:0], Y[:0], verbose=0)
    with pytest.raises(ValueError, match="batch_size"):
        model.fit(X, Y, batch_size=0, verbose=0)
    with pytest.raises(ValueError, match="adam"):
        small_model().compile(optimizer="adamm", loss="mse")
    with pytest.raises(ValueError, match="mean_squared_error|mse"):
        small_model().compile(optimizer="adam", loss="mse2")
    with pytest.raises(ValueError, match="accuracy"):
        m = small_model()
        m.compile(optimizer="adam", loss="mse", metrics=["acuracy"])
        m.fit(X, Y, epochs=1, verbose=0)
    with pytest.raises(ValueError, match="relu"):
        layers.Dense(3, activation="rellu")


def test_labels_that_do_not_fit_the_loss():
    X, Y = toy_data()
    model = small_model()
    with pytest.raises(ValueError, match="one-hot|sparse"):
        model.fit(X, np.argmax(Y, 1), epochs=1, verbose=0)     # integers for a one-hot loss
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match="class"):
        model.fit(X, np.full(len(X), 7), epochs=1, verbose=0)  # label 7 with 3 outputs


def test_terminate_on_nan_reports_epoch_and_batch():
    X, Y = toy_data()
    set_random_seed(0)
    model = Sequential([layers.Dense(3, input_dim=5)])          # linear: SGD diverges to inf, NaN
    model.compile(optimizer=optimizers.SGD(learning_rate=50.0), loss="mse")
    cb = callbacks.TerminateOnNaN()
    with np.errstate(all="ignore"):
        model.fit(X * 10, Y, epochs=20, batch_size=8, verbose=0, callbacks=[cb])
    assert model.stop_training
    assert "batch" in cb.message and "poch" in cb.message


def _digits():
    X, y = load_digits()
    train, test = stratified_split(y, test_size=0.25, seed=0)
    X = (X / 16.0).astype(np.float32)
    return X[train], y[train], X[test], y[test]


def test_mlp_on_digits_reaches_97_percent():
    Xtr, ytr, Xte, yte = _digits()
    accs = []
    for seed in range(3):
        set_random_seed(seed)
        model = Sequential([layers.Dense(256, activation="relu", input_dim=64),
                            layers.Dropout(0.2),
                            layers.Dense(10, activation="softmax")])
        model.compile(optimizer=optimizers.Adam(learning_rate=1e-3),
                      loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        model.fit(Xtr, ytr, epochs=60, batch_size=32, verbose=0)
        accs.append(model.evaluate(Xte, yte, verbose=0, return_dict=True)["accuracy"])
    assert np.median(accs) >= 0.97, accs


def test_small_cnn_on_digits_reaches_98_percent():
    Xtr, ytr, Xte, yte = _digits()
    accs = []
    for seed in range(3):
        set_random_seed(seed)
        model = Sequential([layers.Reshape((8, 8, 1), input_shape=(64,)),
                            layers.Conv2D(32, 3, padding="same", activation="relu"),
                            layers.MaxPooling2D(2),
                            layers.Conv2D(64, 3, padding="same", activation="relu"),
                            layers.Flatten(),
                            layers.Dense(10, activation="softmax")])
        model.compile(optimizer=optimizers.Adam(learning_rate=2e-3),
                      loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        model.fit(Xtr, ytr, epochs=25, batch_size=32, verbose=0)
        accs.append(model.evaluate(Xte, yte, verbose=0, return_dict=True)["accuracy"])
    assert np.median(accs) >= 0.98, accs


def test_a_checkpoint_written_by_format_version_1_still_loads_and_trains():
    """tests/data/checkpoint_format_v1.ckpt was written by nnmath 0.1.0 (format 1): it must keep
    loading — architecture, weights, compile config and optimizer state — in later versions."""
    data = ROOT / "tests" / "data"
    model = load_model(str(data / "checkpoint_format_v1.ckpt"))
    X = np.linspace(-1, 1, 30, dtype=np.float32).reshape(10, 3)
    np.testing.assert_allclose(model.predict(X), np.loadtxt(data / "checkpoint_format_v1_predictions.txt"),
                               rtol=1e-6)
    assert model.optimizer.iterations == 6
    model.fit(X, np.eye(2, dtype=np.float32)[np.arange(10) % 2], epochs=1, verbose=0)


def test_saved_files_get_the_usual_permissions(tmp_path):
    model = small_model()
    model.build((None, 5))
    path = tmp_path / "m.npz"
    model.save(str(path))
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask
