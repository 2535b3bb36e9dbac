"""The numbers the paper prints, formatted once here and read by the Typst source.

Nothing in ``paper/`` types a result: every number in its text comes from the
dictionary built below (written to ``paper_numbers.json`` by the statistics rule).
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..provenance import git_commit
from .inference import Interval

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


def config_hash(config: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()


def _task_parameters(task: dict[str, Any]) -> str:
    return ", ".join(f"{k} = {v}" for k, v in task.items() if k != "name")


def _condition_numbers(condition: str, runs: pd.DataFrame, learning: pd.DataFrame, config: dict[str, Any]) -> dict[str, Any]:
    """What the paper prints about one condition: its factors, seeds, losses and whether it learned."""
    mine = runs[runs["condition"] == condition]
    first = mine.iloc[0]
    row = learning.set_index("condition").loc[condition]
    final = Interval(row["final_loss_mean"], row["final_loss_low"], row["final_loss_high"], int(row["n_seeds"]))
    share = Interval(row["gap_closed_mean"], row["gap_closed_low"], row["gap_closed_high"], int(row["n_seeds"]))
    return {
        "condition": condition,
        "task": str(first["task"]),
        "task_name": str(first["task_name"]),
        "task_parameters": _task_parameters(config["tasks"][first["task"]]),
        "pos_encoding": str(first["pos_encoding"]),
        "regime": str(first["regime"]),
        "context": str(int(first["context"])),
        "n_seeds": str(len(mine)),
        "seeds": ", ".join(str(s) for s in sorted(mine["seed"])),
        "init_loss": fmt(float(mine["init_eval_loss"].mean()), 3),
        "final_loss": fmt_interval(final, 3),
        "baseline_loss": fmt(float(first["baseline_loss"]), 3),
        "optimal_loss": fmt(float(first["optimal_loss"]) if pd.notna(first["optimal_loss"]) else None, 3),
        "gap_closed_pct": fmt_interval(Interval(100 * share.estimate, 100 * share.low, 100 * share.high, share.n), 0)
        if np.isfinite(share.estimate) else None,
        "learned": bool(row["learned"]),
        "steps": str(int(first["steps"])),
    }


def _counts(conditions: list[dict[str, Any]]) -> dict[str, str]:
    """How many reported conditions, and how many of them learned their task."""
    standard = [c for c in conditions if c["regime"] == "standard"]
    return {
        "n": str(len(conditions)),
        "n_standard": str(len(standard)),
        "learned": str(sum(c["learned"] for c in conditions)),
        "learned_standard": str(sum(c["learned"] for c in standard)),
    }


def paper_numbers(
    config: dict[str, Any],
    conditions: list[str],
    runs: pd.DataFrame,
    learning: pd.DataFrame,
    records: list[dict[str, Any]],
) -> dict[str, Any]:
    """Everything the paper prints about the ``conditions`` it reports, plus provenance."""
    model, train, measure, stats = config["model"], config["train"], config["measure"], config["stats"]
    commits = sorted({r["git_commit"] for r in records})
    described = [_condition_numbers(c, runs, learning, config) for c in conditions]
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
        "learned_gap_pct": fmt(100 * stats["learned_gap_share"], 0),
        "alpha": str(stats["alpha"]),
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
        "myopia": _myopia_rows(described, model["pos_encoding"]),
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


@dataclass(frozen=True)
class Freeze:
    """What the repository says about the preregistration (``tooling/preregistration.py`` reads it; the workflow hands
    it in): the seeds looked at while the rules were written, the commit that fixed them, the rule files changed since."""

    exploratory_seeds: tuple[int, ...]
    rules_commit: str = ""  # "": not fixed yet
    changed_since: tuple[str, ...] | None = None  # None: not decidable (no commit, or git could not tell)


def preregistration_numbers(config: dict[str, Any], freeze: Freeze) -> dict[str, str]:
    """Which seeds decided the verdicts, which were looked at while the rules were written, and whether a
    rule file changed after the commit that fixed them."""
    changed = freeze.changed_since if freeze.rules_commit else None
    seeds = sorted({*config["seeds"], *(s for e in config.get("experiments", {}).values() for s in e.get("seeds", []))})
    confirmatory = not set(seeds) & set(freeze.exploratory_seeds)
    return {
        "status": "confirmatory" if confirmatory else "exploratory",
        "rules_commit": freeze.rules_commit or "not fixed yet",
        "confirmatory_seeds": ", ".join(str(s) for s in seeds),
        "exploratory_seeds": ", ".join(str(s) for s in freeze.exploratory_seeds),
        "changed_since": "unknown" if changed is None else (", ".join(changed) if changed else "none"),
    }


def tables_digest(tables: Mapping[str, pd.DataFrame]) -> str:
    """SHA-256 of the tables the verdicts are computed from (name and CSV text, in name order): the paper prints it,
    so a table changed after the verdicts were drawn shows as a different digest."""
    digest = hashlib.sha256()
    for name in sorted(tables):
        digest.update(f"{name}\n".encode())
        digest.update(tables[name].to_csv(index=False, lineterminator="\n").encode())
    return digest.hexdigest()


def missing_runs_numbers(missing: pd.DataFrame, planned: list[str], reported: list[str]) -> dict[str, Any]:
    """Runs that did not finish training (diverged), and paper conditions left with no run at all."""
    runs = [
        {"run_id": str(row.run_id), "status": str(row.status), "step": str(row.step), "loss": str(row.loss)}
        for row in missing.itertuples()
    ]
    return {"n": str(len(runs)), "runs": runs, "dropped_conditions": [c for c in planned if c not in reported]}


REGIMES_IN_ORDER = ("standard", "myopic-state", "myopic-full")


def _myopia_rows(conditions: list[dict[str, Any]], encoding: str) -> dict[str, Any]:
    """Final loss by task (rows) and regime (columns), for tasks trained under several regimes with ``encoding``."""
    regimes = [r for r in REGIMES_IN_ORDER if any(c["regime"] == r for c in conditions)]
    rows = []
    for task in dict.fromkeys(c["task"] for c in conditions):
        mine = {c["regime"]: c for c in conditions if c["task"] == task and c["pos_encoding"] == encoding}
        if len(mine) < 2:
            continue
        cells = [mine[r]["final_loss"] if r in mine else {"mean": "n/a", "low": "n/a", "high": "n/a", "n": "0"} for r in regimes]
        rows.append({"task": task, "baseline": next(iter(mine.values()))["baseline_loss"], "cells": cells})
    return {"regimes": regimes, "rows": rows}
