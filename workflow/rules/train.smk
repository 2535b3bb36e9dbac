rule train:
    """Train one (condition, seed); checkpoints at init, log-spaced steps and the end."""
    output:
        record=f"{RESULTS}/runs/{{condition}}/seed{{seed}}/record.json",
        log_table=f"{RESULTS}/runs/{{condition}}/seed{{seed}}/train_log.csv",
    params:
        spec=run_spec_json,
    log:
        f"{LOGS}/train/{{condition}}/seed{{seed}}.log",
    benchmark:
        f"{BENCHMARKS}/train/{{condition}}/seed{{seed}}.tsv"
    threads: 1
    script:
        "../scripts/train.py"
