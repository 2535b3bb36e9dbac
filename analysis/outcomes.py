"""How a run ended, and the rule that only trained runs are ever read as data.

A run whose training loss becomes NaN or infinite *diverged*: that is a result about the
condition, not a crash of the pipeline. Its job writes ``record.json`` with status
``diverged`` (the step and the loss), its training log up to that step, and every other
declared output as a placeholder whose first line is ``MARKER``. Aggregation reads the
record first and never reads a diverged run's tables; ``read_run_table`` refuses a
placeholder, so a diverged run cannot be averaged into a result by mistake.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from .io import atomic_path, write_json, write_rows

if TYPE_CHECKING:
    import pandas as pd

TRAINED, DIVERGED = "trained", "diverged"
MARKER = "# DIVERGED"
MISSING_COLUMNS = ["run_id", "condition", "seed", "status", "step", "loss", "message"]


def status(record: dict[str, Any]) -> str:
    """A record's outcome; a record that names none is a trained run."""
    return record.get("status", TRAINED)


def write_diverged_run(
    run_dir: str | Path, spec: dict[str, Any], step: int, loss: float, message: str,
    log: list[dict[str, float]], table_names: list[str], provenance: dict[str, Any],
) -> None:
    """The declared outputs of a diverged run: its record, its log so far, and marked placeholders."""
    run_dir = Path(run_dir)
    run_id = f"{spec['condition']}/seed{spec['seed']}"
    placeholder = f"{MARKER}: run {run_id} diverged at step {step} (loss {loss}); no measurements, see record.json\n"
    for name in table_names:
        with atomic_path(run_dir / f"{name}.csv") as tmp:
            tmp.write_text(placeholder)
    write_json(run_dir / "measure_timing.json", {"status": DIVERGED})
    if log:
        write_rows(run_dir / "train_log.csv", log)
    else:
        with atomic_path(run_dir / "train_log.csv") as tmp:
            tmp.write_text("step,train_loss,lr\n")
    write_json(
        run_dir / "record.json",
        {
            "run_id": run_id, "status": DIVERGED, "spec": spec, "seed": spec["seed"], "diverged_at_step": step,
            "loss": str(loss), "message": message, **provenance,
        },
    )


def is_placeholder(path: str | Path) -> bool:
    with open(path, "rb") as handle:
        return handle.read(len(MARKER)) == MARKER.encode()


def read_run_table(path: str | Path) -> pd.DataFrame:
    """One run's measure table; a diverged run's placeholder is an error, never an empty table."""
    import pandas as pd

    if is_placeholder(path):
        raise ValueError(f"{path} is the placeholder of a diverged run, not a measurement")
    return pd.read_csv(path)


def missing_row(record: dict[str, Any]) -> dict[str, Any]:
    """One row of ``missing_runs.csv`` for a run that did not finish training."""
    spec = record["spec"]
    return {
        "run_id": record["run_id"], "condition": spec["condition"], "seed": spec["seed"], "status": status(record),
        "step": record.get("diverged_at_step"), "loss": record.get("loss"), "message": record.get("message", ""),
    }
