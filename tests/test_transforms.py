"""Transforms: nesting to any order, pytrees, aux outputs, custom rules and stop_gradient."""
from __future__ import annotations

import numpy as np
import pytest

import nnmath as nm
import nnmath.numpy as mnp

R = np.random.default_rng(3)


def test_outputs_are_plain_numpy_arrays():
    x = R.normal(size=3)
    for out in (nm.grad(lambda x: mnp.sum(mnp.sin(x)))(x), nm.jvp(mnp.sin, (x,), (x,))[1],
                nm.jacrev(mnp.sin)(x), nm.hessian(lambda x: mnp.sum(x ** 3))(x)):
        assert type(out) is np.ndarray


def test_third_order_in_every_mode_combination():
    x = 0.7
    d3 = -np.cos(x)
    assert np.isclose(nm.grad(nm.grad(nm.grad(mnp.sin)))(x), d3)
    fwd = lambda f: (lambda x: nm.jvp(f, (x,), (np.ones_like(x),))[1])
    assert np.isclose(fwd(fwd(fwd(mnp.sin)))(np.float64(x)), d3)
    assert np.isclose(nm.grad(fwd(nm.grad(mnp.sin)))(x), d3)
    assert np.isclose(fwd(nm.grad(fwd(mnp.sin)))(np.float64(x)), d3)


def test_perturbation_confusion_is_avoided():
    # d/dx [x · d/dy (x + y)] = d/dx [x · 1] = 1   (Siskind & Pearlmutter 2005)
    assert nm.grad(lambda x: x * nm.grad(lambda y: x + y)(1.0))(2.0) == 1.0
    f = lambda x: x * nm.jvp(lambda y: x * y, (1.0,), (1.0,))[1]      # x · x
    assert nm.grad(f)(3.0) == 6.0


def mlp_loss(params, x, y):
    h = mnp.tanh(x @ params["w1"] + params["b1"])
    logits = h @ params["w2"] + params["b2"]
    return mnp.mean((logits - y) ** 2)


PARAMS = {"w1": R.normal(size=(3, 4)), "b1": R.normal(size=4), "w2": R.normal(size=(4, 2)),
          "b2": R.normal(size=2)}
X, Y = R.normal(size=(5, 3)), R.normal(size=(5, 2))


def test_gradient_wrt_dict_keeps_structure():
    g = nm.grad(mlp_loss)(PARAMS, X, Y)
    assert set(g) == set(PARAMS) and all(g[k].shape == PARAMS[k].shape for k in PARAMS)
    nm.check_grads(lambda p: mlp_loss(p, X, Y), (PARAMS,), order=2)


def test_hessian_wrt_dict_of_params():
    H = nm.hessian(mlp_loss)(PARAMS, X, Y)
    assert H["w1"]["b2"].shape == (3, 4, 2)
    # compare with the Hessian of the flattened function
    leaves, treedef = nm.tree_flatten(PARAMS)
    sizes = [l.size for l in leaves]

    def flat_loss(theta):
        parts, k = [], 0
        for l, n in zip(leaves, sizes):
            parts.append(mnp.reshape(theta[k:k + n], l.shape))
            k += n
        return mlp_loss(nm.tree_unflatten(treedef, parts), X, Y)

    theta = np.concatenate([l.ravel() for l in leaves])
    Hflat = nm.hessian(flat_loss)(theta)
    names = sorted(PARAMS)
    offsets = np.cumsum([0] + sizes)
    for i, a in enumerate(names):
        for j, b in enumerate(names):
            block = Hflat[offsets[i]:offsets[i + 1], offsets[j]:offsets[j + 1]]
            np.testing.assert_allclose(H[a][b].reshape(block.shape), block, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(Hflat, Hflat.T, atol=1e-12)


def test_jacfwd_equals_jacrev_on_pytrees():
    f = lambda p: {"h": mnp.tanh(X @ p["w1"]), "s": mnp.sum(p["b1"] ** 2)}
    jr, jf = nm.jacrev(f)(PARAMS), nm.jacfwd(f)(PARAMS)
    for k in ("h", "s"):
        for name in PARAMS:
            np.testing.assert_allclose(jr[k][name], jf[k][name], rtol=1e-12, atol=1e-14)
    assert jr["h"]["w1"].shape == (5, 4, 3, 4)


def test_hvp_matches_hessian_vector_product_and_multiple_args():
    x, v = R.normal(size=6), R.normal(size=6)
    f = lambda x: mnp.sum(mnp.sin(x) * mnp.roll(x, 1) ** 2)
    np.testing.assert_allclose(nm.hvp(f, (x,), (v,)), nm.hessian(f)(x) @ v, rtol=1e-10)
    g = lambda a, b: mnp.sum(a ** 2 * b)
    ha, hb = nm.hvp(g, (x, x), (v, np.zeros(6)))
    np.testing.assert_allclose(ha, 2 * x * v, rtol=1e-12)
    np.testing.assert_allclose(hb, 2 * x * v, rtol=1e-12)


def test_argnums_tuple_and_has_aux():
    f = lambda a, b: (mnp.sum(a * b), {"prod": a * b})
    (val, aux), (ga, gb) = nm.value_and_grad(f, argnums=(0, 1), has_aux=True)(X, Y[:, :1] * 1.0)
    assert type(aux["prod"]) is np.ndarray
    np.testing.assert_allclose(ga, np.broadcast_to(Y[:, :1], X.shape))
    g, aux2 = nm.grad(f, has_aux=True)(X, Y[:, :1] * 1.0)
    assert g.shape == X.shape
    out, pullback, aux3 = nm.vjp(lambda a: (a * 2.0, a.sum()), X, has_aux=True)
    assert np.isclose(aux3, X.sum())
    out, tan, aux4 = nm.jvp(lambda a: (a * 2.0, a.sum()), (X,), (X,), has_aux=True)
    np.testing.assert_allclose(tan, 2 * X)


def test_vjp_function_is_reusable_and_linear():
    out, pullback = nm.vjp(lambda x: mnp.tanh(x) * x, X)
    u1, u2 = R.normal(size=X.shape), R.normal(size=X.shape)
    (a,), (b,), (c,) = pullback(u1), pullback(u2), pullback(u1 + u2)
    np.testing.assert_allclose(a + b, c, rtol=1e-12)


def test_float32_stays_float32():
    x = R.normal(size=4).astype(np.float32)
    f = lambda x: mnp.sum(mnp.tanh(x) * 2.0 + 1.0)
    assert nm.grad(f)(x).dtype == np.float32
    assert nm.jvp(mnp.exp, (x,), (x,))[1].dtype == np.float32
    assert nm.hessian(f)(x).dtype == np.float32
    assert nm.grad(lambda x: mnp.sum(x * np.float64(2.0)))(x).dtype == np.float32


def test_stop_gradient():
    assert nm.grad(lambda x: x * nm.stop_gradient(x))(3.0) == 3.0
    assert nm.grad(nm.grad(lambda x: x ** 2 * nm.stop_gradient(x ** 2)))(2.0) == 8.0
    assert nm.jvp(lambda x: nm.stop_gradient(x) * x, (3.0,), (1.0,))[1] == 3.0


def test_linearize():
    x, v = R.normal(size=4), R.normal(size=4)
    out, f_jvp = nm.linearize(mnp.sin, x)
    np.testing.assert_allclose(out, np.sin(x))
    np.testing.assert_allclose(f_jvp(v), np.cos(x) * v)


# --- custom rules ------------------------------------------------------------------------------

@nm.custom_vjp
def scaled_tanh(x, s):
    return mnp.tanh(x) * s


def _st_fwd(x, s):
    y = mnp.tanh(x)
    return y * s, (y, s)


def _st_bwd(res, g):
    y, s = res
    return g * s * (1.0 - y * y), mnp.sum(g * y) if np.ndim(s) == 0 else g * y


scaled_tanh.defvjp(_st_fwd, _st_bwd)


def test_custom_vjp_composes_with_every_transform():
    x, s = R.normal(size=4), 1.7
    f = lambda x: mnp.sum(scaled_tanh(x, s) ** 2)
    ref = lambda x: mnp.sum((mnp.tanh(x) * s) ** 2)
    np.testing.assert_allclose(nm.grad(f)(x), nm.grad(ref)(x), rtol=1e-12)
    np.testing.assert_allclose(nm.hessian(f)(x), nm.hessian(ref)(x), rtol=1e-10)
    np.testing.assert_allclose(nm.jacrev(nm.jacfwd(f))(x), nm.hessian(ref)(x), rtol=1e-10)
    np.testing.assert_allclose(nm.hvp(f, (x,), (x,)), nm.hvp(ref, (x,), (x,)), rtol=1e-10)
    nm.check_grads(lambda x, s: scaled_tanh(x, s), (x, s), order=2)


def test_custom_vjp_rule_is_actually_used():
    @nm.custom_vjp
    def clip_gradient(x):
        return x

    clip_gradient.defvjp(lambda x: (x, None), lambda _, g: (mnp.clip(g, -1.0, 1.0),))
    assert nm.grad(lambda x: 5.0 * clip_gradient(x))(2.0) == 1.0
    # d/dx [x·c(3x)] = 3x + 3·clip(x, −1, 1): the rule is used inside a second derivative too
    assert nm.grad(lambda x: x * clip_gradient(x * 3.0))(2.0) == 9.0
    assert nm.grad(nm.grad(lambda x: x * clip_gradient(x * 3.0)))(2.0) == 3.0


def test_custom_vjp_nondiff_argnums():
    @nm.custom_vjp
    def power(n, x):
        return x ** n

    power.nondiff_argnums = (0,)
    power.defvjp(lambda n, x: (x ** n, x), lambda n, x, g: (g * n * x ** (n - 1),))
    assert nm.grad(lambda x: power(3, x))(2.0) == 12.0


@nm.custom_jvp
def log1pexp(x):
    return mnp.log1p(mnp.exp(x))


@log1pexp.defjvp
def _log1pexp_jvp(primals, tangents):
    (x,), (t,) = primals, tangents
    return log1pexp(x), t * nm.scipy.special.expit(x)


def test_custom_jvp_composes_with_every_transform():
    x = R.normal(size=5)
    ref = lambda x: mnp.sum(mnp.logaddexp(0.0, x) ** 2)
    f = lambda x: mnp.sum(log1pexp(x) ** 2)
    np.testing.assert_allclose(nm.grad(f)(x), nm.grad(ref)(x), rtol=1e-12)
    np.testing.assert_allclose(nm.hessian(f)(x), nm.hessian(ref)(x), rtol=1e-10)
    np.testing.assert_allclose(nm.jacrev(nm.grad(f))(x), nm.hessian(ref)(x), rtol=1e-10)
    nm.check_grads(log1pexp, (x,), order=2)
    # the rule is what gets differentiated: stable where the naive formula overflows
    assert nm.grad(lambda x: log1pexp(x))(100.0) == 1.0
    with np.errstate(over="ignore", invalid="ignore"):
        assert nm.grad(lambda x: mnp.log1p(mnp.exp(x)))(1000.0) != 1.0    # exp overflowed
        assert nm.grad(lambda x: log1pexp(x))(1000.0) == 1.0


def test_custom_rule_errors():
    @nm.custom_vjp
    def f(x):
        return x

    with pytest.raises(TypeError, match="defvjp"):
        f(1.0)
    f.defvjp(lambda x: (x, None), lambda _, g: (g, g))
    with pytest.raises(TypeError, match="one entry per differentiable argument"):
        nm.grad(f)(1.0)


def test_tape_keeps_only_what_the_backward_pass_reads():
    """Reverse mode holds the intermediates its VJPs need (tanh keeps y, matmul its inputs) and
    drops the rest: here the pre-activation X W, which no rule reads."""
    import gc
    import weakref

    refs = {}
    X, W = R.normal(size=(128, 64)), R.normal(size=(64, 64))       # arrays big enough to free

    def f(W):
        a = X @ W                       # read by nobody in the backward pass
        refs["a"] = weakref.ref(a._primal)
        h = mnp.tanh(a)                 # tanh's VJP reads h only
        refs["h"] = weakref.ref(h._primal)
        return mnp.sum(h * 2.0 + 1.0)

    out, pullback = nm.vjp(f, W)
    gc.collect()
    assert refs["a"]() is None, "the tape kept the pre-activation"
    assert refs["h"]() is not None, "the tape dropped tanh's output, which its VJP needs"
    np.testing.assert_allclose(pullback(1.0)[0], X.T @ (2.0 * (1.0 - np.tanh(X @ W) ** 2)), rtol=1e-12)


def test_gradients_are_writable_arrays_the_caller_owns():
    g1 = nm.grad(lambda x: x)(1.0)
    g1 += 1.0                                   # no read-only shared seed comes back
    assert nm.grad(lambda x: x)(1.0) == 1.0
    g2 = nm.grad(lambda x: mnp.sum(x))(np.zeros(5000))
    g2[0] = 3.0                                 # not a read-only broadcast view


def test_jvp_tangents_are_writable():
    _, t = nm.jvp(lambda x: mnp.broadcast_to(x, (5000, 3)), (np.ones(3),), (np.ones(3),))
    t[0, 0] = 2.0
