RUN_FILES = ["record.json", "train_log.csv", "measure_timing.json", *(f"{name}.csv" for name in MEASURE_NAMES)]

# One rule per (condition, seed block), defined in a loop so every per-run output is declared:
# train each run of the block, then apply every measure to every checkpoint (init, log-spaced
# steps, end). A block shares one process, so it pays the interpreter's and torch's start-up once
# (docs/performance.md, "Job start-up").
for (_condition, _block), _run_ids in run_blocks().items():

    rule:
        name:
            block_rule_name(_condition, _block)
        output:
            [run_path(run_id, name) for run_id in _run_ids for name in RUN_FILES],
        params:
            specs=json.dumps([STUDY.runs[run_id].to_dict() for run_id in _run_ids], sort_keys=True),
            results=results_dir_of_outputs,
        log:
            f"{LOGS}/runs/{_condition}/block{_block}.log",
        benchmark:
            f"{BENCHMARKS}/runs/{_condition}/block{_block}.tsv"
        threads: 1
        conda:
            SOFTWARE
        resources:
            # 1 = this job wants a GPU slot; `--resources gpu=N` lets N jobs share one card (0 for device: cpu)
            gpu=block_gpu(_run_ids),
        script:
            "../scripts/train_and_measure.py"
