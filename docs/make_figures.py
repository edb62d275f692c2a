"""Draw the figures of the user documentation into docs/img/ (small PNGs, committed with it).

    python docs/make_figures.py

Each figure is drawn by the result's own ``plot()`` (``nnmath.analysis``), on tiny models with
fixed seeds, so the pictures are what a user of these pages gets. Takes about half a minute.
"""
from __future__ import annotations

import pathlib

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from nnmath import analysis, keras  # noqa: E402

IMG = pathlib.Path(__file__).resolve().parent / "img"
DPI = 80
SIZE = (6.0, 3.6)


def save(fig, name: str) -> None:
    fig.tight_layout()
    fig.savefig(IMG / name, dpi=DPI)
    plt.close(fig)
    print("wrote", IMG / name)


def regression_mlp():
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(128, 3))
    y = np.sin(x @ np.array([[1.0], [-0.5], [0.25]]))
    model = keras.Sequential([keras.Input((3,)),
                              keras.layers.Dense(8, activation="tanh", dtype="float64"),
                              keras.layers.Dense(1, dtype="float64")])
    model.compile(optimizer="adam", loss="mse")
    model.fit(x, y, epochs=30, verbose=0)
    return model, x, y


def xor_mlp(seed: int, x, y):
    keras.utils.set_random_seed(seed)
    m = keras.Sequential([keras.Input((2,)),
                          keras.layers.Dense(16, activation="relu", dtype="float64"),
                          keras.layers.Dense(2, activation="softmax", dtype="float64")])
    m.compile(optimizer=keras.optimizers.Adam(0.05), loss="sparse_categorical_crossentropy")
    m.fit(x, y, epochs=40, batch_size=32, verbose=0)
    return m


def hessian_density() -> None:
    model, x, y = regression_mlp()
    density = analysis.hessian_spectral_density(model, num_probes=8, lanczos_steps=41, x=x, y=y)
    top = analysis.hessian_top_eigenvalues(model, k=3, x=x, y=y)
    from nnmath.analysis._plot import plot_hessian_spectrum
    fig, ax = plt.subplots(figsize=SIZE)
    plot_hessian_spectrum(density, top, ax=ax)
    save(fig, "hessian_density.png")


def landscape() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(128, 2))
    y = (x[:, 0] * x[:, 1] > 0).astype(int)
    a, b = xor_mlp(0, x, y), xor_mlp(1, x, y)
    surface = analysis.loss_surface_2d(a, x=x, y=y, alphas=np.linspace(-1, 1, 25), seed=0)
    fig, ax = plt.subplots(figsize=(5.0, 4.2))
    surface.plot(ax=ax)
    save(fig, "loss_surface.png")

    line = analysis.linear_interpolation(a, a, b, x=x, y=y, num=41)
    curve = analysis.fit_bezier_curve(a, a, b, x=x, y=y, num_steps=300, learning_rate=0.02,
                                      num_points=41)
    fig, ax = plt.subplots(figsize=SIZE)
    ax.plot(line.alphas, line.loss, label=f"straight line (barrier {line.barrier:.2f})")
    ax.plot(curve.ts, curve.loss, label=f"trained Bézier curve (barrier {curve.barrier:.2f})")
    ax.set_xlabel("position along the path, t (0 = seed 0, 1 = seed 1)")
    ax.set_ylabel("training loss (nats)")
    ax.legend(frameon=False)
    ax.set_title("mode connectivity (Garipov et al. 2018)", fontsize=10)
    save(fig, "mode_connectivity.png")


def ntk() -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3))
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)),
                              keras.layers.Dense(64, activation="tanh", dtype="float64"),
                              keras.layers.Dense(1, dtype="float64")])
    spectrum = analysis.ntk_eigenspectrum(model, None, X)
    fig, ax = plt.subplots(figsize=SIZE)
    spectrum.plot(ax=ax)
    save(fig, "ntk_spectrum.png")


def information_plane() -> None:
    rng = np.random.default_rng(0)
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.layers.Dense(8, "tanh", input_shape=(2,), name="h1"),
                              keras.layers.Dense(4, "tanh", name="h2"),
                              keras.layers.Dense(2, "softmax", name="out")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    xs = rng.normal(size=(400, 2))
    ys = (xs[:, 0] * xs[:, 1] > 0).astype(int)
    plane = analysis.InformationPlane(xs[:200], ys[:200], bins=30, base=2)
    model.fit(xs, ys, epochs=60, verbose=0, callbacks=[plane])
    fig, ax = plt.subplots(figsize=SIZE)
    plane.result().plot(ax=ax)
    save(fig, "information_plane.png")


def reliability() -> None:
    rng = np.random.default_rng(0)
    z = rng.normal(size=(4000, 3)) * 2
    y = np.array([rng.choice(3, p=np.exp(r) / np.exp(r).sum()) for r in z])
    logits = 3 * z                                          # overconfident by a factor 3
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    ts = analysis.fit_temperature(logits, y)
    before = analysis.reliability_diagram(probs, y)
    after = analysis.reliability_diagram(ts.probabilities(logits), y)
    fig, axes = plt.subplots(1, 2, figsize=(8.4, 3.8))
    before.plot(ax=axes[0])
    after.plot(ax=axes[1])
    axes[0].set_title(f"logits z: ECE {before.ece:.3f}", fontsize=10)
    axes[1].set_title(f"z / T̂ with T̂ = {ts.temperature:.2f}: ECE {after.ece:.3f}", fontsize=10)
    save(fig, "reliability.png")


def convergence() -> None:
    q = analysis.quadratic([1.0, 10.0, 100.0], seed=0)
    fig, ax = plt.subplots(figsize=SIZE)
    for i, method in enumerate(("gd", "heavy_ball", "nesterov")):
        r = analysis.convergence_rate(method, q, max_iter=400)
        k = np.arange(len(r.errors))
        line, = ax.semilogy(k, r.errors / r.errors[0], label=f"{method}: measured "
                            f"ρ̂ = {r.measured_rate:.4f}, theory ρ = {r.theoretical_rate:.4f}")
        ax.semilogy(k, r.theoretical_rate ** k, ls=":", color=line.get_color())
    ax.set_ylim(1e-16, 10)
    ax.set_xlabel("iteration k")
    ax.set_ylabel("‖θ_k − θ*‖ / ‖θ₀ − θ*‖")
    ax.set_title("a quadratic with κ = 100 (dotted: ρᵏ)", fontsize=10)
    ax.legend(frameon=False, fontsize=8)
    save(fig, "convergence.png")


def main() -> None:
    IMG.mkdir(exist_ok=True)
    for draw in (hessian_density, landscape, ntk, information_plane, reliability, convergence):
        draw()


if __name__ == "__main__":
    main()
