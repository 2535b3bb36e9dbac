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

from ..provenance import git_commit
from .inference import Interval, mean_interval

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
        return mean_interval(values, settings["confidence"])

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
                "init": {
                    "mean": fmt(init.slope_mean),
                    "low": fmt(init.slope_low),
                    "high": fmt(init.slope_high),
                    "trend": trend(init.slope_low, init.slope_high),
                },
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
        "learned": bool(final.high < (1 - settings["learned_margin"]) * first["baseline_loss"]),
        "steps": str(int(first["steps"])),
        "layers": layers,
    }


def _counts(conditions: list[dict[str, Any]]) -> dict[str, str]:
    """How many standard conditions' layer-0 slope intervals lie below, above or across zero."""
    standard = [c for c in conditions if c["regime"] == "standard"]
    trained = [c["layers"][0]["trained"]["trend"] for c in standard]
    initial = [c["layers"][0]["init"]["trend"] for c in standard]
    return {
        "n": str(len(standard)),
        "trained_decreasing": str(trained.count("decreases with distance")),
        "trained_flat": str(trained.count("shows no detectable trend with distance")),
        "trained_increasing": str(trained.count("increases with distance")),
        "init_decreasing": str(initial.count("decreases with distance")),
        "learned": str(sum(c["learned"] for c in standard)),
    }


def paper_numbers(
    config: dict[str, Any],
    conditions: list[str],
    runs: pd.DataFrame,
    summary: pd.DataFrame,
    records: list[dict[str, Any]],
) -> dict[str, Any]:
    """Everything the paper prints about the ``conditions`` it reports, plus provenance."""
    model, train, measure, stats = config["model"], config["train"], config["measure"], config["stats"]
    commits = sorted({r["git_commit"] for r in records})
    described = [_condition_numbers(c, runs, summary, config) for c in conditions]
    tasks = []
    for label in dict.fromkeys(c["task"] for c in described):
        first = next(c for c in described if c["task"] == label)
        record = next(r for r in records if r["spec"]["task_label"] == label)
        tasks.append(
            {
                "label": label,
                "name": first["task_name"],
                "parameters": first["task_parameters"],
                "baseline": first["baseline_loss"],
                "optimal": first["optimal_loss"],
                "baseline_description": record["baseline_description"],
                "corpus_sha256": record["task_description"].get("corpus_sha256", ""),
            }
        )
    return {
        "title": config["paper"].get("title", "How gradients flow across context positions in causal transformers"),
        "profile": config["profile"],
        "experiments": ", ".join(config["paper"]["experiments"]),
        "confidence_pct": fmt(100 * stats["confidence"], 0),
        "s_min": str(stats["s_min"]),
        "d_min": str(stats["d_min"]),
        "learned_margin_pct": fmt(100 * stats["learned_margin"], 0),
        "n_sequences": str(measure["n_sequences"]),
        "model": {k: str(v) for k, v in model.items()},
        "train": {k: str(v) for k, v in train.items()},
        "steps": ", ".join(sorted({c["steps"] for c in described}, key=int)),
        "encodings": ", ".join(dict.fromkeys(c["pos_encoding"] for c in described)),
        "regimes": ", ".join(dict.fromkeys(c["regime"] for c in described)),
        "seeds": ", ".join(str(s) for s in sorted(runs["seed"].unique())),
        "tasks": tasks,
        "conditions": described,
        "counts": _counts(described),
        "myopia": _myopia_rows(described),
        "provenance": {
            "git_commit": ", ".join(commits),
            "analysis_commit": git_commit(),
            "config_hash": config_hash(config),
            "packages": ", ".join(f"{k} {v}" for k, v in records[0]["packages"].items()),
            "device": ", ".join(sorted({r["device"] for r in records})),
            "n_runs": str(len(records)),
            "train_time_min": fmt(sum(r["wall_time_s"] for r in records) / 60, 1),
            "measure_time_min": fmt(float(runs["measure_wall_time_s"].sum()) / 60, 1),
        },
    }


def missing_runs_numbers(missing: pd.DataFrame, planned: list[str], reported: list[str]) -> dict[str, Any]:
    """Runs that did not finish training (diverged), and paper conditions left with no run at all."""
    runs = [
        {"run_id": str(row.run_id), "status": str(row.status), "step": str(row.step), "loss": str(row.loss)}
        for row in missing.itertuples()
    ]
    return {"n": str(len(runs)), "runs": runs, "dropped_conditions": [c for c in planned if c not in reported]}


REGIMES_IN_ORDER = ("standard", "myopic-state", "myopic-full")


def _myopia_rows(conditions: list[dict[str, Any]]) -> dict[str, Any]:
    """Final loss by task (rows) and regime (columns), for tasks trained under several regimes."""
    regimes = [r for r in REGIMES_IN_ORDER if any(c["regime"] == r for c in conditions)]
    rows = []
    for task in dict.fromkeys(c["task"] for c in conditions):
        mine = {c["regime"]: c for c in conditions if c["task"] == task and c["pos_encoding"] == "learned"}
        if len(mine) < 2:
            continue
        cells = [mine[r]["final_loss"] if r in mine else {"mean": "n/a", "low": "n/a", "high": "n/a", "n": "0"} for r in regimes]
        rows.append({"task": task, "baseline": next(iter(mine.values()))["baseline_loss"], "cells": cells})
    return {"regimes": regimes, "rows": rows}
