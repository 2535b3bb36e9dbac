"""M8: where attention heads put their mass, by source position (attention sinks).

The fused kernel the model trains with never materialises the attention probabilities, so
they are read from each block's input with ``CausalSelfAttention.pattern`` (the softmax of the
scores the model's attention uses). The test checks that these probabilities times the values
reproduce the model's attention output.

Under causal masking the first position is the only key every query can read, so even
uniform attention gives it the most mass: averaged over the targets t >= s, uniform
attention puts sum_{t>=s} 1/(t+1) / (T - s) on source s, which falls with s. The table
therefore carries that uniform mass beside the measured one, and ``relative_mass`` (the
mean over targets of A[t, s] (t + 1), exactly 1 under uniform attention). Comparing sources
fairly needs targets that read all of them: ``late_mass`` averages over the second half of
the targets only (t >= T // 2, and t >= s), so every source s < T // 2 is read by the same
targets, each with the same uniform share, and an argmax over those sources is not decided
by the mask.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd
import torch
from torch import Tensor

from ..models import GPT
from .base import register

if TYPE_CHECKING:
    from .data import RunData


@torch.no_grad()
def attention_weights(model: GPT, inputs: Tensor) -> Tensor:
    """(N, L, H, T, T) attention probabilities A[t, s] (zero for s > t) of every layer and head."""
    _, residuals = model(inputs, return_residuals=True)
    return torch.stack([block.attn.pattern(h) for block, h in zip(model.blocks, residuals[:-1], strict=True)], dim=1)


def attention_mass_table(weights: Tensor) -> pd.DataFrame:
    """One row per (layer, head, source s): the mass s receives, mean over sequences and targets t >= s.

    ``mass``: mean of A[t, s]; ``uniform_mass``: the same under uniform causal attention;
    ``relative_mass``: mean of A[t, s] (t + 1), 1 under uniform attention; ``late_mass`` and
    ``late_uniform_mass``: mean of A[t, s] and of 1 / (t + 1) over the late targets t >= max(s, T // 2).
    """
    _, n_layer, n_head, length, _ = weights.shape
    per_source = weights.double().mean(0)  # (L, H, T, T), mean over sequences
    readers = torch.ones(length, length, dtype=torch.float64).tril()  # [t, s] = 1 where t >= s
    n_targets = readers.sum(0)  # (T,): T - s targets read source s
    width = torch.arange(1, length + 1, dtype=torch.float64)[:, None]  # t + 1 keys each target reads
    mass = per_source.sum(-2) / n_targets
    relative = (per_source * width).sum(-2) / n_targets
    uniform = (readers / width).sum(0) / n_targets
    late_readers = readers.clone()
    late_readers[: length // 2] = 0  # [t, s] = 1 where t >= s and t >= T // 2
    n_late = late_readers.sum(0)
    late = (per_source * late_readers).sum(-2) / n_late
    late_uniform = (late_readers / width).sum(0) / n_late
    layer, head, source = torch.meshgrid(
        torch.arange(n_layer), torch.arange(n_head), torch.arange(length), indexing="ij"
    )
    return pd.DataFrame(
        {
            "layer": layer.flatten().numpy(),
            "head": head.flatten().numpy(),
            "s": source.flatten().numpy(),
            "mass": mass.flatten().numpy(),
            "uniform_mass": uniform.expand(n_layer, n_head, length).flatten().numpy(),
            "relative_mass": relative.flatten().numpy(),
            "late_mass": late.flatten().numpy(),
            "late_uniform_mass": late_uniform.expand(n_layer, n_head, length).flatten().numpy(),
            "n_targets": n_targets.long().expand(n_layer, n_head, length).flatten().numpy(),
        }
    )


@register("m8_attention_mass")  # attention sinks: the mass each source position receives, per layer and head
def measure_attention_mass(model: GPT, data: RunData) -> pd.DataFrame:
    return attention_mass_table(attention_weights(model, data.gradient_batch.inputs))
