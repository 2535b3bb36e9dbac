"""NoPE (Kazemnejad et al. 2023): no positional signal beyond the causal mask."""
from __future__ import annotations

from .base import POSITIONAL_ENCODINGS, PositionalEncoding


@POSITIONAL_ENCODINGS.register("none")
class NoPositions(PositionalEncoding):
    """NoPE (Kazemnejad et al. 2023): order is known only through the causal mask."""
