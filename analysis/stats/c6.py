"""C6: "if you were to backpropagate the error after each specific token prediction, then there would be some
information from predicting the second token available to predicting the third token (via the updated
weights) ... the amount of relevant information flowing this way would be very miniscule".

The counterfactual the claim names is one full optimiser step on L_t alone. Per run (final
checkpoint) and k = 1, from M7 (``analysis.measures.weight_channel``):

* signed transfer S = mean over t of -Delta L_{t+1} (positive: the step on L_t lowers the next
  token's loss, information useful to the next prediction); magnitude M = mean |Delta L_{t+1}|
  (interference included); generic transfer O = the same step's -Delta L_{t+1} on another
  held-out sequence, so S - O is the part about this sequence;
* context channel C = mean over u >= 1 of L(token u alone) - L(token u in its full context).

Finding, decided on the step the study trains with (``optimizer``: Adam's step from a fresh
state, at the peak learning rate, exact change) in every deciding condition (standard training,
a task in ``tasks``, an encoding in ``pos_encodings``, learned its task): per condition, the Student t interval over seeds of S / C. A condition is *minuscule*
if the interval's upper bound lies below ``minuscule`` and *comparable* if its lower bound lies
above ``comparable``. Verdict: supported if every deciding condition is minuscule, refuted if
every one is comparable, mixed otherwise and when no condition decides. Requiring every
condition is an intersection-union test, valid without a multiplicity correction. SGD at the
same step size, the other step sizes (first order, linear in eta) and M and S - O are context.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .claims import MIXED, REFUTED, SUPPORTED, Claim, ClaimInputs, ClaimResult, Verdict, register
from .inference import mean_interval
from .report import fmt

STANDARD = "standard"
MINUSCULE, COMPARABLE, BETWEEN = "minuscule", "comparable", "undecided"
TRANSFER_COLUMNS = [
    "condition", "seed", "step", "optimizer", "step_scale", "eta_factor", "eta", "transfer_exact",
    "transfer_first_order", "magnitude_exact", "transfer_other", "context_channel",
]  # fmt: skip
RATIOS = {  # ratio column -> numerator column (each over the context channel)
    "ratio_exact": "transfer_exact",
    "ratio_first_order": "transfer_first_order",
    "ratio_magnitude": "magnitude_exact",
    "ratio_specific": "transfer_specific",
}


@dataclass(frozen=True)
class Rules:
    minuscule: float = 0.01  # S / C whose upper t-interval bound lies below this is minuscule
    comparable: float = 0.10  # S / C whose lower t-interval bound lies above this is comparable to the context channel
    optimizer: str = "adam"  # the deciding step's optimiser (the study trains with AdamW); "sgd" is context
    step_scale: str = "full"  # the deciding step size: one full step at the peak learning rate
    k: int = 1  # the later prediction: t + k
    tasks: str = "markov,lag,text"  # task names (runs.task_name) whose standard conditions decide, comma-separated
    pos_encodings: str = "learned"  # encodings whose conditions decide; the others are descriptive breadth, reported apart

    def __post_init__(self) -> None:
        if not 0 < self.minuscule < self.comparable:
            raise ValueError(f"need 0 < minuscule ({self.minuscule}) < comparable ({self.comparable})")


# --- compute ---------------------------------------------------------------------------------


def _final(table: pd.DataFrame, runs: pd.DataFrame) -> pd.DataFrame:
    """Rows of each run's last checkpoint."""
    last = runs.drop_duplicates(["condition", "seed"]).set_index(["condition", "seed"])["steps"]
    keys = pd.MultiIndex.from_frame(table[["condition", "seed"]])
    return table[table["step"].to_numpy() == last.reindex(keys).to_numpy()]


def context_channel(context: pd.DataFrame) -> pd.DataFrame:
    """Per run and checkpoint: mean over positions u >= 1 of L(alone) - L(full)."""
    later = context[context["t"] >= 1]
    gain = later.assign(context_channel=later["loss_alone"] - later["loss_full"])
    return gain.groupby(["condition", "seed", "step"], as_index=False)["context_channel"].mean()


def transfer_table(weight: pd.DataFrame, context: pd.DataFrame, runs: pd.DataFrame, k: int = 1) -> pd.DataFrame:
    """Per run (final checkpoint), optimiser and step size: transfer to t + k, its magnitude and the context channel."""
    if weight.empty or context.empty or runs.empty:
        return pd.DataFrame(columns=[*TRANSFER_COLUMNS, "transfer_specific", *RATIOS])
    later = _final(weight[weight["k"] == k], runs)
    keys = ["condition", "seed", "step", "optimizer", "step_scale"]
    table = later.groupby(keys, as_index=False).agg(
        eta_factor=("eta_factor", "first"), eta=("eta", "first"),
        transfer_exact=("exact_change", lambda x: -x.mean()),
        transfer_first_order=("first_order_change", lambda x: -x.mean()),
        magnitude_exact=("exact_abs_change", "mean"),
        transfer_other=("exact_change_other", lambda x: -x.mean()),
    )
    table = table.merge(context_channel(context), on=["condition", "seed", "step"], validate="many_to_one")
    table = table.assign(transfer_specific=table["transfer_exact"] - table["transfer_other"])
    for ratio, column in RATIOS.items():
        table[ratio] = table[column] / table["context_channel"]
    return table[[*TRANSFER_COLUMNS, "transfer_specific", *RATIOS]]


def _names(text: str) -> set[str]:
    return {name.strip() for name in text.split(",") if name.strip()}


def deciding_conditions(runs: pd.DataFrame, settings: Mapping[str, Any], rules: Rules) -> pd.DataFrame:
    """Standard conditions with their factors, whether they learned (every condition counts without a criterion)
    and whether they decide (learned, a task in ``rules.tasks``, an encoding in ``rules.pos_encodings``)."""
    columns = ["condition", "task", "task_name", "pos_encoding", "learned", "deciding"]
    standard = runs[runs["regime"] == STANDARD] if len(runs) else runs
    if standard.empty:
        return pd.DataFrame(columns=columns)
    if "learned" not in standard.columns and {"learned_margin", "learned_gap_share", "confidence"} <= set(settings):
        from .learning import with_learning

        standard = with_learning(standard, settings)
    learned = standard.groupby("condition")["learned"].all() if "learned" in standard else None
    info = standard.drop_duplicates("condition").set_index("condition")
    info["learned"] = True if learned is None else learned.reindex(info.index).astype(bool)
    info["deciding"] = (info["learned"] & info["task_name"].isin(_names(rules.tasks))
                        & info["pos_encoding"].isin(_names(rules.pos_encodings)))
    return info.reset_index()[columns]


def summary_table(transfer: pd.DataFrame, conditions: pd.DataFrame, confidence: float) -> pd.DataFrame:
    """Per condition, optimiser and step size: each ratio's mean over seeds with its t interval."""
    rows = []
    mine = transfer.merge(conditions, on="condition") if len(transfer) and len(conditions) else transfer.iloc[:0]
    for (condition, optimizer, scale), group in mine.groupby(["condition", "optimizer", "step_scale"], sort=True):
        first = group.iloc[0]
        row = {"condition": condition, "task": first["task"], "pos_encoding": first["pos_encoding"],
               "learned": bool(first["learned"]), "deciding": bool(first["deciding"]), "optimizer": optimizer, "step_scale": scale,
               "eta_factor": float(first["eta_factor"]), "eta": float(first["eta"])}
        for column in [*RATIOS, "context_channel"]:
            interval = mean_interval(group[column].to_numpy(dtype=float), confidence)
            row |= {f"{column}_mean": interval.estimate, f"{column}_low": interval.low, f"{column}_high": interval.high}
        row["n_seeds"] = int(np.isfinite(group["ratio_exact"].to_numpy(dtype=float)).sum())
        rows.append(row)
    columns = ["condition", "task", "pos_encoding", "learned", "deciding", "optimizer", "step_scale", "eta_factor", "eta",
               *[f"{c}_{s}" for c in [*RATIOS, "context_channel"] for s in ("mean", "low", "high")], "n_seeds"]
    return pd.DataFrame(rows, columns=columns)


# --- verdict ---------------------------------------------------------------------------------


def classify(low: float, high: float, rules: Rules) -> str:
    """One condition's reading of its S / C interval."""
    if np.isfinite(high) and high < rules.minuscule:
        return MINUSCULE
    if np.isfinite(low) and low > rules.comparable:
        return COMPARABLE
    return BETWEEN


def decision_table(summary: pd.DataFrame, rules: Rules) -> pd.DataFrame:
    """The deciding rows (deciding conditions at the deciding optimiser and step), each with its reading."""
    rows = summary[summary["deciding"].astype(bool) & (summary["optimizer"] == rules.optimizer)
                   & (summary["step_scale"] == rules.step_scale)].copy()
    rows["reading"] = [classify(lo, hi, rules) for lo, hi in zip(rows["ratio_exact_low"], rows["ratio_exact_high"], strict=True)]
    return rows.reset_index(drop=True)


def verdict(decision: pd.DataFrame, rules: Rules, confidence: float) -> Verdict:
    n = len(decision)
    minuscule = int((decision["reading"] == MINUSCULE).sum())
    comparable = int((decision["reading"] == COMPARABLE).sum())
    word = MIXED if n == 0 else SUPPORTED if minuscule == n else REFUTED if comparable == n else MIXED
    if n:
        bound = decision["ratio_exact_high"].fillna(decision["ratio_exact_mean"])  # one seed: no interval
        worst = decision.loc[bound.idxmax()] if bound.notna().any() else decision.iloc[0]
        deciding = (
            f"signed transfer to t + {rules.k} / context channel after one {rules.optimizer} step on L_t alone "
            f"({rules.step_scale} step): largest upper bound in {worst['task']}, {worst['pos_encoding']}: "
            f"{pct(worst['ratio_exact_mean'])} [{pct(worst['ratio_exact_low'])}, {pct(worst['ratio_exact_high'])}] "
            f"(magnitude {pct(worst['ratio_magnitude_mean'])}); {minuscule} of {n} conditions minuscule, "
            f"{comparable} comparable"
        )
    else:
        deciding = "no learned standard condition with M7 tables"
    return Verdict(
        "C6", word, deciding,
        f"per learned standard condition ({rules.pos_encodings} positions; {rules.tasks}), the {fmt(100 * confidence, 0)}% t interval over seeds of signed transfer to "
        f"t + {rules.k} / context channel (exact change, {rules.optimizer}, {rules.step_scale} step); supported if every "
        f"upper bound is below {pct(rules.minuscule)}, refuted if every lower bound is above {pct(rules.comparable)}, "
        "mixed otherwise",
    )


def pct(value: float) -> str:
    """A ratio as a percentage the paper prints: two decimals, or two significant digits when tiny."""
    if value is None or not np.isfinite(value):
        return "n/a"
    x = 100 * float(value)
    text = fmt(x, 2) if x == 0 or abs(x) >= 0.1 else f"{x:.1e}".replace("e-0", "e-").replace("-", "\u2212")
    return f"{text}%"


# --- paper numbers ---------------------------------------------------------------------------


def _ci_pct(row: pd.Series, prefix: str) -> dict[str, str]:
    return {"mean": pct(row[f"{prefix}_mean"]), "low": pct(row[f"{prefix}_low"]), "high": pct(row[f"{prefix}_high"])}


def _crossing(ratio: float, eta_factor: float, threshold: float) -> str:
    """Step size (x lr) at which the first-order signed ratio, linear in eta, would reach ``threshold``."""
    if not np.isfinite(ratio) or ratio <= 0:
        return "never (no positive transfer)"
    return f"{threshold / ratio * eta_factor:.3g}"


def condition_rows(summary: pd.DataFrame, decision: pd.DataFrame, rules: Rules) -> list[dict[str, Any]]:
    """One dictionary per deciding condition: the deciding ratio and its context at the same step size."""
    rows = []
    for row in decision.itertuples(index=False):
        at_step = summary[(summary["condition"] == row.condition) & (summary["step_scale"] == rules.step_scale)]
        sgd = at_step[at_step["optimizer"] == "sgd"]
        sgd_row = sgd.iloc[0] if len(sgd) else None
        mine = pd.Series(row._asdict())
        rows.append(
            {
                "task": row.task, "pos_encoding": row.pos_encoding, "n": str(row.n_seeds), "reading": row.reading,
                "signed": _ci_pct(mine, "ratio_exact"),
                "first_order": _ci_pct(mine, "ratio_first_order"),
                "magnitude": _ci_pct(mine, "ratio_magnitude"),
                "specific": _ci_pct(mine, "ratio_specific"),
                "context": {k: fmt(mine[f"context_channel_{k}"], 3) for k in ("mean", "low", "high")},
                "sgd_signed": _ci_pct(sgd_row, "ratio_exact") if sgd_row is not None else None,
                "crossing_minuscule": _crossing(row.ratio_first_order_mean, row.eta_factor, rules.minuscule),
            }
        )
    return rows


def sweep_rows(summary: pd.DataFrame, decision: pd.DataFrame) -> list[dict[str, str]]:
    """Per step size and optimiser: the range over deciding conditions of the mean signed ratio, exact
    (``<optimizer>_exact``, "n/a" where not evaluated) and first order (``<optimizer>``)."""
    mine = summary[summary["condition"].isin(decision["condition"])]
    rows = []
    for (factor, scale), group in mine.groupby(["eta_factor", "step_scale"], sort=True):
        row = {"step_scale": scale, "eta_factor": f"{factor:.3g}"}
        for optimizer, part in group.groupby("optimizer"):
            row[optimizer] = _range(part["ratio_first_order_mean"])
            row[f"{optimizer}_exact"] = _range(part["ratio_exact_mean"])
        rows.append(row)
    return rows


def _range(values: pd.Series) -> str:
    values = values[np.isfinite(values.to_numpy(dtype=float))]
    return "n/a" if values.empty else f"{pct(values.min())} to {pct(values.max())}"


def paper_numbers(
    decision_verdict: Verdict, summary: pd.DataFrame, decision: pd.DataFrame, rules: Rules, confidence: float
) -> dict[str, Any]:
    excluded = summary.loc[~summary["learned"].astype(bool), "condition"].nunique() if len(summary) else 0
    descriptive = summary.loc[summary["learned"].astype(bool) & ~summary["deciding"].astype(bool), "condition"]
    return {
        "verdict": decision_verdict.as_dict(),
        "minuscule": pct(rules.minuscule),
        "comparable": pct(rules.comparable),
        "confidence": fmt(100 * confidence, 0),
        "optimizer": rules.optimizer,
        "k": str(rules.k),
        "n_conditions": str(len(decision)),
        "n_minuscule": str(int((decision["reading"] == MINUSCULE).sum())) if len(decision) else "0",
        "n_comparable": str(int((decision["reading"] == COMPARABLE).sum())) if len(decision) else "0",
        "n_not_learned": str(int(excluded)),
        "n_descriptive": str(descriptive.nunique()),
        "tasks": ", ".join(sorted(_names(rules.tasks))),
        "pos_encodings": ", ".join(sorted(_names(rules.pos_encodings))),
        "rows": condition_rows(summary, decision, rules),
        "sweep": sweep_rows(summary, decision),
    }


def decide(inputs: ClaimInputs, rules: Rules) -> ClaimResult:
    confidence = float(inputs.settings.get("confidence", 0.95))
    weight = inputs.tables.get("m7_weight_channel", pd.DataFrame())
    context = inputs.tables.get("m7_context_channel", pd.DataFrame())
    transfer = transfer_table(weight, context, inputs.runs, rules.k)
    summary = summary_table(transfer, deciding_conditions(inputs.runs, inputs.settings, rules), confidence)
    decision = decision_table(summary, rules)
    result = verdict(decision, rules, confidence)
    return ClaimResult(
        verdicts=[result],
        tables={"c6_transfer": transfer, "c6_summary": summary, "c6_decision": decision},
        numbers=paper_numbers(result, summary, decision, rules, confidence),
    )


CLAIM = register(
    Claim(
        id="c6",
        inputs=("m7_weight_channel", "m7_context_channel"),
        outputs=("c6_transfer", "c6_summary", "c6_decision"),
        rules=Rules,
        decide=decide,
    )
)
