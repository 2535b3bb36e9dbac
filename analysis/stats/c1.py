"""C1: "the gradient of each token prediction does flow back into all the earlier tokens whose information was integrated".

Two verdicts, kept apart because only one of them is evidence:

* **C1a, structural check.** Every earlier position receives non-zero gradient from a later
  loss at every layer below the last (M1). Softmax attention weights are never exactly 0,
  so this holds by construction in a standard model; it verifies the measurement.
* **C1b, finding.** Does a later loss's gradient *concentrate* on the positions whose
  information it needs? On tasks whose dependencies are known (``m1_dependency_share``),
  the per-run statistic is the *enrichment*

      E = mean over (target row, sequence) of (share_t - uniform_t),

  the excess of the row's earlier-source gradient mass on the needed positions over what an
  even spread would put there. A difference, not a log ratio: it is the mass moved onto the
  needed positions, bounded in [-1, 1], defined when the share is 0, and on one scale for every
  row, whereas a log ratio is dominated by late rows whose uniform share is tiny (and is
  undefined at share 0). Decided at layer 0 (the input stream: the gradient each input token
  receives) on the trained runs; initialisation (the architecture alone) and the trained -
  initial difference, paired by seed, are reported beside.

The enrichment is a share: every deciding task of it (markov order 2 aside) needs one earlier
source, and a share can be high while some needed sources get little. So C1b has a second,
*multi-source* family (``m1_separation``), on tasks whose targets need several earlier sources
(``Rules.multi_source_tasks``: sine, whose target needs its K lagged inputs in rows with z_t = 1;
recall, where every earlier pair with the queried key counts): per (target row, sequence), the
probability that a needed source's layer-0 gradient exceeds an unneeded one's (the AUC; 0.5 is
no ordering, 1 is every needed source above every unneeded one). The per-run AUC is its mean over
rows; the strict fraction of rows in which *every* needed source is above every unneeded one
(``separated``) is reported beside it but does not decide: it is a minimum over all pairs, so it
falls with the number of sources compared even when each pair is ordered as often, and no margin
on it would mean the same for K = 10 and K = 24. The interventional measure ``m9_intervention``
(the loss increase at t when x_s is resampled) validates the gradient descriptively: per run,
the share of the gradient and of the interventional effect on the needed sources, the effect's own
AUC, and the rank correlation of G^0[t, s] with the effect over a row's sources.

Deciding conditions: standard regime, a task in ``Rules.tasks``, an encoding in
``Rules.pos_encodings`` (the others are descriptive breadth with fewer seeds) and a condition
that learned its task (``runs.learned``); the rest are reported with their status.
Rule (C1b), with Holm's correction over the deciding conditions in each family:
a condition *concentrates* if E > 0 (one-sided t over seeds, Holm p < alpha) with mean E >=
``min_excess``; it *falls short* if E < ``min_excess`` (one-sided t, Holm p < alpha: the
concentration is shown to be smaller than the stated margin, not merely undetected). The same for
the multi-source family (deciding conditions chosen alike, tasks ``multi_source_tasks``, Holm over
its own conditions): a condition *orders* its sources if AUC > 0.5 (one-sided t, Holm p < alpha)
with mean AUC >= ``min_auc``; it falls short if AUC < ``min_auc`` (one-sided t, Holm p < alpha).
C1b is supported if every deciding condition of both families concentrates / orders; refuted if
every deciding condition of either family falls short (the gradient is shown not to single out
the positions used, or not all of them); mixed otherwise, and when a family has no deciding
condition ("every earlier token" is then untested).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..regimes import STANDARD
from .claims import MIXED, REFUTED, STRUCTURAL, SUPPORTED, Claim, ClaimInputs, ClaimResult, Verdict
from .inference import Interval, SeedTest, compare_to_zero, holm, mean_interval
from .report import fmt, fmt_interval

RUN_KEYS = ["condition", "seed", "step"]
CONCENTRATES, FALLS_SHORT, UNDECIDED = "concentrates", "falls short", "undecided"
NOT_LEARNED, DESCRIPTIVE = "not learned", "descriptive"


@dataclass(frozen=True)
class Rules:
    min_excess: float = 0.1  # smallest mean enrichment (share on needed positions minus uniform share) that counts as concentrating
    layer: int = 0  # residual-stream layer the finding is decided at (0: the input stream)
    tasks: tuple[str, ...] = ("markov", "recall", "lag")  # task names (runs.task_name) whose standard conditions decide C1b
    pos_encodings: tuple[str, ...] = ("learned",)  # encodings whose conditions decide; the others are descriptive breadth
    min_fraction: float = 1.0  # C1a: smallest fraction of earlier positions that must receive non-zero gradient
    # Tasks (runs.task_name) whose targets need several earlier sources: the multi-source family of C1b.
    multi_source_tasks: tuple[str, ...] = ("sine", "recall")
    # Smallest mean AUC (probability that a needed source's layer-0 gradient exceeds an unneeded one's) that counts as
    # ordering the sources: halfway from no ordering (0.5) to complete separation (1), i.e. a needed source outranks an
    # unneeded one in 3 pairs of 4. It leaves room for the few unneeded sources every target reads for other reasons
    # (its neighbour, which fixes the token type in recall) while ruling out an ordering that holds only for a few
    # needed sources (e.g. the nearest lag of sine, or only the latest occurrence of a recall key).
    min_auc: float = 0.75

    def __post_init__(self) -> None:
        for name in ("tasks", "pos_encodings", "multi_source_tasks"):  # a config gives lists: keep tuples (frozen, hashable)
            object.__setattr__(self, name, tuple(getattr(self, name)))


# --- compute ---------------------------------------------------------------------------------


def learned_conditions(runs: pd.DataFrame) -> pd.Series:
    """Per condition: did it learn its task (the runs table's ``learned``; all count where the column is absent)."""
    if "learned" not in runs.columns:
        return pd.Series(True, index=pd.Index(runs["condition"].unique(), name="condition"))
    return runs.groupby("condition")["learned"].all().astype(bool)


def reach_table(m1: pd.DataFrame, runs: pd.DataFrame) -> pd.DataFrame:
    """Per standard run, checkpoint and layer below the last: the fraction of (t, s < t) pairs with non-zero gradient."""
    columns = [*RUN_KEYS, "layer", "fraction_reached", "smallest_gradient", "n_pairs"]
    standard = runs[runs["regime"] == STANDARD.name]
    if m1.empty or standard.empty:
        return pd.DataFrame(columns=columns)
    n_layer = standard.drop_duplicates("condition").set_index("condition")["n_layer"]
    earlier = m1[(m1["s"] < m1["t"]) & m1["condition"].isin(n_layer.index)]
    earlier = earlier[earlier["layer"] < earlier["condition"].map(n_layer)]
    grouped = earlier.assign(reached=earlier["grad_norm_mean"] > 0).groupby([*RUN_KEYS, "layer"])
    table = grouped.agg(
        fraction_reached=("reached", "mean"), smallest_gradient=("grad_norm_mean", "min"), n_pairs=("reached", "size")
    )
    return table.reset_index()[columns]


def _stage(table: pd.DataFrame, runs: pd.DataFrame) -> pd.Series:
    """'init' at step 0, 'trained' at the run's last step, else NaN (intermediate checkpoints are not used)."""
    steps = table.merge(runs[["condition", "seed", "steps"]], on=["condition", "seed"], how="left")["steps"].to_numpy()
    stage = np.where(table["step"].to_numpy() == 0, "init", np.where(table["step"].to_numpy() == steps, "trained", None))
    return pd.Series(stage, index=table.index)


def enrichment_runs(share: pd.DataFrame, runs: pd.DataFrame) -> pd.DataFrame:
    """Per run, stage and layer: share, uniform share and enrichment, each a mean over (row, sequence) pairs."""
    columns = [*RUN_KEYS, "stage", "layer", "share", "uniform", "enrichment", "n_rows"]
    if share.empty or "share" not in share.columns:
        return pd.DataFrame(columns=columns)
    weighted = share.assign(
        w_share=share["share"] * share["n_sequences"], w_uniform=share["uniform"] * share["n_sequences"]
    )
    sums = weighted.groupby([*RUN_KEYS, "layer"], as_index=False).agg(
        w_share=("w_share", "sum"), w_uniform=("w_uniform", "sum"), weight=("n_sequences", "sum"), n_rows=("t", "size")
    )
    table = sums.assign(share=sums["w_share"] / sums["weight"], uniform=sums["w_uniform"] / sums["weight"])
    table = table.assign(enrichment=table["share"] - table["uniform"], stage=_stage(table, runs))
    return table.dropna(subset=["stage"])[columns].reset_index(drop=True)


def enrichment_summary(per_run: pd.DataFrame, runs: pd.DataFrame, confidence: float) -> pd.DataFrame:
    """Per condition, stage and layer: enrichment over seeds with its Student t interval, and the mean shares."""
    rows = []
    factors = runs.drop_duplicates("condition").set_index("condition")
    for (condition, stage, layer), group in per_run.groupby(["condition", "stage", "layer"], sort=True):
        interval = mean_interval(group["enrichment"].to_numpy(), confidence)
        rows.append(
            {
                "condition": condition,
                "task_name": factors.loc[condition, "task_name"],
                "pos_encoding": factors.loc[condition, "pos_encoding"],
                "regime": factors.loc[condition, "regime"],
                "stage": stage,
                "layer": int(layer),
                "enrichment_mean": interval.estimate,
                "enrichment_low": interval.low,
                "enrichment_high": interval.high,
                "share_mean": float(group["share"].mean()),
                "uniform_mean": float(group["uniform"].mean()),
                "n_seeds": interval.n,
            }
        )
    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)


SUMMARY_COLUMNS = [
    "condition", "task_name", "pos_encoding", "regime", "stage", "layer",
    "enrichment_mean", "enrichment_low", "enrichment_high", "share_mean", "uniform_mean", "n_seeds",
]
TEST_COLUMNS = [
    "condition", "task_name", "pos_encoding", "deciding", "learned", "n_seeds",
    "trained_mean", "trained_low", "trained_high", "effect_size", "p_above_zero", "p_above_zero_holm",
    "p_below_margin", "p_below_margin_holm", "init_mean", "init_low", "init_high",
    "change_mean", "change_low", "change_high", "change_p", "status",
]


def _seed_values(per_run: pd.DataFrame, condition: str, stage: str, layer: int) -> pd.Series:
    mine = per_run[(per_run["condition"] == condition) & (per_run["stage"] == stage) & (per_run["layer"] == layer)]
    return mine.set_index("seed")["enrichment"].astype(float)


def _names(names: tuple[str, ...]) -> set[str]:
    return set(names)


def tested_conditions(per_run: pd.DataFrame, runs: pd.DataFrame, rules: Rules) -> list[str]:
    """Standard conditions of the rule's tasks with a trained dependency share at the deciding layer (any encoding)."""
    factors = runs.drop_duplicates("condition").set_index("condition")
    trained = per_run[(per_run["stage"] == "trained") & (per_run["layer"] == rules.layer)]
    return [
        c for c in sorted(trained["condition"].unique())
        if c in factors.index and factors.loc[c, "regime"] == STANDARD.name and factors.loc[c, "task_name"] in _names(rules.tasks)
    ]


def condition_tests(per_run: pd.DataFrame, runs: pd.DataFrame, rules: Rules, settings: dict[str, Any]) -> pd.DataFrame:
    """Per deciding condition: the trained layer-0 tests (Holm over the learned conditions), init and the paired change."""
    confidence, alpha = settings["confidence"], settings["alpha"]
    learned = learned_conditions(runs)
    factors = runs.drop_duplicates("condition").set_index("condition")
    rows = []
    for condition in tested_conditions(per_run, runs, rules):
        trained = _seed_values(per_run, condition, "trained", rules.layer)
        init = _seed_values(per_run, condition, "init", rules.layer)
        above = compare_to_zero(trained.to_numpy(), confidence, alternative="greater")
        below = compare_to_zero(trained.to_numpy() - rules.min_excess, confidence, alternative="less")
        paired = trained.to_frame("trained").join(init.rename("init"), how="inner")
        change = compare_to_zero((paired["trained"] - paired["init"]).to_numpy(), confidence)
        start = mean_interval(init.to_numpy(), confidence)
        rows.append(_test_row(condition, factors.loc[condition], bool(learned.get(condition, True)), above, below, start, change))
    table = pd.DataFrame(rows, columns=TEST_COLUMNS).astype({"learned": bool})
    table["deciding"] = table["pos_encoding"].isin(_names(rules.pos_encodings)).astype(bool)
    counted = (table["deciding"] & table["learned"]).to_numpy(dtype=bool)
    for family in ("p_above_zero", "p_below_margin"):
        adjusted = np.full(len(table), np.nan)
        adjusted[counted] = holm(table.loc[counted, family].to_numpy(dtype=float))
        table[f"{family}_holm"] = adjusted
    table["status"] = [_status(row, rules, alpha) for row in table.itertuples()]
    return table


def _test_row(condition: str, factors: pd.Series, learned: bool, above: SeedTest, below: SeedTest, start: Interval, change: SeedTest) -> dict:
    return {
        "condition": condition, "task_name": factors["task_name"], "pos_encoding": factors["pos_encoding"],
        "deciding": False, "learned": learned, "n_seeds": above.n,
        "trained_mean": above.estimate, "trained_low": above.low, "trained_high": above.high,
        "effect_size": above.effect_size, "p_above_zero": above.p, "p_above_zero_holm": np.nan,
        "p_below_margin": below.p, "p_below_margin_holm": np.nan,
        "init_mean": start.estimate, "init_low": start.low, "init_high": start.high,
        "change_mean": change.estimate, "change_low": change.low, "change_high": change.high, "change_p": change.p,
        "status": "",
    }


def _family_status(row: Any, passes: bool, passing: str, alpha: float) -> str:
    """One condition of either C1b family: reported apart, passing (``passes``: its test and margin), falls short, or not decided."""
    if not row.deciding:
        return DESCRIPTIVE
    if not row.learned:
        return NOT_LEARNED
    if passes:
        return passing
    return FALLS_SHORT if row.p_below_margin_holm < alpha else UNDECIDED


def _status(row: Any, rules: Rules, alpha: float) -> str:
    passes = row.p_above_zero_holm < alpha and row.trained_mean >= rules.min_excess
    return _family_status(row, passes, CONCENTRATES, alpha)


# --- multi-source family ---------------------------------------------------------------------


ORDERS = "orders"
MULTI_RUN_COLUMNS = [
    *RUN_KEYS, "stage", "separated", "auc", "n_rows", "grad_share", "effect_share", "effect_auc", "rank_correlation",
]
MULTI_COLUMNS = [
    "condition", "task", "task_name", "pos_encoding", "deciding", "learned", "n_seeds",
    "auc_mean", "auc_low", "auc_high", "effect_size", "p_above_chance", "p_above_chance_holm",
    "p_below_margin", "p_below_margin_holm", "init_mean", "init_low", "init_high", "change_mean", "change_low",
    "change_high", "status",
]
VALIDATED = ("separated", "grad_share", "effect_share", "effect_auc", "rank_correlation")  # per-run columns, descriptive
VALIDATION_COLUMNS = [
    "condition", "task", "task_name", "pos_encoding", "n_seeds", "separated_init_mean",
    *[f"{column}_{part}" for column in VALIDATED for part in ("mean", "low", "high")],
]
CHANCE_AUC = 0.5  # a needed source's gradient above an unneeded one's as often as below: no ordering


def _weighted(table: pd.DataFrame, columns: list[str], weight: str) -> pd.DataFrame:
    """Per run (condition, seed, step): the ``weight``-weighted mean of each column over its defined (non-NaN) rows,
    and the summed weight of all rows as n_rows."""
    defined = {f"w_{c}": table[weight].where(table[c].notna(), 0) for c in columns}
    weighted = table.assign(**{c: table[c] * table[weight] for c in columns}, **defined)
    sums = weighted.groupby(RUN_KEYS, as_index=False)[[*columns, *defined, weight]].sum()
    means = {c: sums[c] / sums[f"w_{c}"] for c in columns}
    return sums.assign(**means).drop(columns=list(defined)).rename(columns={weight: "n_rows"})


def multi_source_runs(separation: pd.DataFrame, intervention: pd.DataFrame, runs: pd.DataFrame, layer: int) -> pd.DataFrame:
    """Per run and stage: separation and AUC of the layer-``layer`` gradient (means over qualifying rows), and the
    interventional comparison: pooled shares of the gradient and of the effect on the needed sources, the effect's AUC
    and the mean per-row rank correlation of gradient and effect (NaN where the intervention was not measured)."""
    if separation.empty or "auc" not in separation.columns:
        return pd.DataFrame(columns=MULTI_RUN_COLUMNS)
    table = _weighted(separation[separation["layer"] == layer], ["separated", "auc"], "n_sequences")
    if not intervention.empty and "effect_auc" in intervention.columns:
        sums = intervention.groupby(RUN_KEYS, as_index=False)[["grad_needed", "grad_total", "effect_needed", "effect_total"]].sum()
        shares = sums.assign(grad_share=sums["grad_needed"] / sums["grad_total"], effect_share=sums["effect_needed"] / sums["effect_total"])
        means = _weighted(intervention, ["effect_auc", "rank_correlation"], "n_sequences").drop(columns="n_rows")
        table = table.merge(shares[[*RUN_KEYS, "grad_share", "effect_share"]].merge(means, on=RUN_KEYS), on=RUN_KEYS, how="left")
    table = table.reindex(columns=[c for c in MULTI_RUN_COLUMNS if c != "stage"]).assign(stage=_stage(table, runs))
    return table.dropna(subset=["stage"])[MULTI_RUN_COLUMNS].reset_index(drop=True)


def _by_seed(per_run: pd.DataFrame, condition: str, stage: str, column: str) -> pd.Series:
    mine = per_run[(per_run["condition"] == condition) & (per_run["stage"] == stage)]
    return mine.set_index("seed")[column].astype(float)


def _names_of(names: tuple[str, ...]) -> set[str]:
    return set(names)


def multi_source_tests(per_run: pd.DataFrame, runs: pd.DataFrame, rules: Rules, settings: dict[str, Any]) -> pd.DataFrame:
    """Per standard condition of a multi-source task: the trained AUC against chance and the margin (Holm over the
    deciding, learned conditions), init and the paired change."""
    confidence = settings["confidence"]
    learned, factors = learned_conditions(runs), runs.drop_duplicates("condition").set_index("condition")
    conditions = [
        c for c in sorted(per_run.loc[per_run["stage"] == "trained", "condition"].unique())
        if c in factors.index and factors.loc[c, "regime"] == STANDARD.name
        and factors.loc[c, "task_name"] in _names_of(rules.multi_source_tasks)
    ]
    rows = []
    for condition in conditions:
        trained, init = (_by_seed(per_run, condition, stage, "auc") for stage in ("trained", "init"))
        above = compare_to_zero(trained.to_numpy() - CHANCE_AUC, confidence, alternative="greater")
        below = compare_to_zero(trained.to_numpy() - rules.min_auc, confidence, alternative="less")
        paired = trained.to_frame("trained").join(init.rename("init"), how="inner")
        change = compare_to_zero((paired["trained"] - paired["init"]).to_numpy(), confidence)
        start = mean_interval(init.to_numpy(), confidence)
        info = factors.loc[condition]
        rows.append({
            "condition": condition, "task": info.get("task", info["task_name"]), "task_name": info["task_name"],
            "pos_encoding": info["pos_encoding"], "deciding": info["pos_encoding"] in _names_of(rules.pos_encodings),
            "learned": bool(learned.get(condition, True)), "n_seeds": above.n,
            "auc_mean": above.estimate + CHANCE_AUC, "auc_low": above.low + CHANCE_AUC, "auc_high": above.high + CHANCE_AUC,
            "effect_size": above.effect_size, "p_above_chance": above.p, "p_above_chance_holm": np.nan,
            "p_below_margin": below.p, "p_below_margin_holm": np.nan,
            "init_mean": start.estimate, "init_low": start.low, "init_high": start.high,
            "change_mean": change.estimate, "change_low": change.low, "change_high": change.high, "status": "",
        })
    table = pd.DataFrame(rows, columns=MULTI_COLUMNS).astype({"deciding": bool, "learned": bool})
    counted = (table["deciding"] & table["learned"]).to_numpy(dtype=bool)
    for family in ("p_above_chance", "p_below_margin"):
        adjusted = np.full(len(table), np.nan)
        adjusted[counted] = holm(table.loc[counted, family].to_numpy(dtype=float))
        table[f"{family}_holm"] = adjusted
    table["status"] = [_multi_status(row, rules, settings["alpha"]) for row in table.itertuples()]
    return table


def validation_table(per_run: pd.DataFrame, runs: pd.DataFrame, rules: Rules, confidence: float) -> pd.DataFrame:
    """Per standard condition of either family's tasks (any encoding, learned or not): the descriptive check of the
    gradient against the intervention on the trained runs, with the strict separation at init beside it."""
    factors = runs.drop_duplicates("condition").set_index("condition")
    tasks = _names_of(rules.tasks) | _names_of(rules.multi_source_tasks)
    rows = []
    for condition in sorted(per_run.loc[per_run["stage"] == "trained", "condition"].unique()):
        if condition not in factors.index or factors.loc[condition, "regime"] != STANDARD.name or factors.loc[condition, "task_name"] not in tasks:
            continue
        info = factors.loc[condition]
        row = {"condition": condition, "task": info.get("task", info["task_name"]), "task_name": info["task_name"],
               "pos_encoding": info["pos_encoding"], "n_seeds": len(_by_seed(per_run, condition, "trained", "auc")),
               "separated_init_mean": _by_seed(per_run, condition, "init", "separated").mean()}
        for column in VALIDATED:
            interval = mean_interval(_by_seed(per_run, condition, "trained", column).to_numpy(), confidence)
            row |= {f"{column}_mean": interval.estimate, f"{column}_low": interval.low, f"{column}_high": interval.high}
        rows.append(row)
    return pd.DataFrame(rows, columns=VALIDATION_COLUMNS)


def _multi_status(row: Any, rules: Rules, alpha: float) -> str:
    passes = row.p_above_chance_holm < alpha and row.auc_mean >= rules.min_auc
    return _family_status(row, passes, ORDERS, alpha)


# --- verdicts ---------------------------------------------------------------------------------


def structural_verdict(reach: pd.DataFrame, rules: Rules) -> Verdict:
    """C1a: in every standard run, checkpoint and layer below the last, every earlier position gets gradient."""
    # equivalent mutant: the empty series' dtype is never read (its minimum is taken only when it has rows)
    per_run = reach.groupby(["condition", "seed"])["fraction_reached"].min() if len(reach) else pd.Series(dtype=float)
    passing = int((per_run >= rules.min_fraction).sum())
    if per_run.empty:
        verdict = MIXED
    else:
        verdict = SUPPORTED if passing == len(per_run) else REFUTED if passing == 0 else MIXED
    # equivalent mutant: the minimum of an empty series is NaN too, and float("NAN") is NaN
    smallest = float(per_run.min()) if len(per_run) else float("nan")
    return Verdict(
        "C1a", verdict,
        f"smallest fraction of earlier positions reached: {fmt(smallest, 3)}; {passing} of {len(per_run)} standard runs "
        f"reach at least {fmt(rules.min_fraction, 3)} at every checkpoint and layer below the last",
        f"supported if every standard run sends non-zero gradient to at least {fmt(100 * rules.min_fraction, 0)}% of "
        "earlier positions at every checkpoint and layer below the last, refuted if none does, mixed otherwise "
        "(structural: softmax attention weights are never exactly 0)",
        kind=STRUCTURAL,
    )


def family_outcome(counted: pd.DataFrame, passing: str) -> str:
    """A family's verdict word: supported if every deciding condition passes, refuted if every one falls short, else mixed."""
    n = len(counted)
    if n and (counted["status"] == passing).all():
        return SUPPORTED
    if n and (counted["status"] == FALLS_SHORT).all():
        return REFUTED
    return MIXED


def combined_outcome(enrichment: str, multi_source: str) -> str:
    """C1b: supported if both families are, refuted if either is (the gradient misses the used positions, or some of them)."""
    if REFUTED in (enrichment, multi_source):
        return REFUTED
    return SUPPORTED if enrichment == multi_source == SUPPORTED else MIXED


def _enrichment_text(counted: pd.DataFrame, rules: Rules) -> str:
    if counted.empty:
        return "no deciding condition (learned, standard, a task with known dependencies)"
    weakest = counted.loc[counted["trained_mean"].idxmin()]
    return (
        f"smallest trained layer-{rules.layer} enrichment {fmt(weakest['trained_mean'])} "
        f"[{fmt(weakest['trained_low'])}, {fmt(weakest['trained_high'])}] ({weakest['task_name']}, {weakest['pos_encoding']}); "
        f"concentrates in {int((counted['status'] == CONCENTRATES).sum())}, falls short in "
        f"{int((counted['status'] == FALLS_SHORT).sum())} of {len(counted)} deciding conditions"
    )


def _multi_source_text(counted: pd.DataFrame, rules: Rules) -> str:
    if counted.empty:
        return "multi-source: no deciding condition (learned, standard, a task whose targets need several sources)"
    weakest = counted.loc[counted["auc_mean"].idxmin()]
    return (
        f"multi-source: smallest trained layer-{rules.layer} AUC {fmt(weakest['auc_mean'])} "
        f"[{fmt(weakest['auc_low'])}, {fmt(weakest['auc_high'])}] ({weakest['task']}, {weakest['pos_encoding']}); "
        f"orders in {int((counted['status'] == ORDERS).sum())}, falls short in "
        f"{int((counted['status'] == FALLS_SHORT).sum())} of {len(counted)} deciding conditions"
    )


def finding_verdict(tests: pd.DataFrame, multi: pd.DataFrame, rules: Rules, alpha: float) -> Verdict:
    """C1b from both families' per-condition tests (see the module docstring for the rule)."""
    counted = tests[tests["deciding"] & tests["learned"]]
    multi_counted = multi[multi["deciding"] & multi["learned"]]
    verdict = combined_outcome(family_outcome(counted, CONCENTRATES), family_outcome(multi_counted, ORDERS))
    apart = pd.concat([tests["status"], multi["status"]])
    not_learned, descriptive = int((apart == NOT_LEARNED).sum()), int((apart == DESCRIPTIVE).sum())
    deciding = f"{_enrichment_text(counted, rules)}; {_multi_source_text(multi_counted, rules)}"
    return Verdict(
        "C1b", verdict, deciding + f" ({not_learned} not learned and {descriptive} descriptive, reported apart)",
        f"supported if in every standard condition of {', '.join(rules.tasks)} with {', '.join(rules.pos_encodings)} "
        f"positions that learned its task the trained layer-{rules.layer} "
        f"enrichment (gradient share on the needed earlier positions minus the uniform share) exceeds 0 (one-sided t over "
        f"seeds, Holm p < {alpha}) with mean at least {fmt(rules.min_excess)}, and in every such condition of "
        f"{', '.join(rules.multi_source_tasks)} (targets that need several sources) the AUC (probability that a needed "
        f"source's gradient exceeds an unneeded one's) exceeds 0.5 (Holm p < {alpha}) with mean at least "
        f"{fmt(rules.min_auc)}; refuted if in every condition of either family it is below its margin (one-sided t, "
        f"Holm p < {alpha}); mixed otherwise",
    )


# --- numbers ----------------------------------------------------------------------------------


def _p(value: float) -> str:
    return "n/a" if not np.isfinite(value) else "< 0.001" if value < 0.001 else fmt(value, 3)


def _ci(mean: float, low: float, high: float) -> dict[str, str]:
    return {"mean": fmt(mean), "low": fmt(low), "high": fmt(high)}


def multi_source_numbers(multi: pd.DataFrame, rules: Rules) -> dict[str, Any]:
    """The multi-source family as the paper prints it: its rule's numbers, counts and one row per condition."""
    counted = multi["deciding"] & multi["learned"]
    return {
        "tasks": ", ".join(rules.multi_source_tasks),
        "min_auc": fmt(rules.min_auc),
        "chance_auc": fmt(CHANCE_AUC),
        "n_deciding": str(int(counted.sum())),
        "n_orders": str(int((multi["status"] == ORDERS).sum())),
        "n_falls_short": str(int((counted & (multi["status"] == FALLS_SHORT)).sum())),
        "outcome": family_outcome(multi[counted], ORDERS),
        "rows": [
            {
                "task": str(r.task), "pos_encoding": str(r.pos_encoding), "n_seeds": str(int(r.n_seeds)),
                "init": _ci(r.init_mean, r.init_low, r.init_high), "trained": _ci(r.auc_mean, r.auc_low, r.auc_high),
                "change": _ci(r.change_mean, r.change_low, r.change_high), "p_holm": _p(r.p_above_chance_holm),
                "status": str(r.status),
            }
            for r in multi.itertuples()
        ],
    }


def validation_numbers(validation: pd.DataFrame) -> list[dict[str, Any]]:
    """The interventional check as the paper prints it: one row per condition (readable task label and encoding)."""
    return [
        {
            "task": str(r.task), "pos_encoding": str(r.pos_encoding), "n_seeds": str(int(r.n_seeds)),
            "separated_init": fmt(r.separated_init_mean), "separated": _ci(r.separated_mean, r.separated_low, r.separated_high),
            "grad_share": _ci(r.grad_share_mean, r.grad_share_low, r.grad_share_high),
            "effect_share": _ci(r.effect_share_mean, r.effect_share_low, r.effect_share_high),
            "effect_auc": _ci(r.effect_auc_mean, r.effect_auc_low, r.effect_auc_high),
            "rank_correlation": _ci(r.rank_correlation_mean, r.rank_correlation_low, r.rank_correlation_high),
        }
        for r in validation.itertuples()
    ]


def paper_numbers(
    verdicts: list[Verdict], reach: pd.DataFrame, tests: pd.DataFrame, summary: pd.DataFrame, rules: Rules, settings: dict,
    multi: pd.DataFrame | None = None, validation: pd.DataFrame | None = None,
) -> dict[str, Any]:
    check, finding = verdicts
    trained = summary[summary["stage"] == "trained"]
    return {
        "check": check.as_dict(),
        "finding": finding.as_dict(),
        "min_excess": fmt(rules.min_excess),
        "min_fraction_pct": fmt(100 * rules.min_fraction, 0),
        "layer": str(rules.layer),
        "tasks": ", ".join(rules.tasks),
        "alpha": str(settings["alpha"]),
        "confidence_pct": fmt(100 * settings["confidence"], 0),
        "reach_min": fmt(float(reach["fraction_reached"].min()) if len(reach) else None, 3),
        "reach_runs": str(reach[["condition", "seed"]].drop_duplicates().shape[0]),
        "pos_encodings": ", ".join(rules.pos_encodings),
        "n_deciding": str(int((tests["deciding"] & tests["learned"]).sum())),
        "n_not_learned": str(int((tests["status"] == NOT_LEARNED).sum())),
        "n_descriptive": str(int((tests["status"] == DESCRIPTIVE).sum())),
        "n_concentrates": str(int((tests["status"] == CONCENTRATES).sum())),
        "n_falls_short": str(int((tests["status"] == FALLS_SHORT).sum())),
        "rows": [
            {
                "task": str(r.task_name), "pos_encoding": str(r.pos_encoding), "n_seeds": str(int(r.n_seeds)),
                "init": _ci(r.init_mean, r.init_low, r.init_high),
                "trained": _ci(r.trained_mean, r.trained_low, r.trained_high),
                "change": _ci(r.change_mean, r.change_low, r.change_high),
                "p_holm": _p(r.p_above_zero_holm), "effect_size": fmt(r.effect_size), "status": str(r.status),
            }
            for r in tests.itertuples()
        ],
        "layers": [
            {
                "task": str(r.task_name), "pos_encoding": str(r.pos_encoding), "layer": str(r.layer),
                "enrichment": fmt_interval(Interval(r.enrichment_mean, r.enrichment_low, r.enrichment_high, int(r.n_seeds))), "share": fmt(r.share_mean), "uniform": fmt(r.uniform_mean),
            }
            for r in trained[trained["regime"] == STANDARD.name].itertuples()
        ],
        "enrichment_outcome": family_outcome(tests[tests["deciding"] & tests["learned"]], CONCENTRATES),
        "multi_source": multi_source_numbers(pd.DataFrame(columns=MULTI_COLUMNS) if multi is None else multi, rules),
        "validation": validation_numbers(pd.DataFrame(columns=VALIDATION_COLUMNS) if validation is None else validation),
    }


# --- the claim --------------------------------------------------------------------------------


RUN_COLUMNS = ["condition", "seed", "task_name", "pos_encoding", "regime", "n_layer", "steps"]


def decide(inputs: ClaimInputs, rules: Rules) -> ClaimResult:
    settings = dict(inputs.settings)
    runs = pd.DataFrame(columns=RUN_COLUMNS) if inputs.runs.empty else inputs.runs
    reach = reach_table(inputs.tables.get("m1_gradient_matrix", pd.DataFrame()), runs)
    per_run = enrichment_runs(inputs.tables.get("m1_dependency_share", pd.DataFrame()), runs)
    summary = enrichment_summary(per_run, runs, settings["confidence"])
    tests = condition_tests(per_run, runs, rules, settings)
    multi_runs = multi_source_runs(
        inputs.tables.get("m1_separation", pd.DataFrame()), inputs.tables.get("m9_intervention", pd.DataFrame()), runs, rules.layer
    )
    multi = multi_source_tests(multi_runs, runs, rules, settings)
    validation = validation_table(multi_runs, runs, rules, settings["confidence"])
    verdicts = [structural_verdict(reach, rules), finding_verdict(tests, multi, rules, settings["alpha"])]
    return ClaimResult(
        verdicts=verdicts,
        tables={
            "c1_reach": reach, "c1_enrichment_runs": per_run, "c1_enrichment": summary, "c1_tests": tests,
            "c1_multi_source_runs": multi_runs, "c1_multi_source": multi, "c1_intervention": validation,
        },
        numbers=paper_numbers(verdicts, reach, tests, summary, rules, settings, multi, validation),
    )


CLAIM = Claim(
    id="c1",
    inputs=("m1_gradient_matrix", "m1_dependency_share", "m1_separation", "m9_intervention"),
    outputs=("c1_reach", "c1_enrichment_runs", "c1_enrichment", "c1_tests", "c1_multi_source_runs", "c1_multi_source",
             "c1_intervention"),
    rules=Rules,
    decide=decide,
    statement="a token's loss sends gradient into every earlier position whose information it used",
    decided_by=(
        "structural check (M1 non-zero below the diagonal); "
        "finding: share of a row's gradient on the positions the target needs vs uniform (markov, recall, known-distance task)"
    ),
    section="c1",
)
