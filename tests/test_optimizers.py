"""nnmath.optimizers: trajectories against PyTorch and against Keras's formulas written out
independently, pure pytree path vs in-place flat path, invariants (hypothesis), schedules, errors.

The problem: softmax regression on fixed data, float64, parameters {"b": (3,), "w": (5, 3)}; every
comparison runs 100 steps and checks every step. PyTorch is given *our* gradients at its own
parameters (``p.grad = ...``), so only the optimizers are compared.
"""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import nnmath as nm
import nnmath.numpy as mnp
from nnmath import optimizers as optim
from nnmath.optimizers import schedules

STEPS = 100
TOL = 1e-10          # trajectories vs references (float64)
FLAT_TOL = 1e-12     # flat path vs pytree path

_rng = np.random.default_rng(0)
X = _rng.standard_normal((32, 5))
ONEHOT = np.eye(3)[_rng.integers(0, 3, 32)]


def init_params(dtype=np.float64):
    r = np.random.default_rng(1)
    return {"b": (0.1 * r.standard_normal(3)).astype(dtype),
            "w": (0.5 * r.standard_normal((5, 3))).astype(dtype)}


def grads_of(params):
    """∇ of the mean softmax cross-entropy, in closed form: Xᵀ(P − Y)/n."""
    z = X @ params["w"] + params["b"]
    z = z - z.max(1, keepdims=True)
    p = np.exp(z)
    p /= p.sum(1, keepdims=True)
    d = (p - ONEHOT) / len(X)
    dt = params["w"].dtype
    return {"b": d.sum(0).astype(dt), "w": (X.T @ d).astype(dt)}


def flatten(tree):
    return np.concatenate([tree["b"].ravel(), tree["w"].ravel()])


SIZES = [3, 15]


def unflatten(flat):
    return {"b": flat[:3], "w": flat[3:].reshape(5, 3)}


def test_closed_form_gradient_matches_nnmath_grad():
    def loss(p):
        z = X @ p["w"] + p["b"]
        return -mnp.mean(mnp.sum(ONEHOT * (z - mnp.log(mnp.sum(mnp.exp(z), axis=1,
                                                                       keepdims=True))), axis=1))
    p = init_params()
    g, ref = grads_of(p), nm.grad(loss)(p)
    np.testing.assert_allclose(flatten(g), flatten(ref), rtol=1e-12, atol=1e-14)


# ----------------------------------------------------------------------------- runners
def run_pure(transform, steps=STEPS, dtype=np.float64):
    params = init_params(dtype)
    state = transform.init(params)
    traj = []
    for _ in range(steps):
        updates, state = transform.update(grads_of(params), state, params)
        params = optim.apply_updates(params, updates)
        traj.append(flatten(params))
    return np.array(traj)


def run_flat(opt, steps=STEPS, dtype=np.float64):
    flat = flatten(init_params(dtype))
    opt.init_flat(flat, sizes=SIZES)
    traj = []
    for _ in range(steps):
        opt.update_flat(flat, flatten(grads_of(unflatten(flat))))
        traj.append(flat.copy())
    return np.array(traj)


def run_torch(make, steps=STEPS, schedule=None):
    torch = pytest.importorskip("torch")
    p0 = init_params()
    tp = {k: torch.tensor(v, requires_grad=True) for k, v in sorted(p0.items())}
    # PyTorch keeps scalar state (NAdam's μ-product, step counts) in the default dtype
    default = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        return _run_torch(torch, tp, make(list(tp.values())), steps, schedule)
    finally:
        torch.set_default_dtype(default)


def _run_torch(torch, tp, opt, steps, schedule):
    sched = None
    if schedule is not None:
        base = opt.param_groups[0]["lr"]
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: schedule(s) / base)
    traj = []
    for _ in range(steps):
        g = grads_of({k: v.detach().numpy() for k, v in tp.items()})
        for k, v in tp.items():
            v.grad = torch.from_numpy(g[k].copy())
        opt.step()
        if sched is not None:
            sched.step()
        traj.append(flatten({k: v.detach().numpy() for k, v in tp.items()}))
    return np.array(traj)


def assert_traj(ours, ref, tol=TOL):
    assert ours.shape == ref.shape
    err = np.abs(ours - ref).max(axis=1)
    bad = np.nonzero(err > tol)[0]
    assert not len(bad), f"trajectories part at step {bad[0] + 1}: max error {err[bad[0]]:.3g}"


# ----------------------------------------------------------------------------- pure vs PyTorch
COSINE = schedules.cosine_decay(0.05, decay_steps=80, alpha=0.1)

TORCH_CASES = {
    "sgd": (lambda: optim.sgd(0.5), lambda T, p: T.optim.SGD(p, lr=0.5), None),
    "sgd_momentum": (lambda: optim.sgd(0.2, momentum=0.9),
                     lambda T, p: T.optim.SGD(p, lr=0.2, momentum=0.9), None),
    "sgd_nesterov": (lambda: optim.sgd(0.2, momentum=0.9, nesterov=True),
                     lambda T, p: T.optim.SGD(p, lr=0.2, momentum=0.9, nesterov=True), None),
    "sgd_momentum_schedule": (lambda: optim.sgd(COSINE, momentum=0.9),
                              lambda T, p: T.optim.SGD(p, lr=0.05, momentum=0.9), COSINE),
    "heavy_ball": (lambda: optim.heavy_ball(0.2, 0.9),
                   lambda T, p: T.optim.SGD(p, lr=0.2, momentum=0.9), None),
    "nesterov": (lambda: optim.nesterov(0.2, 0.9),
                 lambda T, p: T.optim.SGD(p, lr=0.2, momentum=0.9, nesterov=True), None),
    "adagrad": (lambda: optim.adagrad(0.1), lambda T, p: T.optim.Adagrad(p, lr=0.1), None),
    "adagrad_init": (lambda: optim.adagrad(0.1, initial_accumulator_value=0.1),
                     lambda T, p: T.optim.Adagrad(p, lr=0.1, initial_accumulator_value=0.1), None),
    "rmsprop": (lambda: optim.rmsprop(0.01), lambda T, p: T.optim.RMSprop(p, lr=0.01), None),
    "rmsprop_centered": (lambda: optim.rmsprop(0.01, centered=True),
                         lambda T, p: T.optim.RMSprop(p, lr=0.01, centered=True), None),
    "rmsprop_momentum": (lambda: optim.rmsprop(0.01, decay=0.9, momentum=0.8, centered=True),
                         lambda T, p: T.optim.RMSprop(p, lr=0.01, alpha=0.9, momentum=0.8,
                                                      centered=True), None),
    "adam": (lambda: optim.adam(0.01), lambda T, p: T.optim.Adam(p, lr=0.01), None),
    "adam_amsgrad": (lambda: optim.adam(0.01, b1=0.8, b2=0.99, amsgrad=True),
                     lambda T, p: T.optim.Adam(p, lr=0.01, betas=(0.8, 0.99), amsgrad=True), None),
    "adam_schedule": (lambda: optim.adam(COSINE), lambda T, p: T.optim.Adam(p, lr=0.05), COSINE),
    "adamw": (lambda: optim.adamw(0.01, weight_decay=0.1),
              lambda T, p: T.optim.AdamW(p, lr=0.01, weight_decay=0.1), None),
    "adamw_schedule": (lambda: optim.adamw(COSINE, weight_decay=0.1),
                       lambda T, p: T.optim.AdamW(p, lr=0.05, weight_decay=0.1), COSINE),
    "nadam": (lambda: optim.nadam(0.01), lambda T, p: T.optim.NAdam(p, lr=0.01), None),
    "nadam_psi1": (lambda: optim.nadam(0.01, momentum_decay=1.0),
                   lambda T, p: T.optim.NAdam(p, lr=0.01, momentum_decay=1.0), None),
}


@pytest.mark.parametrize("case", sorted(TORCH_CASES))
def test_pure_transform_matches_torch(case):
    torch = pytest.importorskip("torch")
    make_ours, make_torch, schedule = TORCH_CASES[case]
    ref = run_torch(lambda p: make_torch(torch, p), schedule=schedule)
    assert_traj(run_pure(make_ours()), ref)


# Keras objects that are PyTorch's optimizers in disguise (same rule; ε = 0 where only ε differs)
KERAS_TORCH_CASES = {
    "SGD": (lambda: optim.SGD(0.5), lambda T, p: T.optim.SGD(p, lr=0.5)),
    "SGD_momentum": (lambda: optim.SGD(0.2, momentum=0.9),
                     lambda T, p: T.optim.SGD(p, lr=0.2, momentum=0.9)),
    "SGD_nesterov": (lambda: optim.SGD(0.2, momentum=0.9, nesterov=True),
                     lambda T, p: T.optim.SGD(p, lr=0.2, momentum=0.9, nesterov=True)),
    "Adam_eps0": (lambda: optim.Adam(0.01, epsilon=0.0),
                  lambda T, p: T.optim.Adam(p, lr=0.01, eps=0.0)),
    "AdamW_eps0": (lambda: optim.AdamW(0.01, weight_decay=0.1, epsilon=0.0),
                   lambda T, p: T.optim.AdamW(p, lr=0.01, weight_decay=0.1, eps=0.0)),
    "RMSprop_eps0": (lambda: optim.RMSprop(0.01, epsilon=0.0, momentum=0.5),
                     lambda T, p: T.optim.RMSprop(p, lr=0.01, alpha=0.9, eps=0.0, momentum=0.5)),
    # centered with ε = 0: √(v − ḡ²) cancels badly, and both PyTorch and we sit ~5e-11 away from
    # an 80-bit long-double run of the same rule, so this case gets 1e-9
    "RMSprop_centered_eps0": (
        lambda: optim.RMSprop(0.01, epsilon=0.0, centered=True, momentum=0.5),
        lambda T, p: T.optim.RMSprop(p, lr=0.01, alpha=0.9, eps=0.0, centered=True, momentum=0.5),
        1e-9),
    "Adagrad_eps0": (lambda: optim.Adagrad(0.1, epsilon=0.0),
                     lambda T, p: T.optim.Adagrad(p, lr=0.1, eps=0.0,
                                                  initial_accumulator_value=0.1)),
    "Nadam": (lambda: optim.Nadam(0.01),
              lambda T, p: T.optim.NAdam(p, lr=0.01, eps=1e-7, momentum_decay=1.0)),
}


@pytest.mark.parametrize("case", sorted(KERAS_TORCH_CASES))
def test_keras_object_matches_torch_where_the_rules_coincide(case):
    torch = pytest.importorskip("torch")
    make_ours, make_torch, *tol = KERAS_TORCH_CASES[case]
    tol = tol[0] if tol else TOL
    ref = run_torch(lambda p: make_torch(torch, p))
    assert_traj(run_pure(make_ours().transform), ref, tol)
    assert_traj(run_flat(make_ours()), ref, tol)


# ----------------------------------------------------------------------------- Keras's formulas
def keras_reference(kind, hp, steps=STEPS):
    """Keras 3's optimizers transcribed line by line (base_optimizer.apply: clip, weight decay,
    update_step per variable, iterations += 1), per variable, in plain numpy."""
    p0 = init_params()
    vs = [p0["b"].copy(), p0["w"].copy()]
    slots = [{} for _ in vs]
    lr0 = hp["learning_rate"]
    lr_of = lr0 if callable(lr0) else (lambda it: lr0)
    it, u_product, traj = 0, 1.0, []
    for _ in range(steps):
        g = grads_of({"b": vs[0], "w": vs[1]})
        grads = [g["b"], g["w"]]
        if hp.get("clipnorm"):
            c = hp["clipnorm"]
            grads = [gg * c / max(np.sqrt(np.sum(gg ** 2)), c) for gg in grads]
        elif hp.get("global_clipnorm"):
            c = hp["global_clipnorm"]
            n = np.sqrt(sum(np.sum(gg ** 2) for gg in grads))
            grads = [gg * (c * min(1 / n, 1 / c)) for gg in grads]
        elif hp.get("clipvalue"):
            grads = [np.clip(gg, -hp["clipvalue"], hp["clipvalue"]) for gg in grads]
        lr = lr_of(it)
        if hp.get("weight_decay"):
            for v in vs:
                v[...] = v - v * hp["weight_decay"] * lr
        if kind == "nadam":
            u_product = u_product * hp["beta_1"] * (1.0 - 0.5 * 0.96 ** (it + 1))
        for v, gg, s in zip(vs, grads, slots):
            t = it + 1
            if kind == "sgd":
                mu = hp["momentum"]
                if mu:
                    m = s["m"] = s.get("m", 0.0) * mu - gg * lr
                    v += m * mu - gg * lr if hp["nesterov"] else m
                else:
                    v -= gg * lr
            elif kind == "adam":
                b1, b2 = hp["beta_1"], hp["beta_2"]
                alpha = lr * np.sqrt(1 - b2 ** t) / (1 - b1 ** t)
                m = s["m"] = s.get("m", 0.0) + (gg - s.get("m", 0.0)) * (1 - b1)
                vv = s["v"] = s.get("v", 0.0) + (gg ** 2 - s.get("v", 0.0)) * (1 - b2)
                if hp.get("amsgrad"):
                    vv = s["vh"] = np.maximum(s.get("vh", 0.0), vv)
                v -= m * alpha / (np.sqrt(vv) + hp["epsilon"])
            elif kind == "rmsprop":
                rho = hp["rho"]
                vel = s["vel"] = rho * s.get("vel", 0.0) + (1 - rho) * gg ** 2
                if hp["centered"]:
                    ag = s["ag"] = rho * s.get("ag", 0.0) + (1 - rho) * gg
                    denom = vel - ag ** 2 + hp["epsilon"]
                else:
                    denom = vel + hp["epsilon"]
                incr = lr * gg / np.sqrt(denom)
                if hp["momentum"] > 0:
                    mom = s["mom"] = hp["momentum"] * s.get("mom", 0.0) + incr
                    v -= mom
                else:
                    v -= incr
            elif kind == "adagrad":
                acc = s["acc"] = s.get("acc", hp["initial_accumulator_value"]) + gg ** 2
                v -= lr * gg / np.sqrt(acc + hp["epsilon"])
            elif kind == "nadam":
                b1, b2 = hp["beta_1"], hp["beta_2"]
                u_t = b1 * (1.0 - 0.5 * 0.96 ** t)
                u_t_1 = b1 * (1.0 - 0.5 * 0.96 ** (t + 1))
                u_product_t_1 = u_product * u_t_1
                m = s["m"] = s.get("m", 0.0) + (gg - s.get("m", 0.0)) * (1 - b1)
                vv = s["v"] = s.get("v", 0.0) + (gg ** 2 - s.get("v", 0.0)) * (1 - b2)
                m_hat = u_t_1 * m / (1 - u_product_t_1) + (1 - u_t) * gg / (1 - u_product)
                v_hat = vv / (1 - b2 ** t)
                v -= m_hat * lr / (np.sqrt(v_hat) + hp["epsilon"])
            elif kind == "lion":
                b1, b2 = hp["beta_1"], hp["beta_2"]
                m = s.get("m", np.zeros_like(v))
                v -= lr * np.sign(m * b1 + gg * (1.0 - b1))
                s["m"] = m * b2 + gg * (1.0 - b2)
        it += 1
        traj.append(flatten({"b": vs[0], "w": vs[1]}))
    return np.array(traj)


STAIRS = schedules.ExponentialDecay(0.3, decay_steps=20, decay_rate=0.5, staircase=True)
WARM = schedules.warmup_cosine(0.02, warmup_steps=10, decay_steps=60, alpha=0.05)
D_ADAM = dict(learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7)

# (kind, Keras-object factory, the full hyper-parameters the reference uses)
KERAS_CASES = {
    "SGD_default": ("sgd", lambda: optim.SGD(), dict(learning_rate=0.01, momentum=0.0,
                                                     nesterov=False)),
    "SGD_schedule_momentum": ("sgd", lambda: optim.SGD(STAIRS, momentum=0.9),
                              dict(learning_rate=STAIRS, momentum=0.9, nesterov=False)),
    "SGD_schedule_nesterov_clipvalue": (
        "sgd", lambda: optim.SGD(STAIRS, momentum=0.9, nesterov=True, clipvalue=0.05),
        dict(learning_rate=STAIRS, momentum=0.9, nesterov=True, clipvalue=0.05)),
    "Adam_default": ("adam", lambda: optim.Adam(), D_ADAM),
    "Adam_lr": ("adam", lambda: optim.Adam(0.02), {**D_ADAM, "learning_rate": 0.02}),
    "Adam_amsgrad_warmup": ("adam", lambda: optim.Adam(WARM, amsgrad=True),
                            {**D_ADAM, "learning_rate": WARM, "amsgrad": True}),
    "Adam_clipnorm": ("adam", lambda: optim.Adam(0.02, clipnorm=0.05),
                      {**D_ADAM, "learning_rate": 0.02, "clipnorm": 0.05}),
    "Adam_global_clipnorm_wd": (
        "adam", lambda: optim.Adam(0.02, global_clipnorm=0.05, weight_decay=0.1),
        {**D_ADAM, "learning_rate": 0.02, "global_clipnorm": 0.05, "weight_decay": 0.1}),
    "AdamW_default": ("adam", lambda: optim.AdamW(), {**D_ADAM, "weight_decay": 0.004}),
    "AdamW_schedule": ("adam", lambda: optim.AdamW(WARM, weight_decay=0.5),
                       {**D_ADAM, "learning_rate": WARM, "weight_decay": 0.5}),
    "RMSprop_default": ("rmsprop", lambda: optim.RMSprop(),
                        dict(learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7,
                             centered=False)),
    "RMSprop_centered_momentum": (
        "rmsprop", lambda: optim.RMSprop(WARM, rho=0.8, momentum=0.7, centered=True),
        dict(learning_rate=WARM, rho=0.8, momentum=0.7, epsilon=1e-7, centered=True)),
    "Adagrad_default": ("adagrad", lambda: optim.Adagrad(),
                        dict(learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7)),
    "Adagrad_lr": ("adagrad", lambda: optim.Adagrad(0.3),
                   dict(learning_rate=0.3, initial_accumulator_value=0.1, epsilon=1e-7)),
    "Nadam_default": ("nadam", lambda: optim.Nadam(), {**D_ADAM}),
    "Nadam_schedule_wd": ("nadam", lambda: optim.Nadam(WARM, weight_decay=0.2),
                          {**D_ADAM, "learning_rate": WARM, "weight_decay": 0.2}),
    "Lion_default": ("lion", lambda: optim.Lion(),
                     dict(learning_rate=0.001, beta_1=0.9, beta_2=0.99)),
    "Lion_wd_clip": ("lion", lambda: optim.Lion(0.003, beta_1=0.95, weight_decay=1.0,
                                                global_clipnorm=0.05),
                     dict(learning_rate=0.003, beta_1=0.95, beta_2=0.99, weight_decay=1.0,
                          global_clipnorm=0.05)),
}


@pytest.mark.parametrize("case", sorted(KERAS_CASES))
def test_keras_object_matches_keras_formulas(case):
    kind, make, hp = KERAS_CASES[case]
    ref = keras_reference(kind, hp)
    assert_traj(run_pure(make().transform), ref)
    assert_traj(run_flat(make()), ref)


@pytest.mark.parametrize("case", sorted(KERAS_CASES))
def test_flat_path_equals_pytree_path(case):
    _, make, _ = KERAS_CASES[case]
    assert_traj(run_flat(make()), run_pure(make().transform), tol=FLAT_TOL)


def test_keras_object_pure_methods_delegate_to_transform():
    opt = optim.Adam(0.01)
    p = init_params()
    u1, s1 = opt.update(grads_of(p), opt.init(p), p)
    u2, s2 = opt.transform.update(grads_of(p), opt.transform.init(p), p)
    np.testing.assert_array_equal(flatten(u1), flatten(u2))
    assert opt.iterations == 0                       # the pure path does not count


def test_lion_pure_matches_paper():
    """Chen et al. (2023), Program 1: update = sign(β₁m + (1−β₁)g) + λθ; θ −= η·update."""
    lr, b1, b2, wd = 0.003, 0.9, 0.99, 0.5
    p = init_params()
    ref, m = [], {k: np.zeros_like(v) for k, v in p.items()}
    for _ in range(STEPS):
        g = grads_of(p)
        p = {k: p[k] - lr * (np.sign(b1 * m[k] + (1 - b1) * g[k]) + wd * p[k]) for k in p}
        m = {k: b2 * m[k] + (1 - b2) * g[k] for k in p}
        ref.append(flatten(p))
    assert_traj(run_pure(optim.lion(lr, b1, b2, weight_decay=wd)), np.array(ref))


# ----------------------------------------------------------------------------- flat path details
ALL_KERAS = [optim.SGD, optim.Adam, optim.AdamW, optim.RMSprop, optim.Adagrad, optim.Nadam,
             optim.Lion]


@pytest.mark.parametrize("cls", ALL_KERAS, ids=lambda c: c.__name__)
def test_float32_stays_float32(cls):
    kw = {"momentum": 0.9} if cls in (optim.SGD, optim.RMSprop) else {}
    opt = cls(learning_rate=WARM, **kw)
    traj = run_flat(opt, steps=20, dtype=np.float32)
    assert traj.dtype == np.float32
    assert all(v.dtype == np.float32 for v in opt.flat_state().values()
               if isinstance(v, np.ndarray))
    # the pure path, with a schedule returning numpy float64 scalars
    sched = lambda step: np.float64(0.01)                         # noqa: E731
    params = init_params(np.float32)
    tr = cls(learning_rate=sched, weight_decay=0.01, **kw).transform
    state = tr.init(params)
    for _ in range(3):
        updates, state = tr.update(grads_of(params), state, params)
        params = optim.apply_updates(params, updates)
    leaves = nm.tree_leaves((params, updates, state))
    assert all(leaf.dtype == np.float32 for leaf in leaves if isinstance(leaf, np.ndarray))
    # and the far end of the float32 trajectory still agrees with float64 to float32 accuracy
    ref = run_flat(cls(learning_rate=WARM, **kw), steps=20)
    np.testing.assert_allclose(traj, ref, atol=1e-5)


NAMED = {"sgd": lambda: optim.sgd(0.1, momentum=0.9, nesterov=True),
         "adagrad": lambda: optim.adagrad(0.1), "rmsprop": lambda: optim.rmsprop(0.01,
                                                                                 centered=True),
         "adam": lambda: optim.adam(0.01, amsgrad=True), "adamw": lambda: optim.adamw(0.01),
         "nadam": lambda: optim.nadam(0.01), "lion": lambda: optim.lion(0.01, weight_decay=0.1),
         "heavy_ball": lambda: optim.heavy_ball(0.1), "nesterov": lambda: optim.nesterov(0.1)}


@pytest.mark.parametrize("name", sorted(NAMED))
def test_named_transforms_keep_float32(name):
    tr = NAMED[name]()
    params = init_params(np.float32)
    state = tr.init(params)
    for _ in range(3):
        updates, state = tr.update(grads_of(params), state, params)
        params = optim.apply_updates(params, updates)
    leaves = nm.tree_leaves((params, updates, state))
    assert all(leaf.dtype == np.float32 for leaf in leaves if isinstance(leaf, np.ndarray))


@pytest.mark.parametrize("cls", ALL_KERAS, ids=lambda c: c.__name__)
def test_flat_state_checkpoint_resumes_the_same_trajectory(cls):
    kw = {"momentum": 0.9} if cls in (optim.SGD, optim.RMSprop) else {}
    full = run_flat(cls(learning_rate=STAIRS, **kw), steps=40)
    opt = cls(learning_rate=STAIRS, **kw)
    flat = flatten(init_params())
    opt.init_flat(flat, sizes=SIZES)
    for _ in range(20):
        opt.update_flat(flat, flatten(grads_of(unflatten(flat))))
    saved = json.loads(json.dumps({k: v.tolist() if isinstance(v, np.ndarray) else v
                                   for k, v in opt.flat_state().items()}))
    assert saved["iterations"] == opt.iterations == 20
    resumed = optim.get(json.loads(json.dumps(optim.serialize(opt))))
    flat = flat.copy()
    resumed.init_flat(flat, sizes=SIZES)
    resumed.set_flat_state({k: np.array(v) if isinstance(v, list) else v
                            for k, v in saved.items()})
    assert resumed.learning_rate == opt.learning_rate
    for _ in range(20):
        resumed.update_flat(flat, flatten(grads_of(unflatten(flat))))
    np.testing.assert_array_equal(flat, full[-1])                   # bit for bit


def test_flat_state_holds_keras_variables():
    """flat_state holds Keras's m, v (and v̂, u_product) as Keras defines them."""
    g = np.array([0.5, -2.0])
    opt = optim.Adam(0.1, beta_1=0.8, beta_2=0.9, amsgrad=True)
    opt.update_flat(np.zeros(2), g)
    st_ = opt.flat_state()
    np.testing.assert_allclose(st_["momentum"], 0.2 * g, rtol=1e-15)
    np.testing.assert_allclose(st_["velocity"], 0.1 * g ** 2, rtol=1e-15)
    np.testing.assert_allclose(st_["velocity_hat"], 0.1 * g ** 2, rtol=1e-15)
    nad = optim.Nadam()
    nad.update_flat(np.zeros(2), g)
    assert nad.flat_state()["u_product"] == pytest.approx(0.9 * (1 - 0.5 * 0.96))


def test_update_flat_allocates_lazily_and_counts_iterations():
    opt = optim.Adam(0.01)
    w = np.zeros(4)
    for i in range(3):
        assert opt.iterations == i
        opt.update_flat(w, np.ones(4))
    opt.init_flat(w)
    assert opt.iterations == 0


def test_schedule_is_evaluated_at_iterations():
    opt = optim.SGD(learning_rate=schedules.piecewise_constant([1], [1.0, 0.1]))
    w = np.zeros(1)
    seen = []
    for _ in range(4):
        seen.append(opt.learning_rate)
        opt.update_flat(w, np.ones(1))
    assert seen == [1.0, 1.0, 0.1, 0.1]
    np.testing.assert_allclose(w, [-2.2])


# ----------------------------------------------------------------------------- invariants
finite = st.floats(-10, 10, allow_nan=False, allow_subnormal=False)
vectors = st.integers(1, 8).flatmap(lambda n: st.lists(finite, min_size=n, max_size=n)).map(
    lambda v: np.array(v))
PROP = settings(max_examples=40, deadline=None)


@PROP
@given(p=vectors, seed=st.integers(0, 2 ** 16), momentum=st.sampled_from([0.0, 0.5, 0.9]),
       nesterov=st.booleans())
def test_sgd_with_zero_learning_rate_is_the_identity(p, seed, momentum, nesterov):
    nesterov = nesterov and momentum > 0
    rng = np.random.default_rng(seed)
    tr = optim.sgd(0.0, momentum=momentum, nesterov=nesterov)
    params, state = {"p": p}, tr.init({"p": p})
    keras = optim.SGD(0.0, momentum=momentum, nesterov=nesterov)
    flat = p.copy()
    for _ in range(3):
        g = rng.standard_normal(p.shape)
        u, state = tr.update({"p": g}, state, params)
        params = optim.apply_updates(params, u)
        keras.update_flat(flat, g)
    np.testing.assert_array_equal(params["p"], p)
    np.testing.assert_array_equal(flat, p)


@PROP
@given(seed=st.integers(0, 2 ** 16), lr=st.floats(1e-3, 10), momentum=st.sampled_from([0, 0.9]))
def test_sgd_updates_are_linear_in_the_learning_rate(seed, lr, momentum):
    rng = np.random.default_rng(seed)
    grads = [rng.standard_normal(5) for _ in range(4)]

    def updates(eta):
        tr = optim.sgd(eta, momentum=momentum)
        state, out = tr.init(np.zeros(5)), []
        for g in grads:
            u, state = tr.update(g, state)
            out.append(u)
        return np.array(out)

    np.testing.assert_allclose(updates(lr), lr * updates(1.0), rtol=1e-12, atol=1e-300)


@PROP
@given(g=vectors.filter(lambda v: (np.abs(v) > 1e-3).all()), lr=st.floats(1e-4, 1.0))
def test_adam_first_step_is_minus_lr_sign_g(g, lr):
    u, _ = optim.adam(lr, eps=0.0).update(g, optim.adam(lr).init(g))
    np.testing.assert_allclose(u, -lr * np.sign(g), rtol=1e-12)
    w = np.zeros_like(g)
    optim.Adam(lr, epsilon=0.0).update_flat(w, g)
    np.testing.assert_allclose(w, -lr * np.sign(g), rtol=1e-12)
    # with the default ε the step is a little shorter, never longer
    w = np.zeros_like(g)
    optim.Adam(lr).update_flat(w, g)
    assert (np.abs(w) <= lr * (1 + 1e-12)).all() and (np.abs(w) >= 0.99 * lr).all()


@PROP
@given(a=vectors, b=vectors, max_norm=st.floats(1e-3, 30))
def test_clip_by_global_norm(a, b, max_norm):
    tree = {"a": a, "b": b}
    out, _ = optim.clip_by_global_norm(max_norm).update(tree, optim.EmptyState())
    norm = float(optim.global_norm(tree))
    assert float(optim.global_norm(out)) <= max_norm * (1 + 1e-12)
    if norm <= max_norm:
        np.testing.assert_array_equal(out["a"], a)
        np.testing.assert_array_equal(out["b"], b)
    else:
        np.testing.assert_allclose(float(optim.global_norm(out)), max_norm, rtol=1e-12)
    per_leaf, _ = optim.clip_by_norm(max_norm).update(tree, optim.EmptyState())
    for k in tree:
        assert np.linalg.norm(per_leaf[k]) <= max_norm * (1 + 1e-12)


def test_clip_by_global_norm_of_non_finite_is_nan():
    with np.errstate(invalid="ignore"):
        out, _ = optim.clip_by_global_norm(1.0).update([np.array([np.inf, 1.0])],
                                                       optim.EmptyState())
    assert np.isnan(out[0]).all()
    w = np.zeros(2)
    optim.SGD(0.1, global_clipnorm=1.0).update_flat(w, np.array([np.nan, 1.0]))
    assert np.isnan(w).all()


@PROP
@given(seed=st.integers(0, 2 ** 16), lr=st.floats(1e-4, 0.1), amsgrad=st.booleans())
def test_adamw_with_zero_weight_decay_is_adam(seed, lr, amsgrad):
    rng = np.random.default_rng(seed)
    p = {"w": rng.standard_normal(6)}
    a, w = optim.adam(lr, amsgrad=amsgrad), optim.adamw(lr, weight_decay=0.0, amsgrad=amsgrad)
    sa, sw = a.init(p), w.init(p)
    ka, kw = optim.Adam(lr, amsgrad=amsgrad), optim.AdamW(lr, weight_decay=0.0, amsgrad=amsgrad)
    fa, fw = p["w"].copy(), p["w"].copy()
    for _ in range(5):
        g = {"w": rng.standard_normal(6)}
        ua, sa = a.update(g, sa, p)
        uw, sw = w.update(g, sw, p)
        np.testing.assert_array_equal(ua["w"], uw["w"])
        ka.update_flat(fa, g["w"])
        kw.update_flat(fw, g["w"])
        np.testing.assert_array_equal(fa, fw)


def test_gradients_flow_through_unrolled_steps():
    """The pure transforms are written with nnmath.numpy: d loss(θ_5(η)) / dη by reverse mode
    matches a central difference (hyper-gradient of the learning rate)."""
    A = np.array([[3.0, 0.5], [0.5, 1.0]])
    b = np.array([1.0, -2.0])

    def final_loss(lr, make):
        tr = make(lr)
        theta = {"t": np.array([0.3, 0.7])}
        state = tr.init(theta)
        for _ in range(5):
            g = {"t": mnp.matmul(A, theta["t"]) - b}
            u, state = tr.update(g, state, theta)
            theta = optim.apply_updates(theta, u)
        t = theta["t"]
        return 0.5 * mnp.dot(t, mnp.matmul(A, t)) - mnp.dot(b, t)

    for make in (lambda lr: optim.sgd(lr, momentum=0.9), lambda lr: optim.adam(lr),
                 lambda lr: optim.rmsprop(lr, centered=True)):
        d = nm.grad(lambda lr: final_loss(lr, make))(0.05)
        h = 1e-6
        fd = (final_loss(0.05 + h, make) - final_loss(0.05 - h, make)) / (2 * h)
        np.testing.assert_allclose(d, fd, rtol=1e-6)


# ----------------------------------------------------------------------------- schedules
def test_schedules_closed_forms():
    s = schedules.exponential_decay(0.1, decay_steps=10, decay_rate=0.5)
    for t in (0, 3, 10, 25):
        assert s(t) == pytest.approx(0.1 * 0.5 ** (t / 10), rel=1e-15)
    s = schedules.step_decay(0.1, step_size=10, gamma=0.5)
    assert [s(t) for t in (0, 9, 10, 19, 20)] == pytest.approx([0.1, 0.1, 0.05, 0.05, 0.025])
    s = schedules.cosine_decay(2.0, decay_steps=100, alpha=0.1)
    for t in (0, 10, 50, 99, 100, 1000):
        tau = min(t, 100)
        assert s(t) == pytest.approx(2.0 * (0.9 * 0.5 * (1 + math.cos(math.pi * tau / 100)) + 0.1),
                                     rel=1e-14)
    s = schedules.warmup_cosine(1.0, warmup_steps=10, decay_steps=20, initial_learning_rate=0.1)
    assert s(0) == pytest.approx(0.1) and s(5) == pytest.approx(0.55) and s(10) == 1.0
    assert s(20) == pytest.approx(0.5) and s(30) == pytest.approx(0.0) and s(99) == s(30)
    s = schedules.piecewise_constant([5, 10], [1.0, 0.5, 0.25])
    assert [s(t) for t in (0, 5, 6, 10, 11, 100)] == [1.0, 1.0, 0.5, 0.5, 0.25, 0.25]
    assert schedules.constant(0.3)(12345) == 0.3


def test_schedules_match_torch_schedulers():
    torch = pytest.importorskip("torch")

    def torch_lrs(make_sched, n=60, lr=0.5):
        opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=lr)
        sch, out = make_sched(opt), []
        for _ in range(n):
            out.append(opt.param_groups[0]["lr"])
            opt.step()
            sch.step()
        return np.array(out)

    ours = schedules.step_decay(0.5, step_size=7, gamma=0.3)
    np.testing.assert_allclose(
        [ours(t) for t in range(60)],
        torch_lrs(lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=7, gamma=0.3)),
        rtol=1e-12)
    ours = schedules.cosine_decay(0.5, decay_steps=40, alpha=0.1)
    np.testing.assert_allclose(
        [ours(t) for t in range(41)],
        torch_lrs(lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=40,
                                                                       eta_min=0.05), n=41),
        rtol=1e-9)


steps_ = st.lists(st.integers(0, 500), min_size=2, max_size=20).map(sorted)


@PROP
@given(ts=steps_, rate=st.floats(0.01, 0.99), staircase=st.booleans(),
       alpha=st.floats(0, 1), warm=st.integers(1, 50), decay=st.integers(1, 300))
def test_schedules_are_monotone(ts, rate, staircase, alpha, warm, decay):
    def nonincreasing(s, steps):
        v = [s(t) for t in steps]
        assert all(b <= a * (1 + 1e-12) for a, b in zip(v, v[1:])), v
    nonincreasing(schedules.exponential_decay(1.0, 17, rate, staircase), ts)
    nonincreasing(schedules.cosine_decay(1.0, decay, alpha), ts)
    nonincreasing(schedules.piecewise_constant([10, 100, 200], [1.0, 0.5, 0.5 * rate, 0.0]), ts)
    s = schedules.warmup_cosine(1.0, warm, decay, initial_learning_rate=0.0, alpha=alpha)
    up = [s(t) for t in ts if t <= warm]
    assert all(b >= a for a, b in zip(up, up[1:]))
    nonincreasing(s, [t for t in ts if t >= warm])


def test_schedule_config_round_trip():
    for s in (STAIRS, WARM, schedules.piecewise_constant([3], [1.0, 0.1]), schedules.constant(2.0)):
        back = schedules.deserialize(json.loads(json.dumps(schedules.serialize(s))))
        assert back == s and [back(t) for t in range(0, 90, 7)] == [s(t) for t in range(0, 90, 7)]


# ----------------------------------------------------------------------------- config and lookup
@pytest.mark.parametrize("cls", ALL_KERAS, ids=lambda c: c.__name__)
def test_get_config_round_trip(cls):
    opt = cls(learning_rate=WARM, clipnorm=1.0)
    cfg = json.loads(json.dumps(opt.get_config()))
    back = cls.from_config(cfg)
    assert back.get_config() == opt.get_config()
    assert type(optim.get(cls.__name__.lower())) is cls
    assert type(optim.get(optim.serialize(opt))) is cls


def test_keras_defaults():
    adam = optim.get("adam")
    assert (adam.learning_rate, adam.beta_1, adam.beta_2, adam.epsilon, adam.amsgrad) == \
        (0.001, 0.9, 0.999, 1e-7, False)
    assert optim.get("sgd").learning_rate == 0.01
    assert optim.AdamW().weight_decay == 0.004
    rms = optim.RMSprop()
    assert (rms.learning_rate, rms.rho, rms.momentum, rms.epsilon, rms.centered) == \
        (0.001, 0.9, 0.0, 1e-7, False)
    ada = optim.Adagrad()
    assert (ada.learning_rate, ada.initial_accumulator_value, ada.epsilon) == (0.001, 0.1, 1e-7)
    lion = optim.Lion()
    assert (lion.learning_rate, lion.beta_1, lion.beta_2) == (0.001, 0.9, 0.99)


def test_learning_rate_setter():
    opt = optim.SGD(0.1)
    opt.learning_rate = 0.5
    w = np.zeros(1)
    opt.update_flat(w, np.ones(1))
    assert w[0] == -0.5 and opt.get_config()["learning_rate"] == 0.5
    u, _ = opt.update(np.ones(1), opt.init(np.zeros(1)))
    assert u[0] == -0.5
    with pytest.raises(TypeError, match="schedule"):
        optim.SGD(STAIRS).learning_rate = 0.1


# ----------------------------------------------------------------------------- errors
def test_error_messages():
    with pytest.raises(ValueError, match=r"learning_rate.*>= 0.*-0\.1"):
        optim.SGD(learning_rate=-0.1)
    with pytest.raises(ValueError, match="learning_rate"):
        optim.adam(-1.0)
    with pytest.raises(ValueError, match="learning_rate"):
        optim.Adam(learning_rate="fast")
    with pytest.raises(ValueError, match=r"'adamm'.*'adam'.*'sgd'"):
        optim.get("adamm")
    with pytest.raises(ValueError, match="valid names"):
        optim.get(42)
    with pytest.raises(ValueError, match="momentum"):
        optim.SGD(momentum=1.5)
    with pytest.raises(ValueError, match="Only one of"):
        optim.Adam(clipnorm=1.0, clipvalue=1.0)
    with pytest.raises(ValueError, match="not recognized.*beta1"):
        optim.Adam(beta1=0.9)
    with pytest.raises(ValueError, match="weight_decay"):
        optim.AdamW(weight_decay=None)
    with pytest.raises(ValueError, match="beta_2"):
        optim.Adam(beta_2=1.0)
    with pytest.raises(ValueError, match="beta_1"):
        optim.Lion(beta_1=0.0)
    with pytest.raises(ValueError, match="nesterov"):
        optim.sgd(0.1, nesterov=True)
    opt = optim.Adam()
    opt.init_flat(np.zeros(4, np.float32))
    with pytest.raises(ValueError, match=r"float32.*float64"):
        opt.update_flat(np.zeros(4, np.float32), np.zeros(4))
    with pytest.raises(ValueError, match="1-D float32 or float64"):
        opt.init_flat(np.zeros((2, 2)))
    with pytest.raises(ValueError, match="sizes"):
        opt.init_flat(np.zeros(4), sizes=[1, 2])
    with pytest.raises(ValueError, match=r"missing \['velocity'\]"):
        opt.set_flat_state({"iterations": 0, "momentum": np.zeros(4)})
    with pytest.raises(ValueError, match="params"):
        optim.adamw(0.1).update({"w": np.ones(2)}, optim.adamw(0.1).init({"w": np.ones(2)}))
    with pytest.raises(ValueError, match="decay_steps"):
        schedules.ExponentialDecay(0.1, decay_steps=0, decay_rate=0.5)
    with pytest.raises(ValueError, match="1 less than"):
        schedules.PiecewiseConstantDecay([1, 2], [1.0])
    with pytest.raises(ValueError, match="strictly increasing"):
        schedules.PiecewiseConstantDecay([2, 1], [1.0, 0.5, 0.1])
    with pytest.raises(TypeError, match="plain callable"):
        optim.SGD(lambda step: 0.1).get_config()


@pytest.mark.parametrize("case", ["SGD_schedule_nesterov_clipvalue", "Adam_amsgrad_warmup",
                                  "Nadam_schedule_wd", "RMSprop_centered_momentum",
                                  "Adagrad_lr", "Lion_wd_clip"])
def test_blocked_flat_kernel_equals_one_block(case, monkeypatch):
    """Large buffers are updated block by block (cache-sized); the result must not depend on it."""
    _, make, _ = KERAS_CASES[case]
    whole = run_flat(make(), steps=30)
    from nnmath.optimizers import keras as keras_opt
    monkeypatch.setattr(keras_opt, "BLOCK", 4)            # 18 parameters → 5 blocks
    opt = make()
    blocked = run_flat(opt, steps=30)
    assert len(opt._blocks) == 5
    np.testing.assert_array_equal(blocked, whole)


def test_a_keras_config_loads():
    """A config saved by Keras 3 carries arguments nnmath does not implement; at their defaults
    they are accepted, otherwise refused loudly."""
    keras_cfg = {"name": "adam", "learning_rate": 0.0005, "weight_decay": None, "clipnorm": None,
                 "global_clipnorm": None, "clipvalue": None, "use_ema": False,
                 "ema_momentum": 0.99, "ema_overwrite_frequency": None, "loss_scale_factor": None,
                 "gradient_accumulation_steps": None, "beta_1": 0.9, "beta_2": 0.999,
                 "epsilon": 1e-07, "amsgrad": False}
    opt = optim.get({"class_name": "Adam", "config": keras_cfg})
    assert isinstance(opt, optim.Adam) and opt.learning_rate == 0.0005
    with pytest.raises(NotImplementedError, match="use_ema"):
        optim.Adam.from_config({**keras_cfg, "use_ema": True})
