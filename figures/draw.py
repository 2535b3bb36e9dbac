"""Snakemake job: run the figure script named by the rule (figures/<name>.py) with the rule's snakemake object.

The figure rules are generated in a loop (workflow/rules/figures.smk), where Snakemake binds a
``script:`` path late (every rule would run the last one); the name travels as a param instead.
"""
import runpy
from pathlib import Path

runpy.run_path(
    str(Path(__file__).with_name(f"{snakemake.params.figure}.py")),
    init_globals={"snakemake": snakemake},
    run_name="__main__",
)
