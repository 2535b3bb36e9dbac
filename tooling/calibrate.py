"""Calibrate a condition on exploratory seeds: train its runs and print how much of each task's gap every arm closes.

    python -m tooling.calibrate --experiment precaching --seeds 0,1 --set tasks.sine-shift1.p=1.0 ...

Reads a profile's config (default: config/config.yaml, the default study), keeps one experiment, applies ``--set``
overrides (dotted keys, YAML values), refuses any seed the profile would decide on, trains every run with one
thread and writes one JSON line per run to ``results/calibration/<name>.jsonl``: the final held-out loss, the
baseline and the share of the baseline-to-optimum gap closed at every dense evaluation (the learning curve a
plateau is read from). The settings the study uses were chosen this way (docs/results.md, "Calibration").
"""
from __future__ import annotations

import argparse
import copy
import json
import time
from pathlib import Path
from typing import Any

import yaml

from analysis.config import load_study
from analysis.training import train_run
from tooling.preregistration import REPO, exploratory_seeds

from .profiles import config_file


def set_dotted(config: dict[str, Any], assignment: str) -> None:
    """Apply ``a.b.c=value`` (value parsed as YAML) to the nested config."""
    key, _, value = assignment.partition("=")
    *path, last = key.split(".")
    node = config
    for part in path:
        node = node.setdefault(part, {})
    node[last] = yaml.safe_load(value)


def calibration_config(base: dict[str, Any], experiment: str, seeds: list[int], assignments: list[str]) -> dict[str, Any]:
    """The profile reduced to one experiment on the given seeds, with the overrides applied."""
    if experiment not in base["experiments"]:
        raise SystemExit(f"unknown experiment {experiment!r}; allowed values: {', '.join(base['experiments'])}")
    allowed = set(exploratory_seeds(base["profile"]))
    if not set(seeds) <= allowed:
        raise SystemExit(f"seeds {sorted(set(seeds) - allowed)} are not exploratory; allowed values: {sorted(allowed)}")
    config = {**copy.deepcopy(base), "profile": f"{base['profile']}-calibration", "seeds": seeds,
              "experiments": {experiment: {k: v for k, v in base["experiments"][experiment].items() if k != "seeds"}},
              "paper": {"experiments": [experiment]}}
    for assignment in assignments:
        set_dotted(config, assignment)
    return config


def gap_closed(record: dict[str, Any]) -> dict[int, float]:
    span = record["baseline_loss"] - record["optimal_loss"]
    return {int(step): (record["baseline_loss"] - loss) / span for step, loss in sorted(record["eval_loss"].items(), key=lambda kv: int(kv[0]))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=str(config_file("default")))
    parser.add_argument("--experiment", required=True)
    parser.add_argument("--seeds", required=True, help="comma-separated exploratory seeds")
    parser.add_argument("--set", action="append", default=[], dest="assignments", help="dotted.key=value (YAML)")
    parser.add_argument("--name", required=True, help="results/calibration/<name>.jsonl")
    args = parser.parse_args()
    base = yaml.safe_load(Path(args.config).read_text())
    config = calibration_config(base, args.experiment, [int(s) for s in args.seeds.split(",")], args.assignments)
    out = REPO / "results" / "calibration"
    out.mkdir(parents=True, exist_ok=True)
    with (out / f"{args.name}.jsonl").open("a") as log:
        for spec in load_study(config).runs.values():
            started = time.perf_counter()
            record = train_run(spec, out / args.name / spec.condition / f"seed{spec.seed}", threads=1, progress=False)
            closed = gap_closed(record)
            row = {"run": spec.run_id, "final_eval_loss": record["final_eval_loss"], "baseline_loss": record["baseline_loss"],
                   "gap_closed": closed[spec.train["steps"]], "seconds": round(time.perf_counter() - started, 1),
                   "curve": {step: round(value, 4) for step, value in closed.items()}}
            print(json.dumps(row), file=log, flush=True)
            print(f"{spec.run_id}: {row['gap_closed']:.3f} of the gap closed ({row['seconds']} s)")


if __name__ == "__main__":
    main()
