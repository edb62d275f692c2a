"""Per-call overhead of nnmath's transforms on a tiny function, against numpy and the peers.

    f(x) = sum(tanh(x) * 2 + 1),  x: 10 float64 elements

Measured (each interleaved A B C … over ROUNDS rounds, one sample = mean over many calls):
  * grad:  numpy forward alone; hand-written numpy forward+gradient (the floor for a numpy engine);
           nnmath grad(f); JAX jit(grad(f)) (compile excluded, block_until_ready); PyTorch eager
           (fresh leaf with requires_grad, forward, backward, read .grad); HIPS autograd grad(f).
  * jvp:   same roles, with nnmath.jvp, jax.jit(jvp), torch.func.jvp, autograd.make_jvp.
  * 2nd derivative of the scalar function f_s(s) = tanh(s) * 2 + 1: grad(grad(f_s)) at s = 0.3;
           torch via autograd.grad(create_graph=True) twice.

nnmath is timed twice: traced on every call, and as nm.jit(transform) (recorded once, then a
replayed plan of numpy calls; the counterpart of JAX's jit).

Targets: nnmath / numpy-forward ≤ 3× (each transform). Run:  python bench/bench_overhead.py
Add --profile to print a cProfile of nnmath grad (top functions by tottime).
"""
from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common as C  # noqa: E402  (sets env for JAX before it is imported)

import numpy as np  # noqa: E402

ROUNDS = 9
TARGET = 3.0


def build():
    import autograd
    import autograd.numpy as anp
    import jax
    import jax.numpy as jnp
    import torch
    import nnmath as nm
    import nnmath.numpy as mnp

    jax.config.update("jax_enable_x64", True)
    rng = np.random.default_rng(0)
    x = rng.standard_normal(10)
    v = rng.standard_normal(10)
    s = np.float64(0.3)

    # ---------------------------------------------------------------- the function in each library
    f_np = lambda x: np.sum(np.tanh(x) * 2 + 1)
    f_nm = lambda x: mnp.sum(mnp.tanh(x) * 2 + 1)
    f_jx = lambda x: jnp.sum(jnp.tanh(x) * 2 + 1)
    f_th = lambda x: torch.sum(torch.tanh(x) * 2 + 1)
    f_ag = lambda x: anp.sum(anp.tanh(x) * 2 + 1)
    fs_np = lambda s: np.tanh(s) * 2 + 1
    fs_nm = lambda s: mnp.tanh(s) * 2 + 1
    fs_jx = lambda s: jnp.tanh(s) * 2 + 1
    fs_th = lambda s: torch.tanh(s) * 2 + 1
    fs_ag = lambda s: anp.tanh(s) * 2 + 1

    # ---------------------------------------------------------------- references
    t = np.tanh(x)
    ref_grad = 2 * (1 - t * t)
    ref_jvp = (f_np(x), float(np.dot(ref_grad, v)))
    ts = np.tanh(s)
    ref_d2 = -4 * ts * (1 - ts * ts)

    # ---------------------------------------------------------------- grad
    def np_grad_floor():
        t = np.tanh(x)
        return 2 * (1 - t * t)

    g_nm = nm.grad(f_nm)
    jg_nm = nm.jit(g_nm)
    g_jx = jax.jit(jax.grad(f_jx))
    xj = jnp.asarray(x)
    g_jx(xj).block_until_ready()           # compile outside the timing

    def g_th():
        xt = torch.from_numpy(x).requires_grad_(True)
        f_th(xt).backward()
        return xt.grad

    g_ag = autograd.grad(f_ag)
    grad_impls = {
        "numpy forward": lambda: f_np(x),
        "numpy fwd+grad (hand)": np_grad_floor,
        "nnmath grad": lambda: g_nm(x),
        "nnmath jit(grad)": lambda: jg_nm(x),
        "JAX jit(grad)": lambda: g_jx(xj).block_until_ready(),
        "PyTorch eager": g_th,
        "autograd grad": lambda: g_ag(x),
    }
    grad_check = {
        "numpy fwd+grad (hand)": np_grad_floor(),
        "nnmath grad": g_nm(x),
        "nnmath jit(grad)": jg_nm(x),
        "JAX jit(grad)": np.asarray(g_jx(xj)),
        "PyTorch eager": g_th().numpy(),
        "autograd grad": g_ag(x),
    }
    for k, val in grad_check.items():
        assert np.allclose(val, ref_grad, rtol=1e-12, atol=1e-14), (k, val, ref_grad)

    # ---------------------------------------------------------------- jvp
    def np_jvp_floor():
        t = np.tanh(x)
        return np.sum(t * 2 + 1), np.dot(2 * (1 - t * t), v)

    j_jx = jax.jit(lambda x, v: jax.jvp(f_jx, (x,), (v,)))
    vj = jnp.asarray(v)
    jax.block_until_ready(j_jx(xj, vj))
    xt0, vt0 = torch.from_numpy(x), torch.from_numpy(v)
    import torch.func
    j_th = lambda: torch.func.jvp(f_th, (xt0,), (vt0,))
    j_ag = autograd.make_jvp(f_ag)
    jj_nm = nm.jit(lambda x, v: nm.jvp(f_nm, (x,), (v,)))
    jvp_impls = {
        "numpy forward": lambda: f_np(x),
        "numpy fwd+jvp (hand)": np_jvp_floor,
        "nnmath jvp": lambda: nm.jvp(f_nm, (x,), (v,)),
        "nnmath jit(jvp)": lambda: jj_nm(x, v),
        "JAX jit(jvp)": lambda: jax.block_until_ready(j_jx(xj, vj)),
        "torch.func.jvp": j_th,
        "autograd make_jvp": lambda: j_ag(x)(v),
    }
    jvp_check = {
        "numpy fwd+jvp (hand)": np_jvp_floor(),
        "nnmath jvp": nm.jvp(f_nm, (x,), (v,)),
        "nnmath jit(jvp)": jj_nm(x, v),
        "JAX jit(jvp)": tuple(np.asarray(a) for a in j_jx(xj, vj)),
        "torch.func.jvp": tuple(a.numpy() for a in j_th()),
        "autograd make_jvp": j_ag(x)(v),
    }
    for k, (p, tn) in jvp_check.items():
        assert np.allclose(p, ref_jvp[0], rtol=1e-12) and np.allclose(tn, ref_jvp[1], rtol=1e-12), \
            (k, p, tn, ref_jvp)

    # ---------------------------------------------------------------- 2nd derivative
    def np_d2_floor():
        t = np.tanh(s)
        return -4 * t * (1 - t * t)

    gg_nm = nm.grad(nm.grad(fs_nm))
    jgg_nm = nm.jit(gg_nm)
    gg_jx = jax.jit(jax.grad(jax.grad(fs_jx)))
    sj = jnp.asarray(s)
    gg_jx(sj).block_until_ready()

    def gg_th():
        st = torch.tensor(s, dtype=torch.float64, requires_grad=True)
        (g,) = torch.autograd.grad(fs_th(st), st, create_graph=True)
        (h,) = torch.autograd.grad(g, st)
        return h

    gg_ag = autograd.grad(autograd.grad(fs_ag))
    d2_impls = {
        "numpy forward": lambda: fs_np(s),
        "numpy d2 (hand)": np_d2_floor,
        "nnmath grad(grad)": lambda: gg_nm(s),
        "nnmath jit(grad(grad))": lambda: jgg_nm(s),
        "JAX jit(grad(grad))": lambda: gg_jx(sj).block_until_ready(),
        "PyTorch eager double-backward": gg_th,
        "autograd grad(grad)": lambda: gg_ag(s),
    }
    d2_check = {
        "numpy d2 (hand)": np_d2_floor(),
        "nnmath grad(grad)": gg_nm(s),
        "nnmath jit(grad(grad))": jgg_nm(s),
        "JAX jit(grad(grad))": float(gg_jx(sj)),
        "PyTorch eager double-backward": float(gg_th()),
        "autograd grad(grad)": gg_ag(s),
    }
    for k, val in d2_check.items():
        assert np.allclose(val, ref_d2, rtol=1e-12), (k, val, ref_d2)

    return [("grad", grad_impls, "nnmath grad"), ("jvp", jvp_impls, "nnmath jvp"),
            ("2nd derivative", d2_impls, "nnmath grad(grad)")], g_nm, x


def _jitted(name: str) -> str:
    """'nnmath grad(grad)' → 'nnmath jit(grad(grad))'."""
    return "nnmath jit(" + name.split(" ", 1)[1] + ")"


def main():
    C.setup_threads()
    C.print_header("bench_overhead: per-call overhead on f(x) = sum(tanh(x)*2+1), 10 float64")
    sections, g_nm, x = build()
    print("values checked: every implementation agrees with the analytic derivative (rtol 1e-12)\n")
    summary = []
    for title, impls, nm_name in sections:
        res, shares = C.interleave(impls, rounds=ROUNDS, label=title)
        rows = []
        for name, r in res.items():
            ratio = "—" if name == nm_name else C.fmt_ratio(C.ratios(res, nm_name, name))
            rows.append([name, C.fmt_span(r), ratio])
        print(f"## {title}  ({ROUNDS} interleaved rounds; median [min–max] per call)")
        print(C.table(["implementation", "time per call", f"{nm_name} ÷ this"], rows))
        print(C.share_summary(shares))
        for name in (nm_name, _jitted(nm_name)):
            r_fwd = C.ratios(res, name, "numpy forward")
            met = "MET" if r_fwd.median <= TARGET else "MISSED"
            print(f"target {name} / numpy forward ≤ {TARGET:.0f}×: {C.fmt_ratio(r_fwd)} → {met}")
            summary.append([name, C.fmt_ratio(r_fwd), f"≤ {TARGET:.0f}×", met])
        print()
    print("## summary")
    print(C.table(["transform", "nnmath ÷ numpy forward", "target", "status"], summary))

    if "--profile" in sys.argv:
        import cProfile
        import pstats
        pr = cProfile.Profile()
        pr.enable()
        for _ in range(20000):
            g_nm(x)
        pr.disable()
        print("\n## cProfile of 20,000 calls of nnmath grad(f)(x), top 15 by tottime")
        pstats.Stats(pr, stream=sys.stdout).strip_dirs().sort_stats("tottime").print_stats(15)


if __name__ == "__main__":
    main()
