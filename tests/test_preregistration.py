"""The paper says which seeds decided, which were looked at, and whether a rule changed after it was fixed."""
from __future__ import annotations

import subprocess

from analysis.provenance import REPO, changed_since
from analysis.stats import report


def test_seeds_disjoint_from_the_exploratory_ones_are_confirmatory(monkeypatch, tmp_path) -> None:
    monkeypatch.setattr(report, "RULES_COMMIT_FILE", tmp_path / "missing.txt")
    confirmatory = report.preregistration_numbers({"seeds": [100, 101, 102]}, [0, 1, 2, 3, 4])
    assert confirmatory["status"] == "confirmatory" and confirmatory["confirmatory_seeds"] == "100, 101, 102"
    assert confirmatory["rules_commit"] == "not fixed yet" and confirmatory["changed_since"] == "unknown"
    overlap = report.preregistration_numbers({"seeds": [4, 5]}, [0, 1, 2, 3, 4])
    assert overlap["status"] == "exploratory"


def test_a_rule_file_changed_since_the_commit_is_named(tmp_path) -> None:
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True, check=True).stdout.strip()
    committed = changed_since(head, ("analysis/stats/c2.py",))
    dirty = subprocess.run(["git", "status", "--porcelain", "analysis/stats/c2.py"], cwd=REPO, capture_output=True, text=True).stdout
    assert committed == (["analysis/stats/c2.py"] if dirty.strip() else [])
    assert changed_since("not-a-commit") is None
