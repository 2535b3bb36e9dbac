"""Compare a rerun (results/<profile>) with a published archive: same tables, same shape and keys, numbers within tolerance.

Every table of the archive must be in the rerun with the same columns and the same rows
(matched on their identifying columns), and every number must agree within the tolerances
of ``tooling/tolerances.py``; so must the paper's numbers and the validated config.
Package versions, figures and provenance fields (commit, device, wall times) are reported
where they differ but decide nothing: the numbers do.

    python -m tooling.verify --archive results/archives/gradflow-default.tar.gz --profile default
"""
from __future__ import annotations

import argparse
import json
import math
import re
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .archive import ArchiveError, archive_problems, unpack
from .manifest import read_manifest, sha256_file
from .tolerances import PROFILES, PROVENANCE_FIELDS, Tolerance, tolerance_for

# Columns that identify a row (which run, checkpoint, layer, position...): rows are matched on those present.
KEY_COLUMNS = (
    "claim", "condition", "standard_condition", "task", "task_name", "pos_encoding", "regime", "feature",
    "parameter", "group", "optimizer", "step_scale", "seed", "step", "layer", "head", "sequence", "t", "s", "distance", "k", "d", "D",
)  # fmt: skip
EXAMPLES = 3  # differing values shown per column
NUMBER_IN_TEXT = re.compile(r"[-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")


@dataclass
class FileReport:
    """What comparing one file found: ``problems`` fail the verification, ``notes`` only inform."""

    name: str
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    summary: str = ""


def within(published: float, rerun: float, tolerance: Tolerance) -> bool:
    if math.isnan(published) or math.isnan(rerun):
        return math.isnan(published) and math.isnan(rerun)
    return abs(rerun - published) <= tolerance.atol + tolerance.rtol * abs(published)


def numbers_within(published: np.ndarray, rerun: np.ndarray, tolerance: Tolerance) -> np.ndarray:
    """Elementwise ``within`` for whole columns."""
    both_nan = np.isnan(published) & np.isnan(rerun)
    with np.errstate(invalid="ignore"):
        return both_nan | (np.abs(rerun - published) <= tolerance.atol + tolerance.rtol * np.abs(published))


def text_within(published: str, rerun: str, tolerance: Tolerance) -> bool:
    """Equal text, or (with a tolerance) the same words around numbers that agree within it and their rounding."""
    if published == rerun:
        return True
    if tolerance.rtol == 0 and tolerance.atol == 0:
        return False
    published, rerun = published.replace("−", "-"), rerun.replace("−", "-")  # the paper prints a typographic minus
    if NUMBER_IN_TEXT.split(published) != NUMBER_IN_TEXT.split(rerun):
        return False
    for a, b in zip(NUMBER_IN_TEXT.findall(published), NUMBER_IN_TEXT.findall(rerun), strict=True):
        digits = len(a.split(".")[1].lower().split("e")[0]) if "." in a else 0
        last_digit = 10.0 ** -digits if "e" not in a.lower() else 0.0
        if not within(float(a), float(b), Tolerance(tolerance.rtol, tolerance.atol + last_digit)):
            return False
    return True


def compare_table(name: str, published: Path, rerun: Path, tolerance: Tolerance) -> FileReport:
    """Same columns, same rows (by their keys), every value within ``tolerance``."""
    import pandas as pd  # imported here: the archive command needs no pandas

    report = FileReport(name)
    old, new = pd.read_csv(published), pd.read_csv(rerun)
    old = old.drop(columns=[c for c in old.columns if c in PROVENANCE_FIELDS])
    new = new.drop(columns=[c for c in new.columns if c in PROVENANCE_FIELDS])
    if set(old.columns) != set(new.columns):
        missing, extra = sorted(set(old.columns) - set(new.columns)), sorted(set(new.columns) - set(old.columns))
        report.problems.append(f"columns differ: missing {missing or 'none'}, unexpected {extra or 'none'}")
        return report
    if len(old) != len(new):
        report.problems.append(f"{len(old)} rows published, {len(new)} in the rerun")
    keys = [c for c in KEY_COLUMNS if c in old.columns]
    if not keys or old.duplicated(keys).any() or new.duplicated(keys).any():
        keys = [c for c in old.columns if old[c].dtype.kind not in "fc" and new[c].dtype.kind not in "fc"]
    if not keys or old.duplicated(keys).any() or new.duplicated(keys).any():
        old, new, keys = old.assign(row=range(len(old))), new.assign(row=range(len(new))), ["row"]  # match by position
    key_text = {c: old[c].astype(str) for c in keys}, {c: new[c].astype(str) for c in keys}
    merged = old.assign(**key_text[0]).merge(
        new.assign(**key_text[1]), on=keys, how="outer", suffixes=("@published", "@rerun"), indicator=True
    )

    def label(row: Any) -> str:
        return ", ".join(f"{c}={row[c]}" for c in keys)

    for side, what in (("left_only", "published rows missing from the rerun"), ("right_only", "rows only in the rerun")):
        unmatched = merged[merged["_merge"] == side]
        if len(unmatched):
            shown = "; ".join(f"({label(row)})" for _, row in unmatched.head(EXAMPLES).iterrows())
            report.problems.append(f"{len(unmatched)} {what}, e.g. {shown}")
    both = merged[merged["_merge"] == "both"]
    for column in (c for c in old.columns if c not in keys):
        a, b = both[f"{column}@published"], both[f"{column}@rerun"]
        exact = a.dtype.kind in "iub" and b.dtype.kind in "iub"  # counts, identifiers and flags
        if a.dtype.kind in "iuf" and b.dtype.kind in "iuf":
            column_tolerance = Tolerance(0.0, 0.0) if exact else tolerance
            ok = numbers_within(a.to_numpy(float), b.to_numpy(float), column_tolerance)
        else:
            column_tolerance = tolerance
            texts = a.astype(object).fillna("").astype(str).to_numpy(), b.astype(object).fillna("").astype(str).to_numpy()
            ok = texts[0] == texts[1]
            for i in np.flatnonzero(~ok):  # only differing text is parsed for numbers
                ok[i] = text_within(texts[0][i], texts[1][i], tolerance)
        bad = np.flatnonzero(~ok)
        if len(bad):
            rows = both.iloc[bad[:EXAMPLES]]
            shown = "; ".join(
                f"({label(row)}): published {row[f'{column}@published']!r}, rerun {row[f'{column}@rerun']!r}"
                for _, row in rows.iterrows()
            )
            report.problems.append(
                f"column {column}: {len(bad)} of {len(both)} values differ beyond {column_tolerance.describe()}, e.g. {shown}"
            )
    report.summary = f"{len(old)} rows, {len(old.columns)} columns, matched on {', '.join(keys)}"
    return report


def compare_json(published: Any, rerun: Any, tolerance: Tolerance, path: str = "") -> tuple[list[str], list[str]]:
    """(problems, notes) between two JSON documents: same keys and list lengths, values within ``tolerance``."""
    where = path or "(top level)"
    if isinstance(published, dict) and isinstance(rerun, dict):
        problems, notes = [], []
        for key in sorted(set(published) - set(rerun)):
            problems.append(f"{path}{key}: missing from the rerun")
        for key in sorted(set(rerun) - set(published)):
            problems.append(f"{path}{key}: only in the rerun")
        for key in sorted(set(published) & set(rerun)):
            if key in PROVENANCE_FIELDS:
                if published[key] != rerun[key]:
                    notes.append(f"{path}{key}: {published[key]!r} published, {rerun[key]!r} in the rerun (provenance)")
                continue
            more = compare_json(published[key], rerun[key], tolerance, f"{path}{key}.")
            problems += more[0]
            notes += more[1]
        return problems, notes
    if isinstance(published, list) and isinstance(rerun, list):
        if len(published) != len(rerun):
            return [f"{where.rstrip('.')}: {len(published)} entries published, {len(rerun)} in the rerun"], []
        problems, notes = [], []
        for i, (a, b) in enumerate(zip(published, rerun, strict=True)):
            more = compare_json(a, b, tolerance, f"{path.rstrip('.')}[{i}].")
            problems += more[0]
            notes += more[1]
        return problems, notes
    numeric = (int, float)
    if isinstance(published, numeric) and isinstance(rerun, numeric) and not isinstance(published, bool) and not isinstance(rerun, bool):
        exact = isinstance(published, int) and isinstance(rerun, int)
        ok = within(float(published), float(rerun), Tolerance(0.0, 0.0) if exact else tolerance)
    elif isinstance(published, str) and isinstance(rerun, str):
        ok = text_within(published, rerun, tolerance)
    else:
        ok = published == rerun and type(published) is type(rerun)
    return ([] if ok else [f"{where.rstrip('.')}: published {published!r}, rerun {rerun!r}"]), []


def _device(numbers_path: Path) -> str | None:
    try:
        return json.loads(numbers_path.read_text())["provenance"]["device"]
    except (OSError, KeyError, ValueError):
        return None


def choose_profile(requested: str, published: Path, rerun: Path) -> tuple[str, str]:
    """The tolerance profile and why: ``auto`` is exact when both ran on the same device."""
    if requested != "auto":
        return requested, "as requested"
    before, after = _device(published / "paper_numbers.json"), _device(rerun / "paper_numbers.json")
    if before is not None and before == after:
        return "exact", f"archive and rerun both ran on {before}"
    return "cross-device", f"archive ran on {before}, rerun on {after}"


def compare_results(published: Path, rerun: Path, profile: str) -> list[FileReport]:
    """One report per file the archive's manifest lists (figures and package versions only as notes)."""
    reports = []
    listed = read_manifest(published / "manifest.sha256")
    for name in sorted(listed):
        report = FileReport(name)
        if not (rerun / name).is_file():
            report.problems.append("in the archive, missing from the rerun")
        elif name.endswith(".csv"):
            report = compare_table(name, published / name, rerun / name, tolerance_for(profile, name))
        elif name == "paper_numbers.json" or name == "config.json":
            tolerance = tolerance_for(profile, name) if name == "paper_numbers.json" else Tolerance(0.0, 0.0)
            report.problems, report.notes = compare_json(
                json.loads((published / name).read_text()), json.loads((rerun / name).read_text()), tolerance
            )
            if name == "config.json" and report.problems:
                report.problems.insert(0, "the rerun used another configuration (not a rerun of the same study)")
        elif name == "environment.txt":
            before = set((published / name).read_text().splitlines())
            after = set((rerun / name).read_text().splitlines())
            if before != after:
                report.notes.append(
                    f"packages differ: published {sorted(before - after)}, rerun {sorted(after - before)}"
                )
        elif sha256_file(rerun / name) != listed[name]:
            report.notes.append("bytes differ (drawn from the tables compared above)")
        reports.append(report)
    tables = rerun / "tables"
    for path in sorted(tables.glob("*.csv")) if tables.is_dir() else []:
        name = path.relative_to(rerun).as_posix()
        if name not in listed:
            reports.append(FileReport(name, notes=["only in the rerun (a table the published study did not have)"]))
    return reports


def verify(archive: Path, rerun: Path, requested: str = "auto") -> tuple[bool, str]:
    """(passed, readable report) of ``rerun`` (a results folder) against ``archive``."""
    lines = [f"verify {rerun} against {archive} (archive SHA-256 {sha256_file(archive)})"]
    if not (rerun / "manifest.sha256").is_file():
        return False, "\n".join([*lines, f"FAIL: {rerun} is not a finished study (no manifest.sha256)"])
    with tempfile.TemporaryDirectory(prefix="verify-") as scratch:
        published = unpack(archive, Path(scratch))
        damage = archive_problems(published)
        if damage:
            return False, "\n".join([*lines, "FAIL: the archive is damaged:", *(f"  {d}" for d in damage)])
        profile, why = choose_profile(requested, published, rerun)
        lines.append(f"tolerance profile {profile} ({why}):")
        lines += [f"  {kind}: {tolerance.describe()}" for kind, tolerance in PROFILES[profile].items()]
        reports = compare_results(published, rerun, profile)
    identical_figures = [r for r in reports if r.name.startswith("figures/") and not r.problems and not r.notes]
    for report in (r for r in reports if r not in identical_figures):
        if report.problems:
            lines.append(f"DIFFERS {report.name}")
            lines += [f"    {problem}" for problem in report.problems]
        elif report.summary or not report.notes:
            lines.append(f"ok      {report.name}" + (f" ({report.summary})" if report.summary else ""))
        lines += [f"note    {report.name}: {note}" for note in report.notes]
    if identical_figures:
        lines.append(f"ok      {len(identical_figures)} figure files byte-identical")
    failed = [r.name for r in reports if r.problems]
    compared = [r for r in reports if r.name.endswith((".csv", ".json"))]
    if failed:
        lines.append(f"FAIL: {len(failed)} of {len(compared)} tables and number files differ: {', '.join(failed)}")
    else:
        lines.append(f"PASS: all {len(compared)} tables and number files agree ({profile} tolerances)")
    return not failed, "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--archive", type=Path, required=True, help="a published archive (make archive)")
    parser.add_argument("--profile", required=True, help="the rerun's profile, as in results/<profile>/")
    parser.add_argument("--results", type=Path, help="the rerun's results folder (default: results/<profile>)")
    parser.add_argument("--tolerance", choices=["auto", *PROFILES], default="auto", help="see tooling/tolerances.py")
    args = parser.parse_args(argv)
    if not args.archive.is_file():
        print(f"verify: no archive at {args.archive}", file=sys.stderr)
        return 2
    try:
        passed, report = verify(args.archive, args.results or Path("results") / args.profile, args.tolerance)
    except ArchiveError as error:
        print(f"verify: {error}", file=sys.stderr)
        return 2
    print(report)
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
