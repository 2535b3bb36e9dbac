"""The smoke study, run once per session for the workflow tests that read its results."""
from __future__ import annotations

from pathlib import Path

import pytest
from workflow_helpers import smoke_config, snakemake, write_config


@pytest.fixture(scope="session")
def smoke_study(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The whole Snakemake DAG run once on the smoke profile in a scratch directory: (workdir, configfile)."""
    workdir = tmp_path_factory.mktemp("smoke")
    configfile = write_config(workdir / "smoke.yaml", smoke_config())
    snakemake(workdir, configfile)
    return workdir, configfile
