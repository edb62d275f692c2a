"""Keras's functional API: Input, symbolic layer calls, Model(inputs, outputs) — training, the pure
function of the parameters, weight sharing, several inputs and outputs, saving, and errors."""
from __future__ import annotations

import json

import numpy as np
import pytest

import nnmath as nm
from nnmath import keras
from nnmath.keras import layers, optimizers
from nnmath.training import (
    Functional,
    Input,
    KerasTensor,
    Model,
    Sequential,
    load_model,
    set_random_seed,
)


def residual_mlp(dtype="float64", seed=0):
    """x → Dense(8, tanh) → Dense(4) → Add with x → Dense(2)."""
    set_random_seed(seed)
    x = Input((4,), dtype=dtype, name="x")
    h = layers.Dense(8, activation="tanh", dtype=dtype, name="d1")(x)
    h = layers.Dense(4, dtype=dtype, name="d2")(h)
    r = layers.Add(name="skip")([x, h])
    y = layers.Dense(2, dtype=dtype, name="head")(r)
    return Model(x, y, name="resmlp")


def data(n=64, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4)).astype(dtype)
    Y = np.stack([X[:, 0] - X[:, 1], np.sin(X[:, 2])], axis=1).astype(dtype)
    return X, Y


def by_hand(p, X):
    h = np.tanh(X @ p["d1"]["kernel"] + p["d1"]["bias"])
    r = X + (h @ p["d2"]["kernel"] + p["d2"]["bias"])
    return r @ p["head"]["kernel"] + p["head"]["bias"]


def test_symbolic_tensors_carry_shape_dtype_and_their_layer():
    x = Input((4,), name="inp")
    assert isinstance(x, KerasTensor) and x.shape == (None, 4) and x.dtype == np.float32
    d = layers.Dense(3)
    y = d(x)
    assert y.shape == (None, 3) and y.node.layer is d and y.node.parents == [x]
    assert d.built and d.values["kernel"].shape == (4, 3)
    c = layers.Concatenate()([x, y])
    assert c.shape == (None, 7) and c.node.as_list
    # eager calls on arrays are unchanged
    assert d(np.ones((2, 4), np.float32)).shape == (2, 3)


def test_residual_mlp_trains_and_apply_is_the_hand_computation():
    model = residual_mlp()
    X, Y = data()
    assert model.input_shape == (None, 4) and model.output_shape == (None, 2)
    assert [l.name for l in model.layers] == ["x", "d1", "d2", "skip", "head"]
    np.testing.assert_allclose(model.apply(model.params, X), by_hand(model.params, X), rtol=1e-12)
    np.testing.assert_allclose(model.predict(X, batch_size=10), by_hand(model.params, X), rtol=1e-12)
    model.compile(optimizer=optimizers.Adam(learning_rate=0.02), loss="mse")
    before = model.evaluate(X, Y, verbose=0)
    hist = model.fit(X, Y, epochs=30, batch_size=16, verbose=0)
    assert hist.history["loss"][-1] < 0.5 * hist.history["loss"][0]
    assert model.evaluate(X, Y, verbose=0) < 0.5 * before
    # the flat buffer and the layers' weights are the same memory, and apply follows training
    assert np.shares_memory(model.flat_params, model.layers[1].values["kernel"])
    np.testing.assert_allclose(model.apply(model.params, X), by_hand(model.params, X), rtol=1e-12)
    assert model.train_on_batch(X, Y) > 0


def test_functional_equals_sequential_on_the_same_weights_and_trains_the_same():
    set_random_seed(1)
    def stack():
        return [layers.Dense(8, activation="relu", dtype="float64"),
                layers.BatchNormalization(dtype="float64"), layers.Dropout(0.3),
                layers.Dense(2, dtype="float64")]
    seq = Sequential(stack())
    seq.build((None, 4))
    x = y = Input((4,), dtype="float64")
    for layer in stack():
        y = layer(y)
    fun = Model(x, y)
    fun.set_weights(seq.get_weights())
    X, Y = data(50)
    np.testing.assert_array_equal(fun.predict(X), seq.predict(X))
    for m in (seq, fun):
        m.compile(optimizer=optimizers.Adam(learning_rate=0.01), loss="mse")
    set_random_seed(5)
    seq.fit(X, Y, epochs=3, batch_size=8, verbose=0)
    set_random_seed(5)
    fun.fit(X, Y, epochs=3, batch_size=8, verbose=0)
    for a, b in zip(seq.get_weights(), fun.get_weights()):       # moving statistics included
        np.testing.assert_array_equal(a, b)
    assert fun.state and set(fun.state) == {fun.layers[2].name}


def test_layers_with_their_own_call_and_several_outputs_work_symbolically():
    set_random_seed(7)
    s = Input((5, 3), dtype="float64")
    lstm = layers.LSTM(4, return_state=True, dtype="float64")
    out, h, c = lstm(s)
    assert out.shape == h.shape == c.shape == (None, 4)
    att = layers.MultiHeadAttention(num_heads=2, key_dim=2, dtype="float64")
    seq = layers.SimpleRNN(4, return_sequences=True, dtype="float64")(s)
    a = att([seq, seq])
    model = Model(s, [layers.Add()([out, c]), a])
    X = np.random.default_rng(0).normal(size=(3, 5, 3))
    y1, y2 = model.predict(X)
    o, _, cc = lstm(X)
    np.testing.assert_allclose(y1, o + cc, rtol=1e-12)
    assert y2.shape == (3, 5, 4)


def test_a_layer_called_twice_shares_its_weights_and_its_gradients_add_up():
    set_random_seed(2)
    x = Input((3,), dtype="float64")
    shared = layers.Dense(3, activation="tanh", dtype="float64", name="shared")
    y = layers.Dense(1, dtype="float64", name="out")(shared(shared(x)))
    model = Model(x, y)
    assert [l.name for l in model.layers][1:] == ["shared", "out"]
    assert model.count_params() == 3 * 3 + 3 + 3 + 1
    # the same computation with two separate copies of the shared layer
    a = layers.Dense(3, activation="tanh", dtype="float64", name="a")
    b = layers.Dense(3, activation="tanh", dtype="float64", name="b")
    o = layers.Dense(1, dtype="float64", name="o")
    x2 = Input((3,), dtype="float64")
    twin = Model(x2, o(b(a(x2))))
    p = model.params
    tp = {"a": p["shared"], "b": p["shared"], "o": p["out"]}
    X = np.random.default_rng(0).normal(size=(6, 3))
    np.testing.assert_allclose(model.apply(p, X), twin.apply(tp, X), rtol=1e-12)
    g = nm.grad(lambda q: (model.apply(q, X) ** 2).sum())(p)
    gt = nm.grad(lambda q: (twin.apply(q, X) ** 2).sum())(tp)
    for k in ("kernel", "bias"):
        np.testing.assert_allclose(g["shared"][k], gt["a"][k] + gt["b"][k], rtol=1e-10)
    # training updates the one copy
    model.compile(optimizer="sgd", loss="mse")
    k0 = shared.values["kernel"].copy()
    model.fit(X, np.zeros((6, 1)), epochs=1, verbose=0)
    assert not np.array_equal(k0, shared.values["kernel"])


def test_two_inputs_concatenated_predict_and_apply():
    set_random_seed(3)
    a, b = Input((3,), name="a"), Input((2,), name="b")
    c = layers.Concatenate()([a, b])
    y = layers.Dense(4, name="dense_ab")(c)
    model = Model([a, b], y)
    assert model.input_shape == [(None, 3), (None, 2)] and model.output_shape == (None, 4)
    rng = np.random.default_rng(0)
    A, B = rng.normal(size=(40, 3)), rng.normal(size=(40, 2)).astype(np.float32)
    p = model.params["dense_ab"]
    want = np.concatenate([A, B], 1).astype(np.float32) @ p["kernel"] + p["bias"]
    np.testing.assert_allclose(model.predict([A, B], batch_size=16), want, rtol=1e-5, atol=1e-6)
    assert model.predict([A, B]).dtype == np.float32
    np.testing.assert_allclose(model.apply(model.params, [A, B]), want, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="2 inputs"):
        model.predict(A)
    with pytest.raises(ValueError, match=r"input 'b'.*\(batch, 2\).*\(40, 3\)"):
        model.predict([A, A])
    model.compile(optimizer="adam", loss="mse")
    with pytest.raises(ValueError, match=r"2 inputs \['a', 'b'\]; pass x as a list of 2"):
        model.fit(A, np.zeros((40, 4)), verbose=0)
    with pytest.raises(ValueError, match="different numbers of samples"):
        model.fit([A, B[:30]], np.zeros((40, 4)), verbose=0)
    target = np.concatenate([A, B], 1).astype(np.float32) @ np.ones((5, 4), np.float32)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.05), loss="mse")
    before = model.evaluate([A, B], target, verbose=0)
    history = model.fit({"a": A, "b": B}, target, epochs=30, batch_size=8, verbose=0)   # by name
    assert history.history["loss"][-1] < 0.5 * before
    assert model.evaluate([A, B], target, verbose=0) < 1e-3        # a linear target: learnt


def test_several_outputs_predict_and_clear_errors():
    x = Input((3,))
    h = layers.Dense(5, activation="relu")(x)
    y1, y2 = layers.Dense(1)(h), layers.Dense(2)(h)
    model = Model(x, [y1, y2])
    assert model.output_shape == [(None, 1), (None, 2)]
    X = np.ones((7, 3), np.float32)
    out = model.predict(X, batch_size=3)
    assert [o.shape for o in out] == [(7, 1), (7, 2)]
    np.testing.assert_allclose(out[1], model.apply(model.params, X)[1], rtol=1e-6)
    model.compile(optimizer="adam", loss="mse")
    with pytest.raises(ValueError, match=r"2 outputs .*pass y as a list of 2"):
        model.fit(X, np.zeros((7, 1)), verbose=0)
    with pytest.raises(ValueError, match=r"loss has 3 entries for the model's 2 outputs"):
        model.compile(optimizer="adam", loss=["mse", "mse", "mae"])
    with pytest.raises(ValueError, match=r"loss is a dict with keys \['nope'\]"):
        model.compile(optimizer="adam", loss={"nope": "mse"})
    with pytest.raises(ValueError, match="class_weight is for single-output"):
        model.fit(X, [np.zeros((7, 1)), np.zeros((7, 2))], class_weight={0: 1.0}, verbose=0)


def test_one_output_models_take_keras_one_element_lists():
    model = residual_mlp(seed=1)
    X, Y = data(16)
    model.compile(optimizer="sgd", loss=["mse"], loss_weights=[2.0], metrics=[["mae"]])
    logs = model.evaluate([X], [Y], verbose=0, return_dict=True)
    plain = keras.losses.MeanSquaredError()(Y, model.predict(X))
    assert set(logs) == {"loss", "mae"} and logs["loss"] == pytest.approx(2.0 * float(plain), rel=1e-6)


def test_models_built_from_one_element_lists_take_and_return_lists():
    X, T = np.ones((8, 3), np.float32), np.ones((8, 2), np.float32)
    for as_list_in, as_list_out in ((True, False), (False, True), (True, True)):
        a = Input((3,))
        y = layers.Dense(2)(a)
        model = Model([a] if as_list_in else a, [y] if as_list_out else y)
        model.compile("sgd", "mse")
        history = model.fit(X, T, epochs=2, batch_size=4, validation_split=0.25, verbose=0)
        assert sorted(history.history) == ["loss", "val_loss"]
        out = model.predict(X)
        assert isinstance(out, list) == as_list_out        # Keras: outputs=[y] predicts a list
        direct = model.apply(model.params, [X] if as_list_in else X)
        np.testing.assert_array_equal(out[0] if as_list_out else out,
                                      direct[0] if as_list_out else direct)
        assert model.evaluate(X, [T], verbose=0) == pytest.approx(model.evaluate(X, T, verbose=0))


def _two_headed(seed=0):
    keras.utils.set_random_seed(seed)
    x = Input((4,), name="features")
    h = layers.Dense(8, activation="tanh", name="trunk")(x)
    reg = layers.Dense(1, name="value")(h)
    cls = layers.Dense(3, activation="softmax", name="label")(h)
    return Model(x, [reg, cls])


def test_several_outputs_train_on_the_weighted_sum_of_their_losses_with_keras_logs():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(64, 4)).astype(np.float32)
    value = X[:, :1] * 2.0 - X[:, 1:2]
    labels = (X[:, 2] > 0).astype(int) + (X[:, 3] > 0.5)
    model = _two_headed()
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.03),
                  loss={"value": "mse", "label": "sparse_categorical_crossentropy"},
                  loss_weights={"value": 0.5, "label": 2.0}, metrics={"label": ["accuracy"]})
    # the loss is Σ w_k · loss_k of the outputs, by the loss functions themselves
    pv, pl = model.predict(X)
    want = 0.5 * keras.losses.mean_squared_error(value, pv).mean() + 2.0 * np.mean(
        keras.losses.sparse_categorical_crossentropy(labels, pl))
    logs = model.evaluate(X, [value, labels], verbose=0, return_dict=True)
    assert set(logs) == {"loss", "value_loss", "label_loss", "label_accuracy"}
    assert logs["loss"] == pytest.approx(want, rel=1e-5)
    assert logs["loss"] == pytest.approx(0.5 * logs["value_loss"] + 2.0 * logs["label_loss"], rel=1e-6)
    history = model.fit(X, {"value": value, "label": labels}, epochs=40, batch_size=16,
                        validation_split=0.25, verbose=0)
    h = history.history
    assert set(h) >= {"loss", "value_loss", "label_loss", "label_accuracy", "val_loss",
                      "val_value_loss", "val_label_loss", "val_label_accuracy"}
    assert h["loss"][-1] < 0.5 * h["loss"][0] and h["label_accuracy"][-1] > 0.8
    assert model.train_on_batch(X, [value, labels], return_dict=True).keys() == logs.keys()


def test_several_outputs_save_load_and_record_steps_like_tracing(tmp_path):
    rng = np.random.default_rng(2)
    X = rng.normal(size=(32, 4)).astype(np.float32)
    Y = [X[:, :1] ** 2, np.eye(3, dtype=np.float32)[rng.integers(0, 3, 32)]]
    runs = []
    for jit_compile in (False, True):
        model = _two_headed(seed=5)
        model.compile("adam", ["mse", "categorical_crossentropy"], loss_weights=[1.0, 0.3],
                      metrics=[[], ["accuracy", "mae"]], jit_compile=jit_compile)
        runs.append((model, model.fit(X, Y, epochs=3, batch_size=8, verbose=0).history))
    assert runs[0][1] == runs[1][1]                    # recorded steps: the same numbers
    model = runs[1][0]
    path = str(tmp_path / "two.nnmath")
    model.save(path)
    back = keras.models.load_model(path)
    for a, b in zip(back.predict(X), model.predict(X)):
        np.testing.assert_array_equal(a, b)
    assert back.evaluate(X, Y, verbose=0, return_dict=True) == model.evaluate(X, Y, verbose=0,
                                                                            return_dict=True)


def test_grad_and_hessian_with_respect_to_model_params():
    model = residual_mlp(seed=4)
    X, Y = data(8)
    loss = lambda p: keras.losses.MeanSquaredError()(Y, model.apply(p, X))
    g = nm.grad(loss)(model.params)
    assert set(g) == {"d1", "d2", "head"}
    nm.check_grads(loss, (model.params,), order=1)
    H = nm.hessian(lambda q: loss({**model.params, "head": q}))(model.params["head"])
    assert H["kernel"]["kernel"].shape == (4, 2, 4, 2)
    # the head is linear, so its block of the Hessian is exact: ∂²L/∂W² = 2/(n·2) · rᵀr ⊗ I
    p = model.params
    r = X + (np.tanh(X @ p["d1"]["kernel"] + p["d1"]["bias"]) @ p["d2"]["kernel"] + p["d2"]["bias"])
    want = np.einsum("ni,nj,ab->iajb", r, r, np.eye(2)) * (2.0 / (len(X) * 2))
    np.testing.assert_allclose(H["kernel"]["kernel"], want, rtol=1e-10, atol=1e-12)


def test_save_and_load_a_functional_residual_model(tmp_path):
    model = residual_mlp()
    X, Y = data()
    model.compile(optimizer=optimizers.Adam(learning_rate=0.01), loss="mse")
    model.fit(X, Y, epochs=2, batch_size=16, verbose=0)
    path = tmp_path / "res.npz"
    model.save(str(path))
    again = load_model(str(path))
    assert isinstance(again, Functional) and again.name == "resmlp"
    assert [l.name for l in again.layers] == [l.name for l in model.layers]
    assert again.get_config() == model.get_config()
    np.testing.assert_array_equal(again.predict(X), model.predict(X))
    # training resumes on both identically (optimizer state and random generator restored)
    model.save(str(path))
    model.fit(X, Y, epochs=1, batch_size=16, verbose=0)
    load = load_model(str(path))           # rewind the generator to the saved state
    load.fit(X, Y, epochs=1, batch_size=16, verbose=0)
    for a, b in zip(model.get_weights(), load.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_save_and_load_shared_layers_and_two_inputs(tmp_path):
    set_random_seed(6)
    a, b = Input((3,), name="a"), Input((3,), name="b")
    enc = layers.Dense(4, activation="tanh", name="enc")
    y = layers.Dense(1, name="out")(layers.Subtract()([enc(a), enc(b)]))
    model = Model([a, b], y)
    cfg = json.loads(json.dumps(model.get_config()))          # JSON-serialisable
    enc_cfg = next(l for l in cfg["layers"] if l["name"] == "enc")
    assert [n["args"] for n in enc_cfg["inbound_nodes"]] == [[["a", 0, 0]], [["b", 0, 0]]]
    sub = next(l for l in cfg["layers"] if l["class_name"] == "Subtract")
    assert sub["inbound_nodes"][0]["args"] == [["enc", 0, 0], ["enc", 1, 0]]
    path = tmp_path / "siamese.npz"
    model.save(str(path))
    again = load_model(str(path))
    A, B = np.random.default_rng(1).normal(size=(2, 5, 3)).astype(np.float32)
    np.testing.assert_array_equal(again.predict([A, B]), model.predict([A, B]))
    assert again.count_params() == model.count_params() == 3 * 4 + 4 + 4 + 1


def test_summary_lists_output_shapes_params_and_connections(capsys):
    model = residual_mlp()
    model.summary()
    out = capsys.readouterr().out
    assert "Connected to" in out and "resmlp" in out
    skip = next(line for line in out.splitlines() if line.startswith("skip"))
    assert "(None, 4)" in skip and "x[0][0]" in skip and "d2[0][0]" in skip
    head = next(line for line in out.splitlines() if line.startswith("head"))
    assert "10" in head
    assert f"Total params: {model.count_params()}" in out


def test_errors_name_what_is_wrong():
    model = residual_mlp()
    model.compile(optimizer="adam", loss="mse")
    X, Y = data(10)
    with pytest.raises(ValueError, match=r"input 'x'.*expects inputs of shape \(batch, 4\).*\(10, 3\)"):
        model.fit(X[:, :3], Y, verbose=0)
    with pytest.raises(ValueError, match=r"input 'x'.*\(10, 5\)"):
        model.predict(np.ones((10, 5)))
    # an output that needs an input the model was not given
    a, b = Input((2,), name="given"), Input((2,), name="forgotten")
    y = layers.Add(name="join")([a, b])
    with pytest.raises(ValueError, match="Graph disconnected.*forgotten.*join"):
        Model(a, y)
    with pytest.raises(ValueError, match="Input"):
        Model(layers.Dense(2)(a), y)
    with pytest.raises(TypeError, match="symbolic"):
        Model(np.ones((1, 2)), y)
    with pytest.raises(TypeError, match="mix"):
        layers.Add()([a, np.ones((1, 2))])
    with pytest.raises(ValueError, match="incompatible|shapes"):
        layers.Add()([a, Input((3,))])
    with pytest.raises(ValueError, match="list"):
        layers.Add()(a)
    with pytest.raises(ValueError, match="shape"):
        Input(shape=(0,))
    with pytest.raises(ValueError, match="two layers are named"):
        Model(a, layers.Dense(1, name="twin")(layers.Dense(2, name="twin")(a)))


def test_layers_shared_between_models_and_frozen_after_construction_still_train():
    set_random_seed(8)
    x = Input((4,))
    enc = layers.Dense(2, name="enc")
    dec = layers.Dense(4, name="dec")
    auto = Model(x, dec(enc(x)))
    encoder = Model(x, enc(x))            # repacks enc's weights into its own buffer
    X = np.random.default_rng(0).normal(size=(32, 4)).astype(np.float32)
    auto.compile(optimizer="sgd", loss="mse")
    k0 = enc.values["kernel"].copy()
    auto.fit(X, X, epochs=1, verbose=0)
    assert not np.array_equal(k0, enc.values["kernel"])       # the autoencoder trains enc
    np.testing.assert_allclose(encoder.predict(X), X @ enc.values["kernel"] + enc.values["bias"],
                               rtol=1e-5, atol=1e-6)
    enc.trainable = False
    k1, d1 = enc.values["kernel"].copy(), dec.values["kernel"].copy()
    auto.fit(X, X, epochs=1, verbose=0)
    np.testing.assert_array_equal(k1, enc.values["kernel"])
    assert not np.array_equal(d1, dec.values["kernel"])
    assert set(auto.params) == {"dec"}
