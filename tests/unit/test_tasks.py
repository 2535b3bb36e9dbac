"""Tasks generate what their definitions say, deterministically."""
from __future__ import annotations

import math

import pytest
import torch

from analysis.tasks import TASKS, build_task
from analysis.tasks.base import Batch


def test_sine_targets_follow_the_definition() -> None:
    task = build_task({"name": "sine", "shift": 1, "K": 3, "freq": 2.0, "p": 0.5})
    batch = task.sample(5, 12, torch.Generator().manual_seed(0))
    x, z = batch.inputs[..., 0], batch.inputs[..., 1]
    for b in range(5):
        for n in range(12):
            lagged = sum(math.sin(2.0 * float(x[b, n - i])) for i in range(1, 4) if n - i >= 0)
            expected = lagged if z[b, n] == 1 else float(x[b, n])
            assert float(batch.targets[b, n]) == pytest.approx(expected, abs=1e-5)


def test_sine_shift_zero_includes_the_current_position() -> None:
    task = build_task({"name": "sine", "shift": 0, "K": 1, "freq": 1.0, "p": 1.0})
    batch = task.sample(2, 4, torch.Generator().manual_seed(0))
    torch.testing.assert_close(batch.targets, torch.sin(batch.inputs[..., 0]))


def test_markov_samples_follow_the_chain() -> None:
    task = build_task({"name": "markov", "vocab": 4, "order": 1, "alpha": 1.0})
    batch = task.sample(4000, 16, torch.Generator().manual_seed(0))
    tokens = torch.cat([batch.inputs, batch.targets[:, -1:]], dim=1)
    counts = torch.zeros(4, 4).index_put_((tokens[:, :-1].flatten(), tokens[:, 1:].flatten()), torch.ones(4000 * 16), accumulate=True)
    empirical = counts / counts.sum(-1, keepdim=True)
    torch.testing.assert_close(empirical, task.transitions, atol=0.02, rtol=0)
    torch.testing.assert_close(torch.bincount(tokens.flatten(), minlength=4) / tokens.numel(), task.unigram, atol=0.01, rtol=0)
    torch.testing.assert_close(batch.targets[:, :-1], batch.inputs[:, 1:])  # next-token targets


@pytest.mark.parametrize("name", TASKS.names())
def test_sampling_is_deterministic_in_the_generator(name: str) -> None:
    task = build_task({"name": name})
    a = task.sample(3, 8, torch.Generator().manual_seed(7))
    b = task.sample(3, 8, torch.Generator().manual_seed(7))
    assert torch.equal(a.inputs, b.inputs) and torch.equal(a.targets, b.targets)


@pytest.mark.parametrize("name", TASKS.names())
def test_baseline_is_finite_and_above_the_optimum(name: str) -> None:
    task = build_task({"name": name})
    baseline = task.baseline_loss(16)
    assert math.isfinite(baseline) and baseline > 0
    optimum = task.optimal_loss(16)
    if optimum is not None:
        assert optimum < baseline


def test_markov_stationary_distribution_is_a_normalised_fixed_point_of_the_sampled_chain() -> None:
    """The stationary law is that of the chain ``_walk`` samples (float32 CDF, last entry 1), summing to 1."""
    task = build_task({"name": "markov", "vocab": 16, "order": 2, "alpha": 0.3})
    probs, pi = task.sampled_transitions, task.stationary.double()
    torch.testing.assert_close(probs.sum(-1), torch.ones(probs.shape[0], dtype=torch.float64), rtol=0, atol=1e-12)
    assert abs(float(pi.sum()) - 1.0) < 2e-8  # float32 round-off of 256 entries; the unnormalised iteration was off by 3e-7
    states = task.vocab**task.order
    successor = (torch.arange(states)[:, None] * task.vocab) % states + torch.arange(task.vocab)
    moved = torch.zeros(states, dtype=torch.float64).index_add_(0, successor.flatten(), (pi[:, None] * probs).flatten())
    torch.testing.assert_close(moved, pi, rtol=1e-6, atol=1e-9)


def matrix(rows: list[str]) -> torch.Tensor:
    """A (T, T) bool matrix from strings of 0/1, one per target row t (columns are sources s)."""
    return torch.tensor([[c == "1" for c in row] for row in rows])


def test_dependencies_default_to_unknown() -> None:
    batch = build_task({"name": "text", "max_bytes": 1000}).sample(2, 5, torch.Generator().manual_seed(0))
    assert build_task({"name": "text", "max_bytes": 1000}).dependencies(batch) is None


def test_markov_dependencies_are_the_last_order_tokens_clipped_at_the_start() -> None:
    task = build_task({"name": "markov", "vocab": 4, "order": 3})
    batch = task.sample(2, 6, torch.Generator().manual_seed(0))
    expected = matrix(["100000", "110000", "111000", "011100", "001110", "000111"])
    deps = task.dependencies(batch)
    assert deps.dtype == torch.bool and deps.shape == (2, 6, 6)
    assert torch.equal(deps[0], expected) and torch.equal(deps[1], expected)
    first_order = build_task({"name": "markov", "vocab": 4, "order": 1}).dependencies(batch)
    assert torch.equal(first_order[0], torch.eye(6, dtype=torch.bool))


def test_sine_dependencies_hand_built() -> None:
    """Shift 1, K 2: rows with z = 1 need t-2 and t-1 (clipped) and t; rows with z = 0 only t."""
    x = torch.zeros(1, 5)
    z = torch.tensor([[1.0, 1.0, 0.0, 1.0, 1.0]])
    inputs = torch.stack([x, z], dim=-1)
    shift1 = build_task({"name": "sine", "shift": 1, "K": 2}).dependencies(Batch(inputs, torch.zeros(1, 5)))
    assert torch.equal(shift1[0], matrix(["10000", "11000", "00100", "01110", "00111"]))
    shift0 = build_task({"name": "sine", "shift": 0, "K": 2}).dependencies(Batch(inputs, torch.zeros(1, 5)))
    assert torch.equal(shift0[0], matrix(["10000", "11000", "00100", "00110", "00011"]))


@pytest.mark.parametrize("shift", [0, 1])
def test_sine_dependencies_match_brute_force_perturbation(shift: int) -> None:
    """A source is a dependency iff changing its x or z changes the target (targets from the definition, by loops)."""
    K, freq = 3, 2.0

    def target(x: list[float], z: list[float], t: int) -> float:
        lagged = sum(math.sin(freq * x[t - i]) for i in range(shift, shift + K) if t - i >= 0)
        return z[t] * lagged + (1 - z[t]) * x[t]

    task = build_task({"name": "sine", "shift": shift, "K": K, "freq": freq, "p": 0.5})
    batch = task.sample(3, 9, torch.Generator().manual_seed(4))
    deps = task.dependencies(batch)
    for b in range(3):
        x, z = batch.inputs[b, :, 0].tolist(), batch.inputs[b, :, 1].tolist()
        for t in range(9):
            for s in range(9):
                moved_x = [v + 0.7 if i == s else v for i, v in enumerate(x)]
                moved_z = [1 - v if i == s else v for i, v in enumerate(z)]
                changes = target(moved_x, z, t) != target(x, z, t) or target(x, moved_z, t) != target(x, z, t)
                assert bool(deps[b, t, s]) == changes, (b, t, s)


def test_recall_dependencies_hand_built() -> None:
    """Keys 0-2, values 3-5. Row t = 4 repeats key 0 (pair at 0, 1); t = 6 repeats key 0 again; t = 8 repeats key 1."""
    tokens = torch.tensor([[0, 3, 1, 4, 0, 3, 0, 3, 1, 4]])
    deps = build_task({"name": "recall", "n_keys": 3, "n_values": 3}).dependencies(Batch(tokens, tokens))
    expected = matrix([
        "1000000000",  # key 0, first time: nothing in context helps
        "0100000000",  # value: a fresh key comes next
        "0010000000",  # key 1, first time
        "0001000000",
        "1100100000",  # key 0 again: the pair (0, 1)
        "0000010000",
        "1100111000",  # key 0 a third time: both earlier pairs
        "0000000100",
        "0011000010",  # key 1 again: the pair (2, 3)
        "0000000001",
    ])
    assert torch.equal(deps[0], expected)


@pytest.mark.parametrize("name", ["markov", "recall", "sine", "lag"])
def test_dependencies_are_causal_bool_and_include_a_source_in_every_row(name: str) -> None:
    task = build_task({"name": name})
    batch = task.sample(4, 12, torch.Generator().manual_seed(5))
    deps = task.dependencies(batch)
    assert deps.dtype == torch.bool and deps.shape == (4, 12, 12)
    assert not deps.triu(1).any() and deps.any(-1).all()


def test_sine_loss_is_huber_and_batches_under_vmap() -> None:
    """M7 evaluates weight steps under torch.func.vmap; the fused huber_loss kernel mis-broadcast there."""
    from analysis.tasks import build_task

    task = build_task({"name": "sine"})
    prediction = torch.randn(5, 4, 8, 1, dtype=torch.float64) * 3
    targets = torch.randn(4, 8, dtype=torch.float64)
    expected = torch.stack([torch.nn.functional.huber_loss(p.squeeze(-1), targets, reduction="none") for p in prediction])
    assert torch.equal(torch.func.vmap(lambda p: task.loss_per_position(p, targets))(prediction), expected)


def test_the_token_tasks_share_one_base_with_one_impossible_logit() -> None:
    """markov, lag, recall and text read and write the same token ids and score them by cross-entropy (TokenTask)."""
    from analysis.tasks import base, lag, recall

    token_tasks = sorted(name for name in TASKS.names() if issubclass(TASKS.get(name), base.TokenTask))
    assert token_tasks == ["lag", "markov", "recall", "text"]
    for name in token_tasks:
        task = build_task({"name": name})
        assert task.input_spec == task.output_spec == base.IOSpec("tokens", task.vocab)
    assert lag.IMPOSSIBLE_LOGIT is recall.IMPOSSIBLE_LOGIT is base.IMPOSSIBLE_LOGIT
