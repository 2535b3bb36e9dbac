"""The two stages after training (analysis/stats/stages.py): which runs' files enter the tables, and how the
claims', analyses' and paper's outputs are put together.

The steps they call (the runs table, the myopia gap, each claim and analysis, the paper's numbers) have tests of
their own; here they are replaced by recording stand-ins, so each test checks one thing the stage itself does:
that a diverged run's files are never read, that the training log's condition and seed come from its run's record, that
the claims' tables reach the analyses, that the paper's numbers come from the trained runs only.
"""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest

from analysis.outcomes import DIVERGED, MARKER, MISSING_COLUMNS
from analysis.stats import stages
from analysis.stats.claims import ClaimResult, Verdict
from analysis.stats.report import Freeze

# --- missing_runs -----------------------------------------------------------------------------------------------


def diverged_record(condition: str, seed: int) -> dict:
    return {
        "run_id": f"{condition}/seed{seed}", "status": DIVERGED, "spec": {"condition": condition, "seed": seed},
        "diverged_at_step": 40, "loss": "nan", "message": "loss became nan",
    }


def test_missing_runs_lists_only_the_runs_that_did_not_train():
    records = {
        Path("runs/a/seed0"): {"run_id": "a/seed0", "spec": {"condition": "a", "seed": 0}},  # no status: trained
        Path("runs/a/seed1"): diverged_record("a", 1),
        Path("runs/b/seed0"): {"run_id": "b/seed0", "status": "trained", "spec": {"condition": "b", "seed": 0}},
    }
    table = stages.missing_runs(records)
    assert list(table.columns) == MISSING_COLUMNS
    assert table.to_dict("records") == [
        {"run_id": "a/seed1", "condition": "a", "seed": 1, "status": DIVERGED, "step": 40, "loss": "nan",
         "message": "loss became nan"},
    ]


def test_missing_runs_of_a_study_that_all_trained_is_empty_with_its_columns():
    table = stages.missing_runs({Path("runs/a/seed0"): {"run_id": "a/seed0", "spec": {"condition": "a", "seed": 0}}})
    assert table.empty
    assert list(table.columns) == MISSING_COLUMNS


# --- aggregate ----------------------------------------------------------------------------------------------------

RUNS = [("a", 0), ("a", 1), ("b", 3)]  # a/seed1 diverges


def write_runs(root: Path) -> tuple[dict[Path, dict], dict[str, list[str]], list[str], list[str]]:
    """Three run folders; a/seed1 diverged, so its tables are placeholders that must never be read."""
    records, measures, logs, timings = {}, {"m1_gradient_matrix": [], "m4_position_loss": []}, [], []
    for condition, seed in RUNS:
        run_dir = root / "runs" / condition / f"seed{seed}"
        run_dir.mkdir(parents=True)
        diverged = (condition, seed) == ("a", 1)
        for name, value in (("m1_gradient_matrix", 10 * seed), ("m4_position_loss", 0.5 + seed)):
            text = f"{MARKER}: diverged\n" if diverged else f"condition,seed,value\n{condition},{seed},{value}\n"
            (run_dir / f"{name}.csv").write_text(text)
            measures[name].append(str(run_dir / f"{name}.csv"))
        (run_dir / "train_log.csv").write_text(f"step,train_loss\n0,{2.0 + seed}\n10,{1.0 + seed}\n")
        (run_dir / "measure_timing.json").write_text(json.dumps({"m1": 1.5 + seed, "m4": 0.25}))
        logs.append(str(run_dir / "train_log.csv"))
        timings.append(str(run_dir / "measure_timing.json"))
        records[run_dir] = diverged_record(condition, seed) if diverged else {
            "run_id": f"{condition}/seed{seed}", "spec": {"condition": condition, "seed": seed},
            "eval_loss": {"0": 2.0 + seed, "10": 1.0 + seed, "5": 1.5 + seed}}
    return records, measures, logs, timings


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> dict:
    """Stand-ins for the runs table, the corpus check and the myopia gap that record what they were given."""
    calls: dict = {}

    def runs_table(records, timings):
        calls["runs_table"] = (records, timings)
        return pd.DataFrame({"condition": [r["spec"]["condition"] for r in records]})

    def myopia_gap(position_loss, runs):
        calls["myopia_gap"] = (position_loss, runs)
        return pd.DataFrame({"condition": ["a"], "gap": [0.1]})

    monkeypatch.setattr(stages, "runs_table", runs_table)
    monkeypatch.setattr(stages, "check_same_corpus", lambda records: calls.setdefault("corpus", records))
    monkeypatch.setattr(stages, "myopia_gap", myopia_gap)
    return calls


def test_aggregate_reads_the_trained_runs_only(tmp_path: Path, recorded: dict, capsys: pytest.CaptureFixture):
    records, measures, logs, timings = write_runs(tmp_path)
    tables = stages.aggregate(records, measures, logs, timings)  # a placeholder read would raise
    assert capsys.readouterr().out.splitlines() == [  # the job's log
        "m1_gradient_matrix: 2 rows", "m4_position_loss: 2 rows", "m4_myopia_gap: 1 rows from 1 myopic conditions",
    ]
    assert set(tables) == {"m1_gradient_matrix", "m4_position_loss", "train_log", "runs", "eval_curve", "gap"}
    assert tables["m1_gradient_matrix"].to_dict("records") == [
        {"condition": "a", "seed": 0, "value": 0}, {"condition": "b", "seed": 3, "value": 30},
    ]
    assert list(tables["m1_gradient_matrix"].index) == [0, 1]
    assert tables["m4_position_loss"]["value"].tolist() == [0.5, 3.5]
    kept = [records[tmp_path / "runs" / "a" / "seed0"], records[tmp_path / "runs" / "b" / "seed3"]]
    assert recorded["corpus"] == kept
    assert recorded["runs_table"] == (kept, [{"m1": 1.5, "m4": 0.25}, {"m1": 4.5, "m4": 0.25}])
    assert recorded["myopia_gap"][0] is tables["m4_position_loss"]
    assert recorded["myopia_gap"][1] is tables["runs"]
    assert tables["gap"]["gap"].tolist() == [0.1]
    assert tables["eval_curve"].to_dict("records") == [  # steps in numeric order, not the records' key order
        {"condition": c, "seed": k, "step": step, "eval_loss": loss + k}
        for c, k in (("a", 0), ("b", 3)) for step, loss in ((0, 2.0), (5, 1.5), (10, 1.0))
    ]


def test_aggregate_labels_each_training_log_with_its_records_condition_and_seed(tmp_path: Path, recorded: dict):
    records, measures, logs, timings = write_runs(tmp_path)
    log = stages.aggregate(records, measures, logs, timings)["train_log"]
    assert log.to_dict("records") == [
        {"step": 0, "train_loss": 2.0, "condition": "a", "seed": 0},
        {"step": 10, "train_loss": 1.0, "condition": "a", "seed": 0},
        {"step": 0, "train_loss": 5.0, "condition": "b", "seed": 3},
        {"step": 10, "train_loss": 4.0, "condition": "b", "seed": 3},
    ]
    assert list(log.index) == [0, 1, 2, 3]
    assert log["seed"].dtype.kind == "i"


# --- statistics ---------------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class PlantedRules:
    """A claim's rules: ``numbers["rules"]`` carries them as JSON values."""

    threshold: float = 0.5
    name: str = "planted"
    tasks: tuple[str, ...] = ("a", "b")


@pytest.fixture
def planted(monkeypatch: pytest.MonkeyPatch) -> dict:
    """Two claims and one analysis with known outputs, and recording stand-ins for the paper's numbers."""
    calls: dict = {}
    verdict_1 = Verdict("C1", "supported", "x = 1", "rule 1")
    verdict_2 = Verdict("C2", "refuted", "y = 2", "rule 2", kind="structural check")
    verdict_3 = Verdict("C2b", "mixed", "z = 3", "rule 3")
    results = {
        "c1": ClaimResult([verdict_1], {"c1_table": pd.DataFrame({"v": [1]})}, {"share": 0.7}),
        "c2": ClaimResult([verdict_2, verdict_3], {"c2_table": pd.DataFrame({"v": [2]})}, {"gap": 0.2}),
    }

    def decide_all(listed, inputs, overrides):
        calls["decide_all"] = (inputs, overrides)
        return results

    def run_all(listed, inputs):
        calls["run_all"] = inputs
        return {"primacy": SimpleNamespace(tables={"primacy_runs": pd.DataFrame({"w": [3]})}, numbers={"ratio": 2.0})}

    claims = {"c1": SimpleNamespace(rules=PlantedRules), "c2": SimpleNamespace(rules=PlantedRules)}
    monkeypatch.setattr(stages, "resolve_rules", lambda listed, overrides: {
        claim_id: claims[claim_id].rules(**overrides.get(claim_id, {})) for claim_id in claims})
    monkeypatch.setattr(stages, "decide_all", decide_all)
    monkeypatch.setattr(stages, "run_all", run_all)
    monkeypatch.setattr(stages, "with_learning", lambda runs, settings: runs.assign(learned=settings is CONFIG["stats"]))
    monkeypatch.setattr(stages, "learning_table", lambda runs, settings: pd.DataFrame(
        {"learned_share": [float(runs["learned"].mean()) if settings is CONFIG["stats"] else -1.0]}))

    def paper_numbers(config, reported, runs, learning, trained):
        assert config is CONFIG
        calls["paper_numbers"] = (reported, runs, learning, trained)
        return {"conditions": len(reported)}

    def missing_runs_numbers(missing, conditions, reported):
        calls["missing_runs_numbers"] = (missing, conditions, reported)
        return {"count": len(missing)}

    def preregistration_numbers(config, freeze):
        assert config is CONFIG
        calls["preregistration_numbers"] = freeze
        return {"seeds": freeze.exploratory_seeds}

    monkeypatch.setattr(stages, "paper_numbers", paper_numbers)
    monkeypatch.setattr(stages, "missing_runs_numbers", missing_runs_numbers)
    monkeypatch.setattr(stages, "preregistration_numbers", preregistration_numbers)
    return calls


CONFIG = {"profile": "default-exploratory", "stats": {"confidence": 0.95, "claims": {"c2": {"threshold": 0.25}}}}
RUNS_TABLE = pd.DataFrame({"condition": ["a", "a", "b"], "seed": [0, 1, 0]})
RECORDS = [{"run_id": "a/seed0"}, {"run_id": "a/seed1"}, {"run_id": "b/seed0"}, diverged_record("c", 0)]
MISSING = pd.DataFrame({"run_id": ["c/seed0"]})
PAPER_CONDITIONS = ["b", "gone", "a"]
FREEZE = Freeze((0, 1), "abc123", ())


def run_statistics() -> stages.Statistics:
    return stages.statistics(CONFIG, RUNS_TABLE, {"m1_gradient_matrix": pd.DataFrame({"g": [1.0]})}, RECORDS, MISSING,
                             PAPER_CONDITIONS, FREEZE)


def test_statistics_decides_every_claim_on_the_tables_and_the_runs_with_their_learning(planted: dict):
    run_statistics()
    inputs, overrides = planted["decide_all"]
    assert set(inputs.tables) == {"m1_gradient_matrix"}
    assert inputs.runs["learned"].tolist() == [True, True, True]
    assert inputs.settings is CONFIG["stats"]
    assert overrides is CONFIG["stats"]["claims"]
    assert inputs.rules == {"c1": PlantedRules(), "c2": PlantedRules(threshold=0.25)}  # resolved once, overrides applied


def test_statistics_gives_the_analyses_the_claims_tables_as_well(planted: dict):
    run_statistics()
    inputs = planted["run_all"]
    assert set(inputs.tables) == {"m1_gradient_matrix", "c1_table", "c2_table"}
    assert inputs.runs["learned"].tolist() == [True, True, True]
    assert inputs.settings is CONFIG["stats"]
    assert inputs.rules is planted["decide_all"][0].rules  # the analyses read the very rules the claims decided with


def test_statistics_collects_every_verdict_and_table(planted: dict):
    result = run_statistics()
    assert [v.claim for v in result.verdicts] == ["C1", "C2", "C2b"]
    assert set(result.tables) == {"learning", "c1_table", "c2_table", "primacy_runs", "verdicts"}
    assert result.tables["verdicts"].to_dict("records") == [v.as_dict() for v in result.verdicts]
    assert result.tables["learning"]["learned_share"].tolist() == [1.0]
    assert result.tables["primacy_runs"]["w"].tolist() == [3]


def test_statistics_numbers_for_the_paper(planted: dict):
    numbers = run_statistics().numbers
    assert numbers["verdicts"] == [
        {"claim": "C1", "verdict": "supported", "deciding": "x = 1", "rule": "rule 1", "kind": "finding"},
        {"claim": "C2", "verdict": "refuted", "deciding": "y = 2", "rule": "rule 2", "kind": "structural check"},
        {"claim": "C2b", "verdict": "mixed", "deciding": "z = 3", "rule": "rule 3", "kind": "finding"},
    ]
    assert numbers["claims"] == {"c1": {"share": 0.7}, "c2": {"gap": 0.2}}
    assert numbers["analyses"] == {"primacy": {"ratio": 2.0}}
    # each claim's rules with the config's overrides applied, as JSON values (a tuple becomes a list)
    assert numbers["rules"] == {"c1": {"threshold": 0.5, "name": "planted", "tasks": ["a", "b"]},
                                "c2": {"threshold": 0.25, "name": "planted", "tasks": ["a", "b"]}}
    assert numbers["conditions"] == 2
    assert numbers["missing_runs"] == {"count": 1}
    from analysis.stats.report import tables_digest

    assert numbers["preregistration"] == {  # the freeze handed in; the digest of the input tables
        "seeds": (0, 1), "tables_sha256": tables_digest({"m1_gradient_matrix": pd.DataFrame({"g": [1.0]})})}


def test_statistics_reports_the_paper_conditions_that_trained_from_the_trained_runs(planted: dict):
    run_statistics()
    reported, runs, learning, trained = planted["paper_numbers"]
    assert reported == ["b", "a"]  # the paper's order; "gone" has no trained run and drops out
    assert runs["learned"].tolist() == [True, True, True]
    assert learning["learned_share"].tolist() == [1.0]
    assert trained == RECORDS[:3]  # the diverged run is never averaged
    missing, conditions, reported_again = planted["missing_runs_numbers"]
    assert missing is MISSING
    assert conditions == ["b", "gone", "a"]
    assert reported_again == ["b", "a"]
