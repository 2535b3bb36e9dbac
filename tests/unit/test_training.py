"""Training is deterministic given the seed, resumes bit-identically after a kill, and learns."""
from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from workflow_helpers import smoke_config

from analysis import resume, training
from analysis.config import load_study
from analysis.spec import evaluation_steps
from analysis.training import checkpoint_path, learning_rate, train_run


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class Killed(Exception):
    """Stands for SIGKILL right after a resume state was written (the DAG test sends a real one)."""


def test_same_seed_gives_identical_checkpoints_even_across_a_resume(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run a trains straight through; run b is killed after step 9 and resumed: every checkpoint is byte-identical."""
    spec = next(iter(load_study(smoke_config()).runs.values()))
    first = train_run(spec, tmp_path / "a", progress=False)
    save_state = training.save_state

    def save_then_die(run_dir: Path, spec_dict: dict, state: resume.TrainingState) -> None:
        save_state(run_dir, spec_dict, state)
        if state.step == 9:
            raise Killed

    monkeypatch.setattr(training, "save_state", save_then_die)
    with pytest.raises(Killed):
        train_run(spec, tmp_path / "b", progress=False, resume_every=3)
    assert not (tmp_path / "b" / "record.json").exists()
    monkeypatch.setattr(training, "save_state", save_state)
    second = train_run(spec, tmp_path / "b", progress=False, resume_every=3)
    for step in spec.checkpoint_steps():
        assert file_digest(checkpoint_path(tmp_path / "a", step)) == file_digest(checkpoint_path(tmp_path / "b", step))
    assert (tmp_path / "a" / "train_log.csv").read_text() == (tmp_path / "b" / "train_log.csv").read_text()
    assert first["eval_loss"] == second["eval_loss"]
    assert first["final_eval_loss"] < first["eval_loss"]["0"]
    assert [int(step) for step in first["eval_loss"]] == spec.evaluation_steps()  # the learning curve, across the kill too
    assert len(spec.evaluation_steps()) > len(spec.checkpoint_steps()) == len(first["checkpoint_steps"])

    mtimes = [checkpoint_path(tmp_path / "b", step).stat().st_mtime_ns for step in spec.checkpoint_steps()]
    (tmp_path / "b" / "record.json").unlink()  # as Snakemake does with the outputs of a killed job
    assert train_run(spec, tmp_path / "b", progress=False) == second  # a finished run is not trained again
    assert mtimes == [checkpoint_path(tmp_path / "b", step).stat().st_mtime_ns for step in spec.checkpoint_steps()]


def test_held_out_loss_in_chunks_is_the_whole_batch_mean() -> None:
    """``evaluate`` runs the held-out batch in chunks on CPU: every sequence counts once, the mean as in one pass."""
    from tiny import tiny_batch, tiny_model, tiny_task

    from analysis.tasks import Batch

    model, task = tiny_model(), tiny_task()
    inputs, targets = tiny_batch(n=2 * training.EVAL_CHUNK + 5)
    whole = float(task.loss_per_position(model(inputs)[0], targets).mean())
    assert training.evaluate(model, task, Batch(inputs, targets)) == pytest.approx(whole, rel=1e-12)
    assert training.evaluate(model, task, Batch(inputs[:-5], targets[:-5])) != pytest.approx(whole, rel=1e-12)


def test_evaluations_are_evenly_spaced_and_include_every_checkpoint() -> None:
    assert evaluation_steps(100, 4, [0, 7, 100]) == [0, 7, 25, 50, 75, 100]
    assert evaluation_steps(10, 4, [0, 10]) == [0, 2, 5, 8, 10]  # rounded (half to even), k = 1..4
    assert evaluation_steps(10, 0, [0, 3, 10]) == [0, 3, 10]  # none besides the checkpoints


def test_warmup_then_cosine_decay() -> None:
    train = {"lr": 1.0, "warmup_steps": 10, "steps": 110, "min_lr_ratio": 0.1}
    assert learning_rate(0, train) == 0.1 and learning_rate(9, train) == 1.0
    assert abs(learning_rate(60, train) - 0.55) < 1e-9
    assert abs(learning_rate(110, train) - 0.1) < 1e-9


def test_deterministic_mode_is_on_without_importing_the_compiler() -> None:
    import subprocess
    import sys

    code = (
        "import sys, torch; from analysis.seeding import use_deterministic_algorithms; "
        "use_deterministic_algorithms(); "
        "assert torch.are_deterministic_algorithms_enabled(); "
        "assert not torch.utils.deterministic.fill_uninitialized_memory, 'NaN-filling every new tensor costs 3-4% a step'; "
        "assert 'torch._inductor' not in sys.modules, 'the compiler was imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
