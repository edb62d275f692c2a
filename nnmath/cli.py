"""The ``nnmath`` command line.

Usage::

    nnmath demo [--epochs N] [--seed S] [--output PATH] [--report DIR | --no-report] [--quick]
                                                            (also: python -m nnmath demo)
    nnmath train CONFIG.toml [--output DIR] [--no-report] [--quick]
    nnmath analyze CHECKPOINT --data FILE [--report DIR] [--quick]
    nnmath gradcheck [--order N] [--seed S]
    nnmath compare RUN_A RUN_B [--metric NAME] [--report DIR]
    nnmath calculus [--steps N] [--lr LR] [--seed S]
    nnmath --version

Exit status: 0 ok, 1 a failure (a check failed, a file is missing or unreadable — said in one
line, no traceback), 2 a usage error (the command's usage is printed).

``demo`` trains a Keras-style MLP on the 8×8 handwritten digits that ship with nnmath (1,797
images, a fixed stratified split) with a live progress bar and two monitors (GradientFlowMonitor,
InformationPlane); prints ``summary()``, the test accuracy and a finite-difference check of the
trained model's gradients; saves the model and checks that it reloads to the same predictions;
trains a second copy from another seed (the linear path) and the optimiser comparison (Adam and
SGD with momentum, three seeds each); then analyses the model and writes ``nnmath-report/``:
``report.html`` (self-contained), the PNGs and ``summary.json`` (:mod:`nnmath.report`).

``train`` trains from a TOML file (see ``nnmath train --help`` and :data:`CONFIG_SCHEMA`) once per
seed and writes a checkpoint, ``runs.json`` and a report; ``analyze`` writes the report of a
checkpoint on a data file; ``compare`` runs Welch's t-test over the seeds of two ``train`` runs;
``gradcheck`` checks every registered primitive against finite differences.

``calculus`` is a tour of the automatic-differentiation core on a small neural network: a 4-8-3
tanh MLP with softmax cross-entropy, in float64, on a generated toy dataset — loss, gradients,
Jacobians by both modes, a Hessian and its spectrum, an HVP, finite-difference checks and
gradient descent. Every claim it prints is checked; the exit status is 0 only when all pass.

This is the top layer: it may import any part of nnmath, and nothing in nnmath imports it. It uses
only the public API (``nnmath``, ``nnmath.numpy``, ``nnmath.scipy.special``, ``nnmath.keras``,
``nnmath.training``, ``nnmath.analysis``, ``nnmath.report``).
"""
from __future__ import annotations

import argparse
import sys
import time
from typing import Sequence

import numpy as np

import nnmath as nm
import nnmath.numpy as mnp
from nnmath.scipy.special import log_softmax

__all__ = ["main", "calculus", "digits_demo", "train_command", "analyze_command",
           "compare_command", "gradcheck_primitives", "load_config", "load_data", "CLIError"]

_SIZES = (4, 8, 3)          # input, hidden, classes


# ---------------------------------------------------------------------------------------------
# The model of the demo, written as pure functions of a parameter dict
# ---------------------------------------------------------------------------------------------
def toy_data(seed: int = 0, per_class: int = 20) -> tuple[np.ndarray, np.ndarray]:
    """A generated toy dataset, not a real one: three Gaussian clusters in R⁴.

    Class k is centred at 2·e_k (k = 0, 1, 2) with unit-variance isotropic noise, so the classes
    overlap a little. Returns ``X`` of shape (3·per_class, 4) and one-hot ``Y`` of shape
    (3·per_class, 3), both float64.
    """
    rng = np.random.default_rng(seed)
    n_in, _, n_out = _SIZES
    labels = np.repeat(np.arange(n_out), per_class)
    centres = 2.0 * np.eye(n_out, n_in)
    X = centres[labels] + rng.standard_normal((labels.size, n_in))
    return X, np.eye(n_out)[labels]


def init_params(seed: int = 0) -> dict[str, np.ndarray]:
    """W ~ N(0, 1/fan_in) (LeCun normal), b = 0, for the 4-8-3 MLP."""
    rng = np.random.default_rng(seed + 1)
    n_in, n_hid, n_out = _SIZES
    return {"W1": rng.standard_normal((n_in, n_hid)) / np.sqrt(n_in), "b1": np.zeros(n_hid),
            "W2": rng.standard_normal((n_hid, n_out)) / np.sqrt(n_hid), "b2": np.zeros(n_out)}


def mlp(params: dict, x):
    """Logits z = tanh(x W1 + b1) W2 + b2, for one input (4,) or a batch (n, 4)."""
    h = mnp.tanh(x @ params["W1"] + params["b1"])
    return h @ params["W2"] + params["b2"]


def loss(params: dict, X, Y):
    """Mean softmax cross-entropy L = −(1/n) Σᵢ Σₖ Yᵢₖ log softmax(zᵢ)ₖ."""
    return -mnp.mean(mnp.sum(Y * log_softmax(mlp(params, X), axis=-1), axis=-1))


def _accuracy(params: dict, X, Y) -> float:
    return float(np.mean(np.argmax(mlp(params, X), axis=-1) == np.argmax(Y, axis=-1)))


# ---------------------------------------------------------------------------------------------
# nnmath calculus: the autodiff tour
# ---------------------------------------------------------------------------------------------
def calculus(steps: int = 200, lr: float = 0.5, seed: int = 0, out=None) -> int:
    """The autodiff tour (``nnmath calculus``), printing to ``out`` (default stdout); return 0 if
    every check passed, else 1."""
    out = sys.stdout if out is None else out
    failures: list[str] = []

    def say(line: str = "") -> None:
        print(line, file=out)

    def check(ok: bool, what: str) -> str:
        if not ok:
            failures.append(what)
        return "ok" if ok else "FAILED"

    t0 = time.perf_counter()
    X, Y = toy_data(seed)
    params = init_params(seed)
    n_in, n_hid, n_out = _SIZES
    say(f"nnmath {nm.__version__} calculus: the autodiff core on a {n_in}-{n_hid}-{n_out} tanh MLP, "
        f"softmax cross-entropy, float64")
    say(f"data: a generated toy set (not real data): 3 Gaussian clusters in R^4, "
        f"{X.shape[0]} points, seed {seed}")
    say()

    # 1. the loss, and its gradient with respect to a dict of parameters (reverse mode)
    value, grads = nm.value_and_grad(loss)(params, X, Y)
    say(f"[1] loss L(params)                       {float(value):.6f}")
    say("[2] gradient dL/dparams, reverse mode     (a dict, like params)")
    for name in sorted(grads):
        g = grads[name]
        say(f"      {name:<3} shape {str(g.shape):<7}  |grad| = {np.linalg.norm(g):.6f}")

    # 2. the Jacobian of the network's output with respect to one input, by both modes
    x0 = X[0]
    J_rev = nm.jacrev(mlp, argnums=1)(params, x0)
    J_fwd = nm.jacfwd(mlp, argnums=1)(params, x0)
    diff = float(np.max(np.abs(J_rev - J_fwd)))
    ok = check(J_rev.shape == (n_out, n_in) and diff <= 1e-12, "jacrev and jacfwd agree")
    say(f"[3] Jacobian d logits / d x, shape {J_rev.shape}: jacrev vs jacfwd max |diff| = "
        f"{diff:.1e}  {ok}")

    # 3. the Hessian of the loss with respect to the last layer's weights, and its spectrum
    def loss_W2(W2):
        return loss({**params, "W2": W2}, X, Y)

    H = nm.hessian(loss_W2)(params["W2"])
    m = params["W2"].size
    Hm = H.reshape(m, m)
    asym = float(np.max(np.abs(Hm - Hm.T)))
    eig = np.linalg.eigvalsh((Hm + Hm.T) / 2)
    tol = 1e-10 * max(1.0, float(np.max(np.abs(eig))))
    n_null = int(np.sum(np.abs(eig) <= tol))
    say(f"[4] Hessian d2L/dW2^2, shape {H.shape} -> {m}x{m}")
    say(f"      symmetric: max |H - H^T| = {asym:.1e}  {check(asym <= tol, 'H is symmetric')}")
    say(f"      eigenvalues (numpy.linalg.eigvalsh) in [{eig[0]:.2e}, {eig[-1]:.4f}]: "
        f"positive semidefinite  {check(eig[0] >= -tol, 'H is PSD')}")
    say("      (cross-entropy is convex in the last layer's weights)")
    say(f"      {n_null} zero eigenvalues, as expected: softmax ignores a shift added to every "
        f"logit,")
    say(f"      so W2 + c 1^T (any c in R^{n_hid}) has the same loss  "
        f"{check(n_null == n_hid, f'{n_hid} null directions')}")

    # 4. a Hessian-vector product by forward-over-reverse, never forming H
    v = np.random.default_rng(seed + 2).standard_normal(params["W2"].shape)
    Hv = nm.hvp(loss_W2, (params["W2"],), (v,))
    hv_err = float(np.max(np.abs(Hv - (Hm @ v.ravel()).reshape(v.shape))))
    say(f"[5] hvp (forward-over-reverse) vs H v: max |diff| = {hv_err:.1e}  "
        f"{check(hv_err <= 1e-12, 'hvp = H v')}")

    # 5. every derivative against central finite differences, both modes, to second order
    try:
        nm.check_grads(lambda p: loss(p, X, Y), (params,), order=2, modes=("fwd", "rev"))
        say("[6] check_grads(loss, params, order=2, modes=fwd+rev) against finite differences: passed")
    except AssertionError as e:
        failures.append("check_grads")
        say(f"[6] check_grads(loss, params, order=2, modes=fwd+rev): FAILED\n      {e}")

    # 6. plain gradient descent: params <- params - lr * grad, the gradient recorded once by jit
    say(f"[7] gradient descent, {steps} steps, learning rate {lr}")
    say("      each step runs nm.jit(value_and_grad(loss)): recorded once as a plan of numpy calls,"
        " then replayed")
    step_grad = nm.jit(nm.value_and_grad(loss))
    step_grad(params, X, Y)                                  # records the plan
    traced, replayed = nm.value_and_grad(loss)(params, X, Y), step_grad(params, X, Y)
    same = all(np.array_equal(a, b) for a, b in zip(nm.tree_leaves(traced), nm.tree_leaves(replayed)))
    say(f"      a replay equals the traced result bit for bit  {check(same, 'jit = traced')}")
    report = sorted({0, steps} | {k * steps // 4 for k in range(1, 4)})
    first = last = None
    for step in range(steps + 1):
        value, grads = step_grad(params, X, Y)
        if step in report:
            say(f"      step {step:>4}  loss {float(value):.6f}  accuracy "
                f"{_accuracy(params, X, Y):.3f}")
        first = float(value) if first is None else first
        last = float(value)
        if step < steps:
            params = nm.tree_map(lambda p, g: p - lr * g, params, grads)
    ok = check(last < first, "the loss decreased")
    say(f"      loss decreased from {first:.6f} to {last:.6f}  {ok}")
    say()
    if failures:
        say(f"calculus FAILED ({len(failures)} check(s): {', '.join(failures)}) "
            f"in {time.perf_counter() - t0:.2f} s")
        return 1
    say(f"all checks passed in {time.perf_counter() - t0:.2f} s")
    return 0


# ---------------------------------------------------------------------------------------------
# Argument parsing
# ---------------------------------------------------------------------------------------------
#: Analysis sizes of the demo's report: the real thing, and ``--quick`` (for tests).
REPORT_SIZES = {
    False: dict(hessian_samples=256, top_k=5, trace_probes=40, slq_probes=4, slq_steps=40,
                landscape_points=15, landscape_samples=512, path_points=25, ntk_points=50),
    True: dict(hessian_samples=64, top_k=3, trace_probes=8, slq_probes=2, slq_steps=12,
               landscape_points=5, landscape_samples=128, path_points=7, ntk_points=12,
               mc_samples=8, laplace_samples=128),
}


#: The demo's optimiser comparison: name → (optimizer factory, description).
def _comparison_optimizers() -> dict:
    from nnmath.keras import optimizers
    return {"Adam": (lambda: optimizers.Adam(learning_rate=1e-3), "Adam (learning rate 10⁻³)"),
            "SGD+momentum": (lambda: optimizers.SGD(learning_rate=0.05, momentum=0.9),
                             "SGD with momentum 0.9 (learning rate 0.05)")}


def _digits_model(seed: int, optimizer=None):
    from nnmath.keras import layers, optimizers
    from nnmath.training import Sequential, set_random_seed
    set_random_seed(seed)
    model = Sequential([layers.Dense(256, activation="relu", input_dim=64),
                        layers.Dropout(0.2),
                        layers.Dense(10, activation="softmax")], name="digits_mlp")
    model.compile(optimizer=optimizers.Adam(learning_rate=1e-3) if optimizer is None
                  else optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.build((None, 64))
    return model


def demo_callbacks(model, X, y, train) -> list:
    """The monitors of the demo's main training: per-layer gradient norms (GradientFlowMonitor)
    and the information plane of the two Dense layers (InformationPlane: 5 bins per unit, bits)
    on fixed probe sets. Neither draws from the training's random generator, so the training is
    exactly as without them."""
    from nnmath.analysis import GradientFlowMonitor, InformationPlane
    dense = [layer.name for layer in model.layers if type(layer).__name__ == "Dense"]
    return [GradientFlowMonitor(X[train[:64]], y[train[:64]]),
            InformationPlane(X[train[:256]], y[train[:256]], bins=5, base=2, layers=dense)]


def _comparison_runs(X, y, train, seeds, epochs: int, say) -> tuple[dict, str]:
    """Train the digits MLP with each optimiser from each seed; {name: [History]} and the
    sentence that says what was compared."""
    runs = {}
    opts = _comparison_optimizers()
    for name, (make, _) in opts.items():
        runs[name] = []
        for s in seeds:
            m = _digits_model(s, make())
            runs[name].append(m.fit(X[train], y[train], epochs=epochs, batch_size=32,
                                    validation_split=0.1, verbose=0))
    setup = (f"Compared: the demo's MLP (64 → 256 relu → dropout 0.2 → 10 softmax) trained "
             f"{epochs} epochs with batch size 32 on the {len(train)} training digits (the last "
             f"10 % held out for validation), from seeds {', '.join(map(str, seeds))} (weights and "
             f"shuffling), once with {opts['Adam'][1]} and once with {opts['SGD+momentum'][1]}: "
             f"{len(seeds)} runs per optimiser, {2 * len(seeds)} in all, each scored by its "
             f"validation loss after the last epoch.")
    return runs, setup


def digits_demo(epochs: int = 60, seed: int = 0, output: str = "nnmath-digits.npz",
                report: str | None = "nnmath-report", quick: bool = False, out=None) -> int:
    """Train an MLP on the shipped digits; print summary, test accuracy and a gradient check;
    save it; then (unless ``report`` is None) analyse it and write the report directory.

    ``quick`` shrinks the analyses (and the second seed's training) for tests; the numbers of a
    quick report are coarse."""
    from nnmath.keras import losses
    from nnmath.report import ReportContext, build_report, matplotlib_available
    from nnmath.report.plots import MATPLOTLIB_MISSING
    from nnmath.training import load_model
    from nnmath.training.datasets import load_digits, stratified_split
    out = sys.stdout if out is None else out

    def say(line: str = "") -> None:
        print(line, file=out, flush=True)

    t0 = time.perf_counter()
    X, y = load_digits()
    train, test = stratified_split(y, test_size=0.25, seed=0)
    X = (X / 16.0).astype(np.float32)
    say(f"Digits: {len(X)} images of 8×8 pixels, 10 classes; {len(train)} for training, "
        f"{len(test)} held out (stratified, fixed split).")
    model = _digits_model(seed)
    model.summary(print_fn=say)
    # per-layer gradient norms and the information plane on fixed probe batches at each epoch's
    # end, for the report (they draw no random numbers: training is exactly as without them)
    callbacks = demo_callbacks(model, X, y, train) if report else []
    history = model.fit(X[train], y[train], epochs=epochs, batch_size=32, validation_split=0.1,
                        verbose=1, callbacks=callbacks)
    result = model.evaluate(X[test], y[test], verbose=0, return_dict=True)
    say(f"Test accuracy: {result['accuracy']:.4f} (loss {result['loss']:.4f}) on {len(test)} "
        f"held-out images")

    # The trained model is a pure function of its parameters: check its gradients in float64.
    # (A smooth loss on a few images and a small step, so that finite differences do not cross
    # ReLU kinks or the cross-entropy's probability clipping.)
    p64 = nm.tree_map(lambda a: a.astype(np.float64), model.params)
    xs, ys = X[test[:8]].astype(np.float64), np.eye(10)[y[test[:8]]]
    loss_fn = losses.MeanSquaredError()
    ok = True
    size = f"{sum(a.size for a in nm.tree_leaves(p64)):,} parameters"
    try:
        nm.check_grads(lambda p: loss_fn(ys, model.apply(p, xs)), (p64,), order=2,
                       modes=("fwd", "rev"), eps=1e-6)
        say(f"Gradient check of the trained model: {size}, forward and reverse mode, to second "
            f"order, float64: passed")
    except AssertionError as e:
        ok = False
        say(f"Gradient check of the trained model: {size}: FAILED: {str(e).splitlines()[0]}")

    model.save(output)
    again = load_model(output)
    same = np.array_equal(again.predict(X[test]), model.predict(X[test]))
    say(f"Saved to {output} (arrays + JSON config, no pickle); reloaded: "
        f"{'identical predictions' if same else 'PREDICTIONS DIFFER'}")
    ok = ok and same and result["accuracy"] >= 0.9
    if report:
        other_epochs = min(epochs, 10) if quick else epochs
        say(f"Training a second copy from seed {seed + 1} ({other_epochs} epochs) for the linear "
            f"path between two solutions...")
        other = _digits_model(seed + 1)
        other.fit(X[train], y[train], epochs=other_epochs, batch_size=32, validation_split=0.1,
                  verbose=0)
        seeds = [seed + 10 + k for k in range(3)]
        cmp_epochs = 4 if quick else 15
        say(f"Training the optimiser comparison: Adam and SGD+momentum, seeds "
            f"{', '.join(map(str, seeds))}, {cmp_epochs} epochs each...")
        runs, setup = _comparison_runs(X, y, train, seeds, cmp_epochs, say)
        # the model trains in float32; its curvature and kernels are computed in float64 (cast
        # explicitly, as for the gradient check, and said in the report)
        context = ReportContext(model, X[train], y[train], X[test], y[test], history=history,
                                other_model=other, dtype=np.float64, seed=seed,
                                information_plane=callbacks[1], comparison=runs,
                                comparison_setup=setup, **REPORT_SIZES[bool(quick)])
        say(f"Analysing the trained model in float64{' (quick sizes)' if quick else ''}:")
        built = build_report(context, title="nnmath demo: an MLP on the digits",
                             overview={"test accuracy": f"{result['accuracy']:.4f}",
                                       "epochs": epochs}, log=say)
        files = built.write(report)
        failed = [s.title for s in built.sections if s.status == "failed"]
        say(f"Report: {files.html.resolve()} ({len(files.pngs)} figures; the numbers in "
            f"{files.summary.name})")
        if not matplotlib_available():
            say(f"Note: {MATPLOTLIB_MISSING}.")
        if failed:
            say(f"FAILED sections: {', '.join(failed)}")
            ok = False
    say(f"Done in {time.perf_counter() - t0:.1f} s.")
    return 0 if ok else 1


#: Activations of the hidden layers a ``nnmath train`` config may name.
ACTIVATIONS = ("relu", "tanh", "sigmoid", "gelu", "elu", "selu", "softplus", "swish", "silu",
               "leaky_relu")


def _optimizer_class(name: str):
    from nnmath.keras import optimizers
    return getattr(optimizers, name)


#: Optimisers of a ``nnmath train`` config: name → (its class, the keys it takes beside
#: learning_rate).
OPTIMIZERS = {
    "adam": (lambda: _optimizer_class("Adam"), ()),
    "sgd": (lambda: _optimizer_class("SGD"), ("momentum",)),
    "rmsprop": (lambda: _optimizer_class("RMSprop"), ("momentum",)),
    "adamw": (lambda: _optimizer_class("AdamW"), ("weight_decay",)),
    "adagrad": (lambda: _optimizer_class("Adagrad"), ()),
    "nadam": (lambda: _optimizer_class("Nadam"), ()),
}


# ---------------------------------------------------------------------------------------------
# nnmath train / analyze / compare: configs, data files, checkpoints
# ---------------------------------------------------------------------------------------------
class CLIError(Exception):
    """A failure the command reports in one line (exit status 1), not a traceback."""


#: The configuration file of ``nnmath train``: table → key → (type, default, allowed values).
CONFIG_SCHEMA = {
    "model": {"hidden": (list, [256], None), "activation": (str, "relu", ACTIVATIONS),
              "dropout": (float, 0.2, None)},
    "optimizer": {"name": (str, "adam", tuple(OPTIMIZERS)), "learning_rate": (float, 1e-3, None),
                  "momentum": (float, None, None), "weight_decay": (float, None, None)},
    "data": {"source": (str, "digits", None), "test_fraction": (float, 0.25, None)},
    "training": {"epochs": (int, 30, None), "batch_size": (int, 32, None),
                 "validation_split": (float, 0.1, None), "seed": (int, 0, None),
                 "seeds": (list, None, None)},
}


def load_config(path: str) -> dict:
    """Read and check a ``nnmath train`` TOML file; unknown tables, keys or values raise a
    :class:`CLIError` naming the key and what is allowed."""
    import tomllib
    try:
        with open(path, "rb") as f:
            raw = tomllib.load(f)
    except FileNotFoundError:
        raise CLIError(f"config file {path} not found") from None
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise CLIError(f"cannot read config {path}: {e}") from None
    cfg = {}
    for table in raw:
        if table not in CONFIG_SCHEMA:
            raise CLIError(f"{path}: unknown table [{table}]; allowed tables: "
                           f"{', '.join(f'[{t}]' for t in CONFIG_SCHEMA)}")
        if not isinstance(raw[table], dict):
            raise CLIError(f"{path}: {table} must be a table [{table}], got a value")
    for table, keys in CONFIG_SCHEMA.items():
        given = raw.get(table, {})
        unknown = [k for k in given if k not in keys]
        if unknown:
            raise CLIError(f"{path}: unknown key {table}.{unknown[0]}; allowed keys in "
                           f"[{table}]: {', '.join(keys)}")
        cfg[table] = {}
        for key, (kind, default, allowed) in keys.items():
            value = given.get(key, default)
            if value is not None and key in given:
                ok = isinstance(value, kind) or (kind is float and isinstance(value, int)
                                                 and not isinstance(value, bool))
                if not ok or (kind is int and isinstance(value, bool)):
                    raise CLIError(f"{path}: {table}.{key} must be {kind.__name__}, got "
                                   f"{value!r}")
                if allowed is not None and value not in allowed:
                    raise CLIError(f"{path}: {table}.{key} = {value!r} is not allowed; allowed "
                                   f"values: {', '.join(map(str, allowed))}")
            cfg[table][key] = float(value) if kind is float and value is not None else value
    m, o, d, t = cfg["model"], cfg["optimizer"], cfg["data"], cfg["training"]
    if not all(isinstance(h, int) and not isinstance(h, bool) and h > 0 for h in m["hidden"]):
        raise CLIError(f"{path}: model.hidden must be a list of positive integers (units per "
                       f"hidden layer), got {m['hidden']!r}")
    for key, lo, hi in (("model.dropout", 0.0, 1.0), ("data.test_fraction", 0.0, 1.0),
                        ("training.validation_split", 0.0, 1.0)):
        table, k = key.split(".")
        v = cfg[table][k]
        if not lo <= v < hi or (k == "test_fraction" and v == 0):
            raise CLIError(f"{path}: {key} must be in [{lo:g}, {hi:g}), got {v:g}")
    for key in ("epochs", "batch_size"):
        if t[key] < 1:
            raise CLIError(f"{path}: training.{key} must be a positive integer, got {t[key]}")
    if o["learning_rate"] <= 0:
        raise CLIError(f"{path}: optimizer.learning_rate must be positive, got "
                       f"{o['learning_rate']:g}")
    extra = [k for k in ("momentum", "weight_decay") if o[k] is not None
             and k not in OPTIMIZERS[o["name"]][1]]
    if extra:
        raise CLIError(f"{path}: optimizer.{extra[0]} does not apply to {o['name']!r}; its keys "
                       f"are: learning_rate"
                       + "".join(f", {k}" for k in OPTIMIZERS[o["name"]][1]))
    seeds = t["seeds"] if t["seeds"] is not None else [t["seed"]]
    if not seeds or not all(isinstance(s, int) and not isinstance(s, bool) for s in seeds):
        raise CLIError(f"{path}: training.seeds must be a non-empty list of integers, got "
                       f"{t['seeds']!r}")
    t["seeds"] = list(seeds)
    return cfg


def load_data(source: str) -> tuple[np.ndarray, np.ndarray, str]:
    """``(x, y, description)`` from ``"digits"`` (the shipped 8×8 digits, scaled to [0, 1]), an
    ``.npz`` file (arrays ``x`` and ``y``) or a ``.csv`` file (numbers; the label in the last
    column; an optional header row). A missing or unreadable file raises a :class:`CLIError`."""
    import pathlib
    if source == "digits":
        from nnmath.training.datasets import load_digits
        x, y = load_digits()
        return (x / 16.0).astype(np.float32), y, "the digits shipped with nnmath"
    path = pathlib.Path(source)
    if path.suffix.lower() not in (".npz", ".csv"):
        raise CLIError(f"data {source!r}: expected 'digits', a .npz file (arrays x and y) or a "
                       f".csv file (label in the last column)")
    if not path.is_file():
        raise CLIError(f"data file {source} not found")
    try:
        if path.suffix.lower() == ".npz":
            with np.load(path, allow_pickle=False) as f:
                keys = {k.lower(): k for k in f.files}
                if "x" not in keys or "y" not in keys:
                    raise CLIError(f"data file {source}: expected arrays named x and y, it has "
                                   f"{', '.join(f.files) or 'none'}")
                x, y = np.asarray(f[keys["x"]]), np.asarray(f[keys["y"]])
        else:
            import csv
            with open(path, newline="", encoding="utf-8") as f:
                rows = [r for r in csv.reader(f) if r]
            try:
                [float(v) for v in rows[0]]
            except ValueError:
                rows = rows[1:]                       # a header
            table = np.array(rows, dtype=float)
            if table.ndim != 2 or table.shape[1] < 2:
                raise CLIError(f"data file {source}: expected rows of ≥ 2 numbers (features, "
                               f"then the label)")
            x, y = table[:, :-1], table[:, -1]
    except CLIError:
        raise
    except Exception as e:          # a corrupted file: one line, no traceback
        raise CLIError(f"cannot read data file {source}: {type(e).__name__}: "
                       f"{str(e).splitlines()[0] if str(e) else 'corrupted'}") from None
    if x.ndim != 2 or len(x) != len(y) or len(x) < 10:
        raise CLIError(f"data file {source}: expected x of shape (N, features) and y of shape "
                       f"(N,) with N ≥ 10, got {x.shape} and {y.shape}")
    if y.dtype.kind == "f":
        if not np.all(y == np.round(y)) or y.min() < 0:
            raise CLIError(f"data file {source}: the labels y must be class indices 0, 1, 2, …")
        y = y.astype(np.int64)
    if x.dtype.kind not in "fiu" or not np.all(np.isfinite(x)):
        raise CLIError(f"data file {source}: x must be finite numbers")
    return x.astype(np.float32), y, f"{path.name} ({len(x)} samples, {x.shape[1]} features)"


def _make_optimizer(cfg: dict):
    cls = OPTIMIZERS[cfg["name"]][0]()
    kwargs = {"learning_rate": cfg["learning_rate"]}
    kwargs.update({k: cfg[k] for k in ("momentum", "weight_decay") if cfg[k] is not None})
    return cls(**kwargs)


def _config_model(cfg: dict, n_in: int, n_out: int, seed: int):
    from nnmath.keras import layers
    from nnmath.training import Sequential, set_random_seed
    set_random_seed(seed)
    stack = []
    for i, h in enumerate(cfg["model"]["hidden"]):
        stack.append(layers.Dense(h, activation=cfg["model"]["activation"],
                                  **({"input_dim": n_in} if i == 0 else {})))
        if cfg["model"]["dropout"] > 0:
            stack.append(layers.Dropout(cfg["model"]["dropout"]))
    stack.append(layers.Dense(n_out, activation="softmax",
                              **({} if stack else {"input_dim": n_in})))
    model = Sequential(stack, name="mlp")
    model.compile(optimizer=_make_optimizer(cfg["optimizer"]),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.build((None, n_in))
    return model


def _write_json(path, obj) -> None:
    import json
    import os
    import pathlib
    path = pathlib.Path(path)
    tmp = path.with_name(f".{path.name}.part-{os.getpid()}")
    tmp.write_text(json.dumps(obj, indent=1, allow_nan=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def train_command(config: str, output: str = "nnmath-run", report: str | None = "report",
                  quick: bool = False, out=None) -> int:
    """``nnmath train CONFIG.toml``: train one model per seed; write ``OUTPUT/model.npz`` (the
    first seed's checkpoint; ``model-seed<S>.npz`` for the others), ``OUTPUT/runs.json`` (config,
    every seed's History and test scores, for ``nnmath compare``) and the report."""
    import pathlib
    from nnmath.analysis import to_builtin
    from nnmath.training.datasets import stratified_split
    out = sys.stdout if out is None else out

    def say(line: str = "") -> None:
        print(line, file=out, flush=True)
    cfg = load_config(config)
    x, y, what = load_data(cfg["data"]["source"])
    train, test = stratified_split(y, test_size=cfg["data"]["test_fraction"], seed=0)
    n_out = int(y.max()) + 1
    run_dir = pathlib.Path(output)
    run_dir.mkdir(parents=True, exist_ok=True)
    t = cfg["training"]
    say(f"Data: {what}; {len(train)} for training, {len(test)} held out; {n_out} classes.")
    runs, models, histories, plane = [], [], [], None
    for k, seed in enumerate(t["seeds"]):
        model = _config_model(cfg, x.shape[1], n_out, seed)
        if k == 0:
            model.summary(print_fn=say)
        say(f"Seed {seed}: {cfg['optimizer']['name']}, {t['epochs']} epochs")
        # the first seed's model is the one analysed: record its gradient flow and
        # information plane (neither changes the training's numbers)
        callbacks = demo_callbacks(model, x, y, train) if k == 0 and report else []
        h = model.fit(x[train], y[train], epochs=t["epochs"], batch_size=t["batch_size"],
                      validation_split=t["validation_split"], verbose=1 if k == 0 else 2,
                      callbacks=callbacks)
        if callbacks:
            plane = callbacks[1]
        scores = model.evaluate(x[test], y[test], verbose=0, return_dict=True)
        ckpt = run_dir / ("model.npz" if k == 0 else f"model-seed{seed}.npz")
        model.save(str(ckpt))
        say(f"Seed {seed}: test accuracy {scores['accuracy']:.4f} (loss {scores['loss']:.4f}); "
            f"saved {ckpt}")
        runs.append({"seed": seed, "checkpoint": ckpt.name, "history": to_builtin(h.history),
                     "test": to_builtin(scores)})
        models.append(model)
        histories.append(h)
    _write_json(run_dir / "runs.json", {"nnmath_version": nm.__version__, "config": cfg,
                                        "data": what, "runs": runs})
    say(f"Run: {run_dir.resolve()} (runs.json: {len(runs)} seed(s), for nnmath compare)")
    if report:
        from nnmath.report import ReportContext, build_report
        ctx = ReportContext(models[0], x[train], y[train], x[test], y[test],
                            history=histories[0], information_plane=plane,
                            other_model=models[1] if len(models) > 1 else None,
                            dtype=np.float64, seed=t["seeds"][0], **REPORT_SIZES[bool(quick)])
        built = build_report(ctx, title=f"nnmath train: {pathlib.Path(config).name}",
                             overview={"data": what, "optimizer": cfg["optimizer"]["name"],
                                       "seeds": ", ".join(map(str, t["seeds"]))}, log=say)
        files = built.write(run_dir / report)
        say(f"Report: {files.html.resolve()} ({len(files.pngs)} figures)")
        if any(s.status == "failed" for s in built.sections):
            return 1
    return 0


def _load_checkpoint(path: str):
    import pathlib
    from nnmath.training import load_model
    p = pathlib.Path(path)
    if p.is_dir():
        p = p / "model.npz"
    if not p.is_file():
        raise CLIError(f"checkpoint {p} not found")
    try:
        return load_model(str(p)), p
    except Exception as e:          # a corrupted or foreign file: one line, no traceback
        msg = str(e).splitlines()[0] if str(e) else "corrupted"
        raise CLIError(f"cannot load checkpoint {p}: {type(e).__name__}: {msg}") from None


def analyze_command(checkpoint: str, data: str, report: str = "nnmath-report",
                    quick: bool = False, out=None) -> int:
    """``nnmath analyze CHECKPOINT --data FILE``: the report of a saved model on a data set (the
    History too when the checkpoint's folder has the runs.json of ``nnmath train``)."""
    import json
    out = sys.stdout if out is None else out
    model, path = _load_checkpoint(checkpoint)
    x, y, what = load_data(data)
    n_in = model.layers[0].input_shape[-1] if getattr(model.layers[0], "input_shape", None) \
        else None
    history = None
    runs = path.parent / "runs.json"
    if runs.is_file():
        try:
            rec = json.loads(runs.read_text(encoding="utf-8"))
            history = next((r["history"] for r in rec["runs"] if r["checkpoint"] == path.name),
                           None)
        except (ValueError, KeyError, TypeError):
            history = None
    if getattr(model, "loss", None) is None:
        model.compile(loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    try:
        model.predict(x[:2], verbose=0)
    except Exception as e:
        raise CLIError(f"the model in {path} does not take the data in {data} "
                       f"(x has {x.shape[1]} features{'' if n_in is None else f', the model expects {n_in}'}): "
                       f"{type(e).__name__}: {str(e).splitlines()[0]}") from None
    from nnmath.report import ReportContext, build_report
    ctx = ReportContext(model, x, y, x, y, history=history, dtype=np.float64,
                        **REPORT_SIZES[bool(quick)])
    print(f"Analysing {path} on {what} (every section uses these data) in float64:", file=out)
    built = build_report(ctx, title=f"nnmath analyze: {path.name}",
                         overview={"checkpoint": str(path), "data": what},
                         log=lambda s: print(s, file=out, flush=True))
    files = built.write(report)
    print(f"Report: {files.html.resolve()} ({len(files.pngs)} figures)", file=out)
    return 1 if any(s.status == "failed" for s in built.sections) else 0


def _load_runs(path: str) -> tuple[str, list]:
    import json
    import pathlib
    p = pathlib.Path(path)
    f = p / "runs.json" if p.is_dir() else p
    if not f.is_file():
        raise CLIError(f"{path}: no runs.json (a folder written by nnmath train)")
    try:
        rec = json.loads(f.read_text(encoding="utf-8"))
        hist = [r["history"] for r in rec["runs"]]
        name = rec.get("config", {}).get("optimizer", {}).get("name") or p.name
    except (ValueError, KeyError, TypeError) as e:
        raise CLIError(f"{f}: not a runs.json of nnmath train ({type(e).__name__}: {e})") from None
    return f"{p.name} ({name})", hist


def compare_command(run_a: str, run_b: str, metric: str = "val_loss",
                    report: str = "nnmath-compare", out=None) -> int:
    """``nnmath compare RUN_A RUN_B``: Welch's t-test over the seeds of two ``nnmath train`` runs
    on ``metric`` (last epoch), printed, with a report (the runs and every seed's curve)."""
    from nnmath.analysis import compare_runs
    from nnmath.report import Report, Section, Table, matplotlib_available
    from nnmath.report.plots import plot_run_comparison, plot_run_curves
    out = sys.stdout if out is None else out
    (na, ha), (nb, hb) = _load_runs(run_a), _load_runs(run_b)
    if na == nb:
        na, nb = f"A: {na}", f"B: {nb}"
    try:
        c = compare_runs(ha, hb, metric=metric, names=(na, nb))
    except (ValueError, TypeError) as e:
        raise CLIError(str(e)) from None
    print(c.verdict, file=out)
    rows = [(na, len(c.values_a), c.mean_a, c.std_a), (nb, len(c.values_b), c.mean_b, c.std_b)]
    for r in rows:
        print(f"  {r[0]:<30} seeds {r[1]}  mean {r[2]:.4g}  std {r[3]:.3g}", file=out)
    figs = [plot_run_comparison(c, (na, nb)), plot_run_curves({na: ha, nb: hb}, metric)] \
        if matplotlib_available() else []
    section = Section("Welch's t-test over seeds", c.verdict, figs,
                      {"comparison": c.to_dict(), "runs": [run_a, run_b]}, key="comparison",
                      tables=[Table(("run", "seeds", f"mean {metric}", "std (ddof 1)"), rows)],
                      references=["Welch (1947)", "Hedges (1981)"])
    files = Report([section], f"nnmath compare: {na} vs {nb}", {"metric": metric}).write(report)
    print(f"Report: {files.html.resolve()} ({len(files.pngs)} figures)", file=out)
    return 0


# ---------------------------------------------------------------------------------------------
# nnmath gradcheck: every registered primitive against finite differences
# ---------------------------------------------------------------------------------------------
def _gradcheck_cases(rng: np.random.Generator) -> dict:
    """name → (function, args[, check_grads options]): a small input inside each primitive's domain (away from kinks),
    for the primitives that are not plain functions of arrays of the same name."""
    import nnmath.scipy.special as sps
    from nnmath.nn.activations import relu
    from nnmath.nn.losses import softmax_cross_entropy

    def u(lo, hi, shape=(3, 4)):
        return rng.uniform(lo, hi, size=shape)
    A, B, P = u(-1, 1), u(-1, 1), u(0.3, 0.8)
    S = u(-1, 1, (4, 4))
    SPD = S @ S.T + 4 * np.eye(4)
    lab = np.eye(4)[[0, 2, 1]]
    return {
        "arccosh": (mnp.arccosh, (u(1.2, 2.0),)),
        "remainder": (mnp.remainder, (u(0.2, 0.8), u(1.0, 1.5))),
        "power": (mnp.power, (P, A)),
        "polygamma": (lambda x: sps.polygamma(1, x), (P + 1,)),
        "astype": (lambda x: mnp.astype(x, np.float32) * 2.0, (A,),
                   {"eps": 1e-2, "rtol": 1e-4}),                     # float32 in the middle
        "conj": (lambda x, y: mnp.real(mnp.conj(x + 1j * y) * (y + 2j * x)), (A, B)),
        "imag": (lambda x, y: mnp.imag((x + 1j * y) ** 2), (A, B)),
        "real": (lambda x, y: mnp.real((x + 1j * y) ** 2), (A, B)),
        "where": (lambda a, b: mnp.where(A > 0, a, b), (A, B)),
        "clip": (lambda a: mnp.clip(a, -0.5, 0.7), (A,)),
        "broadcast_to": (lambda x: mnp.broadcast_to(x, (2, 3, 4)), (A,)),
        "getitem": (lambda x: x[1:, ::-2], (A,)),
        "index_set": (lambda x, v: mnp.at(x)[1, :2].set(v), (A, B[0, :2])),
        "index_add": (lambda x, v: mnp.at(x)[np.array([0, 0, 2])].add(v), (A, B)),
        "concatenate": (lambda a, b: mnp.concatenate([a, b, a], axis=1), (A, B)),
        "pad": (lambda x: mnp.pad(x, ((1, 0), (2, 1)), constant_values=0.5), (A,)),
        "roll": (lambda x: mnp.roll(x, (1, -1), axis=(0, 1)), (A,)),
        "tril": (lambda x: mnp.tril(x, -1), (A,)),
        "triu": (lambda x: mnp.triu(x, 1), (A,)),
        "reshape": (lambda x: mnp.reshape(x, (2, 6)) * 1.0, (A,)),
        "transpose": (lambda x: mnp.transpose(x), (A,)),
        "einsum": (lambda a, b: mnp.einsum("ij,kj->ik", a, b), (A, B)),
        "matmul": (lambda a, b: a @ b.T, (A, B)),
        "cumsum": (lambda x: mnp.cumsum(x, axis=1), (A,)),
        "logsumexp": (lambda x: sps.logsumexp(x, axis=1), (A,)),
        "softmax": (lambda x: sps.softmax(x, axis=1), (A,)),
        "softmax_cross_entropy": (lambda z, y: softmax_cross_entropy(z, y, axis=-1),
                                  (A, lab + 0.1)),
        "linalg.cholesky": (lambda m: mnp.linalg.cholesky((m + m.T) / 2), (SPD,)),
        "linalg.det": (mnp.linalg.det, (SPD,)),
        "linalg.slogdet": (lambda m: mnp.linalg.slogdet(m)[1], (SPD,)),
        "linalg.inv": (mnp.linalg.inv, (SPD,)),
        "linalg.pinv": (mnp.linalg.pinv, (A,)),
        "linalg.solve": (mnp.linalg.solve, (SPD, u(-1, 1, (4,)))),
        "linalg.eigh": (lambda m: mnp.linalg.eigh((m + m.T) / 2)[0],
                        (np.diag([1.0, 2.0, 3.0, 4.0]) + 0.1 * (S + S.T),)),    # separated λ
        "linalg.svd": (lambda m: mnp.linalg.svd(m, compute_uv=False), (A,)),
        "linalg.qr": (lambda m: mnp.linalg.qr(m)[1], (A.T,)),
        "betainc": (sps.betainc, (P + 0.5, P + 1.0, P)),
        "betaincinv": (sps.betaincinv, (P + 0.5, P + 1.0, P)),
        "gammainc": (sps.gammainc, (P + 0.5, P)),
        "gammaincc": (sps.gammaincc, (P + 0.5, P)),
        "gammaincinv": (sps.gammaincinv, (P + 0.5, P)),
        "stdtr": (sps.stdtr, (P + 1.0, A * 2)),
        "stdtrit": (sps.stdtrit, (P + 1.0, P)),
        "erfcinv": (sps.erfcinv, (P * 2,)),
        "relu": (relu, (A + np.sign(A) * 0.1,)),                         # away from the kink
        "max": (lambda x: mnp.max(x, axis=1), (A,)),
        "min": (lambda x: mnp.min(x, axis=1), (A,)),
        "sum": (lambda x: mnp.sum(x, axis=0), (A,)),
        "prod": (lambda x: mnp.prod(x, axis=1), (A,)),
    }


def _public_function(name: str):
    """The public function called ``name`` (nnmath.numpy, its linalg, nnmath.scipy.special)."""
    import nnmath.scipy.special as sps
    for space in (mnp, sps):
        fn = getattr(space, name, None)
        if callable(fn):
            return fn
    return None


def gradcheck_primitives(order: int = 2, seed: int = 0, out=None, names=None) -> int:
    """Check every primitive of ``nnmath._core.primitive.REGISTRY`` against central finite
    differences (``check_grads``, both modes, to ``order``, float64) on a small random input
    inside its domain; print one row per primitive; 0 if none failed, else 1."""
    from nnmath._core.primitive import REGISTRY
    out = sys.stdout if out is None else out
    rng = np.random.default_rng(seed)
    cases = _gradcheck_cases(rng)
    rows, failed = [], 0
    t0 = time.perf_counter()
    for name in sorted(REGISTRY) if names is None else names:
        t = time.perf_counter()
        fun_args = cases.get(name)
        if fun_args is None:
            fn = _public_function(name)
            if fn is None:
                rows.append((name, "skipped", "no public function of that name to call"))
                continue
            fun_args = None
            for arity in (1, 2):          # elementwise: arguments in (0.3, 0.8), inside every domain
                args = tuple(rng.uniform(0.3, 0.8, size=(3, 4)) for _ in range(arity))
                try:
                    value = np.asarray(fn(*args))
                except TypeError:
                    continue
                if value.dtype.kind == "f" and np.all(np.isfinite(value)):
                    fun_args = (fn, args)
                    break
            if fun_args is None:
                rows.append((name, "skipped", "no sample input known for it"))
                continue
        fn, args = fun_args[:2]
        options = fun_args[2] if len(fun_args) > 2 else {}
        try:
            nm.check_grads(fn, args, order=order, modes=("fwd", "rev"), **options)
            status, note = "ok", ""
        except AssertionError as e:
            status, note = "FAILED", str(e).splitlines()[0][:90]
            failed += 1
        except Exception as e:            # a rule missing or refusing: a failure, said in one line
            status, note = "FAILED", f"{type(e).__name__}: {str(e).splitlines()[0][:80]}"
            failed += 1
        rows.append((name, status, note or f"{1e3 * (time.perf_counter() - t):.0f} ms"))
    width = max(len(r[0]) for r in rows)
    print(f"check_grads of every registered primitive: forward and reverse mode, order {order}, "
          f"float64, seed {seed}", file=out)
    print(f"{'primitive':<{width}}  {'status':<8} note", file=out)
    for name, status, note in rows:
        print(f"{name:<{width}}  {status:<8} {note}", file=out)
    counts = {s: sum(r[1] == s for r in rows) for s in ("ok", "FAILED", "skipped")}
    print(f"{counts['ok']} ok, {counts['FAILED']} failed, {counts['skipped']} skipped of "
          f"{len(rows)} primitives in {time.perf_counter() - t0:.1f} s", file=out)
    return 1 if failed else 0


def _positive_int(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {n}")
    return n


def _positive_float(text: str) -> float:
    try:
        x = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not x > 0 or not np.isfinite(x):
        raise argparse.ArgumentTypeError(f"expected a positive finite number, got {text}")
    return x


COMMANDS = ("demo", "train", "analyze", "gradcheck", "compare", "calculus")


def _parser() -> tuple[argparse.ArgumentParser, dict]:
    parser = argparse.ArgumentParser(
        prog="nnmath",
        description="nnmath: the mathematics of neural networks, executable, checkable and fast.",
        epilog="Run 'nnmath COMMAND --help' for a command's options. Exit status: 0 ok, 1 a "
               "failure (a check, a missing or unreadable file), 2 a usage error.")
    parser.add_argument("--version", action="version", version=f"nnmath {nm.__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    sub = {}
    t = sub["demo"] = commands.add_parser(
        "demo", help="train an MLP on the shipped digits, check, save and analyse it into "
                     "nnmath-report/ (under two minutes)",
        description="Train a Keras-style MLP on the 8×8 digits shipped with nnmath, print its "
                    "summary, test accuracy and a gradient check, save it, then analyse it and "
                    "write a report directory: report.html (self-contained), the PNGs and "
                    "summary.json.")
    t.add_argument("--epochs", type=_positive_int, default=60, help="training epochs (default 60)")
    t.add_argument("--seed", type=int, default=0, help="seed of weights, shuffling (default 0)")
    t.add_argument("--output", default="nnmath-digits.npz", help="where to save the model")
    t.add_argument("--report", default="nnmath-report", metavar="DIR",
                   help="directory of the report (default nnmath-report)")
    t.add_argument("--no-report", action="store_true", help="train, check and save only")
    t.add_argument("--quick", action="store_true",
                   help="small analysis sizes (for tests; coarse numbers)")
    r = sub["train"] = commands.add_parser(
        "train", help="train from a TOML config (model, optimizer, data, epochs, seeds) → "
                      "checkpoint, runs.json and a report",
        description="Train the model a TOML file describes, once per seed, and write OUTPUT/ "
                    "model.npz (a checkpoint), OUTPUT/runs.json (every seed's History, for "
                    "'nnmath compare') and OUTPUT/report/. Tables and keys: [model] hidden, "
                    "activation, dropout; [optimizer] name, learning_rate, momentum, "
                    "weight_decay; [data] source ('digits', a .npz with x and y, or a .csv with "
                    "the label last), test_fraction; [training] epochs, batch_size, "
                    "validation_split, seed or seeds.")
    r.add_argument("config", metavar="CONFIG.toml", help="the configuration file")
    r.add_argument("--output", default="nnmath-run", metavar="DIR",
                   help="the run's folder (default nnmath-run)")
    r.add_argument("--no-report", action="store_true", help="train and save only")
    r.add_argument("--quick", action="store_true", help="small analysis sizes")
    a = sub["analyze"] = commands.add_parser(
        "analyze", help="the report of a saved model on a data file",
        description="Load a checkpoint (model.npz, or a run folder of 'nnmath train') and write "
                    "the analysis report of the model on the given data.")
    a.add_argument("checkpoint", metavar="CHECKPOINT", help="a saved model (.npz) or run folder")
    a.add_argument("--data", required=True, metavar="FILE",
                   help="'digits', a .npz file with arrays x and y, or a .csv (label last)")
    a.add_argument("--report", default="nnmath-report", metavar="DIR",
                   help="directory of the report (default nnmath-report)")
    a.add_argument("--quick", action="store_true", help="small analysis sizes")
    g = sub["gradcheck"] = commands.add_parser(
        "gradcheck", help="check every registered primitive against finite differences and "
                          "print a table",
        description="For every primitive in nnmath's registry: check_grads in forward and "
                    "reverse mode on a small random float64 input inside its domain; a table "
                    "of the results. Exits 1 if any fails.")
    g.add_argument("--order", type=_positive_int, default=2, help="derivative order (default 2)")
    g.add_argument("--seed", type=int, default=0, help="seed of the inputs (default 0)")
    c = sub["compare"] = commands.add_parser(
        "compare", help="Welch's t-test over the seeds of two 'nnmath train' runs, with a plot",
        description="Compare two run folders of 'nnmath train' (each with several seeds) on a "
                    "History metric at the last epoch: Welch's t-test, Hedges' g, a verdict, and "
                    "a report with the runs and every seed's curve.")
    c.add_argument("run_a", metavar="RUN_A")
    c.add_argument("run_b", metavar="RUN_B")
    c.add_argument("--metric", default="val_loss", help="the History key (default val_loss)")
    c.add_argument("--report", default="nnmath-compare", metavar="DIR",
                   help="directory of the report (default nnmath-compare)")
    d = sub["calculus"] = commands.add_parser(
        "calculus", help="a tour of the autodiff core on a small MLP (a few seconds)",
        description="Gradients, Jacobians (both modes), a Hessian and its spectrum, an HVP and "
                    "finite-difference checks on a 4-8-3 tanh MLP with softmax cross-entropy on a "
                    "generated toy dataset, then gradient descent. Exits 1 if any check fails.")
    d.add_argument("--steps", type=_positive_int, default=200,
                   help="gradient-descent steps (default 200)")
    d.add_argument("--lr", type=_positive_float, default=0.5, help="learning rate (default 0.5)")
    d.add_argument("--seed", type=int, default=0, help="seed of the data and the initialisation "
                                                       "(default 0)")
    return parser, sub


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with ``argv`` (default ``sys.argv[1:]``); return the exit status:
    0 ok, 1 a failure (said in one line), 2 a usage error (argparse exits with 2)."""
    parser, sub = _parser()
    args, extra = parser.parse_known_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        parser.exit(2, "\nnmath: error: a command is required (one of "
                       f"{', '.join(COMMANDS)})\n")
    if extra:                                   # the command's own usage, not the top level's
        sub[args.command].error(f"unrecognized arguments: {' '.join(extra)}")
    try:
        if args.command == "demo":
            return digits_demo(epochs=args.epochs, seed=args.seed, output=args.output,
                               report=None if args.no_report else args.report, quick=args.quick)
        if args.command == "train":
            return train_command(args.config, args.output,
                                 None if args.no_report else "report", args.quick)
        if args.command == "analyze":
            return analyze_command(args.checkpoint, args.data, args.report, args.quick)
        if args.command == "gradcheck":
            return gradcheck_primitives(args.order, args.seed)
        if args.command == "compare":
            return compare_command(args.run_a, args.run_b, args.metric, args.report)
        if args.command == "calculus":
            return calculus(steps=args.steps, lr=args.lr, seed=args.seed)
    except CLIError as e:
        print(f"nnmath {args.command}: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"nnmath {args.command}: interrupted (no report was half-written)", file=sys.stderr)
        return 130
    raise AssertionError(f"unhandled command {args.command!r}")     # argparse rejects the rest
