"""Per-table SHA-256 digests with the provenance columns left out, so a rerun can say which results it reproduced.

A refactor after the confirmatory run may edit rule files (the freeze lists them) without changing a result. The
default profile's confirmatory tables are recorded once (``paper/confirmatory/<profile>.sha256``); every later
build of that profile compares its own tables with the record and the paper prints the outcome, so "the rule files
changed, the results did not" is a computed statement, not a promise.

    python -m tooling.table_digest results/default --commit <commit of the confirmatory run> \
        > paper/confirmatory/default.sha256
"""
from __future__ import annotations

import argparse
import csv
import hashlib
import io
import sys
from pathlib import Path
from typing import Any

from .tolerances import PROVENANCE_FIELDS

COMMIT_LINE = "# tables of the confirmatory run at commit "


def table_digest(path: str | Path) -> str:
    """SHA-256 of a CSV table's text without its provenance columns (wall times, commit, device)."""
    rows = list(csv.reader(io.StringIO(Path(path).read_text())))
    keep = [i for i, name in enumerate(rows[0] if rows else []) if name not in PROVENANCE_FIELDS]
    text = io.StringIO()
    csv.writer(text, lineterminator="\n").writerows([row[i] for i in keep] for row in rows)
    return hashlib.sha256(text.getvalue().encode()).hexdigest()


def digests(results: str | Path) -> dict[str, str]:
    """Digest of every table under ``results/tables``, by file name."""
    return {path.name: table_digest(path) for path in sorted(Path(results, "tables").glob("*.csv"))}


def record_text(commit: str, tables: dict[str, str]) -> str:
    return COMMIT_LINE + commit + "\n" + "".join(f"{digest}  {name}\n" for name, digest in sorted(tables.items()))


def read_record(path: str | Path) -> tuple[str, dict[str, str]]:
    """The commit and the per-table digests of a record written by ``record_text``."""
    lines = Path(path).read_text().splitlines()
    if not lines or not lines[0].startswith(COMMIT_LINE):
        raise ValueError(f"{path}: first line must be '{COMMIT_LINE}<commit>'")
    tables = dict(reversed(line.split("  ", 1)) for line in lines[1:] if line.strip())
    return lines[0].removeprefix(COMMIT_LINE), tables


def compare(recorded: dict[str, str], current: dict[str, str]) -> dict[str, Any]:
    """How the current tables stand against the recorded ones: identical, differing, missing and new table names."""
    shared = sorted(set(recorded) & set(current))
    return {
        "tables": len(recorded),
        "identical": sum(recorded[name] == current[name] for name in shared),
        "differ": [name for name in shared if recorded[name] != current[name]],
        "missing": sorted(set(recorded) - set(current)),
        "new": sorted(set(current) - set(recorded)),
    }


def comparison(record: Path, results: str | Path) -> dict[str, Any]:
    """The paper's view: ``{"recorded": False}`` without a record for this profile, else the commit and ``compare``."""
    if not record.is_file():
        return {"recorded": False}
    commit, recorded = read_record(record)
    return {"recorded": True, "commit": commit, **compare(recorded, digests(results))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("results", help="a finished study's results folder, e.g. results/default")
    parser.add_argument("--commit", required=True, help="the commit the study ran at (its runs table's git_commit)")
    args = parser.parse_args(argv)
    sys.stdout.write(record_text(args.commit, digests(args.results)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
