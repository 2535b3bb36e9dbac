"""Snakemake job: distance-profile statistics and the numbers the paper prints."""
import json

import pandas as pd

from analysis.config import load_study
from analysis.io import read_json, write_json, write_table
from analysis.logs import log_to
from analysis.stats.distance import (
    distance_profile,
    fit_power_law,
    position_profile,
    summarize_profile,
    summarize_slopes,
)
from analysis.stats.report import paper_numbers

with log_to(snakemake.log[0]):  # noqa: F821 (snakemake injects this object)
    config = json.loads(snakemake.params.config)  # noqa: F821
    settings = config["stats"]
    m1 = pd.read_csv(snakemake.input.m1)  # noqa: F821
    runs = pd.read_csv(snakemake.input.runs)  # noqa: F821
    n_blocks = runs.groupby("condition")["n_layer"].first().to_dict()
    profile = distance_profile(m1, settings["s_min"])
    fits = fit_power_law(profile, settings["d_min"], n_blocks)
    summary = summarize_slopes(fits, settings["confidence"], settings["n_resamples"], settings["bootstrap_seed"])
    write_table(snakemake.output.profile, profile)  # noqa: F821
    bands = summarize_profile(profile, settings["confidence"], settings["n_resamples"], settings["bootstrap_seed"])
    write_table(snakemake.output.profile_summary, bands)  # noqa: F821
    context = int(runs["context"].max())
    fixed = [d for d in (1, 2, 4, 8, 16) if d < context]
    write_table(snakemake.output.position_profile, position_profile(m1, fixed, settings["s_min"]))  # noqa: F821
    write_table(snakemake.output.fits, fits)  # noqa: F821
    write_table(snakemake.output.summary, summary)  # noqa: F821
    records = [read_json(path) for path in snakemake.input.records]  # noqa: F821
    study = load_study(config)
    write_json(snakemake.output.numbers, paper_numbers(config, study.paper_conditions(), runs, summary, records))  # noqa: F821
