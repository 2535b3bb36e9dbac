"""Apply every registered measure to every checkpoint of one run and write one tidy table per measure.

Each measure module registers its (model, run data) -> table function (``analysis.measures.register``);
this module adds the run's condition, seed and checkpoint step, times each measure, and writes
``<name>.csv`` in the run folder. M2 (profiles) is derived from M1 in the statistics stage; M4's
gap pairs runs, so it is formed there too.
"""
from __future__ import annotations

import time
from pathlib import Path

import pandas as pd
import torch

from ..io import load_checkpoint, write_table
from ..models import GPT, build_model
from ..spec import RunSpec
from .base import MEASURES
from .data import RunData


def load_model(path: str | Path, data: RunData) -> GPT:
    """A checkpoint's weights in the model the run's spec builds, as training built it; its AdamW state
    (absent in checkpoints written before it was saved) goes to ``data.optimizer_state`` for M7."""
    payload = load_checkpoint(path)
    model = build_model(data.task.input_spec, data.task.output_spec, data.spec.model)
    model.load_state_dict(payload["model"])
    data.optimizer_state = payload.get("optimizer")
    return model.eval()


def measure_checkpoints(spec: RunSpec, checkpoints: dict[int, Path]) -> tuple[dict[str, pd.DataFrame], dict[str, float]]:
    """Every measure at every checkpoint: (tables by measure name, seconds by measure name)."""
    data = RunData(spec)
    frames: dict[str, list[pd.DataFrame]] = {name: [] for name in MEASURES.names()}
    seconds = dict.fromkeys(MEASURES.names(), 0.0)
    ends = {min(checkpoints), max(checkpoints)}
    for step, path in sorted(checkpoints.items()):
        model = load_model(path, data)
        for name in MEASURES.names():
            measure = MEASURES.get(name)
            if not measure.selected(data) or (measure.ends_only and step not in ends) or (
                    measure.final_only and step != max(checkpoints)):
                continue
            started = time.perf_counter()
            frames[name].append(measure.compute(model, data).assign(step=step))
            seconds[name] += time.perf_counter() - started
    tables = {}
    for name, parts in frames.items():
        table = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame({"step": []})
        table = table[["step", *[c for c in table.columns if c != "step"]]]
        table.insert(0, "seed", spec.seed)
        table.insert(0, "condition", spec.condition)
        tables[name] = table
    return tables, seconds


def measure_run(spec: RunSpec, checkpoints: dict[int, Path], out_dir: str | Path, threads: int = 1) -> dict[str, float]:
    """Write every measure table of one run (``<name>.csv``); return wall seconds per measure."""
    torch.set_num_threads(threads)
    tables, seconds = measure_checkpoints(spec, checkpoints)
    for name, table in tables.items():
        write_table(Path(out_dir) / f"{name}.csv", table)
    return {f"{name}_s": value for name, value in seconds.items()}
