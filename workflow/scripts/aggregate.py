"""Snakemake job: concatenate per-run tables into one tidy table per measure; pair runs for the M4 gap.

Only trained runs are read; runs that diverged (``analysis.outcomes``) are listed in
``missing_runs.csv`` and nothing of theirs enters a table.
"""
from pathlib import Path

import pandas as pd

from analysis.io import read_json, write_table
from analysis.logs import log_to
from analysis.measures.myopia import myopia_gap
from analysis.outcomes import MISSING_COLUMNS, TRAINED, missing_row, read_run_table, status
from analysis.stats.runs import check_same_corpus, runs_table

with log_to(snakemake.log[0]):
    records = {Path(path).parent: read_json(path) for path in snakemake.input.records}
    trained = {run_dir for run_dir, record in records.items() if status(record) == TRAINED}
    missing = pd.DataFrame([missing_row(r) for d, r in records.items() if d not in trained], columns=MISSING_COLUMNS)
    write_table(snakemake.output.missing, missing)
    for row in missing.itertuples():
        print(f"MISSING: {row.run_id} {row.status} at step {row.step} (loss {row.loss}); excluded from every table")
    if not trained:
        raise RuntimeError(f"no run finished training; see {snakemake.output.missing}")

    def trained_paths(paths: list[str]) -> list[str]:
        return [path for path in paths if Path(path).parent in trained]

    tables = {}
    for name in snakemake.params.measures:
        tables[name] = pd.concat((read_run_table(path) for path in trained_paths(snakemake.input[name])), ignore_index=True)
        write_table(snakemake.output[name], tables[name])
        print(f"{name}: {len(tables[name])} rows")
    logs = []
    for path in trained_paths(snakemake.input.train_logs):  # runs/<condition>/seed<k>/train_log.csv
        parts = Path(path).parts
        logs.append(pd.read_csv(path).assign(condition=parts[-3], seed=int(parts[-2].removeprefix("seed"))))
    write_table(snakemake.output.train_log, pd.concat(logs, ignore_index=True))
    kept = [records[Path(path).parent] for path in trained_paths(snakemake.input.records)]
    timings = [read_json(path) for path in trained_paths(snakemake.input.timings)]
    check_same_corpus(kept)
    runs = runs_table(kept, timings)
    write_table(snakemake.output.runs, runs)
    gap = myopia_gap(tables["m4_position_loss"], runs)
    write_table(snakemake.output.gap, gap)
    print(f"m4_myopia_gap: {len(gap)} rows from {gap['condition'].nunique()} myopic conditions")
