"""One training job: train each run of a (condition, seed block), then measure each of its checkpoints.

Faults: a run continues from its resume state if an earlier attempt was killed, and runs
of the block that had finished are not retrained (``analysis.resume``). A run whose loss
becomes NaN or infinite is recorded as ``diverged`` with marked placeholder outputs
(``analysis.outcomes``) and the job goes on; any other error fails the job.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from .io import write_json
from .measures import MEASURES
from .measures.run import measure_run
from .outcomes import write_diverged_run
from .provenance import git_commit, package_versions
from .resume import discard_state
from .spec import RunSpec
from .training import Diverged, checkpoint_path, train_run


def train_and_measure(spec: RunSpec, run_dir: Path, threads: int) -> None:
    """The run's checkpoints, log, record and measure tables, or its diverged record and placeholders."""
    try:
        record = train_run(spec, run_dir, threads=threads)
    except Diverged as diverged:
        provenance = {"git_commit": git_commit(), "packages": package_versions(), "device": diverged.device}
        write_diverged_run(run_dir, spec.to_dict(), diverged.step, diverged.loss, str(diverged), diverged.log,
                           MEASURES.names(), provenance)
        print(f"DIVERGED: {diverged}. Recorded with status 'diverged'; statistics exclude this run "
              "and list it in tables/missing_runs.csv")
        return
    checkpoints = {step: checkpoint_path(run_dir, step) for step in record["checkpoint_steps"]}
    write_json(run_dir / "measure_timing.json", measure_run(spec, checkpoints, run_dir, threads))
    print(f"{spec.run_id}: trained and measured")


def run_block(specs: Sequence[RunSpec], results: str | Path, threads: int) -> None:
    """Every run of the block, each in ``<results>/runs/<run_id>``; their resume states go once all are done."""
    run_dirs = [Path(results) / "runs" / spec.run_id for spec in specs]
    for run_dir in run_dirs:  # temporary files of writes a kill interrupted (never outputs: see analysis.io)
        for stale in run_dir.glob(".*.tmp"):
            stale.unlink()
    for spec, run_dir in zip(specs, run_dirs, strict=True):
        train_and_measure(spec, run_dir, threads)
    for run_dir in run_dirs:  # every run of the block is done: nothing left to resume
        discard_state(run_dir)
