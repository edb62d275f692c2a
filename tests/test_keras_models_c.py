"""Issue 9 part C: the remaining Keras 3 behaviours of the model classes, written as the Keras
guides use the API and compared with real Keras 3 (JAX backend) where the layer exists in both:
evaluate/predict callbacks, BackupAndRestore resuming fit, masks through Sequential and
functional models, Keras's layer names, one flat buffer per dtype, dict inputs/outputs, custom
train steps, Input dtypes."""
from __future__ import annotations

import os

import numpy as np
import pytest

from keras_reference import real_keras as _keras  # noqa: E402  (sets KERAS_BACKEND first)

import nnmath as nm
from nnmath import keras as nk
from nnmath.keras import layers
from nnmath.training import callbacks as cb


R = np.random.default_rng(0)
X = R.normal(size=(40, 3)).astype("float32")
Y = (X[:, :1] * 2 - X[:, 1:2]).astype("float32")


def _mlp(seed=0, **compile_kw):
    nk.utils.set_random_seed(seed)
    model = nk.Sequential([nk.Input((3,)), layers.Dense(4, activation="tanh"), layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse", **compile_kw)
    return model


class Log(cb.Callback):
    """Records (hook, batch or None, a copy of the logs)."""

    def __init__(self):
        super().__init__()
        self.calls = []


def _recorder(hook):
    def method(self, *args):
        batch = args[0] if len(args) == 2 else None
        logs = args[-1] if args else None
        self.calls.append((hook, batch, dict(logs) if isinstance(logs, dict) else logs))
    return method


for _hook in cb.HOOKS:
    setattr(Log, _hook, _recorder(_hook))


# ------------------------------------------------------------------ 1. evaluate / predict hooks
def test_evaluate_callbacks_get_running_logs_and_the_result():
    model = _mlp(metrics=["mae"])
    log = Log()
    result = model.evaluate(X, Y, batch_size=16, verbose=0, callbacks=[log], return_dict=True)
    hooks = [c[0] for c in log.calls]
    assert hooks == ["on_test_begin"] + ["on_test_batch_begin", "on_test_batch_end"] * 3 + [
        "on_test_end"]
    assert [c[1] for c in log.calls if c[0] == "on_test_batch_end"] == [0, 1, 2]
    assert log.calls[-1][2] == pytest.approx(result)
    assert log.calls[-2][2] == pytest.approx(result)          # the last running mean is the result
    first = model.evaluate(X[:16], Y[:16], verbose=0, return_dict=True)
    assert log.calls[2][2] == pytest.approx(first)              # batch 0's logs: batch 0 only
    assert log.model is model and log.params["steps"] == 3
    model.evaluate(X, Y, batch_size=16, verbose=0, steps=2, callbacks=[log := Log()])
    assert sum(c[0] == "on_test_batch_end" for c in log.calls) == 2


def test_predict_callbacks_get_each_batch_output():
    model = _mlp()
    log = Log()
    out = model.predict(X, batch_size=16, callbacks=[log])
    assert [c[0] for c in log.calls] == ["on_predict_begin"] + [
        "on_predict_batch_begin", "on_predict_batch_end"] * 3 + ["on_predict_end"]
    outs = [c[2]["outputs"] for c in log.calls if c[0] == "on_predict_batch_end"]
    np.testing.assert_array_equal(np.concatenate(outs), out)
    assert model.predict(X, batch_size=16, steps=1).shape == (16, 1)


def test_fit_validation_calls_the_test_hooks_of_fits_callbacks():
    model = _mlp()
    log = Log()
    h = model.fit(X, Y, epochs=2, batch_size=16, verbose=0, validation_split=0.25, callbacks=[log])
    hooks = [c[0] for c in log.calls if "test" in c[0]]
    # 10 validation samples in one batch, each epoch
    assert hooks == ["on_test_begin", "on_test_batch_begin", "on_test_batch_end", "on_test_end"] * 2
    ends = [c[2] for c in log.calls if c[0] == "on_test_end"]
    assert [e["loss"] for e in ends] == pytest.approx(h.history["val_loss"])
    order = [c[0] for c in log.calls if c[0] in ("on_test_end", "on_epoch_end")]
    assert order == ["on_test_end", "on_epoch_end"] * 2


def test_evaluate_and_predict_print_a_line_when_verbose(capsys):
    model = _mlp()
    model.evaluate(X, Y, batch_size=16, verbose=2)
    model.predict(X, batch_size=16, verbose=2)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("Evaluate 3/3 - ") and "loss: " in lines[0]
    assert lines[1].startswith("Predict 3/3 - ") and len(lines) == 2
    model.evaluate(X, Y, verbose=0)
    model.predict(X)
    assert capsys.readouterr().out == ""


def test_evaluate_and_predict_callbacks_match_keras_hook_order():
    keras = _keras()
    seen = {}

    def recorder(base):
        class Rec(base):
            def __init__(self):
                super().__init__()
                self.calls = []
        for hook in ("on_test_begin", "on_test_batch_begin", "on_test_batch_end", "on_test_end",
                     "on_predict_begin", "on_predict_batch_begin", "on_predict_batch_end",
                     "on_predict_end"):
            setattr(Rec, hook, (lambda h: lambda self, *a, **kw: self.calls.append(h))(hook))
        return Rec()
    for name, k in (("keras", keras), ("nnmath", nk)):
        model = k.Sequential([k.Input((3,)), k.layers.Dense(1)])
        model.compile(optimizer="adam", loss="mse")
        rec = recorder(k.callbacks.Callback)
        model.evaluate(X, Y, batch_size=16, verbose=0, callbacks=[rec])
        model.predict(X, batch_size=16, verbose=0, callbacks=[rec])
        seen[name] = rec.calls
    assert seen["nnmath"] == seen["keras"]


# ------------------------------------------------------------------ 2. BackupAndRestore resumes fit
class Kill(cb.Callback):
    """Raises at the start of epoch ``at`` (a pre-empted job)."""

    def __init__(self, at):
        super().__init__()
        self.at = at

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.at:
            raise RuntimeError("killed")


def _dropout_model(seed):
    nk.utils.set_random_seed(seed)
    model = nk.Sequential([nk.Input((3,)), layers.Dense(8, activation="relu"),
                           layers.Dropout(0.3), layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    return model


def test_killed_fit_resumes_at_epoch_3_with_the_uninterrupted_weights(tmp_path):
    """Shuffling and dropout draw from the training generator, which the backup restores, so the
    resumed run is the uninterrupted one bit for bit."""
    ref = _dropout_model(0)
    ref_h = ref.fit(X, Y, epochs=6, batch_size=8, verbose=0)
    backup = cb.BackupAndRestore(str(tmp_path / "backup"))
    model = _dropout_model(0)
    with pytest.raises(RuntimeError, match="killed"):
        model.fit(X, Y, epochs=6, batch_size=8, verbose=0, callbacks=[backup, Kill(3)])
    assert os.path.exists(backup.path)
    again = _dropout_model(5)                         # a new process: other initial weights
    nk.utils.set_random_seed(123)                     # … and another generator state
    h = again.fit(X, Y, epochs=6, batch_size=8, verbose=0, callbacks=[backup])
    assert backup.restored_epoch == 3 and h.epoch == [3, 4, 5]
    assert h.history["loss"] == pytest.approx(ref_h.history["loss"][3:], rel=1e-6)
    for a, b in zip(again.get_weights(), ref.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    assert again.optimizer.iterations == ref.optimizer.iterations
    assert getattr(again, "_initial_epoch", None) is None
    assert not os.path.exists(backup.backup_dir)      # deleted once training completed
    h = again.fit(X, Y, epochs=2, batch_size=8, verbose=0, callbacks=[backup])
    assert h.epoch == [0, 1]                          # nothing to restore: a fresh start


# ------------------------------------------------------------------ 3. masks through models
TOKENS = np.array([[3, 1, 4, 0, 0], [2, 6, 5, 1, 2], [5, 0, 0, 0, 0], [1, 2, 0, 0, 0]])
TARGET = np.array([[0.5], [-1.0], [2.0], [0.0]], dtype="float32")


def _masked_seq(k, kind, with_input=True):
    head = [k.Input((None,), dtype="int32")] if with_input else []
    return k.Sequential(head + [k.layers.Embedding(7, 2, mask_zero=True),
                                getattr(k.layers, kind)(3), k.layers.Dense(1)])


@pytest.mark.parametrize("kind", ["LSTM", "GRU", "SimpleRNN"])
def test_sequential_embedding_mask_skips_padding_like_keras(kind):
    keras = _keras()
    keras.utils.set_random_seed(0)
    km, model = _masked_seq(keras, kind), _masked_seq(nk, kind)
    model.set_weights([np.asarray(w) for w in km.get_weights()])
    np.testing.assert_allclose(model(TOKENS), np.asarray(km(TOKENS)), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model.predict(TOKENS), np.asarray(km.predict(TOKENS, verbose=0)),
                               rtol=1e-5, atol=1e-6)
    # the padding changes nothing: a shorter sequence gives the same output
    np.testing.assert_allclose(model(TOKENS[2:3, :1]), model(TOKENS[2:3]), rtol=1e-6)
    # SGD: Adam's first step is ±η wherever |g| ≫ ε and amplifies float32 rounding where a
    # masked step leaves g ≈ 0, which says nothing about the gradient
    km.compile(optimizer=keras.optimizers.SGD(0.5), loss="mse")
    model.compile(optimizer=nk.optimizers.SGD(0.5), loss="mse")
    lk, ln = km.train_on_batch(TOKENS, TARGET), model.train_on_batch(TOKENS, TARGET)
    assert ln == pytest.approx(float(np.asarray(lk).ravel()[0]), rel=1e-5)
    for a, b in zip(model.get_weights(), km.get_weights()):
        np.testing.assert_allclose(a, np.asarray(b), rtol=1e-5, atol=1e-6)


def test_masked_model_without_input_trains_the_same_recorded_and_traced():
    runs = []
    for jit_compile in ("auto", False):
        nk.utils.set_random_seed(0)
        model = _masked_seq(nk, "LSTM", with_input=False)        # built from the first batch
        model.compile(optimizer="adam", loss="mse", jit_compile=jit_compile)
        model.fit(TOKENS, TARGET, epochs=3, batch_size=2, verbose=0)
        assert model.jit_compile == jit_compile                  # "auto" did not fall back
        runs.append(model)
    for a, b in zip(*(m.get_weights() for m in runs)):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(runs[0].predict(TOKENS), runs[1].predict(TOKENS))


def test_functional_masks_follow_each_tensor_like_keras():
    """Two token inputs, one masked and one not: the masked encoding and its LSTM sequence
    merged with Concatenate (the list of masks) and averaged over the real steps, the unmasked
    one averaged over every step. (Both merged tensors carry the same mask: nnmath's merges AND
    the masks where Keras ORs them — see the report.)"""
    keras = _keras()

    def build(k):
        a = k.Input((5,), dtype="int32", name="a")
        b = k.Input((5,), dtype="int32", name="b")
        ea = k.layers.Embedding(7, 2, mask_zero=True, name="ea")(a)
        eb = k.layers.Embedding(7, 2, name="eb")(b)
        seq = k.layers.LSTM(3, return_sequences=True, name="lstm")(ea)
        both = k.layers.Concatenate(name="cat")([seq, ea])
        pooled = k.layers.GlobalAveragePooling1D(name="pool")(both)
        plain = k.layers.GlobalAveragePooling1D(name="plain")(eb)
        last = k.layers.GRU(2, name="gru")(ea)
        return k.Model([a, b], [pooled, plain, last])
    km, model = build(keras), build(nk)
    for layer in model.layers:
        layer.set_weights([np.asarray(w) for w in km.get_layer(layer.name).get_weights()])
    other = (TOKENS[::-1] + 1) % 7
    for got, want in zip(model([TOKENS, other]), km([TOKENS, other])):
        np.testing.assert_allclose(got, np.asarray(want), rtol=1e-5, atol=1e-6)


# ------------------------------------------------------------------ 4. Keras's layer names
def test_auto_names_are_keras_snake_case_and_numbered():
    from nnmath.nn.layers.base import to_snake_case
    keras = pytest.importorskip("keras")
    from keras.src.utils.naming import to_snake_case as keras_snake
    names = [n for n in dir(layers) if n[:1].isupper() and isinstance(getattr(layers, n), type)
             and hasattr(keras.layers, n)]
    assert len(names) > 40
    assert [to_snake_case(n) for n in names] == [keras_snake(n) for n in names]
    assert [to_snake_case(n) for n in ("ReLU", "Conv2D", "LSTM", "PReLU", "Conv2DTranspose")] == [
        "re_lu", "conv2d", "lstm", "p_re_lu", "conv2d_transpose"]

    class MyReLUBlock(layers.Layer):
        def call(self, inputs):
            return inputs
    first, second = MyReLUBlock(), MyReLUBlock()
    assert (first.name, second.name) == ("my_re_lu_block", "my_re_lu_block_1")
    assert layers.ReLU().name.startswith("re_lu") and layers.Conv2D(1, 1).name.startswith("conv2d")


# ------------------------------------------------------------------ 5. one flat buffer per dtype
def _mixed(k, seed=0):
    if k is nk:
        nk.utils.set_random_seed(seed)
    return k.Sequential([k.Input((3,)), k.layers.Dense(4, activation="tanh"),
                         k.layers.Dense(3, activation="tanh", dtype="float64"),
                         k.layers.Dense(1)])


def test_single_dtype_model_keeps_one_buffer():
    model = _mlp()
    assert isinstance(model.flat_params, np.ndarray) and model.flat_params.dtype == np.float32
    assert all(np.shares_memory(model.flat_params, l.values["kernel"]) for l in model.layers)


def test_a_float64_layer_keeps_the_rest_float32_trains_saves_and_reloads(tmp_path):
    model = _mixed(nk)
    model.compile(optimizer="adam", loss="mse")
    dtypes = [w.dtype.name for w in model.get_weights()]
    assert dtypes == ["float32"] * 2 + ["float64"] * 2 + ["float32"] * 2
    assert [b.dtype.name for b in model.flat_params] == ["float32", "float64"]
    assert model.predict(X).dtype == np.float32                  # the last Dense casts back
    before = model.get_weights()
    h = model.fit(X, Y, epochs=3, batch_size=8, verbose=0)
    assert h.history["loss"][-1] < h.history["loss"][0]
    assert [w.dtype.name for w in model.get_weights()] == dtypes
    assert all(not np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
    path = str(tmp_path / "mixed.npz")
    model.save(path)
    again = nk.models.load_model(path)
    assert [w.dtype.name for w in again.get_weights()] == dtypes
    np.testing.assert_array_equal(again.predict(X), model.predict(X))
    # the optimizer state of both buffers came back: both continue alike
    model.fit(X, Y, epochs=1, batch_size=8, verbose=0, shuffle=False)
    again.fit(X, Y, epochs=1, batch_size=8, verbose=0, shuffle=False)
    for a, b in zip(again.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("opt", ["adam", "sgd_clip", "optax"])
def test_two_buffers_follow_the_pytree_path(opt):
    """The flat path over two buffers (float32 and float64) is the pure path over the weights:
    one iteration count, one learning rate, global_clipnorm measured over both."""
    from nnmath import optimizers as optim
    from nnmath.training.optax_adapter import TransformOptimizer
    make = {"adam": lambda: optim.Adam(1e-2),
            "sgd_clip": lambda: optim.SGD(0.1, momentum=0.9, global_clipnorm=0.5),
            "optax": lambda: TransformOptimizer(optim.adam(1e-2))}[opt]
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=5).astype("float32"), rng.normal(size=4)
    flat, pure = make(), make()
    bufs = [a.copy(), b.copy()]
    flat.init_flat(bufs, sizes=[[2, 3], [4]])
    params = [a[:2].copy(), a[2:].copy(), b.copy()]
    state = pure.transform.init(params)
    for step in range(4):
        ga, gb = rng.normal(size=5).astype("float32"), rng.normal(size=4)
        flat.update_flat(bufs, [ga, gb])
        updates, state = pure.transform.update([ga[:2], ga[2:], gb], state, params)
        params = [p + np.asarray(u, p.dtype) for p, u in zip(params, updates)]
    assert bufs[0].dtype == np.float32 and bufs[1].dtype == np.float64
    np.testing.assert_allclose(bufs[0], np.concatenate(params[:2]), rtol=1e-6)
    np.testing.assert_allclose(bufs[1], params[2], rtol=1e-12)
    if opt != "optax":
        restored = make()
        restored.set_flat_state(flat.flat_state())
        assert restored.iterations == 4 and set(restored.flat_state()) == set(flat.flat_state())


def test_mixed_dtype_model_matches_keras_forward_and_adam_step():
    keras = _keras()
    import jax
    jax.config.update("jax_enable_x64", True)            # float64 in Keras (as test_keras_layers)
    km, model = _mixed(keras), _mixed(nk)
    model.set_weights([np.asarray(w) for w in km.get_weights()])
    assert [w.dtype for w in model.get_weights()] == [np.dtype(w.dtype) for w in km.get_weights()]
    np.testing.assert_allclose(model(X), np.asarray(km(X)), rtol=1e-5, atol=1e-6)
    assert np.asarray(km(X)).dtype == model(X).dtype
    km.compile(optimizer=keras.optimizers.Adam(1e-2), loss="mse")
    model.compile(optimizer=nk.optimizers.Adam(1e-2), loss="mse")
    lk, ln = km.train_on_batch(X, Y), model.train_on_batch(X, Y)
    assert ln == pytest.approx(float(np.asarray(lk).ravel()[0]), rel=1e-5)
    for a, b in zip(model.get_weights(), km.get_weights()):
        np.testing.assert_allclose(a, np.asarray(b), rtol=1e-5, atol=1e-6)


# ------------------------------------------------------------------ 6. dict inputs and outputs
def _dict_model(k):
    a, b = k.Input((3,), name="a"), k.Input((2,), name="b")
    h = k.layers.Dense(5, activation="relu", name="hid")(k.layers.Concatenate(name="cat")([a, b]))
    return k.Model({"a": a, "b": b}, {"reg": k.layers.Dense(1, name="reg_head")(h),
                                      "cls": k.layers.Dense(3, activation="softmax",
                                                            name="cls_head")(h)})


DX = {"a": R.normal(size=(16, 3)).astype("float32"), "b": R.normal(size=(16, 2)).astype("float32")}
DY = {"reg": R.normal(size=(16, 1)).astype("float32"),
      "cls": np.eye(3, dtype="float32")[R.integers(0, 3, 16)]}


def test_dict_inputs_and_outputs_match_keras(tmp_path):
    keras = _keras()
    km, model = _dict_model(keras), _dict_model(nk)
    for layer in model.layers:
        layer.set_weights([np.asarray(w) for w in km.get_layer(layer.name).get_weights()])
    got, want = model.predict(DX), km.predict(DX, verbose=0)
    assert isinstance(got, dict) and set(got) == set(want) == {"reg", "cls"}
    for key in want:
        np.testing.assert_allclose(got[key], np.asarray(want[key]), rtol=1e-5, atol=1e-6)
    for k, m in ((keras, km), (nk, model)):
        m.compile(optimizer=k.optimizers.Adam(1e-2),
                  loss={"reg": "mse", "cls": "categorical_crossentropy"},
                  loss_weights={"reg": 0.5, "cls": 1.0}, metrics={"cls": ["accuracy"]})
    lk = km.train_on_batch(DX, DY, return_dict=True)
    ln = model.train_on_batch(DX, DY, return_dict=True)
    assert set(ln) == set(lk) == {"loss", "reg_loss", "cls_loss", "cls_accuracy"}
    assert ln == pytest.approx({k: float(v) for k, v in lk.items()}, rel=1e-5)
    for layer in model.layers:
        for a, b in zip(layer.get_weights(), km.get_layer(layer.name).get_weights()):
            np.testing.assert_allclose(a, np.asarray(b), rtol=1e-5, atol=1e-6)
    h = model.fit(DX, DY, epochs=2, verbose=0, validation_split=0.25)
    assert {"val_reg_loss", "val_cls_accuracy"} <= set(h.history)
    assert isinstance(model.apply(model.params, DX), dict)
    again = nk.Model.from_config(model.get_config())
    assert isinstance(again.predict(DX), dict)
    path = str(tmp_path / "dict.npz")
    model.save(path)
    loaded = nk.models.load_model(path)
    np.testing.assert_array_equal(loaded.predict(DX)["cls"], model.predict(DX)["cls"])
    with pytest.raises(ValueError, match="inputs are"):
        model.predict({"a": DX["a"]})
    with pytest.raises(ValueError, match="missing"):
        model({"a": DX["a"], "c": DX["b"]})


# ------------------------------------------------------------------ 6. custom train_step / test_step
class _Net(nk.Model):
    def __init__(self):
        super().__init__()
        self.hidden = layers.Dense(4, activation="tanh")
        self.out = layers.Dense(1)

    def call(self, inputs, training=None):
        return self.out(self.hidden(inputs))


class _CustomStep(_Net):
    """The step written by hand (nnmath's form of Keras's custom train_step)."""

    def __init__(self):
        super().__init__()
        self.loss_tracker = nk.metrics.Mean(name="loss")
        self.test_calls = 0

    def train_step(self, data):
        x, y = data

        def loss_fn(params):
            return self.compute_loss(y=y, y_pred=self.apply(params, x, training=True))
        loss, grads = nm.value_and_grad(loss_fn)(self.params)
        self.apply_gradients(grads)
        self.loss_tracker.update_state(loss)
        return {"loss": self.loss_tracker.result()}

    def test_step(self, data):
        self.test_calls += 1
        x, y = data
        self.loss_tracker.update_state(self.compute_loss(y=y, y_pred=self(x)))
        return {"loss": self.loss_tracker.result()}


def test_custom_train_step_is_the_built_in_step():
    models = []
    for cls in (_Net, _CustomStep):
        nk.utils.set_random_seed(0)
        model = cls()
        model.compile(optimizer="adam", loss="mse")
        models.append((model, model.fit(X, Y, epochs=3, batch_size=8, verbose=0,
                                        validation_data=(X[:8], Y[:8]))))
    (ref, ref_h), (own, own_h) = models
    for a, b in zip(own.get_weights(), ref.get_weights()):
        np.testing.assert_array_equal(a, b)
    # the tracker is reset every epoch, so its result is the epoch mean, as built-in fit reports
    assert own_h.history["loss"] == pytest.approx(ref_h.history["loss"], rel=1e-5)
    assert own_h.history["val_loss"] == pytest.approx(ref_h.history["val_loss"], rel=1e-5)
    assert own.test_calls == 3 and own.loss_tracker in own.metrics
    assert own.evaluate(X, Y, batch_size=40, verbose=0) == pytest.approx(
        ref.evaluate(X, Y, verbose=0), rel=1e-5)
    assert own.train_on_batch(X, Y) == pytest.approx(ref.train_on_batch(X, Y), rel=1e-5)


def test_super_train_step_and_stateless_call():
    class Logged(_Net):
        def train_step(self, data):
            logs = super().train_step(data)
            return {**logs, "seen": float(len(data[0]))}
    nk.utils.set_random_seed(0)
    model = Logged()
    model.compile(optimizer="adam", loss="mse")
    h = model.fit(X, Y, epochs=1, batch_size=16, verbose=0)
    assert h.history["seen"] == [8.0]                  # the last batch's logs (Keras)
    nk.utils.set_random_seed(0)
    bn = nk.Sequential([nk.Input((3,)), layers.Dense(4), layers.BatchNormalization(),
                        layers.Dense(1)])
    trainable = [np.asarray(v) for v in bn.trainable_variables]
    non_trainable = [np.asarray(v) for v in bn.non_trainable_variables]
    y, new = bn.stateless_call(trainable, non_trainable, X, training=True)
    ref, ref_state = bn.apply_with_state(bn.params, X, training=True)
    np.testing.assert_allclose(y, ref, rtol=1e-6)
    assert not np.allclose(new[0], non_trainable[0])   # the moving mean moved
    g = nm.grad(lambda t: bn.stateless_call(t, non_trainable, X)[0].sum())(trainable)
    assert [a.shape for a in g] == [a.shape for a in trainable]


def test_wgan_gp_critic_trains_in_a_custom_step():
    """A WGAN-GP critic (Gulrajani et al. 2017, Alg. 1, critic side) on N((2, 1), I) against
    N(0, I): the Wasserstein loss from compile, the gradient penalty of the critic's
    input-gradient in the step; E[D(real)] − E[D(fake)] then estimates W₁ = ‖(2, 1)‖ = √5."""
    from nnmath.analysis.transport import WassersteinLoss, gradient_penalty

    class Critic(nk.Model):
        def __init__(self):
            super().__init__()
            self.hidden = layers.Dense(32, activation="tanh")
            self.score = layers.Dense(1)
            self.gp_rng, self.fake_rng = np.random.default_rng(1), np.random.default_rng(2)

        def call(self, inputs):
            return self.score(self.hidden(inputs))

        def train_step(self, real):
            n = len(real)
            fake = self.fake_rng.normal(size=real.shape).astype("float32")
            x = np.concatenate([real, fake])
            labels = np.concatenate([-np.ones((n, 1)), np.ones((n, 1))]).astype("float32")

            def loss_fn(params):
                w = self.compute_loss(y=labels, y_pred=self.apply(params, x, training=True))
                gp = gradient_penalty(self.apply, params, real, fake, rng=self.gp_rng)
                return w + gp, (w, gp)
            (loss, (w, gp)), grads = nm.value_and_grad(loss_fn, has_aux=True)(self.params)
            self.apply_gradients(grads)
            return {"loss": loss, "w1": -2 * w, "gp": gp}

    rng = np.random.default_rng(0)
    shift = np.array([2.0, 1.0])
    nk.utils.set_random_seed(0)
    critic = Critic()
    critic.compile(optimizer=nk.optimizers.Adam(1e-2, beta_1=0.5, beta_2=0.9),
                   loss=WassersteinLoss())
    h = critic.fit((rng.normal(size=(256, 2)) + shift).astype("float32"), epochs=15,
                   batch_size=64, verbose=0)
    assert h.history["w1"][0] < 1.0 and h.history["gp"][-1] < 0.5
    real = (rng.normal(size=(4000, 2)) + shift).astype("float32")
    fake = rng.normal(size=(4000, 2)).astype("float32")
    estimate = float(critic.predict(real).mean() - critic.predict(fake).mean())
    assert estimate == pytest.approx(np.sqrt(5.0), rel=0.15)


# ------------------------------------------------------------------ 7. the Input's dtype wins
def test_input_dtype_decides_the_input_rounding_like_keras():
    """Keras 3 converts the data to the Input's dtype (float32 by default) before a
    ``dtype="float64"`` first layer casts it up; ``Input(..., dtype="float64")`` keeps it."""
    keras = _keras()
    import jax
    jax.config.update("jax_enable_x64", True)
    x = np.array([[1 + 1e-10, 0.1, 1 / 3, 2 / 3]])
    for dtype in (None, "float64"):
        outs = []
        for k in (keras, nk):
            inp = k.Input((4,)) if dtype is None else k.Input((4,), dtype=dtype)
            model = k.Sequential([inp, k.layers.Dense(1, dtype="float64", use_bias=False,
                                                      kernel_initializer="ones")])
            outs.append(np.asarray(model(x)))
        np.testing.assert_array_equal(outs[1], outs[0])
        assert outs[1].dtype == np.float64
        assert bool(outs[1][0, 0] == x.sum()) is (dtype == "float64")


def test_evaluate_includes_weight_regularisers_as_keras():
    """Keras adds ``Model.losses`` (the regularisers) to the evaluation loss too, not only to the
    training loss: evaluate of a zero-error model with L2 on its kernel is λ‖W‖²."""
    import numpy as np
    from nnmath import keras as nk
    m = nk.Sequential([nk.Input((3,)), nk.layers.Dense(2, kernel_initializer="ones",
                                                       kernel_regularizer=nk.regularizers.L2(1.0))])
    m.compile(loss="mse")
    x, y = np.zeros((4, 3), "float32"), np.zeros((4, 2), "float32")
    assert m.evaluate(x, y, verbose=0) == 6.0           # real Keras 3 gives 6.0
    assert m.train_on_batch(x, y) == 6.0
