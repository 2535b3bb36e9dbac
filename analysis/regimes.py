"""Training regimes: what the loss at position t may send gradient into.

Every regime leaves the forward pass unchanged; it only decides where the gradient
through the keys/values of the *earlier* positions s < t goes (position t's own
key/value at s = t is always fully live):

* ``standard``: everywhere: to the key/value weights and to earlier hidden states.
* ``myopic-state``: keys/values recomputed from the *detached* hidden states with
  the live weights (Wu, Morris & Levine 2024): no gradient reaches earlier hidden
  states, but the key/value weights (and their LayerNorm) still learn through
  earlier positions.
* ``myopic-full``: keys/values detached outright: L_t trains the weights only
  through position t's own computation.

How attention implements the routing cheaply is in ``analysis/models/myopic_routing.py``;
``tests/references.py`` computes each regime's gradient one position at a time.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

PastGradient = Literal["everywhere", "weights", "nowhere"]


@dataclass(frozen=True)
class Regime:
    name: str
    past_gradient: PastGradient  # where gradient through an earlier position's key/value goes

    def __post_init__(self) -> None:
        allowed = get_args(PastGradient)
        if self.past_gradient not in allowed:
            raise ValueError(f"regime {self.name!r}: past_gradient {self.past_gradient!r} is not one of {', '.join(allowed)}")

    @property
    def myopic(self) -> bool:
        return self.past_gradient != "everywhere"


STANDARD = Regime("standard", "everywhere")
MYOPIC_STATE = Regime("myopic-state", "weights")
MYOPIC_FULL = Regime("myopic-full", "nowhere")
REGIMES: dict[str, Regime] = {regime.name: regime for regime in (STANDARD, MYOPIC_STATE, MYOPIC_FULL)}  # by config name
