"""Speed of recorded (``nm.jit``) computations: nnmath revisions against each other and the peers.

Workloads (same data, fixed seeds, as in bench_overhead / bench_second_order / bench_training):

  gg   jit(grad(grad(f_s))), f_s(s) = tanh(s)·2 + 1 at the numpy float64 scalar s = 0.3;
       peers: JAX jit(grad(grad)) (x64, device scalar, block_until_ready), hand-written numpy
       f″(s) = −4 tanh s (1 − tanh² s).
  g    jit(grad(f)), f(x) = Σ tanh(x)·2 + 1 on 10 float64; peers: JAX jit(grad),
       numpy 2(1 − tanh² x).
  hvp  jit(hvp) of the Keras reference MLP as a function of its 5,699 parameters (float64, batch
       256, bench_second_order's loss and data); peer: JAX jit(jvp(grad)).
  fit  the reference fit (bench_training: 20-64-64-3 softmax, MSE, Adam, batch 32, 50 epochs with
       validation, 1,250 steps), reported per step; peers: hand-written numpy loop, JAX jit step.
  gemm bench_training's GEMM-bound MLP 784-1024-1024-10 (batch 256, softmax cross-entropy, Adam),
       4 steps per sample, reported per step; same peers.

Each sample reports wall time and the worker's CPU time (all its threads; with ``--threads 1``
nnmath's and numpy's CPU time hardly depends on other load on the machine, wall time does).
Every implementation runs in its own long-lived worker process (one per nnmath tree and per group:
"deriv" = gg, g, hvp with JAX x64 on; "fit" = fit, gemm with JAX in float32), built and warmed
once; the parent runs interleaved rounds (order rotated), asking each worker for one sample per
workload, and measures each round's background CPU share (system busy ticks minus the workers'
own). Values are printed before timing: nnmath trees must agree bit for bit with each other
(checked), peers to rounding.

Run:   python bench/bench_jit.py                                   (working tree + peers)
       python bench/bench_jit.py --tree before=/path/a --tree after=/path/b [--noinplace after]
Flags: --only gg,g,hvp,fit,gemm  --rounds N  --skip jax,numpy  --threads N (BLAS, default 2)
``--tree NAME=PATH`` puts PATH first on the workers' sys.path (an unpacked nnmath tree, e.g.
``git archive REV | tar -x -C PATH``); ``--noinplace NAME`` adds NAME with NNMATH_JIT_INPLACE=0.
Smoke test on a busy machine: NNMATH_BENCH_QUIET_LIMIT=1 NNMATH_BENCH_MAX_WAIT=0.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
GROUPS = {"deriv": ("gg", "g", "hvp"), "fit": ("fit", "gemm")}
TARGET_S = 0.2          # one sample of a fast workload: about this long
SETTLE_S = 0.3          # pause before each sample (not timed): idle threads of the last worker park


# ============================================================================ workers
def _nnmath_workloads(group):
    import numpy as np
    import nnmath as nm
    import nnmath.numpy as mnp
    out = {}
    if group == "deriv":
        import bench_second_order as S
        fs = lambda s: mnp.tanh(s) * 2.0 + 1.0
        gg, s = nm.jit(nm.grad(nm.grad(fs))), np.float64(0.3)
        out["gg"] = (lambda: gg(s), lambda: gg(s))
        f = lambda x: mnp.sum(mnp.tanh(x) * 2.0 + 1.0)
        g, x = nm.jit(nm.grad(f)), np.random.default_rng(0).standard_normal(10)
        out["g"] = (lambda: g(x), lambda: g(x))
        X, Y, th, v = S.make_data()
        loss = S.make_loss(mnp, X, Y, lambda h: mnp.maximum(h, 0))
        hv = nm.jit(lambda th, v: nm.hvp(loss, (th,), (v,)))
        out["hvp"] = (lambda: hv(th, v), lambda: nm.tree_leaves(hv(th, v))[-1])
    else:
        import bench_training as B
        X, Y, labels = B.ref_data()
        W0 = B.mlp_weights((B.REF_D, 64, 64, B.REF_K), 1)
        run = B.ref_nnmath(X, Y, labels, W0, B.ref_perms())
        out["fit"] = (run, run)
        gemm = B.gemm_impls(set(), only="nnmath fit")["nnmath fit"]
        out["gemm"] = (gemm, gemm)
    return out


def _peer_workloads(group, impl):
    import numpy as np
    out = {}
    if group == "deriv" and impl == "jax":
        import jax
        import jax.numpy as jnp
        import bench_second_order as S
        jax.config.update("jax_enable_x64", True)
        gg = jax.jit(jax.grad(jax.grad(lambda s: jnp.tanh(s) * 2.0 + 1.0)))
        s = jnp.asarray(0.3)
        out["gg"] = (lambda: gg(s).block_until_ready(), lambda: np.asarray(gg(s)))
        g = jax.jit(jax.grad(lambda x: jnp.sum(jnp.tanh(x) * 2.0 + 1.0)))
        x = jnp.asarray(np.random.default_rng(0).standard_normal(10))
        out["g"] = (lambda: g(x).block_until_ready(), lambda: np.asarray(g(x)))
        X, Y, th, v = S.make_data()
        loss = S.make_loss(jnp, jnp.asarray(X), jnp.asarray(Y), jax.nn.relu)
        hv = jax.jit(lambda th, v: jax.jvp(jax.grad(loss), (th,), (v,))[1])
        th, v = jnp.asarray(th), jnp.asarray(v)
        out["hvp"] = (lambda: hv(th, v).block_until_ready(), lambda: np.asarray(hv(th, v)))
    elif group == "deriv" and impl == "numpy":
        s = np.float64(0.3)

        def gg():
            t = np.tanh(s)
            return -4.0 * t * (1.0 - t * t)
        x = np.random.default_rng(0).standard_normal(10)

        def g():
            t = np.tanh(x)
            return 2.0 * (1.0 - t * t)
        out["gg"], out["g"] = (gg, gg), (g, g)
    elif group == "fit":
        import bench_training as B
        X, Y, labels = B.ref_data()
        make = B.ref_jax if impl == "jax" else B.ref_numpy
        run = make(X, Y, labels, B.mlp_weights((B.REF_D, 64, 64, B.REF_K), 1), B.ref_perms())
        out["fit"] = (run, run)
        name = "JAX jit" if impl == "jax" else "numpy (hand-written)"
        gemm = B.gemm_impls(set(), only=name)[name]
        out["gemm"] = (gemm, gemm)
    return out


def worker(group, impl):
    """Serve timing requests on stdin: 'NAME NUMBER' → one line of JSON (seconds per call)."""
    if group == "fit":
        os.environ["JAX_ENABLE_X64"] = "0"
    sys.path.insert(0, HERE)
    import numpy as np
    import _common as C                              # (puts the repository first on sys.path)
    tree = os.environ.get("NNMATH_BENCH_TREE")
    if tree:
        sys.path.insert(0, tree)                     # … so the tree under test goes before it
    C.THREADS = int(os.environ.get("NNMATH_BENCH_THREADS", C.THREADS))
    C.setup_threads(torch_too=False)
    import nnmath
    work = (_peer_workloads(group, impl) if impl in ("jax", "numpy")
            else _nnmath_workloads(group))
    values, numbers = {}, {}
    for name, (fn, value) in work.items():
        fn()                                         # record / compile, then the value check
        flat = np.ravel(np.asarray(value(), dtype=np.float64))
        picks = (0, 100, 5000) if name == "hvp" else range(min(6, flat.size))
        values[name] = [float(flat[i]) for i in picks]
        numbers[name] = 1 if name in ("fit", "gemm") else C.calibrate(fn, TARGET_S)
    print(json.dumps({"pid": os.getpid(), "nnmath": os.path.dirname(nnmath.__file__),
                      "values": values, "numbers": numbers}), flush=True)
    import time as _time
    for line in sys.stdin:
        name, number = line.split()
        c0 = _time.process_time()
        wall = C.time_block(work[name][0], int(number))
        print(json.dumps([wall, (_time.process_time() - c0) / int(number)]), flush=True)


# ============================================================================ parent
def _ticks(pid):
    with open(f"/proc/{pid}/stat") as fh:
        f = fh.read().rsplit(")", 1)[1].split()
    return int(f[11]) + int(f[12])                  # utime + stime


class Worker:
    def __init__(self, group, impl, label, env):
        self.label = label
        cmd = [sys.executable, os.path.abspath(__file__), "--worker", group, impl]
        self.p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                  env=env)
        line = self.p.stdout.readline()
        if not line:
            raise RuntimeError(f"worker {label} ({group}) failed to start")
        self.info = json.loads(line)

    def sample(self, name):
        time.sleep(SETTLE_S)        # the previous worker's BLAS/XLA threads stop spinning
        self.p.stdin.write(f"{name} {self.info['numbers'][name]}\n")
        self.p.stdin.flush()
        return json.loads(self.p.stdout.readline())

    def close(self):
        self.p.stdin.close()
        self.p.wait(timeout=60)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tree", action="append", default=[], metavar="NAME=PATH")
    ap.add_argument("--noinplace", action="append", default=[], metavar="NAME")
    ap.add_argument("--only", default="gg,g,hvp,fit,gemm")
    ap.add_argument("--skip", default="")
    ap.add_argument("--rounds", type=int, default=9)
    ap.add_argument("--threads", type=int, default=None,
                    help="BLAS threads in the workers (default 2; JAX keeps its own pool)")
    ap.add_argument("--worker", nargs=2, metavar=("GROUP", "IMPL"))
    a = ap.parse_args()
    if a.worker:
        return worker(*a.worker)
    sys.path.insert(0, HERE)
    import _common as C
    import numpy  # noqa: F401  (loaded, so that the header can report numpy's BLAS)
    C.print_header("bench_jit: recorded steps (nm.jit), nnmath trees vs peers")
    trees = dict(t.split("=", 1) for t in a.tree) or {"nnmath": REPO}
    if a.threads:
        os.environ["NNMATH_BENCH_THREADS"] = str(a.threads)
        print(f"BLAS threads in the workers: {a.threads}")
    only, skip = set(a.only.split(",")), set(filter(None, a.skip.split(",")))
    impls = [(name, "nnmath", {"NNMATH_BENCH_TREE": os.path.abspath(p)})
             for name, p in trees.items()]
    impls += [(f"{name} NNMATH_JIT_INPLACE=0", "nnmath",
               {"NNMATH_BENCH_TREE": os.path.abspath(trees[name]), "NNMATH_JIT_INPLACE": "0"})
              for name in a.noinplace]
    impls += [(p, p, {"NNMATH_BENCH_TREE": REPO}) for p in ("jax", "numpy") if p not in skip]
    for group, names in GROUPS.items():
        names = [n for n in names if n in only]
        if not names:
            continue
        workers = [Worker(group, impl, label, {**os.environ, **env}) for label, impl, env in impls]
        workers = [w for w in workers if any(n in w.info["numbers"] for n in names)]
        print(f"## group {group}: "
              + "; ".join(f"{w.label} → {w.info['nnmath']}" for w in workers))
        for n in names:
            print(f"values {n}: " + "; ".join(f"{w.label} {w.info['values'][n]}" for w in workers
                                              if n in w.info["values"]))
            nm_vals = [w.info["values"][n] for w in workers if n in w.info["values"]
                       and w.label not in ("jax", "numpy")]
            print(f"  nnmath trees bit-identical: {all(v == nm_vals[0] for v in nm_vals)}")
        C.wait_quiet()
        samples = {(w.label, n): [] for w in workers for n in names if n in w.info["numbers"]}
        shares, r = [], 0
        while len(shares) < a.rounds:
            order = workers[r % len(workers):] + workers[:r % len(workers)]
            r += 1
            t0 = C._proc_stat()
            own0 = sum(_ticks(w.p.pid) for w in workers)
            got = {}
            for n in names:
                for w in order:
                    if n in w.info["numbers"]:
                        got[(w.label, n)] = w.sample(n)
            t1 = C._proc_stat()
            own1 = sum(_ticks(w.p.pid) for w in workers)
            total = t1[1] - t0[1]
            share = max(0.0, (t1[0] - t0[0]) - (own1 - own0)) / total if total > 0 else 0.0
            if share > C.QUIET_LIMIT and r < 4 * a.rounds:
                print(f"  round discarded: background {share:.0%}", flush=True)
                continue
            shares.append(share)
            for k, v in got.items():
                samples[k].append(v)
        for n, (col, what) in ((n, c) for n in names for c in ((0, "wall"), (1, "CPU"))):
            scale = {"fit": 1 / 1250, "gemm": 1 / 4}.get(n, 1.0)
            rows = [(lab, C.Result(lab, [s[col] * scale for s in samples[(lab, n)]]))
                    for lab, nn in samples if nn == n]
            base = rows[0][0]
            peers = [lab for lab, _ in rows if lab == "jax"]
            per = {"fit": " (per step = fit ÷ 1,250)",
                   "gemm": " (per step = 4 steps ÷ 4)"}.get(n, "")
            print(f"\n### {n}{per}, {what} time per call (CPU: this process, all its threads); "
                  f"{len(shares)} rounds, median [min–max]; ratios per round")
            table = []
            for lab, res in rows:
                rat = [C.fmt_ratio(C.Result("", [x[col] / y[col] for x, y in
                                                 zip(samples[(lab, n)], samples[(o, n)])]))
                       for o in [base] + peers]
                table.append([lab, C.fmt_span(res)] + rat)
            print(C.table(["implementation", "time"] + [f"÷ {o}" for o in [base] + peers], table))
        print(C.share_summary(shares) + "\n", flush=True)
        for w in workers:
            w.close()


if __name__ == "__main__":
    main()
