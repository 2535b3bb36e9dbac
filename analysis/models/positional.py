"""Positional encodings, one class each, behind a registry.

An encoding can act at three places, and each class overrides only what it uses:
``embed`` adds a (T, d) table to the input residual stream h^0, ``rotate`` transforms
queries and keys per head (RoPE), and ``score_bias`` adds a (H, T, T) bias to the
attention scores (ALiBi).
"""
from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from ..registry import Registry

POSITIONAL_ENCODINGS: Registry[type[PositionalEncoding]] = Registry("positional encoding")
INIT_STD = 0.02  # GPT-2 initialisation scale for embeddings and position tables


class PositionalEncoding(nn.Module):
    def __init__(self, context: int, d_model: int, n_head: int) -> None:
        super().__init__()
        self.context, self.d_model, self.n_head = context, d_model, n_head

    def embed(self, length: int) -> Tensor | None:
        return None

    def rotate(self, x: Tensor) -> Tensor:
        """x: (B, H, T, d_head)."""
        return x

    def score_bias(self, length: int) -> Tensor | None:
        return None


@POSITIONAL_ENCODINGS.register("learned")
class LearnedAbsolute(PositionalEncoding):
    """A trained (context, d) table added to the token embedding (GPT-2)."""

    def __init__(self, context: int, d_model: int, n_head: int) -> None:
        super().__init__(context, d_model, n_head)
        self.table = nn.Parameter(torch.empty(context, d_model))
        nn.init.normal_(self.table, std=INIT_STD)

    def embed(self, length: int) -> Tensor:
        return self.table[:length]


@POSITIONAL_ENCODINGS.register("sinusoidal")
class Sinusoidal(PositionalEncoding):
    """The fixed sin/cos table of Vaswani et al. (2017), added to the input.

    Scaled to the per-coordinate RMS of a freshly initialised learned table
    (``INIT_STD``): unscaled (RMS 1/sqrt 2) it drowns token embeddings initialised
    at 0.02, and a 2-layer model then failed to learn recall within budget.
    """

    SCALE = INIT_STD * math.sqrt(2.0)

    def __init__(self, context: int, d_model: int, n_head: int) -> None:
        super().__init__(context, d_model, n_head)
        position = torch.arange(context, dtype=torch.float32)[:, None]
        inv_freq = torch.exp(-math.log(10_000.0) * torch.arange(0, d_model, 2, dtype=torch.float32) / d_model)
        table = torch.zeros(context, d_model)
        table[:, 0::2] = torch.sin(position * inv_freq)
        table[:, 1::2] = torch.cos(position * inv_freq[: d_model // 2])
        self.register_buffer("table", self.SCALE * table, persistent=False)

    def embed(self, length: int) -> Tensor:
        return self.table[:length]


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


@POSITIONAL_ENCODINGS.register("alibi")
class ALiBi(PositionalEncoding):
    """Press et al. (2022): score bias -m_h * (t - s), slopes m_h = 2^(-8 h / H), h = 1..H."""

    def __init__(self, context: int, d_model: int, n_head: int) -> None:
        super().__init__(context, d_model, n_head)
        slopes = torch.tensor([2.0 ** (-8.0 * h / n_head) for h in range(1, n_head + 1)])
        position = torch.arange(context, dtype=torch.float32)
        distance = (position[:, None] - position[None, :]).clamp_min(0)
        self.register_buffer("bias", -slopes[:, None, None] * distance, persistent=False)

    def score_bias(self, length: int) -> Tensor:
        return self.bias[:, :length, :length]


@POSITIONAL_ENCODINGS.register("none")
class NoPositions(PositionalEncoding):
    """NoPE (Kazemnejad et al. 2023): order is known only through the causal mask."""
