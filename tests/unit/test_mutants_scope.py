"""The mutation-testing scope (tooling/mutants.py): mutmut's name globs for the claims' rules less their paper text,
the statistics they decide with and the measures' table glue; the tests mutmut runs; the kill rate it reports."""
from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from tooling import mutants


def test_the_scope_names_each_claims_rules_but_not_its_paper_text():
    scope = mutants.scope()
    for claim in range(1, 7):
        assert f"analysis.stats.c{claim}.x_decide__mutmut_*" in scope
        assert f"analysis.stats.c{claim}.x_paper_numbers__mutmut_*" not in scope
    assert "analysis.stats.c1.xǁRulesǁ__post_init____mutmut_*" in scope  # a rule's own checks are rules too
    assert "analysis.stats.inference.x_holm__mutmut_*" in scope
    assert "analysis.stats.distance.x_fit_cells__mutmut_*" in scope
    assert "analysis.measures.data.xǁRunDataǁgradient_matrix__mutmut_*" in scope
    assert not any(name.startswith(("analysis.stats.report.", "analysis.stats.scaling.")) for name in scope)
    assert len(scope) == len(set(scope))


def test_every_function_the_scope_names_or_leaves_out_exists():
    for claim, names in mutants.NOT_DECIDING.items():
        assert set(names) <= set(mutants.functions(mutants.REPO / f"analysis/stats/{claim}.py")), claim


def test_a_renamed_table_function_stops_the_run_instead_of_leaving_the_scope(monkeypatch):
    monkeypatch.setitem(mutants.FUNCTIONS, "analysis/measures/myopia.py", ("myopia_gap_renamed",))
    with pytest.raises(SystemExit, match="myopia_gap_renamed"):
        mutants.scope()


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
