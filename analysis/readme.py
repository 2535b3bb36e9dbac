"""``make readme``: copy the generated headline and benchmark blocks into README.md."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from .stats.headline import (
    BENCH_BEGIN,
    BENCH_END,
    METHODS_BEGIN,
    METHODS_END,
    bench_markdown,
    gradient_methods_markdown,
    splice,
)

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--profile", default="default")
    args = parser.parse_args()
    readme = REPO / "README.md"
    text = readme.read_text()
    headline = REPO / "results" / args.profile / "headline.md"
    if headline.exists():
        text = splice(text, headline.read_text().strip())
    bench = REPO / "results" / "bench" / "regimes.json"
    if bench.exists():
        text = splice(text, bench_markdown(json.loads(bench.read_text())), BENCH_BEGIN, BENCH_END)
    methods = REPO / "results" / "bench" / "gradient_methods.json"
    if methods.exists():
        text = splice(text, gradient_methods_markdown(json.loads(methods.read_text())), METHODS_BEGIN, METHODS_END)
    readme.write_text(text)


if __name__ == "__main__":
    main()
