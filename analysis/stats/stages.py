"""The two workflow stages after training, tables in and tables out (the Snakemake scripts only read and write files).

``aggregate``: the trained runs' per-run tables into one tidy table per measure, the training
logs, the runs table and the M4 myopia gap; runs that diverged are listed by ``missing_runs``
and enter no table. ``statistics``: every claim's statistics and verdict (``analysis/stats/c*.py``),
the descriptive analyses (``analysis/stats/descriptive.py``) and the numbers the paper prints.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from ..io import read_json
from ..measures.myopia import myopia_gap
from ..outcomes import MISSING_COLUMNS, TRAINED, missing_row, read_run_table, status
from .claims import ClaimInputs, Verdict, decide_all, resolve_rules, rules_as_json
from .descriptive import run_all
from .learning import learning_table, with_learning
from .listing import ANALYSES, CLAIMS, paper_sections
from .report import Freeze, missing_runs_numbers, paper_numbers, preregistration_numbers, tables_digest
from .runs import check_same_corpus, runs_table


def missing_runs(records: Mapping[Path, dict[str, Any]]) -> pd.DataFrame:
    """One row per run that did not finish training (``records`` by run folder)."""
    return pd.DataFrame([missing_row(r) for r in records.values() if status(r) != TRAINED], columns=MISSING_COLUMNS)


EVAL_CURVE_COLUMNS = ["condition", "seed", "step", "eval_loss"]


def eval_curve(records: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """The held-out learning curve of every run: one row per evaluation (checkpoints and the evenly spaced steps)."""
    rows = [
        {"condition": r["spec"]["condition"], "seed": r["spec"]["seed"], "step": int(step), "eval_loss": loss}
        for r in records for step, loss in r["eval_loss"].items()
    ]
    return pd.DataFrame(rows, columns=EVAL_CURVE_COLUMNS).sort_values(["condition", "seed", "step"], ignore_index=True)


def aggregate(
    records: Mapping[Path, dict[str, Any]], measures: Mapping[str, Sequence[str]], train_logs: Sequence[str], timings: Sequence[str]
) -> dict[str, pd.DataFrame]:
    """Tables by name: one per measure, ``train_log``, ``runs``, ``eval_curve`` and ``gap`` (M4), from the trained runs only.

    ``measures`` maps a measure to its per-run table files; ``train_logs`` (runs/<condition>/seed<k>/train_log.csv)
    and ``timings`` are per-run files too. A file counts when its run folder's record says the run trained.
    """
    trained = {run_dir for run_dir, record in records.items() if status(record) == TRAINED}

    def trained_paths(paths: Sequence[str]) -> list[str]:
        return [path for path in paths if Path(path).parent in trained]

    tables = {}
    for name, paths in measures.items():
        tables[name] = pd.concat((read_run_table(path) for path in trained_paths(paths)), ignore_index=True)
        print(f"{name}: {len(tables[name])} rows")
    logs = []
    for path in trained_paths(train_logs):
        spec = records[Path(path).parent]["spec"]  # the run folder's own record names its condition and seed
        logs.append(pd.read_csv(path).assign(condition=spec["condition"], seed=int(spec["seed"])))
    tables["train_log"] = pd.concat(logs, ignore_index=True)
    kept = [record for run_dir, record in records.items() if run_dir in trained]
    check_same_corpus(kept)
    tables["runs"] = runs_table(kept, [read_json(path) for path in trained_paths(timings)])
    tables["eval_curve"] = eval_curve(kept)
    tables["gap"] = myopia_gap(tables["m4_position_loss"], tables["runs"])
    print(f"m4_myopia_gap: {len(tables['gap'])} rows from {tables['gap']['condition'].nunique()} myopic conditions")
    return tables


@dataclass(frozen=True)
class Statistics:
    tables: dict[str, pd.DataFrame]  # by output name: learning, each claim's and analysis's tables, verdicts
    verdicts: list[Verdict]
    numbers: dict[str, Any]  # what the paper prints (paper_numbers.json)


def statistics(
    config: dict[str, Any], runs: pd.DataFrame, tables: Mapping[str, pd.DataFrame], records: Sequence[dict[str, Any]],
    missing: pd.DataFrame, paper_conditions: Sequence[str], freeze: Freeze,
) -> Statistics:
    """Claims, analyses and the paper's numbers from the aggregated tables, the runs and missing-runs tables and the run records.

    ``paper_conditions``: the conditions of the experiments the paper reports, in config order (``Study.paper_conditions``);
    ``freeze``: what the repository says about the preregistration (the workflow reads it: ``tooling/preregistration.py``).
    """
    settings = config["stats"]
    runs = with_learning(runs, settings)
    learning = learning_table(runs, settings)
    rules = resolve_rules(CLAIMS, settings["claims"])  # once per study: verdicts, analyses and figures read the same thresholds
    results = decide_all(CLAIMS, ClaimInputs(dict(tables), runs, settings, rules), settings["claims"])
    claim_tables = {name: table for result in results.values() for name, table in result.tables.items()}
    analyses = run_all(ANALYSES, ClaimInputs({**tables, **claim_tables}, runs, settings, rules))  # descriptive: no verdicts
    analysis_tables = {name: table for result in analyses.values() for name, table in result.tables.items()}
    decided = [verdict for result in results.values() for verdict in result.verdicts]

    trained = [r for r in records if status(r) == TRAINED]  # diverged runs: never averaged
    reported = [c for c in paper_conditions if c in set(runs["condition"])]  # a condition none of whose runs trained drops out
    numbers = paper_numbers(config, reported, runs, learning, trained)
    numbers["missing_runs"] = missing_runs_numbers(missing, list(paper_conditions), reported)
    numbers["verdicts"] = [v.as_dict() for v in decided]
    numbers["claims"] = {claim_id: result.numbers for claim_id, result in results.items()}
    numbers["analyses"] = {analysis_id: result.numbers for analysis_id, result in analyses.items()}
    numbers["sections"] = paper_sections(numbers["analyses"])  # the paper includes these, in this order
    numbers["rules"] = rules_as_json({claim_id: rules[claim_id] for claim_id in results})
    numbers["preregistration"] = preregistration_numbers(config, freeze)
    numbers["preregistration"]["tables_sha256"] = tables_digest(tables)  # not runs: it holds wall times and commits
    verdicts = pd.DataFrame([v.as_dict() for v in decided])
    return Statistics({"learning": learning, **claim_tables, **analysis_tables, "verdicts": verdicts}, decided, numbers)
