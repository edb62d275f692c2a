"""Keras 3 subclassing (the guide "Making new layers and models via subclassing") on nnmath:
the same class bodies run on real Keras (JAX backend) and on ``nnmath.keras``, and agree."""

import numpy as np
import pytest

from keras_reference import real_keras as _keras  # noqa: E402  (sets KERAS_BACKEND first)

import nnmath as nm
from nnmath import keras as nk


def make_classes(keras):
    """The guide's classes, written once, for either ``keras`` module."""
    ops = keras.ops

    class Linear(keras.layers.Layer):
        def __init__(self, units=32, **kwargs):
            super().__init__(**kwargs)
            self.units = units

        def build(self, input_shape):
            self.w = self.add_weight(shape=(input_shape[-1], self.units),
                                     initializer="random_normal", trainable=True, name="w")
            self.b = self.add_weight(shape=(self.units,), initializer="zeros", trainable=True,
                                     name="b")

        def call(self, inputs):
            return ops.matmul(inputs, self.w) + self.b

        def get_config(self):
            config = super().get_config()
            config.update({"units": self.units})
            return config

    class ActivityRegularizationLayer(keras.layers.Layer):
        def __init__(self, rate=1e-2, **kwargs):
            super().__init__(**kwargs)
            self.rate = rate

        def call(self, inputs):
            self.add_loss(self.rate * ops.mean(inputs))
            return inputs

    class MLPBlock(keras.layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.linear_1 = Linear(8)
            self.linear_2 = Linear(4)
            self.linear_3 = Linear(1)

        def call(self, inputs, training=None):
            x = self.linear_1(inputs)
            x = ops.tanh(x)
            x = self.linear_2(x)
            x = ops.gelu(x)
            return self.linear_3(x)

    class ComputeSum(keras.layers.Layer):
        def __init__(self, input_dim, **kwargs):
            super().__init__(**kwargs)
            self.total = self.add_weight(initializer="zeros", shape=(input_dim,), trainable=False)

        def call(self, inputs):
            self.total.assign_add(ops.sum(inputs, axis=0))
            return self.total

    class MyModel(keras.Model):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.dense1 = keras.layers.Dense(16, activation="relu")
            self.block = MLPBlock()
            self.reg = ActivityRegularizationLayer(1e-2)

        def call(self, inputs, training=None):
            return self.reg(self.block(self.dense1(inputs)))

    return dict(Linear=Linear, MLPBlock=MLPBlock, ComputeSum=ComputeSum, MyModel=MyModel,
                ActivityRegularizationLayer=ActivityRegularizationLayer)


N = make_classes(nk)


def _copy_weights(src_keras, dst_nnmath):
    dst_nnmath.set_weights([np.asarray(w) for w in src_keras.get_weights()])


def test_linear_layer_builds_on_call_and_names_its_weights():
    layer = N["Linear"](4)
    y = layer(np.ones((2, 3)))
    assert y.shape == (2, 4) and y.dtype == np.float32
    assert [w.name for w in layer.weights] == ["w", "b"]
    assert [w.shape for w in layer.trainable_weights] == [(3, 4), (4,)]
    assert layer.non_trainable_weights == []


def test_add_weight_without_name_numbers_variables():
    class L(nk.layers.Layer):
        def build(self, input_shape):
            self.a = self.add_weight(shape=(2,))
            self.b = self.add_weight(shape=(2,))

        def call(self, x):
            return x * self.a + self.b
    layer = L()
    layer(np.ones((1, 2)))
    assert [w.name for w in layer.weights] == ["variable", "variable_1"]


def test_non_trainable_weight_assign_in_eager_calls():
    layer = N["ComputeSum"](2)
    x = np.ones((2, 2))
    np.testing.assert_array_equal(layer(x), [2.0, 2.0])
    np.testing.assert_array_equal(layer(x), [4.0, 4.0])
    assert layer.trainable_weights == [] and len(layer.non_trainable_weights) == 1


def test_nested_layers_are_tracked_and_differentiable():
    block = N["MLPBlock"](dtype="float64")
    for sub in (block.linear_1, block.linear_2, block.linear_3):
        sub.dtype = np.dtype("float64")
    x = np.random.default_rng(0).normal(size=(5, 3))
    block(x)
    assert len(block.weights) == 6
    assert [w.path.split("/")[-1] for w in block.weights][:2] == ["w", "b"]
    assert list(block.values)[0] == f"{block.linear_1.name}/w"
    params = dict(block.values)

    def loss(p):
        return (block.call(p, x) ** 2).sum()
    g = nm.grad(loss)(params)
    assert set(g) == set(params)
    nm.check_grads(loss, (params,), order=2)


def test_add_loss_enters_fit_and_losses_lists_it():
    model = N["MyModel"]()
    x = np.random.default_rng(1).normal(size=(16, 3)).astype("float32")
    model(x)
    assert len(model.losses) == 1
    model.compile(optimizer="sgd", loss="mse")
    y = np.zeros((16, 1), "float32")
    p = model.predict(x)
    expected = float(np.mean((p - y) ** 2) + 1e-2 * np.mean(p))
    assert model.evaluate(x, y, verbose=0) == pytest.approx(expected, rel=1e-5)


def test_compile_without_loss_trains_on_added_losses():
    model = N["MyModel"]()
    model.compile(optimizer="sgd")
    x = np.random.default_rng(2).normal(size=(32, 3)).astype("float32")
    h = model.fit(x, epochs=3, batch_size=8, verbose=0)
    losses = h.history["loss"]
    assert losses[-1] < losses[0]


def test_subclassed_model_matches_keras_forward_and_one_step():
    keras = _keras()
    K = make_classes(keras)
    rng = np.random.default_rng(3)
    x = rng.normal(size=(8, 3)).astype("float32")
    y = rng.normal(size=(8, 1)).astype("float32")
    km, nm_ = K["MyModel"](), N["MyModel"]()
    km(x)
    nm_(x)
    _copy_weights(km, nm_)
    np.testing.assert_allclose(nm_(x), np.asarray(km(x)), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(nm_.predict(x, verbose=0), km.predict(x, verbose=0),
                               rtol=1e-5, atol=1e-5)
    km.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    nm_.compile(optimizer=nk.optimizers.SGD(0.1), loss="mse")
    lk = km.train_on_batch(x, y)
    ln = nm_.train_on_batch(x, y)
    assert float(ln) == pytest.approx(float(np.asarray(lk).ravel()[0]), rel=1e-5, abs=1e-6)
    for a, b in zip(nm_.get_weights(), km.get_weights()):
        np.testing.assert_allclose(a, np.asarray(b), rtol=1e-5, atol=1e-6)


def test_custom_layer_in_functional_and_sequential_matches_keras():
    keras = _keras()
    K = make_classes(keras)
    x = np.random.default_rng(4).normal(size=(4, 5)).astype("float32")
    for build in (lambda k, C: k.Sequential([k.Input(shape=(5,)), C["Linear"](3),
                                             k.layers.Dense(2)]),
                  lambda k, C: (lambda i: k.Model(i, k.layers.Dense(2)(C["MLPBlock"]()(i))))(
                      k.Input(shape=(5,)))):
        km, nmm = build(keras, K), build(nk, N)
        assert [w.shape for w in nmm.get_weights()] == [tuple(w.shape) for w in km.get_weights()]
        _copy_weights(km, nmm)
        np.testing.assert_allclose(nmm.predict(x), km.predict(x, verbose=0), rtol=1e-5, atol=1e-5)


def test_get_config_round_trip_of_a_custom_layer():
    layer = N["Linear"](7, name="lin")
    clone = N["Linear"].from_config(layer.get_config())
    assert clone.units == 7 and clone.name == "lin"


def test_keras_style_layer_under_jit_training_matches_eager():
    def run(jit):
        nk.utils.set_random_seed(0)
        model = nk.Sequential([nk.Input(shape=(3,)), N["Linear"](4), nk.layers.Dense(1)])
        model.compile(optimizer="adam", loss="mse", jit_compile=jit)
        x = np.linspace(0, 1, 24, dtype="float32").reshape(8, 3)
        model.fit(x, x[:, :1], epochs=2, batch_size=4, verbose=0, shuffle=False)
        return model.get_weights()
    for a, b in zip(run(True), run(False)):
        np.testing.assert_array_equal(a, b)
