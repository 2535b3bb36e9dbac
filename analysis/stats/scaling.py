"""How the claims' deciding quantities move with depth, width and context: descriptive, no verdict.

One factor at a time around a reference model (``settings["scaling"]``: n_layer, d_model,
context): the sweep over a factor is the conditions whose other two factors equal the
reference, with every other setting (task, regime, encoding, heads, steps) held fixed. Per
run and level each quantity is read from the claim tables with the claim's own definition:

* ``did``, ``did_relative``: C2's difference-in-differences of plateau losses (C2's per-run plateau
  table), gap(treated) - gap(control), gap = myopic-state minus standard of the same seed; relative
  to the treated task's baseline-to-optimum span, as C2 scales its threshold;
* ``c4_exponent``, ``c4_slope``: C4's power-law exponent p (seeds whose profile is not flat) and
  within-row slope beta, final checkpoint, C4's layer;
* ``c1_enrichment``: C1's enrichment on the true dependencies, trained, C1's layer;
* ``c6_ratio``: C6's signed transfer over the context channel at its deciding step, on text only:
  a task solved to its optimum (lag) has no next-token loss left to lower, so its ratio is ~0 by
  construction whatever the model;
* ``primacy_*``: the primacy analysis's first- and early-position measures at layer 0, at
  initialisation and trained (empty where that analysis wrote nothing).

Trend: per seed, the OLS slope of the quantity on log2(level) over that seed's levels (at least
two), i.e. the change per doubling; its Student t interval over seeds. Whether each level learned
its task is carried with it: a gap or a concentration of a model that did not learn says little.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from ..grid import factors_except
from ..regimes import STANDARD
from . import distance
from .c1 import Rules as C1Rules
from .c1 import _p as p_text
from .c2 import Rules as C2Rules
from .c4 import Rules as C4Rules
from .c6 import BEST as C6_BEST
from .c6 import pct
from .claims import ClaimInputs
from .descriptive import Analysis, AnalysisResult
from .inference import compare_to_zero, mean_interval
from .report import fmt

SWEEPS = {"depth": "n_layer", "width": "d_model", "context": "context"}  # sweep name -> the factor it varies
HELD = factors_except(*SWEEPS.values())  # fixed within one sweep
C6_TASKS = ("text",)  # task names C6's ratio is traced on (see the module docstring for lag)
PRIMACY_LAYER = 0  # the input stream, where C1 and C4 decide
PRIMACY_MEASURES = ("primacy_first", "primacy_early")
LAWS = (distance.POWER_LAW, distance.EXPONENTIAL, distance.INDISTINGUISHABLE, distance.FLAT)


def _digits(digits: int) -> Callable[[float], str]:
    return lambda value: fmt(value, digits)


QUANTITIES: dict[str, tuple[str, Callable[[float], str]]] = {  # name -> (what it is, in words; how the paper prints it)
    "did": ("C2 difference-in-differences (loss)", _digits(3)),
    "did_relative": ("C2 difference-in-differences / baseline-to-optimum span", _digits(3)),
    "c4_exponent": ("C4 power-law exponent p", _digits(2)),
    "c4_slope": ("C4 within-row slope beta", _digits(2)),
    "c1_enrichment": ("C1 enrichment on true dependencies", _digits(3)),
    "c6_ratio": ("C6 signed transfer / context channel", pct),
    **{f"{m}_{stage}": (f"{m.replace('_', ' ')} ({stage})", _digits(3)) for m in PRIMACY_MEASURES for stage in ("init", "trained")},
}

SEED_COLUMNS = ["sweep", "factor", "level", "task", "quantity", "seed", "value", "learned"]
LEVEL_COLUMNS = ["sweep", "factor", "level", "task", "quantity", "mean", "low", "high", "n_seeds", "learned"]
TREND_COLUMNS = ["sweep", "factor", "task", "quantity", "slope_mean", "slope_low", "slope_high", "p", "n_seeds",
                 "n_levels", "n_levels_learned"]
LAW_COLUMNS = ["sweep", "factor", "level", "task", "law", "n_seeds"]
OUTPUTS = ("scaling_levels", "scaling_trends", "scaling_laws")


def reference(settings: Mapping[str, Any]) -> dict[str, int] | None:
    """The reference model, or None where the profile has no sweeps (every factor must be given)."""
    given = settings.get("scaling") or {}
    if not set(SWEEPS.values()) <= set(given):
        return None
    return {factor: int(given[factor]) for factor in SWEEPS.values()}


def _names(names: tuple[str, ...]) -> set[str]:
    return set(names)


# --- which runs belong to which sweep ---------------------------------------------------------


def swept_runs(runs: pd.DataFrame, ref: Mapping[str, int]) -> pd.DataFrame:
    """One row per run and sweep it belongs to (a reference run belongs to all three), with ``sweep``, ``factor``, ``level``.

    Within a sweep the held settings must be one setting over at least two levels: a setting seen at
    one level only (another encoding at the reference model) is not a sweep and is left out.
    """
    parts = []
    for sweep, factor in SWEEPS.items():
        others = [f for f in SWEEPS.values() if f != factor]
        mine = runs[(runs[others] == pd.Series({f: ref[f] for f in others})).all(axis=1)]
        levels = mine.groupby(HELD, dropna=False)[factor].transform("nunique")
        mine = mine[levels >= 2]
        spread = mine.drop_duplicates(HELD).groupby(["task", "regime"]).size()
        if (spread > 1).any():
            raise ValueError(f"the {sweep} sweep holds several settings for {list(spread[spread > 1].index)}; "
                             f"a sweep varies {factor} alone")
        parts.append(mine.assign(sweep=sweep, factor=factor, level=mine[factor].astype(int)))
    columns = [*runs.columns, "sweep", "factor", "level"]
    return pd.concat(parts, ignore_index=True)[columns] if parts else pd.DataFrame(columns=columns)


def _per_seed(table: pd.DataFrame, swept: pd.DataFrame, column: str, quantity: str) -> pd.DataFrame:
    """Rows of a claim table joined to their sweeps, as (sweep, factor, level, task, quantity, seed, value, learned)."""
    if table.empty or swept.empty:
        return pd.DataFrame(columns=SEED_COLUMNS)
    keys = ["condition", "seed", "sweep", "factor", "level", "task", "learned"]
    joined = table[["condition", "seed", column]].merge(swept[keys], on=["condition", "seed"])
    joined = joined.assign(quantity=quantity, value=joined[column].astype(float))
    return joined[SEED_COLUMNS]


def _standard(swept: pd.DataFrame, task_names: set[str]) -> pd.DataFrame:
    return swept[(swept["regime"] == STANDARD.name) & swept["task_name"].isin(task_names)]


def _final(table: pd.DataFrame, swept: pd.DataFrame) -> pd.DataFrame:
    """Rows at each run's last step (its trained model)."""
    steps = swept.drop_duplicates(["condition", "seed"])[["condition", "seed", "steps"]]
    mine = table.merge(steps, on=["condition", "seed"])
    return mine[mine["step"] == mine["steps"]]


# --- the quantities, per seed and level -------------------------------------------------------


def did_values(swept: pd.DataFrame, rules: C2Rules | None = None, plateau: pd.DataFrame | None = None) -> pd.DataFrame:
    """C2's DiD per seed and level, absolute and over the treated task's baseline-to-optimum span: of plateau losses
    where C2's per-run plateau table is given (as the study does), else of final losses."""
    rules = rules or C2Rules()
    sine = swept[swept["task"].isin([rules.treated_task, rules.control_task])
                 & swept["regime"].isin([STANDARD.name, rules.regime])]
    if sine.empty:
        return pd.DataFrame(columns=SEED_COLUMNS)
    if plateau is not None and not plateau.empty:
        sine = sine.merge(plateau[["condition", "seed", "plateau_loss"]], on=["condition", "seed"], how="left")
    column = "plateau_loss" if "plateau_loss" in sine else "final_eval_loss"
    level = ["sweep", "factor", "level"]
    loss = sine.pivot_table(index=[*level, "seed"], columns=["task", "regime"], values=column, aggfunc="first")
    cells = [(task, regime) for task in (rules.treated_task, rules.control_task) for regime in (STANDARD.name, rules.regime)]
    loss = loss.reindex(columns=pd.MultiIndex.from_tuples(cells))
    gap = {task: loss[(task, rules.regime)] - loss[(task, STANDARD.name)] for task in (rules.treated_task, rules.control_task)}
    did = (gap[rules.treated_task] - gap[rules.control_task]).dropna().rename("value").reset_index()
    treated = sine[sine["task"] == rules.treated_task].groupby(level)
    span = (treated["baseline_loss"].first() - treated["optimal_loss"].first()).rename("span")
    standard = sine[sine["regime"] == STANDARD.name].groupby(level).agg(every_seed=("learned", "all"), tasks=("task", "nunique"))
    both_learned = (standard["every_seed"] & (standard["tasks"] == 2)).rename("learned")  # C2: standard learned both tasks
    did = did.join(span, on=level).join(both_learned, on=level)
    did["learned"] = did["learned"].fillna(False).astype(bool)
    absolute = did.assign(quantity="did")
    relative = did.assign(quantity="did_relative", value=did["value"] / did["span"].where(did["span"] > 0))
    both = pd.concat([absolute, relative], ignore_index=True).assign(task=rules.treated_task)
    return both.dropna(subset=["value"])[SEED_COLUMNS]


def c4_values(fits: pd.DataFrame, slopes: pd.DataFrame, swept: pd.DataFrame, rules: C4Rules | None = None) -> pd.DataFrame:
    """C4's exponent p (profiles that are not flat: p of a flat profile means nothing) and slope beta, trained, C4's layer."""
    rules = rules or C4Rules()
    mine = _standard(swept, _names(rules.trained_tasks))
    fits = _final(fits[fits["layer"] == rules.layer], mine) if not fits.empty else fits
    slopes = _final(slopes[slopes["layer"] == rules.layer], mine) if not slopes.empty else slopes
    exponent = fits[fits["preferred"] != distance.FLAT] if not fits.empty else fits
    return pd.concat([_per_seed(exponent, mine, "power_p", "c4_exponent"),
                      _per_seed(slopes, mine, "slope", "c4_slope")], ignore_index=True)


def c1_values(enrichment: pd.DataFrame, swept: pd.DataFrame, rules: C1Rules | None = None) -> pd.DataFrame:
    """C1's enrichment on the true dependencies, trained, C1's layer, C1's tasks."""
    rules = rules or C1Rules()
    if enrichment.empty:
        return pd.DataFrame(columns=SEED_COLUMNS)
    trained = enrichment[(enrichment["stage"] == "trained") & (enrichment["layer"] == rules.layer)]
    return _per_seed(trained, _standard(swept, _names(rules.tasks)), "enrichment", "c1_enrichment")


def c6_values(transfer: pd.DataFrame, swept: pd.DataFrame) -> pd.DataFrame:
    """C6's signed transfer over the context channel at its deciding (most favourable, out-of-sample) step."""
    if transfer.empty:
        return pd.DataFrame(columns=SEED_COLUMNS)
    deciding = transfer[transfer["choice"] == C6_BEST]
    return _per_seed(deciding, _standard(swept, set(C6_TASKS)), "ratio", "c6_ratio")


def primacy_values(primacy: pd.DataFrame, swept: pd.DataFrame, rules: C4Rules | None = None) -> pd.DataFrame:
    """The primacy analysis's measures at layer 0, at initialisation and trained, on C4's tasks."""
    if primacy.empty:
        return pd.DataFrame(columns=SEED_COLUMNS)
    mine = _standard(swept, _names((rules or C4Rules()).trained_tasks))
    at_layer = primacy[primacy["layer"] == PRIMACY_LAYER]
    parts = [_per_seed(at_layer[at_layer["stage"] == stage], mine, measure, f"{measure}_{stage}")
             for measure in PRIMACY_MEASURES for stage in ("init", "trained")]
    return pd.concat(parts, ignore_index=True)


# --- over seeds --------------------------------------------------------------------------------


def level_table(values: pd.DataFrame, confidence: float) -> pd.DataFrame:
    """Per sweep, level, task and quantity: the mean over seeds with its t interval, and whether the level learned."""
    rows = []
    for keys, group in values.groupby(["sweep", "factor", "level", "task", "quantity"], sort=True):
        interval = mean_interval(group["value"].to_numpy(float), confidence)
        rows.append({**dict(zip(LEVEL_COLUMNS[:5], keys, strict=True)), "mean": interval.estimate, "low": interval.low,
                     "high": interval.high, "n_seeds": interval.n, "learned": bool(group["learned"].all())})
    return pd.DataFrame(rows, columns=LEVEL_COLUMNS)


def seed_slopes(values: pd.DataFrame) -> pd.DataFrame:
    """Per sweep, task, quantity and seed: the OLS slope of the value on log2(level) (change per doubling).

    A seed needs finite values at two levels or more; with fewer its slope is NaN.
    """
    keys = ["sweep", "factor", "task", "quantity", "seed"]
    finite = values[np.isfinite(values["value"].astype(float))]
    finite = finite.assign(x=np.log2(finite["level"].astype(float)), y=finite["value"].astype(float))
    centred = finite.assign(x=finite["x"] - finite.groupby(keys)["x"].transform("mean"),
                            y=finite["y"] - finite.groupby(keys)["y"].transform("mean"))
    sums = centred.assign(xy=centred["x"] * centred["y"], xx=centred["x"] ** 2).groupby(keys)[["xy", "xx"]].sum()
    slope = (sums["xy"] / sums["xx"]).where(sums["xx"] > 0)
    return slope.rename("slope").reset_index() if len(slope) else pd.DataFrame(columns=[*keys, "slope"])


def trend_table(values: pd.DataFrame, levels: pd.DataFrame, confidence: float) -> pd.DataFrame:
    """Per sweep, task and quantity: the slope per doubling over seeds (t interval, two-sided p) and the levels behind it."""
    slopes = seed_slopes(values)
    rows = []
    for keys, group in levels.groupby(["sweep", "factor", "task", "quantity"], sort=True):
        mine = slopes[(slopes[["sweep", "factor", "task", "quantity"]] == pd.Series(keys, index=TREND_COLUMNS[:4])).all(axis=1)]
        test = compare_to_zero(mine["slope"].to_numpy(float), confidence)
        rows.append({**dict(zip(TREND_COLUMNS[:4], keys, strict=True)), "slope_mean": test.estimate,
                     "slope_low": test.low, "slope_high": test.high, "p": test.p, "n_seeds": test.n,
                     "n_levels": len(group), "n_levels_learned": int(group["learned"].sum())})
    return pd.DataFrame(rows, columns=TREND_COLUMNS)


def law_table(fits: pd.DataFrame, swept: pd.DataFrame, rules: C4Rules | None = None) -> pd.DataFrame:
    """Per sweep, level and task: how many seeds' trained profiles C4 reads as each law (every law listed, zeros too)."""
    rules = rules or C4Rules()
    mine = _standard(swept, _names(rules.trained_tasks))
    if fits.empty or mine.empty:
        return pd.DataFrame(columns=LAW_COLUMNS)
    final = _final(fits[fits["layer"] == rules.layer], mine)
    joined = final[["condition", "seed", "preferred"]].merge(mine[["condition", "seed", "sweep", "factor", "level", "task"]],
                                                             on=["condition", "seed"])
    if joined.empty:
        return pd.DataFrame(columns=LAW_COLUMNS)
    counts = pd.crosstab([joined["sweep"], joined["factor"], joined["level"], joined["task"]], joined["preferred"])
    counts = counts.reindex(columns=list(LAWS), fill_value=0)
    table = counts.stack().rename("n_seeds").reset_index().rename(columns={"preferred": "law"})
    return table[LAW_COLUMNS].astype({"n_seeds": int})


# --- what the paper prints ----------------------------------------------------------------------


def _reading(row: Mapping[str, Any]) -> str:
    if not np.isfinite(row["slope_low"]):
        return "no interval (fewer than two seeds)"
    return "the interval excludes 0" if row["slope_low"] > 0 or row["slope_high"] < 0 else "the interval covers 0"


def trend_numbers(trends: pd.DataFrame, levels: pd.DataFrame) -> list[dict[str, Any]]:
    """One entry per trend: its numbers as printed, and the sentence that says them."""
    rows = []
    for row in trends.to_dict("records"):
        label, show = QUANTITIES[row["quantity"]]
        mine = levels[(levels["sweep"] == row["sweep"]) & (levels["task"] == row["task"]) & (levels["quantity"] == row["quantity"])]
        level_text = ", ".join(str(int(v)) for v in sorted(mine["level"]))
        text = {"slope": show(row["slope_mean"]), "low": show(row["slope_low"]), "high": show(row["slope_high"]),
                "p": p_text(row["p"])}
        sentence = (f"{label}, {row['task']}, across {row['sweep']} ({row['factor']} = {level_text}): {text['slope']} "
                    f"[{text['low']}, {text['high']}] per doubling, p {text['p']}, n = {row['n_seeds']} seed(s), "
                    f"{row['n_levels_learned']} of {row['n_levels']} levels learned; {_reading(row)}")
        rows.append({"sweep": row["sweep"], "factor": row["factor"], "task": row["task"], "quantity": row["quantity"],
                     "label": label, "levels": level_text, **text, "n_seeds": str(row["n_seeds"]),
                     "n_levels": str(row["n_levels"]), "n_levels_learned": str(row["n_levels_learned"]),
                     "excludes_zero": _reading(row) == "the interval excludes 0", "sentence": sentence})
    return rows


def not_learned(levels: pd.DataFrame) -> list[str]:
    """Each (sweep, level, task) that did not learn, once, as the paper names it."""
    missed = levels.loc[~levels["learned"].astype(bool), ["sweep", "factor", "level", "task"]].drop_duplicates()
    return [f"{r.task} at {r.factor} = {int(r.level)} ({r.sweep})" for r in missed.itertuples()]


def solved_numbers(swept: pd.DataFrame, transfer: pd.DataFrame) -> dict[str, str]:
    """Why C6's ratio leaves the solved lag task out: its largest final loss and its ratio range."""
    lag = _standard(swept, {"lag"})
    if lag.empty:
        return {}
    ratio = transfer.merge(lag[["condition", "seed"]].drop_duplicates(), on=["condition", "seed"]) if not transfer.empty else transfer
    ratio = ratio[ratio["choice"] == C6_BEST]["ratio"] if not ratio.empty else pd.Series(dtype=float)
    loss = f"{lag['final_eval_loss'].max():.1e}".replace("e-0", "e-").replace("-", "\u2212")
    return {"task": str(lag["task"].iloc[0]), "max_final_loss": loss, "ratio_low": pct(ratio.min()), "ratio_high": pct(ratio.max())}


def exponent_at_bound(values: pd.DataFrame, tolerance: float = 1e-6) -> dict[str, str]:
    """How many (seed, level) exponents sit at an end of the fitted range: there p says where the fit stopped,
    not how fast the profile decays (a profile that rises with distance is fitted with p at 0)."""
    p = values.loc[values["quantity"] == "c4_exponent", "value"].astype(float)
    low, high = distance.P_RANGE
    at_bound = (p <= low + tolerance) | (p >= high - tolerance)
    return {"n": str(int(at_bound.sum())), "of": str(len(p)), "low": fmt(low, 0), "high": fmt(high, 0)}


def law_numbers(laws: pd.DataFrame) -> list[dict[str, str]]:
    """One entry per sweep, level and task: the seed count of each law (keys with underscores: power_law, ...)."""
    if laws.empty:
        return []
    wide = laws.pivot_table(index=["sweep", "level", "task"], columns="law", values="n_seeds", aggfunc="sum")
    wide = wide.reindex(columns=list(LAWS), fill_value=0).fillna(0).astype(int)
    return [{"sweep": sweep, "level": str(int(level)), "task": task,
             **{law.replace(" ", "_"): str(int(wide.loc[(sweep, level, task), law])) for law in LAWS}}
            for sweep, level, task in wide.index]


def numbers(ref: Mapping[str, int], swept: pd.DataFrame, values: pd.DataFrame, levels: pd.DataFrame,
            trends: pd.DataFrame, laws: pd.DataFrame, transfer: pd.DataFrame) -> dict[str, Any]:
    sweeps = {sweep: {"factor": factor, "reference": str(ref[factor]),
                      "levels": ", ".join(str(v) for v in sorted(swept.loc[swept["sweep"] == sweep, "level"].unique()))}
              for sweep, factor in SWEEPS.items()}
    return {
        "present": True,  # a profile with sweeps; its section says when no sweep has data
        "reference": {factor: str(value) for factor, value in ref.items()},
        "sweeps": sweeps,
        "n_seeds": str(int(swept["seed"].nunique())) if len(swept) else "0",
        "heads_max": str(int((swept["n_layer"] * swept["n_head"]).max())) if len(swept) else "n/a",
        "trends": trend_numbers(trends, levels),
        "not_learned": not_learned(levels),
        "laws": law_numbers(laws),
        "exponent_at_bound": exponent_at_bound(values),
        "c6_solved": solved_numbers(swept, transfer),
    }


def empty_result() -> AnalysisResult:
    """A profile without sweeps: the declared tables, empty, and no section in the paper."""
    tables = {"scaling_levels": pd.DataFrame(columns=LEVEL_COLUMNS), "scaling_trends": pd.DataFrame(columns=TREND_COLUMNS),
              "scaling_laws": pd.DataFrame(columns=LAW_COLUMNS)}
    return AnalysisResult(tables, {"present": False})


def compute(inputs: ClaimInputs) -> AnalysisResult:
    ref = reference(inputs.settings)
    if ref is None:
        return empty_result()
    swept = swept_runs(inputs.runs, ref)  # may be empty: then every table is, and the paper says so
    table = inputs.tables.get
    empty = pd.DataFrame()
    fits = table("c4_fits", empty)
    transfer = table("c6_transfer", empty)
    rules = inputs.rules  # the study's rules, resolved once (the defaults where a caller gives none)
    c4_rules = rules.get("c4")
    values = pd.concat([
        did_values(swept, rules.get("c2"), table("c2_plateau", empty)),
        c4_values(fits, table("c4_slopes", empty), swept, c4_rules),
        c1_values(table("c1_enrichment_runs", empty), swept, rules.get("c1")),
        c6_values(transfer, swept),
        primacy_values(table("primacy_runs", empty), swept, c4_rules),  # written by the primacy analysis where it ran
    ], ignore_index=True)
    confidence = float(inputs.settings["confidence"])
    levels = level_table(values, confidence)
    trends = trend_table(values, levels, confidence)
    laws = law_table(fits, swept, c4_rules)
    tables = {"scaling_levels": levels, "scaling_trends": trends, "scaling_laws": laws}
    return AnalysisResult(tables, numbers(ref, swept, values, levels, trends, laws, transfer))


# primacy_runs is read where present, not declared: a profile without the primacy analysis still runs this one
ANALYSIS = Analysis(
    "scaling", ("c1_enrichment_runs", "c2_plateau", "c4_fits", "c4_slopes", "c6_transfer"), OUTPUTS, compute, section="scaling",
)
