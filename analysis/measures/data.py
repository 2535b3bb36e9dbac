"""The held-out data a run is measured on, and the per-checkpoint gradients several measures share."""
from __future__ import annotations

import copy
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

import torch

from ..device import ComputeSettings
from ..held_out import evaluation_batch, held_out_batch, held_out_stream
from ..models import GPT
from ..tasks import Batch, Task, build_task
from .gradient_matrix import gradient_matrix
from .probes import SPLITS

if TYPE_CHECKING:
    from ..spec import RunSpec


@dataclass
class RunData:
    """The held-out data a run is measured on: drawn per seed, shared by every regime of that seed."""

    spec: RunSpec
    _matrix: tuple[GPT, torch.Tensor] | None = None
    optimizer_state: dict[str, Any] | None = None  # the loaded checkpoint's AdamW state (``measures.run.load_model``)

    @cached_property
    def task(self) -> Task:
        return build_task(self.spec.task)

    def sample(self, stream: str, n: int) -> Batch:
        return held_out_batch(self.task, self.spec, stream, n)

    def stream(self, name: str) -> torch.Generator:
        return held_out_stream(self.spec, name)

    @cached_property
    def weight_batch(self) -> Batch:
        """The ``weight_sequences`` sequences M7 reads (weight and context channel), a stream of their own."""
        return self.sample("weight-channel", self.spec.measure["weight_sequences"])

    @cached_property
    def gradient_batch(self) -> Batch:
        """Sequences for the gradient measures M1, M3 (all of them) and M5 (their first few)."""
        return self.sample("measure", self.spec.measure["n_sequences"])

    @cached_property
    def evaluation(self) -> Batch:
        """The sequences the training record's held-out loss is computed on."""
        return evaluation_batch(self.task, self.spec, self.spec.train["eval_sequences"])

    @cached_property
    def probe_splits(self) -> dict[str, Batch]:
        return {split: self.sample(f"probe-{split}", self.spec.measure["probe_sequences"]) for split in SPLITS}

    @cached_property
    def dependencies(self) -> torch.Tensor | None:
        """(N, T, T) bool: which inputs each target of the gradient batch needs; None where unknown (text)."""
        return self.task.dependencies(self.gradient_batch)

    def gradient_matrix(self, model: GPT) -> torch.Tensor:
        """M1 per sequence, (N, L+1, T, T) on the CPU, computed once per checkpoint (M1 and its dependency share)."""
        if self._matrix is None or self._matrix[0] is not model:
            batch, settings = self.gradient_batch, self.spec.measure
            device = ComputeSettings.resolve(self.spec.train).device  # fp32 on the run's device (a GPU if it trained on one)
            # equivalent mutant (every one of this line, where the tests run: a CPU): the model and a copy of it on the
            # CPU give the same numbers; only a run on a GPU could tell them apart
            on_device = model if device.type == "cpu" else copy.deepcopy(model).to(device)  # pragma: no mutate
            per_sequence = gradient_matrix(
                # equivalent mutant: .to(None) leaves a CPU tensor where it is (the tests run on a CPU)
                on_device, batch.inputs.to(device), batch.targets.to(device), self.task.loss_per_position,
                method=settings["method"], batch_size=settings["batch_size"], max_memory_mb=settings["max_memory_mb"],
            ).cpu()
            self._matrix = (model, per_sequence)
        return self._matrix[1]

    def first(self, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.gradient_batch.inputs[:n], self.gradient_batch.targets[:n]
