"""The known-distance task: the target at t is a fixed random relabelling of the token ``distance`` back.

Tokens x_t are i.i.d. uniform over ``vocab``. A permutation pi of the vocabulary is
drawn once from ``map_seed`` (the same task for every training seed). The target at
t is pi(x_{t-d}) for t >= d, so all the information a target needs sits at one known
source, d positions back; an identity copy is ruled out because pi is learned.

The first d positions have no token d back. Their target is pi(x_t), a function of the
own input: the task stays defined everywhere, every position is trained with the same
cross-entropy, and the optimal loss is 0 at every position. Rows t < d are the
"own input" rows of ``dependencies``; analyses of distance use rows t >= d.

Not next-token prediction: inputs and targets are different sequences (the target
at t is not the input at t + 1), which is what makes the dependency distance known.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any, ClassVar

import torch
from torch import Tensor

from .base import IMPOSSIBLE_LOGIT, TASKS, Batch, TokenTask, band_dependencies


@TASKS.register("lag")
@dataclass(frozen=True)
class LagTask(TokenTask):
    vocab: int = 16
    distance: int = 4
    map_seed: int = 4321

    name: ClassVar[str] = "lag"
    version: ClassVar[int] = 1
    baseline_description: ClassVar[str] = (
        "context-free predictor that sees only its own input token: pi(x_t) at the first d "
        "positions (loss 0), uniform over the vocabulary from position d on (loss log vocab)"
    )

    def __post_init__(self) -> None:
        for key in ("vocab", "distance", "map_seed"):
            value = getattr(self, key)
            if not isinstance(value, int) or isinstance(value, bool):
                raise ValueError(f"lag: {key} must be an integer, got {value!r}")
        if self.vocab < 2:
            raise ValueError(f"lag: vocab must be >= 2 (one token carries no information), got {self.vocab}")
        if self.distance < 1:
            raise ValueError(f"lag: distance must be >= 1 (the target at t needs the token at t - distance), got {self.distance}")
        if self.map_seed < 0:
            raise ValueError(f"lag: map_seed must be >= 0, got {self.map_seed}")

    def check(self, model: Mapping[str, Any], regime: str) -> list[str]:
        """The distance must be shorter than the context: otherwise no target has its source and the task has no context
        to learn from (``sample`` refuses it too, but only once a job runs)."""
        context = model["context"]
        if self.distance >= context:
            return [f"{{task}}.distance = {self.distance} is not shorter than the context {{context}} = {context}: no target "
                    f"has its source; allowed values: 1 to {context - 1}"]
        return []

    @cached_property
    def permutation(self) -> Tensor:
        """pi as a (vocab,) long tensor: the ranks of uniforms drawn from ``map_seed`` (no dependence on randperm's algorithm)."""
        uniforms = torch.rand(self.vocab, generator=torch.Generator().manual_seed(self.map_seed), dtype=torch.float64)
        return torch.argsort(uniforms, stable=True)

    def sample(self, n: int, context: int, generator: torch.Generator) -> Batch:
        if context <= self.distance:
            raise ValueError(
                f"lag: context must exceed distance ({self.distance}) so that some target depends on context, got {context}"
            )
        tokens = torch.randint(self.vocab, (n, context), generator=generator)
        source = torch.cat([tokens[:, : self.distance], tokens[:, : context - self.distance]], dim=1)
        return Batch(inputs=tokens, targets=self.permutation[source])

    def context_free_prediction(self, batch: Batch) -> Tensor:
        """Exact pi(x_t) where the target is the own token's image (t < d); uniform where it lies in context."""
        context = batch.inputs.shape[1]
        own = torch.nn.functional.one_hot(self.permutation[batch.inputs], self.vocab).bool()
        own_logits = torch.where(own, 0.0, IMPOSSIBLE_LOGIT)
        uniform = torch.zeros_like(own_logits)
        in_context = (torch.arange(context) >= self.distance)[None, :, None]
        return torch.where(in_context, uniform, own_logits)

    def baseline_loss(self, context: int) -> float:
        """(T - d) / T * log(vocab): uniform on the rows with a context source, 0 on the first d (exact, no sampling)."""
        return max(context - self.distance, 0) / context * math.log(self.vocab)

    def optimal_loss(self, context: int) -> float:
        """0: every target is a deterministic function of one input the model sees."""
        return 0.0

    def dependencies(self, batch: Batch) -> Tensor:
        """Source t - d for rows t >= d; the own input for rows t < d."""
        n, context = batch.inputs.shape
        own = torch.eye(context, dtype=torch.bool) & (torch.arange(context) < self.distance)[:, None]
        return own | band_dependencies(n, context, self.distance, self.distance)

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "permutation": self.permutation.tolist()}
