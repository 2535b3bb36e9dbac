"""One training run as a plain value, and the steps it is checkpointed and evaluated at.

The ground floor of the package: it imports nothing from ``analysis``, so the jobs, the
measures and the validator can all read a run spec without a cycle.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class RunSpec:
    """One training run: a condition (all factor values) and a seed."""

    condition: str
    seed: int
    task_label: str
    task: dict[str, Any]
    model: dict[str, Any]
    train: dict[str, Any]
    measure: dict[str, Any]

    @property
    def run_id(self) -> str:
        return f"{self.condition}/seed{self.seed}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "condition": self.condition,
            "seed": self.seed,
            "task_label": self.task_label,
            "task": self.task,
            "model": self.model,
            "train": self.train,
            "measure": self.measure,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunSpec:
        return cls(**data)

    def checkpoint_steps(self) -> list[int]:
        return checkpoint_steps(self.train["steps"], self.train["log_checkpoints"])

    def evaluation_steps(self) -> list[int]:
        """Where training records the held-out loss: every checkpoint and ``eval_points`` evenly spaced steps."""
        return evaluation_steps(self.train["steps"], self.train.get("eval_points", 0), self.checkpoint_steps())


def checkpoint_steps(steps: int, n_log: int) -> list[int]:
    """Initialisation, ``n_log`` log-spaced intermediate steps, and the end."""
    import numpy as np

    middle = np.unique(np.round(np.geomspace(1, steps, n_log + 2)[1:-1]).astype(int)) if n_log else []
    return sorted({0, steps, *(int(m) for m in middle if 0 < m < steps)})


def evaluation_steps(steps: int, n_points: int, checkpoints: list[int]) -> list[int]:
    """The checkpoints and ``n_points`` evenly spaced steps (k * steps / n_points, rounded, k = 1..n_points)."""
    even = {round(k * steps / n_points) for k in range(1, n_points + 1)} if n_points else set()
    return sorted({*checkpoints, *(step for step in even if 0 < step <= steps)})
