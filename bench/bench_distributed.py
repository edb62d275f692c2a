"""A loss-landscape grid on a 2-worker Dask LocalCluster against the serial grid (issue 13).

Work: ``loss_surface_2d`` of a trained MLP on its training data, filter-normalised random
directions (seed 0), every grid point the loss over all samples (batches of 256), float64:

* ``ref``: the reference MLP (20-64-64-3, softmax, 1,000 samples), a 31 × 31 grid;
* ``wide``: 784-256-256-10 on 1,000 samples, a 13 × 13 grid (GEMM-heavy points).

Serial: one process, numpy's BLAS with 2 threads (the default here). Dask: ``dask_executor(2)``
(a LocalCluster of 2 worker processes × 1 thread; Dask's nanny sets 1 BLAS thread), started once
before the rounds (its start-up time is reported separately); a timed call includes pickling the
model and data, sending them, each worker rebuilding the Objective and recording its ``jit``
plans, and the chunks (2 per worker).

Bit for bit: the Dask grid is checked equal to the serial grid computed with **one** BLAS thread,
the workers' setting. OpenBLAS's GEMM rounds differently with 2 threads when the inner dimension
is large (784 here: differences of ~1e-16 relative; the 20-64-64-3 products agree at any thread
count), so against the 2-thread serial grid the largest relative difference is printed.

Rounds interleave serial / Dask; medians with min–max and the per-round ratio; the background
CPU share of each round is printed (the machine is shared).
Target: Dask ≥ 1.7× serial on 2 cores.

``--allreduce`` (for docs/SCALING.md): the time of one ``MPI.Allreduce`` (sum, in place) of the
flat float32 gradient of the reference MLP (20-64-64-3: 5,699 parameters) and of the GEMM-bound
MLP (784-1024-1024-10: 1,863,690 parameters) at 2 ranks (``mpiexec -n 2``, mpi4py, MPICH shared
memory), against the single-process step time of each (``fit``, float32, 1 BLAS thread; the
reference at batch 32, the GEMM-bound MLP at batch 256), and the ring-allreduce model's
prediction for 8, 64 and 512 ranks (see docs/SCALING.md).

``--fit``: data-parallel training. The GEMM-bound MLP (784-1024-1024-10, ReLU, float32, Adam,
softmax cross-entropy from logits) trained with ``fit(batch_size=256, shuffle=False)`` on 5,120
samples (20 steps per epoch): one process limited to one BLAS thread (threadpoolctl) against
``mpiexec -n 2`` with ``MPIDataParallel`` (each rank one BLAS thread, 128 samples of each global
batch, one Allreduce of the flat gradient buffer per step). Each run is its own process: one
warm-up epoch (recording the ``jit`` plans), then 3 timed epochs (median); rank 0 times between
barriers and reports the Allreduce share of the step. Both runs end with the same weights (checked
to 1e-3: float32 sums associated differently, which Adam amplifies where g ≈ 0). Rounds
interleave single / 2-rank.
Target: 2 ranks ≥ 1.6× the one-thread throughput.

Run:  python bench/bench_distributed.py [--rounds N] [--only ref|wide] [--allreduce] [--fit]
Smoke test on a busy machine: NNMATH_BENCH_QUIET_LIMIT=1 NNMATH_BENCH_MAX_WAIT=0.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common as C  # noqa: E402

import numpy as np  # noqa: E402

WORKLOADS = {
    "ref": dict(sizes=(20, 64, 64, 3), n=1000, grid=31),
    "wide": dict(sizes=(784, 256, 256, 10), n=1000, grid=13),
}


def make(sizes, n):
    import nnmath.keras as keras
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, sizes[0]))
    y = rng.integers(0, sizes[-1], n)
    layers = [keras.Input((sizes[0],))]
    layers += [keras.layers.Dense(h, activation="relu", dtype="float64") for h in sizes[1:-1]]
    layers += [keras.layers.Dense(sizes[-1], dtype="float64")]
    model = keras.Sequential(layers)
    model.compile(optimizer="adam",
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x, y, epochs=2, batch_size=64, verbose=0)
    return model, x, y


MODELS = {"reference": ((20, 64, 64, 3), 32), "gemm": ((784, 1024, 1024, 10), 256)}


def num_params(sizes) -> int:
    return sum(i * o + o for i, o in zip(sizes, sizes[1:]))


def allreduce_child(reps: int = 200) -> None:
    """Under mpiexec -n 2: median seconds of one in-place Allreduce of each gradient size."""
    import json
    from mpi4py import MPI
    comm = MPI.COMM_WORLD
    out = {}
    for name, (sizes, _) in MODELS.items():
        buf = np.ones(num_params(sizes), np.float32)
        times = []
        for _ in range(10):
            comm.Allreduce(MPI.IN_PLACE, buf, op=MPI.SUM)
        for _ in range(reps):
            comm.Barrier()
            t = time.perf_counter()
            comm.Allreduce(MPI.IN_PLACE, buf, op=MPI.SUM)
            times.append(time.perf_counter() - t)
        times = np.array(times)
        comm.Allreduce(MPI.IN_PLACE, times, op=MPI.MAX)         # the slower rank's time
        out[name] = [float(np.median(times)), float(np.percentile(times, 10)),
                     float(np.percentile(times, 90))]
    if comm.rank == 0:
        print("RESULT " + json.dumps(out))


def relu_mlp(sizes, batch: int, steps: int, optimizer):
    """A compiled float32 ReLU MLP of layer ``sizes`` (softmax cross-entropy) and ``steps``
    batches of seeded Gaussian inputs with random labels."""
    import nnmath.keras as keras
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch * steps, sizes[0])).astype(np.float32)
    y = rng.integers(0, sizes[-1], batch * steps)
    layers = [keras.Input((sizes[0],))]
    layers += [keras.layers.Dense(h, activation="relu") for h in sizes[1:-1]]
    layers += [keras.layers.Dense(sizes[-1])]
    model = keras.Sequential(layers)
    model.compile(optimizer=optimizer,
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model, x, y


def step_time(sizes, batch: int, steps: int = 40) -> float:
    """Median seconds per training step of ``fit`` (float32, Adam, softmax cross-entropy)."""
    import nnmath.keras as keras
    model, x, y = relu_mlp(sizes, batch, steps, keras.optimizers.Adam())
    model.fit(x[:batch * 2], y[:batch * 2], batch_size=batch, epochs=1, verbose=0)   # record
    per_epoch = []
    for _ in range(3):
        t = time.perf_counter()
        model.fit(x, y, batch_size=batch, epochs=1, verbose=0, shuffle=False)
        per_epoch.append((time.perf_counter() - t) / steps)
    return float(np.median(per_epoch))


def ring(p: int, nbytes: float, bandwidth: float, alpha: float) -> float:
    """Patarasuk & Yuan (2009): T = 2(p−1)/p · n/B + 2(p−1)α."""
    return 2 * (p - 1) / p * nbytes / bandwidth + 2 * (p - 1) * alpha


def allreduce_report() -> None:
    import json
    import subprocess
    from threadpoolctl import threadpool_limits
    mpiexec = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    proc = subprocess.run([mpiexec, "-n", "2", sys.executable, os.path.abspath(__file__),
                           "--allreduce-child"], capture_output=True, text=True, timeout=600,
                          env=dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1"))
    line = [l for l in proc.stdout.splitlines() if l.startswith("RESULT ")]
    if not line:
        raise SystemExit(f"mpiexec failed:\n{proc.stdout}\n{proc.stderr}")
    measured = json.loads(line[0][7:])
    meter = C.CpuMeter()
    with threadpool_limits(1):
        steps = {name: step_time(sizes, batch) for name, (sizes, batch) in MODELS.items()}
    print(f"background CPU share while timing the steps: {meter.share():.0%}")
    bandwidth, alpha = 100e9 / 8, 5e-6
    for name, (sizes, batch) in MODELS.items():
        n = num_params(sizes)
        med, lo, hi = measured[name]
        print(f"\n{name}: {sizes}, {n:,} parameters = {4 * n / 1e6:.3f} MB float32, "
              f"batch {batch}")
        print(f"  step (1 process, 1 thread): {1e3 * steps[name]:.3f} ms")
        print(f"  Allreduce at 2 ranks (shared memory): median {1e6 * med:.1f} µs "
              f"(p10 {1e6 * lo:.1f}, p90 {1e6 * hi:.1f}) = {100 * med / steps[name]:.1f} % of "
              f"the step")
        for p in (2, 8, 64, 512):
            t = ring(p, 4 * n, bandwidth, alpha)
            print(f"  ring model, {p:3d} ranks, 100 Gb/s, α = 5 µs: {1e6 * t:9.1f} µs = "
                  f"{100 * t / steps[name]:6.1f} % of the step; efficiency (no overlap) "
                  f"{steps[name] / (steps[name] + t):.2f}")


FIT = dict(sizes=(784, 1024, 1024, 10), batch=256, steps=20)


def fit_child(out: str) -> None:
    """One data-parallel (under mpiexec) or single-process fit; rank 0 writes a JSON line."""
    import json
    from threadpoolctl import threadpool_limits
    threadpool_limits(1)
    import nnmath.keras as keras
    from nnmath.distributed import MPIDataParallel
    dist = MPIDataParallel()
    sizes, batch, steps = FIT["sizes"], FIT["batch"], FIT["steps"]
    model, x, y = relu_mlp(sizes, batch, steps, keras.optimizers.Adam(1e-4))
    kw = dict(batch_size=batch, epochs=1, verbose=0, shuffle=False, distribution=dist)
    model.fit(x, y, **kw)                                   # warm-up: records the plans
    per_epoch, comm_share = [], []
    for _ in range(3):
        if dist.size > 1:
            dist.comm.Barrier()
        a0 = dist.allreduce_seconds
        t = time.perf_counter()
        model.fit(x, y, **kw)
        if dist.size > 1:
            dist.comm.Barrier()
        dt = time.perf_counter() - t
        per_epoch.append(dt)
        comm_share.append((dist.allreduce_seconds - a0) / dt)
    if dist.is_chief:
        np.save(out, model.flat_params)
        print("RESULT " + json.dumps({"epoch_s": float(np.median(per_epoch)),
                                      "allreduce_share": float(np.median(comm_share)),
                                      "allreduce_bytes_per_step": 4 * num_params(sizes) + 8}))


def fit_report(rounds: int) -> None:
    import json
    import subprocess
    import tempfile
    from nnmath.distributed import mpiexec
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    me = os.path.abspath(__file__)
    tmp = tempfile.mkdtemp(prefix="nnmath_bench_fit_")

    def run(ranks: int) -> dict:
        out = os.path.join(tmp, f"w{ranks}.npy")
        cmd = [sys.executable, me, "--fit-child", out]
        proc = (subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900)
                if ranks == 1 else mpiexec(ranks, cmd, env=env, timeout=900))
        line = [l for l in proc.stdout.splitlines() if l.startswith("RESULT ")]
        if proc.returncode or not line:
            raise SystemExit(f"fit run with {ranks} rank(s) failed:\n{proc.stdout}\n{proc.stderr}")
        return dict(json.loads(line[0][7:]), weights=np.load(out))

    sizes, batch, steps = FIT["sizes"], FIT["batch"], FIT["steps"]
    times = {1: [], 2: []}
    shares, comm = [], []
    for _ in range(rounds):
        C.wait_quiet()
        meter = C.CpuMeter()
        res = {p: run(p) for p in (1, 2)}
        shares.append(meter.share())
        for p in (1, 2):
            times[p].append(res[p]["epoch_s"])
        comm.append(res[2]["allreduce_share"])
        diff = float(np.max(np.abs(res[1]["weights"] - res[2]["weights"])))
        assert diff < 1e-3, f"the 2-rank fit ended {diff:.1e} away from the single-process one"
    ratio = sorted(a / b for a, b in zip(times[1], times[2]))
    print(f"\nfit: {sizes}, float32, Adam, batch {batch}, {steps} steps per epoch; final weights "
          f"of 1 and 2 ranks agree to {diff:.1e}")
    for p, label in ((1, "1 process, 1 thread"), (2, "2 ranks × 1 thread")):
        med = float(np.median(times[p]))
        print(f"  {label:20s} median {1e3 * med / steps:7.1f} ms/step "
              f"({batch * steps / med:,.0f} samples/s; min {1e3 * min(times[p]) / steps:.1f}, "
              f"max {1e3 * max(times[p]) / steps:.1f})")
    print(f"  throughput 2 ranks / 1 thread: median {float(np.median(ratio)):.2f}× "
          f"(min {ratio[0]:.2f}, max {ratio[-1]:.2f}); target ≥ 1.6×")
    print(f"  Allreduce share of the 2-rank step (rank 0, waiting included): median "
          f"{100 * float(np.median(comm)):.1f} %")
    print(f"  background CPU share per round: {', '.join(f'{s:.0%}' for s in shares)}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--only", action="append", choices=sorted(WORKLOADS))
    ap.add_argument("--allreduce", action="store_true")
    ap.add_argument("--allreduce-child", action="store_true")
    ap.add_argument("--fit", action="store_true")
    ap.add_argument("--fit-child")
    args = ap.parse_args()
    if args.allreduce_child:
        return allreduce_child()
    if args.fit_child:
        return fit_child(args.fit_child)
    if args.allreduce:
        return allreduce_report()
    if args.fit:
        return fit_report(args.rounds)
    C.setup_threads(torch_too=False)
    import warnings
    from threadpoolctl import threadpool_limits
    warnings.filterwarnings("ignore", message="Sending large graph")    # the context, per chunk
    from nnmath.analysis import loss_surface_2d
    from nnmath.distributed import dask_executor
    print(C.blas_info())
    t0 = time.perf_counter()
    ex = dask_executor(2)
    start = time.perf_counter() - t0
    print(f"Dask LocalCluster (2 workers × 1 thread) start: {start:.2f} s")
    try:
        for name in args.only or list(WORKLOADS):
            w = WORKLOADS[name]
            model, x, y = make(w["sizes"], w["n"])
            alphas = np.linspace(-1, 1, w["grid"])

            def serial():
                return loss_surface_2d(model, x=x, y=y, alphas=alphas).loss

            def dask():
                return loss_surface_2d(model, x=x, y=y, alphas=alphas, executor=ex).loss
            a, b = serial(), dask()                     # warm-up, and the bit-for-bit check
            with threadpool_limits(1):
                a1 = serial()
            assert np.array_equal(a1, b), "the Dask grid differs from the 1-thread serial one"
            rel = float(np.max(np.abs(a - b) / np.abs(a)))
            times = {"serial": [], "dask": []}
            shares = []
            for _ in range(args.rounds):
                C.wait_quiet()
                meter = C.CpuMeter()
                for key, fn in (("serial", serial), ("dask", dask)):
                    t = time.perf_counter()
                    fn()
                    times[key].append(time.perf_counter() - t)
                shares.append(meter.share())
            ratio = sorted(s / d for s, d in zip(times["serial"], times["dask"]))
            med = {k: float(np.median(v)) for k, v in times.items()}
            print(f"\n{name}: {w['sizes']} on {w['n']} samples, {w['grid']}×{w['grid']} grid "
                  f"({w['grid'] ** 2} points); Dask = 1-thread serial bit for bit; "
                  f"max |Δ|/|L| against 2-thread serial: {rel:.1e}")
            for k, v in times.items():
                print(f"  {k:7s} median {med[k]:.3f} s  (min {min(v):.3f}, max {max(v):.3f})  "
                      f"{1e3 * med[k] / w['grid'] ** 2:.2f} ms/point")
            print(f"  speed-up serial/dask: median {float(np.median(ratio)):.2f}× "
                  f"(min {ratio[0]:.2f}, max {ratio[-1]:.2f}); target ≥ 1.7×")
            print(f"  background CPU share per round: "
                  f"{', '.join(f'{s:.0%}' for s in shares)}")
    finally:
        ex.shutdown()


if __name__ == "__main__":
    main()
