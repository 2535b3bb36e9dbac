"""Attention scores and the causal mask: the one definition the model's attention, the myopic routing and the
attention measure (M8) share.

``attention_scores`` is what the softmax of attention reads; ``mask_arguments`` hands the same mask
(the score bias with the future at -inf) to ``F.scaled_dot_product_attention``, which the forward pass runs.
"""
from __future__ import annotations

import math
from functools import lru_cache
from typing import Any

import torch
from torch import Tensor


@lru_cache(maxsize=32)
def causal_mask(length: int, device: torch.device) -> Tensor:
    """(T, T) True where query t may read key s <= t; cached: built once per length, not per layer and step."""
    return torch.ones(length, length, dtype=torch.bool, device=device).tril()


def _hide_future(scores: Tensor) -> Tensor:
    """-inf where key s comes after query t (the last two dimensions are (t, s))."""
    return scores.masked_fill(~causal_mask(scores.shape[-2], scores.device), float("-inf"))


def attention_scores(q: Tensor, k: Tensor, bias: Tensor | None) -> Tensor:
    """(B, H, T, T) scores q_t . k_s / sqrt(d_head) plus the positional score bias, -inf for s > t.

    Their softmax over s is the attention pattern; their log-sum-exp the softmax normaliser.
    """
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if bias is not None:
        scores = scores + bias.to(scores.dtype)
    return _hide_future(scores)


def mask_arguments(q: Tensor, bias: Tensor | None) -> dict[str, Any]:
    """``is_causal`` without a score bias; otherwise the bias with the future masked out, as ``attn_mask``."""
    if bias is None:
        return {"is_causal": True}
    mask = _hide_future(bias.to(q.dtype))
    # (1, H, T, T), not (H, T, T): with a 3-D mask SDPA falls back to its unfused math kernel (2x slower on CPU)
    return {"attn_mask": mask.expand(1, *mask.shape[-3:]) if mask.dim() == 3 else mask}
