"""nnmath.scipy.stats against scipy.stats, interleaved in one run (see shared/BENCHMARKING.md).

Measured: logpdf/logpmf of 10⁶ float64 points (fixed seed), same parameters, for ``norm``
(loc, scale given), ``t``, ``gamma``, ``beta``, ``poisson`` and a 3-D ``multivariate_normal``;
the values are checked to agree (rtol 1e-10) before timing. Untraced calls: nnmath runs its
numpy formulas directly (the primitives' fast path), scipy its ``rv_continuous`` machinery.
For information (no peer: scipy has no derivatives), the time of nnmath's ``value_and_grad`` of
Σ logpdf with respect to the parameters.

Target: logpdf ≤ 1.5× scipy.   Run:  python bench/bench_stats.py
(NNMATH_BENCH_STATS_ROUNDS, default 7, sets the rounds.)
"""
from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common as C  # noqa: E402

import numpy as np  # noqa: E402

ROUNDS = int(os.environ.get("NNMATH_BENCH_STATS_ROUNDS", "7"))
N = 10 ** 6
TARGET = 1.5


def main() -> None:
    C.setup_threads(torch_too=False)
    import scipy
    import scipy.stats as ss

    import nnmath as nm
    import nnmath.numpy as mnp
    from nnmath.scipy import stats
    C.print_header("nnmath.scipy.stats vs scipy.stats: logpdf of 10⁶ points")
    print(f"scipy {scipy.__version__}\n")
    rng = np.random.default_rng(0)
    x = rng.normal(size=N)
    pos = rng.gamma(2.5, size=N)
    unit = rng.beta(2.0, 3.0, size=N)
    k = rng.poisson(3.2, size=N).astype(float)
    cov = np.array([[2.0, 0.3, 0.1], [0.3, 1.0, -0.2], [0.1, -0.2, 0.5]])
    mean = np.array([0.1, -0.2, 0.3])
    xd = rng.multivariate_normal(mean, cov, size=N)
    cases = [
        ("norm.logpdf(x, loc, scale)", lambda: stats.norm.logpdf(x, 0.3, 1.7),
         lambda: ss.norm.logpdf(x, 0.3, 1.7)),
        ("t.logpdf(x, df=3.5)", lambda: stats.t.logpdf(x, 3.5), lambda: ss.t.logpdf(x, 3.5)),
        ("gamma.logpdf(x, a=2.5, scale=1.3)", lambda: stats.gamma.logpdf(pos, 2.5, scale=1.3),
         lambda: ss.gamma.logpdf(pos, 2.5, scale=1.3)),
        ("beta.logpdf(x, 2, 3)", lambda: stats.beta.logpdf(unit, 2.0, 3.0),
         lambda: ss.beta.logpdf(unit, 2.0, 3.0)),
        ("poisson.logpmf(k, 3.2)", lambda: stats.poisson.logpmf(k, 3.2), lambda: ss.poisson.logpmf(k, 3.2)),
        ("multivariate_normal.logpdf (d=3)", lambda: stats.multivariate_normal.logpdf(xd, mean, cov),
         lambda: ss.multivariate_normal.logpdf(xd, mean, cov)),
    ]
    rows = []
    for label, ours, peer in cases:
        a, b = ours(), peer()
        err = float(np.max(np.abs(a - b) / (1 + np.abs(b))))
        print(f"{label}: max relative difference {err:.2e}")
        assert err < 1e-10, "the values disagree: not the same work"
        res, shares = C.interleave({"nnmath": ours, "scipy": peer}, rounds=ROUNDS, label=label)
        r = C.ratios(res, "nnmath", "scipy")
        rows.append([label, C.fmt_span(res["nnmath"]), C.fmt_span(res["scipy"]), C.fmt_ratio(r),
                     "ok" if r.median <= TARGET else "MISSED"])
        print("  " + C.share_summary(shares))

    # information: a gradient in the parameters (no scipy counterpart)
    vg = nm.value_and_grad(lambda loc, scale: mnp.sum(stats.norm.logpdf(x, loc, scale)), argnums=(0, 1))
    res, _ = C.interleave({"nnmath value_and_grad": lambda: vg(0.3, 1.7),
                           "scipy logpdf": lambda: ss.norm.logpdf(x, 0.3, 1.7)},
                          rounds=ROUNDS, label="grad")
    r = C.ratios(res, "nnmath value_and_grad", "scipy logpdf")
    rows.append(["norm: value_and_grad in (loc, scale) (info)", C.fmt_span(res["nnmath value_and_grad"]),
                 C.fmt_span(res["scipy logpdf"]) + " (logpdf only)", C.fmt_ratio(r), "—"])
    print()
    print(C.table(["work (10⁶ points, float64)", "nnmath", "scipy", "nnmath ÷ scipy", f"≤ {TARGET}×"],
                  rows))
    print(f"\npeak RSS {C.ru_maxrss_mib():.0f} MiB")


if __name__ == "__main__":
    main()
