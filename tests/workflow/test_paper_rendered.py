"""Every number the rendered smoke paper prints comes from pipeline output."""
from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import typst

NUMBER = re.compile(r"\d+(?:[.,]\d+)*")


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
    allowed |= set(NUMBER.findall((build / "confirmatory.json").read_text()))  # tables against a confirmatory record
    text = _visible_text(html)
    text = re.sub(r"\b(?:Figure|Table|Section)[ \xa0]\d+(?:\.\d+)*\b", " ", text)  # Typst's own counters (joined by a no-break space)
    text = re.sub(r"\b[CM]\d[ab]?\b", " ", text)  # names of claims (C1-C6, C4a) and measures (M1-M7) are labels, not results
    rendered = NUMBER.findall(text)
    assert rendered, "the rendered paper should print numbers read from the pipeline"
    strays = sorted({n for n in rendered if n not in allowed})
    assert strays == [], f"numbers in the paper that no pipeline output contains: {strays}"
