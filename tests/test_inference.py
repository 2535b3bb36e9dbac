"""Hypothesis tests over seeds against known cases."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from analysis.stats.inference import compare_to_zero, equivalence_test, holm


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
