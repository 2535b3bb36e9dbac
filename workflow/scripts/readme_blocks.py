"""Snakemake job: the verdict block for README.md and the loss-table block for docs/results.md (make readme splices both)."""
from pathlib import Path

from analysis.io import atomic_path, read_json
from analysis.logs import log_to
from tooling.doc_blocks import headline_markdown

with log_to(snakemake.log[0]):
    numbers = read_json(snakemake.input.numbers)
    block = headline_markdown(numbers, f"make study PROFILE={numbers['profile']}")
    with atomic_path(snakemake.output.block) as tmp:
        Path(tmp).write_text(block + "\n")
