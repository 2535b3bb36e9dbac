"""The gradient-flow card: the study's M1 and its analyses on any local causal language model (docs/card.md)."""
