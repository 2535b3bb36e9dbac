"""Snakemake job: every claim's statistics and verdict (analysis/stats/c*.py), the descriptive analyses
(analysis/stats/descriptive.py), and the numbers the paper prints."""
import json

import pandas as pd

from analysis.config import load_study
from analysis.io import read_json, write_json, write_table
from analysis.logs import log_to
from analysis.outcomes import TRAINED, status
from analysis.provenance import exploratory_seeds
from analysis.stats.claims import ClaimInputs, decide_all, load_claims
from analysis.stats.descriptive import run_all
from analysis.stats.learning import learning_table, with_learning
from analysis.stats.report import missing_runs_numbers, paper_numbers, preregistration_numbers

with log_to(snakemake.log[0]):
    config = json.loads(snakemake.params.config)
    settings = config["stats"]
    inputs, outputs = snakemake.input, snakemake.output
    runs = with_learning(pd.read_csv(inputs.runs), settings)
    learning = learning_table(runs, settings)
    write_table(outputs.learning, learning)
    tables = {name: pd.read_csv(getattr(inputs, name)) for name in snakemake.params.tables}
    claims = load_claims()
    results = decide_all(ClaimInputs(tables, runs, settings), settings["claims"])
    for result in results.values():
        for name, table in result.tables.items():
            write_table(getattr(outputs, name), table)
    claim_tables = {name: table for result in results.values() for name, table in result.tables.items()}
    analyses = run_all(ClaimInputs({**tables, **claim_tables}, runs, settings))  # descriptive: no verdicts
    for result in analyses.values():
        for name, table in result.tables.items():
            write_table(getattr(outputs, name), table)
    decided = [verdict for result in results.values() for verdict in result.verdicts]
    write_table(outputs.verdicts, pd.DataFrame([v.as_dict() for v in decided]))
    for verdict in decided:
        print(f"{verdict.claim} ({verdict.kind}): {verdict.verdict} ({verdict.deciding})")

    records = [r for r in (read_json(path) for path in inputs.records) if status(r) == TRAINED]  # diverged runs: never averaged
    study = load_study(config)
    reported = [c for c in study.paper_conditions() if c in set(runs["condition"])]  # a condition none of whose runs trained drops out
    numbers = paper_numbers(config, reported, runs, learning, records)
    numbers["missing_runs"] = missing_runs_numbers(pd.read_csv(inputs.missing), study.paper_conditions(), reported)
    numbers["verdicts"] = [v.as_dict() for v in decided]
    numbers["claims"] = {claim_id: result.numbers for claim_id, result in results.items()}
    numbers["analyses"] = {analysis_id: result.numbers for analysis_id, result in analyses.items()}
    numbers["rules"] = {
        claim_id: {k: str(v) for k, v in vars(claims.get(claim_id).rules(**settings["claims"].get(claim_id, {}))).items()}
        for claim_id in results
    }
    base_profile = config["profile"].removesuffix("-exploratory")
    numbers["preregistration"] = preregistration_numbers(config, exploratory_seeds(base_profile))
    write_json(outputs.numbers, numbers)
