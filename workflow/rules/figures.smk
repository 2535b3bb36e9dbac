# One rule per figure, generated from one table: the figure's name (its script figures/<name>.py, its caption
# workflow/report/<name>.rst), where the HTML report files it, and the tables it reads (input name -> table).
FIGURE_PARAMS = dict(conditions=STUDY.paper_conditions(), confidence=STUDY.config["stats"]["confidence"])  # noqa: C408

FIGURE_TABLE = {
    "training_curves": ("Training", "training curves", {"log": "train_log", "runs": "runs"}),
    "loss_by_regime": ("C2: pre-caching", "loss by regime", {"runs": "runs"}),
    "gradient_flow": ("C1 and C4: reach and distance", "gradient matrices", {"m1": "m1_gradient_matrix", "profile": "c4_profile_summary", "runs": "runs"}),
    "gradient_matrices": ("C1 and C4: reach and distance", "matrices by encoding", {"m1": "m1_gradient_matrix", "runs": "runs"}),
    "distance_profiles": ("C1 and C4: reach and distance", "within-target distance profiles", {"profile": "c4_profile_summary", "runs": "runs", "fits": "c4_fits"}),
    "myopia": ("C2: pre-caching", "myopia gap along training", {"along": "c2_did_by_step", "by_position": "c2_gap_by_position"}),
    "decomposition": ("C2: pre-caching", "gradient decomposition", {"shares": "c2_decomposition_shares", "runs": "runs"}),
    "probes": ("C2: pre-caching", "probes", {"probes": "m6_probes", "runs": "runs"}),
    "coverage": ("C3: structural reachability", "reachability", {"coverage": "c3_reachability"}),
    "channels": ("C6: weight vs context channel", "channels against step size", {"channels": "c6_summary"}),
    "primacy": ("Primacy and attention sinks", "primacy by source position", {"sources": "primacy_sources", "summary": "primacy_summary", "runs": "runs"}),
    # figures: sinks
    # figures: scaling
}


for figure_name, (figure_category, figure_subcategory, figure_tables) in FIGURE_TABLE.items():

    rule:
        name:
            f"figure_{figure_name}"
        input:
            style=FIGURE_STYLE,
            code=str(REPO / "figures" / f"{figure_name}.py"),  # an edited figure script redraws its figure
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
            **FIGURE_PARAMS,
            figure=figure_name,
        log:
            f"{LOGS}/figures/{figure_name}.log",
        benchmark:
            f"{BENCHMARKS}/figures/{figure_name}.tsv"
        conda:
            SOFTWARE
        script:
            "../../figures/draw.py"


FIGURES = [f"{RESULTS}/figures/{name}.{kind}" for name in FIGURE_TABLE for kind in ("pdf", "png")]
