"""Snakemake job: concatenate per-run tables into one tidy table per measure, plus a table of runs."""
import pandas as pd

from analysis.io import read_json, write_table
from analysis.logs import log_to
from analysis.stats.runs import runs_table

with log_to(snakemake.log[0]):  # noqa: F821 (snakemake injects this object)
    m1 = pd.concat((pd.read_csv(path) for path in snakemake.input.m1), ignore_index=True)  # noqa: F821
    write_table(snakemake.output.m1, m1)  # noqa: F821
    records = [read_json(path) for path in snakemake.input.records]  # noqa: F821
    timings = [read_json(path) for path in snakemake.input.timings]  # noqa: F821
    write_table(snakemake.output.runs, runs_table(records, timings))  # noqa: F821
