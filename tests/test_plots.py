"""Pictures of the analysis results that got one last (issue 12): each result is computed by its
real tool on a tiny seeded problem, drawn with ``.plot()`` (Axes with x and y labels), rendered by
``_repr_png_()`` as a PNG, and one number per picture is checked against the result's own data
(the picture draws what the result holds, nothing recomputed)."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("matplotlib")

import nnmath.keras as keras  # noqa: E402
import nnmath.numpy as mnp  # noqa: E402
from nnmath import analysis as A  # noqa: E402
from nnmath.analysis import _plot  # noqa: E402

PNG = b"\x89PNG\r\n\x1a\n"


class _Constant:
    """An ensemble member that predicts fixed outputs."""

    def __init__(self, out):
        self.out = np.asarray(out, dtype=float)

    def predict(self, x, batch_size=None, verbose=0):
        return self.out


def _build():
    m = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1, dtype="float64")])
    m.compile(optimizer="sgd", loss="mse")
    return m


def _results() -> dict:
    rng = np.random.default_rng(0)
    keras.utils.set_random_seed(0)
    a, b = np.ones(4) / 4, np.ones(5) / 5
    cost = (np.arange(4)[:, None] - np.arange(5)[None, :] / 1.25) ** 2
    grid = np.arange(8.0)
    hist = np.stack([np.exp(-(grid - 2) ** 2), np.exp(-(grid - 5) ** 2)], 1)
    hist /= hist.sum(0)
    xs = np.linspace(-1, 1, 8)[:, None]
    mlp = keras.Sequential([keras.layers.Dense(4, "tanh", input_shape=(3,), dtype="float64"),
                            keras.layers.Dense(4, "tanh", dtype="float64"),
                            keras.layers.Dense(1, dtype="float64")])
    q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    kernel, y = np.array([[2.0, 0.5], [0.5, 1.0]]), np.array([1.0, -1.0])
    half = lambda t: 0.5 * mnp.sum(t ** 2)  # noqa: E731
    return {
        "SinkhornResult": A.sinkhorn(a, b, cost, 0.1),
        "SinkhornBarycenterResult": A.sinkhorn_barycenter(hist, (grid[:, None] - grid) ** 2,
                                                          1.0),
        "Barycenter1DResult": A.wasserstein_barycenter_1d([np.array([0.0, 1.0, 2.0]),
                                                           np.array([3.0, 5.0])]),
        "EnsemblePrediction": A.ensemble_predict(
            [_Constant(np.c_[np.sin(np.arange(6.0)), np.ones(6)]),
             _Constant(np.c_[np.cos(np.arange(6.0)), np.full(6, 0.5)])], None, gaussian=True),
        "DeepEnsemble": A.deep_ensemble(_build, xs, 2 * xs, num_models=3, epochs=3),
        "MeanFieldPosterior": A.bayes_by_backprop(half, np.zeros(2), num_data=1, num_steps=50,
                                                  learning_rate=0.1, seed=0),
        "LangevinSamples": A.sgld_sample(half, np.zeros(2), num_samples=200, learning_rate=0.05,
                                         burn_in=10, num_batches=10, seed=0),
        "RademacherResult": A.rademacher_complexity(A.LinearClass(1.0), rng.normal(size=(12, 2)),
                                                    num_draws=50),
        "DiagonalResult": A.hessian_diagonal(
            lambda p: mnp.sum(p["a"] ** 2) + mnp.sum(p["b"] ** 4),
            {"a": np.ones(3), "b": np.ones((2, 2))}, num_samples=10),
        "NTKPrediction": A.ntk_predict(kernel, y, t=np.array([0.0, 0.5, 1.0, 3.0, np.inf]),
                                       ntk_test_train=np.array([[1.0, 0.2]])),
        "JacobianSpectrum": A.jacobian_spectrum(lambda p, x: mnp.tanh(x @ p), 1.5 * q,
                                                rng.normal(size=(5, 3))),
        "ActivationStatistics": A.activation_statistics(mlp, rng.normal(size=(20, 3))),
    }


@pytest.fixture(scope="module")
def results():
    return _results()


def _axes(drawn) -> list:
    return drawn if isinstance(drawn, list) else [drawn]


def test_every_result_draws_labelled_axes_and_a_png(results):
    for name, r in results.items():
        assert type(r).__name__ == name and _plot.plotter_for(r) is not None, name
        axes = _axes(r.plot())
        assert all(ax.get_xlabel() and ax.get_ylabel() for ax in axes), name
        assert r._repr_png_().startswith(PNG), name
        assert r._repr_html_() is None, name           # Jupyter shows the picture


def test_sinkhorn_image_is_the_plan_and_bars_its_marginals(results):
    r = results["SinkhornResult"]
    ax = r.plot()
    np.testing.assert_array_equal(ax.images[0].get_array(), r.plan)
    top, right = ax.child_axes
    np.testing.assert_allclose([p.get_height() for p in top.patches], r.plan.sum(0))
    np.testing.assert_allclose([p.get_width() for p in right.patches], r.plan.sum(1))


def test_sinkhorn_barycenter_bars_are_the_histogram(results):
    r = results["SinkhornBarycenterResult"]
    np.testing.assert_allclose([p.get_height() for p in r.plot().patches], r.barycenter)


def test_barycenter_1d_quantile_steps(results):
    r = results["Barycenter1DResult"]
    values, edges, _ = r.plot()[0].patches[0].get_data()
    np.testing.assert_array_equal(values, r.values)
    np.testing.assert_allclose(edges, np.concatenate([[0.0], np.cumsum(r.weights)]))


def test_ensemble_prediction_mean_line(results):
    r = results["EnsemblePrediction"]
    lines = r.plot().get_lines()
    np.testing.assert_allclose(lines[-1].get_ydata(), r.mean[:, 0])
    np.testing.assert_allclose(lines[0].get_ydata(), r.member_means[0, :, 0])


def test_ensemble_of_classifiers_shows_the_predicted_class():
    probs = [np.array([[0.7, 0.3], [0.2, 0.8]]), np.array([[0.5, 0.5], [0.4, 0.6]])]
    r = A.ensemble_predict([_Constant(p) for p in probs], None)
    ax = r.plot()
    assert ax.get_ylabel() == "probability of the predicted class"
    np.testing.assert_allclose(ax.get_lines()[0].get_ydata(), [0.7, 0.8])   # member 0


def test_deep_ensemble_loss_curves_are_the_histories(results):
    r = results["DeepEnsemble"]
    axes = r.plot()
    assert len(axes) == 2
    for line, h in zip(axes[1].get_lines(), r.histories):
        np.testing.assert_allclose(line.get_ydata(), h.history["loss"])


def test_mean_field_history_and_posterior(results):
    r = results["MeanFieldPosterior"]
    axes = r.plot()
    np.testing.assert_allclose(axes[0].get_lines()[0].get_ydata(), r.history)
    np.testing.assert_allclose(axes[1].get_lines()[0].get_ydata(), r.mean_flat)


def test_langevin_traces_are_the_samples(results):
    r = results["LangevinSamples"]
    lines = r.plot()[0].get_lines()
    for j in range(2):
        np.testing.assert_allclose(lines[j].get_ydata(), r.samples[:, j])


def test_rademacher_histogram_counts_every_draw(results):
    r = results["RademacherResult"]
    ax = r.plot()
    assert sum(p.get_height() for p in ax.containers[0]) == r.num_draws == len(r.draws)
    assert ax.get_lines()[0].get_xdata()[0] == r.estimate


def test_hessian_diagonal_histogram_per_weight(results):
    r = results["DiagonalResult"]
    ax = r.plot()
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert [s.split(" ")[0] for s in labels] == ["a", "b"]
    assert labels[1].startswith("b (4 entries")


def test_ntk_prediction_lines_follow_time(results):
    r = results["NTKPrediction"]
    ax = r.plot()
    finite = np.isfinite(r.t)
    first = ax.get_lines()[0]
    np.testing.assert_allclose(first.get_xdata(), r.t[finite])
    np.testing.assert_allclose(first.get_ydata(), r.train[finite, 0])
    one_time = A.ntk_predict(np.array([[2.0, 0.5], [0.5, 1.0]]), np.array([1.0, -1.0]), t=1.0)
    np.testing.assert_allclose(one_time.plot().get_lines()[0].get_ydata(), one_time.train)


def test_jacobian_spectrum_median(results):
    r = results["JacobianSpectrum"]
    np.testing.assert_allclose(r.plot().get_lines()[0].get_ydata(),
                               np.median(r.singular_values, axis=0))


def test_activation_statistics_variances_by_depth(results):
    r = results["ActivationStatistics"]
    lines = r.plot().get_lines()
    np.testing.assert_allclose(lines[0].get_ydata(), r.activation_variances)
    np.testing.assert_allclose(lines[1].get_ydata(), r.gradient_variances)


def test_scalar_results_stay_tables():
    """Results that are a few numbers keep their HTML table (see the report of issue 12)."""
    r = A.fit_temperature(np.array([[2.0, 0.0], [0.0, 1.0], [1.0, 0.5]]), np.array([0, 1, 1]))
    assert _plot.plotter_for(r) is None and r._repr_png_() is None
    assert "<table>" in r._repr_html_()
