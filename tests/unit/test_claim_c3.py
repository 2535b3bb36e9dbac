"""C3 on planted reachability tables whose verdicts and numbers are worked out by hand, and on a real tiny model."""
from __future__ import annotations

import pandas as pd
import pytest
import torch
from tiny import tiny_model, tiny_task

from analysis.measures.reachability import reachability_table
from analysis.stats.c3 import CLAIM, Rules, decide
from analysis.stats.claims import MIXED, REFUTED, STRUCTURAL, SUPPORTED, ClaimInputs

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
    return CLAIM.run(inputs, rules)


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
    result = CLAIM.run(empty)
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
    empty = CLAIM.run(ClaimInputs(tables={}, runs=pd.DataFrame(), settings=SETTINGS))
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


# --- from the mutation survivors: hand-made tables with several conditions, tasks, checkpoints and contexts ---------------

SHORTFALL_COLUMNS = ["condition", "task", "pos_encoding", "regime", "step", "t", "parameter", "head", "kind", "reason",
                     "n_seeds", "fraction_min", "fraction_max", "largest_unreachable_gradient", "flagged"]


def _at(condition: str, seed: int, step: int, t: int, parameter: str, kind: str, n: int, reached: int, head: int = -1,
        sequence: int = 0) -> dict:
    return {**_row(seed, step, t, parameter, head, kind, n, reached), "condition": condition, "sequence": sequence}


def _runs(*rows: tuple[str, int, str, str, int]) -> pd.DataFrame:
    """(condition, seed, task, pos_encoding, context) per run."""
    return pd.DataFrame([{"condition": c, "seed": s, "task": task, "task_name": task, "pos_encoding": pe, "regime": "standard",
                          "context": context, "steps": 100} for c, s, task, pe, context in rows])


def _decided(m5: list[dict], runs: pd.DataFrame, **rules):
    return CLAIM.run(ClaimInputs(tables={"m5_reachability": pd.DataFrame(m5)}, runs=runs, settings=SETTINGS), rules)


def test_empty_input_prints_the_exact_structural_mixed_verdict_and_n_a_spans() -> None:
    """No M5 rows: the full verdict record (claim, word, kind, rule, text), n/a for every span, the shortfall columns."""
    result = CLAIM.run(ClaimInputs(tables={}, runs=pd.DataFrame(), settings=SETTINGS))
    assert result.numbers["verdict"] == {"claim": "C3", "verdict": MIXED, "kind": STRUCTURAL, "rule": C3_RULE,
                                         "deciding": "no reachability measured (no M5 rows at t = T/2 \u2212 1)"}
    numbers = result.numbers
    assert [numbers[k] for k in ("shared_pooled", "all_weights", "positions", "relative_position")] == ["n/a"] * 4
    assert numbers["positions_exact"] == "false" and numbers["embedding"] == [] and numbers["exceptions"] == []
    assert [numbers[k] for k in ("t0_shared_min", "n_invariance", "largest_unreachable_gradient", "n_unexplained",
                                 "n_reachable_zero")] == ["n/a", "0", "n/a", "0", "0"]
    assert result.tables["c3_shortfalls"].columns.tolist() == SHORTFALL_COLUMNS


def test_the_rule_text_prints_the_configured_full_threshold() -> None:
    """full = 0.9 prints '90%' (100 x 0.9), not 100 / 0.9, in the rule and in the paper's number."""
    m5 = pd.DataFrame([_row(s, 100, 3, "blocks.0.mlp.up.weight", -1, "shared", 10, 9) for s in SEEDS])
    result = decided(m5, full=0.9)
    assert result.verdicts[0].rule == C3_RULE.replace("at least 100%", "at least 90%")
    assert result.numbers["full_pct"] == "90"


def test_the_t0_shared_minimum_reads_only_shared_tensors() -> None:
    """At t = 0 the MLP reaches 5/10 (0.500) and the position table 4/32 (0.125): t0_shared_min is the shared 0.500."""
    m5 = [_at("A", 0, 100, t, "blocks.0.mlp.up.weight", "shared", 10, 5 if t == 0 else 10) for t in (0, 3)]
    m5 += [_at("A", 0, 100, t, "positions.table", "position-indexed", 32, 4 * (t + 1)) for t in (0, 3)]
    assert _decided(m5, _runs(("A", 0, "markov", "learned", 8))).numbers["t0_shared_min"] == "0.500"


def test_the_reachability_table_by_hand_with_two_sequences() -> None:
    """One checkpoint at t = 3, two sequences: query heads 16 + 24 (seq 0) and 20 + 24 (seq 1) of 2 x 32; positions 16/32.

    Per kind, mean over sequences: shared (40 + 44) / 2 = 42 of 64; positions 16 of 32; all weights (56 + 60) / 2 = 58 of 96.
    """
    m5 = [_at("A", 0, 100, 3, "blocks.0.attn.query.weight", "shared", 32, r, head=h, sequence=q)
          for q, reached in enumerate([(16, 24), (20, 24)]) for h, r in enumerate(reached)]
    m5 += [_at("A", 0, 100, 3, "positions.table", "position-indexed", 32, 16, sequence=q) for q in (0, 1)]
    table = _decided(m5, _runs(("A", 0, "markov", "learned", 8))).tables["c3_reachability"]
    assert table.columns.tolist() == ["condition", "seed", "step", "task", "pos_encoding", "regime", "t", "position", "kind",
                                      "n_entries", "n_reachable", "fraction"]
    got = {row.kind: (row.n_entries, row.n_reachable, row.fraction) for row in table.itertuples()}
    assert got == {"shared": (64, 42.0, 42 / 64), "position-indexed": (32, 16.0, 0.5), "all weights": (96, 58.0, 58 / 96)}
    assert set(table["position"]) == {0.5} and set(table["condition"]) == {"A"} and len(table) == 3


def test_the_embedding_fraction_is_read_at_each_run_s_last_checkpoint() -> None:
    """Token-embedding rows reached at t = 3: 10, 20, 30 of 40 at steps 0, 50, 100; the paper prints the last: 0.750."""
    m5 = []
    for step, reached in ((0, 10), (50, 20), (100, 30)):
        m5 += [_at("A", 0, step, 3, "blocks.0.mlp.up.weight", "shared", 10, 10),
               _at("A", 0, step, 3, "read_in.weight", "input-dependent", 40, reached)]
    numbers = _decided(m5, _runs(("A", 0, "markov", "learned", 8))).numbers
    assert numbers["embedding"] == [{"task": "markov", "fraction": "0.750"}]
    assert numbers["n_checkpoints"] == "3"


def test_embedding_fractions_are_listed_by_task_name_not_by_condition() -> None:
    """Condition A runs 'markov' (3/10 embedding rows reached), B runs 'copy' (7/10): listed copy, markov."""
    m5 = [_at(c, 0, 100, 3, p, kind, 10, r) for c, r in (("A", 3), ("B", 7))
          for p, kind, r in (("blocks.0.mlp.up.weight", "shared", 10), ("read_in.weight", "input-dependent", r))]
    numbers = _decided(m5, _runs(("A", 0, "markov", "learned", 8), ("B", 0, "copy", "learned", 8))).numbers
    assert numbers["embedding"] == [{"task": "copy", "fraction": "0.700"}, {"task": "markov", "fraction": "0.300"}]
    assert numbers["n_conditions"] == "2"


def test_without_a_position_table_positions_are_n_a_and_the_embedding_is_still_reported() -> None:
    """Sinusoidal run: no position-indexed rows, so positions n/a, not exact, 0 learned runs; embedding 20/40 = 0.500."""
    m5 = [_at("A", 0, 100, 3, "blocks.0.mlp.up.weight", "shared", 10, 10),
          _at("A", 0, 100, 3, "read_in.weight", "input-dependent", 40, 20)]
    result = _decided(m5, _runs(("A", 0, "markov", "sinusoidal", 8)))
    numbers = result.numbers
    assert (numbers["positions"], numbers["relative_position"], numbers["positions_exact"], numbers["n_learned_runs"]) == (
        "n/a", "n/a", "false", "0")
    assert numbers["embedding"] == [{"task": "markov", "fraction": "0.500"}]
    runs = result.tables["c3_runs"]
    assert runs["positions"].dtype == "float64" and runs["positions"].isna().all()  # a float column of NaN, not None
    assert result.verdicts[0].verdict == REFUTED


def test_a_position_table_off_its_relative_position_is_reported_not_exact() -> None:
    """Position table 12/32 = 0.375 at t = 3 while (t + 1)/T = 0.500; no embedding rows (NaN must not drop the run)."""
    m5 = [_at("A", 0, 100, 3, "blocks.0.mlp.up.weight", "shared", 10, 10),
          _at("A", 0, 100, 3, "positions.table", "position-indexed", 32, 12)]
    numbers = _decided(m5, _runs(("A", 0, "markov", "learned", 8))).numbers
    assert (numbers["positions"], numbers["relative_position"], numbers["positions_exact"], numbers["n_learned_runs"]) == (
        "0.375", "0.500", "false", "1")
    assert numbers["embedding"] == []


def test_a_checkpoint_without_shared_tensors_stays_in_the_run_table() -> None:
    """Seed 1 measured only its position table at t = 3: still a checkpoint, with no shared_min."""
    m5 = [_at("A", 0, 100, 3, "blocks.0.mlp.up.weight", "shared", 10, 10),
          *[_at("A", s, 100, 3, "positions.table", "position-indexed", 32, 16) for s in (0, 1)]]
    result = _decided(m5, _runs(("A", 0, "markov", "learned", 8), ("A", 1, "markov", "learned", 8)))
    runs = result.tables["c3_runs"]
    assert runs["seed"].tolist() == [0, 1] and runs["shared_min"].iloc[0] == 1.0 and pd.isna(runs["shared_min"].iloc[1])
    assert result.numbers["n_checkpoints"] == "2" and result.numbers["n_learned_runs"] == "2"


def test_zero_round_off_does_not_list_fully_reached_tensors_as_shortfalls() -> None:
    """roundoff = 0: a tensor with no unreachable entry (gradient 0 there) is not > 0, so not a shortfall.

    Per checkpoint: t = 0 queries (2 heads), positions, embedding, key bias (2); t = 3 positions, embedding, key bias (2);
    t = 7 embedding, key bias (2) (the position table is full at t = 7): 13, x 2 checkpoints = 26.
    """
    result = decided(planted(), roundoff=0.0)
    short = result.tables["c3_shortfalls"]
    assert len(short) == 26 and not (short["fraction_min"] == 1.0).any()
    assert result.verdicts[0].verdict == REFUTED and result.numbers["roundoff"] == "0e+00"


def test_a_run_listed_twice_in_the_runs_table_is_refused() -> None:
    """(condition, seed) must identify one run; a duplicate would double every M5 row."""
    m5 = [_at("A", 0, 100, 3, "blocks.0.mlp.up.weight", "shared", 10, 10)]
    with pytest.raises(pd.errors.MergeError):
        _decided(m5, _runs(("A", 0, "markov", "learned", 8), ("A", 0, "markov", "learned", 8)))


def test_an_odd_context_is_decided_at_t_equal_floor_half_minus_one() -> None:
    """T = 7: t_mid = 7 // 2 - 1 = 2; the position table reaches 3 of 7 rows (12 of 28 entries): 0.429 = (2 + 1)/7."""
    m5 = [_at("A", 0, 100, 2, "blocks.0.mlp.up.weight", "shared", 10, 10),
          _at("A", 0, 100, 2, "positions.table", "position-indexed", 28, 12)]
    result = _decided(m5, _runs(("A", 0, "markov", "learned", 7)))
    assert result.verdicts[0].verdict == REFUTED
    assert (result.numbers["n_checkpoints"], result.numbers["positions"], result.numbers["relative_position"]) == (
        "1", "0.429", "0.429")


def test_decide_writes_the_reachability_fractions_of_every_run() -> None:
    table = decided(planted()).tables["c3_reachability"]
    assert not table.empty and set(table["seed"]) == set(SEEDS)
    assert ((table["fraction"] >= 0) & (table["fraction"] <= 1)).all()


def test_rules_accept_a_half_band_of_one_point() -> None:
    assert Rules(half_low=0.5, half_high=0.5).half_high == 0.5  # half_low <= half_high: equal is allowed
