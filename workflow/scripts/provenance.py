"""Snakemake job: write the validated config and the package versions installed here into the results."""
from pathlib import Path

from analysis.environment import environment_text
from analysis.io import atomic_path
from analysis.logs import log_to

with log_to(snakemake.log[0]):
    params, output = snakemake.params, snakemake.output
    for path, text in ((output.config, params.config + "\n"), (output.environment, environment_text())):
        with atomic_path(path) as tmp:
            Path(tmp).write_text(text)
        print(f"wrote {path}")
