"""What a result must say about where it came from: commit, packages, device."""
from __future__ import annotations

import ast
import platform
import subprocess
from importlib import metadata
from pathlib import Path

import torch

PACKAGES = ("torch", "numpy", "pandas", "scipy", "seaborn", "matplotlib", "snakemake", "typst")
REPO = Path(__file__).resolve().parents[1]


def git_commit() -> str:
    """HEAD of the repository the code was imported from, with '-dirty' if it has uncommitted changes."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO, capture_output=True, text=True
        ).stdout.strip()
        return head + ("-dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def device_description(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"CPU ({platform.machine()}, {platform.processor() or 'unknown'}), {torch.get_num_threads()} torch thread(s)"


CLAIM_ENTRY_POINTS = (  # the code that decides the verdicts and the code that produces what they decide on
    "analysis/stats/claims.py", "analysis/stats/c[0-9]*.py", "analysis/stats/stages.py", "analysis/training.py",
    "analysis/measures/*.py",
)
DESIGN_FILES = (  # besides code: the confirmatory design and the rules as written down
    "paper/preregistration.md",
    "config/*.yaml",
    "config/overlays/*.yaml",
    "workflow/schemas/config.schema.yaml",  # its defaults fill every run's config
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


def import_closure(entry_points: tuple[str, ...], root: Path = REPO, package: str = "analysis") -> list[str]:
    """Every file of ``package`` the entry points (glob patterns under ``root``) import, directly or not, with the
    entry points themselves: the code a verdict depends on, computed rather than listed by hand."""
    package_root = root / package
    todo = sorted({path for pattern in entry_points for path in root.glob(pattern)})
    seen: set[Path] = set()
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        todo.extend(_imported_modules(path, package_root) - seen)
    return sorted(str(path.relative_to(root)) for path in seen)


def rule_files(root: Path = REPO) -> tuple[str, ...]:
    """What the preregistration freezes (git pathspecs): the claims' import closure inside ``analysis/`` (measures,
    models, training, statistics ...) and the design files."""
    return (*import_closure(CLAIM_ENTRY_POINTS, root), *DESIGN_FILES)


def changed_since(commit: str, paths: tuple[str, ...] | None = None) -> list[str] | None:
    """Files under ``paths`` that differ between ``commit`` and the working tree (None: not decidable here).

    The preregistration names the commit at which the rules were fixed; the paper prints this
    list, so a rule changed after the confirmatory runs cannot pass unnoticed.
    """
    paths = rule_files() if paths is None else paths
    try:
        changed = subprocess.run(
            ["git", "diff", "--name-only", commit, "--", *paths], cwd=REPO, capture_output=True, text=True, check=True
        ).stdout.split()
    except (OSError, subprocess.CalledProcessError):
        return None
    return sorted(changed)


OVERLAYS = REPO / "config" / "overlays"
# Seeds of the default profile that have been looked at besides the overlays': v2's confirmatory seeds (100-104) and
# the seeds v3 was developed on (100-109). They are exploratory for good; a confirmatory range is always new.
SPENT_SEEDS = tuple(range(100, 110))


def exploratory_seeds(profile: str) -> list[int]:
    """The seeds looked at while the rules and analyses were written: the default profile's exploratory overlay
    (overlays/exploratory.yaml, where the claims' rules were developed), the overlay that reruns this profile
    as ``<profile>-exploratory``, where there is one, and the spent seeds (``SPENT_SEEDS``)."""
    import yaml

    seeds = set(SPENT_SEEDS)
    for path in sorted(OVERLAYS.glob("*.yaml")):
        overlay = yaml.safe_load(path.read_text())
        if overlay.get("profile") in ("default-exploratory", f"{profile}-exploratory"):
            seeds |= set(overlay["seeds"])
            for experiment in (overlay.get("experiments") or {}).values():
                seeds |= set(experiment.get("seeds", []))
    return sorted(seeds)
