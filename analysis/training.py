"""Train one run: AdamW, linear warm-up, cosine decay; deterministic given the seed.

Writes checkpoints at the configured steps, a training log and a run record
(config, seed, commit, package versions, device, wall time, losses vs baseline).
"""
from __future__ import annotations

import math
import sys
import time
from pathlib import Path
from typing import Any

import torch
from torch import Tensor
from tqdm import tqdm

from .config import RunSpec
from .device import ComputeSettings
from .held_out import evaluation_batch
from .io import save_checkpoint, write_json, write_rows
from .models import GPT, build_model
from .provenance import device_description, git_commit, package_versions
from .regimes import REGIMES, STANDARD
from .resume import RESUME_EVERY, TrainingState, check_same_task, load_state, restore, save_state, snapshot
from .seeding import generator, use_deterministic_algorithms
from .tasks import Batch, Task, build_task


def checkpoint_path(run_dir: str | Path, step: int) -> Path:
    return Path(run_dir) / f"checkpoint_step{step:06d}.pt"


def learning_rate(step: int, train: dict[str, Any]) -> float:
    """Linear warm-up to ``lr``, then cosine decay to ``min_lr_ratio * lr`` at the last step."""
    peak, warmup, total = train["lr"], train["warmup_steps"], train["steps"]
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    floor = train["min_lr_ratio"] * peak
    return floor + 0.5 * (peak - floor) * (1 + math.cos(math.pi * min(progress, 1.0)))


def make_optimizer(model: GPT, train: dict[str, Any]) -> torch.optim.AdamW:
    """Decay matrices (and embeddings), not biases or LayerNorm gains, as in nanoGPT."""
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    groups = [{"params": decay, "weight_decay": train["weight_decay"]}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=train["lr"], betas=(0.9, 0.95), fused=True)


def to_device(batch: Batch, device: torch.device) -> Batch:
    """The batch on ``device`` (sampled on the CPU, so data are the same on every device).

    To a GPU through pinned memory and ``non_blocking``: a copy from ordinary (pageable)
    memory makes the CPU wait until the GPU has finished the previous step's kernels, a
    stall every step; from pinned memory the copy is queued like a kernel.
    """
    if device.type == "cpu":
        return batch

    def move(tensor: Tensor) -> Tensor:
        return tensor.pin_memory().to(device, non_blocking=True) if device.type == "cuda" else tensor.to(device)

    return Batch(move(batch.inputs), move(batch.targets), {k: move(v) for k, v in batch.features.items()})


@torch.no_grad()
def evaluate(model: GPT, task: Task, batch: Batch) -> float:
    model.eval()
    prediction, _ = model(batch.inputs, STANDARD)
    return float(task.loss_per_position(prediction, batch.targets).mean())


class Diverged(FloatingPointError):
    """The training loss became NaN or infinite: an outcome of the run, recorded rather than averaged."""

    def __init__(self, run_id: str, step: int, loss: float, log: list[dict[str, float]], device: str) -> None:
        super().__init__(f"run {run_id}: loss became {loss} at step {step}")
        self.run_id, self.step, self.loss, self.log, self.device = run_id, step, loss, log, device


class NonFiniteWatch:
    """Notes the first step whose loss is not finite, without a host sync each step.

    ``if not torch.isfinite(loss)`` every step makes the CPU wait for a GPU to finish
    the step before it can queue the next one. The watch keeps the first bad step
    and its loss on the device and is read (``check``) only where the loop syncs
    anyway: at log steps, before anything is saved, and at the end. The reported step
    is still the first non-finite one; the few steps after it are discarded work.
    """

    def __init__(self, device: torch.device) -> None:
        self.first_step = torch.zeros((), dtype=torch.long, device=device)
        self.loss = torch.zeros((), device=device)

    def note(self, step: int, loss: Tensor) -> None:
        new = ~torch.isfinite(loss.detach()) & (self.first_step == 0)
        self.first_step = torch.where(new, step, self.first_step)
        self.loss = torch.where(new, loss.detach().float(), self.loss)

    def check(self, run_id: str, log: list[dict[str, float]], device: torch.device) -> None:
        if int(self.first_step):
            raise Diverged(run_id, int(self.first_step), float(self.loss), log, device_description(device))


def train_run(
    spec: RunSpec, run_dir: str | Path, threads: int = 1, progress: bool = True, resume_every: int = RESUME_EVERY
) -> dict[str, Any]:
    """Train ``spec`` and write its checkpoints, log and record under ``run_dir``; return the record.

    Continues from the run's resume state if a killed job left one (see ``analysis.resume``);
    a run that had finished is not trained again. Raises ``Diverged`` on a non-finite loss.
    """
    started = time.perf_counter()
    torch.set_num_threads(threads)
    use_deterministic_algorithms()
    torch.manual_seed(spec.seed)
    compute = ComputeSettings.resolve(spec.train)
    compute.prepare()
    device = compute.device
    task = build_task(spec.task)
    save_at = set(spec.checkpoint_steps())
    steps, log_every = spec.train["steps"], spec.train["log_every"]
    state = load_state(run_dir, spec.to_dict(), spec.run_id)
    if state is not None:
        check_same_task(spec.run_id, state.task_description, task.describe())
    if state is not None and not all(checkpoint_path(run_dir, s).exists() for s in save_at if s <= state.step):
        print(f"{spec.run_id}: checkpoints of the resume state are missing; training from step 0")
        state = None
    if state is not None and state.finished:
        print(f"{spec.run_id}: already trained before the job was interrupted; not retrained")
        _write_log_and_record(run_dir, state.log, state.evaluations, state.record)
        return state.record
    model = build_model(task.input_spec, task.output_spec, spec.model).to(device)
    forward = compute.compiled(model)
    optimizer = make_optimizer(model, spec.train)
    regime = REGIMES.get(spec.train["regime"])
    data = generator(spec.seed, "training-data")
    held_out = to_device(evaluation_batch(task, spec, spec.train["eval_sequences"]), device)
    log: list[dict[str, float]] = []
    evaluations: dict[int, float] = {}
    elapsed_before = 0.0

    def checkpoint(step: int) -> None:
        evaluations[step] = evaluate(model, task, held_out)
        payload = {"model": {k: v.cpu() for k, v in model.state_dict().items()}, "model_config": model.config.to_dict(), "step": step, "run": spec.to_dict()}
        save_checkpoint(checkpoint_path(run_dir, step), payload)
        model.train()  # evaluate() switched to eval mode; set back here, not once per step (2% of a step)

    first = 0
    if state is None:
        checkpoint(0)
    else:
        restore(state, model, optimizer, data)
        log, evaluations, elapsed_before, first = state.log, state.evaluations, state.elapsed_s, state.step
        print(f"{spec.run_id}: resuming from step {first} of {steps}")
    watch = NonFiniteWatch(device)
    bar = tqdm(range(first, steps), desc=spec.run_id, file=sys.stderr, disable=not progress, mininterval=2.0)
    for step in bar:
        lr = learning_rate(step, spec.train)
        for group in optimizer.param_groups:
            group["lr"] = lr
        batch = to_device(task.sample(spec.train["batch_size"], spec.model["context"], data), device)
        with compute.autocast():  # bf16 on a GPU; a no-op on CPU
            prediction, _ = forward(batch.inputs, regime)
        loss = task.loss_per_position(prediction.float(), batch.targets).mean()
        watch.note(step + 1, loss)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if spec.train["grad_clip"] > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), spec.train["grad_clip"])
        optimizer.step()
        logs = (step + 1) % log_every == 0 or step + 1 == steps
        saves = step + 1 in save_at or (step + 1 < steps and (step + 1) % resume_every == 0)
        if logs or saves:
            watch.check(spec.run_id, log, device)
        if logs:
            log.append({"step": step + 1, "train_loss": float(loss.detach()), "lr": lr})
            bar.set_postfix(loss=f"{float(loss.detach()):.4f}")
        if step + 1 in save_at:
            checkpoint(step + 1)
        if step + 1 < steps and ((step + 1) % resume_every == 0 or step + 1 in save_at):
            elapsed = elapsed_before + time.perf_counter() - started
            save_state(run_dir, spec.to_dict(), snapshot(step + 1, model, optimizer, data, log, evaluations, task.describe(), elapsed))
    record = {
        "run_id": spec.run_id,
        "status": "trained",
        "spec": spec.to_dict(),
        "task_description": task.describe(),
        "seed": spec.seed,
        "git_commit": git_commit(),
        "packages": package_versions(),
        "device": device_description(device),
        "compute": compute.describe(),
        "threads": threads,
        "parameters": sum(p.numel() for p in model.parameters()),
        "checkpoint_steps": sorted(evaluations),
        "eval_loss": {str(k): v for k, v in sorted(evaluations.items())},
        "final_eval_loss": evaluations[steps],
        "baseline_loss": task.baseline_loss(spec.model["context"]),
        "baseline_description": task.baseline_description,
        "optimal_loss": task.optimal_loss(spec.model["context"]),
        "wall_time_s": elapsed_before + time.perf_counter() - started,
    }
    _write_log_and_record(run_dir, log, evaluations, record)
    finished = TrainingState(step=steps, log=log, evaluations=evaluations, task_description=task.describe(), record=record)
    save_state(run_dir, spec.to_dict(), finished)  # lets a rerun of a killed block skip this run
    return record


def _write_log_and_record(run_dir: str | Path, log: list[dict[str, float]], evaluations: dict[int, float], record: dict[str, Any]) -> None:
    write_rows(Path(run_dir) / "train_log.csv", [{**row, "eval_loss": evaluations.get(row["step"], "")} for row in log])
    write_json(Path(run_dir) / "record.json", record)
