"""Seed-level statistics: each claim's decision, the descriptive analyses and the inference they share."""
