"""Training regimes: what the loss at position t may send gradient into.

Every regime leaves the forward pass unchanged; it only decides which keys and
values position t sees for the *earlier* positions s < t (its own key/value
at s = t is always live):

* ``standard``: the live keys/values; gradient reaches earlier hidden states.
* ``myopic-state``: keys/values recomputed from the *detached* hidden states with
  the live weights (Wu, Morris & Levine 2024): no gradient reaches earlier hidden
  states, but the key/value weights still learn through earlier positions.
* ``myopic-full``: keys/values detached outright: L_t trains the weights only
  through position t's own computation.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from torch import Tensor

from .registry import Registry

KeyValueFn = Callable[[Tensor], tuple[Tensor, Tensor]]


@dataclass(frozen=True)
class Regime:
    name: str
    past: Callable[[Tensor, Tensor, Tensor, KeyValueFn], tuple[Tensor, Tensor] | None]

    def past_keys_values(
        self, h: Tensor, k: Tensor, v: Tensor, keys_values: KeyValueFn
    ) -> tuple[Tensor, Tensor] | None:
        """Keys/values that later positions read for s < t; None means 'the live ones'."""
        return self.past(h, k, v, keys_values)


REGIMES: Registry[Regime] = Registry("regime")


def _register(regime: Regime) -> Regime:
    return REGIMES.register(regime.name)(regime)


STANDARD = _register(Regime("standard", lambda h, k, v, keys_values: None))
MYOPIC_STATE = _register(Regime("myopic-state", lambda h, k, v, keys_values: keys_values(h.detach())))
MYOPIC_FULL = _register(Regime("myopic-full", lambda h, k, v, keys_values: (k.detach(), v.detach())))
