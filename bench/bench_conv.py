"""A small CNN training step (forward + backward) against PyTorch eager, float32, batch 64.

    x (64, 28, 28, 1) → Conv2D(16, 3, relu) → MaxPooling2D(2) → Conv2D(32, 3, relu)
      → MaxPooling2D(2) → Flatten → Dense(10) → softmax cross-entropy (mean over the batch)

nnmath: ``value_and_grad`` of the loss as a pure function of the layers' parameters (the layers'
``call``; conv2d is one im2col GEMM per map, max pooling strided views). PyTorch: the same weights
(kernels permuted to (out, in, kh, kw), the dense kernel's rows permuted so PyTorch's NCHW
flatten meets them in Keras's NHWC order), ``torch.autograd.grad``. Values are checked to agree
before timing. A third line times the step's GEMMs alone (numpy, same shapes): the floor of any
im2col implementation on numpy's BLAS.

Target: nnmath / PyTorch ≤ 1.5×.   Run:  python bench/bench_conv.py
(NNMATH_BENCH_QUIET_LIMIT=1 for a smoke run on a busy machine.)
"""
from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common as C  # noqa: E402

import numpy as np  # noqa: E402

BATCH = 64
ROUNDS = 7
TARGET = 1.5


def make_model():
    import nnmath as nm
    import nnmath.numpy as mnp
    from nnmath.nn.layers.conv import Conv2D
    from nnmath.nn.layers.core import Dense, Flatten
    from nnmath.nn.layers.pooling import MaxPooling2D
    from nnmath.scipy.special import logsumexp

    layers = [Conv2D(16, 3, activation="relu"), MaxPooling2D(2), Conv2D(32, 3, activation="relu"),
              MaxPooling2D(2), Flatten(), Dense(10)]
    shape = (None, 28, 28, 1)
    rng = np.random.default_rng(0)
    for layer in layers:
        layer.build(shape)
        layer.set_weights([rng.uniform(-0.2, 0.2, w.shape).astype(np.float32) for w in layer.get_weights()])
        shape = layer.compute_output_shape(shape)
    params = {l.name: dict(l.values) for l in layers}
    x = rng.standard_normal((BATCH, 28, 28, 1), dtype=np.float32)
    labels = rng.integers(0, 10, BATCH)
    onehot = np.eye(10, dtype=np.float32)[labels]

    def loss(p):
        h = x
        for layer in layers:
            h = layer.call(p[layer.name], h)
        return mnp.mean(logsumexp(h, axis=-1) - mnp.sum(h * onehot, axis=-1))

    step = nm.value_and_grad(loss)
    return layers, params, x, labels, lambda: step(params)


def make_torch(layers, x, labels):
    import torch
    F = torch.nn.functional
    c1, _, c2, _, _, d = layers
    t = lambda a: torch.tensor(np.ascontiguousarray(a)).requires_grad_()
    w = [t(c1.values["kernel"].transpose(3, 2, 0, 1)), t(c1.values["bias"]),
         t(c2.values["kernel"].transpose(3, 2, 0, 1)), t(c2.values["bias"]),
         t(d.values["kernel"].reshape(5, 5, 32, 10).transpose(2, 0, 1, 3).reshape(800, 10)),
         t(d.values["bias"])]
    xt = torch.tensor(x.transpose(0, 3, 1, 2).copy())
    yt = torch.tensor(labels)

    def step():
        h = F.max_pool2d(torch.relu(F.conv2d(xt, w[0], w[1])), 2)
        h = F.max_pool2d(torch.relu(F.conv2d(h, w[2], w[3])), 2)
        loss = F.cross_entropy(h.flatten(1) @ w[4] + w[5], yt)
        return loss, torch.autograd.grad(loss, w)
    return step


def make_gemms():
    """The step's GEMMs alone: for each conv, forward X·W, Xᵀ·Ḡ (kernel) and Ḡ·Wᵀ (input, second
    conv only), and the dense layer's three."""
    rng = np.random.default_rng(1)
    f = lambda *s: rng.standard_normal(s, dtype=np.float32)
    X1, W1, G1 = f(BATCH * 26 * 26, 9), f(9, 16), f(BATCH * 26 * 26, 16)
    X2, W2, G2 = f(BATCH * 11 * 11, 144), f(144, 32), f(BATCH * 11 * 11, 32)
    H, Wd, Gd = f(BATCH, 800), f(800, 10), f(BATCH, 10)

    def run():
        X1 @ W1, X1.T @ G1
        X2 @ W2, X2.T @ G2, G2 @ W2.T
        H @ Wd, H.T @ Gd, Gd @ Wd.T
    return run


def main():
    C.setup_threads()
    C.print_header(f"bench_conv: small CNN training step (forward + backward), batch {BATCH}, float32")
    layers, params, x, labels, nm_step = make_model()
    th_step = make_torch(layers, x, labels)
    (l_nm, g_nm), (l_th, g_th) = nm_step(), th_step()
    l_th = l_th.detach()
    assert abs(float(l_nm) - float(l_th)) < 1e-4 * max(1.0, abs(float(l_th))), (l_nm, l_th)
    k1 = g_nm[layers[0].name]["kernel"]
    err = np.abs(k1 - g_th[0].numpy().transpose(2, 3, 1, 0)).max() / np.abs(k1).max()
    assert err < 1e-4, err
    print(f"values checked: loss {float(l_nm):.6f} (PyTorch {float(l_th):.6f}); first kernel's "
          f"gradient max rel. diff {err:.1e}\n")
    impls = {"GEMMs alone (numpy)": make_gemms(), "nnmath value_and_grad": nm_step,
             "PyTorch eager": th_step}
    res, shares = C.interleave(impls, rounds=ROUNDS, label="cnn step")
    rows = []
    for name, r in res.items():
        ratio = "—" if name == "nnmath value_and_grad" else C.fmt_ratio(
            C.ratios(res, "nnmath value_and_grad", name))
        rows.append([name, C.fmt_span(r), ratio])
    print(f"## time per training step ({ROUNDS} interleaved rounds; median [min–max])")
    print(C.table(["implementation", "time", "nnmath ÷ this"], rows))
    print(C.share_summary(shares))
    r = C.ratios(res, "nnmath value_and_grad", "PyTorch eager")
    print(f"target nnmath / PyTorch ≤ {TARGET}×: {C.fmt_ratio(r)} → "
          f"{'MET' if r.median <= TARGET else 'MISSED'}")


if __name__ == "__main__":
    main()
