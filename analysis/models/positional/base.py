"""What a positional encoding may do: add to the input, rotate queries/keys, or bias attention scores."""
from __future__ import annotations

from torch import Tensor, nn

from ...registry import Registry

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


POSITIONAL_ENCODINGS: Registry[type[PositionalEncoding]] = Registry("positional encoding")  # filled by this package's modules
