"""Load, validate and expand a study config into runs.

Validation happens once, before any job: JSON-schema structure and types
(``config.schema.yaml``, shipped in the package), registry names (tasks, positional
encodings, regimes) and the cross-field rules a schema cannot state. Every
problem is reported with the key's path and the allowed values.
"""
from __future__ import annotations

import copy
import inspect
import itertools
import math
from dataclasses import dataclass, fields
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from .grid import GRID_FACTORS, condition_name
from .measures import MEASURES
from .measures.gradient_matrix import GRADIENT_METHODS
from .models.positional import POSITIONAL_ENCODINGS
from .regimes import REGIMES
from .spec import RunSpec
from .stats.claims import rule_problems
from .stats.listing import CLAIMS
from .tasks import TASKS, build_task

SCHEMA_PATH = Path(__file__).with_name("config.schema.yaml")


class ConfigError(ValueError):
    """A config problem, stated so that the user can fix it without reading code."""


@cache
def schema() -> dict[str, Any]:
    """The config schema, with registry names injected as enums and the grid's keys from ``GRID_FACTORS``.

    A grid factor takes a non-empty list of the values its setting allows (the task factor: labels of
    the config's ``tasks``, checked against them in ``validate``).
    """
    loaded = yaml.safe_load(SCHEMA_PATH.read_text())
    grid = loaded["properties"]["experiments"]["additionalProperties"]["properties"]["grid"]
    grid["properties"] = {
        name: {
            "type": "array",
            "minItems": 1,
            "items": {"type": "string"} if factor.section is None else loaded["properties"][factor.section]["properties"][name],
        }
        for name, factor in GRID_FACTORS.items()
    }
    loaded["$defs"]["pos_encoding"]["enum"] = POSITIONAL_ENCODINGS.names()
    loaded["$defs"]["regime"]["enum"] = sorted(REGIMES)
    loaded["$defs"]["gradient_method"]["enum"] = ["auto", *sorted(GRADIENT_METHODS)]
    loaded["$defs"]["task"]["enum"] = TASKS.names()
    loaded["$defs"]["measure"]["enum"] = MEASURES.names()
    return loaded


def _path(error: Any) -> str:
    return ".".join(str(p) for p in error.absolute_path) or "<top level>"


def _describe(error: Any) -> str:
    """One line for a jsonschema.ValidationError: the key's path, and the allowed keys or values."""
    where = _path(error)
    if error.validator == "additionalProperties" and "properties" in error.schema:
        allowed = sorted(error.schema["properties"])
        unknown = sorted(set(error.instance) - set(allowed))
        prefix = f"{where}." if error.absolute_path else ""
        return f"unknown key {', '.join(repr(prefix + u) for u in unknown)}; allowed keys: {', '.join(allowed)}"
    if error.validator == "enum":
        return f"{where}: {error.instance!r} is not allowed; allowed values: {', '.join(map(str, error.validator_value))}"
    if error.validator == "required":
        missing = sorted(set(error.validator_value) - set(error.instance))
        return f"{where}: missing key {', '.join(map(repr, missing))}; required keys: {', '.join(error.validator_value)}"
    return f"{where}: {error.message}"


def _defaults(section_schema: dict[str, Any]) -> dict[str, Any]:
    return {k: v["default"] for k, v in section_schema.get("properties", {}).items() if "default" in v}


def _check_task(label: str, params: dict[str, Any]) -> list[str]:
    cls = TASKS.get(params["name"])
    allowed = [f.name for f in fields(cls)]
    unknown = sorted(set(params) - set(allowed) - {"name"})
    if unknown:
        return [f"unknown key {', '.join(f'tasks.{label}.{u}' for u in unknown)}; allowed keys: name, {', '.join(allowed)}"]
    signature = inspect.signature(cls)
    problems = []
    for key, value in params.items():
        if key == "name":
            continue
        expected = signature.parameters[key].annotation
        expected = {"int": int, "float": float, "str": str, "bool": bool}.get(expected, expected)
        ok = isinstance(value, expected) and not (expected is int and isinstance(value, bool))
        if expected is float and isinstance(value, int) and not isinstance(value, bool):
            ok = True
        if not ok:
            problems.append(f"tasks.{label}.{key}: expected {getattr(expected, '__name__', expected)}, got {value!r}")
    if not problems:
        try:
            build_task(params)
        except ValueError as exc:
            problems.append(f"tasks.{label}: {exc}")
    return problems


def _non_finite(value: Any, path: tuple[str | int, ...] = ()) -> dict[tuple[str | int, ...], float]:
    """Every NaN or infinite number in the config, by key path, wherever it sits (settings, grids, tasks, claims).

    NaN fails no comparison, so the schema's bounds let it through; an infinite learning rate or
    task parameter passes them too. Either would only show as a diverged or meaningless run.
    """
    if isinstance(value, float) and not math.isfinite(value):
        return {path: value}
    if isinstance(value, dict):
        return {p: v for key, item in value.items() for p, v in _non_finite(item, (*path, key)).items()}
    if isinstance(value, list):
        return {p: v for i, item in enumerate(value) for p, v in _non_finite(item, (*path, i)).items()}
    return {}


def _setting_schema(path: tuple[str | int, ...]) -> dict[str, Any]:
    """The schema of the setting at ``path`` ({} where the schema leaves it open, as for task parameters)."""
    node = schema()
    for part in path:
        while "$ref" in node:
            node = schema()["$defs"][node["$ref"].rsplit("/", 1)[-1]]
        if isinstance(part, int):
            node = node.get("items", {})
        elif part in node.get("properties", {}):
            node = node["properties"][part]
        elif isinstance(node.get("additionalProperties"), dict):
            node = node["additionalProperties"]
        else:
            return {}
    return node


def _finite_values(setting: dict[str, Any]) -> str:
    """The allowed values of a numeric setting, e.g. ``finite numbers > 0``."""
    bounds = [
        f"{symbol} {setting[key]}"
        for key, symbol in (("minimum", ">="), ("exclusiveMinimum", ">"), ("maximum", "<="), ("exclusiveMaximum", "<"))
        if key in setting
    ]
    kind = "integers" if setting.get("type") == "integer" else "finite numbers"
    return " ".join([kind, " and ".join(bounds)]).strip()


def _non_finite_problems(raw: dict[str, Any]) -> dict[str, str]:
    """Key path -> message for every NaN or infinite number in ``raw``."""
    problems = {}
    for path, value in _non_finite(raw).items():
        where = ".".join(map(str, path))
        problems[where] = f"{where}: {value} is not allowed; allowed values: {_finite_values(_setting_schema(path))}"
    return problems


def validate(raw: dict[str, Any]) -> dict[str, Any]:
    """Return the config with defaults filled in, or raise ConfigError listing every problem."""
    if not isinstance(raw, dict):
        raise ConfigError("the config must be a mapping of keys to values")
    import jsonschema  # imported here: jobs that only read a validated run spec start faster

    validator = jsonschema.Draft202012Validator(schema())
    non_finite = _non_finite_problems(raw)  # one message per key: an infinite value may also break a bound
    schema_problems = {_describe(e) for e in validator.iter_errors(raw) if _path(e) not in non_finite}
    problems = sorted(schema_problems | set(non_finite.values()))
    if problems:
        raise ConfigError("invalid config:\n  - " + "\n  - ".join(problems))
    config = copy.deepcopy(raw)
    for section in ("model", "train", "measure", "stats"):
        section_schema = schema()["properties"][section]
        config[section] = {**_defaults(section_schema), **config.get(section, {})}
        for key, sub_schema in section_schema.get("properties", {}).items():  # one level of nested settings
            if sub_schema.get("type") == "object" and "properties" in sub_schema:
                config[section][key] = {**_defaults(sub_schema), **config[section].get(key, {})}
    for label, params in config["tasks"].items():
        problems += _check_task(label, params)
    for claim_id, overrides in config["stats"]["claims"].items():
        problems += rule_problems(CLAIMS, claim_id, overrides)
    for name, experiment in config["experiments"].items():
        for i, label in enumerate(experiment["grid"]["task"]):
            if label not in config["tasks"]:
                problems.append(
                    f"experiments.{name}.grid.task.{i}: {label!r} is not a task of this config; "
                    f"allowed values: {', '.join(config['tasks'])}"
                )
    for i, name in enumerate(config["paper"]["experiments"]):
        if name not in config["experiments"]:
            problems.append(
                f"paper.experiments.{i}: {name!r} is not an experiment of this config; "
                f"allowed values: {', '.join(config['experiments'])}"
            )
    if not problems:
        problems += _check_runs(config)
    if problems:
        raise ConfigError("invalid config:\n  - " + "\n  - ".join(problems))
    return config


def _experiment_runs(config: dict[str, Any], name: str) -> list[RunSpec]:
    experiment = config["experiments"][name]
    grid = experiment["grid"]
    factors = list(grid)
    runs = []
    for values in itertools.product(*(grid[f] for f in factors)):
        model = {**config["model"], **experiment.get("model", {})}
        train = {**config["train"], **experiment.get("train", {})}
        measure = {**config["measure"], **experiment.get("measure", {})}
        sections = {"model": model, "train": train}
        task_label = None
        for factor, value in zip(factors, values, strict=True):
            section = GRID_FACTORS[factor].section
            if section is None:
                task_label = value
            else:
                sections[section][factor] = value
        assert task_label is not None
        condition = condition_name(task_label, model, train)
        for seed in experiment.get("seeds", config["seeds"]):
            runs.append(
                RunSpec(condition, seed, task_label, config["tasks"][task_label], model, train, measure)
            )
    return runs


def _origin(config: dict[str, Any], experiment: str, section: str, key: str) -> str:
    """The config key a run's setting came from: the experiment's grid, its overrides, or the top level."""
    grid = config["experiments"][experiment]["grid"]
    if key in grid and GRID_FACTORS[key].section == section:
        return f"experiments.{experiment}.grid.{key}"
    if key in config["experiments"][experiment].get(section, {}):
        return f"experiments.{experiment}.{section}.{key}"
    return f"{section}.{key}"


def _context_limit(task: Any) -> int | None:
    """Longest context both the training and the held-out data of ``task`` can supply (None: unbounded)."""
    limits = [m for m in (task.max_context, task.held_out().max_context) if m is not None]
    return min(limits) if limits else None


def _check_runs(config: dict[str, Any]) -> list[str]:
    """Cross-field rules, one message per offending config key (not per condition it reaches)."""
    problems = []
    for name in config["experiments"]:
        for run in _experiment_runs(config, name):
            d_model, n_head = run.model["d_model"], run.model["n_head"]
            if d_model % n_head:
                divisors = ", ".join(str(h) for h in range(1, d_model + 1) if d_model % h == 0)
                problems.append(
                    f"{_origin(config, name, 'model', 'n_head')} = {n_head} does not divide "
                    f"{_origin(config, name, 'model', 'd_model')} = {d_model}; allowed values of n_head for "
                    f"d_model {d_model}: {divisors}"
                )
            if run.train["warmup_steps"] > run.train["steps"]:
                problems.append(
                    f"{_origin(config, name, 'train', 'warmup_steps')} = {run.train['warmup_steps']} is longer than training "
                    f"{_origin(config, name, 'train', 'steps')} = {run.train['steps']}; allowed values: 0 to {run.train['steps']}"
                )
            task = build_task(run.task)
            keys = {key: _origin(config, name, "model", key) for key in run.model}
            keys |= {"task": f"tasks.{run.task_label}", "experiment": f"experiments.{name}"}
            problems += [message.format(**keys) for message in task.check(run.model, run.train["regime"])]
            limit = _context_limit(task)
            if limit is not None and run.model["context"] > limit:
                problems.append(
                    f"{_origin(config, name, 'model', 'context')} = {run.model['context']} is longer than task "
                    f"{run.task_label!r} allows; allowed values: 2 to {limit}"
                )
    return sorted(set(problems))


@dataclass(frozen=True)
class Study:
    """A validated config and the runs it implies."""

    config: dict[str, Any]
    runs: dict[str, RunSpec]  # run_id -> spec (shared by experiments that name the same condition)
    experiments: dict[str, list[str]]  # experiment -> run ids

    @property
    def profile(self) -> str:
        return self.config["profile"]

    def paper_conditions(self) -> list[str]:
        """Conditions of the experiments the paper reports, in config order, each once."""
        ordered = [self.runs[run_id].condition for name in self.config["paper"]["experiments"] for run_id in self.experiments[name]]
        return list(dict.fromkeys(ordered))


def load_study(raw: dict[str, Any]) -> Study:
    config = validate(raw)
    runs: dict[str, RunSpec] = {}
    experiments: dict[str, list[str]] = {}
    defined_by: dict[str, str] = {}
    problems = []
    for name in config["experiments"]:
        ids = []
        for run in _experiment_runs(config, name):
            earlier = runs.setdefault(run.run_id, run)
            if earlier != run:
                differences = _differences(earlier.to_dict(), run.to_dict())
                problems.append(
                    f"experiments.{name}: condition {run.condition} is also defined by experiments."
                    f"{defined_by[run.run_id]} with other settings ({', '.join(differences)}); "
                    "make them agree or give the conditions different grid values"
                )
            defined_by.setdefault(run.run_id, name)
            ids.append(run.run_id)
        experiments[name] = ids
    if problems:
        raise ConfigError("invalid config:\n  - " + "\n  - ".join(sorted(set(problems))))
    return Study(config=config, runs=runs, experiments=experiments)


def _differences(a: dict[str, Any], b: dict[str, Any], prefix: str = "") -> list[str]:
    keys = sorted(set(a) | set(b))
    out = []
    for key in keys:
        if isinstance(a.get(key), dict) and isinstance(b.get(key), dict):
            out += _differences(a[key], b[key], f"{prefix}{key}.")
        elif a.get(key) != b.get(key):
            out.append(f"{prefix}{key}: {a.get(key)!r} vs {b.get(key)!r}")
    return out


def load_study_file(path: str | Path) -> Study:
    return load_study(yaml.safe_load(Path(path).read_text()))
