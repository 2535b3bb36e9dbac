"""Attention sinks: head flags on planted attention, shares over seeds, the gradient relation and its numbers, by hand."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch

from analysis.measures.attention import attention_mass_table
from analysis.stats import sinks
from analysis.stats.claims import ClaimInputs
from analysis.stats.descriptive import ANALYSIS_MODULES

T_975_1 = 12.706204736174698  # Student t quantile, 1 degree of freedom, two-sided 95% (tables)
Z_975 = 1.959963984540054  # standard normal quantile, two-sided 95% (tables)
SETTINGS = {"confidence": 0.95, "s_min": 2}
LENGTH = 8  # late targets t >= 4 compare sources 0 .. 3


def planted_weights() -> torch.Tensor:
    """(1, 1, 3, 8, 8): head 0 uniform causal, head 1 all on position 0, head 2 on the previous token."""
    uniform = torch.ones(LENGTH, LENGTH, dtype=torch.float64).tril()
    uniform = uniform / uniform.sum(-1, keepdim=True)
    first = torch.zeros(LENGTH, LENGTH, dtype=torch.float64)
    first[:, 0] = 1.0
    previous = torch.zeros(LENGTH, LENGTH, dtype=torch.float64)
    previous[0, 0] = 1.0
    previous[torch.arange(1, LENGTH), torch.arange(LENGTH - 1)] = 1.0
    return torch.stack([uniform, first, previous])[None, None]


def planted_m8(condition: str = "a", seed: int = 0, step: int = 0) -> pd.DataFrame:
    table = attention_mass_table(planted_weights())
    table.insert(0, "step", step)
    table.insert(0, "seed", seed)
    table.insert(0, "condition", condition)
    return table


def runs_frame(conditions: dict[str, str], seeds: tuple[int, ...] = (0, 1), steps: int = 10) -> pd.DataFrame:
    """Runs of each condition (name -> regime), encoding "rope", task "lag"."""
    return pd.DataFrame([
        {"condition": c, "seed": s, "task": "lag", "pos_encoding": "rope", "regime": regime, "n_layer": 2, "d_model": 16,
         "context": LENGTH, "steps": steps, "learned": True}
        for c, regime in conditions.items() for s in seeds
    ])


def test_planted_heads_uniform_sink_and_previous_token() -> None:
    heads = sinks.head_table(planted_m8()).set_index("head")
    assert list(heads.columns[:5]) == ["condition", "seed", "step", "layer", "context"]
    assert (heads["context"] == LENGTH).all()
    assert heads["chance"].tolist() == pytest.approx([0.25] * 3)  # 1 / (8 // 2)
    # uniform attention: every source s < 4 ties under the late targets, so no preference; the raw mass peaks at 0 anyway
    assert not heads.loc[0, "sink"]
    assert heads.loc[0, "first_excess"] == pytest.approx(1.0)
    assert heads.loc[0, "raw_argmax_first"]
    # all on position 0: late mass 1 against the uniform (1/5 + 1/6 + 1/7 + 1/8) / 4 = 533 / 3360
    assert heads.loc[1, "sink"] and heads.loc[1, "raw_argmax_first"]
    assert heads.loc[1, "first_excess"] == pytest.approx(3360 / 533)
    # previous token: late targets 4..7 read 3..6, so among 0..3 only source 3 has mass; raw mass 2/8 at 0, 1/2 at 6
    assert not heads.loc[2, "sink"] and not heads.loc[2, "raw_argmax_first"]
    assert heads.loc[2, "first_excess"] == 0.0


def hand_m8(rows: list[tuple[int, int, float, float]], length: int) -> pd.DataFrame:
    """One run, step and layer; rows (head, s, mass, late_mass) with late_uniform_mass 0.5 and n_targets T - s."""
    frame = pd.DataFrame(rows, columns=["head", "s", "mass", "late_mass"])
    return frame.assign(condition="a", seed=0, step=0, layer=0, late_uniform_mass=0.5, n_targets=length - frame["s"])


def test_a_tie_on_the_late_sources_is_no_sink_and_a_late_peak_beyond_half_is_ignored() -> None:
    # T = 4: the late targets compare sources 0 and 1 only; head 1 peaks at s = 3, outside the compared sources
    heads = sinks.head_table(hand_m8([
        (0, 0, 0.4, 0.3), (0, 1, 0.2, 0.3), (0, 2, 0.2, 0.2), (0, 3, 0.1, 0.2),
        (1, 0, 0.1, 0.4), (1, 1, 0.1, 0.1), (1, 2, 0.3, 0.2), (1, 3, 0.5, 0.9),
    ], length=4)).set_index("head")
    assert heads["sink"].tolist() == [False, True]
    assert heads["raw_argmax_first"].tolist() == [True, False]
    assert heads["first_excess"].tolist() == pytest.approx([0.6, 0.8])
    assert heads["chance"].tolist() == pytest.approx([0.5, 0.5])


def test_one_compared_source_is_a_sink_at_chance_one() -> None:
    heads = sinks.head_table(hand_m8([(0, 0, 0.5, 0.2), (0, 1, 0.6, 0.9)], length=2))
    assert heads["sink"].tolist() == [True]
    assert heads["chance"].tolist() == [1.0]
    assert heads["raw_argmax_first"].tolist() == [False]


def test_empty_or_unmeasured_attention_gives_the_declared_columns() -> None:
    for m8 in (pd.DataFrame(columns=["condition", "seed", "step"]), planted_m8().iloc[:0]):
        heads = sinks.head_table(m8)
        assert heads.empty and list(heads.columns) == sinks.HEAD_COLUMNS
    assert list(sinks.share_table(sinks.head_table(planted_m8().iloc[:0]), runs_frame({"a": "standard"}), 0.95).columns) == sinks.SHARE_COLUMNS


def planted_heads() -> pd.DataFrame:
    """Condition "a", T = 8, steps 0 and 10, two seeds, layers 0 and 1 with two heads each."""
    rows = []
    sink = {  # (seed, step, layer, head) -> sink; first_excess = 2 for a sink, 0.5 otherwise
        (0, 0, 0, 0): False, (0, 0, 0, 1): False, (0, 0, 1, 0): False, (0, 0, 1, 1): True,
        (1, 0, 0, 0): False, (1, 0, 0, 1): False, (1, 0, 1, 0): False, (1, 0, 1, 1): False,
        (0, 10, 0, 0): True, (0, 10, 0, 1): True, (0, 10, 1, 0): False, (0, 10, 1, 1): False,
        (1, 10, 0, 0): True, (1, 10, 0, 1): False, (1, 10, 1, 0): False, (1, 10, 1, 1): False,
    }
    for (seed, step, layer, head), flag in sink.items():
        rows.append({"condition": "a", "seed": seed, "step": step, "layer": layer, "head": head, "context": LENGTH,
                     "chance": 0.25, "sink": flag, "first_excess": 2.0 if flag else 0.5, "raw_argmax_first": True})
    return pd.DataFrame(rows)[sinks.HEAD_COLUMNS]


def test_share_per_seed_then_a_t_interval_over_seeds() -> None:
    shares = sinks.share_table(planted_heads(), runs_frame({"a": "standard"}), 0.95)
    assert list(shares.columns) == sinks.SHARE_COLUMNS
    row = shares.set_index(["step", "layer"])
    # trained, all layers: seed 0 has 2 of 4 sinks, seed 1 has 1 of 4: mean 0.375, sd 0.25 / sqrt 2, se 0.125
    trained = row.loc[(10, "all")]
    assert trained["stage"] == "trained" and trained["n_seeds"] == 2 and trained["n_heads"] == 4
    assert trained["share_mean"] == pytest.approx(0.375)
    assert trained["share_low"] == pytest.approx(0.375 - T_975_1 * 0.125)
    assert trained["share_high"] == pytest.approx(0.375 + T_975_1 * 0.125)
    # first excess: seed 0 (2 + 2 + 0.5 + 0.5) / 4 = 1.25, seed 1 (2 + 0.5 * 3) / 4 = 0.875
    assert trained["first_excess_mean"] == pytest.approx(1.0625)
    assert trained["first_excess_high"] - trained["first_excess_mean"] == pytest.approx(T_975_1 * 0.1875)
    assert trained["raw_share_mean"] == 1.0 and trained["chance"] == 0.25
    # trained, layer 0: seed 0 both heads, seed 1 one of two
    assert row.loc[(10, "0"), "share_mean"] == pytest.approx(0.75) and row.loc[(10, "0"), "n_heads"] == 2
    assert row.loc[(10, "1"), "share_mean"] == 0.0 and row.loc[(10, "1"), "share_low"] == 0.0
    # init: seed 0 one sink of four, seed 1 none
    assert row.loc[(0, "all"), "stage"] == "init"
    assert row.loc[(0, "all"), "share_mean"] == pytest.approx(0.125)
    assert shares[["task", "pos_encoding", "regime", "n_layer", "context"]].drop_duplicates().values.tolist() == [["lag", "rope", "standard", 2, LENGTH]]


def test_a_step_between_init_and_the_end_is_training() -> None:
    heads = pd.concat([planted_heads(), planted_heads().query("step == 10").assign(step=5)])
    shares = sinks.share_table(heads, runs_frame({"a": "standard"}), 0.95)
    assert shares.set_index(["step", "layer"]).loc[(5, "all"), "stage"] == "training"


def test_one_seed_gives_no_interval() -> None:
    shares = sinks.share_table(planted_heads().query("seed == 0"), runs_frame({"a": "standard"}, seeds=(0,)), 0.95)
    trained = shares.set_index(["step", "layer"]).loc[(10, "all")]
    assert trained["share_mean"] == 0.5 and np.isnan(trained["share_low"]) and trained["n_seeds"] == 1


def primacy_runs() -> pd.DataFrame:
    rows = []
    for condition in ("a", "m"):
        for seed in (0, 1):
            for stage, step in (("init", 0), ("trained", 10)):
                for layer in (0, 1):
                    rows.append({"condition": condition, "seed": seed, "step": step, "stage": stage, "layer": layer,
                                 "primacy_first": 0.0, "primacy_early": 10 * seed + 100 * (stage == "trained") + layer})
    return pd.DataFrame(rows)


def test_gradient_table_pairs_the_final_heads_with_trained_layer_zero_primacy_of_standard_runs() -> None:
    heads = pd.concat([planted_heads(), planted_heads().assign(condition="m")])
    table = sinks.gradient_table(heads, primacy_runs(), runs_frame({"a": "standard", "m": "myopic-full"}))
    assert list(table.columns) == sinks.GRADIENT_COLUMNS
    assert table["condition"].tolist() == ["a", "a"]  # the myopic run cuts the gradient by design
    assert table["step"].tolist() == [10, 10]
    assert table["sink_share"].tolist() == pytest.approx([0.5, 0.25])
    assert table["first_excess"].tolist() == pytest.approx([1.25, 0.875])
    assert table["primacy_early"].tolist() == [100, 110]


def test_no_primacy_table_leaves_the_relation_empty() -> None:
    for primacy in (None, primacy_runs().iloc[:0]):
        table = sinks.gradient_table(planted_heads(), primacy, runs_frame({"a": "standard"}))
        assert table.empty and list(table.columns) == sinks.GRADIENT_COLUMNS


def test_spearman_by_hand_with_its_fisher_interval() -> None:
    # ranks differ by (0, 0, 0, 1, 1): rho = 1 - 6 * 2 / (5 * 24) = 0.9
    interval = sinks.spearman_interval(np.array([1, 2, 3, 4, 5, np.nan]), np.array([1, 2, 3, 5, 4, 7]), 0.95)
    half = Z_975 * math.sqrt(1.06 / 2)
    assert interval.n == 5
    assert interval.estimate == pytest.approx(0.9)
    assert interval.low == pytest.approx(math.tanh(math.atanh(0.9) - half))
    assert interval.high == pytest.approx(math.tanh(math.atanh(0.9) + half))


def test_spearman_needs_enough_runs_and_variation() -> None:
    assert np.isnan(sinks.spearman_interval(np.arange(4.0), np.arange(4.0), 0.95).estimate)
    constant = sinks.spearman_interval(np.ones(6), np.arange(6.0), 0.95)
    assert np.isnan(constant.estimate) and constant.n == 6
    assert np.isnan(sinks.spearman_interval(np.array([]), np.array([]), 0.95).estimate)


def test_correlation_numbers_overall_and_within_encoding() -> None:
    gradient = pd.DataFrame({
        "condition": "a", "seed": range(7), "step": 10, "task": "lag",
        "pos_encoding": ["rope"] * 5 + ["alibi"] * 2,
        "sink_share": 0.0, "first_excess": [1, 2, 3, 4, 5, 6, 7], "primacy_early": [1, 2, 3, 5, 4, 6, 7],
    })
    numbers = sinks.correlation_numbers(gradient, 0.95)
    # all seven: rank differences (0, 0, 0, 1, 1, 0, 0): rho = 1 - 12 / (7 * 48)
    assert float(numbers["all"]["mean"]) == pytest.approx(1 - 12 / 336, abs=0.005) and numbers["all"]["n"] == "7"
    by = {row["scope"]: row for row in numbers["by_encoding"]}
    assert by["rope"]["mean"] == "0.90" and by["rope"]["reported"]
    assert by["alibi"]["mean"] == "n/a" and not by["alibi"]["reported"] and by["alibi"]["n"] == "2"
    empty = sinks.correlation_numbers(gradient.iloc[:0], 0.95)
    assert not empty["measured"] and empty["by_encoding"] == [] and empty["all"]["mean"] == "n/a"


def test_compute_writes_the_declared_tables_and_the_numbers_the_paper_prints() -> None:
    m8 = pd.concat([planted_m8(seed=seed, step=step) for seed in (0, 1) for step in (0, 10)]
                   + [planted_m8(condition="gone", seed=0, step=10)])  # a run not in the runs table: not averaged
    runs = runs_frame({"a": "standard"})
    result = sinks.ANALYSIS.run(ClaimInputs({"m8_attention_mass": m8, "primacy_runs": primacy_runs()}, runs, SETTINGS))
    assert set(result.tables) == {"sink_heads", "sink_share", "sink_gradient"}
    assert set(result.tables["sink_heads"]["condition"]) == {"a"}
    numbers = result.numbers
    assert numbers["measured"] and numbers["n_conditions"] == "1" and numbers["s_min"] == "2"
    row = numbers["conditions"][0]
    assert (row["pos_encoding"], row["context"], row["half"], row["chance"], row["n_seeds"]) == ("rope", "8", "4", "0.250", "2")
    # one sink of three heads in every seed: share 1/3 with a zero-width interval, above chance 1/4
    assert row["trained"]["share"] == {"mean": "0.33", "low": "0.33", "high": "0.33", "n": "2"}
    assert row["trained"]["raw_share"]["mean"] == "0.67" and row["trained"]["above_chance"]
    # first excess (1 + 3360/533 + 0) / 3 = 2.43: favours the first position
    assert row["trained"]["first_excess"]["mean"] == "2.43" and row["trained"]["favours_first"]
    assert not row["trained"]["avoids_first"]
    assert numbers["n_above_chance_trained"] == "1" and numbers["n_favours_first_init"] == "1"
    assert numbers["correlation"]["n_runs"] == "2" and not numbers["correlation"]["all"]["reported"]


def test_compute_without_attention_or_primacy_reports_nothing() -> None:
    inputs = ClaimInputs({"m8_attention_mass": pd.DataFrame(columns=["condition", "seed", "step"])}, runs_frame({"a": "standard"}), SETTINGS)
    result = sinks.compute(inputs)
    assert all(table.empty for table in result.tables.values())
    assert not result.numbers["measured"] and result.numbers["conditions"] == []
    assert result.numbers["n_above_chance_trained"] == "0" and not result.numbers["correlation"]["measured"]


def test_registered() -> None:
    assert "sinks" in ANALYSIS_MODULES
    assert sinks.ANALYSIS.inputs == ("m8_attention_mass", "primacy_runs")


def _stage_row(share_low: float, chance: float, excess_low: float, excess_high: float) -> pd.Series:
    return pd.Series({"share_mean": 0.25, "share_low": share_low, "share_high": 0.4, "raw_share_mean": 1.5, "raw_share_low": 1.0,
                      "raw_share_high": 2.0, "first_excess_mean": 1.5, "first_excess_low": excess_low,
                      "first_excess_high": excess_high, "n_seeds": 5, "chance": chance})


def test_stage_numbers_print_three_intervals_and_decide_each_reading_strictly() -> None:
    numbers = sinks._stage_numbers(_stage_row(share_low=0.1, chance=0.0625, excess_low=1.0, excess_high=2.0))
    assert numbers["share"] == {"mean": "0.25", "low": "0.10", "high": "0.40", "n": "5"}
    assert numbers["raw_share"] == {"mean": "1.50", "low": "1.00", "high": "2.00", "n": "5"}
    assert numbers["first_excess"] == {"mean": "1.50", "low": "1.00", "high": "2.00", "n": "5"}
    assert (numbers["above_chance"], numbers["favours_first"], numbers["avoids_first"]) == (True, False, False)  # low = 1: not above 1
    at_chance = sinks._stage_numbers(_stage_row(share_low=0.0625, chance=0.0625, excess_low=1.01, excess_high=1.0))
    assert (at_chance["above_chance"], at_chance["favours_first"], at_chance["avoids_first"]) == (False, True, False)
    below_one = sinks._stage_numbers(_stage_row(share_low=0.0, chance=0.0625, excess_low=0.2, excess_high=0.99))
    assert (below_one["above_chance"], below_one["favours_first"], below_one["avoids_first"]) == (False, False, True)
    missing = sinks._stage_numbers(None)
    assert missing["share"] == {"mean": "n/a", "low": "n/a", "high": "n/a", "n": "0"}
    assert (missing["above_chance"], missing["favours_first"], missing["avoids_first"]) == (False, False, False)
