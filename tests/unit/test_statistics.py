"""Statistics recover known answers: Student t intervals, and the within-row distance measures (M2)."""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.optimize import curve_fit

from analysis.stats import distance
from analysis.stats.inference import mean_interval


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


def planted_m1(law, context: int = 24, seed: int = 0, totals: str = "one_over_t", noise: float = 0.0) -> pd.DataFrame:
    """G[t, s] = row_total(t) * law(t - s) for s < t, 1 on the diagonal; one run, step 0, layer 0."""
    rng = np.random.default_rng(seed)
    rows = []
    for t in range(context):
        total = 1.0 / (t + 1) if totals == "one_over_t" else float(np.exp(rng.normal(0, 2)))
        for s in range(t + 1):
            value = 1.0 if s == t else total * law(t - s) * float(np.exp(rng.normal(0, noise)))
            rows.append({"condition": "c", "seed": seed, "step": 0, "layer": 0, "t": t, "s": s, "distance": t - s,
                         "grad_norm_mean": value})
    return pd.DataFrame(rows)


def dummy_regression(cells: pd.DataFrame) -> tuple[np.ndarray, float]:
    """Reference: least squares of log G on one dummy per row and per distance (explicit design), and on row dummies + log(d+1)."""
    rows, distances = sorted(cells["t"].unique()), sorted(cells["distance"].unique())
    design = np.zeros((len(cells), len(rows) + len(distances) - 1))
    for i, (t, d) in enumerate(zip(cells["t"], cells["distance"], strict=True)):
        design[i, rows.index(t)] = 1.0
        if distances.index(d) > 0:  # the first distance is the reference level
            design[i, len(rows) + distances.index(d) - 1] = 1.0
    coef = np.linalg.lstsq(design, cells["log_g"].to_numpy(), rcond=None)[0]
    f = np.concatenate([[0.0], coef[len(rows):]])
    count = cells.groupby("distance").size().reindex(distances).to_numpy(float)
    f -= (count * f).sum() / count.sum()
    slope_design = np.column_stack([design[:, : len(rows)], np.log(cells["distance"].to_numpy(float) + 1)])
    slope = np.linalg.lstsq(slope_design, cells["log_g"].to_numpy(), rcond=None)[0][-1]
    return f, float(slope)


def test_within_row_measures_match_an_explicit_dummy_regression() -> None:
    m1 = planted_m1(lambda d: (d + 1.0) ** -0.7 * (1 + 0.3 * np.sin(d)), context=12, totals="random", noise=0.3)
    cells = distance.fit_cells(m1, s_min=2, d_min=1)
    f, slope = dummy_regression(cells)
    profile = distance.within_row_profile(cells)
    assert np.allclose(np.log(profile["profile"].to_numpy()), f, atol=1e-10)
    assert abs(float(distance.within_row_slope(cells)["slope"].iloc[0]) - slope) < 1e-10


def test_a_profile_flat_in_every_row_is_flat_whatever_the_row_totals() -> None:
    for totals in ("one_over_t", "random"):
        m1 = planted_m1(lambda d: 1.0, totals=totals)
        cells = distance.fit_cells(m1, s_min=2, d_min=1)
        assert np.allclose(distance.within_row_profile(cells)["profile"], 1.0, atol=1e-12)
        assert abs(float(distance.within_row_slope(cells)["slope"].iloc[0])) < 1e-12
    # the pooled profile of the same 1/(t+1) rows falls with distance: the artefact the within-row profile removes
    pooled = distance.fit_power_law(distance.distance_profile(planted_m1(lambda d: 1.0), s_min=2), d_min=1, n_blocks={"c": 2})
    assert float(pooled["slope"].iloc[0]) < -0.3


def test_a_planted_within_row_power_law_is_recovered() -> None:
    m1 = planted_m1(lambda d: (d + 1.0) ** -1.3, totals="random")
    cells = distance.fit_cells(m1, s_min=2, d_min=1)
    assert abs(float(distance.within_row_slope(cells)["slope"].iloc[0]) + 1.3) < 1e-10
    profile = distance.within_row_profile(cells).set_index("distance")["profile"]
    assert np.allclose(profile / profile[1], ((profile.index + 1.0) / 2.0) ** -1.3)
    fit = distance.fit_laws(distance.within_row_profile(cells), aic_margin=2.0).iloc[0]
    assert abs(fit["power_p"] - 1.3) < 1e-4 and abs(fit["power_c"]) < 1e-6 and fit["preferred"] == distance.POWER_LAW


def test_aic_picks_the_generating_law_and_calls_a_flat_profile_flat() -> None:
    def preferred(law) -> str:
        cells = distance.fit_cells(planted_m1(law, context=32, noise=0.01), s_min=2, d_min=1)
        return distance.fit_laws(distance.within_row_profile(cells), aic_margin=2.0)["preferred"].iloc[0]

    assert preferred(lambda d: 0.2 + (d + 1.0) ** -1.3) == distance.POWER_LAW
    assert preferred(lambda d: 0.2 + np.exp(-d / 4.0)) == distance.EXPONENTIAL
    assert preferred(lambda d: 1.0) == distance.FLAT


def test_exponential_fit_recovers_its_scale_and_beats_curve_fit_from_the_truth() -> None:
    cells = distance.fit_cells(planted_m1(lambda d: 0.3 + np.exp(-d / 5.0), context=32, noise=0.05, seed=3), 2, 1)
    profile = distance.within_row_profile(cells)
    fit = distance.fit_laws(profile, aic_margin=2.0).iloc[0]
    d, y, w = profile["distance"].to_numpy(float), profile["profile"].to_numpy(), profile["n_cells"].to_numpy(float)
    reference, _ = curve_fit(distance.exponential, d, y, p0=(0.3, 1.0, 5.0), sigma=1 / np.sqrt(w))
    ours = distance.exponential(d, fit["exp_c"], fit["exp_amplitude"], fit["exp_scale"])
    theirs = distance.exponential(d, *reference)
    assert (w * (y - ours) ** 2).sum() <= (w * (y - theirs) ** 2).sum() * (1 + 1e-6)
    assert abs(fit["exp_scale"] - 5.0) < 1.0


def test_law_preference_threshold_and_aic_by_hand() -> None:
    assert distance.preferred_law(-2.0, 2.0) == distance.POWER_LAW
    assert distance.preferred_law(2.0, 2.0) == distance.EXPONENTIAL
    assert distance.preferred_law(-1.999, 2.0) == distance.INDISTINGUISHABLE
    assert distance.preferred_law(float("nan"), 2.0) == distance.INDISTINGUISHABLE
    assert distance.preferred_law(-50.0, 2.0, flat_gain=1.999) == distance.FLAT
    assert abs(distance.aic(2.0, 4) - (4 * np.log(0.5) + 6)) < 1e-12


def test_sources_before_s_min_and_the_last_layer_are_left_out() -> None:
    m1 = planted_m1(lambda d: 1.0)
    m1.loc[m1["s"] < 3, "grad_norm_mean"] = 1e6  # an "attention sink" that must not enter the fit
    cells = distance.fit_cells(m1, s_min=3, d_min=1)
    assert cells["s"].min() == 3 and np.allclose(distance.within_row_profile(cells)["profile"], 1.0)
    assert distance.below_last_layer(m1, {"c": 0}).empty and len(distance.below_last_layer(m1, {"c": 1})) == len(m1)


def test_a_known_dependency_distance_is_excluded() -> None:
    cells = distance.fit_cells(planted_m1(lambda d: 1.0), s_min=2, d_min=1, exclude={"c": 3})
    assert 3 not in set(cells["distance"]) and {2, 4} <= set(cells["distance"])


def test_empty_cells_give_empty_tables() -> None:
    cells = distance.fit_cells(planted_m1(lambda d: 1.0).iloc[:0], s_min=2, d_min=1)
    assert distance.within_row_slope(cells).empty and distance.within_row_profile(cells).empty
    assert distance.fit_laws(distance.within_row_profile(cells), 2.0).empty
    assert distance.summarize_profile(distance.within_row_profile(cells), 0.95).empty


def test_position_profile_reads_fixed_distances_relative_to_the_row() -> None:
    m1 = planted_m1(lambda d: float(d), context=10)  # row t: G = d / (t + 1)
    table = distance.position_profile(m1, distances=[1, 4], s_min=2)
    assert set(table["distance"]) == {1, 4}
    row = table[(table["distance"] == 4) & (table["s"] == 3)].iloc[0]  # t = 7: mean of d over s = 2..6 is 3
    assert abs(row["relative"] - 4 / 3) < 1e-12
    assert set(table.loc[table["first_positions"], "s"]) == {0, 1}


def test_first_position_ratio_sees_a_sink_and_not_a_plain_profile() -> None:
    flat = planted_m1(lambda d: 1.0)
    assert abs(float(distance.first_position_ratio(flat, s_min=2)["first_position_ratio"].iloc[0]) - 1.0) < 1e-12
    sink = flat.copy()
    sink.loc[(sink["s"] == 0) & (sink["t"] > 0), "grad_norm_mean"] *= 5.0
    assert abs(float(distance.first_position_ratio(sink, s_min=2)["first_position_ratio"].iloc[0]) - 5.0) < 1e-12
