"""Models: the GPT and the positional-encoding registry."""
from .gpt import GPT, GPTConfig
from .positional import POSITIONAL_ENCODINGS, PositionalEncoding

__all__ = ["GPT", "GPTConfig", "POSITIONAL_ENCODINGS", "PositionalEncoding"]
