"""CITATION.cff is valid CFF 1.2.0 (checked by cffconvert), and the README's BibTeX is what cffconvert makes of it."""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

from workflow_helpers import REPO

# cffconvert lives in its own environment (it needs jsonschema<4); `make test` creates it.
CFFCONVERT = REPO / ".venv-cffconvert" / "bin" / "cffconvert"
CITATION = REPO / "CITATION.cff"


def cffconvert(*args: str) -> subprocess.CompletedProcess:
    assert CFFCONVERT.exists(), f"{CFFCONVERT} is missing: run `make test` (it installs requirements-cffconvert.lock)"
    return subprocess.run([str(CFFCONVERT), *args], capture_output=True, text=True, timeout=120)


def test_citation_file_is_valid() -> None:
    result = cffconvert("--validate", "-i", str(CITATION))
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_validator_rejects_a_broken_citation_file(tmp_path: Path) -> None:
    broken = tmp_path / "CITATION.cff"
    broken.write_text(CITATION.read_text().replace('date-released: "2026-11-26"', 'date-released: "late November"'))
    result = cffconvert("--validate", "-i", str(broken))
    assert result.returncode != 0 and "date-released" in result.stdout + result.stderr


def test_readme_bibtex_is_generated_from_the_citation_file() -> None:
    section = (REPO / "README.md").read_text().split("## How to cite", 1)[1]
    shown = re.search(r"```bibtex\n(.*?)```", section, re.S)
    assert shown, "the README's 'How to cite' section should show a ```bibtex block"
    generated = cffconvert("-f", "bibtex", "-i", str(CITATION))
    assert generated.returncode == 0, generated.stderr
    assert shown.group(1).strip() == generated.stdout.strip()
