"""The walk-throughs "Add an experimental condition" and "A new figure" of docs/extending.md, followed literally in a
copy of the repository.

Every fenced block of that section that names a file (``file=...``) is applied to the copy
as written: a ``python``/``yaml`` block creates the file, a ``diff`` block replaces its
``-`` lines by its ``+`` lines (and fails if they no longer match the file). Then the
section's commands run there: the pytest line as written; ``make dag`` as the snakemake
dry run it stands for (make itself would set up a second environment); and, for
``make study`` (a minute of training), the same training and measuring code its jobs run,
on one new condition, and the figure driver on that run's tables.
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

import pandas as pd
import pytest
from workflow_helpers import REPO

GUIDE = REPO / "docs" / "extending.md"
SECTION = "## Add an experimental condition"
FIGURE_SECTION = "## A new figure"
FENCE = re.compile(r"^```(\w+)(?: +file=(\S+))?\n(.*?)^```", re.M | re.S)
NOT_COPIED = shutil.ignore_patterns(".git", ".venv*", "results", ".snakemake", "__pycache__", ".pytest_cache", ".ruff_cache")
PROFILE = "config/tutorial.yaml"


def tutorial_section(title: str = SECTION) -> str:
    return GUIDE.read_text().split(title, 1)[1].split("\n## ", 1)[0]


def tutorial_blocks() -> list[tuple[str, str, str]]:
    """(language, file, body) of each block that names a file, in reading order (the condition, then the figure)."""
    return [(language, path, body) for title in (SECTION, FIGURE_SECTION)
            for language, path, body in FENCE.findall(tutorial_section(title)) if path]


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


def commands(title: str = SECTION) -> list[str]:
    """The shell lines of the section's ``sh`` blocks, without comments."""
    blocks = [body for language, path, body in FENCE.findall(tutorial_section(title)) if language == "sh" and not path]
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
    assert {path for _, path in changed} >= {"figures/gradient_by_distance.py", "workflow/report/gradient_by_distance.rst",
                                             "figures/catalog.py"}
    assert commands(FIGURE_SECTION) == [
        ".venv/bin/python -m pytest tests/unit/test_figures.py -q -k gradient_by_distance", "make study PROFILE=tutorial",
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
    assert re.search(r"^rule figure_gradient_by_distance:", result.stdout, re.M), "the new figure has no rule"


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


@pytest.fixture(scope="module")
def trained_run(extended_repo: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """One new condition trained and measured as a job of `make study` would: its folder and what it reports."""
    run_dir = tmp_path_factory.mktemp("tutorial-run") / "run"
    result = run_in(extended_repo, [sys.executable, "-c", TRAIN_AND_MEASURE, PROFILE, str(run_dir)])
    return run_dir, json.loads(result.stdout.strip().splitlines()[-1])


def test_a_new_condition_trains_and_is_measured(trained_run: tuple[Path, dict]) -> None:
    _, outcome = trained_run
    assert outcome["task"] == {"name": "repeat", "version": 1, "vocab": 8, "period": 4}
    assert 0 < outcome["optimal"] < outcome["baseline"] and all(loss > 0 for loss in outcome["losses"])
    assert outcome["m1_finite"] and outcome["m1_steps"] == [0, 4, 20]
    assert {"m1_gradient_matrix", "m3_decomposition", "m4_position_loss", "m5_reachability", "m7_weight_channel"} <= set(
        outcome["measures"]
    )


def test_the_new_figure_passes_its_contract_test_and_is_drawn(extended_repo: Path, trained_run: tuple[Path, dict],
                                                               tmp_path: Path) -> None:
    command = shlex.split(commands(FIGURE_SECTION)[0])
    result = run_in(extended_repo, [sys.executable, *command[1:], "-p", "no:cacheprovider"])
    assert re.search(r"[1-9]\d* passed", result.stdout) and " failed" not in result.stdout, result.stdout[-2000:]
    run_dir, _ = trained_run  # a run's measure table has the columns of the aggregated one (the rows of one run)
    run_in(extended_repo, [sys.executable, "-m", "figures", "--configfile", PROFILE, "--tables", str(run_dir),
                           "--out", str(tmp_path), "gradient_by_distance"])  # what the figure's rule runs in `make study`
    assert (tmp_path / "gradient_by_distance.pdf").stat().st_size > 0


# "A new claim" (docs/extending.md): its blocks applied to a copy, its steps run there; for `make study`, the code of
# the statistics, readme_blocks and paper jobs on the smoke study's aggregated tables (seconds, not a second study).
CLAIM_SECTION = "## A new claim"
DECIDE_AND_PRINT = """
import json, shutil, sys
from pathlib import Path
import pandas as pd
import typst
from analysis.config import load_study_file
from analysis.io import read_json, write_json, write_table
from analysis.measures import MEASURES
from analysis.stats.stages import statistics
from tooling.doc_blocks import headline_markdown
from tooling.preregistration import freeze
from tooling.readme import splice_all

smoke, results = Path(sys.argv[1]), Path("results/smoke")
read = {name: pd.read_csv(smoke / "tables" / f"{name}.csv") for name in [*MEASURES.names(), "m4_myopia_gap", "train_log",
        "eval_curve", "runs", "missing_runs"]}  # the aggregate rule's outputs
records = [read_json(path) for path in sorted((smoke / "runs").glob("*/seed*/record.json"))]
study = load_study_file("config/smoke.yaml")
result = statistics(study.config, read.pop("runs"), read, records, read.pop("missing_runs"), study.paper_conditions(),
                    freeze("smoke"))
(results / "tables").mkdir(parents=True)
for name, table in result.tables.items():
    write_table(results / "tables" / f"{name}.csv", table)
(results / "headline.md").write_text(headline_markdown(result.numbers, "make study PROFILE=smoke") + "\\n")
splice_all(Path.cwd(), "smoke")
build = results / "paper_build"
shutil.copytree(smoke / "paper_build", build)
shutil.copytree("paper", build, dirs_exist_ok=True)
write_json(build / "paper_numbers.json", result.numbers)
html = typst.compile(str(build / "main.typ"), root=str(build), format="html").decode()
text = " ".join(__import__("re").sub(r"<[^>]+>", " ", html).split())
print(json.dumps({"sections": result.numbers["sections"], "text": text}))
"""


def claim_section() -> str:
    return GUIDE.read_text().split(CLAIM_SECTION, 1)[1].split("\n## ", 1)[0]


def test_a_new_claim_is_decided_listed_and_printed(smoke_study: tuple[Path, Path], tmp_path: Path) -> None:
    section = claim_section()
    blocks = [(language, path, body) for language, path, body in FENCE.findall(section) if path]
    assert [path for _, path, _ in blocks] == [
        "analysis/stats/c7.py", "tests/unit/test_claim_c7.py", "analysis/stats/listing.py", "analysis/stats/listing.py",
        "paper/sections/c7.typ",
    ]  # fmt: skip  (a module, its test, the claim list, the paper section: nothing else)
    root = tmp_path / "repo"
    shutil.copytree(REPO, root, ignore=NOT_COPIED)
    for block in blocks:
        apply_block(root, *block)
    steps = [line.split("#", 1)[0].strip() for language, _, body in FENCE.findall(section) if language == "sh"
             for line in body.splitlines() if line.split("#", 1)[0].strip()]  # fmt: skip
    assert steps == [
        "make readme", ".venv/bin/python -m pytest tests/unit/test_claim_c7.py tests/unit/test_docs.py -q",
        "make study PROFILE=smoke",
    ]  # fmt: skip
    assert re.search(r"^readme: .*\n\t\$\(BIN\)/python -m tooling\.readme --profile \$\(PROFILE\)$",
                     (root / "Makefile").read_text(), re.M), "make readme no longer runs tooling.readme"
    run_in(root, [sys.executable, "-m", "tooling.readme", "--profile", "smoke"])
    assert "| C7 | training lowers the held-out loss |\n" in (root / "README.md").read_text()
    assert "| C7 | training lowers the held-out loss | held-out loss at initialisation" in (root / "docs/results.md").read_text()
    result = run_in(root, [sys.executable, *shlex.split(steps[1])[1:], "-p", "no:cacheprovider"])
    assert " failed" not in result.stdout and "passed" in result.stdout, result.stdout[-2000:]

    smoke = smoke_study[0] / "results" / "smoke"
    outcome = json.loads(run_in(root, [sys.executable, "-c", DECIDE_AND_PRINT, str(smoke)]).stdout.strip().splitlines()[-1])
    verdicts = pd.read_csv(root / "results" / "smoke" / "tables" / "verdicts.csv")
    assert verdicts["claim"].tolist()[-1] == "C7" and (root / "results" / "smoke" / "tables" / "c7_drops.csv").exists()
    assert re.search(r"^\| C7 \| finding \| \*\*\w+\*\* \| \d+ of \d+ standard conditions", (root / "README.md").read_text(), re.M)
    assert outcome["sections"][5:8] == ["c6", "c7", "primacy"]
    text = outcome["text"]  # the rendered paper: C7's section between C6's and the first analysis's
    assert text.index("C6: how much") < text.index("C7: does training lower the held-out loss?") < text.index("Primacy: do the first positions")
