"""Keras 3 programs on ``nnmath.keras`` (the guides: the Sequential model, the functional API,
training & evaluation, serialization & saving), compared with real Keras (JAX backend) where a
number can be compared."""
import json
import zipfile

import numpy as np
import pytest

from keras_reference import real_keras as _keras  # noqa: E402  (sets KERAS_BACKEND first)

import nnmath as nm
from nnmath import keras as nk
from nnmath.keras import layers, ops


def _mlp(k):
    return k.Sequential([k.Input(shape=(4,)), k.layers.Dense(8, activation="relu"),
                         k.layers.Dense(3, activation="softmax")])


# ------------------------------------------------------------------ 1. Sequential and Input
def test_sequential_with_input_is_built_at_once():
    model = _mlp(nk)
    assert model.built and [l.name for l in model.layers] == [model.layers[0].name,
                                                              model.layers[1].name]
    assert len(model.layers) == 2                     # the Input is not a layer (Keras)
    assert [w.shape for w in model.get_weights()] == [(4, 8), (8,), (8, 3), (3,)]
    model.set_weights([np.ones_like(w) for w in model.get_weights()])
    lines = []
    model.summary(print_fn=lines.append)
    assert any("Total params: 67" in l for l in lines)


def test_input_dim_builds_at_once_and_add_after_build():
    model = nk.Sequential()
    model.add(layers.Dense(5, input_dim=3))
    assert model.built
    model.add(layers.Dense(2))
    assert model.output_shape == (None, 2) and len(model.get_weights()) == 4


def test_pop_and_from_config():
    model = _mlp(nk)
    popped = model.pop()
    assert isinstance(popped, layers.Dense) and model.output_shape == (None, 8)
    assert len(model.get_weights()) == 2
    clone = nk.Sequential.from_config(_mlp(nk).get_config())
    assert clone.built and clone.output_shape == (None, 3)
    with pytest.raises(TypeError, match="no layers"):
        nk.Sequential().pop()


def test_input_only_first():
    model = nk.Sequential([layers.Dense(2, input_dim=3)])
    with pytest.raises(ValueError, match="first entry"):
        model.add(nk.Input(shape=(3,)))
    with pytest.raises(TypeError, match="Only instances of `keras.Layer`"):
        model.add("dense")


def test_sequential_matches_keras_forward_and_adam_step():
    keras = _keras()
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 4)).astype("float32")
    y = np.eye(3, dtype="float32")[rng.integers(0, 3, 16)]
    km, nmm = _mlp(keras), _mlp(nk)
    nmm.set_weights([np.asarray(w) for w in km.get_weights()])
    np.testing.assert_allclose(nmm(x), np.asarray(km(x)), rtol=1e-5, atol=1e-6)
    km.compile(optimizer=keras.optimizers.Adam(1e-2), loss="categorical_crossentropy")
    nmm.compile(optimizer=nk.optimizers.Adam(1e-2), loss="categorical_crossentropy")
    lk, ln = km.train_on_batch(x, y), nmm.train_on_batch(x, y)
    assert ln == pytest.approx(float(np.asarray(lk).ravel()[0]), rel=1e-5)
    for a, b in zip(nmm.get_weights(), km.get_weights()):
        np.testing.assert_allclose(a, np.asarray(b), rtol=1e-5, atol=1e-6)


# ------------------------------------------------------------------ 2. calling models
def test_model_call_returns_arrays_and_training_flag():
    model = nk.Sequential([nk.Input(shape=(4,)), layers.Dropout(0.5), layers.Dense(2)])
    x = np.ones((64, 4))
    out = model(x)
    assert isinstance(out, np.ndarray) and out.dtype == np.float32
    np.testing.assert_allclose(out, model.predict(x), rtol=1e-6)
    assert not np.allclose(model(x, training=True), out)


def test_layer_call_on_arrays_builds_it():
    layer = layers.Dense(3)
    assert layer(np.ones((2, 5))).shape == (2, 3) and layer.built


def test_model_as_layer_in_sequential_and_functional_matches_keras():
    keras = _keras()
    x = np.random.default_rng(1).normal(size=(5, 4)).astype("float32")

    def build(k):
        inner = k.Sequential([k.Input(shape=(4,)), k.layers.Dense(6, activation="tanh")])
        seq = k.Sequential([inner, k.layers.Dense(2)])
        i = k.Input(shape=(4,))
        fun = k.Model(i, k.layers.Dense(1)(inner(i)))
        return seq, fun
    for km, nmm in zip(build(keras), build(nk)):
        assert len(nmm.get_weights()) == len(km.get_weights())
        nmm.set_weights([np.asarray(w) for w in km.get_weights()])
        np.testing.assert_allclose(nmm(x), np.asarray(km(x)), rtol=1e-5, atol=1e-6)


def test_nested_model_trains_and_grad_flows_through_it():
    inner = nk.Sequential([nk.Input(shape=(3,)), layers.Dense(4, dtype="float64")])
    outer = nk.Sequential([inner, layers.Dense(1, dtype="float64")])
    x = np.random.default_rng(2).normal(size=(6, 3))
    params = outer.params
    assert set(params[inner.name]) == {f"{inner.layers[0].name}/kernel",
                                       f"{inner.layers[0].name}/bias"}
    nm.check_grads(lambda p: (outer.apply(p, x) ** 2).sum(), (params,), order=1)
    outer.compile(optimizer="sgd", loss="mse")
    before = inner.get_weights()[0].copy()
    outer.fit(x, x[:, :1], epochs=1, verbose=0)
    assert not np.allclose(inner.get_weights()[0], before)
    inner.trainable = False
    outer.compile(optimizer="sgd", loss="mse")
    frozen = inner.get_weights()[0].copy()
    outer.fit(x, x[:, :1], epochs=1, verbose=0)
    np.testing.assert_array_equal(inner.get_weights()[0], frozen)


# ------------------------------------------------------------------ 4. ops, random, utils
OPS = [("matmul", 2), ("add", 2), ("multiply", 2), ("relu", 1), ("sigmoid", 1), ("tanh", 1),
       ("softmax", 1), ("log_softmax", 1), ("gelu", 1), ("exp", 1), ("abs", 1), ("square", 1),
       ("mean", 1), ("sum", 1), ("max", 1), ("min", 1), ("silu", 1), ("softplus", 1)]


@pytest.mark.parametrize("name,arity", OPS)
def test_ops_match_keras(name, arity):
    keras = _keras()
    rng = np.random.default_rng(5)
    args = [rng.normal(size=(3, 3)).astype("float32") for _ in range(arity)]
    np.testing.assert_allclose(getattr(ops, name)(*args), np.asarray(getattr(keras.ops, name)(*args)),
                               rtol=1e-5, atol=1e-6)


def test_ops_shapes_and_conversions():
    x = np.arange(6.0).reshape(2, 3)
    assert ops.shape(x) == (2, 3)
    assert ops.convert_to_tensor(1.5).dtype == np.float32
    assert ops.cast(x, "int32").dtype == np.int32
    np.testing.assert_array_equal(ops.argmax(x, axis=-1), [2, 2])
    np.testing.assert_array_equal(ops.one_hot(np.array([1]), 3), [[0, 1, 0]])
    assert ops.concatenate([x, x], axis=0).shape == (4, 3)
    assert ops.stack([x, x]).shape == (2, 2, 3)
    assert ops.norm(np.array([3.0, 4.0])) == pytest.approx(5.0)
    np.testing.assert_array_equal(ops.where(x > 2, x, 0.0), [[0, 0, 0], [3, 4, 5]])
    assert ops.expand_dims(x, 0).shape == (1, 2, 3) and ops.squeeze(x[None]).shape == (2, 3)
    assert ops.zeros((2,)).dtype == np.float32 and ops.ones(3).shape == (3,)
    assert ops.clip(x, 1.0, 2.0).max() == 2.0 and ops.sqrt(np.array([4.0]))[0] == 2.0


def test_ops_are_differentiable():
    x = np.random.default_rng(6).normal(size=(3, 4))
    w = np.random.default_rng(7).normal(size=(4, 2))

    def f(w):
        h = ops.gelu(ops.matmul(x, w))
        return ops.sum(ops.log_softmax(h) * ops.softmax(h)) + ops.mean(ops.square(h))
    nm.check_grads(f, (w,), order=2)


def test_random_seeds():
    a, b = nk.random.normal((3,), seed=1), nk.random.normal((3,), seed=1)
    np.testing.assert_array_equal(a, b)
    g = nk.random.SeedGenerator(0)
    assert not np.array_equal(nk.random.uniform((3,), seed=g), nk.random.uniform((3,), seed=g))
    g1, g2 = nk.random.SeedGenerator(4), nk.random.SeedGenerator(4)
    np.testing.assert_array_equal(nk.random.randint((4,), 0, 9, seed=g1),
                                  nk.random.randint((4,), 0, 9, seed=g2))
    d = nk.random.dropout(np.ones((1000,)), 0.5, seed=3)
    assert set(np.unique(d)) == {0.0, 2.0}
    assert sorted(nk.random.shuffle(np.arange(5), seed=2)) == list(range(5))
    with pytest.raises(ValueError, match="seed"):
        nk.random.normal((2,), seed="x")


def test_utils():
    keras = _keras()
    seqs = [[1, 2, 3], [4], [5, 6]]
    for kw in ({}, {"maxlen": 2}, {"padding": "post", "truncating": "post", "maxlen": 2}):
        np.testing.assert_array_equal(nk.utils.pad_sequences(seqs, **kw),
                                      keras.utils.pad_sequences(seqs, **kw))
    np.testing.assert_array_equal(nk.utils.to_categorical([0, 2], 3),
                                  keras.utils.to_categorical([0, 2], 3))
    text = nk.utils.plot_model(_mlp(nk))
    assert "Dense" in text


# ------------------------------------------------------------------ 4/5. saving and configs
@nk.saving.register_keras_serializable(package="tests")
class Scale(nk.layers.Layer):
    def __init__(self, factor=2.0, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def build(self, input_shape):
        self.s = self.add_weight(shape=(input_shape[-1],), initializer="ones", name="s")

    def call(self, inputs):
        return inputs * self.s * self.factor

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


def test_save_and_load_a_model_with_a_registered_layer(tmp_path):
    model = nk.Sequential([nk.Input(shape=(3,)), Scale(3.0), layers.Dense(2)])
    model.compile(optimizer="adam", loss="mse")
    x = np.random.default_rng(8).normal(size=(4, 3)).astype("float32")
    model.fit(x, x[:, :2], epochs=1, verbose=0)
    path = str(tmp_path / "m.keras")
    nk.saving.save_model(model, path)
    with zipfile.ZipFile(path) as z:
        assert not any(n.endswith(".pkl") for n in z.namelist())
    loaded = nk.saving.load_model(path)
    assert isinstance(loaded.layers[0], Scale) and loaded.layers[0].factor == 3.0
    np.testing.assert_allclose(loaded.predict(x), model.predict(x), rtol=1e-6)


def test_unknown_class_is_refused_by_name():
    cfg = {"class_name": "NotALayer", "config": {}}
    with pytest.raises(ValueError, match="NotALayer"):
        nk.saving.deserialize_keras_object(cfg)


def test_to_json_model_from_json_clone_model_from_config():
    i = nk.Input(shape=(4,))
    model = nk.Model(i, layers.Dense(2)(layers.Dense(3, activation="relu")(i)))
    for m in (model, _mlp(nk)):
        again = nk.models.model_from_json(m.to_json())
        assert [w.shape for w in again.get_weights()] == [w.shape for w in m.get_weights()]
        json.loads(m.to_json())
        clone = nk.models.clone_model(m)
        assert clone is not m and clone.output_shape == m.output_shape
    back = nk.Model.from_config(model.get_config())
    assert back.output_shape == (None, 2)


def test_weights_properties_on_layers_and_models():
    model = nk.Sequential([nk.Input(shape=(3,)), layers.Dense(2), layers.BatchNormalization()])
    assert len(model.weights) == 6
    assert len(model.trainable_weights) == 4 and len(model.non_trainable_weights) == 2
    bn = model.layers[1]
    assert [w.name for w in bn.non_trainable_weights] == ["moving_mean", "moving_variance"]
    np.testing.assert_array_equal(model.weights[0].numpy(), model.get_weights()[0])


# ------------------------------------------------------------------ 6. dtypes
def test_integer_inputs_are_cast_to_the_model_dtype():
    model = _mlp(nk)
    model.compile(optimizer="sgd", loss="mse")
    x = np.random.default_rng(9).integers(0, 3, size=(8, 4))
    y = np.zeros((8, 3), "float32")
    assert model.predict(x).dtype == np.float32
    model.fit(x, y, epochs=1, verbose=0)
    assert isinstance(model.evaluate(x, y, verbose=0), float)
    emb = nk.Sequential([nk.Input(shape=(2,), dtype="int32"), layers.Embedding(5, 3)])
    assert emb.predict(np.array([[1, 4]])).shape == (1, 2, 3)


# ------------------------------------------------------------------ 7. Optax-style optimizers
def test_compile_with_an_optax_style_transform_matches_the_keras_object():
    def run(opt):
        nk.utils.set_random_seed(0)
        model = nk.Sequential([nk.Input(shape=(3,)), layers.Dense(2)])
        model.compile(optimizer=opt, loss="mse")
        x = np.linspace(-1, 1, 24, dtype="float32").reshape(8, 3)
        model.fit(x, x[:, :2], epochs=3, batch_size=4, verbose=0, shuffle=False)
        return model.get_weights()
    a = run(nm.optimizers.sgd(0.1))
    b = run(nk.optimizers.SGD(0.1))
    for u, v in zip(a, b):
        np.testing.assert_allclose(u, v, rtol=1e-6)
    assert run(nm.optimizers.adam(1e-2))[0].dtype == np.float32


def test_keras_reference_example_still_runs():
    import runpy
    import pathlib
    path = pathlib.Path(__file__).parents[1] / "examples" / "keras_reference.py"
    src = path.read_text().replace("epochs=50", "epochs=1")
    code = compile(src, str(path), "exec")
    exec(code, {"__name__": "__example__", "print": lambda *a, **k: None})
    assert runpy
