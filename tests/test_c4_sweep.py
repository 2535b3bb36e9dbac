"""C4b's known-distance sweep and C4a's decomposition, on planted data where each part is known."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.stats import c4, distance
from analysis.stats.claims import MIXED, REFUTED, SUPPORTED, ClaimInputs

DISTANCES, STEPS, SEEDS = (2, 4, 8, 16, 24), 1000, 5
RULES = c4.Rules()


# --- steps to a threshold, by hand ----------------------------------------------------------------


def test_steps_to_threshold_interpolates_between_evaluations_and_censors_at_the_last() -> None:
    steps, closed = np.array([0, 100, 200, 300]), np.array([0.0, 0.2, 0.6, 0.8])
    # 50%: between 100 (0.2) and 200 (0.6): 100 + (0.5 - 0.2) / 0.4 x 100 = 175
    assert c4.steps_to_threshold(steps, closed, 0.5) == (pytest.approx(175.0), False)
    assert c4.steps_to_threshold(steps[::-1], closed[::-1], 0.5) == (pytest.approx(175.0), False)  # order does not matter
    assert c4.steps_to_threshold(steps, closed, 0.6) == (200.0, False)  # reached exactly at an evaluation
    assert c4.steps_to_threshold(steps, closed, 0.9) == (300.0, True)  # never: censored at the last evaluation
    assert c4.steps_to_threshold(steps, np.array([0.7, 0.2, 0.6, 0.8]), 0.5) == (0.0, False)  # first crossing counts
    assert c4.steps_to_threshold(steps, np.array([0.0, np.nan, 0.6, 0.8]), 0.5) == (pytest.approx(500 / 3), False)  # NaN skipped
    step, censored = c4.steps_to_threshold(np.array([]), np.array([]), 0.5)
    assert np.isnan(step) and censored


# --- the sweep rule on planted runs -----------------------------------------------------------------


def planted_sweep(tau: dict[int, float], share: dict[int, float], encoding: str = "learned", seeds: int = SEEDS,
                  spread: float = 0.01) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """runs, eval_curve and m1_dependency_share: gap closed 1 - exp(-step / tau_d), share on the needed source share_d
    (each with a small per-seed, per-distance jitter of relative size ``spread``); baseline loss 2, optimum 0."""
    rng = np.random.default_rng(7)
    runs, curve, shares = [], [], []
    steps = np.arange(0, STEPS + 1, 50)
    for d in DISTANCES:
        condition = f"lag{d}-{encoding}"
        for seed in range(seeds):
            closed = 1 - np.exp(-steps / (tau[d] * (1 + spread * rng.normal())))
            loss = 2.0 * (1 - closed)
            runs.append({"condition": condition, "seed": seed, "task": f"lag-{d}", "task_name": "lag", "pos_encoding": encoding,
                         "regime": "standard", "n_layer": 2, "context": 32, "steps": STEPS, "task_distance": float(d),
                         "learned": True, "baseline_loss": 2.0, "optimal_loss": 0.0, "final_eval_loss": loss[-1]})
            curve.append(pd.DataFrame({"condition": condition, "seed": seed, "step": steps, "eval_loss": loss}))
            value = share[d] + spread * rng.normal()
            shares.append(pd.DataFrame({"condition": condition, "seed": seed, "step": [0, 0, STEPS, STEPS], "layer": [0, 1, 0, 0],
                                        "t": [5, 5, 5, 6], "share": [0.01, 0.5, value - 0.01, value + 0.01],
                                        "uniform": 0.1, "n_sequences": 32}))
    return pd.DataFrame(runs), pd.concat(curve, ignore_index=True), pd.concat(shares, ignore_index=True)


def run_sweep(*planted: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame], **rules) -> c4.ClaimResult:
    runs, curve, share = (pd.concat(parts, ignore_index=True) for parts in zip(*planted, strict=True))
    tables = {"eval_curve": curve, "m1_dependency_share": share}
    return c4.CLAIM.run(ClaimInputs(tables=tables, runs=runs, settings={"confidence": 0.95, "alpha": 0.05}), rules)


FLAT_TAU = dict.fromkeys(DISTANCES, 200.0)
FLAT_SHARE = dict.fromkeys(DISTANCES, 0.9)


def c4b(result: c4.ClaimResult) -> str:
    return next(v.verdict for v in result.verdicts if v.claim == "C4b")


def test_a_flat_sweep_is_supported_and_reads_each_quantity_per_run() -> None:
    result = run_sweep(planted_sweep(FLAT_TAU, FLAT_SHARE))
    assert c4b(result) == SUPPORTED
    runs = result.tables["c4_sweep_runs"]
    assert len(runs) == len(DISTANCES) * SEEDS and not runs[["censored_50", "censored_90"]].any().any()
    # gap closed 1 - exp(-s / 200): 50% at 200 ln 2 = 138.6 steps (linear between evaluations at 100 and 150)
    assert runs["steps_50"].median() == pytest.approx(0.1386, abs=0.01)
    assert runs["share"].median() == pytest.approx(0.9, abs=0.02)  # the last step, layer 0, mean over rows
    slopes = result.tables["c4_sweep_slopes"].set_index("quantity")
    assert (slopes.loc[list(RULES.deciding_quantities), "outcome"] == c4.EQUIVALENT).all()
    assert not slopes.loc["height", "deciding"]  # descriptive


def test_learning_slower_with_distance_refutes() -> None:
    slow = {d: 100.0 * d for d in DISTANCES}  # tau from 200 to 2400 steps: 90% is never reached at the far distances
    result = run_sweep(planted_sweep(slow, FLAT_SHARE))
    assert c4b(result) == REFUTED
    slopes = result.tables["c4_sweep_slopes"].set_index("quantity")
    assert slopes.loc["steps_50", "outcome"] == c4.BEYOND and slopes.loc["steps_50", "slope_mean"] > RULES.steps_margin
    assert slopes.loc["steps_90", "n_censored"] > 0


def test_a_falling_share_refutes_and_a_share_at_the_margin_is_mixed() -> None:
    falling = {d: 0.95 - 0.1 * np.log(d) for d in DISTANCES}
    assert c4b(run_sweep(planted_sweep(FLAT_TAU, falling))) == REFUTED
    at_margin = {d: 0.5 + RULES.share_margin * np.log(d) for d in DISTANCES}  # exactly +margin per ln d: neither
    result = run_sweep(planted_sweep(FLAT_TAU, at_margin))
    share = result.tables["c4_sweep_slopes"].set_index("quantity").loc["share"]
    assert share["slope_mean"] == pytest.approx(RULES.share_margin, abs=0.01) and share["outcome"] == c4.UNDECIDED
    assert c4b(result) == MIXED
    wider = run_sweep(planted_sweep(FLAT_TAU, at_margin), share_margin=0.1)  # a wider margin takes it in
    assert c4b(wider) == SUPPORTED


def test_a_censored_run_is_never_flat() -> None:
    never = planted_sweep(dict.fromkeys(DISTANCES, 1e6), FLAT_SHARE)  # no run reaches 50%: flat at the censoring bound
    result = run_sweep(never)
    slopes = result.tables["c4_sweep_slopes"].set_index("quantity")
    assert slopes.loc["steps_50", "n_censored"] == len(DISTANCES) * SEEDS and slopes.loc["steps_50", "outcome"] != c4.EQUIVALENT
    assert c4b(result) == MIXED


def test_descriptive_encodings_decide_nothing_and_are_shown_beside() -> None:
    alibi = planted_sweep({d: 100.0 * d for d in DISTANCES}, FLAT_SHARE, encoding="alibi", seeds=2)
    result = run_sweep(planted_sweep(FLAT_TAU, FLAT_SHARE), alibi)
    assert c4b(result) == SUPPORTED
    table = result.tables["c4_sweep"]
    assert set(table["pos_encoding"]) == {"alibi", "learned"} and len(table) == 2 * len(DISTANCES)
    assert (table.loc[table["pos_encoding"] == "alibi", "n_seeds"] == 2).all()
    rows = result.numbers["sweep"]["rows"]
    assert [r["distance"] for r in rows[:5]] == ["2", "4", "8", "16", "24"] and rows[0]["pos_encoding"] == "alibi"
    slopes = result.tables["c4_sweep_slopes"]
    assert not slopes.loc[slopes["pos_encoding"] == "alibi", "deciding"].any()


def test_an_empty_or_incomplete_sweep_is_mixed() -> None:
    empty = c4.CLAIM.run(ClaimInputs(tables={}, runs=pd.DataFrame(), settings={}), {})
    assert c4b(empty) == MIXED and empty.tables["c4_sweep_slopes"].empty and empty.numbers["sweep"]["measured"] is False
    runs, curve, share = planted_sweep(FLAT_TAU, FLAT_SHARE)
    two = runs["task_distance"].isin([2.0, 4.0])  # two distances give no slope (three at least)
    assert c4b(run_sweep((runs[two], curve, share))) == MIXED
    assert c4b(run_sweep((runs.assign(context=64), curve, share))) == MIXED  # another context: not the sweep


def test_rules_refuse_unknown_quantities_and_store_tuples() -> None:
    with pytest.raises(ValueError, match="deciding_quantities"):
        c4.Rules(deciding_quantities=("steps_50", "speed"))
    with pytest.raises(ValueError, match="share_margin 0: must be positive"):
        c4.Rules(share_margin=0)
    rules = c4.Rules(sweep_distances=[2, 8], deciding_quantities=["share"])
    assert rules.sweep_distances == (2, 8) and rules.deciding_quantities == ("share",)


# --- the decomposition on planted data ------------------------------------------------------------


def planted_cells(log_g: callable, length: int = 16) -> pd.DataFrame:
    t, s = np.tril_indices(length, -1)
    return pd.DataFrame({"condition": "x", "seed": 0, "step": 0, "layer": 0, "t": t, "s": s, "distance": t - s,
                         "log_g": log_g(t, s, t - s)})


ROWS, SOURCES = np.random.default_rng(3).normal(0, 1, 16), np.random.default_rng(4).normal(0, 1, 16)


@pytest.mark.parametrize(("log_g", "beta", "first"), [
    (lambda t, s, d: ROWS[t], 0.0, 0.0),  # pure target
    (lambda t, s, d: SOURCES[s], 0.0, SOURCES[0] - SOURCES[:15].mean()),  # pure source (primacy, anywhere)
    (lambda t, s, d: -0.7 * np.log(d + 1.0), -0.7, 0.0),  # pure distance
    (lambda t, s, d: ROWS[t] + SOURCES[s] + 0.4 * np.log(d + 1.0), 0.4, SOURCES[0] - SOURCES[:15].mean()),  # all three
])
def test_the_decomposition_recovers_each_planted_part_and_reads_the_others_as_zero(log_g, beta: float, first: float) -> None:
    table = distance.decompose(planted_cells(log_g))
    assert table["identified"].all() and table["n_cells"].tolist() == [120] and table["n_sources"].tolist() == [15]
    assert table["beta"].iloc[0] == pytest.approx(beta, abs=1e-9)
    assert table["first_source"].iloc[0] == pytest.approx(first, abs=1e-9)


def test_the_identifying_constraint_is_stated_by_what_it_cannot_see() -> None:
    """With every source free a decay linear in d is a_t + b_s (beta 0); with source effects on the first k only, the
    distance term absorbs it (and a pure first-source effect is still recovered)."""
    linear = planted_cells(lambda t, s, d: -0.1 * d)
    assert distance.decompose(linear)["beta"].iloc[0] == pytest.approx(0.0, abs=1e-9)
    assert distance.decompose(linear, free_sources=2)["beta"].iloc[0] < -0.5
    sink = planted_cells(lambda t, s, d: np.where(s == 0, 2.0, 0.0) - 0.3 * np.log(d + 1.0))
    two = distance.decompose(sink, free_sources=2).iloc[0]
    assert two["beta"] == pytest.approx(-0.3, abs=1e-9) and two["first_source"] == pytest.approx(2.0 - 2.0 / 15, abs=1e-9)
    one_row = planted_cells(lambda t, s, d: d * 0.0, length=2)  # one cell: beta is not identified
    assert not distance.decompose(one_row)["identified"].iloc[0] and np.isnan(distance.decompose(one_row)["beta"].iloc[0])
    assert list(distance.decompose(linear.iloc[:0]).columns) == distance.DECOMPOSITION_COLUMNS


# --- the effective context --------------------------------------------------------------------------


def test_effective_context_is_the_smallest_d_beyond_which_nothing_changes() -> None:
    """Seed 0: removing context beyond D costs 0.5 for D < 4, nothing from 4 on -> D* = 4; seed 1 from 8 on -> 8;
    a seed that moves at every D reads its context length."""
    rows = []
    for seed, reach in ((0, 4), (1, 8)):
        for horizon in (0, 1, 2, 4, 8, 16):
            for t in range(32):
                rows.append({"condition": "text", "seed": seed, "step": 100, "D": horizon, "t": t, "loss_full": 1.0,
                             "loss_truncated": 1.0 + (0.5 if horizon < reach else 0.002)})
    table = pd.DataFrame(rows)
    info = pd.DataFrame({"condition": ["text"], "context": [32]})
    reach = c4.effective_context(table, info, 0.01, 0.95).iloc[0]
    half = 12.706204736 * np.std([4, 8], ddof=1) / np.sqrt(2)
    assert (reach["D_mean"], reach["D_min"], reach["D_max"], reach["n_seeds"]) == (6.0, 4.0, 8.0, 2)
    assert reach["D_low"] == pytest.approx(6 - half) and reach["D_high"] == pytest.approx(6 + half)
    always = table.assign(loss_truncated=1.5)
    assert c4.effective_context(always, info, 0.01, 0.95).iloc[0]["D_mean"] == 32.0
    assert c4.effective_context(None, info, 0.01, 0.95).empty


def test_the_sweep_figure_reads_the_margin_from_the_statistics_not_the_defaults() -> None:
    import sys

    from workflow_helpers import REPO

    sys.path.insert(0, str(REPO / "figures"))
    import distance_sweep

    slopes = pd.DataFrame({"pos_encoding": ["learned", "alibi"], "quantity": ["share", "share"], "deciding": [True, False],
                           "slope_mean": [0.01, 0.5], "slope_low": [-0.02, 0.4], "slope_high": [0.04, 0.6], "margin": [0.07, 0.07]})
    assert distance_sweep._title(slopes, "share") == "learned: 0.010 [-0.020, 0.040]\nper ln d, margin ±0.07"
    assert distance_sweep._title(slopes, "height") == "descriptive"
