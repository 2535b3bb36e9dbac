"""Seed-level statistics (STUDY.md section 5)."""
