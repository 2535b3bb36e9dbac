"""Train one run: AdamW, linear warm-up, cosine decay; deterministic given the seed.

Writes checkpoints at the configured steps, a training log and a run record
(config, seed, commit, package versions, device, wall time, losses vs baseline).
"""
from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor
from tqdm import tqdm

from .device import ComputeSettings
from .held_out import evaluation_batch
from .io import save_checkpoint, write_json, write_rows
from .models import GPT, build_model
from .provenance import device_description, git_commit, package_versions
from .regimes import REGIMES, STANDARD
from .resume import RESUME_EVERY, TrainingState, check_same_task, load_state, restore, save_state, snapshot
from .seeding import generator, use_deterministic_algorithms
from .spec import RunSpec
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


EVAL_CHUNK = 64  # held-out sequences per forward pass on CPU (see ``evaluate``)


@torch.no_grad()
def evaluate(model: GPT, task: Task, batch: Batch) -> float:
    """Mean held-out loss. On CPU in chunks of ``EVAL_CHUNK`` sequences: the activations of all 256 at once
    overflow the cache (1.3-1.7x slower at the default size); the per-position losses are bitwise the same."""
    model.eval()
    chunk = EVAL_CHUNK if batch.inputs.device.type == "cpu" else len(batch.inputs)
    losses = [task.loss_per_position(model(inputs, STANDARD)[0], targets)
              for inputs, targets in zip(batch.inputs.split(chunk), batch.targets.split(chunk), strict=True)]
    return float(torch.cat(losses).mean())


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


@dataclass(frozen=True)
class SavePlan:
    """After which optimizer steps a run writes a checkpoint and a resume state."""

    checkpoints: frozenset[int]  # the configured checkpoint steps (0 and the last included)
    steps: int
    resume_every: int
    evaluations: frozenset[int] = frozenset()  # steps whose held-out loss is recorded (the checkpoints' too)

    def checkpoint(self, done: int) -> bool:
        return done in self.checkpoints

    def evaluation(self, done: int) -> bool:
        """A held-out evaluation without a checkpoint (a checkpoint evaluates anyway)."""
        return done in self.evaluations and not self.checkpoint(done)

    def resume_state(self, done: int) -> bool:
        """Every ``resume_every`` steps and at each checkpoint; never after the last step (the finished state is written then)."""
        return done < self.steps and (done % self.resume_every == 0 or self.checkpoint(done))

    def saves(self, done: int) -> bool:
        return self.checkpoint(done) or self.resume_state(done)


def usable_state(spec: RunSpec, run_dir: str | Path, task: Task, plan: SavePlan) -> TrainingState | None:
    """The resume state a killed job left, if the run may continue from it (on the same task, its checkpoints there)."""
    state = load_state(run_dir, spec.to_dict(), spec.run_id)
    if state is None:
        return None
    check_same_task(spec.run_id, state.task_description, task.describe())
    if not all(checkpoint_path(run_dir, s).exists() for s in plan.checkpoints if s <= state.step):
        print(f"{spec.run_id}: checkpoints of the resume state are missing; training from step 0")
        return None
    return state


class RunTraining:
    """One run's model, optimiser and data stream, and the log and held-out losses it has recorded so far."""

    def __init__(self, spec: RunSpec, run_dir: str | Path, task: Task, compute: ComputeSettings, started: float) -> None:
        self.spec, self.run_dir, self.task, self.compute, self.started = spec, Path(run_dir), task, compute, started
        self.device = compute.device
        self.model = build_model(task.input_spec, task.output_spec, spec.model).to(self.device)
        self.forward = compute.compiled(self.model)
        self.optimizer = make_optimizer(self.model, spec.train)
        self.regime = REGIMES[spec.train["regime"]]
        self.data = generator(spec.seed, "training-data")
        self.held_out = to_device(evaluation_batch(task, spec, spec.train["eval_sequences"]), self.device)
        self.log: list[dict[str, float]] = []
        self.evaluations: dict[int, float] = {}
        self.elapsed_before = 0.0
        self.first = 0

    def begin(self, state: TrainingState | None) -> None:
        """Checkpoint the initialisation, or continue where ``state`` left off."""
        if state is None:
            self.checkpoint(0)
            return
        restore(state, self.model, self.optimizer, self.data)
        self.log, self.evaluations, self.elapsed_before, self.first = state.log, state.evaluations, state.elapsed_s, state.step
        print(f"{self.spec.run_id}: resuming from step {self.first} of {self.spec.train['steps']}")

    def elapsed(self) -> float:
        return self.elapsed_before + time.perf_counter() - self.started

    def checkpoint(self, step: int) -> None:
        self.evaluations[step] = evaluate(self.model, self.task, self.held_out)
        payload = {"model": {k: v.cpu() for k, v in self.model.state_dict().items()}, "model_config": self.model.config.to_dict(), "step": step, "run": self.spec.to_dict(),
                   "optimizer": self.adam_moments()}
        save_checkpoint(checkpoint_path(self.run_dir, step), payload)
        self.model.train()  # evaluate() switched to eval mode; set back here, not once per step (2% of a step)

    def evaluate_held_out(self, step: int) -> None:
        """The learning curve between checkpoints: held-out loss only, no weights written."""
        self.evaluations[step] = evaluate(self.model, self.task, self.held_out)
        self.model.train()

    def adam_moments(self) -> dict[str, Any]:
        """AdamW's state by parameter name (M7's run-moment step reads it): tensors and plain values only, so the
        checkpoint still loads with ``weights_only=True``. Empty moments and step 0 before the first step."""
        group = self.optimizer.param_groups[0]
        state = {name: self.optimizer.state.get(p, {}) for name, p in self.model.named_parameters()}
        moments = {key: {name: s[key].detach().cpu() for name, s in state.items() if key in s} for key in ("exp_avg", "exp_avg_sq")}
        steps = {int(s["step"]) for s in state.values() if "step" in s}
        return {"step": max(steps, default=0), "betas": [float(b) for b in group["betas"]], "eps": float(group["eps"]), **moments}

    def save_resume_state(self, done: int) -> None:
        state = snapshot(done, self.model, self.optimizer, self.data, self.log, self.evaluations, self.task.describe(), self.elapsed())
        save_state(self.run_dir, self.spec.to_dict(), state)

    def step(self, step: int, watch: NonFiniteWatch) -> tuple[Tensor, float]:
        """One optimizer step at its learning rate; returns the training loss (on the device) and the rate."""
        train = self.spec.train
        lr = learning_rate(step, train)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        batch = to_device(self.task.sample(train["batch_size"], self.spec.model["context"], self.data), self.device)
        with self.compute.autocast():  # bf16 on a GPU; a no-op on CPU
            prediction, _ = self.forward(batch.inputs, self.regime)
        loss = self.task.loss_per_position(prediction.float(), batch.targets).mean()
        watch.note(step + 1, loss)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if train["grad_clip"] > 0:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), train["grad_clip"])
        self.optimizer.step()
        return loss, lr

    def train(self, plan: SavePlan, progress: bool) -> None:
        """The steps from ``first`` to the end: log every ``log_every`` steps, save as ``plan`` says."""
        watch = NonFiniteWatch(self.device)
        run_id, log_every = self.spec.run_id, self.spec.train["log_every"]
        bar = tqdm(range(self.first, plan.steps), desc=run_id, file=sys.stderr, disable=not progress, mininterval=2.0)
        for step in bar:
            loss, lr = self.step(step, watch)
            done = step + 1
            logs = done % log_every == 0 or done == plan.steps
            if logs or plan.saves(done):  # nothing is logged or saved after a non-finite loss
                watch.check(run_id, self.log, self.device)
            if logs:
                self.log.append({"step": done, "train_loss": float(loss.detach()), "lr": lr})
                bar.set_postfix(loss=f"{float(loss.detach()):.4f}")
            if plan.checkpoint(done):
                self.checkpoint(done)
            elif plan.evaluation(done):
                watch.check(run_id, self.log, self.device)
                self.evaluate_held_out(done)
            if plan.resume_state(done):
                self.save_resume_state(done)

    def record(self, threads: int) -> dict[str, Any]:
        """Config, seed, commit, package versions, device, wall time, held-out losses against the baseline."""
        spec, task, context = self.spec, self.task, self.spec.model["context"]
        return {
            "run_id": spec.run_id,
            "status": "trained",
            "spec": spec.to_dict(),
            "task_description": task.describe(),
            "seed": spec.seed,
            "git_commit": git_commit(),
            "packages": package_versions(),
            "device": device_description(self.device),
            "compute": self.compute.describe(),
            "threads": threads,
            "parameters": sum(p.numel() for p in self.model.parameters()),
            "checkpoint_steps": self.spec.checkpoint_steps(),
            "eval_loss": {str(k): v for k, v in sorted(self.evaluations.items())},
            "final_eval_loss": self.evaluations[spec.train["steps"]],
            "baseline_loss": task.baseline_loss(context),
            "baseline_description": task.baseline_description,
            "optimal_loss": task.optimal_loss(context),
            "wall_time_s": self.elapsed(),
        }


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
    torch.manual_seed(spec.seed)  # before the model is built: its initialisation draws from it
    compute = ComputeSettings.resolve(spec.train)
    compute.prepare()
    task = build_task(spec.task)
    plan = SavePlan(frozenset(spec.checkpoint_steps()), spec.train["steps"], resume_every, frozenset(spec.evaluation_steps()))
    state = usable_state(spec, run_dir, task, plan)
    if state is not None and state.finished:
        print(f"{spec.run_id}: already trained before the job was interrupted; not retrained")
        _write_log_and_record(run_dir, state.log, state.evaluations, state.record)
        return state.record
    run = RunTraining(spec, run_dir, task, compute, started)
    run.begin(state)
    run.train(plan, progress)
    record = run.record(threads)
    _write_log_and_record(run_dir, run.log, run.evaluations, record)
    finished = TrainingState(step=plan.steps, log=run.log, evaluations=run.evaluations, task_description=task.describe(), record=record)
    save_state(run_dir, spec.to_dict(), finished)  # lets a rerun of a killed block skip this run
    return record


def _write_log_and_record(run_dir: str | Path, log: list[dict[str, float]], evaluations: dict[int, float], record: dict[str, Any]) -> None:
    write_rows(Path(run_dir) / "train_log.csv", [{**row, "eval_loss": evaluations.get(row["step"], "")} for row in log])  # the whole curve: record.json
    write_json(Path(run_dir) / "record.json", record)
