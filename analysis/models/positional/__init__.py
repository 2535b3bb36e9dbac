"""Positional-encoding registry: a new encoding is one module here (registered in ``base.POSITIONAL_ENCODINGS``) plus one
import line below."""
from __future__ import annotations

from . import alibi, learned, none, rope, sinusoidal  # noqa: F401  (registration happens on import)
from .base import INIT_STD, POSITIONAL_ENCODINGS, PositionalEncoding

# The order tables and figures list encodings in: absolute positions (a trained table, a fixed one),
# relative ones (a rotation, a score bias), none. An encoding not named here comes after them.
ENCODING_ORDER = ("learned", "sinusoidal", "rope", "alibi", "none")

__all__ = ["ENCODING_ORDER", "INIT_STD", "POSITIONAL_ENCODINGS", "PositionalEncoding"]
