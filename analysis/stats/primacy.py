"""Primacy: do the first source positions receive more gradient than the others?

The total gradient source s receives from later losses is the column sum
C^l(s) = sum_{t > s} G^l[t, s]. It falls with s by construction: source s is read by
T - 1 - s later targets, so the first position has the most terms. Dividing by that
count (the per-target column mean) still leaves the row totals in: a late source is
read only by late targets, and a row's total depends on t (at initialisation a row
spreads its gradient over t + 1 sources). Both are reported, labelled as confounded.

The finding is a within-target comparison, the two-way fixed-effects model

    log G^l[t, s] = a_t + b_s        (cells t > s with G > 0)

whose row effects a_t absorb whatever sets a row's total; b is identified up to a
constant, fixed by centring over the sources: primacy(s) = b_s - mean_s' b_s' (natural
log units; exp(primacy) is "times the typical source, read by the same targets").
Within a row, source position and distance move together, so b also absorbs a trend
with distance: a decay with distance (recency) pushes primacy(0) down, never up, and
an exponential decay is indistinguishable from a linear trend in b. C4's first-position
ratio (``distance.first_position_ratio``) is the within-row contrast beside it.
On the known-distance task the cells at its dependency distance are left out of the fit (as in
C4): only sources s <= T - 1 - k have a target that needs them. The last layer is left out
(h^L_s reaches no other position's loss).

A condition "shows primacy" at a stage and layer when the lower Student t bound over
seeds of primacy(0) exceeds 0: a description, not a verdict.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from ..grid import factors_except
from ..models.positional import ENCODING_ORDER
from ..regimes import STANDARD
from . import distance
from .claims import ClaimInputs
from .descriptive import Analysis, AnalysisResult
from .inference import mean_interval
from .report import fmt

KEYS = ["condition", "seed", "step", "layer"]
INIT, TRAINING, TRAINED = "init", "training", "trained"
LAYER = 0  # the residual stream the paper reports: h^0, the gradient each input token receives
# what the paper groups conditions by; regime second, as the summary table has always printed it
FACTORS = ["task", "regime", *factors_except("task", "regime", "n_head", "steps"), "learned"]

SOURCE_COLUMNS = [*KEYS, "s", "primacy", "n_fit", "column_sum", "per_target", "n_targets"]
RUN_COLUMNS = ["condition", "seed", "step", "stage", "layer", "primacy_first", "primacy_early", "column_ratio_first", "n_cells"]
SOURCES_SUMMARY_COLUMNS = ["condition", "stage", "step", "layer", "s",
                           "primacy_mean", "primacy_low", "primacy_high",
                           "column_sum_mean", "column_sum_low", "column_sum_high",
                           "per_target_mean", "per_target_low", "per_target_high", "n_seeds"]
SUMMARY_COLUMNS = ["condition", "stage", "step", "layer",
                   "primacy_first_mean", "primacy_first_low", "primacy_first_high",
                   "primacy_early_mean", "primacy_early_low", "primacy_early_high",
                   "column_ratio_first_mean", "shows_primacy", "n_seeds", *FACTORS]


def earlier_cells(m1: pd.DataFrame, n_blocks: Mapping[str, int]) -> pd.DataFrame:
    """Strictly-below-diagonal cells (t > s) of the layers below the last, for the conditions in ``n_blocks``."""
    known = m1[m1["condition"].isin(list(n_blocks)) & (m1["s"] < m1["t"])]
    return distance.below_last_layer(known, n_blocks)


def source_effects(cells: pd.DataFrame, exclude: Mapping[str, int] | None = None) -> pd.DataFrame:
    """Per run, step and layer: primacy(s), the source effect of log G = a_t + b_s centred over the sources.

    Cells with G > 0 enter; ``exclude`` maps a condition to a distance left out (a task's known
    dependency: on ``lag`` with distance k only sources s <= T - 1 - k have a target that needs
    them, which would otherwise read as primacy). ``distance.fixed_effects_table`` solves
    y = a_t + f_k for any second factor k; here k is the source.
    """
    fit = distance.fit_cells(cells, s_min=0, d_min=1, exclude=exclude)
    table = distance.fixed_effects_table(fit, "s").rename(columns={"n_cells": "n_fit"})
    effect = table["effect"].astype(float)
    table["effect"] = effect - effect.groupby([table[k] for k in KEYS]).transform("mean")  # centred over the sources
    return table.rename(columns={"effect": "primacy"})[[*KEYS, "s", "primacy", "n_fit"]]


def column_sums(cells: pd.DataFrame) -> pd.DataFrame:
    """Per run, step, layer and source: C(s) = sum over t > s of G[t, s], its target count and per-target mean (confounded)."""
    earlier = cells[cells["s"] < cells["t"]]
    table = earlier.groupby([*KEYS, "s"], as_index=False).agg(column_sum=("grad_norm_mean", "sum"), n_targets=("t", "size"))
    return table.assign(per_target=table["column_sum"] / table["n_targets"])


def per_source(cells: pd.DataFrame, exclude: Mapping[str, int] | None = None) -> pd.DataFrame:
    """primacy(s) and its cells in the fit beside the raw column sum and per-target mean, per run, step, layer and source."""
    table = column_sums(cells).merge(source_effects(cells, exclude), on=[*KEYS, "s"], how="left")
    return table.assign(n_fit=table["n_fit"].fillna(0).astype(int))[SOURCE_COLUMNS]


def dependencies(runs: pd.DataFrame) -> dict[str, int]:
    """Condition -> known dependency distance, for the known-distance task (lag) only."""
    if runs.empty or not {"task_name", "task_distance"} <= set(runs.columns):
        return {}
    lag = runs[(runs["task_name"] == "lag") & runs["task_distance"].notna()].drop_duplicates("condition")
    return {row.condition: int(row.task_distance) for row in lag.itertuples()}


def stage_of(steps: pd.Series, final: pd.Series) -> pd.Series:
    """init at step 0, trained at the run's last step (runs.steps), training in between."""
    stage = np.where(steps == 0, INIT, np.where(steps == final, TRAINED, TRAINING))
    return pd.Series(stage, index=steps.index)


def run_table(sources: pd.DataFrame, s_min: int, final_steps: Mapping[str, int]) -> pd.DataFrame:
    """Per run, step and layer: primacy(0), mean primacy over s < s_min, C(0) / mean_s C(s), cells in the fit."""
    if sources.empty:
        return pd.DataFrame(columns=RUN_COLUMNS)
    groups = sources.groupby(KEYS, sort=True)
    table = pd.DataFrame({
        "primacy_first": sources[sources["s"] == 0].set_index(KEYS)["primacy"],
        "primacy_early": sources[sources["s"] < s_min].groupby(KEYS)["primacy"].mean(),
        "column_ratio_first": sources[sources["s"] == 0].set_index(KEYS)["column_sum"] / groups["column_sum"].mean(),
        "n_cells": groups["n_fit"].sum(),
    }).reindex(groups.size().index).reset_index()
    table["stage"] = stage_of(table["step"], table["condition"].map(final_steps))
    return table[RUN_COLUMNS]


def _intervals(table: pd.DataFrame, keys: list[str], values: list[str], confidence: float) -> pd.DataFrame:
    """Mean over seeds with its Student t interval of every column in ``values``, per group of ``keys``."""
    def one(group: pd.DataFrame) -> pd.Series:
        out = {}
        for value in values:
            interval = mean_interval(group[value].to_numpy(float), confidence)
            out |= {f"{value}_mean": interval.estimate, f"{value}_low": interval.low, f"{value}_high": interval.high}
        return pd.Series({**out, "n_seeds": int(group["seed"].nunique())})

    columns = [*keys, *[f"{v}_{k}" for v in values for k in ("mean", "low", "high")], "n_seeds"]
    if table.empty:
        return pd.DataFrame(columns=columns)
    return table.groupby(keys, sort=True)[[*values, "seed"]].apply(one).reset_index()[columns]


def summarize_sources(sources: pd.DataFrame, final_steps: Mapping[str, int], confidence: float) -> pd.DataFrame:
    """primacy(s), C(s) and C(s) / (T - 1 - s) per condition, stage, layer and source, over seeds."""
    staged = sources.assign(stage=stage_of(sources["step"], sources["condition"].map(final_steps)))
    table = _intervals(staged, ["condition", "stage", "step", "layer", "s"], ["primacy", "column_sum", "per_target"], confidence)
    return table[SOURCES_SUMMARY_COLUMNS]


def condition_info(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per condition: the factors the paper groups by, and whether every run of it learned."""
    if runs.empty:
        return pd.DataFrame(columns=["condition", *FACTORS]).set_index("condition")
    info = runs.drop_duplicates("condition").set_index("condition")
    task_learned = runs.groupby("condition")["learned"].all() if "learned" in runs.columns else pd.Series(np.nan, index=info.index)
    info = info.assign(learned=task_learned.reindex(info.index))
    return info.reindex(columns=FACTORS)


def summarize_runs(runs_table: pd.DataFrame, info: pd.DataFrame, confidence: float) -> pd.DataFrame:
    """primacy(0) and the early-source mean per condition, stage and layer over seeds; ``shows_primacy``: low bound > 0."""
    if runs_table.empty:
        return pd.DataFrame(columns=SUMMARY_COLUMNS)
    keys = ["condition", "stage", "step", "layer"]
    table = _intervals(runs_table, keys, ["primacy_first", "primacy_early"], confidence)
    ratio = runs_table.groupby(keys)["column_ratio_first"].mean().rename("column_ratio_first_mean")
    table = table.join(ratio, on=keys).join(info, on="condition")
    table["shows_primacy"] = table["primacy_first_low"] > 0  # NaN bound (one seed) is not > 0
    return table[SUMMARY_COLUMNS]


# --- numbers the paper prints ------------------------------------------------------------------


def _interval_numbers(row: pd.Series | None, prefix: str) -> dict[str, str]:
    if row is None:
        return {"mean": "n/a", "low": "n/a", "high": "n/a", "times": "n/a"}
    mean = row[f"{prefix}_mean"]
    return {"mean": fmt(mean), "low": fmt(row[f"{prefix}_low"]), "high": fmt(row[f"{prefix}_high"]), "times": fmt(np.exp(mean))}


def _first_ratio(first: pd.DataFrame, condition: str, step: int) -> dict[str, str]:
    """C4's first-position ratio at layer ``LAYER`` for one condition and step (read, not recomputed)."""
    mine = first[(first["condition"] == condition) & (first["step"] == step) & (first["layer"] == LAYER)]
    if mine.empty:
        return {"mean": "n/a", "low": "n/a", "high": "n/a"}
    row = mine.iloc[0]
    return {"mean": fmt(row["ratio_mean"]), "low": fmt(row["ratio_low"]), "high": fmt(row["ratio_high"])}


def condition_rows(summary: pd.DataFrame, first: pd.DataFrame) -> list[dict[str, Any]]:
    """Standard conditions at layer ``LAYER``: init and trained primacy(0), shown or not, and C4's first-position ratio."""
    at_layer = summary[(summary["layer"] == LAYER) & (summary["regime"] == STANDARD.name)]
    rows = []
    for condition, group in at_layer.groupby("condition", sort=False):
        stages = {stage: group[group["stage"] == stage].iloc[0] if (group["stage"] == stage).any() else None for stage in (INIT, TRAINED)}
        info = group.iloc[0]
        rows.append({
            "condition": condition, "task": info["task"], "pos_encoding": info["pos_encoding"], "n_layer": str(info["n_layer"]),
            "d_model": str(info["d_model"]), "context": str(info["context"]), "learned": "yes" if info["learned"] is True or info["learned"] == 1 else "no",
            "n_seeds": str(int(group["n_seeds"].max())),
            **{f"{stage}": _interval_numbers(row, "primacy_first") for stage, row in stages.items()},
            **{f"{stage}_shows": bool(row is not None and row["shows_primacy"]) for stage, row in stages.items()},
            **{f"{stage}_c4_ratio": _first_ratio(first, condition, row["step"]) if row is not None else _first_ratio(first, "", -1)
               for stage, row in stages.items()},
        })
    order = {name: i for i, name in enumerate(ENCODING_ORDER)}
    return sorted(rows, key=lambda r: (order.get(r["pos_encoding"], len(order)), r["task"], int(r["context"]), int(r["n_layer"])))


def encoding_counts(rows: list[dict[str, Any]]) -> list[dict[str, str]]:
    """Per encoding: conditions reported, and how many show primacy at init and after training."""
    counts = []
    for encoding in dict.fromkeys(r["pos_encoding"] for r in rows):
        mine = [r for r in rows if r["pos_encoding"] == encoding]
        counts.append({"pos_encoding": encoding, "n": str(len(mine)),
                       "init_shows": str(sum(r["init_shows"] for r in mine)),
                       "trained_shows": str(sum(r["trained_shows"] for r in mine))})
    return counts


def depth_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The conditions of ``rows`` whose sets differ only in n_layer (two depths or more), ordered by depth."""
    factors = ["task", "pos_encoding", "d_model", "context"]
    groups: dict[tuple, list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(tuple(row[f] for f in factors), []).append(row)
    kept = [sorted(group, key=lambda r: int(r["n_layer"])) for group in groups.values()
            if len({r["n_layer"] for r in group}) > 1]
    return [row for group in kept for row in group]


def layer_counts(summary: pd.DataFrame) -> list[dict[str, str]]:
    """Per layer below the last: standard conditions showing primacy at init and trained, of how many."""
    standard = summary[summary["regime"] == STANDARD.name]
    counts = []
    for layer, group in standard.groupby("layer", sort=True):
        by_stage = {stage: group[group["stage"] == stage] for stage in (INIT, TRAINED)}
        counts.append({"layer": str(layer), "n": str(group["condition"].nunique()),
                       **{f"{stage}_shows": str(int(table["shows_primacy"].sum())) for stage, table in by_stage.items()}})
    return counts


def numbers(summary: pd.DataFrame, first: pd.DataFrame, settings: Mapping[str, Any]) -> dict[str, Any]:
    rows = condition_rows(summary, first)
    depth = depth_rows(rows)
    return {
        "rule": {"confidence_pct": fmt(100 * settings["confidence"], 0), "s_min": str(settings["s_min"]), "layer": str(LAYER)},
        "measured": bool(rows),
        "conditions": rows,
        "encodings": encoding_counts(rows),
        "n_conditions": str(len(rows)),
        "init_shows": str(sum(r["init_shows"] for r in rows)),
        "trained_shows": str(sum(r["trained_shows"] for r in rows)),
        "layers": layer_counts(summary),
        "has_depth": bool(depth),
        "depth": depth,
    }


def compute(inputs: ClaimInputs) -> AnalysisResult:
    settings = inputs.settings
    confidence, s_min = settings["confidence"], settings["s_min"]
    runs = inputs.runs
    final_steps = runs.groupby("condition")["steps"].max().to_dict() if len(runs) else {}
    n_blocks = runs.groupby("condition")["n_layer"].max().to_dict() if len(runs) else {}
    sources = per_source(earlier_cells(inputs.tables["m1_gradient_matrix"], n_blocks), dependencies(runs))
    per_run = run_table(sources, s_min, final_steps)
    summary = summarize_runs(per_run, condition_info(runs), confidence)
    tables = {
        "primacy_runs": per_run,
        "primacy_sources": summarize_sources(sources, final_steps, confidence),
        "primacy_summary": summary,
    }
    return AnalysisResult(tables=tables, numbers=numbers(summary, inputs.tables["c4_first_position"], settings))


ANALYSIS = Analysis(
    id="primacy",
    inputs=("m1_gradient_matrix", "c4_first_position"),
    outputs=("primacy_runs", "primacy_sources", "primacy_summary"),
    compute=compute,
    section="primacy",
)
