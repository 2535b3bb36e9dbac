"""C1, C3, C5, C6 from the measures: gradient reach (M1), weight coverage (M5), and weight vs context channel (M7)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from .inference import mean_interval
from .precaching import at_final_step, with_factors


def reach(m1: pd.DataFrame, runs: pd.DataFrame) -> pd.DataFrame:
    """Per run, checkpoint and layer: the fraction of earlier positions (s < t) a loss sends gradient to,
    and the smallest such gradient relative to the mean (C1); the last layer shows teacher forcing (C5)."""
    earlier = m1[m1["s"] < m1["t"]]
    grouped = earlier.groupby(["condition", "seed", "step", "layer"])["grad_norm_mean"]
    table = pd.DataFrame(
        {
            "fraction_reached": grouped.apply(lambda g: float((g > 0).mean())),
            "min_over_mean": grouped.apply(lambda g: float(g.min() / g.mean()) if g.mean() > 0 else 0.0),
            "max_gradient": grouped.max(),
        }
    ).reset_index()
    n_layer = runs.drop_duplicates("condition").set_index("condition")["n_layer"]
    return with_factors(table.assign(last_layer=table["layer"] == table["condition"].map(n_layer)), runs)


SHARED_WEIGHTS = r"^blocks\.\d+\.(attn\.(query|key|value|out)|mlp\.(up|down))\.weight$"


def coverage_summary(coverage: pd.DataFrame, runs: pd.DataFrame, settings: dict) -> pd.DataFrame:
    """Coverage per condition, parameter group and relative position (t + 1) / T, pooled over seeds and the group's entries (C3)."""
    final = with_factors(at_final_step(coverage, runs), runs)
    context = runs.drop_duplicates("condition").set_index("condition")["context"]
    final = final.assign(position=(final["t"] + 1) / final["condition"].map(context))
    # Pool the tensors of a group by their entries (a bias counts for its few entries, not as much as its matrix).
    final = final.assign(covered=final["coverage"] * final["n_entries"])
    pooled = final.groupby(["condition", "task", "pos_encoding", "regime", "group", "t", "position"], as_index=False)[
        ["covered", "n_entries"]
    ].sum()
    return pooled.assign(coverage=pooled["covered"] / pooled["n_entries"]).drop(columns="covered")


def mid_context_coverage(coverage: pd.DataFrame, runs: pd.DataFrame) -> pd.DataFrame:
    """Per run: the smallest coverage of any shared weight matrix by the loss at the middle position t = T/2 - 1."""
    final = at_final_step(coverage, runs)
    context = runs.drop_duplicates("condition").set_index("condition")["context"]
    middle = final[(final["t"] == final["condition"].map(context) // 2 - 1) & final["parameter"].str.match(SHARED_WEIGHTS)]
    return with_factors(middle.groupby(["condition", "seed"], as_index=False)["coverage"].min(), runs)


def channel_ratios(weight: pd.DataFrame, context: pd.DataFrame, runs: pd.DataFrame) -> pd.DataFrame:
    """Per run and step scale (final checkpoint): weight channel, context channel and their ratio (C6).

    Weight channel: mean over (t, k >= 1) of |Delta L_{t+k}| after one step on L_t alone.
    Context channel: mean over positions t >= 1 of L(token alone) - L(full context).
    """
    weight = at_final_step(weight, runs)
    later = weight[weight["k"] >= 1]
    weight_channel = (
        later.assign(magnitude=later["exact_change"].abs())
        .groupby(["condition", "seed", "step_scale"], as_index=False)
        .agg(weight_channel=("magnitude", "mean"), eta=("eta", "first"))
    )
    context = at_final_step(context, runs)
    gain = context[context["t"] >= 1].assign(gain=lambda c: c["loss_alone"] - c["loss_full"])
    context_channel = gain.groupby(["condition", "seed"], as_index=False)["gain"].mean().rename(columns={"gain": "context_channel"})
    table = weight_channel.merge(context_channel, on=["condition", "seed"])
    table["ratio"] = table["weight_channel"] / table["context_channel"]
    return with_factors(table, runs)


def summarize_ratios(ratios: pd.DataFrame, settings: dict) -> pd.DataFrame:
    """Per condition and step scale: each channel and log10 of their ratio over seeds, with intervals."""
    rows = []
    for (condition, task, encoding, regime, scale), group in ratios.groupby(["condition", "task", "pos_encoding", "regime", "step_scale"]):
        row = {"condition": condition, "task": task, "pos_encoding": encoding, "regime": regime, "step_scale": scale, "eta": group["eta"].iloc[0]}
        for column in ("weight_channel", "context_channel"):
            interval = mean_interval(group[column].to_numpy(), settings["confidence"])
            row |= {f"{column}_mean": interval.estimate, f"{column}_low": interval.low, f"{column}_high": interval.high}
        positive = group["ratio"].to_numpy()
        positive = positive[positive > 0]
        log_ratio = mean_interval(np.log10(positive), settings["confidence"])
        row |= {"log10_ratio_mean": log_ratio.estimate, "log10_ratio_low": log_ratio.low, "log10_ratio_high": log_ratio.high, "n_seeds": log_ratio.n}
        rows.append(row)
    return pd.DataFrame(rows)
