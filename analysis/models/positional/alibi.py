"""ALiBi (Press et al. 2022): a linear distance penalty on attention scores."""
from __future__ import annotations

import torch
from torch import Tensor

from .base import POSITIONAL_ENCODINGS, PositionalEncoding


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
