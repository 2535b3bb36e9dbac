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
        eval_curve=f"{RESULTS}/tables/eval_curve.csv",
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
    """Each claim's statistics over seeds and its verdict (analysis/stats/c*.py), the descriptive analyses
    (analysis/stats/descriptive.py), and the paper's numbers."""
    input:
        **{name: f"{RESULTS}/tables/{name}.csv" for name in AGGREGATED_TABLES},
        runs=rules.aggregate.output.runs,
        missing=rules.aggregate.output.missing,
        records=per_run("record.json"),
        code=STATISTICS_CODE,
    output:
        **{name: f"{RESULTS}/tables/{name}.csv" for name in CLAIM_TABLES},
        **{name: f"{RESULTS}/tables/{name}.csv" for name in ANALYSIS_TABLES},
        learning=f"{RESULTS}/tables/learning.csv",
        verdicts=report(f"{RESULTS}/tables/verdicts.csv", caption="../report/verdicts.rst", category="Verdicts"),
        numbers=f"{RESULTS}/paper_numbers.json",
    params:
        config=lambda wildcards: json.dumps(STUDY.config, sort_keys=True),
        tables=AGGREGATED_TABLES,
        paper_conditions=STUDY.paper_conditions(),
    log:
        f"{LOGS}/statistics.log",
    benchmark:
        f"{BENCHMARKS}/statistics.tsv"
    conda:
        SOFTWARE
    script:
        "../scripts/statistics.py"


rule readme_blocks:
    """The generated verdict and loss blocks of README.md and docs/results.md (make readme splices them), from the numbers the paper prints."""
    input:
        numbers=rules.statistics.output.numbers,
    output:
        block=f"{RESULTS}/headline.md",
    log:
        f"{LOGS}/readme_blocks.log",
    benchmark:
        f"{BENCHMARKS}/readme_blocks.tsv"
    conda:
        SOFTWARE
    script:
        "../scripts/readme_blocks.py"
