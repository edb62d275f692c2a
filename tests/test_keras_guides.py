"""The official Keras 3 guides (keras-io ``guides/``: sequential_model, functional_api,
training_with_built_in_methods, writing_your_own_callbacks, making_new_layers_and_models_via_
subclassing, serialization_and_saving, understanding_masking_and_padding, custom_train_step_in_jax)
run on ``nnmath.keras`` with only the import changed: their representative snippets, at small
sizes on synthetic data. Where the layers exist in real Keras 3 (JAX backend, test-only), the same
code runs on both and forward outputs / one training step agree to 1e-5 in float32 on the same
weights."""
import os

import numpy as np
import pytest

from keras_reference import real_keras as _keras  # noqa: E402  (sets KERAS_BACKEND first)

import nnmath as nm
from nnmath import keras as nk

TOL = dict(rtol=1e-5, atol=1e-5)


def _same_weights(src_keras, dst):
    dst.set_weights([np.asarray(w) for w in src_keras.get_weights()])


def guide_layers(keras):
    """The guides' custom layers, written once for either ``keras`` module."""
    ops, layers = keras.ops, keras.layers

    class LogisticEndpoint(layers.Layer):            # training_with_built_in_methods
        def __init__(self, name=None):
            super().__init__(name=name)
            self.loss_fn = keras.losses.BinaryCrossentropy(from_logits=True)

        def call(self, targets, logits, sample_weights=None):
            self.add_loss(self.loss_fn(targets, logits, sample_weights))
            return ops.softmax(logits)

    class MyActivation(layers.Layer):                # understanding_masking_and_padding
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.supports_masking = True

        def call(self, inputs):
            return ops.relu(inputs)

    class TemporalSoftmax(layers.Layer):
        def call(self, inputs, mask=None):
            m = ops.expand_dims(ops.cast(mask, "float32"), -1)
            e = ops.exp(inputs) * m
            return e / ops.sum(inputs * m, axis=1, keepdims=True)

    class TemporalSplit(layers.Layer):
        def call(self, inputs):
            return ops.split(inputs, 2, axis=1)

        def compute_mask(self, inputs, mask=None):
            return None if mask is None else ops.split(mask, 2, axis=1)

    class CustomEmbedding(layers.Layer):             # a user layer that makes the mask
        def __init__(self, input_dim, output_dim, mask_zero=False, **kwargs):
            super().__init__(**kwargs)
            self.input_dim, self.output_dim, self.mask_zero = input_dim, output_dim, mask_zero

        def build(self, input_shape):
            self.embeddings = self.add_weight(shape=(self.input_dim, self.output_dim),
                                              initializer="random_normal", dtype="float32")

        def call(self, inputs):
            return ops.take(self.embeddings, inputs, axis=0)

        def compute_mask(self, inputs, mask=None):
            return ops.not_equal(inputs, 0) if self.mask_zero else None

    class MaskedSum(layers.Layer):                   # a mask consumer after a merge
        def call(self, inputs, mask=None):
            return ops.sum(inputs * ops.expand_dims(ops.cast(mask, inputs.dtype), -1), axis=1)

    return dict(LogisticEndpoint=LogisticEndpoint, MyActivation=MyActivation,
                TemporalSoftmax=TemporalSoftmax, TemporalSplit=TemporalSplit, MaskedSum=MaskedSum,
                CustomEmbedding=CustomEmbedding)


N = guide_layers(nk)


# ------------------------------------------------------------------ the Sequential model
def test_sequential_guide_add_pop_summary_and_input_shapes():
    layers = nk.layers
    model = nk.Sequential()
    model.add(layers.Dense(2, activation="relu"))
    model.add(layers.Dense(3, activation="relu"))
    model.add(layers.Dense(4))
    model.pop()
    assert len(model.layers) == 2
    layer = layers.Dense(3)
    assert layer.weights == []
    layer(np.ones((1, 4)))
    assert [w.shape for w in layer.weights] == [(4, 3), (3,)]
    model = nk.Sequential([layers.Dense(2, activation="relu"), layers.Dense(3), layers.Dense(4)])
    with pytest.raises(AttributeError, match="no defined inputs"):
        model.inputs
    model(np.ones((1, 4)))
    assert len(model.weights) == 6
    model = nk.Sequential()
    model.add(nk.Input(shape=(250, 250, 3)))
    model.add(layers.Conv2D(32, 5, strides=2, activation="relu"))
    model.add(layers.Conv2D(32, 3, activation="relu"))
    model.add(layers.MaxPooling2D(3))
    lines = []
    model.summary(print_fn=lines.append)
    assert "(None, 40, 40, 32)" in "\n".join(lines)          # the guide's answer
    assert model.output.shape == (None, 40, 40, 32)
    for _ in range(2):
        model.add(layers.Conv2D(32, 3, activation="relu"))
    model.add(layers.MaxPooling2D(2))
    model.add(layers.GlobalMaxPooling2D())
    model.add(layers.Dense(10))
    assert model.output_shape == (None, 10) and model.output.shape == (None, 10)


def test_sequential_feature_extraction_matches_keras():
    keras = _keras()
    x = np.random.default_rng(0).normal(size=(2, 20, 20, 3)).astype("float32")
    built = []
    for k in (keras, nk):
        initial = k.Sequential([k.Input(shape=(20, 20, 3)),
                                k.layers.Conv2D(4, 5, strides=2, activation="relu"),
                                k.layers.Conv2D(4, 3, activation="relu", name="my_intermediate"),
                                k.layers.Conv2D(4, 3, activation="relu")])
        every = k.Model(inputs=initial.inputs, outputs=[l.output for l in initial.layers])
        one = k.Model(inputs=initial.inputs,
                      outputs=initial.get_layer(name="my_intermediate").output)
        built.append((initial, every, one))
    (ki, ke, ko), (ni, ne, no) = built
    _same_weights(ki, ni)
    for a, b in zip(ne(x), ke(x)):
        np.testing.assert_allclose(a, np.asarray(b), **TOL)
    np.testing.assert_allclose(no(x), np.asarray(ko(x)), **TOL)
    assert [a.shape for a in ne(x)] == [(2, 8, 8, 4), (2, 6, 6, 4), (2, 4, 4, 4)]


def test_sequential_transfer_learning_trains_only_unfrozen_layers():
    model = nk.Sequential([nk.Input(shape=(6,)), nk.layers.Dense(5, activation="relu"),
                           nk.layers.Dense(5, activation="relu"), nk.layers.Dense(2)])
    for layer in model.layers[:-1]:
        layer.trainable = False
    model.compile(optimizer="adam", loss="mse")
    before = model.get_weights()
    model.fit(np.random.rand(16, 6), np.random.rand(16, 2), verbose=0)
    changed = [not np.array_equal(a, b) for a, b in zip(before, model.get_weights())]
    assert changed == [False] * 4 + [True, True]
    base = nk.Sequential([nk.Input(shape=(5,)), nk.layers.Dense(4)])
    base.trainable = False
    model = nk.Sequential([base, nk.layers.Dense(3)])
    model.compile(optimizer="adam", loss="mse")
    before = model.get_weights()
    model.fit(np.random.rand(8, 5), np.random.rand(8, 3), verbose=0)
    changed = [not np.array_equal(a, b) for a, b in zip(before, model.get_weights())]
    assert changed == [False, False, True, True]


# ------------------------------------------------------------------ the functional API
def test_functional_guide_nested_models_ensemble_and_shared_layers():
    layers = nk.layers
    enc_in = nk.Input(shape=(28, 28, 1), name="original_img")
    x = layers.Conv2D(4, 3, activation="relu")(enc_in)
    x = layers.MaxPooling2D(3)(x)
    x = layers.Conv2D(4, 3, activation="relu")(x)
    encoder = nk.Model(enc_in, layers.GlobalMaxPooling2D()(layers.Conv2D(16, 3)(x)), name="enc")
    dec_in = nk.Input(shape=(16,), name="encoded_img")
    x = layers.Reshape((4, 4, 1))(dec_in)
    x = layers.Conv2DTranspose(4, 3, activation="relu")(x)
    x = layers.Conv2DTranspose(4, 3, activation="relu")(x)
    x = layers.UpSampling2D(3)(x)
    x = layers.Conv2DTranspose(4, 3, activation="relu")(x)
    decoder = nk.Model(dec_in, layers.Conv2DTranspose(1, 3, activation="relu")(x), name="dec")
    img = nk.Input(shape=(28, 28, 1), name="img")
    autoencoder = nk.Model(img, decoder(encoder(img)), name="autoencoder")
    assert autoencoder(np.zeros((2, 28, 28, 1))).shape == (2, 28, 28, 1)

    def get_model():
        inputs = nk.Input(shape=(8,))
        return nk.Model(inputs, layers.Dense(1)(inputs))
    members = [get_model() for _ in range(3)]
    inputs = nk.Input(shape=(8,))
    ensemble = nk.Model(inputs, layers.average([m(inputs) for m in members]))
    x = np.random.rand(3, 8).astype("float32")
    np.testing.assert_allclose(ensemble(x), np.mean([m(x) for m in members], axis=0), **TOL)
    shared = layers.Embedding(100, 4)
    a, b = nk.Input(shape=(None,), dtype="int32"), nk.Input(shape=(None,), dtype="int32")
    both = nk.Model([a, b], layers.concatenate([shared(a), shared(b)]))
    ta = np.array([[1, 2, 3]])
    out = both([ta, ta])
    np.testing.assert_array_equal(out[..., :4], out[..., 4:])      # one weight, used twice


def test_functional_guide_multi_input_output_model_matches_keras_step():
    keras = _keras()
    rng = np.random.default_rng(1)
    data = {"title": rng.integers(1, 50, (8, 5)), "body": rng.integers(1, 50, (8, 7)),
            "tags": rng.integers(0, 2, (8, 3)).astype("float32")}
    targets = {"priority": rng.random((8, 1)).astype("float32"),
               "department": rng.integers(0, 2, (8, 4)).astype("float32")}
    models = []
    for k in (keras, nk):
        L = k.layers
        title, body = k.Input(shape=(None,), name="title"), k.Input(shape=(None,), name="body")
        tags = k.Input(shape=(3,), name="tags")
        t = L.LSTM(6)(L.Embedding(50, 4)(title))
        b = L.LSTM(3)(L.Embedding(50, 4)(body))
        x = L.concatenate([t, b, tags])
        model = k.Model([title, body, tags], [L.Dense(1, name="priority")(x),
                                              L.Dense(4, name="department")(x)])
        model.compile(optimizer=k.optimizers.RMSprop(1e-3),
                      loss={"priority": k.losses.BinaryCrossentropy(from_logits=True),
                            "department": k.losses.CategoricalCrossentropy(from_logits=True)},
                      loss_weights={"priority": 1.0, "department": 0.2})
        models.append(model)
    km, nmm = models
    _same_weights(km, nmm)
    lk = km.train_on_batch(data, targets, return_dict=True)
    ln = nmm.train_on_batch(data, targets, return_dict=True)
    assert ln["loss"] == pytest.approx(float(lk["loss"]), rel=1e-5)
    for a, b in zip(nmm.get_weights(), km.get_weights()):
        np.testing.assert_allclose(a, np.asarray(b), **TOL)


def test_layer_with_two_tensor_arguments_and_compile_without_loss_matches_keras():
    keras = _keras()
    K = guide_layers(keras)
    rng = np.random.default_rng(2)
    data = {"inputs": rng.random((6, 3)).astype("float32"),
            "targets": rng.random((6, 10)).astype("float32")}
    models = []
    for k, C in ((keras, K), (nk, N)):
        inputs, targets = k.Input(shape=(3,), name="inputs"), k.Input(shape=(10,), name="targets")
        logits = k.layers.Dense(10)(inputs)
        predictions = C["LogisticEndpoint"](name="predictions")(targets, logits)   # two tensors
        model = k.Model(inputs=[inputs, targets], outputs=predictions)
        model.compile(optimizer=k.optimizers.Adam(0.01))                           # no loss
        models.append(model)
    km, nmm = models
    _same_weights(km, nmm)
    np.testing.assert_allclose(nmm.predict(data, verbose=0), km.predict(data, verbose=0), **TOL)
    lk, ln = km.train_on_batch(data), nmm.train_on_batch(data)
    assert float(ln) == pytest.approx(float(np.ravel(lk)[0]), rel=1e-5)
    for a, b in zip(nmm.get_weights(), km.get_weights()):
        np.testing.assert_allclose(a, np.asarray(b), **TOL)
    assert [type(l).__name__ for l in nmm.layers] == [type(l).__name__ for l in km.layers]


def test_an_output_without_a_loss_keeps_the_weights_of_the_others_like_keras():
    keras = _keras()
    rng = np.random.default_rng(3)
    x = rng.random((16, 4)).astype("float32")
    y = [rng.random((16, 1)).astype("float32"), rng.random((16, 5)).astype("float32")]
    models = []
    for k in (keras, nk):
        a = k.Input((4,))
        h = k.layers.Dense(3)(a)
        m = k.Model(a, [k.layers.Dense(1, name="score_output")(h),
                        k.layers.Dense(5, name="class_output")(h)])
        m.compile(optimizer=k.optimizers.SGD(0.1), loss=[None, "mse"], loss_weights=[2.0, 3.0])
        models.append(m)
    km, nmm = models
    _same_weights(km, nmm)
    lk = km.train_on_batch(x, y, return_dict=True)
    ln = nmm.train_on_batch(x, y, return_dict=True)
    assert set(ln) == set(lk) == {"loss"}                 # no per-output log for a single loss
    assert ln["loss"] == pytest.approx(float(lk["loss"]), rel=1e-5)
    for a, b in zip(nmm.get_weights(), km.get_weights()):
        np.testing.assert_allclose(a, np.asarray(b), **TOL)


# ------------------------------------------------------------------ training & evaluation
def _digits_like(n=96, d=12, seed=4):
    rng = np.random.default_rng(seed)
    return rng.random((n, d)).astype("float32"), rng.integers(0, 10, n).astype("float32")


def _uncompiled(d=12):
    inputs = nk.Input(shape=(d,), name="digits")
    x = nk.layers.Dense(8, activation="relu", name="dense_1")(inputs)
    return nk.Model(inputs, nk.layers.Dense(10, activation="softmax", name="predictions")(x))


def test_training_guide_custom_losses_metrics_and_add_loss():
    x, y = _digits_like()
    ops = nk.ops

    def custom_mean_squared_error(y_true, y_pred):
        return ops.mean(ops.square(y_true - y_pred), axis=-1)

    class CustomMSE(nk.losses.Loss):
        def __init__(self, regularization_factor=0.1, name="custom_mse"):
            super().__init__(name=name)
            self.regularization_factor = regularization_factor

        def call(self, y_true, y_pred):
            mse = ops.mean(ops.square(y_true - y_pred), axis=-1)
            return mse + ops.mean(ops.square(0.5 - y_pred), axis=-1) * self.regularization_factor

    class CategoricalTruePositives(nk.metrics.Metric):
        def __init__(self, name="categorical_true_positives", **kwargs):
            super().__init__(name=name, **kwargs)
            self.true_positives = self.add_variable(shape=(), name="ctp", initializer="zeros")

        def update_state(self, y_true, y_pred, sample_weight=None):
            y_pred = ops.reshape(ops.argmax(y_pred, axis=1), (-1, 1))
            values = ops.cast(ops.cast(y_true, "int32") == ops.cast(y_pred, "int32"), "float32")
            self.true_positives.assign_add(ops.sum(values))

        def result(self):
            return self.true_positives

    one_hot = ops.one_hot(y, num_classes=10)
    for loss in (custom_mean_squared_error, CustomMSE()):
        model = _uncompiled()
        model.compile(optimizer=nk.optimizers.Adam(), loss=loss)
        h = model.fit(x, one_hot, batch_size=32, epochs=2, verbose=0)
        assert np.all(np.isfinite(h.history["loss"]))
    model = _uncompiled()
    model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy",
                  metrics=[CategoricalTruePositives()])
    h = model.fit(x, y[:, None], batch_size=32, epochs=1, verbose=0)
    assert 0 <= h.history["categorical_true_positives"][0] <= len(x)
    probs = model.predict(x, verbose=0)
    metric = CategoricalTruePositives()
    metric.update_state(y[:, None], probs)
    assert float(metric.result()) == np.sum(np.argmax(probs, axis=1) == y)
    metric.reset_state()
    assert float(metric.result()) == 0.0

    class ActivityRegularizationLayer(nk.layers.Layer):
        def call(self, inputs):
            self.add_loss(ops.sum(inputs) * 0.1)
            return inputs
    inputs = nk.Input(shape=(12,))
    h = ActivityRegularizationLayer()(nk.layers.Dense(8, activation="relu")(inputs))
    model = nk.Model(inputs, nk.layers.Dense(10)(h))
    model.compile(optimizer="rmsprop",
                  loss=nk.losses.SparseCategoricalCrossentropy(from_logits=True))
    plain = model.evaluate(x, y, verbose=0)
    model.fit(x, y, batch_size=96, epochs=1, verbose=0)   # its loss includes the added term
    assert np.isfinite(plain)


class _Batches(nk.utils.PyDataset):
    def __init__(self, x, y, batch_size, **kwargs):
        super().__init__(**kwargs)
        self.x, self.y, self.batch_size = x, y, batch_size

    def __len__(self):
        return int(np.ceil(len(self.x) / float(self.batch_size)))

    def __getitem__(self, idx):
        sl = slice(idx * self.batch_size, (idx + 1) * self.batch_size)
        return self.x[sl], self.y[sl]


def test_training_guide_pydataset_weights_and_callbacks(tmp_path):
    x, y = _digits_like()
    model = _uncompiled()
    model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy",
                  metrics=["sparse_categorical_accuracy"])
    train, val = _Batches(x[:64], y[:64], 32), _Batches(x[64:], y[64:], 32, workers=2)
    h = model.fit(train, batch_size=64, validation_data=val, epochs=1, verbose=0)  # as the guide
    assert set(h.history) == {"loss", "sparse_categorical_accuracy", "val_loss",
                              "val_sparse_categorical_accuracy"}
    assert len(model.evaluate(val, verbose=0)) == 2
    class_weight = {i: 1.0 for i in range(10)}
    class_weight[5] = 2.0
    model.fit(x, y, class_weight=class_weight, batch_size=64, epochs=1, verbose=0)
    sample_weight = np.where(y == 5, 2.0, 1.0)
    model.fit(x, y, sample_weight=sample_weight, batch_size=64, epochs=1, verbose=0)
    os.chdir(tmp_path)
    stop = nk.callbacks.EarlyStopping(monitor="val_loss", min_delta=1e-2, patience=2)
    h = model.fit(x, y, epochs=20, batch_size=64, callbacks=[stop], validation_split=0.2,
                  verbose=0)
    assert len(h.history["loss"]) < 20
    ckpt = nk.callbacks.ModelCheckpoint(filepath="mymodel_{epoch}.keras", save_best_only=True,
                                        monitor="val_loss")
    model.fit(x, y, epochs=2, batch_size=64, callbacks=[ckpt], validation_split=0.2, verbose=0)
    assert os.path.exists("mymodel_1.keras")
    os.makedirs("ckpt")
    per_batches = nk.callbacks.ModelCheckpoint(filepath="ckpt/model-loss={loss:.2f}.keras",
                                               save_freq=1)
    model.fit(x, y, epochs=1, batch_size=32, callbacks=[per_batches], verbose=0)
    latest = max(("ckpt/" + n for n in os.listdir("ckpt")), key=os.path.getctime)
    restored = nk.models.load_model(latest)
    np.testing.assert_allclose(restored.predict(x, verbose=0), model.predict(x, verbose=0))
    schedule = nk.optimizers.schedules.ExponentialDecay(0.1, decay_steps=100000,
                                                        decay_rate=0.96, staircase=True)
    model.compile(optimizer=nk.optimizers.RMSprop(learning_rate=schedule),
                  loss="sparse_categorical_crossentropy")
    model.fit(x, y, epochs=1, verbose=0)


def test_steps_per_epoch_draws_batches_from_one_stream_across_epochs():
    x, y = _digits_like(n=10)
    sizes = []

    class Sizes(nk.layers.Layer):
        def call(self, inputs, training=None):
            if training:
                sizes[-1].append(int(inputs.shape[0]))
            return inputs

    class Epochs(nk.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            sizes.append([])

    model = nk.Sequential([nk.Input((12,)), Sizes(), nk.layers.Dense(10, activation="softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", run_eagerly=True)
    h = model.fit(x, y, batch_size=4, steps_per_epoch=2, epochs=3, shuffle=False, verbose=0,
                  callbacks=[Epochs()])
    # the 10 samples in batches of 4, 4, 2, then again from the start, as Keras 3's iterator
    assert sizes == [[4, 4], [2, 4], [4, 2]] and len(h.history["loss"]) == 3
    with pytest.raises(ValueError, match="steps_per_epoch must be a positive integer"):
        model.fit(x, y, steps_per_epoch=0, verbose=0)
    h = model.fit(x, y, batch_size=4, epochs=1, validation_data=(x, y), validation_steps=1,
                  verbose=0)
    assert "val_loss" in h.history


# ------------------------------------------------------------------ writing your own callbacks
def test_callbacks_guide_hooks_logs_early_stopping_and_lr_schedule():
    x = np.random.default_rng(5).random((64, 8)).astype("float32")
    y = x.sum(axis=1)

    def get_model():
        model = nk.Sequential([nk.layers.Dense(1)])
        model.compile(optimizer=nk.optimizers.RMSprop(learning_rate=0.1),
                      loss="mean_squared_error", metrics=["mean_absolute_error"])
        return model

    seen = []

    class LossAndErrorPrintingCallback(nk.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            seen.append(("train", batch, logs["loss"]))

        def on_test_batch_end(self, batch, logs=None):
            seen.append(("test", batch, logs["loss"]))

        def on_epoch_end(self, epoch, logs=None):
            seen.append(("epoch", epoch, logs["loss"], logs["mean_absolute_error"]))

    model = get_model()
    model.fit(x, y, batch_size=32, epochs=2, verbose=0, callbacks=[LossAndErrorPrintingCallback()])
    model.evaluate(x, y, batch_size=32, verbose=0, callbacks=[LossAndErrorPrintingCallback()])
    assert [s[:2] for s in seen] == [("train", 0), ("train", 1), ("epoch", 0), ("train", 0),
                                     ("train", 1), ("epoch", 1), ("test", 0), ("test", 1)]

    class EarlyStoppingAtMinLoss(nk.callbacks.Callback):
        def __init__(self, patience=0):
            super().__init__()
            self.patience, self.best_weights = patience, None

        def on_train_begin(self, logs=None):
            self.wait, self.stopped_epoch, self.best = 0, 0, np.inf

        def on_epoch_end(self, epoch, logs=None):
            if np.less(logs.get("loss"), self.best):
                self.best, self.wait = logs.get("loss"), 0
                self.best_weights = self.model.get_weights()
            else:
                self.wait += 1
                if self.wait >= self.patience:
                    self.stopped_epoch = epoch
                    self.model.stop_training = True
                    self.model.set_weights(self.best_weights)

    model = nk.Sequential([nk.layers.Dense(1)])
    model.compile(optimizer=nk.optimizers.SGD(learning_rate=0.5), loss="mse")   # diverges
    stopper = EarlyStoppingAtMinLoss()
    h = model.fit(x, y, batch_size=16, steps_per_epoch=2, epochs=30, verbose=0,
                  callbacks=[stopper])
    assert 0 < stopper.stopped_epoch < 29 and len(h.history["loss"]) == stopper.stopped_epoch + 1
    rates = []

    class CustomLearningRateScheduler(nk.callbacks.Callback):
        def __init__(self, schedule):
            super().__init__()
            self.schedule = schedule

        def on_epoch_begin(self, epoch, logs=None):
            lr = self.model.optimizer.learning_rate
            self.model.optimizer.learning_rate = self.schedule(epoch, lr)
            rates.append(float(self.model.optimizer.learning_rate))

    table = [(3, 0.05), (6, 0.01)]

    def lr_schedule(epoch, lr):
        return dict(table).get(epoch, lr)

    model = get_model()
    model.fit(x, y, batch_size=64, steps_per_epoch=1, epochs=8, verbose=0,
              callbacks=[CustomLearningRateScheduler(lr_schedule)])
    assert rates == pytest.approx([0.1] * 3 + [0.05] * 3 + [0.01] * 2)


# ------------------------------------------------------------------ masking and padding
def test_masking_guide_masks_reach_user_layers_like_keras():
    keras = _keras()
    K = guide_layers(keras)
    raw_inputs = [[711, 632, 71], [73, 8, 3215, 55, 927], [83, 91, 1, 645, 1253, 927]]
    padded = nk.utils.pad_sequences(raw_inputs, padding="post")
    np.testing.assert_array_equal(padded, keras.utils.pad_sequences(raw_inputs, padding="post"))
    emb = nk.layers.Embedding(input_dim=5000, output_dim=16, mask_zero=True)
    np.testing.assert_array_equal(emb.compute_mask(padded), padded != 0)
    tiled = np.tile(padded[..., None], (1, 1, 10)).astype("float32")
    np.testing.assert_array_equal(nk.layers.Masking().compute_mask(tiled), padded != 0)
    halves = N["TemporalSplit"]().compute_mask(tiled, padded != 0)
    np.testing.assert_array_equal(halves[1], (padded != 0)[:, 3:])
    tokens = np.array([[1, 2, 0, 0], [3, 4, 5, 0], [6, 0, 0, 0]])
    for build in (
            # a supports_masking user layer passes the mask on to the LSTM
            lambda k, C: (lambda i: k.Model(i, k.layers.LSTM(3)(C["MyActivation"]()(
                k.layers.Embedding(10, 4, mask_zero=True)(i)))))(k.Input((None,), dtype="int32")),
            # a user call(inputs, mask=None) receives the mask
            lambda k, C: (lambda i: k.Model(i, C["TemporalSoftmax"]()(k.layers.Dense(1)(
                k.layers.Embedding(10, 4, mask_zero=True)(i)))))(k.Input((None,), dtype="int32")),
            # a user compute_mask starts the mask the LSTM reads
            lambda k, C: (lambda i: k.Model(i, k.layers.LSTM(3)(C["CustomEmbedding"](
                10, 4, mask_zero=True)(i))))(k.Input((None,), dtype="int32")),
            # Masking → LSTM
            lambda k, C: k.Sequential([k.Input((4, 2)), k.layers.Masking(),
                                       k.layers.LSTM(3, return_sequences=True)])):
        km, nmm = build(keras, K), build(nk, N)
        _same_weights(km, nmm)
        x = tokens if len(km.inputs[0].shape) == 2 else np.stack(
            [tokens, tokens + 1], -1).astype("float32") * (tokens != 0)[..., None]
        np.testing.assert_allclose(nmm.predict(x, verbose=0), km.predict(x, verbose=0), **TOL)


@pytest.mark.parametrize("merge", ["add", "concatenate", "average"])
def test_masks_through_merge_layers_match_keras(merge):
    keras = _keras()
    K = guide_layers(keras)
    a_tok = np.array([[1, 2, 0, 0], [3, 4, 5, 0]])
    b_tok = np.array([[1, 2, 3, 0], [3, 0, 0, 0]])
    built = []
    for k, C in ((keras, K), (nk, N)):
        a, b = k.Input((None,), dtype="int32"), k.Input((None,), dtype="int32")
        emb = k.layers.Embedding(10, 3, mask_zero=True)
        merged = getattr(k.layers, merge)([emb(a), emb(b)])
        built.append(k.Model([a, b], [C["MaskedSum"]()(merged), k.layers.LSTM(2)(merged)]))
    km, nmm = built
    _same_weights(km, nmm)
    for u, v in zip(nmm.predict([a_tok, b_tok], verbose=0),
                    km.predict([a_tok, b_tok], verbose=0)):
        np.testing.assert_allclose(u, v, **TOL)


def test_a_user_layer_passing_a_mask_by_hand_matches_keras():
    keras = _keras()

    def classes(k):
        class MyLayer(k.layers.Layer):
            def __init__(self, **kwargs):
                super().__init__(**kwargs)
                self.embedding = k.layers.Embedding(input_dim=50, output_dim=4, mask_zero=True)
                self.lstm = k.layers.LSTM(3)

            def call(self, inputs):
                x = self.embedding(inputs)
                return self.lstm(x, mask=self.embedding.compute_mask(inputs))
        return MyLayer
    x = np.array([[1, 2, 0, 0], [3, 4, 5, 0]], dtype="int32")
    kl, nl = classes(keras)(), classes(nk)()
    kl(x)
    nl(x)
    nl.set_weights([np.asarray(w) for w in kl.get_weights()])
    np.testing.assert_allclose(nl(x), np.asarray(kl(x)), **TOL)
    g = nm.grad(lambda p: nm.numpy.sum(nl.call(p, x)))(dict(nl.values))
    assert all(np.all(np.isfinite(v)) for v in g.values())    # differentiable through it


# ------------------------------------------------------------------ serialization and saving
def test_serialization_guide_registered_functions_nested_configs_and_scopes(tmp_path):
    ops = nk.ops

    @nk.saving.register_keras_serializable(package="guide_pkg", name="guide_square")
    def custom_fn(x):
        return x ** 2

    @nk.saving.register_keras_serializable(package="guide_pkg", name="guide_model")
    class CustomModel(nk.Model):
        def __init__(self, first_layer, second_layer=None, **kwargs):
            super().__init__(**kwargs)
            self.first_layer = first_layer
            self.second_layer = second_layer if second_layer is not None else nk.layers.Dense(8)

        def get_config(self):
            config = super().get_config()
            config.update({"first_layer": self.first_layer, "second_layer": self.second_layer})
            return config

        @classmethod
        def from_config(cls, config):
            config["first_layer"] = nk.saving.deserialize_keras_object(config["first_layer"])
            config["second_layer"] = nk.saving.deserialize_keras_object(config["second_layer"])
            return cls(**config)

        def call(self, inputs):
            return self.second_layer(self.first_layer(inputs))

    assert nk.saving.get_registered_name(custom_fn) == "guide_pkg>guide_square"
    assert nk.saving.get_registered_object("guide_pkg>guide_square") is custom_fn
    model = CustomModel(first_layer=nk.layers.Dense(3, activation=custom_fn))
    x = np.random.default_rng(6).random((2, 5)).astype("float32")
    y = model(x)
    model.save(tmp_path / "custom.keras")
    loaded = nk.saving.load_model(tmp_path / "custom.keras")
    assert type(loaded) is CustomModel
    np.testing.assert_allclose(loaded(x), y, rtol=1e-6)

    class CustomLayer(nk.layers.Layer):
        def __init__(self, units=32, **kwargs):
            super().__init__(**kwargs)
            self.units = units

        def build(self, input_shape):
            self.w = self.add_weight(shape=(input_shape[-1], self.units),
                                     initializer="random_normal")
            self.b = self.add_weight(shape=(self.units,), initializer="random_normal")

        def call(self, inputs):
            return ops.matmul(inputs, self.w) + self.b

        def get_config(self):
            return {**super().get_config(), "units": self.units}

    def custom_activation(x):
        return ops.tanh(x) ** 2

    inputs = nk.Input((6,))
    outputs = nk.layers.Activation(custom_activation)(CustomLayer(4)(inputs))
    model = nk.Model(inputs, outputs)
    config = model.get_config()
    custom_objects = {"CustomLayer": CustomLayer, "custom_activation": custom_activation}
    with nk.saving.custom_object_scope(custom_objects):
        scoped = nk.Model.from_config(config)
    given = nk.Model.from_config(config, custom_objects=custom_objects)
    with nk.utils.custom_object_scope(custom_objects):
        cloned = nk.models.clone_model(model)
    for m in (scoped, given, cloned):
        m.set_weights(model.get_weights())
        np.testing.assert_allclose(m.predict(x[:, :1].repeat(6, 1), verbose=0),
                                   model.predict(x[:, :1].repeat(6, 1), verbose=0))
    with pytest.raises(ValueError, match="custom_activation"):
        nk.Model.from_config(config, custom_objects={"CustomLayer": CustomLayer})


# ------------------------------------------------------------------ the stateless train_step
def stateless_model_class(keras, value_and_grad):
    """custom_train_step_in_jax's "going lower-level" model, for either ``keras``."""

    class CustomModel(keras.Model):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.loss_tracker = keras.metrics.Mean(name="loss")
            self.mae_metric = keras.metrics.MeanAbsoluteError(name="mae")
            self.loss_fn = keras.losses.MeanSquaredError()

        def compute_loss_and_updates(self, trainable_variables, non_trainable_variables, x, y,
                                     sample_weight, training=False):
            y_pred, non_trainable_variables = self.stateless_call(
                trainable_variables, non_trainable_variables, x, training=training)
            loss = self.loss_fn(y, y_pred, sample_weight=sample_weight)
            return loss, (y_pred, non_trainable_variables)

        def train_step(self, state, data):
            trainable_variables, non_trainable_variables, optimizer_variables, metric_vars = state
            x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
            grad_fn = value_and_grad(self.compute_loss_and_updates, has_aux=True)
            (loss, (y_pred, non_trainable_variables)), grads = grad_fn(
                trainable_variables, non_trainable_variables, x, y, sample_weight, training=True)
            trainable_variables, optimizer_variables = self.optimizer.stateless_apply(
                optimizer_variables, grads, trainable_variables)
            n = len(self.loss_tracker.variables)
            loss_vars = self.loss_tracker.stateless_update_state(metric_vars[:n], loss,
                                                                 sample_weight=sample_weight)
            mae_vars = self.mae_metric.stateless_update_state(metric_vars[n:], y, y_pred,
                                                              sample_weight=sample_weight)
            logs = {"loss": self.loss_tracker.stateless_result(loss_vars),
                    "mae": self.mae_metric.stateless_result(mae_vars)}
            return logs, (trainable_variables, non_trainable_variables, optimizer_variables,
                          loss_vars + mae_vars)

        @property
        def metrics(self):
            return [self.loss_tracker, self.mae_metric]

    return CustomModel


def test_stateless_train_step_is_the_built_in_step_and_matches_keras():
    keras = _keras()
    import jax
    rng = np.random.default_rng(7)
    x, y = rng.random((48, 8)).astype("float32"), rng.random((48, 1)).astype("float32")
    runs = []
    for k, vg in ((keras, jax.value_and_grad), (nk, nm.value_and_grad)):
        inputs = k.Input(shape=(8,))
        model = stateless_model_class(k, vg)(inputs, k.layers.Dense(1)(inputs))
        model.compile(optimizer=k.optimizers.Adam(0.01))
        runs.append(model)
    km, nmm = runs
    _same_weights(km, nmm)
    builtin = nk.Model(*(lambda i: (i, nk.layers.Dense(1)(i)))(nk.Input(shape=(8,))))
    builtin.compile(optimizer=nk.optimizers.Adam(0.01), loss="mse", metrics=["mae"])
    builtin.set_weights(nmm.get_weights())
    hk = km.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0).history
    hn = nmm.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0).history
    hb = builtin.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0).history
    assert hn == hb                                       # the same rule, bit for bit
    for a, b in zip(nmm.get_weights(), builtin.get_weights()):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(hn["loss"], hk["loss"], rtol=1e-5)
    np.testing.assert_allclose(hn["mae"], hk["mae"], rtol=1e-5)
    for a, b in zip(nmm.get_weights(), km.get_weights()):
        np.testing.assert_allclose(a, np.asarray(b), **TOL)
    assert nmm.optimizer.iterations == 6


@pytest.mark.parametrize("make", [lambda: nk.optimizers.Adam(0.1, global_clipnorm=0.5),
                                  lambda: nk.optimizers.SGD(0.1, momentum=0.9, clipvalue=0.1),
                                  lambda: nk.optimizers.Nadam(0.05, weight_decay=0.01)])
def test_stateless_apply_is_pure_and_follows_the_flat_path(make):
    rng = np.random.default_rng(8)
    w = [rng.normal(size=(3, 2)), rng.normal(size=(2,))]
    grads = [rng.normal(size=(3, 2)), rng.normal(size=(2,))]
    opt = make()
    opt.build(w)
    before = [np.array(v) for v in opt.variables]
    assert int(before[0]) == 0 and len(before) == len(opt._variable_names())
    state, values = opt.variables, w
    for _ in range(3):
        values, state = opt.stateless_apply(state, grads, values)
    for a, b in zip(opt.variables, before):                  # the optimizer is unchanged
        np.testing.assert_array_equal(a, b)
    flat = np.concatenate([v.ravel() for v in w])
    ref = make()
    ref.init_flat(flat, sizes=[6, 2])
    for _ in range(3):
        ref.update_flat(flat, np.concatenate([g.ravel() for g in grads]))
    np.testing.assert_allclose(np.concatenate([v.ravel() for v in values]), flat, rtol=1e-12)
    assert int(state[0]) == 3
    with pytest.raises(ValueError, match="expected .* optimizer variables"):
        opt.stateless_apply(state[:-1], grads, values)


def test_metric_stateless_methods_leave_the_metric_unchanged():
    m = nk.metrics.MeanAbsoluteError()
    m.update_state([[1.0]], [[3.0]])
    state = [np.zeros(()), np.zeros(())]
    new = m.stateless_update_state(state, [[0.0], [0.0]], [[1.0], [3.0]])
    assert m.stateless_result(new) == pytest.approx(2.0) and m.result() == pytest.approx(2.0)
    m.update_state([[0.0]], [[0.0]])
    assert m.result() == pytest.approx(1.0)
    assert [float(v) for v in m.stateless_reset_state()] == [0.0, 0.0]
    assert len(m.variables) == 2
    p = nk.metrics.Precision()
    new = p.stateless_update_state(p.stateless_reset_state(), [[1], [0]], [[0.9], [0.8]])
    assert p.stateless_result(new) == pytest.approx(0.5) and p.result() == 0.0
    with pytest.raises(NotImplementedError, match="no stateless form"):
        nk.metrics.AUC(exact=True).stateless_reset_state()


def test_custom_training_loop_in_the_stateless_form_matches_keras():
    """writing_a_custom_training_loop_in_jax: stateless_call + value_and_grad + stateless_apply
    in a loop, the state written back with Variable.assign at the end."""
    keras = _keras()
    import jax
    rng = np.random.default_rng(9)
    x = rng.random((48, 8)).astype("float32")
    y = nk.utils.to_categorical(rng.integers(0, 3, 48), 3)
    runs = []
    for k, value_and_grad, jit in ((keras, jax.value_and_grad, jax.jit),
                                   (nk, nm.value_and_grad, lambda f: f)):
        inputs = k.Input(shape=(8,), name="digits")
        model = k.Model(inputs, k.layers.Dense(3)(k.layers.Dense(16, activation="relu")(inputs)))
        optimizer = k.optimizers.Adam(learning_rate=1e-2)
        loss_fn = k.losses.CategoricalCrossentropy(from_logits=True)

        def compute_loss_and_updates(trainable, non_trainable, x, y, model=model, loss_fn=loss_fn):
            y_pred, non_trainable = model.stateless_call(trainable, non_trainable, x)
            return loss_fn(y, y_pred), non_trainable
        grad_fn = value_and_grad(compute_loss_and_updates, has_aux=True)

        @jit
        def train_step(state, data, grad_fn=grad_fn, optimizer=optimizer):
            trainable, non_trainable, optimizer_variables = state
            (loss, non_trainable), grads = grad_fn(trainable, non_trainable, *data)
            trainable, optimizer_variables = optimizer.stateless_apply(optimizer_variables, grads,
                                                                       trainable)
            return loss, (trainable, non_trainable, optimizer_variables)
        runs.append((model, optimizer, train_step))
    (km, kopt, kstep), (nmm, nopt, nstep) = runs
    nmm.set_weights([np.asarray(w) for w in km.get_weights()])
    losses = []
    for model, optimizer, train_step in runs:
        optimizer.build(model.trainable_variables)
        state = (model.trainable_variables, model.non_trainable_variables, optimizer.variables)
        if model is km:                              # Keras-JAX passes the values into jit
            state = jax.tree_util.tree_map(lambda v: v.value, state)
        out = []
        for i in range(3):
            loss, state = train_step(state, (x[16 * i:16 * (i + 1)], y[16 * i:16 * (i + 1)]))
            out.append(float(loss))
        for variable, value in zip(model.trainable_variables, state[0]):
            variable.assign(value)
        losses.append(out)
    np.testing.assert_allclose(losses[1], losses[0], rtol=1e-5)
    for a, b in zip(nmm.get_weights(), km.get_weights()):
        np.testing.assert_allclose(a, np.asarray(b), **TOL)
    assert nopt.iterations == 0                     # stateless: the optimizer itself is untouched
