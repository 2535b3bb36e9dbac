"""The claim list, read in one place: the claims and descriptive analyses in the order the README's claim table,
docs/results.md's and the paper list them, and the paper's section names.

Everything that prints the claims (``tooling/doc_blocks.py``'s claim tables, the paper's includes through
``paper_sections``) goes through ``listed_claims`` and ``listed_analyses``, so a claim added to the list appears in
each and a claim left out appears in none.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .claims import Claim, load_claims
from .descriptive import ANALYSIS_MODULES, Analysis, load_analyses


def listed_claims() -> tuple[Claim, ...]:
    """Every claim, in order of its id (the order they are decided in)."""
    claims = load_claims()
    return tuple(claims.get(claim_id) for claim_id in claims.names())


def listed_analyses() -> tuple[Analysis, ...]:
    """Every descriptive analysis, in the paper's order (its module's place in ``ANALYSIS_MODULES``)."""
    analyses = load_analyses()
    return tuple(analyses.get(module) for module in ANALYSIS_MODULES)


def paper_sections(analysis_numbers: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """The paper's sections (``paper/sections/<name>.typ``) in order: each claim's, then each analysis's that ran
    and whose numbers do not say ``present: false`` (the scaling section needs the scaling profile's sweeps)."""
    sections = [claim.section for claim in listed_claims() if claim.section]
    return sections + [
        analysis.section for analysis in listed_analyses()
        if analysis.section and analysis.id in analysis_numbers and analysis_numbers[analysis.id].get("present", True)
    ]  # fmt: skip
