"""Snakemake job: concatenate per-run tables into one tidy table per measure; pair runs for the M4 gap."""
from pathlib import Path

import pandas as pd

from analysis.io import read_json, write_table
from analysis.logs import log_to
from analysis.measures.myopia import myopia_gap
from analysis.stats.runs import runs_table

with log_to(snakemake.log[0]):  # noqa: F821 (snakemake injects this object)
    tables = {}
    for name in snakemake.params.measures:  # noqa: F821
        tables[name] = pd.concat((pd.read_csv(path) for path in snakemake.input[name]), ignore_index=True)  # noqa: F821
        write_table(snakemake.output[name], tables[name])  # noqa: F821
        print(f"{name}: {len(tables[name])} rows")
    logs = []
    for path in snakemake.input.train_logs:  # noqa: F821  (runs/<condition>/seed<k>/train_log.csv)
        parts = Path(path).parts
        logs.append(pd.read_csv(path).assign(condition=parts[-3], seed=int(parts[-2].removeprefix("seed"))))
    write_table(snakemake.output.train_log, pd.concat(logs, ignore_index=True))  # noqa: F821
    records = [read_json(path) for path in snakemake.input.records]  # noqa: F821
    timings = [read_json(path) for path in snakemake.input.timings]  # noqa: F821
    runs = runs_table(records, timings)
    write_table(snakemake.output.runs, runs)  # noqa: F821
    gap = myopia_gap(tables["m4_position_loss"], runs)
    write_table(snakemake.output.gap, gap)  # noqa: F821
    print(f"m4_myopia_gap: {len(gap)} rows from {gap['condition'].nunique()} myopic conditions")
