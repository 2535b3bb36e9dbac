"""Snakemake job: every claim's statistics and verdict, the descriptive analyses and the paper's numbers (analysis.stats.stages)."""
import json

import pandas as pd

from analysis.io import read_json, write_json, write_table
from analysis.logs import log_to
from analysis.stats.stages import statistics
from tooling.preregistration import freeze

with log_to(snakemake.log[0]):
    inputs, outputs = snakemake.input, snakemake.output
    tables = {name: pd.read_csv(getattr(inputs, name)) for name in snakemake.params.tables}
    records = [read_json(path) for path in inputs.records]
    config = json.loads(snakemake.params.config)
    result = statistics(config, pd.read_csv(inputs.runs), tables, records, pd.read_csv(inputs.missing),
                        snakemake.params.paper_conditions, freeze(config["profile"]))
    for name, table in result.tables.items():
        write_table(getattr(outputs, name), table)
    for verdict in result.verdicts:
        print(f"{verdict.claim} ({verdict.kind}): {verdict.verdict} ({verdict.deciding})")
    write_json(outputs.numbers, result.numbers)
