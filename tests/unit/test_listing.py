"""The claim list read in one place (``analysis/stats/listing.py``): the paper's sections come from it, in order."""
from __future__ import annotations

import re

from workflow_helpers import REPO

from analysis.stats.listing import ANALYSES, CLAIMS, paper_sections

PAPER = REPO / "paper"
ANALYSES_RAN = {"primacy": {}, "scaling": {"present": False}, "sinks": {}}  # as the default profile's numbers say


def test_the_sections_are_the_claims_then_the_analyses_present_in_the_papers_order() -> None:
    claims = [claim.section for claim in CLAIMS]
    assert paper_sections(ANALYSES_RAN) == [*claims, "primacy", "sinks"]
    assert paper_sections({**ANALYSES_RAN, "scaling": {"present": True}}) == [*claims, "primacy", "sinks", "scaling"]
    assert paper_sections({"sinks": {}}) == [*claims, "sinks"]  # an analysis that did not run has no section


def test_every_listed_claim_and_analysis_has_its_section_file() -> None:
    listed = [*CLAIMS, *ANALYSES]
    assert all(item.section for item in listed), [item.id for item in listed if not item.section]
    missing = [item.section for item in listed if not (PAPER / "sections" / f"{item.section}.typ").exists()]
    assert not missing, f"paper/sections/<section>.typ missing for {missing}"


def test_main_typ_includes_the_listed_sections_only() -> None:
    main = (PAPER / "main.typ").read_text()
    assert re.search(r'#for name in n\.sections \{\n  include "sections/" \+ name \+ "\.typ"\n\}', main)
    by_hand = re.findall(r'include "sections/(\w+)\.typ"', main)
    assert by_hand == ["related"], f"sections included by hand, not from the claim list: {by_hand}"
    placed = re.findall(r'figure-if\("(\w+)"', main)
    assert placed == ["training_curves"], f"each section places its own figures (main.typ: the methods' only): {placed}"
