"""Primacy: the source effects of log G = a_t + b_s against hand-worked, slow and planted answers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.stats import primacy
from analysis.stats.claims import ClaimInputs
from analysis.stats.listing import ANALYSES

SETTINGS = {"s_min": 2, "d_min": 1, "confidence": 0.95, "alpha": 0.05}
T_975_2 = 4.302652729911275  # Student t quantile 0.975 with 2 degrees of freedom (tables)
FIRST_COLUMNS = ["condition", "step", "layer", "ratio_mean", "ratio_low", "ratio_high", "n_seeds"]


def matrix(g: np.ndarray, condition: str = "c", seed: int = 0, step: int = 0, layer: int = 0) -> pd.DataFrame:
    """Every cell s <= t of a square matrix ``g`` as M1 rows."""
    t, s = np.tril_indices(len(g))
    return pd.DataFrame(
        {
            "condition": condition,
            "seed": seed,
            "step": step,
            "layer": layer,
            "t": t,
            "s": s,
            "distance": t - s,
            "grad_norm_mean": g[t, s],
        }
    )


def planted(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """G[t, s] = exp(a_t + b_s) below the diagonal, 1 on it."""
    g = np.exp(a[:, None] + b[None, :])
    np.fill_diagonal(g, 1.0)
    return g


def slow_primacy(g: np.ndarray) -> np.ndarray:
    """Dummy-variable least squares of log G[t, s] = a_t + b_s over t > s, b centred over the sources."""
    size = len(g)
    t, s = np.tril_indices(size, k=-1)
    design = np.zeros((len(t), 2 * size))
    design[np.arange(len(t)), t] = 1.0
    design[np.arange(len(t)), size + s] = 1.0
    coef = np.linalg.lstsq(design, np.log(g[t, s]), rcond=None)[0]
    b = coef[size:][: size - 1]  # sources 0 .. T - 2 (the last position has no later target)
    b = b - b.mean()
    # lstsq's minimum-norm answer spreads the free constant over a and b; any constant drops out of b - mean(b)
    return b


def runs_rows(condition: str, seeds: int = 1, n_layer: int = 1, steps: int = 10, **factors) -> pd.DataFrame:
    row = {
        "task": "text",
        "task_name": "text",
        "task_distance": np.nan,
        "regime": "standard",
        "pos_encoding": "learned",
        "n_layer": n_layer,
        "d_model": 64,
        "context": 4,
        "steps": steps,
        "learned": True,
    } | factors
    return pd.DataFrame([{"condition": condition, "seed": seed, **row} for seed in range(seeds)])


# --- the source effects -------------------------------------------------------------------------


def test_three_positions_by_hand():
    # cells (1,0), (2,0), (2,1); row 1 has one cell, which its row effect absorbs; row 2 gives b0 - b1 = ln(e^2) = 2
    g = np.array([[1.0, 0, 0], [5.0, 1, 0], [3 * np.e**2, 3.0, 1]])
    sources = primacy.per_source(matrix(g))
    assert sources["primacy"].to_numpy() == pytest.approx([1.0, -1.0])
    assert sources["column_sum"].to_numpy() == pytest.approx([5 + 3 * np.e**2, 3.0])
    assert sources["n_targets"].tolist() == [2, 1]
    assert sources["per_target"].to_numpy() == pytest.approx([(5 + 3 * np.e**2) / 2, 3.0])
    assert sources["n_fit"].tolist() == [2, 1]


def test_matches_dummy_variable_least_squares_on_a_noisy_matrix():
    rng = np.random.default_rng(3)
    g = np.exp(rng.normal(0, 1, (7, 7)))
    sources = primacy.per_source(matrix(g))
    assert sources["primacy"].to_numpy() == pytest.approx(slow_primacy(g), abs=1e-9)


def test_planted_source_effects_are_recovered_whatever_the_row_totals():
    rng = np.random.default_rng(0)
    a, b = rng.normal(0, 2, 8), rng.normal(0, 1, 8)
    sources = primacy.per_source(matrix(planted(a, b)))
    expected = b[:7] - b[:7].mean()  # the last source has no later target
    assert sources["primacy"].to_numpy() == pytest.approx(expected, abs=1e-9)


def test_row_totals_alone_give_no_primacy_but_inflate_the_raw_sums():
    # G[t, s] = 1 / (t + 1): every target spreads evenly; the raw column sum still falls with s (count and row totals)
    size = 6
    g = np.tile(1.0 / (np.arange(size) + 1.0)[:, None], (1, size))
    sources = primacy.per_source(matrix(g))
    assert sources["primacy"].to_numpy() == pytest.approx(np.zeros(size - 1), abs=1e-12)
    by_hand = [sum(1 / (t + 1) for t in range(s + 1, size)) for s in range(size - 1)]  # 1/2+...+1/6, ...
    assert sources["column_sum"].to_numpy() == pytest.approx(by_hand)
    assert sources["per_target"].is_monotonic_decreasing
    runs = primacy.run_table(sources, 2, {"c": 10})
    assert runs["column_ratio_first"].iloc[0] == pytest.approx(by_hand[0] / np.mean(by_hand))
    assert runs["column_ratio_first"].iloc[0] > 2  # the count-confounded contrast calls this primacy
    assert runs["primacy_first"].iloc[0] == pytest.approx(0.0, abs=1e-12)


def test_zero_cells_stay_in_the_sums_but_out_of_the_fit():
    g = planted(np.zeros(4), np.array([1.0, 0.0, 0.0, 0.0]))
    g[3, 1] = 0.0
    sources = primacy.per_source(matrix(g))
    assert sources["n_targets"].tolist() == [3, 2, 1]
    assert sources["n_fit"].tolist() == [3, 1, 1]
    assert sources["primacy"].to_numpy() == pytest.approx([2 / 3, -1 / 3, -1 / 3], abs=1e-9)


def test_a_known_dependency_distance_is_left_out_of_the_fit_only():
    b = np.array([0.5, 0.0, -0.5, 0.0, 0.0])
    g = planted(np.zeros(5), b)
    for t in range(2, 5):
        g[t, t - 2] *= 100.0  # a lag-2 peak
    cells = matrix(g)
    kept = primacy.per_source(cells, {"c": 2})
    assert kept["primacy"].to_numpy() == pytest.approx(b[:4] - b[:4].mean(), abs=1e-9)
    assert kept["n_fit"].tolist() == [3, 2, 1, 1]  # each source s <= 2 loses its cell (s + 2, s)
    assert kept["column_sum"].iloc[0] == pytest.approx(
        cells.loc[(cells["s"] == 0) & (cells["t"] > 0), "grad_norm_mean"].sum()
    )
    assert not np.allclose(primacy.per_source(cells)["primacy"], kept["primacy"])


def test_last_layer_and_diagonal_are_left_out():
    g = planted(np.zeros(4), np.array([1.0, 0.0, 0.0, 0.0]))
    m1 = pd.concat([matrix(g, layer=0), matrix(np.eye(4), layer=1)], ignore_index=True)
    cells = primacy.earlier_cells(m1, {"c": 1})
    assert set(cells["layer"]) == {0}
    assert (cells["s"] < cells["t"]).all()
    assert primacy.earlier_cells(m1, {}).empty  # a condition without a run is not analysed


def test_empty_input_gives_declared_columns():
    empty = primacy.per_source(matrix(np.ones((1, 1))))  # one position: no earlier source at all
    assert empty.empty and list(empty.columns) == primacy.SOURCE_COLUMNS
    assert list(primacy.run_table(empty, 2, {}).columns) == primacy.RUN_COLUMNS
    assert list(primacy.summarize_sources(empty, {}, 0.95).columns) == primacy.SOURCES_SUMMARY_COLUMNS
    assert (
        list(primacy.summarize_runs(primacy.run_table(empty, 2, {}), pd.DataFrame(), 0.95).columns)
        == primacy.SUMMARY_COLUMNS
    )


# --- per run, stages and intervals ---------------------------------------------------------------


def test_run_table_reads_first_and_early_sources_and_stages():
    b = np.array([1.2, 0.4, -0.2, -0.6, -0.8, 0.0])
    frames = [matrix(planted(np.zeros(6), b), step=step) for step in (0, 5, 10)]
    table = primacy.run_table(primacy.per_source(pd.concat(frames, ignore_index=True)), 2, {"c": 10})
    centred = b[:5] - b[:5].mean()
    assert table["stage"].tolist() == [primacy.INIT, primacy.TRAINING, primacy.TRAINED]
    assert table["primacy_first"].to_numpy() == pytest.approx([centred[0]] * 3)
    assert table["primacy_early"].to_numpy() == pytest.approx([(centred[0] + centred[1]) / 2] * 3)
    assert table["n_cells"].tolist() == [15] * 3  # 6 positions: 5 + 4 + 3 + 2 + 1 cells below the diagonal
    assert list(table.columns) == primacy.RUN_COLUMNS


def test_summary_interval_and_the_rule():
    runs_table = pd.DataFrame(
        {
            "condition": ["up"] * 3 + ["flat"] * 3 + ["one"],
            "seed": [0, 1, 2, 0, 1, 2, 0],
            "step": 0,
            "stage": primacy.INIT,
            "layer": 0,
            "primacy_first": [1.0, 1.1, 1.2, 0.1, 0.3, 0.5, 2.0],
            "primacy_early": 0.0,
            "column_ratio_first": 3.0,
            "n_cells": 10,
        }
    )
    info = primacy.condition_info(pd.concat([runs_rows(name) for name in ("up", "flat", "one")], ignore_index=True))
    summary = primacy.summarize_runs(runs_table, info, 0.95).set_index("condition")
    half = T_975_2 * 0.2 / np.sqrt(3)  # sd of (0.1, 0.3, 0.5) is 0.2
    assert summary.loc["flat", "primacy_first_mean"] == pytest.approx(0.3)
    assert summary.loc["flat", "primacy_first_low"] == pytest.approx(0.3 - half)
    assert summary.loc["flat", "primacy_first_high"] == pytest.approx(0.3 + half)
    assert not summary.loc["flat", "shows_primacy"]  # 0.3 - 0.497 < 0
    assert summary.loc["up", "primacy_first_low"] == pytest.approx(1.1 - T_975_2 * 0.1 / np.sqrt(3))
    assert summary.loc["up", "shows_primacy"]
    assert not summary.loc["one", "shows_primacy"]  # one seed: no interval, nothing shown
    assert summary.loc["one", "n_seeds"] == 1
    assert summary.loc["up", "pos_encoding"] == "learned" and summary.loc["up", "context"] == 4


def test_sources_summary_averages_seeds_per_source():
    b0, b1 = np.array([0.6, 0.0, 0.0, 0.0]), np.array([0.0, 0.0, 0.0, 0.0])
    m1 = pd.concat(
        [matrix(planted(np.zeros(4), b0), seed=0), matrix(planted(np.zeros(4), b1), seed=1)], ignore_index=True
    )
    table = primacy.summarize_sources(primacy.per_source(m1), {"c": 10}, 0.95)
    first = table[table["s"] == 0].iloc[0]
    assert first["primacy_mean"] == pytest.approx(0.2)  # seed 0: 0.6 - 0.2 = 0.4, seed 1: 0
    half = 12.706204736174698 * np.std([0.4, 0.0], ddof=1) / np.sqrt(2)  # t quantile 0.975, 1 df
    assert first["primacy_high"] == pytest.approx(0.2 + half)
    assert first["n_seeds"] == 2 and first["stage"] == primacy.INIT


# --- the analysis end to end and the numbers the paper prints ------------------------------------


def first_position(conditions: list[str]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "condition": c,
                "step": step,
                "layer": 0,
                "ratio_mean": 1.5,
                "ratio_low": 1.2,
                "ratio_high": 1.8,
                "n_seeds": 3,
            }
            for c in conditions
            for step in (0, 10)
        ],
        columns=FIRST_COLUMNS,
    )


def study(specs: dict[str, dict], seeds: int = 3) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Conditions with a planted b0 per stage (seed noise around it) on a 5-position, one-analysed-layer model."""
    rng = np.random.default_rng(1)
    frames, runs = [], []
    for condition, spec in specs.items():
        n_layer = spec.get("n_layer", 1)
        for seed in range(seeds):
            for step, first in ((0, spec["init"]), (10, spec["trained"])):
                for layer in range(n_layer + 1):
                    b = np.array([first + rng.normal(0, 0.01), 0.0, 0.0, 0.0, 0.0])
                    g = planted(rng.normal(0, 1, 5), b) if layer < n_layer else np.eye(5)
                    frames.append(matrix(g, condition, seed, step, layer))
        factors = {k: v for k, v in spec.items() if k not in ("init", "trained")}
        runs.append(runs_rows(condition, seeds=seeds, **factors))
    return pd.concat(frames, ignore_index=True), pd.concat(runs, ignore_index=True)


def run(m1: pd.DataFrame, runs: pd.DataFrame):
    inputs = ClaimInputs(
        {"m1_gradient_matrix": m1, "c4_first_position": first_position(list(runs["condition"].unique()))},
        runs,
        SETTINGS,
    )
    return primacy.ANALYSIS.run(inputs)


def test_registered_and_counted_by_encoding_and_depth():
    assert primacy.ANALYSIS in ANALYSES
    m1, runs = study(
        {
            "a": {"init": 1.0, "trained": 0.0, "pos_encoding": "learned"},
            "b": {"init": 1.0, "trained": 1.0, "pos_encoding": "alibi"},
            "c": {"init": 0.0, "trained": 0.0, "pos_encoding": "learned", "task": "markov"},
            "d": {"init": 1.0, "trained": 1.0, "pos_encoding": "learned", "n_layer": 2},
            "m": {"init": 1.0, "trained": 1.0, "regime": "myopic-full"},
        }
    )
    result = run(m1, runs)
    numbers = result.numbers
    assert numbers["measured"]
    rows = {r["condition"]: r for r in numbers["conditions"]}
    assert set(rows) == {"a", "b", "c", "d"}  # standard training only
    assert [r["condition"] for r in numbers["conditions"]][-1] == "b"  # alibi after learned
    assert rows["a"]["init_shows"] and not rows["a"]["trained_shows"]
    assert not rows["c"]["init_shows"]
    assert rows["a"]["init"]["mean"] == "0.75"  # b0 = 1 centred over the 4 sources with a later target: 1 - 1/4
    assert rows["a"]["init"]["times"] == "2.12"  # exp(0.75)
    assert rows["a"]["init_c4_ratio"]["mean"] == "1.50"
    assert {e["pos_encoding"]: (e["n"], e["init_shows"], e["trained_shows"]) for e in numbers["encodings"]} == {
        "learned": ("3", "2", "1"),
        "alibi": ("1", "1", "1"),
    }
    assert (numbers["init_shows"], numbers["trained_shows"], numbers["n_conditions"]) == ("3", "2", "4")
    assert numbers["has_depth"]
    assert [(r["condition"], r["n_layer"]) for r in numbers["depth"]] == [("a", "1"), ("d", "2")]
    layers = {r["layer"]: r for r in numbers["layers"]}
    assert layers["0"]["n"] == "4" and layers["1"]["n"] == "1"  # only the 2-layer model has a layer 1 below its last
    per_run = result.tables["primacy_runs"]
    assert set(per_run["stage"]) == {primacy.INIT, primacy.TRAINED}
    assert len(per_run) == 5 * 3 * 2 + 3 * 2  # conditions x seeds x stages, plus layer 1 of "d"


def test_no_depth_list_when_depth_does_not_vary():
    m1, runs = study({"a": {"init": 1.0, "trained": 0.0}, "b": {"init": 1.0, "trained": 0.0, "pos_encoding": "rope"}})
    numbers = run(m1, runs).numbers
    assert not numbers["has_depth"] and numbers["depth"] == []


def test_empty_tables_give_empty_outputs_and_nothing_measured():
    m1 = matrix(np.ones((1, 1))).iloc[:0]
    runs = runs_rows("x").iloc[:0]
    result = run(m1, runs)
    assert set(result.tables) == {"primacy_runs", "primacy_sources", "primacy_summary"}
    assert all(table.empty for table in result.tables.values())
    assert list(result.tables["primacy_runs"].columns) == primacy.RUN_COLUMNS
    assert not result.numbers["measured"] and not result.numbers["has_depth"]
    assert result.numbers["encodings"] == [] and result.numbers["layers"] == []


def test_dependencies_only_for_the_known_distance_task():
    runs = pd.concat([runs_rows("lag", task_name="lag", task_distance=12.0), runs_rows("text")], ignore_index=True)
    assert primacy.dependencies(runs) == {"lag": 12}
    assert primacy.dependencies(runs.drop(columns="task_distance")) == {}
    assert primacy.dependencies(runs.iloc[:0]) == {}


def test_condition_rows_say_whether_the_condition_learned():
    m1, runs = study({"a": {"init": 1.0, "trained": 0.0}, "b": {"init": 1.0, "trained": 0.0, "learned": False}})
    rows = {r["condition"]: r for r in run(m1, runs).numbers["conditions"]}
    assert (rows["a"]["learned"], rows["b"]["learned"]) == ("yes", "no")


def test_interval_numbers_print_the_mean_its_bounds_and_the_factor_it_means() -> None:
    row = pd.Series(
        {"primacy_first_mean": 0.5, "primacy_first_low": 0.25, "primacy_first_high": -0.75, "other_mean": 9.0}
    )
    assert primacy._interval_numbers(row, "primacy_first") == {
        "mean": "0.50",
        "low": "0.25",
        "high": "\u22120.75",
        "times": "1.65",
    }
    assert primacy._interval_numbers(None, "primacy_first") == {
        "mean": "n/a",
        "low": "n/a",
        "high": "n/a",
        "times": "n/a",
    }


def test_first_ratio_reads_c4s_row_of_the_condition_step_and_layer_0() -> None:
    first = pd.DataFrame(
        [
            {"condition": "a", "step": 600, "layer": 1, "ratio_mean": 9.0, "ratio_low": 9.0, "ratio_high": 9.0},
            {"condition": "b", "step": 600, "layer": 0, "ratio_mean": 8.0, "ratio_low": 8.0, "ratio_high": 8.0},
            {"condition": "a", "step": 0, "layer": 0, "ratio_mean": 7.0, "ratio_low": 7.0, "ratio_high": 7.0},
            {"condition": "a", "step": 600, "layer": 0, "ratio_mean": 1.234, "ratio_low": 0.5, "ratio_high": 2.0},
        ]
    )
    assert primacy._first_ratio(first, "a", 600) == {"mean": "1.23", "low": "0.50", "high": "2.00"}
    assert primacy._first_ratio(first, "c", 600) == {"mean": "n/a", "low": "n/a", "high": "n/a"}


# --- worked values from the mutation run's survivors ---------------------------------------------

T_95_2 = 2.919985580355516  # Student t quantile 0.95 with 2 degrees of freedom (tables): the 90% interval


def exact_study(firsts: list[float], condition: str = "c", **factors) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One condition, one seed per entry of ``firsts``: b = (x, 0, 0, 0, 0) at steps 0 and 10, no noise, 1 analysed layer."""
    frames = [
        matrix(planted(np.zeros(5), np.array([x, 0.0, 0.0, 0.0, 0.0])), condition, seed, step, layer)
        for seed, x in enumerate(firsts)
        for step in (0, 10)
        for layer in (0, 1)
    ]
    frames = [
        f if f["layer"].iloc[0] == 0 else f.assign(grad_norm_mean=np.where(f["s"] == f["t"], 1.0, 0.0)) for f in frames
    ]
    return pd.concat(frames, ignore_index=True), runs_rows(condition, seeds=len(firsts), **factors)


def test_end_to_end_at_90_percent_confidence_by_hand():
    # b0 = x over the 4 sources with a later target: primacy(0) = x - x/4 = 0.75x, primacy(1) = -x/4, so the
    # early mean (s < 2) is 0.25x. x = 0.4, 0.8, 1.2 gives primacy(0) = 0.3, 0.6, 0.9: mean 0.6, sd 0.3.
    m1, runs = exact_study([0.4, 0.8, 1.2])
    settings = SETTINGS | {"confidence": 0.90}
    inputs = ClaimInputs({"m1_gradient_matrix": m1, "c4_first_position": first_position(["c"])}, runs, settings)
    result = primacy.ANALYSIS.run(inputs)
    per_run = result.tables["primacy_runs"]
    assert per_run["primacy_first"].to_numpy() == pytest.approx([0.3, 0.3, 0.6, 0.6, 0.9, 0.9])
    # s_min = 2 reaches run_table
    assert per_run["primacy_early"].to_numpy() == pytest.approx([0.1, 0.1, 0.2, 0.2, 0.3, 0.3])
    half = T_95_2 * 0.3 / np.sqrt(3)  # 0.5058
    summary = result.tables["primacy_summary"].set_index("stage")
    assert summary.loc[primacy.TRAINED, "primacy_first_low"] == pytest.approx(0.6 - half)
    assert summary.loc[primacy.TRAINED, "primacy_first_high"] == pytest.approx(0.6 + half)
    assert summary.loc[primacy.INIT, "primacy_early_mean"] == pytest.approx(0.2)
    assert summary[["shows_primacy"]].all().all()  # 0.6 - 0.506 > 0 at 90% (at 95%: 0.6 - 0.745 < 0)
    sources = result.tables["primacy_sources"]
    assert sources.loc[sources["step"] == 10, "stage"].unique().tolist() == [primacy.TRAINED]  # the run's last step
    assert sources.loc[sources["step"] == 0, "stage"].unique().tolist() == [primacy.INIT]
    numbers = result.numbers
    assert numbers["rule"] == {"confidence_pct": "90", "s_min": "2", "layer": "0"}
    row = numbers["conditions"][0]
    assert row["init"] == {"mean": "0.60", "low": "0.09", "high": "1.11", "times": "1.82"}  # exp(0.6) = 1.822
    assert (row["d_model"], row["context"], row["n_layer"], row["n_seeds"]) == ("64", "4", "1", "3")
    assert row["init_shows"] is True and row["trained_shows"] is True
    assert numbers["layers"] == [{"layer": "0", "n": "1", "init_shows": "1", "trained_shows": "1"}]


def test_rule_prints_the_confidence_as_a_whole_percent():
    numbers = primacy.numbers(
        pd.DataFrame(columns=primacy.SUMMARY_COLUMNS), first_position([]), {"confidence": 0.99, "s_min": 3}
    )
    assert numbers["rule"] == {"confidence_pct": "99", "s_min": "3", "layer": "0"}


def test_lag_dependency_is_left_out_end_to_end():
    # a lag-2 peak on top of b = (0.5, 0, -0.5, 0, 0, 0): with the lag cells left out primacy(0) = 0.5 - mean(b0..b4) = 0.5
    # and the early mean (s < 2) is (0.5 + 0) / 2; fitted with the peak in, primacy(0) would be 0.09
    b = np.array([0.5, 0.0, -0.5, 0.0, 0.0, 0.0])
    g = planted(np.zeros(6), b)
    for t in range(2, 6):
        g[t, t - 2] *= 100.0
    m1 = pd.concat(
        [matrix(g, "lag", 0, step, 0) for step in (0, 10)] + [matrix(np.eye(6), "lag", 0, step, 1) for step in (0, 10)],
        ignore_index=True,
    )
    runs = runs_rows("lag", task="lag", task_name="lag", task_distance=2.0)
    per_run = run(m1, runs).tables["primacy_runs"]
    assert per_run["primacy_first"].to_numpy() == pytest.approx([0.5, 0.5], abs=1e-9)
    assert per_run["primacy_early"].to_numpy() == pytest.approx([0.25, 0.25], abs=1e-9)


def test_a_source_without_a_fitted_cell_keeps_its_row_with_zero_cells():
    # every later target gives source 1 zero gradient: no cell of it enters the fit, but its sums are reported
    g = planted(np.zeros(4), np.array([1.0, 0.0, 0.0, 0.0]))
    g[2, 1] = g[3, 1] = 0.0
    sources = primacy.per_source(matrix(g))
    assert sources["s"].tolist() == [0, 1, 2]
    assert sources["n_fit"].tolist() == [3, 0, 1] and sources["n_fit"].dtype == np.int64
    assert sources["column_sum"].tolist() == [3 * np.e, 0.0, 1.0]
    assert np.isnan(sources["primacy"].iloc[1])


def test_stage_of_keeps_the_index_of_the_steps():
    steps = pd.Series([10, 0, 5], index=[7, 8, 9])
    stages = primacy.stage_of(steps, pd.Series([10, 10, 10], index=[7, 8, 9]))
    assert stages.index.tolist() == [7, 8, 9]
    assert stages.tolist() == [primacy.TRAINED, primacy.INIT, primacy.TRAINING]


def test_no_runs_table_at_all_gives_empty_outputs():
    # a runs table without columns (no run finished): the guards skip the per-condition look-ups
    m1 = matrix(np.ones((1, 1))).iloc[:0]
    inputs = ClaimInputs({"m1_gradient_matrix": m1, "c4_first_position": first_position([])}, pd.DataFrame(), SETTINGS)
    result = primacy.ANALYSIS.run(inputs)
    assert all(table.empty for table in result.tables.values())
    assert not result.numbers["measured"]


def test_condition_info_one_row_per_condition_and_learned_only_if_every_seed_learned():
    runs = pd.concat([runs_rows("a", seeds=3), runs_rows("b", seeds=2, d_model=32)], ignore_index=True)
    runs.loc[4, "learned"] = False  # b's second seed did not learn
    info = primacy.condition_info(runs)
    assert list(info.columns) == primacy.FACTORS
    assert info.index.tolist() == ["a", "b"]
    assert info["learned"].tolist() == [True, False]
    assert info["d_model"].tolist() == [64, 32]
    without = primacy.condition_info(runs.drop(columns="learned"))
    assert without.index.tolist() == ["a", "b"] and without["learned"].isna().all()  # unknown, not an error


def test_dependencies_ignore_other_tasks_with_a_distance():
    runs = pd.concat(
        [
            runs_rows("lag", seeds=2, task_name="lag", task_distance=3.0),
            runs_rows("copy", task_name="copy", task_distance=5.0),
        ],
        ignore_index=True,
    )
    assert primacy.dependencies(runs) == {"lag": 3}


def summary_row(condition: str, stage: str, **values) -> dict:
    """One hand-made primacy_summary row at layer 0 with its factors."""
    row = {
        "condition": condition,
        "stage": stage,
        "step": 0 if stage == primacy.INIT else 10,
        "layer": 0,
        "regime": "standard",
        "task": "text",
        "pos_encoding": "learned",
        "n_layer": 1,
        "d_model": 64,
        "context": 4,
        "learned": True,
        "n_seeds": 3,
        "primacy_first_mean": 0.5,
        "primacy_first_low": 0.25,
        "primacy_first_high": 0.75,
        "shows_primacy": True,
    }
    return row | values


def test_condition_rows_with_a_stage_missing():
    # "a" has only its init row, "b" only its trained row: the missing stage prints n/a and shows nothing
    summary = pd.DataFrame([summary_row("a", primacy.INIT), summary_row("b", primacy.TRAINED, primacy_first_mean=-0.5)])
    first = pd.DataFrame(
        [
            {"condition": c, "step": s, "layer": 0, "ratio_mean": 2.0, "ratio_low": 1.0, "ratio_high": 3.0}
            for c in ("a", "b")
            for s in (0, 10)
        ]
    )
    rows = {r["condition"]: r for r in primacy.condition_rows(summary, first)}
    na = {"mean": "n/a", "low": "n/a", "high": "n/a"}
    assert rows["a"]["init"] == {"mean": "0.50", "low": "0.25", "high": "0.75", "times": "1.65"}
    assert rows["a"]["trained"] == na | {"times": "n/a"}
    assert (rows["a"]["init_shows"], rows["a"]["trained_shows"]) == (True, False)
    assert rows["a"]["init_c4_ratio"] == {"mean": "2.00", "low": "1.00", "high": "3.00"}
    assert rows["a"]["trained_c4_ratio"] == na
    assert rows["b"]["init"] == na | {"times": "n/a"} and rows["b"]["init_c4_ratio"] == na
    assert rows["b"]["trained"]["mean"] == "\u22120.50"
    assert (rows["b"]["init_shows"], rows["b"]["trained_shows"]) == (False, True)


def test_condition_rows_learned_from_python_booleans_and_missing():
    # a condition without a runs-table row joins as NaN, so the column holds Python True / False / NaN
    summary = pd.DataFrame(
        [
            summary_row("a", primacy.INIT, learned=True),
            summary_row("b", primacy.INIT, learned=False),
            summary_row("c", primacy.INIT, learned=np.nan),
        ]
    )
    assert summary["learned"].dtype == object
    rows = {r["condition"]: r["learned"] for r in primacy.condition_rows(summary, first_position([]))}
    assert rows == {"a": "yes", "b": "no", "c": "no"}


def test_condition_rows_order_unknown_encodings_last_and_ties_as_given():
    # sorted by encoding (ENCODING_ORDER, unknown ones last), task, context, depth; "z" and "y" tie on all of
    # these (they differ in width only) and keep the summary's order
    summary = pd.DataFrame(
        [
            summary_row("z", primacy.INIT, d_model=128),
            summary_row("y", primacy.INIT, d_model=64),
            summary_row("u", primacy.INIT, pos_encoding="mystery"),
            summary_row("r", primacy.INIT, pos_encoding="rope"),
        ]
    )
    rows = primacy.condition_rows(summary, first_position([]))
    assert [r["condition"] for r in rows] == ["z", "y", "r", "u"]
    assert [r["d_model"] for r in rows] == ["128", "64", "64", "64"]


def test_run_table_sorts_runs_whatever_the_order_of_the_sources():
    sources = pd.DataFrame(
        {
            "condition": "c",
            "seed": 0,
            "step": [10, 10, 0, 0],
            "layer": 0,
            "s": [0, 1, 0, 1],
            "primacy": [0.5, -0.5, 0.2, -0.2],
            "n_fit": 1,
            "column_sum": [3.0, 1.0, 2.0, 2.0],
            "per_target": 1.0,
            "n_targets": 1,
        }
    )
    table = primacy.run_table(sources, 2, {"c": 10})
    assert table["step"].tolist() == [0, 10]
    assert table["stage"].tolist() == [primacy.INIT, primacy.TRAINED]
    assert table["primacy_first"].to_numpy() == pytest.approx([0.2, 0.5])
    assert table["column_ratio_first"].to_numpy() == pytest.approx([2.0 / 2.0, 3.0 / 2.0])  # C(0) / mean(C(0), C(1))


def test_summary_sorted_by_condition_and_a_zero_bound_is_not_primacy():
    # every seed exactly 0: the interval is [0, 0], whose low bound 0 does not exceed 0
    runs_table = pd.DataFrame(
        {
            "condition": ["b"] * 3 + ["a"] * 3,
            "seed": [0, 1, 2] * 2,
            "step": 0,
            "stage": primacy.INIT,
            "layer": 0,
            "primacy_first": [0.0, 0.0, 0.0, 0.1, 0.3, 0.5],
            "primacy_early": 0.0,
            "column_ratio_first": 1.0,
            "n_cells": 10,
        }
    )
    info = primacy.condition_info(pd.concat([runs_rows("a"), runs_rows("b")], ignore_index=True))
    summary = primacy.summarize_runs(runs_table, info, 0.90)
    assert summary["condition"].tolist() == ["a", "b"]
    assert summary["primacy_first_low"].tolist() == pytest.approx([0.3 - T_95_2 * 0.2 / np.sqrt(3), 0.0])
    assert summary["shows_primacy"].tolist() == [False, False]  # a: 0.3 - 0.337 < 0 even at 90%


def test_layer_counts_per_layer_in_order_and_per_stage():
    summary = pd.DataFrame(
        [
            summary_row("a", primacy.INIT, layer=1, shows_primacy=True),
            summary_row("a", primacy.TRAINED, layer=1, shows_primacy=False),
            summary_row("a", primacy.INIT, layer=0, shows_primacy=True),
            summary_row("a", primacy.TRAINED, layer=0, shows_primacy=True),
            summary_row("b", primacy.INIT, layer=0, shows_primacy=False),
            summary_row("b", primacy.TRAINED, layer=0, shows_primacy=True),
            summary_row("c", primacy.INIT, layer=0, shows_primacy=False),
            summary_row("c", primacy.TRAINED, layer=0, shows_primacy=True),
        ]
    )
    assert primacy.layer_counts(summary) == [
        {"layer": "0", "n": "3", "init_shows": "1", "trained_shows": "3"},
        {"layer": "1", "n": "1", "init_shows": "1", "trained_shows": "0"},
    ]
