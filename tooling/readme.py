"""``make readme``: copy the generated blocks into the documents.

From the claim list (no study run needed): the claim tables of README.md and docs/results.md. From
``results/<profile>/headline.md`` (the ``readme_blocks`` rule): the verdict block into README.md
and the loss tables into docs/results.md. From ``results/bench/``: the step-time and gradient-method
blocks into docs/performance.md. A missing source leaves its block as it is.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from analysis.stats.listing import CLAIMS

from .doc_blocks import (
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
    bench_markdown,
    claims_markdown,
    gradient_methods_markdown,
    marked_block,
    splice,
)

REPO = Path(__file__).resolve().parents[1]


def update(document: Path, blocks: list[tuple[str, str, str]]) -> None:
    """Splice each (block, begin, end) into ``document``; rewrite it only if something changed."""
    text = original = document.read_text()
    for block, begin, end in blocks:
        text = splice(text, block, begin, end)
    if text != original:
        document.write_text(text)


def claim_tables() -> dict[str, str]:
    """Each document's claim table as the claim list gives it, by the document's path in the repository."""
    claims = CLAIMS
    return {"README.md": claims_markdown(claims), "docs/results.md": claims_markdown(claims, decided_by=True)}


def stale_claim_tables(repo: Path) -> list[str]:
    """The documents whose claim table differs from the claim list's (``make readme`` rewrites them)."""
    return [
        path for path, block in claim_tables().items()
        if marked_block((repo / path).read_text(), CLAIMS_BEGIN, CLAIMS_END) != block
    ]  # fmt: skip


def splice_all(repo: Path, profile: str) -> None:
    """The claim tables, and every generated block whose source exists, into README.md, docs/results.md and
    docs/performance.md."""
    for path, block in claim_tables().items():
        update(repo / path, [(block, CLAIMS_BEGIN, CLAIMS_END)])
    headline = repo / "results" / profile / "headline.md"
    if headline.exists():
        generated = headline.read_text()
        if RESULTS_BEGIN not in generated:
            raise SystemExit(f"{headline} has no {RESULTS_BEGIN} block: rerun `make study PROFILE={profile}` to regenerate it")
        update(repo / "README.md", [(marked_block(generated, BEGIN, END), BEGIN, END)])
        update(repo / "docs" / "results.md", [(marked_block(generated, RESULTS_BEGIN, RESULTS_END), RESULTS_BEGIN, RESULTS_END)])
    bench_dir, bench_blocks = repo / "results" / "bench", []
    if (bench_dir / "regimes.json").exists():
        report = json.loads((bench_dir / "regimes.json").read_text())
        bench_blocks.append((bench_markdown(report), BENCH_BEGIN, BENCH_END))
    if (bench_dir / "gradient_methods.json").exists():
        report = json.loads((bench_dir / "gradient_methods.json").read_text())
        bench_blocks.append((gradient_methods_markdown(report), METHODS_BEGIN, METHODS_END))
    if bench_blocks:
        update(repo / "docs" / "performance.md", bench_blocks)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--profile", default="default")
    args = parser.parse_args()
    splice_all(REPO, args.profile)


if __name__ == "__main__":
    main()
