"""The claim framework (``analysis/stats/claims.py``): verdict words, declared tables, rule overrides.

Expected messages and orders are written out by hand, so a changed message or order fails.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import pandas as pd
import pytest

from analysis.stats import claims
from analysis.stats.claims import (
    FINDING,
    MIXED,
    REFUTED,
    STRUCTURAL,
    SUPPORTED,
    VERDICT_WORDS,
    Claim,
    ClaimInputs,
    ClaimResult,
    Verdict,
    decide_all,
    rule_problems,
)
from analysis.stats.listing import CLAIMS


def test_the_verdict_words_and_kinds_are_fixed() -> None:
    assert (SUPPORTED, REFUTED, MIXED) == ("supported", "refuted", "mixed")
    assert VERDICT_WORDS == ("supported", "refuted", "mixed")
    assert (FINDING, STRUCTURAL) == ("finding", "structural check")


def test_a_verdict_outside_the_three_words_is_refused_with_the_allowed_ones() -> None:
    with pytest.raises(ValueError) as error:
        Verdict("C9", "likely", "d", "r")
    assert str(error.value) == "verdict 'likely' of C9: allowed values: supported, refuted, mixed"
    verdict = Verdict("C9", "mixed", "the number", "the rule")
    assert verdict.kind == "finding"
    assert verdict.as_dict() == {"claim": "C9", "verdict": "mixed", "deciding": "the number", "rule": "the rule",
                                 "kind": "finding"}


@dataclass(frozen=True)
class Rules:
    flag: bool = False
    count: int = 3
    share: float = 0.5
    name: str = "x"


def toy_claim(outputs: tuple[str, ...], wrote: tuple[str, ...]) -> Claim:
    def decide(inputs: ClaimInputs, rules: Rules) -> ClaimResult:
        return ClaimResult([Verdict("C9", SUPPORTED, "", "")], tables={name: pd.DataFrame() for name in wrote},
                           numbers={"rules": rules, "settings": inputs.settings})

    return Claim(id="c9", inputs=(), outputs=outputs, rules=Rules, decide=decide)


INPUTS = ClaimInputs(tables={}, runs=pd.DataFrame(), settings={"alpha": 0.05})


def test_run_passes_the_overrides_to_the_rules_and_checks_the_declared_tables() -> None:
    result = toy_claim(("a", "b"), ("b", "a")).run(INPUTS, {"count": 7})
    assert result.numbers["rules"] == Rules(count=7)
    assert toy_claim(("a",), ("a",)).run(INPUTS).numbers["rules"] == Rules()
    with pytest.raises(RuntimeError) as error:
        toy_claim(("a", "b"), ("c", "a")).run(INPUTS)
    assert str(error.value) == "claim c9 wrote tables ['a', 'c'], declared ['a', 'b']"


def test_rule_problems_name_each_problem() -> None:
    listed = (*CLAIMS, toy_claim(("a",), ("a",)))
    assert rule_problems(listed, "c9", {"flag": True, "count": 4, "share": 1, "name": "y"}) == []  # an int is a valid float
    assert rule_problems(listed, "c0", {}) == [
        "stats.claims.c0: unknown claim; allowed values: c1, c2, c3, c4, c5, c6, c9"]
    assert rule_problems(listed, "c9", {"cont": 1, "count": 2}) == [
        "unknown key 'stats.claims.c9.cont'; allowed keys: flag, count, share, name"]
    assert rule_problems(listed, "c9", {"count": True}) == ["stats.claims.c9.count: expected int, got True"]
    assert rule_problems(listed, "c9", {"flag": 1}) == ["stats.claims.c9.flag: expected bool, got 1"]
    assert rule_problems(listed, "c9", {"share": "0.5"}) == ["stats.claims.c9.share: expected float, got '0.5'"]
    assert rule_problems(listed, "c9", {"name": 5}) == ["stats.claims.c9.name: expected str, got 5"]
    assert rule_problems(listed, "c9", {"share": float("nan")}) == ["stats.claims.c9.share: NaN is not allowed"]
    assert rule_problems(listed, "c9", {"nope": 1, "share": 0.25, "count": "many"}) == [
        "unknown key 'stats.claims.c9.nope'; allowed keys: flag, count, share, name",
        "stats.claims.c9.count: expected int, got 'many'"]


def test_decide_all_runs_every_claim_in_list_order_with_its_own_overrides() -> None:
    second = dataclasses.replace(toy_claim(("b",), ("b",)), id="c8")
    results = decide_all((toy_claim(("a",), ("a",)), second), INPUTS, {"c9": {"count": 1}})
    assert list(results) == ["c9", "c8"]
    assert results["c9"].numbers["rules"] == Rules(count=1) and results["c8"].numbers["rules"] == Rules()
    assert results["c8"].numbers["settings"] == {"alpha": 0.05}


def test_run_without_overrides_uses_the_studys_resolved_rules() -> None:
    resolved = ClaimInputs(tables={}, runs=pd.DataFrame(), settings={"alpha": 0.05}, rules={"c9": Rules(count=3)})
    assert toy_claim(("a",), ("a",)).run(resolved).numbers["rules"] == Rules(count=3)
    assert toy_claim(("a",), ("a",)).run(resolved, {"count": 5}).numbers["rules"] == Rules(count=5)  # explicit overrides win


def test_resolve_rules_applies_each_claims_overrides_and_writes_json() -> None:
    resolved = claims.resolve_rules((toy_claim(("a",), ("a",)),), {"c9": {"count": 2}, "c8": {"count": 4}})
    assert resolved == {"c9": Rules(count=2)}
    assert claims.rules_as_json(resolved) == {"c9": dataclasses.asdict(Rules(count=2))}

    @dataclass(frozen=True)
    class Listed:
        names: tuple[str, ...] = ("a", "b")
        planned: float = float("nan")

    assert claims.rules_as_json({"c9": Listed()}) == {"c9": {"names": ["a", "b"], "planned": None}}  # strict JSON


def test_the_study_decides_the_six_claims_in_order_and_each_id_once() -> None:
    ids = [claim.id for claim in CLAIMS]
    assert ids[:6] == ["c1", "c2", "c3", "c4", "c5", "c6"] and len(set(ids)) == len(ids)  # a seventh goes after them
