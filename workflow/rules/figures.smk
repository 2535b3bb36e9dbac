FIGURE_PARAMS = dict(conditions=STUDY.paper_conditions(), confidence=STUDY.config["stats"]["confidence"])  # noqa: C408


rule figure_gradient_flow:
    """Heatmaps of G^l and distance profiles with interval bands, init vs trained, one row per task."""
    input:
        style=FIGURE_STYLE,
        m1=rules.aggregate.output.m1_gradient_matrix,
        profile=rules.statistics.output.profile_summary,
        runs=rules.aggregate.output.runs,
    output:
        pdf=f"{RESULTS}/figures/gradient_flow.pdf",
        png=report(
            f"{RESULTS}/figures/gradient_flow.png",
            caption="../report/gradient_flow.rst",
            category="C1 and C4: reach and distance",
            subcategory="gradient matrices and distance profiles",
        ),
    params:
        **FIGURE_PARAMS,
    log:
        f"{LOGS}/figures/gradient_flow.log",
    benchmark:
        f"{BENCHMARKS}/figures/gradient_flow.tsv"
    conda:
        SOFTWARE
    script:
        "../../figures/gradient_flow.py"


rule figure_distance_profiles:
    """Distance profiles by positional encoding, per task and layer, with the fitted power laws."""
    input:
        style=FIGURE_STYLE,
        profile=rules.statistics.output.profile_summary,
        runs=rules.aggregate.output.runs,
        fits=rules.statistics.output.fits,
    output:
        pdf=f"{RESULTS}/figures/distance_profiles.pdf",
        png=report(
            f"{RESULTS}/figures/distance_profiles.png",
            caption="../report/distance_profiles.rst",
            category="C1 and C4: reach and distance",
            subcategory="distance profiles by encoding",
        ),
    params:
        **FIGURE_PARAMS,
    log:
        f"{LOGS}/figures/distance_profiles.log",
    benchmark:
        f"{BENCHMARKS}/figures/distance_profiles.tsv"
    conda:
        SOFTWARE
    script:
        "../../figures/distance_profiles.py"


rule figure_loss_by_regime:
    """Held-out loss by task and training regime."""
    input:
        style=FIGURE_STYLE,
        runs=rules.aggregate.output.runs,
    output:
        pdf=f"{RESULTS}/figures/loss_by_regime.pdf",
        png=report(
            f"{RESULTS}/figures/loss_by_regime.png",
            caption="../report/loss_by_regime.rst",
            category="C2: pre-caching",
            subcategory="loss by regime",
        ),
    params:
        **FIGURE_PARAMS,
    log:
        f"{LOGS}/figures/loss_by_regime.log",
    benchmark:
        f"{BENCHMARKS}/figures/loss_by_regime.tsv"
    conda:
        SOFTWARE
    script:
        "../../figures/loss_by_regime.py"


rule figure_gradient_matrices:
    """C1, C4: trained gradient matrices G^0 for every positional encoding, one row per task."""
    input:
        style=FIGURE_STYLE,
        m1=rules.aggregate.output.m1_gradient_matrix,
        runs=rules.aggregate.output.runs,
    output:
        pdf=f"{RESULTS}/figures/gradient_matrices.pdf",
        png=report(
            f"{RESULTS}/figures/gradient_matrices.png",
            caption="../report/gradient_matrices.rst",
            category="C1 and C4: reach and distance",
            subcategory="gradient matrices by encoding",
        ),
    params:
        **FIGURE_PARAMS,
    log:
        f"{LOGS}/figures/gradient_matrices.log",
    benchmark:
        f"{BENCHMARKS}/figures/gradient_matrices.tsv"
    conda:
        SOFTWARE
    script:
        "../../figures/gradient_matrices.py"


rule figure_decomposition:
    """C2: gradient decomposition shares by layer, after and along training."""
    input:
        style=FIGURE_STYLE,
        shares=rules.statistics.output.shares,
        runs=rules.aggregate.output.runs,
    output:
        pdf=f"{RESULTS}/figures/decomposition.pdf",
        png=report(
            f"{RESULTS}/figures/decomposition.png",
            caption="../report/decomposition.rst",
            category="C2: pre-caching",
            subcategory="gradient decomposition",
        ),
    params:
        **FIGURE_PARAMS,
    log:
        f"{LOGS}/figures/decomposition.log",
    benchmark:
        f"{BENCHMARKS}/figures/decomposition.tsv"
    conda:
        SOFTWARE
    script:
        "../../figures/decomposition.py"


rule figure_myopia:
    """C2: myopia gap per task and regime; held-out loss per position, standard vs myopic."""
    input:
        style=FIGURE_STYLE,
        gap=rules.statistics.output.gap_summary,
        by_position=rules.statistics.output.gap_by_position,
    output:
        pdf=f"{RESULTS}/figures/myopia.pdf",
        png=report(
            f"{RESULTS}/figures/myopia.png",
            caption="../report/myopia.rst",
            category="C2: pre-caching",
            subcategory="myopia gap",
        ),
    log:
        f"{LOGS}/figures/myopia.log",
    benchmark:
        f"{BENCHMARKS}/figures/myopia.tsv"
    conda:
        SOFTWARE
    script:
        "../../figures/myopia.py"


rule figure_probes:
    """C2: probe R^2 of the pre-caching feature by layer, standard vs myopic."""
    input:
        style=FIGURE_STYLE,
        probes=rules.aggregate.output.m6_probes,
        runs=rules.aggregate.output.runs,
    output:
        pdf=f"{RESULTS}/figures/probes.pdf",
        png=report(
            f"{RESULTS}/figures/probes.png",
            caption="../report/probes.rst",
            category="C2: pre-caching",
            subcategory="probes",
        ),
    params:
        **FIGURE_PARAMS,
    log:
        f"{LOGS}/figures/probes.log",
    benchmark:
        f"{BENCHMARKS}/figures/probes.tsv"
    conda:
        SOFTWARE
    script:
        "../../figures/probes.py"


rule figure_coverage:
    """C3: weight coverage by a single token's loss against position."""
    input:
        style=FIGURE_STYLE,
        coverage=rules.statistics.output.coverage,
    output:
        pdf=f"{RESULTS}/figures/coverage.pdf",
        png=report(
            f"{RESULTS}/figures/coverage.png",
            caption="../report/coverage.rst",
            category="C3: weight coverage",
            subcategory="coverage",
        ),
    log:
        f"{LOGS}/figures/coverage.log",
    benchmark:
        f"{BENCHMARKS}/figures/coverage.tsv"
    conda:
        SOFTWARE
    script:
        "../../figures/coverage.py"


rule figure_channels:
    """C6: weight channel vs context channel."""
    input:
        style=FIGURE_STYLE,
        channels=rules.statistics.output.channels,
    output:
        pdf=f"{RESULTS}/figures/channels.pdf",
        png=report(
            f"{RESULTS}/figures/channels.png",
            caption="../report/channels.rst",
            category="C6: weight vs context channel",
            subcategory="channels",
        ),
    log:
        f"{LOGS}/figures/channels.log",
    benchmark:
        f"{BENCHMARKS}/figures/channels.tsv"
    conda:
        SOFTWARE
    script:
        "../../figures/channels.py"


rule figure_training_curves:
    """Training loss curves per task and condition."""
    input:
        style=FIGURE_STYLE,
        log=rules.aggregate.output.train_log,
        runs=rules.aggregate.output.runs,
    output:
        pdf=f"{RESULTS}/figures/training_curves.pdf",
        png=report(
            f"{RESULTS}/figures/training_curves.png",
            caption="../report/training_curves.rst",
            category="Training",
            subcategory="training curves",
        ),
    params:
        **FIGURE_PARAMS,
    log:
        f"{LOGS}/figures/training_curves.log",
    benchmark:
        f"{BENCHMARKS}/figures/training_curves.tsv"
    conda:
        SOFTWARE
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
