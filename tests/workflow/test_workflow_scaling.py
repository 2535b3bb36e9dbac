"""The scaling profile: its plan (a dry run of config/scaling.yaml) and a tiny variant run end to end."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import yaml
from workflow_helpers import REPO, planned_jobs, snakemake, write_config

SCALING = REPO / "config" / "scaling.yaml"


def test_the_scaling_profile_plans_its_sweeps_and_figures(tmp_path: Path) -> None:
    jobs = planned_jobs(tmp_path, SCALING)
    rules = [rule for rule, _ in jobs]
    training = [rule for rule in rules if rule.startswith("train_")]
    config = yaml.safe_load(SCALING.read_text())
    assert config["seeds"] == [210, 211, 212, 213, 214]  # seed blocks of three: 210-212 | 213-214
    # text and lag-12: the reference and two more levels per sweep (2 x 7); the sine pair (4 runs): the reference
    # and two more levels of depth and width (4 x 5): 34 conditions
    assert len(training) == 34 * 2
    assert {f"figure_scaling_{name}" for name in ("c1", "c2", "c4", "c6", "primacy")} <= set(rules)
    assert {"figure_primacy", "figure_sinks", "statistics", "paper"} <= set(rules)
    assert not {"figure_probes", "figure_decomposition", "figure_coverage"} & set(rules)  # measures it does not take


def tiny_scaling_config() -> dict:
    """Depth 1/2 and context 6/8 around a width-8 model, a sine pair across depth, 2 seeds: seconds to run."""
    return {
        "profile": "scaling-smoke",
        "seeds": [0, 1],
        "model": {"n_layer": 1, "d_model": 8, "n_head": 2, "context": 6, "pos_encoding": "learned"},
        "train": {"steps": 12, "batch_size": 8, "lr": 3.0e-3, "warmup_steps": 2, "regime": "standard", "log_every": 4,
                  "eval_sequences": 16, "log_checkpoints": 1},
        "measure": {"n_sequences": 4, "weight_sequences": 2,
                    "only": ["m1_gradient_matrix", "m1_dependency_share", "m7_weight_channel", "m7_context_channel",
                             "m8_attention_mass"]},
        "stats": {"s_min": 1, "scaling": {"n_layer": 1, "d_model": 8, "context": 6}},
        "tasks": {
            "sine-shift1": {"name": "sine", "shift": 1, "K": 5, "freq": 3.0, "p": 0.5},
            "sine-shift0": {"name": "sine", "shift": 0, "K": 5, "freq": 3.0, "p": 0.5},
            "lag": {"name": "lag", "vocab": 8, "distance": 2},
        },
        "experiments": {
            "depth": {"grid": {"task": ["lag"], "n_layer": [1, 2]}},
            "context": {"grid": {"task": ["lag"], "context": [6, 8]}},
            "depth-precaching": {"grid": {"task": ["sine-shift1", "sine-shift0"], "regime": ["standard", "myopic-state"],
                                          "n_layer": [1, 2]}, "measure": {"only": ["m4_position_loss"]}},
        },
        "paper": {"experiments": ["depth", "context", "depth-precaching"]},
    }  # fmt: skip


def test_a_tiny_scaling_study_writes_its_trends_figures_and_paper(tmp_path: Path) -> None:
    configfile = write_config(tmp_path / "scaling-smoke.yaml", tiny_scaling_config())
    snakemake(tmp_path, configfile)
    results = tmp_path / "results" / "scaling-smoke"
    assert (results / "paper.pdf").read_bytes().startswith(b"%PDF")
    trends = pd.read_csv(results / "tables" / "scaling_trends.csv")
    assert {"depth", "context"} <= set(trends["sweep"])
    assert {"did", "c4_slope", "c1_enrichment"} <= set(trends["quantity"])
    assert (trends["n_seeds"] <= 2).all() and (trends["n_levels"] <= 2).all()
    decided = trends[trends["quantity"].isin(["did", "c4_slope", "c1_enrichment"])]
    assert (decided["n_levels"] == 2).all() and (decided["n_seeds"] == 2).all()
    levels = pd.read_csv(results / "tables" / "scaling_levels.csv")
    assert set(levels.loc[levels["sweep"] == "depth", "level"]) == {1, 2}
    numbers = json.loads((results / "paper_numbers.json").read_text())
    assert numbers["analyses"]["scaling"]["present"] is True
    for name in ("scaling_c2", "scaling_c4", "primacy", "sinks"):
        assert (results / "figures" / f"{name}.png").stat().st_size > 0
    assert not (results / "figures" / "probes.png").exists()  # no run of this profile takes M6
