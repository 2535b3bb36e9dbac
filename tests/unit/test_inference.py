"""Hypothesis tests over seeds against known cases."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from analysis.stats.inference import compare_to_zero, equivalence_test, holm, mean_interval, mean_interval_columns


def test_holm_matches_a_hand_worked_example() -> None:
    # p sorted: 0.01 (x4 = 0.04), 0.02 (x3 = 0.06), 0.03 (x2 = 0.06), 0.04 (x1 = 0.04 -> monotone 0.06)
    adjusted = holm(np.array([0.03, 0.01, 0.04, 0.02]))
    np.testing.assert_allclose(adjusted, [0.06, 0.04, 0.06, 0.06])


def test_holm_caps_at_one_and_keeps_missing_values() -> None:
    adjusted = holm(np.array([0.5, np.nan, 0.9]))
    assert adjusted[0] == 1.0 and np.isnan(adjusted[1]) and adjusted[2] == 1.0


def test_a_null_effect_gives_an_interval_covering_zero() -> None:
    values = np.random.default_rng(3).normal(0.0, 1.0, size=20)
    result = compare_to_zero(values, 0.95)
    assert result.low < 0 < result.high
    assert result.p > 0.05


def test_a_clear_effect_is_detected_with_its_effect_size() -> None:
    values = np.array([1.1, 0.9, 1.0, 1.2, 0.8])
    result = compare_to_zero(values, 0.95)
    assert result.low > 0 and result.p < 0.001
    assert result.effect_size == pytest.approx(values.mean() / values.std(ddof=1))
    # t = 1.0 / (sqrt(0.025) / sqrt(5)) = 14.142136; two-sided p from t(4), worked independently
    assert result.t == pytest.approx(14.142136, rel=1e-6)
    assert result.p == pytest.approx(2 * stats.t.sf(14.142136, 4), rel=1e-5)


def test_one_sided_alternative_halves_p_in_the_direction_of_the_effect() -> None:
    values = np.array([0.3, 0.1, 0.4, 0.2, 0.5])  # mean 0.3, sd sqrt(0.025), t = 4.2426407
    greater = compare_to_zero(values, 0.95, alternative="greater")
    less = compare_to_zero(values, 0.95, alternative="less")
    assert greater.p == pytest.approx(stats.t.sf(4.2426407, 4), rel=1e-5)
    assert less.p == pytest.approx(1 - stats.t.sf(4.2426407, 4), rel=1e-5)


def test_equivalence_needs_the_whole_interval_inside_the_margin() -> None:
    values = np.array([0.01, -0.02, 0.015, 0.0, -0.005])  # mean 0, sd 0.0136931
    inside = equivalence_test(values, margin=0.05, alpha=0.05)
    # one-sided t = 0.05 / (0.0136931 / sqrt(5)) = 8.164966; p = sf(8.164966, 4)
    assert inside.p == pytest.approx(stats.t.sf(8.164966, 4), rel=1e-4) and inside.p < 0.05
    outside = equivalence_test(values, margin=0.005, alpha=0.05)
    assert outside.p > 0.05
    covering = equivalence_test(np.array([0.5, -0.6, 0.4, -0.3, 0.0]), margin=0.1, alpha=0.05)
    assert covering.low < 0 < covering.high and covering.p > 0.05  # covers 0, yet no evidence of equivalence


# Worked values. With two seeds and confidence 0.5 the quantile t(0.75, 1) is exactly 1
# (Cauchy: tan(pi/4)), so an interval is mean +- |a - b| / 2; t(1) p-values are 1/2 - atan(t)/pi (Cauchy CDF).


def test_mean_interval_at_a_confidence_other_than_95() -> None:
    interval = mean_interval(np.array([1.0, 3.0]), 0.5)
    assert (interval.estimate, interval.n) == (2.0, 2)
    assert interval.low == pytest.approx(1.0, abs=1e-12) and interval.high == pytest.approx(3.0, abs=1e-12)
    # three seeds 1, 2, 3 at 0.95: sd 1, t(0.975, 2) = 4.3026527 -> half 4.3026527 / sqrt(3) = 2.4841377
    three = mean_interval(np.array([1.0, 2.0, 3.0]), 0.95)
    assert three.high == pytest.approx(2.0 + 2.4841377, rel=1e-7) and three.low == pytest.approx(2.0 - 2.4841377, rel=1e-7)


def test_mean_interval_drops_missing_values_and_has_no_interval_below_two() -> None:
    one = mean_interval(np.array([np.nan, 4.0, np.inf]), 0.95)
    assert one.estimate == 4.0 and one.n == 1 and np.isnan(one.low) and np.isnan(one.high)
    none = mean_interval(np.array([np.nan]), 0.95)
    assert none.n == 0 and np.isnan(none.estimate) and np.isnan(none.low) and np.isnan(none.high)


def test_mean_interval_columns_per_column_and_below_two_rows() -> None:
    mean, low, high = mean_interval_columns(np.array([[1.0, 0.0], [3.0, 0.4]]), 0.5)
    np.testing.assert_allclose(mean, [2.0, 0.2])
    np.testing.assert_allclose(low, [1.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(high, [3.0, 0.4], atol=1e-12)
    mean, low, high = mean_interval_columns(np.array([[1.0, 5.0]]), 0.5)
    np.testing.assert_array_equal(mean, [1.0, 5.0])
    assert low.shape == (2,) and np.isnan(low).all() and high.shape == (2,) and np.isnan(high).all()
    # values arriving as objects (a pandas object column) are read as floats
    mean, low, high = mean_interval_columns(np.array([[1.0, 0.0], [3.0, 0.4]], dtype=object), 0.5)
    np.testing.assert_allclose(high, [3.0, 0.4], atol=1e-12)


def test_compare_to_zero_with_two_seeds_against_the_cauchy_distribution() -> None:
    result = compare_to_zero(np.array([1.0, 3.0]), 0.5)
    # mean 2, sd sqrt 2, se 1: t = 2; two-sided p = 1 - 2 atan(2) / pi; d = 2 / sqrt 2
    assert result.t == pytest.approx(2.0) and result.p == pytest.approx(0.2951672353, rel=1e-9)
    assert result.effect_size == pytest.approx(1.4142135624, rel=1e-9)
    assert result.low == pytest.approx(1.0) and result.high == pytest.approx(3.0) and result.n == 2
    assert compare_to_zero(np.array([1.0, 3.0]), 0.5, alternative="greater").p == pytest.approx(0.1475836177, rel=1e-9)
    assert result.as_dict() == {"estimate": 2.0, "low": result.low, "high": result.high, "n": 2, "t": result.t,
                                "p": result.p, "effect_size": result.effect_size}


def test_compare_to_zero_without_spread_or_with_one_seed_has_no_test() -> None:
    for values in (np.array([0.5, 0.5, 0.5]), np.array([0.5]), np.array([0.5, np.nan])):
        result = compare_to_zero(values, 0.95)
        assert result.estimate == 0.5 and np.isnan(result.t) and np.isnan(result.p) and np.isnan(result.effect_size)
    assert compare_to_zero(np.array([0.5, 0.5, 0.5]), 0.95).n == 3


def test_equivalence_with_two_seeds_against_the_cauchy_distribution() -> None:
    result = equivalence_test(np.array([0.0, 0.2]), margin=0.5, alpha=0.25)
    # interval at 1 - 2 alpha = 0.5: 0.1 +- 0.1; t against +0.5: (0.1 - 0.5) / 0.1 = -4 -> p = 1/2 - atan(4)/pi;
    # against -0.5: t = 6 -> p = 1/2 - atan(6)/pi (smaller): the larger is reported
    assert result.p == pytest.approx(0.0779791304, rel=1e-9)
    assert result.low == pytest.approx(0.0, abs=1e-12) and result.high == pytest.approx(0.2)
    assert (result.estimate, result.n, result.margin) == (pytest.approx(0.1), 2, 0.5)
    assert result.as_dict()["margin"] == 0.5 and result.as_dict()["p"] == result.p


def test_equivalence_without_spread_decides_on_the_mean_and_one_seed_gives_no_p() -> None:
    assert equivalence_test(np.array([0.01, 0.01]), margin=0.05, alpha=0.05).p == 0.0
    assert equivalence_test(np.array([-0.05, -0.05]), margin=0.05, alpha=0.05).p == 1.0  # |mean| = margin: not inside
    assert equivalence_test(np.array([0.1, 0.1]), margin=0.05, alpha=0.05).p == 1.0
    assert np.isnan(equivalence_test(np.array([0.01]), margin=0.05, alpha=0.05).p)
    empty = equivalence_test(np.array([np.nan]), margin=0.05, alpha=0.05)
    assert np.isnan(empty.p) and empty.n == 0 and empty.margin == 0.05


def test_holm_counts_only_the_finite_p_values() -> None:
    # two finite p-values: 0.01 x 2 = 0.02, 0.02 x 1 = 0.02 (with the NaN counted it would be 0.03)
    np.testing.assert_allclose(holm(np.array([0.01, np.nan, 0.02])), [0.02, np.nan, 0.02])
    assert np.isnan(holm(np.array([np.nan, np.nan]))).all() and holm(np.array([])).shape == (0,)
    # ties keep their order; the step-down running maximum: 0.04 x 3 = 0.12, 0.04 x 2 = 0.08 -> 0.12, 0.5 x 1
    np.testing.assert_allclose(holm(np.array([0.04, 0.5, 0.04])), [0.12, 0.5, 0.12])


def test_holm_caps_a_product_above_one_at_one() -> None:
    # 0.6 x 2 = 1.2 -> 1, then 0.7 x 1 = 0.7 -> the running maximum 1
    np.testing.assert_array_equal(holm(np.array([0.6, 0.7])), [1.0, 1.0])


def test_holm_returns_floats_for_integer_p_values() -> None:
    adjusted = holm([1, 0])  # p = 0 and p = 1 as integers: 0 x 2 = 0, then max(0, 1 x 1) = 1
    assert adjusted.dtype == np.float64
    np.testing.assert_array_equal(adjusted, [1.0, 0.0])


def test_equivalence_without_spread_reports_the_mean_as_its_interval() -> None:
    constant = equivalence_test(np.array([0.01, 0.01]), margin=0.05, alpha=0.05)
    assert (constant.estimate, constant.low, constant.high, constant.n) == (0.01, 0.01, 0.01, 2)
    one = equivalence_test(np.array([0.02]), margin=0.05, alpha=0.05)
    assert one.estimate == 0.02 and np.isnan(one.low) and np.isnan(one.high) and one.n == 1


def test_missing_values_given_as_none_are_dropped_like_nan() -> None:
    interval = mean_interval(np.array([1.0, None, 3.0], dtype=object), 0.95)  # an object column with a gap
    assert (interval.estimate, interval.n) == (2.0, 2)


def test_two_equal_seeds_have_no_test_and_no_effect_size() -> None:
    result = compare_to_zero(np.array([0.3, 0.3]), 0.95)
    assert result.estimate == 0.3 and result.n == 2
    assert np.isnan(result.t) and np.isnan(result.p) and np.isnan(result.effect_size)
