"""C3 on planted reachability tables whose verdicts and numbers are worked out by hand, and on a real tiny model."""
from __future__ import annotations

import pandas as pd
import pytest
import torch
from conftest import tiny_model, tiny_task

from analysis.measures.reachability import reachability_table
from analysis.stats.c3 import Rules, decide
from analysis.stats.claims import CLAIMS, MIXED, REFUTED, STRUCTURAL, SUPPORTED, ClaimInputs

SETTINGS = {"confidence": 0.95, "alpha": 0.05}
CONTEXT = 8  # t_mid = 3; the position table has 8 rows of 4 entries
SEEDS = range(5)


def _row(seed: int, step: int, t: int, parameter: str, head: int, kind: str, n: int, reached: int, leak: float = 0.0) -> dict:
    return {
        "condition": "A", "seed": seed, "step": step, "sequence": 0, "t": t, "parameter": parameter, "head": head,
        "kind": kind, "n_entries": n, "n_reachable": reached, "fraction_reachable": reached / n,
        "reason": "" if reached == n else "planted", "n_reachable_zero": 0, "largest_gradient": 1.0,
        "largest_unreachable_gradient": leak if reached < n else 0.0,
    }


def planted(query: tuple[int, int] = (32, 32), mlp: int = 100, key_bias_leak: float = 0.0) -> pd.DataFrame:
    """Shared: query heads 0, 1 (32 entries each), MLP (100); position table (32); embedding (40, 20 seen); key bias (2 x 4).

    ``query`` and ``mlp`` set the entries reached at t = T/2 - 1 = 3; elsewhere shared tensors are full (queries: 0 at t = 0).
    """
    rows = []
    for seed in SEEDS:
        for step in (0, 100):
            for t in (0, 3, 7):
                mid = t == 3
                rows += [
                    *[_row(seed, step, t, "blocks.0.attn.query.weight", h, "shared", 32, (query[h] if mid else 32) if t else 0)
                      for h in (0, 1)],
                    _row(seed, step, t, "blocks.0.mlp.up.weight", -1, "shared", 100, mlp if mid else 100),
                    _row(seed, step, t, "positions.table", -1, "position-indexed", 32, 4 * (t + 1)),
                    _row(seed, step, t, "read_in.weight", -1, "input-dependent", 40, 20),
                    *[_row(seed, step, t, "blocks.0.attn.key.bias", h, "invariance", 4, 0, key_bias_leak) for h in (0, 1)],
                ]
    return pd.DataFrame(rows)


def runs_table() -> pd.DataFrame:
    return pd.DataFrame({"condition": "A", "seed": list(SEEDS), "task": "markov", "task_name": "markov",
                         "pos_encoding": "learned", "regime": "standard", "context": CONTEXT, "steps": 100})


def decided(m5: pd.DataFrame, **rules):
    inputs = ClaimInputs(tables={"m5_reachability": m5}, runs=runs_table(), settings=SETTINGS)
    return CLAIMS.get("c3").run(inputs, rules)


def test_every_shared_tensor_fully_reached_refutes_with_the_hand_worked_numbers() -> None:
    result = decided(planted())
    (verdict,) = result.verdicts
    assert verdict.verdict == REFUTED and verdict.kind == STRUCTURAL
    numbers = result.numbers
    assert numbers["shared_min"] == "1.000" and numbers["positions"] == "0.500" and numbers["positions_exact"] == "true"
    # all weights at t = 3: (32 + 32 + 100 + 16 + 20 + 0) / (32 + 32 + 100 + 32 + 40 + 8) = 200 / 244
    assert numbers["all_weights"] == "0.820"
    assert numbers["t0_shared_min"] == "0.000"  # queries at t = 0: a single key; not what C3 is decided on
    assert numbers["n_runs"] == "5" and numbers["n_checkpoints"] == "10"
    assert numbers["embedding"] == [{"task": "markov", "fraction": "0.500"}]
    kinds = {(e["kind"], e["parameter"]) for e in numbers["exceptions"]}
    assert kinds == {("position-indexed", "positions.table"), ("input-dependent", "read_in.weight"),
                     ("invariance", "blocks.*.attn.key.bias")}
    assert numbers["n_invariance"] == "2"


def test_half_reached_shared_tensors_support() -> None:
    result = decided(planted(query=(16, 16), mlp=50))
    assert result.verdicts[0].verdict == SUPPORTED
    runs = result.tables["c3_runs"]
    assert (runs["shared_pooled"] == 0.5).all()  # (16 + 16 + 50) / 164


def test_one_head_below_full_is_mixed_and_recorded_with_its_tensor_head_and_reason() -> None:
    result = decided(planted(query=(32, 24)))
    assert result.verdicts[0].verdict == MIXED
    assert result.numbers["shared_min"] == "0.750"
    short = result.tables["c3_shortfalls"]
    hit = short[(short["parameter"] == "blocks.0.attn.query.weight") & (short["head"] == 1) & (short["t"] == 3)]
    assert len(hit) == 2 and set(hit["n_seeds"]) == {5} and set(hit["fraction_min"]) == {0.75}
    assert set(hit["condition"]) == {"A"} and set(hit["reason"]) == {"planted"} and not hit["flagged"].any()


@pytest.mark.parametrize(("reached", "expected"), [(6, SUPPORTED), (7, MIXED), (4, SUPPORTED), (3, MIXED)])
def test_the_about_half_band_is_inclusive_at_both_ends(reached: int, expected: str) -> None:
    """One shared tensor of 10 entries: 6/10 = half_high and 4/10 = half_low count as half."""
    m5 = pd.DataFrame([_row(s, 100, 3, "blocks.0.mlp.up.weight", -1, "shared", 10, reached) for s in SEEDS])
    assert decided(m5).verdicts[0].verdict == expected


@pytest.mark.parametrize(("reached", "expected"), [(9, REFUTED), (8, MIXED)])
def test_the_full_threshold_is_inclusive(reached: int, expected: str) -> None:
    m5 = pd.DataFrame([_row(s, 100, 3, "blocks.0.mlp.up.weight", -1, "shared", 10, reached) for s in SEEDS])
    assert decided(m5, full=0.9).verdicts[0].verdict == expected


@pytest.mark.parametrize(("leak", "expected"), [(1e-12, REFUTED), (2e-12, MIXED)])
def test_gradient_beyond_round_off_on_an_unreachable_entry_is_flagged_and_blocks_the_verdict(leak: float, expected: str) -> None:
    result = decided(planted(key_bias_leak=leak))
    assert result.verdicts[0].verdict == expected
    flagged = result.tables["c3_shortfalls"]["flagged"]
    assert flagged.any() == (expected == MIXED)
    assert result.numbers["n_unexplained"] == ("0" if expected == REFUTED else str(2 * 2 * 5 * 1))  # heads x steps x seeds at t_mid


def test_empty_input_is_mixed_with_every_declared_table() -> None:
    empty = ClaimInputs(tables={}, runs=pd.DataFrame(), settings=SETTINGS)
    result = CLAIMS.get("c3").run(empty)
    assert result.verdicts[0].verdict == MIXED and "no reachability" in result.verdicts[0].deciding
    assert all(table.empty for table in result.tables.values())
    assert result.numbers["shared_min"] == "n/a" and result.numbers["n_runs"] == "0"


def test_rules_refuse_a_half_band_above_full() -> None:
    with pytest.raises(ValueError, match="half_low <= half_high < full"):
        Rules(half_high=1.0)


def test_a_real_tiny_model_refutes_with_the_position_table_at_half() -> None:
    """End to end: M5 on a 2-layer learned-position model, T = 6 (t_mid = 2: 3 of 6 position rows)."""
    model, task = tiny_model("learned"), tiny_task()
    inputs, targets = torch.tensor([[0, 3, 3, 4, 1, 4]]), torch.tensor([[3, 3, 4, 1, 4, 0]])
    m5 = reachability_table(model, inputs, targets, task.loss_per_position).assign(condition="A", seed=0, step=0)
    runs = runs_table().iloc[:1].assign(context=6)
    result = decide(ClaimInputs({"m5_reachability": m5}, runs, SETTINGS), Rules())
    assert result.verdicts[0].verdict == REFUTED
    assert result.numbers["positions"] == "0.500" and result.numbers["embedding"][0]["fraction"] == "0.400"


C3_RULE = ("at t = T/2 \u2212 1, refuted if every shared tensor (per head) is reached in at least 100% of its entries in "
           "every run and checkpoint (a learned position table, reached in (t + 1)/T of its rows, and token-embedding "
           "rows of absent tokens are reported apart); supported if in every run the shared tensors pooled are "
           "0.40\u20130.60 reached; mixed otherwise, or if an entry the dependency rule calls unreachable carries more "
           "than 1e-12 relative gradient (structural: fixed by the architecture and input)")


def _exception(kind: str, parameter: str, fraction: str) -> dict[str, str]:
    return {"kind": kind, "parameter": parameter, "reason": "planted", "n_conditions": "1", "fraction": fraction}


def test_every_number_of_a_supported_case_by_hand() -> None:
    """Query heads reach 16 and 24 of 32 entries, the MLP 50 of 100 at t = 3.

    shared_min 16/32 = 0.500; pooled (16 + 24 + 50) / 164 = 0.549; all weights (90 + 16 + 20 + 0) / 244 = 0.516;
    the position table 16/32 = 0.500 = (t + 1)/T; the query heads' range at t = 3: 0.500-0.750.
    """
    numbers = decided(planted(query=(16, 24), mlp=50)).numbers
    assert numbers == {
        "verdict": {"claim": "C3", "verdict": SUPPORTED, "kind": STRUCTURAL, "rule": C3_RULE,
                    "deciding": "smallest reached fraction of any shared tensor at t = T/2 \u2212 1: 0.500 over 5 runs "
                                "(10 checkpoints); all weights pooled: 0.516; 0 unexplained tensors"},
        "n_runs": "5", "n_checkpoints": "10", "n_conditions": "1", "shared_min": "0.500", "shared_pooled": "0.549",
        "all_weights": "0.516", "positions": "0.500", "relative_position": "0.500", "positions_exact": "true",
        "n_learned_runs": "5", "embedding": [{"task": "markov", "fraction": "0.500"}],
        "exceptions": [
            _exception("input-dependent", "read_in.weight", "0.500"),
            _exception("invariance", "blocks.*.attn.key.bias", "0.000"),
            _exception("position-indexed", "positions.table", "0.500"),
            _exception("shared", "blocks.*.attn.query.weight", "0.500\u20130.750"),
            _exception("shared", "blocks.*.mlp.up.weight", "0.500"),
        ],
        "t0_shared_min": "0.000", "n_invariance": "2", "largest_unreachable_gradient": "0.0e+00", "n_unexplained": "0",
        "n_reachable_zero": "0", "full_pct": "100", "half_low": "0.40", "half_high": "0.60", "roundoff": "1e-12",
    }


def test_a_leak_on_both_key_bias_heads_counts_twenty_unexplained_tensors() -> None:
    """1e-9 on the unreachable key-bias entries of 2 heads in 5 seeds x 2 checkpoints at t = 3: 20 tensors."""
    result = decided(planted(key_bias_leak=1e-9))
    assert result.verdicts[0].deciding == ("smallest reached fraction of any shared tensor at t = T/2 \u2212 1: 1.000 over "
                                           "5 runs (10 checkpoints); all weights pooled: 0.820; 20 unexplained tensors")
    numbers = result.numbers
    assert (numbers["n_unexplained"], numbers["largest_unreachable_gradient"], numbers["shared_pooled"]) == (
        "20", "1.0e-09", "1.000")
    assert [e["parameter"] for e in numbers["exceptions"]] == ["read_in.weight", "blocks.*.attn.key.bias", "positions.table"]


def test_empty_tables_keep_their_columns_and_the_run_table_counts_reachable_zeros() -> None:
    """The declared tables keep their columns when empty; n_reachable_zero sums over the tensors at t = 3."""
    empty = CLAIMS.get("c3").run(ClaimInputs(tables={}, runs=pd.DataFrame(), settings=SETTINGS))
    keys = ["condition", "seed", "step", "task", "pos_encoding", "regime", "t"]
    assert empty.tables["c3_reachability"].columns.tolist() == [*keys, "position", "kind", "n_entries", "n_reachable",
                                                                "fraction"]
    assert empty.tables["c3_runs"].columns.tolist() == [
        *keys, "shared_min", "shared_pooled", "positions", "relative_position", "input_dependent", "all_weights",
        "n_unexplained", "n_reachable_zero"]
    m5 = planted()
    m5.loc[(m5["t"] == 3) & (m5["parameter"] == "read_in.weight"), "n_reachable_zero"] = 2
    m5.loc[(m5["t"] == 7) & (m5["parameter"] == "read_in.weight"), "n_reachable_zero"] = 5  # not at T/2 - 1
    result = decided(m5)
    runs = result.tables["c3_runs"]
    assert runs["n_reachable_zero"].tolist() == [2] * 10 and list(runs.index) == list(range(10))
    assert runs[["seed", "step"]].values.tolist()[:3] == [[0, 0], [0, 100], [1, 0]]
    assert result.numbers["n_reachable_zero"] == "20"
