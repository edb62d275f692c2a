"""The ``nnmath`` command line.

Usage::

    nnmath demo [--epochs N] [--seed S] [--output PATH] [--report DIR | --no-report] [--quick]
                                                            (also: python -m nnmath demo)
    nnmath calculus [--steps N] [--lr LR] [--seed S]
    nnmath --version

``demo`` trains a Keras-style MLP on the 8×8 handwritten digits that ship with nnmath (1,797
images, a fixed stratified split), with a live progress bar; prints ``summary()``, the test
accuracy and a finite-difference check of the trained model's gradients (both modes, second order,
float64); saves the model and checks that the saved file reloads to the same predictions; then
trains a second copy from another seed, analyses the model with :mod:`nnmath.analysis` and writes
``nnmath-report/``: ``report.html`` (self-contained), the PNGs and ``summary.json``
(:mod:`nnmath.report`), printing each section's time and where the report is.

``calculus`` shows the automatic-differentiation core on a small neural network: a 4-8-3 tanh MLP with
softmax cross-entropy, in float64, on a generated toy dataset. It prints the loss, the gradient with
respect to a dict of parameters, an input Jacobian by both modes, the Hessian with respect to the
last layer's weights and its spectrum, a Hessian-vector product checked against H·v, a finite-
difference check of every derivative to second order, and a short run of gradient descent. Every
claim it prints is checked; the exit status is 0 only when all checks pass.

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

__all__ = ["main", "demo", "digits_demo"]

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
# The demo
# ---------------------------------------------------------------------------------------------
def demo(steps: int = 200, lr: float = 0.5, seed: int = 0, out=None) -> int:
    """Run the demo, printing to ``out`` (default stdout); return 0 if every check passed, else 1."""
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
    say(f"nnmath {nm.__version__} demo: the autodiff core on a {n_in}-{n_hid}-{n_out} tanh MLP, "
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
        say(f"demo FAILED ({len(failures)} check(s): {', '.join(failures)}) "
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
               landscape_points=5, landscape_samples=128, path_points=7, ntk_points=12),
}


def _digits_model(seed: int):
    from nnmath.keras import layers, optimizers
    from nnmath.training import Sequential, set_random_seed
    set_random_seed(seed)
    model = Sequential([layers.Dense(256, activation="relu", input_dim=64),
                        layers.Dropout(0.2),
                        layers.Dense(10, activation="softmax")], name="digits_mlp")
    model.compile(optimizer=optimizers.Adam(learning_rate=1e-3),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.build((None, 64))
    return model


def digits_demo(epochs: int = 60, seed: int = 0, output: str = "nnmath-digits.npz",
                report: str | None = "nnmath-report", quick: bool = False, out=None) -> int:
    """Train an MLP on the shipped digits; print summary, test accuracy and a gradient check;
    save it; then (unless ``report`` is None) analyse it and write the report directory.

    ``quick`` shrinks the analyses (and the second seed's training) for tests; the numbers of a
    quick report are coarse."""
    from nnmath.analysis import GradientFlowMonitor
    from nnmath.keras import losses
    from nnmath.report import ReportContext, build_report
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
    # per-layer gradient norms on a fixed probe batch at each epoch's end, for the report (the
    # probe draws no random numbers: training is exactly as without it)
    callbacks = [GradientFlowMonitor(X[train[:64]], y[train[:64]])] if report else []
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
    nm.check_grads(lambda p: loss_fn(ys, model.apply(p, xs)), (p64,), order=2, modes=("fwd", "rev"),
                   eps=1e-6)
    say(f"Gradient check of the trained model: {sum(a.size for a in nm.tree_leaves(p64)):,} "
        f"parameters, forward and reverse mode, to second order, float64: passed")

    model.save(output)
    again = load_model(output)
    same = np.array_equal(again.predict(X[test]), model.predict(X[test]))
    say(f"Saved to {output} (arrays + JSON config, no pickle); reloaded: "
        f"{'identical predictions' if same else 'PREDICTIONS DIFFER'}")
    ok = same and result["accuracy"] >= 0.9
    if report:
        other_epochs = min(epochs, 10) if quick else epochs
        say(f"Training a second copy from seed {seed + 1} ({other_epochs} epochs) for the linear "
            f"path between two solutions...")
        other = _digits_model(seed + 1)
        other.fit(X[train], y[train], epochs=other_epochs, batch_size=32, validation_split=0.1,
                  verbose=0)
        # the model trains in float32; its curvature and kernels are computed in float64 (cast
        # explicitly, as for the gradient check, and said in the report)
        context = ReportContext(model, X[train], y[train], X[test], y[test], history=history,
                                other_model=other, dtype=np.float64, seed=seed,
                                **REPORT_SIZES[bool(quick)])
        say(f"Analysing the trained model in float64{' (quick sizes)' if quick else ''}:")
        built = build_report(context, title="nnmath demo: an MLP on the digits",
                             overview={"test accuracy": f"{result['accuracy']:.4f}",
                                       "epochs": epochs}, log=say)
        files = built.write(report)
        failed = [s.title for s in built.sections if s.status == "failed"]
        say(f"Report: {files.html.resolve()} ({len(files.pngs)} figures; the numbers in "
            f"{files.summary.name})")
        if failed:
            say(f"FAILED sections: {', '.join(failed)}")
            ok = False
    say(f"Done in {time.perf_counter() - t0:.1f} s.")
    return 0 if ok else 1


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


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nnmath",
        description="nnmath: the mathematics of neural networks, executable, checkable and fast.")
    parser.add_argument("--version", action="version", version=f"nnmath {nm.__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    t = commands.add_parser(
        "demo", help="train an MLP on the shipped digits, check, save and analyse it "
                     "(under two minutes)",
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
    d = commands.add_parser(
        "calculus", help="show the autodiff core on a small MLP (a few seconds)",
        description="Gradients, Jacobians (both modes), a Hessian and its spectrum, an HVP and "
                    "finite-difference checks on a 4-8-3 tanh MLP with softmax cross-entropy on a "
                    "generated toy dataset, then gradient descent. Exits 1 if any check fails.")
    d.add_argument("--steps", type=_positive_int, default=200,
                   help="gradient-descent steps (default 200)")
    d.add_argument("--lr", type=_positive_float, default=0.5, help="learning rate (default 0.5)")
    d.add_argument("--seed", type=int, default=0, help="seed of the data and the initialisation "
                                                       "(default 0)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with ``argv`` (default ``sys.argv[1:]``); return the exit status."""
    args = _parser().parse_args(argv)
    if args.command == "demo":
        return digits_demo(epochs=args.epochs, seed=args.seed, output=args.output,
                           report=None if args.no_report else args.report, quick=args.quick)
    if args.command == "calculus":
        return demo(steps=args.steps, lr=args.lr, seed=args.seed)
    raise AssertionError(f"unhandled command {args.command!r}")     # argparse rejects the rest
