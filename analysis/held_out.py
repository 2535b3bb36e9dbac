"""Held-out sequences drawn per training seed and shared by every regime of that seed.

The seed is the unit of replication, so the sequences the measures read are part of it: a
seed interval then covers sequence sampling too, not only initialisation and data order.
Every regime of one seed reads the same sequences, so paired differences (M4's myopia gap,
C2's DiD) compare runs on equal terms. Each use draws from its own named stream: training's
held-out loss from ``evaluation``, the measures from theirs (``measure``, ``probe-fit``, ...;
the shuffles of M7 too).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from .seeding import EVALUATION_SEED, generator

if TYPE_CHECKING:
    import torch

    from .spec import RunSpec
    from .tasks import Batch, Task


def held_out_stream(spec: RunSpec, stream: str) -> torch.Generator:
    """The named random stream of the run's task and seed, the same for every regime of that seed."""
    return generator(EVALUATION_SEED, f"{stream}:{spec.task_label}:seed{spec.seed}")


def held_out_batch(task: Task, spec: RunSpec, stream: str, n: int) -> Batch:
    """``n`` held-out sequences of the run's context length from the named stream of its task."""
    return task.held_out().sample(n, spec.model["context"], held_out_stream(spec, stream))


def evaluation_batch(task: Task, spec: RunSpec, n: int) -> Batch:
    """The sequences the training record's held-out loss (and M4) is computed on."""
    return held_out_batch(task, spec, "evaluation", n)
