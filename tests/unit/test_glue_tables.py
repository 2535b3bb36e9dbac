"""Reference tests for the glue that turns measured tensors into result tables.

Each test plants known values (or recomputes one entry by a slow loop) and checks that the
table row for a specific index reports exactly that value: which (layer, t, s) an M1 row
holds, which seed an M4 gap pairs, which layer a probe row reads, at which position the
shuffled-context loss is read, which (t, t+k) pair an M7 row reports, and what each column
of the runs table holds. Expected values are hand-worked, never the function under test.
"""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch
from tiny import tiny_batch, tiny_model, tiny_task

from analysis.measures import Measure
from analysis.measures import data as data_module
from analysis.measures import run as run_module
from analysis.measures.gradient_matrix import measure_gradient_matrix
from analysis.measures.myopia import myopia_gap
from analysis.measures.probes import probe_table
from analysis.measures.weight_channel import context_channel_table, shuffle_before
from analysis.registry import Registry
from analysis.stats.runs import CorpusMismatchError, check_same_corpus, runs_table
from analysis.tasks.base import Batch, ProbeTarget

# M1: per-sequence tensor -> m1_gradient_matrix rows ---------------------------------------------


def planted_gradient_tensor() -> torch.Tensor:
    """(N=3, L+1=2, T=4, T=4) with hand-chosen entries; the upper triangle is planted non-zero on purpose."""
    tensor = torch.arange(3 * 2 * 4 * 4, dtype=torch.float32).view(3, 2, 4, 4) / 100.0
    tensor[:, 1, 3, 1] = torch.tensor([1.0, 2.0, 9.0])  # mean 4, median 2
    tensor[:, 0, 2, 2] = torch.tensor([8.0, 5.0, 5.0])  # diagonal: mean 6, median 5
    tensor[:, 0, 0, 3] = torch.tensor([7.0, 7.0, 7.0])  # s > t: must not appear
    return tensor


def m1_table(monkeypatch: pytest.MonkeyPatch, tensor: torch.Tensor) -> tuple[pd.DataFrame, dict]:
    """M1's table from a planted per-sequence tensor, through RunData's cached per-checkpoint matrix."""
    calls: dict = {"count": 0}

    def fake_gradient_matrix(model, inputs, targets, loss_fn, **kwargs):
        calls.update(kwargs, inputs=inputs, loss_fn=loss_fn, count=calls["count"] + 1)
        return tensor

    monkeypatch.setattr(data_module, "gradient_matrix", fake_gradient_matrix)
    spec = SimpleNamespace(measure={"method": "loop", "batch_size": 7, "max_memory_mb": 11.0}, train={"device": "cpu"})
    data = data_module.RunData(spec)
    data.__dict__["gradient_batch"] = Batch(torch.zeros(3, 4, dtype=torch.long), torch.zeros(3, 4, dtype=torch.long))
    data.__dict__["task"] = SimpleNamespace(loss_per_position="the task's loss")
    model = torch.nn.Linear(1, 1)
    table = measure_gradient_matrix(model, data)
    calls["again"] = data.gradient_matrix(model) is tensor
    return table, calls


def test_m1_row_holds_the_mean_and_median_over_sequences_of_its_own_entry(monkeypatch: pytest.MonkeyPatch) -> None:
    table, _ = m1_table(monkeypatch, planted_gradient_tensor())
    row = table[(table["layer"] == 1) & (table["t"] == 3) & (table["s"] == 1)]
    assert len(row) == 1
    assert row["grad_norm_mean"].item() == pytest.approx(4.0)
    assert row["grad_norm_median"].item() == pytest.approx(2.0)
    assert row["distance"].item() == 2


def test_m1_keeps_the_diagonal_and_drops_every_entry_above_it(monkeypatch: pytest.MonkeyPatch) -> None:
    table, _ = m1_table(monkeypatch, planted_gradient_tensor())
    diagonal = table[(table["layer"] == 0) & (table["t"] == 2) & (table["s"] == 2)]
    assert diagonal["grad_norm_mean"].item() == pytest.approx(6.0)
    assert diagonal["grad_norm_median"].item() == pytest.approx(5.0)
    assert diagonal["distance"].item() == 0
    assert len(table) == 2 * (4 * 5 // 2)  # layers x pairs s <= t
    assert (table["s"] <= table["t"]).all()
    assert (table["distance"] == table["t"] - table["s"]).all()
    assert sorted(set(table["layer"])) == [0, 1]
    assert list(table.columns) == ["layer", "t", "s", "distance", "grad_norm_mean", "grad_norm_median"]
    assert list(table.index) == list(range(len(table)))


def test_m1_every_row_matches_a_loop_over_the_tensor(monkeypatch: pytest.MonkeyPatch) -> None:
    tensor = torch.rand(3, 2, 4, 4, generator=torch.Generator().manual_seed(3))
    table, _ = m1_table(monkeypatch, tensor)
    for row in table.itertuples():
        values = sorted(float(tensor[i, row.layer, row.t, row.s]) for i in range(3))
        assert row.grad_norm_mean == pytest.approx(sum(values) / 3, rel=1e-6)
        assert row.grad_norm_median == pytest.approx(values[1], rel=1e-6)


def test_m1_passes_the_configured_method_and_sizes_through(monkeypatch: pytest.MonkeyPatch) -> None:
    _, calls = m1_table(monkeypatch, planted_gradient_tensor())
    assert calls["method"] == "loop" and calls["batch_size"] == 7 and calls["max_memory_mb"] == 11.0
    assert calls["loss_fn"] == "the task's loss"
    assert calls["count"] == 1 and calls["again"]  # computed once per checkpoint, then reused


# Every measure table gets its run's condition, seed and step ----------------------------------------


def test_measure_checkpoints_labels_rows_and_keeps_end_only_measures_to_the_ends_and_final_only_to_the_end(monkeypatch: pytest.MonkeyPatch) -> None:
    data = SimpleNamespace(spec=SimpleNamespace(measure={}))  # the run's data (no measure.only), handed to every measure unchanged
    registry: Registry = Registry("measure")

    def every(model: int, given: object) -> pd.DataFrame:
        assert given is data
        return pd.DataFrame({"value": [model, model + 1]})

    registry.register("every")(Measure("every", every, applies=lambda given: given is data))
    registry.register("ends")(Measure("ends", lambda model, data: pd.DataFrame({"value": [model]}), ends_only=True))
    registry.register("never")(Measure("never", lambda model, data: pd.DataFrame({"value": [0]}), applies=lambda data: False))
    registry.register("final")(Measure("final", lambda model, data: pd.DataFrame({"value": [model]}), final_only=True))
    monkeypatch.setattr(run_module, "MEASURES", registry)
    monkeypatch.setattr(run_module, "RunData", lambda spec: data if spec.seed == 4 else None)
    # the "model" is a number, built with the run's data
    monkeypatch.setattr(run_module, "load_model", lambda path, given: 10 * int(path) if given is data else None)
    clock = iter(range(0, 1000, 2))  # every reading of the clock is 2 s after the last
    monkeypatch.setattr(run_module, "time", SimpleNamespace(perf_counter=lambda: float(next(clock))))
    spec = SimpleNamespace(seed=4, condition="sine-learned")
    tables, seconds = run_module.measure_checkpoints(spec, {50: "5", 0: "0", 100: "10"})
    every = tables["every"]
    assert list(every.columns) == ["condition", "seed", "step", "value"]
    assert every["step"].tolist() == [0, 0, 50, 50, 100, 100]
    assert every["value"].tolist() == [0, 1, 50, 51, 100, 101]
    assert list(every.index) == list(range(6))
    assert (every["seed"] == 4).all() and (every["condition"] == "sine-learned").all()
    assert tables["ends"]["step"].tolist() == [0, 100]
    assert tables["ends"]["value"].tolist() == [0, 100]
    assert len(tables["never"]) == 0 and list(tables["never"].columns) == ["condition", "seed", "step"]
    # seconds add up over the checkpoints: 2 s per call, three checkpoints for "every", the two ends for "ends"
    assert tables["final"]["step"].tolist() == [100] and tables["final"]["value"].tolist() == [100]
    assert seconds == {"every": 6.0, "ends": 4.0, "never": 0.0, "final": 2.0}


# M4: the gap is myopic minus standard of the same seed, step, position and factors -----------------------


def gap_inputs() -> tuple[pd.DataFrame, pd.DataFrame]:
    base = {"pos_encoding": "learned", "n_layer": 2, "d_model": 8, "n_head": 2, "context": 2, "steps": 10}
    runs = pd.DataFrame(
        [
            {"condition": f"{task}-{regime}", "seed": seed, "regime": regime, "task": task, **base}
            for task in ("sine", "markov")
            for regime in ("standard", "myopic-state")
            for seed in (0, 1)
        ]
    )
    losses = {  # (task, regime, seed, step, t) -> loss; hand-chosen, no pattern a mix-up could reproduce
        ("sine", "standard", 0, 10, 0): 1.0, ("sine", "standard", 0, 10, 1): 2.0,
        ("sine", "standard", 1, 10, 0): 4.0, ("sine", "standard", 1, 10, 1): 8.0,
        ("sine", "myopic-state", 0, 10, 0): 1.5, ("sine", "myopic-state", 0, 10, 1): 3.0,
        ("sine", "myopic-state", 1, 10, 0): 4.25, ("sine", "myopic-state", 1, 10, 1): 9.0,
        ("markov", "standard", 0, 10, 0): 100.0, ("markov", "standard", 0, 10, 1): 200.0,
        ("markov", "standard", 1, 10, 0): 300.0, ("markov", "standard", 1, 10, 1): 400.0,
        ("markov", "myopic-state", 0, 10, 0): 101.0, ("markov", "myopic-state", 0, 10, 1): 203.0,
        ("markov", "myopic-state", 1, 10, 0): 307.0, ("markov", "myopic-state", 1, 10, 1): 415.0,
    }
    rows = [{"condition": f"{task}-{regime}", "seed": seed, "step": step, "t": t, "loss_mean": value}
            for (task, regime, seed, step, t), value in losses.items()]
    return pd.DataFrame(rows), runs


def test_myopia_gap_is_myopic_minus_standard_of_the_same_seed_task_and_position() -> None:
    gap = myopia_gap(*gap_inputs()).set_index(["condition", "seed", "t"])
    expected = {  # hand-worked: myopic - standard
        ("sine-myopic-state", 0, 0): 0.5, ("sine-myopic-state", 0, 1): 1.0,
        ("sine-myopic-state", 1, 0): 0.25, ("sine-myopic-state", 1, 1): 1.0,
        ("sine-myopic-state", 0, -1): (1.5 + 3.0) / 2 - (1.0 + 2.0) / 2,
        ("sine-myopic-state", 1, -1): (4.25 + 9.0) / 2 - (4.0 + 8.0) / 2,
        ("markov-myopic-state", 0, 0): 1.0, ("markov-myopic-state", 0, 1): 3.0,
        ("markov-myopic-state", 1, 0): 7.0, ("markov-myopic-state", 1, 1): 15.0,
        ("markov-myopic-state", 1, -1): (307.0 + 415.0) / 2 - (300.0 + 400.0) / 2,
    }
    for key, value in expected.items():
        assert gap.loc[key, "gap"] == pytest.approx(value), key
    assert gap.loc[("sine-myopic-state", 1, 1), "loss_myopic"] == 9.0
    assert gap.loc[("sine-myopic-state", 1, 1), "loss_standard"] == 8.0
    assert gap.loc[("markov-myopic-state", 0, 0), "standard_condition"] == "markov-standard"
    assert len(gap) == 2 * 2 * 3  # myopic conditions x seeds x (two positions and the mean)
    assert (gap.reset_index()["step"] == 10).all()


def test_myopia_gap_table_is_sorted_and_has_its_columns() -> None:
    gap = myopia_gap(*gap_inputs())
    assert list(gap.columns[:3]) == ["condition", "standard_condition", "regime"]
    assert list(gap.columns[-3:]) == ["loss_myopic", "loss_standard", "gap"]
    assert list(gap.index) == list(range(len(gap)))
    keys = list(zip(gap["condition"], gap["seed"], gap["step"], gap["t"], strict=True))
    assert keys == sorted(keys)


def test_myopia_gap_without_m4_is_empty_with_numeric_columns() -> None:
    """No run measured M4 (``measure.only``): the gap is an empty table whose numbers are still numbers."""
    _, runs = gap_inputs()
    gap = myopia_gap(pd.DataFrame({"step": []}), runs)
    assert gap.empty
    assert list(gap.columns[-3:]) == ["loss_myopic", "loss_standard", "gap"]
    assert gap["gap"].dtype == "float64" and gap["t"].dtype == "int64"


def test_myopia_gap_refuses_a_run_listed_twice() -> None:
    losses, runs = gap_inputs()
    for condition in ("sine-standard", "sine-myopic-state"):
        twice = pd.concat([runs, runs[runs["condition"] == condition].iloc[:1]], ignore_index=True)
        with pytest.raises(pd.errors.MergeError):
            myopia_gap(losses, twice)


def test_myopia_gap_refuses_two_standard_runs_for_one_myopic_run() -> None:
    losses, runs = gap_inputs()
    twin = runs[runs["condition"] == "sine-standard"].assign(condition="sine-standard-twin")
    losses = pd.concat([losses, losses[losses["condition"] == "sine-standard"].assign(condition="sine-standard-twin")])
    with pytest.raises(pd.errors.MergeError):
        myopia_gap(losses, pd.concat([runs, twin], ignore_index=True))


# M6: a probe row reads its own layer, masked positions only --------------------------------------------


class PlantedStreams(torch.nn.Module):
    """Residual streams from planted inputs (B, T, 3): h^0 noise, h^1 carries feature a, h^2 carries feature b."""

    def forward(self, inputs, regime=None, return_residuals=False):
        noise = torch.sin(37.0 * inputs[..., 2:3] + 3.0 * torch.arange(inputs.shape[1])[None, :, None])
        streams = [
            torch.cat([noise, torch.cos(11.0 * inputs[..., 2:3])], dim=-1),
            torch.cat([2.0 * inputs[..., 0:1] + 1.0, noise], dim=-1),
            torch.cat([noise, -3.0 * inputs[..., 1:2]], dim=-1),
        ]
        return None, streams


class PlantedProbeTask:
    def probe_features(self, batch: Batch) -> dict[str, ProbeTarget]:
        mask = batch.inputs[..., 2] > -0.5  # about 3/4 of the positions
        junk = 1000.0 * torch.rand(batch.inputs.shape[:2], generator=torch.Generator().manual_seed(9))
        # off the mask the values are junk: a probe fitted there could not reach R^2 near 1
        a = torch.where(mask, batch.inputs[..., 0], junk)
        b = torch.where(mask, batch.inputs[..., 1], junk)
        return {"a": ProbeTarget(mask, a[..., None]), "b": ProbeTarget(mask, b[..., None])}


def probe_splits() -> dict[str, Batch]:
    generator = torch.Generator().manual_seed(5)
    sizes = {"fit": 40, "select": 20, "score": 30}
    return {
        split: Batch(inputs=2 * torch.rand(n, 6, 3, generator=generator, dtype=torch.float64) - 1,
                     targets=torch.zeros(n, 6))
        for split, n in sizes.items()
    }


def test_probe_row_reads_the_layer_that_carries_the_feature() -> None:
    splits = probe_splits()
    table = probe_table(PlantedStreams(), PlantedProbeTask(), splits).set_index(["feature", "layer"])
    assert sorted(table.index) == [("a", 0), ("a", 1), ("a", 2), ("b", 0), ("b", 1), ("b", 2)]
    assert table.loc[("a", 1), "r2"] > 1 - 1e-6  # exact linear copy: R^2 = 1 up to the ridge shrinkage
    assert table.loc[("b", 2), "r2"] > 1 - 1e-6
    for key in [("a", 0), ("a", 2), ("b", 0), ("b", 1)]:
        assert table.loc[key, "r2"] < 0.5, key  # the other layers do not carry the feature
    masks = {split: int((batch.inputs[..., 2] > -0.5).sum()) for split, batch in splits.items()}
    assert (table["n_fit"] == masks["fit"]).all() and (table["n_score"] == masks["score"]).all()
    assert masks["fit"] != masks["score"]


def test_probe_on_an_exact_copy_chooses_the_smallest_penalty() -> None:
    table = probe_table(PlantedStreams(), PlantedProbeTask(), probe_splits()).set_index(["feature", "layer"])
    assert table.loc[("a", 1), "alpha"] == 1e-4


# M7 context channel: the shuffled loss is read at the copy's own position --------------------------------


def test_shuffled_context_loss_at_each_position_matches_one_forward_per_copy() -> None:
    model, task = tiny_model(), tiny_task()
    inputs, targets = tiny_batch(n=2)
    table = context_channel_table(model, inputs, targets, task.loss_per_position, torch.Generator().manual_seed(4))
    copies, position = shuffle_before(inputs, torch.Generator().manual_seed(4))  # the same permutations
    n, length = inputs.shape
    with torch.no_grad():
        for p in range(length):
            losses = []
            for i in range(n):
                row = i * length + p
                assert int(position[row]) == p
                prediction = model(copies[row : row + 1, : p + 1])[0]
                losses.append(float(task.loss_per_position(prediction[:, p : p + 1], targets[i : i + 1, p : p + 1])))
            assert table.loc[p, "loss_shuffled"] == pytest.approx(sum(losses) / n, rel=1e-9), p
            full = task.loss_per_position(model(inputs[:, : p + 1])[0][:, p : p + 1], targets[:, p : p + 1]).mean()
            assert table.loc[p, "loss_full"] == pytest.approx(float(full), rel=1e-9)
    assert table["t"].tolist() == list(range(length))
    # the shuffle changes the loss somewhere after position 1 (else the test above could not tell positions apart)
    assert not np.allclose(table["loss_shuffled"].iloc[2:], table["loss_full"].iloc[2:])


def test_shuffle_moves_every_feature_of_a_token_together() -> None:
    """Inputs with features (the sine task's are (N, T, 2)): a copy permutes whole tokens, never single features."""
    inputs = torch.arange(24).view(2, 6, 2)  # token (i, s) is (2 * (6 i + s), 2 * (6 i + s) + 1)
    copies, position = shuffle_before(inputs, torch.Generator().manual_seed(0))
    assert copies.shape == (12, 6, 2)
    for row in range(12):
        i, p = divmod(row, 6)
        assert int(position[row]) == p
        assert torch.equal(copies[row, p:], inputs[i, p:])
        assert torch.equal(copies[row, :, 1], copies[row, :, 0] + 1)
        assert sorted(copies[row, :p, 0].tolist()) == inputs[i, :p, 0].tolist()
    assert any(not torch.equal(copies[row], inputs[row // 6]) for row in range(12))  # something was shuffled


def test_context_channel_of_a_task_with_input_features_matches_one_forward_per_copy() -> None:
    """Sine inputs carry two features per token: the token alone and the shuffled copies keep both."""
    model, task = tiny_model(task_kind="sine"), tiny_task("sine")
    inputs, targets = tiny_batch("sine", n=2)
    table = context_channel_table(model, inputs, targets, task.loss_per_position, torch.Generator().manual_seed(4))
    copies, _ = shuffle_before(inputs, torch.Generator().manual_seed(4))
    n, length = targets.shape
    loss = task.loss_per_position
    with torch.no_grad():
        for p in range(length):
            alone = [float(loss(model(inputs[i : i + 1, p : p + 1])[0], targets[i : i + 1, p : p + 1])) for i in range(n)]
            shuffled = [
                float(loss(model(copies[i * length + p : i * length + p + 1, : p + 1])[0][:, p : p + 1], targets[i : i + 1, p : p + 1]))
                for i in range(n)
            ]
            assert table.loc[p, "loss_alone"] == pytest.approx(sum(alone) / n, rel=1e-9), p
            assert table.loc[p, "loss_shuffled"] == pytest.approx(sum(shuffled) / n, rel=1e-9), p


# runs table: each column holds its own field of the run record ------------------------------------------


def run_record(condition: str, seed: int, sha: str = "") -> dict:
    return {
        "run_id": f"{condition}/seed{seed}",
        "spec": {
            "condition": condition, "seed": seed, "task_label": "sine-s1",
            "task": {"name": "sine"},
            "model": {"pos_encoding": "rope", "n_layer": 3, "d_model": 16, "n_head": 4, "context": 32},
            "train": {"regime": "myopic-state", "steps": 500},
        },
        "parameters": 1234,
        "eval_loss": {"0": 2.5, "250": 1.5, "500": 1.0},
        "final_eval_loss": 0.75,
        "baseline_loss": 2.0,
        "optimal_loss": 0.5,
        "wall_time_s": 12.0,
        "task_description": {"version": 2, "corpus_sha256": sha} if sha else {"version": 2},
        "git_commit": "abc123",
        "device": "cpu",
    }


def test_runs_table_reads_each_field_from_its_place_in_the_record() -> None:
    records = [run_record("b-cond", 1), run_record("a-cond", 7, "d" * 64), run_record("b-cond", 0)]
    timings = [{"m1_s": 1.0, "m4_s": 2.5}, {"m1_s": 4.0}, {}]
    table = runs_table(records, timings)
    assert list(zip(table["condition"], table["seed"], strict=True)) == [("a-cond", 7), ("b-cond", 0), ("b-cond", 1)]
    row = table.iloc[2].to_dict()
    expected = {
        "condition": "b-cond", "seed": 1, "task": "sine-s1", "task_name": "sine", "task_distance": None, "pos_encoding": "rope",
        "regime": "myopic-state", "n_layer": 3, "d_model": 16, "n_head": 4, "context": 32, "steps": 500,
        "parameters": 1234, "init_eval_loss": 2.5, "final_eval_loss": 0.75, "baseline_loss": 2.0,
        "optimal_loss": 0.5, "train_wall_time_s": 12.0, "measure_wall_time_s": 3.5, "task_version": 2,
        "corpus_sha256": "", "git_commit": "abc123", "device": "cpu",
    }
    assert row == expected
    assert table.iloc[0]["measure_wall_time_s"] == 4.0 and table.iloc[1]["measure_wall_time_s"] == 0.0
    assert table.iloc[0]["corpus_sha256"] == "d" * 64
    assert list(table.index) == [0, 1, 2]


def test_runs_table_reads_the_lag_tasks_dependency_distance() -> None:
    lag = run_record("lag-cond", 2)
    lag["spec"]["task"] = {"name": "lag", "distance": 12}
    table = runs_table([lag, run_record("b-cond", 0)], [{}, {}])
    distance = table.set_index("condition")["task_distance"]
    assert distance["lag-cond"] == 12 and pd.isna(distance["b-cond"])


def test_runs_table_needs_one_timing_per_record() -> None:
    with pytest.raises(ValueError):
        runs_table([run_record("a", 0)], [])


def test_corpus_check_refuses_one_task_on_two_corpora_and_names_the_runs() -> None:
    check_same_corpus([run_record("a", 0, "f" * 64), run_record("a", 1, "f" * 64), run_record("a", 2)])
    other_task = run_record("c", 0, "e" * 64)
    other_task["spec"]["task_label"] = "text"
    check_same_corpus([run_record("a", 0, "f" * 64), other_task])  # two tasks, two corpora: fine
    with pytest.raises(CorpusMismatchError, match="sine-s1") as error:
        check_same_corpus([run_record("a", 0, "f" * 64), run_record("b", 1, "e" * 64)])
    assert "a/seed0" in str(error.value) and "b/seed1" in str(error.value)
    assert "eeeeeeeeeeee: b/seed1; ffffffffffff: a/seed0" in str(error.value)
    with pytest.raises(CorpusMismatchError) as error:
        check_same_corpus([run_record("a", 0, "f" * 64), run_record("b", 1, "e" * 64), run_record("a", 2, "e" * 64)])
    assert str(error.value) == (
        "runs of task 'sine-s1' were trained on different corpora (SHA-256 eeeeeeeeeeee: a/seed2, b/seed1; "
        "ffffffffffff: a/seed0); the corpus file (analysis/tasks/corpus/) differed between these runs, so delete "
        "the runs trained on the other corpus and rerun them"
    )
