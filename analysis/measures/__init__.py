"""Gradient-flow measures (STUDY.md section 4): a new measure is one module here that registers its table, plus one import line below."""
from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from .. import registry
from ..registry import Registry
from .base import Measure, every_run

if TYPE_CHECKING:
    from .base import Compute
    from .data import RunData

MEASURES: Registry[Measure] = registry.MEASURES  # declared there: the config validates the names it registers


def register(
    name: str, *, applies: Callable[[RunData], bool] = every_run, ends_only: bool = False, final_only: bool = False
) -> Callable[[Compute], Compute]:
    """Register the decorated (model, run data) -> table function as the measure whose table is ``<name>.csv``."""

    def decorator(compute: Compute) -> Compute:
        MEASURES.register(name)(Measure(name, compute, applies, ends_only, final_only))
        return compute

    return decorator


from . import (  # noqa: E402,F401  (registration happens on import)
    attention,
    context_distance,
    decomposition,
    dependency,
    gradient_matrix,
    intervention,
    myopia,
    probes,
    reachability,
    weight_channel,
)

__all__ = ["MEASURES", "Measure", "register"]
