"""The results manifest: sha256sum format, deterministic, and it catches changed or missing files."""
from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

import pytest

from tooling.manifest import manifest_problems, manifest_text, read_manifest, write_manifest


def _tree(root: Path) -> list[Path]:
    files = {"tables/b.csv": "x,y\n1,2\n", "tables/a.csv": "x\n3\n", "paper_numbers.json": "{}\n"}
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return [root / name for name in files]


def test_manifest_is_sorted_relative_and_independent_of_input_order(tmp_path: Path) -> None:
    files = _tree(tmp_path)
    text = manifest_text(tmp_path, files)
    assert text == manifest_text(tmp_path, list(reversed(files)))
    names = [line.split("  ", 1)[1] for line in text.splitlines()]
    assert names == ["paper_numbers.json", "tables/a.csv", "tables/b.csv"]
    digest = hashlib.sha256(b"x\n3\n").hexdigest()
    assert text.splitlines()[1] == f"{digest}  tables/a.csv"


def test_written_manifest_hash_is_the_hash_of_its_bytes_and_sha256sum_accepts_it(tmp_path: Path) -> None:
    files = _tree(tmp_path)
    digest = write_manifest(tmp_path / "manifest.sha256", tmp_path, files)
    assert digest == hashlib.sha256((tmp_path / "manifest.sha256").read_bytes()).hexdigest()
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []  # written atomically, nothing left over
    if shutil.which("sha256sum"):
        subprocess.run(["sha256sum", "--check", "--quiet", "manifest.sha256"], cwd=tmp_path, check=True)


def test_manifest_problems_name_changed_and_missing_files(tmp_path: Path) -> None:
    files = _tree(tmp_path)
    write_manifest(tmp_path / "manifest.sha256", tmp_path, files)
    assert manifest_problems(tmp_path / "manifest.sha256", tmp_path) == []
    (tmp_path / "tables" / "a.csv").write_text("x\n4\n")
    (tmp_path / "tables" / "b.csv").unlink()
    assert manifest_problems(tmp_path / "manifest.sha256", tmp_path) == [
        "tables/a.csv: changed since the manifest was written (SHA-256 differs)",
        "tables/b.csv: listed in the manifest but missing",
    ]


def test_a_manifest_names_only_files_under_its_root(tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("x")
    (tmp_path / "root").mkdir()
    with pytest.raises(ValueError, match="not under the results folder"):
        manifest_text(tmp_path / "root", [outside])
    (tmp_path / "evil.sha256").write_text(f"{'0' * 64}  ../outside.txt\n")
    with pytest.raises(ValueError, match="points outside"):
        read_manifest(tmp_path / "evil.sha256")
