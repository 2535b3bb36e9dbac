rule aggregate:
    """One tidy table per measure across runs, the M4 myopia gap (paired runs), and one row per run."""
    input:
        **{name: per_run(f"{name}.csv") for name in MEASURE_NAMES},
        records=per_run("record.json"),
        timings=per_run("measure_timing.json"),
    output:
        **{name: f"{RESULTS}/tables/{name}.csv" for name in MEASURE_NAMES},
        gap=f"{RESULTS}/tables/m4_myopia_gap.csv",
        runs=f"{RESULTS}/tables/runs.csv",
    params:
        measures=MEASURE_NAMES,
    log:
        f"{LOGS}/aggregate.log",
    benchmark:
        f"{BENCHMARKS}/aggregate.tsv"
    script:
        "../scripts/aggregate.py"


rule statistics:
    """Distance-profile slopes per seed and their bootstrap intervals; the numbers the paper prints."""
    input:
        m1=rules.aggregate.output.m1_gradient_matrix,
        runs=rules.aggregate.output.runs,
        records=per_run("record.json"),
    output:
        profile=f"{RESULTS}/tables/m2_distance_profile.csv",
        profile_summary=f"{RESULTS}/tables/distance_profile_summary.csv",
        position_profile=f"{RESULTS}/tables/m2_position_profile.csv",
        fits=f"{RESULTS}/tables/distance_fits.csv",
        summary=f"{RESULTS}/tables/distance_summary.csv",
        numbers=f"{RESULTS}/paper_numbers.json",
    params:
        config=lambda wildcards: json.dumps(STUDY.config, sort_keys=True),
    log:
        f"{LOGS}/statistics.log",
    benchmark:
        f"{BENCHMARKS}/statistics.tsv"
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
    script:
        "../scripts/readme.py"
