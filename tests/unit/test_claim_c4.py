"""C4a/C4b on planted gradient matrices whose within-row profile is known."""
from __future__ import annotations

import zlib

import numpy as np
import pandas as pd
import pytest

from analysis.stats import c4, distance
from analysis.stats.claims import MIXED, REFUTED, STRUCTURAL, SUPPORTED, ClaimInputs
from analysis.stats.report import MINUS, fmt

SETTINGS = {"s_min": 2, "d_min": 1, "confidence": 0.95, "alpha": 0.05}
T, N_LAYER, FINAL = 16, 2, 100


def planted_m1(condition: str, slopes: dict[int, list[float]], peak: tuple[int, float] | None = None,
               zero: tuple[int, int] | None = None, n_layer: int = N_LAYER, length: int = T, noise: float = 0.01) -> pd.DataFrame:
    """G[t, s] = (d + 1)^slope / (t + 1) off the diagonal (row totals 1/(t+1)), 1 on it, 0 below it at the last layer.

    ``slopes`` maps a step to one within-row slope per seed; ``peak`` multiplies the cells at
    one distance; ``zero`` sets one (t, s) pair to 0 everywhere. Tests that need neither a second analysed layer
    nor the full length plant ``n_layer=1`` or a shorter ``length`` (with less ``noise``: the decomposition's beta,
    identified by the curvature of log(d + 1) alone, has about three times the within-row slope's spread): under mutation testing every C4 and
    ``distance.py`` mutant that survives runs every test of this file (docs/mutation.md).
    """
    rng = np.random.default_rng(zlib.crc32(condition.encode()))  # hash() of a str changes per process
    t, s = np.tril_indices(length)
    frames = []
    for step, per_seed in slopes.items():
        for seed, slope in enumerate(per_seed):
            for layer in range(n_layer + 1):
                d = t - s
                g = (d + 1.0) ** slope / (t + 1.0) * np.exp(rng.normal(0, noise, len(t)))
                if peak is not None:
                    g = np.where(d == peak[0], g * peak[1], g)
                if zero is not None:
                    g = np.where((t == zero[0]) & (s == zero[1]), 0.0, g)
                g = np.where(d == 0, 1.0, 0.0 if layer == n_layer else g)
                frames.append(pd.DataFrame({"condition": condition, "seed": seed, "step": step, "layer": layer,
                                            "t": t, "s": s, "distance": d, "grad_norm_mean": g}))
    return pd.concat(frames, ignore_index=True)


def runs_row(condition: str, task_name: str, seeds: int = 5, dependency: float = np.nan, context: int = T,
             n_layer: int = N_LAYER) -> pd.DataFrame:
    return pd.DataFrame({"condition": condition, "seed": range(seeds), "task": task_name, "task_name": task_name,
                         "pos_encoding": "learned", "regime": "standard", "n_layer": n_layer, "context": context,
                         "steps": FINAL, "task_distance": dependency, "learned": True})


SMALL = {"seeds": 3, "n_layer": 1, "length": 8, "noise": 0.002}  # the smallest condition a family test decides on


def seeds_around(value: float, n: int = 5) -> list[float]:
    return list(value + np.linspace(-0.02, 0.02, n))


def decide(conditions: list[tuple[pd.DataFrame, pd.DataFrame]], tables: dict | None = None, **rules) -> c4.ClaimResult:
    m1 = pd.concat([m for m, _ in conditions], ignore_index=True) if conditions else pd.DataFrame(
        columns=["condition", "seed", "step", "layer", "t", "s", "distance", "grad_norm_mean"])
    runs = pd.concat([r for _, r in conditions], ignore_index=True) if conditions else pd.DataFrame(
        columns=list(runs_row("x", "text").columns))
    inputs = ClaimInputs(tables={"m1_gradient_matrix": m1, **(tables or {})}, runs=runs, settings=SETTINGS)
    return c4.CLAIM.run(inputs, rules)


def words(result: c4.ClaimResult, min_share: float = 0.75) -> dict[str, str]:
    """The verdicts, with the descriptive trained family's word (as the v2 rule read it) under "trained"."""
    decision = result.tables["c4_decision"]
    trained = c4.family_verdict(decision[decision["family"] == "trained"], min_share)
    return {**{f"{v.claim}/{v.kind}": v.verdict for v in result.verdicts}, "trained": trained}


def condition(name: str, task: str, init: float, trained: float, seeds: int = 5, n_layer: int = N_LAYER, length: int = T,
              peak: tuple[int, float] | None = None, zero: tuple[int, int] | None = None, noise: float = 0.01,
              **runs_kwargs) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One condition's planted M1 (``seeds`` seeds around the init and trained slopes) and its runs rows."""
    m1 = planted_m1(name, {0: seeds_around(init, seeds), FINAL: seeds_around(trained, seeds)}, peak, zero, n_layer, length, noise)
    return m1, runs_row(name, task, seeds=seeds, n_layer=n_layer, context=length, **runs_kwargs)


def test_flat_rows_with_one_over_t_totals_are_flat_and_support_both_parts() -> None:
    result = decide([condition("lag", "lag", 0.0, 0.0, dependency=3), condition("text", "text", 0.0, 0.0)])
    assert words(result) == {f"C4a/{STRUCTURAL}": SUPPORTED, "C4a/finding": SUPPORTED, "C4b/finding": MIXED, "trained": SUPPORTED}
    summary = result.tables["c4_summary"]
    layer0 = summary[summary["layer"] == 0]
    assert np.abs(layer0["slope_mean"]).max() < 0.01  # within rows: flat
    assert (layer0["pooled_slope_mean"] < -0.3).all()  # the pooled profile falls with no distance effect at all
    assert result.numbers["information"]["status"] == "not measured"


def test_a_planted_within_row_decay_is_recovered_and_refutes_c4b() -> None:
    result = decide([condition("lag", "lag", 0.0, -1.3, dependency=3), condition("text", "text", 0.0, -1.3)])
    assert words(result)["C4a/finding"] == SUPPORTED and words(result)["trained"] == REFUTED
    summary = result.tables["c4_summary"]
    trained = summary[(summary["step"] == FINAL) & (summary["layer"] == 0)]
    assert np.allclose(trained["slope_mean"], -1.3, atol=0.01)
    # the planted law is c + A (d+1)^-p with c = 0, p = 1.3: the power-law fit finds it
    assert np.allclose(trained["power_p_mean"], 1.3, atol=0.05)
    assert (trained["n_power_law"] == 5).all()


def test_primacy_at_init_refutes_c4a_and_half_falling_is_mixed() -> None:
    result = decide([condition("lag", "lag", 0.5, -1.0, dependency=3, **SMALL), condition("text", "text", 0.5, 0.0, **SMALL)])
    assert words(result)["C4a/finding"] == REFUTED  # rising beyond the margin counts (either direction)
    assert words(result)["trained"] == MIXED  # one of two falls: below the 75% share either way


def test_a_rising_trained_profile_is_not_the_same_way_either() -> None:
    result = decide([condition("text", "text", 0.0, 0.5, n_layer=1)])
    assert words(result)["trained"] == REFUTED  # beyond the margin upwards: distance matters
    small = decide([condition("text", "text", 0.0, 0.05, n_layer=1)])
    assert words(small)["trained"] == SUPPORTED  # inside the margin: equivalent to flat


def test_the_known_dependency_is_left_out_of_the_fit_and_its_peak_reported() -> None:
    peaked = condition("lag", "lag", 0.0, 0.0, dependency=3, peak=(3, 10.0), n_layer=1)
    result = decide([peaked])
    assert words(result)["trained"] == SUPPORTED
    assert result.numbers["trained"][0]["excluded_distance"] == "3"
    height = result.tables["c4_dependency_height"]
    trained = height[height["step"] == FINAL].iloc[0]
    # row t (s_min = 2): t - 2 earlier sources in the fitted range, one of them 10x: 10 / ((t - 3 + 10) / (t - 2))
    rows = np.arange(5, T)  # rows whose source t - 3 lies in the fitted range
    expected = np.mean(10 / ((rows - 3 + 10) / (rows - 2)))
    assert abs(trained["height_mean"] - expected) < 0.02 * expected
    # a lag condition whose dependency distance is unknown cannot be decided: the family is empty
    unknown = decide([condition("lag", "lag", 0.0, 0.0, peak=(3, 10.0), **SMALL)])
    assert words(unknown)["trained"] == MIXED and unknown.numbers["trained"] == []


def test_share_boundary_is_inclusive() -> None:
    # small conditions (three seeds, one analysed layer, T = 8); four conditions, three flat: exactly 75% -> supported; two flat -> mixed; three falling -> refuted
    flat = [condition(f"text{i}", "text", 0.0, 0.0, **SMALL) for i in range(3)]
    assert words(decide([*flat, condition("text9", "text", 0.0, -1.0, **SMALL)]))["trained"] == SUPPORTED
    assert words(decide([*flat[:2], *(condition(f"f{i}", "text", 0.0, -1.0, **SMALL) for i in range(2))]))["trained"] == MIXED
    falling = [condition(f"f{i}", "text", 0.0, -1.0, **SMALL) for i in range(3)]
    assert words(decide([*falling, condition("text9", "text", 0.0, 0.0, **SMALL)]))["trained"] == REFUTED
    assert words(decide([*falling, condition("text9", "text", 0.0, 0.0, **SMALL)], min_share=1.0), 1.0)["trained"] == MIXED


def test_slopes_at_the_margin_are_not_equivalent() -> None:
    # seeds spread around exactly -margin: neither inside (TOST) nor beyond it
    result = decide([condition("text", "text", 0.0, -0.1, n_layer=1)])
    outcome = result.tables["c4_decision"].query("family == 'trained'").iloc[0]
    assert outcome["tost_p_holm"] > 0.05 and outcome["beyond_p_holm"] > 0.05
    assert words(result)["trained"] == MIXED


def test_beyond_margin_p_matches_the_t_distribution_by_hand() -> None:
    # values + 0.1 = (-0.2, -0.1, -0.15): mean -0.15, sd 0.05, t = -0.15 / (0.05 / sqrt 3) = -5.196152;
    # Student t with 2 df: F(t) = 1/2 + t / (2 sqrt(2 + t^2)) = 0.0175495
    p = c4._beyond_p(np.array([-0.3, -0.2, -0.25]), 0.1, "less")
    assert abs(p - (0.5 - 5.196152 / (2 * np.sqrt(2 + 5.196152**2)))) < 1e-6


def test_structural_check_reads_zeros() -> None:
    everywhere = decide([condition("text", "text", 0.0, 0.0, zero=(9, 4))])
    assert words(everywhere)[f"C4a/{STRUCTURAL}"] == REFUTED
    assert everywhere.numbers["structure"] == {"pairs": str(2 * 120), "zero_somewhere": "2"}  # T = 16: the pair in both layers
    some = planted_m1("text", {0: seeds_around(0.0), FINAL: seeds_around(0.0)})
    some.loc[(some["seed"] == 1) & (some["t"] == 9) & (some["s"] == 4) & (some["layer"] == 0), "grad_norm_mean"] = 0.0
    assert words(decide([(some, runs_row("text", "text"))]))[f"C4a/{STRUCTURAL}"] == MIXED


def test_not_learned_and_other_tasks_stay_out_of_c4b() -> None:
    markov = condition("markov", "markov", 0.0, -1.0, **SMALL)
    unlearned = condition("text", "text", 0.0, -1.0, **SMALL)
    unlearned[1]["learned"] = False
    result = decide([markov, unlearned])
    assert words(result)["trained"] == MIXED and result.numbers["trained"] == []


def test_empty_input_gives_mixed_and_every_declared_table() -> None:
    result = decide([])
    assert set(words(result).values()) == {MIXED}
    assert set(result.tables) == set(c4.OUTPUTS)
    assert result.numbers["information"]["measured"] is False


def test_information_half_averages_rows_with_context_beyond_d() -> None:
    rows = []
    for seed in range(3):
        for horizon in (1, 4):
            for t in range(8):
                # truncation costs 0.1 * (seed + 1) where context lies beyond D; rows t <= D lose nothing by design
                cost = 0.1 * (seed + 1) if t > horizon else 5.0  # 5.0 must be filtered out
                rows.append({"condition": "text", "seed": seed, "step": FINAL, "D": horizon, "t": t,
                             "loss_full": 1.0, "loss_truncated": 1.0 + cost, "loss_shuffled": 1.0 + cost / 2})
    result = decide([condition("text", "text", 0.0, 0.0, **SMALL)], {"m7_context_distance": pd.DataFrame(rows)})
    table = result.tables["c4_context_distance"]
    assert len(table) == 2 and np.allclose(table["truncated_mean"], 0.2) and np.allclose(table["shuffled_mean"], 0.1)
    # per-seed values 0.1, 0.2, 0.3: t interval 0.2 +- 4.3026527 * 0.1 / sqrt 3
    assert np.allclose(table["truncated_high"], 0.2 + 4.3026527 * 0.1 / np.sqrt(3), atol=1e-6)
    assert result.numbers["information"]["status"] == "measured"


def test_rules_refuse_a_share_that_lets_both_words_hold() -> None:
    with pytest.raises(ValueError, match="min_share"):
        c4.Rules(min_share=0.5)
    with pytest.raises(ValueError, match=r"min_share 1.5: must lie in \(0.5, 1\]"):
        c4.Rules(min_share=1.5)
    assert c4.Rules(min_share=1.0).min_share == 1.0
    with pytest.raises(ValueError, match="flat_margin 0: must be positive"):
        c4.Rules(flat_margin=0)


def test_descriptive_encodings_decide_nothing() -> None:
    """An ALiBi-like condition decaying at init and after training does not move C4a or C4b (learned positions decide)."""
    alibi_m1, alibi_runs = condition("alibi", "text", -1.3, -1.3, **{**SMALL, "seeds": 2})
    alibi_runs = alibi_runs.assign(pos_encoding="alibi")
    flat = [condition("lag", "lag", 0.0, 0.0, dependency=3, **SMALL), condition("text", "text", 0.0, 0.0, **SMALL)]
    result = decide([*flat, (alibi_m1, alibi_runs)])
    assert words(result) == {f"C4a/{STRUCTURAL}": SUPPORTED, "C4a/finding": SUPPORTED, "C4b/finding": MIXED, "trained": SUPPORTED}
    with_alibi = decide([*flat, (alibi_m1, alibi_runs)], pos_encodings=("learned", "alibi"))
    assert words(with_alibi)["C4a/finding"] == MIXED  # 2 of 3 flat: below the 75% share


def test_beyond_margin_either_way_is_bonferroni_over_the_two_one_sided_tests() -> None:
    """Two seeds, t(1) is Cauchy: P(T < -3) = 1/2 - atan(3)/pi = 0.1024164."""
    # below: (-0.5, -0.3) + 0.1 -> mean -0.3, se 0.1, t = -3; above: t = -5, p = 1/2 + atan(5)/pi; the smaller doubled
    assert c4._beyond_p(np.array([-0.5, -0.3]), 0.1, "two-sided") == pytest.approx(0.2048328, rel=1e-6)
    assert c4._beyond_p(np.array([-0.5, -0.3]), 0.1, "less") == pytest.approx(0.1024164, rel=1e-6)
    assert c4._beyond_p(np.array([0.3, 0.5]), 0.1, "two-sided") == pytest.approx(0.2048328, rel=1e-6)  # above, t = 3
    assert c4._beyond_p(np.array([0.0, 0.02]), 0.1, "two-sided") == 1.0  # 2 x 0.96 capped at 1
    assert np.isnan(c4._beyond_p(np.array([0.5]), 0.1, "two-sided"))


def test_condition_info_lists_standard_conditions_with_learned_and_the_lag_distance() -> None:
    runs = pd.concat([runs_row("lag", "lag", seeds=2, dependency=3), runs_row("txt", "text", seeds=2, dependency=3),
                      runs_row("lagmy", "lag", seeds=2, dependency=3).assign(regime="myopic-state")], ignore_index=True)
    runs.loc[1, "learned"] = False  # one seed of lag did not learn: the condition did not
    info = c4.condition_info(runs, SETTINGS)
    assert info.columns.tolist() == ["condition", "task", "task_name", "pos_encoding", "context", "n_layer", "steps",
                                     "learned", "dependency"]
    assert info["condition"].tolist() == ["lag", "txt"] and info["learned"].tolist() == [False, True]
    assert info["dependency"].iloc[0] == 3 and np.isnan(info["dependency"].iloc[1])  # only a lag task has one
    assert (info["context"].tolist(), info["n_layer"].tolist(), info["steps"].tolist()) == ([T, T], [N_LAYER] * 2, [FINAL] * 2)
    assert info["learned"].dtype == bool and info["dependency"].dtype == float
    bare = c4.condition_info(runs.drop(columns=["learned", "task_distance"]), SETTINGS)
    assert bare["learned"].tolist() == [True, True] and bare["dependency"].isna().all()
    assert bare["learned"].dtype == bool and bare["dependency"].dtype == float
    assert c4.condition_info(runs.iloc[:0], SETTINGS).columns.tolist() == info.columns.tolist()
    assert c4.condition_info(pd.DataFrame(), SETTINGS).columns.tolist() == info.columns.tolist()  # no runs at all


def test_condition_info_applies_the_learned_criterion_when_the_runs_lack_it() -> None:
    runs = pd.concat([runs_row("good", "text", seeds=2), runs_row("bad", "text", seeds=2)], ignore_index=True)
    runs = runs.drop(columns=["learned"]).assign(final_eval_loss=[0.5, 0.5, 1.99, 1.99], baseline_loss=2.0,
                                                 optimal_loss=np.nan)
    settings = {**SETTINGS, "learned_margin": 0.05, "learned_gap_share": 0.5}
    assert c4.condition_info(runs, settings).set_index("condition")["learned"].to_dict() == {"good": True, "bad": False}
    assert c4.condition_info(runs, SETTINGS)["learned"].tolist() == [True, True]  # no criterion set: every one counts


def test_structural_reach_counts_each_earlier_pair_once_per_layer_below_the_last() -> None:
    """T = 16: 120 pairs s < t per layer (the diagonal is not an earlier pair); one pair planted zero in every run."""
    m1, _ = condition("text", "text", 0.0, 0.0, zero=(5, 2))
    foreign, _ = condition("other", "text", 0.0, 0.0)  # measured, but not a condition the claim reads
    info = pd.DataFrame({"condition": ["text"], "n_layer": [N_LAYER]})
    table = c4.structural_reach(pd.concat([m1, foreign], ignore_index=True), info)
    assert table.to_dict("records") == [
        {"condition": "text", "layer": layer, "n_pairs": 120, "zero_somewhere": 1, "zero_everywhere": 1,
         "smallest_gradient": 0.0}
        for layer in range(N_LAYER)
    ]
    columns = ["condition", "layer", "n_pairs", "zero_somewhere", "zero_everywhere", "smallest_gradient"]
    assert list(c4.structural_reach(m1.iloc[:0], info).columns) == columns
    assert list(c4.structural_reach(m1, info.iloc[:0]).columns) == columns


def test_slope_summary_rows_are_sorted_and_read_their_own_fits_and_pooled_slopes() -> None:
    """Slopes arrive unsorted (condition b first, the trained step before init): the summary is sorted by its keys.
    Each row reads the law fits and the pooled slopes of its own condition, step and layer, beside rows of another
    condition, step or layer that carry far-off values; a flat profile's exponent is left out."""
    slopes = pd.DataFrame({"condition": ["b"] * 2 + ["a"] * 4, "step": [0, 0, FINAL, FINAL, 0, 0], "layer": 0,
                           "seed": [0, 1, 0, 1, 0, 1], "slope": [-0.2, -0.4, 0.1, 0.3, -1.0, -2.0]})
    keys = [("a", 0, 0), ("a", FINAL, 0), ("b", 0, 0), ("a", 0, 1), ("b", FINAL, 0), ("c", 0, 0)]
    exponents = [(1.0, 1.2), (2.0, 2.4), (3.0, 99.0), (50.0, 50.0), (60.0, 60.0), (70.0, 70.0)]  # 50..70: off the bounds
    pooled_slopes = [(0.4, 0.6), (-0.4, -0.6), (-1.0, -1.2), (10.0, 10.0), (20.0, 20.0), (30.0, 30.0)]
    law = {2.0: distance.EXPONENTIAL, 2.4: distance.INDISTINGUISHABLE, 99.0: distance.FLAT}  # the rest: power law
    fits = pd.DataFrame([{"condition": c, "step": st, "layer": la, "seed": seed, "power_p": p,
                          "preferred": law.get(p, distance.POWER_LAW)}
                         for (c, st, la), pair in zip(keys, exponents, strict=True) for seed, p in enumerate(pair)])
    pooled = pd.DataFrame([{"condition": c, "step": st, "layer": la, "seed": seed, "slope": v}
                           for (c, st, la), pair in zip(keys, pooled_slopes, strict=True) for seed, v in enumerate(pair)])
    summary = c4.slope_summary(slopes, fits, pooled, c4.Rules(), 0.95, 0.05)
    assert list(zip(summary["condition"], summary["step"], strict=True)) == [("a", 0), ("a", FINAL), ("b", 0)]
    assert np.allclose(summary["slope_mean"], [-1.5, 0.2, -0.3]) and summary["n_seeds"].tolist() == [2, 2, 2]
    # p only over seeds whose AIC picks the power law (a, init: both; a, trained: none, so n/a; b: the one)
    assert np.allclose(summary["power_p_mean"], [1.1, np.nan, 3.0], equal_nan=True) and summary["n_exponent"].tolist() == [2, 0, 1]
    assert summary["n_power_law"].tolist() == [2, 0, 1] and summary["n_flat"].tolist() == [0, 0, 1]
    assert summary["n_exponential"].tolist() == [0, 1, 0] and summary["n_indistinguishable"].tolist() == [0, 1, 0]
    assert np.allclose(summary["pooled_slope_mean"], [0.5, -0.5, -1.1])
    # condition a at init, slopes (-1, -2): mean -1.5, sd 1/sqrt 2, se 1/2; t(0.975, 1 df) = 12.7062047;
    # Cohen's d -1.5 / (1/sqrt 2); below -0.1 with 1 df (Cauchy): t = (-1.5 + 0.1) / 0.5 = -2.8
    first = summary.iloc[0]
    assert [first["slope_low"], first["slope_high"]] == pytest.approx([-1.5 - 12.706204736 / 2, -1.5 + 12.706204736 / 2])
    assert first["slope_d"] == pytest.approx(-1.5 * np.sqrt(2))
    assert first["falling_p"] == pytest.approx(0.5 - np.arctan(2.8) / np.pi)
    assert first["beyond_p"] == pytest.approx(2 * (0.5 - np.arctan(2.8) / np.pi))  # above +0.1: t = -3.2, p near 1
    # two seeds 0.2 apart: half width t(0.975, 1) x 0.1 (pooled slopes 0.4, 0.6; exponents 1.0, 1.2)
    half = 12.706204736 * 0.1
    assert [first["pooled_slope_low"], first["pooled_slope_high"]] == pytest.approx([0.5 - half, 0.5 + half])
    assert [first["power_p_low"], first["power_p_high"]] == pytest.approx([1.1 - half, 1.1 + half])
    assert list(summary.columns) == [
        "condition", "step", "layer", "slope_mean", "slope_low", "slope_high", "slope_d", "tost_p", "falling_p",
        "beyond_p", "pooled_slope_mean", "pooled_slope_low", "pooled_slope_high", "power_p_mean", "power_p_low",
        "power_p_high", "n_power_law", "n_exponential", "n_indistinguishable", "n_flat", "n_exponent", "n_seeds"]


# --- the pieces of the decision, by hand ---------------------------------------------------------


def test_deciding_text_counts_each_outcome_and_lists_every_slope_with_its_interval() -> None:
    family = pd.DataFrame({"condition": ["lag", "text", "wiki"], "outcome": [c4.EQUIVALENT, c4.BEYOND, c4.EQUIVALENT],
                           "slope_mean": [0.01, -0.5, 0.0], "slope_low": [-0.02, -0.6, -0.01], "slope_high": [0.04, -0.4, 0.01]})
    info = pd.DataFrame({"condition": ["wiki", "lag", "text"], "task": ["wiki", "lag-12", "text"],
                         "pos_encoding": ["rope", "learned", "learned"], "context": [64, 32, 32]})
    m = MINUS
    assert c4._deciding(family, info, "trained") == (  # named by task, encoding and context, in the family's order
        f"2 of 3 trained conditions flat (TOST), 1 beyond the margin; distance terms beta lag-12 (learned, T = 32): 0.01 "
        f"[{m}0.02, 0.04]; text (learned, T = 32): {m}0.50 [{m}0.60, {m}0.40]; wiki (rope, T = 64): 0.00 [{m}0.01, 0.01]")
    undecided = family.assign(outcome=c4.UNDECIDED).iloc[:1]
    assert c4._deciding(undecided, info, "initial").startswith("0 of 1 initial conditions flat (TOST), 0 beyond the margin; ")
    assert c4._deciding(family.iloc[:0], info, "trained") == "no trained condition to decide on"


def test_family_outcomes_need_p_strictly_below_alpha_after_holm() -> None:
    """Holm over two: the smaller p doubles (0.025 -> 0.05, exactly alpha: not below it), the larger stays (0.04)."""
    family = pd.DataFrame({"condition": ["a", "b"], "tost_p": [0.025, 0.04], "beyond_p": [0.9, 0.9]})
    tested = c4.family_tests(family, "beyond_p", 0.05)
    assert tested["tost_p_holm"].tolist() == pytest.approx([0.05, 0.05])
    assert tested["outcome"].tolist() == [c4.UNDECIDED, c4.UNDECIDED]
    beyond = c4.family_tests(family.assign(tost_p=0.9, beyond_p=[0.01, 0.05]), "beyond_p", 0.05)
    assert beyond["beyond_p_holm"].tolist() == pytest.approx([0.02, 0.05])
    assert beyond["outcome"].tolist() == [c4.BEYOND, c4.UNDECIDED]
    flat = c4.family_tests(family.assign(tost_p=[0.001, 0.02]), "beyond_p", 0.05)
    assert flat["outcome"].tolist() == [c4.EQUIVALENT, c4.EQUIVALENT] and list(family["tost_p"]) == [0.025, 0.04]


def test_structural_verdict_words_counts_and_texts() -> None:
    rule = ("supported if G^l[t, s] > 0 for every s < t and layer l < L in every standard run and checkpoint; "
            "refuted if some pair is 0 in every run of a condition; mixed otherwise")
    reach = pd.DataFrame({"condition": ["a", "a", "b"], "layer": [0, 1, 0], "n_pairs": [28, 28, 28],
                          "zero_somewhere": [0, 2, 0], "zero_everywhere": [0, 0, 0], "smallest_gradient": [1e-3, 0.0, 2e-5]})
    verdict = c4.structural_verdict(reach)
    assert (verdict.claim, verdict.verdict, verdict.kind, verdict.rule) == ("C4a", MIXED, STRUCTURAL, rule)
    assert verdict.deciding == "82 of 84 (condition, layer, t, s < t) pairs non-zero in every run; smallest gradient 0.00e+00"
    assert c4.structural_verdict(reach.assign(zero_everywhere=[0, 1, 0])).verdict == REFUTED
    clean = c4.structural_verdict(reach.assign(zero_somewhere=0, smallest_gradient=[1e-3, 4e-4, 2e-5]))
    assert clean.verdict == SUPPORTED and clean.deciding.endswith("84 of 84 (condition, layer, t, s < t) pairs non-zero "
                                                                  "in every run; smallest gradient 2.00e-05")
    empty = c4.structural_verdict(reach.iloc[:0])
    assert (empty.claim, empty.verdict, empty.deciding, empty.rule, empty.kind) == (
        "C4a", MIXED, "no standard run measured", rule, STRUCTURAL)


def test_dependency_height_by_hand_reads_its_condition_and_layer_only() -> None:
    """T = 8, lag distance 2, s_min = 2. Row t (4 <= t <= 7) has t - 2 sources in 2 <= s < t, one of them the peak P,
    the rest 1: relative height P (t - 2) / (t - 3 + P). P = 10 in seed 0, 20 in seed 1, none at init; layer 1 and
    another condition carry no peak. Only the dependency decides which conditions count (the lag one lacks its context)."""
    rows = []
    for condition, peaked_layer in (("lag", 0), ("text", None)):
        for seed, peak in ((0, 10.0), (1, 20.0)):
            for step in (0, FINAL):
                for layer in (0, 1):
                    for t in range(8):
                        for s in range(t + 1):
                            high = step == FINAL and layer == peaked_layer and t - s == 2
                            rows.append({"condition": condition, "seed": seed, "step": step, "layer": layer, "t": t,
                                         "s": s, "distance": t - s, "grad_norm_mean": peak if high else 1.0})
    m1 = pd.DataFrame(rows)
    info = pd.DataFrame({"condition": ["lag", "text"], "dependency": [2.0, np.nan], "context": [np.nan, 8.0]})
    table = c4.dependency_height(c4.dependency_height_runs(m1, info, s_min=2, layer=0), confidence=0.95)

    def height(peak: float) -> float:
        return float(np.mean([peak * (t - 2) / (t - 3 + peak) for t in range(4, 8)]))

    seeds = [height(10.0), height(20.0)]
    half = 12.706204736174707 * abs(seeds[0] - seeds[1]) / 2  # t(0.975, 1 df) x sd / sqrt 2, sd = |a - b| / sqrt 2
    assert list(table.columns) == ["condition", "step", "layer", "dependency", "height_mean", "height_low", "height_high",
                                   "n_seeds"]
    assert table[["condition", "step", "layer", "dependency", "n_seeds"]].to_dict("records") == [
        {"condition": "lag", "step": 0, "layer": 0, "dependency": 2, "n_seeds": 2},
        {"condition": "lag", "step": FINAL, "layer": 0, "dependency": 2, "n_seeds": 2}]
    assert table["dependency"].dtype.kind == "i"  # printed as "2", not "2.0"
    assert table[["height_mean", "height_low", "height_high"]].iloc[0].tolist() == pytest.approx([1.0, 1.0, 1.0])
    mean = sum(seeds) / 2
    assert table[["height_mean", "height_low", "height_high"]].iloc[1].tolist() == pytest.approx([mean, mean - half, mean + half])
    assert list(c4.dependency_height(c4.dependency_height_runs(m1, info.iloc[1:], 2, 0), 0.95).columns) == list(table.columns)


def test_context_distance_summary_by_hand_at_the_last_checkpoint_of_the_claims_conditions() -> None:
    """Per seed the increase averages targets t > D: truncation costs 0.1 (seed + 1) + 0.01 D, shuffling half of that;
    rows t <= D, an earlier checkpoint and a condition the claim does not read carry values that must not count."""
    rows = []
    for condition, step in (("text", FINAL), ("text", 50), ("other", FINAL)):
        for seed in range(3):
            for horizon in (1, 3):
                for t in range(6):
                    cost = 0.1 * (seed + 1) + 0.01 * horizon if (t > horizon and (condition, step) == ("text", FINAL)) else 7.0
                    rows.append({"condition": condition, "seed": seed, "step": step, "D": horizon, "t": t,
                                 "loss_full": 2.0, "loss_truncated": 2.0 + cost, "loss_shuffled": 2.0 + cost / 2})
    table, info = pd.DataFrame(rows), pd.DataFrame({"condition": ["text"]})
    summary = c4.context_distance_summary(table, info, 0.95)
    columns = ["condition", "step", "D", "truncated_mean", "truncated_low", "truncated_high",
               "shuffled_mean", "shuffled_low", "shuffled_high", "n_seeds"]
    assert list(summary.columns) == columns
    half = 4.302652729749464 * 0.1 / np.sqrt(3)  # t(0.975, 2 df) x sd 0.1 / sqrt 3
    expected = []
    for horizon in (1, 3):
        mean = 0.2 + 0.01 * horizon
        expected.append(["text", FINAL, horizon, mean, mean - half, mean + half, mean / 2, (mean - half) / 2, (mean + half) / 2, 3])
    assert summary.values.tolist() == [pytest.approx(row) for row in expected]
    for missing in (None, table.iloc[:0]):
        assert list(c4.context_distance_summary(missing, info, 0.95).columns) == columns
    no_conditions = c4.context_distance_summary(table, info.iloc[:0], 0.95)
    assert no_conditions.empty and list(no_conditions.columns) == columns
    not_measured = c4.context_distance_summary(table, pd.DataFrame({"condition": ["wiki"]}), 0.95)  # none of its rows
    assert not_measured.empty and list(not_measured.columns) == columns


# --- the numbers and texts the paper prints ------------------------------------------------------


def test_condition_rows_print_each_conditions_factors_slopes_and_holm_p() -> None:
    family = pd.DataFrame({"condition": ["lag", "text"], "step": [FINAL, FINAL], "layer": [0, 0],
                           "slope_mean": [-0.014, 0.5], "slope_low": [-0.05, 0.4], "slope_high": [0.02, 0.6],
                           "tost_p_holm": [0.0004, 0.9], "beyond_p_holm": [0.97, 0.01234], "outcome": [c4.EQUIVALENT, c4.BEYOND],
                           "pooled_slope_mean": [-0.7, -0.2], "n_seeds": [5, 4], "within_mean": [0.3, np.nan],
                           "within_low": [0.2, np.nan], "within_high": [0.4, np.nan], "first_source_mean": [1.5, -0.1]})
    info = pd.DataFrame({"condition": ["text", "lag", "wiki"], "task": ["text-wiki", "lag-3", "text-x"],
                         "pos_encoding": ["rope", "learned", "none"], "context": [16, 32, 8], "dependency": [np.nan, 3.0, np.nan]})
    m = MINUS
    assert c4._condition_rows(family, info) == [
        {"condition": "lag", "task": "lag-3", "pos_encoding": "learned", "context": "32", "slope": f"{m}0.01",
         "slope_low": f"{m}0.05", "slope_high": "0.02", "tost_p": "0.000", "beyond_p": "0.970", "outcome": c4.EQUIVALENT,
         "within": "0.30", "within_low": "0.20", "within_high": "0.40", "first_source": "1.50",
         "pooled_slope": f"{m}0.70", "n_seeds": "5", "excluded_distance": "3"},
        {"condition": "text", "task": "text-wiki", "pos_encoding": "rope", "context": "16", "slope": "0.50",
         "slope_low": "0.40", "slope_high": "0.60", "tost_p": "0.900", "beyond_p": "0.012", "outcome": c4.BEYOND,
         "within": "n/a", "within_low": "n/a", "within_high": "n/a", "first_source": f"{m}0.10",
         "pooled_slope": f"{m}0.20", "n_seeds": "4", "excluded_distance": ""},
    ]


def test_exponents_are_printed_per_condition_at_init_and_trained_only() -> None:
    """Rows sorted by task, encoding, context and step; a middle checkpoint and another layer are not printed. The signed
    distance term beta of the decomposition stands beside p; p is n/a where no seed's power law fits (a rising profile)."""
    summary = pd.DataFrame({"condition": ["b", "b", "a", "a", "a"], "step": [0, FINAL, FINAL, 50, 0],
                            "layer": [0, 0, 0, 0, 1], "power_p_mean": [1.234, np.nan, 2.0, 9.0, 9.0],
                            "power_p_low": [1.0, np.nan, np.nan, 9.0, 9.0], "power_p_high": [1.5, np.nan, np.nan, 9.0, 9.0],
                            "n_power_law": [3, 1, 5, 0, 0], "n_exponential": [1, 2, 0, 0, 0],
                            "n_indistinguishable": [1, 0, 0, 0, 0], "n_flat": [0, 2, 0, 5, 5], "n_exponent": [3, 0, 1, 0, 0],
                            "n_seeds": [5, 5, 5, 5, 5]})
    info = pd.DataFrame({"condition": ["a", "b"], "task": ["text", "lag"], "pos_encoding": ["rope", "learned"],
                         "context": [16, 32]})
    terms = pd.DataFrame({"condition": ["b", "b", "a"], "step": [0, FINAL, FINAL], "layer": 0, "slope_mean": [-0.5, 0.7, 0.0],
                          "slope_low": [-0.6, 0.6, -0.1], "slope_high": [-0.4, 0.8, 0.1]})
    rows = c4.exponents_by_encoding(summary, info, {"a": FINAL, "b": FINAL}, layer=0, decomposition=terms)
    m = MINUS
    assert rows == [
        {"task": "lag", "pos_encoding": "learned", "context": "32", "stage": "init", "beta": f"{m}0.50", "beta_low": f"{m}0.60",
         "beta_high": f"{m}0.40", "p": "1.23", "p_low": "1.00", "p_high": "1.50", "n_exponent": "3", "power_law": "3",
         "exponential": "1", "indistinguishable": "1", "flat": "0", "n_seeds": "5"},
        {"task": "lag", "pos_encoding": "learned", "context": "32", "stage": "trained", "beta": "0.70", "beta_low": "0.60",
         "beta_high": "0.80", "p": "n/a", "p_low": "n/a", "p_high": "n/a", "n_exponent": "0", "power_law": "1",
         "exponential": "2", "indistinguishable": "0", "flat": "2", "n_seeds": "5"},
        {"task": "text", "pos_encoding": "rope", "context": "16", "stage": "trained", "beta": "0.00", "beta_low": f"{m}0.10",
         "beta_high": "0.10", "p": "2.00", "p_low": "n/a", "p_high": "n/a", "n_exponent": "1", "power_law": "5",
         "exponential": "0", "indistinguishable": "0", "flat": "0", "n_seeds": "5"},
    ]
    assert c4.exponents_by_encoding(summary, info, {"a": FINAL, "b": FINAL}, layer=0)[0]["beta"] == "n/a"


def test_information_numbers_print_three_digits_or_say_not_measured() -> None:
    summary = pd.DataFrame({"condition": ["text"], "step": [FINAL], "D": [4], "truncated_mean": [0.12345],
                            "truncated_low": [0.1], "truncated_high": [0.2], "shuffled_mean": [-0.0004],
                            "shuffled_low": [-0.01], "shuffled_high": [0.005], "n_seeds": [3]})
    m = MINUS
    assert c4.information_numbers(summary) == {"measured": True, "status": "measured", "rows": [
        {"condition": "text", "D": "4", "truncated": "0.123", "truncated_low": "0.100", "truncated_high": "0.200",
         "shuffled": "0.000", "shuffled_low": f"{m}0.010", "shuffled_high": "0.005", "n_seeds": "3"}]}
    assert c4.information_numbers(summary.iloc[:0]) == {"measured": False, "status": "not measured", "rows": []}


def test_rules_and_decision_numbers_as_the_paper_prints_them() -> None:
    """Two deciding encodings (rope planted as learned's twin); lag also has a middle checkpoint, which the law fits
    (init and trained only) leave out."""
    rules = {"flat_margin": 0.2, "min_share": 0.8, "aic_margin": 3.0, "trained_tasks": ["lag", "text"], "layer": 0,
             "pos_encodings": ["learned", "rope"]}
    lag_m1 = planted_m1("lag", {0: seeds_around(0.0, 3), 50: seeds_around(0.0, 3), FINAL: seeds_around(0.0, 3)},
                        peak=(3, 4.0), n_layer=1, length=8)
    lag = (lag_m1, runs_row("lag", "lag", seeds=3, dependency=3, context=8, n_layer=1))
    text_m1, text_runs = condition("text", "text", 0.0, 0.0, **SMALL)
    result = decide([lag, (text_m1, text_runs.assign(pos_encoding="rope"))], **rules)
    structure, c4a, c4b = result.verdicts
    assert c4a.rule == (
        "at initialisation, layer 0, learned, rope positions, every source (s = 0 included): per condition, the per-seed "
        "distance term beta of log G = a_t + b_s + beta log(d+1) (target and source effects free); TOST against +-0.2 and "
        "a test beyond it either way (Holm over conditions, alpha 0.05); supported if >= 80% of conditions are equivalent "
        "to flat, refuted if >= 80% are beyond the margin, mixed otherwise")
    assert c4b.rule == (
        "known-distance sweep (lag at d = 2, 4, 8, 16, 24, T = 32, learned, rope positions): per quantity, the per-seed OLS "
        "slope against ln d, Student t over seeds; supported if every deciding quantity (steps_50 0.05, steps_90 0.05, "
        "gap_closed 0.05, share 0.05 per ln d) is TOST-flat at alpha 0.05 with no censored run, refuted if any lies beyond "
        "its margin (Holm over the deciding quantities), mixed otherwise")
    assert c4a.deciding.startswith("2 of 2 initial conditions flat (TOST), 0 beyond the margin; distance terms beta lag (learned, T = 8): ")
    assert c4b.deciding == "no sweep run to decide on" and c4b.verdict == MIXED  # no lag condition at a sweep distance
    numbers = result.numbers
    assert numbers["rules"] == {"layer": "0", "flat_margin": "0.20", "min_share_pct": "80", "aic_margin": "3",
                                "alpha": "0.05", "confidence_pct": "95", "s_min": "2", "d_min": "1",
                                "trained_tasks": "lag, text", "steps_margin": "0.05", "gap_margin": "0.05",
                                "share_margin": "0.05", "height_margin": "0.10", "context_tolerance": "0.01",
                                "sweep_span": "2.48"}
    assert numbers["structure"] == {"pairs": str(2 * 28), "zero_somewhere": "0"}  # T = 8: 28 pairs s < t, one layer each
    assert [numbers[key] for key in ("structure_verdict", "c4a_verdict", "c4b_verdict")] == [
        structure.as_dict(), c4a.as_dict(), c4b.as_dict()]
    assert (structure.kind, c4a.verdict) == (STRUCTURAL, SUPPORTED)
    assert [r["condition"] for r in numbers["init"]] == ["lag", "text"] == [r["condition"] for r in numbers["trained"]]
    assert set(result.tables["c4_fits"]["step"]) == {0, FINAL}
    height = result.tables["c4_dependency_height"]
    assert numbers["dependency_height"] == [  # printed at init and trained; the table keeps every checkpoint
        {"condition": "lag", "task": "lag", "pos_encoding": "learned", "context": "8", "stage": stage, "step": str(r.step),
         "dependency": "3", "height": fmt(r.height_mean), "low": fmt(r.height_low), "high": fmt(r.height_high), "n_seeds": "3"}
        for stage, r in zip(("init", "trained"), height.iloc[[0, 2]].itertuples(), strict=True)]
    assert height["step"].tolist() == [0, 50, FINAL]
    first = result.tables["c4_first_position"]
    first = first[first["layer"] == 0]
    assert numbers["first_position"] == [
        {"condition": r.condition, "step": str(r.step), "ratio": fmt(r.ratio_mean), "low": fmt(r.ratio_low),
         "high": fmt(r.ratio_high)} for r in first.itertuples()] and len(first) == 5
    # flat rows: at every fixed distance that fits in T = 8 (1, 2, 4) each source holds about its row's mean
    position = result.tables["c4_position_profile"]
    text = position[(position["condition"] == "text") & (position["layer"] == 0)]
    assert set(text["distance"]) == {1, 2, 4} and (text["n_seeds"] == 3).all()
    assert np.allclose(text["relative_mean"], 1.0, atol=0.05)
    assert text.loc[text["s"] < 2, "first_positions"].all() and not text.loc[text["s"] >= 2, "first_positions"].any()
    assert numbers["information"]["status"] == "not measured"
    assert [(r["task"], r["pos_encoding"], r["stage"]) for r in numbers["exponents"]] == [
        ("lag", "learned", "init"), ("lag", "learned", "trained"), ("text", "rope", "init"), ("text", "rope", "trained")]
    decision = result.tables["c4_decision"]
    assert decision.index.tolist() == [0, 1, 2, 3] and decision["family"].tolist() == ["C4a", "C4a", "trained", "trained"]


def test_settings_default_to_the_studys_values() -> None:
    assert c4._settings({}) == (2, 1, 0.95, 0.05)
    assert c4._settings({"s_min": "3", "d_min": 2.0, "confidence": "0.9", "alpha": 0.1}) == (3, 2, 0.9, 0.1)


def test_without_a_gradient_matrix_every_finding_is_mixed_and_every_table_declared() -> None:
    runs = runs_row("text", "text", seeds=3)
    result = c4.CLAIM.run(ClaimInputs(tables={}, runs=runs, settings=SETTINGS), {})
    assert set(words(result).values()) == {MIXED} and set(result.tables) == set(c4.OUTPUTS)
    assert result.numbers["structure"] == {"pairs": "0", "zero_somewhere": "0"}


def test_the_learned_criterion_applies_when_the_runs_lack_the_column() -> None:
    """The falling condition did not close half its loss gap: it leaves C4b, and the flat one decides alone."""
    good_m1, good = condition("good", "text", 0.0, 0.0, **SMALL)
    bad_m1, bad = condition("bad", "text", 0.0, -1.0, **SMALL)
    runs = pd.concat([good.assign(final_eval_loss=0.5), bad.assign(final_eval_loss=1.99)], ignore_index=True)
    runs = runs.drop(columns=["learned"]).assign(baseline_loss=2.0, optimal_loss=np.nan)
    settings = {**SETTINGS, "learned_margin": 0.05, "learned_gap_share": 0.5}
    inputs = ClaimInputs(tables={"m1_gradient_matrix": pd.concat([good_m1, bad_m1], ignore_index=True)}, runs=runs,
                         settings=settings)
    result = c4.CLAIM.run(inputs, {})
    assert [r["condition"] for r in result.numbers["trained"]] == ["good"] and words(result)["trained"] == SUPPORTED
