"""Fixed sinusoidal positions (Vaswani et al. 2017), added to the input."""
from __future__ import annotations

import math

import torch
from torch import Tensor

from .base import INIT_STD, POSITIONAL_ENCODINGS, PositionalEncoding


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
