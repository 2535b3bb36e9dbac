"""C3 (retracted in the discussion): "for a token halfway through the context, the gradients flow through half the weights".

A structural check, not a finding: which weights a loss can reach is fixed by the
architecture and the input, whatever the weights' values (M5, ``m5_reachability``, the
dependency rule of ``analysis/measures/reachability.py``, checked there against autograd).
Decided at the loss L_t with t = T/2 - 1 (it predicts token T/2 from the first half of the
context) and reported in three parts:

* shared tensors (every per-head query/key/value/output block, MLP, LayerNorm, readout):
  the claim as worded is about these;
* position-indexed parameters (rows of a learned position table up to t: (t + 1) / T,
  the one place where "half" holds), stated as the exception;
* input-dependent sparsity (token-embedding rows of tokens absent from x_<=t), apart.

Rule: refuted if every shared tensor (per head) is reached in full (fraction >= ``full``)
in every run and checkpoint; supported if in every run the shared tensors, pooled by
entries, are about half reached (``half_low`` <= fraction <= ``half_high``); mixed
otherwise, also when any entry the dependency rule calls unreachable carries more than
round-off gradient at the measured weights (the structural account would be incomplete).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..grid import factors_except
from ..measures.reachability import INPUT_DEPENDENT, INVARIANCE, POSITION_INDEXED, SHARED
from .claims import MIXED, REFUTED, STRUCTURAL, SUPPORTED, Claim, ClaimInputs, ClaimResult, Verdict
from .report import fmt

RUN_KEYS = ["condition", "seed", "step"]
FACTORS = factors_except("n_layer", "d_model", "n_head", "context", "steps")  # the model size and training length aside
ALL = "all weights"


@dataclass(frozen=True)
class Rules:
    full: float = 1.0  # a shared tensor (per head) counts as fully reached from L_{T/2-1} at this fraction or above
    half_low: float = 0.4  # "about half": lowest pooled shared fraction that still counts as half
    half_high: float = 0.6  # "about half": highest pooled shared fraction that still counts as half
    roundoff: float = 1e-12  # largest gradient (relative to max |dL_t/dtheta|) on a rule-unreachable entry that is float64 round-off

    def __post_init__(self) -> None:
        if not self.half_low <= self.half_high < self.full:
            raise ValueError(f"c3 rules need half_low <= half_high < full, got {self.half_low}, {self.half_high}, {self.full}")


# --- compute ---------------------------------------------------------------------------------


def with_context(m5: pd.DataFrame, runs: pd.DataFrame) -> pd.DataFrame:
    """M5 rows joined with each run's task, encoding, regime and context; position = (t + 1) / T."""
    info = runs[["condition", "seed", *FACTORS, "context"]]
    table = m5.merge(info, on=["condition", "seed"], how="inner", validate="many_to_one")
    return table.assign(position=(table["t"] + 1) / table["context"], t_mid=table["context"] // 2 - 1)


def kind_fractions(table: pd.DataFrame) -> pd.DataFrame:
    """Per run, checkpoint, t and kind (plus every weight pooled): entries reached, mean over sequences."""
    keys = [*RUN_KEYS, *FACTORS, "t", "position"]
    by_kind = table.groupby([*keys, "sequence", "kind"], as_index=False)[["n_entries", "n_reachable"]].sum()
    pooled = table.groupby([*keys, "sequence"], as_index=False)[["n_entries", "n_reachable"]].sum().assign(kind=ALL)
    both = pd.concat([by_kind, pooled], ignore_index=True)
    out = both.groupby([*keys, "kind"], as_index=False).agg(n_entries=("n_entries", "first"), n_reachable=("n_reachable", "mean"))
    return out.assign(fraction=out["n_reachable"] / out["n_entries"])


def run_summary(table: pd.DataFrame, rules: Rules) -> pd.DataFrame:
    """Per run and checkpoint at t = T/2 - 1: the shared, position, input and all-weights fractions, and the checks."""
    columns = [*RUN_KEYS, *FACTORS, "t", "shared_min", "shared_pooled", "positions", "relative_position",
               "input_dependent", "all_weights", "n_unexplained", "n_reachable_zero"]
    middle = table[table["t"] == table["t_mid"]]
    if middle.empty:
        return pd.DataFrame(columns=columns)
    fractions = kind_fractions(middle).pivot_table(index=[*RUN_KEYS, *FACTORS, "t"], columns="kind", values="fraction")
    shared = middle[middle["kind"] == SHARED].groupby(RUN_KEYS)["fraction_reachable"].min().rename("shared_min")
    checks = middle.assign(unexplained=middle["largest_unreachable_gradient"] > rules.roundoff).groupby(RUN_KEYS).agg(
        n_unexplained=("unexplained", "sum"), n_reachable_zero=("n_reachable_zero", "sum"),
        relative_position=("position", "first"))
    summary = fractions.reset_index().merge(shared.reset_index(), on=RUN_KEYS, how="left").merge(checks.reset_index(), on=RUN_KEYS)
    summary = summary.rename(columns={SHARED: "shared_pooled", POSITION_INDEXED: "positions", INPUT_DEPENDENT: "input_dependent", ALL: "all_weights"})
    for column in columns:
        if column not in summary.columns:
            summary[column] = np.nan
    return summary[columns].sort_values(RUN_KEYS, ignore_index=True)


def shortfalls(table: pd.DataFrame, rules: Rules) -> pd.DataFrame:
    """Every tensor (per head) below full reach at any t, or with more than round-off gradient where unreachable: which, where, why."""
    columns = ["condition", *FACTORS, "step", "t", "parameter", "head", "kind", "reason", "n_seeds",
               "fraction_min", "fraction_max", "largest_unreachable_gradient", "flagged"]
    short = table[(table["fraction_reachable"] < 1.0) | (table["largest_unreachable_gradient"] > rules.roundoff)]
    if short.empty:
        return pd.DataFrame(columns=columns)
    grouped = short.groupby(["condition", *FACTORS, "step", "t", "parameter", "head", "kind", "reason"], as_index=False).agg(
        n_seeds=("seed", "nunique"), fraction_min=("fraction_reachable", "min"), fraction_max=("fraction_reachable", "max"),
        largest_unreachable_gradient=("largest_unreachable_gradient", "max"))
    grouped["flagged"] = grouped["largest_unreachable_gradient"] > rules.roundoff
    return grouped[columns]


# --- verdict ----------------------------------------------------------------------------------


def verdict(summary: pd.DataFrame, rules: Rules) -> Verdict:
    rule = (
        f"at t = T/2 − 1, refuted if every shared tensor (per head) is reached in at least {fmt(100 * rules.full, 0)}% of its "
        f"entries in every run and checkpoint (a learned position table, reached in (t + 1)/T of its rows, and token-embedding "
        f"rows of absent tokens are reported apart); supported if in every run the shared tensors pooled are "
        f"{fmt(rules.half_low)}–{fmt(rules.half_high)} reached; mixed otherwise, or if an entry the dependency rule calls "
        f"unreachable carries more than {rules.roundoff:.0e} relative gradient (structural: fixed by the architecture and input)"
    )
    if summary.empty:
        return Verdict("C3", MIXED, "no reachability measured (no M5 rows at t = T/2 − 1)", rule, kind=STRUCTURAL)
    unexplained = int(summary["n_unexplained"].sum())
    smallest, pooled = float(summary["shared_min"].min()), summary["shared_pooled"]
    if unexplained:
        word = MIXED
    elif smallest >= rules.full:
        word = REFUTED
    elif ((pooled >= rules.half_low) & (pooled <= rules.half_high)).all():
        word = SUPPORTED
    else:
        word = MIXED
    n_runs = summary[["condition", "seed"]].drop_duplicates().shape[0]
    deciding = (
        f"smallest reached fraction of any shared tensor at t = T/2 − 1: {fmt(smallest, 3)} over {n_runs} runs "
        f"({len(summary)} checkpoints); all weights pooled: {_span(summary['all_weights'])}; {unexplained} unexplained tensors"
    )
    return Verdict("C3", word, deciding, rule, kind=STRUCTURAL)


# --- numbers ----------------------------------------------------------------------------------


def _pattern(parameter: str) -> str:
    parts = parameter.split(".")
    return ".".join("*" if part.isdigit() else part for part in parts)


def _span(values: pd.Series, digits: int = 3) -> str:
    values = values.dropna()
    if values.empty:
        return "n/a"
    low, high = fmt(float(values.min()), digits), fmt(float(values.max()), digits)
    return low if low == high else f"{low}–{high}"


def paper_numbers(result: Verdict, summary: pd.DataFrame, table: pd.DataFrame, short: pd.DataFrame, rules: Rules) -> dict[str, Any]:
    middle = short[short["t"] == short["condition"].map(table.drop_duplicates("condition").set_index("condition")["t_mid"])] if len(short) else short
    exceptions = []
    if len(middle):
        rows = middle.assign(pattern=middle["parameter"].map(_pattern))
        for (kind, reason, pattern), group in rows.groupby(["kind", "reason", "pattern"], sort=True):
            exceptions.append({"kind": kind, "parameter": pattern, "reason": reason, "n_conditions": str(group["condition"].nunique()),
                               "fraction": _span(group["fraction_min"])})
    start = table[table["t"] == 0]
    last = summary.groupby(["condition", "seed"]).tail(1) if len(summary) else summary
    # The held-out sequences are the same for every run of a task, so this is one value per task, not a seed mean.
    embedding = [{"task": str(task), "fraction": _span(group["input_dependent"])}
                 for task, group in last.dropna(subset=["input_dependent"]).groupby("task", sort=True)]
    learned = summary.dropna(subset=["positions"])
    return {
        "verdict": result.as_dict(),
        "n_runs": str(summary[["condition", "seed"]].drop_duplicates().shape[0]),
        "n_checkpoints": str(len(summary)),
        "n_conditions": str(summary["condition"].nunique()),
        "shared_min": fmt(float(summary["shared_min"].min()) if len(summary) else None, 3),
        "shared_pooled": _span(summary["shared_pooled"]),
        "all_weights": _span(summary["all_weights"]),
        "positions": _span(learned["positions"]),
        "relative_position": _span(learned["relative_position"]),
        "positions_exact": str(bool(len(learned)) and bool((learned["positions"] == learned["relative_position"]).all())).lower(),
        "n_learned_runs": str(learned[["condition", "seed"]].drop_duplicates().shape[0]),
        "embedding": embedding,
        "exceptions": exceptions,
        "t0_shared_min": fmt(float(start[start["kind"] == SHARED]["fraction_reachable"].min()) if len(start) else None, 3),
        "n_invariance": str(int((table["kind"] == INVARIANCE).groupby([table["condition"], table["parameter"], table["head"]]).any().sum()) if len(table) else 0),
        "largest_unreachable_gradient": f"{float(table['largest_unreachable_gradient'].max()):.1e}" if len(table) else "n/a",
        "n_unexplained": str(int(summary["n_unexplained"].sum()) if len(summary) else 0),
        "n_reachable_zero": str(int(summary["n_reachable_zero"].sum()) if len(summary) else 0),
        "full_pct": fmt(100 * rules.full, 0),
        "half_low": fmt(rules.half_low),
        "half_high": fmt(rules.half_high),
        "roundoff": f"{rules.roundoff:.0e}",
    }


# --- the claim --------------------------------------------------------------------------------


M5_COLUMNS = ["condition", "seed", "step", "sequence", "t", "parameter", "head", "kind", "n_entries", "n_reachable",
              "fraction_reachable", "reason", "n_reachable_zero", "largest_gradient", "largest_unreachable_gradient"]


def decide(inputs: ClaimInputs, rules: Rules) -> ClaimResult:
    m5 = inputs.tables.get("m5_reachability")
    m5 = pd.DataFrame(columns=M5_COLUMNS) if m5 is None or m5.empty else m5
    runs = inputs.runs if len(inputs.runs) else pd.DataFrame(columns=["condition", "seed", *FACTORS, "context"])
    table = with_context(m5, runs)
    summary = run_summary(table, rules)
    short = shortfalls(table, rules)
    # equivalent mutant: kind_fractions of an empty table has these very columns (the branch keeps them explicit)
    fractions = kind_fractions(table) if len(table) else pd.DataFrame(
        columns=[*RUN_KEYS, *FACTORS, "t", "position", "kind", "n_entries", "n_reachable", "fraction"])
    result = verdict(summary, rules)
    return ClaimResult(
        verdicts=[result],
        tables={"c3_reachability": fractions, "c3_runs": summary, "c3_shortfalls": short},
        numbers=paper_numbers(result, summary, table, short, rules),
    )


CLAIM = Claim(
    id="c3",
    inputs=("m5_reachability",),
    outputs=("c3_reachability", "c3_runs", "c3_shortfalls"),
    rules=Rules,
    decide=decide,
    statement="(retracted) a mid-context token's gradient flows through only half the weights",
    decided_by="structural check: exact reachability of every tensor (per head) from L_{T/2}",
    section="c3",
)
