# Helpers shared by the rules: the validated study, its runs, and their paths.
import json
import os
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(workflow.basedir).parent))  # the analysis package, even without an install

from analysis.config import ConfigError, load_study
from analysis.measures import MEASURES
from analysis.stats.listing import ANALYSES, CLAIMS

try:
    STUDY = load_study(config)
except ConfigError as error:
    raise WorkflowError(str(error)) from None  # one clear message, before any job starts

RESULTS = f"results/{STUDY.profile}"
# Jobs inherit this: matplotlib then stamps figure PDFs with this date instead of the time of the
# run, so a rerun that computes the same numbers writes the same figure bytes (and manifest hash).
os.environ.setdefault("SOURCE_DATE_EPOCH", "0")
LOGS = f"{RESULTS}/logs"
BENCHMARKS = f"{RESULTS}/benchmarks"
REPO = Path(workflow.basedir).parent
# Code a rule imports, declared as input so that editing it reruns the rule (Snakemake's code
# trigger sees only the rule's own script): statistics reruns when analysis/stats changes.
STATISTICS_CODE = sorted(str(p) for p in (REPO / "analysis" / "stats").glob("*.py"))
SOFTWARE = "../envs/study.yaml"  # every rule's `conda:` env (relative to rules/): the pins of requirements.lock
MEASURE_NAMES = MEASURES.names()  # one table per measure and run: m1_gradient_matrix, m3_decomposition, ...
MEASURED = {name for spec in STUDY.runs.values() for name in spec.measure.get("only", MEASURE_NAMES)}  # taken by some run


AGGREGATED_TABLES = [*MEASURE_NAMES, "m4_myopia_gap", "train_log", "eval_curve"]  # what the claims may read (besides runs)
CLAIM_TABLES = sorted({name for claim in CLAIMS for name in claim.outputs})
ANALYSIS_TABLES = sorted({name for analysis in ANALYSES for name in analysis.outputs})


def run_path(run_id, name):
    return f"{RESULTS}/runs/{run_id}/{name}"


def results_dir_of_outputs(wildcards, output):
    """RESULTS, read back from a training job's first output (<results>/runs/<condition>/seed<k>/<file>):
    a path prefix inferred from the outputs stays right where an executor stages them elsewhere (`snakemake --lint`
    flags a hard-coded one). Snakemake leaves output-derived params out of its rerun check."""
    return str(Path(output[0]).parents[3])


def all_runs():
    return sorted({run_id for ids in STUDY.experiments.values() for run_id in ids})


def per_run(name):
    return [run_path(run_id, name) for run_id in all_runs()]


SEEDS_PER_JOB = 3  # a job trains one condition's runs in fixed seed blocks (0-2, 3-5, ...): one start-up per block


def run_blocks():
    """{(condition, block): [run_id, ...]}: seed s of a condition trains in block s // SEEDS_PER_JOB.

    Fixed blocks keep reruns local: adding seed 3 to seeds 0-2 starts block 1 and leaves block 0 alone.
    """
    blocks = {}
    for run_id in all_runs():
        spec = STUDY.runs[run_id]
        blocks.setdefault((spec.condition, spec.seed // SEEDS_PER_JOB), []).append(run_id)
    return blocks


def block_rule_name(condition, block):
    return re.sub(r"\W", "_", f"train_{condition}_block{block}")


def block_gpu(run_ids):
    """GPU slots a training job asks for: 1 unless every run of the block is pinned to the CPU."""
    return int(any(STUDY.runs[run_id].train["device"] != "cpu" for run_id in run_ids))
