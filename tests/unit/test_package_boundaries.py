"""The package's boundaries: ``analysis`` never imports ``tooling``; its imports flow one way, down a stated layer
order, with no cycle; and it opens no path outside its own folder (the workflow hands in what lives elsewhere).

The layer order (lowest first; docs/layout.md states it too). A module may import from its own layer or a lower one:

0. ground: ``spec`` (the run spec), ``grid``, ``io``, ``device``, ``seeding``, ``environment``, ``logs``,
   ``outcomes``, ``resume``, ``provenance``, ``registry``
1. ``regimes``, ``tasks``
2. ``models``
3. ``held_out``, ``training``
4. ``measures``
5. ``stats`` (the claims, the descriptive analyses and their inference)
6. ``config`` (validates names from every layer below)
7. ``stats.stages``, ``block``, ``card``: the jobs, which put the layers below together
"""
from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

import pytest
from workflow_helpers import REPO

PACKAGE = REPO / "analysis"
LAYERS: tuple[tuple[str, ...], ...] = (
    ("analysis", "analysis.spec", "analysis.grid", "analysis.io", "analysis.device", "analysis.seeding",
     "analysis.environment", "analysis.logs", "analysis.outcomes", "analysis.resume", "analysis.provenance",
     "analysis.registry"),
    ("analysis.regimes", "analysis.tasks"),
    ("analysis.models",),
    ("analysis.held_out", "analysis.training"),
    ("analysis.measures",),
    ("analysis.stats",),
    ("analysis.config",),
    ("analysis.stats.stages", "analysis.block", "analysis.card"),
)


def imported_modules(tree: ast.AST) -> list[str]:
    """Absolute module names of every import statement (relative imports stay inside their package)."""
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module)
    return names


def module_name(path: Path, root: Path = PACKAGE) -> str:
    parts = path.relative_to(root.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _type_checking_only(tree: ast.AST) -> set[int]:
    """ids of the import nodes under ``if TYPE_CHECKING:`` (annotations only: never run)."""
    return {
        id(inner) for node in ast.walk(tree)
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"
        for inner in ast.walk(node) if isinstance(inner, ast.Import | ast.ImportFrom)
    }


def import_graph(root: Path = PACKAGE, runtime_only: bool = False) -> dict[str, set[str]]:
    """Module -> the package's modules it imports (anywhere in it: top level or inside a function). ``from . import x``
    counts as importing the submodule x where there is one; ``runtime_only`` leaves out ``if TYPE_CHECKING:`` imports."""
    paths = {module_name(path, root): path for path in sorted(root.rglob("*.py"))}
    graph: dict[str, set[str]] = {}
    for name, path in paths.items():
        tree = ast.parse(path.read_text(), str(path))
        skipped = _type_checking_only(tree) if runtime_only else set()
        package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
        targets: set[str] = set()
        for node in ast.walk(tree):
            if id(node) in skipped:
                continue
            if isinstance(node, ast.Import):
                targets |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom):
                base = package[: len(package) - node.level + 1] if node.level else []
                module = ".".join([*base, *(node.module.split(".") if node.module else [])])
                submodules = {f"{module}.{alias.name}" for alias in node.names} & set(paths)
                targets |= submodules or {module}
        graph[name] = {target for target in targets if target in paths and target != name}
    return graph


def layer_of(module: str, layers: tuple[tuple[str, ...], ...] = LAYERS) -> int:
    """The layer of the longest prefix of ``module`` named in ``layers``."""
    matches = [(len(prefix), level) for level, prefixes in enumerate(layers) for prefix in prefixes
               if module == prefix or (module.startswith(prefix + ".") and "." in prefix)]  # the root: itself only
    if not matches:
        raise KeyError(f"{module} is in no layer: add it to LAYERS (and docs/layout.md)")
    return max(matches)[1]


def upward_imports(graph: Mapping[str, Iterable[str]], layers: tuple[tuple[str, ...], ...] = LAYERS) -> list[str]:
    return sorted(f"{a} (layer {layer_of(a, layers)}) imports {b} (layer {layer_of(b, layers)})"
                  for a, targets in graph.items() for b in targets if layer_of(b, layers) > layer_of(a, layers))


def cycles(graph: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """One cycle per strongly connected part of more than one module (depth-first search)."""
    found, done = [], set()
    for start in sorted(graph):
        stack, on_path = [(start, iter(sorted(graph[start])))], [start]
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                stack.pop()
                on_path.pop()
                done.add(node)
            elif child in on_path:
                found.append([*on_path[on_path.index(child):], child])
            elif child not in done:
                stack.append((child, iter(sorted(graph.get(child, ())))))
                on_path.append(child)
    return found


OUTSIDE = re.compile(r"parents\[\d+\]|\.parent\.parent|\bREPO\b")
REPOSITORY_FOLDERS = ("workflow", "paper", "results", "tooling", "figures", "config")


def opens_outside(source: str) -> list[str]:
    """What in ``source`` reaches outside the package: a walk up from ``__file__`` (``parents[k]``, ``.parent.parent``),
    a ``REPO`` constant, or a string (not a docstring) that is a repository folder's path."""
    tree = ast.parse(source)
    docstrings = {id(node.value) for node in ast.walk(tree) if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)}
    joined = {id(side) for node in ast.walk(tree) if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div)
              for side in (node.left, node.right)}  # ... / "paper" / ...: a path, where config["paper"] is a key
    found = [match.group() for match in OUTSIDE.finditer(source)]
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            folder = node.value.strip("/").split("/")[0]
            if folder in REPOSITORY_FOLDERS and ("/" in node.value or id(node) in joined):
                found.append(repr(node.value))
    return found


def test_analysis_never_imports_tooling() -> None:
    offending = [
        f"{path.relative_to(REPO)}: {name}"
        for path in sorted(PACKAGE.rglob("*.py"))
        for name in imported_modules(ast.parse(path.read_text(), str(path)))
        if name.split(".")[0] == "tooling"
    ]
    assert not offending, f"analysis imports tooling: {offending}"


def test_every_module_has_a_layer_and_imports_only_its_own_or_lower_ones() -> None:
    graph = import_graph()
    assert {"analysis.spec", "analysis.config", "analysis.stats.c1", "analysis.card.report"} <= set(graph)
    assert not upward_imports(graph)


def test_the_package_has_no_import_cycle() -> None:
    assert not cycles(import_graph(runtime_only=True))


def test_the_package_opens_no_path_outside_itself() -> None:
    offending = {str(path.relative_to(REPO)): opens_outside(path.read_text()) for path in sorted(PACKAGE.rglob("*.py"))}
    assert not {path: found for path, found in offending.items() if found}


# --- each check catches a planted offender ------------------------------------------------------------------------


def test_an_upward_import_is_caught() -> None:
    assert upward_imports({"analysis.spec": {"analysis.config"}, "analysis.config": {"analysis.spec"}}) == [
        "analysis.spec (layer 0) imports analysis.config (layer 6)"]
    assert upward_imports({"analysis.measures.data": {"analysis.stats.c1"}})  # a submodule takes its package's layer
    with pytest.raises(KeyError, match="analysis.newcomer is in no layer"):
        upward_imports({"analysis.spec": {"analysis.newcomer"}})


def test_a_cycle_is_caught_and_type_only_imports_do_not_count(tmp_path: Path) -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c", "a"]]
    assert not cycles({"a": {"b"}, "b": {"c"}, "c": set()})
    files = {"pkg/__init__.py": "from . import one\n", "pkg/one.py": "from .two import x\n",
             "pkg/two.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .one import y\nx = 1\n",
             "pkg/three.py": "def f():\n    from .four import z\n", "pkg/four.py": "from . import three\n"}
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    graph = import_graph(tmp_path / "pkg", runtime_only=True)
    assert graph["pkg"] == {"pkg.one"} and graph["pkg.two"] == set()
    assert cycles(graph) == [["pkg.four", "pkg.three", "pkg.four"]]  # an import inside a function dodges nothing
    assert import_graph(tmp_path / "pkg")["pkg.two"] == {"pkg.one"}  # the layer check still sees it


@pytest.mark.parametrize("line", [
    'ROOT = Path(__file__).resolve().parents[1]', 'x = Path(__file__).parent.parent / "a"', "from x import REPO",
    'SCHEMA = "workflow/schemas/config.schema.yaml"', 'open(root / "paper" / "rules_commit.txt")', 'OUT = "results/cards"',
])
def test_a_path_outside_the_package_is_caught(line: str) -> None:
    assert opens_outside(line + "\n")


def test_words_and_docstrings_are_not_paths() -> None:
    assert not opens_outside('"""Read by workflow/scripts/statistics.py."""\nTITLE = config["paper"]["title"]\n'
                             'HERE = Path(__file__).with_name("config.schema.yaml")\n')
