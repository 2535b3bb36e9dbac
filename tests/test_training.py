"""Training is deterministic given the seed, and learns."""
from __future__ import annotations

import hashlib
from pathlib import Path

from workflow_helpers import smoke_config

from analysis.config import load_study
from analysis.training import checkpoint_path, learning_rate, train_run


def digest(path: Path) -> str:
    import torch

    state = torch.load(path, weights_only=True)["model"]
    return hashlib.sha256(b"".join(t.numpy().tobytes() for t in state.values())).hexdigest()


def test_same_seed_gives_identical_weights(tmp_path: Path) -> None:
    spec = next(iter(load_study(smoke_config()).runs.values()))
    first = train_run(spec, tmp_path / "a", progress=False)
    second = train_run(spec, tmp_path / "b", progress=False)
    steps = spec.train["steps"]
    assert digest(checkpoint_path(tmp_path / "a", steps)) == digest(checkpoint_path(tmp_path / "b", steps))
    assert first["final_eval_loss"] == second["final_eval_loss"]
    assert first["final_eval_loss"] < first["eval_loss"]["0"]


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
        "assert 'torch._inductor' not in sys.modules, 'the compiler was imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
