"""M1: the exact cross-position gradient matrix G^l[t, s] = ||dL_t / dh_s^l||_2.

Every target position t needs its own backward pass (or its own copy of the
input). Two exact methods give identical numbers:

* ``loop``: one forward, then one backward per target t (batched over sequences).
* ``replicate``: copy each sequence once per target in a chunk, so a single
  backward of sum_c L_{t_c}(copy c) yields all targets of the chunk at once.

Chunks bound peak memory. Entries s > t are structurally zero (causal mask) and
are returned as exact zeros without being computed.
"""
from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from ..models import GPT
from ..regimes import STANDARD, Regime
from ..registry import Registry

LossFn = Callable[[Tensor, Tensor], Tensor]
GradientMethod = Callable[..., Tensor]
GRADIENT_METHODS: Registry[GradientMethod] = Registry("gradient-matrix method")


@GRADIENT_METHODS.register("loop")
def per_target_loop(
    model: GPT, inputs: Tensor, targets: Tensor, loss_fn: LossFn, regime: Regime = STANDARD, chunk: int = 0
) -> Tensor:
    """(B, L+1, T, T) per-sequence gradient norms, one backward pass per target position."""
    prediction, residuals = model(inputs, regime, return_residuals=True)
    losses = loss_fn(prediction, targets)  # (B, T)
    batch, length = losses.shape
    out = torch.zeros(batch, len(residuals), length, length, dtype=losses.dtype)
    for t in range(length):
        grads = torch.autograd.grad(losses[:, t].sum(), residuals, retain_graph=t < length - 1)
        for layer, grad in enumerate(grads):
            out[:, layer, t, : t + 1] = grad[:, : t + 1].norm(dim=-1).detach()
    return out


@GRADIENT_METHODS.register("replicate")
def replicated_batch(
    model: GPT, inputs: Tensor, targets: Tensor, loss_fn: LossFn, regime: Regime = STANDARD, chunk: int = 8
) -> Tensor:
    """(B, L+1, T, T) per-sequence gradient norms from replicated copies, ``chunk`` targets per pass."""
    batch, length = targets.shape[:2]
    out: Tensor | None = None
    for start in range(0, length, max(chunk, 1)):
        positions = torch.arange(start, min(start + max(chunk, 1), length))
        copies = len(positions)
        rep_inputs = inputs.repeat_interleave(copies, dim=0)
        rep_targets = targets.repeat_interleave(copies, dim=0)
        # Only positions <= t influence L_t, so each copy is cut to the longest target it serves.
        cut = int(positions[-1]) + 1
        prediction, residuals = model(rep_inputs[:, :cut], regime, return_residuals=True)
        losses = loss_fn(prediction, rep_targets[:, :cut])  # (B * copies, cut)
        selector = torch.zeros_like(losses)
        selector[torch.arange(batch * copies), positions.repeat(batch)] = 1.0
        grads = torch.autograd.grad((losses * selector).sum(), residuals)
        if out is None:
            out = torch.zeros(batch, len(residuals), length, length, dtype=losses.dtype)
        for layer, grad in enumerate(grads):
            norms = grad.norm(dim=-1).view(batch, copies, cut)
            out[:, layer, positions, :cut] = norms.detach()
    assert out is not None
    causal = torch.ones(length, length, dtype=torch.bool).tril()
    return out.masked_fill(~causal, 0.0)


def gradient_matrix(
    model: GPT,
    inputs: Tensor,
    targets: Tensor,
    loss_fn: LossFn,
    method: str = "loop",
    regime: Regime = STANDARD,
    batch_size: int = 32,
    chunk: int = 8,
) -> Tensor:
    """Per-sequence G^l[t, s] for all sequences, layers and pairs: shape (N, L+1, T, T)."""
    compute = GRADIENT_METHODS.get(method)
    parts = [
        compute(model, inputs[i : i + batch_size], targets[i : i + batch_size], loss_fn, regime=regime, chunk=chunk)
        for i in range(0, inputs.shape[0], batch_size)
    ]
    return torch.cat(parts)
