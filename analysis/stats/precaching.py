"""Helpers for C2 (``c2.py``): each run's plateau on its held-out learning curve, myopic-minus-standard gaps paired by
seed, the myopia gap by position (M4) and the gradient decomposition shares (M3) over seeds, each a mean over seeds
with its t interval."""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from ..grid import GRID_FACTORS
from ..regimes import STANDARD
from .inference import mean_interval

# What must match for a myopic run and a standard run to differ only in their regime: the other factors and the seed.
PAIRING = [*(factor for factor in GRID_FACTORS if factor != "regime"), "seed"]
PLATEAU_COLUMNS = ["condition", "seed", "window_start", "n_window", "plateau_loss", "drift", "drift_share", "at_plateau",
                   "gap_closed"]


def drift(steps: np.ndarray, losses: np.ndarray, length: float) -> float:
    """How far the loss still moves across a window: its least-squares slope over the window times the window's length.

    Every evaluation in the window counts, so one noisy evaluation moves it far less than the last minus the first
    would; NaN with fewer than two distinct steps.
    """
    if len(np.unique(steps)) < 2:
        return float("nan")
    return float(stats.linregress(np.asarray(steps, float), np.asarray(losses, float)).slope * length)


def plateau_table(curve: pd.DataFrame, runs: pd.DataFrame, window: float, tolerance: float) -> pd.DataFrame:
    """Per run, from its held-out curve: the plateau loss (mean over the evaluations at steps >= (1 - window) x steps),
    the drift across that window, its share of the task's baseline-to-optimum gap, whether it is within ``tolerance``
    of it (the plateau criterion; not checked, so False, where the optimum is unknown), and the share of the gap the
    plateau closes."""
    if curve.empty:
        return pd.DataFrame(columns=PLATEAU_COLUMNS)
    table = curve.merge(runs[["condition", "seed", "steps", "baseline_loss", "optimal_loss"]], on=["condition", "seed"],
                        validate="many_to_one")
    start = (1 - window) * table["steps"]
    inside = table[table["step"] >= start - 1e-9 * table["steps"]]  # (1 - 0.2) x 2000 must include step 1600
    rows = []
    for (condition, seed), group in inside.groupby(["condition", "seed"], sort=True):
        first = group.iloc[0]
        span = first["baseline_loss"] - first["optimal_loss"]
        span = span if span > 0 else float("nan")
        moved = drift(group["step"].to_numpy(), group["eval_loss"].to_numpy(), window * first["steps"])
        plateau = float(group["eval_loss"].mean())
        rows.append({"condition": condition, "seed": seed, "window_start": (1 - window) * first["steps"],
                     "n_window": len(group), "plateau_loss": plateau, "drift": moved, "drift_share": moved / span,
                     "at_plateau": bool(abs(moved) <= tolerance * span), "gap_closed": (first["baseline_loss"] - plateau) / span})
    return pd.DataFrame(rows, columns=PLATEAU_COLUMNS)


def paired_gaps(values: pd.DataFrame, runs: pd.DataFrame, value: str, keys: list[str]) -> pd.DataFrame:
    """Per myopic run (and ``keys``, e.g. the step): its ``value`` minus the standard run's of the same seed and factors.

    Joined with the run's factors and ``task_name``; a myopic run without its standard run is left out.
    """
    factors = runs[["condition", "regime", *PAIRING, "task_name"]]
    table = values[["condition", "seed", *keys, value]].merge(factors, on=["condition", "seed"], validate="many_to_one")
    standard = table[table["regime"] == STANDARD.name][[*PAIRING, *keys, value]]
    paired = table[table["regime"] != STANDARD.name].merge(standard, on=[*PAIRING, *keys], suffixes=("", "_standard"),
                                                      validate="many_to_one")
    return paired.assign(gap=paired[value] - paired[f"{value}_standard"])


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
