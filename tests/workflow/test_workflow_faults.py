"""A study SIGKILLed while training, with one run that diverges, ends exactly as an uninterrupted study.

One extra study run proves three claims at the cost of one: determinism (every checkpoint
and table equals the session's uninterrupted smoke study, trained in other processes),
resume after SIGKILL (finished runs are not retrained, interrupted ones continue bit-identically,
nothing half-written is taken for an output) and divergence as a recorded outcome (the
diverged run is listed as missing, reported in the headline, and averaged into nothing).
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pandas as pd
import pytest
from workflow_helpers import REPO, SNAKEFILE, SNAKEMAKE, smoke_config, snakemake, write_config

from analysis.io import load_checkpoint

DIVERGING = "markov_learned_standard_L2_D16_H2_T8_S10"
TIMING_COLUMNS = ["train_wall_time_s", "measure_wall_time_s"]


def start_study(workdir: Path, configfile: Path, env: dict[str, str]) -> subprocess.Popen:
    command = [
        str(SNAKEMAKE), "--snakefile", str(SNAKEFILE),
        "--directory", str(workdir), "--workflow-profile", str(REPO / "workflow" / "profiles" / "default"),
        "--configfile", str(configfile), "--cores", "2", "results/smoke/headline.md",
    ]
    log = open(workdir / "killed_study.log", "w")  # noqa: SIM115 (closed with the process)
    return subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def kill_while_training(workdir: Path, configfile: Path) -> None:
    """Start the study; when a job has saved seed 1's state at step 4 (seed 0 of its block is done), SIGKILL everything."""
    marker = workdir / "paused"
    env = {
        **os.environ, "PYTHONPATH": str(REPO / "tests" / "fault_injection"),
        "GRADFLOW_PAUSE_AT": "1:4", "GRADFLOW_PAUSE_MARKER": str(marker),
    }
    process = start_study(workdir, configfile, env)
    deadline = time.monotonic() + 300
    while not marker.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"the study never reached the pause point:\n{(workdir / 'killed_study.log').read_text()[-3000:]}")
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)  # snakemake and every job: no chance to clean up
    process.wait()
    assert not survivors(workdir), "a job outlived the kill and could still write"


def survivors(workdir: Path) -> list[str]:
    """Command lines of processes still running on ``workdir`` (jobs run from its .snakemake/scripts)."""
    time.sleep(0.2)  # let the kernel reap the killed group
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            text = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if str(workdir) in text:
            found.append(text)
    return found


def digests(results: Path) -> dict[str, str]:
    return {str(p.relative_to(results)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(results.glob("runs/*/*/*.pt"))}


@pytest.fixture(scope="module")
def interrupted_study(smoke_study: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    workdir = tmp_path_factory.mktemp("interrupted")
    config = smoke_config()
    config["experiments"]["unstable"] = {  # not reported in the paper; a huge learning rate makes it diverge
        "grid": {"task": ["markov"], "steps": [10]}, "train": {"lr": 1.0e4, "grad_clip": 0}, "seeds": [0],
    }
    configfile = write_config(workdir / "smoke.yaml", config)
    kill_while_training(workdir, configfile)

    runs = workdir / "results" / "smoke" / "runs"
    for path in runs.rglob("*.pt"):  # what the kill left is whole (atomic writes) ...
        load_checkpoint(path)
    for path in runs.rglob("*.json"):
        json.loads(path.read_text())
    killed = {d.parent.parent.name for d in runs.glob("*/seed1/resume_state.pt")}  # jobs paused in seed 1, then killed
    assert killed and all((runs / c / "seed0" / "record.json").exists() for c in killed)  # whole outputs of killed jobs ...

    snakemake(workdir, configfile, "--unlock")  # the kill left Snakemake's lock behind
    rerun = snakemake(workdir, configfile, "results/smoke/headline.md")
    executed = set(re.findall(r"^(?:local)?rule (\w+):", rerun.stdout + rerun.stderr, re.M))
    assert {re.sub(r"\W", "_", f"train_{c}_block0") for c in killed} <= executed  # ... were not taken for results
    return workdir


def test_killed_study_resumes_to_identical_results(smoke_study: tuple[Path, Path], interrupted_study: Path) -> None:
    reference, rerun = smoke_study[0] / "results" / "smoke", interrupted_study / "results" / "smoke"
    logs = "".join(p.read_text() for p in (rerun / "logs" / "runs").rglob("*.log"))
    assert "seed1: resuming from step 4 of 20" in logs and "seed0: already trained before the job was interrupted" in logs

    expected = digests(reference)
    assert expected and {k: v for k, v in digests(rerun).items() if DIVERGING not in k} == expected
    for table in sorted((reference / "tables").glob("*.csv")):
        if table.name in ("runs.csv", "missing_runs.csv"):
            continue
        assert table.read_bytes() == (rerun / "tables" / table.name).read_bytes(), table.name
    runs = [pd.read_csv(d / "tables" / "runs.csv").drop(columns=TIMING_COLUMNS) for d in (reference, rerun)]
    pd.testing.assert_frame_equal(*runs)
    numbers = [json.loads((d / "paper_numbers.json").read_text()) for d in (reference, rerun)]
    for key in ("conditions", "verdicts", "claims", "counts", "myopia", "preregistration"):
        assert numbers[0][key] == numbers[1][key], key
    assert not list(rerun.glob("runs/*/*/resume_state.pt")) and not list(rerun.glob("runs/*/*/.*.tmp"))


def test_diverged_run_is_reported_and_averaged_into_nothing(interrupted_study: Path) -> None:
    results = interrupted_study / "results" / "smoke"
    missing = pd.read_csv(results / "tables" / "missing_runs.csv")
    assert missing[["run_id", "status", "step"]].values.tolist() == [[f"{DIVERGING}/seed0", "diverged", 5]]
    record = json.loads((results / "runs" / DIVERGING / "seed0" / "record.json").read_text())
    assert record["status"] == "diverged" and record["diverged_at_step"] == 5
    assert f"DIVERGED: run {DIVERGING}/seed0: loss became nan at step 5" in (results / "logs" / "runs" / DIVERGING / "block0.log").read_text()
    for table in (results / "tables").glob("*.csv"):
        if table.name != "missing_runs.csv" and "condition" in pd.read_csv(table, nrows=0).columns:
            assert DIVERGING not in set(pd.read_csv(table, usecols=["condition"])["condition"]), table.name
    headline = (results / "headline.md").read_text()
    assert f"**1 run(s) missing from every mean and test:** `{DIVERGING}/seed0` (diverged at step 5, loss nan)" in headline
