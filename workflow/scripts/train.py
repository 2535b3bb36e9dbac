"""Snakemake job: train one run (see analysis.training)."""
import json
from pathlib import Path

from analysis.config import RunSpec
from analysis.logs import log_to
from analysis.training import train_run

with log_to(snakemake.log[0]):  # noqa: F821 (snakemake injects this object)
    spec = RunSpec.from_dict(json.loads(snakemake.params.spec))  # noqa: F821
    train_run(spec, Path(snakemake.output.record).parent, threads=snakemake.threads)  # noqa: F821
