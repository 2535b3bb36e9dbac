"""M1 dependency share against a brute-force per-sequence autograd loop, hand-worked rows, and its run-level wiring."""
from __future__ import annotations

import pytest
import torch
from tiny import tiny_batch, tiny_model, tiny_task

from analysis.measures import MEASURES
from analysis.measures import data as measures_data
from analysis.measures.data import RunData
from analysis.measures.dependency import COLUMNS, dependency_share
from analysis.measures.gradient_matrix import gradient_matrix
from analysis.regimes import REGIMES
from analysis.spec import RunSpec
from analysis.tasks import Batch, build_task


def lag_dependencies(n: int, length: int, lag: int) -> torch.Tensor:
    """A known-distance task's mask: the target at t needs inputs t and t - lag."""
    eye = torch.eye(length, dtype=torch.bool)
    return (eye | torch.ones(length, length, dtype=torch.bool).tril(-lag).triu(-lag)).expand(n, length, length).clone()


def random_dependencies(n: int, length: int, seed: int = 3) -> torch.Tensor:
    """A recall-like mask that differs by sequence, including rows with no needed or no unneeded source."""
    generator = torch.Generator().manual_seed(seed)
    mask = torch.rand(n, length, length, generator=generator) < 0.4
    return (mask & torch.ones(length, length, dtype=torch.bool).tril()) | torch.eye(length, dtype=torch.bool)


def brute_force_share(model, inputs, targets, loss_fn, dependencies) -> dict[tuple[int, int], tuple[float, float, int]]:
    """One sequence, one target, one backward at a time; the share summed in plain Python loops."""
    collected: dict[tuple[int, int], list[tuple[float, float]]] = {}
    for i in range(inputs.shape[0]):
        prediction, residuals = model(inputs[i : i + 1], return_residuals=True)
        losses = loss_fn(prediction, targets[i : i + 1])[0]
        length = losses.shape[0]
        for t in range(length):
            grads = torch.autograd.grad(losses[t], residuals, retain_graph=True)
            for layer, grad in enumerate(grads[:-1]):
                norms = [float(grad[0, s].norm()) for s in range(t)]
                needed = [bool(dependencies[i, t, s]) for s in range(t)]
                if not any(needed) or all(needed) or sum(norms) == 0:
                    continue
                share = sum(g for g, d in zip(norms, needed, strict=True) if d) / sum(norms)
                collected.setdefault((layer, t), []).append((share, sum(needed) / t))
    return {
        key: (sum(s for s, _ in rows) / len(rows), sum(u for _, u in rows) / len(rows), len(rows))
        for key, rows in collected.items()
    }


@pytest.mark.parametrize("pos_encoding", ["learned", "rope"])
def test_matches_a_brute_force_per_sequence_autograd_loop(pos_encoding: str) -> None:
    model, task = tiny_model(pos_encoding, n_layer=3), tiny_task()
    inputs, targets = tiny_batch(n=4)
    dependencies = random_dependencies(4, 6)
    expected = brute_force_share(model, inputs, targets, task.loss_per_position, dependencies)
    got = dependency_share(gradient_matrix(model, inputs, targets, task.loss_per_position), dependencies)
    assert list(got.columns) == COLUMNS
    assert {(int(r.layer), int(r.t)) for r in got.itertuples()} == set(expected)
    assert set(got["layer"]) == {0, 1, 2}  # every layer below the last, never the last
    assert (got["n_sequences"] < 4).any()  # the mask leaves some sequences out of some rows
    for row in got.itertuples():
        share, uniform, n = expected[(int(row.layer), int(row.t))]
        assert row.share == pytest.approx(share, rel=1e-9)
        assert row.uniform == pytest.approx(uniform, rel=1e-12)
        assert row.n_sequences == n


def test_hand_worked_rows() -> None:
    """Two sequences, T = 4, one layer below the last; every number worked by hand."""
    matrix = torch.zeros(2, 2, 4, 4)
    matrix[0, 0, 2, :3] = torch.tensor([1.0, 3.0, 9.0])  # needed: s = 0 -> share 1/4, uniform 1/2
    matrix[1, 0, 2, :3] = torch.tensor([2.0, 2.0, 9.0])  # needed: s = 0 -> share 1/2, uniform 1/2
    matrix[0, 0, 3, :4] = torch.tensor([1.0, 1.0, 2.0, 7.0])  # needed: s = 0, 1 -> share 1/2, uniform 2/3
    matrix[1, 0, 3, :4] = torch.tensor([5.0, 5.0, 5.0, 7.0])  # every earlier s needed -> left out
    matrix[:, 1] = 100.0  # the last layer is never read
    dependencies = torch.eye(4, dtype=torch.bool).repeat(2, 1, 1)
    dependencies[:, 2, 0] = True
    dependencies[0, 3, :2] = True
    dependencies[1, 3, :3] = True
    dependencies[:, 1, 0] = True  # row t = 1: its only earlier source is needed -> left out
    got = dependency_share(matrix, dependencies).set_index(["layer", "t"])
    assert list(got.index) == [(0, 2), (0, 3)]
    assert got.loc[(0, 2), "share"] == pytest.approx((1 / 4 + 1 / 2) / 2)
    assert got.loc[(0, 2), "uniform"] == pytest.approx(1 / 2)
    assert got.loc[(0, 2), "n_sequences"] == 2
    assert got.loc[(0, 3), "share"] == pytest.approx(1 / 2)
    assert got.loc[(0, 3), "uniform"] == pytest.approx(2 / 3)
    assert got.loc[(0, 3), "n_sequences"] == 1


def test_rows_without_earlier_gradient_are_left_out_and_empty_gives_the_columns() -> None:
    """A myopic regime sends no gradient to earlier states: no share is defined, and no row is made."""
    model, task = tiny_model(), tiny_task()
    inputs, targets = tiny_batch()
    myopic = gradient_matrix(model, inputs, targets, task.loss_per_position, regime=REGIMES["myopic-state"])
    got = dependency_share(myopic, lag_dependencies(3, 6, 2))
    assert got.empty and list(got.columns) == COLUMNS
    with pytest.raises(ValueError, match="do not match"):
        dependency_share(myopic, lag_dependencies(3, 5, 2))


class LagLike:
    """A stand-in task: the markov tiny task plus a known-distance dependency mask."""

    def __init__(self, lag: int) -> None:
        self.inner, self.lag = tiny_task(), lag

    def __getattr__(self, name: str):
        return getattr(self.inner, name)

    def dependencies(self, batch: Batch) -> torch.Tensor:
        n, length = batch.targets.shape
        return lag_dependencies(n, length, self.lag)


def tiny_run_data(task) -> RunData:
    measure = {"n_sequences": 3, "method": "loop", "batch_size": 2, "max_memory_mb": 64.0}
    spec = RunSpec("fake", 0, "fake", {"name": "markov"}, {"context": 6}, {"device": "cpu"}, measure)
    data = RunData(spec)
    inputs, targets = tiny_batch()
    data.__dict__["task"] = task  # the cached_property's slot: no registry entry for a stand-in task
    data.__dict__["gradient_batch"] = Batch(inputs, targets)
    return data


def test_the_registered_measure_reuses_the_m1_matrix_of_the_checkpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []

    def counting(*args, **kwargs):
        calls.append(1)
        return gradient_matrix(*args, **kwargs)

    monkeypatch.setattr(measures_data, "gradient_matrix", counting)
    model, data = tiny_model(), tiny_run_data(LagLike(lag=2))
    measure = MEASURES.get("m1_dependency_share")
    assert measure.applies(data) and measure.ends_only
    got = measure.compute(model, data)
    MEASURES.get("m1_gradient_matrix").compute(model, data)
    assert len(calls) == 1  # one M1 per checkpoint, shared by both measures
    inputs, targets = tiny_batch()
    expected = dependency_share(gradient_matrix(model, inputs, targets, tiny_task().loss_per_position), lag_dependencies(3, 6, 2))
    assert got.equals(expected)
    MEASURES.get("m1_dependency_share").compute(tiny_model(), data)  # a new checkpoint's model: computed anew
    assert len(calls) == 2


class Unknown:
    """A stand-in task that does not know which inputs its targets need (as text)."""

    def __init__(self) -> None:
        self.inner = tiny_task()

    def __getattr__(self, name: str):
        return getattr(self.inner, name)

    def dependencies(self, batch: Batch) -> None:
        return None


def test_a_task_without_known_dependencies_is_not_measured() -> None:
    data = tiny_run_data(Unknown())
    assert data.dependencies is None
    assert not MEASURES.get("m1_dependency_share").applies(data)
    text = tiny_run_data(build_task({"name": "text"}))
    assert text.task.dependencies(Batch(*tiny_batch())) is None  # natural text: unknown
