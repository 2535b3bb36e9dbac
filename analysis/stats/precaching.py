"""Helpers for C2 (``c2.py``): the myopia gap by position (M4) and the gradient decomposition shares (M3) over seeds,
each a mean over seeds with its t interval."""
from __future__ import annotations

import pandas as pd

from .inference import mean_interval


def with_factors(table: pd.DataFrame, runs: pd.DataFrame) -> pd.DataFrame:
    """``table`` with each run's task, encoding and regime joined on (condition, seed)."""
    factors = ["task", "pos_encoding", "regime"]
    return table.drop(columns=[c for c in factors if c in table.columns]).merge(
        runs[["condition", "seed", *factors]], on=["condition", "seed"], validate="many_to_one"
    )


def gap_by_position(gap: pd.DataFrame, settings: dict) -> pd.DataFrame:
    """Per myopic condition and position t (final checkpoint): mean gap over seeds with its interval."""
    final = gap[(gap["t"] >= 0) & (gap["step"] == gap["steps"])]
    rows = []
    for (condition, task, regime, t), group in final.groupby(["condition", "task", "regime", "t"]):
        interval = mean_interval(group["gap"].to_numpy(), settings["confidence"])
        rows.append({"condition": condition, "task": task, "regime": regime, "t": t,
                     "gap_mean": interval.estimate, "gap_low": interval.low, "gap_high": interval.high,
                     "loss_myopic": group["loss_myopic"].mean(), "loss_standard": group["loss_standard"].mean()})
    return pd.DataFrame(rows)


PARTS = ("direct", "shared", "precache")


def layer_shares(decomposition: pd.DataFrame) -> pd.DataFrame:
    """Shares of each gradient part per layer: groups of a layer pooled as one vector.

    A group's projection <part, total> is share * ||total||^2, so pooling is a ratio of sums.
    Layer -2 (``all``) is every parameter; -1 the read-in and positions; n_layer the readout.
    """
    keys = ["condition", "seed", "step", "layer"]
    groups = decomposition[decomposition["group"] != "all"].assign(weight=lambda d: d["norm_total"] ** 2)
    pooled = groups.groupby(keys).apply(
        lambda g: pd.Series({f"share_{p}": float((g[f"share_{p}"] * g["weight"]).sum() / g["weight"].sum()) for p in PARTS}),
        include_groups=False,
    ).reset_index()
    everything = decomposition[decomposition["group"] == "all"][keys + [f"share_{p}" for p in PARTS]]
    return pd.concat([pooled, everything], ignore_index=True)


def summarize_shares(shares: pd.DataFrame, runs: pd.DataFrame, settings: dict) -> pd.DataFrame:
    """Mean share of each part over seeds with its interval, per condition, checkpoint and layer."""
    table = with_factors(shares, runs)
    rows = []
    for (condition, task, encoding, regime, step, layer), group in table.groupby(
        ["condition", "task", "pos_encoding", "regime", "step", "layer"]
    ):
        row = {"condition": condition, "task": task, "pos_encoding": encoding, "regime": regime, "step": step, "layer": layer}
        for part in PARTS:
            interval = mean_interval(group[f"share_{part}"].to_numpy(), settings["confidence"])
            row |= {f"{part}_mean": interval.estimate, f"{part}_low": interval.low, f"{part}_high": interval.high}
        row["n_seeds"] = len(group)
        rows.append(row)
    return pd.DataFrame(rows)
