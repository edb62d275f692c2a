"""Keras 3 layers added for issue 9 (part B): activation, reshaping, noise, preprocessing, transposed
convolutions, TimeDistributed, Bidirectional, masks, the functional merge helpers.

* Every layer with a derivative: outputs, parameter gradients and input gradients against PyTorch
  on the same weights (float64, 1e-6), or against real Keras 3 (JAX backend) where PyTorch has no
  equivalent; plus ``nm.check_grads`` on its parameters / input.
* get_config → from_config round trips, output shapes, errors naming the argument.
* Layers that draw random numbers use the ``rng`` passed to ``call``.
"""
from __future__ import annotations

import json
import os

import numpy as np
import pytest

import nnmath as nm
from nnmath.nn import layers as L

torch = pytest.importorskip("torch")
F = torch.nn.functional

TOL = dict(rtol=1e-6, atol=1e-9)


def close(a, b, what=""):
    np.testing.assert_allclose(np.asarray(a, np.float64), np.asarray(b, np.float64), err_msg=what,
                               **TOL)


def rnd(*shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape)


def t(a):
    return torch.tensor(np.asarray(a, np.float64), requires_grad=True)


def against_torch(layer_call, torch_fn, params: dict, x, torch_params=None, x_grad=True):
    """Outputs, ∂/∂params and ∂/∂x of Σ y ⊙ R, nnmath against torch (the same numbers)."""
    y = layer_call(params, x)
    r = rnd(*np.shape(y), seed=99)

    def loss(p, xx):
        return (layer_call(p, xx) * r).sum()

    argnums = (0, 1) if x_grad else 0
    g = nm.grad(loss, argnums=argnums)(params, x)
    gp, gx = g if x_grad else (g, None)
    tp = {k: t(v) for k, v in (torch_params or params).items()}
    tx = t(x) if x_grad else torch.tensor(np.asarray(x))
    ty = torch_fn(tp, tx)
    close(y, ty.detach().numpy(), "output")
    (ty * torch.tensor(r)).sum().backward()
    if torch_params is None:
        for k in params:
            close(gp[k], tp[k].grad.numpy(), f"d/d{k}")
    if x_grad:
        close(gx, tx.grad.numpy(), "d/dx")
    return gp, tp


def roundtrip(layer):
    cfg = layer.get_config()
    json.dumps(cfg)
    again = type(layer).from_config(cfg)
    assert again.get_config() == cfg
    return again


# ---------------------------------------------------------------------------------------------
# Activation layers
# ---------------------------------------------------------------------------------------------
X = rnd(3, 4, 5) * 3.0


@pytest.mark.parametrize("layer, ref", [
    (L.ReLU(dtype="float64"), lambda x: F.relu(x)),
    (L.ReLU(max_value=2.0, dtype="float64"), lambda x: F.hardtanh(x, 0.0, 2.0)),
    (L.ReLU(threshold=0.5, dtype="float64"), lambda x: F.threshold(x, 0.5, 0.0)),
    (L.ReLU(max_value=3.0, negative_slope=0.1, threshold=0.5, dtype="float64"),
     lambda x: torch.where(x > 0.5, torch.clamp(x, max=3.0), 0.1 * (x - 0.5))),
    (L.LeakyReLU(dtype="float64"), lambda x: F.leaky_relu(x, 0.3)),
    (L.LeakyReLU(negative_slope=0.05, dtype="float64"), lambda x: F.leaky_relu(x, 0.05)),
    (L.ELU(alpha=1.5, dtype="float64"), lambda x: F.elu(x, 1.5)),
    (L.Softmax(dtype="float64"), lambda x: F.softmax(x, -1)),
    (L.Softmax(axis=1, dtype="float64"), lambda x: F.softmax(x, 1)),
])
def test_activation_layers_against_torch(layer, ref):
    against_torch(lambda p, x: layer.call(p, x), lambda p, x: ref(x), {}, X)
    nm.check_grads(lambda x: layer.call({}, x), (X,), order=2)
    roundtrip(layer)


def test_activation_layers_against_keras_relu_options():
    keras = _keras()
    for kw in ({"max_value": 3.0, "negative_slope": 0.1, "threshold": 0.5},
               {"negative_slope": 0.2}, {"threshold": 1.0}, {"max_value": 6.0}):
        ours = L.ReLU(**kw, dtype="float64")(X)
        close(ours, np.asarray(keras.layers.ReLU(**kw, dtype="float64")(X)), str(kw))


def test_softmax_multi_axis_and_mask():
    x = rnd(2, 3, 4)
    y = L.Softmax(axis=(1, 2), dtype="float64")(x)
    close(y, F.softmax(torch.tensor(x).reshape(2, -1), -1).reshape(2, 3, 4).numpy())
    mask = np.array([[True, True, False, False]] * 3)[None].repeat(2, 0)
    ym = L.Softmax(dtype="float64")(x, mask=mask)
    ref = F.softmax(torch.tensor(np.where(mask, x, -np.inf)), -1).numpy()
    close(ym, ref)
    g = nm.grad(lambda xx: (L.Softmax().call({}, xx, mask=mask) * rnd(2, 3, 4, seed=5)).sum())(x)
    assert np.all(g[~mask] == 0)
    close(L.Softmax()(x, mask=np.zeros_like(mask)), np.zeros_like(x))


def test_activation_errors():
    with pytest.raises(ValueError, match="negative_slope=-1"):
        L.ReLU(negative_slope=-1)
    with pytest.raises(ValueError, match="max_value='a'"):
        L.ReLU(max_value="a")
    with pytest.raises(ValueError, match="threshold=-1"):
        L.ReLU(threshold=-1)
    with pytest.raises(ValueError, match="axis='x'"):
        L.Softmax(axis="x")


# ---------------------------------------------------------------------------------------------
# Reshaping layers
# ---------------------------------------------------------------------------------------------
X4 = rnd(2, 3, 4, 2)
X3 = rnd(2, 5, 3)


def nchw(fn):
    """A torch function on NCHW applied to NHWC input (and back)."""
    return lambda p, x: fn(x.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)


def ncl(fn):
    return lambda p, x: fn(x.permute(0, 2, 1)).permute(0, 2, 1)


@pytest.mark.parametrize("layer, ref, x", [
    (L.UpSampling2D((2, 3), dtype="float64"),
     nchw(lambda x: F.interpolate(x, scale_factor=(2, 3), mode="nearest")), X4),
    (L.UpSampling2D(2, interpolation="bilinear", dtype="float64"),
     nchw(lambda x: F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)), X4),
    (L.UpSampling2D((3, 2), interpolation="bilinear", dtype="float64"),
     nchw(lambda x: F.interpolate(x, scale_factor=(3, 2), mode="bilinear", align_corners=False)), X4),
    (L.UpSampling1D(3, dtype="float64"),
     ncl(lambda x: F.interpolate(x, scale_factor=3, mode="nearest")), X3),
    (L.ZeroPadding2D(((1, 2), (0, 3)), dtype="float64"), nchw(lambda x: F.pad(x, (0, 3, 1, 2))), X4),
    (L.ZeroPadding2D((1, 2), dtype="float64"), nchw(lambda x: F.pad(x, (2, 2, 1, 1))), X4),
    (L.ZeroPadding1D((2, 1), dtype="float64"), ncl(lambda x: F.pad(x, (2, 1))), X3),
    (L.Cropping2D(((1, 0), (1, 2)), dtype="float64"), lambda p, x: x[:, 1:, 1:-2], X4),
    (L.Cropping1D((1, 2), dtype="float64"), lambda p, x: x[:, 1:-2], X3),
    (L.RepeatVector(4, dtype="float64"), lambda p, x: x[:, None].expand(-1, 4, -1), rnd(3, 2)),
    (L.Permute((3, 1, 2), dtype="float64"), lambda p, x: x.permute(0, 3, 1, 2), X4),
])
def test_reshaping_layers_against_torch(layer, ref, x):
    against_torch(lambda p, xx: layer.call(p, xx), ref, {}, x)
    nm.check_grads(lambda xx: layer.call({}, xx), (x,), order=1)
    y = layer(x)
    assert layer.compute_output_shape((None,) + x.shape[1:]) == (None,) + y.shape[1:]
    roundtrip(layer)


def test_reshaping_channels_first_and_errors():
    x = rnd(2, 2, 3, 4)                 # NCHW
    close(L.ZeroPadding2D(1, data_format="channels_first")(x), np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1))))
    close(L.UpSampling2D(2, data_format="channels_first")(x), x.repeat(2, 2).repeat(2, 3))
    with pytest.raises(ValueError, match="cropping"):
        L.Cropping2D(((3, 0), (0, 0)))(X4)
    with pytest.raises(ValueError, match=r"padding=\(1, -1\)"):
        L.ZeroPadding1D((1, -1))
    with pytest.raises(ValueError, match="dims"):
        L.Permute((1, 3))
    with pytest.raises(ValueError, match="interpolation='cubic'"):
        L.UpSampling2D(interpolation="cubic")


# ---------------------------------------------------------------------------------------------
# Lambda and the merge helpers
# ---------------------------------------------------------------------------------------------
def test_lambda_layer():
    import nnmath.numpy as mnp

    def scaled_tanh(x, scale=1.0):
        return scale * mnp.tanh(x)
    layer = L.Lambda(scaled_tanh, arguments={"scale": 2.0}, dtype="float64")
    against_torch(lambda p, x: layer.call(p, x), lambda p, x: 2.0 * torch.tanh(x), {}, X)
    nm.check_grads(lambda x: layer.call({}, x), (X,))
    assert layer.compute_output_shape((None, 4, 5)) == (None, 4, 5)
    cfg = layer.get_config()
    json.dumps(cfg)
    with pytest.raises(ValueError, match="custom_objects"):
        L.Lambda.from_config(cfg)
    assert L.Lambda.from_config(cfg, custom_objects={"scaled_tanh": scaled_tanh}).arguments == {"scale": 2.0}
    with pytest.raises(ValueError, match="function=3"):
        L.Lambda(3)


def test_functional_merge_helpers():
    a, b = rnd(2, 3), rnd(2, 3, seed=1)
    close(L.add([a, b]), a + b)
    close(L.subtract([a, b]), a - b)
    close(L.multiply([a, b]), a * b)
    close(L.average([a, b]), (a + b) / 2)
    close(L.maximum([a, b]), np.maximum(a, b))
    close(L.minimum([a, b]), np.minimum(a, b))
    close(L.concatenate([a, b], axis=0), np.concatenate([a, b], 0))
    close(L.dot([a, b], axes=1), (a * b).sum(1, keepdims=True))
    na, nb = a / np.linalg.norm(a, axis=1, keepdims=True), b / np.linalg.norm(b, axis=1, keepdims=True)
    close(L.dot([a, b], axes=1, normalize=True), (na * nb).sum(1, keepdims=True))
    c, d = rnd(2, 3, 4), rnd(2, 5, 4, seed=2)
    layer = L.Dot(axes=2)
    against_torch(lambda p, x: layer.call(p, [x, d]), lambda p, x: torch.bmm(x, torch.tensor(d).transpose(1, 2)), {}, c)
    assert layer.compute_output_shape([(None, 3, 4), (None, 5, 4)]) == (None, 3, 5)


def test_functional_merge_helpers_on_symbolic_inputs():
    from nnmath.training import Input, Model
    a, b = Input((3,)), Input((3,))
    model = Model([a, b], L.concatenate([L.add([a, b]), L.multiply([a, b])]))
    x1, x2 = rnd(4, 3), rnd(4, 3, seed=1)
    close(model.predict([x1, x2]), np.concatenate([x1 + x2, x1 * x2], 1))


# ---------------------------------------------------------------------------------------------
# Noise layers: the passed rng is used, inference is the identity
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("layer", [L.GaussianNoise(0.3), L.GaussianDropout(0.3), L.AlphaDropout(0.3),
                                   L.SpatialDropout1D(0.3), L.SpatialDropout2D(0.3)])
def test_noise_layers_use_the_passed_rng(layer):
    x = rnd(4, 6, 5, 3)[:, :, 0] if "1D" in type(layer).__name__ else rnd(4, 6, 5, 3)
    if type(layer).__name__ in ("GaussianNoise", "GaussianDropout", "AlphaDropout"):
        x = rnd(4, 6)
    assert layer(x) is x or np.array_equal(layer(x), x)
    y1 = layer(x, training=True, rng=np.random.default_rng(3))
    y2 = layer(x, training=True, rng=np.random.default_rng(3))
    y3 = layer(x, training=True, rng=np.random.default_rng(4))
    assert np.array_equal(y1, y2) and not np.array_equal(y1, y3)
    nm.check_grads(lambda xx: layer.call({}, xx, training=True, rng=np.random.default_rng(3)), (x,),
                   order=1)
    roundtrip(layer)


def test_noise_formulas():
    x = rnd(200, 50)
    rng = np.random.default_rng(0)
    eps = np.random.default_rng(0).standard_normal(x.shape)
    close(L.GaussianNoise(0.5, dtype="float64")(x, training=True, rng=rng), x + 0.5 * eps)
    # AlphaDropout: SELU-normalised input keeps mean 0, variance 1 (Klambauer et al. 2017)
    z = np.random.default_rng(1).standard_normal((400, 500))
    y = L.AlphaDropout(0.2)(z, training=True, rng=np.random.default_rng(2))
    assert abs(y.mean()) < 0.01 and abs(y.var() - 1) < 0.02
    a, b, alpha_p = L.AlphaDropout(0.2).coefficients()
    keep = np.random.default_rng(2).random(z.shape) >= 0.2
    close(y, a * np.where(keep, z, alpha_p) + b)
    # spatial dropout: one value per (example, channel)
    y = L.SpatialDropout2D(0.5)(np.ones((3, 4, 5, 6)), training=True, rng=np.random.default_rng(0))
    assert np.all(y == y[:, :1, :1, :]) and set(np.unique(y)) <= {0.0, 2.0}
    y = L.SpatialDropout2D(0.5, data_format="channels_first")(np.ones((3, 6, 4, 5)), training=True,
                                                               rng=np.random.default_rng(0))
    assert np.all(y == y[:, :, :1, :1])
    y = L.SpatialDropout1D(0.5)(np.ones((3, 7, 6)), training=True, rng=np.random.default_rng(0))
    assert np.all(y == y[:, :1, :])


def test_noise_layers_inside_jit_need_the_rng_as_argument():
    layer = L.GaussianNoise(0.1)
    f = nm.jit(lambda x, rng: layer.call({}, x, training=True, rng=rng))
    x = rnd(2, 3)
    a = f(x, np.random.default_rng(0))
    b = f(x, np.random.default_rng(1))
    assert not np.array_equal(a, b)
    with pytest.raises(Exception, match="Generator"):
        nm.jit(lambda x: layer.call({}, x, training=True, rng=np.random.default_rng(0)))(x)


# ---------------------------------------------------------------------------------------------
# Preprocessing
# ---------------------------------------------------------------------------------------------
def test_rescaling():
    layer = L.Rescaling(0.5, offset=1.0, dtype="float64")
    against_torch(lambda p, x: layer.call(p, x), lambda p, x: 0.5 * x + 1.0, {}, X)
    assert L.Rescaling(1 / 255)(np.array([[255]], np.uint8)).dtype == np.float32
    roundtrip(layer)


def test_normalization_adapt_matches_keras():
    keras = _keras()
    data = rnd(40, 3, 4) * 5 + 2
    for axis in (-1, (1, 2), None):
        ours = L.Normalization(axis=axis, dtype="float64")
        ours.adapt(data, batch_size=7)                     # batches merged exactly
        ref = keras.layers.Normalization(axis=axis, dtype="float64")
        ref.adapt(data)
        x = rnd(5, 3, 4, seed=3)
        close(ours(x), np.asarray(ref(x)), f"axis={axis}")
        close(np.reshape(ours.mean, -1), np.reshape(np.asarray(ref.mean), -1))
    inv = L.Normalization(mean=2.0, variance=4.0, invert=True, dtype="float64")
    close(inv(np.array([[2.0, 4.0]])), [[6.0, 10.0]])
    roundtrip(inv)


def test_normalization_gradient_and_model():
    from nnmath.training import Sequential
    norm = L.Normalization(dtype="float64")
    data = rnd(50, 3) * [1.0, 10.0, 0.1]
    norm.adapt(data)
    p = dict(norm.values)
    against_torch(lambda q, x: norm.call(p, x),
                  lambda q, x: (x - torch.tensor(data.mean(0))) / torch.tensor(data.std(0)), {}, data[:5])
    nm.check_grads(lambda x: norm.call(p, x), (data[:4],))
    model = Sequential([norm, L.Dense(1, dtype="float64")])
    model.compile(loss="mse", optimizer="sgd")
    model.fit(data, data[:, :1], epochs=1, verbose=0)
    np.testing.assert_allclose(norm.values["mean"], data.mean(0))       # not trained
    norm.adapt(data * 2)                                              # in place: the model sees it
    np.testing.assert_allclose(model.layers[0].values["mean"], 2 * data.mean(0))
    assert norm.values["count"] == 50


def test_category_encoding():
    keras = _keras()
    for mode, x in [("one_hot", np.array([0, 1, 3])), ("one_hot", np.array([[0], [2]])),
                    ("one_hot", np.array([[0, 1], [1, 3]])), ("multi_hot", np.array([[0, 1], [1, 1]])),
                    ("multi_hot", np.array([0, 3])), ("count", np.array([[0, 1, 1], [3, 3, 2]]))]:
        ours = L.CategoryEncoding(4, output_mode=mode)
        ref = np.asarray(keras.layers.CategoryEncoding(4, output_mode=mode)(x))
        close(ours(x), ref, f"{mode} {x.tolist()}")
        assert ours.compute_output_shape(x.shape) == ref.shape
    w = np.array([[0.5, 2.0], [1.0, 3.0]])
    close(L.CategoryEncoding(4, output_mode="count")(np.array([[0, 1], [1, 1]]), count_weights=w),
          [[0.5, 2.0, 0, 0], [0, 4.0, 0, 0]])
    with pytest.raises(ValueError, match=r"num_tokens=4\), received values in \[0, 5\]"):
        L.CategoryEncoding(4)(np.array([[0, 5]]))
    with pytest.raises(ValueError, match="output_mode='tf_idf'"):
        L.CategoryEncoding(4, output_mode="tf_idf")


def test_string_and_integer_lookup():
    # the examples of Keras's documentation
    vocab = ["a", "b", "c", "d"]
    data = [["a", "c", "d"], ["d", "z", "b"]]
    np.testing.assert_array_equal(L.StringLookup(vocabulary=vocab)(data), [[1, 3, 4], [4, 0, 2]])
    layer = L.StringLookup()
    layer.adapt(data)
    assert layer.get_vocabulary() == ["[UNK]", "d", "z", "c", "b", "a"]
    masked = L.StringLookup(vocabulary=vocab, mask_token="")
    np.testing.assert_array_equal(masked([["a", "c", "d", ""], ["d", "z", "b", ""]]),
                                  [[2, 4, 5, 0], [5, 1, 3, 0]])
    inv = L.StringLookup(vocabulary=vocab, invert=True)
    np.testing.assert_array_equal(inv(np.array([[1, 3, 4], [4, 0, 2]])),
                                  [["a", "c", "d"], ["d", "[UNK]", "b"]])
    np.testing.assert_array_equal(L.StringLookup(vocabulary=vocab, output_mode="multi_hot")(data),
                                  [[0, 1, 0, 1, 1], [1, 0, 1, 0, 1]])
    ivocab = [12, 36, 1138, 42]
    idata = [[12, 1138, 42], [42, 1000, 36]]
    np.testing.assert_array_equal(L.IntegerLookup(vocabulary=ivocab)(idata), [[1, 3, 4], [4, 0, 2]])
    il = L.IntegerLookup()
    il.adapt(idata)
    assert il.get_vocabulary() == [-1, 42, 1138, 1000, 36, 12]
    small = L.IntegerLookup(max_tokens=3)
    small.adapt(idata)
    assert small.get_vocabulary() == [-1, 42, 1138]
    again = roundtrip(L.StringLookup(vocabulary=vocab, mask_token=""))
    assert again.get_vocabulary() == ["", "[UNK]"] + vocab
    with pytest.raises(ValueError, match="num_oov_indices=0"):
        L.StringLookup(vocabulary=vocab, num_oov_indices=0)(["z"])
    with pytest.raises(ValueError, match="repeated"):
        L.StringLookup(vocabulary=["a", "a"])


# ---------------------------------------------------------------------------------------------
# Transposed convolutions
# ---------------------------------------------------------------------------------------------
def _conv_t_torch(x, kernel, bias, strides, dilation, rank):
    """Keras kernel (…, O, C) → torch conv_transpose weight (C, O, …); NHWC ↔ NCHW. Keras's
    'valid' output L·s + max(k̂ − s, 0) is torch's with output_padding max(s − k̂, 0)."""
    span = [d * (k - 1) + 1 for k, d in zip(kernel.shape[:rank], dilation)]
    extra = tuple(max(s - k, 0) for s, k in zip(strides, span))
    if rank == 2:
        w = kernel.permute(3, 2, 0, 1)
        y = F.conv_transpose2d(x.permute(0, 3, 1, 2), w, bias, stride=strides, dilation=dilation,
                               output_padding=extra)
        return y.permute(0, 2, 3, 1)
    w = kernel.permute(2, 1, 0)
    return F.conv_transpose1d(x.permute(0, 2, 1), w, bias, stride=strides, dilation=dilation,
                              output_padding=extra).permute(0, 2, 1)


@pytest.mark.parametrize("kw", [dict(kernel_size=3, strides=1), dict(kernel_size=3, strides=2),
                                dict(kernel_size=(2, 3), strides=(2, 1)),
                                dict(kernel_size=2, strides=3),
                                dict(kernel_size=3, strides=1, dilation_rate=2)])
def test_conv2d_transpose_valid_against_torch(kw):
    layer = L.Conv2DTranspose(3, dtype="float64", **kw)
    x = rnd(2, 4, 3, 2)
    layer.build((None,) + x.shape[1:])
    p = {k: rnd(*v.shape, seed=i + 1) for i, (k, v) in enumerate(layer.values.items())}
    s, d = layer.strides, layer.dilation_rate
    against_torch(lambda q, xx: layer.call(q, xx),
                  lambda q, xx: _conv_t_torch(xx, q["kernel"], q["bias"], s, d, 2), p, x)
    nm.check_grads(lambda q, xx: layer.call(q, xx), (p, x), order=1)
    assert layer.compute_output_shape((None,) + x.shape[1:]) == (None,) + layer.call(p, x).shape[1:]
    roundtrip(layer)


@pytest.mark.parametrize("kw", [dict(kernel_size=3, strides=2), dict(kernel_size=4, strides=1),
                                dict(kernel_size=1, strides=3)])
def test_conv1d_transpose_valid_against_torch(kw):
    layer = L.Conv1DTranspose(2, dtype="float64", **kw)
    x = rnd(2, 5, 3)
    layer.build((None,) + x.shape[1:])
    p = {k: rnd(*v.shape, seed=i + 1) for i, (k, v) in enumerate(layer.values.items())}
    s, d = layer.strides, layer.dilation_rate
    against_torch(lambda q, xx: layer.call(q, xx),
                  lambda q, xx: _conv_t_torch(xx, q["kernel"], q["bias"], s, d, 1), p, x)
    nm.check_grads(lambda q, xx: layer.call(q, xx), (p, x), order=1)


@pytest.mark.parametrize("rank, kw", [
    (2, dict(kernel_size=3, strides=2, padding="same")),
    (2, dict(kernel_size=4, strides=2, padding="same")),
    (2, dict(kernel_size=(3, 2), strides=(2, 3), padding="same")),
    (2, dict(kernel_size=3, strides=2, padding="same", output_padding=1)),
    (2, dict(kernel_size=3, strides=2, padding="valid", output_padding=1)),
    (2, dict(kernel_size=3, strides=1, padding="same", dilation_rate=2)),
    (1, dict(kernel_size=5, strides=2, padding="same")),
    (1, dict(kernel_size=4, strides=3, padding="valid", output_padding=2)),
])
def test_conv_transpose_against_keras(rank, kw):
    """'same' and output_padding (PyTorch's symmetric padding cannot express TensorFlow's)."""
    keras = _keras()
    ours = (L.Conv2DTranspose if rank == 2 else L.Conv1DTranspose)(3, dtype="float64", **kw)
    ref = (keras.layers.Conv2DTranspose if rank == 2 else keras.layers.Conv1DTranspose)(
        3, dtype="float64", **kw)
    x = rnd(2, 5, 4, 2) if rank == 2 else rnd(2, 5, 2)
    ours.build((None,) + x.shape[1:])
    ref.build((None,) + x.shape[1:])
    p = {k: rnd(*v.shape, seed=i + 1) for i, (k, v) in enumerate(ours.values.items())}
    ref.set_weights([p["kernel"], p["bias"]])
    close(ours.call(p, x), np.asarray(ref(x)), str(kw))
    assert ours.compute_output_shape((None,) + x.shape[1:]) == tuple(ref.compute_output_shape((None,) + x.shape[1:]))
    nm.check_grads(lambda q, xx: ours.call(q, xx), (p, x), order=1)


def test_conv_transpose_is_the_adjoint_of_conv_and_trains():
    from nnmath.training import Sequential
    conv = L.Conv2D(2, 3, strides=2, padding="same", use_bias=False, dtype="float64")
    u = rnd(1, 6, 6, 3)
    conv.build(u.shape)
    w = conv.values["kernel"]
    x = rnd(*conv(u).shape, seed=4)
    tconv = L.Conv2DTranspose(3, 3, strides=2, padding="same", use_bias=False, dtype="float64")
    y = tconv.call({"kernel": w}, x)                      # kernel (3, 3, 3 out, 2 in)
    close((y * u).sum(), (x * conv(u)).sum())
    model = Sequential([L.Conv2DTranspose(2, 3, strides=2, padding="same", input_shape=(4, 4, 1)),
                        L.Conv2D(1, 3, padding="same")])
    model.compile(loss="mse", optimizer="adam")
    h = model.fit(rnd(8, 4, 4, 1), rnd(8, 8, 8, 1), epochs=2, verbose=0)
    assert np.isfinite(h.history["loss"]).all()
    with pytest.raises(ValueError, match="output_padding"):
        L.Conv2DTranspose(2, 3, strides=2, output_padding=2)


# ---------------------------------------------------------------------------------------------
# TimeDistributed and Bidirectional
# ---------------------------------------------------------------------------------------------
def test_time_distributed_dense_and_conv_against_torch():
    td = L.TimeDistributed(L.Dense(4, activation="tanh", dtype="float64"))
    x = rnd(2, 5, 3)
    td.build((None, 5, 3))
    p = {"kernel": rnd(3, 4, seed=1), "bias": rnd(4, seed=2)}
    against_torch(lambda q, xx: td.call(q, xx),
                  lambda q, xx: torch.tanh(xx @ q["kernel"] + q["bias"]), p, x)
    nm.check_grads(lambda q, xx: td.call(q, xx), (p, x), order=1)
    assert td.compute_output_shape((None, 5, 3)) == (None, 5, 4)
    again = roundtrip(td)
    assert isinstance(again.layer, L.Dense) and again.layer.units == 4
    tc = L.TimeDistributed(L.Conv2D(2, 2, dtype="float64"))
    xc = rnd(2, 3, 4, 4, 1)
    tc.build((None,) + xc.shape[1:])
    pc = {"kernel": rnd(2, 2, 1, 2, seed=3), "bias": rnd(2, seed=4)}

    def ref(q, xx):
        y = F.conv2d(xx.reshape(6, 4, 4, 1).permute(0, 3, 1, 2), q["kernel"].permute(3, 2, 0, 1), q["bias"])
        return y.permute(0, 2, 3, 1).reshape(2, 3, 3, 3, 2)
    against_torch(lambda q, xx: tc.call(q, xx), ref, pc, xc)


def _torch_rnn(kind, units, n_in, bidirectional, p, prefix=("forward_", "backward_")):
    """A torch RNN called with our weights (Keras layout → PyTorch, see recurrent.py), through
    ``torch.func.functional_call`` so gradients reach ``p``."""
    mod = {"SimpleRNN": torch.nn.RNN, "LSTM": torch.nn.LSTM, "GRU": torch.nn.GRU}[kind](
        n_in, units, batch_first=True, bidirectional=bidirectional, dtype=torch.float64)
    weights = {}
    for suffix, pre in zip(("", "_reverse"), prefix[:2 if bidirectional else 1]):
        k, r, b = (p[pre + "kernel"], p[pre + "recurrent_kernel"], p[pre + "bias"])
        if kind == "GRU":                        # (z, r, h) → (r, z, n)
            perm = lambda m: torch.cat([m[..., units:2 * units], m[..., :units], m[..., 2 * units:]], -1)
            k, r = perm(k), perm(r)
            b_ih, b_hh = perm(b[0]), perm(b[1])
        else:
            b_ih, b_hh = b, torch.zeros_like(b)
        weights.update({"weight_ih_l0" + suffix: k.T, "weight_hh_l0" + suffix: r.T,
                        "bias_ih_l0" + suffix: b_ih, "bias_hh_l0" + suffix: b_hh})
    return lambda *args: torch.func.functional_call(mod, weights, args)


@pytest.mark.parametrize("kind", ["SimpleRNN", "LSTM", "GRU"])
@pytest.mark.parametrize("return_sequences", [False, True])
def test_bidirectional_against_torch(kind, return_sequences):
    units, n_in = 3, 2
    layer = L.Bidirectional(getattr(L, kind)(units, return_sequences=return_sequences, dtype="float64"))
    x = rnd(2, 4, n_in)
    layer.build((None, 4, n_in))
    p = {k: rnd(*v.shape, seed=i + 1) * 0.5 for i, (k, v) in enumerate(layer.values.items())}

    def ref(q, xx):
        out, _ = _torch_rnn(kind, units, n_in, True, q)(xx)
        return out if return_sequences else torch.cat([out[:, -1, :units], out[:, 0, units:]], -1)
    against_torch(lambda q, xx: layer.call(q, xx), ref, p, x)
    nm.check_grads(lambda q: layer.call(q, x), (p,), order=1)
    assert layer.compute_output_shape((None, 4, n_in)) == layer.call(p, x).shape[:0] + (
        (None, 4, 6) if return_sequences else (None, 6))


def test_bidirectional_merge_modes_states_and_config():
    x = rnd(2, 4, 2)
    base = L.Bidirectional(L.LSTM(3, return_sequences=True, dtype="float64"), merge_mode=None)
    y_f, y_b = base(x)
    p = dict(base.values)
    for mode, fn in [("sum", lambda a, b: a + b), ("mul", lambda a, b: a * b),
                     ("ave", lambda a, b: (a + b) / 2), ("concat", lambda a, b: np.concatenate([a, b], -1))]:
        other = L.Bidirectional(L.LSTM(3, return_sequences=True, dtype="float64"), merge_mode=mode)
        other.build((None, 4, 2))
        close(other.call(p, x), fn(y_f, y_b), mode)
    st = L.Bidirectional(L.GRU(3, return_state=True, dtype="float64"))
    out, h_f, h_b = st(x)
    close(out, np.concatenate([h_f, h_b], -1))
    assert set(base.values) == {f"{d}_{w}" for d in ("forward", "backward")
                                for w in ("kernel", "recurrent_kernel", "bias")}
    again = roundtrip(base)
    assert again.backward_layer.go_backwards and again.merge_mode is None
    with pytest.raises(ValueError, match="merge_mode='cat'"):
        L.Bidirectional(L.LSTM(2), merge_mode="cat")
    with pytest.raises(ValueError, match="recurrent"):
        L.Bidirectional(L.Dense(2))


def test_bidirectional_in_a_sequential_model_trains_and_saves(tmp_path):
    from nnmath.training import Sequential, load_model
    model = Sequential([L.Embedding(20, 4, input_shape=(6,)), L.Bidirectional(L.LSTM(5)),
                        L.Dense(1, activation="sigmoid")])
    model.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"])
    xs = np.random.default_rng(0).integers(0, 20, (16, 6))
    model.fit(xs, (xs[:, 0] > 10).astype(float), epochs=1, verbose=0)
    model.save(tmp_path / "m.npz")
    again = load_model(str(tmp_path / "m.npz"))
    close(again.predict(xs), model.predict(xs))


# ---------------------------------------------------------------------------------------------
# Masks
# ---------------------------------------------------------------------------------------------
def _apply(layers, params, x):
    """A model's forward pass threading masks (what model.py does with call_masked)."""
    from nnmath.nn.layers.masking import call_masked
    mask = None
    for layer, p in zip(layers, params):
        x, mask = call_masked(layer, p, x, mask)
    return x


@pytest.mark.parametrize("kind", ["SimpleRNN", "LSTM", "GRU"])
def test_masked_steps_are_skipped_like_packed_sequences(kind):
    """Embedding(mask_zero=True) → RNN: the last output of a right-padded sequence is the state at
    its last real step (torch's pack_padded_sequence)."""
    units, vocab, dim = 3, 7, 2
    emb = L.Embedding(vocab, dim, mask_zero=True, dtype="float64")
    rnn = getattr(L, kind)(units, dtype="float64")
    emb.build((None, 5))
    rnn.build((None, 5, dim))
    pe = {"embeddings": rnd(vocab, dim, seed=1)}
    pr = {k: rnd(*v.shape, seed=i + 2) * 0.5 for i, (k, v) in enumerate(rnn.values.items())}
    tokens = np.array([[3, 1, 4, 0, 0], [2, 6, 5, 1, 2], [5, 0, 0, 0, 0]])
    lengths = (tokens != 0).sum(1)

    def ours(q, _):
        return _apply([emb, rnn], [pe, q], tokens)

    def ref(q, _):
        mod = _torch_rnn(kind, units, dim, False, q, prefix=("",))
        e = torch.tensor(pe["embeddings"])[torch.tensor(tokens)]
        packed = torch.nn.utils.rnn.pack_padded_sequence(e, torch.tensor(lengths), batch_first=True,
                                                         enforce_sorted=False)
        h = mod(packed)[1]
        return (h[0] if kind == "LSTM" else h)[0]
    against_torch(ours, ref, pr, tokens, x_grad=False)
    nm.check_grads(lambda q: ours(q, None), (pr,), order=1)


def test_masked_sequences_against_keras():
    """return_sequences with a mask: masked steps repeat the previous output (Keras 3)."""
    keras = _keras()
    tokens = np.array([[3, 1, 0, 4, 0], [2, 6, 5, 1, 2], [0, 5, 0, 0, 0]])
    for kind, kw in [("LSTM", {}), ("GRU", {}), ("SimpleRNN", {"go_backwards": True})]:
        emb = L.Embedding(7, 2, mask_zero=True, dtype="float64")
        rnn = getattr(L, kind)(3, return_sequences=True, dtype="float64", **kw)
        pool = L.GlobalAveragePooling1D(dtype="float64")
        k_emb = keras.layers.Embedding(7, 2, mask_zero=True, dtype="float64")
        k_rnn = getattr(keras.layers, kind)(3, return_sequences=True, dtype="float64", **kw)
        inp = keras.Input((5,), dtype="int32")
        seq = k_rnn(k_emb(inp))
        kmodel = keras.Model(inp, [seq, keras.layers.GlobalAveragePooling1D()(seq)])
        emb.build((None, 5))
        rnn.build((None, 5, 2))
        k_emb.set_weights(emb.get_weights())
        k_rnn.set_weights(rnn.get_weights())
        ks, kp = kmodel(tokens)
        # atol 1e-7: when another test module imported Keras first, some of its intermediates
        # are float32 (seen: 8e-9 absolute on a value of 4e-3)
        np.testing.assert_allclose(_apply([emb, rnn], [dict(emb.values), dict(rnn.values)], tokens),
                                   np.asarray(ks, np.float64), rtol=1e-6, atol=1e-7, err_msg=kind)
        np.testing.assert_allclose(
            _apply([emb, rnn, pool], [dict(emb.values), dict(rnn.values), {}], tokens),
            np.asarray(kp, np.float64), rtol=1e-6, atol=1e-7, err_msg=kind + " pooled")


def test_masking_layer_and_bidirectional_mask():
    x = rnd(2, 4, 3)
    x[0, 2:] = 0.0
    masking = L.Masking()
    np.testing.assert_array_equal(masking.compute_mask(x), [[True, True, False, False]] + [[True] * 4])
    bi = L.Bidirectional(L.LSTM(2, dtype="float64"))
    bi.build((None, 4, 3))
    p = dict(bi.values)
    full = _apply([masking, bi], [{}, p], x)
    short = bi.call(p, x[:1, :2])                          # the same as the unpadded sequence
    close(full[:1], short)
    td = L.TimeDistributed(L.Dense(2))
    from nnmath.nn.layers.masking import compute_mask
    assert compute_mask(td, x, masking.compute_mask(x)) is not None
    assert compute_mask(L.Flatten(), x, masking.compute_mask(x)) is None


# ---------------------------------------------------------------------------------------------
# Every new layer: config round trip and the keras namespace
# ---------------------------------------------------------------------------------------------
NEW = ["ReLU", "LeakyReLU", "ELU", "Softmax", "Lambda", "UpSampling1D", "UpSampling2D",
       "ZeroPadding1D", "ZeroPadding2D", "Cropping1D", "Cropping2D", "RepeatVector", "Permute",
       "GlobalAveragePooling1D", "Rescaling", "GaussianNoise", "GaussianDropout",
       "SpatialDropout1D", "SpatialDropout2D", "AlphaDropout", "Conv2DTranspose",
       "Conv1DTranspose", "TimeDistributed", "Bidirectional", "Normalization", "CategoryEncoding",
       "Masking", "StringLookup", "IntegerLookup", "Dot", "add", "concatenate", "average",
       "multiply", "subtract", "maximum", "minimum", "dot"]


def test_keras_namespace_has_the_new_layers():
    import nnmath.keras as nk
    missing = [n for n in NEW if not hasattr(nk.layers, n)]
    assert not missing


def test_new_layers_save_and_load_in_a_model(tmp_path):
    from nnmath.training import Sequential, load_model
    norm = L.Normalization()
    norm.adapt(rnd(30, 8, 8, 1))
    model = Sequential([
        L.InputLayer(shape=(8, 8, 1)), norm, L.ZeroPadding2D(1), L.Conv2D(2, 3), L.LeakyReLU(),
        L.Cropping2D(1), L.UpSampling2D(), L.SpatialDropout2D(0.1), L.Conv2DTranspose(2, 3, strides=2,
                                                                                      padding="same"),
        L.GlobalAveragePooling2D(), L.RepeatVector(3), L.Permute((2, 1)), L.GaussianNoise(0.1),
        L.Flatten(), L.Dense(1), L.ReLU(max_value=5.0)])
    model.compile(loss="mse", optimizer="adam")
    x = rnd(6, 8, 8, 1)
    model.fit(x, rnd(6, 1), epochs=1, verbose=0)
    model.save(tmp_path / "m.npz")
    again = load_model(str(tmp_path / "m.npz"))
    close(again.predict(x), model.predict(x))
    loaded = next(l for l in again.layers if isinstance(l, L.Normalization))
    close(loaded.values["mean"], norm.values["mean"])


_KERAS = {}


def _keras():
    if "k" not in _KERAS:
        os.environ.setdefault("KERAS_BACKEND", "jax")
        jax = pytest.importorskip("jax")
        jax.config.update("jax_enable_x64", True)         # as tests/test_against_jax.py
        keras = pytest.importorskip("keras")
        if keras.backend.backend() != "jax":
            pytest.skip("real Keras is loaded with another backend")
        _KERAS["k"] = keras
    return _KERAS["k"]
