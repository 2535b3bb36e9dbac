"""The documents: a README whose first screen has the two commands and the verdicts, every docs/ page linked
from it, no broken relative links; and the generated blocks ``make readme`` splices into them."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from workflow_helpers import REPO

from analysis.stats.listing import CLAIMS
from tooling.doc_blocks import (
    BEGIN,
    BENCH_BEGIN,
    BENCH_END,
    CLAIMS_BEGIN,
    CLAIMS_END,
    END,
    METHODS_BEGIN,
    METHODS_END,
    RESULTS_BEGIN,
    RESULTS_END,
    claims_markdown,
    headline_markdown,
    marked_block,
    results_markdown,
    splice,
    verdict_markdown,
)
from tooling.readme import splice_all, stale_claim_tables

README = REPO / "README.md"
CHANGELOG = REPO / "CHANGELOG.md"
DOCS = sorted((REPO / "docs").glob("*.md"))
FIRST_SCREEN = 40
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```.*?^```", re.M | re.S)


def links(page: Path) -> list[str]:
    """Markdown link targets of ``page``, outside code blocks and code spans."""
    text = re.sub(r"`[^`\n]*`", "", FENCE.sub("", page.read_text()))
    return LINK.findall(text)


def anchor(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    text = FENCE.sub("", page.read_text())
    return {anchor(h) for h in re.findall(r"^#{1,6} +(.+?)#*$", text, re.M)}


def test_every_docs_page_is_linked_from_the_readme() -> None:
    linked = {(README.parent / target.split("#", 1)[0]).resolve() for target in links(README)}
    assert DOCS, "docs/ has no pages"
    unlinked = [page.name for page in DOCS if page.resolve() not in linked]
    assert not unlinked, f"docs pages not linked from README.md: {unlinked}"


@pytest.mark.parametrize("page", [README, CHANGELOG, *DOCS], ids=lambda p: str(p.relative_to(REPO)))
def test_relative_links_point_at_existing_files_and_headings(page: Path) -> None:
    broken = []
    for target in links(page):
        if re.match(r"[a-z]+:", target):
            continue  # http(s), mailto: not checked here
        path, _, fragment = target.partition("#")
        destination = (page.parent / path).resolve() if path else page
        if not destination.exists():
            broken.append(f"{target}: no such file")
        elif fragment and destination.suffix == ".md" and fragment not in anchors(destination):
            broken.append(f"{target}: no heading #{fragment} in {destination.name}")
    assert not broken, broken


def test_the_first_screen_has_the_two_commands_and_the_verdicts() -> None:
    above = README.read_text().split(BEGIN, 1)[0].splitlines()
    shown = [line for line in above if not re.fullmatch(r"<!--.*-->", line)]  # comment lines (markers) render as nothing
    assert len(shown) < FIRST_SCREEN, f"the verdict block starts on rendered line {len(shown) + 1}"
    first = "\n".join(shown)
    assert re.search(r"^make study\b", first, re.M) and re.search(r"^make test\b", first, re.M)


def test_each_generated_block_has_its_place() -> None:
    readme = README.read_text()
    assert readme.count(BEGIN) == readme.count(END) == 1
    assert RESULTS_BEGIN not in readme and BENCH_BEGIN not in readme
    results = (REPO / "docs" / "results.md").read_text()
    assert results.count(RESULTS_BEGIN) == results.count(RESULTS_END) == 1
    performance = (REPO / "docs" / "performance.md").read_text()
    for marker in (BENCH_BEGIN, BENCH_END, METHODS_BEGIN, METHODS_END):
        assert performance.count(marker) == 1, marker
    for document in (readme, results):
        assert document.count(CLAIMS_BEGIN) == document.count(CLAIMS_END) == 1


def test_the_claim_tables_are_the_claim_lists() -> None:
    assert stale_claim_tables(REPO) == [], "run `make readme`: the claim tables differ from the claim list"
    readme_table = marked_block(README.read_text(), CLAIMS_BEGIN, CLAIMS_END)
    assert "| C3 | (retracted) a mid-context token's gradient flows through only half the weights |" in readme_table
    assert len(readme_table.splitlines()) == 3 + 2 + len(CLAIMS)  # markers and note, header, a row per claim


def test_a_stale_claim_table_is_caught_and_make_readme_rewrites_it(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    for name in ("README.md", "docs/results.md"):
        (tmp_path / name).write_text((REPO / name).read_text())
    results = tmp_path / "docs" / "results.md"
    results.write_text(results.read_text().replace("| C5 | teacher forcing", "| C5 | teacher forcing, typed by hand"))
    readme = tmp_path / "README.md"
    readme.write_text(re.sub(r"^\| C6 \| per-token .*\n", "", readme.read_text(), flags=re.M))  # a claim forgotten
    assert stale_claim_tables(tmp_path) == ["README.md", "docs/results.md"]
    splice_all(tmp_path, "no-such-profile")  # the claim tables need no study run
    assert stale_claim_tables(tmp_path) == []
    assert readme.read_text() == README.read_text() and results.read_text() == (REPO / "docs" / "results.md").read_text()


def test_the_claim_table_has_a_row_per_claim_with_its_statement_and_how_it_is_decided() -> None:
    claims = CLAIMS
    assert all(c.statement and c.decided_by and c.section for c in claims), "every Claim needs statement, decided_by, section"
    assert all((REPO / "paper" / "sections" / f"{c.section}.typ").exists() for c in claims)
    short, full = claims_markdown(claims[:1]), claims_markdown(claims[:1], decided_by=True)
    assert short.splitlines()[2:-1] == ["| id | claim |", "|---|---|", f"| C1 | {claims[0].statement} |"]
    assert full.splitlines()[-2] == f"| C1 | {claims[0].statement} | {claims[0].decided_by} |"
    assert short.startswith(CLAIMS_BEGIN) and full.endswith(CLAIMS_END)


def test_the_readme_cites_with_the_bibtex_block() -> None:
    section = README.read_text().split("\n## How to cite\n", 1)[1]
    assert re.search(r"```bibtex\n@misc\{.*?\n```", section, re.S)


# The generated blocks, from a small set of the numbers the paper prints.
NUMBERS = {
    "profile": "toy",
    "provenance": {"git_commit": "0123456789abcdef"},
    "preregistration": {"status": "confirmatory", "confirmatory_seeds": "100, 101", "rules_commit": "fedcba9876543210"},
    "confidence_pct": 95,
    "counts": {"learned": 1, "n": 2},
    "verdicts": [{"claim": "C9", "kind": "finding", "verdict": "supported", "deciding": "x = 1"}],
    "missing_runs": {
        "n": 1, "dropped_conditions": [],
        "runs": [{"run_id": "a/seed0", "status": "diverged", "step": 5, "loss": "nan"}],
    },  # fmt: skip
    "conditions": [
        {
            "task": "markov", "pos_encoding": "learned", "regime": "standard", "context": 32, "n_seeds": 2,
            "final_loss": {"mean": 2.1, "low": 2.0, "high": 2.2}, "baseline_loss": 2.7, "optimal_loss": 1.8,
            "gap_closed_pct": {"mean": 60, "low": 50, "high": 70}, "learned": True,
        },  # fmt: skip
    ],
    "myopia": {
        "regimes": ["standard", "myopic-state"],
        "rows": [{"task": "sine", "cells": [{"mean": 0.1, "low": 0.0, "high": 0.2}] * 2, "baseline": 0.5}],
    },
}


def test_the_verdict_block_has_the_verdicts_and_the_missing_runs_only() -> None:
    block = verdict_markdown(NUMBERS, "make study PROFILE=toy")
    assert block.startswith(BEGIN) and block.endswith(END)
    assert "1 of 2 conditions learned their task" in block and "commit `0123456789ab`" in block
    assert "| C9 | finding | **supported** | x = 1 |" in block
    assert "**1 run(s) missing from every mean and test:** `a/seed0` (diverged at step 5, loss nan)" in block
    assert "| markov |" not in block and "by training regime" not in block


def test_the_results_block_has_the_losses_and_the_regime_table() -> None:
    block = results_markdown(NUMBERS, "make study PROFILE=toy")
    assert block.startswith(RESULTS_BEGIN) and block.endswith(RESULTS_END)
    assert "| markov | learned | standard | 32 | 2 | 2.1 [2.0, 2.2] | 2.7 | 1.8 | 60 [50, 70] | yes |" in block
    assert "| sine | 0.1 [0.0, 0.2] | 0.1 [0.0, 0.2] | 0.5 |" in block
    assert "| C9 |" not in block


def test_headline_file_holds_both_blocks_and_each_can_be_cut_out() -> None:
    text = headline_markdown(NUMBERS, "make study PROFILE=toy")
    assert marked_block(text, BEGIN, END) == verdict_markdown(NUMBERS, "make study PROFILE=toy")
    assert marked_block(text, RESULTS_BEGIN, RESULTS_END) == results_markdown(NUMBERS, "make study PROFILE=toy")
    with pytest.raises(ValueError, match="no <!-- bench:begin -->"):
        marked_block(text, BENCH_BEGIN, BENCH_END)


def test_splice_replaces_only_between_the_markers() -> None:
    document = f"top\n{BEGIN}\nold\n{END}\nbottom\n"
    assert splice(document, f"{BEGIN}\nnew\n{END}") == f"top\n{BEGIN}\nnew\n{END}\nbottom\n"
    with pytest.raises(ValueError, match="has no"):
        splice("no markers here", "x")


def test_make_readme_splices_each_block_into_its_document(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "README.md").write_text(f"# R\n{CLAIMS_BEGIN}\nold\n{CLAIMS_END}\n{BEGIN}\nold\n{END}\ncite\n")
    (tmp_path / "docs" / "results.md").write_text(f"# Results\n{CLAIMS_BEGIN}\n{CLAIMS_END}\n{RESULTS_BEGIN}\nold\n{RESULTS_END}\nmore\n")
    performance = f"# P\n{BENCH_BEGIN}\nold\n{BENCH_END}\n"
    (tmp_path / "docs" / "performance.md").write_text(performance)
    (tmp_path / "results" / "toy").mkdir(parents=True)
    (tmp_path / "results" / "toy" / "headline.md").write_text(headline_markdown(NUMBERS, "make study PROFILE=toy") + "\n")
    splice_all(tmp_path, "toy")
    readme = (tmp_path / "README.md").read_text()
    claims, claims_full = claims_markdown(CLAIMS), claims_markdown(CLAIMS, decided_by=True)
    assert readme == f"# R\n{claims}\n{verdict_markdown(NUMBERS, 'make study PROFILE=toy')}\ncite\n"
    results = (tmp_path / "docs" / "results.md").read_text()
    assert results == f"# Results\n{claims_full}\n{results_markdown(NUMBERS, 'make study PROFILE=toy')}\nmore\n"
    assert (tmp_path / "docs" / "performance.md").read_text() == performance  # no benchmark: left as it is
