rule measure:
    """Gradient-flow measures on every checkpoint of one run."""
    input:
        record=f"{RESULTS}/runs/{{condition}}/seed{{seed}}/record.json",
    output:
        m1=f"{RESULTS}/runs/{{condition}}/seed{{seed}}/m1_gradient_matrix.csv",
        timing=f"{RESULTS}/runs/{{condition}}/seed{{seed}}/measure_timing.json",
    params:
        spec=run_spec_json,
    log:
        f"{LOGS}/measure/{{condition}}/seed{{seed}}.log",
    benchmark:
        f"{BENCHMARKS}/measure/{{condition}}/seed{{seed}}.tsv"
    threads: 1
    script:
        "../scripts/measure.py"
