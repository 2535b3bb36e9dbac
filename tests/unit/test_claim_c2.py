"""C2's rule on planted tables whose answers are worked by hand: every verdict word, the boundary, empty input."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from analysis.stats import c2
from analysis.stats.c2 import CLAIM
from analysis.stats.claims import MIXED, REFUTED, SUPPORTED, ClaimInputs

SETTINGS = {"confidence": 0.95, "alpha": 0.05, "learned_margin": 0.05, "learned_gap_share": 0.5}
CELL = {"pos_encoding": "learned", "n_layer": 2, "d_model": 64, "n_head": 4, "context": 32, "steps": 100}
TREATED, CONTROL = "sine-shift1", "sine-shift0"
BASELINE = 0.5  # both tasks; optimum 0, so the treated baseline-to-optimum gap (the rule's scale) is 0.5
SEEDS = [0, 1, 2, 3, 4]


def runs_table(standard_final: float = 0.1, encodings: tuple[str, ...] = ("learned",),
               regimes: tuple[str, ...] = ("standard", "myopic-state", "myopic-full")) -> pd.DataFrame:
    rows = [
        {**CELL, "condition": f"{task}_{enc}_{regime}", "seed": seed, "task": task, "task_name": task, "regime": regime,
         "pos_encoding": enc, "final_eval_loss": standard_final if regime == "standard" else standard_final + 0.05,
         "baseline_loss": BASELINE, "optimal_loss": 0.0}
        for enc in encodings for task in (TREATED, CONTROL) for regime in regimes for seed in SEEDS
    ]
    return pd.DataFrame(rows)


STANDARD_LOSS = 0.0625  # binary-exact: a planted gap g gives a myopic loss 0.0625 + g and the gap g back exactly
PLATEAU_STEPS = (80, 90, 100)  # the evaluations in the last 20% of 100 steps: a flat plateau unless a test says otherwise


def gap_rows(task: str, regime: str, gaps: list[float], step: int | None = None, encoding: str = "learned") -> pd.DataFrame:
    """eval_curve rows of one myopic condition whose held-out loss lies ``gap`` above its standard run's, per seed:
    at the plateau's evaluations (flat), or at one ``step``. ``decide`` adds the standard runs' rows."""
    steps = PLATEAU_STEPS if step is None else (step,)
    return pd.DataFrame([
        {"condition": f"{task}_{encoding}_{regime}", "seed": seed, "step": at, "eval_loss": STANDARD_LOSS + gap}
        for seed, gap in zip(SEEDS, gaps, strict=True) for at in steps
    ])


def m4_rows(task: str, regime: str, gaps: list[float], step: int = 100, encoding: str = "learned") -> pd.DataFrame:
    """m4_myopia_gap rows (t = -1: mean over positions) for one myopic condition at one checkpoint."""
    return pd.DataFrame([
        {"condition": f"{task}_{encoding}_{regime}", "standard_condition": f"{task}_{encoding}_standard", "regime": regime,
         "task": task, **CELL, "pos_encoding": encoding, "seed": seed, "step": step, "t": -1,
         "loss_myopic": 0.1 + gap, "loss_standard": 0.1, "gap": gap}
        for seed, gap in zip(SEEDS, gaps, strict=True)
    ])


def planted(treated: list[float], control: list[float], regime: str = "myopic-state", **kw) -> pd.DataFrame:
    return pd.concat([gap_rows(TREATED, regime, treated, **kw), gap_rows(CONTROL, regime, control, **kw)], ignore_index=True)


def with_standard(curve: pd.DataFrame) -> pd.DataFrame:
    """The curve with a standard run (loss STANDARD_LOSS) wherever a myopic one has an evaluation; rows planted first win."""
    if curve.empty:
        return curve
    standard = curve.assign(condition=curve["condition"].str.replace(r"_myopic-(state|full)$", "_standard", regex=True),
                            eval_loss=STANDARD_LOSS)
    return pd.concat([curve, standard], ignore_index=True).drop_duplicates(["condition", "seed", "step"], ignore_index=True)


def decide(curve: pd.DataFrame, runs: pd.DataFrame | None = None, overrides: dict | None = None, **tables: pd.DataFrame):
    inputs = ClaimInputs({"eval_curve": with_standard(curve), **tables}, runs_table() if runs is None else runs, SETTINGS)
    return CLAIM.run(inputs, overrides)


CONTROL_GAP = [0.03, 0.05, 0.04, 0.02, 0.06]  # myopic training costs something even without pre-caching


def test_planted_precaching_gap_is_supported_with_hand_worked_statistics() -> None:
    did = [0.07, 0.08, 0.09, 0.08, 0.08]
    result = decide(planted([c + d for c, d in zip(CONTROL_GAP, did, strict=True)], CONTROL_GAP))
    assert result.verdicts[0].verdict == SUPPORTED and result.verdicts[0].kind == "finding"
    row = result.tables["c2_did"].query("regime == 'myopic-state'").iloc[0]
    # mean 0.08, sd sqrt(2 * 0.01^2 / 4) = 0.0070711, se 0.0031623, t = 25.298; t(0.975, 4) = 2.776445
    se = np.sqrt(2 * 0.01**2 / 4) / np.sqrt(5)
    assert row["did_mean"] == pytest.approx(0.08) and row["did_t"] == pytest.approx(0.08 / se)
    assert row["did_low"] == pytest.approx(0.08 - 2.776445 * se, abs=1e-6)
    assert row["did_p"] == pytest.approx(stats.t.sf(0.08 / se, 4))
    assert row["did_relative"] == pytest.approx(0.16) and row["threshold"] == pytest.approx(0.025)
    assert row["gap_control_mean"] == pytest.approx(0.04)
    assert result.numbers["state"]["did_pct"] == "16.0"


def test_equal_gaps_on_shift_1_and_shift_0_are_refuted() -> None:
    noise = [0.001, -0.001, 0.0005, -0.0005, 0.0]  # DiD mean 0, sd 0.00079: TOST inside +-0.025 by far
    result = decide(planted([c + e for c, e in zip(CONTROL_GAP, noise, strict=True)], CONTROL_GAP))
    assert result.verdicts[0].verdict == REFUTED
    row = result.tables["c2_did"].query("regime == 'myopic-state'").iloc[0]
    assert row["margin"] == pytest.approx(0.025) and row["tost_p"] < 1e-4
    assert row["gap_control_p"] < 0.05  # the control gap itself is real: that is what the DiD removes


def test_noisy_small_effect_is_mixed() -> None:
    did = [0.10, -0.08, 0.05, -0.03, 0.02]  # mean 0.012, sd 0.069: neither significant nor equivalent
    result = decide(planted([c + d for c, d in zip(CONTROL_GAP, did, strict=True)], CONTROL_GAP))
    row = result.tables["c2_did"].query("regime == 'myopic-state'").iloc[0]
    assert row["did_p"] > 0.05 and row["tost_p"] > 0.05
    assert result.verdicts[0].verdict == MIXED


@pytest.mark.parametrize(("offset", "expected"), [(0.0, SUPPORTED), (-2**-10, MIXED)])
def test_threshold_boundary_is_inclusive(offset: float, expected: str) -> None:
    # Rule scale 0.5 x 0.25 = 0.125 exactly (binary-exact values, control gap 0): DiD mean 0.125 is "at least".
    did = [0.125 - 2**-7 + offset, 0.125 + 2**-7 + offset, 0.125 + offset, 0.125 + offset, 0.125 + offset]
    result = decide(planted(did, [0.0] * 5), overrides={"min_relative_did": 0.25, "equivalence_margin": 0.25})
    row = result.tables["c2_did"].query("regime == 'myopic-state'").iloc[0]
    assert row["did_mean"] == 0.125 + offset and row["threshold"] == 0.125
    assert row["did_p"] < 1e-4  # significant either way: only the size decides
    assert result.verdicts[0].verdict == expected


def test_a_standard_model_that_did_not_learn_leaves_the_gap_undecided() -> None:
    did = [0.07, 0.08, 0.09, 0.08, 0.08]
    gap = planted([c + d for c, d in zip(CONTROL_GAP, did, strict=True)], CONTROL_GAP)
    result = decide(gap, runs_table(standard_final=0.4))  # closes 20% of the gap < 50%: not learned
    assert result.verdicts[0].verdict == MIXED and "did not learn" in result.verdicts[0].deciding


@pytest.mark.parametrize("gap", [pd.DataFrame(), planted([0.1] * 5, [0.0] * 5, regime="myopic-full")])
def test_no_myopic_state_runs_gives_a_clear_undecided_verdict(gap: pd.DataFrame) -> None:
    result = decide(gap)
    assert result.verdicts[0].verdict == MIXED and result.verdicts[0].deciding.startswith("not decided")
    assert set(result.tables) == set(c2.TABLES) and result.numbers["n_cells"] == "0"


def test_myopic_full_is_reported_but_never_decides() -> None:
    noise = [0.001, -0.001, 0.0005, -0.0005, 0.0]
    state = planted([c + e for c, e in zip(CONTROL_GAP, noise, strict=True)], CONTROL_GAP)
    full = planted([0.2, 0.21, 0.19, 0.2, 0.2], [0.1] * 5, regime="myopic-full")  # a large DiD of 0.1
    result = decide(pd.concat([state, full], ignore_index=True))
    assert result.verdicts[0].verdict == REFUTED
    table = result.tables["c2_did"].set_index("regime")
    assert table.loc["myopic-full", "did_mean"] == pytest.approx(0.1) and table.loc["myopic-full", "verdict"] == ""
    assert result.numbers["full"]["gap_control"]["mean"] == "0.100"


def test_did_along_training_at_every_checkpoint() -> None:
    steps = {0: 0.0, 10: 0.04, 100: 0.08}  # a DiD that grows during training
    noise = [0.001, -0.001, 0.0, 0.0005, -0.0005]  # sums to 0: the DiD mean stays d
    gap = pd.concat([planted([d + 0.01 * i + e for i, e in enumerate(noise)], [0.01 * i for i in range(5)], step=s)
                     for s, d in steps.items()], ignore_index=True)
    along = decide(gap).tables["c2_did_by_step"].query("regime == 'myopic-state'").set_index("step")
    assert list(along.index) == [0, 10, 100]
    for step, did in steps.items():  # the control gaps cancel exactly seed by seed
        assert along.loc[step, "did_mean"] == pytest.approx(did)
        assert along.loc[step, "gap_control_mean"] == pytest.approx(0.02)


def test_cells_that_disagree_give_mixed() -> None:
    did = [0.07, 0.08, 0.09, 0.08, 0.08]
    supported = planted([c + d for c, d in zip(CONTROL_GAP, did, strict=True)], CONTROL_GAP)
    refuted = planted(CONTROL_GAP, CONTROL_GAP, encoding="rope")
    result = decide(pd.concat([supported, refuted], ignore_index=True), runs_table(encodings=("learned", "rope")))
    verdicts = result.tables["c2_did"].set_index("pos_encoding")["verdict"]
    # rope: DiD exactly 0 on every seed (sd 0): TOST counts a constant inside the margin as equivalent
    assert verdicts.to_dict() == {"learned": SUPPORTED, "rope": REFUTED}
    assert result.verdicts[0].verdict == MIXED


def probe_rows(regime: str, r2: dict[int, list[float]]) -> pd.DataFrame:
    return pd.DataFrame([
        {"condition": f"{TREATED}_learned_{regime}", "seed": seed, "step": 100, "feature": "sin_freq_x", "layer": layer, "r2": value}
        for layer, values in r2.items() for seed, value in zip(SEEDS, values, strict=True)
    ])


def test_probe_difference_standard_minus_myopic_state_paired_by_seed() -> None:
    probes = pd.concat([probe_rows("standard", {1: [0.9, 0.8, 0.85, 0.9, 0.8]}),
                        probe_rows("myopic-state", {1: [0.3, 0.3, 0.25, 0.2, 0.2]})], ignore_index=True)
    gap = planted(CONTROL_GAP, CONTROL_GAP)
    table = decide(gap, m6_probes=probes).tables["c2_probes"].iloc[0]
    # paired differences 0.6, 0.5, 0.6, 0.7, 0.6: mean 0.6, sd sqrt(0.02 / 4)
    assert table["difference_estimate"] == pytest.approx(0.6)
    assert table["difference_high"] == pytest.approx(0.6 + 2.776445 * np.sqrt(0.005) / np.sqrt(5), abs=1e-6)


def test_precaching_share_from_the_decomposition() -> None:
    rows = []
    for task, share in ((TREATED, 0.3), (CONTROL, 0.1)):
        for seed in SEEDS:
            base = {"condition": f"{task}_learned_standard", "seed": seed, "step": 100, "norm_total": 1.0,
                    "share_direct": 0.6, "share_shared": 1 - 0.6 - share, "share_precache": share}
            rows += [{**base, "group": "attn", "layer": 0}, {**base, "group": "all", "layer": -2}]
    shares = decide(planted(CONTROL_GAP, CONTROL_GAP), m3_decomposition=pd.DataFrame(rows)).tables["c2_shares"]
    everything = shares[shares["layer"] == -2].set_index("task")
    assert everything.loc[TREATED, "precache_mean"] == pytest.approx(0.3)
    assert everything.loc[CONTROL, "precache_mean"] == pytest.approx(0.1)


def test_rules_refuse_a_margin_wider_than_the_threshold() -> None:
    with pytest.raises(ValueError, match="equivalence_margin"):
        c2.Rules(min_relative_did=0.05, equivalence_margin=0.1)


def test_the_plateau_window_may_be_the_whole_run_but_not_more_or_none() -> None:
    assert c2.Rules(plateau_window=1.0).plateau_window == 1.0
    for window in (0.0, 1.01):
        with pytest.raises(ValueError, match=r"c2: plateau_window must be a share of training in \(0, 1\]$"):
            c2.Rules(plateau_window=window)


def test_a_runs_table_without_task_names_reads_them_from_the_task() -> None:
    curve = planted([c + 0.08 for c in CONTROL_GAP], CONTROL_GAP)
    named = decide(curve)
    unnamed = decide(curve, runs=runs_table().drop(columns="task_name"))
    assert unnamed.verdicts[0].as_dict() == named.verdicts[0].as_dict()
    pd.testing.assert_frame_equal(unnamed.tables["c2_did"], named.tables["c2_did"])


def test_rules_refusal_says_why_in_these_words() -> None:
    with pytest.raises(ValueError) as refused:
        c2.Rules(min_relative_did=0.05, equivalence_margin=0.1)
    assert str(refused.value) == "c2: equivalence_margin must not exceed min_relative_did (a DiD could be both)"


def test_numbers_and_deciding_text_printed_by_the_paper() -> None:
    """Every number C2 hands the paper, worked by hand from the planted tables.

    state: DiD 0.07, 0.08, 0.09, 0.08, 0.08: mean 0.08, sd 0.0070711, half-width t(0.975, 4) 2.776445 x 0.0031623
    = 0.00878 -> [0.071, 0.089]; d = 0.08 / 0.0070711 = 11.31; 16.0% of the gap 0.5. Treated gaps 0.10, 0.13, 0.13,
    0.10, 0.14: mean 0.12, sd 0.0187083, half 0.02323 -> [0.097, 0.143]. Control gaps: mean 0.04, sd 0.0158114, half
    0.01963 -> [0.020, 0.060]; t = 5.6569, one-sided p from t(4)'s closed-form CDF 1/2 + 3/8 x (t/3)(1 - 32/108)
    = 0.002406. full: DiD 0.09, 0.10, 0.11, 0.10, 0.10: mean 0.1 +- 0.00878 -> [0.091, 0.109], d 14.14, 20.0%;
    treated gaps 0.12, 0.15, 0.15, 0.12, 0.16: 0.14 +- 0.02323 -> [0.117, 0.163].
    Probes: differences mean 0.6 +- 2.776445 x sqrt(0.005 / 5) = 0.08780 -> [0.512, 0.688], p 2.3e-5.
    """
    state_did, full_did = [0.07, 0.08, 0.09, 0.08, 0.08], [0.09, 0.10, 0.11, 0.10, 0.10]
    gap = pd.concat([
        planted([c + d for c, d in zip(CONTROL_GAP, state_did, strict=True)], CONTROL_GAP),
        planted([c + d for c, d in zip(CONTROL_GAP, state_did, strict=True)], CONTROL_GAP, step=50),
        planted([c + d for c, d in zip(CONTROL_GAP, full_did, strict=True)], CONTROL_GAP, regime="myopic-full"),
    ], ignore_index=True)
    probes = pd.concat([probe_rows("standard", {1: [0.9, 0.8, 0.85, 0.9, 0.8]}),
                        probe_rows("myopic-state", {1: [0.3, 0.3, 0.25, 0.2, 0.2]})], ignore_index=True)
    decomposition = []
    for task, share in ((TREATED, 0.3), (CONTROL, 0.1)):
        for seed in SEEDS:
            base = {"condition": f"{task}_learned_standard", "seed": seed, "step": 100, "norm_total": 1.0,
                    "share_direct": 0.6, "share_shared": 1 - 0.6 - share, "share_precache": share}
            decomposition += [{**base, "group": "attn", "layer": 0}, {**base, "group": "all", "layer": -2}]
    result = decide(gap, m6_probes=probes, m3_decomposition=pd.DataFrame(decomposition))
    deciding = ("learned positions: plateau DiD 0.080 [0.071, 0.089] (16.0% of the baseline-to-optimum gap; threshold 5%), "
                "one-sided p 0.0000, TOST p 1.0000, n = 5, DiD drift across the window 0.0% of the gap")

    def interval(mean: str, low: str, high: str) -> dict[str, str]:
        return {"mean": mean, "low": low, "high": high}

    control = interval("0.040", "0.020", "0.060")
    # Plateau criterion: every curve flat (drift 0 of 20 runs). Control arms' gap closed: standard (0.5 - 0.0625) / 0.5
    # = 87.5% -> "88"; myopic 0.875 - 2 x gap: 79.5% +- 2.776445 x 0.0316228 / sqrt(5) = 3.93 -> [76, 83].
    checks = {"did_drift_pct": interval("0.0", "0.0", "0.0"), "n_runs": "20", "n_not_at_plateau": "0", "at_plateau": True, "max_drift_pct": "0.0", "not_at_plateau": "",
              "max_arm_drift_pct": "0.0", "runs_not_at_plateau": "",
              "control_standard_closed_pct": interval("88", "88", "88"),
              "control_myopic_closed_pct": interval("80", "76", "83"), "control_learns": True}

    def along(steps: list[int], did: dict[str, str], treated: str) -> list[dict]:
        return [{"step": str(step), "did": did, "gap_treated": treated, "gap_control": "0.040", "in_window": step >= 80}
                for step in steps]

    def arm(task: str, regime: str, loss: dict[str, str], closed: dict[str, str]) -> dict:
        return {"task": task, "regime": regime, "n_seeds": "5", "plateau_loss": loss, "closed_pct": closed,
                "n_at_plateau": "5", "max_drift_pct": "0.0"}

    state, full = interval("0.080", "0.071", "0.089"), interval("0.100", "0.091", "0.109")
    standard_arm = (interval("0.062", "0.062", "0.062"), interval("88", "88", "88"))
    control_arm = (interval("0.102", "0.083", "0.122"), interval("80", "76", "83"))  # 0.0625 + 0.04 +- 0.01963
    assert result.numbers == {
        "box": {"claim": "C2", "verdict": SUPPORTED, "deciding": deciding, "rule": c2.rule_text(c2.Rules(), 0.05),
                "kind": "finding"},
        "verdict": SUPPORTED, "treated_task": TREATED, "control_task": CONTROL, "regime": "myopic-state",
        "ablation_regime": "myopic-full", "alpha": "0.05", "min_relative_did_pct": "5", "equivalence_margin_pct": "5",
        "plateau_window_pct": "20", "plateau_tolerance_pct": "5.0", "control_gap_pct": "50",
        "n_cells": "1", "pos_encoding": "learned", "steps": "100", "heads": "8", "window_start": "80", "span": "0.500",
        "threshold": "0.0250", "margin": "0.0250", "learned_treated": True, "learned_control": True,
        "state": {"did": state, "did_pct": "16.0", "did_p": "0.0000",
                  "did_p_holm": "0.0000", "did_d": "11.31", "tost_p": "1.0000",
                  "gap_treated": interval("0.120", "0.097", "0.143"), "gap_control": control,
                  "gap_control_p": "0.0024", "n_seeds": "5", **checks},
        "state_along": along([50, 80, 90, 100], state, "0.120"),
        "full": {"did": full, "did_pct": "20.0", "did_p": "0.0000",
                 "did_p_holm": "0.0000", "did_d": "14.14", "tost_p": "1.0000",
                 "gap_treated": interval("0.140", "0.117", "0.163"), "gap_control": control,
                 "gap_control_p": "0.0024", "n_seeds": "5", **checks},
        "full_along": along([80, 90, 100], full, "0.140"),
        "arms": [arm(CONTROL, "myopic-full", *control_arm), arm(CONTROL, "myopic-state", *control_arm),
                 arm(CONTROL, "standard", *standard_arm),
                 arm(TREATED, "myopic-full", interval("0.202", "0.179", "0.226"), interval("60", "55", "64")),
                 arm(TREATED, "myopic-state", interval("0.182", "0.159", "0.206"), interval("64", "59", "68")),
                 arm(TREATED, "standard", *standard_arm)],
        "probes": [{"layer": "1", "r2_standard": "0.850", "r2_myopic": "0.250",
                    "difference": interval("0.600", "0.512", "0.688"), "p_holm": "0.0000"}],
        "precache_share": {TREATED: interval("0.300", "0.300", "0.300"), CONTROL: interval("0.100", "0.100", "0.100")},
    }


def test_rule_text_in_these_words() -> None:
    assert c2.rule_text(c2.Rules(), 0.05) == (
        "DiD = gap(sine-shift1) - gap(sine-shift0), gap = myopic-state minus standard plateau held-out loss (mean over the "
        "evaluations in the last 20% of training), paired by seed. Supported if the one-sided t-test of DiD > 0 has "
        "p < 0.05 (Holm over cells) and DiD >= 0.05 x the treated task's baseline-to-optimum gap; refuted if TOST shows "
        "|DiD| < 0.05 x that gap at alpha 0.05; mixed otherwise, and whenever standard training did not learn either "
        "task, fewer than 2 seeds pair, or an arm of the control closes less than 50% of its gap. Plateau: how far the "
        "DiD moves across the window (per seed, least-squares slope x window length; mean over seeds) is at least -5.0% "
        "of the treated gap for supported (a DiD still rising only grows) and within +-5.0% for refuted")


def test_numbers_without_a_deciding_cell_say_so() -> None:
    result = decide(planted(CONTROL_GAP, CONTROL_GAP, regime="myopic-full"))
    box = result.verdicts[0]
    assert box.verdict == MIXED and box.claim == "C2" and result.numbers["box"]["claim"] == "C2"
    assert box.rule == c2.rule_text(c2.Rules(), 0.05) and box.rule.startswith("DiD = gap(sine-shift1) - gap(sine-shift0)")
    assert box.deciding == ("not decided: no myopic-state runs of sine-shift1 and sine-shift0 paired with standard "
                            "runs of the same seed")
    assert {k: v for k, v in result.numbers.items() if k != "box"} == {
        "verdict": MIXED, "treated_task": TREATED, "control_task": CONTROL, "regime": "myopic-state",
        "ablation_regime": "myopic-full", "alpha": "0.05", "min_relative_did_pct": "5", "equivalence_margin_pct": "5",
        "plateau_window_pct": "20", "plateau_tolerance_pct": "5.0", "control_gap_pct": "50", "n_cells": "0"}


def two_cells_rope_treated_unlearned() -> tuple[pd.DataFrame, pd.DataFrame]:
    """learned and rope cells with the same planted DiD; rope's standard treated runs end at the baseline (not learned)."""
    did = [0.07, 0.08, 0.09, 0.08, 0.08]
    treated = [c + d for c, d in zip(CONTROL_GAP, did, strict=True)]
    gap = pd.concat([planted(treated, CONTROL_GAP), planted(treated, CONTROL_GAP, encoding="rope")], ignore_index=True)
    runs = runs_table(encodings=("learned", "rope"))
    runs.loc[(runs["pos_encoding"] == "rope") & (runs["task"] == TREATED) & (runs["regime"] == "standard"),
             "final_eval_loss"] = BASELINE
    return gap, runs


def test_each_deciding_cell_is_described_and_disagreeing_cells_are_mixed() -> None:
    """Two cells with the same planted DiD (see the numbers test); rope's standard treated runs end at the baseline
    (0.5: not learned), so its cell is mixed, with the reason, and the claim is mixed."""
    gap, runs = two_cells_rope_treated_unlearned()
    result = decide(gap, runs)
    cell = ("positions: plateau DiD 0.080 [0.071, 0.089] (16.0% of the baseline-to-optimum gap; threshold 5%), one-sided p 0.0000, "
            "TOST p 1.0000, n = 5, DiD drift across the window 0.0% of the gap")
    assert result.verdicts[0].verdict == MIXED
    assert result.verdicts[0].deciding == f"learned {cell}; rope {cell}; standard training did not learn both tasks"
    assert result.tables["c2_did"].query("regime == 'myopic-state'")["verdict"].tolist() == [SUPPORTED, MIXED]
    assert (result.numbers["n_cells"], result.numbers["learned_treated"], result.numbers["pos_encoding"]) == ("2", True, "learned")


def test_two_paired_seeds_are_enough_to_decide() -> None:
    """DiD 0.08 and 0.09 over 2 seeds: se 0.005, t = 17, one-sided p from t(1) (Cauchy)
    1/2 - atan(17)/pi = 0.0187 < 0.05 and 0.085 >= 0.025: supported (fewer than 2 seeds would be mixed)."""
    gap = planted([c + d for c, d in zip(CONTROL_GAP, [0.08, 0.09, 0.0, 0.0, 0.0], strict=True)], CONTROL_GAP)
    two = gap[gap["seed"] < 2]
    result = decide(two)
    row = result.tables["c2_did"].query("regime == 'myopic-state'").iloc[0]
    assert row["n_seeds"] == 2 and row["did_p_holm"] == pytest.approx(0.5 - np.arctan(17.0) / np.pi, rel=1e-6)
    assert result.verdicts[0].verdict == SUPPORTED
    assert decide(gap[gap["seed"] < 1]).verdicts[0].verdict == MIXED


# --- Worked cases from the mutation survivors: the rule at its boundaries, pairing, spans, tables' rows and order ---

T_975 = {1: 12.706205, 3: 3.182446, 4: 2.776445}  # Student t quantiles t(0.975, df), from tables
T_95 = {4: 2.131847}  # t(0.95, 4): the 90% interval
SETTINGS_90 = {**SETTINGS, "confidence": 0.9, "alpha": 0.1}


def decide_with(curve: pd.DataFrame, runs: pd.DataFrame | None = None, settings: dict | None = None,
                overrides: dict | None = None, **tables: pd.DataFrame):
    inputs = ClaimInputs({"eval_curve": with_standard(curve), **tables}, runs_table() if runs is None else runs, settings or SETTINGS)
    return CLAIM.run(inputs, overrides)


def t4_sf(t: float) -> float:
    """One-sided p of Student t with 4 df, closed form: F(t) = 1/2 + 3/8 u (1 - t^2 / (12 (1 + t^2/4))), u = t / sqrt(1 + t^2/4)."""
    s = 1 + t * t / 4
    return 0.5 - 3 / 8 * t / np.sqrt(s) * (1 - t * t / (12 * s))


def cauchy_sf(t: float) -> float:
    """One-sided p of Student t with 1 df (Cauchy)."""
    return 0.5 - np.arctan(t) / np.pi


VERDICT_RULES = c2.Rules(min_relative_did=0.25, equivalence_margin=0.25)  # threshold 0.25 x span 0.5 = 0.125 exactly
SIGNIFICANT = {"n_seeds": 2, "span": 0.5, "learned_treated": True, "learned_control": True,
               "did_p_holm": 0.01, "did_mean": 0.125, "tost_p": 0.5, "did_drift_share_mean": 0.0, "control_learns": True}
EQUIVALENT = {"did_p_holm": 0.5, "did_mean": 0.0, "tost_p": 0.01}


@pytest.mark.parametrize(("change", "expected"), [
    ({}, SUPPORTED),
    ({"did_p_holm": 0.1}, MIXED),  # p equal to alpha is not below it
    ({"did_p_holm": 0.0999}, SUPPORTED),
    ({"did_mean": 0.125 - 2**-10}, MIXED),  # just under the threshold
    ({"did_p_holm": 0.5, "did_mean": 0.0, "tost_p": 0.1}, MIXED),  # TOST p equal to alpha: not equivalent
    ({"did_p_holm": 0.5, "did_mean": 0.0, "tost_p": 0.0999}, REFUTED),
    ({"n_seeds": 1}, MIXED),  # one seed never decides, whatever its p-values say
    ({"n_seeds": 1, "did_p_holm": 0.5, "tost_p": 0.01}, MIXED),
    ({"span": float("nan")}, MIXED),
    ({"learned_treated": False}, MIXED),
    ({"learned_control": False}, MIXED),
    ({"learned_control": False, "did_p_holm": 0.5, "tost_p": 0.01}, MIXED),
    ({"did_drift_share_mean": -0.05}, SUPPORTED),  # the DiD falls across the window by the tolerance: still decides
    ({"did_drift_share_mean": -0.0501}, MIXED),  # falls further: read before its plateau, however clear the DiD
    ({"did_drift_share_mean": 0.5}, SUPPORTED),  # still rising: it can only grow past the window
    ({"did_drift_share_mean": float("nan")}, MIXED),  # no window to fit
    ({**EQUIVALENT, "did_drift_share_mean": 0.05}, REFUTED),  # equivalent to 0 and settled within the tolerance
    ({**EQUIVALENT, "did_drift_share_mean": -0.05}, REFUTED),
    ({**EQUIVALENT, "did_drift_share_mean": 0.0501}, MIXED),  # still rising: refuted needs it settled
    ({**EQUIVALENT, "did_drift_share_mean": -0.0501}, MIXED),
    ({**EQUIVALENT, "did_drift_share_mean": float("nan")}, MIXED),
    ({"control_learns": False}, MIXED),  # a control that did not learn: not decided either way
    ({"control_learns": False, "did_p_holm": 0.5, "did_mean": 0.0, "tost_p": 0.01}, MIXED),
])
def test_cell_verdict_at_alpha_0_1_boundaries(change: dict, expected: str) -> None:
    """The rule on one cell's row at alpha 0.1: strict p < alpha for both tests, DiD >= threshold inclusive."""
    assert c2._cell_verdict({**SIGNIFICANT, **change}, VERDICT_RULES, 0.1) == expected


def test_printed_percentages_alpha_and_interval_at_90_percent() -> None:
    """Thresholds 75% (printed '75', not '76'), alpha 0.1 printed '0.10', DiD interval at 90%:
    0.08 +- t(0.95, 4) 2.131847 x 0.0031623 = 0.00674 -> [0.073, 0.087]; threshold and margin 0.75 x 0.5 = 0.375;
    TOST inside +-0.375 by far: refuted."""
    did = [0.07, 0.08, 0.09, 0.08, 0.08]
    gap = planted([c + d for c, d in zip(CONTROL_GAP, did, strict=True)], CONTROL_GAP)
    result = decide_with(gap, settings=SETTINGS_90, overrides={"min_relative_did": 0.75, "equivalence_margin": 0.75})
    numbers = result.numbers
    assert (numbers["alpha"], numbers["min_relative_did_pct"], numbers["equivalence_margin_pct"]) == ("0.10", "75", "75")
    assert (numbers["threshold"], numbers["margin"], numbers["span"]) == ("0.3750", "0.3750", "0.500")
    assert result.verdicts[0].verdict == REFUTED
    assert result.verdicts[0].deciding == ("learned positions: plateau DiD 0.080 [0.073, 0.087] (16.0% of the baseline-to-optimum "
                                           "gap; threshold 75%), one-sided p 0.0000, TOST p 0.0000, n = 5, DiD drift across the "
                                           "window 0.0% of the gap")
    assert "p < 0.1 (Holm over cells) and DiD >= 0.75 x" in result.verdicts[0].rule
    assert "|DiD| < 0.75 x that gap at alpha 0.1;" in result.verdicts[0].rule


def test_only_seeds_both_tasks_have_are_paired() -> None:
    """Control lacks seed 4: the DiD is over seeds 0-3 (0.07, 0.08, 0.09, 0.08: mean 0.08, sd sqrt(0.0002 / 3),
    se sd / 2, t(0.975, 3) = 3.182446); seed 4's treated gap (0.56) is left out of the treated mean (0.115)."""
    did = [0.07, 0.08, 0.09, 0.08, 0.5]
    gap = pd.concat([gap_rows(TREATED, "myopic-state", [c + d for c, d in zip(CONTROL_GAP, did, strict=True)]),
                     gap_rows(CONTROL, "myopic-state", CONTROL_GAP).query("seed < 4")], ignore_index=True)
    row = decide(gap).tables["c2_did"].iloc[0]
    assert row["n_seeds"] == 4 and row["did_mean"] == pytest.approx(0.08)
    assert row["did_low"] == pytest.approx(0.08 - T_975[3] * np.sqrt(0.0002 / 3) / 2, abs=1e-6)
    assert row["gap_treated_mean"] == pytest.approx(0.115) and row["gap_control_mean"] == pytest.approx(0.035)


def test_a_checkpoint_only_one_task_has_pairs_no_seed() -> None:
    """One seed; treated evaluated at steps 10 and 100, control at 50 and 100: steps 10 and 50 pair nothing
    (n 0, no DiD) but report the gap the one task has; step 100 pairs seed 0 (DiD 0.13 - 0.03 = 0.1)."""
    one = "seed == 0"
    gap = pd.concat([gap_rows(TREATED, "myopic-state", [0.3] * 5, step=10).query(one),
                     gap_rows(TREATED, "myopic-state", [0.13] * 5, step=100).query(one),
                     gap_rows(CONTROL, "myopic-state", [0.04] * 5, step=50).query(one),
                     gap_rows(CONTROL, "myopic-state", [0.03] * 5, step=100).query(one)], ignore_index=True)
    result = decide(gap)
    along = result.tables["c2_did_by_step"].set_index("step")
    assert list(along.index) == [10, 50, 100] and along["n_seeds"].tolist() == [0, 0, 1]
    assert along.loc[10, "gap_treated_mean"] == pytest.approx(0.3) and np.isnan(along.loc[10, "gap_control_mean"])
    assert np.isnan(along.loc[50, "gap_treated_mean"]) and along.loc[50, "gap_control_mean"] == pytest.approx(0.04)
    assert np.isnan(along.loc[10, "did_mean"]) and np.isnan(along.loc[50, "did_mean"])
    assert along.loc[100, "did_mean"] == pytest.approx(0.1)
    assert result.tables["c2_did"].iloc[0]["n_seeds"] == 1 and result.verdicts[0].verdict == MIXED


def two_cell_runs() -> pd.DataFrame:
    """learned: treated baseline 0.6, optimum 0.1 (span 0.5); control 0.8, 0 (0.8). rope: treated 1.0, 0 (span 1.0)."""
    runs = runs_table(encodings=("learned", "rope"))
    losses = {("learned", TREATED): (0.6, 0.1), ("learned", CONTROL): (0.8, 0.0), ("rope", TREATED): (1.0, 0.0),
              ("rope", CONTROL): (0.5, 0.0)}
    for (enc, task), (baseline, optimum) in losses.items():
        mine = (runs["pos_encoding"] == enc) & (runs["task"] == task)
        runs.loc[mine, "baseline_loss"], runs.loc[mine, "optimal_loss"] = baseline, optimum
    return runs


def test_span_is_each_cells_own_treated_baseline_minus_optimum() -> None:
    """Spans 0.6 - 0.1 = 0.5 (learned; not the control's 0.8, nor 0.6 + 0.1) and 1.0 (rope; not learned's)."""
    did = [0.07, 0.08, 0.09, 0.08, 0.08]
    treated = [c + d for c, d in zip(CONTROL_GAP, did, strict=True)]
    gap = pd.concat([planted(treated, CONTROL_GAP), planted(treated, CONTROL_GAP, encoding="rope")], ignore_index=True)
    final = decide(gap, two_cell_runs()).tables["c2_did"].set_index("pos_encoding")
    assert final["span"].to_dict() == pytest.approx({"learned": 0.5, "rope": 1.0})
    assert final["threshold"].to_dict() == pytest.approx({"learned": 0.025, "rope": 0.05})
    assert final["did_relative"].to_dict() == pytest.approx({"learned": 0.16, "rope": 0.08})


def test_a_cell_without_treated_runs_has_no_span_and_is_mixed() -> None:
    """The runs table has no rope run of the treated task (its curves are there, but a curve without its run has no
    factors, so it counts nowhere): its span is NaN, so are threshold and share; nothing pairs; mixed."""
    did = [0.07, 0.08, 0.09, 0.08, 0.08]
    treated = [c + d for c, d in zip(CONTROL_GAP, did, strict=True)]
    gap = pd.concat([planted(treated, CONTROL_GAP), planted(treated, CONTROL_GAP, encoding="rope")], ignore_index=True)
    runs = runs_table(encodings=("learned", "rope"))
    runs = runs[~((runs["pos_encoding"] == "rope") & (runs["task"] == TREATED))]
    final = decide(gap, runs).tables["c2_did"].set_index("pos_encoding")
    rope = final.loc["rope"]
    assert np.isnan(rope["span"]) and np.isnan(rope["threshold"]) and np.isnan(rope["did_relative"])
    assert np.isnan(rope["did_mean"]) and rope["n_seeds"] == 0 and not rope["learned_treated"] and rope["verdict"] == MIXED
    assert final.loc["learned", "verdict"] == SUPPORTED


def test_span_read_from_a_single_treated_run() -> None:
    """rope: only the control's myopic runs exist and one standard treated run (seed 0, baseline 1.0):
    the span is still read (1.0), nothing pairs, the cell is mixed."""
    did = [0.07, 0.08, 0.09, 0.08, 0.08]
    gap = pd.concat([planted([c + d for c, d in zip(CONTROL_GAP, did, strict=True)], CONTROL_GAP),
                     gap_rows(CONTROL, "myopic-state", CONTROL_GAP, encoding="rope")], ignore_index=True)
    runs = runs_table(encodings=("learned", "rope"))
    rope_treated = (runs["pos_encoding"] == "rope") & (runs["task"] == TREATED)
    runs.loc[rope_treated, "baseline_loss"] = 1.0
    runs = runs[~rope_treated | ((runs["regime"] == "standard") & (runs["seed"] == 0))]
    final = decide(gap, runs).tables["c2_did"].set_index("pos_encoding")
    assert final.loc["rope", "span"] == pytest.approx(1.0) and final.loc["rope", "n_seeds"] == 0
    assert final.loc["rope", "verdict"] == MIXED and final.loc["learned", "verdict"] == SUPPORTED


def test_learned_flags_are_each_tasks_own() -> None:
    """rope's standard treated runs end at the baseline (not learned), its control runs learned: the flags say so."""
    gap, runs = two_cells_rope_treated_unlearned()
    final = decide(gap, runs).tables["c2_did"].set_index("pos_encoding")
    assert final[["learned_treated", "learned_control"]].to_dict("index") == {
        "learned": {"learned_treated": True, "learned_control": True},
        "rope": {"learned_treated": False, "learned_control": True}}


FINAL_COLUMNS = [*c2.CELL, "regime", "n_seeds", "gap_treated_mean", "gap_treated_low", "gap_treated_high",
                 "gap_control_mean", "gap_control_low", "gap_control_high", "gap_control_p", "did_mean", "did_low",
                 "did_high", "did_t", "did_p", "did_d"]


def test_did_tables_columns_cell_order_and_share_along_training() -> None:
    """Cells sorted (learned before rope, though rope comes first in the input); another task's rows (a copy task in
    an alibi cell, with a run) are ignored; the DiD's share of the span at every evaluation, inside the window or not."""
    did = [0.07, 0.08, 0.09, 0.08, 0.08]
    treated = [c + d for c, d in zip(CONTROL_GAP, did, strict=True)]
    other = gap_rows("copy", "myopic-state", [0.2] * 5, encoding="alibi")
    gap = pd.concat([planted(treated, CONTROL_GAP, encoding="rope"), planted(treated, CONTROL_GAP, step=50),
                     planted(treated, CONTROL_GAP), other], ignore_index=True)
    runs = runs_table(encodings=("learned", "rope"))
    copy = runs[(runs["pos_encoding"] == "learned") & (runs["task"] == TREATED) & (runs["regime"] != "myopic-full")]
    copy = copy.assign(task="copy", task_name="copy", pos_encoding="alibi",
                       condition=copy["condition"].str.replace(f"{TREATED}_learned", "copy_alibi"))
    result = decide(gap, pd.concat([runs, copy], ignore_index=True))
    final, along = result.tables["c2_did"], result.tables["c2_did_by_step"]
    assert list(final.columns) == [*FINAL_COLUMNS, "window_start", "span", "did_relative", "threshold", "margin", "tost_p",
                                   "learned_treated", "learned_control", "did_drift_share_mean",
                                   "did_drift_share_low", "did_drift_share_high", "n_runs", "n_not_at_plateau", "at_plateau",
                                   "max_drift_share", "max_arm_drift_share", "not_at_plateau", "runs_not_at_plateau",
                                   *[f"control_{arm}_closed_{end}" for arm in
                                   ("standard", "myopic") for end in ("mean", "low", "high")], "control_learns",
                                   "deciding", "did_p_holm", "verdict"]
    assert final["did_p_holm"].dtype == np.float64
    assert list(along.columns) == [*FINAL_COLUMNS[:7], "step", *FINAL_COLUMNS[7:], "did_relative", "window_start", "in_window"]
    assert final["pos_encoding"].tolist() == ["learned", "rope"] and final["verdict"].tolist() == [SUPPORTED] * 2
    assert list(zip(along["pos_encoding"], along["step"], along["in_window"], strict=True)) == [
        ("learned", 50, False), ("learned", 80, True), ("learned", 90, True), ("learned", 100, True),
        ("rope", 80, True), ("rope", 90, True), ("rope", 100, True)]
    assert along["did_relative"].tolist() == pytest.approx([0.16] * 7)
    assert along["gap_treated_mean"].tolist() == pytest.approx([0.12] * 7)
    assert "copy" not in set(result.tables["c2_arms"]["task"]) and "copy" in set(result.tables["c2_plateau"]["task"])
    assert result.numbers["pos_encoding"] == "learned" and result.verdicts[0].deciding.startswith("learned positions")


def test_holm_is_one_family_per_regime() -> None:
    """Two seeds (t with 1 df: p = 1/2 - atan(t)/pi). state: learned DiD 0.08, 0.09 (t = 17), rope 0.05, 0.10
    (mean 0.075, se 0.025, t = 3): Holm 2 x p(17) = 0.0374 and max(0.0374, p(3)) = 0.1024. full: learned only,
    DiD 0.05, 0.10, a family of one: p(3) unadjusted. learned supported; rope mixed (0.1024 > 0.05, 0.075 far from 0)."""
    base = [0.01, 0.02, 0.0, 0.0, 0.0]

    def cell(did: list[float], **kw) -> pd.DataFrame:
        return planted([b + d for b, d in zip(base, [*did, 0, 0, 0], strict=True)], base, **kw).query("seed < 2")

    gap = pd.concat([cell([0.08, 0.09]), cell([0.05, 0.10], encoding="rope"), cell([0.05, 0.10], regime="myopic-full")],
                    ignore_index=True)
    final = decide(gap, runs_table(encodings=("learned", "rope"))).tables["c2_did"]
    holm = {(r["pos_encoding"], r["regime"]): r["did_p_holm"] for r in final.to_dict("records")}
    assert holm == pytest.approx({("learned", "myopic-state"): 2 * cauchy_sf(17.0),
                                  ("rope", "myopic-state"): cauchy_sf(3.0),
                                  ("learned", "myopic-full"): cauchy_sf(3.0)}, rel=1e-6)
    assert final["verdict"].tolist() == [SUPPORTED, "", MIXED]


def test_myopic_full_alone_still_gets_its_row() -> None:
    """No myopic-state run in the cell: the ablation's DiD is still tabled (0.1), deciding nothing."""
    final = decide(planted([0.2, 0.21, 0.19, 0.2, 0.2], [0.1] * 5, regime="myopic-full")).tables["c2_did"]
    assert final["regime"].tolist() == ["myopic-full"] and final["verdict"].tolist() == [""]
    assert final["did_mean"].iloc[0] == pytest.approx(0.1) and not final["deciding"].iloc[0]


def probe_frame(task: str, regime: str, r2: dict[int, list[float]], step: int = 100,
                feature: str = "sin_freq_x") -> pd.DataFrame:
    return pd.DataFrame([
        {"condition": f"{task}_learned_{regime}", "seed": seed, "step": step, "feature": feature, "layer": layer, "r2": value}
        for layer, values in r2.items() for seed, value in zip(SEEDS, values, strict=True)
    ])


def test_probe_table_rows_order_one_sided_p_and_90_percent_interval() -> None:
    """Layer 2 (planted first) has no myopic-state probe, only myopic-full; layer 1 has both. Differences:
    layer 1 state 0.6, 0.5, 0.6, 0.7, 0.6 (mean 0.6, sd sqrt(0.005)), full 0.5, 0.4, 0.5, 0.6, 0.5 (0.5, same sd),
    layer 2 full 0.1, 0, 0.05, 0.1, 0 (0.05, sd 0.05). One-sided p from t(4)'s closed form; Holm over all rows.
    Distractors that must not count: the control task's probes, another feature, an earlier checkpoint (r2 0)."""
    standard = [0.9, 0.8, 0.85, 0.9, 0.8]
    zeros = [0.0] * 5
    probes = pd.concat([
        probe_frame(TREATED, "standard", {2: [0.6, 0.5, 0.55, 0.6, 0.5], 1: standard}),
        probe_frame(TREATED, "myopic-full", {2: [0.5] * 5, 1: [0.4, 0.4, 0.35, 0.3, 0.3]}),
        probe_frame(TREATED, "myopic-state", {1: [0.3, 0.3, 0.25, 0.2, 0.2]}),
        probe_frame(CONTROL, "standard", {1: zeros, 2: zeros}), probe_frame(CONTROL, "myopic-state", {1: zeros}),
        probe_frame(TREATED, "standard", {1: zeros}, feature="cos_freq_x"),
        probe_frame(TREATED, "myopic-state", {1: standard}, feature="cos_freq_x"),
        probe_frame(TREATED, "standard", {1: zeros, 2: zeros}, step=50),
    ], ignore_index=True)
    table = decide_with(planted(CONTROL_GAP, CONTROL_GAP), settings=SETTINGS_90, m6_probes=probes).tables["c2_probes"]
    assert list(zip(table["layer"], table["regime"], strict=True)) == [(1, "myopic-state"), (1, "myopic-full"),
                                                                      (2, "myopic-full")]
    se = np.sqrt(0.005 / 5)
    p = [t4_sf(0.6 / se), t4_sf(0.5 / se), t4_sf(0.05 / np.sqrt(0.0025 / 5))]
    assert table["difference_estimate"].tolist() == pytest.approx([0.6, 0.5, 0.05])
    assert table["difference_p"].tolist() == pytest.approx(p, rel=1e-6)
    holm = [3 * p[0], max(3 * p[0], 2 * p[1])]  # p0 < p1 < p2: step-down with a running maximum
    assert table["difference_p_holm"].tolist() == pytest.approx([*holm, max(holm[1], p[2])], rel=1e-6)
    assert table["difference_high"].iloc[0] == pytest.approx(0.6 + T_95[4] * se, abs=1e-6)
    # r2 of standard on layer 1: mean 0.85, sd 0.05 -> 0.85 +- 2.131847 x 0.05 / sqrt(5)
    assert table["r2_standard_low"].iloc[0] == pytest.approx(0.85 - T_95[4] * 0.05 / np.sqrt(5), abs=1e-6)
    assert table["r2_myopic_mean"].tolist() == pytest.approx([0.25, 0.35, 0.5])


def test_probe_table_carrying_its_factors_gives_the_same_rows() -> None:
    """A probe table that already carries task, regime and the cell's factors is merged with the runs' values."""
    probes = pd.concat([probe_frame(TREATED, "standard", {1: [0.9, 0.8, 0.85, 0.9, 0.8]}),
                        probe_frame(TREATED, "myopic-state", {1: [0.3, 0.3, 0.25, 0.2, 0.2]})], ignore_index=True)
    runs = runs_table()
    labelled = probes.merge(runs[["condition", "seed", "task", "regime", *c2.CELL]], on=["condition", "seed"])
    table = c2.probe_table(labelled, runs, c2.Rules(), SETTINGS)
    assert table[["layer", "regime"]].to_dict("records") == [{"layer": 1, "regime": "myopic-state"}]
    assert table["difference_estimate"].iloc[0] == pytest.approx(0.6)


def test_a_repeated_run_row_is_refused_not_merged_twice() -> None:
    """Two rows for one (condition, seed) in the runs table: the factor merge must fail, not double the probes."""
    probes = probe_frame(TREATED, "standard", {1: [0.9, 0.8, 0.85, 0.9, 0.8]})
    runs = runs_table()
    with pytest.raises(pd.errors.MergeError):
        c2.probe_table(probes, pd.concat([runs, runs.iloc[[0]]], ignore_index=True), c2.Rules(), SETTINGS)


def test_share_table_rows_order_seeds_and_90_percent_interval() -> None:
    """Standard runs at the final step only: treated pre-caching share 0.2, 0.3, 0.4, 0.3, 0.3 (mean 0.3, sd
    sqrt(0.005)), control 0.1 on every seed. Rows sorted by layer then task (the treated task's rows planted first).
    Distractors that must not count: myopic-state rows and a step-50 checkpoint (share 0.9)."""
    rows = []

    def add(task: str, regime: str, shares: list[float], step: int = 100) -> None:
        for seed, share in zip(SEEDS, shares, strict=True):
            base = {"condition": f"{task}_learned_{regime}", "seed": seed, "step": step, "norm_total": 1.0,
                    "share_direct": 0.6, "share_shared": 0.4 - share, "share_precache": share}
            rows.extend([{**base, "group": "attn", "layer": 0}, {**base, "group": "all", "layer": -2}])

    add(TREATED, "standard", [0.2, 0.3, 0.4, 0.3, 0.3])
    add(CONTROL, "standard", [0.1] * 5)
    add(TREATED, "myopic-state", [0.9] * 5)
    add(CONTROL, "myopic-state", [0.9] * 5)
    add(TREATED, "standard", [0.9] * 5, step=50)
    add(CONTROL, "standard", [0.9] * 5, step=50)
    shares = decide_with(planted(CONTROL_GAP, CONTROL_GAP), settings=SETTINGS_90,
                         m3_decomposition=pd.DataFrame(rows)).tables["c2_shares"]
    assert list(zip(shares["layer"], shares["task"], strict=True)) == [(-2, CONTROL), (-2, TREATED), (0, CONTROL),
                                                                      (0, TREATED)]
    assert shares["n_seeds"].tolist() == [5, 5, 5, 5]
    assert shares["precache_mean"].tolist() == pytest.approx([0.1, 0.3, 0.1, 0.3])
    half = T_95[4] * np.sqrt(0.005) / np.sqrt(5)
    assert shares["precache_low"].tolist() == pytest.approx([0.1, 0.3 - half, 0.1, 0.3 - half], abs=1e-6)
    assert shares["shared_high"].tolist() == pytest.approx([0.3, 0.1 + half, 0.3, 0.1 + half], abs=1e-6)


def test_learned_flags_given_with_the_runs_are_used_as_given() -> None:
    """A runs table that already says which conditions learned (here: none) is not re-judged from its losses."""
    did = [0.07, 0.08, 0.09, 0.08, 0.08]
    gap = planted([c + d for c, d in zip(CONTROL_GAP, did, strict=True)], CONTROL_GAP)
    result = decide(gap, runs_table().assign(learned=False))
    assert result.verdicts[0].verdict == MIXED and result.verdicts[0].deciding.endswith("did not learn both tasks")
    assert decide(gap, runs_table().assign(learned=True)).verdicts[0].verdict == SUPPORTED


def test_gap_by_position_and_every_share_are_tabled() -> None:
    """The per-position gaps at the final checkpoint (seed means 0.2 and 0.4; step 50 left out) and the
    decomposition shares of every condition, step and layer (myopic runs and step 50 included)."""
    m4 = pd.concat([m4_rows(TREATED, "myopic-state", [0.1, 0.2, 0.3, 0.2, 0.2]).assign(t=0),
                    m4_rows(TREATED, "myopic-state", [0.4] * 5).assign(t=1),
                    m4_rows(TREATED, "myopic-state", [0.9] * 5, step=50).assign(t=0)], ignore_index=True)
    rows = []
    for task in (TREATED, CONTROL):
        for regime, step in (("standard", 100), ("myopic-state", 100), ("standard", 50)):
            for seed in SEEDS:
                base = {"condition": f"{task}_learned_{regime}", "seed": seed, "step": step, "norm_total": 1.0,
                        "share_direct": 0.6, "share_shared": 0.3, "share_precache": 0.1}
                rows.extend([{**base, "group": "attn", "layer": 0, "share_shared": 0.2, "share_precache": 0.2},
                             {**base, "group": "all", "layer": -2}])
    result = decide(planted(CONTROL_GAP, CONTROL_GAP), m4_myopia_gap=m4, m3_decomposition=pd.DataFrame(rows))
    tables = result.tables
    positions = tables["c2_gap_by_position"]
    assert positions["t"].tolist() == [0, 1] and positions["gap_mean"].tolist() == pytest.approx([0.2, 0.4])
    assert set(positions["condition"]) == {f"{TREATED}_learned_myopic-state"}
    # t(0.975, 4) x sd sqrt(0.02 / 4) / sqrt(5)
    assert positions["gap_low"].iloc[0] == pytest.approx(0.2 - T_975[4] * np.sqrt(0.005 / 5), abs=1e-6)
    every = tables["c2_decomposition_shares"]
    assert len(every) == 12 and set(every["step"]) == {50, 100} and set(every["regime"]) == {"standard", "myopic-state"}
    assert sorted(every["precache_mean"].round(9)) == [0.1] * 6 + [0.2] * 6 and set(every["n_seeds"]) == {5}
    # the paper's pre-caching share is the whole model's (layer -2: 0.1), not attention layer 0's (0.2)
    whole = {"mean": "0.100", "low": "0.100", "high": "0.100"}
    assert result.numbers["precache_share"] == {TREATED: whole, CONTROL: whole}


def test_without_probes_or_decomposition_their_tables_are_empty() -> None:
    tables = decide(planted(CONTROL_GAP, CONTROL_GAP)).tables
    assert all(tables[name].empty for name in ("c2_probes", "c2_shares", "c2_decomposition_shares"))
    assert not tables["c2_did"].empty and not tables["c2_did_by_step"].empty


def test_no_myopia_gap_table_at_all_is_undecided() -> None:
    """The inputs lack the m4 table altogether (not merely empty): undecided, with every table present."""
    result = CLAIM.run(ClaimInputs({}, runs_table(), SETTINGS))
    assert result.verdicts[0].verdict == MIXED and result.verdicts[0].deciding.startswith("not decided")
    assert set(result.tables) == set(c2.TABLES) and all(table.empty for table in result.tables.values())


def test_a_checkpoint_only_the_control_task_has_is_left_unpaired() -> None:
    """The v2 defect (c2._pair): with five seeds, a step only the control has subtracted an empty array from five
    values and raised. Now that step pairs no seed (n 0, no DiD) and still reports the control's gap."""
    gaps = pd.concat([gap_rows(TREATED, "myopic-state", CONTROL_GAP, step=100),
                      gap_rows(CONTROL, "myopic-state", CONTROL_GAP, step=100),
                      gap_rows(CONTROL, "myopic-state", CONTROL_GAP, step=50)], ignore_index=True)
    by_step = decide(gaps).tables["c2_did_by_step"].set_index("step")
    assert by_step["n_seeds"].to_dict() == {50: 0, 100: 5}
    assert np.isnan(by_step.loc[50, "did_mean"]) and by_step.loc[50, "gap_control_mean"] == pytest.approx(0.04)
    assert by_step.loc[100, "did_mean"] == pytest.approx(0.0)


# --- v3: the plateau criterion, a control that learns, the power statement, the myopia gap on text ---

SUPPORTED_DID = [0.07, 0.08, 0.09, 0.08, 0.08]


def supported_curve() -> pd.DataFrame:
    return planted([c + d for c, d in zip(CONTROL_GAP, SUPPORTED_DID, strict=True)], CONTROL_GAP)


def standard_rows(task: str, losses: dict[int, float], seeds: list[int] = SEEDS) -> pd.DataFrame:
    return pd.DataFrame([{"condition": f"{task}_learned_standard", "seed": seed, "step": step, "eval_loss": loss}
                         for seed in seeds for step, loss in losses.items()])


def test_an_arm_still_moving_is_reported_but_a_settled_did_decides() -> None:
    """Every seed's standard and myopic treated runs fall together across the window (steps 80, 90, 100) by 0.05: the
    arm's mean drift is 10% of the gap, twice the tolerance, but the DiD (their difference) does not move: decided."""
    fall = 0.05
    moving = {80: STANDARD_LOSS + fall / 2, 90: STANDARD_LOSS, 100: STANDARD_LOSS - fall / 2}
    gap = supported_curve()
    mine = gap["condition"] == f"{TREATED}_learned_myopic-state"
    gap.loc[mine, "eval_loss"] += gap.loc[mine, "step"].map(moving) - STANDARD_LOSS
    result = decide(pd.concat([standard_rows(TREATED, moving), gap], ignore_index=True))
    row = result.tables["c2_did"].iloc[0]
    assert row["did_mean"] == pytest.approx(0.08) and row["max_arm_drift_share"] == pytest.approx(fall / 0.5)
    assert row["did_drift_share_mean"] == pytest.approx(0.0, abs=1e-12) and result.verdicts[0].verdict == SUPPORTED
    assert row["n_not_at_plateau"] == 10 and not row["at_plateau"]
    assert row["not_at_plateau"] == "sine-shift1 myopic-state (−10.0%), sine-shift1 standard (−10.0%)"
    plateau = result.tables["c2_plateau"].set_index(["condition", "seed"])
    assert plateau.loc[(f"{TREATED}_learned_standard", 2), "drift"] == pytest.approx(-fall)


def did_moving(did: list[float], move: float) -> pd.DataFrame:
    """Planted plateau DiDs whose every seed's DiD moves linearly by ``move`` across the window (its treated myopic arm)."""
    gap = planted([c + d for c, d in zip(CONTROL_GAP, did, strict=True)], CONTROL_GAP)
    mine = gap["condition"] == f"{TREATED}_learned_myopic-state"
    gap.loc[mine, "eval_loss"] += gap.loc[mine, "step"].map({80: -move / 2, 90: 0.0, 100: move / 2})
    return gap


@pytest.mark.parametrize(("move", "expected"), [(-0.0249, SUPPORTED), (-0.0251, MIXED), (0.2, SUPPORTED)])
def test_a_falling_did_leaves_the_cell_undecided_and_a_rising_one_supports(move: float, expected: str) -> None:
    """The DiD moves by ``move`` across the window on every seed (its plateau mean unchanged, 0.08): against -5% of the gap
    0.5 (-0.025), a fall just inside decides, just beyond does not; a DiD still rising only grows, so it supports."""
    result = decide(did_moving(SUPPORTED_DID, move))
    row = result.tables["c2_did"].iloc[0]
    assert row["did_mean"] == pytest.approx(0.08) and row["did_drift_share_mean"] == pytest.approx(move / 0.5)
    assert result.verdicts[0].verdict == expected
    if expected == MIXED:
        assert result.verdicts[0].deciding.endswith(
            "n = 5, DiD drift across the window −5.0% of the gap; not decided: the DiD is not at its plateau (it moves by "
            "−5.0% of the gap across the window; at least -5.0% is needed)")


@pytest.mark.parametrize(("move", "expected"), [(0.0249, REFUTED), (-0.0249, REFUTED), (0.0251, MIXED), (-0.0251, MIXED)])
def test_refuted_needs_a_did_settled_within_the_tolerance(move: float, expected: str) -> None:
    """A plateau DiD near 0 (mean 0; TOST well inside 5% of the gap) that still moves by ``move`` across the window:
    refuted only where it moves by at most 5% of the gap either way."""
    result = decide(did_moving([0.001, -0.001, 0.0, 0.002, -0.002], move))
    row = result.tables["c2_did"].iloc[0]
    assert row["tost_p"] < 0.05 and row["did_drift_share_mean"] == pytest.approx(move / 0.5)
    assert result.verdicts[0].verdict == expected
    if move == 0.0251:
        assert result.verdicts[0].deciding.endswith(
            "not refuted: the DiD still rises by 5.0% of the gap across the window (refuted needs it within 5.0%)")


def test_one_run_moving_is_reported_but_its_arm_decides() -> None:
    """Seed 2's standard treated run alone falls by twice the tolerance: the arm's mean drift is 2/5 of that, within it;
    the run is counted and named, the cell decided."""
    fall = 0.05
    moving = {80: STANDARD_LOSS + fall / 2, 90: STANDARD_LOSS, 100: STANDARD_LOSS - fall / 2}
    gap = supported_curve()
    mine = (gap["condition"] == f"{TREATED}_learned_myopic-state") & (gap["seed"] == 2)
    gap.loc[mine, "eval_loss"] += gap.loc[mine, "step"].map(moving) - STANDARD_LOSS
    result = decide(pd.concat([standard_rows(TREATED, moving, [2]), gap], ignore_index=True))
    row = result.tables["c2_did"].iloc[0]
    assert result.verdicts[0].verdict == SUPPORTED and row["at_plateau"]
    assert row["n_not_at_plateau"] == 2 and row["max_drift_share"] == pytest.approx(0.1)
    assert row["max_arm_drift_share"] == pytest.approx(0.02)
    assert row["runs_not_at_plateau"] == "sine-shift1 myopic-state seed 2 (−10.0%), sine-shift1 standard seed 2 (−10.0%)"


def test_a_run_that_does_not_decide_may_still_move() -> None:
    """myopic-full's runs move (drift 0.1) but do not decide: the myopic-state cell is decided, full's row says so."""
    gap = supported_curve()
    full = gap_rows(TREATED, "myopic-full", [0.1] * 5)
    full["eval_loss"] += full["step"].map({80: 0.05, 90: 0.0, 100: -0.05})
    result = decide(pd.concat([gap, full, gap_rows(CONTROL, "myopic-full", [0.0] * 5)], ignore_index=True))
    table = result.tables["c2_did"].set_index("regime")
    assert result.verdicts[0].verdict == SUPPORTED and not table.loc["myopic-full", "at_plateau"]
    assert table.loc["myopic-full", "n_not_at_plateau"] == 5 and table.loc["myopic-full", "not_at_plateau"] == "sine-shift1 myopic-full (−20.0%)"


@pytest.mark.parametrize(("control_myopic", "expected"), [(0.25, SUPPORTED), (0.2501, MIXED)])
def test_a_control_that_did_not_learn_leaves_the_cell_undecided(control_myopic: float, expected: str) -> None:
    """The control's myopic-state arm plateaus at ``control_myopic`` on every seed, its standard arm ``CONTROL_GAP``
    below (the gaps, so the DiD 0.08, unchanged), against the bar 50% of the gap 0.5: 0.25 closes exactly 50%
    (inclusive), 0.2501 just under (49.98%)."""
    gap = supported_curve()
    gap.loc[gap["condition"] == f"{CONTROL}_learned_myopic-state", "eval_loss"] = control_myopic
    standard = pd.DataFrame([{"condition": f"{CONTROL}_learned_standard", "seed": seed, "step": step,
                              "eval_loss": control_myopic - control} for seed, control in zip(SEEDS, CONTROL_GAP, strict=True)
                             for step in PLATEAU_STEPS])
    result = decide(pd.concat([standard, gap], ignore_index=True))
    row = result.tables["c2_did"].iloc[0]
    assert row["control_myopic_closed_mean"] == pytest.approx(1 - 2 * control_myopic)
    assert row["control_standard_closed_mean"] == pytest.approx(1 - 2 * (control_myopic - 0.04))
    assert row["did_mean"] == pytest.approx(0.08) and row["did_p_holm"] < 0.05
    assert result.verdicts[0].verdict == expected and bool(row["control_learns"]) == (expected == SUPPORTED)
    if expected == MIXED:
        assert result.verdicts[0].deciding.endswith(
            "n = 5, DiD drift across the window 0.0% of the gap; not decided: the control did not learn (gap closed at the plateau: standard 58% [54, 62], "
            "myopic-state 50% [50, 50]; each needs 50%)")


def test_arms_table_reports_each_arms_gap_closed_with_its_interval() -> None:
    arms = decide(supported_curve()).tables["c2_arms"].set_index(["task", "regime"])
    # control myopic-state: 1 - 2 x (0.0625 + gap): mean 0.795, sd 2 x 0.0158114, half t(0.975, 4) x sd / sqrt(5)
    half = T_975[4] * 2 * 0.0158114 / np.sqrt(5)
    assert arms.loc[(CONTROL, "myopic-state"), "gap_closed_mean"] == pytest.approx(0.795)
    assert arms.loc[(CONTROL, "myopic-state"), "gap_closed_low"] == pytest.approx(0.795 - half, abs=1e-6)
    assert arms.loc[(TREATED, "standard"), "gap_closed_mean"] == pytest.approx(0.875)
    assert set(arms["n_at_plateau"]) == {5} and set(arms["n_seeds"]) == {5}


def test_power_statement_from_the_planning_effect() -> None:
    """Exploratory DiD 0.087, sd 0.066 (d = 1.32): n = 5 has power 0.78 (noncentral t; the issue: "about 0.78"); 90% needs 7 seeds, the floor 10."""
    result = decide(supported_curve(), overrides={"planning_did": 0.087, "planning_sd": 0.066})
    assert result.numbers["power"] == {"did": "0.087", "sd": "0.066", "d": "1.32", "target_pct": "90", "min_seeds": "10",
                                       "seeds_needed": "10", "n": "5", "power_pct": "78"}
    small = decide(supported_curve(), overrides={"planning_did": 0.02, "planning_sd": 0.066}).numbers["power"]
    assert small["seeds_needed"] == "95"  # d = 0.303: above the floor
    assert "power" not in decide(supported_curve()).numbers  # NaN by default: not reported
    assert decide(pd.DataFrame(), overrides={"planning_did": 0.087, "planning_sd": 0.066}).numbers["power"]["seeds_needed"] == "10"


def text_runs() -> pd.DataFrame:
    rows = [{**CELL, "condition": f"text_learned_{regime}", "seed": seed, "task": "text", "task_name": "text",
             "regime": regime, "final_eval_loss": 2.0, "baseline_loss": 3.0, "optimal_loss": float("nan")}
            for regime in ("standard", "myopic-state") for seed in SEEDS]
    return pd.concat([runs_table(), pd.DataFrame(rows)], ignore_index=True)


def test_myopia_gap_on_text_is_tabled_and_printed_without_a_verdict() -> None:
    """Text: plateau gaps 0.1, 0.2, 0.3, 0.2, 0.2 (mean 0.2, sd sqrt(0.005)); per position (M4, final checkpoint)
    0.05 at t = 0 and 0.3 at t = 1; the C2 verdict is the sine cells' alone."""
    text = gap_rows("text", "myopic-state", [0.1, 0.2, 0.3, 0.2, 0.2])
    m4 = pd.concat([m4_rows("text", "myopic-state", [0.05] * 5).assign(t=0), m4_rows("text", "myopic-state", [0.3] * 5).assign(t=1)],
                   ignore_index=True)
    result = decide(pd.concat([supported_curve(), text], ignore_index=True), text_runs(), m4_myopia_gap=m4)
    table = result.tables["c2_text_gap"]
    assert table["condition"].tolist() == ["text_learned_myopic-state"] and table["n_seeds"].tolist() == [5]
    half = T_975[4] * np.sqrt(0.005 / 5)
    assert table["gap_mean"].iloc[0] == pytest.approx(0.2) and table["gap_high"].iloc[0] == pytest.approx(0.2 + half, abs=1e-6)
    assert table["plateau_standard"].iloc[0] == pytest.approx(STANDARD_LOSS) and table["max_abs_drift"].iloc[0] == 0
    assert result.numbers["text"] == [{
        "regime": "myopic-state", "pos_encoding": "learned", "n_seeds": "5",
        "gap": {"mean": "0.200", "low": "0.112", "high": "0.288"}, "plateau_standard": "0.062", "plateau_myopic": "0.263",
        "gap_first": {"mean": "0.050", "low": "0.050", "high": "0.050"},
        "gap_last": {"mean": "0.300", "low": "0.300", "high": "0.300"}, "last_t": "1"}]
    assert result.verdicts[0].verdict == SUPPORTED and "text" not in set(result.tables["c2_did"]["pos_encoding"])
    assert "text" not in decide(supported_curve()).numbers


def test_rules_refuse_a_window_outside_training() -> None:
    for window in (0.0, 1.5):
        with pytest.raises(ValueError, match="plateau_window"):
            c2.Rules(plateau_window=window)
