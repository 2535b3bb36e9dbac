"""The scaling analysis: which runs form a sweep, each quantity per seed and level, and the slope per doubling,
each against numbers worked by hand on planted tables."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from analysis.stats import scaling
from analysis.stats.claims import ClaimInputs

REF = {"n_layer": 2, "d_model": 64, "context": 32}
SETTINGS = {"confidence": 0.95, "alpha": 0.05, "scaling": REF}
T975_DF1 = 12.706204736174707  # Student t quantile 0.975 at 1 degree of freedom (tables)


def run(task: str, seed: int = 0, regime: str = "standard", encoding: str = "learned", loss: float = 1.0,
        task_learned: bool = True, baseline: float = 2.0, optimal: float = 0.0, steps: int = 600, **factors: int) -> dict:
    model = {**REF, **factors}
    name = task.split("-")[0] if task.startswith(("lag", "sine")) else task
    condition = f"{task}_{encoding}_{regime}_L{model['n_layer']}_D{model['d_model']}_T{model['context']}"
    return {"condition": condition, "seed": seed, "task": task, "task_name": name, "regime": regime,
            "pos_encoding": encoding, "n_head": 4, "steps": steps, **model, "final_eval_loss": loss,
            "baseline_loss": baseline, "optimal_loss": optimal, "learned": task_learned}


def depth_runs(task: str, seeds: tuple[int, ...] = (0,), levels: tuple[int, ...] = (1, 2, 4)) -> pd.DataFrame:
    return pd.DataFrame([run(task, seed=s, n_layer=n) for s in seeds for n in levels])


def values(levels: list[int], numbers: list[float], seed: int = 0, quantity: str = "q") -> pd.DataFrame:
    return pd.DataFrame({"sweep": "depth", "factor": "n_layer", "level": levels, "task": "text", "quantity": quantity,
                         "seed": seed, "value": numbers, "learned": True})


# --- the slope per doubling --------------------------------------------------------------------


def test_values_1_3_5_at_levels_1_2_4_rise_by_2_per_doubling() -> None:
    slopes = scaling.seed_slopes(values([1, 2, 4], [1.0, 3.0, 5.0]))
    assert slopes["slope"].tolist() == pytest.approx([2.0])


def test_the_slope_is_per_doubling_whatever_the_levels() -> None:
    assert scaling.seed_slopes(values([32, 64, 128], [1.0, 3.0, 5.0]))["slope"].tolist() == pytest.approx([2.0])
    # not collinear: log2 levels 0, 1, 2 with values 0, 3, 3 -> slope (0*-1 + 3*0 + 3*1) / 2 = 1.5
    assert scaling.seed_slopes(values([1, 2, 4], [0.0, 3.0, 3.0]))["slope"].tolist() == pytest.approx([1.5])


def test_a_missing_level_leaves_the_slope_over_the_other_two() -> None:
    assert scaling.seed_slopes(values([1, 4], [1.0, 5.0]))["slope"].tolist() == pytest.approx([2.0])
    nan_level = values([1, 2, 4], [1.0, np.nan, 5.0])
    assert scaling.seed_slopes(nan_level)["slope"].tolist() == pytest.approx([2.0])


def test_one_level_gives_no_slope_and_no_input_gives_an_empty_table() -> None:
    assert scaling.seed_slopes(values([2], [1.0]))["slope"].isna().all()
    empty = scaling.seed_slopes(pd.DataFrame(columns=scaling.SEED_COLUMNS))
    assert empty.empty and "slope" in empty.columns


def test_the_trend_is_a_t_interval_over_the_seeds_slopes() -> None:
    both = pd.concat([values([1, 2, 4], [1.0, 3.0, 5.0], seed=0), values([1, 2, 4], [0.0, 4.0, 8.0], seed=1)])
    levels = scaling.level_table(both, 0.95)
    trend = scaling.trend_table(both, levels, 0.95).iloc[0]
    # slopes 2 and 4: mean 3, sd sqrt(2), half width t(0.975, 1) * sqrt(2) / sqrt(2)
    assert trend["slope_mean"] == pytest.approx(3.0)
    assert trend["slope_low"] == pytest.approx(3.0 - T975_DF1)
    assert trend["slope_high"] == pytest.approx(3.0 + T975_DF1)
    # t = 3 at 1 df (Cauchy): two-sided p = 1 - 2 atan(3) / pi
    assert trend["p"] == pytest.approx(1 - 2 * math.atan(3.0) / math.pi)
    assert (trend["n_seeds"], trend["n_levels"], trend["n_levels_learned"]) == (2, 3, 3)


def test_one_seed_has_a_slope_but_no_interval() -> None:
    one = values([1, 2, 4], [1.0, 3.0, 5.0])
    trend = scaling.trend_table(one, scaling.level_table(one, 0.95), 0.95).iloc[0]
    assert trend["slope_mean"] == pytest.approx(2.0)
    assert np.isnan(trend["slope_low"]) and np.isnan(trend["slope_high"]) and np.isnan(trend["p"])


def test_levels_carry_learning_and_the_trend_counts_learned_levels() -> None:
    planted = values([1, 2, 4], [1.0, 3.0, 5.0]).assign(learned=[False, True, True])
    levels = scaling.level_table(planted, 0.95)
    assert levels["learned"].tolist() == [False, True, True]
    assert levels["mean"].tolist() == [1.0, 3.0, 5.0] and levels["n_seeds"].tolist() == [1, 1, 1]
    trend = scaling.trend_table(planted, levels, 0.95).iloc[0]
    assert (trend["n_levels"], trend["n_levels_learned"]) == (3, 2)
    assert scaling.not_learned(levels) == ["text at n_layer = 1 (depth)"]


# --- which runs form a sweep ---------------------------------------------------------------------


def test_reference_needs_every_factor() -> None:
    assert scaling.reference({}) is None
    assert scaling.reference({"scaling": {}}) is None
    assert scaling.reference({"scaling": {"n_layer": 2, "d_model": 64}}) is None
    assert scaling.reference(SETTINGS) == REF


def test_a_sweep_holds_the_other_factors_at_the_reference() -> None:
    runs = pd.DataFrame([
        run("text", n_layer=1), run("text"), run("text", n_layer=4),  # depth
        run("text", d_model=128),  # width
        run("text", n_layer=4, d_model=128),  # two factors off the reference: no sweep
        run("text", encoding="rope"),  # another encoding at the reference model only: no sweep
    ])
    swept = scaling.swept_runs(runs, REF)
    depth = swept[swept["sweep"] == "depth"]
    assert sorted(depth["level"]) == [1, 2, 4] and set(depth["pos_encoding"]) == {"learned"}
    width = swept[swept["sweep"] == "width"]
    assert sorted(width["level"]) == [64, 128]  # the reference run belongs to every sweep it can
    assert swept[swept["sweep"] == "context"].empty  # one level only
    assert (swept["factor"] == swept["sweep"].map(scaling.SWEEPS)).all()


def test_a_sweep_with_two_held_settings_is_refused() -> None:
    runs = pd.DataFrame([run("text", n_layer=1), run("text"), run("text", encoding="rope", n_layer=1),
                         run("text", encoding="rope")])
    with pytest.raises(ValueError, match="depth sweep holds several settings"):
        scaling.swept_runs(runs, REF)


# --- the quantities ------------------------------------------------------------------------------


def sine_runs(levels: tuple[int, ...] = (1, 2, 4), seeds: tuple[int, ...] = (0, 1)) -> list[dict]:
    """Losses: standard 0.2 everywhere; myopic-state on shift 1: 0.2 + 0.1 * level + 0.01 * seed; on shift 0: 0.25."""
    rows = []
    for seed in seeds:
        for n in levels:
            for task in ("sine-shift1", "sine-shift0"):
                rows.append(run(task, seed=seed, loss=0.2, baseline=0.6, optimal=0.1, steps=1000, n_layer=n))
                myopic = 0.2 + 0.1 * n + 0.01 * seed if task == "sine-shift1" else 0.25
                rows.append(run(task, seed=seed, regime="myopic-state", loss=myopic, baseline=0.6, optimal=0.1,
                                steps=1000, n_layer=n))
    return rows


def test_did_is_the_treated_gap_minus_the_control_gap_per_seed() -> None:
    swept = scaling.swept_runs(pd.DataFrame(sine_runs()), REF)
    did = scaling.did_values(swept)
    absolute = did[did["quantity"] == "did"].set_index(["level", "seed"])["value"]
    # gap(shift 1) = 0.1 n + 0.01 seed, gap(shift 0) = 0.05
    assert absolute[(4, 1)] == pytest.approx(0.4 + 0.01 - 0.05)
    assert absolute[(1, 0)] == pytest.approx(0.1 - 0.05)
    relative = did[did["quantity"] == "did_relative"].set_index(["level", "seed"])["value"]
    assert relative[(2, 0)] == pytest.approx((0.2 - 0.05) / 0.5)  # span: baseline 0.6 - optimum 0.1
    assert set(did["task"]) == {"sine-shift1"} and did["learned"].all()


def test_did_needs_all_four_runs_of_a_seed_and_standard_learning_of_both_tasks() -> None:
    rows = sine_runs(seeds=(0,))
    rows = [r for r in rows if not (r["n_layer"] == 4 and r["task"] == "sine-shift0" and r["regime"] == "myopic-state")]
    for r in rows:
        if r["n_layer"] == 1 and r["task"] == "sine-shift0" and r["regime"] == "standard":
            r["learned"] = False
    did = scaling.did_values(scaling.swept_runs(pd.DataFrame(rows), REF))
    absolute = did[did["quantity"] == "did"].set_index("level")
    assert sorted(absolute.index) == [1, 2]  # depth 4 lost its control's myopic run
    assert absolute["learned"].to_dict() == {1: False, 2: True}


def test_did_of_no_sine_runs_is_empty() -> None:
    swept = scaling.swept_runs(depth_runs("text"), REF)
    assert scaling.did_values(swept).empty
    assert list(scaling.did_values(swept).columns) == scaling.SEED_COLUMNS


def test_c4_reads_the_final_step_at_c4s_layer_and_drops_flat_profiles_from_p() -> None:
    runs = pd.concat([depth_runs("text"), depth_runs("lag-12"), depth_runs("markov")], ignore_index=True)
    swept = scaling.swept_runs(runs, REF)
    conditions = runs["condition"]
    fits = pd.DataFrame([
        *({"condition": c, "seed": 0, "step": 600, "layer": 0, "power_p": 1.5, "preferred": "power law"} for c in conditions),
        *({"condition": c, "seed": 0, "step": 0, "layer": 0, "power_p": 9.0, "preferred": "power law"} for c in conditions),
        *({"condition": c, "seed": 0, "step": 600, "layer": 1, "power_p": 9.0, "preferred": "power law"} for c in conditions),
    ])
    fits.loc[fits["condition"] == "text_learned_standard_L4_D64_T32", "preferred"] = "flat"
    slopes = fits.drop(columns=["power_p", "preferred"]).assign(slope=np.where(fits["step"] == 600, -0.3, 9.0))
    slopes.loc[slopes["layer"] == 1, "slope"] = 9.0
    table = scaling.c4_values(fits, slopes, swept)
    assert set(table["task"]) == {"text", "lag-12"}  # markov is not one of C4's trained tasks
    exponent = table[table["quantity"] == "c4_exponent"]
    assert (exponent["value"] == 1.5).all()
    text_depth = exponent[(exponent["task"] == "text") & (exponent["sweep"] == "depth")]
    assert sorted(text_depth["level"]) == [1, 2]  # the flat profile at depth 4 has no p
    slope = table[table["quantity"] == "c4_slope"]
    assert (slope["value"] == -0.3).all() and len(slope[slope["sweep"] == "depth"]) == 6


def test_c1_reads_trained_enrichment_at_layer_0_on_c1s_tasks() -> None:
    runs = pd.concat([depth_runs("lag-12"), depth_runs("text")], ignore_index=True)
    swept = scaling.swept_runs(runs, REF)
    enrichment = pd.DataFrame([
        {"condition": c, "seed": 0, "step": s, "stage": stage, "layer": layer, "enrichment": value}
        for c in runs["condition"]
        for s, stage, layer, value in ((600, "trained", 0, 0.6), (0, "init", 0, 0.0), (600, "trained", 1, 0.9))
    ])
    table = scaling.c1_values(enrichment, swept)
    assert set(table["task"]) == {"lag-12"} and (table["value"] == 0.6).all()
    assert sorted(table.loc[table["sweep"] == "depth", "level"]) == [1, 2, 4]
    assert scaling.c1_values(pd.DataFrame(), swept).empty


def test_c6_reads_the_full_adam_step_on_text_only() -> None:
    runs = pd.concat([depth_runs("lag-12"), depth_runs("text")], ignore_index=True)
    swept = scaling.swept_runs(runs, REF)
    transfer = pd.DataFrame([
        {"condition": c, "seed": 0, "optimizer": opt, "step_scale": scale, "ratio_exact": value}
        for c in runs["condition"]
        for opt, scale, value in (("adam", "full", 0.02), ("sgd", "full", 0.5), ("adam", "0.1 lr", 0.5))
    ])
    table = scaling.c6_values(transfer, swept)
    assert set(table["task"]) == {"text"} and (table["value"] == 0.02).all()
    assert sorted(table["level"]) == [1, 2, 4]  # width and context hold one level here: no sweep


def test_primacy_reads_layer_0_at_both_stages_or_nothing() -> None:
    runs = depth_runs("text")
    swept = scaling.swept_runs(runs, REF)
    assert scaling.primacy_values(pd.DataFrame(), swept).empty
    primacy = pd.DataFrame([
        {"condition": c, "seed": 0, "step": s, "stage": stage, "layer": layer, "primacy_first": first, "primacy_early": early}
        for c in runs["condition"]
        for s, stage, layer, first, early in ((0, "init", 0, 0.5, 0.2), (600, "trained", 0, 1.5, 1.2),
                                               (300, "training", 0, 9.0, 9.0), (0, "init", 1, 9.0, 9.0))
    ])
    table = scaling.primacy_values(primacy, swept).groupby("quantity")["value"].unique()
    assert {q: list(v) for q, v in table.items()} == {
        "primacy_first_init": [0.5], "primacy_first_trained": [1.5], "primacy_early_init": [0.2], "primacy_early_trained": [1.2]}


def test_laws_count_seeds_per_law_with_zeros() -> None:
    runs = depth_runs("text", seeds=(0, 1, 2), levels=(1, 2))
    swept = scaling.swept_runs(runs, REF)
    preferred = {(1, 0): "power law", (1, 1): "power law", (1, 2): "flat", (2, 0): "exponential", (2, 1): "power law", (2, 2): "indistinguishable"}
    fits = pd.DataFrame([{"condition": r.condition, "seed": r.seed, "step": 600, "layer": 0, "preferred": preferred[(r.n_layer, r.seed)]}
                         for r in runs.itertuples()])
    laws = scaling.law_table(fits, swept).set_index(["level", "law"])["n_seeds"]
    assert laws[(1, "power law")] == 2 and laws[(1, "flat")] == 1 and laws[(1, "exponential")] == 0
    assert laws[(2, "power law")] == 1 and laws[(2, "indistinguishable")] == 1 and laws[(2, "exponential")] == 1
    assert len(laws) == 2 * len(scaling.LAWS)
    assert scaling.law_table(pd.DataFrame(), swept).columns.tolist() == scaling.LAW_COLUMNS


def test_exponents_at_the_end_of_the_fitted_range_are_counted() -> None:
    planted = values([1, 2, 4], [0.0, 1.2, 8.0], quantity="c4_exponent")
    assert scaling.exponent_at_bound(planted) == {"n": "2", "of": "3", "low": "0", "high": "8"}


# --- the analysis as the pipeline runs it ----------------------------------------------------------


def test_a_profile_without_sweeps_writes_empty_tables_with_the_declared_columns() -> None:
    for settings in ({"confidence": 0.95}, {"confidence": 0.95, "scaling": {}}):
        result = scaling.compute(ClaimInputs({}, depth_runs("text"), settings))
        assert result.numbers == {"present": False}
        assert list(result.tables["scaling_levels"].columns) == scaling.LEVEL_COLUMNS
        assert list(result.tables["scaling_trends"].columns) == scaling.TREND_COLUMNS
        assert list(result.tables["scaling_laws"].columns) == scaling.LAW_COLUMNS


def test_a_profile_with_sweeps_but_no_swept_runs_says_there_is_nothing_to_report() -> None:
    tables = {"c4_fits": pd.DataFrame(), "c4_slopes": pd.DataFrame(), "c1_enrichment_runs": pd.DataFrame(),
              "c6_transfer": pd.DataFrame()}
    for runs in (pd.DataFrame(columns=depth_runs("text").columns), depth_runs("text", levels=(2,))):
        result = scaling.compute(ClaimInputs(tables, runs, SETTINGS))
        assert result.numbers["present"] is True
        assert result.numbers["trends"] == [] and result.numbers["laws"] == [] and result.numbers["not_learned"] == []
        assert result.numbers["sweeps"]["depth"]["levels"] == "" and result.numbers["n_seeds"] == "0"
        assert all(table.empty for table in result.tables.values())
        assert list(result.tables["scaling_levels"].columns) == scaling.LEVEL_COLUMNS


def test_the_analysis_end_to_end_on_planted_tables() -> None:
    runs = pd.concat([depth_runs("text", seeds=(0, 1)), pd.DataFrame(sine_runs())], ignore_index=True)
    slopes = pd.DataFrame([{"condition": r.condition, "seed": r.seed, "step": 600, "layer": 0, "slope": -0.1 * r.n_layer + r.seed}
                           for r in runs[runs["task"] == "text"].itertuples()])
    tables = {"c4_slopes": slopes, "c4_fits": pd.DataFrame(), "c1_enrichment_runs": pd.DataFrame(),
              "c6_transfer": pd.DataFrame()}
    result = scaling.compute(ClaimInputs(tables, runs, SETTINGS))
    trends = result.tables["scaling_trends"].set_index("quantity")
    # beta = -0.1 n + seed at log2 n = 0, 1, 2 (centred -1, 0, 1): slope ((-1)(-0.1) + (1)(-0.4)) / 2 = -0.15
    assert trends.loc["c4_slope", "slope_mean"] == pytest.approx(-0.15)
    assert trends.loc["c4_slope", "slope_high"] == pytest.approx(-0.15)  # both seeds share the slope: zero width
    # DiD = 0.1 n + 0.01 seed - 0.05: 0.1 times the slope of n on log2 n, ((-1)(1) + (1)(4)) / 2 = 1.5
    assert trends.loc["did", "slope_mean"] == pytest.approx(0.15)
    assert result.numbers["present"] is True
    assert result.numbers["sweeps"]["depth"]["levels"] == "1, 2, 4"
    assert result.numbers["not_learned"] == []
    sentence = next(t["sentence"] for t in result.numbers["trends"] if t["quantity"] == "did")
    assert sentence.startswith("C2 difference-in-differences (loss), sine-shift1, across depth (n_layer = 1, 2, 4): 0.150 [")
    assert set(result.tables) == set(scaling.OUTPUTS)
    assert result.tables["scaling_laws"].empty


def test_the_figure_draws_levels_and_says_when_there_is_no_sweep(tmp_path) -> None:
    import sys

    from workflow_helpers import REPO

    sys.path.insert(0, str(REPO / "figures"))
    import scaling as figure  # figures/scaling.py

    planted = values([1, 2, 4], [1.0, 3.0, 5.0], quantity="c4_slope").assign(learned=[False, True, True])
    for name, levels in (("drawn", scaling.level_table(planted, 0.95)), ("none", pd.DataFrame(columns=scaling.LEVEL_COLUMNS))):
        levels.to_csv(tmp_path / f"{name}.csv", index=False)
        figure.main(str(tmp_path / f"{name}.csv"), ["c4_slope", "c4_exponent"], str(tmp_path / f"{name}.pdf"), str(tmp_path / f"{name}.png"))
        assert (tmp_path / f"{name}.png").stat().st_size > 0 and (tmp_path / f"{name}.pdf").stat().st_size > 0


# --- the paper's numbers -------------------------------------------------------------------------


def test_law_numbers_give_every_law_a_count_per_sweep_level_and_task() -> None:
    laws = pd.DataFrame([
        ("depth", "n_layer", 1, "text", "power law", 2), ("depth", "n_layer", 1, "text", "exponential", 3),
        ("depth", "n_layer", 2, "text", "flat", 5), ("depth", "n_layer", 1, "lag-12", "indistinguishable", 1),
        ("depth", "n_layer", 1, "lag-12", "power law", 4),
    ], columns=["sweep", "factor", "level", "task", "law", "n_seeds"])
    assert scaling.law_numbers(laws) == [
        {"sweep": "depth", "level": "1", "task": "lag-12", "power_law": "4", "exponential": "0", "indistinguishable": "1", "flat": "0"},
        {"sweep": "depth", "level": "1", "task": "text", "power_law": "2", "exponential": "3", "indistinguishable": "0", "flat": "0"},
        {"sweep": "depth", "level": "2", "task": "text", "power_law": "0", "exponential": "0", "indistinguishable": "0", "flat": "5"},
    ]
    assert scaling.law_numbers(laws.iloc[:0]) == []


def test_solved_numbers_give_the_lag_tasks_largest_loss_and_its_ratio_range_at_the_full_adam_step() -> None:
    runs = pd.concat([depth_runs("lag-12"), depth_runs("text")], ignore_index=True)
    runs.loc[runs["task"] == "lag-12", "final_eval_loss"] = [2.0e-4, 3.5e-3, 1.0e-5]
    swept = scaling.swept_runs(runs, REF)
    lag = runs.loc[runs["task"] == "lag-12", "condition"].tolist()
    text = runs.loc[runs["task"] == "text", "condition"].tolist()
    transfer = pd.DataFrame(
        [{"condition": c, "seed": 0, "optimizer": "adam", "step_scale": "full", "ratio_exact": r} for c, r in zip(lag, (-0.002, 0.004, 0.001), strict=True)]
        + [{"condition": c, "seed": 0, "optimizer": "sgd", "step_scale": "full", "ratio_exact": 0.9} for c in lag]
        + [{"condition": c, "seed": 0, "optimizer": "adam", "step_scale": "0.1 lr", "ratio_exact": -0.9} for c in lag]
        + [{"condition": c, "seed": 0, "optimizer": "adam", "step_scale": "full", "ratio_exact": 0.5} for c in text]
    )
    assert scaling.solved_numbers(swept, transfer) == {
        "task": "lag-12", "max_final_loss": "3.5e\u22123", "ratio_low": "\u22120.20%", "ratio_high": "0.40%"}
    assert scaling.solved_numbers(swept[swept["task"] == "text"], transfer) == {}


def test_trend_numbers_print_the_slope_its_interval_and_the_levels_behind_it() -> None:
    trends = pd.DataFrame([{"sweep": "depth", "factor": "n_layer", "task": "sine-shift1", "quantity": "did", "slope_mean": 0.1234,
                            "slope_low": -0.01, "slope_high": 0.2567, "p": 0.0593, "n_seeds": 5, "n_levels": 3, "n_levels_learned": 2}])
    levels = pd.DataFrame([{"sweep": "depth", "task": "sine-shift1", "quantity": "did", "level": level} for level in (4, 1, 2)]
                          + [{"sweep": "depth", "task": "sine-shift1", "quantity": "did_relative", "level": 8},
                             {"sweep": "width", "task": "sine-shift1", "quantity": "did", "level": 32},
                             {"sweep": "depth", "task": "text", "quantity": "did", "level": 16}])
    assert scaling.trend_numbers(trends, levels) == [{
        "sweep": "depth", "factor": "n_layer", "task": "sine-shift1", "quantity": "did", "label": "C2 difference-in-differences (loss)",
        "levels": "1, 2, 4", "slope": "0.123", "low": "\u22120.010", "high": "0.257", "p": "0.059", "n_seeds": "5", "n_levels": "3",
        "n_levels_learned": "2", "excludes_zero": False,
        "sentence": "C2 difference-in-differences (loss), sine-shift1, across depth (n_layer = 1, 2, 4): 0.123 [\u22120.010, 0.257] "
                    "per doubling, p 0.059, n = 5 seed(s), 2 of 3 levels learned; the interval covers 0"}]


@pytest.mark.parametrize(("low", "high", "reading"), [
    (0.01, 0.2, "the interval excludes 0"), (-0.2, -0.01, "the interval excludes 0"), (0.0, 0.2, "the interval covers 0"),
    (-0.2, 0.0, "the interval covers 0"), (float("nan"), float("nan"), "no interval (fewer than two seeds)"),
])
def test_reading_calls_an_interval_touching_0_covering(low: float, high: float, reading: str) -> None:
    assert scaling._reading({"slope_low": low, "slope_high": high}) == reading
