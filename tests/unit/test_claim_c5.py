"""C5 (teacher forcing): the graph has no path from the last layer's state at s to a later loss; the check's verdict words."""
from __future__ import annotations

import pandas as pd
import pytest
import torch
from tiny import ENCODINGS, tiny_batch, tiny_model, tiny_task

from analysis.regimes import REGIMES
from analysis.stats import c5
from analysis.stats.c5 import CLAIM
from analysis.stats.claims import ClaimInputs, rule_problems
from analysis.stats.listing import CLAIMS

SETTINGS = {"confidence": 0.95, "alpha": 0.05}


@pytest.mark.parametrize("pos_encoding", ENCODINGS)
@pytest.mark.parametrize("regime", list(REGIMES))
@pytest.mark.parametrize("kind", ["markov", "sine"])
def test_the_last_layer_state_is_no_input_to_a_later_loss(pos_encoding: str, regime: str, kind: str) -> None:
    """dL_t / dh_s^L is exactly 0 for every s < t (one backward per target), and non-zero at s = t."""
    model, task = tiny_model(pos_encoding, kind), tiny_task(kind)
    inputs, targets = tiny_batch(kind)
    prediction, residuals = model(inputs, REGIMES[regime], return_residuals=True)
    losses = task.loss_per_position(prediction, targets)
    last = residuals[-1]
    for t in range(inputs.shape[1]):
        (grad,) = torch.autograd.grad(losses[:, t].sum(), last, retain_graph=True)
        assert torch.equal(grad[:, :t], torch.zeros_like(grad[:, :t]))
        assert grad[:, t].abs().sum() > 0


def runs_table(regimes: dict[str, str], seeds=(0, 1), n_layer: int = 1) -> pd.DataFrame:
    return pd.DataFrame([
        {"condition": c, "seed": s, "task_name": "markov", "pos_encoding": "learned", "regime": r, "n_layer": n_layer}
        for c, r in regimes.items() for s in seeds
    ])


def m1_rows(condition: str, seed: int, last_value: float = 0.0, steps=(0, 100), n_layer: int = 1) -> pd.DataFrame:
    """T = 3; every entry 1 except the last layer's s < t, set to ``last_value``."""
    rows = [
        {"condition": condition, "seed": seed, "step": step, "layer": layer, "t": t, "s": s,
         "grad_norm_mean": last_value if (layer == n_layer and s < t) else 1.0}
        for step in steps for layer in range(n_layer + 1) for t in range(3) for s in range(t + 1)
    ]
    return pd.DataFrame(rows)


def decide(runs: pd.DataFrame, m1: pd.DataFrame, **overrides):
    return CLAIM.run(ClaimInputs({"m1_gradient_matrix": m1}, runs, SETTINGS), overrides)


RUNS = runs_table({"std": "standard", "my": "myopic-state"})


def test_exact_zero_everywhere_is_supported_as_a_structural_check() -> None:
    m1 = pd.concat([m1_rows(c, s) for c in ("std", "my") for s in (0, 1)])
    result = decide(RUNS, m1)
    (check,) = result.verdicts
    assert check.verdict == "supported" and check.kind == "structural check"
    table = result.tables["c5_teacher_forcing"]
    assert len(table) == 4 and (table["largest_gradient"] == 0).all()
    assert (table["n_checkpoints"] == 2).all() and (table["n_pairs"] == 2 * 3).all()  # 3 pairs s < t per checkpoint
    assert result.numbers["largest"] == "0" and result.numbers["n_runs"] == "4" and result.numbers["tests"] == list(c5.TESTS)


def test_a_gradient_in_some_runs_is_mixed_and_in_all_is_refuted() -> None:
    some = pd.concat([m1_rows("std", 0, 1e-30), m1_rows("std", 1), m1_rows("my", 0), m1_rows("my", 1)])
    result = decide(RUNS, some)
    assert result.verdicts[0].verdict == "mixed" and result.numbers["largest"] == "1e-30"
    every = pd.concat([m1_rows(c, s, 0.5) for c in ("std", "my") for s in (0, 1)])
    assert decide(RUNS, every).verdicts[0].verdict == "refuted"


def test_only_the_last_layer_counts_and_the_deeper_model_uses_its_own_last_layer() -> None:
    """With n_layer = 2, layer 1 is not the last: its non-zero entries must not count."""
    runs = runs_table({"deep": "standard"}, seeds=(0,), n_layer=2)
    result = decide(runs, m1_rows("deep", 0, n_layer=2))
    assert result.verdicts[0].verdict == "supported"


def test_tolerance_boundary() -> None:
    m1 = pd.concat([m1_rows(c, s, 0.25) for c in ("std", "my") for s in (0, 1)])
    assert decide(RUNS, m1, tolerance=0.25).verdicts[0].verdict == "supported"
    assert decide(RUNS, m1, tolerance=0.125).verdicts[0].verdict == "refuted"


def test_empty_input_is_mixed() -> None:
    result = decide(pd.DataFrame(), pd.DataFrame())
    assert result.verdicts[0].verdict == "mixed" and "n/a" in result.verdicts[0].deciding
    assert list(result.tables["c5_teacher_forcing"].columns) == c5.COLUMNS and result.numbers["n_runs"] == "0"


def test_rules_are_checked_against_config_overrides() -> None:
    assert rule_problems(CLAIMS, "c5", {"tolerance": 0.0}) == []
    assert rule_problems(CLAIMS, "c5", {"tolerance": "zero"}) and rule_problems(CLAIMS, "c5", {"tol": 0.0})


def test_every_number_and_the_table_by_hand() -> None:
    """Standard runs at 3 checkpoints, exact zero; my seed 0 leaks 2.5e-7 at 2 checkpoints.

    A run's pairs s < t for T = 3: (1, 0), (2, 0), (2, 1): 3 per checkpoint. 3 of the 4 runs stay within 0: mixed.
    """
    m1 = pd.concat([m1_rows("std", 0, steps=(0, 50, 100)), m1_rows("std", 1, steps=(0, 50, 100)),
                    m1_rows("my", 0, last_value=2.5e-7), m1_rows("my", 1)])
    result = decide(RUNS, m1)
    table = result.tables["c5_teacher_forcing"]
    assert table.columns.tolist() == ["condition", "seed", "task_name", "pos_encoding", "regime", "n_checkpoints",
                                      "n_pairs", "largest_gradient"]
    assert table[["condition", "seed", "regime", "n_checkpoints", "n_pairs", "largest_gradient"]].values.tolist() == [
        ["my", 0, "myopic-state", 2, 6, 2.5e-7], ["my", 1, "myopic-state", 2, 6, 0.0],
        ["std", 0, "standard", 3, 9, 0.0], ["std", 1, "standard", 3, 9, 0.0]]
    assert result.numbers == {
        "check": {
            "claim": "C5", "verdict": "mixed", "kind": "structural check",
            "deciding": "largest gradient from the loss at t to the last layer's state at any s < t: 2.5e-07 "
                        "(3 of 4 runs at most 0, every checkpoint)",
            "rule": "supported if that gradient is at most 0 in every run and checkpoint, refuted if it exceeds it in "
                    "every run, mixed otherwise (structural: the prediction at s is not an input at s + 1)"},
        "largest": "2.5e-07", "tolerance": "0", "n_runs": "4", "n_conditions": "2", "n_checkpoints": "10",
        "regimes": "myopic-state, standard",
        "tests": ["tests/unit/test_claim_c5.py::test_the_last_layer_state_is_no_input_to_a_later_loss",
                  "tests/unit/test_gradient_matrix.py::test_last_layer_reaches_only_its_own_position"],
    }
    assert decide(RUNS, m1, tolerance=2.5e-7).verdicts[0].verdict == "supported"  # at most the tolerance: within


def test_empty_numbers_say_nothing_was_measured() -> None:
    numbers = decide(RUNS, pd.DataFrame()).numbers
    assert numbers["check"]["verdict"] == "mixed" and numbers["check"]["deciding"].startswith(
        "largest gradient from the loss at t to the last layer's state at any s < t: n/a (0 of 0 runs")
    assert (numbers["largest"], numbers["n_runs"], numbers["n_conditions"], numbers["n_checkpoints"], numbers["regimes"]) == (
        "n/a", "0", "0", "0", "")


def test_a_missing_gradient_table_and_a_run_listed_twice() -> None:
    """No M1 table at all is mixed with an empty table; a run's second row (same condition and seed) is
    one run, not a second one to join."""
    result = CLAIM.run(ClaimInputs({}, RUNS, SETTINGS), None)
    assert result.verdicts[0].verdict == "mixed" and result.tables["c5_teacher_forcing"].empty
    twice = pd.concat([RUNS, RUNS.iloc[:1].assign(note="rerun")], ignore_index=True)
    table = decide(twice, pd.concat([m1_rows(c, s) for c in ("std", "my") for s in (0, 1)])).tables["c5_teacher_forcing"]
    assert len(table) == 4
