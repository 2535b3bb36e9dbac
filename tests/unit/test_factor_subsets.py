"""The statistics' factor subsets come from ``GRID_FACTORS`` and the standard regime's name from ``analysis.regimes``."""
from __future__ import annotations

import ast

import pytest
from workflow_helpers import REPO

from analysis.grid import GRID_FACTORS, Factor, factors_except
from analysis.regimes import REGIMES
from analysis.stats import c2, c3, primacy, scaling, sinks


def test_subsets_keep_the_published_column_order() -> None:
    """The tables' columns follow these lists: deriving them must not reorder a column."""
    assert c2.CELL == ["pos_encoding", "n_layer", "d_model", "n_head", "context", "steps"]
    assert c3.FACTORS == ["task", "pos_encoding", "regime"]
    assert sinks.FACTORS == ["task", "pos_encoding", "regime", "n_layer", "d_model", "context"]
    assert primacy.FACTORS == ["task", "regime", "pos_encoding", "n_layer", "d_model", "context", "learned"]
    assert set(scaling.HELD) == {"task", "regime", "pos_encoding", "n_head", "steps"}  # grouping keys: order is moot


def test_a_new_grid_factor_is_carried_into_every_subset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(GRID_FACTORS, "dropout", Factor("train", "P"))
    assert factors_except("task", "regime")[-1] == "dropout"


def test_a_name_that_is_no_grid_factor_is_refused() -> None:
    with pytest.raises(KeyError, match="n_layers"):
        factors_except("n_layer", "n_layers")  # a typo would otherwise leave n_layer in the subset


def redeclared_regime_names(source: str) -> list[str]:
    """Module-level constants whose value is a registered regime's name (``STANDARD = "standard"``)."""
    return [
        target.id
        for node in ast.parse(source).body
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and node.value.value in list(REGIMES)
        for target in node.targets
        if isinstance(target, ast.Name)
    ]


def test_no_module_redeclares_a_regime_name() -> None:
    assert redeclared_regime_names('STANDARD = "standard"\nMYOPIC = "myopic-full"\n') == ["STANDARD", "MYOPIC"]  # planted
    offending = {
        str(path.relative_to(REPO)): names
        for path in sorted((REPO / "analysis").rglob("*.py"))
        if (names := redeclared_regime_names(path.read_text()))
    }
    assert not offending, f"import the regime from analysis.regimes instead: {offending}"
