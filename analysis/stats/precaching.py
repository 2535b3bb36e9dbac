"""C2 (pre-caching): the myopia gap (M4), the gradient decomposition (M3) and the probes (M6) over seeds.

Every function takes aggregated measure tables plus the runs table and returns a
tidy summary: the mean over seeds, its t interval, and for comparisons a
paired t-test with Cohen's d_z and Holm-adjusted p-values within the family.
"""
from __future__ import annotations

import pandas as pd

from .inference import compare_to_zero, holm, mean_interval


def at_final_step(table: pd.DataFrame, runs: pd.DataFrame) -> pd.DataFrame:
    """Rows of the last checkpoint of each run (the run's ``steps``)."""
    steps = runs.drop_duplicates("condition").set_index("condition")["steps"]
    return table[table["step"] == table["condition"].map(steps)]


def with_factors(table: pd.DataFrame, runs: pd.DataFrame) -> pd.DataFrame:
    """``table`` with each run's task, encoding and regime joined on (condition, seed)."""
    factors = ["task", "pos_encoding", "regime"]
    return table.drop(columns=[c for c in factors if c in table.columns]).merge(
        runs[["condition", "seed", *factors]], on=["condition", "seed"], validate="many_to_one"
    )


def summarize_gap(gap: pd.DataFrame, settings: dict) -> pd.DataFrame:
    """Myopia gap (mean over positions, final checkpoint) per myopic condition: paired over seeds, Holm over the family."""
    overall = gap[gap["t"] == -1]
    final = overall[overall["step"] == overall["steps"]]
    rows = []
    for (condition, task, encoding, regime), group in final.groupby(["condition", "task", "pos_encoding", "regime"]):
        result = compare_to_zero(group["gap"].to_numpy(), settings["confidence"])
        standard = mean_interval(group["loss_standard"].to_numpy(), settings["confidence"])
        rows.append(
            {"condition": condition, "task": task, "pos_encoding": encoding, "regime": regime,
             "loss_standard": standard.estimate, **{f"gap_{k}": v for k, v in result.as_dict().items()}}
        )
    table = pd.DataFrame(rows)
    if not table.empty:
        table["gap_p_holm"] = holm(table["gap_p"].to_numpy())
        table["gap_relative"] = table["gap_estimate"] / table["loss_standard"]
    return table


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


def summarize_probes(probes: pd.DataFrame, runs: pd.DataFrame, settings: dict) -> pd.DataFrame:
    """Probe R^2 at the final checkpoint: each regime's mean, and standard minus each myopic regime, paired by seed."""
    final = with_factors(at_final_step(probes, runs), runs)
    rows = []
    for (task, feature, encoding, layer), group in final.groupby(["task", "feature", "pos_encoding", "layer"]):
        by_regime = group.pivot_table(index="seed", columns="regime", values="r2")
        if "standard" not in by_regime:
            continue
        for regime in [r for r in by_regime.columns if r != "standard"]:
            paired = (by_regime["standard"] - by_regime[regime]).dropna().to_numpy()
            result = compare_to_zero(paired, settings["confidence"])
            rows.append(
                {"task": task, "feature": feature, "pos_encoding": encoding, "layer": layer, "regime": regime,
                 "r2_standard": float(by_regime["standard"].mean()), "r2_myopic": float(by_regime[regime].mean()),
                 **{f"difference_{k}": v for k, v in result.as_dict().items()}}
            )
    table = pd.DataFrame(rows)
    if not table.empty:
        table["difference_p_holm"] = holm(table["difference_p"].to_numpy())
    return table

