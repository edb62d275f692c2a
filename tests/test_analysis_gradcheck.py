"""gradcheck_model: passes on correct models of every kind of layer, flags a broken rule and
says where, checks in float64 without touching the model."""
import json

import numpy as np
import pytest

import nnmath as nm
import nnmath.numpy as mnp
from nnmath import keras
from nnmath.analysis import gradcheck as gc
from nnmath.analysis.gradcheck import GradcheckResult, check_grads, gradcheck_model
from nnmath.nn.layers.base import Layer

F64 = "float64"


def _data(shape, out, n=12, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n,) + shape), rng.standard_normal((n, out))


def _mlp():
    return keras.Sequential([keras.layers.Dense(6, activation="tanh", input_shape=(4,), dtype=F64),
                             keras.layers.Dense(5, activation="softplus", dtype=F64),
                             keras.layers.Dense(3, dtype=F64)])


def test_check_grads_is_the_core_one():
    assert check_grads is nm.check_grads


@pytest.mark.parametrize("kind", ["mlp", "cnn", "lstm", "batchnorm"])
def test_passes_on_correct_models(kind):
    keras.utils.set_random_seed(1)
    if kind == "mlp":
        model, (x, y) = _mlp(), _data((4,), 3)
    elif kind == "cnn":
        model = keras.Sequential([
            keras.layers.Conv2D(3, 3, activation="tanh", input_shape=(6, 6, 2), dtype=F64),
            keras.layers.AveragePooling2D(2, dtype=F64), keras.layers.Flatten(dtype=F64),
            keras.layers.Dense(2, dtype=F64)])
        x, y = _data((6, 6, 2), 2, n=6)
    elif kind == "lstm":
        model = keras.Sequential([keras.layers.LSTM(4, input_shape=(5, 3), dtype=F64),
                                  keras.layers.Dense(2, dtype=F64)])
        x, y = _data((5, 3), 2, n=6)
    else:
        model = keras.Sequential([keras.layers.Dense(5, input_shape=(4,), dtype=F64),
                                  keras.layers.BatchNormalization(dtype=F64),
                                  keras.layers.Activation("tanh", dtype=F64),
                                  keras.layers.Dense(2, dtype=F64)])
        x, y = _data((4,), 2)
        model.compile(optimizer="sgd", loss="mse")
        model.fit(x, y, epochs=1, batch_size=4, verbose=0)    # moving statistics ≠ init values
    model.compile(optimizer="sgd", loss="mse")
    result = gradcheck_model(model, x, y, max_entries_per_weight=8)
    assert result.passed, str(result)
    expected = [(l.name, w) for l in model.layers for w in l.params]
    assert [(r.layer, r.weight) for r in result.rows] == expected
    for r in result.rows:
        assert r.relative_error < 1e-6 and r.direction_error < 1e-6
        assert r.entries_checked == min(8, int(np.prod(r.shape)))


def test_checks_all_entries_of_small_weights_against_numpy_differences():
    keras.utils.set_random_seed(2)
    model, (x, y) = _mlp(), _data((4,), 3)
    model.compile(loss="mse")
    result = gradcheck_model(model, x, y, max_entries_per_weight=1000)
    assert [r.entries_checked for r in result.rows] == [24, 6, 30, 5, 15, 3]
    # the table's errors are those of an independent comparison: nm.grad vs central differences
    from nnmath.analysis import as_objective
    obj = as_objective(model, x=x, y=y)
    g = obj.grad()
    p = model.params
    for r in result.rows:
        w = p[r.layer][r.weight]
        num = np.zeros(w.size)
        for i in range(w.size):
            e = np.zeros(w.size)
            e[i] = 1e-6
            plus = {l: dict(ws) for l, ws in p.items()}
            minus = {l: dict(ws) for l, ws in p.items()}
            plus[r.layer][r.weight] = w + e.reshape(w.shape)
            minus[r.layer][r.weight] = w - e.reshape(w.shape)
            num[i] = (obj.value(plus) - obj.value(minus)) / 2e-6
        a = np.asarray(g[r.layer][r.weight]).ravel()
        assert r.max_abs_error == pytest.approx(np.max(np.abs(a - num)), rel=0.5, abs=1e-10)
        assert r.max_abs_error < 1e-8


class _Scale(Layer):
    """y = x ⊙ w with a hand-written VJP whose factors are given (1 = correct)."""

    def __init__(self, w_factor=1.0, x_factor=1.0, **kw):
        super().__init__(**kw)
        self.w_factor, self.x_factor = w_factor, x_factor

        @nm.custom_vjp
        def scale(x, w):
            return x * w
        scale.defvjp(lambda x, w: (x * w, (x, w)),
                     lambda res, g: (self.x_factor * g * res[1],
                                     self.w_factor * mnp.sum(g * res[0], axis=0)))
        self._op = scale

    def build(self, input_shape):
        self.add_weight("w", (input_shape[-1],), "ones")
        self.built = True

    def call(self, params, x, training=False, rng=None):
        return self._op(x, params["w"])


def _scaled_model(**factors):
    keras.utils.set_random_seed(3)
    model = keras.Sequential([keras.layers.Dense(4, activation="tanh", input_shape=(3,), dtype=F64,
                                                 name="below"),
                              _Scale(name="scale", dtype=F64, **factors),
                              keras.layers.Dense(2, dtype=F64, name="above")])
    model.compile(loss="mse")
    return model


def test_a_correct_custom_rule_passes():
    x, y = _data((3,), 2)
    assert gradcheck_model(_scaled_model(), x, y).passed


def test_flags_a_wrong_factor_in_a_layers_weight_rule():
    x, y = _data((3,), 2)
    result = gradcheck_model(_scaled_model(w_factor=1.5), x, y)
    assert not result.passed
    assert [(r.layer, r.weight) for r in result.failed()] == [("scale", "w")]
    row = result["scale", "w"]
    assert row.relative_error == pytest.approx(0.5 / 1.5, rel=1e-6)   # |1.5 − 1| / 1.5
    text = str(result)
    assert "FAILED" in text and "scale" in text and "NO" in text


def test_a_wrong_input_cotangent_shows_in_the_layers_below():
    x, y = _data((3,), 2)
    result = gradcheck_model(_scaled_model(x_factor=2.0), x, y)
    failed = {(r.layer, r.weight) for r in result.failed()}
    assert failed == {("below", "kernel"), ("below", "bias")}      # below the broken layer


def test_flags_a_monkeypatched_primitive_rule(monkeypatch):
    from nnmath._core.primitive import REGISTRY
    prim = REGISTRY["tanh"]
    rules = list(prim.vjps)
    good = rules[0]
    monkeypatch.setattr(prim, "vjps", (lambda g, ans, x, **kw: 1.1 * good(g, ans, x, **kw),)
                        + tuple(rules[1:]))
    keras.utils.set_random_seed(4)
    model = keras.Sequential([keras.layers.Dense(3, activation="tanh", input_shape=(2,), dtype=F64,
                                                 name="tanh_layer"),
                              keras.layers.Dense(1, dtype=F64, name="linear")])
    model.compile(loss="mse")
    x, y = _data((2,), 1)
    result = gradcheck_model(model, x, y)
    assert {r.layer for r in result.failed()} == {"tanh_layer"}
    monkeypatch.undo()
    assert gradcheck_model(model, x, y).passed


def test_random_subset_and_direction_on_a_large_weight():
    keras.utils.set_random_seed(5)
    model = keras.Sequential([keras.layers.Dense(40, activation="tanh", input_shape=(30,),
                                                 dtype=F64), keras.layers.Dense(1, dtype=F64)])
    model.compile(loss="mse")
    x, y = _data((30,), 1, n=8)
    a = gradcheck_model(model, x, y, max_entries_per_weight=5, seed=0)
    b = gradcheck_model(model, x, y, max_entries_per_weight=5, seed=np.random.default_rng(0))
    assert a.passed and a.rows[0].entries_checked == 5 and a.rows[0].shape == (30, 40)
    assert a.to_dict() == b.to_dict()


def test_float32_model_is_checked_in_float64_and_left_unchanged():
    keras.utils.set_random_seed(6)
    model = keras.Sequential([keras.layers.Dense(4, activation="tanh", input_shape=(3,)),
                              keras.layers.Dense(2)])
    model.compile(loss="mse")
    x, y = _data((3,), 2)
    before = [w.copy() for w in model.get_weights()]
    result = gradcheck_model(model, x.astype(np.float32), y.astype(np.float32))
    assert result.passed                       # float32 differences would fail rtol = 1e-5
    assert all(w.dtype == np.float32 for w in model.get_weights())
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))


def test_to_dict_is_json_and_str_is_a_table():
    keras.utils.set_random_seed(7)
    model, (x, y) = _mlp(), _data((4,), 3)
    model.compile(loss="mse")
    result = gradcheck_model(model, x, y)
    d = json.loads(json.dumps(result.to_dict()))
    assert d["passed"] is True and len(d["rows"]) == 6 and d["rows"][0]["shape"] == [4, 6]
    lines = str(result).splitlines()
    assert lines[1].split()[:3] == ["layer", "weight", "shape"] and len(lines) == 3 + 6
    assert isinstance(result, GradcheckResult)
    with pytest.raises(KeyError, match="/kernel"):
        result["nope", "kernel"]


def test_bad_arguments():
    keras.utils.set_random_seed(8)
    model, (x, y) = _mlp(), _data((4,), 3)
    with pytest.raises(TypeError, match="compiled nnmath Model"):
        gradcheck_model(lambda p: p, x, y)
    with pytest.raises(RuntimeError, match="not compiled"):
        gradcheck_model(model, x, y)
    model.compile(loss="mse")
    with pytest.raises(ValueError, match="eps"):
        gradcheck_model(model, x, y, eps=0)
    with pytest.raises(ValueError, match="max_entries_per_weight"):
        gradcheck_model(model, x, y, max_entries_per_weight=0)
    with pytest.raises(ValueError, match="rtol"):
        gradcheck_model(model, x, y, rtol=-1.0)
    with pytest.raises(TypeError, match="seed"):
        gradcheck_model(model, x, y, seed="zero")
    assert gc.__all__ == ["check_grads", "gradcheck_model", "GradcheckResult", "GradcheckRow"]
