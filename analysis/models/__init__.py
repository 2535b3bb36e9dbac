"""Models: the GPT, the one function that builds it, and the positional-encoding registry."""
from .gpt import GPT, GPTConfig, build_model
from .positional import POSITIONAL_ENCODINGS, PositionalEncoding

__all__ = ["GPT", "GPTConfig", "POSITIONAL_ENCODINGS", "PositionalEncoding", "build_model"]
