"""Myopic regimes change gradients, never the forward pass."""
from __future__ import annotations

import pytest
import torch
from references import own_position_losses
from tiny import ENCODINGS, tiny_batch, tiny_model, tiny_task

from analysis.regimes import REGIMES


@pytest.mark.parametrize("pos_encoding", ENCODINGS)
@pytest.mark.parametrize("regime", ["myopic-state", "myopic-full"])
def test_forward_pass_is_unchanged(pos_encoding: str, regime: str) -> None:
    model = tiny_model(pos_encoding)
    inputs, _ = tiny_batch()
    standard, standard_residuals = model(inputs, REGIMES["standard"], return_residuals=True)
    myopic, myopic_residuals = model(inputs, REGIMES[regime], return_residuals=True)
    assert torch.equal(myopic, standard)  # bitwise: the same fused attention call, the extra terms are exact zeros
    for a, b in zip(myopic_residuals, standard_residuals, strict=True):
        assert torch.equal(a, b)


@pytest.mark.parametrize("pos_encoding", ENCODINGS)
@pytest.mark.parametrize("regime", ["myopic-state", "myopic-full"])
def test_no_gradient_reaches_earlier_hidden_states(pos_encoding: str, regime: str) -> None:
    model, task = tiny_model(pos_encoding), tiny_task()
    inputs, targets = tiny_batch()
    prediction, residuals = model(inputs, REGIMES[regime], return_residuals=True)
    losses = task.loss_per_position(prediction, targets)
    for t in range(inputs.shape[1]):
        grads = torch.autograd.grad(losses[:, t].sum(), residuals, retain_graph=True)
        for grad in grads:
            assert torch.equal(grad[:, :t], torch.zeros_like(grad[:, :t]))
            assert grad[:, t].abs().sum() > 0


@pytest.mark.parametrize("pos_encoding", ENCODINGS)
@pytest.mark.parametrize("regime", ["myopic-state", "myopic-full"])
def test_weight_gradient_matches_brute_force_reference(pos_encoding: str, regime: str) -> None:
    model, task = tiny_model(pos_encoding), tiny_task()
    inputs, targets = tiny_batch()
    prediction, _ = model(inputs, REGIMES[regime])
    fast = torch.autograd.grad(task.loss_per_position(prediction, targets).sum(), list(model.parameters()))
    slow = torch.autograd.grad(
        own_position_losses(model, inputs, targets, task.loss_per_position, regime),
        list(model.parameters()),
        allow_unused=True,
    )
    for (name, _), a, b in zip(model.named_parameters(), fast, slow, strict=True):
        b = torch.zeros_like(a) if b is None else b
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-12, msg=lambda m, name=name: f"{name}: {m}")


def test_the_three_regimes_give_different_weight_gradients() -> None:
    """Guard against a regime silently falling back to another: key/value weights see all three differ."""
    model, task = tiny_model(), tiny_task()
    inputs, targets = tiny_batch()
    grads = {}
    for regime in ("standard", "myopic-state", "myopic-full"):
        prediction, _ = model(inputs, REGIMES[regime])
        grads[regime] = torch.autograd.grad(task.loss_per_position(prediction, targets).sum(), model.blocks[0].attn.key.weight)[0]
    assert not torch.allclose(grads["standard"], grads["myopic-state"])
    assert not torch.allclose(grads["myopic-state"], grads["myopic-full"])


def _weight_gradients(model, regime: str) -> list[torch.Tensor]:
    task = tiny_task()
    inputs, targets = tiny_batch()
    prediction, _ = model(inputs, REGIMES[regime])
    return torch.autograd.grad(task.loss_per_position(prediction, targets).sum(), list(model.parameters()))


@pytest.mark.parametrize("pos_encoding", ["learned", "alibi"])
@pytest.mark.parametrize("regime", ["myopic-state", "myopic-full"])
def test_score_pass_fallback_gives_the_fused_kernels_gradients(
    pos_encoding: str, regime: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Off the CPU the softmax normaliser comes from a separate score pass; check that path here."""
    import analysis.models.myopic_routing as routing

    model = tiny_model(pos_encoding)
    fused = _weight_gradients(model, regime)
    original = routing.attention_and_logsumexp
    monkeypatch.setattr(routing, "attention_and_logsumexp", lambda q, k, v, bias, fused_lse=True: original(q, k, v, bias, False))
    fallback = _weight_gradients(model, regime)
    for a, b in zip(fused, fallback, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("pos_encoding", ["rope", "alibi"])
@pytest.mark.parametrize("regime", ["standard", "myopic-state", "myopic-full"])
def test_bf16_autocast_keeps_float32_gradients_close_to_float32(pos_encoding: str, regime: str) -> None:
    """Training on a GPU runs under bf16 autocast; CPU autocast exercises the same dtype handling."""
    model = tiny_model(pos_encoding).float()
    task = tiny_task()
    inputs, targets = tiny_batch()

    def gradients() -> list[torch.Tensor]:
        prediction, _ = model(inputs, REGIMES[regime])
        return torch.autograd.grad(task.loss_per_position(prediction.float(), targets).sum(), list(model.parameters()))

    exact = gradients()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        mixed = gradients()
    total = float(torch.cat([a.flatten() for a in exact]).norm())
    for (name, parameter), a, b in zip(model.named_parameters(), exact, mixed, strict=True):
        assert b.dtype == parameter.dtype == torch.float32, name
        # bf16 rounding; the absolute term covers gradients that vanish exactly (the key bias)
        assert float((a - b).norm()) <= 0.05 * float(a.norm()) + 0.01 * total, name


@pytest.mark.parametrize("regime", ["standard", "myopic-state", "myopic-full"])
def test_compiled_model_gives_the_eager_gradients(regime: str) -> None:
    """``train.compile`` (GPU only) must trace the custom autograd functions: checked here without codegen."""
    model, task = tiny_model("alibi"), tiny_task()
    inputs, targets = tiny_batch()
    eager = _weight_gradients(model, regime)
    compiled = torch.compile(model, backend="aot_eager")
    prediction, _ = compiled(inputs, REGIMES[regime])
    traced = torch.autograd.grad(task.loss_per_position(prediction, targets).sum(), list(model.parameters()))
    for a, b in zip(eager, traced, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-12)


def test_a_regime_with_an_unknown_routing_is_refused() -> None:
    from analysis.regimes import Regime

    with pytest.raises(ValueError, match="past_gradient 'sometimes' is not one of everywhere, weights, nowhere"):
        Regime("lazy", "sometimes")  # type: ignore[arg-type]
