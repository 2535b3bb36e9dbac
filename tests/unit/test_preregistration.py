"""The paper says which seeds decided, which were looked at, and whether a rule changed after it was fixed."""
from __future__ import annotations

import subprocess

from analysis.stats import report
from tooling import preregistration
from tooling.preregistration import REPO, changed_since


def test_seeds_disjoint_from_the_exploratory_ones_are_confirmatory() -> None:
    confirmatory = report.preregistration_numbers({"seeds": [100, 101, 102]}, report.Freeze((0, 1, 2, 3, 4)))
    assert confirmatory["status"] == "confirmatory" and confirmatory["confirmatory_seeds"] == "100, 101, 102"
    assert confirmatory["rules_commit"] == "not fixed yet" and confirmatory["changed_since"] == "unknown"
    overlap = report.preregistration_numbers({"seeds": [4, 5]}, report.Freeze((0, 1, 2, 3, 4)))
    assert overlap["status"] == "exploratory"


def test_a_rule_file_changed_since_the_commit_is_named(tmp_path) -> None:
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True, check=True).stdout.strip()
    committed = changed_since(head, ("analysis/stats/c2.py",))
    dirty = subprocess.run(["git", "status", "--porcelain", "analysis/stats/c2.py"], cwd=REPO, capture_output=True, text=True).stdout
    assert committed == (["analysis/stats/c2.py"] if dirty.strip() else [])
    assert changed_since("not-a-commit") is None


def test_a_moved_rule_file_is_a_change_only_if_its_content_changed(tmp_path) -> None:
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=tmp_path, capture_output=True, text=True, check=True).stdout

    git("init", "-q")
    git("config", "user.email", "t@example.org")
    git("config", "user.name", "t")
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "moved.yaml").write_text("seeds: [1, 2, 3]\n")
    (tmp_path / "old" / "edited.yaml").write_text("seeds: [4, 5, 6]\n")
    (tmp_path / "kept.yaml").write_text("lr: 0.1\n")
    git("add", "-A")
    git("commit", "-qm", "rules")
    frozen = git("rev-parse", "HEAD").strip()
    (tmp_path / "new").mkdir()
    git("mv", "old/moved.yaml", "new/moved.yaml")
    git("mv", "old/edited.yaml", "new/edited.yaml")
    (tmp_path / "new" / "edited.yaml").write_text("seeds: [4, 5, 7]\n")
    (tmp_path / "kept.yaml").write_text("lr: 0.2\n")
    patterns = ("new/*.yaml", "kept.yaml")
    assert changed_since(frozen, patterns, tmp_path) == ["kept.yaml", "new/edited.yaml"]
    git("commit", "-qam", "moved")
    assert changed_since(frozen, patterns, tmp_path) == ["kept.yaml", "new/edited.yaml"]  # committed or not


def test_exploratory_seeds_are_the_default_overlay_plus_the_profiles_own() -> None:
    """The claims' rules were developed on the default overlay's seeds 0-4, whatever the profile; the scaling
    overlay adds its own; a profile with no overlay still counts the default's."""
    from tooling.preregistration import exploratory_seeds

    spent = list(range(100, 110))  # v2's confirmatory seeds and v3's development seeds on the default profile
    assert exploratory_seeds("default") == [*range(10), *spent]
    assert exploratory_seeds("scaling") == [*range(10), *spent]
    assert exploratory_seeds("smoke") == [*range(10), *spent]


def test_the_freeze_is_the_claims_import_closure_computed_from_the_code(tmp_path) -> None:
    """Relative, absolute and package imports are followed through a chain; modules nobody imports stay out."""
    from tooling.preregistration import import_closure

    files = {
        "pkg/__init__.py": "",
        "pkg/stats/__init__.py": "",
        "pkg/stats/c1.py": "from .helpers import mean\nfrom ..measures import m1\nimport numpy\n",
        "pkg/stats/helpers.py": "from pkg.core import base\n",
        "pkg/stats/unused.py": "from . import helpers\n",
        "pkg/measures/__init__.py": "",
        "pkg/measures/m1.py": "from ..core.deep import thing\n",
        "pkg/core/__init__.py": "",
        "pkg/core/base.py": "",
        "pkg/core/deep.py": "",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    assert import_closure(("pkg/stats/c[0-9]*.py",), tmp_path, "pkg") == [
        "pkg/__init__.py", "pkg/core/__init__.py", "pkg/core/base.py", "pkg/core/deep.py", "pkg/measures/__init__.py",
        "pkg/measures/m1.py", "pkg/stats/__init__.py", "pkg/stats/c1.py", "pkg/stats/helpers.py",
    ]


def test_the_studys_freeze_covers_what_decides() -> None:
    from tooling.preregistration import rule_files

    frozen = rule_files()
    for path in ("analysis/stats/c2.py", "analysis/stats/distance.py", "analysis/stats/inference.py", "analysis/training.py",
                 "analysis/measures/weight_channel.py", "analysis/models/gpt.py", "analysis/tasks/sine.py",
                 "analysis/held_out.py", "paper/preregistration.md", "config/*.yaml"):
        assert path in frozen
    assert "analysis/stats/scaling.py" not in frozen  # descriptive: decides nothing


def test_the_freeze_the_workflow_hands_in_reads_the_rules_commit_and_asks_git(monkeypatch, tmp_path) -> None:
    """No commit file: nothing to compare with, git is not asked; with one, its changed files are passed on."""
    monkeypatch.setattr(preregistration, "RULES_COMMIT_FILE", tmp_path / "absent.txt")
    monkeypatch.setattr(preregistration, "changed_since", lambda commit: asked.append(commit) or ["a.py"])
    asked: list[str] = []
    unfixed = preregistration.freeze("default-exploratory")
    assert unfixed.rules_commit == "" and unfixed.changed_since is None and asked == []
    assert unfixed.exploratory_seeds == tuple(preregistration.exploratory_seeds("default"))
    (tmp_path / "rules_commit.txt").write_text("abc123\n")
    monkeypatch.setattr(preregistration, "RULES_COMMIT_FILE", tmp_path / "rules_commit.txt")
    assert preregistration.freeze("smoke") == report.Freeze(unfixed.exploratory_seeds, "abc123", ("a.py",)) and asked == ["abc123"]
