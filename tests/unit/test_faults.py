"""Faults give a clear message or a recorded outcome, never a wrong result: divergence, damaged files, changed data."""
from __future__ import annotations

import copy
import io
import pickle
from pathlib import Path

import pandas as pd
import pytest
import torch
from workflow_helpers import smoke_config

from analysis.config import load_study
from analysis.io import CheckpointError, atomic_path, load_checkpoint, save_checkpoint, write_json
from analysis.measures import MEASURES
from analysis.measures.data import RunData
from analysis.measures.run import load_model
from analysis.outcomes import read_run_table, write_diverged_run
from analysis.resume import TaskChangedError, TrainingState, check_same_task, load_state, save_state
from analysis.stats.runs import CorpusMismatchError, check_same_corpus
from analysis.training import Diverged, train_run


def smoke_spec(**train: object):
    config = copy.deepcopy(smoke_config())
    config["train"].update(train)
    return next(iter(load_study(config).runs.values()))


def test_divergence_names_the_run_and_the_step(tmp_path: Path) -> None:
    spec = smoke_spec(lr=1.0e4, grad_clip=0)  # AdamW's decoupled weight decay alone multiplies weights by -99 a step
    with pytest.raises(Diverged, match=rf"run {spec.run_id}: loss became (nan|inf) at step \d+") as error:
        train_run(spec, tmp_path, progress=False)
    assert isinstance(error.value, FloatingPointError) and error.value.step >= 1


def test_a_diverged_run_cannot_be_read_as_data(tmp_path: Path) -> None:
    spec = smoke_spec()
    write_diverged_run(tmp_path, spec.to_dict(), 5, float("nan"), "loss became nan at step 5", [], MEASURES.names(), {})
    for name in MEASURES.names():
        with pytest.raises(ValueError, match="placeholder of a diverged run"):
            read_run_table(tmp_path / f"{name}.csv")
    assert pd.read_csv(tmp_path / "train_log.csv").empty


def tiny_checkpoint(path: Path) -> Path:
    model = torch.nn.Linear(2, 2)
    save_checkpoint(path, {"model": model.state_dict(), "step": 0})
    return path


@pytest.mark.parametrize("damage", ["truncated", "garbage", "not a checkpoint", "foreign pickle"])
def test_a_damaged_checkpoint_names_the_file_and_the_fix(tmp_path: Path, damage: str) -> None:
    path = tiny_checkpoint(tmp_path / "checkpoint_step000004.pt")
    if damage == "truncated":
        path.write_bytes(path.read_bytes()[:100])
    elif damage == "garbage":
        path.write_bytes(b"\x00not a zip file" * 10)
    elif damage == "not a checkpoint":
        torch.save([1, 2, 3], path)
    else:  # a pickle that would run code if loaded without weights_only
        buffer = io.BytesIO()
        torch.save({"x": pd.Timestamp(0)}, buffer, pickle_module=pickle)
        path.write_bytes(buffer.getvalue())
    with pytest.raises(CheckpointError) as error:
        load_model(path, RunData(smoke_spec()))
    message = str(error.value)
    assert str(path) in message and f"delete its run folder ({tmp_path})" in message
    assert error.value.__cause__ is None and "\n" not in message  # one line, no torch internals attached


def test_atomic_write_leaves_the_old_file_whole_when_interrupted(tmp_path: Path) -> None:
    target = tmp_path / "record.json"
    write_json(target, {"old": 1})
    with pytest.raises(KeyboardInterrupt), atomic_path(target) as tmp:
        tmp.write_text('{"new": ')
        raise KeyboardInterrupt
    assert target.read_text() == '{\n  "old": 1\n}\n'
    assert [p.name for p in tmp_path.iterdir()] == ["record.json"]


def test_checkpoints_are_byte_reproducible(tmp_path: Path) -> None:
    first, second = tiny_checkpoint(tmp_path / "a.pt"), tmp_path / "b.pt"
    save_checkpoint(second, load_checkpoint(first))
    assert first.read_bytes() == second.read_bytes()


def test_unusable_resume_states_are_ignored_with_a_reason(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = smoke_spec()
    save_state(tmp_path, spec.to_dict(), TrainingState(step=4, task_description={"name": "markov"}))
    assert load_state(tmp_path, spec.to_dict(), spec.run_id).step == 4
    assert load_state(tmp_path, smoke_spec(lr=1.0e-3).to_dict(), spec.run_id) is None
    assert "saved under other settings; training from step 0" in capsys.readouterr().out
    (tmp_path / "resume_state.pt").write_bytes(b"half a file")
    assert load_state(tmp_path, spec.to_dict(), spec.run_id) is None
    assert "ignoring an unreadable resume state" in capsys.readouterr().out


def test_a_run_does_not_resume_on_changed_data() -> None:
    saved = {"name": "text", "corpus_sha256": "a" * 64}
    with pytest.raises(TaskChangedError, match=r"corpus_sha256: 'a{64}' -> 'b{64}'.*delete resume_state.pt"):
        check_same_task("text_learned/seed0", saved, {**saved, "corpus_sha256": "b" * 64})


def test_runs_trained_on_different_corpora_are_not_pooled() -> None:
    def record(run_id: str, sha: str) -> dict:
        return {"run_id": run_id, "spec": {"task_label": "text"}, "task_description": {"corpus_sha256": sha}}

    check_same_corpus([record("a/seed0", "1" * 64), record("a/seed1", "1" * 64)])
    with pytest.raises(CorpusMismatchError, match=r"task 'text' were trained on different corpora .*a/seed0.*b/seed0"):
        check_same_corpus([record("a/seed0", "1" * 64), record("b/seed0", "2" * 64)])


def test_the_deferred_watch_reports_the_first_non_finite_step() -> None:
    """Checked only where the loop syncs anyway, the watch still names the first bad step and its loss."""
    from analysis.training import NonFiniteWatch

    watch = NonFiniteWatch(torch.device("cpu"))
    for step, loss in enumerate([1.0, 0.9, float("nan"), 0.8, float("inf")], start=1):
        watch.note(step, torch.tensor(loss))
        if step == 2:
            watch.check("r", [], torch.device("cpu"))  # nothing bad yet: no error
    with pytest.raises(Diverged, match=r"run r: loss became nan at step 3"):
        watch.check("r", [], torch.device("cpu"))
