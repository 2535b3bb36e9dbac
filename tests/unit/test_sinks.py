"""Attention sinks: head flags on planted attention, shares over seeds, the gradient relation and its numbers, by hand."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
import torch

from analysis.measures.attention import attention_mass_table
from analysis.stats import sinks
from analysis.stats.claims import ClaimInputs
from analysis.stats.listing import ANALYSES

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
    return pd.DataFrame(
        [
            {
                "condition": c,
                "seed": s,
                "task": "lag",
                "pos_encoding": "rope",
                "regime": regime,
                "n_layer": 2,
                "d_model": 16,
                "context": LENGTH,
                "steps": steps,
                "learned": True,
            }
            for c, regime in conditions.items()
            for s in seeds
        ]
    )


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
    heads = sinks.head_table(
        hand_m8(
            [
                (0, 0, 0.4, 0.3),
                (0, 1, 0.2, 0.3),
                (0, 2, 0.2, 0.2),
                (0, 3, 0.1, 0.2),
                (1, 0, 0.1, 0.4),
                (1, 1, 0.1, 0.1),
                (1, 2, 0.3, 0.2),
                (1, 3, 0.5, 0.9),
            ],
            length=4,
        )
    ).set_index("head")
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
    assert (
        list(sinks.share_table(sinks.head_table(planted_m8().iloc[:0]), runs_frame({"a": "standard"}), 0.95).columns)
        == sinks.SHARE_COLUMNS
    )


def planted_heads() -> pd.DataFrame:
    """Condition "a", T = 8, steps 0 and 10, two seeds, layers 0 and 1 with two heads each."""
    rows = []
    sink = {  # (seed, step, layer, head) -> sink; first_excess = 2 for a sink, 0.5 otherwise
        (0, 0, 0, 0): False,
        (0, 0, 0, 1): False,
        (0, 0, 1, 0): False,
        (0, 0, 1, 1): True,
        (1, 0, 0, 0): False,
        (1, 0, 0, 1): False,
        (1, 0, 1, 0): False,
        (1, 0, 1, 1): False,
        (0, 10, 0, 0): True,
        (0, 10, 0, 1): True,
        (0, 10, 1, 0): False,
        (0, 10, 1, 1): False,
        (1, 10, 0, 0): True,
        (1, 10, 0, 1): False,
        (1, 10, 1, 0): False,
        (1, 10, 1, 1): False,
    }
    for (seed, step, layer, head), flag in sink.items():
        rows.append(
            {
                "condition": "a",
                "seed": seed,
                "step": step,
                "layer": layer,
                "head": head,
                "context": LENGTH,
                "chance": 0.25,
                "sink": flag,
                "first_excess": 2.0 if flag else 0.5,
                "raw_argmax_first": True,
            }
        )
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
    assert shares[["task", "pos_encoding", "regime", "n_layer", "context"]].drop_duplicates().values.tolist() == [
        ["lag", "rope", "standard", 2, LENGTH]
    ]


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
                    rows.append(
                        {
                            "condition": condition,
                            "seed": seed,
                            "step": step,
                            "stage": stage,
                            "layer": layer,
                            "primacy_first": 0.0,
                            "primacy_early": 10 * seed + 100 * (stage == "trained") + layer,
                        }
                    )
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
    gradient = pd.DataFrame(
        {
            "condition": "a",
            "seed": range(7),
            "step": 10,
            "task": "lag",
            "pos_encoding": ["rope"] * 5 + ["alibi"] * 2,
            "sink_share": 0.0,
            "first_excess": [1, 2, 3, 4, 5, 6, 7],
            "primacy_early": [1, 2, 3, 5, 4, 6, 7],
        }
    )
    numbers = sinks.correlation_numbers(gradient, 0.95)
    # all seven: rank differences (0, 0, 0, 1, 1, 0, 0): rho = 1 - 12 / (7 * 48)
    assert float(numbers["all"]["mean"]) == pytest.approx(1 - 12 / 336, abs=0.005) and numbers["all"]["n"] == "7"
    by = {row["scope"]: row for row in numbers["by_encoding"]}
    assert by["rope"]["mean"] == "0.90" and by["rope"]["reported"]
    assert by["alibi"]["mean"] == "n/a" and not by["alibi"]["reported"] and by["alibi"]["n"] == "2"
    empty = sinks.correlation_numbers(gradient.iloc[:0], 0.95)
    assert not empty["measured"] and empty["by_encoding"] == [] and empty["all"]["mean"] == "n/a"


def test_compute_writes_the_declared_tables_and_the_numbers_the_paper_prints() -> None:
    m8 = pd.concat(
        [planted_m8(seed=seed, step=step) for seed in (0, 1) for step in (0, 10)]
        + [planted_m8(condition="gone", seed=0, step=10)]
    )  # a run not in the runs table: not averaged
    runs = runs_frame({"a": "standard"})
    result = sinks.ANALYSIS.run(ClaimInputs({"m8_attention_mass": m8, "primacy_runs": primacy_runs()}, runs, SETTINGS))
    assert set(result.tables) == {"sink_heads", "sink_share", "sink_gradient"}
    assert set(result.tables["sink_heads"]["condition"]) == {"a"}
    numbers = result.numbers
    assert numbers["measured"] and numbers["n_conditions"] == "1" and numbers["s_min"] == "2"
    row = numbers["conditions"][0]
    assert (row["pos_encoding"], row["context"], row["half"], row["chance"], row["n_seeds"]) == (
        "rope",
        "8",
        "4",
        "0.250",
        "2",
    )
    # one sink of three heads in every seed: share 1/3 with a zero-width interval, above chance 1/4
    assert row["trained"]["share"] == {"mean": "0.33", "low": "0.33", "high": "0.33", "n": "2"}
    assert row["trained"]["raw_share"]["mean"] == "0.67" and row["trained"]["above_chance"]
    # first excess (1 + 3360/533 + 0) / 3 = 2.43: favours the first position
    assert row["trained"]["first_excess"]["mean"] == "2.43" and row["trained"]["favours_first"]
    assert not row["trained"]["avoids_first"]
    assert numbers["n_above_chance_trained"] == "1" and numbers["n_favours_first_init"] == "1"
    assert numbers["correlation"]["n_runs"] == "2" and not numbers["correlation"]["all"]["reported"]


def test_compute_without_attention_or_primacy_reports_nothing() -> None:
    inputs = ClaimInputs(
        {"m8_attention_mass": pd.DataFrame(columns=["condition", "seed", "step"])},
        runs_frame({"a": "standard"}),
        SETTINGS,
    )
    result = sinks.compute(inputs)
    assert all(table.empty for table in result.tables.values())
    assert not result.numbers["measured"] and result.numbers["conditions"] == []
    assert result.numbers["n_above_chance_trained"] == "0" and not result.numbers["correlation"]["measured"]


def test_registered() -> None:
    assert sinks.ANALYSIS in ANALYSES
    assert sinks.ANALYSIS.inputs == ("m8_attention_mass", "primacy_runs")


def _stage_row(share_low: float, chance: float, excess_low: float, excess_high: float) -> pd.Series:
    return pd.Series(
        {
            "share_mean": 0.25,
            "share_low": share_low,
            "share_high": 0.4,
            "raw_share_mean": 1.5,
            "raw_share_low": 1.0,
            "raw_share_high": 2.0,
            "first_excess_mean": 1.5,
            "first_excess_low": excess_low,
            "first_excess_high": excess_high,
            "n_seeds": 5,
            "chance": chance,
        }
    )


def test_stage_numbers_print_three_intervals_and_decide_each_reading_strictly() -> None:
    numbers = sinks._stage_numbers(_stage_row(share_low=0.1, chance=0.0625, excess_low=1.0, excess_high=2.0))
    assert numbers["share"] == {"mean": "0.25", "low": "0.10", "high": "0.40", "n": "5"}
    assert numbers["raw_share"] == {"mean": "1.50", "low": "1.00", "high": "2.00", "n": "5"}
    assert numbers["first_excess"] == {"mean": "1.50", "low": "1.00", "high": "2.00", "n": "5"}
    assert (numbers["above_chance"], numbers["favours_first"], numbers["avoids_first"]) == (
        True,
        False,
        False,
    )  # low = 1: not above 1
    at_chance = sinks._stage_numbers(_stage_row(share_low=0.0625, chance=0.0625, excess_low=1.01, excess_high=1.0))
    assert (at_chance["above_chance"], at_chance["favours_first"], at_chance["avoids_first"]) == (False, True, False)
    below_one = sinks._stage_numbers(_stage_row(share_low=0.0, chance=0.0625, excess_low=0.2, excess_high=0.99))
    assert (below_one["above_chance"], below_one["favours_first"], below_one["avoids_first"]) == (False, False, True)
    missing = sinks._stage_numbers(None)
    assert missing["share"] == {"mean": "n/a", "low": "n/a", "high": "n/a", "n": "0"}
    assert (missing["above_chance"], missing["favours_first"], missing["avoids_first"]) == (False, False, False)


# --- worked values for the mutation survivors (docs/mutation.md) ---

Z_95 = 1.6448536269514722  # standard normal quantile, two-sided 90% (tables)


def test_unsorted_attention_gives_heads_sorted_with_a_fresh_index() -> None:
    # rows of seed 1 before seed 0: the table comes out sorted by run and head, indexed 0 .. 5 like any written table
    heads = sinks.head_table(pd.concat([planted_m8(seed=1), planted_m8(seed=0)]))
    assert heads.index.tolist() == list(range(6))
    assert heads[["seed", "head"]].values.tolist() == [[0, 0], [0, 1], [0, 2], [1, 0], [1, 1], [1, 2]]


def test_an_odd_context_compares_the_sources_below_its_floor_half() -> None:
    # T = 5: T // 2 = 2, so the late targets compare s = 0 and 1 only (not s = 2 < 2.5); chance 1 / 2, not 1 / 2.5
    heads = sinks.head_table(
        hand_m8([(0, 0, 0.3, 0.3), (0, 1, 0.2, 0.2), (0, 2, 0.2, 0.9), (0, 3, 0.1, 0.1), (0, 4, 0.2, 0.1)], length=5)
    )
    assert heads["sink"].tolist() == [True]
    assert heads["chance"].tolist() == [0.5]
    assert heads["context"].tolist() == [5] and heads["context"].dtype.kind == "i"  # written as 5, not 5.0


def test_attention_without_late_masses_gives_the_declared_columns() -> None:
    # an attention table measured before the late-target masses existed: nothing to decide, not a KeyError
    heads = sinks.head_table(planted_m8().drop(columns=["late_mass", "late_uniform_mass"]))
    assert heads.empty and list(heads.columns) == sinks.HEAD_COLUMNS


def test_share_rows_are_ordered_by_step_even_when_only_a_later_seed_has_that_step() -> None:
    # seed 1 alone has a checkpoint at step 5: its rows still sit between steps 0 and 10
    heads = pd.concat([planted_heads(), planted_heads().query("seed == 1 and step == 10").assign(step=5)])
    shares = sinks.share_table(heads, runs_frame({"a": "standard"}), 0.95)
    assert shares[["step", "layer"]].values.tolist() == [
        [0, "0"],
        [0, "1"],
        [0, "all"],
        [5, "0"],
        [5, "1"],
        [5, "all"],
        [10, "0"],
        [10, "1"],
        [10, "all"],
    ]
    assert shares.set_index(["step", "layer"]).loc[(5, "all"), "n_seeds"] == 1


def test_gradient_table_is_indexed_afresh_after_dropping_the_myopic_runs() -> None:
    # the myopic condition "a" sorts first: the standard rows of "b" come out indexed 0, 1
    heads = pd.concat([planted_heads(), planted_heads().assign(condition="b")])
    primacy = pd.concat(
        [primacy_runs().query("condition == 'a'"), primacy_runs().query("condition == 'a'").assign(condition="b")]
    )
    table = sinks.gradient_table(heads, primacy, runs_frame({"a": "myopic-full", "b": "standard"}))
    assert table["condition"].tolist() == ["b", "b"]
    assert table.index.tolist() == [0, 1]


def test_spearman_fisher_interval_at_90_percent_for_a_negative_correlation() -> None:
    # ranks of y (5, 4, 3, 1, 2): d = (-4, -2, 0, 3, 3), sum d^2 = 38, rho = 1 - 6 * 38 / (5 * 24) = -0.9
    interval = sinks.spearman_interval(np.array([1, 2, 3, 4, 5]), np.array([5, 4, 3, 1, 2]), 0.90)
    z = 0.5 * math.log((1 - 0.9) / (1 + 0.9))  # Fisher z of -0.9 = -1.4722
    half = Z_95 * math.sqrt(1.06 / (5 - 3))  # Spearman standard error sqrt(1.06 / (n - 3)) = 0.7280; half 1.1975
    back = lambda a: (math.exp(2 * a) - 1) / (math.exp(2 * a) + 1)  # noqa: E731  tanh written out
    assert interval.estimate == pytest.approx(-0.9)
    assert interval.low == pytest.approx(back(z - half)) and interval.low == pytest.approx(-0.99044, abs=1e-5)
    assert interval.high == pytest.approx(back(z + half)) and interval.high == pytest.approx(-0.26804, abs=1e-5)
    assert interval.n == 5


@pytest.mark.parametrize("sign", [1, -1])
def test_a_perfect_spearman_correlation_keeps_a_finite_fisher_z(sign: int) -> None:
    # r = +-1 is clipped to +-(1 - 1e-12): z = 0.5 ln((2 - 1e-12) / 1e-12) = 14.16, so the near bound is finite and
    # strictly inside (-1, 1): 1 - tanh(a) = 2 / (exp(2 a) + 1); no divide-by-zero from arctanh(+-1)
    x = np.array([1.0, 2, 3, 4, 5])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        interval = sinks.spearman_interval(x, sign * 2 * x, 0.95)
    z = 0.5 * math.log((2 - 1e-12) / 1e-12)
    half = Z_975 * math.sqrt(1.06 / 2)
    near, far = (interval.low, interval.high) if sign == 1 else (-interval.high, -interval.low)
    assert interval.estimate == pytest.approx(sign)
    assert near < 1.0 and 1 - near == pytest.approx(2 / (math.exp(2 * (z - half)) + 1), rel=1e-3)
    assert far < 1.0 and 1 - far == pytest.approx(2 / (math.exp(2 * (z + half)) + 1), rel=1e-3)


def test_spearman_range_of_exactly_one_is_variation_and_constant_input_never_reaches_scipy() -> None:
    x, y = np.array([0, 0.25, 0.5, 0.75, 1]), np.array([1, 2, 3, 5, 4])  # rho 0.9 as above; x spans exactly 1
    assert sinks.spearman_interval(x, y, 0.95).estimate == pytest.approx(0.9)
    assert sinks.spearman_interval(y, x, 0.95).estimate == pytest.approx(0.9)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # scipy warns on a constant input: the guard must catch it first
        for a, b in ((np.ones(6), np.arange(6.0)), (np.arange(6.0), np.ones(6))):
            constant = sinks.spearman_interval(a, b, 0.95)
            assert (
                np.isnan(constant.estimate) and np.isnan(constant.low) and np.isnan(constant.high) and constant.n == 6
            )
    few = sinks.spearman_interval(np.arange(4.0), np.arange(4.0), 0.95)
    assert np.isnan(few.low) and np.isnan(few.high) and few.n == 4


def test_correlation_numbers_label_the_pooled_scope_and_sort_encodings_by_name() -> None:
    gradient = pd.DataFrame(
        {
            "condition": "a",
            "seed": range(7),
            "step": 10,
            "task": "lag",
            "pos_encoding": ["rope"] * 5 + ["alibi"] * 2,  # rope first in the table; printed alphabetically
            "sink_share": 0.0,
            "first_excess": [1, 2, 3, 4, 5, 6, 7],
            "primacy_early": [1, 2, 3, 5, 4, 6, 7],
        }
    )
    numbers = sinks.correlation_numbers(gradient, 0.95)
    assert numbers["all"]["scope"] == "all" and numbers["all"]["reported"]
    assert [row["scope"] for row in numbers["by_encoding"]] == ["alibi", "rope"]
    assert numbers["min_runs"] == "5" and numbers["n_runs"] == "7" and numbers["measured"]


def _share_rows(
    condition: str,
    encoding: str,
    stages: tuple[str, ...],
    *,
    regime: str = "standard",
    n_layer: int = 2,
    d_model: int = 16,
) -> list[dict]:
    """Rows of a share table: layer "0" (share 0.9) and "all" (share 0.5) per stage; only "all" for a single stage."""
    rows = []
    for stage in stages:
        for layer, share in (("0", 0.9), ("all", 0.5)) if len(stages) > 1 else (("all", 0.5),):
            rows.append(
                {
                    "condition": condition,
                    "task": "lag",
                    "pos_encoding": encoding,
                    "regime": regime,
                    "n_layer": n_layer,
                    "d_model": d_model,
                    "context": 8,
                    "step": 0 if stage == "init" else 10,
                    "stage": stage,
                    "layer": layer,
                    "n_seeds": 3,
                    "n_heads": 4,
                    "chance": 0.25,
                    "share_mean": share,
                    "share_low": share - 0.2,
                    "share_high": share + 0.2,
                    "raw_share_mean": 1.0,
                    "raw_share_low": 1.0,
                    "raw_share_high": 1.0,
                    "first_excess_mean": 1.5,
                    "first_excess_low": 1.2,
                    "first_excess_high": 1.8,
                }
            )
    return rows


def planted_shares() -> pd.DataFrame:
    both = ("init", "trained")
    return pd.DataFrame(
        [
            *_share_rows("alibi", "alibi", both),
            *_share_rows("rope_deep", "rope", both, n_layer=4),
            *_share_rows("rope_wide", "rope", both, d_model=32),
            *_share_rows("myopic", "rope", both, regime="myopic-full"),
            *_share_rows("0_rope_wide", "rope", both, d_model=32),  # same factors as rope_wide, after it in the table
            *_share_rows("xpos", "xpos", ("trained",)),  # an encoding outside ENCODING_ORDER, measured trained only
        ]
    )


def test_condition_numbers_order_pool_and_flags_by_hand() -> None:
    runs = pd.DataFrame(
        {
            "condition": ["alibi", "rope_deep", "rope_wide", "0_rope_wide", "xpos", "myopic"],
            "learned": [False, True, True, True, True, True],
        }
    )
    rows = sinks.condition_numbers(planted_shares(), runs)
    # ENCODING_ORDER (rope before alibi, unknown last), then n_layer (2 before 4) before d_model; ties keep the table's order;
    # the myopic condition is left out
    assert [r["condition"] for r in rows] == ["rope_wide", "0_rope_wide", "rope_deep", "alibi", "xpos"]
    alibi = rows[3]
    assert (alibi["task"], alibi["pos_encoding"], alibi["n_layer"], alibi["d_model"]) == ("lag", "alibi", "2", "16")
    assert (alibi["context"], alibi["half"], alibi["chance"], alibi["n_seeds"]) == ("8", "4", "0.250", "3")
    assert alibi["learned"] is False and rows[0]["learned"] is True
    # the pooled ("all") rows, not layer 0's share of 0.9
    assert alibi["trained"]["share"] == {"mean": "0.50", "low": "0.30", "high": "0.70", "n": "3"}
    assert alibi["init"]["share"]["mean"] == "0.50" and alibi["trained"]["above_chance"]
    xpos = rows[4]
    assert xpos["pos_encoding"] == "xpos" and xpos["trained"]["share"]["mean"] == "0.50"
    assert xpos["init"]["share"] == {"mean": "n/a", "low": "n/a", "high": "n/a", "n": "0"}
    # a runs table without "learned": no verdict on learning
    unlabelled = sinks.condition_numbers(planted_shares(), runs.drop(columns="learned"))
    assert [r["learned"] for r in unlabelled] == [None] * 5


def test_compute_reports_the_correlation_at_the_configured_confidence() -> None:
    # five runs of one condition, one head each at T = 2 (source 0 only is compared): first_excess = late_mass / 0.5
    m8 = pd.concat(
        [
            hand_m8([(0, 0, 0.5, late), (0, 1, 0.5, 0.1)], length=2).assign(seed=seed, step=10)
            for seed, late in enumerate([0.1, 0.2, 0.3, 0.4, 0.5])
        ]
    )
    primacy = pd.DataFrame(
        {
            "condition": "a",
            "seed": range(5),
            "step": 10,
            "stage": "trained",
            "layer": 0,
            "primacy_first": 0.0,
            "primacy_early": [1, 2, 3, 5, 4],
        }
    )
    runs = runs_frame({"a": "standard"}, seeds=tuple(range(5)))
    result = sinks.compute(
        ClaimInputs({"m8_attention_mass": m8, "primacy_runs": primacy}, runs, {"confidence": 0.90, "s_min": 2})
    )
    numbers = result.numbers
    assert numbers["confidence_pct"] == "90"
    # rho = 0.9 (first_excess 0.2 .. 1.0 against primacy 1, 2, 3, 5, 4); z = 1.4722, half = 1.6449 * sqrt(1.06 / 2) = 1.1975:
    # tanh(0.2747) = 0.268, tanh(2.6697) = 0.990
    expected = {"mean": "0.90", "low": "0.27", "high": "0.99", "n": "5"}
    assert numbers["correlation"]["all"] == {"scope": "all", "reported": True, **expected}
    assert numbers["correlation"]["by_encoding"] == [{"scope": "rope", "reported": True, **expected}]
    assert numbers["correlation"]["n_runs"] == "5" and numbers["correlation"]["min_runs"] == "5"
