"""C4: how the cross-position gradient depends on distance.

The distance profile g^l(d) averages G^l[t, t-d] over targets t, using only
sources s = t - d >= s_min (the first positions are confounded with attention
sinks and are reported separately). The slope of log g against log(d + 1),
fitted for d >= d_min, is 0 if distance does not matter; the last layer is
excluded because h^L_s reaches no later loss (its off-diagonal is exactly 0).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from .bootstrap import bootstrap_mean, bootstrap_mean_columns

RUN_KEYS = ["condition", "seed", "step", "layer"]


def distance_profile(m1: pd.DataFrame, s_min: int, value: str = "grad_norm_mean") -> pd.DataFrame:
    """g^l(d) per run, step and layer: mean over t of G^l[t, t-d], sources s >= s_min only."""
    kept = m1[m1["s"] >= s_min]
    return (
        kept.groupby([*RUN_KEYS, "distance"], as_index=False)[value]
        .mean()
        .rename(columns={value: "profile"})
        .assign(s_min=s_min)  # the fit range travels with the numbers
    )


def fit_power_law(profile: pd.DataFrame, d_min: int, n_blocks: dict[str, int]) -> pd.DataFrame:
    """Slope of log g vs log(d + 1) per run, step and layer (OLS), for d >= d_min."""
    rows = []
    for keys, group in profile.groupby(RUN_KEYS):
        condition, seed, step, layer = keys
        if layer >= n_blocks[condition]:
            continue  # the final residual stream sends no gradient to other positions
        group = group[(group["distance"] >= d_min) & (group["profile"] > 0)]
        if len(group) < 3:
            continue
        fit = stats.linregress(np.log(group["distance"] + 1.0), np.log(group["profile"]))
        rows.append(
            {
                "condition": condition,
                "seed": seed,
                "step": step,
                "layer": layer,
                "slope": fit.slope,
                "intercept": fit.intercept,
                "r2": fit.rvalue**2,
                "n_distances": len(group),
            }
        )
    return pd.DataFrame(rows)


def summarize_slopes(fits: pd.DataFrame, confidence: float, n_resamples: int, seed: int) -> pd.DataFrame:
    """Mean slope over seeds with a bootstrap interval, per condition, step and layer."""
    rows = []
    for (condition, step, layer), group in fits.groupby(["condition", "step", "layer"]):
        interval = bootstrap_mean(group["slope"].to_numpy(), confidence, n_resamples, seed)
        rows.append(
            {
                "condition": condition,
                "step": step,
                "layer": layer,
                "slope_mean": interval.estimate,
                "slope_low": interval.low,
                "slope_high": interval.high,
                "n_seeds": interval.n,
            }
        )
    return pd.DataFrame(rows)


def summarize_profile(profile: pd.DataFrame, confidence: float, n_resamples: int, seed: int) -> pd.DataFrame:
    """g^l(d) per condition, step, layer and distance: mean over seeds with a bootstrap interval.

    Bands are computed on the log scale (geometric mean over seeds), as profiles are
    plotted and fitted on log axes.
    """
    keys = ["condition", "step", "layer", "distance"]
    wide = np.log(profile.pivot_table(index="seed", columns=keys, values="profile"))
    rows = []
    for condition in wide.columns.get_level_values("condition").unique():
        block = wide[condition].dropna(axis=1)  # seeds that lack a point drop that column
        mean, low, high = bootstrap_mean_columns(block.to_numpy(), confidence, n_resamples, seed)
        frame = block.columns.to_frame(index=False)
        frame.insert(0, "condition", condition)
        frame["profile_mean"], frame["profile_low"], frame["profile_high"] = np.exp(mean), np.exp(low), np.exp(high)
        frame["n_seeds"] = block.shape[0]
        rows.append(frame)
    return pd.concat(rows, ignore_index=True)


def position_profile(m1: pd.DataFrame, distances: list[int], s_min: int, value: str = "grad_norm_mean") -> pd.DataFrame:
    """G^l[s + d, s] as a function of the source position s, at fixed distances d (M2).

    Separates absolute position from distance, which the distance profile confounds;
    sources s < s_min (where attention sinks form) are kept but flagged, so they can be
    reported separately rather than silently mixed in.
    """
    kept = m1[m1["distance"].isin(distances)]
    table = kept[[*RUN_KEYS, "distance", "s", value]].rename(columns={value: "grad_norm"})
    table = table.assign(first_positions=table["s"] < s_min)
    return table.sort_values([*RUN_KEYS, "distance", "s"], ignore_index=True)
