"""Snakemake job: one tidy table per measure across the trained runs, the runs table and the M4 gap (analysis.stats.stages).

Runs that diverged (``analysis.outcomes``) are listed in ``missing_runs.csv`` and nothing of theirs enters a table.
"""
from pathlib import Path

from analysis.io import read_json, write_table
from analysis.logs import log_to
from analysis.stats.stages import aggregate, missing_runs

with log_to(snakemake.log[0]):
    inputs, outputs = snakemake.input, snakemake.output
    records = {Path(path).parent: read_json(path) for path in inputs.records}
    missing = missing_runs(records)
    write_table(outputs.missing, missing)
    for row in missing.itertuples():
        print(f"MISSING: {row.run_id} {row.status} at step {row.step} (loss {row.loss}); excluded from every table")
    if len(missing) == len(records):
        raise RuntimeError(f"no run finished training; see {outputs.missing}")
    measures = {name: inputs[name] for name in snakemake.params.measures}
    for name, table in aggregate(records, measures, inputs.train_logs, inputs.timings).items():
        write_table(outputs[name], table)
