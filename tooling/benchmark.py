"""Benchmarks (never timed tests), run with ``make bench``; JSON under ``results/bench/``.

* ``regimes.json``: step time of each training regime against ``standard``.
* ``regimes_paper.json``: the same at the paper profile's model size (learned positions;
  a smaller batch on CPU, where a paper-size step takes seconds), with tokens/s.
* ``gradient_methods.json``: extraction time of each exact per-target gradient method
  (M1 over the residual stream; M5/M7 over the weights) against the per-target loop,
  and the method ``auto`` picks on this device and on a GPU.
* ``pipeline.json``: wall time per pipeline rule from the ``benchmark:`` files of the last
  study run, and how long a rerun with nothing changed and a dry run take
  (``tooling/bench_pipeline.py``).
* ``paper_estimate.json``: an *estimate* of the paper profile's time on one GPU, from FLOPs
  and stated throughput assumptions, checked against this machine's measured FLOP rate
  (``tooling/bench_estimate.py``).
* ``card.json``: the gradient-flow card (``tooling/bench_card.py``): seconds per sequence for all-pairs G^l of a
  GPT-2-small-sized model at context 128, batched against the per-target loop and against one backward pass.
* ``machine.json``: the machine the benchmarks ran on.

Alternatives are measured interleaved, round by round, in one process, and compared as
ratios within a round, so that a noisy shared machine affects all of them alike.
"""
from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path
from typing import Any

import torch

from analysis.config import load_study_file
from analysis.device import ComputeSettings
from analysis.io import write_json
from analysis.models import GPT, build_model
from analysis.models.positional import POSITIONAL_ENCODINGS
from analysis.provenance import device_description, git_commit, package_versions
from analysis.regimes import REGIMES
from analysis.tasks import build_task
from analysis.training import make_optimizer, to_device

from .profiles import config_file

REPO = Path(__file__).resolve().parents[1]


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _step_seconds(
    model: GPT, optimizer: torch.optim.Optimizer, batch, loss_fn, regime, steps: int, compute: ComputeSettings
) -> float:
    _synchronize(compute.device)
    started = time.perf_counter()
    for _ in range(steps):
        with compute.autocast():
            prediction, _ = model(batch.inputs, regime)
        loss = loss_fn(prediction.float(), batch.targets).mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    _synchronize(compute.device)
    return (time.perf_counter() - started) / steps


def regime_step_times(
    profile: str,
    rounds: int,
    steps: int,
    threads: int,
    profile_encoding_only: bool = False,
    batch_size: int | None = None,
    device: str = "auto",
) -> dict[str, Any]:
    """Median seconds per training step of every regime and encoding at ``profile``'s model size.

    ``profile_encoding_only``: only the profile's own encoding (its ``model.pos_encoding``).

    On a GPU the step runs as training does (bf16 autocast, ``analysis/device.py``).
    """
    torch.set_num_threads(threads)
    study = load_study_file(config_file(profile))
    model_config, train = study.config["model"], study.config["train"]
    compute = ComputeSettings.resolve({**train, "device": device, "compile": False})
    compute.prepare()
    batch_size = batch_size or train["batch_size"]
    task = build_task({"name": "markov", "vocab": 16, "order": 2})
    batch = to_device(task.sample(batch_size, model_config["context"], torch.Generator().manual_seed(0)), compute.device)
    results: dict[str, Any] = {}
    for encoding in [model_config["pos_encoding"]] if profile_encoding_only else POSITIONAL_ENCODINGS.names():
        torch.manual_seed(0)
        architecture = {**model_config, "pos_encoding": encoding}
        model = build_model(task.input_spec, task.output_spec, architecture).to(compute.device)
        optimizer = make_optimizer(model, train)
        times: dict[str, list[float]] = {name: [] for name in list(REGIMES)}

        def timed(name: str, n: int, model: GPT = model, optimizer: torch.optim.Optimizer = optimizer) -> float:
            return _step_seconds(model, optimizer, batch, task.loss_per_position, REGIMES[name], n, compute)

        for name in list(REGIMES):  # warm-up
            timed(name, min(3, steps))
        for _ in range(rounds):
            for name in list(REGIMES):
                times[name].append(timed(name, steps))
        tokens = batch_size * model_config["context"]
        results[encoding] = {
            name: {
                "step_ms_median": 1000 * statistics.median(values),
                "tokens_per_s_median": tokens / statistics.median(values),
                "ratio_to_standard_median": statistics.median(v / s for v, s in zip(values, times["standard"], strict=True)),
            }
            for name, values in times.items()
        }
    return {
        "what": "seconds per training step (forward, backward, AdamW) by regime; ratios taken within each round",
        "profile": profile,
        "model": model_config,
        "batch_size": batch_size,
        "rounds": rounds,
        "steps_per_round": steps,
        "threads": threads,
        "device": device_description(compute.device),
        "compute": compute.describe(),
        "git_commit": git_commit(),
        "packages": package_versions(),
        "results": results,
        "worst_ratio": max(r["ratio_to_standard_median"] for enc in results.values() for r in enc.values()),
    }


def _seconds(work) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def gradient_method_times(profile: str, rounds: int, threads: int, device: str = "auto") -> dict[str, Any]:
    """Median seconds to extract M1 for one checkpoint (the profile's n_sequences) by each method (fp32)."""
    from analysis.measures.gradient_matrix import AUTO_METHOD, GRADIENT_METHODS, choose_method, gradient_matrix
    from analysis.measures.parameters import PER_TARGET_METHODS, per_target_gradients

    torch.set_num_threads(threads)
    study = load_study_file(config_file(profile))
    model_config, measure = study.config["model"], study.config["measure"]
    compute = ComputeSettings.resolve({"device": device})
    compute.prepare()
    task = build_task({"name": "markov", "vocab": 16, "order": 2})
    batch = to_device(
        task.sample(measure["n_sequences"], model_config["context"], torch.Generator().manual_seed(0)), compute.device
    )
    torch.manual_seed(0)
    model = build_model(task.input_spec, task.output_spec, model_config).to(compute.device)
    matrix_jobs = {
        name: (lambda name=name: gradient_matrix(
            model, batch.inputs, batch.targets, task.loss_per_position, method=name,
            batch_size=measure["batch_size"], max_memory_mb=measure["max_memory_mb"],
        ))
        for name in list(GRADIENT_METHODS)
    }
    one = (batch.inputs[:1], batch.targets[:1])
    weight_jobs = {
        name: (lambda name=name: [per_target_gradients(model, *one, task.loss_per_position, name) for _ in range(4)])
        for name in PER_TARGET_METHODS.names()
    }
    report: dict[str, Any] = {}
    groups = [("gradient_matrix", matrix_jobs), ("per_target_weight_gradients", weight_jobs)]  # M5/M7 run on the run's device
    for label, jobs in groups:
        for job in jobs.values():  # warm-up (vmap and allocator start-up)
            job()
        times: dict[str, list[float]] = {name: [] for name in jobs}
        for _ in range(rounds):
            for name, job in jobs.items():
                _synchronize(compute.device)
                times[name].append(_seconds(lambda job=job: (job(), _synchronize(compute.device))))
        report[label] = {
            name: {
                "seconds_median": statistics.median(values),
                "ratio_to_loop_median": statistics.median(v / s for v, s in zip(values, times["loop"], strict=True)),
            }
            for name, values in times.items()
        }
    chosen = choose_method("auto", compute.device)
    fastest = min(report["gradient_matrix"], key=lambda n: report["gradient_matrix"][n]["seconds_median"])
    return {
        "what": (
            "seconds to extract the exact per-target gradients of one checkpoint: gradient_matrix = M1 over "
            f"{measure['n_sequences']} held-out sequences (all layers); per_target_weight_gradients = dL_t/dtheta "
            "for all t of 4 sequences (M5, M7); ratios to the per-target loop taken within each round"
        ),
        "profile": profile,
        "model": model_config,
        "rounds": rounds,
        "threads": threads,
        "device": device_description(compute.device),
        "git_commit": git_commit(),
        "packages": package_versions(),
        "results": report,
        "auto_method": {"cpu": AUTO_METHOD["cpu"], "cuda": AUTO_METHOD["cuda"], "here": chosen},
        "fastest_on_this_device": fastest,
        "auto_no_slower_than_loop": report["gradient_matrix"][chosen]["ratio_to_loop_median"] <= 1.0,
        "gpu_choice_reason": (
            "why: at these model sizes one backward pass per target is "
            "bound by kernel-launch latency, not arithmetic, so one vectorised backward over a chunk of targets "
            "(sized by max_memory_mb) does the same work in about T times fewer launches; on CPU the per-target "
            "loop is already compute bound and vmap adds overhead. Not yet measured on a GPU in this repository."
        ),
    }


def machine() -> dict[str, Any]:
    """What the benchmarks ran on: CPU, cores, torch threads, GPU (if any), packages, commit."""
    import os
    import platform

    info: dict[str, Any] = {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "processor": platform.processor() or "unknown",
        "cpu_count": os.cpu_count(),
        "load_average": os.getloadavg(),
        "torch_threads": torch.get_num_threads(),
        "cuda_available": torch.cuda.is_available(),
        "git_commit": git_commit(),
        "packages": package_versions(),
    }
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


SECTIONS = ["regimes", "regimes_paper", "gradient_methods", "pipeline", "estimate", "card"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--profile", default="default")
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda (as train.device)")
    parser.add_argument("--paper-batch", type=int, default=None, help="batch for the paper-size step (default: 4 on CPU, the profile's on a GPU)")
    parser.add_argument("--only", choices=SECTIONS, action="append", help="run only these sections (repeatable)")
    parser.add_argument("--out-dir", default=str(REPO / "results" / "bench"))
    args = parser.parse_args()
    out = Path(args.out_dir)
    wanted = set(args.only or SECTIONS)
    write_json(out / "machine.json", machine())
    if "regimes" in wanted:
        report = regime_step_times(args.profile, args.rounds, args.steps, args.threads, device=args.device)
        write_json(out / "regimes.json", report)
        for encoding, regimes in report["results"].items():
            print(encoding, {k: f"{v['step_ms_median']:.1f} ms ({v['ratio_to_standard_median']:.2f}x)" for k, v in regimes.items()})
    if "regimes_paper" in wanted:
        on_gpu = ComputeSettings.resolve({"device": args.device}).device.type == "cuda"
        report = regime_step_times(
            "paper", max(2, args.rounds // 5), 1 if not on_gpu else args.steps, args.threads, profile_encoding_only=True,
            batch_size=args.paper_batch or (None if on_gpu else 4), device=args.device,
        )
        write_json(out / "regimes_paper.json", report)
        print("paper size", {k: f"{v['step_ms_median']:.0f} ms, {v['tokens_per_s_median']:.0f} tok/s ({v['ratio_to_standard_median']:.2f}x)" for k, v in report["results"][report["model"]["pos_encoding"]].items()})
    if "gradient_methods" in wanted:
        report = gradient_method_times(args.profile, max(3, args.rounds // 3), args.threads, device=args.device)
        write_json(out / "gradient_methods.json", report)
        for label, methods in report["results"].items():
            print(label, {k: f"{v['seconds_median']:.3f} s ({v['ratio_to_loop_median']:.2f}x)" for k, v in methods.items()})
        print(f"auto picks {report['auto_method']['here']!r} here; fastest here: {report['fastest_on_this_device']!r}")
    if "pipeline" in wanted:
        from .bench_pipeline import overhead_times, rule_times

        report = {"rule_times": rule_times(args.profile), **overhead_times(args.profile)}
        write_json(out / "pipeline.json", report)
        for rule, entry in list(report["rule_times"]["rules"].items())[:8]:
            print(f"{rule}: {entry['wall_s']:.0f} s over {entry['jobs']} job(s) ({entry['share_of_job_wall']:.0%})")
        print(f"dry run ({args.profile}): {report['dry_run']['seconds']:.1f} s; rerun with nothing changed "
              f"({report['rerun_nothing_changed']['profile']}): {report['rerun_nothing_changed']['seconds']}")
    if "estimate" in wanted:
        import json

        from .bench_estimate import paper_estimate

        cpu_paper = out / "regimes_paper.json"
        report = paper_estimate(
            load_study_file(config_file("paper")),
            json.loads(cpu_paper.read_text()) if cpu_paper.exists() else None,
        )
        write_json(out / "paper_estimate.json", report)
        print("paper profile on one H100 (ESTIMATE):", {k: f"{v['total_min']:.1f} min" for k, v in report["estimate"].items()})
    if "card" in wanted:
        from .bench_card import card_times

        report = card_times(max(1, args.rounds // 7), args.threads, device=args.device)
        write_json(out / "card.json", report)
        print("card, GPT-2 small, context 128:", {k: f"{v['seconds_per_sequence_median']:.1f} s/sequence "
              f"({v['ratio_to_one_backward_median']:.1f}x one backward)" for k, v in report["results"].items()})
    print(f"wrote JSON under {out}")


if __name__ == "__main__":
    main()
