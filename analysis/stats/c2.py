"""C2 (pre-caching): each position is trained for its own prediction *and* to hold what later positions need.

Decided on ``myopic-state`` (Wu, Morris & Levine 2024: the loss at t sends no gradient
into earlier positions' hidden states) by a difference-in-differences paired by seed:

    DiD = gap(treated) - gap(control),  gap = held-out loss of myopic-state minus standard,

treated = sine shift 1 (sin(f x_t) never helps position t, so only pre-caching makes it
useful), control = sine shift 0 (the same sines, useful at t itself). A gap on the control
is what myopic training costs without any need to pre-cache; the DiD removes it.

Scale: every threshold is a share of the treated task's baseline-to-optimum gap (the loss
a context-free predictor leaves above the optimum). It is a property of the task, not of
how well a run trained, so a stronger standard model does not move the bar.

``myopic-full`` (keys and values of earlier positions detached outright) is reported as a
stricter ablation with its own DiD and control gap; it also removes the gradient that makes
keys findable, so it is expected to cost loss on the control too. Probes (M6) and the
gradient decomposition (M3) are supporting evidence with intervals; they do not decide.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .claims import MIXED, REFUTED, SUPPORTED, Claim, ClaimInputs, ClaimResult, Verdict, register
from .inference import compare_to_zero, equivalence_test, holm, mean_interval
from .learning import with_learning
from .precaching import PARTS, gap_by_position, layer_shares, summarize_shares
from .report import fmt

CELL = ["pos_encoding", "n_layer", "d_model", "n_head", "context", "steps"]  # what a treated/control pair shares
TABLES = ("c2_did", "c2_did_by_step", "c2_gap_by_position", "c2_probes", "c2_shares", "c2_decomposition_shares")


@dataclass(frozen=True)
class Rules:
    treated_task: str = "sine-shift1"  # task label whose sines help only later positions (needs pre-caching)
    control_task: str = "sine-shift0"  # task label whose sines help the position itself (the control)
    regime: str = "myopic-state"  # the deciding myopic regime
    ablation_regime: str = "myopic-full"  # reported beside it, never deciding
    min_relative_did: float = 0.05  # supported needs DiD >= this share of the treated baseline-to-optimum gap
    equivalence_margin: float = 0.05  # refuted needs TOST-equivalence of DiD to 0 within this share of that gap
    probe_feature: str = "sin_freq_x"  # M6 feature: sin(f x_s), needed only by later positions on the treated task

    def __post_init__(self) -> None:
        if self.equivalence_margin > self.min_relative_did:
            raise ValueError("c2: equivalence_margin must not exceed min_relative_did (a DiD could be both)")


def rule_text(rules: Rules, alpha: float) -> str:
    return (
        f"DiD = gap({rules.treated_task}) - gap({rules.control_task}), gap = {rules.regime} minus standard held-out "
        f"loss (mean over positions, final checkpoint), paired by seed. Supported if the one-sided t-test of DiD > 0 "
        f"has p < {alpha} (Holm over cells) and DiD >= {rules.min_relative_did} x the treated task's baseline-to-"
        f"optimum gap; refuted if TOST shows |DiD| < {rules.equivalence_margin} x that gap at alpha {alpha}; mixed "
        "otherwise, and whenever standard training did not learn either task or fewer than 2 seeds pair"
    )


def _with_factors(table: pd.DataFrame, runs: pd.DataFrame) -> pd.DataFrame:
    keep = ["condition", "seed", "task", "regime", *CELL]
    return table.drop(columns=[c for c in keep[2:] if c in table.columns]).merge(
        runs[keep], on=["condition", "seed"], validate="many_to_one"
    )


def _by_seed(gap: pd.DataFrame, task: str, regime: str) -> pd.DataFrame:
    """Mean-over-positions gap as a (step x seed) frame for one task and regime."""
    rows = gap[(gap["task"] == task) & (gap["regime"] == regime) & (gap["t"] == -1)]
    return rows.pivot_table(index="step", columns="seed", values="gap", aggfunc="first")


def _interval_columns(prefix: str, values: np.ndarray, confidence: float) -> dict[str, float]:
    interval = mean_interval(values, confidence)
    return {f"{prefix}_mean": interval.estimate, f"{prefix}_low": interval.low, f"{prefix}_high": interval.high}


def _pair(gap: pd.DataFrame, rules: Rules, regime: str, step: int, settings: Mapping[str, Any]) -> dict[str, Any]:
    """Gaps, DiD and its tests at one checkpoint, over the seeds that have both tasks."""
    treated, control = _by_seed(gap, rules.treated_task, regime), _by_seed(gap, rules.control_task, regime)
    seeds = sorted(set(treated.columns) & set(control.columns))
    gt = treated.loc[step, seeds].to_numpy(float) if step in treated.index else np.array([])
    gc = control.loc[step, seeds].to_numpy(float) if step in control.index else np.array([])
    did = compare_to_zero(gt - gc, settings["confidence"], alternative="greater")
    control_test = compare_to_zero(gc, settings["confidence"], alternative="greater")
    return {
        "regime": regime, "step": step, "n_seeds": did.n,
        **_interval_columns("gap_treated", gt, settings["confidence"]),
        **_interval_columns("gap_control", gc, settings["confidence"]),
        "gap_control_p": control_test.p,
        "did_mean": did.estimate, "did_low": did.low, "did_high": did.high,
        "did_t": did.t, "did_p": did.p, "did_d": did.effect_size, "did_values": gt - gc,
    }


def _in_cell(table: pd.DataFrame, cell: tuple) -> pd.Series:
    return (table[CELL] == pd.Series(cell, index=CELL)).all(axis=1)


def _standard_learned(runs: pd.DataFrame, cell: tuple, rules: Rules) -> dict[str, bool]:
    mine = runs[(runs["regime"] == "standard") & _in_cell(runs, cell)]
    return {task: bool(len(mine[mine["task"] == task]) and mine.loc[mine["task"] == task, "learned"].all())
            for task in (rules.treated_task, rules.control_task)}


def _span(runs: pd.DataFrame, cell: tuple, rules: Rules) -> float:
    """The treated task's baseline-to-optimum gap (NaN if its optimum is unknown)."""
    mine = runs[(runs["task"] == rules.treated_task) & _in_cell(runs, cell)]
    if mine.empty:
        return float("nan")
    return float(mine["baseline_loss"].iloc[0] - mine["optimal_loss"].iloc[0])


def _cell_verdict(row: dict[str, Any], rules: Rules, alpha: float) -> str:
    """The rule applied to one cell's final-checkpoint DiD (the p is the Holm-adjusted one)."""
    if row["n_seeds"] < 2 or not np.isfinite(row["span"]) or not (row["learned_treated"] and row["learned_control"]):
        return MIXED
    if row["did_p_holm"] < alpha and row["did_mean"] >= rules.min_relative_did * row["span"]:
        return SUPPORTED
    if row["tost_p"] < alpha:
        return REFUTED
    return MIXED


def did_tables(gap: pd.DataFrame, runs: pd.DataFrame, rules: Rules, settings: Mapping[str, Any]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(final-checkpoint DiD per cell and regime with the verdict, DiD at every checkpoint)."""
    final_rows, step_rows = [], []
    gap = gap[gap["task"].isin([rules.treated_task, rules.control_task]) & (gap["t"] == -1)]
    for cell, in_cell in gap.groupby(CELL, sort=True):
        cell_values = dict(zip(CELL, cell, strict=True))
        span = _span(runs, cell, rules)
        learned = _standard_learned(runs, cell, rules)
        for regime in (rules.regime, rules.ablation_regime):
            if not in_cell["regime"].eq(regime).any():
                continue
            for step in sorted(in_cell.loc[in_cell["regime"] == regime, "step"].unique()):
                row = _pair(in_cell, rules, regime, int(step), settings)
                values = row.pop("did_values")
                step_rows.append({**cell_values, **row, "did_relative": row["did_mean"] / span})
                if step == cell_values["steps"]:
                    tost = equivalence_test(values, rules.equivalence_margin * span, settings["alpha"])
                    final_rows.append({**cell_values, **row, "span": span, "did_relative": row["did_mean"] / span,
                                       "threshold": rules.min_relative_did * span, "margin": tost.margin,
                                       "tost_p": tost.p, "learned_treated": learned[rules.treated_task],
                                       "learned_control": learned[rules.control_task], "deciding": regime == rules.regime})
    final = pd.DataFrame(final_rows)
    if final_rows:
        final["did_p_holm"] = np.nan
        for rows in final.groupby("regime").groups.values():  # one family per regime: its cells
            final.loc[rows, "did_p_holm"] = holm(final.loc[rows, "did_p"].to_numpy())
        final["verdict"] = [
            _cell_verdict(row, rules, settings["alpha"]) if row["deciding"] else "" for row in final.to_dict("records")
        ]
    return final, pd.DataFrame(step_rows)


def probe_table(probes: pd.DataFrame, runs: pd.DataFrame, rules: Rules, settings: Mapping[str, Any]) -> pd.DataFrame:
    """Treated task, final checkpoint: R^2 of the pre-caching feature, standard minus each myopic regime, by seed."""
    if probes.empty:
        return pd.DataFrame()
    table = _with_factors(probes, runs)
    table = table[(table["task"] == rules.treated_task) & (table["feature"] == rules.probe_feature) & (table["step"] == table["steps"])]
    rows = []
    for (*cell, layer), group in table.groupby([*CELL, "layer"], sort=True):
        by_regime = group.pivot_table(index="seed", columns="regime", values="r2")
        for regime in (rules.regime, rules.ablation_regime):
            if "standard" not in by_regime or regime not in by_regime:
                continue
            difference = compare_to_zero((by_regime["standard"] - by_regime[regime]).dropna().to_numpy(), settings["confidence"], "greater")
            rows.append({**dict(zip(CELL, cell, strict=True)), "layer": layer, "regime": regime,
                         **_interval_columns("r2_standard", by_regime["standard"].to_numpy(), settings["confidence"]),
                         **_interval_columns("r2_myopic", by_regime[regime].to_numpy(), settings["confidence"]),
                         **{f"difference_{k}": v for k, v in difference.as_dict().items()}})
    result = pd.DataFrame(rows)
    if not result.empty:
        result["difference_p_holm"] = holm(result["difference_p"].to_numpy())
    return result


def share_table(decomposition: pd.DataFrame, runs: pd.DataFrame, rules: Rules, settings: Mapping[str, Any]) -> pd.DataFrame:
    """Standard training, final checkpoint: each gradient part's share per layer on treated and control."""
    if decomposition.empty:
        return pd.DataFrame()
    table = _with_factors(layer_shares(decomposition), runs)
    table = table[(table["regime"] == "standard") & table["task"].isin([rules.treated_task, rules.control_task])
                  & (table["step"] == table["steps"])]
    rows = []
    for (*cell, layer, task), group in table.groupby([*CELL, "layer", "task"], sort=True):
        row = {**dict(zip(CELL, cell, strict=True)), "layer": layer, "task": task, "n_seeds": group["seed"].nunique()}
        for part in PARTS:
            row |= _interval_columns(part, group[f"share_{part}"].to_numpy(), settings["confidence"])
        rows.append(row)
    return pd.DataFrame(rows)


def _interval_text(mean: float, low: float, high: float, digits: int = 3) -> dict[str, str]:
    return {"mean": fmt(mean, digits), "low": fmt(low, digits), "high": fmt(high, digits)}


def _regime_numbers(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "did": _interval_text(row["did_mean"], row["did_low"], row["did_high"]),
        "did_pct": fmt(100 * row["did_relative"], 1),
        "did_p": fmt(row["did_p"], 4), "did_p_holm": fmt(row["did_p_holm"], 4), "did_d": fmt(row["did_d"], 2),
        "tost_p": fmt(row["tost_p"], 4),
        "gap_treated": _interval_text(row["gap_treated_mean"], row["gap_treated_low"], row["gap_treated_high"]),
        "gap_control": _interval_text(row["gap_control_mean"], row["gap_control_low"], row["gap_control_high"]),
        "gap_control_p": fmt(row["gap_control_p"], 4),
        "n_seeds": str(int(row["n_seeds"])),
    }


def _numbers(final: pd.DataFrame, by_step: pd.DataFrame, probes: pd.DataFrame, shares: pd.DataFrame,
             verdict: Verdict, rules: Rules, alpha: float) -> dict[str, Any]:
    numbers: dict[str, Any] = {
        "box": verdict.as_dict(), "verdict": verdict.verdict,
        "treated_task": rules.treated_task, "control_task": rules.control_task, "regime": rules.regime,
        "ablation_regime": rules.ablation_regime, "alpha": fmt(alpha, 2),
        "min_relative_did_pct": fmt(100 * rules.min_relative_did, 0),
        "equivalence_margin_pct": fmt(100 * rules.equivalence_margin, 0), "n_cells": str(0),
    }
    decided = final[final["deciding"]] if not final.empty else final
    if decided.empty:
        return numbers
    first = decided.iloc[0]
    cell = tuple(first[c] for c in CELL)
    numbers |= {"n_cells": str(len(decided)), "pos_encoding": str(first["pos_encoding"]), "steps": str(int(first["steps"])),
                "heads": str(int(first["n_layer"]) * int(first["n_head"])),
                "span": fmt(first["span"], 3), "threshold": fmt(first["threshold"], 4), "margin": fmt(first["margin"], 4),
                "learned_treated": bool(first["learned_treated"]), "learned_control": bool(first["learned_control"])}
    for key, regime in (("state", rules.regime), ("full", rules.ablation_regime)):
        mine = final[(final["regime"] == regime) & _in_cell(final, cell)]
        if not mine.empty:
            numbers[key] = _regime_numbers(mine.iloc[0])
        along = by_step[(by_step["regime"] == regime) & _in_cell(by_step, cell)]
        numbers[f"{key}_along"] = [
            {"step": str(int(r["step"])), "did": _interval_text(r["did_mean"], r["did_low"], r["did_high"]),
             "gap_treated": fmt(r["gap_treated_mean"], 3), "gap_control": fmt(r["gap_control_mean"], 3)}
            for r in along.sort_values("step").to_dict("records")
        ]
    if not probes.empty:
        mine = probes[probes["regime"] == rules.regime]
        numbers["probes"] = [
            {"layer": str(int(r["layer"])), "r2_standard": fmt(r["r2_standard_mean"], 3), "r2_myopic": fmt(r["r2_myopic_mean"], 3),
             "difference": _interval_text(r["difference_estimate"], r["difference_low"], r["difference_high"]),
             "p_holm": fmt(r["difference_p_holm"], 4)}
            for r in mine.sort_values("layer").to_dict("records")
        ]
    if not shares.empty:
        everything = shares[shares["layer"] == -2]
        numbers["precache_share"] = {
            str(r["task"]): _interval_text(r["precache_mean"], r["precache_low"], r["precache_high"])
            for r in everything.to_dict("records")
        }
    return numbers


def _claim_verdict(final: pd.DataFrame, rules: Rules, alpha: float) -> Verdict:
    """Every deciding cell's verdict agrees -> that word; cells disagree -> mixed; no cell -> mixed, not decided."""
    decided = final[final["deciding"]] if not final.empty else final
    rule = rule_text(rules, alpha)
    if decided.empty:
        return Verdict("C2", MIXED, f"not decided: no {rules.regime} runs of {rules.treated_task} and "
                       f"{rules.control_task} paired with standard runs of the same seed", rule)
    words = set(decided["verdict"])
    word = words.pop() if len(words) == 1 else MIXED
    parts = []
    for row in decided.to_dict("records"):
        reason = "" if row["learned_treated"] and row["learned_control"] else "; standard training did not learn both tasks"
        parts.append(
            f"{row['pos_encoding']} positions: DiD {fmt(row['did_mean'], 3)} [{fmt(row['did_low'], 3)}, {fmt(row['did_high'], 3)}] "
            f"({fmt(100 * row['did_relative'], 1)}% of the baseline-to-optimum gap; threshold {fmt(100 * rules.min_relative_did, 0)}%), "
            f"one-sided p {fmt(row['did_p_holm'], 4)}, TOST p {fmt(row['tost_p'], 4)}, n = {int(row['n_seeds'])}{reason}"
        )
    return Verdict("C2", word, "; ".join(parts), rule)


def decide(inputs: ClaimInputs, rules: Rules) -> ClaimResult:
    runs = inputs.runs if "learned" in inputs.runs else with_learning(inputs.runs, inputs.settings)
    gap = inputs.tables.get("m4_myopia_gap", pd.DataFrame())
    final, by_step = did_tables(gap, runs, rules, inputs.settings) if not gap.empty else (pd.DataFrame(), pd.DataFrame())
    positions = gap_by_position(gap, inputs.settings) if not gap.empty else pd.DataFrame()
    probes = probe_table(inputs.tables.get("m6_probes", pd.DataFrame()), runs, rules, inputs.settings)
    decomposition = inputs.tables.get("m3_decomposition", pd.DataFrame())
    shares = share_table(decomposition, runs, rules, inputs.settings)
    every = summarize_shares(layer_shares(decomposition), runs, inputs.settings) if not decomposition.empty else pd.DataFrame()
    verdict = _claim_verdict(final, rules, inputs.settings["alpha"])
    numbers = _numbers(final, by_step, probes, shares, verdict, rules, inputs.settings["alpha"])
    tables = {"c2_did": final, "c2_did_by_step": by_step, "c2_gap_by_position": positions, "c2_probes": probes, "c2_shares": shares,
              "c2_decomposition_shares": every}  # every condition, step and layer: the decomposition figure
    return ClaimResult([verdict], tables, numbers)


CLAIM = register(Claim("c2", ("m4_myopia_gap", "m6_probes", "m3_decomposition"), TABLES, Rules, decide))
