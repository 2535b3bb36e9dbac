"""The mutation-testing scope (tooling/mutants.py): mutmut's name globs for the claims' rules less their paper text,
the statistics they decide with and the measures' table glue; the tests mutmut runs; the kill rate it reports."""
from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from tooling import mutants


def test_the_scope_names_each_claims_decision_but_not_its_tables_or_paper_text():
    scope = mutants.scope()
    for claim in range(1, 7):
        assert f"analysis.stats.c{claim}.x_paper_numbers__mutmut_*" not in scope
        assert f"analysis.stats.c{claim}.x_decide__mutmut_*" not in scope  # wiring: every planted-data test runs it
        assert any(name.startswith(f"analysis.stats.c{claim}.x_") and "verdict" in name for name in scope), claim
    assert "analysis.stats.c1.xǁRulesǁ__post_init____mutmut_*" in scope  # a rule's own checks are rules too
    assert "analysis.stats.c6.x_classify__mutmut_*" in scope
    assert "analysis.stats.c1.x_enrichment_summary__mutmut_*" not in scope  # a table: planted-data tests
    assert "analysis.stats.inference.x_holm__mutmut_*" in scope  # None: the whole module
    assert "analysis.measures.data.xǁRunDataǁgradient_matrix__mutmut_*" in scope
    assert not any(name.startswith(("analysis.stats.report.", "analysis.stats.scaling.")) for name in scope)
    assert len(scope) == len(set(scope))


def test_mutmut_generates_mutants_for_exactly_the_scopes_modules():
    only_mutate = tomllib.loads((mutants.REPO / "pyproject.toml").read_text())["tool"]["mutmut"]["only_mutate"]
    generated = {str(p.relative_to(mutants.REPO)) for pattern in only_mutate for p in mutants.REPO.glob(pattern)}
    assert generated == set(mutants.SCOPE)


def test_a_renamed_function_stops_the_run_instead_of_leaving_the_scope(monkeypatch):
    monkeypatch.setitem(mutants.SCOPE, "analysis/measures/myopia.py", ("myopia_gap_renamed",))
    with pytest.raises(SystemExit, match="myopia_gap_renamed"):
        mutants.scope()


def test_the_tests_run_fastest_first(tmp_path, monkeypatch):
    (tmp_path / "mutmut-stats.json").write_text('{"duration_by_test": {"t::slow": 2.0, "t::fast": 0.1}}')
    monkeypatch.chdir(tmp_path)
    mutants.seconds_by_test.cache_clear()
    items = [type("Item", (), {"nodeid": name}) for name in ("t::unknown", "t::slow", "t::fast")]
    mutants.pytest_collection_modifyitems(items)
    assert [item.nodeid for item in items] == ["t::fast", "t::slow", "t::unknown"]
    mutants.seconds_by_test.cache_clear()


def test_the_kill_rate_counts_untested_mutants_as_survivors_and_leaves_out_those_not_run():
    status = {"analysis.stats.c1.x_f__mutmut_1": "killed", "analysis.stats.c1.x_f__mutmut_2": "timeout",
              "analysis.stats.c1.x_f__mutmut_3": "survived", "analysis.stats.c1.x_f__mutmut_4": "no tests",
              "analysis.stats.c2.xǁRulesǁg__mutmut_1": "killed", "analysis.stats.c2.x_g__mutmut_2": "not checked"}
    result = mutants.summary(status, 12.3)
    assert result["kill_rate"] == 0.6
    assert result["modules"]["analysis.stats.c1"]["kill_rate"] == 0.5
    assert result["modules"]["analysis.stats.c2"]["counts"] == {"killed": 1, "not checked": 1}
    assert result["survivors"] == ["analysis.stats.c1.x_f__mutmut_3", "analysis.stats.c1.x_f__mutmut_4"]
    assert mutants.summary({"m.x_f__mutmut_1": "skipped"}, 0.0)["kill_rate"] is None
    with_reason = mutants.summary({**status, "analysis.stats.c1.x_f__mutmut_3": "equivalent"}, 1.0)
    assert with_reason["kill_rate"] == 0.75 and with_reason["equivalent"] == ["analysis.stats.c1.x_f__mutmut_3"]
    assert with_reason["survivors"] == ["analysis.stats.c1.x_f__mutmut_4"]


def test_a_survivor_is_equivalent_only_where_its_reason_is_written_in_the_comments_above_its_line():
    source = ("def f(x):\n    # equivalent mutant: sort=True is the default\n    # (and the order is not read)\n"
              "    a = x.groupby('k', sort=True)\n    b = a.sum()  # equivalent mutant: not above the line\n"
              "    # a comment without a reason\n    return b.mean()\n")
    assert mutants.has_reason(source, {"    a = x.groupby('k', sort=True)"})
    assert not mutants.has_reason(source, {"    b = a.sum()  # equivalent mutant: not above the line"})
    assert not mutants.has_reason(source, {"    return b.mean()"})
    assert not mutants.has_reason(source, {"    c = 1"})


def unselected(tests: Path, selected: list[str]) -> set[str]:
    """Unit test files that import the mutated packages but that mutmut does not run."""
    imports = re.compile(r"^(from|import) analysis\.(stats|measures)|^from analysis import .*\b(stats|measures)\b", re.M)
    return {f"tests/unit/{p.name}" for p in tests.glob("test_*.py") if imports.search(p.read_text())} - set(selected)


def test_mutmut_runs_every_unit_test_file_that_imports_the_mutated_packages(tmp_path):
    settings = tomllib.loads((mutants.REPO / "pyproject.toml").read_text())["tool"]["mutmut"]
    selected = settings["pytest_add_cli_args_test_selection"]
    assert not unselected(mutants.REPO / "tests" / "unit", selected)
    (tmp_path / "test_new.py").write_text("from analysis.stats import c1\n")  # a planted file nobody listed
    (tmp_path / "test_other.py").write_text("from analysis.config import load_study\n")
    assert unselected(tmp_path, selected) == {"tests/unit/test_new.py"}
