"""Bad configs fail at load time with one message naming the key and the allowed values."""
from __future__ import annotations

import ast
import copy
import subprocess
import sys

import pytest
from workflow_helpers import REPO, smoke_config

from analysis.config import ConfigError, load_study, load_study_file, schema
from analysis.grid import GRID_FACTORS
from analysis.spec import checkpoint_steps
from analysis.tasks import TASKS
from tooling.profiles import config_file, overlay_file


def broken(edit) -> dict:
    config = copy.deepcopy(smoke_config())
    edit(config)
    return config


CASES = {
    "unknown top-level key": (lambda c: c.update(colour="red"), ["unknown key 'colour'", "allowed keys:", "experiments"]),
    "unknown train key": (lambda c: c["train"].update(lr_max=1), ["unknown key 'train.lr_max'", "warmup_steps"]),
    "unknown encoding": (lambda c: c["model"].update(pos_encoding="xpos"), ["model.pos_encoding", "'xpos'", "alibi, learned, none, rope, sinusoidal"]),
    "unknown regime": (lambda c: c["train"].update(regime="lazy"), ["train.regime", "myopic-full, myopic-state, standard"]),
    "unknown task name": (lambda c: c["tasks"]["markov"].update(name="chess"), ["tasks.markov.name", "'chess'", ", ".join(TASKS.names())]),
    "unknown task parameter": (lambda c: c["tasks"]["markov"].update(colour=1), ["tasks.markov.colour", "allowed keys: name, vocab, order, alpha, chain_seed"]),
    "wrong task parameter type": (lambda c: c["tasks"]["markov"].update(vocab="many"), ["tasks.markov.vocab", "expected int"]),
    "wrong type": (lambda c: c["train"].update(steps="many"), ["train.steps", "'many' is not of type 'integer'"]),
    "negative steps": (lambda c: c["train"].update(steps=-5), ["train.steps", "-5 is less than the minimum of 1"]),
    "zero seeds": (lambda c: c.update(seeds=[]), ["seeds", "should be non-empty"]),
    "width not divisible by heads": (lambda c: c["model"].update(d_model=15, n_head=2), ["model.n_head = 2 does not divide model.d_model = 15", "allowed values of n_head for d_model 15: 1, 3, 5, 15"]),
    "grid heads do not divide the width": (lambda c: c["experiments"]["distance"]["grid"].update(n_head=[3]), ["experiments.distance.grid.n_head = 3", "allowed values of n_head for d_model 16: 1, 2, 4, 8, 16"]),
    "context longer than the task allows": (lambda c: (c["tasks"].update(tiny={"name": "text", "max_bytes": 100}), c["experiments"]["distance"]["grid"].update(task=["tiny"], context=[16])), ["experiments.distance.grid.context = 16 is longer than task 'tiny' allows; allowed values: 2 to 9"]),
    "empty experiment": (lambda c: c["experiments"].update(empty={}), ["experiments.empty: missing key 'grid'; required keys: grid"]),
    "unknown regime in a grid": (lambda c: c["experiments"]["myopia"]["grid"].update(regime=["standard", "myopic"]), ["experiments.myopia.grid.regime.1", "'myopic'", "allowed values: myopic-full, myopic-state, standard"]),
    "section of the wrong type": (lambda c: c.update(model=5), ["model: 5 is not of type 'object'"]),
    "missing section": (lambda c: c.pop("train"), ["<top level>: missing key 'train'; required keys: profile, seeds, model, train"]),
    "zero steps in a grid": (lambda c: c["experiments"]["distance"]["grid"].update(steps=[0]), ["experiments.distance.grid.steps.0", "less than the minimum of 1"]),
    "text corpus changed": (lambda c: c["tasks"].update(text={"name": "text", "max_bytes": 1000, "expected_sha256": "0" * 64}), ["tasks.text", "expected_sha256 is 000", "has SHA-256"]),
    "empty experiment grid": (lambda c: c["experiments"]["distance"].update(grid={}), ["experiments.distance.grid: missing key 'task'"]),
    "no experiments": (lambda c: c.update(experiments={}), ["experiments", "should be non-empty"]),
    "grid names an undefined task": (lambda c: c["experiments"]["distance"]["grid"].update(task=["recal"]), ["experiments.distance.grid.task.0", "'recal'", "allowed values: sine-shift1, markov, lag"]),
    "paper names an undefined experiment": (lambda c: c["paper"].update(experiments=["myopya"]), ["paper.experiments.0", "allowed values: distance, myopia"]),
    "NaN learning rate": (lambda c: c["train"].update(lr=float("nan")), ["train.lr: nan is not allowed; allowed values: finite numbers > 0"]),
    "infinite setting beyond its bound": (lambda c: c["train"].update(min_lr_ratio=float("inf")), ["train.min_lr_ratio: inf is not allowed; allowed values: finite numbers >= 0 and <= 1"]),
    "infinite integer setting": (lambda c: c["train"].update(steps=float("inf")), ["train.steps: inf is not allowed; allowed values: integers >= 1"]),
    "NaN in an experiment override": (lambda c: c["experiments"]["distance"].update(train={"lr": float("nan")}), ["experiments.distance.train.lr: nan is not allowed; allowed values: finite numbers > 0"]),
    "NaN in a grid": (lambda c: c["experiments"]["distance"]["grid"].update(context=[float("nan")]), ["experiments.distance.grid.context.0: nan is not allowed; allowed values: integers >= 2"]),
    "infinite task parameter": (lambda c: c["tasks"]["sine-shift1"].update(freq=float("-inf")), ["tasks.sine-shift1.freq: -inf is not allowed; allowed values: finite numbers"]),
    "NaN claim rule": (lambda c: c["stats"].update(claims={"c6": {"minuscule": float("nan")}}), ["stats.claims.c6.minuscule: nan is not allowed"]),
    "sine lags a myopic model could route": (lambda c: c["tasks"]["sine-shift1"].update(K=3), ["tasks.sine-shift1.K = 3 is not larger than the 4 attention heads", "allowed values: K > 4"]),
    "sine lags beyond the context": (lambda c: c["tasks"]["sine-shift1"].update(K=8), ["tasks.sine-shift1.K = 8 reaches beyond the context model.context = 8", "allowed values: K <= context - shift = 7"]),
    "sine lags beyond the context of standard training": (lambda c: c["experiments"]["distance"]["grid"].update(task=["sine-shift1"], context=[5]), ["tasks.sine-shift1.K = 5 reaches beyond the context experiments.distance.grid.context = 5", "allowed values: K <= context - shift = 4"]),
    # refused before any job, each with the key and the allowed range (issue 26: they failed late or never)
    "seed torch cannot take": (lambda c: c.update(seeds=[0, 2**64]), ["seeds.1: 18446744073709551616 is greater than the maximum of 18446744073709551615"]),
    "experiment seed torch cannot take": (lambda c: c["experiments"]["distance"].update(seeds=[2**64 + 5]), ["experiments.distance.seeds.0", "maximum of 18446744073709551615"]),
    "lag distance at the context": (lambda c: c["tasks"]["lag"].update(distance=8), ["tasks.lag.distance = 8 is not shorter than the context model.context = 8", "allowed values: 1 to 7"]),
    "lag distance beyond a grid's context": (lambda c: c["experiments"]["distance"]["grid"].update(context=[2]), ["tasks.lag.distance = 2 is not shorter than the context experiments.distance.grid.context = 2", "allowed values: 1 to 1"]),
    "minuscule above comparable": (lambda c: c["stats"].update(claims={"c6": {"minuscule": 0.2}}), ["stats.claims.c6: need 0 < minuscule (0.2) < comparable (0.1)"]),
    "equivalence margin above the DiD threshold": (lambda c: c["stats"].update(claims={"c2": {"equivalence_margin": 0.2}}), ["stats.claims.c2: c2: equivalence_margin must not exceed min_relative_did"]),
    "C4 shares that do not exclude each other": (lambda c: c["stats"].update(claims={"c4": {"min_share": 0.5}}), ["stats.claims.c4: min_share 0.5: must lie in (0.5, 1]"]),
    "about half above full": (lambda c: c["stats"].update(claims={"c3": {"half_low": 0.7}}), ["stats.claims.c3: c3 rules need half_low <= half_high < full, got 0.7, 0.6, 1.0"]),
    "warm-up longer than training": (lambda c: c["train"].update(warmup_steps=21), ["train.warmup_steps = 21 is longer than training train.steps = 20; allowed values: 0 to 20"]),
    "warm-up longer than a grid's training": (lambda c: c["experiments"]["distance"]["grid"].update(steps=[4]), ["train.warmup_steps = 5 is longer than training experiments.distance.grid.steps = 4; allowed values: 0 to 4"]),
    "unknown claim": (lambda c: c["stats"].update(claims={"c9": {}}), ["stats.claims.c9: unknown claim", "allowed values: c1, c2, c3, c4, c5, c6"]),
    "unknown claim rule": (lambda c: c["stats"].update(claims={"c2": {"margin": 0.1}}), ["unknown key 'stats.claims.c2.margin'", "min_relative_did"]),
    "claim rule of the wrong type": (lambda c: c["stats"].update(claims={"c6": {"minuscule": "tiny"}}), ["stats.claims.c6.minuscule: expected float"]),
    "bad task parameter value": (lambda c: c["tasks"]["sine-shift1"].update(shift=3), ["tasks.sine-shift1", "shift must be 0 or 1"]),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_config_is_rejected_with_a_clear_message(case: str) -> None:
    edit, expected = CASES[case]
    with pytest.raises(ConfigError) as error:
        load_study(broken(edit))
    for fragment in expected:
        assert fragment in str(error.value), f"{fragment!r} missing from:\n{error.value}"
    assert str(error.value).count("\n  - ") == 1, f"one mistake, one message:\n{error.value}"


def test_non_finite_numbers_written_in_yaml_are_rejected(tmp_path) -> None:
    """YAML's .nan and .inf are floats that pass every schema bound; they must not reach a job as a diverged run."""
    text = (REPO / "config" / "smoke.yaml").read_text()
    text = text.replace("lr: 3.0e-3", "lr: .nan").replace("K: 5,", "K: .inf,")
    assert ".nan" in text and ".inf" in text
    path = tmp_path / "config.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as error:
        load_study_file(path)
    assert str(error.value).splitlines()[1:] == [
        "  - tasks.sine-shift1.K: inf is not allowed; allowed values: finite numbers",
        "  - train.lr: nan is not allowed; allowed values: finite numbers > 0",
    ]


def test_grid_factors_are_the_schema_grid_keys_and_name_the_conditions() -> None:
    """One table: a grid takes exactly the factors of GRID_FACTORS, and condition names list them in its order."""
    grid = schema()["properties"]["experiments"]["additionalProperties"]["properties"]["grid"]
    assert list(grid["properties"]) == list(GRID_FACTORS)
    assert grid["properties"]["n_layer"]["items"] == schema()["properties"]["model"]["properties"]["n_layer"]
    study = load_study(smoke_config())
    assert sorted({run.condition for run in study.runs.values()}) == [
        "lag_learned_standard_L2_D16_H2_T8_S20",
        "lag_rope_standard_L2_D16_H2_T8_S20",
        "markov_learned_standard_L2_D16_H2_T8_S20",
        "markov_rope_standard_L2_D16_H2_T8_S20",
        "sine-shift1_learned_myopic-full_L2_D16_H2_T8_S20",
        "sine-shift1_learned_standard_L2_D16_H2_T8_S20",
    ]


def test_a_grid_factor_sets_its_run_setting() -> None:
    config = smoke_config()
    config["experiments"]["wide"] = {"grid": {"task": ["markov"], "d_model": [32], "n_head": [4], "steps": [30]}}
    study = load_study(config)
    (run,) = [study.runs[run_id] for run_id in study.experiments["wide"] if run_id.endswith("/seed0")]
    assert (run.model["d_model"], run.model["n_head"], run.train["steps"]) == (32, 4, 30)
    assert run.condition == "markov_learned_standard_L2_D32_H4_T8_S30"


def test_the_config_imports_what_it_validates_and_nothing_imports_the_config() -> None:
    """Imports flow one way: the measures, training and the statistics read ``analysis.spec``; the validator imports
    the measures, gradient methods and claims whose names it checks (tests/unit/test_package_boundaries.py: the layers)."""
    tree = ast.parse((REPO / "analysis" / "config.py").read_text())
    imported = {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.level}
    assert {"measures", "measures.gradient_matrix", "stats.claims", "spec"} <= imported, imported
    readers = [path.name for path in (REPO / "analysis").rglob("*.py") if path.parent.name in {"measures", "stats", "tasks"}
               and "config import" in path.read_text()]
    assert not readers, readers


def test_names_the_measures_register_are_known_to_a_fresh_config() -> None:
    code = (
        "from analysis.config import schema; "
        "d = schema()['$defs']; print(d['gradient_method']['enum'], 'm1_gradient_matrix' in d['measure']['enum'])"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["['auto',", "'batched',", "'loop',", "'replicate']", "True"]


@pytest.mark.parametrize("profile", ["smoke", "default", "paper", "scaling"])
def test_shipped_profiles_are_valid(profile: str) -> None:
    study = load_study_file(config_file(profile))
    assert study.profile == profile
    seeds = {spec.seed for spec in study.runs.values()}
    assert len(seeds) >= (5 if profile == "paper" else 3)


def test_runs_shared_by_experiments_are_trained_once() -> None:
    config = smoke_config()
    config["experiments"]["again"] = copy.deepcopy(config["experiments"]["distance"])
    study = load_study(config)
    assert study.experiments["again"] == study.experiments["distance"]
    assert len(study.runs) == len(study.experiments["distance"]) + len(study.experiments["myopia"]) == 18


def test_checkpoint_steps_are_init_log_spaced_and_end() -> None:
    assert checkpoint_steps(1000, 0) == [0, 1000]
    assert checkpoint_steps(1000, 2) == [0, 10, 100, 1000]


def test_experiments_may_override_settings_but_not_contradict_each_other() -> None:
    config = smoke_config()
    config["experiments"]["longer"] = {"grid": {"task": ["markov"]}, "train": {"lr": 1.0e-3}}
    with pytest.raises(ConfigError) as error:
        load_study(config)
    assert "train.lr: 0.003 vs 0.001" in str(error.value)
    config["experiments"]["longer"]["grid"]["steps"] = [40]
    study = load_study(config)
    assert {run.train["lr"] for run in study.runs.values() if run.train["steps"] == 40} == {1.0e-3}


def test_unknown_key_in_an_experiment_override_is_named() -> None:
    config = smoke_config()
    config["experiments"]["distance"]["train"] = {"learning_rate": 1}
    with pytest.raises(ConfigError, match=r"unknown key 'experiments.distance.train.learning_rate'; allowed keys: batch_size"):
        load_study(config)


def test_the_exploratory_overlay_changes_only_seeds_and_results_folder() -> None:
    """Development ran on the overlay's seeds; the verdicts on config/config.yaml's, which must be disjoint."""
    import yaml

    default = yaml.safe_load(config_file("default").read_text())
    overlay = yaml.safe_load(overlay_file("exploratory").read_text())
    merged = copy.deepcopy(default)
    for key, value in overlay.items():  # Snakemake merges nested mappings of later config files
        if key == "experiments":
            for name, override in value.items():
                merged["experiments"][name].update(override)
        else:
            merged[key] = value
    confirmatory = {s.seed for s in load_study(default).runs.values()}
    exploratory = {s.seed for s in load_study(merged).runs.values()}
    assert confirmatory and exploratory and not confirmatory & exploratory
    assert load_study(merged).profile != load_study(default).profile


def test_every_deciding_condition_of_the_default_study_has_five_seeds() -> None:
    study = load_study_file(config_file("default"))
    seeds: dict[str, set[int]] = {}
    for spec in study.runs.values():
        seeds.setdefault(spec.condition, set()).add(spec.seed)
    for condition, found in seeds.items():
        # the other encodings are descriptive breadth, and myopic-full is C2's stricter ablation, never deciding
        deciding = "_learned_" in condition and "_myopic-full_" not in condition
        precaching = condition.startswith("sine-") and deciding  # C2: ten seeds is the floor
        assert len(found) >= (10 if precaching else 5 if deciding else 2), condition
