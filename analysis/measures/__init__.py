"""Gradient-flow measures (STUDY.md section 4)."""
