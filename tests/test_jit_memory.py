"""nm.jit plans: elementwise steps written into dying operands, results built by the plan, the
fast call path for numpy scalars.

Writing in place must never be visible: results returned by one call are not changed by the next,
inputs, constants and arrays a library function shares (a cache, a view) are never written, and
every replay equals the untraced call bit for bit.
"""
from __future__ import annotations

import weakref
from collections import namedtuple

import numpy as np

import nnmath as nm
import nnmath.numpy as mnp
from nnmath._core import _jit_memory
from nnmath._core.primitive import call_plain

R = np.random.default_rng(0)


def _same_bits(a, b):
    la, lb = nm.tree_leaves(a), nm.tree_leaves(b)
    assert len(la) == len(lb)
    for x, y in zip(la, lb):
        assert type(x) is type(y) and np.asarray(x).dtype == np.asarray(y).dtype
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


def test_elementwise_chain_runs_in_place_and_matches_untraced_bits():
    f = lambda x, y: mnp.sqrt(mnp.square(x * 1.5 - y) + 1.0) / 3.0
    jf = nm.jit(f)
    x, y = R.normal(size=(40, 7)), R.normal(size=(40, 7))
    src = jf.plan_source(x, y)
    assert src.count("(in place)") == 5                  # all but the first step
    for _ in range(3):
        x, y = R.normal(size=(40, 7)), R.normal(size=(40, 7))
        _same_bits(jf(x, y), f(x, y))


def test_returned_arrays_are_not_overwritten_by_the_next_call():
    jf = nm.jit(lambda x: ((x * 2.0 + 1.0) * 3.0, mnp.exp(x) - 1.0))
    x1 = R.normal(size=5000)
    assert "(in place)" in jf.plan_source(x1)
    a1, b1 = jf(x1)
    a1_copy, b1_copy = a1.copy(), b1.copy()
    a2, b2 = jf(R.normal(size=5000))
    assert not np.shares_memory(a1, a2) and not np.shares_memory(b1, b2)
    np.testing.assert_array_equal(a1, a1_copy)
    np.testing.assert_array_equal(b1, b1_copy)


def test_inputs_and_constants_are_never_written():
    c = R.normal(size=(64, 64))
    jf = nm.jit(lambda x: -(x + c) * 2.0)            # x and c die at the first step
    x = R.normal(size=(64, 64))
    x0, c0 = x.copy(), c.copy()
    for _ in range(3):
        out = jf(x)
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_array_equal(c, c0)
    np.testing.assert_array_equal(out, -(x0 + c0) * 2.0)


_CACHE = np.ones(4096)          # 32 KiB: an operand a library function shares (checked at run time)


def test_an_array_a_library_function_shares_is_not_written():
    jf = nm.jit(lambda x: call_plain(lambda a: _CACHE, x) + x)
    src = jf.plan_source(np.zeros(4096))
    assert "_refcount(" in src                      # checked on every replay ...
    for k in range(3):
        np.testing.assert_array_equal(jf(np.full(4096, k)), 1.0 + k)
    np.testing.assert_array_equal(_CACHE, 1.0)      # ... and left alone: the cache holds it


def test_a_fresh_array_from_a_library_function_is_reused_when_nothing_else_holds_it():
    made = []

    def library(a):                      # not a ufunc: its result is checked on every replay
        r = a @ a
        made.append(weakref.ref(r))
        return r
    jf = nm.jit(lambda x: call_plain(library, x) + 1.0)
    x = R.normal(size=(64, 64))
    assert "_refcount(" in jf.plan_source(x)
    out = jf(x)
    assert made[-1]() is out             # the sum was written into the library's fresh array
    _same_bits(out, x @ x + 1.0)


def test_a_view_of_an_intermediate_keeps_it_from_being_written():
    def f(x):
        y = x * 2.0                      # fresh, but also read through a view below
        t = mnp.transpose(y)
        w = y + 1.0                      # y dies here while its view t is still alive
        return w, t * 3.0
    jf = nm.jit(f)
    for _ in range(2):
        x = R.normal(size=(64, 64))
        _same_bits(jf(x), f(x))


def test_mixed_shapes_and_dtypes_are_not_written_into():
    def f(x, b):
        y = x * 2.0                      # (3, 5) float64
        z = mnp.astype(y, np.float32) + np.float32(1)   # another dtype: not into y
        return y[:, :1] + b, z * 2       # broadcasting (3,1)+(3,5) → not into the (3,1) operand
    jf = nm.jit(f)
    x, b = R.normal(size=(3, 5)), R.normal(size=(3, 5))
    _same_bits(jf(x, b), f(x, b))
    _same_bits(jf(x + 1, b), f(x + 1, b))


def test_planning_can_be_turned_off(monkeypatch):
    monkeypatch.setattr(_jit_memory, "ENABLED", False)
    jf = nm.jit(lambda x: mnp.sqrt(x * 2.0 + 1.0))
    x = np.abs(R.normal(size=10))
    assert "(in place)" not in jf.plan_source(x)
    _same_bits(jf(x), np.sqrt(x * 2.0 + 1.0))


def test_hvp_of_a_small_mlp_replays_bit_for_bit():
    X, Y = R.normal(size=(64, 8)), np.eye(3)[R.integers(0, 3, 64)]

    def loss(theta):
        W1, b1 = mnp.reshape(theta[:8 * 32], (8, 32)), theta[256:288]
        W2 = mnp.reshape(theta[288:288 + 96], (32, 3))
        h = mnp.maximum(mnp.matmul(X, W1) + b1, 0)
        e = mnp.exp(mnp.matmul(h, W2))
        p = e / mnp.sum(e, axis=-1, keepdims=True)
        return mnp.mean((p - Y) ** 2)
    hv = nm.jit(lambda th, v: nm.hvp(loss, (th,), (v,)))
    for _ in range(3):
        th, v = R.normal(size=384) * 0.3, R.normal(size=384)
        _same_bits(hv(th, v), nm.hvp(loss, (th,), (v,)))
    assert "_refcount(" in hv.plan_source(th, v)


def test_numpy_scalars_take_the_fast_path_and_keep_their_types():
    fs = lambda s: mnp.tanh(s) * 2.0 + 1.0
    g2 = nm.jit(nm.grad(nm.grad(fs)))
    for s in (np.float64(0.3), np.float64(-1.2), np.float32(0.5), np.array(0.3)):
        out, ref = g2(s), nm.grad(nm.grad(fs))(s)
        # values and dtypes; a replay on 0-d values gives numpy scalars where the traced call
        # gives 0-d arrays (as before this fast path)
        assert np.asarray(out).dtype == np.asarray(ref).dtype == np.asarray(s).dtype
        assert np.asarray(out).tobytes() == np.asarray(ref).tobytes()
    assert g2.recordings == 3                   # float64 scalar, float32 scalar, 0-d array
    assert len(g2._plans) == 3


NT = namedtuple("NT", "a b")


def test_plans_build_the_result_structure_themselves():
    k = np.arange(3.0)

    def f(x):
        return {"b": x * 2, "a": [x + 1, None, 3.5], "c": NT(k, x.sum()), "d": ()}
    jf = nm.jit(f)
    x = R.normal(size=3)
    first = jf(x)
    for _ in range(2):
        x = R.normal(size=3)
        out = jf(x)
        assert list(out) == ["a", "b", "c", "d"] and type(out["c"]) is NT
        _same_bits(out, f(x))
    assert out["c"].a is not first["c"].a            # constants come back as fresh copies
    out["c"].a[0] = 99.0
    np.testing.assert_array_equal(jf(x)["c"].a, k)


def test_reference_training_step_with_in_place_plans_matches_traced_training():
    from nnmath.keras import layers, models
    X = R.normal(size=(96, 20)).astype(np.float32)
    Y = np.eye(3, dtype=np.float32)[R.integers(0, 3, 96)]
    runs = []
    for jit_compile in (False, True):
        nm.keras.utils.set_random_seed(1)
        m = models.Sequential([layers.Dense(64, activation="relu", input_shape=(20,)),
                               layers.Dense(3, activation="softmax")])
        m.compile("adam", "mse", jit_compile=jit_compile)
        runs.append((m.fit(X, Y, epochs=2, batch_size=32, verbose=0).history, m.get_weights()))
    assert "(in place)" in m._jitted["_gradient_step"].plan_source(
        X[:32], Y[:32], None, np.random.default_rng(0), *m._all_weights())
    (h0, w0), (h1, w1) = runs
    assert h0 == h1
    for a, b in zip(w0, w1):
        np.testing.assert_array_equal(a, b)
