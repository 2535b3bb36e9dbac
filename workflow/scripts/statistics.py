"""Snakemake job: statistics over seeds for every claim, the verdicts, and the numbers the paper prints."""
import json

import pandas as pd

from analysis.config import load_study
from analysis.io import read_json, write_json, write_table
from analysis.logs import log_to
from analysis.outcomes import TRAINED, status
from analysis.stats import channels, claims_report, precaching, verdicts
from analysis.stats.distance import (
    distance_profile,
    first_position_ratio,
    fit_power_law,
    position_profile,
    summarize_first_position,
    summarize_profile,
    summarize_slopes,
)
from analysis.stats.inference import holm
from analysis.stats.report import missing_runs_numbers, paper_numbers

with log_to(snakemake.log[0]):  # noqa: F821 (snakemake injects this object)
    config = json.loads(snakemake.params.config)  # noqa: F821
    settings = config["stats"]
    thresholds = settings["verdicts"]
    inputs, outputs = snakemake.input, snakemake.output  # noqa: F821
    runs = pd.read_csv(inputs.runs)
    m1 = pd.read_csv(inputs.m1)

    # C4: distance profiles and their fits.
    n_blocks = runs.groupby("condition")["n_layer"].first().to_dict()
    profile = distance_profile(m1, settings["s_min"])
    fits = fit_power_law(profile, settings["d_min"], n_blocks)
    summary = summarize_slopes(fits, settings["confidence"])
    summary = summary.merge(runs.drop_duplicates("condition")[["condition", "task", "pos_encoding", "regime", "steps"]], on="condition")
    family = (summary["regime"] == "standard") & (summary["layer"] == 0) & (summary["step"] == summary["steps"])
    summary["slope_p_holm"] = float("nan")
    summary.loc[family, "slope_p_holm"] = holm(summary.loc[family, "slope_p"].to_numpy())
    write_table(outputs.profile, profile)
    bands = summarize_profile(profile, settings["confidence"])
    write_table(outputs.profile_summary, bands)
    context = int(runs["context"].max())
    fixed = [d for d in (1, 2, 4, 8, 16) if d < context]
    write_table(outputs.position_profile, position_profile(m1, fixed, settings["s_min"]))
    first = summarize_first_position(first_position_ratio(m1, settings["s_min"]), settings["confidence"])
    write_table(outputs.first_position, first)
    write_table(outputs.fits, fits)
    write_table(outputs.summary, summary)

    # C2: myopia gap, decomposition shares, probes.
    gap = precaching.summarize_gap(pd.read_csv(inputs.gap), settings)
    write_table(outputs.gap_summary, gap)
    write_table(outputs.gap_by_position, precaching.gap_by_position(pd.read_csv(inputs.gap), settings))
    shares = precaching.layer_shares(pd.read_csv(inputs.m3))
    write_table(outputs.shares, precaching.summarize_shares(shares, runs, settings))
    probes = precaching.summarize_probes(pd.read_csv(inputs.m6), runs, settings)
    write_table(outputs.probes, probes)

    # C1, C5: reach; C3: coverage; C6: weight vs context channel.
    reach = channels.reach(m1, runs)
    write_table(outputs.reach, reach)
    coverage = pd.read_csv(inputs.m5)
    write_table(outputs.coverage, channels.coverage_summary(coverage, runs, settings))
    middle = channels.mid_context_coverage(coverage, runs)
    ratios = channels.channel_ratios(pd.read_csv(inputs.m7_weight), pd.read_csv(inputs.m7_context), runs)
    ratio_summary = channels.summarize_ratios(ratios, settings)
    write_table(outputs.channels, ratio_summary)

    decided = [
        verdicts.c1_reach(reach, thresholds),
        verdicts.c2_precaching(gap, probes, thresholds),
        verdicts.c3_coverage(middle, thresholds),
        verdicts.c4_distance(summary[family], thresholds),
        verdicts.c5_teacher_forcing(reach),
        verdicts.c6_channels(ratio_summary, thresholds),
    ]
    write_table(outputs.verdicts, pd.DataFrame([v.as_dict() for v in decided]))
    for verdict in decided:
        print(f"{verdict.claim}: {verdict.verdict} ({verdict.deciding})")

    records = [r for r in (read_json(path) for path in inputs.records) if status(r) == TRAINED]  # diverged runs: never averaged
    missing = pd.read_csv(inputs.missing)
    study = load_study(config)
    reported = [c for c in study.paper_conditions() if c in set(runs["condition"])]  # a condition none of whose runs trained drops out
    numbers = paper_numbers(config, reported, runs, summary, records)
    numbers["missing_runs"] = missing_runs_numbers(missing, study.paper_conditions(), reported)
    numbers["verdicts"] = [v.as_dict() for v in decided]
    share_summary = pd.read_csv(outputs.shares)
    coverage_summary = pd.read_csv(outputs.coverage)
    numbers["claims"] = {
        "c1": claims_report.c1_c5_numbers(reach),
        "c2": claims_report.c2_numbers(gap, probes, share_summary, runs),
        "c3": claims_report.c3_numbers(coverage_summary, middle),
        "c4": claims_report.c4_numbers(summary, first, runs),
        "c6": claims_report.c6_numbers(ratio_summary),
    }
    numbers["thresholds"] = {k: str(v) for k, v in thresholds.items()}
    write_json(outputs.numbers, numbers)
