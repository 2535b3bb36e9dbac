"""M1 against a brute-force reference: torch.func.jacrev of L_t with respect to h^l, layer by layer."""
from __future__ import annotations

import pytest
import torch
from tiny import ENCODINGS, tiny_batch, tiny_model, tiny_task

from analysis.measures.gradient_matrix import (
    GRADIENT_METHODS,
    bytes_per_target,
    choose_method,
    gradient_matrix,
    targets_per_chunk,
)
from analysis.regimes import STANDARD


def losses_from_layer(model, layer: int, h: torch.Tensor, targets: torch.Tensor, loss_fn) -> torch.Tensor:
    """Per-position losses of one sequence, recomputed from residual stream h^layer onwards."""
    h = h.unsqueeze(0)
    for block in model.blocks[layer:]:
        h = block(h, STANDARD)
    prediction = model.head(model.ln_f(h))
    return loss_fn(prediction, targets.unsqueeze(0)).squeeze(0)


def reference_matrix(model, inputs, targets, loss_fn) -> torch.Tensor:
    """(N, L+1, T, T) via the full Jacobian dL/dh^l of every sequence: slow and obviously right."""
    _, residuals = model(inputs, STANDARD, return_residuals=True)
    out = []
    for i in range(inputs.shape[0]):
        per_layer = []
        for layer, h in enumerate(residuals):
            jacobian = torch.func.jacrev(lambda x, layer=layer, i=i: losses_from_layer(model, layer, x, targets[i], loss_fn))(
                h[i].detach()
            )
            per_layer.append(jacobian.norm(dim=-1))  # (T, T): [t, s]
        out.append(torch.stack(per_layer))
    return torch.stack(out)


@pytest.mark.parametrize("method", list(GRADIENT_METHODS))
@pytest.mark.parametrize("pos_encoding", ENCODINGS)
@pytest.mark.parametrize("kind", ["markov", "sine"])
def test_matches_jacrev_reference(method: str, pos_encoding: str, kind: str) -> None:
    model, task = tiny_model(pos_encoding, kind), tiny_task(kind)
    inputs, targets = tiny_batch(kind)
    expected = reference_matrix(model, inputs, targets, task.loss_per_position)
    got = gradient_matrix(model, inputs, targets, task.loss_per_position, method=method, batch_size=2, chunk=4)
    assert got.shape == expected.shape == (3, model.config.n_layer + 1, 6, 6)
    torch.testing.assert_close(got, expected, rtol=1e-9, atol=1e-12)
    assert expected[:, :-1].tril(-1).abs().sum() > 0  # the test has something to compare below the diagonal


@pytest.mark.parametrize("method", list(GRADIENT_METHODS))
def test_upper_triangle_is_exactly_zero(method: str) -> None:
    model, task = tiny_model(), tiny_task()
    inputs, targets = tiny_batch()
    got = gradient_matrix(model, inputs, targets, task.loss_per_position, method=method)
    assert torch.equal(got.triu(1), torch.zeros_like(got))
    assert (got.diagonal(dim1=-2, dim2=-1) > 0).all()


def test_causality_holds_in_the_model_itself() -> None:
    """Not just masked in the measure: perturbing a later input leaves earlier losses unchanged."""
    model, task = tiny_model(), tiny_task()
    inputs, targets = tiny_batch()
    before = task.loss_per_position(model(inputs)[0], targets)
    changed = inputs.clone()
    changed[:, -1] = (changed[:, -1] + 1) % 5
    after = task.loss_per_position(model(changed)[0], targets)
    torch.testing.assert_close(before[:, :-1], after[:, :-1], rtol=0, atol=1e-14)


def test_last_layer_reaches_only_its_own_position() -> None:
    model, task = tiny_model(), tiny_task()
    inputs, targets = tiny_batch()
    got = gradient_matrix(model, inputs, targets, task.loss_per_position)
    assert torch.equal(got[:, -1].tril(-1), torch.zeros_like(got[:, -1]))


def test_auto_picks_the_per_target_loop_on_cpu_and_passes_other_names_through() -> None:
    assert choose_method("auto", "cpu") == "loop"
    assert choose_method("auto", "cuda") in GRADIENT_METHODS
    assert choose_method("replicate", "cpu") == "replicate"


def test_chunk_size_follows_the_memory_bound() -> None:
    model = tiny_model(context=6)
    sizes = [targets_per_chunk(model, batch=4, length=6, max_memory_mb=mb) for mb in (1e-4, 1e-3, 1e-2, 1e3)]
    assert sizes == sorted(sizes) and sizes[0] == 1 and sizes[-1] == 6
    per_target = bytes_per_target(model, batch=4, length=6, itemsize=8)
    assert targets_per_chunk(model, 4, 6, max_memory_mb=3.5 * per_target / 2**20, itemsize=8) == 3


@pytest.mark.parametrize("method", ["batched", "replicate"])
def test_chunking_does_not_change_the_result(method: str) -> None:
    model, task = tiny_model(), tiny_task()
    inputs, targets = tiny_batch()
    results = [gradient_matrix(model, inputs, targets, task.loss_per_position, method=method, chunk=c) for c in (1, 4, 6)]
    for other in results[1:]:
        torch.testing.assert_close(other, results[0], rtol=1e-10, atol=1e-14)
