"""The prepared device check: what the CPU-side tests leave unverified on a GPU, in one command.

    python -m tooling.gpu_check --out results/bench/gpu            # on the GPU machine
    python -m tooling.gpu_check --out /tmp/check --device cpu --quick   # plumbing only (the tests run this)

It needs torch, numpy, pandas, scipy, pyyaml, tqdm and jsonschema, not Snakemake or Typst,
so it runs in a GPU image that lacks the study's full environment (docs/gpu.md).
Each part writes its JSON as soon as it finishes, so a check cut short by a time limit
still returns what it measured:

1. ``gpu_machine.json``: device, torch and CUDA versions.
2. ``gpu_regimes.json``: step time per regime at the paper model size (bf16 autocast),
   ratios to ``standard`` (target: myopic <= 1.25x).
3. ``gpu_gradient_methods.json``: M1 extraction per method at the paper size, ratios to
   the one-backward-per-target loop (target: the ``auto`` method >= 5x faster), and
   M5/M7's fp64 per-target weight gradients on the device.
4. ``gpu_sine_run.json``: one paper-profile run trained and measured end to end on the
   device (default: sine-shift1, standard, seed 0, 3,000 steps at K = 10, frequency 10):
   wall time of training and of every measure, peak device memory, and whether the held-out
   loss ends at least 5% below the task's context-free baseline (does 3,000 steps learn it?).
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from analysis.config import load_study_file
from analysis.device import ComputeSettings
from analysis.io import write_json
from analysis.measures.run import measure_run
from analysis.spec import RunSpec
from analysis.training import checkpoint_path, train_run

from .benchmark import gradient_method_times, machine, regime_step_times
from .profiles import config_file

LEARNED_MARGIN = 0.05  # the study's own criterion: end at least 5% below the context-free baseline


def _peak_memory_reset(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)


def _peak_memory_gb(device: torch.device) -> float | None:
    return torch.cuda.max_memory_allocated(device) / 1e9 if device.type == "cuda" else None


def pick_run(profile: str, run_prefix: str, steps: int | None, device: str) -> RunSpec:
    """The run to train: the first of ``profile`` whose id starts with ``run_prefix``, on ``device``."""
    study = load_study_file(config_file(profile))
    matches = [run_id for run_id in study.runs if run_id.startswith(run_prefix)]
    if not matches:
        raise SystemExit(f"no run of profile {profile!r} starts with {run_prefix!r}; runs: {', '.join(sorted(study.runs))}")
    data = study.runs[matches[0]].to_dict()
    data["train"] = {**data["train"], "device": device}
    if steps is not None:  # --quick: a plumbing check, not a result (a small model: the paper size needs ~17 GB on a CPU)
        data["train"] = {**data["train"], "steps": steps, "warmup_steps": min(data["train"]["warmup_steps"], steps // 2)}
        data["model"] = {**data["model"], "n_layer": 1, "d_model": 16, "n_head": 2, "context": 16}
        data["measure"] = {**data["measure"], "n_sequences": 2, "probe_sequences": 16}
    return RunSpec.from_dict(data)


def sine_run(spec: RunSpec, work_dir: Path) -> dict[str, Any]:
    """Train ``spec`` and apply every measure to its checkpoints, timing each part."""
    device = ComputeSettings.resolve(spec.train).device
    _peak_memory_reset(device)
    started = time.perf_counter()
    record = train_run(spec, work_dir, progress=False)
    trained_s = time.perf_counter() - started
    train_peak = _peak_memory_gb(device)
    _peak_memory_reset(device)
    checkpoints = {step: checkpoint_path(work_dir, step) for step in record["checkpoint_steps"]}
    started = time.perf_counter()
    measure_seconds = measure_run(spec, checkpoints, work_dir)
    measured_s = time.perf_counter() - started
    baseline, final = record["baseline_loss"], record["final_eval_loss"]
    return {
        "run_id": spec.run_id,
        "steps": spec.train["steps"],
        "compute": record["compute"],
        "train_seconds": trained_s,
        "measure_seconds": measured_s,
        "measure_seconds_by_measure": measure_seconds,
        "peak_memory_gb": {"train": train_peak, "measure": _peak_memory_gb(device)},
        "final_eval_loss": final,
        "baseline_loss": baseline,
        "learned": bool(baseline and final <= (1 - LEARNED_MARGIN) * baseline),
        "eval_loss_by_step": record["eval_loss"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="folder for the JSON files")
    parser.add_argument("--device", default="auto", help="auto, cuda or cpu (cpu: plumbing check only)")
    parser.add_argument("--profile", default="paper")
    parser.add_argument("--run", default="sine-shift1_learned_standard", help="prefix of the run id to train and measure")
    parser.add_argument("--quick", action="store_true", help="tiny rounds and 20 training steps: checks the plumbing, measures nothing")
    parser.add_argument("--skip", choices=["regimes", "methods", "run"], action="append", default=[])
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "gpu_machine.json", machine())
    rounds, steps = (2, 2) if args.quick else (15, 10)
    bench_profile = "smoke" if args.quick else args.profile  # quick: a small model, so the CPU finishes in seconds
    if "regimes" not in args.skip:
        batch = 2 if args.quick else None
        report = regime_step_times(bench_profile, rounds, steps, threads=1, profile_encoding_only=True, batch_size=batch, device=args.device)
        write_json(out / "gpu_regimes.json", report)
        print("regimes:", {k: f"{v['step_ms_median']:.1f} ms ({v['ratio_to_standard_median']:.2f}x)" for k, v in report["results"][report["model"]["pos_encoding"]].items()}, flush=True)
    if "methods" not in args.skip:
        report = gradient_method_times(bench_profile, 1 if args.quick else 5, threads=1, device=args.device)
        write_json(out / "gpu_gradient_methods.json", report)
        print("gradient methods:", {k: f"{v['seconds_median']:.3f} s ({v['ratio_to_loop_median']:.2f}x)" for k, v in report["results"]["gradient_matrix"].items()}, flush=True)
    if "run" not in args.skip:
        spec = pick_run(args.profile, args.run, 20 if args.quick else None, args.device)
        with tempfile.TemporaryDirectory() as work_dir:
            report = sine_run(spec, Path(work_dir))
        write_json(out / "gpu_sine_run.json", {**report, "quick": args.quick})
        print(f"{report['run_id']}: trained {report['steps']} steps in {report['train_seconds']:.0f} s, measured in "
              f"{report['measure_seconds']:.0f} s; eval loss {report['final_eval_loss']:.4f} vs baseline "
              f"{report['baseline_loss']:.4f} (learned: {report['learned']})", flush=True)


if __name__ == "__main__":
    main()
