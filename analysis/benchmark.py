"""Benchmarks (never timed tests): step time of each training regime against ``standard``.

Run with ``make bench``; writes ``results/bench/regimes.json``. Regimes are measured
interleaved, round by round, in one process, and compared as ratios within a round,
so that a noisy shared machine affects all of them alike.
"""
from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path
from typing import Any

import torch

from .config import load_study_file
from .io import write_json
from .models import GPT, GPTConfig
from .models.positional import POSITIONAL_ENCODINGS
from .provenance import device_description, git_commit, package_versions
from .regimes import REGIMES
from .tasks import build_task
from .training import make_optimizer

REPO = Path(__file__).resolve().parents[1]


def _step_seconds(model: GPT, optimizer: torch.optim.Optimizer, batch, loss_fn, regime, steps: int) -> float:
    started = time.perf_counter()
    for _ in range(steps):
        prediction, _ = model(batch.inputs, regime)
        loss = loss_fn(prediction, batch.targets).mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return (time.perf_counter() - started) / steps


def regime_step_times(profile: str, rounds: int, steps: int, threads: int) -> dict[str, Any]:
    """Median seconds per training step of every regime and encoding at ``profile``'s model size."""
    torch.set_num_threads(threads)
    study = load_study_file(REPO / "workflow" / "config" / f"{profile}.yaml")
    model_config, train = study.config["model"], study.config["train"]
    task = build_task({"name": "markov", "vocab": 16, "order": 2})
    batch = task.sample(train["batch_size"], model_config["context"], torch.Generator().manual_seed(0))
    results: dict[str, Any] = {}
    for encoding in POSITIONAL_ENCODINGS.names():
        torch.manual_seed(0)
        architecture = {**model_config, "pos_encoding": encoding}
        model = GPT(GPTConfig.for_task(task.input_spec, task.output_spec, **architecture))
        optimizer = make_optimizer(model, train)
        times: dict[str, list[float]] = {name: [] for name in REGIMES.names()}
        for name in REGIMES.names():  # warm-up
            _step_seconds(model, optimizer, batch, task.loss_per_position, REGIMES.get(name), 3)
        for _ in range(rounds):
            for name in REGIMES.names():
                times[name].append(_step_seconds(model, optimizer, batch, task.loss_per_position, REGIMES.get(name), steps))
        results[encoding] = {
            name: {
                "step_ms_median": 1000 * statistics.median(values),
                "ratio_to_standard_median": statistics.median(v / s for v, s in zip(values, times["standard"], strict=True)),
            }
            for name, values in times.items()
        }
    return {
        "what": "seconds per training step (forward, backward, AdamW) by regime; ratios taken within each round",
        "profile": profile,
        "model": model_config,
        "batch_size": train["batch_size"],
        "rounds": rounds,
        "steps_per_round": steps,
        "threads": threads,
        "device": device_description(torch.device("cpu")),
        "git_commit": git_commit(),
        "packages": package_versions(),
        "results": results,
        "worst_ratio": max(r["ratio_to_standard_median"] for enc in results.values() for r in enc.values()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--profile", default="default")
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", default=str(REPO / "results" / "bench" / "regimes.json"))
    args = parser.parse_args()
    report = regime_step_times(args.profile, args.rounds, args.steps, args.threads)
    write_json(args.out, report)
    for encoding, regimes in report["results"].items():
        print(encoding, {k: f"{v['step_ms_median']:.1f} ms ({v['ratio_to_standard_median']:.2f}x)" for k, v in regimes.items()})
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
