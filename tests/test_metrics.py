"""Detection metrics against values worked out by hand on tiny examples (and scikit-learn on random ones)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from fakescope.evaluate.metrics import (
    _resampled_aucs,
    auc_difference,
    auc_interval,
    average_precision,
    binary_report,
    equal_error_rate,
    expected_calibration_error,
    fit_temperature,
    log_loss,
    proportion_interval,
    roc_auc,
    roc_curve,
)


def test_auc_counts_ties_as_half() -> None:
    # Fake scores 0.5, 0.9 against real 0.1, 0.5: pairs won 1 + 0.5 (tie) + 1 + 1 of 4.
    assert roc_auc([0, 0, 1, 1], [0.1, 0.5, 0.5, 0.9]) == pytest.approx(3.5 / 4)
    assert roc_auc([0, 1], [0.3, 0.3]) == pytest.approx(0.5)
    assert roc_auc([0, 0, 1], [0.1, 0.2, 0.9]) == 1.0
    assert roc_auc([0, 0, 1], [0.9, 0.8, 0.1]) == 0.0


def test_auc_is_nan_with_one_class() -> None:
    assert math.isnan(roc_auc([1, 1], [0.2, 0.8]))
    assert math.isnan(roc_auc([0, 0], [0.2, 0.8]))


def test_average_precision_by_hand() -> None:
    # Ranked fake, real, fake, real: precision 1/1 at recall 1/2, then 2/3 at recall 1.
    assert average_precision([1, 0, 1, 0], [0.9, 0.8, 0.7, 0.6]) == pytest.approx(0.5 * 1 + 0.5 * 2 / 3)
    # A tie is one threshold: fake and real both at 0.5 give precision 1/2 at recall 1/2, then 2/3 at 1.
    assert average_precision([1, 0, 1], [0.5, 0.5, 0.2]) == pytest.approx(0.5 * 0.5 + 0.5 * 2 / 3)
    assert math.isnan(average_precision([0, 0], [0.1, 0.2]))


def test_roc_curve_points() -> None:
    fpr, tpr, thresholds = roc_curve([0, 0, 1, 1], [0.1, 0.6, 0.4, 0.9])
    np.testing.assert_allclose(fpr, [0, 0, 0.5, 0.5, 1])
    np.testing.assert_allclose(tpr, [0, 0.5, 0.5, 1, 1])
    np.testing.assert_allclose(thresholds, [np.inf, 0.9, 0.6, 0.4, 0.1])


def test_equal_error_rate_by_hand() -> None:
    assert equal_error_rate([0, 1], [0.2, 0.8]) == 0.0  # separated
    assert equal_error_rate([0, 1], [0.8, 0.2]) == 1.0  # inverted
    assert equal_error_rate([0, 0, 1, 1], [0.5] * 4) == pytest.approx(0.5)  # a coin
    # Real 0.1, 0.2, 0.7 and fake 0.6, 0.9: between thresholds 0.7 and 0.6 the false-negative rate falls
    # from 1/2 to 0 while the false-positive rate stays 1/3, so the rates meet at 1/3.
    assert equal_error_rate([0, 0, 0, 1, 1], [0.1, 0.2, 0.7, 0.6, 0.9]) == pytest.approx(1 / 3)


def test_log_loss_by_hand_and_clipped() -> None:
    assert log_loss([1, 0], [0.8, 0.3]) == pytest.approx(-(math.log(0.8) + math.log(0.7)) / 2)
    worst = log_loss([0], [1.0])  # certain and wrong: finite, thanks to clipping
    assert math.isfinite(worst) and worst == pytest.approx(-math.log(1e-7), rel=1e-3)


def test_expected_calibration_error_by_hand() -> None:
    # One sample in each of four bins (weight 1/4): |0-.05| + |1-.15| + |1-.95| + |1-.85| = 1.1.
    assert expected_calibration_error([0, 1, 1, 1], [0.05, 0.15, 0.95, 0.85]) == pytest.approx(1.1 / 4)
    # Two in one bin: mean label 1/2 against mean confidence 0.25.
    assert expected_calibration_error([0, 1], [0.21, 0.29]) == pytest.approx(0.25)
    # p = 1.0 falls in the last bin, not past it.
    assert expected_calibration_error([1], [1.0]) == 0.0


def test_confusion_matrix_and_rates_at_a_threshold() -> None:
    report = binary_report([0, 0, 1, 1, 1], [0.2, 0.6, 0.4, 0.7, 0.9], threshold=0.5)
    assert report["confusion_matrix"] == [[1, 1], [1, 2]]  # [[tn, fp], [fn, tp]]
    assert (report["n"], report["n_fake"], report["n_real"]) == (5, 3, 2)
    assert report["accuracy"] == pytest.approx(3 / 5)
    assert report["precision"] == pytest.approx(2 / 3) and report["recall"] == pytest.approx(2 / 3)
    assert report["specificity"] == pytest.approx(1 / 2)
    assert report["auc"] == pytest.approx(5 / 6)
    # At the threshold counts as fake, as in a scan verdict.
    assert binary_report([0, 1], [0.5, 0.5], threshold=0.5)["confusion_matrix"] == [[0, 1], [0, 1]]


def test_report_with_one_class_has_nan_not_an_exception() -> None:
    report = binary_report([1, 1, 1], [0.2, 0.7, 0.9])
    assert math.isnan(report["auc"]) and math.isnan(report["eer"]) and math.isnan(report["specificity"])
    assert report["recall"] == pytest.approx(2 / 3)


def test_fit_temperature_by_hand() -> None:
    """Logit +2 is right 3 times in 4 and -2 likewise: the best calibrated probability is 3/4, so
    sigmoid(2 / T) = 3/4, T = 2 / ln 3."""
    labels = [1, 1, 1, 0, 0, 0, 0, 1]
    logits = [2, 2, 2, 2, -2, -2, -2, -2]
    t = fit_temperature(labels, logits)
    assert t == pytest.approx(2 / math.log(3), rel=1e-4)
    # Scaling by one temperature keeps the ranking, so the AUC.
    assert roc_auc(labels, np.asarray(logits) / t) == roc_auc(labels, logits)


def test_fit_temperature_sharpens_underconfident_logits() -> None:
    rng = np.random.default_rng(0)
    z = rng.normal(0, 3, 4000)
    labels = (rng.random(4000) < 1 / (1 + np.exp(-z))).astype(int)  # calibrated at T = 1
    assert fit_temperature(labels, z / 2.5) == pytest.approx(1 / 2.5, rel=0.1)


def test_lengths_must_match() -> None:
    with pytest.raises(ValueError, match="length"):
        roc_auc([0, 1, 1], [0.1, 0.2])


def test_auc_and_ap_agree_with_scikit_learn_on_random_ties() -> None:
    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(0)
    for _ in range(100):
        n = int(rng.integers(2, 40))
        y = rng.integers(0, 2, n)
        if y.min() == y.max():
            continue
        s = np.round(rng.random(n), 1)  # coarse scores: plenty of ties
        assert roc_auc(y, s) == pytest.approx(metrics.roc_auc_score(y, s))
        assert average_precision(y, s) == pytest.approx(metrics.average_precision_score(y, s))


def test_each_bootstrap_draw_is_the_auc_of_the_items_it_drew() -> None:
    # The count-weighted statistic must equal roc_auc on the drawn multiset, ties included: drawn here with
    # the generator the function uses (fakes' counts, then genuine ones', for all draws of a chunk).
    y = np.array([0, 0, 0, 1, 1, 0, 1])
    s = np.array([0.1, 0.5, 0.5, 0.5, 0.9, 0.3, 0.2])
    aucs = _resampled_aucs(y, [s], 8, seed=3)[:, 0]
    rng = np.random.default_rng(3)
    pos, neg = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    w_pos = rng.multinomial(3, [1 / 3] * 3, size=8)
    w_neg = rng.multinomial(4, [1 / 4] * 4, size=8)
    for i in range(8):
        yy = np.r_[np.ones(3, int).repeat(w_pos[i]), np.zeros(4, int).repeat(w_neg[i])]
        ss = np.r_[s[pos].repeat(w_pos[i]), s[neg].repeat(w_neg[i])]
        assert aucs[i] == pytest.approx(roc_auc(yy, ss))
    assert len(set(np.round(aucs, 6))) > 1  # the draws differ


def test_auc_interval_holds_the_auc_narrows_with_n_and_repeats() -> None:
    rng = np.random.default_rng(0)

    def sample(n: int) -> tuple[np.ndarray, np.ndarray]:
        y = np.r_[np.zeros(n, int), np.ones(n, int)]
        return y, rng.normal(size=2 * n) + y

    y, s = sample(20)
    lo, hi = auc_interval(y, s)
    assert lo <= roc_auc(y, s) <= hi and (lo, hi) == auc_interval(y, s)
    y2, s2 = sample(500)
    lo2, hi2 = auc_interval(y2, s2)
    assert hi2 - lo2 < (hi - lo) / 2
    assert all(math.isnan(v) for v in auc_interval([1, 1], [0.2, 0.3]))


def test_auc_interval_covers_the_true_auc_about_as_often_as_it_says() -> None:
    # Scores N(0,1) for genuine, N(1,1) for fakes: true AUC = Phi(1 / sqrt 2) = 0.7602. A 95 % interval on
    # 150 fresh samples of 40 + 40 should hold it near 95 % of the time (binomial sd 1.8 points).
    rng = np.random.default_rng(1)
    truth = 0.5 * (1 + math.erf(1 / 2))
    y = np.r_[np.zeros(40, int), np.ones(40, int)]
    hits = 0
    for k in range(150):
        lo, hi = auc_interval(y, rng.normal(size=80) + y, resamples=400, seed=k)
        hits += lo <= truth <= hi
    assert 0.87 <= hits / 150 <= 0.99


def test_auc_difference_is_paired() -> None:
    rng = np.random.default_rng(2)
    y = np.r_[np.zeros(60, int), np.ones(60, int)]
    base = rng.normal(size=120) + y
    assert auc_difference(y, base, base) == (0.0, 0.0, 0.0)
    # b adds a little signal on the same items: separate intervals overlap, the paired one excludes 0
    better = base + 0.4 * y
    d, lo, hi = auc_difference(y, base, better)
    assert d == pytest.approx(roc_auc(y, better) - roc_auc(y, base)) and 0 < lo <= d <= hi
    assert auc_interval(y, base)[1] > auc_interval(y, better)[0]
    assert all(math.isnan(v) for v in auc_difference([0, 0], [0.1, 0.2], [0.3, 0.4]))


def test_proportion_interval_is_wilsons() -> None:
    # Wilson's score interval, z = 1.96: 0 of 26 reaches z^2 / (n + z^2); 10 of 1000 by its formula.
    z = 1.959964
    assert proportion_interval(0, 26) == pytest.approx((0.0, z * z / (26 + z * z)), abs=1e-6)
    lo, hi = proportion_interval(10, 1000)
    centre = (0.01 + z * z / 2000) / (1 + z * z / 1000)
    half = z / (1 + z * z / 1000) * math.sqrt(0.01 * 0.99 / 1000 + z * z / 4e6)
    assert (lo, hi) == pytest.approx((centre - half, centre + half), abs=1e-6)
    assert proportion_interval(3, 3)[1] == 1.0 and proportion_interval(3, 3)[0] > 0.4
    assert proportion_interval(1, 10, level=0.5)[1] < proportion_interval(1, 10)[1]
    assert all(math.isnan(v) for v in proportion_interval(0, 0))
