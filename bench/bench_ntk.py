"""Empirical NTK of an MLP: nnmath.analysis.empirical_ntk against JAX's vmap(jacrev) contraction.

Model: Dense(100, tanh) on 20 inputs → Dense(80, tanh) → Dense(1); float64; 20·100+100 +
100·80+80 + 80·1+1 = 10,261 parameters as a list of {"W", "b"} dicts; 200 samples, the
symmetric kernel Θ(X, X) (200 × 200). Same data and weights (seed 0) for both libraries.

Measured (interleaved rounds, median [min–max] and the per-round ratio):
  * nnmath: ``empirical_ntk(apply_fn, params, X)`` (method "auto" → "jacobian": per-sample
    Jacobians by vmap of jacrev, jit-recorded, then one GEMM per parameter leaf);
  * JAX: ``jit`` of vmap(jacrev) per sample and the same contraction (einsum over parameters),
    compile time reported separately;
  * floor: the GEMMs J Jᵀ alone in numpy on the same (200 × P) Jacobian leaves.
Both kernels are checked to agree (relative 1e-12) before timing.

Target: nnmath ÷ JAX ≤ 1.   Run:  python bench/bench_ntk.py
"""
from __future__ import annotations

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common as C  # noqa: E402

import numpy as np  # noqa: E402

SIZES = [(20, 100), (100, 80), (80, 1)]
N = 200
ROUNDS = 7
P = sum(i * o + o for i, o in SIZES)
assert P == 10_261, P


def make_data():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((N, SIZES[0][0]))
    params = [{"W": rng.standard_normal((i, o)) / np.sqrt(i), "b": 0.1 * rng.standard_normal(o)}
              for i, o in SIZES]
    return X, params


def make_apply(ns):
    def apply(params, x):
        h = x
        for k, layer in enumerate(params):
            h = ns.matmul(h, layer["W"]) + layer["b"]
            if k < len(params) - 1:
                h = ns.tanh(h)
        return h
    return apply


def lib_nnmath(X, params):
    import nnmath.numpy as mnp
    from nnmath.analysis.ntk import empirical_ntk
    apply = make_apply(mnp)
    return lambda: empirical_ntk(apply, params, X)


def lib_jax(X, params):
    import jax
    import jax.numpy as jnp
    jax.config.update("jax_enable_x64", True)
    apply = make_apply(jnp)
    p = jax.tree_util.tree_map(jnp.asarray, params)
    x = jnp.asarray(X)

    def ntk(p, x):
        one = lambda p, xi: apply(p, xi[None])[0]          # noqa: E731
        j = jax.vmap(jax.jacrev(one), (None, 0))(p, x)
        leaves = jax.tree_util.tree_leaves(j)
        return sum(jnp.einsum("iap,jbp->ij", a.reshape(a.shape[:2] + (-1,)),
                              a.reshape(a.shape[:2] + (-1,))) for a in leaves)
    t0 = time.perf_counter()
    fn = jax.jit(ntk).lower(p, x).compile()
    compile_s = time.perf_counter() - t0
    return (lambda: fn(p, x).block_until_ready()), compile_s


def gemm_floor(X, params):
    from nnmath.analysis.ntk import _Model
    import nnmath.numpy as mnp
    jac = _Model(make_apply(mnp), params, X).jacobian(X)
    mats = [j.reshape(N, -1) for j in jac]

    def floor():
        acc = None
        for m in mats:
            g = m @ m.T
            acc = g if acc is None else acc + g
        return acc
    return floor


def main():
    C.setup_threads(torch_too=False)
    C.print_header("Empirical NTK, 200 × 200, 10,261-parameter MLP (float64)")
    X, params = make_data()
    ours = lib_nnmath(X, params)
    theirs, compile_s = lib_jax(X, params)
    floor = gemm_floor(X, params)
    a, b = ours(), np.asarray(theirs())
    err = np.abs(a - b).max() / np.abs(b).max()
    print(f"agreement: max |nnmath − JAX| / max |JAX| = {err:.2e}")
    assert err < 1e-12, err
    print(f"JAX compile: {compile_s:.3f} s (not in the timings)\n")
    res, shares = C.interleave({"nnmath": ours, "jax": theirs, "gemm floor": floor},
                               rounds=ROUNDS, target_s=0.5, label="ntk")
    rows = [[name, C.fmt_span(r)] for name, r in res.items()]
    print(C.table(["implementation", "time per kernel"], rows))
    print()
    print(f"nnmath / JAX:        {C.fmt_ratio(C.ratios(res, 'nnmath', 'jax'))}")
    print(f"nnmath / GEMM floor: {C.fmt_ratio(C.ratios(res, 'nnmath', 'gemm floor'))}")
    print(C.share_summary(shares))


if __name__ == "__main__":
    main()
