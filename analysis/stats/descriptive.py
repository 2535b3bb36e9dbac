"""Descriptive analyses: tables and numbers with intervals, but no verdict.

Beside the claims (``claims.py``), some questions the study answers are descriptive: where the
gradient a source position receives is largest (``primacy.py``), which positions attention
heads park their mass on (``sinks.py``), how the claims' deciding quantities move with depth,
width and context (``scaling.py``). Each registers an ``Analysis``: the tables it reads (the
aggregated measure tables and any claim's output tables), the tables it writes, and
``compute``. The statistics rule runs every registered analysis after the claims; the paper
reads its numbers under ``analyses.<id>``.
"""
from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from ..registry import Registry
from .claims import ClaimInputs


@dataclass
class AnalysisResult:
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)  # written as tables/<name>.csv
    numbers: dict[str, Any] = field(default_factory=dict)  # paper_numbers.json: analyses.<id>


@dataclass(frozen=True)
class Analysis:
    id: str  # "primacy", "sinks", "scaling"
    inputs: tuple[str, ...]  # table names read: aggregated measure tables or claim outputs
    outputs: tuple[str, ...]  # table names written; ``compute`` must return exactly these
    compute: Callable[[ClaimInputs], AnalysisResult]
    section: str | None = None  # its paper section, paper/sections/<section>.typ, printed unless its numbers say present: false

    def run(self, inputs: ClaimInputs) -> AnalysisResult:
        result = self.compute(inputs)
        if set(result.tables) != set(self.outputs):
            raise RuntimeError(f"analysis {self.id} wrote tables {sorted(result.tables)}, declared {sorted(self.outputs)}")
        return result


ANALYSES: Registry[Analysis] = Registry("analysis")


def register(analysis: Analysis) -> Analysis:
    return ANALYSES.register(analysis.id)(analysis)


# A new analysis: one module in analysis/stats plus its name here, where its paper section goes (listing.py).
ANALYSIS_MODULES: tuple[str, ...] = ("primacy", "sinks", "scaling")


def load_analyses() -> Registry[Analysis]:
    """Import every analysis module (each registers itself) and return the registry."""
    for module in ANALYSIS_MODULES:
        importlib.import_module(f"{__package__}.{module}")
    return ANALYSES


def run_all(inputs: ClaimInputs) -> dict[str, AnalysisResult]:
    """Every registered analysis, in order of its id; ``inputs.tables`` holds measure and claim tables alike.

    An analysis may read the tables of one whose id sorts before its own ("scaling" and "sinks" read
    "primacy_runs"); reading one that sorts after it is an error.
    """
    tables = dict(inputs.tables)
    results = {}
    for analysis_id in load_analyses().names():
        analysis = ANALYSES.get(analysis_id)
        missing = [name for name in analysis.inputs if name not in tables]
        if missing:
            raise RuntimeError(f"analysis {analysis_id} reads {missing}, which no measure, claim or earlier analysis wrote")
        results[analysis_id] = analysis.run(ClaimInputs(tables, inputs.runs, inputs.settings, inputs.rules))
        tables.update(results[analysis_id].tables)
    return results
