"""Associative recall (induction): a value can only be predicted by looking back to its key.

Tokens ``0 .. n_keys-1`` are keys and ``n_keys .. n_keys+n_values-1`` are values.
A sequence is a stream of (key, value) pairs that always starts with a key. Each
sequence draws its own mapping (every key gets a value uniformly at random, so
two keys may share a value), and the key of every pair is drawn uniformly, so a
key recurs at a random distance. The token after a key is that key's value.
Next-token prediction on all positions: inputs = tokens[:-1], targets = tokens[1:].

Targets alternate: position t = 2j predicts the value of pair j (free if pair j's
key already occurred, else uniform over n_values), position t = 2j+1 predicts the
next key (always uniform over n_keys). Everything the Bayes predictor can gain
beyond the context-free baseline therefore comes from attending back.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import Tensor

from .base import IMPOSSIBLE_LOGIT, TASKS, Batch, ProbeTarget, TokenTask


@TASKS.register("recall")
@dataclass(frozen=True)
class RecallTask(TokenTask):
    n_keys: int = 8
    n_values: int = 8

    name: ClassVar[str] = "recall"
    version: ClassVar[int] = 1
    baseline_description: ClassVar[str] = (
        "context-free predictor that sees only its own input token: uniform over the "
        "values after a key, uniform over the keys after a value (loss log n_values on "
        "value targets, log n_keys on key targets)"
    )

    def __post_init__(self) -> None:
        if self.n_keys < 2:
            raise ValueError(f"recall: n_keys must be >= 2, got {self.n_keys}")
        if self.n_values < 2:
            raise ValueError(f"recall: n_values must be >= 2, got {self.n_values}")

    @property
    def vocab(self) -> int:
        return self.n_keys + self.n_values

    def sample(self, n: int, context: int, generator: torch.Generator) -> Batch:
        if context < 1:
            raise ValueError(f"recall: context must be >= 1, got {context}")
        pairs = (context + 2) // 2  # enough pairs for context + 1 tokens
        mapping = torch.randint(self.n_values, (n, self.n_keys), generator=generator)
        keys = torch.randint(self.n_keys, (n, pairs), generator=generator)
        values = mapping.gather(1, keys) + self.n_keys
        tokens = torch.stack([keys, values], dim=-1).flatten(1)[:, : context + 1]
        return Batch(inputs=tokens[:, :-1], targets=tokens[:, 1:], features=self._features(keys, context))

    def _features(self, keys: Tensor, context: int) -> dict[str, Tensor]:
        """Per-position probe quantities: which targets are values, and how far back their answer is."""
        pairs = keys.shape[1]
        index = torch.arange(pairs)
        earlier = index[None, :] < index[:, None]  # [j, i]: pair i precedes pair j
        same_key = (keys[:, :, None] == keys[:, None, :]) & earlier
        last = torch.where(same_key, index, -1).amax(-1)  # latest earlier pair with the same key, or -1
        # Position t = 2j predicts value j; its answer sits at input position 2*last + 1.
        value_distance = torch.where(last >= 0, 2 * index - (2 * last + 1), -1)
        key_filler = torch.full_like(value_distance, -1)
        repeat_distance = torch.stack([value_distance, key_filler], dim=-1).flatten(1)[:, :context]
        is_value_target = (torch.arange(context) % 2 == 0).expand(keys.shape[0], context)
        bayes_loss = torch.where(
            is_value_target,
            torch.where(repeat_distance >= 0, 0.0, math.log(self.n_values)),
            math.log(self.n_keys),
        )
        return {"is_value_target": is_value_target, "repeat_distance": repeat_distance, "bayes_loss": bayes_loss}

    def probe_features(self, batch: Batch) -> dict[str, ProbeTarget]:
        """At a value's position, the key it is bound to (one-hot).

        The value position's own target is a fresh random key, so it never needs this
        binding; only a later repeat of the key does. Carrying it is pre-caching.
        """
        tokens = batch.inputs
        is_value = tokens >= self.n_keys
        previous = torch.nn.functional.pad(tokens[:, :-1], (1, 0), value=0)
        mask = is_value & (torch.arange(tokens.shape[1]) > 0)
        one_hot = torch.nn.functional.one_hot(previous.clamp(max=self.n_keys - 1), self.n_keys).to(torch.float64)
        return {"pair_key": ProbeTarget(mask, one_hot)}

    def dependencies(self, batch: Batch) -> Tensor:
        """The own input always (its type says whether a key or a value comes next); at a key, every earlier pair with that key.

        A position holding key k predicts k's value. Every earlier occurrence of k at s holds
        the answer in its (key s, value s + 1) pair; any one of them suffices, so all count.
        A key seen for the first time, and every key target (a fresh uniform key), need
        nothing beyond the own input. Read from ``inputs`` alone.
        """
        tokens = batch.inputs
        context = tokens.shape[1]
        earlier = torch.ones(context, context, dtype=torch.bool).tril(-1)  # [t, s]: s < t
        is_key = tokens < self.n_keys
        same_key = (tokens[:, :, None] == tokens[:, None, :]) & is_key[:, :, None] & earlier  # [b, t, s]: key at s repeats at t
        value_of = torch.nn.functional.pad(same_key[:, :, :-1], (1, 0))  # [b, t, s + 1]: the value after that key
        own = torch.eye(context, dtype=torch.bool).expand_as(same_key)
        return own | same_key | value_of

    def context_free_prediction(self, batch: Batch) -> Tensor:
        """Uniform over the token type that must come next; the input's type fixes it without context."""
        is_key = torch.arange(self.vocab) < self.n_keys
        after_key = torch.where(is_key, IMPOSSIBLE_LOGIT, -math.log(self.n_values))
        after_value = torch.where(is_key, -math.log(self.n_keys), IMPOSSIBLE_LOGIT)
        input_is_key = (batch.inputs < self.n_keys).unsqueeze(-1)
        return torch.where(input_is_key, after_key, after_value)

    def optimal_loss(self, context: int) -> float | None:
        """Exact expected Bayes loss per position, in nats.

        Key targets (odd t) cost log n_keys. The value target at t = 2j is free iff
        pair j's key occurred among the j earlier pairs, which fails with
        probability (1 - 1/n_keys)**j; then it costs log n_values.
        """
        miss = 1.0 - 1.0 / self.n_keys
        total = sum(
            math.log(self.n_values) * miss ** (t // 2) if t % 2 == 0 else math.log(self.n_keys) for t in range(context)
        )
        return total / context
