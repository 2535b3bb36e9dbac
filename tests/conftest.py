"""Shared fixtures: tiny models in double precision, so references agree to float round-off."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch
from workflow_helpers import smoke_config, snakemake, write_config

from analysis.models import GPT, build_model
from analysis.tasks import build_task

ENCODINGS = ["learned", "sinusoidal", "rope", "alibi", "none"]
# Workflow tests run Snakemake, the smoke study or the tutorial end to end (minutes; a unit test takes seconds):
# every test of these files, and every test that needs the smoke study. `make test-unit` leaves them out.
WORKFLOW_FILES = {"test_workflow.py", "test_workflow_faults.py", "test_workflow_scaling.py", "test_tutorial.py"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.name in WORKFLOW_FILES or "smoke_study" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.workflow)


@pytest.fixture(autouse=True)
def _deterministic() -> None:
    torch.manual_seed(0)


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


@pytest.fixture(scope="session")
def smoke_study(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The whole Snakemake DAG run once on the smoke profile in a scratch directory: (workdir, configfile)."""
    workdir = tmp_path_factory.mktemp("smoke")
    configfile = write_config(workdir / "smoke.yaml", smoke_config())
    snakemake(workdir, configfile)
    return workdir, configfile
