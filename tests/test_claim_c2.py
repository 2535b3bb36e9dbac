"""C2's rule on planted tables whose answers are worked by hand: every verdict word, the boundary, empty input."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from analysis.stats import c2
from analysis.stats.claims import CLAIMS, MIXED, REFUTED, SUPPORTED, ClaimInputs

SETTINGS = {"confidence": 0.95, "alpha": 0.05, "learned_margin": 0.05, "learned_gap_share": 0.5}
CELL = {"pos_encoding": "learned", "n_layer": 2, "d_model": 64, "n_head": 4, "context": 32, "steps": 100}
TREATED, CONTROL = "sine-shift1", "sine-shift0"
BASELINE = 0.5  # both tasks; optimum 0, so the treated baseline-to-optimum gap (the rule's scale) is 0.5
SEEDS = [0, 1, 2, 3, 4]


def runs_table(standard_final: float = 0.1, encodings: tuple[str, ...] = ("learned",),
               regimes: tuple[str, ...] = ("standard", "myopic-state", "myopic-full")) -> pd.DataFrame:
    rows = [
        {**CELL, "condition": f"{task}_{enc}_{regime}", "seed": seed, "task": task, "regime": regime, "pos_encoding": enc,
         "final_eval_loss": standard_final if regime == "standard" else standard_final + 0.05,
         "baseline_loss": BASELINE, "optimal_loss": 0.0}
        for enc in encodings for task in (TREATED, CONTROL) for regime in regimes for seed in SEEDS
    ]
    return pd.DataFrame(rows)


def gap_rows(task: str, regime: str, gaps: list[float], step: int = 100, encoding: str = "learned") -> pd.DataFrame:
    """m4_myopia_gap rows (t = -1: mean over positions) for one myopic condition at one checkpoint."""
    return pd.DataFrame([
        {"condition": f"{task}_{encoding}_{regime}", "standard_condition": f"{task}_{encoding}_standard", "regime": regime,
         "task": task, **CELL, "pos_encoding": encoding, "seed": seed, "step": step, "t": -1,
         "loss_myopic": 0.1 + gap, "loss_standard": 0.1, "gap": gap}
        for seed, gap in zip(SEEDS, gaps, strict=True)
    ])


def planted(treated: list[float], control: list[float], regime: str = "myopic-state", **kw) -> pd.DataFrame:
    return pd.concat([gap_rows(TREATED, regime, treated, **kw), gap_rows(CONTROL, regime, control, **kw)], ignore_index=True)


def decide(gap: pd.DataFrame, runs: pd.DataFrame | None = None, overrides: dict | None = None, **tables: pd.DataFrame):
    inputs = ClaimInputs({"m4_myopia_gap": gap, **tables}, runs_table() if runs is None else runs, SETTINGS)
    return CLAIMS.get("c2").run(inputs, overrides)


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
    deciding = ("learned positions: DiD 0.080 [0.071, 0.089] (16.0% of the baseline-to-optimum gap; threshold 5%), "
                "one-sided p 0.0000, TOST p 1.0000, n = 5")
    rule = ("DiD = gap(sine-shift1) - gap(sine-shift0), gap = myopic-state minus standard held-out loss (mean over "
            "positions, final checkpoint), paired by seed. Supported if the one-sided t-test of DiD > 0 has p < 0.05 "
            "(Holm over cells) and DiD >= 0.05 x the treated task's baseline-to-optimum gap; refuted if TOST shows "
            "|DiD| < 0.05 x that gap at alpha 0.05; mixed otherwise, and whenever standard training did not learn "
            "either task or fewer than 2 seeds pair")

    def interval(mean: str, low: str, high: str) -> dict[str, str]:
        return {"mean": mean, "low": low, "high": high}

    control = interval("0.040", "0.020", "0.060")
    assert result.numbers == {
        "box": {"claim": "C2", "verdict": SUPPORTED, "deciding": deciding, "rule": rule, "kind": "finding"},
        "verdict": SUPPORTED, "treated_task": TREATED, "control_task": CONTROL, "regime": "myopic-state",
        "ablation_regime": "myopic-full", "alpha": "0.05", "min_relative_did_pct": "5", "equivalence_margin_pct": "5",
        "n_cells": "1", "pos_encoding": "learned", "steps": "100", "heads": "8", "span": "0.500", "threshold": "0.0250",
        "margin": "0.0250", "learned_treated": True, "learned_control": True,
        "state": {"did": interval("0.080", "0.071", "0.089"), "did_pct": "16.0", "did_p": "0.0000",
                  "did_p_holm": "0.0000", "did_d": "11.31", "tost_p": "1.0000",
                  "gap_treated": interval("0.120", "0.097", "0.143"), "gap_control": control,
                  "gap_control_p": "0.0024", "n_seeds": "5"},
        "state_along": [
            {"step": "50", "did": interval("0.080", "0.071", "0.089"), "gap_treated": "0.120", "gap_control": "0.040"},
            {"step": "100", "did": interval("0.080", "0.071", "0.089"), "gap_treated": "0.120", "gap_control": "0.040"},
        ],
        "full": {"did": interval("0.100", "0.091", "0.109"), "did_pct": "20.0", "did_p": "0.0000",
                 "did_p_holm": "0.0000", "did_d": "14.14", "tost_p": "1.0000",
                 "gap_treated": interval("0.140", "0.117", "0.163"), "gap_control": control,
                 "gap_control_p": "0.0024", "n_seeds": "5"},
        "full_along": [{"step": "100", "did": interval("0.100", "0.091", "0.109"), "gap_treated": "0.140",
                        "gap_control": "0.040"}],
        "probes": [{"layer": "1", "r2_standard": "0.850", "r2_myopic": "0.250",
                    "difference": interval("0.600", "0.512", "0.688"), "p_holm": "0.0000"}],
        "precache_share": {TREATED: interval("0.300", "0.300", "0.300"), CONTROL: interval("0.100", "0.100", "0.100")},
    }


def test_numbers_without_a_deciding_cell_say_so() -> None:
    result = decide(planted(CONTROL_GAP, CONTROL_GAP, regime="myopic-full"))
    box = result.verdicts[0]
    assert box.verdict == MIXED
    assert box.deciding == ("not decided: no myopic-state runs of sine-shift1 and sine-shift0 paired with standard "
                            "runs of the same seed")
    assert {k: v for k, v in result.numbers.items() if k != "box"} == {
        "verdict": MIXED, "treated_task": TREATED, "control_task": CONTROL, "regime": "myopic-state",
        "ablation_regime": "myopic-full", "alpha": "0.05", "min_relative_did_pct": "5", "equivalence_margin_pct": "5",
        "n_cells": "0"}


def test_each_deciding_cell_is_described_and_disagreeing_cells_are_mixed() -> None:
    """Two cells with the same planted DiD (see the numbers test); rope's standard treated runs end at the baseline
    (0.5: not learned), so its cell is mixed, with the reason, and the claim is mixed."""
    did = [0.07, 0.08, 0.09, 0.08, 0.08]
    treated = [c + d for c, d in zip(CONTROL_GAP, did, strict=True)]
    gap = pd.concat([planted(treated, CONTROL_GAP), planted(treated, CONTROL_GAP, encoding="rope")], ignore_index=True)
    runs = runs_table(encodings=("learned", "rope"))
    runs.loc[(runs["pos_encoding"] == "rope") & (runs["task"] == TREATED) & (runs["regime"] == "standard"),
             "final_eval_loss"] = BASELINE
    result = decide(gap, runs)
    cell = ("positions: DiD 0.080 [0.071, 0.089] (16.0% of the baseline-to-optimum gap; threshold 5%), one-sided p 0.0000, "
            "TOST p 1.0000, n = 5")
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
