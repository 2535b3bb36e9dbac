"""Snakemake job: train one run, then measure each of its checkpoints (analysis.training, analysis.measures)."""
import json
from pathlib import Path

from analysis.config import RunSpec
from analysis.io import write_json
from analysis.logs import log_to
from analysis.measures.run import measure_run
from analysis.training import checkpoint_path, train_run

with log_to(snakemake.log[0]):  # noqa: F821 (snakemake injects this object)
    spec = RunSpec.from_dict(json.loads(snakemake.params.spec))  # noqa: F821
    run_dir = Path(snakemake.output.record).parent  # noqa: F821
    record = train_run(spec, run_dir, threads=snakemake.threads)  # noqa: F821
    checkpoints = {step: checkpoint_path(run_dir, step) for step in record["checkpoint_steps"]}
    write_json(snakemake.output.timing, measure_run(spec, checkpoints, run_dir, snakemake.threads))  # noqa: F821
