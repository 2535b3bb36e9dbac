"""C2's helpers (``analysis/stats/precaching.py``) on planted tables with hand-worked values.

At confidence 0.5 with two seeds the t quantile t(0.75, 1) is exactly 1 (tan(pi/4)), so each interval is
mean +- sd / sqrt(2) = mean +- |a - b| / 2: the half-widths below are worked by hand.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.stats.precaching import gap_by_position, layer_shares, summarize_shares, with_factors

HALF = {"confidence": 0.5}


def gap_rows() -> pd.DataFrame:
    rows = []
    for seed, (g0, g1, m0, s0) in enumerate([(0.1, 0.5, 2.0, 1.0), (0.3, 0.9, 3.0, 2.0)]):
        base = {"condition": "c", "seed": seed, "task": "lag", "regime": "myopic-state", "steps": 100}
        rows += [
            {**base, "step": 100, "t": 0, "gap": g0, "loss_myopic": m0, "loss_standard": s0},
            {**base, "step": 100, "t": 1, "gap": g1, "loss_myopic": 4.0 + seed, "loss_standard": 1.0},
            {**base, "step": 100, "t": -1, "gap": 9.9, "loss_myopic": 9.9, "loss_standard": 9.9},  # the overall row
            {**base, "step": 50, "t": 0, "gap": 7.7, "loss_myopic": 7.7, "loss_standard": 7.7},  # not the final step
            {**base, "step": 50, "t": 1, "gap": 7.7, "loss_myopic": 7.7, "loss_standard": 7.7},
        ]
    return pd.DataFrame(rows)


def test_gap_by_position_keeps_positions_from_zero_at_the_final_step() -> None:
    table = gap_by_position(gap_rows(), HALF)
    assert list(table.columns) == ["condition", "task", "regime", "t", "gap_mean", "gap_low", "gap_high",
                                   "loss_myopic", "loss_standard"]
    assert table[["condition", "task", "regime", "t"]].values.tolist() == [["c", "lag", "myopic-state", 0],
                                                                           ["c", "lag", "myopic-state", 1]]
    # t = 0: gaps 0.1, 0.3 -> 0.2 +- 0.1; t = 1: gaps 0.5, 0.9 -> 0.7 +- 0.2
    np.testing.assert_allclose(table["gap_mean"], [0.2, 0.7])
    np.testing.assert_allclose(table["gap_low"], [0.1, 0.5])
    np.testing.assert_allclose(table["gap_high"], [0.3, 0.9])
    np.testing.assert_allclose(table["loss_myopic"], [2.5, 4.5])
    np.testing.assert_allclose(table["loss_standard"], [1.5, 1.0])


def test_gap_by_position_uses_the_confidence_it_is_given() -> None:
    table = gap_by_position(gap_rows(), {"confidence": 0.95})
    # t(0.975, 1) = 12.7062047: half-width 12.7062047 * 0.1 at t = 0
    assert table["gap_high"].iloc[0] == pytest.approx(0.2 + 1.27062047, rel=1e-7)


def decomposition() -> pd.DataFrame:
    keys = {"condition": "c", "seed": 0, "step": 100}
    return pd.DataFrame([
        {**keys, "layer": -2, "group": "all", "norm_total": 3.0, "share_direct": 0.7, "share_shared": 0.2, "share_precache": 0.1},
        {**keys, "layer": 0, "group": "attn", "norm_total": 1.0, "share_direct": 0.2, "share_shared": 0.3, "share_precache": 0.5},
        {**keys, "layer": 0, "group": "mlp", "norm_total": 2.0, "share_direct": 0.5, "share_shared": 0.5, "share_precache": 0.0},
        {**keys, "layer": 1, "group": "mlp", "norm_total": 5.0, "share_direct": 0.1, "share_shared": 0.1, "share_precache": 0.8},
    ])


def test_layer_shares_pool_groups_weighted_by_their_squared_norm() -> None:
    shares = layer_shares(decomposition())
    assert list(shares.columns) == ["condition", "seed", "step", "layer", "share_direct", "share_shared", "share_precache"]
    assert list(shares.index) == [0, 1, 2]
    assert shares["layer"].tolist() == [0, 1, -2]  # the pooled layers, then the whole-model row as it was
    # layer 0: weights 1 and 4; direct (0.2 + 4 * 0.5) / 5 = 0.44, shared (0.3 + 2.0) / 5 = 0.46, precache 0.5 / 5 = 0.1
    np.testing.assert_allclose(shares.iloc[0][["share_direct", "share_shared", "share_precache"]].astype(float),
                               [0.44, 0.46, 0.1])
    np.testing.assert_allclose(shares.iloc[1][["share_direct", "share_shared", "share_precache"]].astype(float),
                               [0.1, 0.1, 0.8])
    np.testing.assert_allclose(shares.iloc[2][["share_direct", "share_shared", "share_precache"]].astype(float),
                               [0.7, 0.2, 0.1])


def runs_table() -> pd.DataFrame:
    return pd.DataFrame({"condition": ["c", "c"], "seed": [0, 1], "task": ["lag", "lag"], "pos_encoding": ["rope", "rope"],
                         "regime": ["standard", "standard"], "final_eval_loss": [1.0, 1.0]})


def test_with_factors_replaces_stale_factor_columns_from_the_runs_table() -> None:
    table = pd.DataFrame({"condition": ["c", "c"], "seed": [1, 0], "task": ["stale", "stale"], "value": [5.0, 6.0]})
    joined = with_factors(table, runs_table())
    assert list(joined.columns) == ["condition", "seed", "value", "task", "pos_encoding", "regime"]
    assert joined["task"].tolist() == ["lag", "lag"] and joined["value"].tolist() == [5.0, 6.0]
    with pytest.raises(pd.errors.MergeError):  # a run listed twice is refused
        with_factors(table, pd.concat([runs_table(), runs_table()]))


def test_summarize_shares_gives_each_part_over_seeds_with_its_interval() -> None:
    shares = pd.DataFrame({"condition": "c", "seed": [0, 1], "step": 100, "layer": 0,
                           "share_direct": [0.2, 0.4], "share_shared": [0.5, 0.5], "share_precache": [0.3, 0.1]})
    table = summarize_shares(shares, runs_table(), HALF)
    assert list(table.columns) == ["condition", "task", "pos_encoding", "regime", "step", "layer",
                                   "direct_mean", "direct_low", "direct_high", "shared_mean", "shared_low", "shared_high",
                                   "precache_mean", "precache_low", "precache_high", "n_seeds"]
    row = table.iloc[0]
    assert (row["condition"], row["task"], row["pos_encoding"], row["regime"], row["step"], row["layer"]) == (
        "c", "lag", "rope", "standard", 100, 0)
    np.testing.assert_allclose(row[["direct_mean", "direct_low", "direct_high"]].astype(float), [0.3, 0.2, 0.4])
    np.testing.assert_allclose(row[["shared_mean", "shared_low", "shared_high"]].astype(float), [0.5, 0.5, 0.5])
    np.testing.assert_allclose(row[["precache_mean", "precache_low", "precache_high"]].astype(float), [0.2, 0.1, 0.3])
    assert row["n_seeds"] == 2


# --- The plateau (C2): each run's plateau loss and drift over the last share of training, on planted curves ---

from analysis.stats.precaching import drift, paired_gaps, plateau_table  # noqa: E402


def curve_runs(steps: int = 2000, baseline: float = 2.0, optimum: float = 1.0) -> pd.DataFrame:
    return pd.DataFrame([{"condition": "c", "seed": 0, "steps": steps, "baseline_loss": baseline, "optimal_loss": optimum}])


def curve(losses: dict[int, float]) -> pd.DataFrame:
    return pd.DataFrame({"condition": "c", "seed": 0, "step": list(losses), "eval_loss": list(losses.values())})


def test_a_linear_decline_drifts_its_slope_times_the_window() -> None:
    """Every 5% of 2000 steps, loss 1.5 - 1e-4 x step: the window is steps 1600..2000 (1600 included: (1 - 0.2) x 2000),
    5 evaluations; plateau = loss at 1800 = 1.32; drift = -1e-4 x 400 = -0.04, 4% of the gap 1.0; closed 68%."""
    row = plateau_table(curve({s: 1.5 - 1e-4 * s for s in range(0, 2001, 100)}), curve_runs(), 0.2, 0.05).iloc[0]
    assert (row["window_start"], row["n_window"]) == (1600, 5)
    assert row["plateau_loss"] == pytest.approx(1.32) and row["drift"] == pytest.approx(-0.04)
    assert row["drift_share"] == pytest.approx(-0.04) and row["gap_closed"] == pytest.approx(0.68)
    assert bool(row["at_plateau"])  # |4%| <= 5%
    assert not plateau_table(curve({s: 1.5 - 1e-4 * s for s in range(0, 2001, 100)}), curve_runs(), 0.2, 0.039).iloc[0]["at_plateau"]


def test_a_converged_exponential_is_at_its_plateau_and_one_still_falling_is_not() -> None:
    """loss = 1.1 + exp(-step / tau): with tau = 100 the window (steps 1600-2000) is flat to 1e-7; with tau = 1000 it
    still falls by exp(-1.6) - exp(-2) = 0.067 (least squares over five points: about 0.066), 6.6% of the gap."""
    steps = range(0, 2001, 100)
    fast = plateau_table(curve({s: 1.1 + np.exp(-s / 100) for s in steps}), curve_runs(), 0.2, 0.025).iloc[0]
    slow = plateau_table(curve({s: 1.1 + np.exp(-s / 1000) for s in steps}), curve_runs(), 0.2, 0.025).iloc[0]
    assert bool(fast["at_plateau"]) and abs(fast["drift"]) < 1e-6 and fast["plateau_loss"] == pytest.approx(1.1)
    assert not slow["at_plateau"] and slow["drift"] == pytest.approx(-0.066, abs=0.002)


def test_one_noisy_evaluation_moves_the_least_squares_drift_less_than_last_minus_first() -> None:
    """A flat plateau at 1.2 with the last evaluation 0.05 high: last minus first says 0.05, least squares 0.02
    (slope of (0, 0, 0, 0, 0.05) over x = -2..2: 0.05 x 2 / 10 per 100 steps, times 4)."""
    losses = {s: 1.2 for s in range(0, 2001, 100)} | {2000: 1.25}
    row = plateau_table(curve(losses), curve_runs(), 0.2, 0.025).iloc[0]
    assert row["drift"] == pytest.approx(0.04) and row["plateau_loss"] == pytest.approx(1.21)
    assert drift(np.array([0, 1, 2, 3, 4]), np.array([0, 0, 0, 0, 0.05]), 4.0) == pytest.approx(0.04)


def test_a_window_with_one_evaluation_or_an_unknown_optimum_is_not_at_plateau() -> None:
    one = plateau_table(curve({0: 2.0, 2000: 1.0}), curve_runs(), 0.2, 0.5).iloc[0]
    assert one["n_window"] == 1 and np.isnan(one["drift"]) and not one["at_plateau"]
    text = plateau_table(curve({s: 1.2 for s in range(0, 2001, 100)}), curve_runs(optimum=float("nan")), 0.2, 0.5).iloc[0]
    assert text["drift"] == pytest.approx(0.0) and np.isnan(text["drift_share"]) and not text["at_plateau"]
    assert list(plateau_table(curve({}).iloc[:0], curve_runs(), 0.2, 0.5).columns)[:3] == ["condition", "seed", "window_start"]


def test_paired_gaps_match_factors_and_seed_and_leave_an_unpaired_run_out() -> None:
    factors = {"task": "t", "pos_encoding": "learned", "n_layer": 2, "d_model": 64, "n_head": 4, "context": 32, "steps": 100}
    runs = pd.DataFrame([{**factors, "condition": f"{regime}{enc}", "seed": seed, "regime": regime, "task_name": "t",
                          "pos_encoding": enc}
                         for regime in ("standard", "myopic-state") for enc in ("a", "b") for seed in (0, 1)])
    runs = runs[~((runs["condition"] == "standardb") & (runs["seed"] == 1))]  # seed 1 of encoding b has no standard run
    values = runs[["condition", "seed"]].assign(loss=lambda d: np.where(d["condition"].str.startswith("standard"), 1.0, 1.5)
                                                + d["seed"] / 10)
    gaps = paired_gaps(values, runs, "loss", [])
    assert sorted(zip(gaps["condition"], gaps["seed"], strict=True)) == [("myopic-statea", 0), ("myopic-statea", 1),
                                                                        ("myopic-stateb", 0)]
    assert gaps["gap"].tolist() == pytest.approx([0.5, 0.5, 0.5])
