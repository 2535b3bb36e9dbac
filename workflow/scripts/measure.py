"""Snakemake job: measure every checkpoint of one run (see analysis.measures)."""
import json
from pathlib import Path

from analysis.config import RunSpec
from analysis.io import read_json, write_json
from analysis.logs import log_to
from analysis.measures.run import measure_run
from analysis.training import checkpoint_path

with log_to(snakemake.log[0]):  # noqa: F821 (snakemake injects this object)
    spec = RunSpec.from_dict(json.loads(snakemake.params.spec))  # noqa: F821
    run_dir = Path(snakemake.input.record).parent  # noqa: F821
    steps = read_json(snakemake.input.record)["checkpoint_steps"]  # noqa: F821
    timing = measure_run(spec, {step: checkpoint_path(run_dir, step) for step in steps}, run_dir, snakemake.threads)  # noqa: F821
    write_json(snakemake.output.timing, timing)  # noqa: F821
