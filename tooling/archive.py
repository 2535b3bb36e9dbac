"""Pack a finished study into one deterministic archive a reader can cite, check and compare a rerun against.

The archive holds, under one top folder ``gradflow-<profile>/``: the results manifest and
every file it lists (tables, figures, the paper's numbers, the validated config, the
installed package versions), the paper PDF built from that manifest, and ``source/``
(the lock files, the profile's config, the config schema, the citation file).
``ARCHIVE.sha256`` lists every other member, so ``sha256sum -c ARCHIVE.sha256`` checks
an unpacked copy. Members are sorted and stamped with a fixed time, owner and mode, and
the gzip header carries no time or name: the same files give the same archive bytes.

    python -m tooling.archive --profile default   # -> results/archives/gradflow-default.tar.gz
"""
from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import sys
import tarfile
from pathlib import Path

from analysis.io import atomic_path, read_json

from .manifest import MANIFEST_NAME, manifest_problems, read_manifest, sha256_file
from .profiles import config_file

REPO = Path(__file__).resolve().parents[1]
ARCHIVE_INDEX = "ARCHIVE.sha256"
SOURCE_FILES = (
    "requirements.lock",
    "requirements-cffconvert.lock",
    "pyproject.toml",
    "CITATION.cff",
    "analysis/config.schema.yaml",
)
FIXED_MTIME = 0  # every member's timestamp, so the archive does not depend on when files were written


class ArchiveError(RuntimeError):
    """The study cannot be packed as it is (unfinished, or changed after its manifest was written)."""


def top_folder(profile: str) -> str:
    return f"gradflow-{profile}"


def study_members(results: Path, profile: str, repo: Path = REPO) -> dict[str, Path]:
    """{name inside the archive: file} for a finished study, after checking it is whole and consistent."""
    manifest = results / MANIFEST_NAME
    paper = results / "paper.pdf"
    missing = [str(path) for path in (manifest, paper) if not path.is_file()]
    if missing:
        raise ArchiveError(f"not a finished study: {', '.join(missing)} missing; run `make study PROFILE={profile}` first")
    problems = manifest_problems(manifest, results)
    if problems:
        raise ArchiveError("the results changed after their manifest was written:\n  " + "\n  ".join(problems))
    built_from = results / "paper_build" / "manifest.json"
    if not built_from.is_file() or read_json(built_from)["sha256"] != sha256_file(manifest):
        raise ArchiveError(f"{paper} was not built from the current {MANIFEST_NAME}; rerun the study to rebuild it")
    top = top_folder(profile)
    members = {f"{top}/{name}": results / name for name in read_manifest(manifest)}
    members[f"{top}/{MANIFEST_NAME}"] = manifest
    members[f"{top}/paper.pdf"] = paper
    sources = [*SOURCE_FILES, str(config_file(profile, Path()))]
    for name in sources:
        if (repo / name).is_file():
            members[f"{top}/source/{name}"] = repo / name
    return members


def _add(archive: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = len(data), FIXED_MTIME, 0o644
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    archive.addfile(info, io.BytesIO(data))


def write_archive(output: Path, members: dict[str, Path], top: str) -> str:
    """Write a deterministic .tar.gz of ``members`` plus their index, atomically; return its SHA-256."""
    contents = {name: path.read_bytes() for name, path in members.items()}
    index = "".join(
        f"{hashlib.sha256(data).hexdigest()}  {name.removeprefix(top + '/')}\n" for name, data in sorted(contents.items())
    )
    contents[f"{top}/{ARCHIVE_INDEX}"] = index.encode()
    with atomic_path(output) as tmp:
        with open(tmp, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as zipped:
            with tarfile.open(fileobj=zipped, mode="w", format=tarfile.PAX_FORMAT) as archive:
                for name in sorted(contents):
                    _add(archive, name, contents[name])
    return sha256_file(output)


def pack(results: Path, profile: str, output: Path, repo: Path = REPO) -> str:
    """Archive the finished study in ``results``; write ``<output>.sha256`` beside it; return the archive's SHA-256."""
    digest = write_archive(output, study_members(results, profile, repo), top_folder(profile))
    with atomic_path(output.with_name(output.name + ".sha256")) as tmp:
        tmp.write_text(f"{digest}  {output.name}\n")
    return digest


def unpack(archive: Path, destination: Path) -> Path:
    """Extract ``archive`` (refusing links, absolute paths and escapes) and return its top folder."""
    with tarfile.open(archive, "r:gz") as tar:
        tops = {Path(name).parts[0] for name in tar.getnames()}
        if len(tops) != 1:
            raise ArchiveError(f"{archive}: expected one top folder, found {sorted(tops)}")
        tar.extractall(destination, filter="data")
    return destination / tops.pop()


def archive_problems(top: Path) -> list[str]:
    """Damage inside an unpacked archive: members that do not match its index or its results manifest."""
    problems = [f"{ARCHIVE_INDEX}: {p}" for p in manifest_problems(top / ARCHIVE_INDEX, top)]
    return problems + [f"{MANIFEST_NAME}: {p}" for p in manifest_problems(top / MANIFEST_NAME, top)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", required=True, help="the study profile, as in results/<profile>/")
    parser.add_argument("--results", type=Path, help="results folder (default: results/<profile>)")
    parser.add_argument("--output", type=Path, help="archive path (default: results/archives/gradflow-<profile>.tar.gz)")
    args = parser.parse_args(argv)
    results = args.results or Path("results") / args.profile
    output = args.output or Path("results") / "archives" / f"{top_folder(args.profile)}.tar.gz"
    try:
        digest = pack(results, args.profile, output)
    except ArchiveError as error:
        print(f"archive: {error}", file=sys.stderr)
        return 1
    print(f"wrote {output} ({output.stat().st_size:,} bytes)")
    print(f"manifest SHA-256 {sha256_file(results / MANIFEST_NAME)}")
    print(f"archive SHA-256  {digest}  (also in {output.name}.sha256)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
