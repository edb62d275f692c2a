"""GEMM-bound gradient: a chain of three 1024×1024 float32 matmuls with tanh between them.

    L(W1, W2, W3) = sum(tanh(tanh(X W1) W2) W3),   X, W1, W2, W3: 1024×1024 float32

nnmath computes grad w.r.t. (W1, W2, W3). The floor is the same gradient hand-written in numpy,
timed in the same run:

    forward : A1 = X W1, H1 = tanh A1, A2 = H1 W2, H2 = tanh A2, A3 = H2 W3, L = sum A3   (3 GEMMs)
    backward: G = ones, dW3 = H2ᵀ G, dH2 = G W3ᵀ, dA2 = dH2 (1 − H2²), dW2 = H1ᵀ dA2,
              dH1 = dA2 W2ᵀ, dA1 = dH1 (1 − H1²), dW1 = Xᵀ dA1                      (5 GEMMs)

A second floor is the 8 GEMMs alone (same shapes, dtype). PyTorch eager (torch.autograd.grad) and
JAX jit(grad) (compile time reported separately) are for reference; note they use their own GEMM
libraries (MKL/oneDNN and XLA's Eigen), not numpy's OpenBLAS.

Peak RSS: each implementation runs 3 gradient steps in its own fresh process.
Target: nnmath / hand-written floor ≤ 1.15×.   Run:  python bench/bench_matmul_chain.py
"""
from __future__ import annotations

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common as C  # noqa: E402

import numpy as np  # noqa: E402

N = 1024
ROUNDS = 7
NUMBER = 2          # gradient evaluations per timed sample
TARGET = 1.15


def make_data():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((N, N), dtype=np.float32)
    Ws = [(rng.standard_normal((N, N), dtype=np.float32) / np.float32(np.sqrt(N))) for _ in range(3)]
    return X, Ws


# ------------------------------------------------------------------ implementations
def floor_grad(X, W1, W2, W3):
    """Hand-written numpy gradient (straightforward numpy, as a person would write it)."""
    A1 = X @ W1
    H1 = np.tanh(A1)
    A2 = H1 @ W2
    H2 = np.tanh(A2)
    A3 = H2 @ W3
    L = A3.sum()
    G = np.ones_like(A3)
    dW3 = H2.T @ G
    dH2 = G @ W3.T
    dA2 = dH2 * (1 - H2 * H2)
    dW2 = H1.T @ dA2
    dH1 = dA2 @ W2.T
    dA1 = dH1 * (1 - H1 * H1)
    dW1 = X.T @ dA1
    return L, (dW1, dW2, dW3)


def make_gemm_only(X, W1, W2, W3):
    """The 8 GEMMs of one step alone, on fixed operands of the right shapes/dtype."""
    H1, H2 = np.tanh(X @ W1), np.tanh(np.tanh(X @ W1) @ W2)
    G = np.ones_like(H2)
    D = np.ones_like(H2)

    def gemms():
        X @ W1
        H1 @ W2
        H2 @ W3
        H2.T @ G
        G @ W3.T
        H1.T @ D
        D @ W2.T
        X.T @ D
    return gemms


def make_nnmath(X, W1, W2, W3):
    import nnmath as nm
    import nnmath.numpy as mnp

    def loss(W1, W2, W3):
        return mnp.sum(mnp.matmul(mnp.tanh(mnp.matmul(mnp.tanh(mnp.matmul(X, W1)), W2)), W3))

    g = nm.grad(loss, argnums=(0, 1, 2))
    return lambda: g(W1, W2, W3)


def make_torch(X, W1, W2, W3):
    import torch
    torch.set_num_threads(C.THREADS)
    Xt = torch.from_numpy(X)
    Wt = [torch.from_numpy(W).requires_grad_(True) for W in (W1, W2, W3)]

    def step():
        L = torch.sum(torch.tanh(torch.tanh(Xt @ Wt[0]) @ Wt[1]) @ Wt[2])
        return torch.autograd.grad(L, Wt)
    return step


def make_jax(X, W1, W2, W3):
    import jax
    import jax.numpy as jnp
    Xj = jnp.asarray(X)
    Wj = [jnp.asarray(W) for W in (W1, W2, W3)]

    def loss(W1, W2, W3):
        return jnp.sum(jnp.tanh(jnp.tanh(Xj @ W1) @ W2) @ W3)

    g = jax.jit(jax.grad(loss, argnums=(0, 1, 2)))
    t0 = time.perf_counter()
    jax.block_until_ready(g(*Wj))
    compile_s = time.perf_counter() - t0
    return (lambda: jax.block_until_ready(g(*Wj))), compile_s


# ------------------------------------------------------------------ child: one implementation, RSS
def child(name: str):
    C.setup_threads(torch_too=(name == "torch"))
    X, (W1, W2, W3) = make_data()
    if name == "floor":
        fn = lambda: floor_grad(X, W1, W2, W3)
    elif name == "nnmath":
        fn = make_nnmath(X, W1, W2, W3)
    elif name == "torch":
        fn = make_torch(X, W1, W2, W3)
    elif name == "jax":
        fn, _ = make_jax(X, W1, W2, W3)
    else:
        raise SystemExit(f"unknown child {name}")
    base = C.rss_mib()       # after imports and data (inputs: 4 × 4 MiB)
    for _ in range(3):
        out = fn()
        del out
    print(f"RESULT base_mib={base:.1f} peak_mib={C.peak_rss_mib():.1f} "
          f"ru_maxrss_mib={C.ru_maxrss_mib():.1f}")


# ------------------------------------------------------------------ main
def memory_section():
    """Peak RSS per implementation, each in a fresh process (run first, while this parent is small,
    so that ru_maxrss — which Linux carries across fork+exec — is the child's own too)."""
    print("## peak RSS, one implementation per fresh process (3 gradient steps)")
    rows = []
    mem = {}
    for name in ("floor", "nnmath", "torch", "jax"):
        r = C.run_child(os.path.abspath(__file__), ["--child", name])
        base, peak = float(r["base_mib"]), float(r["peak_mib"])
        mem[name] = (base, peak)
        rows.append([name, f"{base:.0f} MiB", f"{peak:.0f} MiB", f"{float(r['ru_maxrss_mib']):.0f} MiB",
                     f"{peak - base:.0f} MiB"])
    print(C.table(["process", "RSS after imports+data", "peak RSS (VmHWM)", "ru_maxrss",
                   "peak − base (the step)"], rows))
    fb, fp = mem["floor"]
    nb, npk = mem["nnmath"]
    print(f"nnmath ÷ floor: peak {npk / fp:.2f}×, step increment {(npk - nb) / (fp - fb):.2f}× "
          f"(one 1024² float32 array = 4 MiB)")

    print()


def check_values(ref, outs: dict):
    _, ref_g = ref
    for name, grads in outs.items():
        for i, (a, b) in enumerate(zip(grads, ref_g)):
            a = np.asarray(a)
            assert a.dtype == np.float32, (name, a.dtype)
            err = np.abs(a - b).max() / np.abs(b).max()
            assert err < 1e-4, f"{name} dW{i + 1} differs from the floor: max rel err {err:.2e}"


def main():
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        return child(sys.argv[2])
    C.setup_threads()
    C.print_header("bench_matmul_chain: grad of sum(tanh(tanh(X W1) W2) W3), 1024² float32, "
                   "w.r.t. W1, W2, W3")
    memory_section()
    X, (W1, W2, W3) = make_data()
    nm_fn = make_nnmath(X, W1, W2, W3)
    th_fn = make_torch(X, W1, W2, W3)
    jx_fn, jx_compile = make_jax(X, W1, W2, W3)
    gemm_fn = make_gemm_only(X, W1, W2, W3)
    ref = floor_grad(X, W1, W2, W3)
    check_values(ref, {"nnmath": nm_fn(), "torch": [t.numpy() for t in th_fn()],
                       "jax": [np.asarray(a) for a in jx_fn()]})
    print("values checked: nnmath, PyTorch and JAX gradients agree with the floor "
          "(max |Δ| / max |ref| < 1e-4, float32)")
    print(f"JAX jit compile + first call: {C.fmt_time(jx_compile)} (excluded below)\n")

    impls = {
        "8 GEMMs alone (numpy)": gemm_fn,
        "hand-written numpy floor": lambda: floor_grad(X, W1, W2, W3),
        "nnmath grad": nm_fn,
        "PyTorch eager": th_fn,
        "JAX jit(grad)": jx_fn,
    }
    res, shares = C.interleave(impls, rounds=ROUNDS, numbers={k: NUMBER for k in impls},
                               label="matmul chain")
    flops = 8 * 2 * N ** 3
    rows = []
    for name, r in res.items():
        ratio = "—" if name == "nnmath grad" else C.fmt_ratio(C.ratios(res, "nnmath grad", name))
        rows.append([name, C.fmt_span(r), f"{flops / r.median / 1e9:.0f}", ratio])
    print(f"## time per gradient ({ROUNDS} interleaved rounds × {NUMBER} evaluations; "
          f"median [min–max])")
    print(C.table(["implementation", "time", "GFLOP/s (8 GEMMs)", "nnmath ÷ this"], rows))
    print(C.share_summary(shares))
    r_floor = C.ratios(res, "nnmath grad", "hand-written numpy floor")
    met = "MET" if r_floor.median <= TARGET else "MISSED"
    print(f"target nnmath / hand-written floor ≤ {TARGET}×: {C.fmt_ratio(r_floor)} → {met}")
    r_gemm = C.ratios(res, "nnmath grad", "8 GEMMs alone (numpy)")
    print(f"nnmath step ÷ GEMM time: {C.fmt_ratio(r_gemm)}; "
          f"floor ÷ GEMM time: {C.fmt_ratio(C.ratios(res, 'hand-written numpy floor', '8 GEMMs alone (numpy)'))}\n")


if __name__ == "__main__":
    main()
