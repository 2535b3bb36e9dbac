rule train_and_measure:
    """Train one (condition, seed), then apply every measure to every checkpoint (init, log-spaced steps, end).

    One job per run: a job costs about 3 s of interpreter and torch start-up, a
    fifth of the default study when training and measuring were separate jobs.
    """
    output:
        record=f"{RESULTS}/runs/{{condition}}/seed{{seed}}/record.json",
        log_table=f"{RESULTS}/runs/{{condition}}/seed{{seed}}/train_log.csv",
        **{name: f"{RESULTS}/runs/{{condition}}/seed{{seed}}/{name}.csv" for name in MEASURE_NAMES},
        timing=f"{RESULTS}/runs/{{condition}}/seed{{seed}}/measure_timing.json",
    params:
        spec=run_spec_json,
    log:
        f"{LOGS}/runs/{{condition}}/seed{{seed}}.log",
    benchmark:
        f"{BENCHMARKS}/runs/{{condition}}/seed{{seed}}.tsv"
    threads: 1
    script:
        "../scripts/train_and_measure.py"
