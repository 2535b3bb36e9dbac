"""Apply the measures to every checkpoint of one run and write tidy tables."""
from __future__ import annotations

import time
from pathlib import Path

import pandas as pd
import torch

from ..config import RunSpec
from ..io import load_checkpoint, write_table
from ..models import GPT, GPTConfig
from ..seeding import EVALUATION_SEED, generator
from ..tasks import build_task
from .gradient_matrix import gradient_matrix


def load_model(path: str | Path) -> GPT:
    payload = load_checkpoint(path)
    model = GPT(GPTConfig(**payload["model_config"]))
    model.load_state_dict(payload["model"])
    return model.eval()


def gradient_matrix_table(spec: RunSpec, checkpoints: dict[int, Path]) -> pd.DataFrame:
    """M1 for every checkpoint: one row per (step, layer, t, s <= t) with mean and median over sequences."""
    task = build_task(spec.task)
    held_out = task.held_out().sample(
        spec.measure["n_sequences"], spec.model["context"], generator(EVALUATION_SEED, f"measure:{spec.task_label}")
    )
    length = spec.model["context"]
    t_index, s_index = torch.tril_indices(length, length)
    frames = []
    for step, path in sorted(checkpoints.items()):
        model = load_model(path)
        per_sequence = gradient_matrix(
            model,
            held_out.inputs,
            held_out.targets,
            task.loss_per_position,
            method=spec.measure["method"],
            batch_size=spec.measure["batch_size"],
            chunk=spec.measure["chunk"],
        )  # (N, L+1, T, T)
        mean, median = per_sequence.mean(0), per_sequence.median(0).values
        for layer in range(per_sequence.shape[1]):
            frames.append(
                pd.DataFrame(
                    {
                        "step": step,
                        "layer": layer,
                        "t": t_index.numpy(),
                        "s": s_index.numpy(),
                        "distance": (t_index - s_index).numpy(),
                        "grad_norm_mean": mean[layer, t_index, s_index].numpy(),
                        "grad_norm_median": median[layer, t_index, s_index].numpy(),
                    }
                )
            )
    table = pd.concat(frames, ignore_index=True)
    table.insert(0, "seed", spec.seed)
    table.insert(0, "condition", spec.condition)
    return table


def measure_run(spec: RunSpec, checkpoints: dict[int, Path], out_dir: str | Path, threads: int = 1) -> dict[str, float]:
    """Write every measure table of one run; return wall times per measure."""
    torch.set_num_threads(threads)
    started = time.perf_counter()
    write_table(Path(out_dir) / "m1_gradient_matrix.csv", gradient_matrix_table(spec, checkpoints))
    return {"m1_gradient_matrix_s": time.perf_counter() - started}
