"""Attention sinks: which heads park their attention on the first position, and how that moves with the gradient there.

Under the causal mask the first position is the only key every query reads, so even uniform
attention gives it the largest raw mass (mean over the targets that read a source): "the
largest raw mass sits on position 0" is true by construction and is reported only as that
contrast (``raw_argmax_first``). The fair comparison uses the late targets t >= T // 2,
which read every source s < T // 2 with the same uniform share 1 / (t + 1): among those
sources uniform attention favours none. A head is a *sink* when its late-target mass on
s = 0 is strictly larger than on every other source s < T // 2 (a tie is no preference); a
head without a preference lands there by chance 1 / (T // 2). ``first_excess`` is the
late-target mass on s = 0 over its uniform value (1 under uniform attention).

This fixes the mask, not distance: s = 0 is the source farthest from every late target, so
a head with a recency bias (ALiBi builds one in) favours it least. The relation to the
gradient at the first positions is descriptive and partly mechanical: attention on s = 0 is
itself a path by which a later loss reaches h_0.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from ..grid import factors_except
from ..models.positional import ENCODING_ORDER
from ..regimes import STANDARD
from .claims import ClaimInputs
from .descriptive import Analysis, AnalysisResult
from .inference import Interval, mean_interval
from .primacy import INIT, LAYER, TRAINED, stage_of
from .report import fmt, fmt_interval

RUN = ["condition", "seed", "step"]
HEAD = [*RUN, "layer", "head"]
FACTORS = factors_except("n_head", "steps")
ALL_LAYERS = "all"
MIN_RUNS = 5  # fewest runs a correlation is reported for
SPEARMAN_VARIANCE = 1.06  # var(arctanh r_s) ~ 1.06 / (n - 3) (Fieller, Hartley and Pearson 1957); Pearson's is 1 / (n - 3)

HEAD_COLUMNS = [*HEAD, "context", "chance", "sink", "first_excess", "raw_argmax_first"]
MEASURES = {"share": "sink", "raw_share": "raw_argmax_first", "first_excess": "first_excess"}
SHARE_COLUMNS = [
    "condition", *FACTORS, "step", "stage", "layer", "n_seeds", "n_heads", "chance",
    *[f"{name}_{part}" for name in MEASURES for part in ("mean", "low", "high")],
]
GRADIENT_COLUMNS = ["condition", "seed", "step", "task", "pos_encoding", "sink_share", "first_excess", "primacy_early"]


def _first_beats_rest(cells: pd.DataFrame, value: str) -> pd.Series:
    """Per head: whether ``value`` at s = 0 is strictly above its maximum over the other sources in ``cells``."""
    first = cells[cells["s"] == 0].set_index(HEAD)[value]
    rest = cells[cells["s"] > 0].groupby(HEAD)[value].max().reindex(first.index, fill_value=-np.inf)
    return first > rest


def head_table(m8: pd.DataFrame) -> pd.DataFrame:
    """Per run, checkpoint, layer and head: ``sink``, ``first_excess`` and the by-construction ``raw_argmax_first``."""
    if m8.empty or "late_mass" not in m8.columns:
        return pd.DataFrame(columns=HEAD_COLUMNS)
    context = m8.groupby("condition")["n_targets"].transform("max")  # source 0 is read by all T targets
    early = m8[m8["s"] < context // 2]
    first = early[early["s"] == 0].set_index(HEAD)
    table = pd.DataFrame(
        {
            "context": first["n_targets"].astype(int),
            "chance": 1.0 / (first["n_targets"] // 2),
            "sink": _first_beats_rest(early, "late_mass"),
            "first_excess": first["late_mass"] / first["late_uniform_mass"],
            "raw_argmax_first": _first_beats_rest(m8, "mass"),
        }
    )
    return table.reset_index().sort_values(HEAD, ignore_index=True)[HEAD_COLUMNS]


def share_table(heads: pd.DataFrame, runs: pd.DataFrame, confidence: float) -> pd.DataFrame:
    """Per condition, checkpoint and layer (and all layers): each measure's mean over heads per seed, then over seeds."""
    if heads.empty:
        return pd.DataFrame(columns=SHARE_COLUMNS)
    both = pd.concat([heads.assign(layer=heads["layer"].astype(str)), heads.assign(layer=ALL_LAYERS)])
    per_seed = both.groupby([*RUN, "layer"]).agg(
        chance=("chance", "first"), n_heads=("head", "size"), **{name: (column, "mean") for name, column in MEASURES.items()}
    ).reset_index()
    rows = []
    for (condition, step, layer), group in per_seed.groupby(["condition", "step", "layer"], sort=True):
        row = {"condition": condition, "step": step, "layer": layer, "n_seeds": len(group),
               "n_heads": int(group["n_heads"].iloc[0]), "chance": float(group["chance"].iloc[0])}
        for name in MEASURES:
            interval = mean_interval(group[name].to_numpy(float), confidence)
            row |= {f"{name}_mean": interval.estimate, f"{name}_low": interval.low, f"{name}_high": interval.high}
        rows.append(row)
    table = pd.DataFrame(rows).join(runs.drop_duplicates("condition").set_index("condition")[FACTORS], on="condition")
    table["stage"] = stage_of(table["step"], table["condition"].map(runs.groupby("condition")["steps"].max()))
    return table[SHARE_COLUMNS]


def gradient_table(heads: pd.DataFrame, primacy: pd.DataFrame | None, runs: pd.DataFrame) -> pd.DataFrame:
    """Per standard run at its last checkpoint: sink share and mean ``first_excess`` over heads beside ``primacy_early`` at layer 0.

    Myopic regimes cut the gradient to earlier positions by design, so they are left out.
    """
    if heads.empty or primacy is None or primacy.empty:
        return pd.DataFrame(columns=GRADIENT_COLUMNS)
    final = heads[heads["step"] == heads.groupby(["condition", "seed"])["step"].transform("max")]
    strength = final.groupby(RUN).agg(sink_share=("sink", "mean"), first_excess=("first_excess", "mean")).reset_index()
    gradient = primacy[(primacy["stage"] == TRAINED) & (primacy["layer"] == LAYER)][["condition", "seed", "primacy_early"]]
    standard = runs[runs["regime"] == STANDARD.name].drop_duplicates("condition").set_index("condition")[["task", "pos_encoding"]]
    table = strength.merge(gradient, on=["condition", "seed"]).join(standard, on="condition", how="inner")
    return table.sort_values(["condition", "seed"], ignore_index=True)[GRADIENT_COLUMNS]


def spearman_interval(x: np.ndarray, y: np.ndarray, confidence: float) -> Interval:
    """Spearman's rank correlation with its Fisher-z interval (Spearman variance); NaN below ``MIN_RUNS`` or if either is constant."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    kept = np.isfinite(x) & np.isfinite(y)
    x, y = x[kept], y[kept]
    n = len(x)
    if n < MIN_RUNS or np.ptp(x) == 0 or np.ptp(y) == 0:
        return Interval(float("nan"), float("nan"), float("nan"), n)
    r = float(stats.spearmanr(x, y).statistic)
    half = stats.norm.ppf(0.5 + confidence / 2) * np.sqrt(SPEARMAN_VARIANCE / (n - 3))
    z = np.arctanh(np.clip(r, -1 + 1e-12, 1 - 1e-12))
    return Interval(r, float(np.tanh(z - half)), float(np.tanh(z + half)), n)


def correlation_numbers(gradient: pd.DataFrame, confidence: float) -> dict[str, Any]:
    """Spearman correlation of mean ``first_excess`` with ``primacy_early`` across runs: all runs, then within each encoding."""
    def one(scope: str, part: pd.DataFrame) -> dict[str, str]:
        interval = spearman_interval(part["first_excess"].to_numpy(), part["primacy_early"].to_numpy(), confidence)
        return {"scope": scope, "reported": bool(np.isfinite(interval.estimate)), **fmt_interval(interval)}

    by_encoding = [one(encoding, part) for encoding, part in gradient.groupby("pos_encoding", sort=True)]
    return {"all": one("all", gradient), "by_encoding": by_encoding, "n_runs": str(len(gradient)),
            "min_runs": str(MIN_RUNS), "measured": not gradient.empty}


def _stage_numbers(row: pd.Series | None) -> dict[str, Any]:
    def interval(name: str) -> dict[str, str]:
        if row is None:
            return fmt_interval(Interval(float("nan"), float("nan"), float("nan"), 0))
        return fmt_interval(Interval(row[f"{name}_mean"], row[f"{name}_low"], row[f"{name}_high"], int(row["n_seeds"])))

    # A NaN bound (one seed) is neither above nor below. No "below chance" for the share: with few heads per seed,
    # a seed without a sink is the likeliest outcome under chance, and seeds all at 0 give a zero-width interval.
    return {"share": interval("share"), "raw_share": interval("raw_share"), "first_excess": interval("first_excess"),
            "above_chance": bool(row is not None and row["share_low"] > row["chance"]),
            "favours_first": bool(row is not None and row["first_excess_low"] > 1),
            "avoids_first": bool(row is not None and row["first_excess_high"] < 1)}


def condition_numbers(shares: pd.DataFrame, runs: pd.DataFrame) -> list[dict[str, Any]]:
    """Per standard condition, all layers: the sink share, raw-mass share and first excess at init and trained."""
    pooled = shares[(shares["layer"] == ALL_LAYERS) & (shares["regime"] == STANDARD.name)]
    task_learned = runs.drop_duplicates("condition").set_index("condition")["learned"] if "learned" in runs else None
    rows = []
    for condition, group in pooled.groupby("condition", sort=False):
        stages = {stage: part.iloc[0] for stage, part in group.groupby("stage")}
        first = group.iloc[0]
        rows.append({
            "condition": condition, "task": str(first["task"]), "pos_encoding": str(first["pos_encoding"]),
            "n_layer": str(int(first["n_layer"])), "d_model": str(int(first["d_model"])), "context": str(int(first["context"])),
            "half": str(int(first["context"]) // 2), "chance": fmt(first["chance"], 3), "n_seeds": str(int(group["n_seeds"].max())),
            "learned": bool(task_learned[condition]) if task_learned is not None else None,
            INIT: _stage_numbers(stages.get(INIT)), TRAINED: _stage_numbers(stages.get(TRAINED)),
        })
    order = {name: i for i, name in enumerate(ENCODING_ORDER)}
    return sorted(rows, key=lambda r: (order.get(r["pos_encoding"], len(order)), r["task"], *(int(r[f]) for f in ("n_layer", "d_model", "context"))))


def compute(inputs: ClaimInputs) -> AnalysisResult:
    confidence = inputs.settings["confidence"]
    heads = head_table(inputs.tables["m8_attention_mass"])
    if not heads.empty:
        heads = heads.merge(inputs.runs[["condition", "seed"]], on=["condition", "seed"])  # trained runs only
    shares = share_table(heads, inputs.runs, confidence)
    gradient = gradient_table(heads, inputs.tables.get("primacy_runs"), inputs.runs)
    conditions = condition_numbers(shares, inputs.runs)
    numbers = {
        "measured": bool(conditions),
        "conditions": conditions,
        "n_conditions": str(len(conditions)),
        **{f"n_{count}_{stage}": str(sum(c[stage][count] for c in conditions))
           for stage in (INIT, TRAINED) for count in ("above_chance", "favours_first", "avoids_first")},
        "s_min": str(inputs.settings["s_min"]),
        "confidence_pct": fmt(100 * confidence, 0),
        "correlation": correlation_numbers(gradient, confidence),
    }
    return AnalysisResult({"sink_heads": heads, "sink_share": shares, "sink_gradient": gradient}, numbers)


ANALYSIS = Analysis(
    "sinks", ("m8_attention_mass", "primacy_runs"), ("sink_heads", "sink_share", "sink_gradient"), compute, section="sinks",
)
