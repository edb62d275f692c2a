"""Normalization, recurrent, attention and wrapper layers: values and gradients against PyTorch on
the same weights (float64, 1e-6), Keras's conventions (moving statistics, weight layouts, gate
orders), truncated BPTT, configs, shapes, errors, and check_grads to order 2."""
from __future__ import annotations

import json

import numpy as np
import pytest

import nnmath as nm
from nnmath.nn.layers.attention import MultiHeadAttention
from nnmath.nn.layers.base import Layer
from nnmath.nn.layers.normalization import BatchNormalization, LayerNormalization
from nnmath.nn.layers.recurrent import GRU, LSTM, SimpleRNN
from nnmath.nn.layers.wrappers import SpectralNormalization

F64 = "float64"
TOL = dict(rtol=1e-6, atol=1e-9)


def normal_init(shape, dtype, rng):
    """Weights for tests, independent of nnmath.nn.initializers (being rewritten concurrently)."""
    return (0.5 * rng.standard_normal(shape)).astype(dtype)


def rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def close(a, b, what=""):
    np.testing.assert_allclose(np.asarray(a, np.float64), np.asarray(b, np.float64), err_msg=what, **TOL)


class Dense(Layer):
    """y = x W + b: a minimal layer with a kernel, for the wrapper tests."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units

    def build(self, input_shape):
        self.add_weight("kernel", (input_shape[-1], self.units), normal_init)
        self.add_weight("bias", (self.units,), normal_init)
        self.built = True

    def call(self, params, x, training=False, rng=None):
        return x @ params["kernel"] + params["bias"]

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def get_config(self):
        return {**super().get_config(), "units": self.units}


@pytest.fixture(scope="module")
def torch():
    t = pytest.importorskip("torch")
    t.set_default_dtype(t.float64)
    return t


def tt(torch, a, grad=True):
    return torch.tensor(np.asarray(a, np.float64), requires_grad=grad)


# ================================================================================================
# BatchNormalization
# ================================================================================================

def _bn(axis=-1, **kw):
    layer = BatchNormalization(axis=axis, dtype=F64, gamma_initializer=normal_init,
                               beta_initializer=normal_init, **kw)
    return layer


@pytest.mark.parametrize("shape,axis", [((6, 3), -1), ((4, 3, 5), 1)])
@pytest.mark.parametrize("training", [True, False])
def test_batchnorm_matches_torch(torch, shape, axis, training):
    x, R = rand(*shape, seed=1), rand(*shape, seed=2)
    C = shape[1]
    bn = _bn(axis=axis, epsilon=1e-5, momentum=0.9)
    bn.build((None,) + shape[1:])
    mm, mv = rand(C, seed=3), 0.5 + rand(C, seed=4) ** 2
    bn.set_weights([bn.values["gamma"], bn.values["beta"], mm, mv])
    p = dict(bn.values)

    def loss(params, x):
        return nm.numpy.sum(bn.call(params, x, training=training) * R)

    y = bn.call(p, x, training=training)
    (gp, gx) = nm.grad(loss, argnums=(0, 1))(p, x)

    tb = torch.nn.BatchNorm1d(C, eps=1e-5, momentum=1 - 0.9)
    with torch.no_grad():
        tb.weight.copy_(torch.tensor(p["gamma"]))
        tb.bias.copy_(torch.tensor(p["beta"]))
        tb.running_mean.copy_(torch.tensor(mm))
        tb.running_var.copy_(torch.tensor(mv))
    tb.train(training)
    xt = tt(torch, x)
    yt = tb(xt)
    (yt * torch.tensor(R)).sum().backward()
    close(y, yt.detach(), "output")
    close(gx, xt.grad, "dx")
    close(gp["gamma"], tb.weight.grad, "dgamma")
    close(gp["beta"], tb.bias.grad, "dbeta")
    if training:                                  # the moving statistics are not read
        assert not np.any(gp["moving_mean"]) and not np.any(gp["moving_variance"])


def test_batchnorm_moving_statistics_keras_formula_vs_torch(torch):
    """moving ← m·moving + (1−m)·batch with the *biased* batch variance (Keras 3's ops.moments);
    PyTorch's momentum is 1 − m and its running variance uses the unbiased batch variance."""
    x = rand(5, 3, seed=7) * 2 + 1
    m = 0.8
    bn = _bn(momentum=m, epsilon=1e-3)
    bn.build((None, 3))
    mm, mv = rand(3, seed=8), 1.0 + rand(3, seed=9) ** 2
    p = {**bn.values, "moving_mean": mm, "moving_variance": mv}
    new = bn.state_updates(p, x)
    close(new["moving_mean"], m * mm + (1 - m) * x.mean(0))
    close(new["moving_variance"], m * mv + (1 - m) * x.var(0))             # ddof = 0

    tb = torch.nn.BatchNorm1d(3, eps=1e-3, momentum=1 - m)
    with torch.no_grad():
        tb.running_mean.copy_(torch.tensor(mm))
        tb.running_var.copy_(torch.tensor(mv))
    tb.train()
    tb(torch.tensor(x))
    close(tb.running_mean, new["moving_mean"], "torch running mean = Keras moving mean")
    close(tb.running_var, m * mv + (1 - m) * x.var(0, ddof=1))              # torch: unbiased
    assert not np.allclose(tb.running_var.numpy(), new["moving_variance"])

    # A training step then inference: inference normalises with the moving statistics.
    p2 = {**p, **new}
    y = bn.call(p2, x, training=False)
    close(y, p["gamma"] * (x - new["moving_mean"]) / np.sqrt(new["moving_variance"] + 1e-3) + p["beta"])


def test_batchnorm_frozen_is_inference():
    x = rand(4, 2, seed=3)
    bn = _bn(trainable=False)
    bn.build((None, 2))
    p = dict(bn.values)
    close(bn.call(p, x, training=True), bn.call(p, x, training=False))
    assert bn.state_updates(p, x) == {}
    assert set(bn.params) == set() and set(bn.state) == {"gamma", "beta", "moving_mean", "moving_variance"}


def test_batchnorm_weights_and_options():
    bn = BatchNormalization(dtype=F64, input_shape=(3,))
    bn.build((None, 3))                               # default initializers: γ = 1, β = 0, 0, 1
    assert list(bn.values) == ["gamma", "beta", "moving_mean", "moving_variance"]
    close(bn.values["gamma"], np.ones(3))
    close(bn.values["moving_variance"], np.ones(3))
    assert set(bn.params) == {"gamma", "beta"}
    bare = BatchNormalization(center=False, scale=False, dtype=F64, epsilon=0.0)
    bare.build((None, 3))
    assert list(bare.values) == ["moving_mean", "moving_variance"]
    x = rand(8, 3, seed=1)
    close(bare.call(bare.values, x, training=True), (x - x.mean(0)) / x.std(0))


# ================================================================================================
# LayerNormalization
# ================================================================================================

@pytest.mark.parametrize("shape,axis", [((4, 5), -1), ((3, 4, 5), -1), ((2, 3, 4), [-2, -1])])
def test_layernorm_matches_torch(torch, shape, axis):
    x, R = rand(*shape, seed=1), rand(*shape, seed=2)
    ln = LayerNormalization(axis=axis, epsilon=1e-5, dtype=F64, gamma_initializer=normal_init,
                            beta_initializer=normal_init)
    ln.build((None,) + shape[1:])
    p = dict(ln.values)
    y = ln.call(p, x)
    gp, gx = nm.grad(lambda p, x: nm.numpy.sum(ln.call(p, x) * R), argnums=(0, 1))(p, x)

    norm_shape = shape[-1:] if axis == -1 else shape[-2:]
    tl = torch.nn.LayerNorm(norm_shape, eps=1e-5)
    with torch.no_grad():
        tl.weight.copy_(torch.tensor(p["gamma"]))
        tl.bias.copy_(torch.tensor(p["beta"]))
    xt = tt(torch, x)
    yt = tl(xt)
    (yt * torch.tensor(R)).sum().backward()
    close(y, yt.detach(), "output")
    close(gx, xt.grad, "dx")
    close(gp["gamma"], tl.weight.grad, "dgamma")
    close(gp["beta"], tl.bias.grad, "dbeta")


def test_layernorm_non_trailing_axis():
    x = rand(3, 4, 5, seed=4)
    ln = LayerNormalization(axis=1, epsilon=0.0, dtype=F64)
    ln.build((None, 4, 5))
    assert ln.values["gamma"].shape == (4,)
    close(ln.call(ln.values, x), (x - x.mean(1, keepdims=True)) / x.std(1, keepdims=True))


# ================================================================================================
# Recurrent layers
# ================================================================================================

def _rnn(cls, units, **kw):
    kw.setdefault("dtype", F64)
    return cls(units, kernel_initializer=normal_init, recurrent_initializer=normal_init,
               bias_initializer=normal_init, **kw)


def _gru_perm(a, u):
    """Keras (z, r, h) blocks ↔ PyTorch (r, z, n) blocks along the last axis (an involution)."""
    return np.concatenate([a[..., u:2 * u], a[..., :u], a[..., 2 * u:]], axis=-1)


def _torch_rnn(torch, cls, p, n_in, u, reset_after=True):
    """The torch module with the Keras weights p; returns (module, bias_hh used)."""
    kind = {"SimpleRNN": torch.nn.RNN, "LSTM": torch.nn.LSTM, "GRU": torch.nn.GRU}[cls.__name__]
    m = kind(n_in, u, batch_first=True)
    K, Rk, b = p["kernel"], p["recurrent_kernel"], p["bias"]
    if cls is GRU:
        w_ih, w_hh = _gru_perm(K, u).T, _gru_perm(Rk, u).T
        b_ih, b_hh = _gru_perm(b[0], u), _gru_perm(b[1], u)
    else:   # split Keras's single bias into two torch biases that sum to it
        w_ih, w_hh = K.T, Rk.T
        b_hh = rand(*b.shape, seed=11)
        b_ih = b - b_hh
    with torch.no_grad():
        for name, val in (("weight_ih_l0", w_ih), ("weight_hh_l0", w_hh), ("bias_ih_l0", b_ih),
                          ("bias_hh_l0", b_hh)):
            getattr(m, name).copy_(torch.tensor(np.ascontiguousarray(val)))
    return m


def _keras_grads_from_torch(cls, m, u):
    w_ih, w_hh, b_ih, b_hh = (getattr(m, n).grad.numpy()
                              for n in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"))
    if cls is GRU:
        return {"kernel": _gru_perm(w_ih.T, u), "recurrent_kernel": _gru_perm(w_hh.T, u),
                "bias": np.stack([_gru_perm(b_ih, u), _gru_perm(b_hh, u)])}
    assert np.allclose(b_ih, b_hh)                   # Keras's one bias feeds both torch biases
    return {"kernel": w_ih.T, "recurrent_kernel": w_hh.T, "bias": b_ih}


@pytest.mark.parametrize("cls", [SimpleRNN, LSTM, GRU])
@pytest.mark.parametrize("go_backwards", [False, True])
def test_recurrent_matches_torch(torch, cls, go_backwards):
    B, T, n_in, u = 3, 5, 4, 3
    layer = _rnn(cls, u, return_sequences=True, return_state=True, go_backwards=go_backwards)
    layer.build((None, T, n_in))
    p = dict(layer.values)
    x = rand(B, T, n_in, seed=1)
    states0 = [rand(B, u, seed=2 + i) for i in range(len(cls.STATES))]
    R = rand(B, T, u, seed=5)
    Rs = [rand(B, u, seed=6 + i) for i in range(len(cls.STATES))]

    def loss(p, x, states0):
        out, *states = layer.call(p, x, initial_state=states0)
        return nm.numpy.sum(out * R) + sum(nm.numpy.sum(s * r) for s, r in zip(states, Rs))

    out, *states = layer.call(p, x, initial_state=states0)
    gp, gx, gs = nm.grad(loss, argnums=(0, 1, 2))(p, x, states0)

    m = _torch_rnn(torch, cls, p, n_in, u)
    xt = tt(torch, x[:, ::-1].copy() if go_backwards else x)
    s0 = [tt(torch, s[None]) for s in states0]
    out_t, st = m(xt, (s0[0], s0[1]) if cls is LSTM else s0[0])
    st = list(st) if cls is LSTM else [st]
    lt = (out_t * torch.tensor(R)).sum() + sum((s[0] * torch.tensor(r)).sum() for s, r in zip(st, Rs))
    lt.backward()
    close(out, out_t.detach(), "sequence")
    for a, b in zip(states, st):
        close(a, b[0].detach(), "final state")
    close(states[0], out[:, -1], "h_T is the last output")
    for k, g in _keras_grads_from_torch(cls, m, u).items():
        close(gp[k], g, f"d{k}")
    gxt = xt.grad.numpy()
    close(gx, gxt[:, ::-1] if go_backwards else gxt, "dx")
    for a, b in zip(gs, s0):
        close(a, b.grad[0], "d initial state")


def test_gru_reset_before_matches_hand_torch(torch):
    """reset_after=False (Keras's other GRU; PyTorch has none): h̃ = tanh(xW_h + b_h + (r⊙h)U_h)."""
    B, T, n_in, u = 2, 4, 3, 2
    layer = _rnn(GRU, u, reset_after=False, return_sequences=True)
    layer.build((None, T, n_in))
    p = dict(layer.values)
    assert p["bias"].shape == (3 * u,)
    x, R = rand(B, T, n_in, seed=1), rand(B, T, u, seed=2)
    gp = nm.grad(lambda p: nm.numpy.sum(layer.call(p, x) * R))(p)

    K, U, b = (tt(torch, p[k]) for k in ("kernel", "recurrent_kernel", "bias"))
    h, outs = torch.zeros(B, u), []
    for t in range(T):
        xw = torch.tensor(x[:, t]) @ K + b
        z = torch.sigmoid(xw[:, :u] + h @ U[:, :u])
        r = torch.sigmoid(xw[:, u:2 * u] + h @ U[:, u:2 * u])
        h = z * h + (1 - z) * torch.tanh(xw[:, 2 * u:] + (r * h) @ U[:, 2 * u:])
        outs.append(h)
    out_t = torch.stack(outs, 1)
    (out_t * torch.tensor(R)).sum().backward()
    close(layer.call(p, x), out_t.detach())
    for k, tk in (("kernel", K), ("recurrent_kernel", U), ("bias", b)):
        close(gp[k], tk.grad, k)


def test_lstm_unit_forget_bias_and_layout():
    layer = LSTM(2, kernel_initializer="zeros", recurrent_initializer="zeros", dtype=F64)
    layer.build((None, 3, 4))
    assert [v.shape for v in layer.get_weights()] == [(4, 8), (2, 8), (8,)]
    close(layer.values["bias"], [0, 0, 1, 1, 0, 0, 0, 0])
    assert GRU(2, recurrent_initializer="zeros").compute_output_shape((None, 3, 4)) == (None, 2)
    g = GRU(2, recurrent_initializer="zeros", dtype=F64)
    g.build((None, 3, 4))
    assert [v.shape for v in g.get_weights()] == [(4, 6), (2, 6), (2, 6)]


def test_recurrent_state_carrying_and_input_list():
    """Two calls carrying the state (initial_state + return_state) equal one call; the state can
    also be passed as extra inputs [x, *states] (Keras's functional form)."""
    layer = _rnn(LSTM, 3, return_sequences=True, return_state=True)
    layer.build((None, 6, 2))
    x = rand(2, 6, 2, seed=3)
    full, h, c = layer(x)
    first, h1, c1 = layer(x[:, :4])
    second, h2, c2 = layer([x[:, 4:], h1, c1])
    close(np.concatenate([first, second], 1), full)
    close(h2, h)
    close(c2, c)
    again = layer(x[:, 4:], initial_state=[h1, c1])
    close(again[0], second)


def _torch_tbptt(torch, m, x, chunk, R):
    """Truncated BPTT as PyTorch users write it: detach the carried state between chunks."""
    state, outs = None, []
    for k, start in enumerate(range(0, x.shape[1], chunk)):
        if state is not None:
            state = tuple(s.detach() for s in state) if isinstance(state, tuple) else state.detach()
        out, state = m(torch.tensor(x[:, start:start + chunk]), state)
        (out * torch.tensor(R[k])).sum().backward()          # gradients accumulate over chunks
        outs.append(out.detach().numpy())
    return outs


@pytest.mark.parametrize("cls", [LSTM, GRU])
def test_truncated_bptt_matches_torch_detach(torch, cls):
    B, T, n_in, u, chunk = 2, 7, 3, 2, 3
    layer = _rnn(cls, u, return_sequences=True)
    layer.build((None, T, n_in))
    p = dict(layer.values)
    x = rand(B, T, n_in, seed=1)
    sizes = [len(range(s, min(s + chunk, T))) for s in range(0, T, chunk)]
    R = [rand(B, n, u, seed=10 + k) for k, n in enumerate(sizes)]

    def truncated_loss(p):
        outs, _ = layer.call_chunks(p, x, chunk)
        return sum(nm.numpy.sum(o * r) for o, r in zip(outs, R))

    def full_loss(p):
        out = layer.call(p, x)
        return sum(nm.numpy.sum(out[:, s:s + chunk] * r) for s, r in zip(range(0, T, chunk), R))

    outs, final = layer.call_chunks(p, x, chunk)
    close(np.concatenate(outs, 1), layer.call(p, x), "chunked values = one call")
    g_trunc = nm.grad(truncated_loss)(p)

    m = _torch_rnn(torch, cls, p, n_in, u)
    t_outs = _torch_tbptt(torch, m, x, chunk, R)
    for a, b in zip(outs, t_outs):
        close(a, b)
    for k, g in _keras_grads_from_torch(cls, m, u).items():
        close(g_trunc[k], g, f"truncated d{k}")
    g_full = nm.grad(full_loss)(p)                       # the truncation does change the gradient
    assert not np.allclose(g_full["recurrent_kernel"], g_trunc["recurrent_kernel"])


def test_truncated_bptt_by_hand():
    """SimpleRNN with u = 1, linear activation, no bias: hₜ = w xₜ + a hₜ₋₁. For L = h₄ with
    chunks of 2 (h₂ carried as a constant), ∂L/∂a = h₃ + a·h₂ (full BPTT adds a²·h₁) and
    ∂L/∂w = x₄ + a·x₃ (full BPTT adds a²·x₂ + a³·x₁)."""
    layer = SimpleRNN(1, activation=None, use_bias=False, dtype=F64)
    w, a = 0.7, 0.5
    p = {"kernel": np.array([[w]]), "recurrent_kernel": np.array([[a]])}
    x = np.array([[[1.0], [2.0], [-1.0], [3.0]]])
    h = [0.0]
    for t in range(4):
        h.append(w * x[0, t, 0] + a * h[-1])
    g = nm.grad(lambda p: layer.call_chunks(p, x, 2)[0][-1][0, 0])(p)
    close(g["recurrent_kernel"], [[h[3] + a * h[2]]])
    close(g["kernel"], [[x[0, 3, 0] + a * x[0, 2, 0]]])
    g_full = nm.grad(lambda p: layer.call(p, x)[0, 0])(p)
    close(g_full["recurrent_kernel"], [[h[3] + a * h[2] + a * a * h[1]]])


def test_recurrent_dropout_uses_rng():
    layer = _rnn(GRU, 3, dropout=0.5, recurrent_dropout=0.5)
    layer.build((None, 4, 2))
    x = rand(2, 4, 2, seed=1)
    p = dict(layer.values)
    a = layer.call(p, x, training=True, rng=np.random.default_rng(0))
    b = layer.call(p, x, training=True, rng=np.random.default_rng(0))
    close(a, b)
    assert not np.allclose(a, layer.call(p, x))
    close(layer.call(p, x, training=False, rng=np.random.default_rng(0)), layer.call(p, x))


# ================================================================================================
# MultiHeadAttention
# ================================================================================================

def _mha(**kw):
    return MultiHeadAttention(kernel_initializer=normal_init, bias_initializer=normal_init, dtype=F64, **kw)


@pytest.mark.parametrize("causal", [False, True])
def test_mha_matches_torch_module(torch, causal):
    """nn.MultiheadAttention: the case key_dim = value_dim = E/H, output dim = E = query dim."""
    B, T, S, H, kd, Ek, Ev = 2, 4, 4, 2, 3, 5, 4
    E = H * kd
    mha = _mha(num_heads=H, key_dim=kd)
    q, v, k = rand(B, T, E, seed=1), rand(B, S, Ev, seed=2), rand(B, S, Ek, seed=3)
    mha([q, v, k])
    p = dict(mha.values)
    R = rand(B, T, E, seed=4)

    def loss(p, q, v, k):
        return nm.numpy.sum(mha.call(p, [q, v, k], use_causal_mask=causal) * R)

    y, A = mha.call(p, [q, v, k], use_causal_mask=causal, return_attention_scores=True)
    gp, gq, gv, gk = nm.grad(loss, argnums=(0, 1, 2, 3))(p, q, v, k)

    m = torch.nn.MultiheadAttention(E, H, kdim=Ek, vdim=Ev, batch_first=True)
    with torch.no_grad():
        m.q_proj_weight.copy_(torch.tensor(p["query_kernel"].reshape(E, E).T))
        m.k_proj_weight.copy_(torch.tensor(p["key_kernel"].reshape(Ek, E).T))
        m.v_proj_weight.copy_(torch.tensor(p["value_kernel"].reshape(Ev, E).T))
        m.in_proj_bias.copy_(torch.tensor(np.concatenate(
            [p["query_bias"].ravel(), p["key_bias"].ravel(), p["value_bias"].ravel()])))
        m.out_proj.weight.copy_(torch.tensor(p["output_kernel"].reshape(E, E).T))
        m.out_proj.bias.copy_(torch.tensor(p["output_bias"]))
    qt, vt, kt = tt(torch, q), tt(torch, v), tt(torch, k)
    mask = torch.triu(torch.ones(T, S, dtype=torch.bool), 1) if causal else None
    yt, At = m(qt, kt, vt, attn_mask=mask, average_attn_weights=False)
    (yt * torch.tensor(R)).sum().backward()
    close(y, yt.detach(), "output")
    close(A, At.detach(), "attention weights")
    close(gq, qt.grad, "dquery")
    close(gk, kt.grad, "dkey")
    close(gv, vt.grad, "dvalue")
    close(gp["query_kernel"], m.q_proj_weight.grad.T.reshape(E, H, kd), "dWq")
    close(gp["key_kernel"], m.k_proj_weight.grad.T.reshape(Ek, H, kd), "dWk")
    close(gp["value_kernel"], m.v_proj_weight.grad.T.reshape(Ev, H, kd), "dWv")
    close(np.concatenate([gp["query_bias"].ravel(), gp["key_bias"].ravel(), gp["value_bias"].ravel()]),
          m.in_proj_bias.grad, "d in-proj bias")
    close(gp["output_kernel"], m.out_proj.weight.grad.T.reshape(H, kd, E), "dWo")
    close(gp["output_bias"], m.out_proj.bias.grad, "dbo")


def test_mha_general_matches_hand_torch(torch):
    """key_dim ≠ value_dim, output_shape, an attention mask with a fully masked query row
    (weights 0 there, as Keras's masked softmax), key defaulting to value."""
    B, T, S, H, kd, vd, O, Eq, Ev = 2, 3, 5, 3, 2, 4, 6, 5, 3
    mha = _mha(num_heads=H, key_dim=kd, value_dim=vd, output_shape=O)
    q, v = rand(B, T, Eq, seed=1), rand(B, S, Ev, seed=2)
    mask = np.random.default_rng(3).random((B, T, S)) > 0.4
    mask[0, 1] = False
    mask[1, 0] = True
    mha([q, v])
    p = dict(mha.values)
    assert mha.compute_output_shape([(None, T, Eq), (None, S, Ev)]) == (None, T, O)
    R = rand(B, T, O, seed=4)
    y = mha.call(p, [q, v], attention_mask=mask)
    gp, gq, gv = nm.grad(lambda p, q, v: nm.numpy.sum(mha.call(p, [q, v], attention_mask=mask) * R),
                         argnums=(0, 1, 2))(p, q, v)

    P = {k: tt(torch, a) for k, a in p.items()}
    qt, vt = tt(torch, q), tt(torch, v)
    Q = torch.einsum("bte,ehd->bthd", qt, P["query_kernel"]) + P["query_bias"]
    K = torch.einsum("bte,ehd->bthd", vt, P["key_kernel"]) + P["key_bias"]
    V = torch.einsum("bte,ehd->bthd", vt, P["value_kernel"]) + P["value_bias"]
    s = torch.einsum("bthd,bshd->bhts", Q, K) / np.sqrt(kd)
    mt = torch.tensor(mask)[:, None]
    A = torch.softmax(s.masked_fill(~mt, -torch.inf), -1).nan_to_num(0.0)
    yt = torch.einsum("bthd,hdo->bto", torch.einsum("bhts,bshd->bthd", A, V), P["output_kernel"]) \
        + P["output_bias"]
    (yt * torch.tensor(R)).sum().backward()
    close(y, yt.detach(), "output")
    close(y[0, 1], p["output_bias"], "a fully masked query gives the output bias")
    close(gq, qt.grad, "dquery")
    close(gv, vt.grad, "dvalue")
    for k in p:
        close(gp[k], P[k].grad, f"d{k}")


def test_mha_self_attention_single_input_and_dropout():
    mha = _mha(num_heads=2, key_dim=2, dropout=0.5)
    x = rand(2, 3, 4, seed=1)
    y = mha(x)
    close(y, mha([x, x, x]))
    assert y.shape == (2, 3, 4) and mha.compute_output_shape((None, 3, 4)) == (None, 3, 4)
    a = mha.call(mha.values, x, training=True, rng=np.random.default_rng(0))
    close(a, mha.call(mha.values, x, training=True, rng=np.random.default_rng(0)))
    assert not np.allclose(a, y)


def test_mha_stable_softmax_large_scores():
    mha = _mha(num_heads=1, key_dim=2)
    x = rand(1, 3, 2, seed=1) * 1e4
    mha.build((None, 3, 2))
    y = mha.call(mha.values, x)
    g = nm.grad(lambda p: nm.numpy.sum(mha.call(p, x)))(mha.values)
    assert np.all(np.isfinite(y)) and all(np.all(np.isfinite(v)) for v in g.values())


# ================================================================================================
# SpectralNormalization
# ================================================================================================

def test_spectral_norm_matches_torch_parametrization(torch):
    """One training step: σ, W/σ, the gradient through W/σ (u, v constant) and the new u equal
    PyTorch's spectral_norm applied to the matrix W (in, out), whose (_u, _v) are our (v, u)."""
    n_in, out = 5, 3
    sn = SpectralNormalization(Dense(out, dtype=F64), power_iterations=2)
    sn.build((None, n_in))
    u0 = rand(1, out, seed=4)
    sn.set_weights([sn.values["kernel"], sn.values["bias"], u0])
    p = dict(sn.values)
    x, R = rand(4, n_in, seed=1), rand(4, out, seed=2)
    y = sn.call(p, x, training=True)
    gp, gx = nm.grad(lambda p, x: nm.numpy.sum(sn.call(p, x, training=True) * R), argnums=(0, 1))(p, x)
    new_u = sn.state_updates(p, x)["vector_u"]

    holder = torch.nn.Linear(out, n_in, bias=False)             # weight shape (n_in, out) = W
    with torch.no_grad():
        holder.weight.copy_(torch.tensor(p["kernel"]))
    torch.nn.utils.parametrizations.spectral_norm(holder, n_power_iterations=2)
    par = holder.parametrizations.weight
    with torch.no_grad():
        par[0]._v.copy_(torch.tensor(u0[0] / np.linalg.norm(u0)))
    holder.train()
    w_sn = holder.weight                                         # runs the power iterations
    xt = tt(torch, x)
    yt = xt @ w_sn + torch.tensor(p["bias"])
    (yt * torch.tensor(R)).sum().backward()
    close(sn.normalized_kernel(p, training=True), w_sn.detach(), "W / sigma")
    close(y, yt.detach(), "output")
    close(gx, xt.grad, "dx")
    close(gp["kernel"], par.original.grad, "dW")
    close(new_u[0], par[0]._v, "new u")
    assert np.all(gp["vector_u"] == 0)


def test_spectral_norm_sigma_converges_to_one():
    """Repeated training steps (one power iteration each) drive σ(W/σ̂) → 1 (numpy's SVD)."""
    sn = SpectralNormalization(Dense(4, dtype=F64), power_iterations=1)
    x = rand(2, 6, seed=1)
    sn(x)
    W = rand(6, 4, seed=5)                                    # σ₂/σ₁ ≈ 0.56
    sn.set_weights([W, np.zeros(4), rand(1, 4, seed=6)])
    p = dict(sn.values)
    first = np.linalg.svd(sn.normalized_kernel(p, training=True), compute_uv=False)[0]
    for _ in range(40):
        p.update(sn.state_updates(p, x))
    s = np.linalg.svd(sn.normalized_kernel(p, training=True), compute_uv=False)
    assert abs(s[0] - 1.0) < 1e-9 < 1e-3 < abs(first - 1.0)
    close(sn.normalized_kernel(p, training=False) * np.linalg.svd(W, compute_uv=False)[0], W)
    many = SpectralNormalization(Dense(4, dtype=F64), power_iterations=40)
    many.build((None, 6))
    q = {**many.values, "kernel": W, "vector_u": rand(1, 4, seed=6)}
    assert abs(np.linalg.svd(many.normalized_kernel(q, training=True), compute_uv=False)[0] - 1) < 1e-9


def test_spectral_norm_weights_config_and_zero_kernel():
    sn = SpectralNormalization(Dense(3, dtype=F64), power_iterations=2)
    sn.build((None, 4))
    assert list(sn.values) == ["kernel", "bias", "vector_u"] and set(sn.params) == {"kernel", "bias"}
    assert sn.compute_output_shape((None, 4)) == (None, 3)
    new = [np.ones((4, 3)), np.zeros(3), np.ones((1, 3))]
    sn.set_weights(new)
    close(sn.layer.values["kernel"], new[0])                    # one array shared with the layer
    cfg = json.loads(json.dumps(sn.get_config()))
    clone = SpectralNormalization.from_config(cfg, custom_objects={"Dense": Dense})
    assert clone.power_iterations == 2 and clone.layer.units == 3
    assert SpectralNormalization.from_config(cfg).layer.units == 3      # found in nnmath.nn.layers
    bad = json.loads(json.dumps(cfg).replace('"Dense"', '"NoSuchLayer"'))
    with pytest.raises(ValueError, match="unknown layer class 'NoSuchLayer'"):
        SpectralNormalization.from_config(bad)
    z = {"kernel": np.zeros((4, 3)), "bias": np.ones(3), "vector_u": np.ones((1, 3))}
    close(sn.call(z, rand(2, 4), training=True), np.ones((2, 3)))


# ================================================================================================
# check_grads, to order 2, with respect to the weights and the input
# ================================================================================================

def _built(layer, shape):
    layer.build((None,) + shape[1:])
    layer.built = True
    return layer


def _grad_cases():
    return [
        ("batchnorm-train", lambda: _built(_bn(), (4, 3)), (4, 3), dict(training=True)),
        ("batchnorm-infer", lambda: _built(_bn(axis=1), (3, 2, 2)), (3, 2, 2), {}),
        ("layernorm", lambda: _built(LayerNormalization(dtype=F64, gamma_initializer=normal_init,
                                                        beta_initializer=normal_init), (2, 3)), (2, 3), {}),
        ("simple_rnn", lambda: _built(_rnn(SimpleRNN, 2, return_sequences=True), (2, 3, 2)), (2, 3, 2), {}),
        ("lstm", lambda: _built(_rnn(LSTM, 2), (2, 3, 2)), (2, 3, 2), {}),
        ("gru", lambda: _built(_rnn(GRU, 2, return_sequences=True), (2, 3, 2)), (2, 3, 2), {}),
        ("gru-reset-before", lambda: _built(_rnn(GRU, 2, reset_after=False), (2, 3, 2)), (2, 3, 2), {}),
        ("mha", lambda: _built(_mha(num_heads=2, key_dim=2, value_dim=1), (2, 3, 2)), (2, 3, 2),
         dict(use_causal_mask=True)),
        ("spectral", _converged_spectral, (3, 3), dict(training=True)),
    ]


def _converged_spectral():
    """σ's derivative is the paper's v uᵀ with u, v held constant: the derivative of the top
    singular value when u, v are its singular vectors. So start from them and iterate enough to
    follow the finite-difference perturbations (order 1: the second derivative omits ∂u/∂W)."""
    sn = _built(SpectralNormalization(Dense(2, dtype=F64), power_iterations=30), (3, 3))
    W = rand(3, 2, seed=5)
    sn.set_weights([W, rand(2, seed=6), np.linalg.svd(W)[2][:1]])
    return sn


@pytest.mark.parametrize("name,make,shape,kw", _grad_cases(), ids=[c[0] for c in _grad_cases()])
def test_check_grads(name, make, shape, kw):
    layer = make()
    params = {k: v for k, v in layer.values.items() if k in layer.params}
    state = {k: v for k, v in layer.values.items() if k not in params}
    x = rand(*shape, seed=3)
    nm.check_grads(lambda p, x: layer.call({**p, **state}, x, **kw), (params, x),
                   order=1 if name == "spectral" else 2, rtol=1e-4, atol=1e-6)


# ================================================================================================
# Configs, shapes, errors
# ================================================================================================

CONFIG_CASES = [
    (BatchNormalization, dict(axis=1, momentum=0.9, epsilon=1e-4, center=False)),
    (LayerNormalization, dict(axis=[-2, -1], epsilon=1e-5, scale=False)),
    (SimpleRNN, dict(units=4, activation="relu", return_sequences=True, go_backwards=True)),
    (LSTM, dict(units=3, unit_forget_bias=False, return_state=True, dropout=0.25)),
    (GRU, dict(units=2, reset_after=False, recurrent_dropout=0.1)),
    (MultiHeadAttention, dict(num_heads=2, key_dim=3, value_dim=5, output_shape=7, dropout=0.1)),
]


@pytest.mark.parametrize("cls,kw", CONFIG_CASES, ids=[c[0].__name__ for c in CONFIG_CASES])
def test_config_round_trip(cls, kw):
    layer = cls(name=f"my_{cls.__name__.lower()}", **kw)
    cfg = layer.get_config()
    assert json.loads(json.dumps(cfg)) == cfg
    clone = cls.from_config(cfg)
    assert clone.get_config() == cfg and clone.name == layer.name
    for k, v in kw.items():
        assert cfg[k] == v


def test_compute_output_shape():
    assert SimpleRNN(4).compute_output_shape((None, 7, 3)) == (None, 4)
    assert GRU(4, return_sequences=True).compute_output_shape((None, 7, 3)) == (None, 7, 4)
    assert LSTM(4, return_state=True).compute_output_shape((None, 7, 3)) == [(None, 4)] * 3
    assert BatchNormalization(axis=1).compute_output_shape((None, 3, 5)) == (None, 3, 5)
    assert LayerNormalization().compute_output_shape((None, 5)) == (None, 5)
    assert MultiHeadAttention(2, 3).compute_output_shape([(None, 4, 8), (None, 6, 5)]) == (None, 4, 8)
    layer = _rnn(LSTM, 3, return_sequences=True)
    assert layer(rand(2, 5, 4)).shape == layer.compute_output_shape((2, 5, 4))


def test_errors_name_layer_and_shapes():
    lstm = _rnn(LSTM, 3, name="enc")
    with pytest.raises(ValueError, match=r"'enc'.*rank 3 \(batch, time, features\), received shape "
                                         r"\(4, 5\)"):
        lstm(rand(4, 5))
    lstm(rand(2, 5, 4))
    with pytest.raises(ValueError, match=r"'enc'.*\(batch, time, 4\).*received shape \(2, 5, 6\)"):
        lstm(rand(2, 5, 6))
    with pytest.raises(ValueError, match=r"'enc'.*initial_state.*\(2, 3\).*received shapes \[\(2, 3\)\]"):
        lstm(rand(2, 5, 4), initial_state=[np.zeros((2, 3))])
    with pytest.raises(ValueError, match="units must be a positive integer, got 0"):
        GRU(0)
    with pytest.raises(ValueError, match="dropout must be in"):
        SimpleRNN(2, dropout=1.5)

    bn = _bn(name="bn")
    bn(rand(4, 3))
    with pytest.raises(ValueError, match=r"'bn'.*3 features on axis -1, received shape \(4, 5\)"):
        bn(rand(4, 5))
    with pytest.raises(ValueError, match=r"'bn1'.*rank >= 2.*received shape \(3,\)"):
        _bn(name="bn1")(rand(3))
    with pytest.raises(ValueError, match="momentum must be in"):
        BatchNormalization(momentum=2)
    ln = LayerNormalization(name="ln", dtype=F64)
    ln.build((None, 3))
    with pytest.raises(ValueError, match=r"'ln'.*sizes \(3,\), received shape \(2, 4\)"):
        ln.call(ln.values, rand(2, 4))
    with pytest.raises(ValueError, match=r"axis=3 is out of range for input shape \(2, 4\)"):
        LayerNormalization(axis=3).compute_output_shape((2, 4))

    mha = _mha(num_heads=2, key_dim=2, name="att")
    with pytest.raises(ValueError, match=r"'att'.*query of rank 3.*received shape \(2, 4\)"):
        mha(rand(2, 4))
    q, v = rand(2, 3, 4), rand(2, 5, 6)
    mha([q, v])
    with pytest.raises(ValueError, match=r"'att'.*value with 6 features.*received shape \(2, 5, 3\)"):
        mha([q, rand(2, 5, 3)])
    with pytest.raises(ValueError, match=r"'att'.*attention_mask.*\(2, 3, 5\).*received \(3, 3\)"):
        mha([q, v], attention_mask=np.ones((3, 3), bool))
    with pytest.raises(ValueError, match=r"'att'.*\[query, value\] or \[query, value, key\], received 4"):
        mha([q, v, v, v])

    with pytest.raises(ValueError, match="power_iterations must be a positive integer, got 0"):
        SpectralNormalization(Dense(2), power_iterations=0)
    with pytest.raises(ValueError, match=r"has no weight 'kernel' nor 'embeddings'"):
        SpectralNormalization(LayerNormalization(dtype=F64)).build((None, 3))
