"""Snakemake job: train each run of one (condition, seed block), then measure each of its checkpoints."""
import json
from pathlib import Path

from analysis.config import RunSpec
from analysis.io import write_json
from analysis.logs import log_to
from analysis.measures.run import measure_run
from analysis.training import checkpoint_path, train_run

with log_to(snakemake.log[0]):  # noqa: F821 (snakemake injects this object)
    for spec_dict in json.loads(snakemake.params.specs):  # noqa: F821
        spec = RunSpec.from_dict(spec_dict)
        run_dir = Path(snakemake.params.results) / "runs" / spec.run_id  # noqa: F821
        record = train_run(spec, run_dir, threads=snakemake.threads)  # noqa: F821
        checkpoints = {step: checkpoint_path(run_dir, step) for step in record["checkpoint_steps"]}
        write_json(run_dir / "measure_timing.json", measure_run(spec, checkpoints, run_dir, snakemake.threads))  # noqa: F821
        print(f"{spec.run_id}: trained and measured")
