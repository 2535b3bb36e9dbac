"""The study's figures, one entry each: what the HTML report files it under, the tables it reads, the measure it needs.

``workflow/rules/figures.smk`` makes one rule per entry; ``python -m figures`` draws the same entries from a
tables folder. A figure's module is ``figures/<name>.py`` (or ``script``, for a module shared by several
figures) and its caption ``workflow/report/<name>.rst``.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class FigureEntry:
    """One figure: its place in the report, its tables and what else its ``plot`` is given."""

    category: str
    subcategory: str
    tables: Mapping[str, str]  # plot's name for a table -> results/<profile>/tables/<table>.csv
    needs: str | None = None  # the measure it draws: a profile whose runs all skip it (measure.only) has no such figure
    script: str | None = None  # its module, where one module draws several figures (default: the figure's name)
    params: Mapping[str, Any] = field(default_factory=dict)  # fixed keyword arguments of plot

    def module(self, name: str) -> str:
        return self.script or name


REACH = "C1 and C4: reach and distance"
C2 = "C2: pre-caching"
SINKS = "Primacy and attention sinks"

FIGURE_TABLE: dict[str, FigureEntry] = {
    "training_curves": FigureEntry("Training", "training curves", {"log": "train_log", "runs": "runs"}),
    "loss_by_regime": FigureEntry(C2, "loss by regime", {"runs": "runs"}),
    "gradient_flow": FigureEntry(REACH, "gradient matrices", {"m1": "m1_gradient_matrix", "profile": "c4_profile_summary",
                                                              "runs": "runs"}, needs="m1_gradient_matrix"),
    "gradient_matrices": FigureEntry(REACH, "matrices by encoding", {"m1": "m1_gradient_matrix", "runs": "runs"},
                                     needs="m1_gradient_matrix"),
    "distance_profiles": FigureEntry(REACH, "within-target distance profiles", {"profile": "c4_profile_summary",
                                     "runs": "runs", "fits": "c4_fits"}, needs="m1_gradient_matrix"),
    "distance_sweep": FigureEntry(REACH, "known-distance sweep", {"summary": "c4_sweep", "slopes": "c4_sweep_slopes"},
                                  needs="m1_dependency_share"),
    "myopia": FigureEntry(C2, "myopia gap along training", {"along": "c2_did_by_step", "by_position": "c2_gap_by_position"},
                          needs="m4_position_loss"),
    "decomposition": FigureEntry(C2, "gradient decomposition", {"shares": "c2_decomposition_shares", "runs": "runs"},
                                 needs="m3_decomposition"),
    "probes": FigureEntry(C2, "probes", {"probes": "m6_probes", "runs": "runs"}, needs="m6_probes"),
    "coverage": FigureEntry("C3: structural reachability", "reachability", {"coverage": "c3_reachability"},
                            needs="m5_reachability"),
    "channels": FigureEntry("C6: weight vs context channel", "channels against step size",
                            {"curves": "c6_curves", "summary": "c6_summary"}, needs="m7_weight_channel"),
    "primacy": FigureEntry(SINKS, "primacy by source position", {"sources": "primacy_sources", "summary": "primacy_summary",
                                                                 "runs": "runs"}, needs="m1_gradient_matrix"),
    "sinks": FigureEntry(SINKS, "attention sinks", {"share": "sink_share", "gradient": "sink_gradient",
                                                    "attention": "m8_attention_mass"}, needs="m8_attention_mass"),
}

# The scaling profile only (stats.scaling): one figure per deciding quantity, all drawn by figures/scaling.py.
SCALING_FIGURES: dict[str, FigureEntry] = {
    f"scaling_{claim}": FigureEntry("Scaling", subcategory, {"levels": "scaling_levels"}, script="scaling",
                                    params={"quantities": quantities})
    for claim, subcategory, quantities in (
        ("c2", "C2 difference-in-differences", ["did", "did_relative"]),
        ("c4", "C4 exponent and slope", ["c4_exponent", "c4_slope"]),
        ("c1", "C1 enrichment", ["c1_enrichment"]),
        ("c6", "C6 ratio", ["c6_ratio"]),
        ("primacy", "primacy", ["primacy_first_init", "primacy_first_trained", "primacy_early_init", "primacy_early_trained"]),
    )
}


def drawn(study: Any) -> dict[str, FigureEntry]:
    """The figures a profile (``analysis.config.Study``) draws: those whose measure some run takes, and the
    scaling ones where it sweeps (``stats.scaling``)."""
    from analysis.measures import MEASURES

    measured = {name for spec in study.runs.values() for name in spec.measure.get("only", MEASURES.names())} | {None}
    table = FIGURE_TABLE | (SCALING_FIGURES if study.config["stats"].get("scaling") else {})
    return {name: entry for name, entry in table.items() if entry.needs in measured}


def study_params(study: Any) -> dict[str, Any]:
    """What a figure's ``plot`` may ask for by name, read from the validated study (``analysis.config.Study``)."""
    return {
        "conditions": study.paper_conditions(),
        "confidence": study.config["stats"]["confidence"],
        "default_encoding": study.config["model"]["pos_encoding"],  # the reference encoding of the figures that draw one
    }
