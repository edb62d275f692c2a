"""Calibration tools against hand computations: ECE/MCE/reliability bins against an independent
loop over explicit intervals, temperature scaling against a known temperature (within its standard
error, which is itself checked against replicate data sets) and a brute-force minimisation."""
import numpy as np
import pytest
import scipy.optimize
import scipy.special

from nnmath.analysis.calibration import (
    check_probabilities, expected_calibration_error, fit_temperature, maximum_calibration_error,
    reliability_diagram,
)


def _hand_bins(p, y, M):
    """Guo et al.'s bins by explicit interval tests, one bin at a time (no searchsorted)."""
    conf, pred = p.max(1), p.argmax(1)
    rows = []
    for m in range(1, M + 1):
        lo, hi = (m - 1) / M, m / M
        inside = [(lo < c <= hi) or (m == 1 and c == 0) for c in conf]
        idx = [i for i, b in enumerate(inside) if b]
        if idx:
            acc = sum(pred[i] == y[i] for i in idx) / len(idx)
            cf = sum(conf[i] for i in idx) / len(idx)
            rows.append((len(idx), acc, cf))
        else:
            rows.append((0, np.nan, np.nan))
    return rows


def _random_classifier(seed, n=300, k=4):
    rng = np.random.default_rng(seed)
    p = rng.dirichlet(np.full(k, 0.5), size=n)
    y = rng.integers(0, k, size=n)
    return p, y


@pytest.mark.parametrize("M", [1, 5, 15])
def test_ece_mce_and_bins_match_hand_computation(M):
    p, y = _random_classifier(0)
    rows = _hand_bins(p, y, M)
    d = reliability_diagram(p, y, num_bins=M)
    np.testing.assert_array_equal(d.bin_count, [r[0] for r in rows])
    np.testing.assert_allclose(d.bin_accuracy, [r[1] for r in rows], rtol=1e-12)
    np.testing.assert_allclose(d.bin_confidence, [r[2] for r in rows], rtol=1e-12)
    ece = sum(r[0] / len(y) * abs(r[1] - r[2]) for r in rows if r[0])
    mce = max(abs(r[1] - r[2]) for r in rows if r[0])
    assert d.ece == pytest.approx(ece, rel=1e-12)
    assert expected_calibration_error(p, y, M) == pytest.approx(ece, rel=1e-12)
    assert maximum_calibration_error(p, y, M) == pytest.approx(mce, rel=1e-12)
    np.testing.assert_allclose(d.bin_edges, np.linspace(0, 1, M + 1))
    assert d.bin_count.sum() == len(y)
    assert d.accuracy == pytest.approx(np.mean(p.argmax(1) == y))


def test_ece_by_hand_on_three_predictions():
    p = np.array([[0.95, 0.05], [0.15, 0.85], [0.55, 0.45]])
    # bin (.8, 1]: {.95 correct, .85 correct} → |1 − .9|; bin (.4, .6]: {.55 wrong} → |0 − .55|
    assert expected_calibration_error(p, [0, 1, 1], num_bins=5) == pytest.approx(
        2 / 3 * 0.1 + 1 / 3 * 0.55)
    assert maximum_calibration_error(p, [0, 1, 1], num_bins=5) == pytest.approx(0.55)
    d = reliability_diagram(p, [0, 1, 1], num_bins=5)
    assert np.isnan(d.bin_accuracy[0]) and d.bin_count.tolist() == [0, 0, 1, 0, 2]
    assert d.to_dict()["bin_accuracy"][0] == "nan"            # strict JSON


def test_confidence_on_a_bin_edge_goes_to_the_lower_bin():
    p = np.array([[0.6, 0.4], [0.4, 0.6]])             # 0.6 = 3/5 is the right edge of bin 3
    d = reliability_diagram(p, [0, 1], num_bins=5)
    assert d.bin_count.tolist() == _hand_counts(p, 5)


def _hand_counts(p, M):
    return [r[0] for r in _hand_bins(p, np.zeros(len(p), int), M)]


def test_perfectly_calibrated_in_expectation_has_small_ece():
    rng = np.random.default_rng(1)
    conf = rng.uniform(0.5, 1.0, size=20000)
    correct = rng.uniform(size=conf.size) < conf                # P(correct) = confidence
    p = np.stack([conf, 1 - conf], 1)
    y = np.where(correct, 0, 1)
    assert expected_calibration_error(p, y) < 0.02
    assert expected_calibration_error(np.stack([0.99 + 0 * conf, 0.01 + 0 * conf], 1), y) > 0.15


def test_binary_vector_and_one_hot_labels_are_equivalent():
    rng = np.random.default_rng(2)
    q = rng.uniform(size=50)
    y = rng.integers(0, 2, size=50)
    two = np.stack([1 - q, q], 1)
    assert expected_calibration_error(q, y) == pytest.approx(expected_calibration_error(two, y))
    assert expected_calibration_error(two, np.eye(2)[y]) == expected_calibration_error(two, y)


def test_bad_probabilities_and_labels_raise_clearly():
    p, y = _random_classifier(3, n=10, k=3)
    with pytest.raises(ValueError, match=r"negative entries \(the smallest is -0.1"):
        expected_calibration_error(np.array([[1.1, -0.1], [0.5, 0.5]]), [0, 1])
    with pytest.raises(ValueError, match=r"sums to 1.2, off by 0.2.*normalize=True"):
        expected_calibration_error(np.array([[0.6, 0.6], [0.5, 0.5]]), [0, 1])
    assert expected_calibration_error(2 * p, y, normalize=True) == pytest.approx(
        expected_calibration_error(p, y))
    with pytest.raises(ValueError, match="probs has 10 samples but labels has 9"):
        expected_calibration_error(p, y[:9])
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 3\)"):
        expected_calibration_error(p, np.full(10, 3))
    with pytest.raises(ValueError, match="num_bins must be at least 1"):
        expected_calibration_error(p, y, num_bins=0)
    with pytest.raises(TypeError, match="num_bins must be an int"):
        expected_calibration_error(p, y, num_bins=2.5)
    with pytest.raises(ValueError, match="non-finite"):
        check_probabilities(np.array([[np.nan, 1.0]]))
    with pytest.raises(ValueError, match=r"shape \(N, K\)"):
        expected_calibration_error(p[None], y)


# ----------------------------------------------------------------------------- temperature scaling
def _synthetic(seed, n=3000, k=4, scale=2.0):
    """True logits z (labels drawn from softmax(z)); a model reporting T₀·z is miscalibrated."""
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, k)) * scale
    p = scipy.special.softmax(z, axis=1)
    y = (rng.uniform(size=(n, 1)) > np.cumsum(p, 1)).sum(1)
    return z, y


def test_temperature_recovers_a_known_temperature_within_its_standard_error():
    z, y = _synthetic(0)
    ts = fit_temperature(2.5 * z, y)
    assert ts.converged
    assert abs(ts.temperature - 2.5) < 4 * ts.temperature_std_error
    assert 0 < ts.temperature_std_error < 0.2


def test_temperature_matches_a_brute_force_minimisation_of_the_nll():
    z, y = _synthetic(1, n=500)
    ts = fit_temperature(0.7 * z, y)

    def nll(t):                                 # independent: scipy's logsumexp, a scalar search
        zt = 0.7 * z / t
        return np.mean(scipy.special.logsumexp(zt, axis=1) - zt[np.arange(len(y)), y])
    ref = scipy.optimize.minimize_scalar(nll, bounds=(0.05, 20), method="bounded",
                                         options={"xatol": 1e-10})
    assert ts.temperature == pytest.approx(ref.x, rel=1e-5)
    assert ts.nll_after == pytest.approx(ref.fun, rel=1e-10)
    assert ts.nll_before == pytest.approx(nll(1.0), rel=1e-12)
    from sklearn.metrics import log_loss
    assert ts.nll_after == pytest.approx(log_loss(y, ts.probabilities(0.7 * z), labels=range(4)),
                                         rel=1e-8)


def test_temperature_standard_error_matches_the_spread_over_replicate_data_sets():
    fits = [fit_temperature(2.0 * z, y) for z, y in (_synthetic(10 + r, n=800) for r in range(25))]
    spread = np.std([f.temperature for f in fits], ddof=1)
    reported = np.mean([f.temperature_std_error for f in fits])
    assert 0.6 < spread / reported < 1.5


def test_temperature_scaling_reduces_ece_of_an_overconfident_classifier():
    z, y = _synthetic(2)
    over = 3.0 * z                                         # overconfident: logits 3× too large
    ts = fit_temperature(over[:1500], y[:1500])            # fit on held-out half
    test_probs = scipy.special.softmax(over[1500:], axis=1)
    before = expected_calibration_error(test_probs, y[1500:])
    after = expected_calibration_error(ts.probabilities(over[1500:]), y[1500:])
    assert after < 0.5 * before and before > 0.1
    assert ts.nll_after < ts.nll_before
    np.testing.assert_array_equal(ts.probabilities(over).argmax(1), over.argmax(1))  # same argmax
    np.testing.assert_allclose(ts.logits(over), over / ts.temperature)


def test_temperature_keeps_float32():
    z, y = _synthetic(3, n=300)
    ts = fit_temperature(z.astype(np.float32), y)
    assert ts.probabilities(z.astype(np.float32)).dtype == np.float32


def test_temperature_bad_input():
    z, y = _synthetic(4, n=20)
    with pytest.raises(ValueError, match=r"logits must be a numeric array \(N, K\)"):
        fit_temperature(z[:, 0], y)
    with pytest.raises(ValueError, match="logits has 20 samples but labels has 19"):
        fit_temperature(z, y[:19])
    with pytest.raises(ValueError, match="bounds must satisfy"):
        fit_temperature(z, y, bounds=(2.0, 3.0))
