"""What a result must say about where it came from: commit, packages, device."""
from __future__ import annotations

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


RULE_FILES = (  # where the verdict rules, their thresholds and the confirmatory design live (git pathspecs)
    "analysis/stats/c[0-9]*.py",
    "analysis/stats/claims.py",
    "analysis/stats/inference.py",
    "analysis/stats/learning.py",
    "paper/preregistration.md",
    "workflow/config/default.yaml",
)


def changed_since(commit: str, paths: tuple[str, ...] = RULE_FILES) -> list[str] | None:
    """Files under ``paths`` that differ between ``commit`` and the working tree (None: not decidable here).

    The preregistration names the commit at which the rules were fixed; the paper prints this
    list, so a rule changed after the confirmatory runs cannot pass unnoticed.
    """
    try:
        changed = subprocess.run(
            ["git", "diff", "--name-only", commit, "--", *paths], cwd=REPO, capture_output=True, text=True, check=True
        ).stdout.split()
    except (OSError, subprocess.CalledProcessError):
        return None
    return sorted(changed)


OVERLAYS = REPO / "workflow" / "config" / "overlays"


def exploratory_seeds(profile: str) -> list[int]:
    """The seeds looked at while the rules and analyses were written: the default profile's exploratory overlay
    (overlays/exploratory.yaml, where the claims' rules were developed) and the overlay that reruns this profile
    as ``<profile>-exploratory``, where there is one."""
    import yaml

    seeds = set()
    for path in sorted(OVERLAYS.glob("*.yaml")):
        overlay = yaml.safe_load(path.read_text())
        if overlay.get("profile") in ("default-exploratory", f"{profile}-exploratory"):
            seeds |= set(overlay["seeds"])
    return sorted(seeds)
