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
    """Distance profiles by positional encoding, per task and layer, with the fitted power laws."""
    input:
        profile=rules.statistics.output.profile_summary,
        runs=rules.aggregate.output.runs,
        fits=rules.statistics.output.fits,
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


rule figure_gradient_matrices:
    """C1, C4: trained gradient matrices G^0 for every positional encoding, one row per task."""
    input:
        m1=rules.aggregate.output.m1_gradient_matrix,
        runs=rules.aggregate.output.runs,
    output:
        pdf=f"{RESULTS}/figures/gradient_matrices.pdf",
        png=f"{RESULTS}/figures/gradient_matrices.png",
    params:
        **FIGURE_PARAMS,
    log:
        f"{LOGS}/figures/gradient_matrices.log",
    script:
        "../../figures/gradient_matrices.py"


rule figure_decomposition:
    """C2: gradient decomposition shares by layer, after and along training."""
    input:
        shares=rules.statistics.output.shares,
        runs=rules.aggregate.output.runs,
    output:
        pdf=f"{RESULTS}/figures/decomposition.pdf",
        png=f"{RESULTS}/figures/decomposition.png",
    params:
        **FIGURE_PARAMS,
    log:
        f"{LOGS}/figures/decomposition.log",
    script:
        "../../figures/decomposition.py"


rule figure_myopia:
    """C2: myopia gap per task and regime; held-out loss per position, standard vs myopic."""
    input:
        gap=rules.statistics.output.gap_summary,
        by_position=rules.statistics.output.gap_by_position,
    output:
        pdf=f"{RESULTS}/figures/myopia.pdf",
        png=f"{RESULTS}/figures/myopia.png",
    log:
        f"{LOGS}/figures/myopia.log",
    script:
        "../../figures/myopia.py"


rule figure_probes:
    """C2: probe R^2 of the pre-caching feature by layer, standard vs myopic."""
    input:
        probes=rules.aggregate.output.m6_probes,
        runs=rules.aggregate.output.runs,
    output:
        pdf=f"{RESULTS}/figures/probes.pdf",
        png=f"{RESULTS}/figures/probes.png",
    params:
        **FIGURE_PARAMS,
    log:
        f"{LOGS}/figures/probes.log",
    script:
        "../../figures/probes.py"


rule figure_coverage:
    """C3: weight coverage by a single token's loss against position."""
    input:
        coverage=rules.statistics.output.coverage,
    output:
        pdf=f"{RESULTS}/figures/coverage.pdf",
        png=f"{RESULTS}/figures/coverage.png",
    log:
        f"{LOGS}/figures/coverage.log",
    script:
        "../../figures/coverage.py"


rule figure_channels:
    """C6: weight channel vs context channel."""
    input:
        channels=rules.statistics.output.channels,
    output:
        pdf=f"{RESULTS}/figures/channels.pdf",
        png=f"{RESULTS}/figures/channels.png",
    log:
        f"{LOGS}/figures/channels.log",
    script:
        "../../figures/channels.py"


rule figure_training_curves:
    """Training loss curves per task and condition."""
    input:
        log=rules.aggregate.output.train_log,
        runs=rules.aggregate.output.runs,
    output:
        pdf=f"{RESULTS}/figures/training_curves.pdf",
        png=f"{RESULTS}/figures/training_curves.png",
    params:
        **FIGURE_PARAMS,
    log:
        f"{LOGS}/figures/training_curves.log",
    script:
        "../../figures/training_curves.py"


FIGURES = [
    *rules.figure_gradient_flow.output,
    *rules.figure_distance_profiles.output,
    *rules.figure_loss_by_regime.output,
    *rules.figure_gradient_matrices.output,
    *rules.figure_decomposition.output,
    *rules.figure_myopia.output,
    *rules.figure_probes.output,
    *rules.figure_coverage.output,
    *rules.figure_channels.output,
    *rules.figure_training_curves.output,
]
