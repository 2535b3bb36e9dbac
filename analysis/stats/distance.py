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

from .inference import compare_to_zero, mean_interval, mean_interval_columns

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


def _ols(x: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
    """(slope, intercept, residual sum of squares) of y on x."""
    fit = stats.linregress(x, y)
    residual = y - (fit.intercept + fit.slope * x)
    return float(fit.slope), float(fit.intercept), float(residual @ residual)


def fit_power_law(profile: pd.DataFrame, d_min: int, n_blocks: dict[str, int]) -> pd.DataFrame:
    """Per run, step and layer: log g fitted against log(d + 1) (power law) and against d (exponential).

    Both fits have two parameters, so their AIC difference on the log scale is
    n log(RSS_power / RSS_exponential); ``delta_aic`` < 0 favours the power law.
    """
    rows = []
    for keys, group in profile.groupby(RUN_KEYS):
        condition, seed, step, layer = keys
        if layer >= n_blocks[condition]:
            continue  # the final residual stream sends no gradient to other positions
        group = group[(group["distance"] >= d_min) & (group["profile"] > 0)]
        if len(group) < 3:
            continue
        distance, log_g = group["distance"].to_numpy(float), np.log(group["profile"].to_numpy(float))
        slope, intercept, rss_power = _ols(np.log(distance + 1.0), log_g)
        rate, _, rss_exponential = _ols(distance, log_g)
        total = float(((log_g - log_g.mean()) ** 2).sum())
        n = len(group)
        rows.append(
            {
                "condition": condition,
                "seed": seed,
                "step": step,
                "layer": layer,
                "slope": slope,
                "intercept": intercept,
                "r2": 1 - rss_power / total if total > 0 else float("nan"),
                "exp_rate": rate,
                "r2_exp": 1 - rss_exponential / total if total > 0 else float("nan"),
                "delta_aic": n * np.log(max(rss_power, 1e-300) / max(rss_exponential, 1e-300)),
                "n_distances": n,
            }
        )
    return pd.DataFrame(rows)


def summarize_slopes(fits: pd.DataFrame, confidence: float) -> pd.DataFrame:
    """Per condition, step and layer over seeds: slope (interval, t-test vs 0, Cohen's d), exp rate, AIC."""
    rows = []
    for (condition, step, layer), group in fits.groupby(["condition", "step", "layer"]):
        slope = compare_to_zero(group["slope"].to_numpy(), confidence)
        rate = mean_interval(group["exp_rate"].to_numpy(), confidence)
        aic = mean_interval(group["delta_aic"].to_numpy(), confidence)
        rows.append(
            {
                "condition": condition,
                "step": step,
                "layer": layer,
                "slope_mean": slope.estimate,
                "slope_low": slope.low,
                "slope_high": slope.high,
                "slope_t": slope.t,
                "slope_p": slope.p,
                "slope_d": slope.effect_size,
                "exp_rate_mean": rate.estimate,
                "exp_rate_low": rate.low,
                "exp_rate_high": rate.high,
                "delta_aic_mean": aic.estimate,
                "delta_aic_low": aic.low,
                "delta_aic_high": aic.high,
                "power_law_preferred": float((group["delta_aic"] < 0).mean()),
                "n_seeds": slope.n,
            }
        )
    return pd.DataFrame(rows)


def summarize_profile(profile: pd.DataFrame, confidence: float) -> pd.DataFrame:
    """g^l(d) per condition, step, layer and distance: mean over seeds with a t interval.

    Bands are computed on the log scale (geometric mean over seeds), as profiles are
    plotted and fitted on log axes.
    """
    keys = ["condition", "step", "layer", "distance"]
    wide = np.log(profile.pivot_table(index="seed", columns=keys, values="profile"))
    rows = []
    for condition in wide.columns.get_level_values("condition").unique():
        block = wide[condition].dropna(axis=1)  # seeds that lack a point drop that column
        mean, low, high = mean_interval_columns(block.to_numpy(), confidence)
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


def first_position_ratio(m1: pd.DataFrame, s_min: int, value: str = "grad_norm_mean") -> pd.DataFrame:
    """Per run, step and layer: how much more gradient the first position s = 0 receives than the fitted range.

    For each target t > s_min: G[t, 0] divided by the mean of G[t, s] over s_min <= s < t, then
    averaged over t. 1 means the first position is treated like the others; attention sinks
    (Xiao et al. 2023; Gu et al. 2025) make it larger. Reported apart from the distance fits.
    """
    rows = m1[m1["t"] > s_min]
    first = rows[rows["s"] == 0].set_index([*RUN_KEYS, "t"])[value]
    middle = rows[(rows["s"] >= s_min) & (rows["s"] < rows["t"])].groupby([*RUN_KEYS, "t"])[value].mean()
    ratio = (first / middle).replace([np.inf, -np.inf], np.nan).dropna()
    return ratio.groupby(level=RUN_KEYS).mean().rename("first_position_ratio").reset_index()


def summarize_first_position(ratios: pd.DataFrame, confidence: float) -> pd.DataFrame:
    """Mean first-position ratio over seeds with its t interval, per condition, step and layer."""
    rows = []
    for (condition, step, layer), group in ratios.groupby(["condition", "step", "layer"]):
        interval = mean_interval(group["first_position_ratio"].to_numpy(), confidence)
        rows.append({"condition": condition, "step": step, "layer": layer, "ratio_mean": interval.estimate,
                     "ratio_low": interval.low, "ratio_high": interval.high, "n_seeds": interval.n})
    return pd.DataFrame(rows)
