"""M1: the exact cross-position gradient matrix G^l[t, s] = ||dL_t / dh_s^l||_2.

Every target position t needs its own backward pass (or its own copy of the
input). Three exact methods give the same numbers (to float round-off):

* ``loop``: one forward, then one backward per target t (batched over sequences).
* ``replicate``: copy each sequence once per target in a chunk, so a single
  backward of sum_c L_{t_c}(copy c) yields all targets of the chunk at once.
* ``batched``: one forward, then one vectorised backward per chunk of targets
  (``torch.autograd.grad(..., is_grads_batched=True)`` with one-hot output grads).

``auto`` picks the fastest method for the device (see ``choose_method``; the
benchmark ``make bench`` measures all three). Chunks of targets are sized so the
estimated peak memory stays under a configured bound. Entries s > t are
structurally zero (causal mask) and are returned as exact zeros.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pandas as pd
import torch
from torch import Tensor

from ..models import GPT
from ..regimes import STANDARD, Regime
from .base import register

if TYPE_CHECKING:
    from .data import RunData

LossFn = Callable[[Tensor, Tensor], Tensor]
GradientMethod = Callable[..., Tensor]

# Method per device type, from ``make bench`` (results/bench/gradient_methods.json): on CPU
# the per-target loop is fastest (the backward passes are already compute bound); on a GPU a
# single backward of a tiny model is launch bound, so one vectorised backward over a chunk of
# targets does the same work in far fewer kernel launches.
AUTO_METHOD = {"cpu": "loop", "cuda": "batched"}


def choose_method(method: str, device: torch.device | str) -> str:
    """Resolve ``auto`` to the method that is fastest on ``device``; pass any other name through."""
    if method != "auto":
        return method
    return AUTO_METHOD.get(torch.device(device).type, "loop")


def bytes_per_target(model: GPT, batch: int, length: int, itemsize: int = 4) -> int:
    """Rough peak bytes that one extra target adds to a vectorised or replicated backward.

    Per block: attention scores and probabilities (2 B H T^2), and about (8 + 3 mlp_ratio)
    activations of width d per position (layer norms, q/k/v, outputs, MLP hidden).
    """
    config = model.config
    per_block = 2 * batch * config.n_head * length**2 + batch * length * config.d_model * (8 + 3 * config.mlp_ratio)
    return itemsize * (config.n_layer * per_block + 4 * batch * length * config.d_model)


def targets_per_chunk(model: GPT, batch: int, length: int, max_memory_mb: float, itemsize: int = 4) -> int:
    """How many targets one chunk may hold so the estimated peak stays under ``max_memory_mb``."""
    per_target = bytes_per_target(model, batch, length, itemsize)
    return max(1, min(length, int(max_memory_mb * 2**20 // per_target)))


def _store(out: Tensor, grads: tuple[Tensor, ...], positions: Tensor) -> None:
    """Write norms of per-target gradients (targets, B, T, d) into out (B, L+1, T, T) at rows ``positions``."""
    for layer, grad in enumerate(grads):
        out[:, layer, positions, :] = grad.norm(dim=-1).transpose(0, 1).detach()


def per_target_loop(
    model: GPT, inputs: Tensor, targets: Tensor, loss_fn: LossFn, regime: Regime = STANDARD, chunk: int = 0
) -> Tensor:
    """(B, L+1, T, T) per-sequence gradient norms, one backward pass per target position."""
    prediction, residuals = model(inputs, regime, return_residuals=True)
    losses = loss_fn(prediction, targets)  # (B, T)
    batch, length = losses.shape
    out = torch.zeros(batch, len(residuals), length, length, dtype=losses.dtype, device=losses.device)
    for t in range(length):
        grads = torch.autograd.grad(losses[:, t].sum(), residuals, retain_graph=t < length - 1)
        for layer, grad in enumerate(grads):
            out[:, layer, t, : t + 1] = grad[:, : t + 1].norm(dim=-1).detach()
    return out


def vectorised_backward(
    model: GPT, inputs: Tensor, targets: Tensor, loss_fn: LossFn, regime: Regime = STANDARD, chunk: int = 8
) -> Tensor:
    """(B, L+1, T, T) per-sequence gradient norms, one vmapped backward per chunk of ``chunk`` targets."""
    prediction, residuals = model(inputs, regime, return_residuals=True)
    losses = loss_fn(prediction, targets)  # (B, T)
    batch, length = losses.shape
    out = torch.zeros(batch, len(residuals), length, length, dtype=losses.dtype, device=losses.device)
    starts = range(0, length, max(chunk, 1))
    for index, start in enumerate(starts):
        positions = torch.arange(start, min(start + max(chunk, 1), length), device=inputs.device)
        one_hot = torch.zeros(len(positions), batch, length, dtype=losses.dtype, device=losses.device)
        one_hot[torch.arange(len(positions), device=losses.device), :, positions] = 1.0
        grads = torch.autograd.grad(
            losses, residuals, grad_outputs=one_hot, is_grads_batched=True, retain_graph=index < len(starts) - 1
        )
        _store(out, grads, positions)
    causal = torch.ones(length, length, dtype=torch.bool, device=out.device).tril()
    return out.masked_fill(~causal, 0.0)


def replicated_batch(
    model: GPT, inputs: Tensor, targets: Tensor, loss_fn: LossFn, regime: Regime = STANDARD, chunk: int = 8
) -> Tensor:
    """(B, L+1, T, T) per-sequence gradient norms from replicated copies, ``chunk`` targets per pass."""
    batch, length = targets.shape[:2]
    out: Tensor | None = None
    for start in range(0, length, max(chunk, 1)):
        positions = torch.arange(start, min(start + max(chunk, 1), length), device=inputs.device)
        copies = len(positions)
        rep_inputs = inputs.repeat_interleave(copies, dim=0)
        rep_targets = targets.repeat_interleave(copies, dim=0)
        # Only positions <= t influence L_t, so each copy is cut to the longest target it serves.
        cut = int(positions[-1]) + 1
        prediction, residuals = model(rep_inputs[:, :cut], regime, return_residuals=True)
        losses = loss_fn(prediction, rep_targets[:, :cut])  # (B * copies, cut)
        selector = torch.zeros_like(losses)
        selector[torch.arange(batch * copies, device=losses.device), positions.repeat(batch)] = 1.0
        grads = torch.autograd.grad((losses * selector).sum(), residuals)
        if out is None:
            out = torch.zeros(batch, len(residuals), length, length, dtype=losses.dtype, device=losses.device)
        for layer, grad in enumerate(grads):
            norms = grad.norm(dim=-1).view(batch, copies, cut)
            out[:, layer, positions, :cut] = norms.detach()
    assert out is not None
    causal = torch.ones(length, length, dtype=torch.bool, device=out.device).tril()
    return out.masked_fill(~causal, 0.0)


# By the config's name (``measure.gradient_method``); each gives the same matrix, at a different speed per device.
GRADIENT_METHODS: dict[str, GradientMethod] = {
    "loop": per_target_loop, "batched": vectorised_backward, "replicate": replicated_batch,
}


def gradient_matrix(
    model: GPT,
    inputs: Tensor,
    targets: Tensor,
    loss_fn: LossFn,
    method: str = "auto",
    regime: Regime = STANDARD,
    batch_size: int = 32,
    max_memory_mb: float = 1024.0,
    chunk: int | None = None,
) -> Tensor:
    """Per-sequence G^l[t, s] for all sequences, layers and pairs: shape (N, L+1, T, T).

    ``chunk`` (targets per vectorised/replicated pass) defaults to the largest that keeps
    the estimated peak memory under ``max_memory_mb``.
    """
    device = next(model.parameters()).device
    compute = GRADIENT_METHODS[choose_method(method, device)]
    length = targets.shape[1]
    batch = min(batch_size, inputs.shape[0])
    itemsize = next(model.parameters()).element_size()
    chunk = chunk or targets_per_chunk(model, batch, length, max_memory_mb, itemsize)
    parts = [
        compute(model, inputs[i : i + batch_size], targets[i : i + batch_size], loss_fn, regime=regime, chunk=chunk)
        for i in range(0, inputs.shape[0], batch_size)
    ]
    return torch.cat(parts)


def gradient_matrix_table(per_sequence: Tensor) -> pd.DataFrame:
    """M1's table from the per-sequence matrix (N, L+1, T, T): one row per (layer, t, s <= t), mean and median over sequences."""
    mean, median = per_sequence.mean(0), per_sequence.median(0).values
    # equivalent mutant: shape[-2] is the same length (the matrix is T x T)
    length = per_sequence.shape[-1]
    t_index, s_index = torch.tril_indices(length, length)
    return pd.concat(
        [
            pd.DataFrame(
                {
                    "layer": layer,
                    "t": t_index.numpy(),
                    "s": s_index.numpy(),
                    "distance": (t_index - s_index).numpy(),
                    "grad_norm_mean": mean[layer, t_index, s_index].numpy(),
                    "grad_norm_median": median[layer, t_index, s_index].numpy(),
                }
            )
            for layer in range(per_sequence.shape[1])
        ],
        ignore_index=True,
    )


@register("m1_gradient_matrix")
def measure_gradient_matrix(model: GPT, data: RunData) -> pd.DataFrame:
    return gradient_matrix_table(data.gradient_matrix(model))
