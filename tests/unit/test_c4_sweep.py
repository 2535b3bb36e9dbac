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


HORIZONS, CONTEXT, TOLERANCE = (0, 1, 2, 4, 8, 16), 32, 0.01
INFO = pd.DataFrame({"condition": ["text"], "context": [CONTEXT]})


def _reach_table(increase: dict[int, np.ndarray], condition: str = "text", targets: int = CONTEXT) -> pd.DataFrame:
    """Planted M7 rows: per D, seed s's increase at every target D < t < ``targets`` is increase[D][s] (rows t <= D
    cost 5.0, as a check that they are left out); an earlier checkpoint that moves everywhere must be ignored."""
    frames = []
    for horizon, values in increase.items():
        seed, t = np.meshgrid(np.arange(len(values)), np.arange(targets), indexing="ij")
        cost = np.where(t > horizon, np.asarray(values, float)[seed], 5.0)
        final = pd.DataFrame({"condition": condition, "seed": seed.ravel(), "step": 100, "D": horizon, "t": t.ravel(),
                              "loss_full": 1.0, "loss_truncated": 1.0 + cost.ravel()})
        frames += [final, final.assign(step=10, loss_truncated=2.0)]
    return pd.concat(frames, ignore_index=True)


def _planted(reach: int, used: float = 0.5, beyond: float = 0.0, sd: float = 0.0, seeds: int = 5,
             rng: np.random.Generator | None = None) -> dict[int, np.ndarray]:
    """Increase ``used`` for D < reach, ``beyond`` from reach on, plus per-seed noise of sd ``sd`` (seed-to-seed
    offsets of +-0.001 where there is no noise, so that the seeds' sd is never 0)."""
    noise = (rng.normal(0.0, sd, (len(HORIZONS), seeds)) if rng is not None
             else np.tile(0.001 * (np.arange(seeds) - (seeds - 1) / 2) / seeds, (len(HORIZONS), 1)))
    return {d: (used if d < reach else beyond) + noise[i] for i, d in enumerate(HORIZONS)}


def _reach(increase: dict[int, np.ndarray]) -> pd.Series:
    return c4.effective_context(_reach_table(increase), INFO, TOLERANCE, 0.05).iloc[0]


@pytest.mark.parametrize("reach", [1, 2, 4, 8, 16])
def test_effective_context_without_noise_is_the_planted_reach(reach: int) -> None:
    row = _reach(_planted(reach))
    assert (row["D"], row["resolved"], row["D_changed"], row["n_seeds"], row["step"]) == (reach, True, HORIZONS[HORIZONS.index(reach) - 1], 5, 100)
    assert row["tost_p"] < 0.05


def test_effective_context_at_the_tolerance_and_beyond_either_way() -> None:
    assert _reach(_planted(4, beyond=0.0095))["D"] == 4  # just inside the tolerance: counts as nothing
    inside = _reach(_planted(4, used=0.0105, beyond=0.0))  # just beyond it, below D = 4: used
    assert (inside["D"], inside["D_changed"]) == (4, 2)
    outside = _reach(_planted(4, beyond=0.0105))  # beyond it at every D: nothing resolved, the context length
    assert (outside["D"], outside["resolved"], outside["D_changed"]) == (CONTEXT, False, 16)
    assert outside["tost_p"] > 0.05
    falls = _planted(4)
    falls[8] = falls[8] - 0.05  # removing the context beyond 8 lowers the loss by 0.05: a change too
    row = _reach(falls)
    assert (row["D"], row["D_changed"], row["resolved"]) == (16, 8, True)


def test_effective_context_reads_the_reach_through_noise_and_refuses_to_guess_under_too_much() -> None:
    """Planted reach 8 (0.05 nats below it, 0 from it on), 20 draws of 5 seeds: with per-seed noise of sd 0.003
    (about M7's sequence noise at 128 sequences per run on text) D* is 8 (200 of 200 draws when this was written);
    with sd 0.03 (8 sequences per run) it is unresolved (200 of 200), never read as a short reach, and the lower
    bound D_changed stays below the reach in most draws (193 of 200)."""
    rng, draws = np.random.default_rng(0), 20
    info = pd.DataFrame({"condition": [f"c{i}" for i in range(draws)], "context": CONTEXT})
    for sd in (0.003, 0.03):
        tables = [_reach_table(_planted(8, used=0.05, sd=sd, rng=rng), f"c{i}", targets=CONTEXT // 2 + 2) for i in range(draws)]
        reach = c4.effective_context(pd.concat(tables, ignore_index=True), info, TOLERANCE, 0.05)
        assert len(reach) == draws
        if sd < TOLERANCE:
            assert (reach["D"] == 8).all() and reach["resolved"].all() and (reach["D_changed"] == 4).all()
        else:
            assert (reach["D"] == CONTEXT).all() and not reach["resolved"].any()
            assert (reach["D_changed"].fillna(0) < 8).mean() >= 0.9


def test_effective_context_on_one_seed_or_no_table_is_unresolved_or_empty() -> None:
    one = _reach({d: v[:1] for d, v in _planted(4).items()})
    assert (one["D"], one["resolved"], one["n_seeds"]) == (CONTEXT, False, 1) and np.isnan(one["D_changed"])
    columns = ["condition", "step", "D", "resolved", "D_changed", "tost_p", "n_seeds"]
    assert list(c4.effective_context(None, INFO, TOLERANCE, 0.05).columns) == columns
    assert c4.effective_context(_reach_table(_planted(4)), INFO.iloc[:0], TOLERANCE, 0.05).empty
    numbers = c4.effective_context_numbers(c4.effective_context(_reach_table(_planted(4)), INFO, TOLERANCE, 0.05),
                                           INFO.assign(task="text", pos_encoding="learned"))
    assert numbers == [{"condition": "text", "task": "text", "pos_encoding": "learned", "context": "32", "D": "4",
                        "resolved": True, "D_changed": "2", "tost_p": numbers[0]["tost_p"], "n_seeds": "5"}]


def test_the_sweep_figure_reads_the_margin_from_the_statistics_not_the_defaults() -> None:
    from figures import distance_sweep

    slopes = pd.DataFrame({"pos_encoding": ["learned", "alibi"], "quantity": ["share", "share"], "deciding": [True, False],
                           "slope_mean": [0.01, 0.5], "slope_low": [-0.02, 0.4], "slope_high": [0.04, 0.6], "margin": [0.07, 0.07]})
    assert distance_sweep._title(slopes, "share") == "learned: 0.010 [-0.020, 0.040]\nper ln d, margin ±0.07"
    assert distance_sweep._title(slopes, "height") == "descriptive"


def test_a_sweep_without_its_curve_or_share_tables_is_mixed_and_keeps_its_columns() -> None:
    """The sweep's runs are there but the learning curves or the shares were not measured: C4b is mixed, no error,
    and the per-run sweep table keeps the quantities it could not read as NaN."""
    runs, curve, share = planted_sweep(FLAT_TAU, FLAT_SHARE)
    settings = {"confidence": 0.95, "alpha": 0.05}
    for tables in ({"m1_dependency_share": share}, {"eval_curve": curve}, {}):
        result = c4.CLAIM.run(ClaimInputs(tables=tables, runs=runs, settings=settings), {})
        assert c4b(result) == MIXED, sorted(tables)
        assert len(result.tables["c4_sweep_runs"]) == len(runs) and result.tables["c4_effective_context"].empty
