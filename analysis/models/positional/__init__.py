"""Positional-encoding registry: a new encoding is one module here plus one import line below."""
from __future__ import annotations

from ...registry import Registry
from .base import INIT_STD, PositionalEncoding

POSITIONAL_ENCODINGS: Registry[type[PositionalEncoding]] = Registry("positional encoding")

from . import alibi, learned, none, rope, sinusoidal  # noqa: E402,F401  (registration happens on import)

__all__ = ["INIT_STD", "POSITIONAL_ENCODINGS", "PositionalEncoding"]
