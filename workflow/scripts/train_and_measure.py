"""Snakemake job: train and measure each run of one (condition, seed block) (analysis.block)."""
import json

from analysis.block import run_block
from analysis.logs import log_to
from analysis.spec import RunSpec

with log_to(snakemake.log[0]):
    specs = [RunSpec.from_dict(spec_dict) for spec_dict in json.loads(snakemake.params.specs)]
    run_block(specs, snakemake.params.results, snakemake.threads)
