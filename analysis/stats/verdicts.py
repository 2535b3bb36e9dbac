"""One verdict per claim (supported / refuted / mixed), computed from the statistics by rules fixed in advance.

The thresholds live in the config (``stats.verdicts``), are printed in the paper's
methods, and were set before the study's results were looked at. Each verdict
carries the number that decided it, with its interval where it has one.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

SUPPORTED, REFUTED, MIXED = "supported", "refuted", "mixed"


@dataclass(frozen=True)
class Verdict:
    claim: str
    verdict: str
    deciding: str  # the deciding number(s) in words
    rule: str  # the rule that was applied, as stated in the methods

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


def _num(value: float, digits: int = 2) -> str:
    return "n/a" if value is None or not np.isfinite(value) else f"{value:.{digits}f}"


def _ratio(log10_value: float) -> str:
    """A ratio given as log10, printed plainly with two significant digits (0.0089)."""
    return "n/a" if not np.isfinite(log10_value) else f"{10 ** log10_value:.2g}"


def c1_reach(reach: pd.DataFrame, thresholds: dict[str, Any]) -> Verdict:
    """C1: every earlier position receives gradient from a later loss (layers below the last, trained standard runs)."""
    standard = reach[(reach["regime"] == "standard") & ~reach["last_layer"]]
    trained = standard[standard["step"] == standard.groupby("condition")["step"].transform("max")]
    smallest = float(trained["fraction_reached"].min())
    verdict = SUPPORTED if smallest >= thresholds["c1_min_fraction"] else REFUTED
    return Verdict(
        "C1", verdict,
        f"smallest fraction of earlier positions reached: {_num(smallest, 3)} over {trained['condition'].nunique()} conditions",
        f"supported if every trained standard run sends non-zero gradient to at least {thresholds['c1_min_fraction']:.0%} of earlier positions at every layer below the last",
    )


def c2_precaching(gap: pd.DataFrame, probes: pd.DataFrame, thresholds: dict[str, Any]) -> Verdict:
    """C2: myopic-full training loses loss on every task, and the pre-caching feature is linearly present only with standard training."""
    alpha = thresholds["alpha"]
    full = gap[gap["regime"] == "myopic-full"]
    gap_ok = bool(len(full)) and bool(((full["gap_low"] > 0) & (full["gap_p_holm"] < alpha)).all())
    task = thresholds["c2_probe_task"]
    mine = probes[(probes["task"] == task) & (probes["regime"] == "myopic-full")]
    best = mine.loc[mine["difference_estimate"].idxmax()] if len(mine) else None
    probe_ok = best is not None and best["difference_low"] > 0 and best["difference_p_holm"] < alpha
    verdict = SUPPORTED if gap_ok and probe_ok else (REFUTED if not gap_ok and not probe_ok else MIXED)
    smallest = full.loc[full["gap_estimate"].idxmin()] if len(full) else None
    deciding = (
        f"smallest myopic-full gap {_num(smallest['gap_estimate'], 3)} [{_num(smallest['gap_low'], 3)}, {_num(smallest['gap_high'], 3)}] ({smallest['task']})"
        if smallest is not None else "no myopic-full runs"
    )
    if best is not None:
        deciding += (
            f"; probe R² standard minus myopic-full on {task}, layer {int(best['layer'])}: "
            f"{_num(best['difference_estimate'])} [{_num(best['difference_low'])}, {_num(best['difference_high'])}]"
        )
    return Verdict(
        "C2", verdict, deciding,
        f"supported if the myopic-full gap is above 0 (interval above 0, Holm p < {alpha}) on every task trained myopically "
        f"and the probe R² of the pre-caching feature on {task} is higher with standard training at some layer (same test); "
        "refuted if neither holds",
    )


def c3_coverage(middle: pd.DataFrame, thresholds: dict[str, Any]) -> Verdict:
    """C3 (retracted in the discussion): a mid-context loss reaches only about half of the weights."""
    standard = middle[middle["regime"] == "standard"]
    smallest = float(standard["coverage"].min())
    if smallest >= thresholds["c3_full"]:
        verdict = REFUTED
    elif float(standard["coverage"].max()) <= thresholds["c3_half"]:
        verdict = SUPPORTED
    else:
        verdict = MIXED
    return Verdict(
        "C3", verdict,
        f"smallest coverage of a shared weight matrix by the mid-context loss: {_num(smallest, 3)} ({len(standard)} runs)",
        f"refuted if every shared weight matrix has coverage ≥ {thresholds['c3_full']} at t = T/2 in every trained standard run; "
        f"supported if none exceeds {thresholds['c3_half']}",
    )


def c4_distance(summary: pd.DataFrame, thresholds: dict[str, Any]) -> Verdict:
    """C4: a later loss reaches earlier tokens in the same way whatever the distance (slope 0)."""
    alpha = thresholds["alpha"]
    n = len(summary)
    decreasing = int(((summary["slope_high"] < 0) & (summary["slope_p_holm"] < alpha)).sum())
    flat = int(((summary["slope_low"] <= 0) & (summary["slope_high"] >= 0)).sum())
    share = decreasing / n if n else float("nan")
    if share >= thresholds["c4_share"]:
        verdict = REFUTED
    elif n and flat / n >= thresholds["c4_share"]:
        verdict = SUPPORTED
    else:
        verdict = MIXED
    return Verdict(
        "C4", verdict,
        f"layer-0 slope below 0 in {decreasing} of {n} trained standard conditions (Holm p < {alpha}); interval covers 0 in {flat}",
        f"refuted if at least {thresholds['c4_share']:.0%} of trained standard conditions have a layer-0 slope interval below 0 "
        f"with Holm p < {alpha}; supported if at least that share have intervals covering 0",
    )


def c5_teacher_forcing(reach: pd.DataFrame) -> Verdict:
    """C5: nothing flows from one prediction's output to the next input: the last layer reaches only its own position."""
    largest = float(reach[reach["last_layer"]]["max_gradient"].max())
    return Verdict(
        "C5", SUPPORTED if largest == 0.0 else REFUTED,
        f"largest gradient from the loss at t to the last layer's state at any s < t: {largest:g} (every run and checkpoint)",
        "supported if that gradient is exactly 0 everywhere (structural: the prediction at t is not an input at t + 1)",
    )


def c6_channels(ratios: pd.DataFrame, thresholds: dict[str, Any]) -> Verdict:
    """C6: per-token weight updates pass only a minuscule amount of information forward, compared with the context."""
    mine = ratios[(ratios["regime"] == "standard") & (ratios["step_scale"] == "token_share")]
    small, large = np.log10(thresholds["c6_minuscule"]), np.log10(thresholds["c6_comparable"])
    if len(mine) and (mine["log10_ratio_high"] < small).all():
        verdict = SUPPORTED
    elif len(mine) and (mine["log10_ratio_low"] > large).all():
        verdict = REFUTED
    else:
        verdict = MIXED
    worst = mine.loc[mine["log10_ratio_high"].idxmax()] if len(mine) else None
    deciding = (
        f"largest weight/context ratio at one token's share of a step: {_ratio(worst['log10_ratio_mean'])} "
        f"[{_ratio(worst['log10_ratio_low'])}, {_ratio(worst['log10_ratio_high'])}] ({worst['task']}, {worst['pos_encoding']})"
        if worst is not None else "no standard runs"
    )
    return Verdict(
        "C6", verdict, deciding,
        f"supported if, at one token's share of a training step, the interval of the weight/context ratio lies below "
        f"{thresholds['c6_minuscule']} in every trained standard condition; refuted if it lies above {thresholds['c6_comparable']} in all",
    )
