"""C5: "during training we always just condition on the right answer" (teacher forcing): nothing flows from one
prediction's output to the next prediction's input.

A structural check of the computational graph, not an empirical finding: the prediction at s
is read only from the last layer's state h_s^L, and the input at s + 1 is the true token, so
the loss at any t > s cannot depend on h_s^L. M1 measures dL_t/dh_s^L for every s < t; the
deciding number is the largest such gradient norm over every run and checkpoint, which must be
exactly 0 (not small: the graph has no path). The unit tests
``tests/unit/test_claim_c5.py::test_the_last_layer_state_is_no_input_to_a_later_loss`` (every
encoding and regime, plain autograd) and
``tests/unit/test_gradient_matrix.py::test_last_layer_reaches_only_its_own_position`` (M1 itself)
check the same on tiny models.

Rule: supported if in every run the largest gradient is at most ``tolerance`` (0: exactly 0);
refuted if it exceeds it in every run; mixed otherwise, and when there are no runs.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from .claims import MIXED, REFUTED, STRUCTURAL, SUPPORTED, Claim, ClaimInputs, ClaimResult, Verdict

COLUMNS = ["condition", "seed", "task_name", "pos_encoding", "regime", "n_checkpoints", "n_pairs", "largest_gradient"]
TESTS = (
    "tests/unit/test_claim_c5.py::test_the_last_layer_state_is_no_input_to_a_later_loss",
    "tests/unit/test_gradient_matrix.py::test_last_layer_reaches_only_its_own_position",
)


@dataclass(frozen=True)
class Rules:
    tolerance: float = 0.0  # largest dL_t/dh_s^L (s < t) that still counts as no flow; 0: exactly zero, as the graph implies


def last_layer_table(m1: pd.DataFrame, runs: pd.DataFrame) -> pd.DataFrame:
    """Per run (every regime): the largest gradient from L_t to the last layer's state at s < t, over all checkpoints."""
    if m1.empty or runs.empty:
        return pd.DataFrame(columns=COLUMNS)
    factors = runs.drop_duplicates(["condition", "seed"])[["condition", "seed", "task_name", "pos_encoding", "regime", "n_layer"]]
    # equivalent mutant: merge on the common columns: the M1 rows and the run factors share only condition and seed; factors were de-duplicated on (condition, seed) just above, so the many-to-one check can never fail
    rows = m1[m1["s"] < m1["t"]].merge(factors, on=["condition", "seed"], validate="many_to_one")
    last = rows[rows["layer"] == rows["n_layer"]]
    # equivalent mutant: as_index=None is falsy, as False
    table = last.groupby(["condition", "seed", "task_name", "pos_encoding", "regime"], as_index=False).agg(
        n_checkpoints=("step", "nunique"), n_pairs=("t", "size"), largest_gradient=("grad_norm_mean", "max")
    )
    return table[COLUMNS]


def verdict(table: pd.DataFrame, rules: Rules) -> Verdict:
    """Structural check of teacher forcing from the per-run largest last-layer gradient."""
    within = int((table["largest_gradient"] <= rules.tolerance).sum())
    n = len(table)
    word = MIXED if n == 0 else SUPPORTED if within == n else REFUTED if within == 0 else MIXED
    largest = f"{float(table['largest_gradient'].max()):g}" if n else "n/a"
    return Verdict(
        "C5", word,
        f"largest gradient from the loss at t to the last layer's state at any s < t: {largest} "
        f"({within} of {n} runs at most {rules.tolerance:g}, every checkpoint)",
        f"supported if that gradient is at most {rules.tolerance:g} in every run and checkpoint, refuted if it exceeds it "
        "in every run, mixed otherwise (structural: the prediction at s is not an input at s + 1)",
        kind=STRUCTURAL,
    )


def paper_numbers(check: Verdict, table: pd.DataFrame, rules: Rules) -> dict[str, Any]:
    return {
        "check": check.as_dict(),
        "largest": f"{float(table['largest_gradient'].max()):g}" if len(table) else "n/a",
        "tolerance": f"{rules.tolerance:g}",
        "n_runs": str(len(table)),
        "n_conditions": str(table["condition"].nunique()),
        "n_checkpoints": str(int(table["n_checkpoints"].sum())) if len(table) else "0",
        "regimes": ", ".join(sorted(table["regime"].unique())),
        "tests": list(TESTS),
    }


def decide(inputs: ClaimInputs, rules: Rules) -> ClaimResult:
    table = last_layer_table(inputs.tables.get("m1_gradient_matrix", pd.DataFrame()), inputs.runs)
    check = verdict(table, rules)
    return ClaimResult(verdicts=[check], tables={"c5_teacher_forcing": table}, numbers=paper_numbers(check, table, rules))


CLAIM = Claim(
    id="c5", inputs=("m1_gradient_matrix",), outputs=("c5_teacher_forcing",), rules=Rules, decide=decide,
    statement="teacher forcing: nothing flows from one prediction's output to the next input",
    decided_by="structural check, unit-tested",
    section="c5",
)
