"""No number in the paper is typed by hand: the source has none, and every number rendered comes from pipeline output."""
from __future__ import annotations

import re

import pytest
from workflow_helpers import REPO

PAPER = REPO / "paper"
# The paper's Typst sources and the card's (its template ships inside the package), relative to the repository.
TYPST = sorted(str(p.relative_to(REPO)) for folder in (PAPER, REPO / "analysis" / "card") for p in folder.rglob("*.typ"))
NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
# Typst lengths/ratios in layout code, citation keys, labels, identifiers such as C4 or sha256, and names are not results.
NOT_A_RESULT = re.compile(r"\d+(?:\.\d+)?(?:pt|em|cm|mm|in|fr|%|deg)(?!\w)|@[\w-]+|<[\w-]+>|\b[A-Za-z_]+\d\w*|SHA-256")
MATH = re.compile(r"\$[^$]*\$")


def typed_numbers(source: str) -> list[str]:
    """Numbers written into Typst content by hand (small integers in formulas, like d + 1, are allowed)."""
    found = []
    for line in source.splitlines():
        line = line.split("//", 1)[0]
        if line.lstrip().startswith(("#set", "#show", "#import")):
            continue
        line = NOT_A_RESULT.sub(" ", line)
        for formula in MATH.findall(line):
            found += [n for n in NUMBER.findall(formula) if not (n.isdigit() and int(n) <= 9)]
        found += NUMBER.findall(MATH.sub(" ", line))
    return found


def test_the_checker_catches_a_typed_number() -> None:
    assert typed_numbers("The slope is −0.42 over 5 seeds.") == ["0.42", "5"]
    assert typed_numbers("a formula $log(d + 1)$ and a result $-1.37$") == ["1.37"]
    assert typed_numbers("#set text(size: 10.5pt) // 3 comments\nsee @wu-myopic and <fig-flow>") == []


@pytest.mark.parametrize("source", [s for s in TYPST if not s.endswith("template.typ")])
def test_paper_content_has_no_typed_numbers(source: str) -> None:
    assert typed_numbers((REPO / source).read_text()) == []


# In Typst markup a semicolon right after an embedded expression ends it and is swallowed:
# "#x; then" renders "3 then". Text must not rely on such a semicolon.
SWALLOWED_SEMICOLON = re.compile(r"#[\w.]+(?:\([^()]*\))?;")


def test_the_semicolon_checker_catches_a_swallowed_semicolon() -> None:
    assert SWALLOWED_SEMICOLON.findall("the exponential in #c.c4.n; @ref") == ["#c.c4.n;"]
    assert SWALLOWED_SEMICOLON.findall("hash #raw(p.config_hash); next") == ["#raw(p.config_hash);"]
    assert SWALLOWED_SEMICOLON.findall("(#t.name#if x [; y])") == []


@pytest.mark.parametrize("source", TYPST)
def test_no_semicolon_is_swallowed_after_an_expression(source: str) -> None:
    assert SWALLOWED_SEMICOLON.findall((REPO / source).read_text()) == []
