"""Shared helpers for the nnmath benchmarks (see /work/shared/BENCHMARKING.md).

* thread setup: 2 threads everywhere (OpenBLAS via threadpoolctl, torch, XLA's Eigen pool);
* quiet-machine check: system CPU share from /proc/stat minus this process (and its children);
* interleaved timing: A B C … A B C … rounds, medians with min–max, per-round ratios;
* environment report: CPU, BLAS (threadpoolctl), library versions, command line, date;
* peak RSS of one implementation in its own process.

Everything here measures through nnmath's public API only.
"""
from __future__ import annotations

import datetime
import gc
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from typing import Callable, Sequence

THREADS = 2
# Discard a round whose background CPU share is above QUIET_LIMIT; wait at most MAX_WAIT seconds for
# the machine to become quiet before each timed section. Both can be overridden from the
# environment (e.g. NNMATH_BENCH_QUIET_LIMIT=1 for a smoke test on a busy machine).
QUIET_LIMIT = float(os.environ.get("NNMATH_BENCH_QUIET_LIMIT", "0.10"))
MAX_WAIT = float(os.environ.get("NNMATH_BENCH_MAX_WAIT", "600"))
BENCH_DATE = "2026-12-04"  # the date the recorded results are for (BENCHMARKS.md)

# XLA's CPU client sizes its Eigen thread pool from the core count (2 on the reference machine).
os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ.setdefault("JAX_ENABLE_X64", "1")   # float64 derivative work needs x64 in JAX

_REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if _REPO not in sys.path:
    sys.path.insert(0, _REPO)


def setup_threads(torch_too: bool = True):
    """Pin every thread pool we can reach to THREADS threads; return the threadpoolctl controller."""
    from threadpoolctl import threadpool_limits
    limits = threadpool_limits(limits=THREADS)
    if torch_too:
        try:
            import torch
            torch.set_num_threads(THREADS)
        except ImportError:
            pass
    return limits


# --------------------------------------------------------------------------- quiet-machine check
def _proc_stat():
    with open("/proc/stat") as fh:
        parts = fh.readline().split()[1:]
    vals = [int(v) for v in parts[:8]]        # user nice system idle iowait irq softirq steal
    idle = vals[3] + vals[4]
    total = sum(vals)
    return total - idle, total


def _own_ticks():
    """CPU ticks used by this process (all threads) and its reaped children."""
    t = os.times()
    hz = os.sysconf("SC_CLK_TCK")
    return (t.user + t.system + t.children_user + t.children_system) * hz


class CpuMeter:
    """Background CPU share over an interval: (system busy − our busy) / system total."""

    def __init__(self):
        self.b0, self.t0 = _proc_stat()
        self.o0 = _own_ticks()

    def share(self) -> float:
        b1, t1 = _proc_stat()
        o1 = _own_ticks()
        total = t1 - self.t0
        if total <= 0:
            return 0.0
        return max(0.0, (b1 - self.b0) - (o1 - self.o0)) / total


def quiet_share(seconds: float = 1.0) -> float:
    """Share of all cores busy with other processes over ``seconds`` (we sleep meanwhile)."""
    m = CpuMeter()
    time.sleep(seconds)
    return m.share()


def wait_quiet(max_wait: float | None = None, limit: float | None = None) -> float:
    """Check the machine is quiet (two /proc/stat reads 1 s apart); wait up to ``max_wait`` s.

    Returns the last measured background share (above ``limit`` only if we gave up waiting).
    """
    max_wait = MAX_WAIT if max_wait is None else max_wait
    limit = QUIET_LIMIT if limit is None else limit
    t_start = time.time()
    share = quiet_share()
    last_msg = 0.0
    while share > limit and time.time() - t_start < max_wait:
        if time.time() - last_msg > 30:
            print(f"  [quiet check] background {share:.0%} > {limit:.0%}, waiting "
                  f"({time.time() - t_start:.0f} s so far)…", flush=True)
            last_msg = time.time()
        time.sleep(2.0)
        share = quiet_share()
    if share > limit:
        print(f"  [quiet check] gave up waiting after {max_wait:.0f} s: background {share:.0%}",
              flush=True)
    return share


# --------------------------------------------------------------------------- timing
def time_block(fn: Callable, number: int) -> float:
    """Mean seconds per call of ``fn`` over ``number`` back-to-back calls (gc disabled)."""
    gc_was = gc.isenabled()
    gc.disable()
    try:
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        t1 = time.perf_counter()
    finally:
        if gc_was:
            gc.enable()
    return (t1 - t0) / number


def calibrate(fn: Callable, target_s: float = 0.2, max_number: int = 100000) -> int:
    """Calls per sample so that one sample takes about ``target_s``."""
    fn()
    t = time_block(fn, 1)
    n = 1
    while t * n < target_s / 4 and n < max_number:
        n *= 4
        t = time_block(fn, n)
    return max(1, min(max_number, int(target_s / max(t, 1e-9))))


class Result:
    def __init__(self, name: str, samples: list[float]):
        self.name = name
        self.samples = samples

    @property
    def median(self):
        return statistics.median(self.samples)

    @property
    def lo(self):
        return min(self.samples)

    @property
    def hi(self):
        return max(self.samples)


def interleave(impls: dict[str, Callable], rounds: int = 7, target_s: float = 0.2,
               numbers: dict[str, int] | None = None, max_retries: int = 40,
               label: str = "") -> tuple[dict[str, Result], list[float]]:
    """Time ``impls`` interleaved: each round runs every implementation once (order rotated).

    Each round's background CPU share is measured; a round above QUIET_LIMIT is discarded and
    repeated (at most ``max_retries`` times in all). Returns per-implementation Results (seconds per
    call, one sample per kept round) and the background share of every kept round.
    """
    names = list(impls)
    deadline = time.time() + MAX_WAIT          # waiting for quiet is bounded per section
    remaining = lambda: max(0.0, deadline - time.time())
    wait_quiet(remaining())
    if numbers is None:
        numbers = {n: calibrate(impls[n], target_s) for n in names}
    wait_quiet(remaining())
    samples = {n: [] for n in names}
    shares: list[float] = []
    discarded = noisy_kept = 0
    r = 0
    while len(shares) < rounds:
        order = names[r % len(names):] + names[:r % len(names)]
        r += 1
        meter = CpuMeter()
        got = {n: time_block(impls[n], numbers[n]) for n in order}
        share = meter.share()
        if share > QUIET_LIMIT:
            if discarded < max_retries and remaining() > 0:
                discarded += 1
                print(f"  [quiet check] {label} round discarded: background {share:.0%}", flush=True)
                wait_quiet(remaining())
                continue
            noisy_kept += 1
        for n in names:
            samples[n].append(got[n])
        shares.append(share)
    if discarded:
        print(f"  [quiet check] {label}: {discarded} round(s) discarded", flush=True)
    if noisy_kept:
        print(f"  [quiet check] WARNING {label}: {noisy_kept} of {rounds} kept rounds were above "
              f"{QUIET_LIMIT:.0%} background (machine never quiet within {MAX_WAIT:.0f} s)", flush=True)
    return {n: Result(n, samples[n]) for n in names}, shares


def ratios(res: dict[str, Result], num: str, den: str) -> Result:
    """Per-round ratio num/den (same round, so same machine state)."""
    return Result(f"{num}/{den}", [a / b for a, b in zip(res[num].samples, res[den].samples)])


# --------------------------------------------------------------------------- formatting
def fmt_time(s: float) -> str:
    if s < 1e-3:
        return f"{s * 1e6:.2f} µs"
    if s < 1:
        return f"{s * 1e3:.2f} ms"
    return f"{s:.3f} s"


def fmt_span(r: Result, unit: Callable = fmt_time) -> str:
    return f"{unit(r.median)} [{unit(r.lo)}–{unit(r.hi)}]"


def fmt_ratio(r: Result) -> str:
    return f"{r.median:.2f}× [{r.lo:.2f}–{r.hi:.2f}]"


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A GitHub-markdown table (also readable in a terminal)."""
    widths = [max(len(str(h)), *(len(str(r[i])) for r in rows)) for i, h in enumerate(headers)]
    line = lambda cells: "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths)) + " |"
    out = [line(headers), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    out += [line(r) for r in rows]
    return "\n".join(out)


def share_summary(shares: Sequence[float]) -> str:
    return (f"background CPU share per round: median {statistics.median(shares):.1%}, "
            f"max {max(shares):.1%} over {len(shares)} rounds (limit {QUIET_LIMIT:.0%})")


# --------------------------------------------------------------------------- environment report
def _cpu_model() -> tuple[str, str]:
    model, flags = "?", ""
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name") and model == "?":
                    model = line.split(":", 1)[1].strip()
                if line.startswith("flags") and not flags:
                    flags = line.split(":", 1)[1]
    except OSError:
        pass
    fl = set(flags.split())
    simd = [f for f in ("sse4_2", "avx", "avx2", "fma", "avx512f", "avx512bw", "avx512vl",
                        "avx512_bf16", "avx512_vnni", "avx_vnni") if f in fl]
    return model, " ".join(simd)


def blas_info() -> str:
    from threadpoolctl import threadpool_info
    parts = []
    for d in threadpool_info():
        arch = f", kernel {d['architecture']}" if d.get("architecture") else ""
        parts.append(f"{d['internal_api']} {d.get('version') or ''} ({d['prefix']}{arch}, "
                     f"{d['num_threads']} threads)")
    return "; ".join(parts)


def versions(libs: Sequence[str] = ("numpy", "jax", "jaxlib", "torch", "autograd",
                                    "threadpoolctl")) -> str:
    from importlib import metadata
    out = [f"python {platform.python_version()}"]
    try:
        import nnmath
        rev = subprocess.run(["git", "-C", _REPO, "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", _REPO, "status", "--porcelain", "nnmath"],
                               capture_output=True, text=True).stdout.strip()
        out.append(f"nnmath {nnmath.__version__} (git {rev}{'+dirty' if dirty else ''})")
    except Exception as e:  # pragma: no cover
        out.append(f"nnmath ? ({e})")
    for lib in libs:
        try:
            out.append(f"{lib} {metadata.version(lib)}")
        except metadata.PackageNotFoundError:
            out.append(f"{lib} (not installed)")
    return ", ".join(out)


def print_header(title: str):
    model, simd = _cpu_model()
    print(f"# {title}")
    print(f"date: {datetime.date.today().isoformat()} (results recorded for {BENCH_DATE})")
    print(f"command: {' '.join([os.path.basename(sys.executable)] + sys.argv)}")
    print(f"machine: {os.cpu_count()} cores, {model}, SIMD: {simd}")
    ob = {k: os.environ[k] for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE") if k in os.environ}
    print(f"OPENBLAS env: {ob or 'unset'}")
    print(f"BLAS (threadpoolctl): {blas_info()}")
    print(f"versions: {versions()}")
    try:
        import torch
        print(f"torch threads: {torch.get_num_threads()} intra-op, "
              f"{torch.get_num_interop_threads()} inter-op")
    except ImportError:
        pass
    print(f"quiet check before start: background {quiet_share():.1%}")
    print()


# --------------------------------------------------------------------------- memory
def _status_mib(key: str) -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def rss_mib() -> float:
    """Current RSS of this process in MiB (VmRSS)."""
    return _status_mib("VmRSS")


def peak_rss_mib() -> float:
    """Peak RSS of this process in MiB: VmHWM, the high-water mark of this process's own memory.

    ``getrusage(RUSAGE_SELF).ru_maxrss`` is not used for the figure because Linux carries it
    across fork+exec: a child started from a big parent reports at least the parent's RSS.
    """
    return _status_mib("VmHWM")


def ru_maxrss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_child(script: str, args: Sequence[str], timeout: float = 600) -> dict:
    """Run ``python script args…`` in a fresh process; it prints one line 'RESULT k=v k=v …'."""
    proc = subprocess.run([sys.executable, script, *args], capture_output=True, text=True,
                          timeout=timeout, env=os.environ.copy())
    if proc.returncode != 0:
        raise RuntimeError(f"child {args} failed:\n{proc.stdout}\n{proc.stderr}")
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return dict(kv.split("=", 1) for kv in line[7:].split())
    raise RuntimeError(f"child {args} printed no RESULT line:\n{proc.stdout}\n{proc.stderr}")
