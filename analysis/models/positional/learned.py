"""Learned absolute positions (GPT-2): a trained table added to the token embedding."""
from __future__ import annotations

import torch
from torch import Tensor, nn

from .base import INIT_STD, POSITIONAL_ENCODINGS, PositionalEncoding


@POSITIONAL_ENCODINGS.register("learned")
class LearnedAbsolute(PositionalEncoding):
    """A trained (context, d) table added to the token embedding (GPT-2)."""

    def __init__(self, context: int, d_model: int, n_head: int) -> None:
        super().__init__(context, d_model, n_head)
        self.table = nn.Parameter(torch.empty(context, d_model))
        nn.init.normal_(self.table, std=INIT_STD)

    def embed(self, length: int) -> Tensor:
        return self.table[:length]
