"""Resume state of a training run: what the loop needs to continue bit-identically after a kill.

Every ``RESUME_EVERY`` steps and at each checkpoint step (which already pays for a save and an
evaluation), a run saves its model, optimizer state, the data generator's RNG state, the step,
its log rows and held-out evaluations to ``resume_state.pt`` (written atomically, so a kill
leaves the previous state whole). A restarted run continues from there and ends with the same
bytes as an uninterrupted one.

When a run finishes, its state is replaced by a small *finished* state that holds the run's
record: Snakemake deletes the outputs of a killed job before rerunning it, and the finished
state is what lets the rerun skip the runs of the block that were already trained. The job
that trains a block removes the states of its runs once the whole block is done.

States load with ``weights_only=True``: RNG states are uint8 tensors, the rest is plain data
(log rows, evaluations and the record travel as one JSON string, which keeps floats exact).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from .io import CheckpointError, load_checkpoint, save_checkpoint

RESUME_EVERY = 250  # steps: one save (~1.4 MB, ~20 ms on the default model) per ~5 s of training, <1% overhead
STATE_NAME = "resume_state.pt"
FORMAT = 1


@dataclass
class TrainingState:
    """Where the training loop stands after ``step`` optimizer steps."""

    step: int
    log: list[dict[str, float]] = field(default_factory=list)
    evaluations: dict[int, float] = field(default_factory=dict)
    elapsed_s: float = 0.0
    task_description: dict[str, Any] = field(default_factory=dict)
    model: dict[str, torch.Tensor] | None = None
    optimizer: dict[str, Any] | None = None
    data_rng: torch.Tensor | None = None
    torch_rng: torch.Tensor | None = None
    record: dict[str, Any] | None = None  # set once the run has finished training

    @property
    def finished(self) -> bool:
        return self.record is not None


def state_path(run_dir: str | Path) -> Path:
    return Path(run_dir) / STATE_NAME


def _spec_key(spec_dict: dict[str, Any]) -> str:
    return json.dumps(spec_dict, sort_keys=True)


def save_state(run_dir: str | Path, spec_dict: dict[str, Any], state: TrainingState) -> None:
    meta = {
        "step": state.step,
        "log": state.log,
        "evaluations": {str(k): v for k, v in state.evaluations.items()},
        "elapsed_s": state.elapsed_s,
        "task_description": state.task_description,
        "record": state.record,
    }
    payload: dict[str, Any] = {"format": FORMAT, "spec": _spec_key(spec_dict), "meta": json.dumps(meta)}
    for name in ("model", "optimizer", "data_rng", "torch_rng"):
        if getattr(state, name) is not None:
            payload[name] = getattr(state, name)
    save_checkpoint(state_path(run_dir), payload)


def load_state(run_dir: str | Path, spec_dict: dict[str, Any], run_id: str) -> TrainingState | None:
    """The saved state of this run, or None (with a log line saying why) if there is none to use."""
    path = state_path(run_dir)
    if not path.exists():
        return None
    try:
        payload = load_checkpoint(path)
    except CheckpointError as error:
        print(f"{run_id}: ignoring an unreadable resume state, training from step 0 ({error})")
        return None
    if payload.get("format") != FORMAT or payload.get("spec") != _spec_key(spec_dict):
        print(f"{run_id}: the resume state was saved under other settings; training from step 0")
        return None
    meta = json.loads(payload["meta"])
    return TrainingState(
        step=meta["step"],
        log=meta["log"],
        evaluations={int(k): v for k, v in meta["evaluations"].items()},
        elapsed_s=meta["elapsed_s"],
        task_description=meta["task_description"],
        model=payload.get("model"),
        optimizer=payload.get("optimizer"),
        data_rng=payload.get("data_rng"),
        torch_rng=payload.get("torch_rng"),
        record=meta["record"],
    )


def snapshot(
    step: int,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    data: torch.Generator,
    log: list[dict[str, float]],
    evaluations: dict[int, float],
    task_description: dict[str, Any],
    elapsed_s: float,
) -> TrainingState:
    """Everything the loop carries from one step to the next (copies of the RNG states)."""
    return TrainingState(
        step=step, log=log, evaluations=evaluations, task_description=task_description, elapsed_s=elapsed_s,
        model=model.state_dict(), optimizer=optimizer.state_dict(), data_rng=data.get_state(), torch_rng=torch.get_rng_state(),
    )


def restore(state: TrainingState, model: torch.nn.Module, optimizer: torch.optim.Optimizer, data: torch.Generator) -> None:
    """Put the loop back where ``state`` left it (the caller takes over its log and evaluations)."""
    model.load_state_dict(state.model)
    optimizer.load_state_dict(state.optimizer)
    data.set_state(state.data_rng)
    torch.set_rng_state(state.torch_rng)


def check_same_task(run_id: str, saved: dict[str, Any], current: dict[str, Any]) -> None:
    """A run must not continue on other data (e.g. a text corpus that changed with the Python release)."""
    if saved != current:
        changed = sorted(k for k in set(saved) | set(current) if saved.get(k) != current.get(k))
        details = ", ".join(f"{k}: {saved.get(k)!r} -> {current.get(k)!r}" for k in changed)
        raise TaskChangedError(
            f"{run_id}: the task's data changed since this run was interrupted ({details}); "
            f"delete {STATE_NAME} in the run's folder to train it again from step 0"
        )


class TaskChangedError(RuntimeError):
    """The data a saved state was trained on differs from the data available now."""


def discard_state(run_dir: str | Path) -> None:
    state_path(run_dir).unlink(missing_ok=True)

