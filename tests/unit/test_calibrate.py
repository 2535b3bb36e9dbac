"""The calibration tool trains exploratory seeds only, on one experiment, with the overrides applied."""
from __future__ import annotations

import pytest

from tooling.calibrate import calibration_config, gap_closed, set_dotted

BASE = {"profile": "default", "seeds": [100], "tasks": {"sine": {"p": 0.5}},
        "experiments": {"a": {"seeds": [100], "grid": {"task": ["sine"]}}, "b": {"grid": {"task": ["x"]}}},
        "paper": {"experiments": ["a", "b"]}}


def test_one_experiment_on_exploratory_seeds_with_overrides() -> None:
    config = calibration_config(BASE, "a", [0, 1], ["tasks.sine.p=1.0", "train.steps=10"])
    assert config["experiments"] == {"a": {"grid": {"task": ["sine"]}}} and config["seeds"] == [0, 1]
    assert config["tasks"]["sine"]["p"] == 1.0 and config["train"]["steps"] == 10
    assert config["profile"] == "default-calibration" and BASE["tasks"]["sine"]["p"] == 0.5  # the base is untouched


def test_a_seed_that_is_not_exploratory_is_refused() -> None:
    with pytest.raises(SystemExit, match=r"seeds \[300\] are not exploratory"):
        calibration_config(BASE, "a", [0, 300], [])
    with pytest.raises(SystemExit, match="unknown experiment 'c'; allowed values: a, b"):
        calibration_config(BASE, "c", [0], [])


def test_dotted_assignment_and_gap_closed() -> None:
    config: dict = {}
    set_dotted(config, "a.b=[1, 2]")
    assert config == {"a": {"b": [1, 2]}}
    record = {"baseline_loss": 2.0, "optimal_loss": 0.0, "eval_loss": {"10": 1.0, "2": 2.0, "20": 0.5}}
    assert gap_closed(record) == {2: 0.0, 10: 0.5, 20: 0.75}
