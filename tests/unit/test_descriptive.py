"""The descriptive-analysis framework (``analysis/stats/descriptive.py``): the list, its order, declared tables.

Expected names, orders and messages are written out by hand, so a changed one fails.
"""
from __future__ import annotations

import pandas as pd
import pytest

from analysis.stats.claims import ClaimInputs
from analysis.stats.descriptive import Analysis, AnalysisResult, run_all
from analysis.stats.listing import ANALYSES

RUNS = pd.DataFrame({"condition": ["a"], "seed": [0]})


def test_the_three_analyses_are_listed_in_the_order_they_run_and_print() -> None:
    assert [analysis.id for analysis in ANALYSES] == ["primacy", "sinks", "scaling"]


def test_a_missing_input_names_the_analysis_and_the_table() -> None:
    tables = {"m1_gradient_matrix": pd.DataFrame()}  # primacy also reads C4's first-position table
    with pytest.raises(RuntimeError) as error:
        run_all(ANALYSES, ClaimInputs(tables, RUNS, {}))
    assert str(error.value) == "analysis primacy reads ['c4_first_position'], which no measure, claim or earlier analysis wrote"


def _toy(analysis_id: str, reads: str, writes: str, seen: dict[str, list[str]]) -> Analysis:
    """An analysis that records which tables it was given and writes one table of its own."""
    def compute(inputs: ClaimInputs) -> AnalysisResult:
        seen[analysis_id] = [*sorted(inputs.tables), len(inputs.runs), *inputs.settings]
        return AnalysisResult({writes: pd.DataFrame({"value": [len(inputs.tables[reads])]})}, {"rows": len(inputs.tables[reads])})
    return Analysis(analysis_id, (reads,), (writes,), compute)



def test_a_later_analysis_reads_an_earlier_ones_table() -> None:
    seen: dict[str, list[str]] = {}
    listed = (_toy("b", "measure", "first", seen), _toy("a", "first", "second", seen))  # run in list order, not by id
    results = run_all(listed, ClaimInputs({"measure": pd.DataFrame({"x": [1, 2, 3]})}, RUNS, {"confidence": 0.95}))
    assert list(results) == ["b", "a"]
    assert seen == {"b": ["measure", 1, "confidence"], "a": ["first", "measure", 1, "confidence"]}  # tables, runs, settings
    assert results["b"].numbers == {"rows": 3} and results["a"].numbers == {"rows": 1}


def test_reading_a_table_of_a_later_analysis_is_refused() -> None:
    listed = (_toy("a", "second", "first", {}), _toy("b", "measure", "second", {}))
    with pytest.raises(RuntimeError) as error:
        run_all(listed, ClaimInputs({"measure": pd.DataFrame()}, RUNS, {}))
    assert str(error.value) == "analysis a reads ['second'], which no measure, claim or earlier analysis wrote"


def test_an_analysis_must_write_exactly_the_tables_it_declares() -> None:
    analysis = Analysis("a", (), ("declared",), lambda inputs: AnalysisResult({"other": pd.DataFrame()}))
    with pytest.raises(RuntimeError) as error:
        analysis.run(ClaimInputs({}, RUNS, {}))
    assert str(error.value) == "analysis a wrote tables ['other'], declared ['declared']"
