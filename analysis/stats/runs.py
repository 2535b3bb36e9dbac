"""One row per run: its grid factors (``GRID_FACTORS``), its losses against the task baseline, and where it ran."""
from __future__ import annotations

from typing import Any

import pandas as pd

from ..grid import factor_values


def runs_table(records: list[dict[str, Any]], timings: list[dict[str, float]]) -> pd.DataFrame:
    rows = []
    for record, timing in zip(records, timings, strict=True):
        spec = record["spec"]
        factors = factor_values(spec["task_label"], spec["model"], spec["train"])
        rows.append(
            {
                "condition": spec["condition"],
                "seed": spec["seed"],
                "task": factors.pop("task"),
                "task_name": spec["task"]["name"],
                "task_distance": spec["task"].get("distance"),  # the known dependency distance (lag task), else empty
                **factors,
                "parameters": record["parameters"],
                "init_eval_loss": record["eval_loss"]["0"],
                "final_eval_loss": record["final_eval_loss"],
                "baseline_loss": record["baseline_loss"],
                "optimal_loss": record["optimal_loss"],
                "train_wall_time_s": record["wall_time_s"],
                "measure_wall_time_s": sum(timing.values()),
                "task_version": record["task_description"]["version"],
                "corpus_sha256": record["task_description"].get("corpus_sha256", ""),
                "git_commit": record["git_commit"],
                "device": record["device"],
            }
        )
    return pd.DataFrame(rows).sort_values(["condition", "seed"], ignore_index=True)


class CorpusMismatchError(ValueError):
    """Runs of one task were trained on different data and must not be pooled."""


def check_same_corpus(records: list[dict[str, Any]]) -> None:
    """Refuse to pool runs of one task trained on different corpora (e.g. runs made before and after the corpus file changed)."""
    by_task: dict[str, dict[str, list[str]]] = {}
    for record in records:
        sha = record["task_description"].get("corpus_sha256")
        if sha:
            by_task.setdefault(record["spec"]["task_label"], {}).setdefault(sha, []).append(record["run_id"])
    for label, shas in by_task.items():
        if len(shas) > 1:
            groups = "; ".join(f"{sha[:12]}: {', '.join(sorted(ids))}" for sha, ids in sorted(shas.items()))
            raise CorpusMismatchError(
                f"runs of task {label!r} were trained on different corpora (SHA-256 {groups}); the corpus file "
                "(analysis/tasks/corpus/) differed between these runs, so delete the runs trained on the other "
                "corpus and rerun them"
            )
