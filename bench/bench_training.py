"""Training benchmarks (issue 3, speed section): nnmath's Keras-style ``fit`` against its peers.

Three workloads, all float32, 2 threads, same data (fixed seeds) and the same initial weights in
every library that lets us set them, Adam(lr 1e-3, β1 0.9, β2 0.999) everywhere:

1. **Reference example** (``examples/keras_reference.py``): 1,000 × 20 inputs, one-hot 3 classes,
   Dense 64 relu → Dense 64 relu → Dense 3 softmax, MSE loss, batch 32, 50 epochs, last 20 % held
   out and evaluated every epoch (25 steps per epoch, 1,250 steps per fit). One timed sample is one
   whole ``fit``; µs per step = fit time ÷ 1,250. Peers: hand-written numpy (one flat parameter
   buffer, explicit backward, Adam in a few vectorised numpy calls: the floor), JAX (jit'd step,
   Python loop over batches), PyTorch eager (torch.optim.Adam), HIPS autograd, scikit-learn's
   MLPClassifier (log-loss, its own init; see notes) and Keras 3 on JAX (if ``keras`` imports).
2. **GEMM-bound MLP** 784-1024-1024-10, batch 256, softmax cross-entropy: step time ÷ the time of
   the 8 matrix products a step must do (3 forward, 5 backward), measured alone in the same rounds.
3. **Small CNN** (``bench/bench_conv.py``'s model and weights) with Adam: a full training step
   (nnmath ``fit``, PyTorch eager, JAX jit); plus forward+backward only, which adds JAX jit to
   bench_conv's comparison.

Then, each in a fresh process: peak RSS (VmHWM) of one implementation training (reference fit and
GEMM MLP), and the whole-process wall time, imports included, of the reference *script*:
``examples/keras_reference.py`` (nnmath) vs ``bench/bench_training_jax_reference.py`` vs
``bench/bench_training_keras_reference.py`` (Keras 3, JAX backend).

Adam's ε: Keras and nnmath 1e-7 (added to √v̂ after bias correction of the step size); every peer
here is given ε = 1e-7 (PyTorch's and scikit-learn's defaults are 1e-8; PyTorch adds ε to
√v / √(1-β2ᵗ), a negligible difference at this ε).

Run:   python bench/bench_training.py                     (~4 min on a quiet machine)
       KERAS_BACKEND=jax /path/to/venv-with-keras/bin/python bench/bench_training.py   (adds Keras 3)
Flags: --skip NAME[,NAME] (peers: keras, autograd, sklearn, torch, jax), --only ref|gemm|cnn|rss|wall
       (repeatable), --rounds N, --wall-rounds N, --keras-python PATH (python that has keras, for the
       whole-script timing), --profile (cProfile of nnmath's reference fit).
Smoke test on a busy machine: NNMATH_BENCH_QUIET_LIMIT=1 NNMATH_BENCH_MAX_WAIT=0 (numbers are not results).
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
import warnings

os.environ["JAX_ENABLE_X64"] = "0"          # float32 work: keep JAX's default 32-bit mode
os.environ.setdefault("KERAS_BACKEND", "jax")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common as C  # noqa: E402

import numpy as np  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)

LR, B1, B2, EPS = 1e-3, 0.9, 0.999, 1e-7
F32 = np.float32

# ============================================================================ shared data / weights
REF_N, REF_D, REF_K, REF_EPOCHS, REF_BATCH = 1000, 20, 3, 50, 32
REF_NTR = REF_N - int(REF_N * 0.2)                       # Keras: last 20 % before shuffling
REF_STEPS = REF_EPOCHS * (-(-REF_NTR // REF_BATCH))      # 1,250


def glorot(rng, fi, fo):
    lim = np.sqrt(6.0 / (fi + fo))
    return rng.uniform(-lim, lim, (fi, fo)).astype(F32)


def mlp_weights(sizes, seed):
    rng = np.random.default_rng(seed)
    out = []
    for fi, fo in zip(sizes[:-1], sizes[1:]):
        out += [glorot(rng, fi, fo), np.zeros(fo, F32)]
    return out


def ref_data():
    rng = np.random.default_rng(0)
    X = rng.random((REF_N, REF_D), dtype=F32)
    labels = rng.integers(0, REF_K, REF_N)
    Y = np.eye(REF_K, dtype=F32)[labels]
    return X, Y, labels


def ref_perms():
    """Per-epoch shuffles of the 800 training rows, shared by the peers we drive ourselves."""
    rng = np.random.default_rng(2)
    return [rng.permutation(REF_NTR) for _ in range(REF_EPOCHS)]


GEMM_SIZES, GEMM_BATCH, GEMM_NB = (784, 1024, 1024, 10), 256, 4


def gemm_data():
    rng = np.random.default_rng(3)
    X = rng.standard_normal((GEMM_BATCH * GEMM_NB, GEMM_SIZES[0]), dtype=F32)
    labels = rng.integers(0, 10, len(X))
    return X, np.eye(10, dtype=F32)[labels], labels


CNN_BATCH, CNN_NB = 64, 4


def cnn_data():
    """bench_conv's first batch and initial weights, plus 3 more batches (4 steps per sample)."""
    import bench_conv
    layers, _, x0, labels0, _ = bench_conv.make_model()
    weights = [w.copy() for l in layers for w in l.get_weights()]
    rng = np.random.default_rng(4)
    X = np.concatenate([x0, rng.standard_normal(((CNN_NB - 1) * CNN_BATCH, 28, 28, 1), dtype=F32)])
    labels = np.concatenate([labels0, rng.integers(0, 10, (CNN_NB - 1) * CNN_BATCH)])
    return X, np.eye(10, dtype=F32)[labels], labels, weights


# ============================================================================ 1. reference example
def ref_nnmath(X, Y, labels, W0, perms):
    from nnmath.keras.layers import Activation, Dense
    from nnmath.keras.losses import MeanSquaredError
    from nnmath.keras.models import Sequential
    from nnmath.keras.optimizers import Adam
    from nnmath.keras.utils import set_random_seed
    set_random_seed(0)
    m = Sequential()
    m.add(Dense(64, input_dim=REF_D)); m.add(Activation("relu"))
    m.add(Dense(64)); m.add(Activation("relu"))
    m.add(Dense(REF_K)); m.add(Activation("softmax"))
    m.build((None, REF_D))
    m.set_weights(W0)
    m.compile(optimizer=Adam(learning_rate=LR), loss=MeanSquaredError(), metrics=["accuracy"])

    def run():
        h = m.fit(X, Y, epochs=REF_EPOCHS, batch_size=REF_BATCH, validation_split=0.2, verbose=0)
        return h.history["loss"][-1], h.history["val_loss"][-1]
    run.model = m
    return run


class NumpyMLP:
    """The floor: one flat float32 parameter buffer (layer views), explicit backward writing into a
    flat gradient buffer, Adam (Keras's formula) in a few vectorised calls on the flat buffers."""

    def __init__(self, W0, loss="mse"):
        self.flat = np.concatenate([w.ravel() for w in W0]).astype(F32)
        self.g = np.zeros_like(self.flat)
        self.m, self.v, self.tmp = (np.zeros_like(self.flat) for _ in range(3))
        self.t = 0
        self.loss = loss

        def views(buf):
            out, o = [], 0
            for w in W0:
                out.append(buf[o:o + w.size].reshape(w.shape))
                o += w.size
            return out
        self.W, self.G = views(self.flat), views(self.g)

    def forward(self, x):
        W = self.W
        zs, h = [], x
        for i in range(0, len(W) - 2, 2):
            z = h @ W[i]
            z += W[i + 1]
            zs.append((h, z))
            h = np.maximum(z, 0)
        z = h @ W[-2]
        z += W[-1]
        e = np.exp(z - z.max(1, keepdims=True))
        e /= e.sum(1, keepdims=True)
        return zs, h, e

    def loss_and_dz(self, p, y):
        if self.loss == "mse":
            d = p - y
            loss = float(np.mean(d * d))
            dp = d * F32(2.0 / d.size)
            return loss, p * (dp - (dp * p).sum(1, keepdims=True))
        loss = float(-np.mean(np.log(np.maximum((p * y).sum(1), 1e-30))))
        return loss, (p - y) * F32(1.0 / len(p))

    def step(self, x, y):
        zs, h, p = self.forward(x)
        loss, dz = self.loss_and_dz(p, y)
        W, G = self.W, self.G
        np.matmul(h.T, dz, out=G[-2])
        np.sum(dz, 0, out=G[-1])
        for i in range(len(zs) - 1, -1, -1):
            hin, z = zs[i]
            dh = dz @ W[2 * i + 2].T
            dh *= z > 0
            dz = dh
            np.matmul(hin.T, dz, out=G[2 * i])
            np.sum(dz, 0, out=G[2 * i + 1])
        self.adam()
        return loss, p

    def adam(self):
        self.t += 1
        g, m, v, tmp = self.g, self.m, self.v, self.tmp
        alpha = LR * np.sqrt(1 - B2 ** self.t) / (1 - B1 ** self.t)
        m *= B1
        m += (1 - B1) * g
        v *= B2
        np.multiply(g, g, out=tmp)
        tmp *= 1 - B2
        v += tmp
        np.sqrt(v, out=tmp)
        tmp += EPS
        np.divide(m, tmp, out=tmp)
        tmp *= alpha
        self.flat -= tmp


def ref_numpy(X, Y, labels, W0, perms):
    net = NumpyMLP(W0, "mse")
    Xtr, Ytr, Xva, Yva = X[:REF_NTR], Y[:REF_NTR], X[REF_NTR:], Y[REF_NTR:]

    def run():
        for perm in perms:
            tot = n = correct = 0.0
            for s in range(0, REF_NTR, REF_BATCH):
                idx = perm[s:s + REF_BATCH]
                yb = Ytr[idx]
                loss, p = net.step(Xtr[idx], yb)
                tot += loss * len(idx)
                n += len(idx)
                correct += np.count_nonzero(p.argmax(1) == yb.argmax(1))
            train_loss = tot / n
            p = net.forward(Xva)[2]
            val_loss = float(np.mean((p - Yva) ** 2))
            _val_acc = np.mean(p.argmax(1) == Yva.argmax(1))
        return train_loss, val_loss
    return run


def _jax_adam(jnp, jax, p, m, v, t, g):
    t = t + 1
    alpha = LR * jnp.sqrt(1 - B2 ** t) / (1 - B1 ** t)
    m = jax.tree_util.tree_map(lambda m, g: m + (g - m) * (1 - B1), m, g)
    v = jax.tree_util.tree_map(lambda v, g: v + (g * g - v) * (1 - B2), v, g)
    p = jax.tree_util.tree_map(lambda p, m, v: p - alpha * m / (jnp.sqrt(v) + EPS), p, m, v)
    return p, m, v, t


def _jax_mlp(W0, loss):
    import jax
    import jax.numpy as jnp

    def fwd(p, x):
        h = x
        for i in range(0, len(p) - 2, 2):
            h = jax.nn.relu(h @ p[i] + p[i + 1])
        return h @ p[-2] + p[-1]

    def loss_fn(p, x, y):
        z = fwd(p, x)
        if loss == "mse":
            pr = jax.nn.softmax(z, axis=-1)
            return jnp.mean((pr - y) ** 2), pr
        return -jnp.mean(jnp.sum(y * jax.nn.log_softmax(z, axis=-1), -1)), z

    @jax.jit
    def step(p, m, v, t, x, y):
        (l, pr), g = jax.value_and_grad(loss_fn, has_aux=True)(p, x, y)
        p, m, v, t = _jax_adam(jnp, jax, p, m, v, t, g)
        acc = jnp.mean(jnp.argmax(pr, 1) == jnp.argmax(y, 1))
        return p, m, v, t, l, acc

    @jax.jit
    def evaluate(p, x, y):
        l, pr = loss_fn(p, x, y)
        return l, jnp.mean(jnp.argmax(pr, 1) == jnp.argmax(y, 1))

    p = tuple(jnp.asarray(w) for w in W0)
    state = [p, tuple(jnp.zeros_like(w) for w in p), tuple(jnp.zeros_like(w) for w in p),
             jnp.zeros((), jnp.float32)]
    return jax, step, evaluate, state


def ref_jax(X, Y, labels, W0, perms):
    jax, step, evaluate, st = _jax_mlp(W0, "mse")
    Xtr, Ytr, Xva, Yva = X[:REF_NTR], Y[:REF_NTR], X[REF_NTR:], Y[REF_NTR:]

    def run():
        for perm in perms:
            losses = []
            for s in range(0, REF_NTR, REF_BATCH):
                idx = perm[s:s + REF_BATCH]
                *st[:], l, _acc = step(*st, Xtr[idx], Ytr[idx])
                losses.append(l)
            train_loss = float(np.mean(jax.device_get(losses)))     # one sync per epoch
            vl, _va = evaluate(st[0], Xva, Yva)
            val_loss = float(vl)
        assert st[0][0].dtype == np.float32
        return train_loss, val_loss
    return run


def _torch_mlp(W0):
    import torch
    layers = []
    for i in range(0, len(W0), 2):
        lin = torch.nn.Linear(*W0[i].shape)
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(W0[i].T.copy()))
            lin.bias.copy_(torch.from_numpy(W0[i + 1]))
        layers += [lin, torch.nn.ReLU()]
    net = torch.nn.Sequential(*layers[:-1])
    opt = torch.optim.Adam(net.parameters(), lr=LR, betas=(B1, B2), eps=EPS)
    return torch, net, opt


def ref_torch(X, Y, labels, W0, perms):
    torch, net, opt = _torch_mlp(W0)
    Xtr, Ytr = torch.from_numpy(X[:REF_NTR]), torch.from_numpy(Y[:REF_NTR])
    Ltr = torch.from_numpy(labels[:REF_NTR])
    Xva, Yva = torch.from_numpy(X[REF_NTR:]), torch.from_numpy(Y[REF_NTR:])
    tperms = [torch.from_numpy(p) for p in perms]

    def run():
        for perm in tperms:
            tot = n = correct = 0.0
            for s in range(0, REF_NTR, REF_BATCH):
                idx = perm[s:s + REF_BATCH]
                opt.zero_grad(set_to_none=True)
                p = torch.softmax(net(Xtr[idx]), 1)
                loss = ((p - Ytr[idx]) ** 2).mean()
                loss.backward()
                opt.step()
                tot += loss.item() * len(idx)
                n += len(idx)
                correct += (p.argmax(1) == Ltr[idx]).sum().item()
            with torch.no_grad():
                p = torch.softmax(net(Xva), 1)
                val_loss = ((p - Yva) ** 2).mean().item()
        return tot / n, val_loss
    return run


def ref_autograd(X, Y, labels, W0, perms):
    import autograd.numpy as anp
    from autograd import value_and_grad

    def loss_fn(p, x, y):
        h = x
        for i in range(0, len(p) - 2, 2):
            h = anp.maximum(h @ p[i] + p[i + 1], 0)
        z = h @ p[-2] + p[-1]
        e = anp.exp(z - anp.max(z, 1, keepdims=True))
        pr = e / anp.sum(e, 1, keepdims=True)
        return anp.mean((pr - y) ** 2)
    vg = value_and_grad(loss_fn)
    p = [w.copy() for w in W0]
    m = [np.zeros_like(w) for w in W0]
    v = [np.zeros_like(w) for w in W0]
    t = [0]
    Xtr, Ytr, Xva, Yva = X[:REF_NTR], Y[:REF_NTR], X[REF_NTR:], Y[REF_NTR:]

    def run():
        for perm in perms:
            tot = n = 0.0
            for s in range(0, REF_NTR, REF_BATCH):
                idx = perm[s:s + REF_BATCH]
                l, g = vg(p, Xtr[idx], Ytr[idx])
                t[0] += 1
                alpha = LR * np.sqrt(1 - B2 ** t[0]) / (1 - B1 ** t[0])
                for i in range(len(p)):
                    m[i] += (g[i] - m[i]) * (1 - B1)
                    v[i] += (g[i] * g[i] - v[i]) * (1 - B2)
                    p[i] -= (alpha * m[i] / (np.sqrt(v[i]) + EPS)).astype(F32)
                tot += float(l) * len(idx)
                n += len(idx)
            val_loss = float(loss_fn(p, Xva, Yva))
        assert p[0].dtype == F32
        return tot / n, val_loss
    return run


def ref_sklearn(X, Y, labels, W0, perms):
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier
    state = {"seed": 0}

    def run():
        clf = MLPClassifier(hidden_layer_sizes=(64, 64), activation="relu", solver="adam", alpha=0.0,
                            batch_size=REF_BATCH, learning_rate_init=LR, beta_1=B1, beta_2=B2,
                            epsilon=EPS, max_iter=REF_EPOCHS, shuffle=True, tol=0.0,
                            n_iter_no_change=10 ** 9, early_stopping=True, validation_fraction=0.2,
                            random_state=state["seed"])
        state["seed"] += 1
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            clf.fit(X, labels)
        run.dtype = clf.coefs_[0].dtype
        p = clf.predict_proba(X[REF_NTR:])
        return clf.loss_curve_[-1], float(np.mean((p - Y[REF_NTR:]) ** 2))
    return run


def ref_keras(X, Y, labels, W0, perms):
    import keras
    keras.utils.set_random_seed(0)
    m = keras.Sequential([keras.Input((REF_D,)), keras.layers.Dense(64), keras.layers.Activation("relu"),
                          keras.layers.Dense(64), keras.layers.Activation("relu"),
                          keras.layers.Dense(REF_K), keras.layers.Activation("softmax")])
    m.set_weights(W0)
    m.compile(optimizer=keras.optimizers.Adam(learning_rate=LR), loss=keras.losses.MeanSquaredError(),
              metrics=["accuracy"])

    def run():
        h = m.fit(X, Y, epochs=REF_EPOCHS, batch_size=REF_BATCH, validation_split=0.2, verbose=0)
        return h.history["loss"][-1], h.history["val_loss"][-1]
    return run


REF_IMPLS = {"numpy (hand-written floor)": ("numpy", ref_numpy), "nnmath fit": ("nnmath", ref_nnmath),
             "JAX jit": ("jax", ref_jax), "PyTorch eager": ("torch", ref_torch),
             "HIPS autograd": ("autograd", ref_autograd), "scikit-learn MLPClassifier": ("sklearn", ref_sklearn),
             "Keras 3 fit (JAX)": ("keras", ref_keras)}


def have(mod):
    import importlib.util
    return importlib.util.find_spec(mod) is not None


def bench_ref(skip, rounds):
    print(f"## 1. Reference example: {REF_N}×{REF_D}, MLP 20-64-64-3 softmax, MSE, Adam, batch {REF_BATCH}, "
          f"{REF_EPOCHS} epochs, validation each epoch ({REF_STEPS} steps per fit)\n")
    X, Y, labels = ref_data()
    W0 = mlp_weights((REF_D, 64, 64, REF_K), 1)
    perms = ref_perms()
    impls, first, check = {}, {}, {}
    for name, (key, make) in REF_IMPLS.items():
        if key in skip or (key == "keras" and not have("keras")) or (key == "sklearn" and not have("sklearn")):
            print(f"  skipped: {name}")
            continue
        run = make(X, Y, labels, W0, perms)
        t0 = time.perf_counter()
        check[name] = run()                   # first fit from W0: the value check (+ JAX/Keras compile)
        first[name] = time.perf_counter() - t0
        impls[name] = run
    rows = [[n, f"{a:.4f}", f"{b:.4f}"] for n, (a, b) in check.items()]
    print("values: first fit from the same initial weights (final epoch's mean training loss, "
          "validation MSE). scikit-learn's training loss is its log-loss (it has no MSE loss); its "
          "validation figure is the MSE of predict_proba on the last 200 rows (its own split differs).")
    print(C.table(["implementation", "final train loss", "final val MSE"], rows))
    mses = [b for n, (a, b) in check.items() if "scikit" not in n]
    spread = (max(mses) - min(mses)) / statistics.median(mses)
    print(f"val MSE spread across MSE-trained implementations: {spread:.1%} of the median "
          f"({'OK' if spread < 0.1 else 'CHECK'}: shuffles differ between libraries)\n")
    res, shares = C.interleave(impls, rounds=rounds, numbers={n: 1 for n in impls}, label="reference fit")
    nm = "nnmath fit"
    us = lambda s: f"{s / REF_STEPS * 1e6:,.0f} µs"
    rows = []
    for n, r in res.items():
        rows.append([n, C.fmt_span(r, us), C.fmt_span(r), "—" if n == nm else C.fmt_ratio(C.ratios(res, nm, n))])
    print(f"time per training step (= fit ÷ {REF_STEPS}); {rounds} interleaved rounds, median [min–max]")
    print(C.table(["implementation", "per step", "per fit", "nnmath ÷ this"], rows))
    print(C.share_summary(shares))
    for n in ("JAX jit", "Keras 3 fit (JAX)"):
        if n in first:
            print(f"{n}: first fit {C.fmt_time(first[n])} vs steady {C.fmt_time(res[n].median)} → "
                  f"compile/trace ≈ {C.fmt_time(first[n] - res[n].median)} (excluded above)")
    if "scikit-learn MLPClassifier" in impls:
        print(f"scikit-learn weights dtype: {impls['scikit-learn MLPClassifier'].dtype}")
    r = C.ratios(res, nm, "numpy (hand-written floor)")
    print(f"target nnmath ÷ numpy floor ≤ 1.5×: {C.fmt_ratio(r)} → {'MET' if r.median <= 1.5 else 'MISSED'}")
    for peer in ("PyTorch eager", "JAX jit"):
        if peer in res:
            r = C.ratios(res, nm, peer)
            print(f"nnmath ÷ {peer}: {C.fmt_ratio(r)} ({'faster' if r.median < 1 else 'slower'})")
    print()
    return impls.get(nm)


# ============================================================================ 2. GEMM-bound MLP
def gemm_impls(skip, only=None):
    """The GEMM-MLP implementations; ``only``: build just that one (for a memory child)."""
    want = lambda n: only is None or n == only
    X, Y, labels = gemm_data()
    W0 = mlp_weights(GEMM_SIZES, 5)
    batches = [slice(i * GEMM_BATCH, (i + 1) * GEMM_BATCH) for i in range(GEMM_NB)]
    impls = {}
    a, (d0, d1, d2, d3) = GEMM_BATCH, GEMM_SIZES
    if want("8 GEMMs alone (numpy)"):  # the 8 GEMMs alone, preallocated outputs
        rng = np.random.default_rng(6)
        f = lambda *s: rng.standard_normal(s, dtype=F32)
        x, W1, W2, W3 = f(a, d0), f(d0, d1), f(d1, d2), f(d2, d3)
        h1, h2, z3, g3, g2, g1 = f(a, d1), f(a, d2), f(a, d3), f(a, d3), f(a, d2), f(a, d1)
        o = {k: np.empty(s, F32) for k, s in dict(z1=(a, d1), z2=(a, d2), z3=(a, d3), gW3=(d2, d3), dh2=(a, d2),
                                                   gW2=(d1, d2), dh1=(a, d1), gW1=(d0, d1)).items()}
        def gemms():
            for _ in batches:
                np.matmul(x, W1, out=o["z1"]); np.matmul(h1, W2, out=o["z2"]); np.matmul(h2, W3, out=o["z3"])
                np.matmul(h2.T, g3, out=o["gW3"]); np.matmul(g3, W3.T, out=o["dh2"])
                np.matmul(h1.T, g2, out=o["gW2"]); np.matmul(g2, W2.T, out=o["dh1"])
                np.matmul(x.T, g1, out=o["gW1"])
        impls["8 GEMMs alone (numpy)"] = gemms
    if want("numpy (hand-written)"):
        net = NumpyMLP(W0, "ce")
        impls["numpy (hand-written)"] = lambda: np.mean([net.step(X[b], Y[b])[0] for b in batches])
    if want("nnmath fit"):
        from nnmath.keras.layers import Dense
        from nnmath.keras.losses import CategoricalCrossentropy
        from nnmath.keras.models import Sequential
        from nnmath.keras.optimizers import Adam
        m = Sequential([Dense(d1, activation="relu", input_dim=d0), Dense(d2, activation="relu"), Dense(d3)])
        m.build((None, d0))
        m.set_weights(W0)
        m.compile(optimizer=Adam(learning_rate=LR), loss=CategoricalCrossentropy(from_logits=True))
        impls["nnmath fit"] = lambda: m.fit(X, Y, batch_size=GEMM_BATCH, epochs=1, shuffle=False,
                                            verbose=0).history["loss"][-1]
    if "jax" not in skip and want("JAX jit"):
        jax, step, _, st = _jax_mlp(W0, "ce")

        def jrun():
            ls = []
            for b in batches:
                *st[:], l, _ = step(*st, X[b], Y[b])
                ls.append(l)
            return float(np.mean(jax.device_get(ls)))
        impls["JAX jit"] = jrun
    if "torch" not in skip and want("PyTorch eager"):
        torch, tnet, opt = _torch_mlp(W0)
        Xt, Lt = torch.from_numpy(X), torch.from_numpy(labels)
        F = torch.nn.functional

        def trun():
            ls = []
            for b in batches:
                opt.zero_grad(set_to_none=True)
                loss = F.cross_entropy(tnet(Xt[b]), Lt[b])
                loss.backward()
                opt.step()
                ls.append(loss.item())
            return np.mean(ls)
        impls["PyTorch eager"] = trun
    return impls


def bench_gemm(skip, rounds):
    print(f"## 2. GEMM-bound MLP {'-'.join(map(str, GEMM_SIZES))}, batch {GEMM_BATCH}, softmax "
          f"cross-entropy, Adam ({GEMM_NB} steps per sample)\n")
    impls = gemm_impls(skip)
    vals = {n: float(fn()) for n, fn in impls.items() if "GEMMs" not in n}
    print("values: first sample's mean loss over its 4 batches (same weights and batches; nnmath: fit's epoch loss): " +
          ", ".join(f"{n} {v:.5f}" for n, v in vals.items()))
    spread = (max(vals.values()) - min(vals.values())) / statistics.median(vals.values())
    print(f"  spread {spread:.2%} ({'OK' if spread < 0.02 else 'CHECK'})\n")
    res, shares = C.interleave(impls, rounds=rounds, label="gemm mlp")
    nm, gm = "nnmath fit", "8 GEMMs alone (numpy)"
    step = lambda s: C.fmt_time(s / GEMM_NB)
    rows = []
    for n, r in res.items():
        rows.append([n, C.fmt_span(r, step), C.fmt_ratio(C.ratios(res, n, gm)),
                     "—" if n == nm else C.fmt_ratio(C.ratios(res, nm, n))])
    print(f"time per training step; {rounds} interleaved rounds, median [min–max]")
    print(C.table(["implementation", "per step", "÷ 8 GEMMs", "nnmath ÷ this"], rows))
    print(C.share_summary(shares))
    r = C.ratios(res, nm, gm)
    print(f"target nnmath step ÷ GEMMs ≤ 1.35×: {C.fmt_ratio(r)} → {'MET' if r.median <= 1.35 else 'MISSED'}\n")


# ============================================================================ 3. small CNN
def cnn_impls(skip):
    X, Y, labels, W = cnn_data()
    batches = [slice(i * CNN_BATCH, (i + 1) * CNN_BATCH) for i in range(CNN_NB)]
    import bench_conv
    impls = {"8 GEMMs alone (numpy)": (lambda g: lambda: [g() for _ in batches])(bench_conv.make_gemms())}

    from nnmath.keras.layers import Conv2D, Dense, Flatten, MaxPooling2D
    from nnmath.keras.losses import CategoricalCrossentropy
    from nnmath.keras.models import Sequential
    from nnmath.keras.optimizers import Adam
    m = Sequential([Conv2D(16, 3, activation="relu", input_shape=(28, 28, 1)), MaxPooling2D(2),
                    Conv2D(32, 3, activation="relu"), MaxPooling2D(2), Flatten(), Dense(10)])
    m.build((None, 28, 28, 1))
    m.set_weights(W)
    m.compile(optimizer=Adam(learning_rate=LR), loss=CategoricalCrossentropy(from_logits=True))
    impls["nnmath fit"] = lambda: m.fit(X, Y, batch_size=CNN_BATCH, epochs=1, shuffle=False,
                                        verbose=0).history["loss"][-1]
    if "torch" not in skip:
        import torch
        F = torch.nn.functional
        t = lambda a: torch.tensor(np.ascontiguousarray(a)).requires_grad_()
        tw = [t(W[0].transpose(3, 2, 0, 1)), t(W[1]), t(W[2].transpose(3, 2, 0, 1)), t(W[3]),
              t(W[4].reshape(5, 5, 32, 10).transpose(2, 0, 1, 3).reshape(800, 10)), t(W[5])]
        opt = torch.optim.Adam(tw, lr=LR, betas=(B1, B2), eps=EPS)
        Xt, Lt = torch.tensor(X.transpose(0, 3, 1, 2).copy()), torch.from_numpy(labels)

        def trun():
            ls = []
            for b in batches:
                opt.zero_grad(set_to_none=True)
                h = F.max_pool2d(torch.relu(F.conv2d(Xt[b], tw[0], tw[1])), 2)
                h = F.max_pool2d(torch.relu(F.conv2d(h, tw[2], tw[3])), 2)
                loss = F.cross_entropy(h.flatten(1) @ tw[4] + tw[5], Lt[b])
                loss.backward()
                opt.step()
                ls.append(loss.item())
            return np.mean(ls)
        impls["PyTorch eager"] = trun
    if "jax" not in skip:
        import jax
        import jax.numpy as jnp
        lax = jax.lax
        dn = ("NHWC", "HWIO", "NHWC")
        pool = lambda h: lax.reduce_window(h, -jnp.inf, lax.max, (1, 2, 2, 1), (1, 2, 2, 1), "VALID")

        def loss_fn(p, x, y):
            h = pool(jax.nn.relu(lax.conv_general_dilated(x, p[0], (1, 1), "VALID", dimension_numbers=dn) + p[1]))
            h = pool(jax.nn.relu(lax.conv_general_dilated(h, p[2], (1, 1), "VALID", dimension_numbers=dn) + p[3]))
            z = h.reshape(len(h), -1) @ p[4] + p[5]
            return -jnp.mean(jnp.sum(y * jax.nn.log_softmax(z, -1), -1))

        @jax.jit
        def step(p, m_, v, tt, x, y):
            l, g = jax.value_and_grad(loss_fn)(p, x, y)
            return (*_jax_adam(jnp, jax, p, m_, v, tt, g), l)
        p = tuple(jnp.asarray(w) for w in W)
        st = [p, tuple(jnp.zeros_like(w) for w in p), tuple(jnp.zeros_like(w) for w in p), jnp.zeros((), F32)]

        def jrun():
            ls = []
            for b in batches:
                *st[:], l = step(*st, X[b], Y[b])
                ls.append(l)
            return float(np.mean(jax.device_get(ls)))
        impls["JAX jit"] = jrun
        # forward + backward only (bench_conv's measure), JAX jit
        jgrad = jax.jit(jax.value_and_grad(loss_fn))
        x0, y0 = jnp.asarray(X[:CNN_BATCH]), jnp.asarray(Y[:CNN_BATCH])
        impls["_jax_grad"] = lambda: jax.block_until_ready(jgrad(p, x0, y0))
    return impls


def bench_cnn(skip, rounds):
    import bench_conv
    print(f"## 3. Small CNN 28×28×1 → conv3 16 → pool2 → conv3 32 → pool2 → dense 10, batch {CNN_BATCH}, "
          f"softmax cross-entropy, Adam ({CNN_NB} steps per sample)\n")
    impls = cnn_impls(skip)
    jgrad = impls.pop("_jax_grad", None)
    t0 = time.perf_counter()
    vals = {n: float(fn()) for n, fn in impls.items() if "GEMMs" not in n}
    print("values: first sample's mean loss over its 4 batches (nnmath: fit's epoch loss): " + ", ".join(f"{n} {v:.5f}" for n, v in vals.items()))
    spread = (max(vals.values()) - min(vals.values())) / statistics.median(vals.values())
    print(f"  spread {spread:.2%} ({'OK' if spread < 0.02 else 'CHECK'}); first calls (incl. JAX compile) "
          f"{C.fmt_time(time.perf_counter() - t0)}\n")
    res, shares = C.interleave(impls, rounds=rounds, label="cnn train step")
    nm = "nnmath fit"
    step = lambda s: C.fmt_time(s / CNN_NB)
    rows = [[n, C.fmt_span(r, step), "—" if n == nm else C.fmt_ratio(C.ratios(res, nm, n))] for n, r in res.items()]
    print(f"### full training step (Adam); {rounds} interleaved rounds")
    print(C.table(["implementation", "per step", "nnmath ÷ this"], rows))
    print(C.share_summary(shares))
    if "PyTorch eager" in res:
        r = C.ratios(res, nm, "PyTorch eager")
        print(f"target nnmath ÷ PyTorch ≤ 1.5×: {C.fmt_ratio(r)} → {'MET' if r.median <= 1.5 else 'MISSED'}")
    if "JAX jit" in res:
        r = C.ratios(res, nm, "JAX jit")
        print(f"target nnmath faster than JAX jit (ratio < 1): {C.fmt_ratio(r)} → {'MET' if r.median < 1 else 'MISSED'}")
    print()
    # forward + backward only: bench_conv's three lines plus JAX jit
    layers, _, x, labels, nm_grad = bench_conv.make_model()
    g = {"nnmath value_and_grad": nm_grad}
    if "torch" not in skip:
        g["PyTorch eager (autograd.grad)"] = bench_conv.make_torch(layers, x, labels)
    if jgrad is not None:
        g["JAX jit(value_and_grad)"] = jgrad
    res, shares = C.interleave(g, rounds=rounds, label="cnn grad")
    nm = "nnmath value_and_grad"
    rows = [[n, C.fmt_span(r), "—" if n == nm else C.fmt_ratio(C.ratios(res, nm, n))] for n, r in res.items()]
    print(f"### forward + backward only (bench_conv's measure, batch {CNN_BATCH}, first batch); {rounds} rounds")
    print(C.table(["implementation", "time", "nnmath ÷ this"], rows))
    print(C.share_summary(shares))
    print()


# ============================================================================ 4. memory (child processes)
def child_rss(workload, key):
    C.setup_threads(torch_too=(key == "torch"))
    skip = set()
    if workload == "ref":
        X, Y, labels = ref_data()
        run = dict((k, mk) for k, mk in REF_IMPLS.values())[key](
            X, Y, labels, mlp_weights((REF_D, 64, 64, REF_K), 1), ref_perms())
    else:
        skip = {"jax", "torch"} - {key}
        name = {"numpy": "numpy (hand-written)", "nnmath": "nnmath fit", "jax": "JAX jit",
                "torch": "PyTorch eager"}[key]
        run = gemm_impls(skip, only=name)[name]
    base = C.rss_mib()
    t0 = time.perf_counter()
    for _ in range(1 if workload == "ref" else 3):
        run()
    dt = time.perf_counter() - t0
    print(f"RESULT base={base:.1f} peak={C.peak_rss_mib():.1f} ru_maxrss={C.ru_maxrss_mib():.1f} t={dt:.3f}")


def bench_rss(skip):
    print("## 4. Peak RSS, each implementation training in a fresh process (VmHWM)\n")
    print("reference: one 50-epoch fit; GEMM MLP: 3 samples × 4 steps. 'base' = RSS after imports, data "
          "and model setup. Note: the GEMM-MLP nnmath process also imports nnmath; the numpy floor only numpy.")
    rows = []
    floor = {}
    for wl, keys in (("ref", ["numpy", "nnmath", "jax", "torch", "autograd", "sklearn", "keras"]),
                     ("gemm", ["numpy", "nnmath", "jax", "torch"])):
        for key in keys:
            if key in skip or (key == "keras" and not have("keras")):
                continue
            r = C.run_child(__file__, ["--child-rss", wl, key])
            peak, base = float(r["peak"]), float(r["base"])
            if key == "numpy":
                floor[wl] = peak
            rows.append([wl, key, f"{base:.0f} MiB", f"{peak:.0f} MiB", f"{peak - base:.0f} MiB",
                         f"{peak / floor[wl]:.2f}×"])
    print(C.table(["workload", "implementation", "base RSS", "peak RSS", "peak − base", "peak ÷ numpy floor"], rows))
    for wl in ("ref", "gemm"):
        nm = [r for r in rows if r[0] == wl and r[1] == "nnmath"]
        if nm:
            v = float(nm[0][5][:-1])
            print(f"target nnmath peak ≤ 1.5× numpy floor ({wl}): {v:.2f}× → {'MET' if v <= 1.5 else 'MISSED'}")
    print()


# ============================================================================ 5. whole-script wall time
def bench_wall(skip, rounds, keras_python):
    print("## 5. Whole reference script, one fresh process each, imports included (wall time)\n")
    env = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""))
    cmds = {"nnmath (examples/keras_reference.py)": [sys.executable, os.path.join(REPO, "examples", "keras_reference.py")]}
    if "jax" not in skip:
        cmds["JAX jit (bench_training_jax_reference.py)"] = [sys.executable, os.path.join(HERE, "bench_training_jax_reference.py")]
    if "keras" not in skip and keras_python:
        cmds["Keras 3 on JAX (bench_training_keras_reference.py)"] = [
            keras_python, os.path.join(HERE, "bench_training_keras_reference.py")]
    C.wait_quiet()
    samples = {n: [] for n in cmds}
    shares, discarded = [], 0
    names = list(cmds)
    r = 0
    while len(shares) < rounds:
        order = names[r % len(names):] + names[:r % len(names)]
        r += 1
        meter = C.CpuMeter()
        got = {}
        for n in order:
            t0 = time.perf_counter()
            p = subprocess.run(cmds[n], capture_output=True, text=True, env=env, cwd=REPO)
            got[n] = time.perf_counter() - t0
            if p.returncode != 0:
                raise RuntimeError(f"{n} failed:\n{p.stdout[-2000:]}\n{p.stderr[-2000:]}")
        share = meter.share()
        if share > C.QUIET_LIMIT and discarded < 20:
            discarded += 1
            print(f"  [quiet check] wall round discarded: background {share:.0%}", flush=True)
            C.wait_quiet()
            continue
        for n in names:
            samples[n].append(got[n])
        shares.append(share)
    res = {n: C.Result(n, s) for n, s in samples.items()}
    nm = names[0]
    rows = [[n, C.fmt_span(r), "—" if n == nm else C.fmt_ratio(C.ratios(res, nm, n))] for n, r in res.items()]
    print(f"{rounds} interleaved rounds ({discarded} discarded), median [min–max]")
    print(C.table(["script", "wall time", "nnmath ÷ this"], rows))
    print(C.share_summary(shares))
    jx = [n for n in names if n.startswith("JAX")]
    if jx:
        rr = C.ratios(res, nm, jx[0])
        print(f"target nnmath script < ⅓ of JAX's: {C.fmt_ratio(rr)} → {'MET' if rr.median < 1 / 3 else 'MISSED'}")
    print()


def profile_nnmath():
    import cProfile
    import pstats
    X, Y, labels = ref_data()
    run = ref_nnmath(X, Y, labels, mlp_weights((REF_D, 64, 64, REF_K), 1), ref_perms())
    run()
    pr = cProfile.Profile()
    pr.enable()
    run()
    pr.disable()
    print(f"## cProfile: one nnmath reference fit ({REF_STEPS} steps + 50 validations), top 25 by tottime\n")
    pstats.Stats(pr, stream=sys.stdout).strip_dirs().sort_stats("tottime").print_stats(25)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--skip", default="", help="comma-separated peers: keras,autograd,sklearn,torch,jax")
    ap.add_argument("--only", action="append", choices=["ref", "gemm", "cnn", "rss", "wall"])
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--wall-rounds", type=int, default=5)
    ap.add_argument("--keras-python", default=None)
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--child-rss", nargs=2, metavar=("WORKLOAD", "IMPL"))
    a = ap.parse_args()
    if a.child_rss:
        return child_rss(*a.child_rss)
    skip = set(filter(None, a.skip.split(",")))
    only = set(a.only or ["ref", "gemm", "cnn", "rss", "wall"])
    keras_python = a.keras_python or (sys.executable if have("keras") else None)
    C.setup_threads(torch_too="torch" not in skip)
    C.print_header("bench_training: Keras-style training, nnmath vs peers (float32, 2 threads)")
    print(f"KERAS_BACKEND={os.environ.get('KERAS_BACKEND')}, keras: "
          f"{__import__('importlib.metadata').metadata.version('keras') if have('keras') else 'not importable'}"
          f"; scikit-learn {__import__('sklearn').__version__ if have('sklearn') else '-'}; "
          f"keras python for the script timing: {keras_python}\n", flush=True)
    t0 = time.time()
    if "ref" in only:
        bench_ref(skip, a.rounds)
    if "gemm" in only:
        bench_gemm(skip, a.rounds)
    if "cnn" in only:
        bench_cnn(skip, a.rounds)
    if "rss" in only:
        bench_rss(skip)
    if "wall" in only:
        bench_wall(skip, a.wall_rounds, keras_python)
    if a.profile:
        profile_nnmath()
    print(f"total {time.time() - t0:.0f} s")


if __name__ == "__main__":
    main()
