"""The learned criterion on planted runs tables (known answers)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.stats.learning import gap_closed, learning_table, with_learning

SETTINGS = {"confidence": 0.95, "learned_margin": 0.05, "learned_gap_share": 0.5}


def runs(condition: str, finals: list[float], baseline: float = 2.0, optimal: float | None = 0.0) -> pd.DataFrame:
    return pd.DataFrame({"condition": condition, "seed": range(len(finals)), "final_eval_loss": finals,
                         "baseline_loss": baseline, "optimal_loss": np.nan if optimal is None else optimal})


def test_closing_half_the_gap_is_needed_where_the_optimum_is_known() -> None:
    table = pd.concat([runs("half", [0.9, 1.0, 1.1]), runs("third", [1.3, 1.35, 1.4])], ignore_index=True)
    result = learning_table(table, SETTINGS).set_index("condition")
    # gap closed: (2 - 1.0) / 2 = 0.5 exactly -> learned; (2 - 1.35) / 2 = 0.325 -> not, though far below baseline
    assert result.loc["half", "gap_closed_mean"] == 0.5 and result.loc["half", "learned"]
    assert result.loc["third", "below_baseline"] and not result.loc["third", "learned"]


def test_without_a_known_optimum_only_the_margin_counts() -> None:
    result = learning_table(runs("text", [1.80, 1.82, 1.84], optimal=None), SETTINGS).iloc[0]
    # mean 1.82, sd 0.02, t(0.975, 2) = 4.3027: upper bound 1.82 + 0.0497 = 1.8697 < 0.95 * 2 = 1.9
    assert np.isnan(result["gap_closed_mean"]) and result["learned"]
    noisy = learning_table(runs("text", [1.70, 1.82, 1.94], optimal=None), SETTINGS).iloc[0]
    assert not noisy["learned"]  # upper bound 1.82 + 0.298 > 1.9


def test_runs_get_their_condition_flag() -> None:
    table = with_learning(pd.concat([runs("a", [0.1, 0.2]), runs("b", [1.9, 1.95])], ignore_index=True), SETTINGS)
    assert table.groupby("condition")["learned"].first().to_dict() == {"a": True, "b": False}
    assert abs(table["gap_closed"].iloc[0] - 0.95) < 1e-12


# Each branch of the criterion at its exact threshold, with hand values (a mutant on either side fails).
TIGHT = {"confidence": 0.95, "learned_margin": 0.25, "learned_gap_share": 0.5}  # threshold 0.75 * 2.0 = 1.5 exactly


def test_gap_closed_is_measured_from_the_baseline_to_a_nonzero_optimum() -> None:
    table = pd.DataFrame({"final_eval_loss": [2.0, 3.0, 0.5], "baseline_loss": [3.0, 3.0, 1.0],
                          "optimal_loss": [1.0, 1.0, 1.0]})
    closed = gap_closed(table)
    # (3 - 2) / (3 - 1) = 0.5; (3 - 3) / 2 = 0; baseline equal to the optimum: no gap to close -> NaN
    assert closed.iloc[0] == 0.5 and closed.iloc[1] == 0.0 and np.isnan(closed.iloc[2])


def test_the_table_has_one_sorted_row_per_condition_with_every_column() -> None:
    table = pd.concat([runs("b", [1.0, 1.0], optimal=1.0), runs("a", [0.5, 1.5])], ignore_index=True)
    result = learning_table(table, SETTINGS)
    assert list(result.columns) == [
        "condition", "final_loss_mean", "final_loss_low", "final_loss_high", "baseline_loss", "optimal_loss",
        "gap_closed_mean", "gap_closed_low", "gap_closed_high", "below_baseline", "learned", "n_seeds"]
    assert list(result["condition"]) == ["a", "b"]  # sorted, whatever the input order
    a, b = result.iloc[0], result.iloc[1]
    # a: mean 1.0, sd sqrt(0.5), t(0.975, 1) = 12.7062047: half = 12.7062047 * 0.5 = 6.35310
    assert a["final_loss_mean"] == 1.0 and a["n_seeds"] == 2 and a["baseline_loss"] == 2.0 and a["optimal_loss"] == 0.0
    assert a["final_loss_low"] == pytest.approx(1.0 - 6.3531024, rel=1e-6)
    assert a["final_loss_high"] == pytest.approx(1.0 + 6.3531024, rel=1e-6)
    # gap closed per seed 0.75 and 0.25: mean 0.5, half = 12.7062047 * 0.25 = 3.17655
    assert a["gap_closed_mean"] == 0.5
    assert a["gap_closed_low"] == pytest.approx(0.5 - 3.1765512, rel=1e-6)
    assert a["gap_closed_high"] == pytest.approx(0.5 + 3.1765512, rel=1e-6)
    assert not a["below_baseline"] and not a["learned"]
    assert b["optimal_loss"] == 1.0 and b["final_loss_low"] == 1.0 and b["final_loss_high"] == 1.0
    assert b["gap_closed_mean"] == 1.0 and b["below_baseline"] and b["learned"]


def test_the_upper_bound_must_lie_strictly_below_the_margin() -> None:
    at = learning_table(runs("at", [1.5, 1.5], optimal=None), TIGHT).iloc[0]  # upper bound exactly 1.5
    assert not at["below_baseline"] and not at["learned"]
    between = learning_table(runs("between", [1.8, 1.8], optimal=None), TIGHT).iloc[0]  # below the baseline, not the margin
    assert not between["below_baseline"]
    under = learning_table(runs("under", [1.4, 1.4], optimal=None), TIGHT).iloc[0]
    assert under["below_baseline"] and under["learned"]


def test_one_seed_decides_on_its_point_estimate() -> None:
    def one(final: float) -> pd.Series:
        return learning_table(runs("one", [final], optimal=None), TIGHT).iloc[0]

    assert one(1.0)["below_baseline"] and one(1.0)["learned"] and one(1.0)["n_seeds"] == 1
    assert np.isnan(one(1.0)["final_loss_high"])
    assert not one(1.5)["below_baseline"]  # exactly at 0.75 * 2.0
    assert not one(1.8)["below_baseline"]  # between the margin and the baseline
    assert not one(2.5)["below_baseline"]


def test_two_seeds_decide_on_the_interval_not_the_mean() -> None:
    # mean 1.45 < 1.5, but the upper bound 1.45 + 12.706 * 0.45 is far above: not learned
    result = learning_table(runs("two", [1.0, 1.9], optimal=None), TIGHT).iloc[0]
    assert not result["below_baseline"] and not result["learned"]


def test_the_gap_share_threshold_is_inclusive_and_decides_alone() -> None:
    # below the margin in every case; gap closed 0.5 exactly (learned), 0.45 (not)
    exact = learning_table(runs("exact", [1.0, 1.0]), TIGHT).iloc[0]
    assert exact["below_baseline"] and exact["gap_closed_mean"] == 0.5 and exact["learned"]
    short = learning_table(runs("short", [1.1, 1.1]), TIGHT).iloc[0]
    assert short["below_baseline"] and not short["learned"]


def test_an_empty_runs_table_gets_typed_empty_columns() -> None:
    empty = runs("none", [])
    table = with_learning(empty, SETTINGS)
    assert list(table.columns) == [*empty.columns, "gap_closed", "learned"]
    assert table["gap_closed"].dtype == np.float64 and table["learned"].dtype == np.bool_


def test_run_flags_are_booleans_and_gap_closed_is_per_run() -> None:
    table = with_learning(pd.concat([runs("a", [0.5, 1.0]), runs("b", [1.9, 1.95])], ignore_index=True), SETTINGS)
    assert table["learned"].dtype == np.bool_
    assert table["gap_closed"].tolist() == pytest.approx([0.75, 0.5, 0.05, 0.025])
