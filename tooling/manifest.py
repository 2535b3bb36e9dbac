"""A SHA-256 manifest of a study's results, in `sha256sum` format, so a reader can check any copy of them.

One line per file, ``<hex digest>  <path relative to the results folder>``, sorted by path:
the same files always give the same manifest bytes (and so the same manifest hash, which
the paper prints), and ``cd results/<profile> && sha256sum -c manifest.sha256`` checks it.
"""
from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

from analysis.io import atomic_path

MANIFEST_NAME = "manifest.sha256"


def sha256_file(path: str | Path) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def relative_name(root: Path, path: str | Path) -> str:
    """``path`` relative to ``root`` in POSIX form; refuses files outside ``root`` (a manifest names only its own tree)."""
    resolved, base = Path(path).resolve(), root.resolve()
    if not resolved.is_relative_to(base):
        raise ValueError(f"{path} is not under the results folder {root}")
    return resolved.relative_to(base).as_posix()


def manifest_text(root: str | Path, files: Iterable[str | Path]) -> str:
    """The manifest of ``files`` (each under ``root``): sorted, one ``digest  name`` line each."""
    root = Path(root)
    entries = {relative_name(root, path): sha256_file(path) for path in files}
    return "".join(f"{entries[name]}  {name}\n" for name in sorted(entries))


def write_manifest(path: str | Path, root: str | Path, files: Iterable[str | Path]) -> str:
    """Write the manifest atomically; return its own SHA-256 (the hash the paper prints)."""
    text = manifest_text(root, files)
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return hashlib.sha256(text.encode()).hexdigest()


def read_manifest(path: str | Path) -> dict[str, str]:
    """{relative name: digest} from a manifest file."""
    entries = {}
    for number, line in enumerate(Path(path).read_text().splitlines(), start=1):
        digest, separator, name = line.partition("  ")
        if not separator or len(digest) != 64 or not name:
            raise ValueError(f"{path}:{number}: not a sha256sum line: {line!r}")
        if name.startswith("/") or ".." in Path(name).parts:
            raise ValueError(f"{path}:{number}: {name!r} points outside the results folder")
        entries[name] = digest
    return entries


def manifest_problems(manifest: str | Path, root: str | Path) -> list[str]:
    """Files the manifest lists that are missing under ``root`` or whose content changed since it was written."""
    root = Path(root)
    problems = []
    for name, digest in read_manifest(manifest).items():
        path = root / name
        if not path.is_file():
            problems.append(f"{name}: listed in the manifest but missing")
        elif sha256_file(path) != digest:
            problems.append(f"{name}: changed since the manifest was written (SHA-256 differs)")
    return problems
