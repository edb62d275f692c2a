"""nnmath.optimizers._rules: each update rule is written once and run two ways — functionally
(the pure transforms, in nnmath.numpy) and in place (the Keras-style objects' flat path). The two
runs must agree bit for bit, outputs and state, in float32 and float64; the pure run must not
mutate its inputs; and no Keras-style object may carry a rule of its own.
"""
from __future__ import annotations

import inspect

import numpy as np
import pytest

from nnmath import optimizers as optim
from nnmath.optimizers import _rules
from nnmath.optimizers._rules import IN_PLACE, PURE

N = 37


def _arrays(dtype, k, seed):
    r = np.random.default_rng(seed)
    return [r.standard_normal(N).astype(dtype) for _ in range(k)]


def _pos(a):
    return np.abs(a) + a.dtype.type(0.1)                      # second-moment buffers are ≥ 0.1


# name → (covers, run(o, g, state, scratch) → (outputs..., new state...), n_state, n_scratch,
#         which state buffers are second moments)
def _adam(amsgrad, eps_hat):
    def run(o, g, s, tmp):
        alpha, eps = _rules.adam_coeffs(0.9, 0.999, 1e-7, 3, eps_hat, 0.01)
        return _rules.adam(o, g, s[0], s[1], s[2] if amsgrad else None, tmp[0], 0.9, 0.999,
                           alpha, eps)
    return "adam", run, 3, 1, (1, 2)


def _rms(centered, eps_in_sqrt):
    def run(o, g, s, tmp):
        return _rules.rms(o, g, s[0], s[1] if centered else None, tmp[0], 0.8, 1e-7,
                          eps_in_sqrt, 0.05)
    return "rms", run, 2, 1, (0,)


def _nadam():
    def run(o, g, s, tmp):
        _, a_m, a_g, eps = _rules.nadam_coeffs(0.9, 0.999, 1e-7, 1.0, 4, 0.6, 0.01)
        return _rules.nadam(o, g, s[0], s[1], tmp[0], tmp[1], 0.9, 0.999, a_m, a_g, eps)
    return "nadam", run, 2, 2, (1,)


CASES = {
    "adam_keras": _adam(False, True), "adam_torch": _adam(False, False),
    "adam_amsgrad": _adam(True, True),
    "rms_keras": _rms(False, True), "rms_torch": _rms(False, False),
    "rms_centered": _rms(True, True),
    "rss_keras": ("rss", lambda o, g, s, t: _rules.rss(o, g, s[0], t[0], 1e-7, True, 0.3), 1, 1,
                  (0,)),
    "rss_torch": ("rss", lambda o, g, s, t: _rules.rss(o, g, s[0], t[0], 1e-10, False), 1, 1,
                  (0,)),
    "nadam": _nadam(),
    "lion": ("lion", lambda o, g, s, t: _rules.lion(o, g, s[0], t[0], t[1], 0.9, 0.99, 0.003),
             1, 2, ()),
    "trace": ("trace", lambda o, g, s, t: _rules.trace(o, g, s[0], t[0], 0.9, False), 1, 1, ()),
    "trace_nesterov": ("trace", lambda o, g, s, t: _rules.trace(o, g, s[0], t[0], 0.9, True),
                       1, 1, ()),
    "ema": ("ema", lambda o, g, s, t: (_rules.ema(o, s[0], g, 0.7, t[0]),), 1, 1, ()),
    "ema_sq": ("ema_sq", lambda o, g, s, t: (_rules.ema_sq(o, s[0], g, 0.7, t[0]),), 1, 1, (0,)),
    "clip_value": ("clip_value", lambda o, g, s, t: (_rules.clip_value(o, g, 0.5, t[0]),), 0, 1,
                   ()),
    # per-weight squared norms around c² = 0.5: some clipped, some (exactly) not
    "norm_scale": ("norm_scale", lambda o, g, s, t: (_rules.norm_scale(
        o, o.mul(g, g, out=t[0]), 0.5 ** 0.5),), 0, 1, ()),
    "weight_decay": ("weight_decay", lambda o, g, s, t: (
        g, _rules.weight_decay(o, s[0], 0.01 * 0.3, s[0])), 1, 0, ()),
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_pure_and_in_place_runs_agree_bit_for_bit(case, dtype):
    _, run, n_state, n_tmp, second = CASES[case]
    g, *state = _arrays(dtype, 1 + n_state, seed=len(case))
    # second moments ≥ 0.1, first moments |·| < 0.3 (so v − ḡ² > 0, as a real run keeps it)
    state = [_pos(s) if i in second else np.tanh(s) * dtype(0.3) for i, s in enumerate(state)]
    g_in, state_in = g.copy(), [s.copy() for s in state]

    pure = run(PURE, g, state, [None] * n_tmp)
    np.testing.assert_array_equal(g, g_in)                        # nothing mutated
    for s, s0 in zip(state, state_in):
        np.testing.assert_array_equal(s, s0)

    g_ip = g.copy()
    buffers = [s.copy() for s in state]
    scratch = [np.empty(N, dtype) for _ in range(n_tmp)]
    flat = run(IN_PLACE, g_ip, buffers, scratch)
    assert len(pure) == len(flat)
    for a, b in zip(pure, flat):
        if a is None:
            assert b is None
            continue
        assert a.dtype == b.dtype == dtype
        np.testing.assert_array_equal(a, b)
    # the in-place run updated its state buffers themselves (the flat path keeps no copies)
    for out in flat[1:]:
        if out is not None:
            assert any(out is buf for buf in buffers)


def test_every_rule_has_a_case():
    rules = {n for n in _rules.__all__ if n not in ("PURE", "IN_PLACE")
             and not n.endswith("_coeffs")}
    assert rules == {c[0] for c in CASES.values()}


@pytest.mark.parametrize("cls", [optim.SGD, optim.Adam, optim.AdamW, optim.RMSprop,
                                 optim.Adagrad, optim.Nadam, optim.Lion],
                         ids=lambda c: c.__name__)
def test_keras_objects_hold_no_rule_of_their_own(cls):
    """The flat kernels only call ``_rules`` (in place) and subtract; no arithmetic of a rule
    (square roots, divisions, moving averages) is written in them."""
    src = inspect.getsource(cls._kernel)
    assert "_rules." in src
    for op in ("np.sqrt", "np.divide", "np.sign", "np.maximum", "*=", "/="):
        assert op not in src, f"{cls.__name__}._kernel computes {op} itself"


def test_optax_transform_in_compile_trains_like_the_same_rule_by_hand():
    """compile(optimizer=adam(1e-2)) steps the model's weights with the transform's own rule."""
    import nnmath.keras as keras
    from nnmath.optimizers import apply_updates
    keras.utils.set_random_seed(0)
    r = np.random.default_rng(0)
    x, y = r.standard_normal((16, 3)).astype("float32"), r.standard_normal((16, 1))
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    w0 = [w.copy() for w in model.get_weights()]
    model.compile(optimizer=optim.adam(1e-2), loss="mse")
    model.fit(x, y, batch_size=16, epochs=3, verbose=0, shuffle=False)

    tr = optim.adam(1e-2)
    params = {"k": w0[0], "b": w0[1]}
    state = tr.init(params)
    for _ in range(3):
        e = x @ params["k"] + params["b"] - y.astype("float32")
        grads = {"k": (2 / e.size) * x.T @ e, "b": (2 / e.size) * e.sum(0)}
        u, state = tr.update(grads, state, params)
        params = apply_updates(params, u)
    np.testing.assert_allclose(model.get_weights()[0], params["k"], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model.get_weights()[1], params["b"], rtol=1e-5, atol=1e-6)


def test_clipping_and_weight_decay_are_the_rules_on_both_paths():
    """clipvalue, clipnorm / global_clipnorm and decoupled weight decay are the functions of
    ``_rules`` on the pure path (the transforms) and on the flat path (in place)."""
    from nnmath.optimizers import _transform
    from nnmath.optimizers.keras import Optimizer
    flat = "".join(inspect.getsource(f) for f in (Optimizer._clip_flat, Optimizer._scale_to_norm,
                                                   Optimizer.update_flat,
                                                   Optimizer._update_groups))
    for name in ("clip_value", "norm_scale", "weight_decay"):
        assert f"_rules.{name}(IN_PLACE" in flat
    for op in ("np.clip", "np.sqrt", "math.sqrt", "*= 1.0"):
        assert op not in flat
    pure = "".join(inspect.getsource(f) for f in (_transform.clip, _transform._norm_scale,
                                                   _transform.decoupled_weight_decay))
    for name in ("clip_value", "norm_scale", "weight_decay"):
        assert f"_rules.{name}(PURE" in pure
    # exactly 1 when the norm is within c (Keras's c / max(‖g‖, c)), NaN when it is not finite
    assert _rules.norm_scale(IN_PLACE, 0.09, 0.3) == 1.0
    assert np.isnan(_rules.norm_scale(PURE, np.inf, 1.0))
