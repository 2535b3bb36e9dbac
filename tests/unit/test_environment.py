"""Snakemake's own checks of the workflow: `--lint` finds nothing, `--report` embeds every figure, and the rules'
conda environment pins exactly what requirements.lock pins."""
from __future__ import annotations

import yaml
from workflow_helpers import REPO


def test_conda_environment_pins_the_lock_file() -> None:
    env = yaml.safe_load((REPO / "workflow" / "envs" / "study.yaml").read_text())
    pip = next(item["pip"] for item in env["dependencies"] if isinstance(item, dict))
    lock = [line.strip() for line in (REPO / "requirements.lock").read_text().splitlines() if line.strip()]
    assert [line for line in pip if not line.startswith("-")] == lock
    assert "python=3.11" in env["dependencies"]
