"""The numbers the paper prints, formatted once here and read by the Typst source.

Nothing in ``paper/`` types a result: every number in its text comes from the
dictionary built below (written to ``paper_numbers.json`` by the statistics rule).
"""
from __future__ import annotations

import hashlib
import json
from typing import Any

import numpy as np
import pandas as pd

from .bootstrap import Interval, bootstrap_mean

MINUS = "\u2212"


def fmt(value: float | None, digits: int = 2) -> str:
    """A number as the paper prints it (typographic minus; 'n/a' for missing)."""
    if value is None or not np.isfinite(value):
        return "n/a"
    text = f"{value:.{digits}f}"
    if text.lstrip("-").strip("0.") == "":  # -0.00 -> 0.00
        text = text.lstrip("-")
    return text.replace("-", MINUS)


def fmt_interval(interval: Interval, digits: int = 2) -> dict[str, str]:
    return {"mean": fmt(interval.estimate, digits), "low": fmt(interval.low, digits), "high": fmt(interval.high, digits), "n": str(interval.n)}


def trend(low: float, high: float) -> str:
    """How the distance slope's interval reads, in words chosen by the numbers."""
    if high < 0:
        return "decreases with distance"
    if low > 0:
        return "increases with distance"
    return "shows no detectable trend with distance"


def config_hash(config: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()


def _task_parameters(task: dict[str, Any]) -> str:
    return ", ".join(f"{k} = {v}" for k, v in task.items() if k != "name")


def _condition_numbers(
    condition: str, runs: pd.DataFrame, summary: pd.DataFrame, config: dict[str, Any]
) -> dict[str, Any]:
    settings = config["stats"]
    mine = runs[runs["condition"] == condition]
    first = mine.iloc[0]

    def interval(values: np.ndarray) -> Interval:
        return bootstrap_mean(values, settings["confidence"], settings["n_resamples"], settings["bootstrap_seed"])

    final = interval(mine["final_eval_loss"].to_numpy())
    slopes = summary[summary["condition"] == condition]
    last_step, first_step = slopes["step"].max(), slopes["step"].min()
    layers = []
    for layer in sorted(slopes["layer"].unique()):
        by_step = {int(row.step): row for row in slopes[slopes["layer"] == layer].itertuples()}
        init, trained = by_step[first_step], by_step[last_step]
        layers.append(
            {
                "layer": str(layer),
                "init": {"mean": fmt(init.slope_mean), "low": fmt(init.slope_low), "high": fmt(init.slope_high)},
                "trained": {
                    "mean": fmt(trained.slope_mean),
                    "low": fmt(trained.slope_low),
                    "high": fmt(trained.slope_high),
                    "trend": trend(trained.slope_low, trained.slope_high),
                },
                "n_seeds": str(int(trained.n_seeds)),
            }
        )
    return {
        "condition": condition,
        "task": str(first["task"]),
        "task_name": str(first["task_name"]),
        "task_parameters": _task_parameters(config["tasks"][first["task"]]),
        "pos_encoding": str(first["pos_encoding"]),
        "regime": str(first["regime"]),
        "n_seeds": str(len(mine)),
        "init_loss": fmt(float(mine["init_eval_loss"].mean()), 3),
        "final_loss": fmt_interval(final, 3),
        "baseline_loss": fmt(float(first["baseline_loss"]), 3),
        "optimal_loss": fmt(float(first["optimal_loss"]) if pd.notna(first["optimal_loss"]) else None, 3),
        "below_baseline": bool(final.high < first["baseline_loss"]),
        "layers": layers,
    }


def paper_numbers(
    config: dict[str, Any],
    conditions: list[str],
    runs: pd.DataFrame,
    summary: pd.DataFrame,
    records: list[dict[str, Any]],
) -> dict[str, Any]:
    """Everything the paper prints about the ``conditions`` of its experiment, plus provenance."""
    experiment = config["paper"]["experiment"]
    model, train, measure, stats = config["model"], config["train"], config["measure"], config["stats"]
    commits = sorted({r["git_commit"] for r in records})
    return {
        "title": config["paper"].get("title", "How gradients flow across context positions in causal transformers"),
        "profile": config["profile"],
        "experiment": experiment,
        "confidence_pct": fmt(100 * stats["confidence"], 0),
        "n_resamples": str(stats["n_resamples"]),
        "s_min": str(stats["s_min"]),
        "d_min": str(stats["d_min"]),
        "n_sequences": str(measure["n_sequences"]),
        "model": {k: str(v) for k, v in model.items()},
        "train": {k: str(v) for k, v in train.items()},
        "seeds": ", ".join(str(s) for s in sorted(runs["seed"].unique())),
        "conditions": [_condition_numbers(c, runs, summary, config) for c in conditions],
        "provenance": {
            "git_commit": ", ".join(commits),
            "config_hash": config_hash(config),
            "packages": ", ".join(f"{k} {v}" for k, v in records[0]["packages"].items()),
            "device": ", ".join(sorted({r["device"] for r in records})),
            "n_runs": str(len(records)),
            "train_time_min": fmt(sum(r["wall_time_s"] for r in records) / 60, 1),
            "measure_time_min": fmt(float(runs["measure_wall_time_s"].sum()) / 60, 1),
        },
    }
