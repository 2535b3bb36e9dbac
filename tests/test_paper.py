"""No number in the paper is typed by hand: the source has none, and every number rendered comes from pipeline output."""
from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
import typst
from workflow_helpers import REPO

PAPER = REPO / "paper"
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


@pytest.mark.parametrize("source", sorted(str(p.relative_to(PAPER)) for p in PAPER.rglob("*.typ") if p.name != "template.typ"))
def test_paper_content_has_no_typed_numbers(source: str) -> None:
    assert typed_numbers((PAPER / source).read_text()) == []


# In Typst markup a semicolon right after an embedded expression ends it and is swallowed:
# "#x; then" renders "3 then". Text must not rely on such a semicolon.
SWALLOWED_SEMICOLON = re.compile(r"#[\w.]+(?:\([^()]*\))?;")


def test_the_semicolon_checker_catches_a_swallowed_semicolon() -> None:
    assert SWALLOWED_SEMICOLON.findall("the exponential in #c.c4.n; @ref") == ["#c.c4.n;"]
    assert SWALLOWED_SEMICOLON.findall("hash #raw(p.config_hash); next") == ["#raw(p.config_hash);"]
    assert SWALLOWED_SEMICOLON.findall("(#t.name#if x [; y])") == []


@pytest.mark.parametrize("source", sorted(str(p.relative_to(PAPER)) for p in PAPER.rglob("*.typ")))
def test_no_semicolon_is_swallowed_after_an_expression(source: str) -> None:
    assert SWALLOWED_SEMICOLON.findall((PAPER / source).read_text()) == []


def _visible_text(html: str) -> str:
    """The rendered body text, without markup, heading numbers, citation markers and the bibliography."""
    html = re.split(r"<h\d[^>]*>\s*References\s*</h\d>", html)[0]  # years and volumes of cited works are not results
    html = re.sub(r"<(style|script|svg|math)\b.*?</\1>", " ", html, flags=re.S)
    html = re.sub(r"(<h\d[^>]*>)\s*\d+(?:\.\d+)*\.?", r"\1", html)  # Typst's heading numbers
    text = re.sub(r"<[^>]+>", " ", html)
    text = re.sub(r"\[\d+(?:\s*[–,-]\s*\d+)*\]", " ", text)  # citation markers such as [3] or [2, 5]
    return text.replace("SHA-256", " ")  # the name of a hash function, not a result


def test_every_rendered_number_comes_from_pipeline_output(smoke_study: tuple[Path, Path], tmp_path: Path) -> None:
    workdir, _ = smoke_study
    results = workdir / "results" / "smoke"
    build = tmp_path / "paper"
    shutil.copytree(results / "paper_build", build)
    html = typst.compile(str(build / "main.typ"), root=str(build), format="html").decode()
    numbers_json = (results / "paper_numbers.json").read_text()
    allowed = set(NUMBER.findall(json.dumps(json.loads(numbers_json), ensure_ascii=False)))
    allowed |= set(NUMBER.findall((build / "manifest.json").read_text()))  # the results manifest's hash and size
    text = _visible_text(html)
    text = re.sub(r"\b(?:Figure|Table|Section)[ \xa0]\d+(?:\.\d+)*\b", " ", text)  # Typst's own counters (joined by a no-break space)
    text = re.sub(r"\b[CM]\d[ab]?\b", " ", text)  # names of claims (C1-C6, C4a) and measures (M1-M7) are labels, not results
    rendered = NUMBER.findall(text)
    assert rendered, "the rendered paper should print numbers read from the pipeline"
    strays = sorted({n for n in rendered if n not in allowed})
    assert strays == [], f"numbers in the paper that no pipeline output contains: {strays}"
