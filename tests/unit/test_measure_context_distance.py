"""M7 context distance against a per-position loop: each prediction fed its window, each shuffled copy on its own."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from tiny import tiny_batch, tiny_model, tiny_task

from analysis.measures.context_distance import context_distance_table, context_distances, shuffle_beyond


def _loss_at_last(model, task, inputs, targets) -> float:
    """Loss of the last position of one sequence (batch of 1), as the model sees exactly these inputs."""
    with torch.no_grad():
        return float(task.loss_per_position(model(inputs[None])[0], targets[None])[0, -1])


def test_distances_are_zero_powers_of_two_and_the_context() -> None:
    assert context_distances(32) == (0, 1, 2, 4, 8, 16, 32)
    assert context_distances(6) == (0, 1, 2, 4, 6)
    assert context_distances(1) == (0, 1)


@pytest.mark.parametrize("kind", ["markov", "sine"])
def test_truncated_and_shuffled_losses_match_a_loop_over_positions(kind: str) -> None:
    model, task = tiny_model(task_kind=kind), tiny_task(kind)
    inputs, targets = tiny_batch(kind, n=3)
    n, length = targets.shape
    table = context_distance_table(model, inputs, targets, task.loss_per_position, torch.Generator().manual_seed(5))
    assert sorted(set(table["D"])) == [0, 1, 2, 4, 6]
    replay = torch.Generator().manual_seed(5)  # the table draws one permutation set per D, in order
    for distance in (0, 1, 2, 4, 6):
        copies = shuffle_beyond(inputs, distance, replay).view(n, length, *inputs.shape[1:])
        rows = table[table["D"] == distance].set_index("t")
        for t in range(length):
            start = max(0, t - distance)
            full = sum(_loss_at_last(model, task, inputs[i, : t + 1], targets[i, : t + 1]) for i in range(n)) / n
            window = sum(_loss_at_last(model, task, inputs[i, start : t + 1], targets[i, start : t + 1]) for i in range(n)) / n
            shuffled = sum(_loss_at_last(model, task, copies[i, t, : t + 1], targets[i, : t + 1]) for i in range(n)) / n
            assert rows.loc[t, "loss_full"] == pytest.approx(full, rel=1e-9)
            assert rows.loc[t, "loss_truncated"] == pytest.approx(window, rel=1e-9)
            assert rows.loc[t, "loss_shuffled"] == pytest.approx(shuffled, rel=1e-9)


def test_shuffle_permutes_exactly_the_sources_beyond_the_distance() -> None:
    inputs = torch.arange(2 * 9).view(2, 9)
    for distance in (0, 1, 3):
        copies = shuffle_beyond(inputs, distance, torch.Generator().manual_seed(0)).view(2, 9, 9)
        moved = 0
        for i in range(2):
            for t in range(9):
                cut = max(0, t - distance)
                assert torch.equal(copies[i, t, cut:], inputs[i, cut:])
                assert sorted(copies[i, t, :cut].tolist()) == inputs[i, :cut].tolist()
                moved += int(not torch.equal(copies[i, t, :cut], inputs[i, :cut]))
        assert moved > 0  # the permutation is not the identity everywhere


def test_nothing_beyond_the_distance_leaves_the_full_loss() -> None:
    model, task = tiny_model(), tiny_task()
    inputs, targets = tiny_batch(n=2)
    table = context_distance_table(model, inputs, targets, task.loss_per_position, torch.Generator().manual_seed(0))
    unchanged = table[table["t"] <= table["D"] + 1]  # t <= D: nothing beyond; t = D + 1: one source, no order to lose
    assert (unchanged["loss_shuffled"] == unchanged["loss_full"]).all()
    assert (table.loc[table["t"] <= table["D"], "loss_truncated"] == table.loc[table["t"] <= table["D"], "loss_full"]).all()
    alone = table[(table["D"] == 0) & (table["t"] > 0)]
    assert (alone["loss_truncated"] != alone["loss_full"]).all()  # the token alone differs from the token in context


def test_no_distances_give_an_empty_table_with_the_columns() -> None:
    model, task = tiny_model(), tiny_task()
    inputs, targets = tiny_batch(n=1)
    table = context_distance_table(model, inputs, targets, task.loss_per_position, torch.Generator(), distances=())
    assert table.empty and list(table.columns) == ["D", "t", "loss_full", "loss_truncated", "loss_shuffled"]


def test_shuffling_on_the_first_sequences_stays_paired_with_their_full_loss() -> None:
    """shuffle_sequences = k: truncated and full over all sequences; shuffled minus full is the mean over the first k
    of each sequence's own difference (the same permutations as a table of those k alone)."""
    model, task = tiny_model(), tiny_task()
    inputs, targets = tiny_batch(n=5)
    table = context_distance_table(model, inputs, targets, task.loss_per_position, torch.Generator().manual_seed(3),
                                   shuffle_sequences=2)
    every = context_distance_table(model, inputs, targets, task.loss_per_position, torch.Generator().manual_seed(3))
    first = context_distance_table(model, inputs[:2], targets[:2], task.loss_per_position, torch.Generator().manual_seed(3))
    assert np.allclose(table["loss_full"], every["loss_full"]) and np.allclose(table["loss_truncated"], every["loss_truncated"])
    shuffled_cost = table["loss_shuffled"] - table["loss_full"]
    assert np.allclose(shuffled_cost, first["loss_shuffled"] - first["loss_full"], atol=1e-6)
    assert not np.allclose(shuffled_cost, every["loss_shuffled"] - every["loss_full"], atol=1e-6)  # the subset is read
    more = context_distance_table(model, inputs, targets, task.loss_per_position, torch.Generator().manual_seed(3),
                                  shuffle_sequences=99)  # more than there are: every sequence
    assert np.allclose(more["loss_shuffled"], every["loss_shuffled"])


def test_the_measure_reads_its_own_sequences_at_the_final_checkpoint_only() -> None:
    from analysis.measures import MEASURES

    measure = MEASURES.get("m7_context_distance")
    assert measure.final_only and not measure.ends_only
