"""Shared fixtures. The folder is the split: ``tests/unit/`` runs in seconds per file (``make test-unit``),
``tests/workflow/`` runs Snakemake, the smoke study or the tutorial end to end (minutes). The tiny models the unit
tests share are in ``tests/tiny.py``."""
from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True)
def _deterministic() -> None:
    torch.manual_seed(0)
