"""The distance tables of C4 (``analysis/stats/distance.py``) on tiny hand-made gradient matrices.

Every expected number is worked by hand in a comment. With two seeds and confidence 0.5 the t quantile
t(0.75, 1) is exactly 1, so an interval is mean +- |a - b| / 2.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.stats import distance

KEYS = {"condition": "c", "seed": 0, "step": 10, "layer": 0}


def m1_rows(cells: dict[tuple[int, int], float], **keys) -> pd.DataFrame:
    """One run's G[t, s] from {(t, s): value}."""
    return pd.DataFrame([{**KEYS, **keys, "t": t, "s": s, "distance": t - s, "grad_norm_mean": g}
                         for (t, s), g in cells.items()])


# t = 1: only s = 0 (below s_min = 1): no row mean -> dropped
# t = 2: s0 = 6, s1 = 2 -> row mean over 1 <= s < 2 is 2: relative 3, 1
# t = 3: s0 = 4, s1 = 1, s2 = 3 -> row mean (1 + 3) / 2 = 2: relative 2, 0.5, 1.5
# t = 4: the fitted range is all zero -> dropped; diagonal cells (s = t) are never sources
SMALL = {(1, 0): 5.0, (1, 1): 9.0, (2, 0): 6.0, (2, 1): 2.0, (2, 2): 9.0, (3, 0): 4.0, (3, 1): 1.0, (3, 2): 3.0,
         (3, 3): 9.0, (4, 0): 5.0, (4, 1): 0.0, (4, 2): 0.0, (4, 3): 0.0}


def test_power_law_and_exponential_by_hand() -> None:
    # 1 + 2 (d + 1)^-1 at d = 0, 1, 3: 3, 2, 1.5
    np.testing.assert_allclose(distance.power_law(np.array([0.0, 1.0, 3.0]), 1.0, 2.0, 1.0), [3.0, 2.0, 1.5])
    np.testing.assert_allclose(distance.power_law(np.array([1.0]), 0.0, 1.0, 2.0), [0.25])
    np.testing.assert_allclose(distance.exponential(np.array([0.0, 2.0]), 1.0, 2.0, 2.0), [3.0, 1.0 + 2.0 / np.e])


def test_row_normalised_divides_by_the_mean_over_the_fitted_range() -> None:
    table = distance.row_normalised(m1_rows(SMALL), s_min=1)
    assert list(table.columns) == ["condition", "seed", "step", "layer", "t", "s", "distance", "relative"]
    assert table[["t", "s", "distance"]].values.tolist() == [[2, 0, 2], [2, 1, 1], [3, 0, 3], [3, 1, 2], [3, 2, 1]]
    np.testing.assert_allclose(table["relative"], [3.0, 1.0, 2.0, 0.5, 1.5])
    assert list(table.index) == [0, 1, 2, 3, 4]


def test_position_profile_at_fixed_distances_marks_the_first_positions() -> None:
    table = distance.position_profile(m1_rows(SMALL), distances=[1, 3], s_min=1)
    assert table[["distance", "s"]].values.tolist() == [[1, 1], [1, 2], [3, 0]]  # sorted by distance, then source
    np.testing.assert_allclose(table["relative"], [1.0, 1.5, 2.0])
    assert table["first_positions"].tolist() == [False, False, True]
    assert list(table.index) == [0, 1, 2]


def test_first_position_ratio_averages_rows_after_s_min() -> None:
    table = distance.first_position_ratio(m1_rows(SMALL), s_min=1)
    # rows t = 2 and 3 (t > s_min): G[t, 0] relative 3 and 2 -> 2.5
    assert table.to_dict("records") == [{**KEYS, "first_position_ratio": 2.5}]
    # with s_min = 2 only row t = 3 counts (t = 2 is not beyond s_min): G[3, 0] / G[3, 2] = 4 / 3
    assert distance.first_position_ratio(m1_rows(SMALL), s_min=2)["first_position_ratio"].tolist() == [pytest.approx(4 / 3)]


def test_summarize_first_position_over_seeds() -> None:
    ratios = pd.DataFrame({"condition": ["c", "c", "b"], "seed": [0, 1, 0], "step": 10, "layer": 0,
                           "first_position_ratio": [1.0, 3.0, 5.0]})
    table = distance.summarize_first_position(ratios, 0.5)
    assert list(table.columns) == ["condition", "step", "layer", "ratio_mean", "ratio_low", "ratio_high", "n_seeds"]
    assert table[["condition", "step", "layer"]].values.tolist() == [["b", 10, 0], ["c", 10, 0]]
    assert table.loc[1, ["ratio_mean", "ratio_low", "ratio_high", "n_seeds"]].tolist() == pytest.approx([2.0, 1.0, 3.0, 2])
    assert table.loc[0, "ratio_mean"] == 5.0 and np.isnan(table.loc[0, "ratio_high"]) and table.loc[0, "n_seeds"] == 1
    empty = distance.summarize_first_position(ratios.iloc[:0], 0.5)
    assert empty.empty and list(empty.columns) == list(table.columns)


def test_summarize_position_profile_over_seeds() -> None:
    table = pd.DataFrame({"condition": "c", "seed": [0, 1, 0], "step": 10, "layer": 0, "distance": [1, 1, 3],
                          "s": [2, 2, 0], "relative": [0.5, 1.5, 4.0], "first_positions": [False, False, True]})
    summary = distance.summarize_position_profile(table, 0.5)
    assert list(summary.columns) == ["condition", "step", "layer", "distance", "s", "relative_mean", "relative_low",
                                     "relative_high", "first_positions", "n_seeds"]
    assert summary[["condition", "step", "layer", "distance", "s"]].values.tolist() == [["c", 10, 0, 1, 2], ["c", 10, 0, 3, 0]]
    assert summary.loc[0, ["relative_mean", "relative_low", "relative_high"]].tolist() == pytest.approx([1.0, 0.5, 1.5])
    assert summary["first_positions"].tolist() == [False, True] and summary["n_seeds"].tolist() == [2, 1]
    assert summary.loc[1, "relative_mean"] == 4.0 and np.isnan(summary.loc[1, "relative_low"])
    empty = distance.summarize_position_profile(table.iloc[:0], 0.5)
    assert empty.empty and list(empty.columns) == list(summary.columns)


def test_summarize_profile_is_a_geometric_mean_over_seeds() -> None:
    profile = pd.DataFrame({"condition": ["c", "c", "c", "b", "b"], "seed": [0, 1, 0, 0, 1], "step": 10, "layer": 0,
                            "distance": [1, 1, 2, 1, 1], "profile": [1.0, 4.0, 7.0, 3.0, 3.0]})
    table = distance.summarize_profile(profile, 0.5)
    assert list(table.columns) == ["condition", "step", "layer", "distance", "profile_mean", "profile_low",
                                   "profile_high", "n_seeds"]
    # c at d = 1: logs 0 and log 4: geometric mean 2, bounds exp(log 2 -+ log 2) = 1, 4; d = 2 lacks seed 1: left out
    c = table[table["condition"] == "c"]
    assert c["distance"].tolist() == [1] and c["n_seeds"].tolist() == [2]
    assert c[["profile_mean", "profile_low", "profile_high"]].iloc[0].tolist() == pytest.approx([2.0, 1.0, 4.0])
    b = table[table["condition"] == "b"].iloc[0]
    assert b[["profile_mean", "profile_low", "profile_high"]].tolist() == pytest.approx([3.0, 3.0, 3.0])
    assert b["n_seeds"] == 2
    assert list(table.index) == [0, 1]  # one frame per condition, re-indexed
    assert distance.summarize_profile(profile.iloc[:0], 0.5).columns.tolist() == table.columns.tolist()


def test_summarize_profile_keeps_a_condition_with_fewer_seeds() -> None:
    profile = pd.DataFrame({"condition": ["c", "c", "b"], "seed": [0, 1, 0], "step": 10, "layer": 0,
                            "distance": 1, "profile": [1.0, 4.0, 3.0]})
    summary = distance.summarize_profile(profile, 0.5).set_index("condition")
    assert set(summary.index) == {"b", "c"}
    assert summary.loc["c", "n_seeds"] == 2 and summary.loc["b", "n_seeds"] == 1
    assert summary.loc["c", "profile_mean"] == pytest.approx(2.0)  # geometric mean of 1 and 4
    assert summary.loc["b", "profile_mean"] == pytest.approx(3.0)


def test_distance_profile_pools_rows_from_s_min_on() -> None:
    m1 = m1_rows({(1, 0): 8.0, (1, 1): 1.0, (2, 0): 8.0, (2, 1): 2.0, (2, 2): 1.0, (3, 1): 4.0, (3, 2): 6.0, (3, 3): 1.0})
    table = distance.distance_profile(m1, s_min=1)
    assert list(table.columns) == ["condition", "seed", "step", "layer", "distance", "profile", "s_min"]
    # s >= 1: d = 0: 1, 1, 1 -> 1; d = 1: G[2,1] = 2, G[3,2] = 6 -> 4; d = 2: G[3,1] = 4
    assert table["distance"].tolist() == [0, 1, 2] and table["profile"].tolist() == [1.0, 4.0, 4.0]
    assert table["s_min"].tolist() == [1, 1, 1]


def test_fit_cells_keep_sources_at_s_min_and_distances_from_d_min() -> None:
    m1 = m1_rows({(3, 0): 1.0, (3, 1): 2.0, (3, 2): 4.0, (3, 3): 8.0, (4, 1): 0.0, (4, 2): np.e, (4, 3): 1.0})
    cells = distance.fit_cells(m1, s_min=1, d_min=0)  # d_min 0 still leaves out the diagonal (d >= 1)
    assert list(cells.columns) == ["condition", "seed", "step", "layer", "t", "s", "distance", "log_g"]
    assert cells[["t", "s"]].values.tolist() == [[3, 1], [3, 2], [4, 2], [4, 3]]  # G = 0 at (4, 1) left out
    np.testing.assert_allclose(cells["log_g"], [np.log(2.0), np.log(4.0), 1.0, 0.0])
    assert distance.fit_cells(m1, s_min=1, d_min=2)[["t", "s"]].values.tolist() == [[3, 1], [4, 2]]
    excluded = distance.fit_cells(m1, s_min=1, d_min=1, exclude={"c": 1, "other": 2})
    assert excluded[["t", "s"]].values.tolist() == [[3, 1], [4, 2]]
    assert list(excluded.index) == [0, 1]


def test_within_row_slope_by_hand() -> None:
    # one row t = 4, log G at d = 1, 3 (x = log 2, log 4): log G = 5 - 2 x exactly -> slope -2
    x = np.log([2.0, 4.0])
    cells = pd.DataFrame({**KEYS, "t": 4, "s": [3, 1], "distance": [1, 3], "log_g": 5 - 2 * x})
    slope = distance.within_row_slope(cells)
    assert list(slope.columns) == ["condition", "seed", "step", "layer", "slope", "n_cells", "n_rows"]
    assert slope["slope"].iloc[0] == pytest.approx(-2.0) and (slope["n_cells"].iloc[0], slope["n_rows"].iloc[0]) == (2, 1)
    # a row with one cell has no within-row spread: no slope
    single = distance.within_row_slope(cells.iloc[:1])
    assert np.isnan(single["slope"].iloc[0]) and single["n_cells"].iloc[0] == 1
    assert list(distance.within_row_slope(cells.iloc[:0]).columns) == list(slope.columns)
    # two runs, seed 1 first: one row each per run, in key order
    both = distance.within_row_slope(pd.concat([cells.assign(seed=1, log_g=5 - 3 * x), cells], ignore_index=True))
    assert both["seed"].tolist() == [0, 1] and both["slope"].tolist() == pytest.approx([-2.0, -3.0])


def test_fit_power_law_on_the_pooled_profile() -> None:
    d = np.arange(0, 7, dtype=float)
    rows = [pd.DataFrame({**KEYS, "distance": d, "profile": 2.0 * (d + 1.0) ** -1.5}),
            pd.DataFrame({**KEYS, "layer": 1, "distance": d, "profile": 1.0}),  # the last layer of a 1-block model
            pd.DataFrame({**KEYS, "seed": 1, "distance": d[:3], "profile": [0.0, 1.0, 2.0]})]  # 2 points from d_min on
    table = distance.fit_power_law(pd.concat(rows, ignore_index=True), d_min=1, n_blocks={"c": 1})
    assert len(table) == 1
    row = table.iloc[0]
    assert (row["condition"], row["seed"], row["step"], row["layer"], row["n_distances"]) == ("c", 0, 10, 0, 6)
    assert row["slope"] == pytest.approx(-1.5) and row["intercept"] == pytest.approx(np.log(2.0)) and row["r2"] == pytest.approx(1.0)
    # log g = log 2 - 1.5 log(d + 1) against d = 1..6, least squares slope by the textbook formula
    dd = d[1:]
    y = np.log(2.0) - 1.5 * np.log(dd + 1.0)
    rate = ((dd - dd.mean()) * (y - y.mean())).sum() / ((dd - dd.mean()) ** 2).sum()
    assert row["exp_rate"] == pytest.approx(rate)
    residual = y - y.mean() - rate * (dd - dd.mean())
    assert row["r2_exp"] == pytest.approx(1 - (residual @ residual) / ((y - y.mean()) ** 2).sum())
    assert row["delta_aic"] < -100  # the power law fits exactly
    flat = distance.fit_power_law(pd.DataFrame({**KEYS, "distance": d, "profile": 1.0}), d_min=1, n_blocks={"c": 1})
    assert np.isnan(flat["r2"].iloc[0]) and np.isnan(flat["r2_exp"].iloc[0]) and flat["slope"].iloc[0] == pytest.approx(0.0)


def test_aic_and_the_flat_boundary_by_hand() -> None:
    assert distance.aic(2.0, 4, k=1) == pytest.approx(4 * np.log(0.5) + 2)
    assert distance.aic(0.0, 2) == pytest.approx(2 * np.log(1e-300 / 2) + 6)
    assert distance.preferred_law(-50.0, 2.0, flat_gain=2.0) == distance.POWER_LAW  # a gain of exactly the margin is not flat
    assert distance.preferred_law(50.0, 2.0, flat_gain=2.0) == distance.EXPONENTIAL
    assert distance.preferred_law(1.999, 2.0) == distance.INDISTINGUISHABLE
    assert distance.preferred_law(float("inf"), 2.0) == distance.INDISTINGUISHABLE


def test_a_law_is_picked_at_exactly_the_margin_and_zero_difference_is_not_the_power_law() -> None:
    assert distance.preferred_law(0.0, 0.0) == distance.EXPONENTIAL  # delta 0: not below 0
    assert distance.preferred_law(0.5, 0.5) == distance.EXPONENTIAL
    assert distance.preferred_law(-0.5, 0.5) == distance.POWER_LAW


def test_linear_part_is_weighted_least_squares_by_hand() -> None:
    """Row 0: y = 2 + 5 b exactly, with a spread of b well below 1: c = 2, A = 5, RSS 0. Row 1: a constant basis
    (no spread) has no slope: A = 0 and c is the weighted mean of y, (2.5 + 2 x 3 + 3.5 + 4) / 5 = 3.2, with RSS
    0.7^2 + 2 x 0.2^2 + 0.3^2 + 0.8^2 = 1.3."""
    basis = np.array([[0.1, 0.2, 0.3, 0.4], [1.0, 1.0, 1.0, 1.0]])
    y, weight = 2.0 + 5.0 * basis[0], np.array([1.0, 2.0, 1.0, 1.0])
    c, amplitude, rss = distance._linear_part(basis, y, weight)
    assert c.tolist() == pytest.approx([2.0, 3.2]) and amplitude.tolist() == pytest.approx([5.0, 0.0], abs=1e-12)
    assert rss.tolist() == pytest.approx([0.0, 1.3], abs=1e-12)


def test_separable_fit_refines_the_exponent_to_the_optimisers_tolerance_and_keeps_a_bound() -> None:
    d, weight = np.arange(1.0, 11.0), np.ones(10)
    law = lambda x, p: (x + 1.0) ** -p  # noqa: E731
    (c, amplitude, p), rss = distance._separable_fit(law, distance.P_RANGE, d, 0.5 + 2.0 * (d + 1.0) ** -1.3, weight)
    assert abs(p - 1.3) < 1e-6 and c == pytest.approx(0.5) and amplitude == pytest.approx(2.0) and rss < 1e-12
    # a decay steeper than the largest exponent allowed: the best grid point is the bound, which refining cannot beat
    (_, _, steep), _ = distance._separable_fit(law, distance.P_RANGE, d, (d + 1.0) ** -20.0, weight)
    assert steep == distance.P_RANGE[1]


def test_fit_power_law_goes_on_past_a_skipped_group_and_drops_non_positive_points() -> None:
    """Groups in key order: seed 0 (last layer of a 1-block model: skipped), seed 1 (2 points: skipped), seed 2
    (three positive points; its zero at d = 4 is left out). Seed 2 by the textbook formulas on x = log(d + 1)."""
    rows = [pd.DataFrame({**KEYS, "layer": 1, "distance": [1, 2, 3], "profile": 1.0}),
            pd.DataFrame({**KEYS, "seed": 1, "distance": [1, 2], "profile": [1.0, 0.5]}),
            pd.DataFrame({**KEYS, "seed": 2, "distance": [1, 2, 3, 4], "profile": np.exp([0.0, -0.3, -0.4, 0.0]) * [1, 1, 1, 0]})]
    table = distance.fit_power_law(pd.concat(rows, ignore_index=True), d_min=1, n_blocks={"c": 1})
    assert table[["seed", "layer", "n_distances"]].to_dict("records") == [{"seed": 2, "layer": 0, "n_distances": 3}]
    x, y = np.log([2.0, 3.0, 4.0]), np.array([0.0, -0.3, -0.4])
    slope = ((x - x.mean()) * (y - y.mean())).sum() / ((x - x.mean()) ** 2).sum()
    residual = y - y.mean() - slope * (x - x.mean())
    total = ((y - y.mean()) ** 2).sum()  # 0.0867: below 1
    assert table["slope"].iloc[0] == pytest.approx(slope)
    assert table["r2"].iloc[0] == pytest.approx(1 - (residual @ residual) / total)
    distances = np.array([1.0, 2.0, 3.0])  # against d itself
    rate = ((distances - distances.mean()) * (y - y.mean())).sum() / ((distances - distances.mean()) ** 2).sum()
    residual_exp = y - y.mean() - rate * (distances - distances.mean())
    assert table["r2_exp"].iloc[0] == pytest.approx(1 - (residual_exp @ residual_exp) / total)
    assert table["delta_aic"].iloc[0] == pytest.approx(3 * np.log((residual @ residual) / (residual_exp @ residual_exp)))


def test_fit_laws_per_run_by_hand_in_key_order() -> None:
    """Seed 0: 0.5 + 2 (d + 1)^-1.3 exactly at d = 1..6 (the power law, recovered); seed 1: four points, the fewest a
    fit takes; seed 2: three (skipped); seed 3 after it. The runs arrive out of order. The flat model by hand: the
    cell-weighted mean and n log(RSS / n) + 2."""
    def run(seed: int, d: np.ndarray, y: np.ndarray) -> pd.DataFrame:
        return pd.DataFrame({**KEYS, "seed": seed, "distance": d, "profile": y, "n_cells": 7 - d})

    d = np.arange(1.0, 7.0)
    law = 0.5 + 2.0 * (d + 1.0) ** -1.3
    profile = pd.concat([run(3, d, law), run(1, d[:4], law[:4]), run(0, d, law), run(2, d[:3], law[:3])],
                        ignore_index=True)
    table = distance.fit_laws(profile, aic_margin=2.0)
    assert list(table.columns) == [*KEYS, "power_c", "power_amplitude", "power_p", "exp_c", "exp_amplitude",
                                   "exp_scale", "aic_power", "aic_exp", "aic_flat", "delta_aic", "preferred", "n_distances"]
    assert table["seed"].tolist() == [0, 1, 3] and table["n_distances"].tolist() == [6, 4, 6]
    first = table.iloc[0]
    assert [first["power_c"], first["power_amplitude"], first["power_p"]] == pytest.approx([0.5, 2.0, 1.3], rel=1e-6)
    weight = 7 - d
    constant = (weight * law).sum() / weight.sum()
    assert first["aic_flat"] == pytest.approx(6 * np.log((weight * (law - constant) ** 2).sum() / 6) + 2)
    assert first["delta_aic"] == pytest.approx(first["aic_power"] - first["aic_exp"])
    assert first["aic_power"] < first["aic_exp"] - 2 and first["preferred"] == distance.POWER_LAW
    empty = distance.fit_laws(profile[profile["seed"] == 2], aic_margin=2.0)  # every run too short
    assert empty.empty and list(empty.columns) == list(table.columns)


def test_fixed_effects_table_by_hand_one_frame_per_run_in_key_order() -> None:
    """log G = a_t + f_d exactly, with f = (0.3, -0.6) at d = 1, 2 over rows t = 2, 3 (all four cells): centred by
    count (2 each), the effects are (0.45, -0.45). Seed 1 arrives first; the frames come back in key order, re-indexed."""
    def run(seed: int, a: float) -> pd.DataFrame:
        t, d = np.array([2, 2, 3, 3]), np.array([1, 2, 1, 2])
        return pd.DataFrame({**KEYS, "seed": seed, "t": t, "s": t - d, "distance": d,
                             "log_g": a * t + np.where(d == 1, 0.3, -0.6)})

    table = distance.fixed_effects_table(pd.concat([run(1, 0.7), run(0, -1.1)], ignore_index=True), "distance")
    assert list(table.columns) == [*KEYS, "distance", "effect", "n_cells"] and list(table.index) == [0, 1, 2, 3]
    assert table[["seed", "distance", "n_cells"]].values.tolist() == [[0, 1, 2], [0, 2, 2], [1, 1, 2], [1, 2, 2]]
    assert table["n_cells"].dtype.kind == "i"
    assert table["effect"].tolist() == pytest.approx([0.45, -0.45, 0.45, -0.45])
