"""Rotary position embeddings (Su et al.): queries and keys rotated by position."""
from __future__ import annotations

import torch
from torch import Tensor

from .base import POSITIONAL_ENCODINGS, PositionalEncoding


@POSITIONAL_ENCODINGS.register("rope")
class Rotary(PositionalEncoding):
    """Rotary embeddings (Su et al.): rotate each (even, odd) pair of q/k dims by angle pos * theta_i."""

    def __init__(self, context: int, d_model: int, n_head: int, base: float = 10_000.0) -> None:
        super().__init__(context, d_model, n_head)
        d_head = d_model // n_head
        if d_head % 2:
            raise ValueError(f"rope needs an even head size, got d_model / n_head = {d_head}")
        inv_freq = base ** (-torch.arange(0, d_head, 2, dtype=torch.float32) / d_head)
        angles = torch.arange(context, dtype=torch.float32)[:, None] * inv_freq
        self.register_buffer("cos", angles.cos(), persistent=False)
        self.register_buffer("sin", angles.sin(), persistent=False)

    def rotate(self, x: Tensor) -> Tensor:
        length = x.shape[-2]
        cos, sin = self.cos[:length].to(x.dtype), self.sin[:length].to(x.dtype)
        even, odd = x[..., 0::2], x[..., 1::2]
        return torch.stack([even * cos - odd * sin, even * sin + odd * cos], dim=-1).flatten(-2)
