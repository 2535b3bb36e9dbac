"""C6 on planted M7 tables whose answers are known: every verdict word, its boundaries, empty input, the
split-half choice of the step, the floor on what is left to transfer, bits per token."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from analysis.stats import c6
from analysis.stats.claims import MIXED, REFUTED, SUPPORTED, ClaimInputs

T, FINAL, GAIN = 4, 100, 2.0  # context channel: L(alone) - L(full) = 2 at every t >= 1
GRID = (0.1, 1.0, 10.0)  # step sizes (x lr) of the planted sweeps
SETTINGS = {"confidence": 0.95}


def peaked(value: float, at: float = 1.0):
    """A transfer curve S(eta) / C: ``value`` at eta = ``at``, value / 4 elsewhere (a maximum the grid brackets)."""
    return lambda eta: value if eta == at else value / 4


def planted(conditions: dict[str, list[float]], adam: dict[str, float] | None = None, halves: dict | None = None,
            runs: dict[str, dict] | None = None, task_names: dict[str, str] | None = None) -> ClaimInputs:
    """Per condition, per seed: SGD's S / C peaks at the planted value (at 1 x lr), on 4 sequences of 2 halves.

    ``adam``: adam_run's peak per condition (default: a tenth of SGD's); ``halves``: per condition a pair of
    curves, one per half, instead; ``runs``: extra runs-table fields per condition; the fresh Adam step
    transfers -C (overshoot). Initialisation (step 0) is planted at 100 x: the claim must ignore it.
    """
    weight, context, table = [], [], []
    for condition, values in conditions.items():
        for seed, value in enumerate(values):
            table.append({"condition": condition, "seed": seed, "task": f"task-{condition}",
                          "task_name": (task_names or {}).get(condition, "markov"), "pos_encoding": "learned",
                          "regime": "standard", "steps": FINAL, "learned": True, **(runs or {}).get(condition, {})})
            for step, scale in ((0, 100.0), (FINAL, 1.0)):
                for t in range(T):
                    context.append({"condition": condition, "seed": seed, "step": step, "t": t, "loss_full": 1.0,
                                    "loss_alone": 1.0 + (GAIN if t >= 1 else 0.0), "loss_shuffled": 1.0})
                curves = {"sgd": [peaked(value)] * 2, "adam_run": [peaked((adam or {}).get(condition, value / 10))] * 2,
                          "adam_fresh": [lambda eta: -1.0] * 2}
                if halves and condition in halves:
                    curves["sgd"] = halves[condition]
                for optimizer, pair in curves.items():
                    for eta in (GRID if optimizer != "adam_fresh" else (1.0,)):
                        for sequence in range(4):
                            ratio = pair[sequence % 2](eta)
                            weight.append({"condition": condition, "seed": seed, "step": step, "optimizer": optimizer,
                                           "eta_factor": eta, "eta": 0.003 * eta, "sequence": sequence,
                                           "half": sequence % 2, "n_positions": 2,
                                           "exact_change": -scale * ratio * GAIN, "exact_abs_change": abs(ratio) * GAIN * 3,
                                           "first_order_change": -scale * ratio * GAIN * 2, "loss_next": 1.5})
    tables = {"m7_weight_channel": pd.DataFrame(weight), "m7_context_channel": pd.DataFrame(context)}
    return ClaimInputs(tables=tables, runs=pd.DataFrame(table), settings=SETTINGS)


def run(inputs: ClaimInputs, **overrides):
    return c6.CLAIM.run(inputs, overrides)


def test_minuscule_transfer_in_every_condition_is_supported() -> None:
    result = run(planted({"a": [0.001, 0.002, 0.003, 0.002, 0.002], "b": [0.004, 0.004, 0.005, 0.003, 0.004]}))
    assert result.verdicts[0].verdict == SUPPORTED
    assert result.numbers["n_minuscule"] == "2" and result.numbers["n_conditions"] == "2"
    assert result.tables["c6_decision"]["verdict"].tolist() == [SUPPORTED, SUPPORTED]


def test_comparable_transfer_in_every_condition_is_refuted() -> None:
    result = run(planted({"a": [0.3, 0.31, 0.29, 0.3, 0.3], "b": [0.2, 0.25, 0.22, 0.21, 0.24]}))
    assert result.verdicts[0].verdict == REFUTED
    assert result.numbers["n_comparable"] == "2"
    assert result.tables["c6_decision"]["verdict"].tolist() == [REFUTED, REFUTED]


def test_some_tasks_transfer_and_others_do_not_is_mixed_and_says_which() -> None:
    result = run(planted({"a": [0.002] * 5, "b": [0.3] * 5, "c": [0.005, 0.05, 0.02, 0.03, 0.01]}))
    assert result.verdicts[0].verdict == MIXED
    decision = result.tables["c6_decision"]
    assert decision["reading"].tolist() == [c6.MINUSCULE, c6.COMPARABLE, c6.BETWEEN]
    assert decision["verdict"].tolist() == [SUPPORTED, REFUTED, MIXED]
    deciding = result.verdicts[0].deciding
    assert "largest upper bound in task-b (learned): 30.00%" in deciding  # b's bound, 30%, is above c's
    assert deciding.endswith("minuscule: task-a (learned); comparable: task-b (learned); undecided: task-c (learned)")


@pytest.mark.parametrize(
    ("ratio", "word"),
    [(0.25, MIXED), (np.nextafter(0.25, 0.0), SUPPORTED), (0.5, MIXED), (np.nextafter(0.5, 1.0), REFUTED)],
)
def test_threshold_boundaries_are_strict(ratio: float, word: str) -> None:
    """Seeds that agree give a zero-width interval [r, r]; thresholds exact in binary (0.25, 0.5)."""
    result = run(planted({"a": [ratio] * 5}, adam={"a": 0.0}), minuscule=0.25, comparable=0.5)
    assert result.verdicts[0].verdict == word


def test_empty_input_is_mixed_with_every_declared_table() -> None:
    result = run(ClaimInputs(tables={}, runs=pd.DataFrame(), settings=SETTINGS))
    assert result.verdicts[0].verdict == MIXED
    assert result.verdicts[0].deciding == "no learned standard condition with something left to transfer and M7 tables"
    assert set(result.tables) == {"c6_curves", "c6_transfer", "c6_summary", "c6_decision"}
    assert all(table.empty for table in result.tables.values())
    assert result.tables["c6_summary"].columns.tolist() == c6.SUMMARY_COLUMNS
    assert result.numbers["n_conditions"] == "0" and result.numbers["rows"] == [] and result.numbers["solved"] == []


def test_one_seed_gives_no_interval_and_decides_nothing() -> None:
    result = run(planted({"a": [0.002], "b": [0.3]}))
    assert result.verdicts[0].verdict == MIXED
    assert result.tables["c6_decision"]["reading"].tolist() == [c6.BETWEEN, c6.BETWEEN]


def test_the_step_is_chosen_on_one_half_and_scored_on_the_other() -> None:
    """Half 0 peaks at 0.1 x lr (30%), half 1 at 10 x lr: each half's choice scores 30% / 4 on the other half,
    while the maximum over every sequence (in sample) reads (30% + 7.5%) / 2."""
    halves = {"a": [peaked(0.3, at=0.1), peaked(0.3, at=10.0)]}
    result = run(planted({"a": [0.3] * 3}, adam={"a": 0.0}, halves=halves))
    sgd = result.tables["c6_transfer"].query("choice == 'sgd'")
    assert sgd["eta_factor_0"].tolist() == [0.1] * 3 and sgd["eta_factor_1"].tolist() == [10.0] * 3
    assert sgd["ratio"].tolist() == pytest.approx([0.075] * 3)
    assert sgd["ratio_in_sample"].tolist() == pytest.approx([(0.3 + 0.075) / 2] * 3)
    assert sgd["edge"].tolist() == ["high, low"] * 3  # each choice lies at an end of the grid
    assert result.tables["c6_decision"]["ratio_mean"].iloc[0] == pytest.approx(0.075)  # not the optimistic value
    assert result.verdicts[0].verdict == MIXED


def test_the_joint_choice_takes_the_more_favourable_optimiser_and_the_fresh_step_is_context() -> None:
    """SGD peaks at 0.2%, adam_run at 30%: the step chosen over both reads 30% (comparable); the fresh Adam
    step (-100%) never decides."""
    result = run(planted({"a": [0.002] * 3}, adam={"a": 0.3}))
    summary = result.tables["c6_summary"].set_index("choice")
    assert summary.loc["sgd", "ratio_mean"] == pytest.approx(0.002)
    assert summary.loc["adam_run", "ratio_mean"] == pytest.approx(0.3)
    assert summary.loc["adam_fresh", "ratio_mean"] == pytest.approx(-1.0)
    assert summary.loc["best", "ratio_mean"] == pytest.approx(0.3) and summary.loc["best", "optimizer"] == "adam_run"
    assert result.verdicts[0].verdict == REFUTED
    assert run(planted({"a": [0.002] * 3}, adam={"a": 0.3}), optimizers=["sgd"]).verdicts[0].verdict == SUPPORTED
    assert set(result.tables["c6_transfer"]["step"]) == {FINAL}  # initialisation (100 x) is never read


def _gap(final: float, optimum: float = 0.0) -> dict:
    return {"final_eval_loss": final, "baseline_loss": 2.0, "optimal_loss": optimum}


def test_only_tasks_with_something_left_to_transfer_decide() -> None:
    """b is solved (1e-8 of its gap open) and would read comparable: it is left out. The floor is inclusive;
    an unknown optimum counts as 0, the loss's lower bound."""
    gaps = {"a": _gap(1.0), "b": _gap(2e-8)}
    result = run(planted({"a": [0.002] * 3, "b": [0.3] * 3}, runs=gaps))
    assert result.verdicts[0].verdict == SUPPORTED
    assert result.numbers["solved"] == [{"task": "task-b", "pos_encoding": "learned", "open_gap": "1.0e\u22126%"}]
    at_floor = {"b": _gap(1.02, optimum=1.0)}  # (1.02 - 1) / (2 - 1) = 2% open: exactly the floor
    assert run(planted({"a": [0.002] * 3, "b": [0.3] * 3}, runs=at_floor), open_gap=0.02).verdicts[0].verdict == MIXED
    below = {"b": _gap(1.01, optimum=1.0)}
    assert run(planted({"a": [0.002] * 3, "b": [0.3] * 3}, runs=below), open_gap=0.02).verdicts[0].verdict == SUPPORTED
    unknown = {"b": _gap(0.01, optimum=np.nan)}  # 0.01 / 2 = 0.5% open against an optimum of 0
    conditions = c6.deciding_conditions(planted({"b": [0.3]}, runs=unknown).runs, SETTINGS, c6.Rules())
    assert conditions["open_gap"].tolist() == [pytest.approx(0.005)] and conditions["deciding"].tolist() == [False]


def test_conditions_that_did_not_learn_other_encodings_and_other_tasks_do_not_decide() -> None:
    inputs = planted({"a": [0.002] * 3, "b": [0.3] * 3, "c": [0.3] * 3, "d": [0.3] * 3},
                     runs={"b": {"learned": False}, "c": {"pos_encoding": "rope"}}, task_names={"d": "text"})
    result = run(inputs, tasks=["markov"])
    assert result.verdicts[0].verdict == SUPPORTED
    assert (result.numbers["n_not_learned"], result.numbers["n_descriptive"]) == ("1", "2")
    assert run(inputs).verdicts[0].verdict == MIXED  # text decides by default


def test_without_a_learned_column_the_learning_criterion_is_applied_from_the_settings() -> None:
    """Runs as the statistics stage may hand them in: no ``learned`` column, the criterion in the settings. b's
    final loss does not clear the baseline's margin, so b does not decide; without the criterion every condition
    counts as learned."""
    gaps = {"a": _gap(0.5), "b": _gap(1.99)}
    runs = planted({"a": [0.002] * 3, "b": [0.3] * 3}, runs=gaps).runs.drop(columns="learned")
    myopic = runs[runs["condition"] == "a"].assign(condition="a-myopic", regime="myopic-full")  # never a C6 condition
    runs = pd.concat([runs, myopic], ignore_index=True)
    criterion = {"confidence": 0.95, "learned_margin": 0.05, "learned_gap_share": 0.5}
    conditions = c6.deciding_conditions(runs, criterion, c6.Rules()).set_index("condition")
    assert conditions["learned"].to_dict() == {"a": True, "b": False}
    assert conditions["deciding"].to_dict() == {"a": True, "b": False}
    assert list(conditions.reset_index().columns) == c6.CONDITION_COLUMNS
    assert c6.deciding_conditions(runs, SETTINGS, c6.Rules())["learned"].tolist() == [True, True]
    assert list(c6.deciding_conditions(runs.iloc[:0], criterion, c6.Rules()).columns) == c6.CONDITION_COLUMNS


def test_the_open_gap_is_unknown_where_the_baseline_is_the_optimum() -> None:
    runs = pd.DataFrame([_gap(1.5, optimum=0.5), _gap(2.5, optimum=2.0), _gap(2.5, optimum=np.nan)])
    runs.loc[1, "baseline_loss"] = 2.0  # baseline = optimum: no gap to speak of, not an infinite one
    assert c6.open_gap(runs).tolist()[0] == pytest.approx(2 / 3) and np.isnan(c6.open_gap(runs)[1])
    assert c6.open_gap(runs)[2] == pytest.approx(1.25)  # an unknown optimum counts as 0


def test_bits_per_token_for_token_tasks_and_none_for_sine() -> None:
    result = run(planted({"a": [0.2] * 3, "s": [0.2] * 3}, task_names={"s": "sine"}))
    transfer = result.tables["c6_transfer"].query("choice == 'best'").set_index("condition")
    assert transfer.loc["a", "transfer_bits"].tolist() == pytest.approx([0.2 * GAIN / math.log(2)] * 3)
    assert transfer.loc["a", "context_bits"].tolist() == pytest.approx([GAIN / math.log(2)] * 3)
    assert transfer.loc["s", ["transfer_bits", "context_bits"]].isna().all().all()
    rows = {row["task"]: row for row in result.numbers["rows"]}
    assert rows["task-a"]["bits"]["mean"] == "0.577 bits/token" and rows["task-a"]["context_bits"] == "2.89 bits/token"
    assert rows["task-s"]["bits"] is None and rows["task-s"]["context_bits"] == "no bits reading"
    assert "no bits reading: the loss is not a log-likelihood" in run(
        planted({"s": [0.2] * 3}, task_names={"s": "sine"})).verdicts[0].deciding


def test_the_interval_is_student_t_over_seeds() -> None:
    ratios = [0.001, 0.004, 0.002, 0.006, 0.003]
    row = run(planted({"a": ratios}, adam={"a": 0.0})).tables["c6_decision"].iloc[0]
    mean, sd = float(np.mean(ratios)), float(np.std(ratios, ddof=1))
    half = 2.7764451051977987 * sd / 5**0.5  # t(0.975, 4)
    assert (row["ratio_mean"], row["ratio_low"], row["ratio_high"]) == pytest.approx((mean, mean - half, mean + half))
    assert row["n_seeds"] == 5


def test_the_figure_tables_carry_the_curves_and_the_rules_thresholds() -> None:
    result = run(planted({"a": [0.2, 0.4]}), minuscule=0.02, comparable=0.3)
    curves = result.tables["c6_curves"].query("optimizer == 'sgd'")
    assert curves["eta_factor"].tolist() == list(GRID)
    assert curves["ratio_mean"].tolist() == pytest.approx([0.075, 0.3, 0.075])  # every sequence, mean over seeds
    assert curves["ratio_first_order_mean"].tolist() == pytest.approx([0.15, 0.6, 0.15])
    summary = result.tables["c6_summary"]
    assert set(summary["minuscule"]) == {0.02} and set(summary["comparable"]) == {0.3}


def test_rules_keep_tuples_and_refuse_bad_values() -> None:
    assert c6.Rules(tasks=["text"], optimizers=["adam_run"]).tasks == ("text",)
    with pytest.raises(ValueError, match=r"need 0 < minuscule \(0.2\) < comparable \(0.1\)"):
        c6.Rules(minuscule=0.2, comparable=0.1)
    with pytest.raises(ValueError, match="must be among the swept ones"):
        c6.Rules(optimizers=("adam_fresh",))
    with pytest.raises(ValueError, match="must be among the swept ones"):
        c6.Rules(optimizers=())
    for minuscule, comparable in ((0.0, 0.1), (0.1, 0.1)):  # both inequalities are strict
        with pytest.raises(ValueError, match="need 0 < minuscule"):
            c6.Rules(minuscule=minuscule, comparable=comparable)


def test_the_verdict_names_its_claim_and_the_tables_keep_their_columns() -> None:
    result = run(planted({"a": [0.002] * 3}))
    assert result.verdicts[0].claim == "C6" and "index" not in result.tables["c6_decision"].columns
    without = planted({"a": [0.002] * 3})  # no confidence setting (0.95 by default) and no context-channel table
    bare = c6.CLAIM.run(ClaimInputs({"m7_weight_channel": without.tables["m7_weight_channel"]}, without.runs, {}), {})
    assert bare.verdicts[0].verdict == MIXED and bare.tables["c6_decision"].empty
    assert c6.CLAIM.run(ClaimInputs(without.tables, without.runs, {}), {}).verdicts[0].as_dict() == \
        result.verdicts[0].as_dict()


def test_paper_numbers_of_a_condition() -> None:
    numbers = run(planted({"a": [0.002] * 3}, adam={"a": 0.001})).numbers
    row = numbers["rows"][0]
    assert row["best"] == {"mean": "0.20%", "low": "0.20%", "high": "0.20%"} and row["optimizer"] == "sgd"
    assert row["adam_run"]["mean"] == "0.10%" and row["adam_fresh"]["mean"] == "\u2212100.00%"
    assert row["magnitude"]["mean"] == "0.60%" and row["eta_factor"] == "1" and row["n_edge"] == "0"
    assert (numbers["minuscule"], numbers["comparable"], numbers["open_gap"]) == ("1.00%", "10.00%", "1.00%")
    assert numbers["optimizers"] == "sgd, adam_run" and numbers["n_undecided"] == "0"


def test_pct_prints_two_decimals_or_two_significant_digits() -> None:
    m = "\u2212"
    assert c6.pct(0.0123) == "1.23%" and c6.pct(0.001) == "0.10%" and c6.pct(0.0) == "0.00%"
    assert c6.pct(0.00099) == "9.9e\u22122%" and c6.pct(-0.00099) == f"{m}9.9e{m}2%" and c6.pct(2e-7) == "2.0e\u22125%"
    assert c6.pct(-0.5) == f"{m}50.00%" and c6.pct(float("nan")) == "n/a" and c6.pct(None) == "n/a"
