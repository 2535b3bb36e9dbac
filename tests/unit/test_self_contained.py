"""A clone has everything the repository cites: no tracked file points into the project's shared folder above it."""
from __future__ import annotations

import re
import subprocess

from workflow_helpers import REPO

OUTSIDE = re.compile(r"\.\./" + "shared/")  # split, so this file does not match itself


def pointers_outside(text: str) -> list[str]:
    """The lines of ``text`` that name a path in ../shared, which a clone does not have."""
    return [line.strip() for line in text.splitlines() if OUTSIDE.search(line)]


def test_a_planted_pointer_is_found() -> None:
    assert pointers_outside("the design is in `../" + "shared/design/STUDY.md`.\nfine\n") == [
        "the design is in `../" + "shared/design/STUDY.md`."
    ]


def test_no_tracked_file_points_outside_the_repository() -> None:
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, text=True, check=True).stdout
    found = {}
    for name in filter(None, tracked.split("\0")):
        path = REPO / name
        if path.is_file() and path.suffix in {".md", ".py", ".typ", ".yaml", ".yml", ".smk", ".rst", ".txt", ".cff", ""}:
            lines = pointers_outside(path.read_text(errors="replace"))
            if lines:
                found[name] = lines
    assert not found, f"cite docs/claims.md instead: {found}"
