"""The science does not depend on its tooling: ``analysis`` never imports ``tooling`` (the reverse is how it works)."""
from __future__ import annotations

import ast

from workflow_helpers import REPO


def imported_modules(tree: ast.AST) -> list[str]:
    """Absolute module names of every import statement (relative imports stay inside their package)."""
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module)
    return names


def test_analysis_never_imports_tooling() -> None:
    offending = [
        f"{path.relative_to(REPO)}: {name}"
        for path in sorted((REPO / "analysis").rglob("*.py"))
        for name in imported_modules(ast.parse(path.read_text(), str(path)))
        if name.split(".")[0] == "tooling"
    ]
    assert not offending, f"analysis imports tooling: {offending}"

