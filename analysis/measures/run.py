"""Apply every registered measure to every checkpoint of one run and write one tidy table per measure.

A measure is one function (model, held-out data) -> table plus one registration in
``MEASURES``; this module adds the run's condition, seed and checkpoint step, times
each measure, and writes ``<name>.csv`` in the run folder. M2 (profiles) is derived
from M1 in the statistics stage; M4's gap pairs runs, so it is formed there too.
"""
from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import pandas as pd
import torch

from ..config import RunSpec
from ..device import ComputeSettings
from ..io import load_checkpoint, write_table
from ..models import GPT, build_model
from ..registry import Registry
from ..seeding import EVALUATION_SEED, generator
from ..tasks import Batch, Task, build_task
from ..training import evaluation_batch
from .attention import attention_mass_table, attention_weights
from .context_distance import context_distance_table
from .decomposition import decomposition_table
from .dependency import dependency_share
from .gradient_matrix import gradient_matrix
from .myopia import position_loss_table
from .parameters import SequenceGradients, sequence_gradients
from .probes import SPLITS, probe_table
from .reachability import reachability_table
from .weight_channel import context_channel_table, weight_channel_from_gradients


def load_model(path: str | Path, data: RunData) -> GPT:
    """A checkpoint's weights in the model the run's spec builds, as training built it."""
    payload = load_checkpoint(path)
    model = build_model(data.task.input_spec, data.task.output_spec, data.spec.model)
    model.load_state_dict(payload["model"])
    return model.eval()


@dataclass
class RunData:
    """The held-out data a run is measured on: identical for every seed and regime of a task."""

    spec: RunSpec
    _gradients: tuple[GPT, SequenceGradients] | None = None
    _matrix: tuple[GPT, torch.Tensor] | None = None

    @cached_property
    def task(self) -> Task:
        return build_task(self.spec.task)

    def sample(self, stream: str, n: int) -> Batch:
        source = generator(EVALUATION_SEED, f"{stream}:{self.spec.task_label}")
        return self.task.held_out().sample(n, self.spec.model["context"], source)

    @cached_property
    def gradient_batch(self) -> Batch:
        """Sequences for the gradient measures M1, M3 (all of them) and M5, M7 (their first few)."""
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
            on_device = model if device.type == "cpu" else copy.deepcopy(model).to(device)
            per_sequence = gradient_matrix(
                on_device, batch.inputs.to(device), batch.targets.to(device), self.task.loss_per_position,
                method=settings["method"], batch_size=settings["batch_size"], max_memory_mb=settings["max_memory_mb"],
            ).cpu()
            self._matrix = (model, per_sequence)
        return self._matrix[1]

    def first(self, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.gradient_batch.inputs[:n], self.gradient_batch.targets[:n]

    def weight_gradients(self, model: GPT, n: int) -> SequenceGradients:
        """Per-target weight gradients of the first ``n`` sequences, computed once per checkpoint (M5, M7)."""
        needed = self.spec.measure["weight_sequences"]
        if self._gradients is None or self._gradients[0] is not model:
            # On the run's device (a GPU if it trained on one): these fp64 gradients are most of M5/M7's cost.
            device = ComputeSettings.resolve(self.spec.train).device
            self._gradients = (model, sequence_gradients(model, *self.first(needed), self.task.loss_per_position, device=device))
        full = self._gradients[1]
        return SequenceGradients(full.model, full.inputs[:n], full.targets[:n], full.grads[:n], full.losses[:n])


@dataclass(frozen=True)
class Measure:
    name: str  # the table's file stem
    compute: Callable[[GPT, RunData], pd.DataFrame]
    applies: Callable[[RunData], bool] = lambda data: True
    ends_only: bool = False  # measured at initialisation and at the end of training only

    def selected(self, data: RunData) -> bool:
        """Whether this run measures it: it applies to the run's task and regime, and the config selects it."""
        only = data.spec.measure.get("only")
        return (only is None or self.name in only) and self.applies(data)


MEASURES: Registry[Measure] = Registry("measure")


def register(measure: Measure) -> Measure:
    return MEASURES.register(measure.name)(measure)


def _gradient_matrix(model: GPT, data: RunData) -> pd.DataFrame:
    """M1: one row per (layer, t, s <= t) with mean and median over sequences."""
    per_sequence = data.gradient_matrix(model)  # (N, L+1, T, T)
    mean, median = per_sequence.mean(0), per_sequence.median(0).values
    length = per_sequence.shape[-1]
    t_index, s_index = torch.tril_indices(length, length)
    return pd.concat(
        [
            pd.DataFrame(
                {
                    "layer": layer,
                    "t": t_index.numpy(),
                    "s": s_index.numpy(),
                    "distance": (t_index - s_index).numpy(),
                    "grad_norm_mean": mean[layer, t_index, s_index].numpy(),
                    "grad_norm_median": median[layer, t_index, s_index].numpy(),
                }
            )
            for layer in range(per_sequence.shape[1])
        ],
        ignore_index=True,
    )


register(Measure("m1_gradient_matrix", _gradient_matrix))
register(
    Measure(
        "m1_dependency_share",
        lambda model, data: dependency_share(data.gradient_matrix(model), data.dependencies),
        applies=lambda data: data.dependencies is not None,  # tasks whose needed positions are known (not text)
        ends_only=True,  # architecture (initialisation) against trained; M1 itself keeps every checkpoint
    )
)
register(
    Measure(
        "m3_decomposition",
        lambda model, data: decomposition_table(
            model, data.gradient_batch.inputs, data.gradient_batch.targets, data.task.loss_per_position
        ),
    )
)
register(
    Measure(
        "m4_position_loss",
        lambda model, data: position_loss_table(
            model, data.evaluation.inputs, data.evaluation.targets, data.task.loss_per_position
        ),
    )
)
register(
    Measure(
        "m5_reachability",
        lambda model, data: reachability_table(
            model, *data.first(data.spec.measure["coverage_sequences"]), data.task.loss_per_position
        ),
        ends_only=True,  # structural: the same at every checkpoint; the end points check it against the weights
    )
)
register(
    Measure(
        "m6_probes",
        lambda model, data: probe_table(model, data.task, data.probe_splits),
        applies=lambda data: bool(data.task.probe_features(data.sample("probe-check", 1))),
    )
)


def _weight_channel(model: GPT, data: RunData) -> pd.DataFrame:
    """M7 weight channel on the first sequences, each step also scored on a held-out comparison sequence."""
    n = data.spec.measure["weight_sequences"]
    other = data.sample("weight-channel-other", n)
    return weight_channel_from_gradients(
        data.weight_gradients(model, n), data.task.loss_per_position,
        lr=data.spec.train["lr"], tokens_per_step=data.spec.train["batch_size"] * data.spec.model["context"],
        others=(other.inputs, other.targets),
    )


register(
    Measure(
        "m7_weight_channel",
        _weight_channel,
        applies=lambda data: data.spec.train["regime"] == "standard",  # C6 asks about ordinary training only
        ends_only=True,  # "on a trained model" (STUDY.md), with initialisation as the control
    )
)
register(
    Measure(
        "m7_context_channel",
        lambda model, data: context_channel_table(
            model, *data.first(data.spec.measure["weight_sequences"]), data.task.loss_per_position,
            generator(EVALUATION_SEED, f"shuffle:{data.spec.task_label}"),
        ),
        ends_only=True,
    )
)
register(
    Measure(
        "m7_context_distance",  # C4's information half: loss with the context beyond distance D removed or shuffled
        lambda model, data: context_distance_table(
            model, *data.first(data.spec.measure["weight_sequences"]), data.task.loss_per_position,
            generator(EVALUATION_SEED, f"shuffle-distance:{data.spec.task_label}"),
        ),
        ends_only=True,
    )
)

register(
    Measure(
        "m8_attention_mass",  # attention sinks: the mass each source position receives, per layer and head
        lambda model, data: attention_mass_table(attention_weights(model, data.gradient_batch.inputs)),
    )
)


def measure_checkpoints(spec: RunSpec, checkpoints: dict[int, Path]) -> tuple[dict[str, pd.DataFrame], dict[str, float]]:
    """Every measure at every checkpoint: (tables by measure name, seconds by measure name)."""
    data = RunData(spec)
    frames: dict[str, list[pd.DataFrame]] = {name: [] for name in MEASURES.names()}
    seconds = dict.fromkeys(MEASURES.names(), 0.0)
    ends = {min(checkpoints), max(checkpoints)}
    for step, path in sorted(checkpoints.items()):
        model = load_model(path, data)
        for name in MEASURES.names():
            measure = MEASURES.get(name)
            if not measure.selected(data) or (measure.ends_only and step not in ends):
                continue
            started = time.perf_counter()
            frames[name].append(measure.compute(model, data).assign(step=step))
            seconds[name] += time.perf_counter() - started
    tables = {}
    for name, parts in frames.items():
        table = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame({"step": []})
        table = table[["step", *[c for c in table.columns if c != "step"]]]
        table.insert(0, "seed", spec.seed)
        table.insert(0, "condition", spec.condition)
        tables[name] = table
    return tables, seconds


def measure_run(spec: RunSpec, checkpoints: dict[int, Path], out_dir: str | Path, threads: int = 1) -> dict[str, float]:
    """Write every measure table of one run (``<name>.csv``); return wall seconds per measure."""
    torch.set_num_threads(threads)
    tables, seconds = measure_checkpoints(spec, checkpoints)
    for name, table in tables.items():
        write_table(Path(out_dir) / f"{name}.csv", table)
    return {f"{name}_s": value for name, value in seconds.items()}
