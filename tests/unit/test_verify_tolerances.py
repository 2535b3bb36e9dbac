"""Citing a study: the manifest the paper prints, a deterministic archive, and verifying a rerun against it."""
from __future__ import annotations

from tooling.tolerances import PROFILES, Tolerance, kind_of
from tooling.verify import text_within


def test_numbers_in_text_compare_within_tolerance_and_rounding() -> None:
    loose = Tolerance(rtol=1e-2, atol=0.0)
    assert text_within("0.136 [0.106, 0.157] (sine)", "0.137 [0.106, 0.157] (sine)", loose)  # last digit: rounding
    assert not text_within("0.136 [0.106, 0.157] (sine)", "0.137 [0.106, 0.157] (sine)", PROFILES["exact"]["paper"])
    assert not text_within("0.136 (sine)", "0.236 (sine)", loose)
    assert not text_within("supported", "refuted", loose)  # verdicts never pass by tolerance
    assert text_within("slope −1.23", "slope -1.231", loose)


def test_every_results_table_has_a_tolerance_kind() -> None:
    assert kind_of("tables/m5_reachability.csv") == "measures" and kind_of("tables/runs.csv") == "training"
    assert kind_of("tables/verdicts.csv") == "statistics" and kind_of("paper_numbers.json") == "paper"
    assert all(t.rtol == 0 and t.atol == 0 for t in PROFILES["exact"].values())
    assert all(set(tolerances) == set(PROFILES["exact"]) for tolerances in PROFILES.values())  # every kind, every profile
