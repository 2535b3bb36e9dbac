"""Statistics recover known answers."""
from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.stats.bootstrap import bootstrap_mean
from analysis.stats.distance import distance_profile, fit_power_law, position_profile


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


def test_null_effect_interval_covers_zero_and_real_effect_does_not() -> None:
    rng = np.random.default_rng(3)
    null = bootstrap_mean(rng.normal(0.0, 1.0, 8), n_resamples=2000)
    assert null.low < 0 < null.high
    effect = bootstrap_mean(rng.normal(-2.0, 0.1, 5), n_resamples=2000)
    assert effect.high < 0 and effect.low <= effect.estimate <= effect.high and effect.n == 5


def test_columnwise_bootstrap_matches_the_one_column_version() -> None:
    from analysis.stats.bootstrap import bootstrap_mean_columns

    rng = np.random.default_rng(5)
    values = rng.normal(1.0, 0.5, size=(6, 3))
    mean, low, high = bootstrap_mean_columns(values, n_resamples=4000, seed=1)
    for column in range(3):
        single = bootstrap_mean(values[:, column], n_resamples=4000, seed=1)
        assert mean[column] == single.estimate
        assert abs(low[column] - single.low) < 0.08 and abs(high[column] - single.high) < 0.08


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
