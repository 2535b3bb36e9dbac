"""The known-distance task: targets are pi(x_{t-d}), its reference losses are the hand-computed ones."""
from __future__ import annotations

import math

import pytest
import torch

from analysis.config import _check_task
from analysis.tasks import TASKS, build_task
from analysis.tasks.base import Batch


def lag(**params: int):
    return build_task({"name": "lag", **params})


def test_registered_with_token_specs_and_versioned() -> None:
    task = lag(vocab=7, distance=3, map_seed=9)
    assert "lag" in TASKS.names() and task.version == 1
    assert task.input_spec.kind == task.output_spec.kind == "tokens"
    assert task.input_spec.size == task.output_spec.size == 7 and task.max_context is None
    description = task.describe()
    assert {k: description[k] for k in ("name", "vocab", "distance", "map_seed")} == {
        "name": "lag", "vocab": 7, "distance": 3, "map_seed": 9,
    }
    assert description["permutation"] == task.permutation.tolist()


def test_sampling_is_deterministic_in_the_generator() -> None:
    task = lag(vocab=16, distance=4)
    a = task.sample(5, 20, torch.Generator().manual_seed(3))
    b = task.sample(5, 20, torch.Generator().manual_seed(3))
    c = task.sample(5, 20, torch.Generator().manual_seed(4))
    assert torch.equal(a.inputs, b.inputs) and torch.equal(a.targets, b.targets)
    assert not torch.equal(a.inputs, c.inputs)
    assert a.inputs.dtype == a.targets.dtype == torch.long and a.inputs.shape == a.targets.shape == (5, 20)


@pytest.mark.parametrize(("vocab", "distance", "context"), [(16, 4, 20), (5, 1, 6), (3, 7, 8)])
def test_targets_are_the_permuted_token_d_back_by_loops(vocab: int, distance: int, context: int) -> None:
    task = lag(vocab=vocab, distance=distance, map_seed=11)
    batch = task.sample(6, context, torch.Generator().manual_seed(0))
    pi = task.permutation.tolist()
    for b in range(6):
        x = batch.inputs[b].tolist()
        expected = [pi[x[t - distance]] if t >= distance else pi[x[t]] for t in range(context)]
        assert batch.targets[b].tolist() == expected


def test_the_map_is_a_permutation_fixed_by_map_seed_alone() -> None:
    task = lag(vocab=32, distance=2, map_seed=5)
    pi = task.permutation
    assert sorted(pi.tolist()) == list(range(32))
    torch.manual_seed(123)  # the global stream must not matter
    assert torch.equal(lag(vocab=32, distance=2, map_seed=5).permutation, pi)
    assert not torch.equal(lag(vocab=32, distance=2, map_seed=6).permutation, pi)
    # every training seed sees the same map: read it back from the data of two generators
    for seed in (0, 1):
        batch = task.sample(200, 10, torch.Generator().manual_seed(seed))
        recovered = torch.full((32,), -1).index_put_((batch.inputs[:, :-2].flatten(),), batch.targets[:, 2:].flatten())
        assert torch.equal(recovered, pi)


def test_inputs_are_uniform_and_a_target_from_position_d_on_is_independent_of_the_own_token() -> None:
    """Why the context-free predictor is uniform there: P(target | x_t) is flat (empirically, 4 sigma)."""
    task = lag(vocab=4, distance=3)
    batch = task.sample(20_000, 8, torch.Generator().manual_seed(2))
    x, y = batch.inputs[:, 3:].flatten(), batch.targets[:, 3:].flatten()
    counts = torch.zeros(4, 4).index_put_((x, y), torch.ones(len(x)), accumulate=True)
    conditional = counts / counts.sum(-1, keepdim=True)
    assert float((conditional - 0.25).abs().max()) < 4 * math.sqrt(0.25 * 0.75 / (len(x) / 4))
    assert float((torch.bincount(batch.inputs.flatten(), minlength=4) / batch.inputs.numel() - 0.25).abs().max()) < 0.01


def test_baseline_and_optimal_losses_are_the_hand_computed_ones() -> None:
    """vocab 16, d = 4, T = 16: the first 4 rows cost 0, the other 12 cost log 16; mean 12/16 * log 16."""
    task = lag(vocab=16, distance=4)
    assert task.baseline_loss(16) == pytest.approx(0.75 * math.log(16), rel=1e-12)
    assert task.baseline_loss(5) == pytest.approx(0.2 * math.log(16), rel=1e-12)
    assert task.optimal_loss(16) == 0.0
    batch = task.sample(64, 16, torch.Generator().manual_seed(1))
    losses = task.loss_per_position(task.context_free_prediction(batch), batch.targets)
    assert losses.shape == (64, 16) and torch.isfinite(losses).all()
    torch.testing.assert_close(losses[:, :4], torch.zeros(64, 4), rtol=0, atol=1e-6)
    torch.testing.assert_close(losses[:, 4:], torch.full((64, 12), math.log(16)), rtol=1e-6, atol=1e-6)
    sampled = super(type(task), task).baseline_loss(16)  # the generic estimate on the fixed held-out sample
    assert sampled == pytest.approx(0.75 * math.log(16), rel=1e-6)


def test_an_oracle_that_reads_position_t_minus_d_reaches_the_optimum() -> None:
    task = lag(vocab=6, distance=2)
    batch = task.sample(10, 9, torch.Generator().manual_seed(0))
    pi = task.permutation.tolist()
    logits = torch.full((10, 9, 6), -30.0)
    for b in range(10):
        for t in range(9):
            logits[b, t, pi[int(batch.inputs[b, t - 2 if t >= 2 else t])]] = 30.0
    losses = task.loss_per_position(logits, batch.targets)
    assert float(losses.max()) < 1e-20 and task.optimal_loss(9) == 0.0


def test_dependencies_hand_built() -> None:
    """d = 2, T = 5: rows 0 and 1 need their own token; row t >= 2 needs exactly t - 2."""
    tokens = torch.tensor([[3, 1, 4, 1, 5], [2, 7, 1, 8, 2]])
    deps = lag(vocab=10, distance=2).dependencies(Batch(tokens, tokens))
    expected = torch.tensor([
        [1, 0, 0, 0, 0],
        [0, 1, 0, 0, 0],
        [1, 0, 0, 0, 0],
        [0, 1, 0, 0, 0],
        [0, 0, 1, 0, 0],
    ], dtype=torch.bool)
    assert deps.dtype == torch.bool and deps.shape == (2, 5, 5)
    assert torch.equal(deps[0], expected) and torch.equal(deps[1], expected)


def test_dependencies_match_brute_force_perturbation() -> None:
    """Source s is a dependency of target t iff changing x_s changes target t (targets recomputed by loops)."""
    task = lag(vocab=5, distance=3)
    batch = task.sample(2, 8, torch.Generator().manual_seed(6))
    pi = task.permutation.tolist()

    def targets(x: list[int]) -> list[int]:
        return [pi[x[t - 3]] if t >= 3 else pi[x[t]] for t in range(len(x))]

    deps = task.dependencies(batch)
    for b in range(2):
        x = batch.inputs[b].tolist()
        for s in range(8):
            moved = targets([(v + 1) % 5 if i == s else v for i, v in enumerate(x)])
            changed = [moved[t] != targets(x)[t] for t in range(8)]
            assert deps[b, :, s].tolist() == changed


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"vocab": 1}, "vocab must be >= 2"),
        ({"distance": 0}, "distance must be >= 1"),
        ({"map_seed": -1}, "map_seed must be >= 0"),
        ({"distance": 2.0}, "distance must be an integer"),
        ({"vocab": True}, "vocab must be an integer"),
    ],
)
def test_rejects_bad_parameters(params: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        lag(**params)


def test_rejects_a_context_no_longer_than_the_distance() -> None:
    task = lag(distance=4)
    with pytest.raises(ValueError, match="context must exceed distance"):
        task.sample(1, 4, torch.Generator().manual_seed(0))
    assert task.sample(1, 5, torch.Generator().manual_seed(0)).inputs.shape == (1, 5)


def test_config_entries_are_checked() -> None:
    assert _check_task("lag-d4", {"name": "lag", "vocab": 16, "distance": 4, "map_seed": 1}) == []
    problems = _check_task("lag-d0", {"name": "lag", "distance": 0})
    assert len(problems) == 1 and problems[0].startswith("tasks.lag-d0:") and "distance must be >= 1" in problems[0]
