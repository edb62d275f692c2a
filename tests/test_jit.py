"""nm.jit: a recorded plan replays exactly what the untraced function computes.

Every row of the rule tables is run through ``jit`` of its value, its VJP, its JVP and a
forward-over-reverse second derivative; the replayed results must equal the untraced ones bit for
bit (both run the same numpy calls in the same order; a few functions take a cheaper path for plain
arrays, hence a tolerance of 1e-12), first when recording, then on replay with other values.
"""
from __future__ import annotations

import numpy as np
import pytest

import nnmath as nm
import nnmath.numpy as mnp
from rowtable import all_rows

ROWS = all_rows()


def _float_leaves_like(tree, fill):
    return nm.tree_map(lambda a: np.full(np.shape(a), fill, np.result_type(a))
                       if np.result_type(a).kind == "f" else a, tree)


def _perturbed(args):
    return nm.tree_map(lambda a: a * (1 + 1e-3) if isinstance(a, np.ndarray) and a.dtype.kind == "f"
                       else a, args)


def _equal(a, b, what):
    la, lb = nm.tree_leaves(a), nm.tree_leaves(b)
    assert len(la) == len(lb), what
    for x, y in zip(la, lb):
        # equal to rounding: a few functions take a cheaper path for plain arrays (eigvalsh)
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=1e-12, atol=1e-13,
                                   err_msg=what)
        assert np.asarray(x).dtype == np.asarray(y).dtype, what


def _transforms(row):
    fun, args = row.fun, row.args
    out = fun(*args)
    ones_out = _float_leaves_like(out, 1.0)
    diff = [i for i, a in enumerate(args) if np.result_type(a).kind == "f"]

    def with_diff(*d):          # fun of the differentiable arguments only
        full = list(args)
        for i, v in zip(diff, d):
            full[i] = v
        return fun(*full)

    def value(*d):
        return with_diff(*d)

    def pullback(*d):
        return nm.vjp(with_diff, *d)[1](ones_out)

    def pushforward(*d):
        return nm.jvp(with_diff, d, tuple(_float_leaves_like(x, 0.5) for x in d))

    def second(*d):             # forward over reverse: the derivative of the VJP along ½
        return nm.jvp(pullback, d, tuple(_float_leaves_like(x, 0.5) for x in d))[1]

    todo = [("value", value), ("vjp", pullback)]
    if "fwd" in row.modes:
        todo.append(("jvp", pushforward))
        if row.order >= 2:
            todo.append(("jvp of vjp", second))
    return [args[i] for i in diff], todo


@pytest.mark.parametrize("row", ROWS, ids=[r.id for r in ROWS])
def test_jit_replays_the_untraced_results(row):
    d, todo = _transforms(row)
    for name, f in todo:
        jf = nm.jit(f)
        for inputs in (d, d, _perturbed(d)):        # record, replay, replay with other values
            with np.errstate(all="ignore"):
                expected = f(*inputs)
                got = jf(*inputs)
            _equal(got, expected, f"{row.id}: {name}")
        assert all(e != "unstaged" for e in jf._plans.values()), f"{row.id}: {name} not staged"
        assert 1 <= jf.recordings <= 2, f"{row.id}: {name} recorded {jf.recordings} times"


# ------------------------------------------------------------------------------ semantics
def test_python_decisions_on_values_are_guarded_and_rerecorded():
    def f(x):
        if mnp.sum(x) > 0:            # a Python branch on a value: recorded as a guard
            return mnp.sum(x ** 2)
        return mnp.sum(mnp.sin(x))

    jf = nm.jit(nm.grad(f))
    pos, neg = np.array([1.0, 2.0]), np.array([-1.0, -2.0])
    for x in (pos, neg, pos, neg):
        np.testing.assert_array_equal(jf(x), nm.grad(f)(x))
    assert jf.recordings == 2          # one plan per outcome of the guard, both kept


def test_branches_may_return_different_structures():
    def f(x):
        if mnp.sum(x) > 0:
            return x * 2.0, mnp.sum(x)
        return {"neg": -x}

    jf = nm.jit(f)
    pos, neg = np.ones(2), -np.ones(2)
    for x in (pos, neg, pos, neg):
        _equal(jf(x), f(x), "branch")
        assert type(jf(x)) is type(f(x))


def test_rules_that_choose_a_formula_from_values_stay_exact():
    # prod's VJP divides by x unless an element is zero; mnp.where's untaken branch is NaN
    jp = nm.jit(nm.grad(lambda x: mnp.prod(x)))
    np.testing.assert_allclose(jp(np.array([1.0, 2.0, 3.0])), [6.0, 3.0, 2.0])
    np.testing.assert_allclose(jp(np.array([1.0, 0.0, 3.0])), [0.0, 3.0, 0.0])
    jw = nm.jit(nm.grad(lambda x: mnp.sum(mnp.where(x > 0, mnp.sqrt(x), 0.0))))
    with np.errstate(invalid="ignore"):
        np.testing.assert_allclose(jw(np.array([4.0, 1.0])), [0.25, 0.5])
        np.testing.assert_allclose(jw(np.array([4.0, -1.0])), [0.25, 0.0])   # no NaN from sqrt(-1)


def test_index_arrays_and_masks_are_inputs_of_the_plan():
    gather = nm.jit(nm.grad(lambda x, idx: mnp.sum(x[idx] ** 2)))
    x = np.arange(5.0)
    for idx in (np.array([0, 0, 3]), np.array([4, 1, 1])):
        np.testing.assert_array_equal(gather(x, idx), nm.grad(lambda x: mnp.sum(x[idx] ** 2))(x))
    masked = nm.jit(lambda x: mnp.sum(x[x > 2.0]))
    assert masked(x) == 7.0 and masked(x + 1.0) == 3.0 + 4.0 + 5.0   # shape follows the values


def test_generator_arguments_draw_afresh_on_every_call_as_untraced():
    def noisy(x, rng):
        return x * rng.random(x.shape)

    jf = nm.jit(noisy)
    a, b = np.random.default_rng(7), np.random.default_rng(7)
    x = np.ones(4)
    for _ in range(3):
        np.testing.assert_array_equal(jf(x, a), noisy(x, b))


def test_generator_draws_that_cannot_be_recorded_say_why():
    rng = np.random.default_rng(0)
    with pytest.raises(nm.ConcretizationError, match=r"random\(...\) returned a Python float.*size="):
        nm.jit(lambda x, g: x * g.random())(np.ones(2), rng)
    with pytest.raises(nm.ConcretizationError, match="Generator.spawn cannot be recorded"):
        nm.jit(lambda x, g: g.spawn(1) and x)(np.ones(2), rng)


def test_dropout_refuses_a_generator_that_would_be_frozen_into_the_plan():
    layer = nm.nn.layers.Dropout(0.5, seed=1)
    layer.build((None, 4))
    with pytest.raises(nm.ConcretizationError, match="pass the numpy.random.Generator"):
        nm.jit(lambda x: layer.call({}, x, training=True))(np.ones((2, 4)))
    rng_a, rng_b = np.random.default_rng(3), np.random.default_rng(3)
    jd = nm.jit(lambda x, rng: layer.call({}, x, training=True, rng=rng))
    for _ in range(2):
        np.testing.assert_array_equal(jd(np.ones((2, 4)), rng_a),
                                      layer.call({}, np.ones((2, 4)), training=True, rng=rng_b))


def test_jit_composes_with_enclosing_transforms():
    f = nm.jit(lambda x: mnp.sum(mnp.tanh(x) ** 3))
    x = np.array([0.3, -0.7])
    plain = lambda x: mnp.sum(mnp.tanh(x) ** 3)     # noqa: E731
    np.testing.assert_allclose(nm.grad(f)(x), nm.grad(plain)(x), rtol=1e-15)
    np.testing.assert_allclose(nm.hessian(f)(x), nm.hessian(plain)(x), rtol=1e-14)
    # a value of an enclosing transform reached through a closure: run unstaged, still right
    g = nm.grad(lambda y: nm.jit(lambda x: mnp.sum(x * y))(x))(np.array([1.0, 2.0]))
    np.testing.assert_array_equal(g, x)


def test_transforms_inside_jit_match_untraced():
    def loss(p, x):
        return mnp.mean(mnp.tanh(x @ p["w"] + p["b"]) ** 2)

    rng = np.random.default_rng(0)
    p = {"w": rng.normal(size=(3, 2)), "b": rng.normal(size=2)}
    x = rng.normal(size=(5, 3))
    for t in (nm.grad(loss), nm.hessian(loss), nm.jacfwd(nm.grad(loss)),
              nm.vmap(nm.grad(loss), in_axes=(None, 0))):
        expected = t(p, x)
        jt = nm.jit(t)
        for _ in range(2):
            _equal(jt(p, x), expected, repr(t))


def test_custom_rules_inside_jit():
    @nm.custom_vjp
    def clip_grad(x):
        return x

    clip_grad.defvjp(lambda x: (x, None), lambda res, g: (mnp.clip(g, -1.0, 1.0),))
    jf = nm.jit(nm.grad(lambda x: mnp.sum(5.0 * clip_grad(x))))
    np.testing.assert_array_equal(jf(np.ones(3)), np.ones(3))


def test_static_arguments_and_python_numbers_are_part_of_the_signature():
    jf = nm.jit(lambda x, k: x * k)
    np.testing.assert_array_equal(jf(np.ones(2), 2.0), [2.0, 2.0])
    np.testing.assert_array_equal(jf(np.ones(2), 3.0), [3.0, 3.0])
    js = nm.jit(lambda x, axis: mnp.sum(x, axis=axis), static_argnums=1)
    np.testing.assert_array_equal(js(np.ones((2, 3)), 0), [2.0, 2.0, 2.0])
    np.testing.assert_array_equal(js(np.ones((2, 3)), 1), [3.0, 3.0])
    assert jf(np.ones(2, np.float32), 2.0).dtype == np.float32     # numpy's dtype rules


def test_results_are_owned_by_the_caller():
    jf = nm.jit(nm.grad(lambda x, y: mnp.sum(y * 2.0)))       # gradient w.r.t. x: a constant 0
    first = jf(np.ones(3), np.ones(3))
    first += 5.0
    np.testing.assert_array_equal(jf(np.ones(3), np.ones(3)), np.zeros(3))


def test_plan_frees_intermediates_after_their_last_use():
    src = nm.jit(nm.grad(lambda x: mnp.sum(mnp.tanh(mnp.tanh(x))))).plan_source(np.ones(3))
    body = src.splitlines()[1:-1]
    assigned = [line.split(" = ")[0].strip() for line in body if " = " in line]
    deleted = {v.strip() for line in body if line.strip().startswith("del ")
               for v in line.strip()[4:].split(",")}
    assert assigned and set(assigned[:-1]) <= deleted      # all but the result are freed


def test_concretization_and_argument_errors():
    with pytest.raises(nm.ConcretizationError, match="np.asarray"):
        nm.jit(lambda x: np.asarray(x) * 2)(np.ones(2))
    with pytest.raises(TypeError, match="expected a function"):
        nm.jit(3)
    with pytest.raises(TypeError, match="neither an array nor hashable"):
        nm.jit(lambda x, s: x)(np.ones(2), {1, 2})
    with pytest.raises(TypeError, match="static arguments must be hashable"):
        nm.jit(lambda x, s: x, static_argnums=1)(np.ones(2), [1, 2])


def test_a_guard_that_keeps_changing_warns_naming_its_source():
    jf = nm.jit(lambda x: x * float(mnp.sum(x)))
    with pytest.warns(RuntimeWarning, match=r"float\(\) at .*test_jit.py"):
        for k in range(40):
            np.testing.assert_array_equal(jf(np.full(2, float(k))), np.full(2, float(k)) * 2 * k)
