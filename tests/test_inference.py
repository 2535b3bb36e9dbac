"""Hypothesis tests over seeds against known cases."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from analysis.stats.inference import compare_to_zero, holm


def test_holm_matches_a_hand_worked_example() -> None:
    # p sorted: 0.01 (x4 = 0.04), 0.02 (x3 = 0.06), 0.03 (x2 = 0.06), 0.04 (x1 = 0.04 -> monotone 0.06)
    adjusted = holm(np.array([0.03, 0.01, 0.04, 0.02]))
    np.testing.assert_allclose(adjusted, [0.06, 0.04, 0.06, 0.06])


def test_holm_caps_at_one_and_keeps_missing_values() -> None:
    adjusted = holm(np.array([0.5, np.nan, 0.9]))
    assert adjusted[0] == 1.0 and np.isnan(adjusted[1]) and adjusted[2] == 1.0


def test_a_null_effect_gives_an_interval_covering_zero() -> None:
    values = np.random.default_rng(3).normal(0.0, 1.0, size=20)
    result = compare_to_zero(values, 0.95, 2000, 0)
    assert result.low < 0 < result.high
    assert result.p > 0.05


def test_a_clear_effect_is_detected_with_its_effect_size() -> None:
    values = np.array([1.1, 0.9, 1.0, 1.2, 0.8])
    result = compare_to_zero(values, 0.95, 2000, 0)
    assert result.low > 0 and result.p < 0.001
    assert result.effect_size == pytest.approx(values.mean() / values.std(ddof=1))
    assert result.p == pytest.approx(stats.ttest_1samp(values, 0).pvalue)
