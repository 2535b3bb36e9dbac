"""How the paper's numbers are formatted (``analysis/stats/report.py``), on worked values written out by hand."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.stats import report
from analysis.stats.inference import Interval
from analysis.stats.report import (
    Freeze,
    _condition_numbers,
    _counts,
    _myopia_rows,
    _task_parameters,
    config_hash,
    fmt,
    fmt_interval,
    missing_runs_numbers,
    paper_numbers,
    preregistration_numbers,
)

M = "\u2212"  # the typographic minus


@pytest.mark.parametrize(("value", "digits", "text"), [
    (None, 2, "n/a"), (float("nan"), 2, "n/a"), (float("inf"), 2, "n/a"), (-float("inf"), 2, "n/a"),
    (1.234, 2, "1.23"), (1.236, 2, "1.24"), (0.0, 2, "0.00"), (-0.0, 2, "0.00"), (-1.5, 2, f"{M}1.50"),
    (-0.001, 2, "0.00"), (-0.004, 3, f"{M}0.004"), (-0.4, 0, "0"), (12.6, 0, "13"), (100.0, 0, "100"),
    (-10.0, 0, f"{M}10"), (-0.05, 1, f"{M}0.1"), (0.123456, 4, "0.1235"), (2.0, 1, "2.0"),
])
def test_fmt_prints_the_paper_form(value: float | None, digits: int, text: str) -> None:
    assert fmt(value, digits) == text


def test_fmt_defaults_to_two_digits() -> None:
    assert fmt(3.14159) == "3.14" and fmt(-3.14159) == f"{M}3.14"


def test_fmt_interval_formats_each_bound_and_the_count() -> None:
    assert fmt_interval(Interval(1.0, -0.5, 2.26, 3), 1) == {"mean": "1.0", "low": f"{M}0.5", "high": "2.3", "n": "3"}
    assert fmt_interval(Interval(1.0, float("nan"), float("nan"), 1)) == {"mean": "1.00", "low": "n/a", "high": "n/a",
                                                                         "n": "1"}


def test_config_hash_is_the_sha256_of_the_sorted_json() -> None:
    # sha256 of the bytes '{"a": 1, "b": [2, 3]}' (sha256sum)
    expected = "fd28b17488e0d3ec39d085da9a7acf40e0a6e4f3bbc310f112a1e4c5490394fc"
    assert config_hash({"b": [2, 3], "a": 1}) == expected == config_hash({"a": 1, "b": [2, 3]})


def test_task_parameters_leave_out_the_name() -> None:
    assert _task_parameters({"name": "lag", "distance": 3, "vocab": 8}) == "distance = 3, vocab = 8"
    assert _task_parameters({"name": "text"}) == ""


def described(task: str, regime: str, task_learned: bool, encoding: str = "learned", final: str = "1.000") -> dict:
    return {"task": task, "regime": regime, "learned": task_learned, "pos_encoding": encoding, "baseline_loss": f"b-{task}",
            "final_loss": {"mean": final, "low": "l", "high": "h", "n": "2"}}


def test_counts_of_conditions_and_of_those_that_learned() -> None:
    conditions = [described("a", "standard", True), described("a", "myopic-state", True),
                  described("b", "standard", False), described("c", "standard", True)]
    assert _counts(conditions) == {"n": "4", "n_standard": "3", "learned": "3", "learned_standard": "2"}
    assert _counts([]) == {"n": "0", "n_standard": "0", "learned": "0", "learned_standard": "0"}


def test_myopia_rows_put_each_regime_in_its_column_and_skip_single_regime_tasks() -> None:
    conditions = [
        described("a", "myopic-state", True, final="2.000"), described("a", "standard", True, final="1.000"),
        described("b", "standard", True), described("a", "myopic-full", True, encoding="alibi"),
        described("d", "myopic-full", True, final="3.000"), described("d", "standard", False, final="0.500"),
    ]
    table = _myopia_rows(conditions, "learned")
    assert table["regimes"] == ["standard", "myopic-state", "myopic-full"]
    missing = {"mean": "n/a", "low": "n/a", "high": "n/a", "n": "0"}
    assert [row["task"] for row in table["rows"]] == ["a", "d"]
    a, d = table["rows"]
    assert [cell["mean"] for cell in a["cells"][:2]] == ["1.000", "2.000"] and a["cells"][2] == missing
    assert a["baseline"] == "b-a"
    assert d["cells"][0]["mean"] == "0.500" and d["cells"][1] == missing and d["cells"][2]["mean"] == "3.000"
    assert _myopia_rows([described("b", "standard", True)], "learned") == {"regimes": ["standard"], "rows": []}
    assert _myopia_rows(conditions, "alibi")["rows"] == []  # the study's default encoding picks the conditions


def test_missing_runs_and_dropped_conditions() -> None:
    missing = pd.DataFrame({"run_id": ["r1"], "status": ["diverged"], "step": [40], "loss": [np.inf]})
    numbers = missing_runs_numbers(missing, ["x", "y", "z"], ["y"])
    assert numbers == {"n": "1", "runs": [{"run_id": "r1", "status": "diverged", "step": "40", "loss": "inf"}],
                       "dropped_conditions": ["x", "z"]}


CONFIG = {
    "tasks": {"lag3": {"name": "lag", "distance": 3}, "txt": {"name": "text"}},
    "model": {"n_layer": 2, "d_model": 32, "pos_encoding": "learned"}, "train": {"steps": 100}, "measure": {"n_sequences": 64},
    "stats": {"confidence": 0.95, "s_min": 2, "d_min": 1, "learned_margin": 0.6, "learned_gap_share": 0.7,
              "alpha": 0.05},
    "paper": {"experiments": ["e1", "e2"]}, "profile": "smoke", "seeds": [0, 1],
}


def runs_table() -> pd.DataFrame:
    return pd.DataFrame({
        "condition": ["lag", "lag", "txt"], "seed": [1, 0, 0], "task": ["lag3", "lag3", "txt"],
        "task_name": ["lag", "lag", "text"], "pos_encoding": ["learned", "learned", "rope"],
        "regime": ["standard", "standard", "myopic-state"], "context": [16, 16, 32], "init_eval_loss": [2.5, 3.0, 4.0],
        "baseline_loss": [2.0, 2.0, 3.0], "optimal_loss": [0.5, 0.5, np.nan], "steps": [100, 100, 20],
        "measure_wall_time_s": [300.0, 200.0, 100.0],
    })


def learning_table() -> pd.DataFrame:
    return pd.DataFrame({
        "condition": ["lag", "txt"], "final_loss_mean": [1.0, 2.5], "final_loss_low": [0.9, np.nan],
        "final_loss_high": [1.1, np.nan], "gap_closed_mean": [0.9, np.nan], "gap_closed_low": [0.8, np.nan],
        "gap_closed_high": [0.95, np.nan], "learned": [True, False], "n_seeds": [2, 1],
    })


def test_condition_numbers_print_what_the_paper_says_of_a_condition() -> None:
    lag = _condition_numbers("lag", runs_table(), learning_table(), CONFIG)
    assert lag == {
        "condition": "lag", "task": "lag3", "task_name": "lag", "task_parameters": "distance = 3",
        "pos_encoding": "learned", "regime": "standard", "context": "16", "n_seeds": "2", "seeds": "0, 1",
        "init_loss": "2.750", "final_loss": {"mean": "1.000", "low": "0.900", "high": "1.100", "n": "2"},
        "baseline_loss": "2.000", "optimal_loss": "0.500",
        "gap_closed_pct": {"mean": "90", "low": "80", "high": "95", "n": "2"}, "learned": True, "steps": "100",
    }
    txt = _condition_numbers("txt", runs_table(), learning_table(), CONFIG)
    assert txt["optimal_loss"] == "n/a" and txt["gap_closed_pct"] is None and txt["learned"] is False
    assert txt["final_loss"] == {"mean": "2.500", "low": "n/a", "high": "n/a", "n": "1"}
    assert txt["task_parameters"] == "" and txt["seeds"] == "0"


def record(task: str, commit: str, device: str, seconds: float, torch: str = "2.4") -> dict:
    return {"git_commit": commit, "spec": {"task_label": task}, "baseline_description": f"unigram of {task}",
            "task_description": {"corpus_sha256": "abc"} if task == "txt" else {},
            "packages": {"torch": torch, "numpy": "2.0"},
            "device": device, "wall_time_s": seconds}


def test_paper_numbers_collect_settings_tasks_and_provenance(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(report, "git_commit", lambda: "HEAD1")
    # 600 s of training and of measuring: 10.0 min (over 61 it would print 9.8); packages from the first record
    records = [record("lag3", "c2", "cpu", 300.0, torch="2.5"), record("lag3", "c1", "cpu", 200.0),
               record("txt", "c1", "cuda", 100.0)]
    numbers = paper_numbers(CONFIG, ["txt", "lag"], runs_table(), learning_table(), records)
    assert numbers["title"] == "How gradients flow across context positions in causal transformers"
    assert (numbers["profile"], numbers["experiments"]) == ("smoke", "e1, e2")
    # 60 and 70 (times 101 would print 61 and 71)
    assert (numbers["confidence_pct"], numbers["learned_margin_pct"], numbers["learned_gap_pct"]) == ("95", "60", "70")
    assert (numbers["s_min"], numbers["d_min"], numbers["alpha"], numbers["n_sequences"]) == ("2", "1", "0.05", "64")
    assert numbers["model"] == {"n_layer": "2", "d_model": "32", "pos_encoding": "learned"} and numbers["train"] == {"steps": "100"}
    assert numbers["steps"] == "20, 100"  # numerically sorted, not as text
    assert (numbers["encodings"], numbers["regimes"], numbers["seeds"]) == ("rope, learned", "myopic-state, standard", "0, 1")
    assert [c["condition"] for c in numbers["conditions"]] == ["txt", "lag"]
    assert numbers["tasks"] == [
        {"label": "txt", "name": "text", "parameters": "", "baseline": "3.000", "optimal": "n/a",
         "baseline_description": "unigram of txt", "corpus_sha256": "abc"},
        {"label": "lag3", "name": "lag", "parameters": "distance = 3", "baseline": "2.000", "optimal": "0.500",
         "baseline_description": "unigram of lag3", "corpus_sha256": ""},
    ]
    assert numbers["counts"] == {"n": "2", "n_standard": "1", "learned": "1", "learned_standard": "1"}
    assert numbers["myopia"] == {"regimes": ["standard", "myopic-state"], "rows": []}
    assert numbers["provenance"] == {
        "git_commit": "c1, c2", "analysis_commit": "HEAD1", "config_hash": config_hash(CONFIG),
        "packages": "torch 2.5, numpy 2.0", "device": "cpu, cuda", "n_runs": "3", "train_time_min": "10.0",
        "measure_time_min": "10.0",
    }
    titled = paper_numbers({**CONFIG, "paper": {"experiments": ["e1"], "title": "T"}}, ["lag"], runs_table(),
                           learning_table(), records)
    assert titled["title"] == "T" and titled["experiments"] == "e1"


def test_paper_numbers_myopia_table_holds_the_tasks_trained_under_two_regimes_with_the_studys_encoding(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(report, "git_commit", lambda: "HEAD1")
    runs = pd.concat([runs_table(), runs_table().iloc[[0]].assign(condition="lagm", regime="myopic-state")], ignore_index=True)
    learning = pd.concat([learning_table(), learning_table().iloc[[0]].assign(condition="lagm", final_loss_mean=1.5)],
                         ignore_index=True)
    records = [record("lag3", "c1", "cpu", 10.0), record("lag3", "c1", "cpu", 10.0), record("txt", "c1", "cpu", 10.0)]
    myopia = paper_numbers(CONFIG, ["lag", "lagm", "txt"], runs, learning, records)["myopia"]
    assert myopia["regimes"] == ["standard", "myopic-state"]
    assert [(row["task"], row["baseline"], [cell["mean"] for cell in row["cells"]]) for row in myopia["rows"]] == [
        ("lag3", "2.000", ["1.000", "1.500"]),
    ]


def test_preregistration_numbers_say_which_seeds_decide() -> None:
    unfixed = preregistration_numbers({"seeds": [3, 4]}, Freeze((0, 1, 2), "", ()))  # no commit: a change list means nothing
    assert unfixed == {"status": "confirmatory", "rules_commit": "not fixed yet", "confirmatory_seeds": "3, 4",
                       "exploratory_seeds": "0, 1, 2", "changed_since": "unknown"}
    assert preregistration_numbers({"seeds": [2, 3]}, Freeze((0, 1, 2), "abc123", ()))["status"] == "exploratory"
    assert preregistration_numbers({"seeds": [3]}, Freeze((0,), "abc123", ()))["changed_since"] == "none"
    changed = preregistration_numbers({"seeds": [3]}, Freeze((0,), "abc123", ("analysis/stats/c1.py", "paper/preregistration.md")))
    assert changed["changed_since"] == "analysis/stats/c1.py, paper/preregistration.md" and changed["rules_commit"] == "abc123"
    assert preregistration_numbers({"seeds": [3]}, Freeze((0,), "abc123", None))["changed_since"] == "unknown"


def test_the_tables_digest_changes_with_any_entry_and_not_with_dict_order() -> None:
    from analysis.stats.report import tables_digest

    a, b = pd.DataFrame({"x": [1.0, 2.0]}), pd.DataFrame({"y": ["u"]})
    assert tables_digest({"a": a, "b": b}) == tables_digest({"b": b, "a": a})
    assert tables_digest({"a": a, "b": b}) != tables_digest({"a": a.assign(x=[1.0, 2.5]), "b": b})
    assert tables_digest({"a": a, "b": b}) != tables_digest({"c": a, "b": b})  # names count too
    assert len(tables_digest({})) == 64


def test_every_experiments_seeds_decide_whether_a_study_is_confirmatory() -> None:
    config = {"seeds": [200, 201], "experiments": {"c2": {"seeds": [200, 204]}, "other": {}}}
    assert preregistration_numbers(config, Freeze((0, 1)))["confirmatory_seeds"] == "200, 201, 204"
    assert preregistration_numbers(config, Freeze((204,)))["status"] == "exploratory"
