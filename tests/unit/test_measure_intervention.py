"""M9 intervention and M1 separation against brute-force loops (one sequence, one source, one draw at a time), hand-worked rows, wiring."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import stats
from test_measure_dependency import random_dependencies, tiny_run_data
from tiny import tiny_batch, tiny_model, tiny_task

from analysis.measures import MEASURES, intervention
from analysis.measures.gradient_matrix import gradient_matrix
from analysis.measures.intervention import (
    INTERVENTION_COLUMNS,
    SEPARATION_COLUMNS,
    intervention_effect,
    intervention_table,
    ordering,
    rank_correlation,
    separation_table,
)
from analysis.tasks import Batch, build_task


@torch.no_grad()
def brute_force_effect(model, inputs, targets, loss_fn, replacements) -> torch.Tensor:
    """E[b, t, s] by plain loops: copy one sequence, replace one input by one draw, one forward each."""
    draws, n, length = replacements.shape[0], *targets.shape
    out = torch.zeros(n, length, length, dtype=torch.float64)
    for b in range(n):
        base = loss_fn(model(inputs[b : b + 1])[0], targets[b : b + 1])[0]
        for s in range(length):
            for r in range(draws):
                changed = inputs[b : b + 1].clone()
                changed[0, s] = replacements[r, b, s]
                losses = loss_fn(model(changed)[0], targets[b : b + 1])[0]
                for t in range(s, length):
                    out[b, t, s] += float(losses[t] - base[t]) / draws
    return out


@pytest.mark.parametrize("kind", ["markov", "sine"])
def test_effect_matches_a_brute_force_loop(kind: str, monkeypatch: pytest.MonkeyPatch) -> None:
    model, task = tiny_model(task_kind=kind), tiny_task(kind)
    inputs, targets = tiny_batch(kind, n=2)
    replacements = torch.stack([task.resample_inputs(2, 6, torch.Generator().manual_seed(r)) for r in range(2)])
    replacements = replacements.to(inputs.dtype)
    expected = brute_force_effect(model, inputs, targets, task.loss_per_position, replacements)
    monkeypatch.setattr(intervention, "MAX_SEQUENCES", 5)  # 2 sources per pass: the chunking is exercised
    got = intervention_effect(model, inputs, targets, task.loss_per_position, replacements)
    assert got.shape == (2, 6, 6)
    torch.testing.assert_close(got, expected, rtol=1e-9, atol=1e-12)
    assert (got.triu(1) == 0).all() and got.abs().amax() > 1e-3


def brute_force_ordering(values: torch.Tensor, dependencies: torch.Tensor) -> dict[tuple[int, int], tuple[float, float]]:
    """(b, t) -> (separated, auc) by Python loops over needed and unneeded earlier sources."""
    out = {}
    for b in range(values.shape[0]):
        for t in range(values.shape[1]):
            needed = [float(values[b, t, s]) for s in range(t) if dependencies[b, t, s]]
            other = [float(values[b, t, s]) for s in range(t) if not dependencies[b, t, s]]
            if needed and other:
                wins = [1.0 if a > c else 0.5 if a == c else 0.0 for a in needed for c in other]
                out[(b, t)] = (float(min(needed) > max(other)), sum(wins) / len(wins))
    return out


def test_ordering_matches_loops_with_ties() -> None:
    generator = torch.Generator().manual_seed(5)
    values = torch.randint(0, 4, (5, 7, 7), generator=generator).double()  # small integers: many ties
    dependencies = random_dependencies(5, 7)
    separated, auc = ordering(values, dependencies)
    expected = brute_force_ordering(values, dependencies)
    assert 0 < len(expected) < 35
    for b in range(5):
        for t in range(7):
            if (b, t) in expected:
                assert (separated[b, t].item(), auc[b, t].item()) == pytest.approx(expected[(b, t)], rel=1e-12)
            else:
                assert math.isnan(separated[b, t]) and math.isnan(auc[b, t])


def test_separation_hand_worked_rows() -> None:
    """T = 4, two sequences, one layer below the last: every number by hand."""
    matrix = torch.zeros(2, 2, 4, 4)
    matrix[0, 0, 3, :3] = torch.tensor([5.0, 1.0, 4.0])  # needed 0, 2 over 1: separated, auc 1
    matrix[1, 0, 3, :3] = torch.tensor([5.0, 4.0, 4.0])  # needed 0, 2 over 1: 5 > 4 wins, 4 = 4 ties: auc 3/4
    matrix[:, 0, 2, :2] = torch.tensor([1.0, 2.0])  # needed 0 below unneeded 1: auc 0
    matrix[:, 1] = 100.0  # the last layer is never read
    dependencies = torch.eye(4, dtype=torch.bool).repeat(2, 1, 1)
    dependencies[:, 3, 0] = dependencies[:, 3, 2] = dependencies[:, 2, 0] = True
    dependencies[1, 1, 0] = True  # row 1: its only earlier source is needed -> left out
    got = separation_table(matrix, dependencies)
    assert list(got.columns) == SEPARATION_COLUMNS
    assert got.values.tolist() == [[0, 2, 0.0, 0.0, 2], [0, 3, 0.5, 0.875, 2]]
    with pytest.raises(ValueError, match="do not match"):
        separation_table(matrix, dependencies[:, :3, :3])


def test_separation_of_a_model_matches_loops_over_its_gradients() -> None:
    model, task = tiny_model(n_layer=3), tiny_task()
    inputs, targets = tiny_batch(n=4)
    dependencies = random_dependencies(4, 6)
    matrix = gradient_matrix(model, inputs, targets, task.loss_per_position)
    got = separation_table(matrix, dependencies).set_index(["layer", "t"])
    assert set(got.index.get_level_values("layer")) == {0, 1, 2}
    for layer in range(3):
        expected = brute_force_ordering(matrix[:, layer], dependencies)
        for t in {key[1] for key in expected}:
            rows = [v for key, v in expected.items() if key[1] == t]
            assert got.loc[(layer, t), "n_sequences"] == len(rows)
            assert got.loc[(layer, t), "separated"] == pytest.approx(np.mean([r[0] for r in rows]))
            assert got.loc[(layer, t), "auc"] == pytest.approx(np.mean([r[1] for r in rows]))


def test_rank_correlation_is_scipy_spearman_per_row() -> None:
    generator = torch.Generator().manual_seed(2)
    gradient, effect = torch.rand(3, 6, 6, generator=generator), torch.rand(3, 6, 6, generator=generator)
    effect[0, 4, :4] = 1.0  # constant: undefined
    qualifying = torch.ones(3, 6, dtype=torch.bool)
    qualifying[1, 5] = False
    got = rank_correlation(gradient, effect, qualifying)
    for b in range(3):
        for t in range(6):
            if t < 2 or (b, t) in {(0, 4), (1, 5)}:
                assert math.isnan(got[b, t])
            else:
                expected = stats.spearmanr(gradient[b, t, :t].numpy(), effect[b, t, :t].numpy()).statistic
                assert got[b, t].item() == pytest.approx(expected, rel=1e-12)


def test_intervention_table_by_hand() -> None:
    """T = 3, two sequences; row 2 qualifies in both (needed 0, unneeded 1), row 1 in neither."""
    gradient = torch.zeros(2, 3, 3, dtype=torch.float64)
    effect = torch.zeros(2, 3, 3, dtype=torch.float64)
    gradient[0, 2, :2], effect[0, 2, :2] = torch.tensor([3.0, 1.0]), torch.tensor([0.5, -0.25])
    gradient[1, 2, :2], effect[1, 2, :2] = torch.tensor([1.0, 2.0]), torch.tensor([0.25, 0.25])
    gradient[:, 1, 0], effect[:, 1, 0] = 9.0, 9.0  # not qualifying: never read
    dependencies = torch.eye(3, dtype=torch.bool).repeat(2, 1, 1)
    dependencies[:, 2, 0] = dependencies[:, 1, 0] = True
    got = intervention_table(gradient, effect, dependencies)
    assert list(got.columns) == INTERVENTION_COLUMNS
    row = got.iloc[0].to_dict()
    assert len(got) == 1 and row == pytest.approx({
        "t": 2, "n_sequences": 2, "grad_needed": 4.0, "grad_total": 7.0, "effect_needed": 0.75, "effect_total": 0.75,
        "effect_auc": 0.75,  # sequence 0: 0.5 > -0.25 (1); sequence 1: a tie (1/2)
        "rank_correlation": 1.0})  # sequence 0: both rank s = 0 first (+1); sequence 1: effect tied (undefined, left out)


def test_every_task_resamples_inputs_like_its_own_sequences() -> None:
    """Shape and type of the draws equal the inputs'; recall keeps keys at even and values at odd positions."""
    configs = [{"name": "sine"}, {"name": "markov"}, {"name": "lag"}, {"name": "recall", "n_keys": 4, "n_values": 8},
               {"name": "text"}]
    for config in configs:
        task = build_task(config).held_out()
        draws = task.resample_inputs(5, 8, torch.Generator().manual_seed(0))
        inputs = task.sample(5, 8, torch.Generator().manual_seed(1)).inputs
        assert draws.shape == inputs.shape and draws.dtype == inputs.dtype, config
    recall = build_task(configs[3]).resample_inputs(64, 8, torch.Generator().manual_seed(0))
    assert (recall[:, ::2] < 4).all() and (recall[:, 1::2] >= 4).all()


def test_the_registered_measures_read_the_checkpoints_m1_and_the_run_stream() -> None:
    class Recall:
        def __init__(self) -> None:
            self.inner = tiny_task()

        def __getattr__(self, name: str):
            return getattr(self.inner, name)

        def dependencies(self, batch: Batch) -> torch.Tensor:
            return random_dependencies(batch.targets.shape[0], batch.targets.shape[1])

    model, data = tiny_model(), tiny_run_data(Recall())
    data.spec.train["regime"] = "standard"  # the stand-in spec names no regime; a validated config always does
    for name in ("m1_separation", "m9_intervention"):
        assert MEASURES.get(name).applies(data) and MEASURES.get(name).ends_only
    myopic = tiny_run_data(Recall())
    myopic.spec.train["regime"] = "myopic-state"
    assert MEASURES.get("m1_separation").applies(myopic) and not MEASURES.get("m9_intervention").applies(myopic)
    separation = MEASURES.get("m1_separation").compute(model, data)
    assert separation.equals(separation_table(data.gradient_matrix(model), data.dependencies))
    got = MEASURES.get("m9_intervention").compute(model, data)
    replacements = intervention.replacement_inputs(data)
    assert replacements.shape == (intervention.DRAWS, 3, 6)
    batch = data.gradient_batch
    effect = intervention_effect(model, batch.inputs, batch.targets, tiny_task().loss_per_position, replacements)
    assert got.equals(intervention_table(data.gradient_matrix(model)[:, 0], effect, data.dependencies))
    assert (got["n_sequences"] > 0).all() and not got.empty


@pytest.mark.parametrize("K", [2, 5])
def test_sine_rows_that_qualify_are_those_with_z_set_and_an_unneeded_earlier_source(K: int) -> None:
    """Generic in K: row t has its K lagged sources needed when z_t = 1, and an unneeded one only when t > K."""
    task = build_task({"name": "sine", "shift": 1, "K": K})
    batch = task.sample(16, 10, torch.Generator().manual_seed(0))
    needed, unneeded, qualifying = intervention.source_sets(task.dependencies(batch))
    z = batch.inputs[..., 1].bool()
    assert torch.equal(qualifying, z & (torch.arange(10) > K))
    assert torch.equal(needed.sum(-1)[qualifying], torch.full((int(qualifying.sum()),), K))


def test_recall_rows_that_qualify_are_repeated_keys() -> None:
    """A key seen before needs every earlier (key, value) pair of it: two sources per earlier occurrence; the row
    qualifies when some earlier source is not one of them (not at t = 2 after the same key twice, say)."""
    task = build_task({"name": "recall", "n_keys": 4, "n_values": 8})
    batch = task.sample(16, 12, torch.Generator().manual_seed(0))
    needed, _, qualifying = intervention.source_sets(task.dependencies(batch))
    tokens = batch.inputs
    for b in range(16):
        for t in range(12):
            earlier = [s for s in range(t) if int(tokens[b, s]) == int(tokens[b, t]) and int(tokens[b, t]) < 4]
            assert bool(qualifying[b, t]) == (0 < 2 * len(earlier) < t)
            assert int(needed[b, t].sum()) == 2 * len(earlier)
