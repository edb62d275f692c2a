"""Laplace approximations: nnmath.analysis.Laplace against laplace-torch on the same models.

1. Last-layer K-FAC Laplace of the digits MLP (``nnmath demo``'s: Dense(256, relu) → Dropout(0.2)
   → Dense(10, softmax), float32, trained 20 epochs with Adam on the stratified 75 % split):
   fit on the 1,347 training images + GLM probit predictive on the 450 held-out ones. The torch
   twin (Linear → ReLU → Dropout → Linear, logits) carries the same weights; nnmath linearises the
   softmax model in log p, whose GGN equals the logits' (see laplace.py).
2. Full K-FAC Laplace of a 94,218-parameter MLP (100 → 256 → 256 → 10, relu, logits, float32,
   1,000 Gaussian samples, uniform labels, seed 0): fit + GLM probit predictive on 100 points.

Both libraries: likelihood="classification", prior_precision=1, hessian_structure="kron", exact
GGN factors (laplace-torch 0.3's default backend here is CurvlinopsGGN, K-FAC "expand"). The
printed agreement is the max |Δ| of the predictive probabilities and the log marginal likelihoods.
Known, expected differences: laplace-torch factors a Dense layer's weight and bias as two
Kronecker blocks (curvlinops ``separate_weight_and_bias=True``, dropping their cross terms),
nnmath as one block on W̃ = [W; bᵀ] (exact on one sample), so log det P differs slightly; with
several batches laplace-torch sums per-batch factors. The probit approximation of a softmax-output
model acts on log p in nnmath and on the logits in torch (the MC predictive is the same), hence
the logits twin for the like-for-like comparison.
Target (issue 10): nnmath no slower than laplace-torch.
Run:  python bench/bench_laplace.py   (needs ``pip install torch==2.13.0 laplace-torch``; install
laplace-torch with torch pinned, e.g. ``-c constraints.txt`` holding ``torch==2.13.0``)
"""
from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common as C  # noqa: E402

import numpy as np  # noqa: E402

ROUNDS = 5


def digits_problem():
    from nnmath.keras import layers, optimizers
    from nnmath.training import Sequential, set_random_seed
    from nnmath.training.datasets import load_digits, stratified_split
    X, y = load_digits()
    train, test = stratified_split(y, test_size=0.25, seed=0)
    X = (X / 16.0).astype(np.float32)
    set_random_seed(0)
    model = Sequential([layers.Dense(256, activation="relu", input_dim=64), layers.Dropout(0.2),
                        layers.Dense(10, activation="softmax")])
    model.compile(optimizer=optimizers.Adam(learning_rate=1e-3),
                  loss="sparse_categorical_crossentropy")
    model.fit(X[train], y[train], epochs=20, batch_size=32, verbose=0)
    return model, X[train], y[train], X[test]


def logits_twin(model):
    """The trained digits model with its softmax moved into the loss (from_logits=True): the
    probit approximation acts on logits in laplace-torch, so this is the like-for-like model."""
    from nnmath.keras import layers
    from nnmath.training import Sequential
    from nnmath.nn.losses import SparseCategoricalCrossentropy
    twin = Sequential([layers.Dense(256, activation="relu", input_dim=64), layers.Dropout(0.2),
                       layers.Dense(10)])
    twin.compile(loss=SparseCategoricalCrossentropy(from_logits=True))
    twin.set_weights(model.get_weights())
    return twin


def mlp_problem():
    from nnmath.keras import layers
    from nnmath.keras.models import Sequential
    from nnmath.nn.losses import SparseCategoricalCrossentropy
    sizes = [(100, 256), (256, 256), (256, 10)]
    rng = np.random.default_rng(0)
    X = rng.standard_normal((1000, 100)).astype(np.float32)
    y = rng.integers(0, 10, 1000)
    weights = []
    for i, o in sizes:
        weights += [(rng.standard_normal((i, o)) * np.sqrt(2.0 / i)).astype(np.float32),
                    (0.1 * rng.standard_normal(o)).astype(np.float32)]
    model = Sequential([layers.Dense(o, activation="relu" if k < 2 else None,
                                     input_dim=i if k == 0 else None)
                        for k, (i, o) in enumerate(sizes)])
    model.compile(optimizer="sgd", loss=SparseCategoricalCrossentropy(from_logits=True))
    model.set_weights(weights)
    return model, X, y, X[:100]


def torch_twin(model, dropout_after_first=False):
    import torch
    mods = []
    dense = [l for l in model.layers if l.params]
    for k, layer in enumerate(dense):
        W, b = layer.params["kernel"], layer.params["bias"]
        lin = torch.nn.Linear(*W.shape)
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(np.ascontiguousarray(W.T)))
            lin.bias.copy_(torch.from_numpy(np.asarray(b)))
        mods.append(lin)
        if k < len(dense) - 1:
            mods.append(torch.nn.ReLU())
            if dropout_after_first and k == 0:
                mods.append(torch.nn.Dropout(0.2))
    return torch.nn.Sequential(*mods).eval()


def compare(title, model, X, y, Xq, subset, tmodel):
    import torch
    from laplace import Laplace as TorchLaplace
    from nnmath.analysis.laplace import Laplace
    out = {}
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(torch.from_numpy(X), torch.from_numpy(y)), batch_size=256)
    tq = torch.from_numpy(Xq)

    def ours():
        la = Laplace(model, subset=subset, hessian_structure="kron", x=X, y=y,
                     batch_size=256).fit()
        out["nn"] = (la, la(Xq))

    def theirs():
        la = TorchLaplace(tmodel, "classification", subset_of_weights=subset.replace(
            "all", "all"), hessian_structure="kron", prior_precision=1.0)
        la.fit(loader, progress_bar=False)
        with torch.no_grad():
            probs = la(tq, pred_type="glm", link_approx="probit")
        out["lt"] = (la, probs.numpy())

    res, shares = C.interleave({"nnmath": ours, "laplace-torch": theirs}, rounds=ROUNDS,
                               numbers={"nnmath": 1, "laplace-torch": 1}, label=title)
    la, p = out["nn"]
    tla, tp = out["lt"]
    lml = la.log_marginal_likelihood()
    tlml = float(tla.log_marginal_likelihood())
    r = C.ratios(res, "nnmath", "laplace-torch")
    print(f"\n{title}: {la.n_params:,} parameters in the Laplace")
    print(C.table(["", "fit + predictive", "log marginal likelihood"], [
        ["nnmath", C.fmt_span(res["nnmath"]), f"{lml:.3f}"],
        ["laplace-torch", C.fmt_span(res["laplace-torch"]), f"{tlml:.3f}"]]))
    print(f"predictive max |Δp| {np.max(np.abs(p - tp)):.2e}; nnmath ÷ laplace-torch time "
          f"{C.fmt_ratio(r)} (target ≤ 1); {C.share_summary(shares)}")


def main():
    C.print_header("Laplace: nnmath.analysis.Laplace vs laplace-torch (K-FAC, GLM probit)")
    C.setup_threads(torch_too=True)
    print(C.versions(("numpy", "scipy", "torch", "laplace-torch")))
    model, X, y, Xq = digits_problem()
    tmodel = torch_twin(model, dropout_after_first=True)
    compare("digits MLP (softmax output, linearised in log p), last layer", model, X, y, Xq,
            "last_layer", tmodel)
    compare("digits MLP (logits twin), last layer", logits_twin(model), X, y, Xq, "last_layer",
            tmodel)
    model, X, y, Xq = mlp_problem()
    compare("94k-parameter MLP, all layers", model, X, y, Xq, "all", torch_twin(model))


if __name__ == "__main__":
    main()
