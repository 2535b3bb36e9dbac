"""Held-out sequences, identical for every seed and regime of a task, so runs compare on equal terms.

Each use draws from its own named stream: training's held-out loss from ``evaluation``, the
measures from theirs (``measure``, ``probe-fit``, ...; the shuffles of M7 too).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from .seeding import EVALUATION_SEED, generator

if TYPE_CHECKING:
    import torch

    from .config import RunSpec
    from .tasks import Batch, Task


def held_out_stream(spec: RunSpec, stream: str) -> torch.Generator:
    """The named random stream of the run's task, the same for every seed and regime."""
    return generator(EVALUATION_SEED, f"{stream}:{spec.task_label}")


def held_out_batch(task: Task, spec: RunSpec, stream: str, n: int) -> Batch:
    """``n`` held-out sequences of the run's context length from the named stream of its task."""
    return task.held_out().sample(n, spec.model["context"], held_out_stream(spec, stream))


def evaluation_batch(task: Task, spec: RunSpec, n: int) -> Batch:
    """The sequences the training record's held-out loss (and M4) is computed on."""
    return held_out_batch(task, spec, "evaluation", n)
