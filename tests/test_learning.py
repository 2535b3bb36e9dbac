"""The learned criterion on planted runs tables (known answers)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.stats.learning import learning_table, with_learning

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
