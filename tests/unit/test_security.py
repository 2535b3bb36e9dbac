"""Safe by construction: checkpoints never unpickle code, no config value reaches a shell, nothing is fetched at run time."""
from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path

from workflow_helpers import REPO

STUDY_CODE = [p for folder in ("analysis", "tooling", "workflow", "figures") for p in sorted((REPO / folder).rglob("*.py"))]
CODE = [*STUDY_CODE, *sorted((REPO / "tests").rglob("*.py"))]
RULES = [REPO / "workflow" / "Snakefile", *sorted((REPO / "workflow" / "rules").glob("*.smk"))]
NETWORK_MODULES = {"urllib", "requests", "httpx", "http", "socket", "ftplib", "aiohttp", "torch.hub", "huggingface_hub"}


@cache
def nodes(path: Path) -> list[ast.AST]:
    return list(ast.walk(ast.parse(path.read_text(), str(path))))


def calls(path: Path) -> list[tuple[str, ast.Call]]:
    """(dotted name, call) for every call in ``path``."""
    found = []
    for node in nodes(path):
        if isinstance(node, ast.Call):
            found.append((ast.unparse(node.func), node))
    return found


def keyword(call: ast.Call, name: str) -> str | None:
    return next((ast.unparse(k.value) for k in call.keywords if k.arg == name), None)


def test_every_torch_load_is_weights_only() -> None:
    loads = [(path, call) for path in CODE for name, call in calls(path) if name == "torch.load"]
    assert loads, "expected analysis/io.py to load checkpoints"
    unsafe = [f"{path.relative_to(REPO)}:{call.lineno}" for path, call in loads if keyword(call, "weights_only") != "True"]
    assert not unsafe, f"torch.load without weights_only=True: {unsafe}"


def test_no_config_value_reaches_a_shell() -> None:
    shell_rules = [f"{p.relative_to(REPO)}:{i}" for p in RULES for i, line in enumerate(p.read_text().splitlines(), 1)
                   if re.match(r"\s*shell:", line)]
    assert not shell_rules, f"rules should use script: (config values stay Python values): {shell_rules}"
    risky = [
        f"{path.relative_to(REPO)}:{call.lineno}" for path in CODE for name, call in calls(path)
        if keyword(call, "shell") == "True" or name in ("os.system", "os.popen")
    ]
    assert not risky, f"shell commands: {risky}"


def test_nothing_is_fetched_at_run_time() -> None:
    imported = []
    for path in STUDY_CODE:  # what a study runs (tests may start a local cluster)
        for node in nodes(path):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            imported += [f"{path.relative_to(REPO)}: {n}" for n in names if n.split(".")[0] in NETWORK_MODULES or n in NETWORK_MODULES]
    assert not imported, f"network access: {imported}"
    typst_packages = [p.name for p in (REPO / "paper").rglob("*.typ") if "@preview/" in p.read_text()]
    assert not typst_packages, f"Typst packages are downloaded when compiled: {typst_packages}"
