FIGURE_PARAMS = dict(conditions=STUDY.paper_conditions(), confidence=STUDY.config["stats"]["confidence"])  # noqa: C408


rule figure_gradient_flow:
    """Heatmaps of G^l and distance profiles with interval bands, init vs trained, one row per task."""
    input:
        m1=rules.aggregate.output.m1_gradient_matrix,
        profile=rules.statistics.output.profile_summary,
        runs=rules.aggregate.output.runs,
    output:
        pdf=f"{RESULTS}/figures/gradient_flow.pdf",
        png=f"{RESULTS}/figures/gradient_flow.png",
    params:
        **FIGURE_PARAMS,
    log:
        f"{LOGS}/figures/gradient_flow.log",
    script:
        "../../figures/gradient_flow.py"


rule figure_distance_profiles:
    """Distance profiles by positional encoding, per task and layer."""
    input:
        profile=rules.statistics.output.profile_summary,
        runs=rules.aggregate.output.runs,
    output:
        pdf=f"{RESULTS}/figures/distance_profiles.pdf",
        png=f"{RESULTS}/figures/distance_profiles.png",
    params:
        **FIGURE_PARAMS,
    log:
        f"{LOGS}/figures/distance_profiles.log",
    script:
        "../../figures/distance_profiles.py"


rule figure_loss_by_regime:
    """Held-out loss by task and training regime."""
    input:
        runs=rules.aggregate.output.runs,
    output:
        pdf=f"{RESULTS}/figures/loss_by_regime.pdf",
        png=f"{RESULTS}/figures/loss_by_regime.png",
    params:
        **FIGURE_PARAMS,
    log:
        f"{LOGS}/figures/loss_by_regime.log",
    script:
        "../../figures/loss_by_regime.py"


FIGURES = [
    *rules.figure_gradient_flow.output,
    *rules.figure_distance_profiles.output,
    *rules.figure_loss_by_regime.output,
]
