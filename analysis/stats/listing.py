"""The claim list: the claims and descriptive analyses the study decides and reports, as imported objects, in the
order they are decided, run and printed (the README's claim table, docs/results.md's and the paper's sections).

Everything that decides, validates or prints the claims goes through ``CLAIMS`` and ``ANALYSES``, so a claim added
here appears in each and a claim left out appears in none.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from . import c1, c2, c3, c4, c5, c6, primacy, scaling, sinks
from .claims import Claim
from .descriptive import Analysis

CLAIMS: tuple[Claim, ...] = (c1.CLAIM, c2.CLAIM, c3.CLAIM, c4.CLAIM, c5.CLAIM, c6.CLAIM)
# Run in this order, after the claims: an analysis reads only tables of the claims and of analyses before it.
ANALYSES: tuple[Analysis, ...] = (primacy.ANALYSIS, sinks.ANALYSIS, scaling.ANALYSIS)


def paper_sections(analysis_numbers: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """The paper's sections (``paper/sections/<name>.typ``) in order: each claim's, then each analysis's that ran
    and whose numbers do not say ``present: false`` (the scaling section needs the scaling profile's sweeps)."""
    sections = [claim.section for claim in CLAIMS if claim.section]
    return sections + [
        analysis.section for analysis in ANALYSES
        if analysis.section and analysis.id in analysis_numbers and analysis_numbers[analysis.id].get("present", True)
    ]  # fmt: skip
