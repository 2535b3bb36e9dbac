"""The causal mask, and a positional score bias turned into the arguments of ``F.scaled_dot_product_attention``.

Shared by the model's attention (``gpt.py``) and the myopic routing (``myopic_routing.py``).
"""
from __future__ import annotations

from functools import lru_cache
from typing import Any

import torch
from torch import Tensor


@lru_cache(maxsize=32)
def causal_mask(length: int, device: torch.device) -> Tensor:
    """(T, T) True where query t may read key s <= t; cached: built once per length, not per layer and step."""
    return torch.ones(length, length, dtype=torch.bool, device=device).tril()


def mask_arguments(q: Tensor, bias: Tensor | None) -> dict[str, Any]:
    """``is_causal`` without a score bias; otherwise the bias with the future masked out, as ``attn_mask``."""
    if bias is None:
        return {"is_causal": True}
    mask = bias.to(q.dtype).masked_fill(~causal_mask(q.shape[-2], q.device), float("-inf"))
    # (1, H, T, T), not (H, T, T): with a 3-D mask SDPA falls back to its unfused math kernel (2x slower on CPU)
    return {"attn_mask": mask.expand(1, *mask.shape[-3:]) if mask.dim() == 3 else mask}
