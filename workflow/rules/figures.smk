rule figure_gradient_flow:
    """Heatmaps of G^l and distance profiles with interval bands, init vs trained."""
    input:
        m1=rules.aggregate.output.m1,
        profile=rules.statistics.output.profile,
        runs=rules.aggregate.output.runs,
    output:
        pdf=f"{RESULTS}/figures/gradient_flow.pdf",
        png=f"{RESULTS}/figures/gradient_flow.png",
    params:
        experiment_runs=lambda wildcards: STUDY.experiments[STUDY.config["paper"]["experiment"]],
        confidence=STUDY.config["stats"]["confidence"],
    log:
        f"{LOGS}/figures/gradient_flow.log",
    script:
        "../../figures/gradient_flow.py"
