"""The shape every claim's decision takes: inputs -> statistics tables, verdicts, and the numbers the paper prints.

One module per claim (``c1.py`` ... ``c6.py``) defines a ``Claim`` (``CLAIM``, listed in ``listing.py``): the aggregated
tables it reads, the tables it writes, its ``Rules`` (a frozen dataclass of the thresholds
the verdict rule uses, with the defaults fixed before the confirmatory runs; a config may
override them under ``stats.claims.<id>``) and ``decide``. Reading how a claim is decided
means opening one file.

A verdict is either a *finding* (an empirical question the data could answer either way)
or a *structural check* (true by construction of the architecture or the training
objective; tested, but not evidence about learning).
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import pandas as pd

SUPPORTED, REFUTED, MIXED = "supported", "refuted", "mixed"
VERDICT_WORDS = (SUPPORTED, REFUTED, MIXED)
FINDING, STRUCTURAL = "finding", "structural check"


@dataclass(frozen=True)
class Verdict:
    claim: str  # "C1", "C4a", ...
    verdict: str  # one of VERDICT_WORDS
    deciding: str  # the deciding number(s) with their intervals, in words
    rule: str  # the rule that was applied, as the methods state it
    kind: Literal["finding", "structural check"] = FINDING

    def __post_init__(self) -> None:
        if self.verdict not in VERDICT_WORDS:
            raise ValueError(f"verdict {self.verdict!r} of {self.claim}: allowed values: {', '.join(VERDICT_WORDS)}")

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


@dataclass(frozen=True)
class ClaimInputs:
    """What a claim decides from: the aggregated tables by name, the runs table and the stats settings."""

    tables: Mapping[str, pd.DataFrame]  # e.g. "m1_gradient_matrix", "m4_myopia_gap" (results/<profile>/tables/<name>.csv)
    runs: pd.DataFrame  # one row per trained run (analysis.stats.runs.runs_table)
    settings: Mapping[str, Any]  # config["stats"]: confidence, s_min, d_min, alpha, learned_margin, ...
    rules: Mapping[str, Any] = field(default_factory=dict)  # each claim's Rules, resolved once per study (resolve_rules)


@dataclass
class ClaimResult:
    verdicts: list[Verdict]
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)  # written as tables/<name>.csv
    numbers: dict[str, Any] = field(default_factory=dict)  # paper_numbers.json: claims.<id>


@dataclass(frozen=True)
class Claim:
    id: str  # lower case, as in the config: "c1"
    inputs: tuple[str, ...]  # aggregated table names read (besides the runs table)
    outputs: tuple[str, ...]  # table names written; ``decide`` must return exactly these
    rules: type  # frozen dataclass of thresholds with defaults
    decide: Callable[[ClaimInputs, Any], ClaimResult]
    statement: str = ""  # the claim in a line: the README's and docs/results.md's "claim" column
    decided_by: str = ""  # how it is decided, in a line: docs/results.md's "decided by" column
    section: str | None = None  # its paper section, paper/sections/<section>.typ

    def run(self, inputs: ClaimInputs, overrides: Mapping[str, Any] | None = None) -> ClaimResult:
        """Decide with ``overrides`` applied to the default rules, or, without overrides, the study's resolved rules."""
        rules = inputs.rules[self.id] if overrides is None and self.id in inputs.rules else self.rules(**(overrides or {}))
        result = self.decide(inputs, rules)
        if set(result.tables) != set(self.outputs):
            raise RuntimeError(f"claim {self.id} wrote tables {sorted(result.tables)}, declared {sorted(self.outputs)}")
        return result


def rule_problems(claims: Sequence[Claim], claim_id: str, overrides: Mapping[str, Any]) -> list[str]:
    """Config problems in ``stats.claims.<claim_id>``: unknown claims or keys, wrong types, contradicting thresholds."""
    by_id = {claim.id: claim for claim in claims}
    if claim_id not in by_id:
        return [f"stats.claims.{claim_id}: unknown claim; allowed values: {', '.join(by_id)}"]
    rules = by_id[claim_id].rules
    allowed = {f.name: f for f in dataclasses.fields(rules)}
    problems = []
    for key, value in overrides.items():
        if key not in allowed:
            problems.append(f"unknown key 'stats.claims.{claim_id}.{key}'; allowed keys: {', '.join(allowed)}")
            continue
        default = allowed[key].default
        if isinstance(default, tuple):
            if not isinstance(value, list | tuple) or any(not isinstance(item, type(x)) for x in default[:1] for item in value):
                kind = type(default[0]).__name__ if default else "value"
                problems.append(f"stats.claims.{claim_id}.{key}: expected a list of {kind}, got {value!r}")
            continue
        if isinstance(default, bool) != isinstance(value, bool) or (
            isinstance(default, int | float) and not isinstance(value, int | float)
        ) or (isinstance(default, str) and not isinstance(value, str)):
            problems.append(f"stats.claims.{claim_id}.{key}: expected {type(default).__name__}, got {value!r}")
        elif isinstance(value, float) and value != value:
            problems.append(f"stats.claims.{claim_id}.{key}: NaN is not allowed")
    if not problems:  # each Rules refuses thresholds that contradict each other (its __post_init__): before any job
        try:
            rules(**overrides)
        except ValueError as error:
            problems.append(f"stats.claims.{claim_id}: {error}")
    return problems


def decide_all(claims: Sequence[Claim], inputs: ClaimInputs, overrides: Mapping[str, Mapping[str, Any]]
               ) -> dict[str, ClaimResult]:
    """Every claim of the list, in its order, each with its own overrides."""
    return {claim.id: claim.run(inputs, overrides.get(claim.id)) for claim in claims}


def resolve_rules(claims: Sequence[Claim], overrides: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """Each claim's Rules with the config's ``stats.claims`` overrides applied: built once per study, so the
    verdicts, the analyses that read a claim's thresholds and the figures (through paper_numbers.json) use the same."""
    return {claim.id: claim.rules(**overrides.get(claim.id, {})) for claim in claims}


def rules_as_json(rules: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Resolved rules as JSON values (tuples become lists, NaN -- "not given" -- becomes null, which strict JSON readers
    such as Typst accept), as paper_numbers.json carries them for figures and the paper."""

    def value(v: Any) -> Any:
        if isinstance(v, float) and v != v:
            return None
        return [value(x) for x in v] if isinstance(v, tuple | list) else v

    return {claim_id: {k: value(v) for k, v in asdict(r).items()} for claim_id, r in rules.items()}

