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
    CLAIM_MODULES,
    CLAIMS,
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
    load_claims,
    rule_problems,
)


def test_the_verdict_words_and_kinds_are_fixed() -> None:
    assert (SUPPORTED, REFUTED, MIXED) == ("supported", "refuted", "mixed")
    assert VERDICT_WORDS == ("supported", "refuted", "mixed")
    assert (FINDING, STRUCTURAL) == ("finding", "structural check")
    assert CLAIM_MODULES == ("c1", "c2", "c3", "c4", "c5", "c6")


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


@pytest.fixture
def registered_toy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(CLAIMS._entries, "c9", toy_claim(("a",), ("a",)))


def test_rule_problems_name_each_problem(registered_toy: None) -> None:
    assert rule_problems("c9", {"flag": True, "count": 4, "share": 1, "name": "y"}) == []  # an int is a valid float
    assert rule_problems("c0", {}) == [
        f"stats.claims.c0: unknown claim; allowed values: {', '.join(sorted([*CLAIMS._entries]))}"]
    assert rule_problems("c9", {"cont": 1, "count": 2}) == [
        "unknown key 'stats.claims.c9.cont'; allowed keys: flag, count, share, name"]
    assert rule_problems("c9", {"count": True}) == ["stats.claims.c9.count: expected int, got True"]
    assert rule_problems("c9", {"flag": 1}) == ["stats.claims.c9.flag: expected bool, got 1"]
    assert rule_problems("c9", {"share": "0.5"}) == ["stats.claims.c9.share: expected float, got '0.5'"]
    assert rule_problems("c9", {"name": 5}) == ["stats.claims.c9.name: expected str, got 5"]
    assert rule_problems("c9", {"share": float("nan")}) == ["stats.claims.c9.share: NaN is not allowed"]
    assert rule_problems("c9", {"nope": 1, "share": 0.25, "count": "many"}) == [
        "unknown key 'stats.claims.c9.nope'; allowed keys: flag, count, share, name",
        "stats.claims.c9.count: expected int, got 'many'"]


def test_decide_all_runs_every_claim_in_id_order_with_its_own_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(claims, "CLAIMS", type(CLAIMS)("claim"))
    claims.CLAIMS.register("c9")(toy_claim(("a",), ("a",)))
    claims.CLAIMS.register("c8")(toy_claim(("b",), ("b",)))
    results = decide_all(INPUTS, {"c9": {"count": 1}})
    assert list(results) == ["c8", "c9"]
    assert results["c9"].numbers["rules"] == Rules(count=1) and results["c8"].numbers["rules"] == Rules()
    assert results["c8"].numbers["settings"] == {"alpha": 0.05}


def test_run_without_overrides_uses_the_studys_resolved_rules() -> None:
    resolved = ClaimInputs(tables={}, runs=pd.DataFrame(), settings={"alpha": 0.05}, rules={"c9": Rules(count=3)})
    assert toy_claim(("a",), ("a",)).run(resolved).numbers["rules"] == Rules(count=3)
    assert toy_claim(("a",), ("a",)).run(resolved, {"count": 5}).numbers["rules"] == Rules(count=5)  # explicit overrides win


def test_resolve_rules_applies_each_claims_overrides_and_writes_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(claims, "CLAIMS", type(CLAIMS)("claim"))
    claims.CLAIMS.register("c9")(toy_claim(("a",), ("a",)))
    resolved = claims.resolve_rules({"c9": {"count": 2}, "c8": {"count": 4}})
    assert resolved == {"c9": Rules(count=2)}
    assert claims.rules_as_json(resolved) == {"c9": dataclasses.asdict(Rules(count=2))}

    @dataclass(frozen=True)
    class Listed:
        names: tuple[str, ...] = ("a", "b")
        planned: float = float("nan")

    assert claims.rules_as_json({"c9": Listed()}) == {"c9": {"names": ["a", "b"], "planned": None}}  # strict JSON


def test_register_files_a_claim_under_its_id(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(claims, "CLAIMS", type(CLAIMS)("claim"))
    claim = toy_claim(("a",), ("a",))
    assert claims.register(claim) is claim and claims.CLAIMS.get("c9") is claim and claims.CLAIMS.names() == ["c9"]


def test_load_claims_registers_the_six_claims() -> None:
    assert load_claims().names() == ["c1", "c2", "c3", "c4", "c5", "c6"]
