"""Descriptive analyses: tables and numbers with intervals, but no verdict.

Beside the claims (``claims.py``), some questions the study answers are descriptive: where the
gradient a source position receives is largest (``primacy.py``), which positions attention
heads park their mass on (``sinks.py``), how the claims' deciding quantities move with depth,
width and context (``scaling.py``). Each defines an ``Analysis`` (``ANALYSIS``, listed in ``listing.py``): the tables it reads (the
aggregated measure tables and any claim's output tables), the tables it writes, and
``compute``. The statistics rule runs every listed analysis after the claims; the paper
reads its numbers under ``analyses.<id>``.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

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



def run_all(analyses: Sequence[Analysis], inputs: ClaimInputs) -> dict[str, AnalysisResult]:
    """Every analysis of the list, in its order; ``inputs.tables`` holds measure and claim tables alike.

    An analysis may read the tables of one before it in the list ("scaling" and "sinks" read "primacy_runs");
    reading one after it is an error.
    """
    tables = dict(inputs.tables)
    results = {}
    for analysis in analyses:
        missing = [name for name in analysis.inputs if name not in tables]
        if missing:
            raise RuntimeError(f"analysis {analysis.id} reads {missing}, which no measure, claim or earlier analysis wrote")
        results[analysis.id] = analysis.run(ClaimInputs(tables, inputs.runs, inputs.settings, inputs.rules))
        tables.update(results[analysis.id].tables)
    return results
