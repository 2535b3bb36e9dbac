"""The seed count from a power calculation (``inference.seeds_for_power``): against published tables and a simulation."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from analysis.stats.inference import seeds_for_power, t_test_power


@pytest.mark.parametrize(("d", "power", "alternative", "n"), [
    (0.5, 0.80, "greater", 27),  # G*Power 3.1, one-sample t, one tail: n = 27, actual power 0.8118
    (0.5, 0.95, "greater", 45),  # G*Power: 45
    (0.8, 0.80, "greater", 12),  # G*Power: 12
    (0.2, 0.80, "greater", 156),  # G*Power: 156
    (0.5, 0.80, "two-sided", 34),  # G*Power, two tails: 34 (Cohen 1988, table 2.4.1 for paired/one-sample use)
    (-0.5, 0.80, "less", 27),  # the mirror image of the first
])
def test_seed_counts_match_published_values(d: float, power: float, alternative: str, n: int) -> None:
    assert seeds_for_power(d, 1.0, power, 0.05, alternative, floor=0) == n
    assert t_test_power(n, d, 1.0, 0.05, alternative) >= power > t_test_power(n - 1, d, 1.0, 0.05, alternative)


def test_published_actual_power_and_the_scale_of_effect_and_sd() -> None:
    assert t_test_power(27, 0.5, 1.0) == pytest.approx(0.8118, abs=5e-5)  # G*Power's "actual power"
    assert t_test_power(27, 0.05, 0.1) == pytest.approx(t_test_power(27, 0.5, 1.0))  # only d = effect / sd matters


def test_the_floor_and_the_refusals() -> None:
    assert seeds_for_power(2.0, 1.0) == 10 and seeds_for_power(2.0, 1.0, floor=0) == 4  # power 0.908 at n = 4, 0.712 at 3
    for effect, sd, alternative in ((0.0, 1.0, "greater"), (-0.5, 1.0, "greater"), (0.5, 1.0, "less"), (0.5, 0.0, "greater"),
                                    (float("nan"), 1.0, "greater")):
        with pytest.raises(ValueError, match="seeds_for_power"):
            seeds_for_power(effect, sd, alternative=alternative)
    with pytest.raises(ValueError, match="alternative"):
        t_test_power(10, 0.5, 1.0, alternative="bigger")
    assert np.isnan(t_test_power(1, 0.5, 1.0))
    for power in (0.0, 1.0):  # no n reaches power 1, and power 0 asks for nothing: both refused, neither searched
        with pytest.raises(ValueError, match="seeds_for_power"):
            seeds_for_power(0.5, 1.0, power=power)


def test_two_sided_power_adds_both_tails() -> None:
    """At effect 0 a level-alpha test rejects with probability alpha, half of it in each tail."""
    assert t_test_power(10, 0.0, 1.0, alpha=0.05, alternative="two-sided") == pytest.approx(0.05)


def test_power_against_a_monte_carlo_of_the_t_test() -> None:
    """40,000 simulated studies of n = 10 normal values with d = 0.8: the share the one-sided t-test rejects
    (standard error of a share near 0.85: 0.0018) matches the noncentral-t power within 4 standard errors."""
    n, d, reps = 10, 0.8, 40_000
    values = np.random.default_rng(0).normal(d, 1.0, size=(reps, n))
    t = values.mean(1) / (values.std(1, ddof=1) / np.sqrt(n))
    rejected = float((t > stats.t.ppf(0.95, n - 1)).mean())
    assert rejected == pytest.approx(t_test_power(n, d, 1.0), abs=0.0075)
    two = float((np.abs(t) > stats.t.ppf(0.975, n - 1)).mean())
    assert two == pytest.approx(t_test_power(n, d, 1.0, alternative="two-sided"), abs=0.0075)
