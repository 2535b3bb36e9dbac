"""The claim-by-claim numbers the paper prints (C1-C6), formatted once here from the statistics tables."""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .report import fmt


def fmt_p(p: float) -> str:
    if p is None or not np.isfinite(p):
        return "n/a"
    return "< 0.001" if p < 0.001 else fmt(p, 3)


def fmt_sci(value: float) -> str:
    """Small magnitudes as the paper prints them: 1.2e−5."""
    if value is None or not np.isfinite(value):
        return "n/a"
    return f"{value:.1e}".replace("e-0", "e-").replace("e+0", "e").replace("-", "\u2212")


def _ci(row: Any, prefix: str, digits: int = 2, middle: str = "mean") -> dict[str, str]:
    return {"mean": fmt(row[f"{prefix}_{middle}"], digits), "low": fmt(row[f"{prefix}_low"], digits), "high": fmt(row[f"{prefix}_high"], digits)}


def layer_label(layer: int, n_layer: int) -> str:
    return {-2: "all weights", -1: "input"}.get(int(layer), "readout" if int(layer) == n_layer else f"block {int(layer)}")


def c2_numbers(gap: pd.DataFrame, probes: pd.DataFrame, shares: pd.DataFrame, runs: pd.DataFrame) -> dict[str, Any]:
    n_layer = runs.drop_duplicates("condition").set_index("condition")["n_layer"]
    gap_rows = [
        {"task": r.task, "regime": r.regime, "pos_encoding": r.pos_encoding,
         "gap": {"mean": fmt(r.gap_estimate, 3), "low": fmt(r.gap_low, 3), "high": fmt(r.gap_high, 3)},
         "relative_pct": fmt(100 * r.gap_relative, 0), "p_holm": fmt_p(r.gap_p_holm), "d": fmt(r.gap_effect_size, 1), "n": str(r.gap_n)}
        for r in gap.itertuples()
    ]
    learned = probes[probes["pos_encoding"] == "learned"] if len(probes) else probes
    probe_rows = [
        {"task": r.task, "feature": r.feature.replace("_", " "), "layer": str(r.layer), "regime": r.regime,
         "r2_standard": fmt(r.r2_standard), "r2_myopic": fmt(r.r2_myopic),
         "difference": {"mean": fmt(r.difference_estimate), "low": fmt(r.difference_low), "high": fmt(r.difference_high)},
         "p_holm": fmt_p(r.difference_p_holm), "d": fmt(r.difference_effect_size, 1)}
        for r in learned.itertuples()
    ]
    standard = shares[(shares["regime"] == "standard") & (shares["pos_encoding"] == "learned")]
    final = standard[standard["step"] == standard.groupby("condition")["step"].transform("max")]
    initial = standard[standard["step"] == 0]
    share_rows = [
        {"task": r.task, "layer": layer_label(r.layer, int(n_layer[r.condition])),
         "direct": _ci(r._asdict(), "direct"), "shared": _ci(r._asdict(), "shared"), "precache": _ci(r._asdict(), "precache")}
        for r in final.sort_values(["task", "layer"]).itertuples()
    ]
    overall = []
    for task, group in final[final["layer"] == -2].groupby("task"):
        row = group.iloc[0]
        init = initial[(initial["task"] == task) & (initial["layer"] == -2)]
        overall.append({"task": task, "trained": _ci(row, "precache"),
                        "init": _ci(init.iloc[0], "precache") if len(init) else {"mean": "n/a", "low": "n/a", "high": "n/a"}})
    return {"gap_rows": gap_rows, "probe_rows": probe_rows, "share_rows": share_rows, "precache_overall": overall}


def _small(value: float) -> str:
    """A ratio that may be tiny: plain with three decimals, or in scientific notation below 0.01."""
    return fmt(value, 3) if not (0 < abs(value) < 0.01) else f"{value:.1e}"


def _where(row: pd.Series) -> str:
    return f"{row['task']}, {row['pos_encoding']}, layer {int(row['layer'])}"


def c1_c5_numbers(reach: pd.DataFrame) -> dict[str, Any]:
    standard = reach[(reach["regime"] == "standard")]
    trained = standard[standard["step"] == standard.groupby("condition")["step"].transform("max")]
    below = trained[~trained["last_layer"]]
    last = trained[trained["last_layer"]].groupby(["task", "pos_encoding", "regime"], sort=False).agg(
        reached=("fraction_reached", "max"), largest=("max_gradient", "max")
    ).reset_index()
    return {
        "teacher_rows": [
            {"task": r.task, "pos_encoding": r.pos_encoding, "reached": fmt(r.reached, 3), "largest": f"{r.largest:g}"}
            for r in last.itertuples()
        ],
        "min_fraction": fmt(float(below["fraction_reached"].min()), 3),
        "min_over_mean": _small(float(below["min_over_mean"].min())),
        "min_over_mean_where": _where(below.loc[below["min_over_mean"].idxmin()]) if len(below) else "n/a",
        "n_conditions": str(trained["condition"].nunique()),
        "last_layer_max": f"{float(reach[reach['last_layer']]['max_gradient'].max()):g}",
    }


def c3_numbers(coverage: pd.DataFrame, middle: pd.DataFrame) -> dict[str, Any]:
    standard = middle[middle["regime"] == "standard"]
    learned = coverage[(coverage["regime"] == "standard") & (coverage["pos_encoding"] == "learned")]
    positions = learned[learned["group"] == "positions"]
    deviation = float((positions["coverage"] - positions["position"]).abs().max()) if len(positions) else float("nan")
    embedding = learned[learned["group"] == "embedding"]
    return {
        "min_mid": fmt(float(standard["coverage"].min()), 3),
        "n_runs": str(len(standard)),
        "positions_deviation": fmt(deviation, 3),
        "embedding_first": fmt(float(embedding[embedding["t"] == 0]["coverage"].mean()), 2) if len(embedding) else "n/a",
        "embedding_last": fmt(float(embedding[embedding["t"] == embedding["t"].max()]["coverage"].mean()), 2) if len(embedding) else "n/a",
    }


def c4_numbers(summary: pd.DataFrame, first: pd.DataFrame, runs: pd.DataFrame) -> dict[str, Any]:
    """Power law vs exponential (AIC), and the first position apart, for trained standard conditions at layer 0."""
    family = summary[(summary["regime"] == "standard") & (summary["layer"] == 0) & (summary["step"] == summary["steps"])]
    info = runs.drop_duplicates("condition").set_index("condition")
    first = first[(first["layer"] == 0) & first["condition"].isin(family["condition"])]
    sink_rows = []
    for condition, group in first.groupby("condition", sort=False):
        init, trained = group[group["step"] == group["step"].min()], group[group["step"] == group["step"].max()]
        sink_rows.append({"task": str(info.loc[condition, "task"]), "pos_encoding": str(info.loc[condition, "pos_encoding"]),
                          "init": _ci(init.iloc[0], "ratio"), "trained": _ci(trained.iloc[0], "ratio")})
    return {
        "sink_rows": sink_rows,
        "n": str(len(family)),
        "power_preferred": str(int((family["delta_aic_mean"] < 0).sum())),
        "exponential_preferred": str(int((family["delta_aic_mean"] > 0).sum())),
        "rows": [
            {"task": r.task, "pos_encoding": r.pos_encoding,
             "slope": {"mean": fmt(r.slope_mean), "low": fmt(r.slope_low), "high": fmt(r.slope_high)},
             "p_holm": fmt_p(r.slope_p_holm), "d": fmt(r.slope_d, 1), "delta_aic": fmt(r.delta_aic_mean, 1)}
            for r in family.itertuples()
        ],
    }


def c6_numbers(channels: pd.DataFrame) -> dict[str, Any]:
    standard = channels[channels["regime"] == "standard"]
    rows = []
    for (task, encoding), group in standard.groupby(["task", "pos_encoding"], sort=False):
        by_scale = group.set_index("step_scale")
        full, share = by_scale.loc["full"], by_scale.loc["token_share"]
        rows.append(
            {"task": task, "pos_encoding": encoding,
             "context": _ci(full, "context_channel", 3), "weight_full": _ci(full, "weight_channel", 3),
             "weight_share": {k: fmt_sci(share[f"weight_channel_{k}"]) for k in ("mean", "low", "high")},
             "log10_ratio_share": _ci(share, "log10_ratio"), "log10_ratio_full": _ci(full, "log10_ratio")}
        )
    return {"rows": rows}
