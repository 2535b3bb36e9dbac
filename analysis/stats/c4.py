"""C4: "the gradient of the loss of a later token flows through all earlier tokens in the same way ...
neither for the information flow nor for the gradient flow", decided as C4a and C4b.

* C4a, structure. Check (structural): in a causal transformer every earlier source is
  one attention hop away in every layer, so G^l[t, s] > 0 for all s < t below the last
  layer. Finding: at initialisation the within-row profile is flat, i.e. the
  within-row slope of log G against log(d + 1) (``distance.within_row_slope``) is
  equivalent to 0 within ``flat_margin`` (TOST over seeds), or differs from 0 by more
  than the margin (either direction).
* C4b, trained: do trained within-row magnitudes depend on distance? Decided on the
  tasks in ``trained_tasks`` (the known-distance task ``lag`` and text), every trained
  standard condition that learned its task. On ``lag`` the cells at the known
  dependency distance are left out of the fit (the needed source is a peak by design;
  its row-normalised height is reported apart).
* Information: the loss increase when context beyond distance D is removed or
  shuffled (table ``m7_context_distance``), against D, trained standard conditions.

Verdict rule of each finding, over its family of conditions (Holm within the family):
supported if at least ``min_share`` of them are equivalent to flat (TOST p < alpha);
refuted if at least ``min_share`` of them differ beyond the margin, either way (a rise is no
more "the same way" than a fall), with p < alpha; mixed otherwise, including an empty family.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from . import distance
from .claims import MIXED, REFUTED, STRUCTURAL, SUPPORTED, Claim, ClaimInputs, ClaimResult, Verdict, register
from .inference import compare_to_zero, equivalence_test, holm, mean_interval
from .report import fmt

STANDARD = "standard"
EQUIVALENT, BEYOND, UNDECIDED = "flat (equivalent)", "beyond margin", "undecided"
SUMMARY_KEYS = ["condition", "step", "layer"]


@dataclass(frozen=True)
class Rules:
    layer: int = 0  # residual-stream layer the findings are decided at (0: the token inputs)
    flat_margin: float = 0.1  # equivalence margin on the within-row slope of log G against log(d + 1)
    min_share: float = 0.75  # share of a family's conditions that must agree for supported / refuted (> 0.5)
    aic_margin: float = 2.0  # |AIC(power law) - AIC(exponential)| at least this picks a law, else indistinguishable
    trained_tasks: str = "lag,text"  # task names (runs.task_name) C4b is decided on, comma-separated
    pos_encodings: str = "learned"  # encodings whose conditions decide C4a and C4b; the others are descriptive breadth
    fixed_distances: str = "1,2,4,8,16"  # distances of the position profile (profile at fixed d against source s)

    def __post_init__(self) -> None:
        if not 0.5 < self.min_share <= 1.0:
            raise ValueError(f"min_share {self.min_share}: must lie in (0.5, 1] so supported and refuted exclude each other")
        if self.flat_margin <= 0:
            raise ValueError(f"flat_margin {self.flat_margin}: must be positive")


# --- compute ---------------------------------------------------------------------------------


def condition_info(runs: pd.DataFrame, settings: dict[str, Any]) -> pd.DataFrame:
    """One row per standard condition: its factors, ``learned`` and the known dependency distance (lag)."""
    columns = ["condition", "task", "task_name", "pos_encoding", "context", "n_layer", "steps", "learned", "dependency"]
    standard = runs[runs["regime"] == STANDARD] if len(runs) else runs
    if standard.empty:
        return pd.DataFrame(columns=columns)
    if "learned" not in standard.columns:
        learned = pd.Series(True, index=standard["condition"].unique())
        if {"learned_margin", "learned_gap_share"} <= set(settings):
            from .learning import with_learning

            learned = with_learning(standard, settings).groupby("condition")["learned"].all()
    else:
        learned = standard.groupby("condition")["learned"].all()
    info = standard.drop_duplicates("condition").set_index("condition")
    info = info.assign(learned=learned.reindex(info.index).fillna(True).astype(bool))
    known = info["task_distance"] if "task_distance" in info.columns else pd.Series(np.nan, index=info.index)
    info["dependency"] = known.where(info["task_name"] == "lag")
    return info.reset_index()[columns]


def structural_reach(m1: pd.DataFrame, info: pd.DataFrame) -> pd.DataFrame:
    """Per standard condition and layer below the last: earlier (t, s < t) pairs zero in some run, zero in every run."""
    columns = ["condition", "layer", "n_pairs", "zero_somewhere", "zero_everywhere", "smallest_gradient"]
    if m1.empty or info.empty:
        return pd.DataFrame(columns=columns)
    blocks = info.set_index("condition")["n_layer"]
    earlier = distance.below_last_layer(m1[(m1["s"] < m1["t"]) & m1["condition"].isin(blocks.index)], blocks)
    pairs = earlier.groupby(["condition", "layer", "t", "s"])["grad_norm_mean"].agg(["min", "max"])
    table = pairs.groupby(["condition", "layer"]).agg(
        n_pairs=("min", "size"),
        zero_somewhere=("min", lambda v: int((v <= 0).sum())),
        zero_everywhere=("max", lambda v: int((v <= 0).sum())),
        smallest_gradient=("min", "min"),
    )
    return table.reset_index()[columns]


def final_steps(m1: pd.DataFrame) -> pd.Series:
    """The last measured checkpoint of each condition (its trained model)."""
    return m1.groupby("condition")["step"].max()


def slope_summary(slopes: pd.DataFrame, fits: pd.DataFrame, pooled: pd.DataFrame, rules: Rules, confidence: float, alpha: float) -> pd.DataFrame:
    """Per condition, step and layer over seeds: within-row slope (interval, TOST, test beyond the margin),
    the pooled-profile slope beside it, and the law fits (exponent p with its interval, AIC preferences)."""
    rows = []
    for (condition, step, layer), group in slopes.groupby(SUMMARY_KEYS, sort=True):
        values = group["slope"].to_numpy(float)
        slope = compare_to_zero(values, confidence)
        tost = equivalence_test(values, rules.flat_margin, alpha)
        mine = fits[(fits["condition"] == condition) & (fits["step"] == step) & (fits["layer"] == layer)]
        exponent = mean_interval(mine.loc[mine["preferred"] != distance.FLAT, "power_p"].to_numpy(float), confidence)  # p of a flat profile means nothing
        contrast = pooled[(pooled["condition"] == condition) & (pooled["step"] == step) & (pooled["layer"] == layer)]
        pooled_slope = mean_interval(contrast["slope"].to_numpy(float), confidence)
        preferred = mine["preferred"].value_counts()
        rows.append({
            "condition": condition, "step": step, "layer": layer,
            "slope_mean": slope.estimate, "slope_low": slope.low, "slope_high": slope.high, "slope_d": slope.effect_size,
            "tost_p": tost.p, "falling_p": _beyond_p(values, rules.flat_margin, "less"),
            "beyond_p": _beyond_p(values, rules.flat_margin, "two-sided"),
            "pooled_slope_mean": pooled_slope.estimate, "pooled_slope_low": pooled_slope.low, "pooled_slope_high": pooled_slope.high,
            "power_p_mean": exponent.estimate, "power_p_low": exponent.low, "power_p_high": exponent.high,
            "n_power_law": int(preferred.get(distance.POWER_LAW, 0)), "n_exponential": int(preferred.get(distance.EXPONENTIAL, 0)),
            "n_indistinguishable": int(preferred.get(distance.INDISTINGUISHABLE, 0)), "n_flat": int(preferred.get(distance.FLAT, 0)),
            "n_seeds": slope.n,
        })
    columns = ["condition", "step", "layer", "slope_mean", "slope_low", "slope_high", "slope_d", "tost_p", "falling_p",
               "beyond_p", "pooled_slope_mean", "pooled_slope_low", "pooled_slope_high", "power_p_mean", "power_p_low",
               "power_p_high", "n_power_law", "n_exponential", "n_indistinguishable", "n_flat", "n_seeds"]
    return pd.DataFrame(rows, columns=columns)


def _beyond_p(values: np.ndarray, margin: float, alternative: str) -> float:
    """One-sided t-test that the mean slope lies below -margin ("less"), or beyond it either way (Bonferroni over the two)."""
    below = compare_to_zero(np.asarray(values, float) + margin, 0.95, alternative="less").p
    if alternative == "less":
        return below
    above = compare_to_zero(np.asarray(values, float) - margin, 0.95, alternative="greater").p
    return float(min(1.0, 2 * np.nanmin([below, above]))) if np.isfinite([below, above]).any() else float("nan")


def dependency_height(m1: pd.DataFrame, info: pd.DataFrame, s_min: int, layer: int, confidence: float) -> pd.DataFrame:
    """On lag conditions: G at the known dependency relative to its row's mean (1 = no peak), per step, over seeds."""
    known = info.dropna(subset=["dependency"])
    rows = []
    for condition, dependency in zip(known["condition"], known["dependency"].astype(int), strict=True):
        table = distance.row_normalised(m1[(m1["condition"] == condition) & (m1["layer"] == layer)], s_min)
        table = table[(table["distance"] == dependency) & (table["s"] >= s_min)]
        for step, group in table.groupby("step"):
            interval = mean_interval(group.groupby("seed")["relative"].mean().to_numpy(), confidence)
            rows.append({"condition": condition, "step": step, "layer": layer, "dependency": dependency,
                         "height_mean": interval.estimate, "height_low": interval.low, "height_high": interval.high,
                         "n_seeds": interval.n})
    return pd.DataFrame(rows, columns=["condition", "step", "layer", "dependency", "height_mean", "height_low", "height_high", "n_seeds"])


def context_distance_summary(table: pd.DataFrame, info: pd.DataFrame, confidence: float) -> pd.DataFrame:
    """Loss increase against D when context beyond distance D is removed or shuffled, trained standard conditions.

    Per seed the increase is averaged over targets t > D (rows where some context lies
    beyond D); intervals are Student t over seeds.
    """
    columns = ["condition", "step", "D", "truncated_mean", "truncated_low", "truncated_high",
               "shuffled_mean", "shuffled_low", "shuffled_high", "n_seeds"]
    if table is None or table.empty or info.empty:
        return pd.DataFrame(columns=columns)
    mine = table[table["condition"].isin(info["condition"]) & (table["t"] > table["D"])]
    mine = mine[mine["step"] == mine["condition"].map(mine.groupby("condition")["step"].max())]
    mine = mine.assign(truncated=mine["loss_truncated"] - mine["loss_full"], shuffled=mine["loss_shuffled"] - mine["loss_full"])
    per_seed = mine.groupby(["condition", "step", "D", "seed"], as_index=False)[["truncated", "shuffled"]].mean()
    rows = []
    for (condition, step, horizon), group in per_seed.groupby(["condition", "step", "D"]):
        truncated = mean_interval(group["truncated"].to_numpy(), confidence)
        shuffled = mean_interval(group["shuffled"].to_numpy(), confidence)
        rows.append({"condition": condition, "step": step, "D": horizon,
                     "truncated_mean": truncated.estimate, "truncated_low": truncated.low, "truncated_high": truncated.high,
                     "shuffled_mean": shuffled.estimate, "shuffled_low": shuffled.low, "shuffled_high": shuffled.high,
                     "n_seeds": truncated.n})
    return pd.DataFrame(rows, columns=columns)


# --- verdicts --------------------------------------------------------------------------------


def family_tests(family: pd.DataFrame, beyond_column: str, alpha: float) -> pd.DataFrame:
    """Holm-adjust the TOST and beyond-margin p-values over a family and label each condition."""
    family = family.copy()
    family["tost_p_holm"] = holm(family["tost_p"].to_numpy(float))
    family["beyond_p_holm"] = holm(family[beyond_column].to_numpy(float))
    family["outcome"] = np.where(
        family["tost_p_holm"] < alpha, EQUIVALENT, np.where(family["beyond_p_holm"] < alpha, BEYOND, UNDECIDED)
    )
    return family


def family_verdict(family: pd.DataFrame, min_share: float) -> str:
    """supported if >= min_share of the family is equivalent to flat, refuted if >= min_share is beyond the margin."""
    if family.empty:
        return MIXED
    if (family["outcome"] == EQUIVALENT).mean() >= min_share:
        return SUPPORTED
    if (family["outcome"] == BEYOND).mean() >= min_share:
        return REFUTED
    return MIXED


def _deciding(family: pd.DataFrame, what: str) -> str:
    if family.empty:
        return f"no {what} condition to decide on"
    counts = family["outcome"].value_counts()
    slopes = "; ".join(
        f"{r.condition}: {fmt(r.slope_mean)} [{fmt(r.slope_low)}, {fmt(r.slope_high)}]" for r in family.itertuples()
    )
    return (f"{counts.get(EQUIVALENT, 0)} of {len(family)} {what} conditions flat (TOST), "
            f"{counts.get(BEYOND, 0)} beyond the margin; within-row slopes {slopes}")


def structural_verdict(reach: pd.DataFrame) -> Verdict:
    """Every earlier source reached in every layer below the last, in every standard run and checkpoint."""
    rule = ("supported if G^l[t, s] > 0 for every s < t and layer l < L in every standard run and checkpoint; "
            "refuted if some pair is 0 in every run of a condition; mixed otherwise")
    if reach.empty:
        return Verdict("C4a", MIXED, "no standard run measured", rule, STRUCTURAL)
    somewhere, everywhere = int(reach["zero_somewhere"].sum()), int(reach["zero_everywhere"].sum())
    word = REFUTED if everywhere else (MIXED if somewhere else SUPPORTED)
    deciding = (f"{int(reach['n_pairs'].sum()) - somewhere} of {int(reach['n_pairs'].sum())} (condition, layer, t, s < t) "
                f"pairs non-zero in every run; smallest gradient {reach['smallest_gradient'].min():.2e}")
    return Verdict("C4a", word, deciding, rule, STRUCTURAL)


# --- numbers ---------------------------------------------------------------------------------


def _condition_rows(family: pd.DataFrame, info: pd.DataFrame) -> list[dict[str, str]]:
    merged = family.merge(info, on="condition", how="left")
    return [
        {
            "condition": r.condition, "task": str(r.task), "pos_encoding": str(r.pos_encoding), "context": str(r.context),
            "slope": fmt(r.slope_mean), "slope_low": fmt(r.slope_low), "slope_high": fmt(r.slope_high),
            "tost_p": fmt(r.tost_p_holm, 3), "beyond_p": fmt(r.beyond_p_holm, 3), "outcome": r.outcome,
            "pooled_slope": fmt(r.pooled_slope_mean), "n_seeds": str(r.n_seeds),
            "excluded_distance": "" if pd.isna(r.dependency) else str(int(r.dependency)),
        }
        for r in merged.itertuples()
    ]


def exponents_by_encoding(summary: pd.DataFrame, info: pd.DataFrame, steps: dict[str, int], layer: int) -> list[dict[str, str]]:
    """Power-law exponent p (mean over seeds with its interval) and AIC preferences, per condition at init and trained."""
    rows = []
    merged = summary[summary["layer"] == layer].merge(info, on="condition")
    for r in merged.sort_values(["task", "pos_encoding", "context", "step"]).itertuples():
        stage = "init" if r.step == 0 else ("trained" if r.step == steps.get(r.condition) else None)
        if stage is None:
            continue
        rows.append({"task": str(r.task), "pos_encoding": str(r.pos_encoding), "context": str(r.context), "stage": stage,
                     "p": fmt(r.power_p_mean), "p_low": fmt(r.power_p_low), "p_high": fmt(r.power_p_high),
                     "power_law": str(r.n_power_law), "exponential": str(r.n_exponential),
                     "indistinguishable": str(r.n_indistinguishable), "flat": str(r.n_flat), "n_seeds": str(r.n_seeds)})
    return rows


def information_numbers(summary: pd.DataFrame) -> dict[str, Any]:
    if summary.empty:
        return {"measured": False, "status": "not measured", "rows": []}
    rows = [{"condition": r.condition, "D": str(r.D),
             "truncated": fmt(r.truncated_mean, 3), "truncated_low": fmt(r.truncated_low, 3), "truncated_high": fmt(r.truncated_high, 3),
             "shuffled": fmt(r.shuffled_mean, 3), "shuffled_low": fmt(r.shuffled_low, 3), "shuffled_high": fmt(r.shuffled_high, 3),
             "n_seeds": str(r.n_seeds)} for r in summary.itertuples()]
    return {"measured": True, "status": "measured", "rows": rows}


# --- decide ----------------------------------------------------------------------------------


def _settings(settings: dict[str, Any]) -> tuple[int, int, float, float]:
    return int(settings.get("s_min", 2)), int(settings.get("d_min", 1)), float(settings.get("confidence", 0.95)), float(settings.get("alpha", 0.05))


def decide(inputs: ClaimInputs, rules: Rules) -> ClaimResult:
    s_min, d_min, confidence, alpha = _settings(dict(inputs.settings))
    info = condition_info(inputs.runs, dict(inputs.settings))
    m1 = inputs.tables.get("m1_gradient_matrix", pd.DataFrame(columns=[*distance.KEYS, "t", "s", "distance", "grad_norm_mean"]))
    m1 = m1[m1["condition"].isin(info["condition"])]
    blocks = info.set_index("condition")["n_layer"]
    steps = final_steps(m1).to_dict()
    exclude = {c: int(d) for c, d in zip(info["condition"], info["dependency"], strict=True) if pd.notna(d)}

    below = distance.below_last_layer(m1, blocks)
    cells = distance.fit_cells(below, s_min, d_min, exclude)
    slopes = distance.within_row_slope(cells)
    profile = distance.within_row_profile(cells)
    ends = profile[(profile["step"] == 0) | (profile["step"] == profile["condition"].map(steps))]
    fits = distance.fit_laws(ends, rules.aic_margin)
    pooled = distance.fit_power_law(distance.distance_profile(below, s_min), d_min, blocks.to_dict())
    summary = slope_summary(slopes, fits, pooled, rules, confidence, alpha)

    encodings = [name.strip() for name in rules.pos_encodings.split(",") if name.strip()]
    deciding = info[info["pos_encoding"].isin(encodings)]["condition"]
    at_layer = summary[(summary["layer"] == rules.layer) & summary["condition"].isin(deciding)]
    init = family_tests(at_layer[at_layer["step"] == 0], "beyond_p", alpha)
    tasks = [name.strip() for name in rules.trained_tasks.split(",") if name.strip()]
    eligible = info[info["task_name"].isin(tasks) & info["learned"]
                    & ~((info["task_name"] == "lag") & info["dependency"].isna())]  # lag without its distance: not decidable
    trained_rows = at_layer[at_layer["condition"].isin(eligible["condition"])
                            & (at_layer["step"] == at_layer["condition"].map(steps))]
    trained = family_tests(trained_rows, "beyond_p", alpha)  # "the same way": a rise beyond the margin refutes too

    reach = structural_reach(m1, info)
    fixed = [int(d) for d in rules.fixed_distances.split(",") if d.strip()]
    position = distance.summarize_position_profile(distance.position_profile(below, fixed, s_min), confidence)
    first = distance.summarize_first_position(distance.first_position_ratio(below, s_min), confidence)
    heights = dependency_height(below, info, s_min, rules.layer, confidence)
    information = context_distance_summary(inputs.tables.get("m7_context_distance"), info, confidence)

    rule_a = (f"at initialisation, layer {rules.layer}, {', '.join(encodings)} positions: per condition, TOST of the per-seed within-row slope of log G on "
              f"log(d+1) against +-{rules.flat_margin} and a test beyond it either way (Holm over conditions, alpha {alpha}); "
              f"supported if >= {rules.min_share:.0%} of conditions are equivalent to flat, refuted if >= {rules.min_share:.0%} "
              "are beyond the margin, mixed otherwise")
    rule_b = (f"trained, layer {rules.layer}, {', '.join(encodings)} positions, tasks {', '.join(tasks)} (learned conditions; lag without its dependency distance): "
              f"TOST against +-{rules.flat_margin} and a test of |slope| > {rules.flat_margin} either way (Holm, alpha {alpha}); "
              f"supported if >= {rules.min_share:.0%} equivalent to flat, refuted if >= {rules.min_share:.0%} lie beyond the margin, "
              "mixed otherwise")
    verdicts = [
        structural_verdict(reach),
        Verdict("C4a", family_verdict(init, rules.min_share), _deciding(init, "initial"), rule_a),
        Verdict("C4b", family_verdict(trained, rules.min_share), _deciding(trained, "trained"), rule_b),
    ]
    numbers = {
        "rules": {"layer": str(rules.layer), "flat_margin": fmt(rules.flat_margin), "min_share_pct": fmt(100 * rules.min_share, 0),
                  "aic_margin": fmt(rules.aic_margin, 0), "alpha": fmt(alpha), "confidence_pct": fmt(100 * confidence, 0),
                  "s_min": str(s_min), "d_min": str(d_min), "trained_tasks": ", ".join(tasks)},
        "structure_verdict": verdicts[0].as_dict(), "c4a_verdict": verdicts[1].as_dict(), "c4b_verdict": verdicts[2].as_dict(),
        "structure": {"pairs": str(int(reach["n_pairs"].sum()) if len(reach) else 0),
                      "zero_somewhere": str(int(reach["zero_somewhere"].sum()) if len(reach) else 0)},
        "init": _condition_rows(init, info),
        "trained": _condition_rows(trained, info),
        "exponents": exponents_by_encoding(summary, info, steps, rules.layer),
        "dependency_height": [{"condition": r.condition, "step": str(r.step), "dependency": str(r.dependency),
                               "height": fmt(r.height_mean), "low": fmt(r.height_low), "high": fmt(r.height_high)}
                              for r in heights.itertuples()],
        "first_position": [{"condition": r.condition, "step": str(r.step), "ratio": fmt(r.ratio_mean),
                            "low": fmt(r.ratio_low), "high": fmt(r.ratio_high)}
                           for r in first[first["layer"] == rules.layer].itertuples()],
        "information": information_numbers(information),
    }
    tables = {
        "c4_slopes": slopes, "c4_profile": profile, "c4_profile_summary": distance.summarize_profile(profile, confidence),
        "c4_fits": fits, "c4_summary": summary, "c4_decision": pd.concat([init.assign(family="C4a"), trained.assign(family="C4b")],
                                                                          ignore_index=True),
        "c4_position_profile": position, "c4_first_position": first, "c4_dependency_height": heights,
        "c4_context_distance": information,
    }
    return ClaimResult(verdicts=verdicts, tables=tables, numbers=numbers)


OUTPUTS = ("c4_slopes", "c4_profile", "c4_profile_summary", "c4_fits", "c4_summary", "c4_decision",
           "c4_position_profile", "c4_first_position", "c4_dependency_height", "c4_context_distance")

CLAIM = register(Claim("c4", ("m1_gradient_matrix", "m7_context_distance"), OUTPUTS, Rules, decide))
