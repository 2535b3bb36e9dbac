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
