"""An ESTIMATE (not a measurement) of the paper profile's time on one GPU, from FLOPs and stated assumptions.

No GPU has run this repository yet, so the paper profile's GPU time is estimated: FLOPs per
training step and per measure, times the runs and steps of ``config/paper.yaml``,
divided by an assumed effective throughput (a range: pessimistic and optimistic), with a
per-step kernel-launch floor. The FLOP model is checked on this machine: the CPU's measured
rate at the paper model size (``regimes_paper.json``) is reported next to it.
"""
from __future__ import annotations

from typing import Any

from analysis.config import Study

# Stated assumptions (H100 SXM: 989 TFLOP/s dense bf16, 67 TFLOP/s fp32 without TF32, 67 fp64 tensor-core).
# Width-256 models use a small fraction of that: matmuls of 256 columns and memory-bound elementwise work.
ASSUMED_TFLOPS = {
    "train_bf16": {"pessimistic": 40.0, "optimistic": 120.0},
    "measure_fp32": {"pessimistic": 10.0, "optimistic": 30.0},
    "measure_fp64": {"pessimistic": 5.0, "optimistic": 20.0},
}
LAUNCH_FLOOR_S_PER_STEP = 1.5e-3  # ~300 kernels (forward, backward, fused AdamW) x ~5 us per launch
PER_JOB_START_S = 8.0  # interpreter, torch and CUDA context start-up per Snakemake job
CONCURRENT_JOBS = 4  # --resources gpu=4: start-up and CPU work of one job overlap the GPU work of others
CPU_CORES = 16  # the GPU machine's cores
CPU_FP64_GFLOPS_PER_CORE = 15.0  # for comparison: M5/M7's fp64 per-target weight gradients if they ran on the CPU
SERIAL_TAIL_S = 90.0  # aggregate, statistics, ten figures and the paper (CPU; measured ~60-90 s on the default profile)


def matmul_parameters(model: dict[str, Any]) -> int:
    """Weights that multiply every token: 12 d^2 per block (q, k, v, out, and the 4x MLP)."""
    return model["n_layer"] * (4 + 2 * model.get("mlp_ratio", 4)) * model["d_model"] ** 2


def forward_flops(model: dict[str, Any], sequences: int) -> float:
    """FLOPs of one forward pass over ``sequences`` full-length sequences (attention counted in full).

    The same in every regime: myopic attention is one causal pass over T keys (``analysis/models/myopic_routing.py``).
    """
    tokens = sequences * model["context"]
    attention = 4 * model["n_layer"] * sequences * model["context"] ** 2 * model["d_model"]
    return 2 * matmul_parameters(model) * tokens + attention


def train_step_flops(model: dict[str, Any], batch_size: int, regime: str = "standard") -> float:
    """Forward + backward (twice the forward); myopic-state's backward adds one d x d matmul per key/value
    projection and token (the gradient of the detached states' LayerNorm input, ``MyopicProjection``)."""
    extra = 2 * 2 * model["d_model"] ** 2 * batch_size * model["context"] * model["n_layer"] if regime == "myopic-state" else 0
    return 3 * forward_flops(model, batch_size) + extra


def measure_flops(spec: Any) -> dict[str, float]:
    """Per run: M1 (one forward, one backward per target over n_sequences, fp32, on the run's device) and
    the fp64 per-target weight gradients shared by M5/M7 (also on the run's device), at every checkpoint."""
    model, measure = spec.model, spec.measure
    checkpoints = len(spec.checkpoint_steps())
    length = model["context"]
    m1 = checkpoints * forward_flops(model, measure["n_sequences"]) * (1 + 2 * length)
    sequences = max(measure["coverage_sequences"], measure["weight_sequences"])
    weights = checkpoints * forward_flops(model, sequences) * (1 + 2 * length)
    return {"m1_fp32": m1, "weights_fp64": weights}


def paper_estimate(study: Study, cpu_paper_bench: dict[str, Any] | None = None) -> dict[str, Any]:
    """Seconds the paper profile should take on one H100, under ``ASSUMED_TFLOPS`` (pessimistic and optimistic)."""
    runs = list(study.runs.values())
    train_flops = sum(spec.train["steps"] * train_step_flops(spec.model, spec.train["batch_size"], spec.train["regime"]) for spec in runs)
    steps = sum(spec.train["steps"] for spec in runs)
    measures = [measure_flops(spec) for spec in runs]
    m1 = sum(m["m1_fp32"] for m in measures)
    weights = sum(m["weights_fp64"] for m in measures)
    jobs = len({(spec.condition, spec.seed // 3) for spec in runs})
    bounds = {}
    for case in ("pessimistic", "optimistic"):
        train_s = max(train_flops / (ASSUMED_TFLOPS["train_bf16"][case] * 1e12), steps * LAUNCH_FLOOR_S_PER_STEP)
        m1_s = m1 / (ASSUMED_TFLOPS["measure_fp32"][case] * 1e12)
        gpu_s = train_s + m1_s
        # CPU-side work overlaps the GPU's, but not beyond what the cores can do in parallel
        weights_s = weights / (CPU_FP64_GFLOPS_PER_CORE * 1e9 * min(CPU_CORES, CONCURRENT_JOBS))
        start_s = jobs * PER_JOB_START_S / CONCURRENT_JOBS
        if_on_cpu = max(gpu_s, weights_s + start_s) + SERIAL_TAIL_S  # M5/M7 on the CPU, overlapping the card
        weights_gpu_s = weights / (ASSUMED_TFLOPS["measure_fp64"][case] * 1e12)
        total = max(gpu_s + weights_gpu_s, start_s) + SERIAL_TAIL_S  # M5/M7 on the run's device (the GPU)
        bounds[case] = {"total_min_if_m5_m7_on_cpu": if_on_cpu / 60, "train_s": train_s, "m1_s": m1_s,
                        "weights_gpu_s": weights_gpu_s, "weights_cpu_s": weights_s, "job_start_s": start_s,
                        "serial_tail_s": SERIAL_TAIL_S, "total_s": total, "total_min": total / 60}
    report: dict[str, Any] = {
        "what": (
            "ESTIMATE, not a measurement: paper profile end to end on one H100 with 16 cores; GPU work (training, M1) "
            "serialised on the card, M5/M7 fp64 weight gradients included (they run on the run's device)"
        ),
        "concurrent_jobs": CONCURRENT_JOBS,
        "cpu_fp64_gflops_per_core": CPU_FP64_GFLOPS_PER_CORE,
        "runs": len(runs),
        "jobs": jobs,
        "training_steps": steps,
        "flops": {"train_bf16": train_flops, "m1_fp32": m1, "weights_fp64": weights},
        "assumed_effective_tflops": ASSUMED_TFLOPS,
        "launch_floor_s_per_step": LAUNCH_FLOOR_S_PER_STEP,
        "per_job_start_s": PER_JOB_START_S,
        "serial_tail_s": SERIAL_TAIL_S,
        "estimate": bounds,
        "fits_10_min": {case: bounds[case]["total_s"] <= 600 for case in bounds},
        "fits_10_min_if_m5_m7_on_cpu": {case: bounds[case]["total_min_if_m5_m7_on_cpu"] <= 10 for case in bounds},
    }
    if cpu_paper_bench:
        first = next(iter(cpu_paper_bench["results"].values()))
        step_s = first["standard"]["step_ms_median"] / 1000
        flops = train_step_flops(cpu_paper_bench["model"], cpu_paper_bench["batch_size"])
        report["cpu_check"] = {
            "what": "this machine's measured training rate at the paper model size (standard regime), from regimes_paper.json",
            "device": cpu_paper_bench["device"],
            "step_s": step_s,
            "gflops_per_s": flops / step_s / 1e9,
            "whole_profile_training_on_this_cpu_h": train_flops / (flops / step_s) / 3600,
        }
    return report
