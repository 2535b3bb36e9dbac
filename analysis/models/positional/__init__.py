"""Positional-encoding registry: a new encoding is one module here plus one import line below."""
from __future__ import annotations

from ...registry import Registry
from .base import INIT_STD, PositionalEncoding

POSITIONAL_ENCODINGS: Registry[type[PositionalEncoding]] = Registry("positional encoding")

from . import alibi, learned, none, rope, sinusoidal  # noqa: E402,F401  (registration happens on import)

# The order tables and figures list encodings in: absolute positions (a trained table, a fixed one),
# relative ones (a rotation, a score bias), none. An encoding not named here comes after them.
ENCODING_ORDER = ("learned", "sinusoidal", "rope", "alibi", "none")

__all__ = ["ENCODING_ORDER", "INIT_STD", "POSITIONAL_ENCODINGS", "PositionalEncoding"]
