"""Gradient-flow measures (docs/measures.md): a new measure is one module here that registers its table
(``base.register``), plus one import line below."""
from __future__ import annotations

from . import (  # noqa: F401  (registration happens on import)
    attention,
    context_distance,
    decomposition,
    dependency,
    gradient_matrix,
    intervention,
    myopia,
    probes,
    reachability,
    weight_channel,
)
from .base import MEASURES, Measure, register

__all__ = ["MEASURES", "Measure", "register"]
