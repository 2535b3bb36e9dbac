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


def run(
    task: str,
    seed: int = 0,
    regime: str = "standard",
    encoding: str = "learned",
    loss: float = 1.0,
    task_learned: bool = True,
    baseline: float = 2.0,
    optimal: float = 0.0,
    steps: int = 600,
    **factors: int,
) -> dict:
    model = {**REF, **factors}
    name = task.split("-")[0] if task.startswith(("lag", "sine")) else task
    condition = f"{task}_{encoding}_{regime}_L{model['n_layer']}_D{model['d_model']}_T{model['context']}"
    return {
        "condition": condition,
        "seed": seed,
        "task": task,
        "task_name": name,
        "regime": regime,
        "pos_encoding": encoding,
        "n_head": 4,
        "steps": steps,
        **model,
        "final_eval_loss": loss,
        "baseline_loss": baseline,
        "optimal_loss": optimal,
        "learned": task_learned,
    }


def depth_runs(task: str, seeds: tuple[int, ...] = (0,), levels: tuple[int, ...] = (1, 2, 4)) -> pd.DataFrame:
    return pd.DataFrame([run(task, seed=s, n_layer=n) for s in seeds for n in levels])


def values(levels: list[int], numbers: list[float], seed: int = 0, quantity: str = "q") -> pd.DataFrame:
    return pd.DataFrame(
        {
            "sweep": "depth",
            "factor": "n_layer",
            "level": levels,
            "task": "text",
            "quantity": quantity,
            "seed": seed,
            "value": numbers,
            "learned": True,
        }
    )


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
    runs = pd.DataFrame(
        [
            run("text", n_layer=1),
            run("text"),
            run("text", n_layer=4),  # depth
            run("text", d_model=128),  # width
            run("text", n_layer=4, d_model=128),  # two factors off the reference: no sweep
            run("text", encoding="rope"),  # another encoding at the reference model only: no sweep
        ]
    )
    swept = scaling.swept_runs(runs, REF)
    depth = swept[swept["sweep"] == "depth"]
    assert sorted(depth["level"]) == [1, 2, 4] and set(depth["pos_encoding"]) == {"learned"}
    width = swept[swept["sweep"] == "width"]
    assert sorted(width["level"]) == [64, 128]  # the reference run belongs to every sweep it can
    assert swept[swept["sweep"] == "context"].empty  # one level only
    assert (swept["factor"] == swept["sweep"].map(scaling.SWEEPS)).all()


def test_a_sweep_with_two_held_settings_is_refused() -> None:
    runs = pd.DataFrame(
        [run("text", n_layer=1), run("text"), run("text", encoding="rope", n_layer=1), run("text", encoding="rope")]
    )
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
                rows.append(
                    run(
                        task,
                        seed=seed,
                        regime="myopic-state",
                        loss=myopic,
                        baseline=0.6,
                        optimal=0.1,
                        steps=1000,
                        n_layer=n,
                    )
                )
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
    fits = pd.DataFrame(
        [
            *(
                {"condition": c, "seed": 0, "step": 600, "layer": 0, "power_p": 1.5, "preferred": "power law"}
                for c in conditions
            ),
            *(
                {"condition": c, "seed": 0, "step": 0, "layer": 0, "power_p": 9.0, "preferred": "power law"}
                for c in conditions
            ),
            *(
                {"condition": c, "seed": 0, "step": 600, "layer": 1, "power_p": 9.0, "preferred": "power law"}
                for c in conditions
            ),
        ]
    )
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
    enrichment = pd.DataFrame(
        [
            {"condition": c, "seed": 0, "step": s, "stage": stage, "layer": layer, "enrichment": value}
            for c in runs["condition"]
            for s, stage, layer, value in ((600, "trained", 0, 0.6), (0, "init", 0, 0.0), (600, "trained", 1, 0.9))
        ]
    )
    table = scaling.c1_values(enrichment, swept)
    assert set(table["task"]) == {"lag-12"} and (table["value"] == 0.6).all()
    assert sorted(table.loc[table["sweep"] == "depth", "level"]) == [1, 2, 4]
    assert scaling.c1_values(pd.DataFrame(), swept).empty


def test_c6_reads_the_most_favourable_step_on_text_only() -> None:
    runs = pd.concat([depth_runs("lag-12"), depth_runs("text")], ignore_index=True)
    swept = scaling.swept_runs(runs, REF)
    transfer = pd.DataFrame(
        [
            {"condition": c, "seed": 0, "choice": choice, "ratio": value}
            for c in runs["condition"]
            for choice, value in (("best", 0.02), ("sgd", 0.5), ("adam_fresh", 0.5))
        ]
    )
    table = scaling.c6_values(transfer, swept)
    assert set(table["task"]) == {"text"} and (table["value"] == 0.02).all()
    assert sorted(table["level"]) == [1, 2, 4]  # width and context hold one level here: no sweep


def test_primacy_reads_layer_0_at_both_stages_or_nothing() -> None:
    runs = depth_runs("text")
    swept = scaling.swept_runs(runs, REF)
    assert scaling.primacy_values(pd.DataFrame(), swept).empty
    primacy = pd.DataFrame(
        [
            {
                "condition": c,
                "seed": 0,
                "step": s,
                "stage": stage,
                "layer": layer,
                "primacy_first": first,
                "primacy_early": early,
            }
            for c in runs["condition"]
            for s, stage, layer, first, early in (
                (0, "init", 0, 0.5, 0.2),
                (600, "trained", 0, 1.5, 1.2),
                (300, "training", 0, 9.0, 9.0),
                (0, "init", 1, 9.0, 9.0),
            )
        ]
    )
    table = scaling.primacy_values(primacy, swept).groupby("quantity")["value"].unique()
    assert {q: list(v) for q, v in table.items()} == {
        "primacy_first_init": [0.5],
        "primacy_first_trained": [1.5],
        "primacy_early_init": [0.2],
        "primacy_early_trained": [1.2],
    }


def test_laws_count_seeds_per_law_with_zeros() -> None:
    runs = depth_runs("text", seeds=(0, 1, 2), levels=(1, 2))
    swept = scaling.swept_runs(runs, REF)
    preferred = {
        (1, 0): "power law",
        (1, 1): "power law",
        (1, 2): "flat",
        (2, 0): "exponential",
        (2, 1): "power law",
        (2, 2): "indistinguishable",
    }
    fits = pd.DataFrame(
        [
            {
                "condition": r.condition,
                "seed": r.seed,
                "step": 600,
                "layer": 0,
                "preferred": preferred[(r.n_layer, r.seed)],
            }
            for r in runs.itertuples()
        ]
    )
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
    tables = {
        "c4_fits": pd.DataFrame(),
        "c4_slopes": pd.DataFrame(),
        "c1_enrichment_runs": pd.DataFrame(),
        "c6_transfer": pd.DataFrame(),
    }
    for runs in (pd.DataFrame(columns=depth_runs("text").columns), depth_runs("text", levels=(2,))):
        result = scaling.compute(ClaimInputs(tables, runs, SETTINGS))
        assert result.numbers["present"] is True
        assert result.numbers["trends"] == [] and result.numbers["laws"] == [] and result.numbers["not_learned"] == []
        assert result.numbers["sweeps"]["depth"]["levels"] == "" and result.numbers["n_seeds"] == "0"
        assert all(table.empty for table in result.tables.values())
        assert list(result.tables["scaling_levels"].columns) == scaling.LEVEL_COLUMNS


def test_the_analysis_end_to_end_on_planted_tables() -> None:
    runs = pd.concat([depth_runs("text", seeds=(0, 1)), pd.DataFrame(sine_runs())], ignore_index=True)
    slopes = pd.DataFrame(
        [
            {"condition": r.condition, "seed": r.seed, "step": 600, "layer": 0, "slope": -0.1 * r.n_layer + r.seed}
            for r in runs[runs["task"] == "text"].itertuples()
        ]
    )
    tables = {
        "c4_slopes": slopes,
        "c4_fits": pd.DataFrame(),
        "c1_enrichment_runs": pd.DataFrame(),
        "c6_transfer": pd.DataFrame(),
    }
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
    assert sentence.startswith(
        "C2 difference-in-differences (loss), sine-shift1, across depth (n_layer = 1, 2, 4): 0.150 ["
    )
    assert set(result.tables) == set(scaling.OUTPUTS)
    assert result.tables["scaling_laws"].empty


def test_the_figure_draws_levels_and_says_when_there_is_no_sweep(tmp_path) -> None:
    from figures import draw

    planted = values([1, 2, 4], [1.0, 3.0, 5.0], quantity="c4_slope").assign(learned=[False, True, True])
    for name, levels in (
        ("drawn", scaling.level_table(planted, 0.95)),
        ("none", pd.DataFrame(columns=scaling.LEVEL_COLUMNS)),
    ):
        levels.to_csv(tmp_path / f"{name}.csv", index=False)
        draw.draw("scaling", {"levels": tmp_path / f"{name}.csv"}, {"quantities": ["c4_slope", "c4_exponent"]},
                  tmp_path / f"{name}.pdf", tmp_path / f"{name}.png")
        assert (tmp_path / f"{name}.png").stat().st_size > 0 and (tmp_path / f"{name}.pdf").stat().st_size > 0


# --- the paper's numbers -------------------------------------------------------------------------


def test_law_numbers_give_every_law_a_count_per_sweep_level_and_task() -> None:
    laws = pd.DataFrame(
        [
            ("depth", "n_layer", 1, "text", "power law", 2),
            ("depth", "n_layer", 1, "text", "exponential", 3),
            ("depth", "n_layer", 2, "text", "flat", 5),
            ("depth", "n_layer", 1, "lag-12", "indistinguishable", 1),
            ("depth", "n_layer", 1, "lag-12", "power law", 4),
        ],
        columns=["sweep", "factor", "level", "task", "law", "n_seeds"],
    )
    assert scaling.law_numbers(laws) == [
        {
            "sweep": "depth",
            "level": "1",
            "task": "lag-12",
            "power_law": "4",
            "exponential": "0",
            "indistinguishable": "1",
            "flat": "0",
        },
        {
            "sweep": "depth",
            "level": "1",
            "task": "text",
            "power_law": "2",
            "exponential": "3",
            "indistinguishable": "0",
            "flat": "0",
        },
        {
            "sweep": "depth",
            "level": "2",
            "task": "text",
            "power_law": "0",
            "exponential": "0",
            "indistinguishable": "0",
            "flat": "5",
        },
    ]
    assert scaling.law_numbers(laws.iloc[:0]) == []


def test_solved_numbers_give_the_lag_tasks_largest_loss_and_its_ratio_range_at_the_full_adam_step() -> None:
    runs = pd.concat([depth_runs("lag-12"), depth_runs("text")], ignore_index=True)
    runs.loc[runs["task"] == "lag-12", "final_eval_loss"] = [2.0e-4, 3.5e-3, 1.0e-5]
    swept = scaling.swept_runs(runs, REF)
    lag = runs.loc[runs["task"] == "lag-12", "condition"].tolist()
    text = runs.loc[runs["task"] == "text", "condition"].tolist()
    transfer = pd.DataFrame(
        [
            {"condition": c, "seed": 0, "choice": "best", "ratio": r}
            for c, r in zip(lag, (-0.002, 0.004, 0.001), strict=True)
        ]
        + [{"condition": c, "seed": 0, "choice": "sgd", "ratio": 0.9} for c in lag]
        + [{"condition": c, "seed": 0, "choice": "adam_fresh", "ratio": -0.9} for c in lag]
        + [{"condition": c, "seed": 0, "choice": "best", "ratio": 0.5} for c in text]
    )
    assert scaling.solved_numbers(swept, transfer) == {
        "task": "lag-12",
        "max_final_loss": "3.5e\u22123",
        "ratio_low": "\u22120.20%",
        "ratio_high": "0.40%",
    }
    assert scaling.solved_numbers(swept[swept["task"] == "text"], transfer) == {}


def test_trend_numbers_print_the_slope_its_interval_and_the_levels_behind_it() -> None:
    trends = pd.DataFrame(
        [
            {
                "sweep": "depth",
                "factor": "n_layer",
                "task": "sine-shift1",
                "quantity": "did",
                "slope_mean": 0.1234,
                "slope_low": -0.01,
                "slope_high": 0.2567,
                "p": 0.0593,
                "n_seeds": 5,
                "n_levels": 3,
                "n_levels_learned": 2,
            }
        ]
    )
    levels = pd.DataFrame(
        [{"sweep": "depth", "task": "sine-shift1", "quantity": "did", "level": level} for level in (4, 1, 2)]
        + [
            {"sweep": "depth", "task": "sine-shift1", "quantity": "did_relative", "level": 8},
            {"sweep": "width", "task": "sine-shift1", "quantity": "did", "level": 32},
            {"sweep": "depth", "task": "text", "quantity": "did", "level": 16},
        ]
    )
    assert scaling.trend_numbers(trends, levels) == [
        {
            "sweep": "depth",
            "factor": "n_layer",
            "task": "sine-shift1",
            "quantity": "did",
            "label": "C2 difference-in-differences (loss)",
            "levels": "1, 2, 4",
            "slope": "0.123",
            "low": "\u22120.010",
            "high": "0.257",
            "p": "0.059",
            "n_seeds": "5",
            "n_levels": "3",
            "n_levels_learned": "2",
            "excludes_zero": False,
            "sentence": "C2 difference-in-differences (loss), sine-shift1, across depth (n_layer = 1, 2, 4): 0.123 [\u22120.010, 0.257] "
            "per doubling, p 0.059, n = 5 seed(s), 2 of 3 levels learned; the interval covers 0",
        }
    ]


@pytest.mark.parametrize(
    ("low", "high", "reading"),
    [
        (0.01, 0.2, "the interval excludes 0"),
        (-0.2, -0.01, "the interval excludes 0"),
        (0.0, 0.2, "the interval covers 0"),
        (-0.2, 0.0, "the interval covers 0"),
        (float("nan"), float("nan"), "no interval (fewer than two seeds)"),
    ],
)
def test_reading_calls_an_interval_touching_0_covering(low: float, high: float, reading: str) -> None:
    assert scaling._reading({"slope_low": low, "slope_high": high}) == reading


# --- worked values for each step the paper's numbers pass through (mutation survivors) -------------

T95_DF1 = 6.313751514675043  # Student t quantile 0.95 at 1 degree of freedom: tan(0.45 pi) (tables)
T95_DF2 = 2.919985580353725  # Student t quantile 0.95 at 2 degrees of freedom: 0.9 / sqrt(2 * 0.95 * 0.05) (tables)


def test_digits_print_a_quantity_with_its_own_number_of_decimals() -> None:
    """QUANTITIES is built at import, so its printers are checked through _digits directly."""
    assert scaling._digits(2)(1.234) == "1.23"
    assert scaling._digits(3)(-0.5) == "\u22120.500"
    assert scaling._digits(0)(7.6) == "8"


def test_two_levels_give_the_difference_per_doubling() -> None:
    # log2 levels 0 and 1 (centred -0.5, 0.5): slope ((-0.5)(-0.125) + (0.5)(0.125)) / 0.5 = 0.25
    assert scaling.seed_slopes(values([1, 2], [1.0, 1.25]))["slope"].tolist() == pytest.approx([0.25])
    assert scaling.seed_slopes(values([32, 64], [3.0, 2.0]))["slope"].tolist() == pytest.approx([-1.0])


def three_seeds() -> pd.DataFrame:
    """Seed s rises by s + 1 per doubling from 0: values 0, s + 1, 2 (s + 1) at levels 1, 2, 4."""
    return pd.concat([values([1, 2, 4], [0.0, s + 1.0, 2.0 * (s + 1)], seed=s) for s in range(3)])


def test_a_90_percent_trend_over_three_seeds_uses_t_at_2_degrees_of_freedom() -> None:
    planted = three_seeds()
    levels = scaling.level_table(planted, 0.90)
    # level 4: values 2, 4, 6: mean 4, sd 2, half width t(0.95, 2) * 2 / sqrt(3)
    top = levels[levels["level"] == 4].iloc[0]
    assert (top["mean"], top["low"], top["high"]) == pytest.approx(
        (4.0, 4.0 - T95_DF2 * 2 / math.sqrt(3), 4.0 + T95_DF2 * 2 / math.sqrt(3))
    )
    bottom = levels[levels["level"] == 1].iloc[0]
    assert (bottom["low"], bottom["high"], bottom["n_seeds"]) == (0.0, 0.0, 3)
    trend = scaling.trend_table(planted, levels, 0.90).iloc[0]
    # slopes 1, 2, 3: mean 2, sd 1, half width t(0.95, 2) / sqrt(3); t = 2 sqrt(3), two-sided p at 2 df = 1 - t / sqrt(2 + t^2)
    assert trend["slope_mean"] == pytest.approx(2.0)
    assert trend["slope_low"] == pytest.approx(2.0 - T95_DF2 / math.sqrt(3))
    assert trend["slope_high"] == pytest.approx(2.0 + T95_DF2 / math.sqrt(3))
    assert trend["p"] == pytest.approx(1 - 2 * math.sqrt(3) / math.sqrt(14))
    assert trend["n_seeds"] == 3


def test_trends_are_listed_in_sorted_order_and_an_empty_trend_table_keeps_its_columns() -> None:
    # quantity "a" is missing at level 1: it first appears after "b", but the table lists "a" first
    planted = pd.concat([values([2, 4], [0.0, 1.0], quantity="a"), values([1, 2, 4], [0.0, 1.0, 2.0], quantity="b")])
    trends = scaling.trend_table(planted, scaling.level_table(planted, 0.95).sort_values(["level", "quantity"]), 0.95)
    assert trends["quantity"].tolist() == ["a", "b"]
    assert trends["slope_mean"].tolist() == pytest.approx([1.0, 1.0])
    empty = pd.DataFrame(columns=scaling.SEED_COLUMNS)
    assert list(scaling.trend_table(empty, scaling.level_table(empty, 0.95), 0.95).columns) == scaling.TREND_COLUMNS


def test_a_held_setting_left_empty_still_forms_a_sweep_and_rows_have_their_own_labels() -> None:
    runs = pd.DataFrame([run("text", n_layer=1), run("text"), run("text", n_layer=4), run("text", d_model=128)])
    runs["pos_encoding"] = None  # a model without a recorded encoding: the held settings still match
    swept = scaling.swept_runs(runs, REF)
    assert sorted(swept.loc[swept["sweep"] == "depth", "level"]) == [1, 2, 4]
    assert sorted(swept.loc[swept["sweep"] == "width", "level"]) == [64, 128]
    assert swept.index.tolist() == list(range(5))  # the reference run is a row in each of its two sweeps


def test_a_refused_sweep_names_only_the_task_and_regime_with_several_settings() -> None:
    runs = pd.DataFrame(
        [
            run("text", n_layer=1),
            run("text"),
            run("text", encoding="rope", n_layer=1),
            run("text", encoding="rope"),
            run("lag-12", n_layer=1),
            run("lag-12"),
        ]
    )
    with pytest.raises(ValueError) as refused:
        scaling.swept_runs(runs, REF)
    assert str(refused.value) == (
        "the depth sweep holds several settings for [('text', 'standard')]; a sweep varies n_layer alone"
    )


def test_the_final_step_is_read_once_for_a_run_in_two_sweeps() -> None:
    runs = pd.DataFrame([run("text", n_layer=1), run("text"), run("text", d_model=128)])
    swept = scaling.swept_runs(runs, REF)
    reference_run = run("text")["condition"]
    assert (swept["condition"] == reference_run).sum() == 2  # depth and width
    table = pd.DataFrame(
        [
            {"condition": reference_run, "seed": 0, "step": step, "layer": 0, "slope": value}
            for step, value in ((0, 9.0), (600, -0.3))
        ]
    )
    final = scaling._final(table, swept)
    assert final["slope"].tolist() == [-0.3]


def c2_cell_runs(span_baseline: float = 1.0) -> list[dict]:
    """One seed at depths 1 and 2; shift 1: standard 0.3, myopic 0.5 (gap 0.2); shift 0: standard 0.1, myopic 0.15 (gap 0.05)."""
    rows = []
    for n in (1, 2):
        rows += [
            run("sine-shift1", loss=0.3, baseline=span_baseline, optimal=0.25, n_layer=n),
            run("sine-shift1", regime="myopic-state", loss=0.5, baseline=span_baseline, optimal=0.25, n_layer=n),
            run("sine-shift0", loss=0.1, baseline=2.0, optimal=0.0, n_layer=n),
            run("sine-shift0", regime="myopic-state", loss=0.15, baseline=2.0, optimal=0.0, n_layer=n),
        ]
    return rows


def test_did_subtracts_each_tasks_own_standard_loss_and_scales_by_the_treated_span() -> None:
    did = scaling.did_values(scaling.swept_runs(pd.DataFrame(c2_cell_runs()), REF))
    # DiD = (0.5 - 0.3) - (0.15 - 0.1) = 0.15; treated span 1.0 - 0.25 = 0.75 (the control's is 2.0)
    assert did.loc[did["quantity"] == "did", "value"].tolist() == pytest.approx([0.15, 0.15])
    assert did.loc[did["quantity"] == "did_relative", "value"].tolist() == pytest.approx([0.2, 0.2])
    assert did["learned"].dtype == bool and did["learned"].all()
    assert did.index.is_unique


def test_did_reads_the_first_run_of_a_repeated_cell() -> None:
    rows = c2_cell_runs()
    repeat = {**rows[1], "condition": rows[1]["condition"] + "_again", "final_eval_loss": 0.9}
    did = scaling.did_values(scaling.swept_runs(pd.DataFrame([*rows, repeat]), REF))
    assert did.loc[did["quantity"] == "did", "value"].tolist() == pytest.approx([0.15, 0.15])  # not (0.5 + 0.9) / 2


def test_did_without_a_span_keeps_the_absolute_value_only() -> None:
    rows = c2_cell_runs(span_baseline=0.25)  # depth 1 and 2: baseline = optimum, span 0
    for r in rows:
        if r["n_layer"] == 2 and r["task"] == "sine-shift1":
            r["baseline_loss"] = float("nan")  # depth 2: no span at all
    did = scaling.did_values(scaling.swept_runs(pd.DataFrame(rows), REF))
    assert did["quantity"].tolist() == ["did", "did"] and did["value"].tolist() == pytest.approx([0.15, 0.15])


def test_did_without_any_control_myopic_run_is_empty() -> None:
    rows = [r for r in c2_cell_runs() if not (r["task"] == "sine-shift0" and r["regime"] == "myopic-state")]
    did = scaling.did_values(scaling.swept_runs(pd.DataFrame(rows), REF))
    assert did.empty and list(did.columns) == scaling.SEED_COLUMNS


def test_each_claim_table_is_named_by_its_quantity_and_empty_ones_keep_the_seed_columns() -> None:
    runs = pd.concat([depth_runs("lag-12"), depth_runs("text")], ignore_index=True)
    swept = scaling.swept_runs(runs, REF)
    enrichment = pd.DataFrame(
        [{"condition": c, "seed": 0, "stage": "trained", "layer": 0, "enrichment": 0.6} for c in runs["condition"]]
    )
    assert set(scaling.c1_values(enrichment, swept)["quantity"]) == {"c1_enrichment"}
    transfer = pd.DataFrame(
        [
            {"condition": c, "seed": 0, "choice": "best", "ratio": 0.02}
            for c in runs["condition"]
        ]
    )
    assert set(scaling.c6_values(transfer, swept)["quantity"]) == {"c6_ratio"}
    for table in (
        scaling.c1_values(pd.DataFrame(), swept),
        scaling.c6_values(pd.DataFrame(), swept),
        scaling.primacy_values(pd.DataFrame(), swept),
        scaling._per_seed(pd.DataFrame(), swept, "x", "q"),
        scaling._per_seed(enrichment, swept.iloc[:0], "enrichment", "q"),
    ):
        assert table.empty and list(table.columns) == scaling.SEED_COLUMNS


def test_c4_and_primacy_values_are_one_row_each() -> None:
    runs = depth_runs("text")
    swept = scaling.swept_runs(runs, REF)
    fits = pd.DataFrame(
        [
            {"condition": c, "seed": 0, "step": 600, "layer": 0, "power_p": 1.5, "preferred": "power law"}
            for c in runs["condition"]
        ]
    )
    slopes = fits[["condition", "seed", "step", "layer"]].assign(slope=-0.3)
    c4 = scaling.c4_values(fits, slopes, swept)
    assert c4["quantity"].tolist() == ["c4_exponent"] * 3 + ["c4_slope"] * 3 and c4.index.tolist() == list(range(6))
    primacy = fits[["condition", "seed", "step", "layer"]].assign(stage="trained", primacy_first=1.0, primacy_early=2.0)
    table = scaling.primacy_values(primacy, swept)
    assert table["value"].tolist() == [1.0] * 3 + [2.0] * 3 and table.index.tolist() == list(range(6))


def test_laws_seen_nowhere_are_listed_with_zero_seeds_in_the_order_of_laws() -> None:
    runs = depth_runs("text", seeds=(0, 1), levels=(1, 2))
    swept = scaling.swept_runs(runs, REF)
    fits = pd.DataFrame(
        [
            {"condition": r.condition, "seed": r.seed, "step": 600, "layer": 0, "preferred": "power law"}
            for r in runs.itertuples()
        ]
    )
    laws = scaling.law_table(fits, swept)
    assert laws["law"].tolist() == ["power law", "exponential", "indistinguishable", "flat"] * 2
    assert laws["n_seeds"].tolist() == [2, 0, 0, 0] * 2 and laws["level"].tolist() == [1] * 4 + [2] * 4
    not_final = scaling.law_table(fits.assign(step=0), swept)
    assert not_final.empty and list(not_final.columns) == scaling.LAW_COLUMNS


def test_law_numbers_sum_repeated_rows_and_print_0_for_a_law_seen_nowhere() -> None:
    laws = pd.DataFrame(
        [("depth", "n_layer", 1, "text", "power law", 2), ("depth", "n_layer", 1, "text", "power law", 3)],
        columns=["sweep", "factor", "level", "task", "law", "n_seeds"],
    )
    assert scaling.law_numbers(laws) == [
        {
            "sweep": "depth",
            "level": "1",
            "task": "text",
            "power_law": "5",
            "exponential": "0",
            "indistinguishable": "0",
            "flat": "0",
        }
    ]


def test_an_exponent_counts_as_at_the_bound_within_the_tolerance_inclusive() -> None:
    planted = values([1, 2, 4, 8], [0.5, 0.6, 7.4, 7.5], quantity="c4_exponent")
    # P_RANGE is (0, 8): with tolerance 0.5 the ends are 0.5 and 7.5, both counted
    assert scaling.exponent_at_bound(planted, tolerance=0.5) == {"n": "2", "of": "4", "low": "0", "high": "8"}
    assert scaling.exponent_at_bound(planted)["n"] == "0"  # default tolerance 1e-6


def test_solved_numbers_without_transfer_rows_and_for_a_single_lag_run() -> None:
    runs = pd.concat([depth_runs("lag-12"), depth_runs("text")], ignore_index=True)
    runs.loc[runs["task"] == "lag-12", "final_eval_loss"] = [2.0e-4, 3.5e-3, 1.0e-5]
    swept = scaling.swept_runs(runs, REF)
    assert scaling.solved_numbers(swept, pd.DataFrame()) == {
        "task": "lag-12",
        "max_final_loss": "3.5e\u22123",
        "ratio_low": "n/a",
        "ratio_high": "n/a",
    }
    one = swept[swept["condition"] == runs["condition"].iloc[0]]
    assert scaling.solved_numbers(one, pd.DataFrame()) == {
        "task": "lag-12",
        "max_final_loss": "2.0e\u22124",
        "ratio_low": "n/a",
        "ratio_high": "n/a",
    }


def test_trend_numbers_flag_an_interval_that_excludes_0() -> None:
    trends = pd.DataFrame(
        [
            {
                "sweep": "depth",
                "factor": "n_layer",
                "task": "text",
                "quantity": "c4_slope",
                "slope_mean": -0.5,
                "slope_low": -0.75,
                "slope_high": -0.25,
                "p": 0.0004,
                "n_seeds": 3,
                "n_levels": 2,
                "n_levels_learned": 2,
            }
        ]
    )
    levels = pd.DataFrame(
        [{"sweep": "depth", "task": "text", "quantity": "c4_slope", "level": level} for level in (1, 2)]
    )
    (entry,) = scaling.trend_numbers(trends, levels)
    assert entry["excludes_zero"] is True
    assert entry["sentence"] == (
        "C4 within-row slope beta, text, across depth (n_layer = 1, 2): \u22120.50 [\u22120.75, \u22120.25] per doubling, "
        "p < 0.001, n = 3 seed(s), 2 of 2 levels learned; the interval excludes 0"
    )


def test_numbers_without_swept_runs_print_0_seeds_and_no_heads() -> None:
    swept = scaling.swept_runs(pd.DataFrame(columns=depth_runs("text").columns), REF)
    empty = pd.DataFrame(columns=scaling.SEED_COLUMNS)
    levels = scaling.level_table(empty, 0.95)
    got = scaling.numbers(
        REF,
        swept,
        empty,
        levels,
        scaling.trend_table(empty, levels, 0.95),
        pd.DataFrame(columns=scaling.LAW_COLUMNS),
        pd.DataFrame(),
    )
    assert got == {
        "present": True,
        "reference": {"n_layer": "2", "d_model": "64", "context": "32"},
        "sweeps": {
            "depth": {"factor": "n_layer", "reference": "2", "levels": ""},
            "width": {"factor": "d_model", "reference": "64", "levels": ""},
            "context": {"factor": "context", "reference": "32", "levels": ""},
        },
        "n_seeds": "0",
        "heads_max": "n/a",
        "trends": [],
        "not_learned": [],
        "laws": [],
        "exponent_at_bound": {"n": "0", "of": "0", "low": "0", "high": "8"},
        "c6_solved": {},
    }


def test_the_analysis_runs_where_the_claim_tables_are_absent() -> None:
    """Tables a profile did not write are read as empty: the analysis still reports what it has."""
    result = scaling.compute(ClaimInputs({}, depth_runs("text"), SETTINGS))
    assert result.numbers["trends"] == [] and result.numbers["n_seeds"] == "1" and result.numbers["heads_max"] == "16"
    assert all(table.empty for table in result.tables.values())


def test_the_analysis_reads_every_claim_table_at_90_percent() -> None:
    """Each claim table planted on an exact line in log2(depth) (x = 0, 1, 2 at depths 1, 2, 4; seed s):

    C4 p = 1 + (0.5 + 0.5 s) x on text and lag (seed slopes 0.5 and 1: mean 0.75, se 0.25), C4 beta = -0.1 x,
    C1 enrichment = 0.2 x + 0.1 s on lag, C6 ratio = 0.01 x on text and 0.001 x - 0.002 s on the solved lag task,
    primacy first 0.1 x (init) and 0.3 x (trained), early 0.05 x and 0.4 x; C2's DiD as in sine_runs (slope 0.15).
    """
    runs = pd.concat(
        [depth_runs("text", seeds=(0, 1)), depth_runs("lag-12", seeds=(0, 1)), pd.DataFrame(sine_runs())],
        ignore_index=True,
    )
    runs.loc[runs["task"] == "lag-12", "final_eval_loss"] = 1e-4 * runs.loc[runs["task"] == "lag-12", "n_layer"]
    mine = [
        (r.condition, r.seed, math.log2(r.n_layer), r.task) for r in runs.itertuples() if r.task in ("text", "lag-12")
    ]
    fits = pd.DataFrame(
        [
            {
                "condition": c,
                "seed": s,
                "step": 600,
                "layer": layer,
                "power_p": 1 + (0.5 + 0.5 * s) * x if layer == 0 else 9.0,
                "preferred": "power law",
            }
            for c, s, x, _ in mine
            for layer in (0, 1)
        ]
    )
    slopes = pd.DataFrame(
        [{"condition": c, "seed": s, "step": 600, "layer": 0, "slope": -0.1 * x} for c, s, x, _ in mine]
    )
    enrichment = pd.DataFrame(
        [
            {"condition": c, "seed": s, "step": 600, "stage": "trained", "layer": 0, "enrichment": 0.2 * x + 0.1 * s}
            for c, s, x, _ in mine
        ]
    )
    transfer = pd.DataFrame(
        [
            {
                "condition": c,
                "seed": s,
                "choice": "best",
                "ratio": 0.01 * x if task == "text" else 0.001 * x - 0.002 * s,
            }
            for c, s, x, task in mine
        ]
    )
    primacy = pd.DataFrame(
        [
            {
                "condition": c,
                "seed": s,
                "step": step,
                "stage": stage,
                "layer": 0,
                "primacy_first": first * x,
                "primacy_early": early * x,
            }
            for c, s, x, _ in mine
            for step, stage, first, early in ((0, "init", 0.1, 0.05), (600, "trained", 0.3, 0.4))
        ]
    )
    tables = {
        "c4_fits": fits,
        "c4_slopes": slopes,
        "c1_enrichment_runs": enrichment,
        "c6_transfer": transfer,
        "primacy_runs": primacy,
    }
    result = scaling.compute(ClaimInputs(tables, runs, {**SETTINGS, "confidence": 0.90}))
    trends = result.tables["scaling_trends"]
    assert dict(
        zip(zip(trends["task"], trends["quantity"], strict=True), trends["slope_mean"], strict=True)
    ) == pytest.approx(
        {
            ("lag-12", "c1_enrichment"): 0.2,
            ("lag-12", "c4_exponent"): 0.75,
            ("lag-12", "c4_slope"): -0.1,
            ("lag-12", "primacy_early_init"): 0.05,
            ("lag-12", "primacy_early_trained"): 0.4,
            ("lag-12", "primacy_first_init"): 0.1,
            ("lag-12", "primacy_first_trained"): 0.3,
            ("sine-shift1", "did"): 0.15,
            ("sine-shift1", "did_relative"): 0.3,
            ("text", "c4_exponent"): 0.75,
            ("text", "c4_slope"): -0.1,
            ("text", "c6_ratio"): 0.01,
            ("text", "primacy_early_init"): 0.05,
            ("text", "primacy_early_trained"): 0.4,
            ("text", "primacy_first_init"): 0.1,
            ("text", "primacy_first_trained"): 0.3,
        }
    )
    exponent = trends[(trends["task"] == "text") & (trends["quantity"] == "c4_exponent")].iloc[0]
    assert (exponent["slope_low"], exponent["slope_high"]) == pytest.approx(
        (0.75 - T95_DF1 * 0.25, 0.75 + T95_DF1 * 0.25)
    )
    assert exponent["p"] == pytest.approx(1 - 2 * math.atan(3.0) / math.pi)  # t = 0.75 / 0.25 = 3 at 1 df
    laws = result.tables["scaling_laws"]
    assert len(laws) == 2 * 3 * 4 and laws.groupby("law")["n_seeds"].sum().to_dict() == {
        "power law": 12,
        "exponential": 0,
        "indistinguishable": 0,
        "flat": 0,
    }
    numbers = result.numbers
    sentence = next(t["sentence"] for t in numbers["trends"] if (t["task"], t["quantity"]) == ("text", "c4_exponent"))
    assert sentence == (
        "C4 power-law exponent p, text, across depth (n_layer = 1, 2, 4): 0.75 [\u22120.83, 2.33] per doubling, "
        "p 0.205, n = 2 seed(s), 3 of 3 levels learned; the interval covers 0"
    )
    assert numbers["c6_solved"] == {
        "task": "lag-12",
        "max_final_loss": "4.0e\u22124",
        "ratio_low": "\u22120.20%",
        "ratio_high": "0.20%",
    }
    assert numbers["exponent_at_bound"] == {"n": "0", "of": "12", "low": "0", "high": "8"}
    assert numbers["laws"][0] == {
        "sweep": "depth",
        "level": "1",
        "task": "lag-12",
        "power_law": "2",
        "exponential": "0",
        "indistinguishable": "0",
        "flat": "0",
    }
    assert numbers["reference"] == {"n_layer": "2", "d_model": "64", "context": "32"}
    assert numbers["sweeps"]["depth"] == {"factor": "n_layer", "reference": "2", "levels": "1, 2, 4"}
    assert (numbers["n_seeds"], numbers["heads_max"], numbers["not_learned"]) == ("2", "16", [])


def test_levels_are_listed_in_sorted_order_whatever_the_order_of_the_values() -> None:
    """The levels table is written as is and names the levels that did not learn in its order."""
    planted = pd.concat([values([4, 1], [5.0, 1.0], quantity="b"), values([2, 1], [3.0, 2.0], quantity="a")])
    levels = scaling.level_table(planted.assign(learned=False), 0.95)
    assert list(zip(levels["level"], levels["quantity"], levels["mean"], strict=True)) == [
        (1, "a", 2.0),
        (1, "b", 1.0),
        (2, "a", 3.0),
        (4, "b", 5.0),
    ]
    assert scaling.not_learned(levels) == [
        "text at n_layer = 1 (depth)",
        "text at n_layer = 2 (depth)",
        "text at n_layer = 4 (depth)",
    ]
