"""Snakemake job: train each run of one (condition, seed block), then measure each of its checkpoints.

Faults: a run continues from its resume state if an earlier attempt was killed, and runs
of the block that had finished are not retrained (``analysis.resume``). A run whose loss
becomes NaN or infinite is recorded as ``diverged`` with marked placeholder outputs
(``analysis.outcomes``) and the job goes on; any other error fails the job.
"""
import json
from pathlib import Path

from analysis.config import RunSpec
from analysis.io import write_json
from analysis.logs import log_to
from analysis.measures.run import MEASURES, measure_run
from analysis.outcomes import write_diverged_run
from analysis.provenance import git_commit, package_versions
from analysis.resume import discard_state
from analysis.training import Diverged, checkpoint_path, train_run

with log_to(snakemake.log[0]):
    specs = [RunSpec.from_dict(spec_dict) for spec_dict in json.loads(snakemake.params.specs)]
    run_dirs = [Path(snakemake.params.results) / "runs" / spec.run_id for spec in specs]
    for run_dir in run_dirs:  # temporary files of writes a kill interrupted (never outputs: see analysis.io)
        for stale in run_dir.glob(".*.tmp"):
            stale.unlink()
    for spec, run_dir in zip(specs, run_dirs, strict=True):
        try:
            record = train_run(spec, run_dir, threads=snakemake.threads)
        except Diverged as diverged:
            provenance = {"git_commit": git_commit(), "packages": package_versions(), "device": diverged.device}
            write_diverged_run(run_dir, spec.to_dict(), diverged.step, diverged.loss, str(diverged), diverged.log,
                               MEASURES.names(), provenance)
            print(f"DIVERGED: {diverged}. Recorded with status 'diverged'; statistics exclude this run "
                  "and list it in tables/missing_runs.csv")
            continue
        checkpoints = {step: checkpoint_path(run_dir, step) for step in record["checkpoint_steps"]}
        write_json(run_dir / "measure_timing.json", measure_run(spec, checkpoints, run_dir, snakemake.threads))
        print(f"{spec.run_id}: trained and measured")
    for run_dir in run_dirs:  # every run of the block is done: nothing left to resume
        discard_state(run_dir)
