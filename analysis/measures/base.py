"""What a measure is: a function (model, run data) -> table, when it applies, and at which checkpoints."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..registry import Registry

if TYPE_CHECKING:
    import pandas as pd

    from ..models import GPT
    from .data import RunData

    Compute = Callable[[GPT, RunData], pd.DataFrame]


def every_run(data: RunData) -> bool:
    return True


@dataclass(frozen=True)
class Measure:
    name: str  # the table's file stem
    compute: Compute
    applies: Callable[[RunData], bool] = every_run
    ends_only: bool = False  # measured at initialisation and at the end of training only
    final_only: bool = False  # measured at the end of training only

    def selected(self, data: RunData) -> bool:
        """Whether this run measures it: it applies to the run's task and regime, and the config selects it."""
        only = data.spec.measure.get("only")
        return (only is None or self.name in only) and self.applies(data)


MEASURES: Registry[Measure] = Registry("measure")  # filled by the modules of ``analysis.measures`` (its __init__ imports them)


def register(
    name: str, *, applies: Callable[[RunData], bool] = every_run, ends_only: bool = False, final_only: bool = False
) -> Callable[[Compute], Compute]:
    """Register the decorated (model, run data) -> table function as the measure whose table is ``<name>.csv``."""

    def decorator(compute: Compute) -> Compute:
        MEASURES.register(name)(Measure(name, compute, applies, ends_only, final_only))
        return compute

    return decorator
