"""The pre-caching task of Wu, Morris & Levine (2024).

y_n = z_n * sum_{i=shift}^{shift+K-1} sin(freq * x_{n-i}) + (1 - z_n) * x_n, with
x_n ~ N(0, 1), z_n ~ Bernoulli(p), x = 0 before the start. With shift = 1 the
quantity sin(freq * x_n) never helps position n itself: only a model that
pre-computes it for later positions can use it. shift = 0 is the control.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import Tensor

from .base import TASKS, Batch, IOSpec, ProbeTarget, Task, band_dependencies


@TASKS.register("sine")
@dataclass(frozen=True)
class SineTask(Task):
    shift: int = 1
    K: int = 10
    freq: float = 10.0
    p: float = 0.5
    huber_delta: float = 1.0

    name: ClassVar[str] = "sine"
    version: ClassVar[int] = 1
    baseline_description: ClassVar[str] = (
        "context-free predictor: x_n when z_n = 0; when z_n = 1 the part of the sum "
        "computable from x_n alone (sin(freq x_n) if shift = 0, else 0)"
    )

    def __post_init__(self) -> None:
        if self.shift not in (0, 1):
            raise ValueError(f"sine: shift must be 0 or 1, got {self.shift}")
        if self.K < 1:
            raise ValueError(f"sine: K must be >= 1, got {self.K}")
        if not 0.0 <= self.p <= 1.0:
            raise ValueError(f"sine: p must lie in [0, 1], got {self.p}")

    def check(self, model: Mapping[str, Any], regime: str) -> list[str]:
        """The lags of the last position must lie inside the context; under a myopic regime there must be more lags than
        attention heads (each head could route one raw input to position t, a workaround without pre-caching)."""
        problems = []
        context = model["context"]
        if self.shift + self.K > context:  # the lags of the last position would start before the sequence
            problems.append(
                f"{{task}}.K = {self.K} reaches beyond the context {{context}} = {context}; allowed values: "
                f"K <= context - shift = {context - self.shift}"
            )
        heads = model["n_layer"] * model["n_head"]
        if regime != "standard" and self.K <= heads:
            problems.append(
                f"{{task}}.K = {self.K} is not larger than the {heads} attention heads (n_layer x n_head) of a myopic "
                f"condition in {{experiment}}: each head could route one raw input to position t, a workaround without "
                f"pre-caching; allowed values: K > {heads}"
            )
        return problems

    @property
    def input_spec(self) -> IOSpec:
        return IOSpec("continuous", 2)

    @property
    def output_spec(self) -> IOSpec:
        return IOSpec("continuous", 1)

    def sample(self, n: int, context: int, generator: torch.Generator) -> Batch:
        x = torch.randn(n, context, generator=generator)
        z = (torch.rand(n, context, generator=generator) < self.p).float()
        waves = torch.sin(self.freq * x)
        lag = self.shift + self.K - 1
        padded = torch.nn.functional.pad(waves, (lag, 0))  # x = 0 before the start: sin(0) = 0
        lagged_sum = sum(padded[:, lag - i : lag - i + context] for i in range(self.shift, self.shift + self.K))
        y = z * lagged_sum + (1 - z) * x
        return Batch(inputs=torch.stack([x, z], dim=-1), targets=y, features={"sin_x": waves})

    def loss_per_position(self, prediction: Tensor, targets: Tensor) -> Tensor:
        # Huber written out: torch.func.vmap (M7's batched weight steps) mis-broadcasts the fused
        # huber_loss kernel when only the prediction is batched; elementwise ops batch correctly.
        error = (prediction.squeeze(-1) - targets).abs()
        return torch.where(error < self.huber_delta, 0.5 * error**2, self.huber_delta * (error - 0.5 * self.huber_delta))

    def dependencies(self, batch: Batch) -> Tensor:
        """s = t always (z_t chooses the branch; x_t is the target when z_t = 0); sources t - shift - K + 1 .. t - shift when z_t = 1.

        When z_t = 0 the target is x_t, a function of position t alone, so the lagged sources
        count only in rows with z_t = 1 (sources before the start are x = 0 and not inputs).
        """
        n, context = batch.inputs.shape[:2]
        lagged = band_dependencies(n, context, self.shift, self.shift + self.K - 1)
        own = torch.eye(context, dtype=torch.bool).expand(n, context, context)
        gate = batch.inputs[..., 1].bool().unsqueeze(-1)  # (B, T, 1): z_t
        return own | (lagged & gate)

    def context_free_prediction(self, batch: Batch) -> Tensor:
        x, z = batch.inputs[..., 0], batch.inputs[..., 1]
        own = torch.sin(self.freq * x) if self.shift == 0 else torch.zeros_like(x)
        # The unknown rest of the sum is symmetric about 0, so 0 is its best Huber point estimate.
        return (z * own + (1 - z) * x).unsqueeze(-1)

    def optimal_loss(self, context: int) -> float:
        """0: the target is a deterministic function of inputs the model sees (x_{n-i}, z_n, x_n; x = 0 before the start)."""
        return 0.0

    def probe_features(self, batch: Batch) -> dict[str, ProbeTarget]:
        """sin(freq x_s): with shift = 1 only later positions use it, so a myopic model has no reason to compute it."""
        waves = torch.sin(self.freq * batch.inputs[..., 0])
        return {"sin_freq_x": ProbeTarget(torch.ones_like(waves, dtype=torch.bool), waves.unsqueeze(-1))}
