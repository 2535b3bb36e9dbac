"""Myopic regimes change gradients, never the forward pass."""
from __future__ import annotations

import pytest
import torch
from conftest import ENCODINGS, tiny_batch, tiny_model, tiny_task

from analysis.regimes import REGIMES


@pytest.mark.parametrize("pos_encoding", ENCODINGS)
@pytest.mark.parametrize("regime", ["myopic-state", "myopic-full"])
def test_forward_pass_is_unchanged(pos_encoding: str, regime: str) -> None:
    model = tiny_model(pos_encoding)
    inputs, _ = tiny_batch()
    standard, standard_residuals = model(inputs, REGIMES.get("standard"), return_residuals=True)
    myopic, myopic_residuals = model(inputs, REGIMES.get(regime), return_residuals=True)
    torch.testing.assert_close(myopic, standard, rtol=0, atol=1e-12)
    for a, b in zip(myopic_residuals, standard_residuals, strict=False):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-12)


@pytest.mark.parametrize("pos_encoding", ENCODINGS)
@pytest.mark.parametrize("regime", ["myopic-state", "myopic-full"])
def test_no_gradient_reaches_earlier_hidden_states(pos_encoding: str, regime: str) -> None:
    model, task = tiny_model(pos_encoding), tiny_task()
    inputs, targets = tiny_batch()
    prediction, residuals = model(inputs, REGIMES.get(regime), return_residuals=True)
    losses = task.loss_per_position(prediction, targets)
    for t in range(inputs.shape[1]):
        grads = torch.autograd.grad(losses[:, t].sum(), residuals, retain_graph=True)
        for grad in grads:
            assert torch.equal(grad[:, :t], torch.zeros_like(grad[:, :t]))
            assert grad[:, t].abs().sum() > 0
