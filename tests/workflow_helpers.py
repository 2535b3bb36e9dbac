"""Run the Snakemake workflow of this repository in a scratch directory."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
SNAKEFILE = REPO / "workflow" / "Snakefile"
SNAKEMAKE = Path(sys.executable).parent / "snakemake"


def snakemake(workdir: Path, configfile: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    command = [
        str(SNAKEMAKE), "--snakefile", str(SNAKEFILE), "--directory", str(workdir),
        "--workflow-profile", str(REPO / "workflow" / "profiles" / "default"),
        "--configfile", str(configfile), "--cores", "2", *args,
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600)
    if check and result.returncode != 0:
        raise AssertionError(f"snakemake failed ({result.returncode}):\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result


def planned_jobs(workdir: Path, configfile: Path) -> list[tuple[str, str]]:
    """(rule, wildcards) of every job a dry run would execute."""
    output = snakemake(workdir, configfile, "--dry-run").stdout
    return re.findall(r"^rule (\w+):\n(?:    (?:input|output|log|benchmark|jobid|reason|threads|resources): .*\n)*(?:    wildcards: (.*)\n)?", output, re.M)


def write_config(path: Path, config: dict) -> Path:
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def smoke_config() -> dict:
    return yaml.safe_load((REPO / "config" / "smoke.yaml").read_text())
