# One rule per figure, generated from one table: the figure's name (its script figures/<name>.py, its caption
# workflow/report/<name>.rst), where the HTML report files it, the tables it reads (input name -> table), and
# optionally {"script": <a script shared by several figures>, "needs": <the measure it draws>, <param>: <value>, ...}:
# a figure whose measure no run of the profile takes (measure.only) has no rule.
FIGURE_PARAMS = dict(  # noqa: C408
    conditions=STUDY.paper_conditions(),
    confidence=STUDY.config["stats"]["confidence"],
    default_encoding=STUDY.config["model"]["pos_encoding"],  # the reference encoding of the figures that draw one
)

FIGURE_TABLE = {
    "training_curves": ("Training", "training curves", {"log": "train_log", "runs": "runs"}),
    "loss_by_regime": ("C2: pre-caching", "loss by regime", {"runs": "runs"}),
    "gradient_flow": ("C1 and C4: reach and distance", "gradient matrices", {"m1": "m1_gradient_matrix", "profile": "c4_profile_summary", "runs": "runs"}, {"needs": "m1_gradient_matrix"}),
    "gradient_matrices": ("C1 and C4: reach and distance", "matrices by encoding", {"m1": "m1_gradient_matrix", "runs": "runs"}, {"needs": "m1_gradient_matrix"}),
    "distance_profiles": ("C1 and C4: reach and distance", "within-target distance profiles", {"profile": "c4_profile_summary", "runs": "runs", "fits": "c4_fits"}, {"needs": "m1_gradient_matrix"}),
    "distance_sweep": ("C1 and C4: reach and distance", "known-distance sweep", {"summary": "c4_sweep", "slopes": "c4_sweep_slopes"}, {"needs": "m1_dependency_share"}),
    "myopia": ("C2: pre-caching", "myopia gap along training", {"along": "c2_did_by_step", "by_position": "c2_gap_by_position"}, {"needs": "m4_position_loss"}),
    "decomposition": ("C2: pre-caching", "gradient decomposition", {"shares": "c2_decomposition_shares", "runs": "runs"}, {"needs": "m3_decomposition"}),
    "probes": ("C2: pre-caching", "probes", {"probes": "m6_probes", "runs": "runs"}, {"needs": "m6_probes"}),
    "coverage": ("C3: structural reachability", "reachability", {"coverage": "c3_reachability"}, {"needs": "m5_reachability"}),
    "channels": ("C6: weight vs context channel", "channels against step size", {"curves": "c6_curves", "summary": "c6_summary"}, {"needs": "m7_weight_channel"}),
    "primacy": ("Primacy and attention sinks", "primacy by source position", {"sources": "primacy_sources", "summary": "primacy_summary", "runs": "runs"}, {"needs": "m1_gradient_matrix"}),
    "sinks": ("Primacy and attention sinks", "attention sinks", {"share": "sink_share", "gradient": "sink_gradient", "attention": "m8_attention_mass"}, {"needs": "m8_attention_mass"}),
    **({  # the scaling profile only: one figure per deciding quantity, drawn by figures/scaling.py
        f"scaling_{claim}": ("Scaling", subcategory, {"levels": "scaling_levels"}, {"script": "scaling", "quantities": quantities})
        for claim, subcategory, quantities in (
            ("c2", "C2 difference-in-differences", ["did", "did_relative"]),
            ("c4", "C4 exponent and slope", ["c4_exponent", "c4_slope"]),
            ("c1", "C1 enrichment", ["c1_enrichment"]),
            ("c6", "C6 ratio", ["c6_ratio"]),
            ("primacy", "primacy", ["primacy_first_init", "primacy_first_trained", "primacy_early_init", "primacy_early_trained"]),
        )
    } if STUDY.config["stats"].get("scaling") else {}),
}
FIGURE_TABLE = {name: entry for name, entry in FIGURE_TABLE.items() if figure_drawn(entry)}


for figure_name, (figure_category, figure_subcategory, figure_tables, *figure_extra) in FIGURE_TABLE.items():
    figure_options = dict(figure_extra[0]) if figure_extra else {}
    figure_script = figure_options.pop("script", figure_name)
    figure_options.pop("needs", None)

    rule:
        name:
            f"figure_{figure_name}"
        input:
            style=FIGURE_STYLE,
            code=str(REPO / "figures" / f"{figure_script}.py"),  # an edited figure script redraws its figure
            **{key: f"{RESULTS}/tables/{table}.csv" for key, table in figure_tables.items()},
        output:
            pdf=f"{RESULTS}/figures/{figure_name}.pdf",
            png=report(
                f"{RESULTS}/figures/{figure_name}.png",
                caption=f"../report/{figure_name}.rst",
                category=figure_category,
                subcategory=figure_subcategory,
            ),
        params:
            **params_read_by(figure_script, FIGURE_PARAMS),
            **figure_options,
            figure=figure_script,
        log:
            f"{LOGS}/figures/{figure_name}.log",
        benchmark:
            f"{BENCHMARKS}/figures/{figure_name}.tsv"
        conda:
            SOFTWARE
        script:
            "../../figures/draw.py"


FIGURES = [f"{RESULTS}/figures/{name}.{kind}" for name in FIGURE_TABLE for kind in ("pdf", "png")]
