"""C6 on planted M7 tables whose answers are known: every verdict word, the threshold boundaries, empty input."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from analysis.stats import c6
from analysis.stats.claims import MIXED, REFUTED, SUPPORTED, ClaimInputs

T, FINAL, CONTEXT_GAIN = 4, 100, 2.0  # context channel: L(alone) - L(full) = 2 at every t >= 1
SETTINGS = {"confidence": 0.95}


def planted(ratios: dict[str, list[float]], task_learned: dict[str, bool] | None = None, sgd: float = 0.0,
            first_order: float | None = None, other: float = 0.0, encodings: dict[str, str] | None = None) -> ClaimInputs:
    """Per condition, per seed: the adam full-step signed transfer to t + 1 is ratio x the context channel.

    SGD's transfer is ``sgd`` x the context channel; the first-order term is ``first_order`` x it (default: as
    exact); the comparison sequence's change is -``other`` x it. At initialisation (step 0) everything is
    planted at 100 x, which the claim must ignore.
    """
    weight, context, runs = [], [], []
    for condition, values in ratios.items():
        for seed, ratio in enumerate(values):
            runs.append({"condition": condition, "seed": seed, "task": f"task-{condition}", "task_name": "markov",
                         "pos_encoding": (encodings or {}).get(condition, "learned"), "regime": "standard", "steps": FINAL,
                         "learned": (task_learned or {}).get(condition, True)})
            for step, scale in ((0, 100.0), (FINAL, 1.0)):
                for t in range(T):
                    context.append({"condition": condition, "seed": seed, "step": step, "t": t, "loss_full": 1.0,
                                    "loss_alone": 1.0 + (CONTEXT_GAIN if t >= 1 else 0.0), "loss_shuffled": 1.0})
                for optimizer, size in (("adam", ratio), ("sgd", sgd)):
                    for name, factor in (("full", 1.0), ("token_share", 1e-3)):
                        for k in (0, 1):
                            for t in range(T - k):
                                change = -scale * size * CONTEXT_GAIN * (1.0 if k == 1 else 5.0)
                                exact = change if name == "full" else np.nan
                                first = change if first_order is None else -first_order * CONTEXT_GAIN
                                weight.append({
                                    "condition": condition, "seed": seed, "step": step, "optimizer": optimizer,
                                    "step_scale": name, "eta_factor": factor, "eta": 0.003 * factor, "t": t, "k": k,
                                    "exact_change": exact, "exact_abs_change": abs(exact),
                                    "first_order_change": first * (factor if name == "token_share" else 1.0),
                                    "first_order_abs_change": abs(first),
                                    "exact_change_other": other * CONTEXT_GAIN if name == "full" else np.nan,
                                })
    tables = {"m7_weight_channel": pd.DataFrame(weight), "m7_context_channel": pd.DataFrame(context)}
    return ClaimInputs(tables=tables, runs=pd.DataFrame(runs), settings=SETTINGS)


def run(inputs: ClaimInputs, **overrides):
    return c6.CLAIM.run(inputs, overrides)


def test_minuscule_transfer_in_every_condition_is_supported() -> None:
    result = run(planted({"a": [0.001, 0.002, 0.003, 0.002, 0.002], "b": [0.004, 0.004, 0.005, 0.003, 0.004]}))
    assert result.verdicts[0].verdict == SUPPORTED
    assert result.numbers["n_minuscule"] == "2" and result.numbers["n_conditions"] == "2"


def test_comparable_transfer_in_every_condition_is_refuted() -> None:
    result = run(planted({"a": [0.3, 0.31, 0.29, 0.3, 0.3], "b": [0.2, 0.25, 0.22, 0.21, 0.24]}))
    assert result.verdicts[0].verdict == REFUTED
    assert result.numbers["n_comparable"] == "2"


def test_one_minuscule_and_one_comparable_condition_is_mixed() -> None:
    result = run(planted({"a": [0.002] * 5, "b": [0.3] * 5}))
    assert result.verdicts[0].verdict == MIXED
    assert set(result.tables["c6_decision"]["reading"]) == {c6.MINUSCULE, c6.COMPARABLE}


def test_an_interval_between_the_thresholds_is_mixed() -> None:
    result = run(planted({"a": [0.005, 0.05, 0.02, 0.03, 0.01]}))
    assert result.verdicts[0].verdict == MIXED
    assert result.tables["c6_decision"]["reading"].tolist() == [c6.BETWEEN]


@pytest.mark.parametrize(
    ("ratio", "word"),
    [(0.25, MIXED), (np.nextafter(0.25, 0.0), SUPPORTED), (0.5, MIXED), (np.nextafter(0.5, 1.0), REFUTED)],
)
def test_threshold_boundaries_are_strict(ratio: float, word: str) -> None:
    """Seeds that agree give a zero-width interval [r, r]; thresholds exact in binary (0.25, 0.5)."""
    result = run(planted({"a": [ratio] * 5}), minuscule=0.25, comparable=0.5)
    assert result.verdicts[0].verdict == word


def test_empty_input_is_mixed_with_every_declared_table() -> None:
    empty = ClaimInputs(tables={}, runs=pd.DataFrame(), settings=SETTINGS)
    result = run(empty)
    assert result.verdicts[0].verdict == MIXED
    assert set(result.tables) == {"c6_transfer", "c6_summary", "c6_decision"}
    assert all(table.empty for table in result.tables.values())
    assert result.numbers["n_conditions"] == "0" and result.numbers["rows"] == []


def test_one_seed_gives_no_interval_and_decides_nothing() -> None:
    result = run(planted({"a": [0.002], "b": [0.3]}))
    assert result.verdicts[0].verdict == MIXED
    assert result.tables["c6_decision"]["reading"].tolist() == [c6.BETWEEN, c6.BETWEEN]
    assert "30.00% [n/a, n/a]" in result.verdicts[0].deciding


def test_the_interval_is_student_t_over_seeds() -> None:
    ratios = [0.001, 0.004, 0.002, 0.006, 0.003]
    row = run(planted({"a": ratios})).tables["c6_decision"].iloc[0]
    mean, sd = sum(ratios) / 5, (sum((r - sum(ratios) / 5) ** 2 for r in ratios) / 4) ** 0.5
    half = stats.t.ppf(0.975, df=4) * sd / 5**0.5
    assert row["ratio_exact_mean"] == pytest.approx(mean, rel=1e-9)
    assert row["ratio_exact_low"] == pytest.approx(mean - half, rel=1e-9)
    assert row["ratio_exact_high"] == pytest.approx(mean + half, rel=1e-9)
    assert row["n_seeds"] == 5


def test_the_decision_uses_the_exact_adam_full_step_only() -> None:
    """SGD comparable, the first-order term comparable, initialisation 100x: the exact Adam step decides."""
    result = run(planted({"a": [0.002] * 5}, sgd=0.4, first_order=0.4))
    assert result.verdicts[0].verdict == SUPPORTED
    summary = result.tables["c6_summary"].set_index(["optimizer", "step_scale"])
    assert summary.loc[("sgd", "full"), "ratio_exact_mean"] == pytest.approx(0.4)
    assert summary.loc[("adam", "full"), "ratio_first_order_mean"] == pytest.approx(0.4)
    assert set(result.tables["c6_transfer"]["step"]) == {FINAL}
    # SGD decides when the rule says so
    assert run(planted({"a": [0.002] * 5}, sgd=0.4), optimizer="sgd").verdicts[0].verdict == REFUTED


def test_conditions_that_did_not_learn_do_not_decide() -> None:
    result = run(planted({"a": [0.002] * 5, "b": [0.3] * 5}, task_learned={"b": False}))
    assert result.verdicts[0].verdict == SUPPORTED
    assert result.numbers["n_not_learned"] == "1"


def test_descriptive_encodings_and_other_tasks_do_not_decide() -> None:
    """Two-seed descriptive encodings would leave wide intervals; they are context, as are tasks outside the rule."""
    result = run(planted({"a": [0.002] * 5, "b": [0.3, 0.01]}, encodings={"b": "rope"}))
    assert result.verdicts[0].verdict == SUPPORTED
    assert result.numbers["n_descriptive"] == "1"
    assert run(planted({"a": [0.002] * 5}), tasks="text").verdicts[0].verdict == MIXED  # no deciding condition


def test_signed_transfer_magnitude_and_the_comparison_sequence_are_kept_apart() -> None:
    inputs = planted({"a": [0.01] * 3}, other=0.004)  # the other sequence's loss goes up by 0.004 x C
    weight = inputs.tables["m7_weight_channel"].copy()
    later = (weight["k"] == 1) & (weight["step_scale"] == "full") & (weight["optimizer"] == "adam")
    flip = later & (weight["t"] % 2 == 1)  # t = 1 of T - 1 = 3 sources: signs -, +, -
    weight.loc[flip, "exact_change"] = -weight.loc[flip, "exact_change"]
    inputs = ClaimInputs({**inputs.tables, "m7_weight_channel": weight}, inputs.runs, inputs.settings)
    row = run(inputs).tables["c6_transfer"].query("optimizer == 'adam' and step_scale == 'full'").iloc[0]
    gain = 0.01 * CONTEXT_GAIN
    assert row["transfer_exact"] == pytest.approx((gain - gain + gain) / 3)  # mean of -Delta L over t = 0, 1, 2
    assert row["magnitude_exact"] == pytest.approx(gain)
    assert row["transfer_other"] == pytest.approx(-0.004 * CONTEXT_GAIN)
    assert row["transfer_specific"] == pytest.approx(gain / 3 + 0.004 * CONTEXT_GAIN)
    assert row["context_channel"] == pytest.approx(CONTEXT_GAIN)
    assert row["ratio_magnitude"] == pytest.approx(0.01)


def test_rules_refuse_thresholds_in_the_wrong_order() -> None:
    with pytest.raises(ValueError, match="minuscule"):
        c6.Rules(minuscule=0.2, comparable=0.1)


def test_paper_numbers_name_each_condition_and_the_first_order_crossing() -> None:
    numbers = run(planted({"a": [0.002] * 5})).numbers
    row = numbers["rows"][0]
    assert row["signed"] == {"mean": "0.20%", "low": "0.20%", "high": "0.20%"}
    assert row["crossing_minuscule"] == "5"  # 1% / 0.2% at the full step: 5 x lr
    assert numbers["minuscule"] == "1.00%" and numbers["comparable"] == "10.00%"
    assert [r["step_scale"] for r in numbers["sweep"]] == ["token_share", "full"]
    assert numbers["sweep"][1]["adam_exact"] == "0.20% to 0.20%" and numbers["sweep"][0]["adam_exact"] == "n/a"
    assert numbers["sweep"][0]["adam"] == "2.0e\u22124% to 2.0e\u22124%"  # first order, linear: 0.2% x 1e-3


def test_every_number_the_paper_prints_by_hand() -> None:
    """C6's numbers dictionary on a planted case worked by hand.

    a: ratios 0.002, 0.004 over 2 seeds: mean 0.003, se 0.001, t(0.975, 1) = 12.7062047: [-0.97%, 1.57%] (between);
    its comparison-sequence change 0.0005 x C adds 0.0005 to the specific ratio: 0.35% [-0.92%, 1.62%].
    b: 0.3 in both seeds: 30.00% with no width (comparable). c did not learn; d has rope positions (descriptive).
    SGD's transfer is 0.1% everywhere; the token-share step (eta x 1e-3) has first-order ratios 3e-6 (a) and 3e-4 (b),
    printed with two significant digits: 3.0e-4% and 3.0e-2%. Crossing of 1% at first order: 0.01 / 0.003 = 3.33.
    """
    result = run(planted({"a": [0.002, 0.004], "b": [0.3, 0.3], "c": [0.002, 0.002], "d": [0.002, 0.002]},
                         task_learned={"c": False}, sgd=0.001, other=0.0005, encodings={"d": "rope"}))
    m = "\u2212"

    def ci(mean: str, low: str, high: str) -> dict[str, str]:
        return {"mean": mean, "low": low, "high": high}

    a_signed, b_signed = ci("0.30%", f"{m}0.97%", "1.57%"), ci("30.00%", "30.00%", "30.00%")
    context = {"mean": "2.000", "low": "2.000", "high": "2.000"}
    sgd = ci("0.10%", "0.10%", "0.10%")
    assert result.numbers == {
        "verdict": {
            "claim": "C6", "verdict": MIXED, "kind": "finding",
            "deciding": "signed transfer to t + 1 / context channel after one adam step on L_t alone (full step): largest "
                        "upper bound in task-b, learned: 30.00% [30.00%, 30.00%] (magnitude 30.00%); 0 of 2 conditions "
                        "minuscule, 1 comparable",
            "rule": "per learned standard condition (learned positions; markov,lag,text), the 95% t interval over seeds of "
                    "signed transfer to t + 1 / context channel (exact change, adam, full step); supported if every upper "
                    "bound is below 1.00%, refuted if every lower bound is above 10.00%, mixed otherwise"},
        "minuscule": "1.00%", "comparable": "10.00%", "confidence": "95", "optimizer": "adam", "k": "1",
        "n_conditions": "2", "n_minuscule": "0", "n_comparable": "1", "n_not_learned": "1", "n_descriptive": "1",
        "tasks": "lag, markov, text", "pos_encodings": "learned",
        "rows": [
            {"task": "task-a", "pos_encoding": "learned", "n": "2", "reading": c6.BETWEEN, "signed": a_signed,
             "first_order": a_signed, "magnitude": a_signed, "specific": ci("0.35%", f"{m}0.92%", "1.62%"),
             "context": context, "sgd_signed": sgd, "crossing_minuscule": "3.33"},
            {"task": "task-b", "pos_encoding": "learned", "n": "2", "reading": c6.COMPARABLE, "signed": b_signed,
             "first_order": b_signed, "magnitude": b_signed, "specific": ci("30.05%", "30.05%", "30.05%"),
             "context": context, "sgd_signed": sgd, "crossing_minuscule": "0.0333"},
        ],
        "sweep": [
            {"step_scale": "token_share", "eta_factor": "0.001", "adam": f"3.0e{m}4% to 3.0e{m}2%", "adam_exact": "n/a",
             "sgd": f"1.0e{m}4% to 1.0e{m}4%", "sgd_exact": "n/a"},
            {"step_scale": "full", "eta_factor": "1", "adam": "0.30% to 30.00%", "adam_exact": "0.30% to 30.00%",
             "sgd": "0.10% to 0.10%", "sgd_exact": "0.10% to 0.10%"},
        ],
    }


def test_pct_prints_two_decimals_or_two_significant_digits() -> None:
    m = "\u2212"
    assert c6.pct(0.0123) == "1.23%" and c6.pct(0.001) == "0.10%" and c6.pct(0.0) == "0.00%"
    assert c6.pct(0.00099) == "9.9e\u22122%" and c6.pct(-0.00099) == f"{m}9.9e{m}2%" and c6.pct(2e-7) == "2.0e\u22125%"
    assert c6.pct(-0.5) == f"{m}50.00%" and c6.pct(float("nan")) == "n/a" and c6.pct(None) == "n/a"
    assert c6.pct(1e-12) == "1.0e\u221210%"  # a two-digit exponent keeps its digits


def test_the_crossing_step_size() -> None:
    assert c6._crossing(0.002, 1.0, 0.01) == "5" and c6._crossing(0.003, 0.5, 0.01) == "1.67"
    assert c6._crossing(0.0, 1.0, 0.01) == "never (no positive transfer)"
    assert c6._crossing(-0.1, 1.0, 0.01) == "never (no positive transfer)"
    assert c6._crossing(float("nan"), 1.0, 0.01) == "never (no positive transfer)"


def test_deciding_conditions_need_learned_a_listed_task_and_a_listed_encoding() -> None:
    """Which standard conditions decide, from their factors (rules: markov, lag, text; learned positions)."""
    runs = pd.DataFrame({
        "condition": ["m", "m", "t", "r", "x", "my"], "seed": [0, 1, 0, 0, 0, 0],
        "task": ["tm", "tm", "tt", "tr", "tx", "tm"], "task_name": ["markov", "markov", "text", "markov", "sine", "markov"],
        "pos_encoding": ["learned", "learned", "learned", "rope", "learned", "learned"],
        "regime": ["standard"] * 5 + ["myopic-state"], "learned": [True, False, True, True, True, True]})
    table = c6.deciding_conditions(runs, SETTINGS, c6.Rules())
    assert table.columns.tolist() == ["condition", "task", "task_name", "pos_encoding", "learned", "deciding"]
    assert table[["condition", "learned", "deciding"]].values.tolist() == [
        ["m", False, False], ["t", True, True], ["r", True, False], ["x", True, False]]
    wider = c6.deciding_conditions(runs, SETTINGS, c6.Rules(tasks=" sine , markov,", pos_encodings="learned,rope"))
    assert wider["deciding"].tolist() == [False, False, True, True]
    bare = c6.deciding_conditions(runs.drop(columns=["learned"]), SETTINGS, c6.Rules())
    assert bare["learned"].tolist() == [True] * 4 and bare["deciding"].tolist() == [True, True, False, False]
    criterion = {"confidence": 0.95, "learned_margin": 0.05, "learned_gap_share": 0.5}
    losses = runs.drop(columns=["learned"]).assign(final_eval_loss=[0.5, 0.5, 1.99, 0.5, 0.5, 0.5], baseline_loss=2.0,
                                                   optimal_loss=np.nan)
    assert c6.deciding_conditions(losses, criterion, c6.Rules())["learned"].tolist() == [True, False, True, True]
    empty = c6.deciding_conditions(runs.iloc[:0], SETTINGS, c6.Rules())
    assert empty.empty and empty.columns.tolist() == table.columns.tolist()


def test_numbers_without_sgd_rows_without_conditions_and_with_two_encodings() -> None:
    """No SGD step evaluated -> sgd_signed is None; nothing to decide -> every count is "0"; the encodings
    print sorted, comma-separated."""
    inputs = planted({"a": [0.002, 0.002]})
    weight = inputs.tables["m7_weight_channel"]
    no_sgd = ClaimInputs(tables={**inputs.tables, "m7_weight_channel": weight[weight["optimizer"] != "sgd"]},
                         runs=inputs.runs, settings=inputs.settings)
    numbers = run(no_sgd, pos_encodings="rope,learned").numbers
    assert numbers["rows"][0]["sgd_signed"] is None and numbers["pos_encodings"] == "learned, rope"
    empty = run(ClaimInputs(tables={}, runs=pd.DataFrame(), settings=SETTINGS)).numbers
    assert (empty["n_conditions"], empty["n_minuscule"], empty["n_comparable"], empty["n_not_learned"],
            empty["n_descriptive"], empty["rows"], empty["sweep"]) == ("0", "0", "0", "0", "0", [], [])


# --- worked cases from the mutation survivors ---------------------------------------------------

T95_4, T90_4 = 2.7764451051977987, 2.1318467863266495  # Student t quantiles 0.975 and 0.95 at 4 degrees of freedom


def test_the_interval_follows_the_configured_confidence_and_defaults_to_95() -> None:
    """0.90 from the settings gives t(0.95, 4); settings without a confidence give t(0.975, 4) (literals)."""
    ratios = [0.001, 0.004, 0.002, 0.006, 0.003]
    mean = 0.0032
    sd = (sum((r - mean) ** 2 for r in ratios) / 4) ** 0.5
    for settings, t in (({"confidence": 0.9}, T90_4), ({}, T95_4)):
        inputs = planted({"a": ratios})
        result = run(ClaimInputs(inputs.tables, inputs.runs, settings))
        row = result.tables["c6_decision"].iloc[0]
        assert row["ratio_exact_mean"] == pytest.approx(mean, rel=1e-9)
        assert row["ratio_exact_low"] == pytest.approx(mean - t * sd / 5**0.5, rel=1e-9)
        assert row["ratio_exact_high"] == pytest.approx(mean + t * sd / 5**0.5, rel=1e-9)
    ninety = run(ClaimInputs(inputs.tables, inputs.runs, {"confidence": 0.9}))
    assert "the 90% t interval over seeds" in ninety.verdicts[0].rule and ninety.numbers["confidence"] == "90"


def test_the_rule_k_chooses_the_later_prediction() -> None:
    """k = 0 planted at 5 x the k = 1 change: the ratio read is 5 x 0.002 = 1%, and the text says t + 0."""
    result = run(planted({"a": [0.002] * 3}), k=0)
    assert result.tables["c6_decision"]["ratio_exact_mean"].iloc[0] == pytest.approx(0.01)
    assert result.verdicts[0].deciding.startswith("signed transfer to t + 0 / context channel")


def test_transfer_table_defaults_to_the_next_token() -> None:
    inputs = planted({"a": [0.002, 0.004]})
    table = c6.transfer_table(inputs.tables["m7_weight_channel"], inputs.tables["m7_context_channel"], inputs.runs)
    adam = table.query("optimizer == 'adam' and step_scale == 'full'")
    assert adam["ratio_exact"].tolist() == pytest.approx([0.002, 0.004])  # k = 0 would read 5 x


EMPTY_TRANSFER_COLUMNS = [
    "condition", "seed", "step", "optimizer", "step_scale", "eta_factor", "eta", "transfer_exact", "transfer_first_order",
    "magnitude_exact", "transfer_other", "context_channel", "transfer_specific", "ratio_exact", "ratio_first_order",
    "ratio_magnitude", "ratio_specific",
]  # fmt: skip


@pytest.mark.parametrize("missing", ["m7_weight_channel", "m7_context_channel", "runs"])
def test_a_missing_m7_table_or_runs_table_decides_nothing(missing: str) -> None:
    """Either M7 table absent (or no runs): an empty transfer table with every column, and the verdict's exact text."""
    inputs = planted({"a": [0.002] * 3})
    tables = {name: table for name, table in inputs.tables.items() if name != missing}
    runs = pd.DataFrame() if missing == "runs" else inputs.runs
    result = run(ClaimInputs(tables, runs, SETTINGS))
    assert result.tables["c6_transfer"].empty
    assert result.tables["c6_transfer"].columns.tolist() == EMPTY_TRANSFER_COLUMNS
    assert result.verdicts[0].verdict == MIXED
    assert result.verdicts[0].deciding == "no learned standard condition with M7 tables"
    weight = inputs.tables["m7_weight_channel"]
    context = inputs.tables["m7_context_channel"]
    direct = c6.transfer_table(*(pd.DataFrame() if name == missing else table for name, table in
                                 (("m7_weight_channel", weight), ("m7_context_channel", context), ("runs", inputs.runs))))
    assert direct.empty and direct.columns.tolist() == EMPTY_TRANSFER_COLUMNS


def test_context_channel_averages_positions_from_one_in_a_flat_table() -> None:
    """L(alone) - L(full) at t = 0, 1, 2 is 10, 1, 3: position 0 has no context, so the channel is (1 + 3) / 2 = 2."""
    context = pd.DataFrame({"condition": ["a"] * 3 + ["b"] * 2, "seed": [0] * 5, "step": [7] * 5, "t": [0, 1, 2, 0, 1],
                            "loss_full": [1.0] * 5, "loss_alone": [11.0, 2.0, 4.0, 9.0, 1.5]})
    table = c6.context_channel(context)
    assert table.columns.tolist() == ["condition", "seed", "step", "context_channel"]
    assert table.values.tolist() == [["a", 0, 7, 2.0], ["b", 0, 7, 0.5]]


def test_runs_listed_twice_keep_their_final_checkpoint() -> None:
    """A runs table with two rows per run (differing elsewhere) still picks each run's last step."""
    inputs = planted({"a": [0.002, 0.004]})
    runs = pd.concat([inputs.runs, inputs.runs.assign(final_eval_loss=1.0)], ignore_index=True)
    table = c6.transfer_table(inputs.tables["m7_weight_channel"], inputs.tables["m7_context_channel"], runs)
    assert set(table["step"]) == {FINAL} and len(table) == 2 * 2 * 2  # seeds x optimizers x step sizes


def test_sgd_context_is_each_conditions_own() -> None:
    """SGD's ratio is 0.1% in a and 0.3% in b: each row prints its own condition's SGD full step."""
    inputs = planted({"a": [0.002] * 3, "b": [0.3] * 3}, sgd=0.001)
    weight = inputs.tables["m7_weight_channel"].copy()
    b_sgd = (weight["condition"] == "b") & (weight["optimizer"] == "sgd")
    weight.loc[b_sgd, ["exact_change", "first_order_change"]] *= 3
    rows = run(ClaimInputs({**inputs.tables, "m7_weight_channel": weight}, inputs.runs, SETTINGS)).numbers["rows"]
    assert [row["sgd_signed"] for row in rows] == [{"mean": "0.10%", "low": "0.10%", "high": "0.10%"},
                                                   {"mean": "0.30%", "low": "0.30%", "high": "0.30%"}]


def with_losses(inputs: ClaimInputs, final_loss: dict[str, float]) -> pd.DataFrame:
    return inputs.runs.assign(final_eval_loss=inputs.runs["condition"].map(final_loss), baseline_loss=2.0,
                              optimal_loss=np.nan)


CRITERION = {"confidence": 0.95, "learned_margin": 0.05, "learned_gap_share": 0.5}


def test_learning_is_judged_from_the_losses_when_runs_carry_no_learned_column() -> None:
    """b ends at 1.99 against a baseline of 2 (needs < 1.9): it did not learn, so only a decides -> supported."""
    inputs = planted({"a": [0.002] * 3, "b": [0.3] * 3})
    runs = with_losses(inputs, {"a": 0.5, "b": 1.99}).drop(columns=["learned"])
    result = run(ClaimInputs(inputs.tables, runs, CRITERION))
    assert result.verdicts[0].verdict == SUPPORTED
    assert result.numbers["n_not_learned"] == "1" and result.numbers["n_conditions"] == "1"


def test_a_learned_column_in_the_runs_table_wins_over_the_losses() -> None:
    """The runs say b learned although its losses would not: the column is used, b decides -> mixed."""
    inputs = planted({"a": [0.002] * 3, "b": [0.3] * 3})
    runs = with_losses(inputs, {"a": 0.5, "b": 1.99})
    result = run(ClaimInputs(inputs.tables, runs, CRITERION))
    assert result.verdicts[0].verdict == MIXED
    assert result.numbers["n_not_learned"] == "0" and result.numbers["n_conditions"] == "2"
    assert c6.deciding_conditions(runs, CRITERION, c6.Rules())["learned"].tolist() == [True, True]


SUMMARY_COLUMNS = [
    "condition", "task", "pos_encoding", "learned", "deciding", "optimizer", "step_scale", "eta_factor", "eta",
    *[f"{ratio}_{s}" for ratio in ("ratio_exact", "ratio_first_order", "ratio_magnitude", "ratio_specific",
                                   "context_channel") for s in ("mean", "low", "high")],
    "n_seeds",
]


def test_summary_and_decision_tables_have_their_columns_and_step_sizes() -> None:
    """The planted learning rate is 0.003 x the step factor (1 full, 1e-3 token share)."""
    result = run(planted({"a": [0.002] * 3}))
    summary, decision = result.tables["c6_summary"], result.tables["c6_decision"]
    assert summary.columns.tolist() == SUMMARY_COLUMNS
    assert summary[["optimizer", "step_scale", "eta"]].values.tolist() == [
        ["adam", "full", 0.003], ["adam", "token_share", pytest.approx(3e-6)],
        ["sgd", "full", 0.003], ["sgd", "token_share", pytest.approx(3e-6)]]
    assert decision.columns.tolist() == [*SUMMARY_COLUMNS, "reading"] and decision.index.tolist() == [0]


def test_summary_rows_are_sorted_whatever_the_transfer_order() -> None:
    """Transfer rows in reverse order (b before a, sgd before adam) still give sorted summary rows."""
    inputs = planted({"a": [0.002] * 2, "b": [0.3] * 2})
    transfer = c6.transfer_table(inputs.tables["m7_weight_channel"], inputs.tables["m7_context_channel"], inputs.runs)
    conditions = c6.deciding_conditions(inputs.runs, SETTINGS, c6.Rules())
    summary = c6.summary_table(transfer.iloc[::-1], conditions, 0.95)
    assert summary[["condition", "optimizer", "step_scale"]].values.tolist() == [
        [c, o, s] for c in ("a", "b") for o in ("adam", "sgd") for s in ("full", "token_share")]


def test_summary_of_a_transfer_table_without_conditions_is_empty() -> None:
    """No conditions (bare or with columns), or no transfer rows: no summary rows, every column."""
    inputs = planted({"a": [0.002] * 2})
    transfer = c6.transfer_table(inputs.tables["m7_weight_channel"], inputs.tables["m7_context_channel"], inputs.runs)
    conditions = c6.deciding_conditions(inputs.runs, SETTINGS, c6.Rules())
    for t, c in ((transfer, pd.DataFrame()), (transfer, conditions.iloc[:0]), (transfer.iloc[:0], conditions)):
        summary = c6.summary_table(t, c, 0.95)
        assert summary.empty and summary.columns.tolist() == SUMMARY_COLUMNS


def test_summary_of_a_transfer_table_stacked_onto_an_empty_one() -> None:
    """Concatenating with an empty transfer table leaves object columns; the numbers must not change."""
    inputs = planted({"a": [0.002, 0.004]})
    transfer = c6.transfer_table(inputs.tables["m7_weight_channel"], inputs.tables["m7_context_channel"], inputs.runs)
    stacked = pd.concat([pd.DataFrame(columns=transfer.columns), transfer], ignore_index=True)
    assert stacked["ratio_exact"].dtype == object
    conditions = c6.deciding_conditions(inputs.runs, SETTINGS, c6.Rules())
    row = c6.summary_table(stacked, conditions, 0.95).iloc[0]
    assert row["n_seeds"] == 2 and row["ratio_exact_mean"] == pytest.approx(0.003)


def test_a_deciding_condition_without_an_exact_change_prints_na() -> None:
    """No finite exact change: no bound to rank, so the only condition is named, with n/a throughout."""
    inputs = planted({"a": [0.002] * 3})
    weight = inputs.tables["m7_weight_channel"].assign(exact_change=np.nan, exact_abs_change=np.nan)
    result = run(ClaimInputs({**inputs.tables, "m7_weight_channel": weight}, inputs.runs, SETTINGS))
    assert result.verdicts[0].verdict == MIXED
    assert result.verdicts[0].deciding == (
        "signed transfer to t + 1 / context channel after one adam step on L_t alone (full step): largest upper bound "
        "in task-a, learned: n/a [n/a, n/a] (magnitude n/a); 0 of 1 conditions minuscule, 0 comparable")


def test_range_keeps_finite_values_of_any_dtype() -> None:
    assert c6._range(pd.Series([0.003, np.nan, np.inf, 0.001])) == "0.10% to 0.30%"
    assert c6._range(pd.Series([0.003, None, 0.001], dtype=object)) == "0.10% to 0.30%"
    assert c6._range(pd.Series([np.nan])) == "n/a"


@pytest.mark.parametrize(("minuscule", "comparable"), [(0.0, 0.1), (0.1, 0.1), (-0.01, 0.1)])
def test_rules_need_a_positive_minuscule_strictly_below_comparable(minuscule: float, comparable: float) -> None:
    """0 < minuscule < comparable, both strict: a zero threshold or equal thresholds are refused."""
    with pytest.raises(ValueError, match=rf"need 0 < minuscule \({minuscule}\) < comparable \({comparable}\)"):
        c6.Rules(minuscule=minuscule, comparable=comparable)
    assert c6.Rules(minuscule=1e-9, comparable=comparable).minuscule == 1e-9
