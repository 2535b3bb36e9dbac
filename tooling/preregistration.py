"""The preregistration's freeze, read from the repository: which files fix the rules, whether one changed since
the commit that fixed them, and which seeds were looked at while they were written.

The workflow asks this (``workflow/scripts/statistics.py``) and hands the answer to ``analysis.stats.stages``: the
package itself opens no path outside its own folder and asks git nothing about the repository.
"""
from __future__ import annotations

import ast
import inspect
import subprocess
from fnmatch import fnmatch
from pathlib import Path

import yaml

from analysis.stats.report import Freeze

REPO = Path(__file__).resolve().parents[1]
CONFIG_DIR = "config"  # the profiles and their overlays, relative to the repository (one place)
RULES_COMMIT_FILE = REPO / "paper" / "rules_commit.txt"  # the commit at which the rules were fixed (written once)

CLAIM_ENTRY_POINTS = (  # the code that decides the verdicts and the code that produces what they decide on
    "analysis/stats/claims.py", "analysis/stats/c[0-9]*.py", "analysis/stats/stages.py", "analysis/training.py",
    "analysis/measures/*.py",
)
DESIGN_FILES = (  # besides code: the confirmatory design and the rules as written down
    "paper/preregistration.md",
    f"{CONFIG_DIR}/*.yaml",
    f"{CONFIG_DIR}/overlays/*.yaml",
    "analysis/config.schema.yaml",  # its defaults fill every run's config
)


def _imported_modules(path: Path, package_root: Path) -> set[Path]:
    """Files of ``package_root``'s package that the module at ``path`` imports (absolute or relative), as .py paths."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = path.relative_to(package_root.parent).with_suffix("").parts[:-1]  # e.g. ("analysis", "stats")
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name.split(".") for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = list(package[: len(package) - node.level + 1]) if node.level else []
            module = base + (node.module.split(".") if node.module else [])
            names = [module] + [module + [alias.name] for alias in node.names]  # "from . import x" may name a module
        else:
            continue
        for parts in names:
            if not parts or parts[0] != package_root.name:
                continue
            target = package_root.parent.joinpath(*parts)
            for candidate in (target.with_suffix(".py"), target / "__init__.py"):
                if candidate.is_file():
                    found.add(candidate)
            for depth in range(1, len(parts)):  # importing a.b.c runs a/__init__.py and a/b/__init__.py
                init = package_root.parent.joinpath(*parts[:depth], "__init__.py")
                if init.is_file():
                    found.add(init)
    return found


def import_closure(entry_points: tuple[str, ...], root: Path = REPO, package: str = "analysis",
                   outside: tuple[str, ...] = ()) -> list[str]:
    """Every file of ``package`` the entry points (glob patterns under ``root``) import, directly or not, with the
    entry points themselves: the code a verdict depends on, computed rather than listed by hand. Files in ``outside``
    (paths under ``root``) are neither included nor followed."""
    package_root = root / package
    todo = sorted({path for pattern in entry_points for path in root.glob(pattern)})
    barrier = {root / name for name in outside}
    seen: set[Path] = set(barrier)
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        todo.extend(_imported_modules(path, package_root) - seen)
    return sorted(str(path.relative_to(root)) for path in seen - barrier)


def descriptive_modules(root: Path = REPO) -> tuple[str, ...]:
    """The modules of the listed descriptive analyses: they run after the verdicts and decide nothing, so the freeze
    leaves them out although the statistics stage, an entry point, imports them through the claim list."""
    from analysis.stats.listing import ANALYSES

    return tuple(sorted(Path(inspect.getsourcefile(analysis.compute)).resolve().relative_to(root.resolve()).as_posix()
                        for analysis in ANALYSES))


def rule_files(root: Path = REPO) -> tuple[str, ...]:
    """What the preregistration freezes (git pathspecs): the claims' import closure inside ``analysis/`` (measures,
    models, training, statistics ...), less the descriptive analyses, and the design files."""
    return (*import_closure(CLAIM_ENTRY_POINTS, root, outside=descriptive_modules(root)), *DESIGN_FILES)


def changed_since(commit: str, paths: tuple[str, ...] | None = None, root: Path = REPO) -> list[str] | None:
    """Rule files (``paths``: files or glob patterns) whose content differs between ``commit`` and the working tree
    (None: not decidable here).

    The preregistration names the commit at which the rules were fixed; the paper prints this list, so a rule
    changed after the confirmatory runs cannot pass unnoticed. A file moved with its content unchanged (git's
    100%-similar rename) is not a change of rule; a moved file that was also edited is, under its new path.
    """
    paths = rule_files() if paths is None else paths
    try:
        status = subprocess.run(
            ["git", "diff", "--name-status", "--find-renames=100%", commit], cwd=root, capture_output=True, text=True,
            check=True,
        ).stdout.splitlines()
    except (OSError, subprocess.CalledProcessError):
        return None
    changed = set()
    for line in status:
        kind, *names = line.split("\t")
        if kind == "R100":
            continue
        if any(fnmatch(name, pattern) for name in names for pattern in paths):
            changed.add(names[-1])
    return sorted(changed)


OVERLAYS = REPO / CONFIG_DIR / "overlays"
# Seeds of the default profile that have been looked at besides the overlays': v2's confirmatory seeds (100-104) and
# the seeds v3 was developed on (100-109). They are exploratory for good; a confirmatory range is always new.
SPENT_SEEDS = tuple(range(100, 110))


def exploratory_seeds(profile: str) -> list[int]:
    """The seeds looked at while the rules and analyses were written: the default profile's exploratory overlay
    (overlays/exploratory.yaml, where the claims' rules were developed), the overlay that reruns this profile
    as ``<profile>-exploratory``, where there is one, and the spent seeds (``SPENT_SEEDS``)."""
    seeds = set(SPENT_SEEDS)
    for path in sorted(OVERLAYS.glob("*.yaml")):
        overlay = yaml.safe_load(path.read_text())
        if overlay.get("profile") in ("default-exploratory", f"{profile}-exploratory"):
            seeds |= set(overlay["seeds"])
            for experiment in (overlay.get("experiments") or {}).values():
                seeds |= set(experiment.get("seeds", []))
    return sorted(seeds)


def rules_commit() -> str:
    """The commit at which the rules were fixed ("" before it is written)."""
    return RULES_COMMIT_FILE.read_text().strip() if RULES_COMMIT_FILE.exists() else ""


def freeze(profile: str) -> Freeze:
    """What the statistics stage prints about the preregistration of ``profile`` (its overlay, ``-exploratory``, aside)."""
    commit = rules_commit()
    changed = changed_since(commit) if commit else None
    return Freeze(tuple(exploratory_seeds(profile.removesuffix("-exploratory"))), commit, None if changed is None else tuple(changed))
