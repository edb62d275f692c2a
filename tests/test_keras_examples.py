"""The common small Keras 3 examples (keras-io ``examples/``: mnist_convnet, imbalanced
classification, timeseries classification from scratch, character-level LSTM text generation, a
siamese network with a contrastive loss, a convolutional autoencoder) on ``nnmath.keras``, their
code unchanged but for the import, at small sizes on synthetic data. Each model is built by the
same function on real Keras 3 (JAX backend, test-only) and on nnmath: with the same weights the
predictions agree to 1e-5 in float32, and so do the loss and the weights after one training step
where the step is deterministic (no dropout)."""
import os

import numpy as np
import pytest

from keras_reference import real_keras as _keras  # noqa: E402  (sets KERAS_BACKEND first)

from nnmath import keras as nk

TOL = dict(rtol=1e-5, atol=1e-5)


def _both(build, x, y=None, step=True, noise=()):
    """Build with Keras and nnmath, copy Keras's weights, compare predictions (and one step;
    the weights listed in ``noise`` are only checked to stay within one Adam step, 1e-3)."""
    keras = _keras()
    km, nmm = build(keras), build(nk)
    nmm.set_weights([np.asarray(w) for w in km.get_weights()])
    pk, pn = km.predict(x, verbose=0), nmm.predict(x, verbose=0)
    for a, b in zip(pn if isinstance(pn, list) else [pn], pk if isinstance(pk, list) else [pk]):
        np.testing.assert_allclose(a, b, **TOL)
    if step:
        lk, ln = km.train_on_batch(x, y), nmm.train_on_batch(x, y)
        assert float(np.ravel(ln)[0]) == pytest.approx(float(np.ravel(lk)[0]), rel=1e-5)
        for i, (a, b) in enumerate(zip(nmm.get_weights(), km.get_weights())):
            if i in noise:
                assert np.all(np.abs(a) <= 1.01e-3) and np.all(np.abs(np.asarray(b)) <= 1.01e-3)
            else:
                np.testing.assert_allclose(a, np.asarray(b), **TOL)
    return km, nmm




def convnet(keras, num_classes=10, input_shape=(12, 12, 1), dropout=0.5):
    layers = keras.layers
    model = keras.Sequential([
        keras.Input(shape=input_shape),
        layers.Conv2D(8, kernel_size=(3, 3), activation="relu"),
        layers.MaxPooling2D(pool_size=(2, 2)),
        layers.Conv2D(8, kernel_size=(3, 3), activation="relu"),
        layers.MaxPooling2D(pool_size=(2, 2)),
        layers.Flatten(),
        layers.Dropout(dropout),
        layers.Dense(num_classes, activation="softmax"),
    ])
    model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    return model


def test_mnist_convnet_example():
    RNG = np.random.default_rng(1)
    x = np.expand_dims(RNG.random((48, 12, 12)).astype("float32"), -1)
    y = nk.utils.to_categorical(RNG.integers(0, 10, 48), 10)
    _both(lambda k: convnet(k, dropout=0.0), x, y)        # dropout 0: a deterministic step
    model = convnet(nk)
    lines = []
    model.summary(print_fn=lines.append)
    assert "(None, 1, 1, 8)" in "\n".join(lines)
    h = model.fit(x, y, batch_size=16, epochs=2, validation_split=0.1, verbose=0)
    assert set(h.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    score = model.evaluate(x, y, verbose=0)
    assert len(score) == 2 and 0 <= score[1] <= 1


def test_imbalanced_classification_example(tmp_path):
    RNG = np.random.default_rng(2)
    features = RNG.normal(size=(200, 6)).astype("float32")
    targets = (RNG.random(200) < 0.15).astype("uint8")[:, None]
    counts = np.bincount(targets[:, 0])
    features = (features - features.mean(axis=0)) / features.std(axis=0)

    def build(keras):
        model = keras.Sequential([
            keras.Input(shape=features.shape[1:]),
            keras.layers.Dense(16, activation="relu"),
            keras.layers.Dense(16, activation="relu"),
            keras.layers.Dropout(0.3),
            keras.layers.Dense(1, activation="sigmoid"),
        ])
        metrics = [keras.metrics.FalseNegatives(name="fn"), keras.metrics.FalsePositives(name="fp"),
                   keras.metrics.TrueNegatives(name="tn"), keras.metrics.TruePositives(name="tp"),
                   keras.metrics.Precision(name="precision"), keras.metrics.Recall(name="recall")]
        model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="binary_crossentropy",
                      metrics=metrics)
        return model
    km, nmm = _both(build, features, step=False)
    ek = km.evaluate(features, targets, verbose=0, return_dict=True)
    en = nmm.evaluate(features, targets, verbose=0, return_dict=True)
    assert set(en) == set(ek)
    for k in ek:
        assert en[k] == pytest.approx(float(ek[k]), rel=1e-5, abs=1e-6), k
    os.chdir(tmp_path)
    callbacks = [nk.callbacks.ModelCheckpoint("fraud_model_at_epoch_{epoch}.keras")]
    class_weight = {0: 1.0 / counts[0], 1: 1.0 / counts[1]}
    nmm.fit(features, targets, batch_size=64, epochs=2, verbose=0, callbacks=callbacks,
            validation_data=(features, targets), class_weight=class_weight)
    assert sorted(os.listdir(tmp_path)) == ["fraud_model_at_epoch_1.keras",
                                            "fraud_model_at_epoch_2.keras"]


def test_timeseries_classification_example(tmp_path):
    RNG = np.random.default_rng(3)
    x = RNG.normal(size=(40, 30, 1)).astype("float32")
    y = RNG.integers(0, 2, 40)
    num_classes = len(np.unique(y))

    def make_model(keras, input_shape=x.shape[1:]):
        input_layer = keras.layers.Input(input_shape)
        conv1 = keras.layers.Conv1D(filters=8, kernel_size=3, padding="same")(input_layer)
        conv1 = keras.layers.ReLU()(keras.layers.BatchNormalization()(conv1))
        conv2 = keras.layers.Conv1D(filters=8, kernel_size=3, padding="same")(conv1)
        conv2 = keras.layers.ReLU()(keras.layers.BatchNormalization()(conv2))
        gap = keras.layers.GlobalAveragePooling1D()(conv2)
        output_layer = keras.layers.Dense(num_classes, activation="softmax")(gap)
        model = keras.models.Model(inputs=input_layer, outputs=output_layer)
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                      metrics=["sparse_categorical_accuracy"])
        return model
    # BatchNorm's moving statistics included. The convolutions' biases (weights 1 and 7, zero
    # at the start) feed BatchNorm, so their gradient is 0 in exact arithmetic (BatchNorm removes
    # the mean) and rounding noise in float32, which Adam's g/(√v + ε) scales up to anything
    # below one step η = 1e-3, differently in each library: they are only bounded.
    _, model = _both(make_model, x, y, noise=(1, 7))
    os.chdir(tmp_path)
    callbacks = [
        nk.callbacks.ModelCheckpoint("best_model.keras", save_best_only=True, monitor="val_loss"),
        nk.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=20,
                                       min_lr=0.0001),
        nk.callbacks.EarlyStopping(monitor="val_loss", patience=50, verbose=0),
    ]
    history = model.fit(x, y, batch_size=8, epochs=3, callbacks=callbacks, validation_split=0.2,
                        verbose=0)
    best = nk.models.load_model("best_model.keras")
    test_loss, test_acc = best.evaluate(x, y, verbose=0)
    assert np.isfinite(test_loss) and len(history.history["val_sparse_categorical_accuracy"]) == 3


def test_character_level_lstm_example():
    text = "the quick brown fox jumps over the lazy dog " * 4
    chars = sorted(set(text))
    char_indices = {c: i for i, c in enumerate(chars)}
    indices_char = {i: c for i, c in enumerate(chars)}
    maxlen, step = 10, 3
    sentences = [text[i:i + maxlen] for i in range(0, len(text) - maxlen, step)]
    next_chars = [text[i + maxlen] for i in range(0, len(text) - maxlen, step)]
    x = np.zeros((len(sentences), maxlen, len(chars)), dtype="bool")
    y = np.zeros((len(sentences), len(chars)), dtype="bool")
    for i, sentence in enumerate(sentences):
        for t, char in enumerate(sentence):
            x[i, t, char_indices[char]] = 1
        y[i, char_indices[next_chars[i]]] = 1

    def build(keras):
        model = keras.Sequential([keras.Input(shape=(maxlen, len(chars))), keras.layers.LSTM(16),
                                  keras.layers.Dense(len(chars), activation="softmax")])
        model.compile(loss="categorical_crossentropy",
                      optimizer=keras.optimizers.RMSprop(learning_rate=0.01))
        return model
    _, model = _both(build, x, y)                          # boolean one-hot inputs, as the example

    def sample(preds, temperature=1.0):
        preds = np.log(np.asarray(preds).astype("float64")) / temperature
        preds = np.exp(preds) / np.sum(np.exp(preds))
        return np.argmax(np.random.default_rng(1).multinomial(1, preds, 1))
    model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    sentence, generated = text[:maxlen], ""
    for _ in range(5):
        x_pred = np.zeros((1, maxlen, len(chars)))
        for t, char in enumerate(sentence):
            x_pred[0, t, char_indices[char]] = 1.0
        next_char = indices_char[sample(model.predict(x_pred, verbose=0)[0], 0.5)]
        sentence, generated = sentence[1:] + next_char, generated + next_char
    assert len(generated) == 5 and set(generated) <= set(chars)


def test_siamese_contrastive_example():
    RNG = np.random.default_rng(4)
    a = RNG.random((16, 12, 12, 1)).astype("float32")
    b = RNG.random((16, 12, 12, 1)).astype("float32")
    labels = RNG.integers(0, 2, (16, 1)).astype("float32")

    def build(keras):
        layers, ops = keras.layers, keras.ops

        def euclidean_distance(vects):
            x, y = vects
            sum_square = ops.sum(ops.square(x - y), axis=1, keepdims=True)
            return ops.sqrt(ops.maximum(sum_square, keras.backend.epsilon()))

        def loss(margin=1):
            def contrastive_loss(y_true, y_pred):
                square_pred = ops.square(y_pred)
                margin_square = ops.square(ops.maximum(margin - (y_pred), 0))
                return ops.mean((1 - y_true) * square_pred + (y_true) * margin_square)
            return contrastive_loss

        input = layers.Input((12, 12, 1))
        x = layers.BatchNormalization()(input)
        x = layers.Conv2D(4, (3, 3), activation="tanh")(x)
        x = layers.AveragePooling2D(pool_size=(2, 2))(x)
        x = layers.BatchNormalization()(layers.Flatten()(x))
        embedding_network = keras.Model(input, layers.Dense(10, activation="tanh")(x))
        input_1, input_2 = layers.Input((12, 12, 1)), layers.Input((12, 12, 1))
        merge_layer = layers.Lambda(euclidean_distance)([embedding_network(input_1),
                                                          embedding_network(input_2)])
        output_layer = layers.Dense(1, activation="sigmoid")(layers.BatchNormalization()(merge_layer))
        siamese = keras.Model(inputs=[input_1, input_2], outputs=output_layer)
        siamese.compile(loss=loss(margin=1), optimizer="RMSprop", metrics=["accuracy"])
        return siamese
    _, siamese = _both(build, [a, b], labels)            # shared tower, Lambda, BatchNorm
    h = siamese.fit([a, b], labels, validation_data=([a, b], labels), batch_size=8, epochs=1,
                    verbose=0)
    assert set(h.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert siamese.predict([a, b], verbose=0).shape == (16, 1)


def test_convolutional_autoencoder_example():
    RNG = np.random.default_rng(5)
    a = RNG.random((16, 12, 12, 1)).astype("float32")

    def build(keras):
        layers = keras.layers
        input = layers.Input(shape=(12, 12, 1))
        x = layers.Conv2D(8, (3, 3), activation="relu", padding="same")(input)
        x = layers.MaxPooling2D((2, 2), padding="same")(x)
        x = layers.Conv2DTranspose(8, (3, 3), strides=2, activation="relu", padding="same")(x)
        x = layers.Conv2D(1, (3, 3), activation="sigmoid", padding="same")(x)
        autoencoder = keras.Model(input, x)
        autoencoder.compile(optimizer="adam", loss="binary_crossentropy")
        return autoencoder
    _, autoencoder = _both(build, a, a)
    autoencoder.fit(x=a, y=a, epochs=1, batch_size=8, shuffle=True, validation_data=(a, a),
                    verbose=0)
    assert autoencoder.predict(a, verbose=0).shape == (16, 12, 12, 1)


def test_a_layer_called_twice_updates_its_statistics_twice_like_keras():
    """A shared tower (the siamese network's) or a sublayer called twice in a subclassed model:
    BatchNorm's moving statistics are updated by each call in turn, as Keras's assigns are, in
    an eager training call."""
    RNG = np.random.default_rng(6)
    keras = _keras()
    x = RNG.random((8, 3)).astype("float32")

    def make(k):
        class Twice(k.Model):
            def __init__(self):
                super().__init__()
                self.bn = k.layers.BatchNormalization()
                self.dense = k.layers.Dense(2)

            def call(self, inputs):
                return self.dense(self.bn(inputs) + self.bn(2.0 * inputs))
        return Twice()
    km, nmm = make(keras), make(nk)
    km(x)
    nmm(x)
    nmm.set_weights([np.asarray(w) for w in km.get_weights()])
    np.testing.assert_allclose(nmm(x, training=True), np.asarray(km(x, training=True)), **TOL)
    for a, b in zip(nmm.get_weights(), km.get_weights()):
        np.testing.assert_allclose(a, np.asarray(b), **TOL)
    assert not np.allclose(nmm.get_weights()[2], 0.0)      # the moving mean moved
