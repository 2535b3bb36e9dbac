"""Statistics recover known answers."""
from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.stats.distance import distance_profile, fit_power_law, position_profile
from analysis.stats.inference import mean_interval


def synthetic_m1(exponent: float, context: int = 24, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = [
        {"condition": "c", "seed": seed, "step": 0, "layer": 0, "t": t, "s": s, "distance": t - s,
         "grad_norm_mean": (t - s + 1.0) ** exponent * np.exp(rng.normal(0, 0.01))}
        for t in range(context) for s in range(t + 1)
    ]
    return pd.DataFrame(rows)


def test_a_synthetic_power_law_recovers_its_exponent() -> None:
    profile = distance_profile(synthetic_m1(-1.3), s_min=2)
    fits = fit_power_law(profile, d_min=1, n_blocks={"c": 2})
    assert abs(float(fits["slope"].iloc[0]) + 1.3) < 0.02


def test_sources_before_s_min_are_left_out() -> None:
    m1 = synthetic_m1(-1.0)
    m1.loc[m1["s"] < 3, "grad_norm_mean"] = 1e6  # an "attention sink" that must not enter the profile
    profile = distance_profile(m1, s_min=3)
    assert profile["profile"].max() < 10


def test_last_layer_is_not_fitted() -> None:
    profile = distance_profile(synthetic_m1(-1.0), s_min=0)
    assert fit_power_law(profile, d_min=1, n_blocks={"c": 0}).empty


def test_t_interval_matches_a_worked_example() -> None:
    # values 1, 2, 3, 4, 5: mean 3, sd sqrt(2.5), t(0.975, 4) = 2.7764451; half-width 1.9632432
    interval = mean_interval(np.array([1.0, 2.0, 3.0, 4.0, 5.0]), 0.95)
    assert interval.estimate == 3.0 and interval.n == 5
    assert abs(interval.low - 1.0367568) < 1e-6 and abs(interval.high - 4.9632432) < 1e-6
    # 90%: t(0.95, 4) = 2.1318468, half-width 1.5074433
    narrower = mean_interval(np.array([1.0, 2.0, 3.0, 4.0, 5.0]), 0.90)
    assert abs(narrower.high - 4.5074433) < 1e-6


def test_t_interval_over_three_seeds_is_wider_than_their_range() -> None:
    # the old percentile bootstrap gave the seed range [1, 3]; the t interval is 2 +- 4.303 / sqrt(3)
    interval = mean_interval(np.array([1.0, 2.0, 3.0]), 0.95)
    assert abs(interval.low - (2 - 4.3026527 / np.sqrt(3))) < 1e-6 and interval.low < 1.0 and interval.high > 3.0


def test_one_seed_has_no_interval() -> None:
    interval = mean_interval(np.array([2.0, np.nan]), 0.95)
    assert interval.estimate == 2.0 and interval.n == 1 and np.isnan(interval.low) and np.isnan(interval.high)


def test_columnwise_interval_matches_the_one_column_version() -> None:
    from analysis.stats.inference import mean_interval_columns

    rng = np.random.default_rng(5)
    values = rng.normal(1.0, 0.5, size=(6, 3))
    mean, low, high = mean_interval_columns(values, 0.9)
    for column in range(3):
        single = mean_interval(values[:, column], 0.9)
        assert mean[column] == single.estimate
        assert abs(low[column] - single.low) < 1e-12 and abs(high[column] - single.high) < 1e-12


def test_position_profile_reads_fixed_distances_and_flags_first_positions() -> None:
    m1 = synthetic_m1(-1.0, context=10)
    table = position_profile(m1, distances=[1, 4], s_min=2)
    assert set(table["distance"]) == {1, 4}
    assert len(table[table["distance"] == 4]) == 10 - 4  # sources s = 0..5
    row = table[(table["distance"] == 4) & (table["s"] == 3)].iloc[0]
    expected = m1[(m1["t"] == 7) & (m1["s"] == 3)]["grad_norm_mean"].iloc[0]
    assert row["grad_norm"] == expected
    assert set(table.loc[table["first_positions"], "s"]) == {0, 1}


def synthetic_exponential_m1(rate: float, context: int = 24) -> pd.DataFrame:
    rows = [
        {"condition": "c", "seed": 0, "step": 0, "layer": 0, "t": t, "s": s, "distance": t - s,
         "grad_norm_mean": np.exp(-rate * (t - s))}
        for t in range(context) for s in range(t + 1)
    ]
    return pd.DataFrame(rows)


def test_aic_prefers_the_law_that_generated_the_profile() -> None:
    power = fit_power_law(distance_profile(synthetic_m1(-1.3), s_min=0), d_min=1, n_blocks={"c": 2})
    exponential = fit_power_law(distance_profile(synthetic_exponential_m1(0.2), s_min=0), d_min=1, n_blocks={"c": 2})
    assert float(power["delta_aic"].iloc[0]) < -10
    assert float(exponential["delta_aic"].iloc[0]) > 10
    assert abs(float(exponential["exp_rate"].iloc[0]) + 0.2) < 1e-9


def test_first_position_ratio_sees_a_sink_and_not_a_plain_profile() -> None:
    from analysis.stats.distance import first_position_ratio

    flat = synthetic_m1(0.0)  # every earlier position alike: ratio 1
    assert abs(float(first_position_ratio(flat, s_min=2)["first_position_ratio"].iloc[0]) - 1.0) < 0.05
    sink = flat.copy()
    sink.loc[sink["s"] == 0, "grad_norm_mean"] *= 5.0
    assert abs(float(first_position_ratio(sink, s_min=2)["first_position_ratio"].iloc[0]) - 5.0) < 0.25
