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

with log_to(snakemake.log[0]):  # noqa: F821 (snakemake injects this object)
    records = {Path(path).parent: read_json(path) for path in snakemake.input.records}  # noqa: F821
    trained = {run_dir for run_dir, record in records.items() if status(record) == TRAINED}
    missing = pd.DataFrame([missing_row(r) for d, r in records.items() if d not in trained], columns=MISSING_COLUMNS)
    write_table(snakemake.output.missing, missing)  # noqa: F821
    for row in missing.itertuples():
        print(f"MISSING: {row.run_id} {row.status} at step {row.step} (loss {row.loss}); excluded from every table")
    if not trained:
        raise RuntimeError(f"no run finished training; see {snakemake.output.missing}")  # noqa: F821

    def trained_paths(paths: list[str]) -> list[str]:
        return [path for path in paths if Path(path).parent in trained]

    tables = {}
    for name in snakemake.params.measures:  # noqa: F821
        tables[name] = pd.concat((read_run_table(path) for path in trained_paths(snakemake.input[name])), ignore_index=True)  # noqa: F821
        write_table(snakemake.output[name], tables[name])  # noqa: F821
        print(f"{name}: {len(tables[name])} rows")
    logs = []
    for path in trained_paths(snakemake.input.train_logs):  # noqa: F821  (runs/<condition>/seed<k>/train_log.csv)
        parts = Path(path).parts
        logs.append(pd.read_csv(path).assign(condition=parts[-3], seed=int(parts[-2].removeprefix("seed"))))
    write_table(snakemake.output.train_log, pd.concat(logs, ignore_index=True))  # noqa: F821
    kept = [records[Path(path).parent] for path in trained_paths(snakemake.input.records)]  # noqa: F821
    timings = [read_json(path) for path in trained_paths(snakemake.input.timings)]  # noqa: F821
    check_same_corpus(kept)
    runs = runs_table(kept, timings)
    write_table(snakemake.output.runs, runs)  # noqa: F821
    gap = myopia_gap(tables["m4_position_loss"], runs)
    write_table(snakemake.output.gap, gap)  # noqa: F821
    print(f"m4_myopia_gap: {len(gap)} rows from {gap['condition'].nunique()} myopic conditions")
