"""Whether a condition learned its task: the one criterion every claim uses to decide which conditions count.

A condition has learned when (i) the upper t-interval bound of its mean final held-out loss
over seeds lies at least ``learned_margin`` below the context-free baseline and (ii) where the
Bayes-optimal loss is known, the runs close on average at least ``learned_gap_share`` of the
gap from the baseline to that optimum. Fixed before the confirmatory runs.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from .inference import mean_interval


def gap_closed(runs: pd.DataFrame) -> pd.Series:
    """Per run: (baseline - final) / (baseline - optimum); NaN where the optimum is unknown."""
    span = runs["baseline_loss"] - runs["optimal_loss"]
    return ((runs["baseline_loss"] - runs["final_eval_loss"]) / span).where(span > 0)


def learning_table(runs: pd.DataFrame, settings: Mapping[str, Any]) -> pd.DataFrame:
    """One row per condition: final loss with its interval, the share of the gap closed, and ``learned``."""
    rows = []
    closed = gap_closed(runs)
    # equivalent mutant: groupby sorts by default (sort=True): dropping the argument changes nothing
    for condition, group in runs.groupby("condition", sort=True):
        final = mean_interval(group["final_eval_loss"].to_numpy(), settings["confidence"])
        share = mean_interval(closed[group.index].to_numpy(), settings["confidence"])
        baseline = float(group["baseline_loss"].iloc[0])
        below = bool(np.isfinite(final.high) and final.high < (1 - settings["learned_margin"]) * baseline)
        if final.n == 1:  # one seed: no interval; the point estimate must clear the margin
            below = bool(final.estimate < (1 - settings["learned_margin"]) * baseline)
        closes = share.n == 0 or share.estimate >= settings["learned_gap_share"]
        rows.append(
            {
                "condition": condition,
                "final_loss_mean": final.estimate,
                "final_loss_low": final.low,
                "final_loss_high": final.high,
                "baseline_loss": baseline,
                "optimal_loss": group["optimal_loss"].iloc[0],
                "gap_closed_mean": share.estimate,
                "gap_closed_low": share.low,
                "gap_closed_high": share.high,
                "below_baseline": below,
                "learned": below and closes,
                "n_seeds": final.n,
            }
        )
    return pd.DataFrame(rows)


def with_learning(runs: pd.DataFrame, settings: Mapping[str, Any]) -> pd.DataFrame:
    """The runs table with each run's ``gap_closed`` and its condition's ``learned`` flag."""
    if runs.empty:
        return runs.assign(gap_closed=pd.Series(dtype=float), learned=pd.Series(dtype=bool))
    learned = learning_table(runs, settings).set_index("condition")["learned"]
    return runs.assign(gap_closed=gap_closed(runs), learned=runs["condition"].map(learned).astype(bool))
