"""C2 (pre-caching): each position is trained for its own prediction *and* to hold what later positions need.

Decided on ``myopic-state`` (Wu, Morris & Levine 2024: the loss at t sends no gradient
into earlier positions' hidden states) by a difference-in-differences paired by seed:

    DiD = gap(treated) - gap(control),  gap = plateau held-out loss of myopic-state minus standard,

treated = sine shift 1 (sin(f x_t) never helps position t, so only pre-caching makes it
useful), control = sine shift 0 (the same sines, useful at t itself). A gap on the control
is what myopic training costs without any need to pre-cache; the DiD removes it.

Where on the learning curve: at the plateau. A run's plateau loss is its mean held-out loss
over the evaluations in the last ``plateau_window`` of training (``eval_curve``: every 5% of
training by default), so a DiD read while the curves still move (slower learning, not a
different end point) cannot decide. The plateau criterion is checked on what decides, the DiD:
per seed, the least-squares slope of its DiD curve over that window times the window's length
(how far the DiD still moves), averaged over seeds, as a share of the treated task's gap. A DiD
still rising can only grow past the window, so it may support (the plateau DiD is then the
smaller reading) but not refute; a DiD falling by more than ``plateau_tolerance`` decides
nothing, and refuted needs the DiD settled within it. Each arm's and each run's own drift
(the same estimator on the held-out loss) is reported beside it.

A control that learns: a control arm that barely learned (v2: 35% of its gap) has a small gap
for want of learning, which inflates the DiD; every arm of the control (standard and the
deciding regime) must close ``control_gap_share`` of its baseline-to-optimum gap at the plateau.

Scale: every threshold is a share of the treated task's baseline-to-optimum gap (the loss
a context-free predictor leaves above the optimum). It is a property of the task, not of
how well a run trained, so a stronger standard model does not move the bar.

``myopic-full`` (keys and values of earlier positions detached outright) is reported as a
stricter ablation with its own DiD and control gap; it also removes the gradient that makes
keys findable, so it is expected to cost loss on the control too. Probes (M6), the gradient
decomposition (M3), the DiD along training and the myopia gap on natural text (runs of the
``text`` task under the myopic regimes, descriptive) are reported with intervals; they do not decide.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..grid import factors_except
from ..regimes import STANDARD
from .claims import MIXED, REFUTED, SUPPORTED, Claim, ClaimInputs, ClaimResult, Verdict
from .inference import compare_to_zero, equivalence_test, holm, mean_interval, seeds_for_power, t_test_power
from .learning import with_learning
from .precaching import (
    PARTS,
    drift,
    gap_by_position,
    layer_shares,
    paired_gaps,
    plateau_table,
    summarize_shares,
)
from .report import fmt

CELL = factors_except("task", "regime")  # what a treated/control pair shares
TABLES = ("c2_did", "c2_did_by_step", "c2_plateau", "c2_arms", "c2_gap_by_position", "c2_text_gap", "c2_probes", "c2_shares",
          "c2_decomposition_shares")
NAN = float("nan")


@dataclass(frozen=True)
class Rules:
    treated_task: str = "sine-shift1"  # task label whose sines help only later positions (needs pre-caching)
    control_task: str = "sine-shift0"  # task label whose sines help the position itself (the control)
    regime: str = "myopic-state"  # the deciding myopic regime
    ablation_regime: str = "myopic-full"  # reported beside it, never deciding
    min_relative_did: float = 0.05  # supported needs DiD >= this share of the treated baseline-to-optimum gap
    equivalence_margin: float = 0.05  # refuted needs TOST-equivalence of DiD to 0 within this share of that gap
    probe_feature: str = "sin_freq_x"  # M6 feature: sin(f x_s), needed only by later positions on the treated task
    # The plateau: the last fifth of training (4-5 evaluations at the default 20 evenly spaced ones) averages out
    # step-to-step noise yet lies where a curve that has converged no longer moves.
    plateau_window: float = 0.2
    # How far the DiD may still move across that window, as a share of the treated task's baseline-to-optimum gap: the
    # smallest DiD the rule counts (min_relative_did). Calibrated on exploratory seeds 0-9 (docs/results.md,
    # "Calibration"): under the cosine schedule the control's myopic arm still falls by 6-7% of its gap across the last
    # fifth at 2,000 and 3,000 steps, so a gate on every arm would leave C2 undecided at any budget the CPU allows; its
    # fall moves the DiD up (+5.5% of the gap at both budgets), which can only strengthen a DiD above the threshold.
    plateau_tolerance: float = 0.05
    # A control that learns: each control arm (standard and the deciding regime) closes at least this share of its gap
    # at the plateau (the study's own "learned" bar, learned_gap_share).
    control_gap_share: float = 0.5
    text_task_name: str = "text"  # task builder whose myopic runs give the descriptive myopia gap on natural text
    # The power statement: the exploratory DiD and its seed-to-seed sd (from the preregistration; NaN: not reported),
    # the power wanted and the fewest confirmatory seeds whatever the calculation says.
    planning_did: float = NAN
    planning_sd: float = NAN
    planning_power: float = 0.9
    min_seeds: int = 10

    def __post_init__(self) -> None:
        if self.equivalence_margin > self.min_relative_did:
            raise ValueError("c2: equivalence_margin must not exceed min_relative_did (a DiD could be both)")
        if not 0 < self.plateau_window <= 1:
            raise ValueError("c2: plateau_window must be a share of training in (0, 1]")


def rule_text(rules: Rules, alpha: float) -> str:
    window, tolerance = fmt(100 * rules.plateau_window, 0), fmt(100 * rules.plateau_tolerance, 1)
    return (
        f"DiD = gap({rules.treated_task}) - gap({rules.control_task}), gap = {rules.regime} minus standard plateau "
        f"held-out loss (mean over the evaluations in the last {window}% of training), paired by seed. Supported if the "
        f"one-sided t-test of DiD > 0 has p < {alpha} (Holm over cells) and DiD >= {rules.min_relative_did} x the treated "
        f"task's baseline-to-optimum gap; refuted if TOST shows |DiD| < {rules.equivalence_margin} x that gap at alpha "
        f"{alpha}; mixed otherwise, and whenever standard training did not learn either task, fewer than 2 seeds pair, "
        f"or an arm of the control closes less than {fmt(100 * rules.control_gap_share, 0)}% of its gap. Plateau: how far "
        f"the DiD moves across the window (per seed, least-squares slope x window length; mean over seeds) is at least "
        f"-{tolerance}% of the treated gap for supported (a DiD still rising only grows) and within +-{tolerance}% for "
        f"refuted"
    )


def _interval_columns(prefix: str, values: np.ndarray, confidence: float) -> dict[str, float]:
    interval = mean_interval(values, confidence)
    return {f"{prefix}_mean": interval.estimate, f"{prefix}_low": interval.low, f"{prefix}_high": interval.high}


def _seed_matrix(gap: pd.DataFrame, task: str, regime: str) -> pd.DataFrame:
    """The gap as a (step x seed) frame for one task and regime."""
    rows = gap[(gap["task"] == task) & (gap["regime"] == regime)]
    return rows.pivot_table(index="step", columns="seed", values="gap", aggfunc="first")


def _matrices(gap: pd.DataFrame, rules: Rules, regime: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(treated, control) gaps of one regime as (step x seed) frames: pivoted once, read at every step."""
    return _seed_matrix(gap, rules.treated_task, regime), _seed_matrix(gap, rules.control_task, regime)


def _pair(matrices: tuple[pd.DataFrame, pd.DataFrame], regime: str, step: int, confidence: float) -> dict[str, Any]:
    """Gaps, DiD and its test at one step, over the seeds that have both tasks (a step one task lacks pairs none)."""
    treated, control = matrices
    seeds = sorted(set(treated.columns) & set(control.columns))
    gt = treated.reindex(index=[step], columns=seeds).to_numpy(float)[0]  # NaN where a task lacks the step
    gc = control.reindex(index=[step], columns=seeds).to_numpy(float)[0]
    did = compare_to_zero(gt - gc, confidence, alternative="greater")
    control_test = compare_to_zero(gc, confidence, alternative="greater")
    return {
        "regime": regime, "step": step, "n_seeds": did.n,
        **_interval_columns("gap_treated", gt, confidence),
        **_interval_columns("gap_control", gc, confidence),
        "gap_control_p": control_test.p,
        "did_mean": did.estimate, "did_low": did.low, "did_high": did.high,
        "did_t": did.t, "did_p": did.p, "did_d": did.effect_size, "did_values": gt - gc,
    }


def _in_cell(table: pd.DataFrame, cell: tuple) -> pd.Series:
    return (table[CELL] == pd.Series(cell, index=CELL)).all(axis=1)


def _standard_learned(runs: pd.DataFrame, cell: tuple, rules: Rules) -> dict[str, bool]:
    mine = runs[(runs["regime"] == STANDARD.name) & _in_cell(runs, cell)]
    return {task: bool(len(mine[mine["task"] == task]) and mine.loc[mine["task"] == task, "learned"].all())
            for task in (rules.treated_task, rules.control_task)}


def _span(runs: pd.DataFrame, cell: tuple, rules: Rules) -> float:
    """The treated task's baseline-to-optimum gap (NaN if its optimum is unknown)."""
    mine = runs[(runs["task"] == rules.treated_task) & _in_cell(runs, cell)]
    if mine.empty:
        return float("nan")
    return float(mine["baseline_loss"].iloc[0] - mine["optimal_loss"].iloc[0])


def _deciding_runs(plateau: pd.DataFrame, cell: tuple, regime: str, seeds: list[int], rules: Rules) -> pd.DataFrame:
    """The per-run plateau rows of the runs a cell's DiD is made of: both tasks, standard and ``regime``, paired seeds."""
    return plateau[_in_cell(plateau, cell) & plateau["task"].isin([rules.treated_task, rules.control_task])
                   & plateau["regime"].isin([STANDARD.name, regime]) & plateau["seed"].isin(seeds)]


def _plateau_columns(runs: pd.DataFrame, rules: Rules) -> dict[str, Any]:
    """Reported beside the DiD's own drift: is every deciding arm (task x regime) at its plateau, i.e. does the mean
    drift of its runs (the drift of the arm's mean curve) lie within the tolerance? Arms and runs that miss are named."""
    missing = runs[~runs["at_plateau"].astype(bool)].sort_values(["task", "regime", "seed"])
    named = [f"{r['task']} {r['regime']} seed {int(r['seed'])} ({fmt(100 * r['drift_share'], 1)}%)" for r in missing.to_dict("records")]
    arms = runs.groupby(["task", "regime"], sort=True)["drift_share"].mean() if len(runs) else pd.Series(dtype=float)
    moving = arms[~(arms.abs() <= rules.plateau_tolerance)]  # NaN (no window to fit): moving
    named_arms = [f"{task} {regime} ({fmt(100 * drift, 1)}%)" for (task, regime), drift in moving.items()]
    return {"n_runs": len(runs), "n_not_at_plateau": len(missing), "at_plateau": bool(len(runs)) and moving.empty,
            "max_drift_share": float(runs["drift_share"].abs().max()) if len(runs) else NAN,
            "max_arm_drift_share": float(arms.abs().max()) if len(arms) else NAN,
            "not_at_plateau": ", ".join(named_arms), "runs_not_at_plateau": ", ".join(named)}


def _did_drift_columns(matrices: tuple[pd.DataFrame, pd.DataFrame], window_start: float, length: float, span: float,
                       confidence: float) -> dict[str, Any]:
    """How far the DiD still moves across the plateau window: per seed, the drift of its DiD curve (the same estimator as
    a run's), as a share of the treated gap; the mean over seeds with its interval. NaN where no seed has a window."""
    treated, control = matrices
    seeds = sorted(set(treated.columns) & set(control.columns))
    did = (treated.reindex(columns=seeds) - control.reindex(columns=seeds)).sort_index()
    inside = did[did.index >= window_start - 1e-9 * length]
    shares = np.array([drift(column.dropna().index.to_numpy(), column.dropna().to_numpy(), length) / span
                       for _, column in inside.items()], float)
    return _interval_columns("did_drift_share", shares[np.isfinite(shares)], confidence)


def _arm_columns(runs: pd.DataFrame, rules: Rules, regime: str, confidence: float) -> dict[str, Any]:
    """Each control arm's share of its gap closed at the plateau (mean over seeds with its interval); does it learn?"""
    columns: dict[str, Any] = {}
    learns = True
    for arm, arm_regime in (("control_standard", STANDARD.name), ("control_myopic", regime)):
        closed = runs.loc[(runs["task"] == rules.control_task) & (runs["regime"] == arm_regime), "gap_closed"].to_numpy(float)
        columns |= _interval_columns(f"{arm}_closed", closed, confidence)
        learns = learns and bool(columns[f"{arm}_closed_mean"] >= rules.control_gap_share)  # NaN (no run): does not learn
    return columns | {"control_learns": learns}


def _cell_verdict(row: dict[str, Any], rules: Rules, alpha: float) -> str:
    """The rule applied to one cell's plateau DiD (the p is the Holm-adjusted one)."""
    if row["n_seeds"] < 2 or not np.isfinite(row["span"]) or not (row["learned_treated"] and row["learned_control"]):
        return MIXED
    if not row["control_learns"]:
        return MIXED
    moved = row["did_drift_share_mean"]  # NaN (no window): neither settled nor rising
    if row["did_p_holm"] < alpha and row["did_mean"] >= rules.min_relative_did * row["span"] and moved >= -rules.plateau_tolerance:
        return SUPPORTED
    if row["tost_p"] < alpha and abs(moved) <= rules.plateau_tolerance:
        return REFUTED
    return MIXED


def _final_row(plateau_gaps: pd.DataFrame, curve: tuple[pd.DataFrame, pd.DataFrame], plateau: pd.DataFrame, runs: pd.DataFrame,
               cell: tuple, regime: str, rules: Rules, settings: Mapping[str, Any]) -> dict[str, Any]:
    """One cell and regime: the plateau DiD with its tests, the plateau criterion over its runs and the control's arms."""
    cell_values = dict(zip(CELL, cell, strict=True))
    span = _span(runs, cell, rules)
    learned = _standard_learned(runs, cell, rules)
    row = _pair(_matrices(plateau_gaps, rules, regime), regime, int(cell_values["steps"]), settings["confidence"])
    values = row.pop("did_values")
    row.pop("step")
    seeds = sorted(plateau_gaps.loc[plateau_gaps["regime"] == regime, "seed"].unique())
    deciding = _deciding_runs(plateau, cell, regime, seeds, rules)
    tost = equivalence_test(values, rules.equivalence_margin * span, settings["alpha"])
    window = deciding["window_start"].iloc[0] if len(deciding) else (1 - rules.plateau_window) * cell_values["steps"]
    return {**cell_values, **row, "window_start": window, "span": span, "did_relative": row["did_mean"] / span,
            "threshold": rules.min_relative_did * span, "margin": tost.margin, "tost_p": tost.p,
            "learned_treated": learned[rules.treated_task], "learned_control": learned[rules.control_task],
            **_did_drift_columns(curve, (1 - rules.plateau_window) * cell_values["steps"],
                                 rules.plateau_window * cell_values["steps"], span, settings["confidence"]),
            **_plateau_columns(deciding, rules), **_arm_columns(deciding, rules, regime, settings["confidence"]),
            "deciding": regime == rules.regime}


def did_tables(curve_gaps: pd.DataFrame, plateau_gaps: pd.DataFrame, plateau: pd.DataFrame, runs: pd.DataFrame, rules: Rules,
               settings: Mapping[str, Any]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(plateau DiD per cell and regime with the verdict, DiD at every evaluation step).

    ``curve_gaps`` and ``plateau_gaps`` are ``paired_gaps`` of the held-out curve and of the plateau losses (the latter
    with ``step`` = the cell's steps); ``plateau`` the per-run plateau table joined with the runs' factors.
    """
    final_rows, step_rows = [], []
    tasks = [rules.treated_task, rules.control_task]
    plateau_gaps, curve_gaps = plateau_gaps[plateau_gaps["task"].isin(tasks)], curve_gaps[curve_gaps["task"].isin(tasks)]
    for cell, in_cell in plateau_gaps.groupby(CELL, sort=True):
        cell_values = dict(zip(CELL, cell, strict=True))
        span = _span(runs, cell, rules)
        curve = curve_gaps[_in_cell(curve_gaps, cell)]
        window = (1 - rules.plateau_window) * cell_values["steps"]
        for regime in (rules.regime, rules.ablation_regime):
            if not in_cell["regime"].eq(regime).any():
                continue
            matrices = _matrices(curve, rules, regime)
            final_rows.append(_final_row(in_cell, matrices, plateau, runs, cell, regime, rules, settings))
            for step in sorted(curve.loc[curve["regime"] == regime, "step"].unique()):
                row = _pair(matrices, regime, int(step), settings["confidence"])
                row.pop("did_values")
                step_rows.append({**cell_values, **row, "did_relative": row["did_mean"] / span, "window_start": window,
                                  "in_window": bool(step >= window - 1e-9 * cell_values["steps"])})
    final = pd.DataFrame(final_rows)
    if final_rows:
        final["did_p_holm"] = np.nan
        for rows in final.groupby("regime").groups.values():  # one family per regime: its cells
            final.loc[rows, "did_p_holm"] = holm(final.loc[rows, "did_p"].to_numpy())
        final["verdict"] = [
            _cell_verdict(row, rules, settings["alpha"]) if row["deciding"] else "" for row in final.to_dict("records")
        ]
    return final, pd.DataFrame(step_rows)


def arms_table(plateau: pd.DataFrame, rules: Rules, settings: Mapping[str, Any]) -> pd.DataFrame:
    """Per cell, task and regime of C2's tasks: plateau loss and gap closed over seeds, and how many runs are at plateau."""
    mine = plateau[plateau["task"].isin([rules.treated_task, rules.control_task])]
    rows = []
    for (*cell, task, regime), group in mine.groupby([*CELL, "task", "regime"], sort=True):
        rows.append({**dict(zip(CELL, cell, strict=True)), "task": task, "regime": regime, "n_seeds": len(group),
                     **_interval_columns("plateau_loss", group["plateau_loss"].to_numpy(), settings["confidence"]),
                     **_interval_columns("gap_closed", group["gap_closed"].to_numpy(), settings["confidence"]),
                     "n_at_plateau": int(group["at_plateau"].sum()), "max_drift_share": float(group["drift_share"].abs().max())})
    return pd.DataFrame(rows)


def text_gap_table(plateau_gaps: pd.DataFrame, plateau: pd.DataFrame, rules: Rules, settings: Mapping[str, Any]) -> pd.DataFrame:
    """Natural text, descriptive: per myopic condition, the plateau gap over seeds and the runs' largest drift (nats)."""
    mine = plateau_gaps[plateau_gaps["task_name"] == rules.text_task_name]
    rows = []
    for (condition, task, regime, *cell), group in mine.groupby(["condition", "task", "regime", *CELL], sort=True):
        runs = plateau[plateau["seed"].isin(group["seed"]) & _in_cell(plateau, tuple(cell)) & (plateau["task"] == task)
                       & plateau["regime"].isin([STANDARD.name, regime])]
        rows.append({"condition": condition, "task": task, "regime": regime, **dict(zip(CELL, cell, strict=True)),
                     "n_seeds": len(group), **_interval_columns("gap", group["gap"].to_numpy(), settings["confidence"]),
                     "plateau_myopic": float(group["plateau_loss"].mean()),
                     "plateau_standard": float(group["plateau_loss_standard"].mean()),
                     "max_abs_drift": float(runs["drift"].abs().max())})
    columns = ["condition", "task", "regime", *CELL, "n_seeds", "gap_mean", "gap_low", "gap_high", "plateau_myopic",
               "plateau_standard", "max_abs_drift"]
    return pd.DataFrame(rows, columns=columns)  # with its columns when no text run is myopic: an empty table, not an empty file


def _with_factors(table: pd.DataFrame, runs: pd.DataFrame) -> pd.DataFrame:
    keep = ["condition", "seed", "task", "regime", *CELL]
    return table.drop(columns=[c for c in keep[2:] if c in table.columns]).merge(
        runs[keep], on=["condition", "seed"], validate="many_to_one"
    )


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
            if STANDARD.name not in by_regime or regime not in by_regime:
                continue
            difference = compare_to_zero((by_regime[STANDARD.name] - by_regime[regime]).dropna().to_numpy(), settings["confidence"], "greater")
            rows.append({**dict(zip(CELL, cell, strict=True)), "layer": layer, "regime": regime,
                         **_interval_columns("r2_standard", by_regime[STANDARD.name].to_numpy(), settings["confidence"]),
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
    table = table[(table["regime"] == STANDARD.name) & table["task"].isin([rules.treated_task, rules.control_task])
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


def _pct_text(row: Mapping[str, Any], prefix: str) -> dict[str, str]:
    return _interval_text(100 * row[f"{prefix}_mean"], 100 * row[f"{prefix}_low"], 100 * row[f"{prefix}_high"], 0)


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
        "n_runs": str(int(row["n_runs"])), "n_not_at_plateau": str(int(row["n_not_at_plateau"])),
        "did_drift_pct": _interval_text(100 * row["did_drift_share_mean"], 100 * row["did_drift_share_low"],
                                        100 * row["did_drift_share_high"], 1),
        "at_plateau": bool(row["at_plateau"]), "max_drift_pct": fmt(100 * row["max_drift_share"], 1),
        "max_arm_drift_pct": fmt(100 * row["max_arm_drift_share"], 1),
        "not_at_plateau": row["not_at_plateau"], "runs_not_at_plateau": row["runs_not_at_plateau"],
        "control_standard_closed_pct": _pct_text(row, "control_standard_closed"),
        "control_myopic_closed_pct": _pct_text(row, "control_myopic_closed"),
        "control_learns": bool(row["control_learns"]),
    }


def _along_numbers(along: pd.DataFrame) -> list[dict[str, Any]]:
    return [{"step": str(int(r["step"])), "did": _interval_text(r["did_mean"], r["did_low"], r["did_high"]),
             "gap_treated": fmt(r["gap_treated_mean"], 3), "gap_control": fmt(r["gap_control_mean"], 3),
             "in_window": bool(r["in_window"])}
            for r in along.sort_values("step").to_dict("records")]


def _power_numbers(rules: Rules, n: int | None, alpha: float) -> dict[str, str]:
    """The preregistered power statement: seeds needed at the exploratory DiD, and the power the deciding n has there."""
    if not (np.isfinite(rules.planning_did) and np.isfinite(rules.planning_sd) and rules.planning_did > 0 and rules.planning_sd > 0):
        return {}
    numbers = {"did": fmt(rules.planning_did, 3), "sd": fmt(rules.planning_sd, 3), "d": fmt(rules.planning_did / rules.planning_sd, 2),
               "target_pct": fmt(100 * rules.planning_power, 0), "min_seeds": str(rules.min_seeds),
               "seeds_needed": str(seeds_for_power(rules.planning_did, rules.planning_sd, rules.planning_power, alpha, "greater",
                                                   rules.min_seeds))}
    if n is not None and n >= 2:
        numbers |= {"n": str(n), "power_pct": fmt(100 * t_test_power(n, rules.planning_did, rules.planning_sd, alpha), 0)}
    return numbers


def _text_numbers(text: pd.DataFrame, positions: pd.DataFrame) -> list[dict[str, Any]]:
    """Per myopic regime on text: the plateau gap and the final per-position gap at the first and the last position."""
    rows = []
    for r in text.to_dict("records"):
        mine = positions[positions["condition"] == r["condition"]].sort_values("t") if not positions.empty else positions
        rows.append({"regime": r["regime"], "pos_encoding": str(r["pos_encoding"]), "n_seeds": str(int(r["n_seeds"])),
                     "gap": _interval_text(r["gap_mean"], r["gap_low"], r["gap_high"]),
                     "plateau_standard": fmt(r["plateau_standard"], 3), "plateau_myopic": fmt(r["plateau_myopic"], 3),
                     **({"gap_first": _interval_text(*mine.iloc[0][["gap_mean", "gap_low", "gap_high"]]),
                         "gap_last": _interval_text(*mine.iloc[-1][["gap_mean", "gap_low", "gap_high"]]),
                         "last_t": str(int(mine.iloc[-1]["t"]))} if len(mine) else {})})
    return rows


def _numbers(final: pd.DataFrame, by_step: pd.DataFrame, arms: pd.DataFrame, tables: Mapping[str, pd.DataFrame],
             verdict: Verdict, rules: Rules, alpha: float) -> dict[str, Any]:
    numbers: dict[str, Any] = {
        "box": verdict.as_dict(), "verdict": verdict.verdict,
        "treated_task": rules.treated_task, "control_task": rules.control_task, "regime": rules.regime,
        "ablation_regime": rules.ablation_regime, "alpha": fmt(alpha, 2),
        "min_relative_did_pct": fmt(100 * rules.min_relative_did, 0),
        "equivalence_margin_pct": fmt(100 * rules.equivalence_margin, 0),
        "plateau_window_pct": fmt(100 * rules.plateau_window, 0), "plateau_tolerance_pct": fmt(100 * rules.plateau_tolerance, 1),
        "control_gap_pct": fmt(100 * rules.control_gap_share, 0), "n_cells": str(0),
    }
    decided = final[final["deciding"]] if not final.empty else final
    text = tables["c2_text_gap"]
    if not text.empty:
        numbers["text"] = _text_numbers(text, tables["c2_gap_by_position"])
    power = _power_numbers(rules, int(decided["n_seeds"].iloc[0]) if not decided.empty else None, alpha)
    if power:
        numbers["power"] = power
    numbers |= _probe_and_share_numbers(tables["c2_probes"], tables["c2_shares"], rules)
    if decided.empty:
        return numbers
    first = decided.iloc[0]
    cell = tuple(first[c] for c in CELL)
    numbers |= {"n_cells": str(len(decided)), "pos_encoding": str(first["pos_encoding"]), "steps": str(int(first["steps"])),
                "heads": str(int(first["n_layer"]) * int(first["n_head"])), "window_start": str(int(round(first["window_start"]))),
                "span": fmt(first["span"], 3), "threshold": fmt(first["threshold"], 4), "margin": fmt(first["margin"], 4),
                "learned_treated": bool(first["learned_treated"]), "learned_control": bool(first["learned_control"])}
    for key, regime in (("state", rules.regime), ("full", rules.ablation_regime)):
        mine = final[(final["regime"] == regime) & _in_cell(final, cell)]
        if not mine.empty:
            numbers[key] = _regime_numbers(mine.iloc[0])
        numbers[f"{key}_along"] = _along_numbers(by_step[(by_step["regime"] == regime) & _in_cell(by_step, cell)])
    numbers["arms"] = [
        {"task": str(r["task"]), "regime": str(r["regime"]), "n_seeds": str(int(r["n_seeds"])),
         "plateau_loss": _interval_text(r["plateau_loss_mean"], r["plateau_loss_low"], r["plateau_loss_high"]),
         "closed_pct": _pct_text(r, "gap_closed"), "n_at_plateau": str(int(r["n_at_plateau"])),
         "max_drift_pct": fmt(100 * r["max_drift_share"], 1)}
        for r in arms[_in_cell(arms, cell)].to_dict("records")
    ] if not arms.empty else []
    return numbers


def _probe_and_share_numbers(probes: pd.DataFrame, shares: pd.DataFrame, rules: Rules) -> dict[str, Any]:
    numbers: dict[str, Any] = {}
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


def _reasons(row: Mapping[str, Any], rules: Rules, alpha: float) -> str:
    """Why a cell is not decided whatever its DiD says, in words (empty when nothing stands in the way)."""
    reasons = []
    if not (row["learned_treated"] and row["learned_control"]):
        reasons.append("standard training did not learn both tasks")
    moved, tolerance = row["did_drift_share_mean"], rules.plateau_tolerance
    if not moved >= -tolerance:
        reasons.append(f"not decided: the DiD is not at its plateau (it moves by {fmt(100 * moved, 1)}% of the gap across the "
                       f"window; at least -{fmt(100 * tolerance, 1)}% is needed)")
    elif row["tost_p"] < alpha and not abs(moved) <= tolerance:
        reasons.append(f"not refuted: the DiD still rises by {fmt(100 * moved, 1)}% of the gap across the window (refuted needs "
                       f"it within {fmt(100 * tolerance, 1)}%)")
    if not row["control_learns"]:
        reasons.append(
            f"not decided: the control did not learn (gap closed at the plateau: standard "
            f"{fmt(100 * row['control_standard_closed_mean'], 0)}% [{fmt(100 * row['control_standard_closed_low'], 0)}, "
            f"{fmt(100 * row['control_standard_closed_high'], 0)}], {rules.regime} {fmt(100 * row['control_myopic_closed_mean'], 0)}% "
            f"[{fmt(100 * row['control_myopic_closed_low'], 0)}, {fmt(100 * row['control_myopic_closed_high'], 0)}]; each needs "
            f"{fmt(100 * rules.control_gap_share, 0)}%)")
    return "".join(f"; {reason}" for reason in reasons)


def _claim_verdict(final: pd.DataFrame, rules: Rules, alpha: float) -> Verdict:
    """Every deciding cell's verdict agrees -> that word; cells disagree -> mixed; no cell -> mixed, not decided."""
    decided = final[final["deciding"]] if not final.empty else final
    rule = rule_text(rules, alpha)
    if decided.empty:
        return Verdict("C2", MIXED, f"not decided: no {rules.regime} runs of {rules.treated_task} and "
                       f"{rules.control_task} paired with standard runs of the same seed", rule)
    words = set(decided["verdict"])
    word = words.pop() if len(words) == 1 else MIXED
    parts = [
        f"{row['pos_encoding']} positions: plateau DiD {fmt(row['did_mean'], 3)} [{fmt(row['did_low'], 3)}, {fmt(row['did_high'], 3)}] "
        f"({fmt(100 * row['did_relative'], 1)}% of the baseline-to-optimum gap; threshold {fmt(100 * rules.min_relative_did, 0)}%), "
        f"one-sided p {fmt(row['did_p_holm'], 4)}, TOST p {fmt(row['tost_p'], 4)}, n = {int(row['n_seeds'])}, DiD drift across the window {fmt(100 * row['did_drift_share_mean'], 1)}% of the gap{_reasons(row, rules, alpha)}"
        # equivalent mutant: pandas reads the orient case-insensitively ("RECORDS")
        for row in decided.to_dict("records")
    ]
    return Verdict("C2", word, "; ".join(parts), rule)


def _plateau_runs(curve: pd.DataFrame, runs: pd.DataFrame, rules: Rules) -> pd.DataFrame:
    """Per run: the plateau table with the run's task, regime and cell (the per-run plateau criterion, reported)."""
    plateau = plateau_table(curve, runs, rules.plateau_window, rules.plateau_tolerance)
    factors = runs[["condition", "seed", "task", "task_name", "regime", *CELL]]
    return factors.merge(plateau, on=["condition", "seed"], validate="one_to_one")


def decide(inputs: ClaimInputs, rules: Rules) -> ClaimResult:
    runs = inputs.runs if "learned" in inputs.runs else with_learning(inputs.runs, inputs.settings)
    runs = runs if "task_name" in runs else runs.assign(task_name=runs["task"])
    curve = inputs.tables.get("eval_curve", pd.DataFrame())
    gap = inputs.tables.get("m4_myopia_gap", pd.DataFrame())
    if curve.empty:
        plateau, final, by_step, arms, text = (pd.DataFrame(),) * 5
    else:
        plateau = _plateau_runs(curve, runs, rules)
        plateau_gaps = paired_gaps(plateau, runs, "plateau_loss", []).assign(step=lambda d: d["steps"])
        final, by_step = did_tables(paired_gaps(curve, runs, "eval_loss", ["step"]), plateau_gaps, plateau, runs, rules, inputs.settings)
        arms, text = arms_table(plateau, rules, inputs.settings), text_gap_table(plateau_gaps, plateau, rules, inputs.settings)
    positions = gap_by_position(gap, inputs.settings) if not gap.empty else pd.DataFrame()
    decomposition = inputs.tables.get("m3_decomposition", pd.DataFrame())
    tables = {"c2_did": final, "c2_did_by_step": by_step, "c2_plateau": plateau, "c2_arms": arms, "c2_gap_by_position": positions,
              "c2_text_gap": text, "c2_probes": probe_table(inputs.tables.get("m6_probes", pd.DataFrame()), runs, rules, inputs.settings),
              "c2_shares": share_table(decomposition, runs, rules, inputs.settings),
              "c2_decomposition_shares": summarize_shares(layer_shares(decomposition), runs, inputs.settings)
              if not decomposition.empty else pd.DataFrame()}  # every condition, step and layer: the decomposition figure
    verdict = _claim_verdict(final, rules, inputs.settings["alpha"])
    numbers = _numbers(final, by_step, arms, tables, verdict, rules, inputs.settings["alpha"])
    return ClaimResult([verdict], tables, numbers)


CLAIM = Claim(
    "c2", ("eval_curve", "m4_myopia_gap", "m6_probes", "m3_decomposition"), TABLES, Rules, decide,
    statement=(
        'each position is trained for its own prediction *and* to carry information for later ones ("pre-caching")'
    ),
    decided_by=(
        "`myopic-state` gap on sine shift 1 minus the gap on the shift-0 control, paired by seed; "
        "`myopic-full` as a stricter ablation"
    ),
    section="c2",
)
