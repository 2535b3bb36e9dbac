"""M2: how the cross-position gradient G^l[t, s] depends on the distance d = t - s, within target rows.

Target t, source s and distance d are collinear. A pooled profile (mean over t of
G[t, t - d]) lets target position pass for distance: a row at target t spreads its
gradient over t + 1 sources, and only late rows reach large distances, so the pooled
profile falls with d even when every row is flat. Dividing by the diagonal does not
fix it (a row's off-diagonal share still shrinks as 1 / (t + 1)). So every profile
here is *within-row*: the fixed-effects model

    log G[t, s] = a_t + f(d)        (sources s_min <= s < t, d >= d_min)

whose row effects a_t absorb whatever sets a row's total. f is identified up to a
constant (centred so the count-weighted mean of f is 0); exp(f(d)) is the profile.
A profile flat within every row gives f = 0 whatever the row totals; a planted
within-row law is recovered exactly (tests). The within-row slope is the
fixed-effects slope of log G on log(d + 1). Within a row, distance and source
position move together, so a source-position effect (primacy) shows up in these
slopes too; the profile at fixed distance against source position is reported
beside them. Sources s < s_min (attention sinks) are kept out of every fit and
reported apart; the last layer is left out (h^L_s reaches no other position's loss).
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from functools import lru_cache

import numpy as np
import pandas as pd
from scipy import stats
from scipy.optimize import minimize_scalar

from .inference import mean_interval, mean_interval_columns

KEYS = ["condition", "seed", "step", "layer"]
POWER_LAW, EXPONENTIAL, INDISTINGUISHABLE, FLAT = "power law", "exponential", "indistinguishable", "flat"


def below_last_layer(m1: pd.DataFrame, n_blocks: Mapping[str, int]) -> pd.DataFrame:
    """Rows of layers 0 .. n_layer - 1: the last residual stream sends no gradient to other positions."""
    last = m1["condition"].map(n_blocks)
    return m1[m1["layer"] < last]


def fit_cells(
    m1: pd.DataFrame, s_min: int, d_min: int, exclude: Mapping[str, int] | None = None, value: str = "grad_norm_mean"
) -> pd.DataFrame:
    """The cells the within-row fits use: s_min <= s < t, d >= max(d_min, 1), G > 0.

    ``exclude`` maps a condition to a distance whose cells are left out (a task's known
    dependency, whose peak is a different question from the shape of the rest).
    """
    kept = m1[(m1["s"] >= s_min) & (m1["distance"] >= max(d_min, 1)) & (m1[value] > 0)]
    if exclude:
        skip = kept["condition"].map(exclude)
        kept = kept[~(kept["distance"] == skip)]
    cells = kept[[*KEYS, "t", "s", "distance"]].copy()
    cells["log_g"] = np.log(kept[value].to_numpy(float))
    return cells.reset_index(drop=True)


def within_row_slope(cells: pd.DataFrame) -> pd.DataFrame:
    """Per run, step and layer: the slope of log G on log(d + 1) with row fixed effects (0 if distance does not matter)."""
    if cells.empty:
        return pd.DataFrame(columns=[*KEYS, "slope", "n_cells", "n_rows"])
    rows = cells.groupby([*KEYS, "t"], sort=False)
    x = np.log(cells["distance"].to_numpy(float) + 1.0)
    frame = cells[KEYS].copy()
    frame["x"] = x - rows["distance"].transform(lambda d: np.log(d + 1.0).mean()).to_numpy()
    frame["y"] = cells["log_g"].to_numpy() - rows["log_g"].transform("mean").to_numpy()
    frame["xy"], frame["xx"] = frame["x"] * frame["y"], frame["x"] ** 2
    frame["row"] = cells["t"].to_numpy()
    sums = frame.groupby(KEYS, sort=True).agg(xy=("xy", "sum"), xx=("xx", "sum"), n_cells=("x", "size"), n_rows=("row", "nunique"))
    sums["slope"] = (sums["xy"] / sums["xx"]).where(sums["xx"] > 0)
    return sums.reset_index()[[*KEYS, "slope", "n_cells", "n_rows"]]


def _fixed_effects(t: np.ndarray, d: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Least squares of y = a_t + f_d on one run's cells: (distances, f centred by count, cells per distance).

    The row effects are eliminated in closed form (normal equations), leaving a system
    over distances only, whose one null direction (a constant moved between a and f)
    is fixed by the centring.
    """
    rows, t_index = np.unique(t, return_inverse=True)
    distances, d_index = np.unique(d, return_inverse=True)
    present = np.zeros((len(rows), len(distances)))
    present[t_index, d_index] = 1.0
    n_row, n_dist = present.sum(1), present.sum(0)
    row_sum = np.bincount(t_index, y, len(rows))
    dist_sum = np.bincount(d_index, y, len(distances))
    matrix = np.diag(n_dist) - present.T @ (present / n_row[:, None])
    rhs = dist_sum - present.T @ (row_sum / n_row)
    f = np.linalg.lstsq(matrix, rhs, rcond=None)[0]
    f -= (n_dist * f).sum() / n_dist.sum()
    return distances, f, n_dist


def fixed_effects_table(cells: pd.DataFrame, factor: str) -> pd.DataFrame:
    """Per run, step and layer: the effects f_k of log G = a_t + f_k (row fixed effects a_t) for k = ``factor``
    (distance for C4's profile, source position for primacy), as ``_fixed_effects`` centres them, with cell counts."""
    frames = []
    for keys, group in cells.groupby(KEYS, sort=True):
        levels, effect, count = _fixed_effects(group["t"].to_numpy(), group[factor].to_numpy(), group["log_g"].to_numpy())
        frame = pd.DataFrame({factor: levels, "effect": effect, "n_cells": count.astype(int)})
        for key, value in zip(KEYS, keys, strict=True):
            frame.insert(KEYS.index(key), key, value)
        frames.append(frame)
    if not frames:
        return pd.DataFrame(columns=[*KEYS, factor, "effect", "n_cells"])
    return pd.concat(frames, ignore_index=True)


def within_row_profile(cells: pd.DataFrame) -> pd.DataFrame:
    """Per run, step and layer: the fixed-effects profile exp(f(d)) (count-weighted geometric mean 1) and its cell count."""
    table = fixed_effects_table(cells, "distance")
    return table.assign(effect=np.exp(table["effect"].astype(float))).rename(columns={"effect": "profile"})


def power_law(d: np.ndarray, c: float, amplitude: float, p: float) -> np.ndarray:
    return c + amplitude * (d + 1.0) ** -p


def exponential(d: np.ndarray, c: float, amplitude: float, scale: float) -> np.ndarray:
    return c + amplitude * np.exp(-d / scale)


P_RANGE, LOG_SCALE_RANGE = (0.0, 8.0), (np.log(0.05), np.log(1e4))  # bounds of the exponent p and of log lambda


def _linear_part(basis: np.ndarray, y: np.ndarray, weight: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Weighted least squares of y = c + A b for every row of ``basis`` at once: (c, A, weighted RSS)."""
    total = weight.sum()
    b_mean = (basis * weight).sum(-1, keepdims=True) / total
    y_mean = (y * weight).sum() / total
    centred = basis - b_mean
    spread = (weight * centred**2).sum(-1)
    amplitude = np.where(spread > 1e-300, (weight * centred * (y - y_mean)).sum(-1) / np.maximum(spread, 1e-300), 0.0)
    c = y_mean - amplitude * b_mean[..., 0]
    rss = (weight * (y - c[..., None] - amplitude[..., None] * basis) ** 2).sum(-1)
    return c, amplitude, rss


def _separable_fit(basis: Callable[[np.ndarray, float], np.ndarray], bounds: tuple[float, float], d: np.ndarray,
                   y: np.ndarray, weight: np.ndarray) -> tuple[np.ndarray, float]:
    """c + A basis(d, theta): exact in (c, A) for each theta, global in theta over a grid, then refined.

    The law is linear in c and A, so only theta is searched: a 200-point grid over its
    bounds, then a bounded scalar minimisation between the grid neighbours of the best
    point. Deterministic, and free of the local minima a start-dependent fit can stop in.
    """
    grid = np.linspace(*bounds, 200)
    _, _, rss = _linear_part(np.stack([basis(d, theta) for theta in grid]), y, weight)
    best = int(np.nanargmin(rss))
    low, high = grid[max(best - 1, 0)], grid[min(best + 1, len(grid) - 1)]

    def objective(theta: float) -> float:
        return float(_linear_part(basis(d, theta)[None], y, weight)[2][0])

    refined = minimize_scalar(objective, bounds=(low, high), method="bounded", options={"xatol": 1e-8})
    theta = float(refined.x) if refined.fun <= rss[best] else float(grid[best])
    c, amplitude, final = _linear_part(basis(d, theta)[None], y, weight)
    return np.array([c[0], amplitude[0], theta]), float(final[0])


def aic(rss: float, n: int, k: int = 3) -> float:
    """Gaussian AIC from a (weighted) residual sum of squares: n log(RSS / n) + 2k."""
    return float(n * np.log(max(rss, 1e-300) / n) + 2 * k)


def preferred_law(delta_aic: float, margin: float, flat_gain: float = np.inf) -> str:
    """delta_aic = AIC(power) - AIC(exponential): at least ``margin`` one way picks that law.

    ``flat_gain`` is AIC(constant) minus the better law's AIC: below ``margin`` neither law
    describes more than a constant does, and there is no decay whose form to pick.
    """
    if flat_gain < margin:
        return FLAT
    if not np.isfinite(delta_aic) or abs(delta_aic) < margin:
        return INDISTINGUISHABLE
    return POWER_LAW if delta_aic < 0 else EXPONENTIAL


def fit_laws(profile: pd.DataFrame, aic_margin: float) -> pd.DataFrame:
    """Per run, step and layer: c + A (d+1)^-p and c + A exp(-d / lambda) fitted to the within-row profile.

    Each law is fitted by separable least squares (``_separable_fit``) within fixed bounds
    on its shape parameter; a constant is fitted too, so a flat profile reads "flat" rather than a coin toss between two laws.
    Points are weighted by their cell counts (a distance seen in k rows has variance ~ 1/k);
    the two laws have three parameters each, so their AIC difference is the weighted
    RSS ratio on the profile's scale.
    """
    rows = []
    for keys, group in profile.groupby(KEYS, sort=True):
        if len(group) < 4:
            continue
        d, y = group["distance"].to_numpy(float), group["profile"].to_numpy(float)
        weight = group["n_cells"].to_numpy(float)
        power, rss_power = _separable_fit(lambda x, p: (x + 1.0) ** -p, P_RANGE, d, y, weight)
        expo, rss_exp = _separable_fit(lambda x, log_scale: np.exp(-x / np.exp(log_scale)), LOG_SCALE_RANGE, d, y, weight)
        expo[2] = np.exp(expo[2])
        aic_power, aic_exp = aic(rss_power, len(d)), aic(rss_exp, len(d))
        constant = float((weight * y).sum() / weight.sum())
        aic_flat = aic(float((weight * (y - constant) ** 2).sum()), len(d), k=1)
        delta = aic_power - aic_exp
        rows.append({
            **dict(zip(KEYS, keys, strict=True)),
            "power_c": power[0], "power_amplitude": power[1], "power_p": power[2],
            "exp_c": expo[0], "exp_amplitude": expo[1], "exp_scale": expo[2],
            "aic_power": aic_power, "aic_exp": aic_exp, "aic_flat": aic_flat, "delta_aic": delta,
            "preferred": preferred_law(delta, aic_margin, aic_flat - min(aic_power, aic_exp)), "n_distances": len(d),
        })
    columns = [*KEYS, "power_c", "power_amplitude", "power_p", "exp_c", "exp_amplitude", "exp_scale",
               "aic_power", "aic_exp", "aic_flat", "delta_aic", "preferred", "n_distances"]
    return pd.DataFrame(rows, columns=columns)


def summarize_profile(profile: pd.DataFrame, confidence: float) -> pd.DataFrame:
    """Within-row profile per condition, step, layer and distance: geometric mean over seeds with a t interval."""
    columns = ["condition", "step", "layer", "distance", "profile_mean", "profile_low", "profile_high", "n_seeds"]
    if profile.empty:
        return pd.DataFrame(columns=columns)
    keys = ["condition", "step", "layer", "distance"]
    wide = np.log(profile.pivot_table(index="seed", columns=keys, values="profile"))
    frames = []
    for condition in wide.columns.get_level_values("condition").unique():
        block = wide[condition].dropna(axis=0, how="all").dropna(axis=1)  # this condition's seeds; a point one lacks is left out
        mean, low, high = mean_interval_columns(block.to_numpy(), confidence)
        frame = block.columns.to_frame(index=False)
        frame.insert(0, "condition", condition)
        frame["profile_mean"], frame["profile_low"], frame["profile_high"] = np.exp(mean), np.exp(low), np.exp(high)
        frame["n_seeds"] = block.shape[0]
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)[columns]


def row_normalised(m1: pd.DataFrame, s_min: int, value: str = "grad_norm_mean") -> pd.DataFrame:
    """Every earlier source s < t with G[t, s] divided by its row's mean over s_min <= s < t ("relative").

    Rows without a source in that range are dropped. Sources s < s_min keep their ratio
    to the fitted range, so an attention sink reads as a ratio above 1.
    """
    earlier = m1[m1["s"] < m1["t"]]
    middle = earlier[earlier["s"] >= s_min].groupby([*KEYS, "t"])[value].mean().rename("row_mean")
    table = earlier.join(middle, on=[*KEYS, "t"], how="inner")
    table = table[table["row_mean"] > 0]
    table = table.assign(relative=table[value].astype(float) / table["row_mean"].astype(float))
    return table[[*KEYS, "t", "s", "distance", "relative"]].reset_index(drop=True)


def position_profile(m1: pd.DataFrame, distances: Iterable[int], s_min: int, value: str = "grad_norm_mean") -> pd.DataFrame:
    """At fixed distances d: the row-normalised G[s + d, s] against the source position s (primacy lives here)."""
    table = row_normalised(m1, s_min, value)
    table = table[table["distance"].isin(list(distances))]
    table = table.assign(first_positions=table["s"] < s_min)
    return table.sort_values([*KEYS, "distance", "s"], ignore_index=True)


def summarize_position_profile(table: pd.DataFrame, confidence: float) -> pd.DataFrame:
    """Mean row-normalised gradient over seeds with its t interval, per condition, step, layer, distance and source."""
    rows = []
    for (condition, step, layer, distance, s), group in table.groupby(["condition", "step", "layer", "distance", "s"]):
        interval = mean_interval(group["relative"].to_numpy(), confidence)
        rows.append({"condition": condition, "step": step, "layer": layer, "distance": distance, "s": s,
                     "relative_mean": interval.estimate, "relative_low": interval.low, "relative_high": interval.high,
                     "first_positions": bool(group["first_positions"].iloc[0]), "n_seeds": interval.n})
    columns = ["condition", "step", "layer", "distance", "s", "relative_mean", "relative_low", "relative_high",
               "first_positions", "n_seeds"]
    return pd.DataFrame(rows, columns=columns)


def first_position_ratio(m1: pd.DataFrame, s_min: int, value: str = "grad_norm_mean") -> pd.DataFrame:
    """Per run, step and layer: G[t, 0] over the row's mean on s_min <= s < t, averaged over rows t > s_min.

    1 means the first position is treated like the others; attention sinks (Xiao et al.
    2023; Gu et al. 2025) make it larger. Reported apart from the distance fits.
    """
    table = row_normalised(m1[m1["t"] > s_min], s_min, value)
    first = table[table["s"] == 0]
    first = first[np.isfinite(first["relative"])]
    return first.groupby(KEYS, as_index=False)["relative"].mean().rename(columns={"relative": "first_position_ratio"})


def summarize_first_position(ratios: pd.DataFrame, confidence: float) -> pd.DataFrame:
    """Mean first-position ratio over seeds with its t interval, per condition, step and layer."""
    rows = []
    for (condition, step, layer), group in ratios.groupby(["condition", "step", "layer"]):
        interval = mean_interval(group["first_position_ratio"].to_numpy(), confidence)
        rows.append({"condition": condition, "step": step, "layer": layer, "ratio_mean": interval.estimate,
                     "ratio_low": interval.low, "ratio_high": interval.high, "n_seeds": interval.n})
    return pd.DataFrame(rows, columns=["condition", "step", "layer", "ratio_mean", "ratio_low", "ratio_high", "n_seeds"])


def distance_profile(m1: pd.DataFrame, s_min: int, value: str = "grad_norm_mean") -> pd.DataFrame:
    """The pooled profile g^l(d) = mean over t of G^l[t, t - d] (s >= s_min): the contrast the paper shows.

    It mixes distance with target position (module docstring) and decides nothing.
    """
    kept = m1[m1["s"] >= s_min]
    return (
        kept.groupby([*KEYS, "distance"], as_index=False)[value]
        .mean()
        .rename(columns={value: "profile"})
        .assign(s_min=s_min)
    )



def _ols(x: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
    """(slope, intercept, residual sum of squares) of y on x."""
    fit = stats.linregress(x, y)
    residual = y - (fit.intercept + fit.slope * x)
    return float(fit.slope), float(fit.intercept), float(residual @ residual)


def fit_power_law(profile: pd.DataFrame, d_min: int, n_blocks: dict[str, int]) -> pd.DataFrame:
    """Pooled profile, per run, step and layer: log g against log(d + 1) and against d (the contrast; decides nothing).

    Both fits have two parameters, so their AIC difference on the log scale is
    n log(RSS_power / RSS_exponential); ``delta_aic`` < 0 favours the power law.
    """
    rows = []
    for keys, group in profile.groupby(KEYS):
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


# --- the two-way decomposition: target, source and distance apart ---------------------------------

DECOMPOSITION_COLUMNS = [*KEYS, "beta", "first_source", "n_cells", "n_sources", "identified"]


@lru_cache(maxsize=64)
def _decomposition_solver(t: bytes, s: bytes, free_sources: int | None) -> tuple[np.ndarray, np.ndarray, bool]:
    """For one layout of cells (runs of one condition share it): the rows of the least-squares solution map that give
    beta and the source effects b, and whether beta is identified. Computed once per layout, applied per run."""
    t_pos, s_pos = np.frombuffer(t), np.frombuffer(s)
    rows, t_index = np.unique(t_pos, return_inverse=True)
    sources = np.unique(s_pos) if free_sources is None else np.unique(s_pos[s_pos < free_sources])
    effects = np.hstack([np.eye(len(rows))[t_index], (s_pos[:, None] == sources[None, :]).astype(float)])
    design = np.hstack([effects, np.log(t_pos - s_pos + 1.0)[:, None]])
    identified = bool(np.linalg.matrix_rank(design) > np.linalg.matrix_rank(effects))
    solution = np.linalg.pinv(design)  # minimum-norm least squares; its beta row is unique when beta is identified
    b = solution[len(rows):-1]
    if free_sources is not None:  # the sources s >= free_sources share b = 0
        b = np.vstack([b, np.zeros((len(np.unique(s_pos[s_pos >= free_sources])), len(t_pos)))])
    return solution[-1], b, identified


def _decompose_run(t: np.ndarray, s: np.ndarray, y: np.ndarray, free_sources: int | None) -> tuple[float, float, bool]:
    """Least squares of y = a_t + b_s + beta log(d + 1) on one run's cells: (beta, b_0 - mean b, identified).

    b_s is free for every source (``free_sources`` None) or for s < free_sources only (the
    rest share b = 0). beta is identified when its column is not in the span of the others
    (rank test): with every source free, only the curvature of log(d + 1) identifies it,
    since a term linear in d = t - s is exactly a_t + b_s.
    """
    beta_row, b_rows, identified = _decomposition_solver(t.astype(float).tobytes(), s.astype(float).tobytes(), free_sources)
    if not identified:
        return float("nan"), float("nan"), False
    b = b_rows @ y
    first = float(b[0] - b.mean()) if s.min() == 0 and len(b) > 1 and (free_sources is None or free_sources > 0) else float("nan")
    return float(beta_row @ y), first, True


def decompose(cells: pd.DataFrame, free_sources: int | None = None) -> pd.DataFrame:
    """Per run, step and layer: log G[t, s] = a_t + b_s + beta log(d + 1), with its identifying constraint.

    t, s and d = t - s are collinear (d is a function of the other two), so a free f(d) with
    free a_t and b_s is not identified: any linear trend moves between the three. The
    constraint here is a parametric f, beta log(d + 1) (the power law of the within-row fits),
    with a_t (what sets a row's total) and b_s (sinks, primacy, sources the task never needs)
    free for every source, or for the first ``free_sources`` only. beta is then what distance
    adds beyond any target and source effect; a decay *linear* in d (exponential in G) is
    a_t + b_s and reads as beta = 0 with every source free. ``first_source`` is b_0 minus the
    mean source effect (s = 0 against the typical source, natural log units). ``cells``: as
    ``fit_cells`` returns them (s = 0 may be included).
    """
    rows = []
    for keys, group in cells.groupby(KEYS, sort=True):
        t, s = group["t"].to_numpy(float), group["s"].to_numpy(float)
        beta, first, identified = _decompose_run(t, s, group["log_g"].to_numpy(float), free_sources)
        rows.append({**dict(zip(KEYS, keys, strict=True)), "beta": beta, "first_source": first,
                     "n_cells": len(group), "n_sources": int(group["s"].nunique()), "identified": identified})
    return pd.DataFrame(rows, columns=DECOMPOSITION_COLUMNS)
