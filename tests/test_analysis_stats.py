"""analysis.stats against exact or independent answers: R's published t.test output on Student's
sleep data, scipy.stats (ttest_ind/ttest_rel/bootstrap), finite differences (nm.check_grads), the
exactly enumerated bootstrap distribution, and the unbiasedness of Hedges' g."""
import itertools
import json

import numpy as np
import pytest
import scipy.stats

import nnmath as nm
from nnmath import keras
from nnmath.analysis.stats import (RunComparison, bootstrap_ci, compare_runs, hedges_g,
                                   metric_mode, ttest_ind, ttest_rel)

DRUG1 = np.array([0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0])
DRUG2 = np.array([1.9, 0.8, 1.1, 0.1, -0.1, 4.4, 5.5, 1.6, 4.6, 3.4])


# ------------------------------------------------------------------ R's t.test on `sleep`
def test_welch_matches_r_on_sleep():
    # R: t.test(extra ~ group, data = sleep)
    r = ttest_ind(DRUG1, DRUG2, equal_var=False)
    assert r.statistic == pytest.approx(-1.8608, abs=5e-5)
    assert r.df == pytest.approx(17.776, abs=5e-4)
    assert r.pvalue == pytest.approx(0.07939, abs=5e-6)
    low, high = r.confidence_interval()
    assert (low, high) == pytest.approx((-3.3654832, 0.2054832), abs=5e-8)
    assert r.method == "welch" and r.estimate == pytest.approx(0.75 - 2.33)


def test_paired_matches_r_on_sleep():
    # R: t.test(extra[group == 1], extra[group == 2], paired = TRUE)
    r = ttest_rel(DRUG1, DRUG2)
    assert r.statistic == pytest.approx(-4.0621, abs=5e-5)
    assert r.df == 9
    assert r.pvalue == pytest.approx(0.002833, abs=5e-7)
    ci = r.confidence_interval()
    assert (ci.low, ci.high) == pytest.approx((-2.4598858, -0.7001142), abs=5e-8)
    assert ci.confidence_level == 0.95


# ------------------------------------------------------------------ against scipy
@pytest.mark.parametrize("alternative", ["two-sided", "less", "greater"])
@pytest.mark.parametrize("equal_var", [True, False])
@pytest.mark.parametrize("sizes", [(10, 10), (5, 13), (2, 3)])
def test_ttest_ind_matches_scipy(alternative, equal_var, sizes):
    rng = np.random.default_rng(sum(sizes))
    a, b = rng.normal(0, 1, sizes[0]), rng.normal(0.5, 2, sizes[1])
    ours = ttest_ind(a, b, equal_var=equal_var, alternative=alternative)
    ref = scipy.stats.ttest_ind(a, b, equal_var=equal_var, alternative=alternative)
    np.testing.assert_allclose([ours.statistic, ours.pvalue, ours.df],
                               [ref.statistic, ref.pvalue, ref.df], rtol=1e-12)
    for level in (0.9, 0.95, 0.99):
        np.testing.assert_allclose(tuple(ours.confidence_interval(level)),
                                   tuple(ref.confidence_interval(level)), rtol=1e-12)
    statistic, pvalue = ours                     # unpacks like scipy's result
    assert statistic == ours.statistic and pvalue == ours.pvalue


@pytest.mark.parametrize("alternative", ["two-sided", "less", "greater"])
def test_ttest_rel_matches_scipy(alternative):
    rng = np.random.default_rng(3)
    a = rng.normal(size=8)
    b = a + rng.normal(0.3, 0.5, 8)
    ours, ref = ttest_rel(a, b, alternative=alternative), scipy.stats.ttest_rel(
        a, b, alternative=alternative)
    np.testing.assert_allclose([ours.statistic, ours.pvalue, ours.df],
                               [ref.statistic, ref.pvalue, ref.df], rtol=1e-12)
    np.testing.assert_allclose(tuple(ours.confidence_interval(0.9)),
                               tuple(ref.confidence_interval(0.9)), rtol=1e-12)


def test_axis_and_broadcasting_match_scipy():
    rng = np.random.default_rng(4)
    a, b = rng.normal(size=(3, 7)), rng.normal(size=(7,))
    ours = ttest_ind(a, b, axis=1, equal_var=False)
    ref = scipy.stats.ttest_ind(a, b, axis=1, equal_var=False)
    np.testing.assert_allclose(ours.statistic, ref.statistic, rtol=1e-12)
    np.testing.assert_allclose(ours.pvalue, ref.pvalue, rtol=1e-12)
    np.testing.assert_allclose(ours.df, ref.df, rtol=1e-12)
    np.testing.assert_allclose(ours.confidence_interval().low, ref.confidence_interval().low,
                               rtol=1e-12)
    c = rng.normal(size=(6, 2))
    d = rng.normal(size=(6, 2))
    np.testing.assert_allclose(ttest_rel(c, d, axis=0).pvalue, scipy.stats.ttest_rel(c, d).pvalue,
                               rtol=1e-12)


def test_zero_variance_matches_scipy():
    with np.errstate(all="ignore"):
        r = ttest_ind([1.0, 1.0], [2.0, 2.0])
        assert r.statistic == -np.inf and r.pvalue == 0.0
        r = ttest_ind([1.0, 1.0], [1.0, 1.0])
        assert np.isnan(r.statistic) and np.isnan(r.pvalue)


def test_float32_stays_float32_and_integers_are_promoted():
    a32, b32 = DRUG1.astype(np.float32), DRUG2.astype(np.float32)
    assert np.asarray(ttest_ind(a32, b32).statistic).dtype == np.float32
    r = ttest_ind([1, 2, 3, 4], [2, 3, 5, 7])
    assert r.statistic == pytest.approx(scipy.stats.ttest_ind([1, 2, 3, 4], [2, 3, 5, 7]).statistic)


def test_results_are_json_ready():
    json.dumps(ttest_ind(DRUG1, DRUG2).to_dict())


# ------------------------------------------------------------------ differentiable statistics
def test_statistics_are_differentiable_in_the_data():
    nm.check_grads(lambda a, b: ttest_ind(a, b).statistic, (DRUG1, DRUG2), order=2)
    nm.check_grads(lambda a, b: ttest_ind(a, b, equal_var=False).statistic, (DRUG1, DRUG2),
                   order=2)
    nm.check_grads(lambda a, b: ttest_rel(a, b).statistic, (DRUG1, DRUG2), order=2)
    # a shift of every value of a by c moves the Student statistic by c / SE: ∂t/∂aᵢ sums to 1/SE
    g = nm.grad(lambda a: ttest_ind(a, DRUG2).statistic)(DRUG1)
    assert np.sum(g) == pytest.approx(1 / ttest_ind(DRUG1, DRUG2).standard_error)


# ------------------------------------------------------------------ bad input
@pytest.mark.parametrize("call, match", [
    (lambda: ttest_ind([1.0], [1.0, 2.0]), "a has 1 value.*at least 2"),
    (lambda: ttest_ind([1.0, 2.0], []), "b is empty"),
    (lambda: ttest_rel([1.0, 2.0, 3.0], [1.0, 2.0]), "same shape.*\\(3,\\).*\\(2,\\)"),
    (lambda: ttest_rel([1.0], [2.0]), "at least 2"),
    (lambda: ttest_ind([1.0, np.nan], [1.0, 2.0]), "NaN"),
    (lambda: ttest_ind(1.0, [1.0, 2.0]), "scalar"),
    (lambda: ttest_ind([1.0, 2.0], [1.0, 2.0], alternative="bigger"), "alternative.*'bigger'"),
    (lambda: ttest_ind([1.0, 2.0], [1.0, 2.0], axis=2), "axis"),
    (lambda: ttest_ind(DRUG1, DRUG2).confidence_interval(95), "confidence_level.*95"),
])
def test_bad_input_raises_value_error(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_non_numbers_raise_type_error():
    with pytest.raises(TypeError, match="a must hold real numbers"):
        ttest_ind(["x", "y"], [1.0, 2.0])


# ------------------------------------------------------------------ bootstrap
def test_bootstrap_against_the_enumerated_bootstrap_distribution():
    data = np.array([2.1, 3.4, 1.9, 5.0, 4.2, 3.3])
    n = len(data)
    # every one of the nⁿ resamples is equally likely: the exact bootstrap distribution of the mean
    means = np.array([data[list(ix)].mean() for ix in itertools.product(range(n), repeat=n)])
    exact_se = np.std(data) / np.sqrt(n)          # = std of the exact distribution
    assert np.std(means) == pytest.approx(exact_se)
    B = 20000
    r = bootstrap_ci(data, method="percentile", n_resamples=B, seed=1)
    # the SE estimate from B draws has relative sd ≈ 1/√(2B)
    assert abs(r.standard_error - exact_se) < 4 * exact_se / np.sqrt(2 * B)
    # each quantile's Monte Carlo sd: √(p(1 − p)/B) / density; allow 4 of them
    for q, got in ((0.025, r.low), (0.975, r.high)):
        exact = np.quantile(means, q)
        dens = np.mean(np.abs(means - exact) < 0.05) / 0.1
        assert abs(got - exact) < 4 * np.sqrt(q * (1 - q) / B) / dens
    assert r.estimate == pytest.approx(data.mean())


@pytest.mark.parametrize("method", ["BCa", "percentile", "basic"])
def test_bootstrap_matches_scipy_and_two_samples(method):
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=15), rng.normal(1.0, 1.0, 12)
    r = bootstrap_ci((a, b), method=method, n_resamples=2000, seed=5)
    ref = scipy.stats.bootstrap((a, b), lambda x, y, axis=-1: x.mean(axis) - y.mean(axis),
                                n_resamples=2000, method=method, rng=np.random.default_rng(5))
    assert (r.low, r.high) == pytest.approx((ref.confidence_interval.low,
                                             ref.confidence_interval.high))
    assert r.estimate == pytest.approx(a.mean() - b.mean())
    json.dumps(r.to_dict())


def test_bootstrap_bad_input():
    with pytest.raises(ValueError, match="at least 2"):
        bootstrap_ci([1.0])
    with pytest.raises(ValueError, match="method"):
        bootstrap_ci([1.0, 2.0, 3.0], method="bca")
    with pytest.raises(ValueError, match="paired samples must have one length"):
        bootstrap_ci(([1.0, 2.0, 3.0], [1.0, 2.0]), paired=True)
    with pytest.raises(ValueError, match="1-D"):
        bootstrap_ci(np.ones((3, 3)))


# ------------------------------------------------------------------ Hedges' g
def test_hedges_g_formula_and_unbiasedness():
    a, b = np.array([1.0, 2.0, 4.0, 3.5]), np.array([0.5, 1.0, 2.0])
    m = len(a) + len(b) - 2
    sp = np.sqrt(((len(a) - 1) * a.var(ddof=1) + (len(b) - 1) * b.var(ddof=1)) / m)
    g, ci = hedges_g(a, b)
    # the exact J(m) agrees with Hedges' approximation 1 − 3/(4m − 1) to O(m⁻²)
    assert g == pytest.approx((1 - 3 / (4 * m - 1)) * (a.mean() - b.mean()) / sp, rel=5e-3)
    se = np.sqrt(7 / 12 + g ** 2 / 14)
    assert (ci.low, ci.high) == pytest.approx((g - 1.959964 * se, g + 1.959964 * se), rel=1e-6)
    # E[g] = δ exactly (that is what J corrects): simulate n = 4 + 4 with δ = 1
    rng = np.random.default_rng(0)
    gs = np.array([hedges_g(rng.normal(1, 1, 4), rng.normal(0, 1, 4))[0] for _ in range(3000)])
    assert abs(gs.mean() - 1.0) < 4 * gs.std(ddof=1) / np.sqrt(len(gs))


# ------------------------------------------------------------------ compare_runs
def _runs(optimizer, seeds):
    x = np.random.default_rng(0).standard_normal((24, 3))
    y = x @ np.array([[1.0], [-2.0], [0.5]])
    out = []
    for s in seeds:
        keras.utils.set_random_seed(s)
        model = keras.Sequential([keras.layers.Dense(1, input_shape=(3,), dtype="float64")])
        model.compile(optimizer=optimizer, loss="mse")
        out.append(model.fit(x, y, epochs=15, verbose=0, validation_split=0.25))
    return out


def test_compare_runs_on_histories():
    good = _runs(keras.optimizers.SGD(0.3), [0, 1, 2])
    bad = _runs(keras.optimizers.SGD(1e-4), [3, 4, 5])
    r = compare_runs(good, bad, names=("SGD(0.3)", "SGD(1e-4)"))
    assert isinstance(r, RunComparison) and r.metric == "val_loss" and r.mode == "min"
    np.testing.assert_array_equal(r.values_a, [h.history["val_loss"][-1] for h in good])
    ref = scipy.stats.ttest_ind(r.values_a, r.values_b, equal_var=False)
    assert r.ttest.pvalue == pytest.approx(ref.pvalue, rel=1e-12)
    assert r.significant and r.better == "SGD(0.3)"
    assert r.verdict.startswith("SGD(0.3) is better than SGD(1e-4) on val_loss")
    assert f"p = {ref.pvalue:.3g} < α = 0.05" in r.verdict
    best = compare_runs(good, bad, final=False)
    np.testing.assert_array_equal(best.values_b, [min(h.history["val_loss"]) for h in bad])
    json.dumps(r.to_dict())


def test_compare_runs_best_uses_max_for_accuracy_and_plain_lists():
    a = [[0.5, 0.9, 0.8], [0.6, 0.85, 0.7], [0.55, 0.95, 0.9]]
    b = [[0.5, 0.6, 0.55], [0.5, 0.62, 0.6], [0.52, 0.58, 0.57]]
    r = compare_runs(a, b, metric="val_accuracy", final=False)
    assert r.mode == "max" and list(r.values_a) == [0.9, 0.85, 0.95]
    assert r.better == "A" and "higher is better" in r.verdict
    assert metric_mode("loss") == "min" and metric_mode("val_auc") == "max"
    r = compare_runs(np.array([0.3, 0.31, 0.29]), np.array([0.2, 0.21, 0.19]), metric="mae")
    assert r.better == "B"


def test_compare_runs_no_difference_and_too_few_seeds():
    r = compare_runs([1.0, 1.2, 0.9, 1.1], [1.05, 1.15, 0.95, 1.0], metric="loss")
    assert not r.significant and r.better is None
    assert r.verdict.startswith("No significant difference between A and B")
    assert "≥ α = 0.05" in r.verdict
    two = compare_runs([0.10, 0.11], [0.50, 0.51], metric="loss")     # p < α, but only 2 seeds
    assert two.ttest.pvalue < 0.05 and not two.significant and two.better is None
    assert two.verdict.startswith("Inconclusive") and "at least 3 seeds" in two.verdict


def test_compare_runs_bad_input():
    h = _runs("sgd", [0])[0]
    with pytest.raises(ValueError, match="histories_a has 1 run"):
        compare_runs([h], [h, h])
    with pytest.raises(TypeError, match="list of runs"):
        compare_runs(h, [h, h])
    with pytest.raises(ValueError, match="no metric 'val_acc'.*'loss'"):
        compare_runs([h, h], [h, h], metric="val_acc")
    with pytest.raises(ValueError, match="empty"):
        compare_runs([], [1.0, 2.0])
    with pytest.raises(ValueError, match="NaN"):
        compare_runs([1.0, np.nan], [1.0, 2.0])
    with pytest.raises(ValueError, match="mode"):
        compare_runs([1.0, 2.0], [1.0, 2.0], mode="lower")
