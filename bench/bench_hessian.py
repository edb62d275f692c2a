"""Hessian spectra of a ~100k-parameter MLP on 1,000 samples: nnmath.analysis against PyHessian.

Model: Dense(256, relu) on 100 inputs → Dense(256, relu) → Dense(10) logits; cross-entropy from
logits (torch's CrossEntropyLoss; nnmath's SparseCategoricalCrossentropy(from_logits=True));
100·256+256 + 256·256+256 + 256·10+10 = 94,218 parameters; float32 (PyHessian's dtype); 1,000
samples (Gaussian inputs, uniform labels, seed 0); the same weights in both libraries.

Measured (interleaved rounds, 2 threads each; PyHessian 0.1 with cuda=False on torch CPU):
  * top-5 eigenvalues: nnmath ``hessian_top_eigenvalues(k=5)`` (Lanczos) against PyHessian
    ``eigenvalues(top_n=5)`` (power iteration with deflation, its defaults maxIter=100, tol=1e-3);
    accuracy = max relative error against ARPACK (``scipy.sparse.linalg.eigsh``, tol 1e-10) on
    nnmath's float64 Hessian operator of the same model;
  * a 100-probe Hutchinson trace: nnmath ``hessian_trace(num_samples=100)`` against PyHessian
    ``trace(maxIter=100, tol=0)`` (tol 0 so it also runs all 100 probes); both estimates are
    printed with nnmath's standard error (same estimator, same number of probes: the same accuracy
    in distribution);
  * Hutch++ (Meyer et al. 2021; ``hessian_trace(method="hutch++")``) with 33 and 99 HVPs in the
    same rounds: the same trace for fewer products when the spectrum has outliers; compared by
    time and by standard error against PyHessian's 100 probes;
  * nnmath HVP ÷ nnmath gradient on the same model and data (target ≤ 3×).

Targets (issue 7): at most PyHessian's time for at least its accuracy (goal: half).
Run:  python bench/bench_hessian.py   (needs ``pip install torch==2.13.0 pyhessian``)
"""
from __future__ import annotations

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common as C  # noqa: E402

import numpy as np  # noqa: E402

SIZES = [(100, 256), (256, 256), (256, 10)]
N = 1000
ROUNDS = 5


def make_problem():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((N, SIZES[0][0])).astype(np.float32)
    y = rng.integers(0, SIZES[-1][1], N)
    weights = []
    for i, o in SIZES:
        weights.append((rng.standard_normal((i, o)) * np.sqrt(2.0 / i)).astype(np.float32))
        weights.append((0.1 * rng.standard_normal(o)).astype(np.float32))
    return X, y, weights


def nnmath_model(weights):
    from nnmath.keras import layers
    from nnmath.keras.models import Sequential
    from nnmath.nn.losses import SparseCategoricalCrossentropy
    acts = ["relu"] * (len(SIZES) - 1) + [None]
    model = Sequential([layers.Dense(o, activation=a, input_dim=i if k == 0 else None)
                        for k, ((i, o), a) in enumerate(zip(SIZES, acts))])
    model.compile(optimizer="sgd", loss=SparseCategoricalCrossentropy(from_logits=True))
    model.set_weights(weights)
    return model


def torch_model(weights):
    import torch
    mods = []
    for k, (i, o) in enumerate(SIZES):
        lin = torch.nn.Linear(i, o)
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(weights[2 * k].T.copy()))
            lin.bias.copy_(torch.from_numpy(weights[2 * k + 1]))
        mods += [lin] + ([torch.nn.ReLU()] if k < len(SIZES) - 1 else [])
    return torch.nn.Sequential(*mods)


def main():
    C.print_header("Hessian spectra: nnmath.analysis vs PyHessian (94,218-parameter MLP, 1,000 samples)")
    C.setup_threads(torch_too=True)
    import torch
    from pyhessian import hessian as PyHessian
    import scipy.sparse.linalg as sla
    from nnmath.analysis import (as_objective, hessian_operator, hessian_top_eigenvalues,
                                 hessian_trace)
    print(C.versions(("numpy", "scipy", "torch", "pyhessian")))
    X, y, weights = make_problem()
    model = nnmath_model(weights)
    tmodel = torch_model(weights)
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    crit = torch.nn.CrossEntropyLoss()
    with torch.no_grad():
        t_loss = float(crit(tmodel(Xt), yt))
    obj = as_objective(model, x=X, y=y, batch_size=N)
    print(f"loss: nnmath {obj.value():.6f}  torch {t_loss:.6f}  (same model and weights)")
    assert abs(obj.value() - t_loss) < 1e-4 * max(1.0, abs(t_loss))

    # Reference spectrum: ARPACK on the float64 operator, tight tolerance.
    t0 = time.perf_counter()
    op64 = hessian_operator(model, x=X, y=y, batch_size=N, dtype=np.float64)
    ref = np.sort(sla.eigsh(op64, k=5, which="LA", tol=1e-10, return_eigenvectors=False))[::-1]
    print(f"reference top-5 (eigsh float64, {op64.num_matvecs} HVPs, "
          f"{time.perf_counter() - t0:.1f} s): {np.array2string(ref, precision=5)}")

    out = {}

    def nn_top():
        out["nn_top"] = hessian_top_eigenvalues(model, k=5, x=X, y=y, batch_size=N, seed=0)

    def ph_top():
        torch.manual_seed(0)
        h = PyHessian(tmodel, crit, data=(Xt, yt), cuda=False)
        out["ph_top"] = np.array(h.eigenvalues(top_n=5)[0])

    def nn_trace():
        out["nn_trace"] = hessian_trace(model, num_samples=100, x=X, y=y, batch_size=N, seed=0)

    def nn_hutchpp33():
        out["nn_hpp33"] = hessian_trace(model, num_samples=33, method="hutch++", x=X, y=y,
                                        batch_size=N, seed=0)

    def nn_hutchpp99():
        out["nn_hpp99"] = hessian_trace(model, num_samples=99, method="hutch++", x=X, y=y,
                                        batch_size=N, seed=0)

    def ph_trace():
        torch.manual_seed(0)
        h = PyHessian(tmodel, crit, data=(Xt, yt), cuda=False)
        out["ph_trace"] = np.array(h.trace(maxIter=100, tol=0.0))

    import warnings
    warnings.filterwarnings("ignore", message="Using backward\\(\\) with create_graph=True")
    res, shares = C.interleave({"nnmath top-5": nn_top, "PyHessian top-5": ph_top},
                               rounds=ROUNDS, numbers={"nnmath top-5": 1, "PyHessian top-5": 1},
                               label="top-5")
    err_nn = float(np.max(np.abs(out["nn_top"].eigenvalues - ref) / np.abs(ref)))
    err_ph = float(np.max(np.abs(np.sort(out["ph_top"])[::-1] - ref) / np.abs(ref)))
    r = C.ratios(res, "nnmath top-5", "PyHessian top-5")
    print(C.table(["", "time", "HVPs", "max rel err vs eigsh", "returned"], [
        ["nnmath Lanczos", C.fmt_span(res["nnmath top-5"]), str(out["nn_top"].num_hvps),
         f"{err_nn:.1e}", np.array2string(out["nn_top"].eigenvalues, precision=5)],
        ["PyHessian power iteration", C.fmt_span(res["PyHessian top-5"]), "≤ 500",
         f"{err_ph:.1e}", np.array2string(out["ph_top"], precision=5)]]))
    print(f"top-5: nnmath ÷ PyHessian time {C.fmt_ratio(r)}; {C.share_summary(shares)}")

    trace_fns = {"nnmath trace": nn_trace, "nnmath Hutch++ 33": nn_hutchpp33,
                 "nnmath Hutch++ 99": nn_hutchpp99, "PyHessian trace": ph_trace}
    res, shares = C.interleave(trace_fns, rounds=ROUNDS, numbers={k: 1 for k in trace_fns},
                               label="trace")
    tr = out["nn_trace"]
    ph = out["ph_trace"]
    ph_se = float(np.std(ph, ddof=1) / np.sqrt(len(ph)))
    r = C.ratios(res, "nnmath trace", "PyHessian trace")
    print(C.table(["", "time", "estimate ± SE"], [
        ["nnmath Hutchinson (100)", C.fmt_span(res["nnmath trace"]),
         f"{tr.estimate:.3f} ± {tr.standard_error:.3f}"],
        ["PyHessian Hutchinson (100)", C.fmt_span(res["PyHessian trace"]),
         f"{float(np.mean(ph)):.3f} ± {ph_se:.3f} (SE computed here)"]]
        + [[f"nnmath Hutch++ ({m} HVPs)", C.fmt_span(res[f"nnmath Hutch++ {m}"]),
            f"{out[key].estimate:.3f} ± {out[key].standard_error:.3f}"]
           for m, key in ((33, "nn_hpp33"), (99, "nn_hpp99"))]))
    print(f"trace: nnmath ÷ PyHessian time {C.fmt_ratio(r)}; {C.share_summary(shares)}")
    for m, key in ((33, "nn_hpp33"), (99, "nn_hpp99")):
        rr = C.ratios(res, f"nnmath Hutch++ {m}", "PyHessian trace")
        verdict = "at least" if out[key].standard_error <= ph_se else "LESS than"
        print(f"trace: nnmath Hutch++ ({m} HVPs) ÷ PyHessian Hutchinson (100) time "
              f"{C.fmt_ratio(rr)}, standard error {out[key].standard_error:.3f} vs {ph_se:.3f} "
              f"({verdict} PyHessian's accuracy)")

    v = np.random.default_rng(1).standard_normal(obj.size).astype(np.float32)
    res, shares = C.interleave({"grad": lambda: obj.grad_flat(), "hvp": lambda: obj.hvp_flat(v)},
                               rounds=7, label="hvp/grad")
    print(f"nnmath gradient {C.fmt_span(res['grad'])}, HVP {C.fmt_span(res['hvp'])}; "
          f"HVP ÷ gradient {C.fmt_ratio(C.ratios(res, 'hvp', 'grad'))} (target ≤ 3×)")


if __name__ == "__main__":
    main()
