"""The walk-through "Add an experimental condition" of docs/extending.md, followed literally in a copy of the repository.

Every fenced block of that section that names a file (``file=...``) is applied to the copy
as written: a ``python``/``yaml`` block creates the file, a ``diff`` block replaces its
``-`` lines by its ``+`` lines (and fails if they no longer match the file). Then the
section's commands run there: the pytest line as written; ``make dag`` as the snakemake
dry run it stands for (make itself would set up a second environment); and, for
``make study`` (a minute of training), the same training and measuring code its jobs run,
on one new condition.
"""
from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from workflow_helpers import REPO

GUIDE = REPO / "docs" / "extending.md"
SECTION = "## Add an experimental condition"
FENCE = re.compile(r"^```(\w+)(?: +file=(\S+))?\n(.*?)^```", re.M | re.S)
NOT_COPIED = shutil.ignore_patterns(".git", ".venv*", "results", ".snakemake", "__pycache__", ".pytest_cache", ".ruff_cache")
PROFILE = "config/tutorial.yaml"


def tutorial_section() -> str:
    return GUIDE.read_text().split(SECTION, 1)[1].split("\n## ", 1)[0]


def tutorial_blocks() -> list[tuple[str, str, str]]:
    """(language, file, body) of each block that names a file, in reading order."""
    return [(language, path, body) for language, path, body in FENCE.findall(tutorial_section()) if path]


def apply_block(root: Path, language: str, path: str, body: str) -> None:
    target = root / path
    if language != "diff":
        assert not target.exists(), f"the walk-through creates {path}, which already exists"
        target.write_text(body)
        return
    lines = body.splitlines()
    assert all(line[:1] in " -+" for line in lines), f"{path}: a diff block has only ' ', '-' and '+' lines"
    old = "".join(line[1:] + "\n" for line in lines if line[:1] in " -")
    new = "".join(line[1:] + "\n" for line in lines if line[:1] in " +")
    text = target.read_text()
    assert text.count(old) == 1, f"the walk-through's change to {path} no longer matches that file; expected once:\n{old}"
    target.write_text(text.replace(old, new))


def commands() -> list[str]:
    """The shell lines of the section's ``sh`` blocks, without comments."""
    blocks = [body for language, path, body in FENCE.findall(tutorial_section()) if language == "sh" and not path]
    return [line.split("#", 1)[0].strip() for body in blocks for line in body.splitlines() if line.split("#", 1)[0].strip()]


def run_in(root: Path, command: list[str], timeout: int = 300) -> subprocess.CompletedProcess:
    """Run ``command`` in the copy, importing the copy's ``analysis`` (ahead of the editable install)."""
    environment = {**os.environ, "PYTHONPATH": str(root)}
    result = subprocess.run(command, cwd=root, env=environment, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{shlex.join(command)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


@pytest.fixture(scope="module")
def extended_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the repository with the walk-through's blocks applied."""
    root = tmp_path_factory.mktemp("tutorial") / "repo"
    shutil.copytree(REPO, root, ignore=NOT_COPIED)
    for block in tutorial_blocks():
        apply_block(root, *block)
    return root


def test_the_walk_through_adds_an_encoding_a_task_and_a_profile() -> None:
    changed = {(language, path) for language, path, _ in tutorial_blocks()}
    assert {path for _, path in changed} >= {
        "analysis/models/positional/__init__.py", "analysis/tasks/__init__.py", PROFILE,
    }  # fmt: skip
    assert any(path.startswith("analysis/models/positional/") and language == "python" for language, path in changed)
    assert any(path.startswith("analysis/tasks/") and language == "python" for language, path in changed)
    assert commands() == [
        '.venv/bin/python -m pytest tests/unit/test_positional.py tests/unit/test_regimes.py tests/unit/test_tasks.py -q -k "t5-bias or repeat"',
        "make dag PROFILE=tutorial",
        "make study PROFILE=tutorial",
    ]


def test_a_diff_that_no_longer_matches_is_caught(tmp_path: Path) -> None:
    (tmp_path / "f.py").write_text("a = 1\n")
    with pytest.raises(AssertionError, match="no longer matches"):
        apply_block(tmp_path, "diff", "f.py", "-a = 2\n+a = 3\n")


def test_the_new_encoding_and_task_pass_the_interface_tests(extended_repo: Path) -> None:
    command = shlex.split(commands()[0])
    assert command[0] == ".venv/bin/python"
    result = run_in(extended_repo, [sys.executable, *command[1:], "-p", "no:cacheprovider"])
    passed = int(re.search(r"(\d+) passed", result.stdout).group(1))
    assert passed >= 9 and " failed" not in result.stdout, result.stdout[-2000:]  # attention, regimes, tasks


def test_the_profile_validates_and_plans_the_new_conditions(extended_repo: Path, tmp_path: Path) -> None:
    makefile = (extended_repo / "Makefile").read_text()
    assert re.search(r"^dag: .*\n\t\$\(SNAKEMAKE\) -n$", makefile, re.M), "make dag is no longer a snakemake dry run"
    snakemake = [
        str(Path(sys.executable).parent / "snakemake"), "--snakefile", "workflow/Snakefile",
        "--workflow-profile", "workflow/profiles/default", "--configfile", PROFILE, "--cores", "2",
    ]  # fmt: skip  (the Makefile's SNAKEMAKE, PROFILE=tutorial)
    result = run_in(extended_repo, [*snakemake, "--directory", str(tmp_path), "-n"])
    planned = set(re.findall(r"^rule (train_\w+):", result.stdout, re.M))
    assert planned >= {
        "train_repeat_4_t5_bias_standard_L2_D16_H2_T8_S20_block0",
        "train_markov_t5_bias_standard_L2_D16_H2_T8_S20_block0",
        "train_repeat_4_learned_standard_L2_D16_H2_T8_S20_block0",
    }, sorted(planned)


TRAIN_AND_MEASURE = """
import json, sys
from pathlib import Path
import pandas as pd
from analysis.config import load_study_file
from analysis.measures.run import measure_run
from analysis.training import checkpoint_path, train_run

study = load_study_file(sys.argv[1])
spec = study.runs["repeat-4_t5-bias_standard_L2_D16_H2_T8_S20/seed0"]
run_dir = Path(sys.argv[2])
record = train_run(spec, run_dir, progress=False)  # what a training job of `make study` runs
measure_run(spec, {step: checkpoint_path(run_dir, step) for step in record["checkpoint_steps"]}, run_dir)
m1 = pd.read_csv(run_dir / "m1_gradient_matrix.csv")
print(json.dumps({
    "task": record["task_description"], "losses": [record["eval_loss"]["0"], record["final_eval_loss"]],
    "baseline": record["baseline_loss"], "optimal": record["optimal_loss"],
    "measures": sorted(p.stem for p in run_dir.glob("m*.csv") if len(pd.read_csv(p))),
    "m1_finite": bool(m1["grad_norm_mean"].notna().all()), "m1_steps": sorted(set(m1["step"])),
}))
"""


def test_a_new_condition_trains_and_is_measured(extended_repo: Path, tmp_path: Path) -> None:
    result = run_in(extended_repo, [sys.executable, "-c", TRAIN_AND_MEASURE, PROFILE, str(tmp_path / "run")])
    outcome = json.loads(result.stdout.strip().splitlines()[-1])
    assert outcome["task"] == {"name": "repeat", "version": 1, "vocab": 8, "period": 4}
    assert 0 < outcome["optimal"] < outcome["baseline"] and all(loss > 0 for loss in outcome["losses"])
    assert outcome["m1_finite"] and outcome["m1_steps"] == [0, 4, 20]
    assert {"m1_gradient_matrix", "m3_decomposition", "m4_position_loss", "m5_reachability", "m7_weight_channel"} <= set(
        outcome["measures"]
    )
