"""Training with ``compile(jit_compile=...)``: recorded steps give the very numbers of traced ones.

Each model below trains twice from the same seed, once tracing every step (``jit_compile=False``)
and once recording the step with nnmath.jit and replaying it (``jit_compile=True``, which raises
if anything cannot be recorded): histories, evaluation and final weights must be identical, bit for
bit. The models cover every layer family (dense, conv with batch norm and dropout, recurrent with
dropout, embedding with layer norm, attention) and the losses that check their labels.
"""
from __future__ import annotations

import numpy as np
import pytest

import nnmath as nm
from nnmath.keras import layers, losses, models
from nnmath.training import Input, Model

R = np.random.default_rng(0)


def _cases():
    f32 = np.float32
    return {
        "mlp-softmax-mse": (lambda: [layers.Dense(16, activation="relu", input_shape=(6,)),
                                     layers.Dropout(0.2), layers.Dense(3, activation="softmax")],
                            R.normal(size=(40, 6)).astype(f32), np.eye(3, dtype=f32)[R.integers(0, 3, 40)],
                            "mse"),
        "cnn-batchnorm-sparse": (lambda: [layers.Conv2D(4, 3, padding="same", input_shape=(6, 6, 1)),
                                          layers.BatchNormalization(), layers.Activation("relu"),
                                          layers.MaxPooling2D(2), layers.Flatten(), layers.Dense(3)],
                                 R.normal(size=(24, 6, 6, 1)).astype(f32), R.integers(0, 3, 24),
                                 losses.SparseCategoricalCrossentropy(from_logits=True)),
        "gru-lstm-dropout": (lambda: [layers.GRU(5, dropout=0.2, return_sequences=True, input_shape=(4, 3)),
                                      layers.LSTM(4), layers.Dense(2)],
                             R.normal(size=(24, 4, 3)).astype(f32), R.normal(size=(24, 2)).astype(f32),
                             "huber"),
        "embedding-layernorm": (lambda: [layers.Embedding(10, 4, input_shape=(5,)), layers.Flatten(),
                                         layers.LayerNormalization(), layers.Dense(1, activation="sigmoid")],
                                R.integers(0, 10, (24, 5)), R.integers(0, 2, (24, 1)).astype(f32),
                                "binary_crossentropy"),
    }


CASES = _cases()


def _train(make, x, y, loss, jit_compile):
    nm.keras.utils.set_random_seed(3)
    model = models.Sequential(make())
    model.compile("adam", loss, metrics=["accuracy"], jit_compile=jit_compile)
    history = model.fit(x, y, epochs=3, batch_size=8, validation_split=0.25, verbose=0)
    return model, history.history, model.evaluate(x, y, verbose=0), model.predict(x)


@pytest.mark.parametrize("name", list(CASES))
def test_recorded_training_steps_give_bit_identical_training(name):
    make, x, y, loss = CASES[name]
    eager = _train(make, x, y, loss, False)
    jitted = _train(make, x, y, loss, True)
    assert jitted[1] == eager[1]                        # every loss and metric of every epoch
    assert jitted[2] == eager[2]
    np.testing.assert_array_equal(jitted[3], eager[3])
    for a, b in zip(jitted[0].get_weights(), eager[0].get_weights()):
        np.testing.assert_array_equal(a, b)
    assert jitted[0].jit_compile is True


def test_attention_functional_model_records_too():
    nm.keras.utils.set_random_seed(1)
    inp = Input((5, 4))
    h = layers.MultiHeadAttention(num_heads=2, key_dim=3, dropout=0.1)(inp, inp)
    out = layers.Dense(1)(layers.Flatten()(layers.Add()([h, inp])))
    model = Model(inp, out)
    model.compile("sgd", "mse", jit_compile=True)
    x, y = R.normal(size=(16, 5, 4)).astype(np.float32), R.normal(size=(16, 1)).astype(np.float32)
    model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    assert model.jit_compile is True and np.isfinite(model.evaluate(x, y, verbose=0))


def test_auto_falls_back_to_tracing_when_a_layer_cannot_be_recorded():
    class Opaque(layers.Layer):          # converts to plain numpy: cannot be recorded
        def call(self, params, x, training=False, rng=None):
            return x * float(np.asarray(nm.stop_gradient(x)).mean() > -1e9)

        def compute_output_shape(self, input_shape):
            return input_shape

    x, y = R.normal(size=(16, 3)).astype(np.float32), R.normal(size=(16, 1)).astype(np.float32)
    for setting in ("auto", True):
        model = models.Sequential([layers.Dense(1, input_shape=(3,)), Opaque()])
        model.compile("sgd", "mse", jit_compile=setting)
        if setting is True:
            with pytest.raises(nm.ConcretizationError, match="test_jit_training.py"):
                model.fit(x, y, epochs=1, verbose=0)
        else:
            model.fit(x, y, epochs=1, verbose=0)
            assert model.jit_compile is False      # "auto" resolved to tracing every step
    with pytest.raises(ValueError, match="jit_compile"):
        model.compile("sgd", "mse", jit_compile="yes")


def test_labels_are_still_checked_on_every_recorded_step():
    model = models.Sequential([layers.Dense(3, input_shape=(2,))])
    model.compile("sgd", losses.SparseCategoricalCrossentropy(from_logits=True), jit_compile=True)
    x = np.ones((8, 2), np.float32)
    model.train_on_batch(x, np.zeros(8, np.int64))              # records the step
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 3\)"):
        model.train_on_batch(x, np.full(8, 5, np.int64))        # a guard fails: re-recorded, raises
