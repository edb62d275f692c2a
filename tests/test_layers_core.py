"""Core, convolution, pooling and merge layers, and the conv/pooling primitives under them.

* ROWS: the rule table of the primitives in nnmath/nn/_conv.py and nnmath/nn/_pooling.py (check_grads
  to order 2 in both modes, float64; tests/test_vmap.py runs them under vmap too).
* Every layer's output and its parameter and input gradients against PyTorch on the same weights
  (float64, 1e-6), with Keras's layouts mapped to PyTorch's (NHWC ↔ NCHW, kernel (KH, KW, in, out)
  ↔ (out, in, KH, KW)) and TensorFlow's asymmetric 'same' padding written out with F.pad.
* get_config / from_config, compute_output_shape, errors, Dropout's conventions, vmap folds.
"""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

import nnmath as nm
import nnmath.numpy as mnp
from nnmath.nn import _conv, _pooling, initializers
from nnmath.nn.layers.conv import Conv1D, Conv2D
from nnmath.nn.layers.core import (Activation, Dense, Dropout, Embedding, Flatten, Identity,
                                   InputLayer, Reshape)
from nnmath.nn.layers.merge import (Add, Average, Concatenate, Maximum, Minimum, Multiply,
                                    Subtract)
from nnmath.nn.layers.pooling import (AveragePooling1D, AveragePooling2D, GlobalAveragePooling1D,
                                      GlobalAveragePooling2D, GlobalMaxPooling1D,
                                      GlobalMaxPooling2D, MaxPooling1D, MaxPooling2D)
from rowtable import Row, rng, run_row

F64 = "float64"
TOL = dict(rtol=1e-6, atol=1e-9)


def close(a, b, what=""):
    np.testing.assert_allclose(np.asarray(a, np.float64), np.asarray(b, np.float64), err_msg=what, **TOL)


def distinct(shape, seed=0, step=0.05):
    """Values at least ``step`` apart (no ties, so max pooling is differentiable nearby)."""
    n = math.prod(shape)
    return (np.random.default_rng(seed).permutation(n) - n / 2).reshape(shape) * step


# ---------------------------------------------------------------------------------------------
# The rule table of the primitives
# ---------------------------------------------------------------------------------------------

R = rng(7)
X = R.normal(size=(2, 5, 4, 2))
W33 = R.normal(size=(3, 3, 2, 3))
W24 = R.normal(size=(2, 4, 2, 3))
XD = distinct((2, 5, 5, 2))


def _geom(x_hw, k_hw, strides=(1, 1), padding="valid", dilation=(1, 1)):
    pads = _conv._explicit_padding(padding, x_hw, k_hw, strides, dilation)
    return dict(strides=strides, padding=pads, dilation=dilation)


G_VALID = _geom((5, 4), (3, 3))
G_SAME_EVEN = _geom((5, 4), (2, 4), strides=(2, 1), padding="same")
G_DIL = _geom((5, 4), (3, 3), strides=(1, 2), padding="same", dilation=(2, 1))
Y_VALID = _conv._conv2d_impl(X, W33, None, **G_VALID)
Y_EVEN = _conv._conv2d_impl(X, W24, None, **G_SAME_EVEN)


def _pool_params(x_hw, pool, strides, padding):
    pool, strides, pads = _pooling.pool_geometry(x_hw, pool, strides, padding)
    return dict(pool=pool, strides=strides, padding=pads)


P_VALID = _pool_params((5, 5), 2, None, "valid")          # drops the last row/column
P_SAME = _pool_params((5, 5), (3, 2), (2, 1), "same")     # asymmetric padding, overlapping
P_OVER = _pool_params((5, 5), 3, 1, "valid")              # overlapping windows
YP = {k: _pooling._max_pool_impl(XD, **p) for k, p in (("valid", P_VALID), ("same", P_SAME),
                                                       ("over", P_OVER))}
PP = {"valid": P_VALID, "same": P_SAME, "over": P_OVER}

ROWS = [
    Row("conv2d", lambda x, w: _conv.conv2d(x, w), (X, W33), id="conv2d-valid"),
    Row("conv2d", lambda x, w: _conv.conv2d(x, w, strides=(2, 1), padding="same"), (X, W24),
        id="conv2d-same-even-kernel-strided"),
    Row("conv2d", lambda x, w: _conv.conv2d(x, w, strides=(1, 2), padding="same",
                                            dilation_rate=(2, 1)), (X, W33), id="conv2d-dilated"),
    Row("conv2d", lambda x, w: _conv.conv1d(x, w, padding="causal", dilation_rate=2),
        (X[:, 0], W33[0]), id="conv1d-causal"),
    Row("conv2d", lambda x, w, b: _conv.conv2d(x, w, b, padding="same"), (X, W24, R.normal(size=3)),
        id="conv2d-bias"),
    Row("conv2d_backprop_input", lambda g, w: _conv._bp_input(g, w, in_hw=(5, 4), **G_VALID),
        (R.normal(size=Y_VALID.shape), W33)),
    Row("conv2d_backprop_input", lambda g, w: _conv._bp_input(g, w, in_hw=(5, 4), **G_SAME_EVEN),
        (R.normal(size=Y_EVEN.shape), W24), id="conv2d_backprop_input-same-strided"),
    Row("conv2d_backprop_filter", lambda x, g: _conv._bp_filter(x, g, kernel_hw=(3, 3), **G_VALID),
        (X, R.normal(size=Y_VALID.shape))),
    Row("conv2d_backprop_filter", lambda x, g: _conv._bp_filter(x, g, kernel_hw=(3, 3), **G_DIL),
        (X, R.normal(size=_conv._conv2d_impl(X, W33, None, **G_DIL).shape)),
        id="conv2d_backprop_filter-dilated"),
    Row("max_pool2d", lambda x: _pooling.max_pool2d(x), (XD,), id="max_pool2d-valid"),
    Row("max_pool2d", lambda x: _pooling.max_pool2d(x, (3, 2), (2, 1), "same"), (XD,),
        id="max_pool2d-same-overlapping"),
    Row("max_pool2d", lambda x: _pooling.max_pool2d(x, 3, 1), (XD,), id="max_pool2d-overlapping"),
    Row("max_pool2d_gather", lambda t: _pooling._gather(t, XD, YP["same"], **P_SAME),
        (R.normal(size=XD.shape),)),
    Row("max_pool2d_scatter", lambda g: _pooling._scatter(g, XD, YP["over"], **P_OVER),
        (R.normal(size=YP["over"].shape),)),
    Row("max_pool2d_scatter", lambda g: _pooling._scatter(g, XD, YP["valid"], **P_VALID),
        (R.normal(size=YP["valid"].shape),), id="max_pool2d_scatter-disjoint"),
    Row("sum_pool2d", lambda x: _pooling.avg_pool2d(x, (3, 2), (2, 1), "same"), (X,),
        id="avg_pool2d-same"),
    Row("sum_pool2d", lambda x: _pooling.avg_pool2d(x, 2), (X,), id="avg_pool2d-valid"),
    Row("sum_pool2d_transpose",
        lambda g: _pooling._sum_pool_t(g, in_hw=(5, 5), **P_SAME), (R.normal(size=YP["same"].shape),)),
]


@pytest.mark.parametrize("row", ROWS, ids=lambda r: r.id)
def test_row(row):
    run_row(row)


def _loop(f, args, axes):
    size = next(a.shape[0] for a, ax in zip(args, axes) if ax == 0)
    outs = [f(*[a[k] if ax == 0 else a for a, ax in zip(args, axes)]) for k in range(size)]
    return np.stack(outs)


@pytest.mark.parametrize("axes", [(0, None), (None, 0), (0, 0)])
@pytest.mark.parametrize("name", ["conv2d", "backprop_input", "backprop_filter"])
def test_vmap_folds_each_argument(name, axes):
    """The batching rules fold the vmapped axis into N, into channels, or loop; all agree."""
    f, a, b = {
        "conv2d": (lambda x, w: _conv._conv(x, w, None, **G_SAME_EVEN), X, W24),
        "backprop_input": (lambda g, w: _conv._bp_input(g, w, in_hw=(5, 4), **G_SAME_EVEN),
                           R.normal(size=Y_EVEN.shape), W24),
        "backprop_filter": (lambda x, g: _conv._bp_filter(x, g, kernel_hw=(2, 4), **G_SAME_EVEN),
                            X, R.normal(size=Y_EVEN.shape)),
    }[name]
    args = [np.stack([v * (1 + 0.1 * k) for k in range(3)]) if ax == 0 else v
            for v, ax in zip((a, b), axes)]
    close(nm.vmap(f, in_axes=axes)(*args), _loop(f, args, axes), name)


@pytest.mark.parametrize("axes", [(0, None, 0), (None, 0, None), (None, None, 0), (0, 0, 0)])
def test_vmap_of_conv_with_a_bias(axes):
    f = lambda x, w, b: _conv.conv2d(x, w, b, strides=(2, 1), padding="same")
    args = [np.stack([v * (1 + 0.1 * k) for k in range(3)]) if ax == 0 else v
            for v, ax in zip((X, W24, np.arange(3.0)), axes)]
    close(nm.vmap(f, in_axes=axes)(*args), _loop(f, args, axes))


def test_max_pool_routes_an_infinite_cotangent_to_the_maximum_only():
    x = distinct((1, 4, 4, 1))
    g = np.array([np.inf, 1.0, -np.inf, 2.0]).reshape(1, 2, 2, 1)
    gx = nm.vjp(_pooling.max_pool2d, x)[1](g)[0]
    assert not np.isnan(gx).any()
    assert sorted(gx[gx != 0].tolist()) == [-np.inf, 1.0, 2.0, np.inf]
    t = np.where(x > 0, np.inf, 1.0)
    assert not np.isnan(nm.jvp(_pooling.max_pool2d, (x,), (t,))[1]).any()


@pytest.mark.parametrize("kind", ["same", "over"])
def test_vmap_of_max_pool_rules_with_unbatched_masks(kind):
    """jacrev of max pooling: batched cotangents, unbatched x (the masks are broadcast)."""
    f = lambda x: _pooling._max_pool(x, **PP[kind])
    close(nm.jacrev(f)(XD), nm.jacfwd(f)(XD))


def test_hessian_through_a_conv_net_matches_both_modes():
    x = R.normal(size=(2, 6, 6, 1))

    def loss(w):
        h = mnp.tanh(_conv.conv2d(x, w, padding="same"))
        return mnp.sum(_pooling.max_pool2d(h) ** 2)

    w = R.normal(size=(3, 3, 1, 2))
    h1, h2 = nm.hessian(loss)(w), nm.jacrev(nm.jacrev(loss))(w)
    close(h1, h2)
    close(h1.reshape(18, 18), h1.reshape(18, 18).T)


# ---------------------------------------------------------------------------------------------
# Against PyTorch, float64, same weights
# ---------------------------------------------------------------------------------------------

try:            # as pytest.importorskip("torch"), but for these tests only: ROWS must import
    import torch
    F = torch.nn.functional
except ImportError:
    torch = F = None
needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch is not installed")


def T(a, grad=True):
    t = torch.tensor(np.asarray(a, np.float64))
    return t.requires_grad_(grad)


def tf_same(n, k, s=1, d=1):
    """TensorFlow's 'same' padding of one axis: (before, after), the odd zero after."""
    out = -(-n // s)
    total = max((out - 1) * s + d * (k - 1) + 1 - n, 0)
    return total // 2, total - total // 2


def layer_grads(layer, x, seed=1):
    """The layer's output and the VJPs (params, x) for a random cotangent G."""
    params = dict(layer.values)
    y, pb = nm.vjp(lambda p, x: layer.call(p, x), params, x)
    g = np.random.default_rng(seed).normal(size=y.shape)
    gp, gx = pb(g)
    return y, g, gp, gx


def test_tf_same_padding_puts_the_odd_zero_after():
    assert _conv.conv_padding(5, 4, "same", 1) == (1, 2)      # even kernel
    assert _conv.conv_padding(6, 3, "same", 2) == (0, 1)      # stride
    assert _conv.conv_padding(5, 3, "same", 1, 2) == (2, 2)   # dilation
    for n, k, s, d in [(5, 4, 1, 1), (6, 3, 2, 1), (7, 2, 3, 2), (4, 5, 1, 1)]:
        assert _conv.conv_padding(n, k, "same", s, d) == tf_same(n, k, s, d)


@needs_torch
@pytest.mark.parametrize("units,activation,shape", [
    (4, None, (5, 3)), (4, "relu", (5, 3)), (3, "tanh", (2, 4, 3)), (3, "softmax", (5, 3)),
    (2, "linear", (2, 3, 2, 3)),
])
def test_dense_matches_torch(units, activation, shape):
    layer = Dense(units, activation=activation, dtype=F64)
    x = np.random.default_rng(0).normal(size=shape)
    layer.build((None,) + shape[1:])
    layer.set_weights([np.random.default_rng(1).normal(size=(shape[-1], units)),
                       np.random.default_rng(2).normal(size=units)])
    y, g, gp, gx = layer_grads(layer, x)
    xt, kt, bt = T(x), T(layer.values["kernel"]), T(layer.values["bias"])
    act = {None: lambda v: v, "linear": lambda v: v, "relu": torch.relu, "tanh": torch.tanh,
           "softmax": lambda v: torch.softmax(v, -1)}[activation]
    yt = act(F.linear(xt, kt.T, bt))
    yt.backward(T(g, False))
    close(y, yt.detach(), "output")
    close(gp["kernel"], kt.grad, "kernel")
    close(gp["bias"], bt.grad, "bias")
    close(gx, xt.grad, "input")
    assert (None,) + y.shape[1:] == layer.compute_output_shape((None,) + shape[1:])


CONV2D_CASES = [
    dict(kernel_size=3),
    dict(kernel_size=(2, 3), strides=(2, 1), padding="same"),
    dict(kernel_size=4, padding="same"),                                  # even: asymmetric pad
    dict(kernel_size=3, padding="same", dilation_rate=2),
    dict(kernel_size=(3, 2), strides=2, dilation_rate=(2, 1)),
    dict(kernel_size=3, strides=(3, 2), padding="same", activation="relu"),
    dict(kernel_size=2, data_format="channels_first"),
    dict(kernel_size=3, use_bias=False, padding="same", activation="tanh"),
]


@needs_torch
@pytest.mark.parametrize("case", CONV2D_CASES, ids=lambda c: ",".join(f"{k}={v}" for k, v in c.items()))
def test_conv2d_matches_torch(case):
    first = case.get("data_format") == "channels_first"
    layer = Conv2D(4, dtype=F64, **case)
    shape = (2, 3, 7, 6) if first else (2, 7, 6, 3)
    x = np.random.default_rng(0).normal(size=shape)
    layer.build((None,) + shape[1:])
    r = np.random.default_rng(1)
    layer.set_weights([r.normal(size=w.shape) for w in layer.get_weights()])
    y, g, gp, gx = layer_grads(layer, x)
    assert y.shape[1:] == layer.compute_output_shape((None,) + shape[1:])[1:]

    xt = T(x)
    xn = xt if first else xt.permute(0, 3, 1, 2)
    kt = T(layer.values["kernel"])
    s, d = layer.strides, layer.dilation_rate
    if layer.padding == "same":
        (t, b_), (l, r_) = [tf_same(n, k, st, dl) for n, k, st, dl in
                            zip(xn.shape[2:], layer.kernel_size, s, d)]
        xn = F.pad(xn, (l, r_, t, b_))
    bt = T(layer.values["bias"]) if layer.use_bias else None
    yt = F.conv2d(xn, kt.permute(3, 2, 0, 1), bt, stride=s, dilation=d)
    yt = {None: lambda v: v, "relu": torch.relu, "tanh": torch.tanh}[case.get("activation")](yt)
    if not first:
        yt = yt.permute(0, 2, 3, 1)
    yt.backward(T(g, False))
    close(y, yt.detach(), "output")
    close(gp["kernel"], kt.grad, "kernel")
    if layer.use_bias:
        close(gp["bias"], bt.grad, "bias")
    close(gx, xt.grad, "input")


@needs_torch
@pytest.mark.parametrize("case", [
    dict(kernel_size=3), dict(kernel_size=4, padding="same"), dict(kernel_size=3, padding="causal",
                                                                  dilation_rate=2),
    dict(kernel_size=2, strides=3, padding="same"), dict(kernel_size=3, data_format="channels_first"),
], ids=lambda c: ",".join(f"{k}={v}" for k, v in c.items()))
def test_conv1d_matches_torch(case):
    first = case.get("data_format") == "channels_first"
    layer = Conv1D(5, dtype=F64, **case)
    shape = (2, 3, 11) if first else (2, 11, 3)
    x = np.random.default_rng(0).normal(size=shape)
    layer.build((None,) + shape[1:])
    r = np.random.default_rng(1)
    layer.set_weights([r.normal(size=w.shape) for w in layer.get_weights()])
    y, g, gp, gx = layer_grads(layer, x)
    assert y.shape[1:] == layer.compute_output_shape((None,) + shape[1:])[1:]
    xt = T(x)
    xn = xt if first else xt.permute(0, 2, 1)
    (k,), (s,), (d,) = layer.kernel_size, layer.strides, layer.dilation_rate
    pads = {"valid": (0, 0), "same": tf_same(xn.shape[2], k, s, d), "causal": (d * (k - 1), 0)}
    kt, bt = T(layer.values["kernel"]), T(layer.values["bias"])
    yt = F.conv1d(F.pad(xn, pads[layer.padding]), kt.permute(2, 1, 0), bt, stride=s, dilation=d)
    if not first:
        yt = yt.permute(0, 2, 1)
    yt.backward(T(g, False))
    close(y, yt.detach(), "output")
    close(gp["kernel"], kt.grad, "kernel")
    close(gp["bias"], bt.grad, "bias")
    close(gx, xt.grad, "input")


POOL_CASES = [
    dict(), dict(pool_size=3), dict(pool_size=(3, 2), strides=(2, 1)), dict(pool_size=2, padding="same"),
    dict(pool_size=(3, 2), strides=(2, 1), padding="same"), dict(pool_size=3, strides=1, padding="same"),
    dict(pool_size=2, data_format="channels_first"),
]


@needs_torch
@pytest.mark.parametrize("cls", [MaxPooling2D, AveragePooling2D])
@pytest.mark.parametrize("case", POOL_CASES, ids=lambda c: ",".join(f"{k}={v}" for k, v in c.items()))
def test_pooling2d_matches_torch(cls, case):
    first = case.get("data_format") == "channels_first"
    layer = cls(dtype=F64, **case)
    shape = (2, 3, 7, 6) if first else (2, 7, 6, 3)
    x = distinct(shape)
    y, g, gp, gx = layer_grads(layer, x)
    assert y.shape[1:] == layer.compute_output_shape((None,) + shape[1:])[1:]
    xt = T(x)
    xn = xt if first else xt.permute(0, 3, 1, 2)
    if layer.padding == "same":
        (t, b_), (l, r_) = [tf_same(n, k, s) for n, k, s in zip(xn.shape[2:], layer.pool_size,
                                                                 layer.strides)]
    else:
        t = b_ = l = r_ = 0
    if cls is MaxPooling2D:
        yt = F.max_pool2d(F.pad(xn, (l, r_, t, b_), value=-math.inf), layer.pool_size, layer.strides)
    else:           # the mean over the window's elements inside x (TensorFlow's count)
        ones = F.pad(torch.ones((1, 1) + tuple(xn.shape[2:]), dtype=torch.float64), (l, r_, t, b_))
        count = F.avg_pool2d(ones, layer.pool_size, layer.strides, divisor_override=1)
        yt = F.avg_pool2d(F.pad(xn, (l, r_, t, b_)), layer.pool_size, layer.strides,
                          divisor_override=1) / count
    if not first:
        yt = yt.permute(0, 2, 3, 1)
    yt.backward(T(g, False))
    close(y, yt.detach(), "output")
    close(gx, xt.grad, "input")


@needs_torch
@pytest.mark.parametrize("cls,tfn", [(MaxPooling1D, "max"), (AveragePooling1D, "avg")])
@pytest.mark.parametrize("case", [dict(), dict(pool_size=3, strides=2), dict(pool_size=3, padding="same")],
                         ids=lambda c: ",".join(f"{k}={v}" for k, v in c.items()) or "default")
def test_pooling1d_matches_torch(cls, tfn, case):
    layer = cls(dtype=F64, **case)
    x = distinct((2, 9, 3))
    y, g, gp, gx = layer_grads(layer, x)
    assert y.shape[1:] == layer.compute_output_shape((None, 9, 3))[1:]
    xt = T(x)
    (k,), (s,) = layer.pool_size, layer.strides
    pads = tf_same(9, k, s) if layer.padding == "same" else (0, 0)
    xn = xt.permute(0, 2, 1)
    if tfn == "max":
        yt = F.max_pool1d(F.pad(xn, pads, value=-math.inf), k, s)
    else:
        count = F.avg_pool1d(F.pad(torch.ones(1, 1, 9, dtype=torch.float64), pads), k, s) * k
        yt = F.avg_pool1d(F.pad(xn, pads), k, s) * k / count
    yt = yt.permute(0, 2, 1)
    yt.backward(T(g, False))
    close(y, yt.detach(), "output")
    close(gx, xt.grad, "input")


@needs_torch
@pytest.mark.parametrize("cls,reduce,axes", [
    (GlobalAveragePooling2D, "mean", (1, 2)), (GlobalMaxPooling2D, "amax", (1, 2)),
    (GlobalAveragePooling1D, "mean", (1,)), (GlobalMaxPooling1D, "amax", (1,)),
])
@pytest.mark.parametrize("keepdims", [False, True])
def test_global_pooling_matches_torch(cls, reduce, axes, keepdims):
    layer = cls(keepdims=keepdims, dtype=F64)
    x = distinct((2, 4, 5, 3) if len(axes) == 2 else (2, 5, 3))
    y, g, gp, gx = layer_grads(layer, x)
    assert y.shape == layer.compute_output_shape(x.shape)
    xt = T(x)
    yt = getattr(torch, reduce)(xt, dim=axes, keepdim=keepdims)
    yt.backward(T(g, False))
    close(y, yt.detach())
    close(gx, xt.grad)


@needs_torch
def test_max_pooling_routes_ties_to_the_first_maximum_like_torch():
    x = np.zeros((1, 4, 4, 1))
    x[0, 2:, 2:, 0] = [[1.0, 1.0], [1.0, 0.5]]
    gx = nm.grad(lambda x: mnp.sum(MaxPooling2D(dtype=F64).call({}, x)))(x)
    xt = T(x.transpose(0, 3, 1, 2))
    F.max_pool2d(xt, 2).sum().backward()
    close(gx, xt.grad.permute(0, 2, 3, 1))
    assert gx[0, 0, 0, 0] == 1.0 and gx[0, 2, 2, 0] == 1.0 and gx.sum() == 4.0


@needs_torch
def test_embedding_matches_torch():
    layer = Embedding(7, 3, dtype=F64)
    layer.build((None, 4))
    layer.set_weights([np.random.default_rng(0).normal(size=(7, 3))])
    idx = np.array([[0, 3, 3, 6], [1, 1, 2, 0]])
    y, pb = nm.vjp(lambda p: layer.call(p, idx), dict(layer.values))
    g = np.random.default_rng(1).normal(size=y.shape)
    (gp,) = pb(g)
    et = T(layer.values["embeddings"])
    yt = F.embedding(torch.tensor(idx), et)
    yt.backward(T(g, False))
    close(y, yt.detach())
    close(gp["embeddings"], et.grad)
    assert y.shape == (2, 4, 3) == layer.compute_output_shape((2, 4))


@needs_torch
def test_flatten_and_reshape_match_torch_layouts():
    x = np.random.default_rng(0).normal(size=(2, 3, 4, 5))
    xt = T(x)
    close(Flatten()(x), xt.flatten(1).detach())                          # C order, channels last
    close(Flatten(data_format="channels_first")(x),                      # channels moved last
          xt.permute(0, 2, 3, 1).flatten(1).detach())
    close(Reshape((5, -1))(x), xt.reshape(2, 5, -1).detach())
    gx = nm.grad(lambda x: mnp.sum(Reshape((60,)).call({}, x) * np.arange(60.0)))(x)
    close(gx, np.broadcast_to(np.arange(60.0).reshape(3, 4, 5), x.shape))


@needs_torch
@pytest.mark.parametrize("cls,op", [
    (Add, lambda a, b, c: a + b + c), (Multiply, lambda a, b, c: a * b * c),
    (Average, lambda a, b, c: (a + b + c) / 3),
    (Maximum, lambda a, b, c: torch.maximum(torch.maximum(a, b), c)),
    (Minimum, lambda a, b, c: torch.minimum(torch.minimum(a, b), c)),
    (Concatenate, lambda a, b, c: torch.cat([a, b, c], -1)),
], ids=lambda v: v.__name__ if isinstance(v, type) else "")
def test_merge_layers_match_torch(cls, op):
    xs = [np.random.default_rng(k).normal(size=(2, 3, 4)) for k in range(3)]
    layer = cls(dtype=F64)
    y, pb = nm.vjp(lambda *xs: layer.call({}, list(xs)), *xs)
    g = np.random.default_rng(9).normal(size=y.shape)
    grads = pb(g)
    ts = [T(a) for a in xs]
    yt = op(*ts)
    yt.backward(T(g, False))
    close(y, yt.detach())
    for gx, t in zip(grads, ts):
        close(gx, t.grad)
    assert (None,) + y.shape[1:] == layer.compute_output_shape([(None, 3, 4)] * 3)


def test_subtract_and_merge_broadcasting():
    a, b = np.ones((2, 3)), np.full((2, 1), 2.0)
    close(Subtract()([a, b]), a - b)
    assert Add().compute_output_shape([(None, 3), (None, 1)]) == (None, 3)
    close(Concatenate(axis=1)([a, np.zeros((2, 2))]), np.concatenate([a, np.zeros((2, 2))], 1))


@needs_torch
def test_small_cnn_matches_torch_end_to_end():
    """The benchmark network (conv 3×3 16 → maxpool 2 → conv 3×3 32 → maxpool 2 → dense 10), as
    one function of its parameters, against PyTorch: loss and every gradient."""
    r = np.random.default_rng(0)
    layers = [Conv2D(4, 3, activation="relu", dtype=F64), MaxPooling2D(dtype=F64),
              Conv2D(6, 3, activation="relu", dtype=F64), MaxPooling2D(dtype=F64),
              Flatten(dtype=F64), Dense(10, dtype=F64)]
    shape = (None, 14, 14, 1)
    for layer in layers:
        layer.build(shape)
        layer.set_weights([0.5 * r.normal(size=w.shape) for w in layer.get_weights()])
        shape = layer.compute_output_shape(shape)
    x = r.normal(size=(3, 14, 14, 1))
    params = {l.name: dict(l.values) for l in layers}

    def forward(p):
        h = x
        for layer in layers:
            h = layer.call(p[layer.name], h)
        return mnp.sum(h ** 2)

    loss, grads = nm.value_and_grad(forward)(params)
    c1, _, c2, _, _, d = layers
    w = {k: T(v) for k, v in [("k1", c1.values["kernel"]), ("b1", c1.values["bias"]),
                              ("k2", c2.values["kernel"]), ("b2", c2.values["bias"]),
                              ("kd", d.values["kernel"]), ("bd", d.values["bias"])]}
    h = T(x, False).permute(0, 3, 1, 2)
    h = F.max_pool2d(torch.relu(F.conv2d(h, w["k1"].permute(3, 2, 0, 1), w["b1"])), 2)
    h = F.max_pool2d(torch.relu(F.conv2d(h, w["k2"].permute(3, 2, 0, 1), w["b2"])), 2)
    h = h.permute(0, 2, 3, 1).flatten(1)           # Keras flattens channels-last
    lt = ((h @ w["kd"] + w["bd"]) ** 2).sum()
    lt.backward()
    close(loss, lt.detach())
    for (name, key), tk in zip([(c1.name, "kernel"), (c1.name, "bias"), (c2.name, "kernel"),
                                (c2.name, "bias"), (d.name, "kernel"), (d.name, "bias")], w):
        close(grads[name][key], w[tk].grad, f"{name}/{key}")


# ---------------------------------------------------------------------------------------------
# JAX: TensorFlow's 'SAME' semantics in Keras's own layout (NHWC, HWIO), an independent check
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("k,s,d", [(4, 1, 1), ((2, 3), (2, 3), 1), (3, 2, (1, 2))])
def test_same_padding_matches_jax_lax(k, s, d):
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    layer = Conv2D(2, k, strides=s, dilation_rate=d, padding="same", use_bias=False, dtype=F64)
    x = np.random.default_rng(0).normal(size=(2, 7, 8, 3))
    layer.build((None, 7, 8, 3))
    y = layer(x)
    yj = jax.lax.conv_general_dilated(x, layer.values["kernel"], layer.strides, "SAME",
                                      rhs_dilation=layer.dilation_rate,
                                      dimension_numbers=("NHWC", "HWIO", "NHWC"))
    close(y, np.asarray(yj))
    yp = MaxPooling2D(3, 2, padding="same")(x)
    yjp = jax.lax.reduce_window(x, -np.inf, jax.lax.max, (1, 3, 3, 1), (1, 2, 2, 1), "SAME")
    close(yp, np.asarray(yjp))


# ---------------------------------------------------------------------------------------------
# Dropout
# ---------------------------------------------------------------------------------------------


def test_dropout_is_the_identity_at_inference():
    x = np.random.default_rng(0).normal(size=(4, 5))
    layer = Dropout(0.5, seed=1)
    assert layer.call({}, x) is x or np.array_equal(layer.call({}, x), x)
    assert np.array_equal(layer(x, training=False), x)
    assert np.array_equal(Dropout(0.0)(x, training=True), x)


def test_dropout_preserves_the_mean_and_scales_kept_units():
    x = np.ones((200, 500))
    y = Dropout(0.3, seed=0)(x, training=True)
    assert set(np.unique(y).tolist()) == {0.0, 1.0 / 0.7}
    assert abs(y.mean() - 1.0) < 0.01                     # E[y] = x; sd of the mean ≈ 0.0014
    assert abs((y == 0).mean() - 0.3) < 0.01


def test_dropout_is_reproducible_with_a_seed_and_uses_the_given_rng():
    x = np.ones((3, 50))
    a, b = Dropout(0.5, seed=42), Dropout(0.5, seed=42)
    assert np.array_equal(a(x, training=True), b(x, training=True))
    assert np.array_equal(a(x, training=True), b(x, training=True))          # same sequence
    layer = Dropout(0.5, seed=0)
    y1 = layer.call({}, x, training=True, rng=np.random.default_rng(5))
    y2 = Dropout(0.5, seed=9).call({}, x, training=True, rng=np.random.default_rng(5))
    assert np.array_equal(y1, y2)                         # the rng passed wins over the seed


def test_dropout_noise_shape_and_gradient():
    x = np.random.default_rng(0).normal(size=(4, 6, 3))
    layer = Dropout(0.5, noise_shape=(None, 1, 3))
    y = layer.call({}, x, training=True, rng=np.random.default_rng(1))
    mask = y / x
    assert np.allclose(mask, mask[:, :1, :])              # shared along the axis of size 1
    g = nm.grad(lambda x: mnp.sum(layer.call({}, x, training=True, rng=np.random.default_rng(1))))(x)
    close(g, mask)                                        # the derivative is the mask itself


def test_dropout_float32_stays_float32():
    y = Dropout(0.5, seed=0)(np.ones((2, 3), np.float32), training=True)
    assert y.dtype == np.float32


# ---------------------------------------------------------------------------------------------
# Configs, shapes, errors
# ---------------------------------------------------------------------------------------------


CONFIG_LAYERS = [
    lambda: Dense(3, activation="relu", use_bias=False, input_shape=(4,)),
    lambda: Activation("tanh"), lambda: Dropout(0.25, noise_shape=(None, 1), seed=3),
    lambda: Flatten(data_format="channels_first"), lambda: Reshape((2, -1)),
    lambda: Embedding(10, 4), lambda: Identity(), lambda: InputLayer(shape=(4,)),
    lambda: Conv2D(3, (2, 3), strides=2, padding="same", dilation_rate=1, activation="relu"),
    lambda: Conv1D(2, 3, padding="causal", dilation_rate=2),
    lambda: MaxPooling2D((2, 3), strides=1, padding="same"), lambda: AveragePooling1D(3),
    lambda: GlobalAveragePooling2D(keepdims=True), lambda: GlobalMaxPooling1D(),
    lambda: Add(), lambda: Concatenate(axis=1),
]


@pytest.mark.parametrize("make", CONFIG_LAYERS, ids=lambda f: type(f()).__name__)
def test_get_config_round_trips_through_json(make):
    layer = make()
    cfg = json.loads(json.dumps(layer.get_config()))
    again = type(layer).from_config(cfg)
    assert again.get_config() == layer.get_config()
    assert cfg["name"] == layer.name


@pytest.mark.parametrize("make,shape", [
    (lambda: Dense(3), (None, 5)), (lambda: Dense(3), (None, 2, 5)),
    (lambda: Conv2D(3, 3), (None, 9, 8, 2)), (lambda: Conv2D(3, 4, strides=3, padding="same"), (None, 9, 8, 2)),
    (lambda: Conv2D(3, 3, dilation_rate=2), (None, 9, 8, 2)),
    (lambda: Conv1D(3, 3, padding="causal", strides=2), (None, 9, 2)),
    (lambda: MaxPooling2D(), (None, 9, 8, 2)), (lambda: AveragePooling2D(3, 2, "same"), (None, 9, 8, 2)),
    (lambda: MaxPooling1D(2), (None, 9, 2)), (lambda: GlobalAveragePooling2D(), (None, 9, 8, 2)),
    (lambda: Flatten(), (None, 3, 4, 2)), (lambda: Reshape((-1, 4)), (None, 3, 4, 2)),
    (lambda: Embedding(5, 2, embeddings_initializer="glorot_uniform"), (None, 6)),
    (lambda: Dropout(0.5), (None, 3)), (lambda: Activation("relu"), (None, 3)),
    (lambda: Conv2D(3, 2, data_format="channels_first"), (None, 2, 9, 8)),
])
def test_compute_output_shape_matches_the_output(make, shape):
    layer = make()
    layer.build(shape)
    x = np.random.default_rng(0).integers(0, 5, size=(2,) + shape[1:]).astype(np.float32)
    y = layer(x)
    assert layer.compute_output_shape(shape) == (None,) + y.shape[1:]
    assert y.dtype == np.float32


def _raises(match, fn):
    with pytest.raises(ValueError, match=match):
        fn()


def test_errors_name_the_argument():
    _raises(r"`units`.*units=-1", lambda: Dense(-1))
    _raises(r"`units`", lambda: Dense(2.5))
    _raises(r"`rate`.*rate=1\.0", lambda: Dropout(1.0))
    _raises(r"`rate`", lambda: Dropout(-0.1))
    _raises(r"`filters`", lambda: Conv2D(0, 3))
    _raises(r"`kernel_size`", lambda: Conv2D(2, (3, 0)))
    _raises(r"`strides`", lambda: Conv2D(2, 3, strides=(1, 2, 3)))
    _raises(r"`padding`.*'full'", lambda: Conv2D(2, 3, padding="full"))
    _raises(r"`padding`.*'causal'", lambda: Conv2D(2, 3, padding="causal"))
    _raises(r"`pool_size`", lambda: MaxPooling2D(pool_size=-2))
    _raises(r"`padding`", lambda: AveragePooling2D(padding="causal"))
    _raises(r"`data_format`", lambda: Conv2D(2, 3, data_format="NHWC"))
    _raises(r"`activation`.*relu2", lambda: Dense(2, activation="relu2"))
    _raises(r"`kernel_initializer`", lambda: Conv1D(2, 3, kernel_initializer="nope"))
    _raises(r"`input_dim`", lambda: Embedding(0, 3))
    _raises(r"`target_shape`", lambda: Reshape((-1, -1)))


def test_input_errors_name_the_layer_and_both_shapes():
    dense = Dense(3, name="d1")
    dense.build((None, 4))
    _raises(r"'d1'.*value 4.*\(2, 5\)", lambda: dense(np.ones((2, 5))))
    conv = Conv2D(2, 3, name="c1")
    conv.build((None, 8, 8, 3))
    _raises(r"'c1'.*rank 4.*\(2, 8, 8\)", lambda: conv(np.ones((2, 8, 8))))
    _raises(r"'c1'.*3 input channels.*\(2, 8, 8, 1\)", lambda: conv(np.ones((2, 8, 8, 1))))
    _raises(r"'c1'.*dilated kernel.*\(2, 2, 8, 3\)", lambda: conv(np.ones((2, 2, 8, 3))))
    pool = MaxPooling2D(3, name="p1")
    _raises(r"'p1'.*pool_size.*\(1, 2, 5, 1\)", lambda: pool(np.ones((1, 2, 5, 1))))
    _raises(r"'r1'.*divisible by 7.*\(2, 12\)", lambda: Reshape((7, -1), name="r1")(np.ones((2, 12))))
    emb = Embedding(4, 2, name="e1", embeddings_initializer="zeros")
    _raises(r"'e1'.*\[0, input_dim=4\)", lambda: emb(np.array([[1, 4]])))
    _raises(r"'a1'.*incompatible shapes.*\(2, 3\).*\(2, 4\)",
            lambda: Add(name="a1")([np.ones((2, 3)), np.ones((2, 4))]))
    _raises(r"exactly 2 inputs", lambda: Subtract()([np.ones(2)] * 3))
    _raises(r"list of inputs", lambda: Add()(np.ones((2, 3))))
    _raises(r"matching shapes except", lambda: Concatenate()([np.ones((2, 3)), np.ones((3, 3))]))


def test_layers_default_to_float32_and_use_the_named_initializers():
    conv = Conv2D(8, 3)
    conv.build((None, 10, 10, 4))
    assert conv.values["kernel"].dtype == np.float32 and conv.values["kernel"].shape == (3, 3, 4, 8)
    assert not conv.values["bias"].any()
    y = conv(np.ones((1, 10, 10, 4), np.float32))
    assert y.dtype == np.float32
    try:
        initializers.get("uniform")
    except ValueError:
        pytest.skip("nnmath.nn.initializers has no 'uniform' yet")
    emb = Embedding(100, 8)
    emb.build((None, 3))
    assert np.abs(emb.values["embeddings"]).max() <= 0.05       # Keras: RandomUniform(±0.05)


def test_per_example_gradients_of_a_conv_layer():
    """vmap(grad) over examples: both arguments of the conv primitives batched (the loop rule)."""
    layer = Conv2D(2, 3, padding="same", dtype=F64)
    layer.build((None, 5, 5, 2))
    x = np.random.default_rng(0).normal(size=(3, 5, 5, 2))

    def loss(p, xi):
        return mnp.sum(mnp.tanh(layer.call(p, xi[None])) ** 2)

    per = nm.vmap(nm.grad(loss), in_axes=(None, 0))(dict(layer.values), x)
    for k in range(3):
        ref = nm.grad(loss)(dict(layer.values), x[k])
        close(per["kernel"][k], ref["kernel"])
        close(per["bias"][k], ref["bias"])
