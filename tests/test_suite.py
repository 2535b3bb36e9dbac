"""The split of the suite: no unit test (``pytest -m "not workflow"``, ``make test-unit``) runs Snakemake or the paper build."""
from __future__ import annotations

import ast
import subprocess
import sys

from workflow_helpers import REPO

# Calls that start Snakemake or compile the paper; a test making one, or naming a fixture of its file that does, is a workflow test.
WORKFLOW_CALLS = {"snakemake", "planned_jobs", "start_study", "typst.compile"}


def unit_tests() -> list[str]:
    """Node ids (without parameters) that ``-m "not workflow"`` collects."""
    command = [sys.executable, "-m", "pytest", "--collect-only", "-q", "-m", "not workflow", "-p", "no:cacheprovider"]
    collected = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert collected.returncode == 0, collected.stdout[-3000:] + collected.stderr[-3000:]
    return sorted({line.split("[", 1)[0] for line in collected.stdout.splitlines() if "::" in line})


def workflow_functions(path: str) -> set[str]:
    """Top-level functions of a test file whose body makes one of ``WORKFLOW_CALLS``, or that name such a fixture."""
    functions = {node.name: node for node in ast.parse((REPO / path).read_text()).body if isinstance(node, ast.FunctionDef)}

    def calls_workflow(node: ast.FunctionDef) -> bool:
        return any(isinstance(call, ast.Call) and ast.unparse(call.func) in WORKFLOW_CALLS for call in ast.walk(node))

    direct = {name for name, node in functions.items() if calls_workflow(node)}
    return direct | {name for name, node in functions.items() if any(arg.arg in direct for arg in node.args.args)}


def test_no_unit_test_runs_snakemake_or_compiles_the_paper() -> None:
    unit = unit_tests()
    assert unit, "no unit test collected"
    offenders = [nodeid for nodeid in unit if nodeid.split("::")[-1] in workflow_functions(nodeid.split("::")[0])]
    assert not offenders, f"mark these @pytest.mark.workflow (or list their file in tests/conftest.py): {offenders}"
