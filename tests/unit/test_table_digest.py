"""The confirmatory record: per-table digests ignore provenance columns only, and the comparison names every change."""
from __future__ import annotations

from pathlib import Path

import pytest

from tooling.table_digest import comparison, digests, main, read_record, record_text, table_digest


def write_tables(root: Path, tables: dict[str, str]) -> Path:
    (root / "tables").mkdir(parents=True, exist_ok=True)
    for name, text in tables.items():
        (root / "tables" / name).write_text(text)
    return root


def test_provenance_columns_are_ignored_and_every_other_byte_counts(tmp_path: Path) -> None:
    a = write_tables(tmp_path / "a", {"runs.csv": "seed,loss,git_commit,train_wall_time_s\n0,1.5,abc,3.2\n"})
    b = write_tables(tmp_path / "b", {"runs.csv": "seed,loss,git_commit,train_wall_time_s\n0,1.5,def,9.9\n"})
    c = write_tables(tmp_path / "c", {"runs.csv": "seed,loss,git_commit,train_wall_time_s\n0,1.50,abc,3.2\n"})
    assert table_digest(a / "tables/runs.csv") == table_digest(b / "tables/runs.csv")
    assert table_digest(a / "tables/runs.csv") != table_digest(c / "tables/runs.csv")  # 1.5 and 1.50 are different bytes


def test_the_comparison_names_differing_missing_and_new_tables(tmp_path: Path) -> None:
    old = write_tables(tmp_path / "old", {"a.csv": "x\n1\n", "b.csv": "y\n2\n", "c.csv": "z\n3\n"})
    new = write_tables(tmp_path / "new", {"a.csv": "x\n1\n", "b.csv": "y\n5\n", "d.csv": "w\n4\n"})
    record = tmp_path / "default.sha256"
    record.write_text(record_text("abc123", digests(old)))
    assert read_record(record) == ("abc123", digests(old))
    assert comparison(record, new) == {"recorded": True, "commit": "abc123", "tables": 3, "identical": 1,
                                       "differ": ["b.csv"], "missing": ["c.csv"], "new": ["d.csv"]}
    assert comparison(record, old)["identical"] == 3
    assert comparison(tmp_path / "smoke.sha256", new) == {"recorded": False}


def test_a_record_without_its_commit_line_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    write_tables(tmp_path, {"a.csv": "x\n1\n"})
    assert main([str(tmp_path), "--commit", "abc123"]) == 0
    written = capsys.readouterr().out
    assert written.startswith("# tables of the confirmatory run at commit abc123\n") and written.endswith("  a.csv\n")
    (tmp_path / "bad.sha256").write_text(written.split("\n", 1)[1])
    with pytest.raises(ValueError, match="first line"):
        read_record(tmp_path / "bad.sha256")


def test_the_recorded_confirmatory_tables_are_well_formed() -> None:
    record = Path(__file__).resolve().parents[2] / "paper" / "confirmatory" / "default.sha256"
    commit, tables = read_record(record)
    assert len(commit) == 40 and "verdicts.csv" in tables and "runs.csv" in tables
    assert all(len(digest) == 64 for digest in tables.values())
