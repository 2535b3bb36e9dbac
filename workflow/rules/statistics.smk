rule aggregate:
    """One tidy table per measure across runs, the M4 myopia gap (paired runs), and one row per run."""
    input:
        **{name: per_run(f"{name}.csv") for name in MEASURE_NAMES},
        records=per_run("record.json"),
        timings=per_run("measure_timing.json"),
        train_logs=per_run("train_log.csv"),
    output:
        **{name: f"{RESULTS}/tables/{name}.csv" for name in MEASURE_NAMES},
        train_log=f"{RESULTS}/tables/train_log.csv",
        gap=f"{RESULTS}/tables/m4_myopia_gap.csv",
        runs=f"{RESULTS}/tables/runs.csv",
        missing=f"{RESULTS}/tables/missing_runs.csv",
    params:
        measures=MEASURE_NAMES,
    log:
        f"{LOGS}/aggregate.log",
    benchmark:
        f"{BENCHMARKS}/aggregate.tsv"
    conda:
        SOFTWARE
    script:
        "../scripts/aggregate.py"


rule statistics:
    """Statistics over seeds for every claim (fits, paired tests, Holm), the verdicts, and the paper's numbers."""
    input:
        m1=rules.aggregate.output.m1_gradient_matrix,
        m3=rules.aggregate.output.m3_decomposition,
        m5=rules.aggregate.output.m5_coverage,
        m6=rules.aggregate.output.m6_probes,
        m7_weight=rules.aggregate.output.m7_weight_channel,
        m7_context=rules.aggregate.output.m7_context_channel,
        gap=rules.aggregate.output.gap,
        runs=rules.aggregate.output.runs,
        missing=rules.aggregate.output.missing,
        records=per_run("record.json"),
        code=STATISTICS_CODE,
    output:
        profile=f"{RESULTS}/tables/m2_distance_profile.csv",
        profile_summary=f"{RESULTS}/tables/distance_profile_summary.csv",
        position_profile=f"{RESULTS}/tables/m2_position_profile.csv",
        first_position=f"{RESULTS}/tables/m2_first_position.csv",
        fits=f"{RESULTS}/tables/distance_fits.csv",
        summary=f"{RESULTS}/tables/c4_distance_summary.csv",
        gap_summary=f"{RESULTS}/tables/c2_myopia_gap.csv",
        gap_by_position=f"{RESULTS}/tables/c2_gap_by_position.csv",
        shares=f"{RESULTS}/tables/c2_decomposition_shares.csv",
        probes=f"{RESULTS}/tables/c2_probes.csv",
        reach=f"{RESULTS}/tables/c1_reach.csv",
        coverage=f"{RESULTS}/tables/c3_coverage.csv",
        channels=f"{RESULTS}/tables/c6_channels.csv",
        verdicts=report(f"{RESULTS}/tables/verdicts.csv", caption="../report/verdicts.rst", category="Verdicts"),
        numbers=f"{RESULTS}/paper_numbers.json",
    params:
        config=lambda wildcards: json.dumps(STUDY.config, sort_keys=True),
    log:
        f"{LOGS}/statistics.log",
    benchmark:
        f"{BENCHMARKS}/statistics.tsv"
    conda:
        SOFTWARE
    script:
        "../scripts/statistics.py"


rule headline:
    """The README's headline table, from the numbers the paper prints."""
    input:
        numbers=rules.statistics.output.numbers,
    output:
        block=f"{RESULTS}/headline.md",
    log:
        f"{LOGS}/headline.log",
    benchmark:
        f"{BENCHMARKS}/headline.tsv"
    conda:
        SOFTWARE
    script:
        "../scripts/readme.py"
