"""The split of the suite is its folders: no test under ``tests/unit/`` (``make test-unit``) runs Snakemake, the smoke
study or the paper build; those live under ``tests/workflow/``."""
from __future__ import annotations

import ast

from workflow_helpers import REPO

# Calls that start Snakemake or compile the paper, and the fixture that runs the smoke study.
WORKFLOW_CALLS = {"snakemake", "planned_jobs", "start_study", "typst.compile", "subprocess.run"}
WORKFLOW_FIXTURES = {"smoke_study"}
UNIT = REPO / "tests" / "unit"


def workflow_uses(path) -> list[str]:
    """Lines of a test file that start Snakemake, compile the paper or ask for the smoke study."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call) and ast.unparse(node.func) in WORKFLOW_CALLS:
            command = ast.unparse(node.args[0]) if node.args else ""
            if ast.unparse(node.func) != "subprocess.run" or "SNAKEMAKE" in command or "snakemake" in command:
                found.append(f"{path.name}:{node.lineno}: {ast.unparse(node.func)}")
        elif isinstance(node, ast.arg) and node.arg in WORKFLOW_FIXTURES:
            found.append(f"{path.name}:{node.lineno}: fixture {node.arg}")
    return found


def test_the_checker_finds_a_snakemake_run_and_the_smoke_fixture(tmp_path) -> None:
    sample = tmp_path / "test_sample.py"
    sample.write_text("def test_a(smoke_study):\n    snakemake(1, 2)\n\n\ndef test_b():\n    subprocess.run([SNAKEMAKE])\n")
    assert workflow_uses(sample) == ["test_sample.py:1: fixture smoke_study", "test_sample.py:2: snakemake",
                                     "test_sample.py:6: subprocess.run"]


def test_no_unit_test_runs_snakemake_or_compiles_the_paper() -> None:
    offenders = [use for path in sorted(UNIT.glob("test_*.py")) for use in workflow_uses(path)]
    assert not offenders, f"move these tests to tests/workflow/: {offenders}"
