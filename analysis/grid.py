"""The factors an experiment's grid may cross, in one table.

The config schema's grid keys, the run setting each factor sets, the condition name (which names
results files) and the factor columns of the runs table are all read from ``GRID_FACTORS``; a new
factor is one entry here. This module imports nothing from the package, so the statistics can
read it without the config's registries.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Factor:
    """Where a grid factor's value goes: the run config section whose key of the factor's name it sets."""

    section: str | None  # "model" or "train"; None for the task, which selects a ``tasks`` entry
    tag: str  # written before the value in the condition name


GRID_FACTORS: dict[str, Factor] = {  # in condition-name and runs-table column order
    "task": Factor(None, ""),
    "pos_encoding": Factor("model", ""),
    "regime": Factor("train", ""),
    "n_layer": Factor("model", "L"),
    "d_model": Factor("model", "D"),
    "n_head": Factor("model", "H"),
    "context": Factor("model", "T"),
    "steps": Factor("train", "S"),
}


def factors_except(*left_out: str) -> list[str]:
    """The grid factors in table order less ``left_out``: a subset that carries a new factor through unedited.

    A name that is no grid factor is refused, so a renamed factor cannot slip into a subset unnoticed.
    """
    unknown = [name for name in left_out if name not in GRID_FACTORS]
    if unknown:
        raise KeyError(f"not grid factors: {unknown}; the grid factors are {list(GRID_FACTORS)}")
    return [name for name in GRID_FACTORS if name not in left_out]


def factor_values(task_label: str, model: dict[str, Any], train: dict[str, Any]) -> dict[str, Any]:
    """Every grid factor's value in a run, in table order."""
    sections = {"model": model, "train": train}
    return {
        name: task_label if factor.section is None else sections[factor.section][name]
        for name, factor in GRID_FACTORS.items()
    }


def condition_name(task_label: str, model: dict[str, Any], train: dict[str, Any]) -> str:
    """The condition's name, e.g. ``markov_learned_standard_L2_D64_H4_T32_S600``: all factor values."""
    values = factor_values(task_label, model, train)
    return "_".join(f"{GRID_FACTORS[name].tag}{value}" for name, value in values.items())
