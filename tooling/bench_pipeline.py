"""Pipeline timings for ``make bench``: wall time per rule of the last study run, and Snakemake's own overhead.

Reads the ``benchmark:`` TSV files Snakemake wrote under ``results/<profile>/benchmarks/`` (one per job)
and times two commands that should do (almost) no work: a dry run (``-n``: config validation and DAG
build) and, where the profile's study is complete, a rerun with nothing changed.
"""
from __future__ import annotations

import csv
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from .profiles import config_file

REPO = Path(__file__).resolve().parents[1]


def rule_of(benchmark_file: Path, root: Path) -> str:
    """Rule kind of a benchmark file: every training block counts as ``train_and_measure``."""
    relative = benchmark_file.relative_to(root)
    return "train_and_measure" if relative.parts[0] == "runs" else relative.with_suffix("").as_posix()


def rule_times(profile: str, results: Path = REPO / "results") -> dict[str, Any]:
    """Wall and CPU seconds per rule kind (summed over jobs) and each kind's share of the summed wall time."""
    root = results / profile / "benchmarks"
    by_rule: dict[str, dict[str, float]] = defaultdict(lambda: {"jobs": 0, "wall_s": 0.0, "cpu_s": 0.0, "max_rss_mb": 0.0})
    for path in sorted(root.rglob("*.tsv")):
        with path.open() as handle:
            rows = list(csv.DictReader(handle, delimiter="\t"))
        if not rows:
            continue
        entry, row = by_rule[rule_of(path, root)], rows[-1]
        entry["jobs"] += 1
        entry["wall_s"] += float(row["s"])
        entry["cpu_s"] += float(row.get("cpu_time") or 0.0)
        entry["max_rss_mb"] = max(entry["max_rss_mb"], float(row.get("max_rss") or 0.0))
    total = sum(e["wall_s"] for e in by_rule.values())
    ordered = dict(sorted(by_rule.items(), key=lambda item: -item[1]["wall_s"]))
    for entry in ordered.values():
        entry["share_of_job_wall"] = entry["wall_s"] / total if total else 0.0
    return {
        "what": "per rule kind: jobs, wall and CPU seconds summed over jobs (jobs run in parallel, so the sum exceeds the study's wall time), peak RSS",
        "source": str(root.relative_to(REPO)) if root.is_relative_to(REPO) else str(root),
        "found": bool(ordered),
        "rules": ordered,
        "summed_job_wall_s": total,
    }


def snakemake_seconds(profile: str, *extra: str, cores: int = 2) -> dict[str, Any]:
    """Wall seconds of one Snakemake invocation on ``profile`` (with ``extra`` flags) and whether it had work."""
    command = [
        str(Path(sys.executable).parent / "snakemake"), "--snakefile", "workflow/Snakefile",
        "--workflow-profile", "workflow/profiles/default", "--configfile", str(config_file(profile)),
        "--cores", str(cores), *extra,
    ]
    started = time.perf_counter()
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    output = done.stdout + done.stderr
    return {
        "command": " ".join(["snakemake", *command[1:]]),
        "seconds": seconds,
        "returncode": done.returncode,
        "nothing_to_be_done": "Nothing to be done" in output,
    }


def overhead_times(profile: str, fallback_profile: str = "smoke") -> dict[str, Any]:
    """Dry-run time on ``profile``; rerun-with-nothing-changed time on ``profile`` if its study is complete
    (else on ``fallback_profile`` if that one is)."""
    report: dict[str, Any] = {"dry_run": {"profile": profile, **snakemake_seconds(profile, "-n", "-q")}}
    complete = [p for p in (profile, fallback_profile) if (REPO / "results" / p / "paper.pdf").exists()]
    if complete:
        report["rerun_nothing_changed"] = {"profile": complete[0], **snakemake_seconds(complete[0], "-q")}
    else:
        why = f"neither results/{profile} nor results/{fallback_profile} has a finished study: run one first"
        report["rerun_nothing_changed"] = {"profile": profile, "seconds": None, "why": why}
    return report
