"""Task registry: a new task is one module here (registered in ``base.TASKS``) plus one import line below."""
from __future__ import annotations

from typing import Any

from . import lag, markov, recall, sine, text  # noqa: F401  (registration happens on import)
from .base import TASKS, Batch, IOSpec, ProbeTarget, Task


def build_task(params: dict[str, Any]) -> Task:
    """Instantiate a task from its config entry ({name: ..., <parameters>})."""
    params = dict(params)
    cls = TASKS.get(params.pop("name"))
    return cls(**params)


__all__ = ["TASKS", "Batch", "IOSpec", "ProbeTarget", "Task", "build_task"]
