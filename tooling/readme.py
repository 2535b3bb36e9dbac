"""``make readme``: copy the generated blocks into the documents.

From ``results/<profile>/headline.md`` (the ``readme_blocks`` rule): the verdict block into README.md
and the loss tables into docs/results.md. From ``results/bench/``: the step-time and gradient-method
blocks into docs/performance.md. A missing source leaves its block as it is.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from .doc_blocks import (
    BEGIN,
    BENCH_BEGIN,
    BENCH_END,
    END,
    METHODS_BEGIN,
    METHODS_END,
    RESULTS_BEGIN,
    RESULTS_END,
    bench_markdown,
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


def splice_all(repo: Path, profile: str) -> None:
    """Every generated block whose source exists, into README.md, docs/results.md and docs/performance.md."""
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
