"""Tiny models, tasks and batches in double precision, so references agree to float round-off (imported by the
unit tests as ``from tiny import ...``; ``conftest`` holds fixtures only, and tests/workflow has its own)."""
from __future__ import annotations

import torch

from analysis.models import GPT, POSITIONAL_ENCODINGS, build_model
from analysis.tasks import build_task

ENCODINGS = POSITIONAL_ENCODINGS.names()  # every registered encoding: a new one is tested without a line here


def tiny_model(pos_encoding: str = "learned", task_kind: str = "markov", n_layer: int = 2, context: int = 6) -> GPT:
    task = tiny_task(task_kind)
    architecture = {"n_layer": n_layer, "d_model": 8, "n_head": 2, "context": context, "pos_encoding": pos_encoding, "mlp_ratio": 4}
    model = build_model(task.input_spec, task.output_spec, architecture).double()
    with torch.no_grad():  # break the symmetry of the small init so every path carries gradient
        for parameter in model.parameters():
            parameter.add_(0.3 * torch.randn_like(parameter))
    return model


def tiny_task(kind: str = "markov"):
    if kind == "markov":
        return build_task({"name": "markov", "vocab": 5, "order": 1, "alpha": 0.5})
    return build_task({"name": "sine", "shift": 1, "K": 2, "freq": 3.0, "p": 0.5})


def tiny_batch(kind: str = "markov", n: int = 3, context: int = 6):
    batch = tiny_task(kind).sample(n, context, torch.Generator().manual_seed(1))
    inputs = batch.inputs.double() if batch.inputs.is_floating_point() else batch.inputs
    return inputs, batch.targets.double() if batch.targets.is_floating_point() else batch.targets
