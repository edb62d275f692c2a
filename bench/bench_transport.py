"""Optimal transport against POT and scipy, interleaved in one run (see shared/BENCHMARKING.md).

Measured:
  * Sinkhorn, 1,000 × 1,000 points uniform in the unit square, squared Euclidean cost (ot.dist),
    uniform weights, ε = 0.01, float64: ``nnmath.analysis.transport.sinkhorn(a, b, M, 0.01,
    tol=1e-9)`` against ``ot.sinkhorn(a, b, M, 0.01, method="sinkhorn_log", stopThr=1e-9)``.
    Same tolerance: POT stops on ‖Pᵀ1 − b‖₂ < 1e-9, nnmath on ‖Pᵀ1 − b‖₁ < 1e-9 (stricter).
    Each call solves from scratch; the plans are checked to agree before timing.
  * 1-D Wasserstein W₁ of 10⁶ points against ``scipy.stats.wasserstein_distance``: equal sizes
    unweighted (10⁶ vs 10⁶), and unequal sizes with weights (10⁶ vs 7·10⁵). Values checked equal.

Targets: Sinkhorn ≤ 1.5× POT; W₁ ≤ 1.5× scipy.   Run:  python bench/bench_transport.py
(NNMATH_BENCH_SINKHORN_ROUNDS, default 5, sets the Sinkhorn rounds: one POT solve is ~10–40 s.)
"""
from __future__ import annotations

import os
import sys
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common as C  # noqa: E402

import numpy as np  # noqa: E402

SINKHORN_ROUNDS = int(os.environ.get("NNMATH_BENCH_SINKHORN_ROUNDS", "5"))
W1_ROUNDS = 7
TARGET = 1.5


def main() -> None:
    C.setup_threads(torch_too=False)
    import ot
    import scipy
    import scipy.stats
    from nnmath.analysis.transport import sinkhorn, wasserstein_distance
    C.print_header("optimal transport: nnmath vs POT (Sinkhorn) and scipy (1-D Wasserstein)")
    print(f"POT {ot.__version__}, scipy {scipy.__version__}\n")
    rows = []

    # ---------------------------------------------------------------- Sinkhorn
    rng = np.random.default_rng(0)
    n = 1000
    x, y = rng.random((n, 2)), rng.random((n, 2))
    M = ot.dist(x, y)
    a = b = np.full(n, 1.0 / n)
    reg, tol = 0.01, 1e-9
    ours = sinkhorn(a, b, M, reg, tol=tol)
    P_pot, log = ot.sinkhorn(a, b, M, reg, method="sinkhorn_log", stopThr=tol, log=True)
    diff = float(np.abs(ours.plan - P_pot).max() / P_pot.max())
    print(f"Sinkhorn {n}×{n}, ε={reg}: nnmath {ours.n_iter} iterations, marginal error "
          f"{ours.marginal_error:.2e}; POT {log['niter']} iterations; max |ΔP|/max P = {diff:.2e}; "
          f"cost {float(ours.cost):.12g} vs {float(np.sum(P_pot * M)):.12g}")
    assert diff < 1e-6, "the plans disagree: not the same work"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res, shares = C.interleave(
            {"nnmath": lambda: sinkhorn(a, b, M, reg, tol=tol),
             "POT": lambda: ot.sinkhorn(a, b, M, reg, method="sinkhorn_log", stopThr=tol)},
            rounds=SINKHORN_ROUNDS, numbers={"nnmath": 1, "POT": 1}, label="sinkhorn")
    r = C.ratios(res, "nnmath", "POT")
    rows.append([f"Sinkhorn {n}×{n}, ε={reg}", C.fmt_span(res["nnmath"]), C.fmt_span(res["POT"]),
                 C.fmt_ratio(r), "ok" if r.median <= TARGET else "MISSED"])
    print("  " + C.share_summary(shares))

    # ---------------------------------------------------------------- 1-D Wasserstein
    for label, nu, nv, weighted in (("W₁ 10⁶ vs 10⁶", 10 ** 6, 10 ** 6, False),
                                    ("W₁ 10⁶ vs 7·10⁵, weighted", 10 ** 6, 7 * 10 ** 5, True)):
        u, v = rng.normal(size=nu), rng.normal(0.5, 2.0, size=nv)
        uw = rng.random(nu) if weighted else None
        vw = rng.random(nv) if weighted else None
        got = wasserstein_distance(u, v, uw, vw)
        want = scipy.stats.wasserstein_distance(u, v, uw, vw)
        print(f"{label}: nnmath {got:.15g}, scipy {want:.15g}")
        assert abs(got - want) <= 1e-9 * abs(want), "the values disagree: not the same work"
        res, shares = C.interleave(
            {"nnmath": lambda: wasserstein_distance(u, v, uw, vw),
             "scipy": lambda: scipy.stats.wasserstein_distance(u, v, uw, vw)},
            rounds=W1_ROUNDS, label=label)
        r = C.ratios(res, "nnmath", "scipy")
        rows.append([label, C.fmt_span(res["nnmath"]), C.fmt_span(res["scipy"]), C.fmt_ratio(r),
                     "ok" if r.median <= TARGET else "MISSED"])
        print("  " + C.share_summary(shares))

    print()
    print(C.table(["work", "nnmath", "peer", "nnmath ÷ peer", f"≤ {TARGET}×"], rows))
    print(f"\npeak RSS {C.ru_maxrss_mib():.0f} MiB")


if __name__ == "__main__":
    main()
