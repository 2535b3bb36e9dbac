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


def test_exploratory_seeds_are_the_default_overlay_plus_the_profiles_own() -> None:
    """The claims' rules were developed on the default overlay's seeds 0-4, whatever the profile; the scaling
    overlay adds its own; a profile with no overlay still counts the default's."""
    from analysis.provenance import exploratory_seeds

    assert exploratory_seeds("default") == [0, 1, 2, 3, 4]
    assert exploratory_seeds("scaling") == [0, 1, 2, 3, 4]
    assert exploratory_seeds("smoke") == [0, 1, 2, 3, 4]
