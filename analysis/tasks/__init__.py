"""Task registry: a new task is one module here plus one import line below."""
from __future__ import annotations

from typing import Any

from ..registry import Registry
from .base import Batch, IOSpec, ProbeTarget, Task

TASKS: Registry[type[Task]] = Registry("task")

from . import lag, markov, recall, sine, text  # noqa: E402,F401  (registration happens on import)


def build_task(params: dict[str, Any]) -> Task:
    """Instantiate a task from its config entry ({name: ..., <parameters>})."""
    params = dict(params)
    cls = TASKS.get(params.pop("name"))
    return cls(**params)


__all__ = ["TASKS", "Batch", "IOSpec", "ProbeTarget", "Task", "build_task"]
