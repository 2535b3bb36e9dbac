"""The one driver of every figure: read its tables, give its ``plot`` what it asks for, save PDF + PNG.

A figure module (figures/<name>.py) only draws: ``plot(tables, *, <param>...) -> Figure``, where
``tables`` maps the names of its FigureEntry's tables to DataFrames and its keyword parameters name
what it needs from the study (``catalog.study_params``) or from its entry's ``params``. Snakemake runs
this file as the ``script:`` of every figure rule (the glue is at the bottom); ``python -m figures``
draws from a tables folder without Snakemake.
"""

import argparse
import importlib
import inspect
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

import pandas as pd

from figures import catalog, style

CODE_INPUT = "code"  # the rule's input that lists the figure's code (a rerun trigger), not a table


def module(name: str) -> ModuleType:
    return importlib.import_module(f"figures.{name}")


def parameters(name: str) -> dict[str, inspect.Parameter]:
    """The keyword parameters of figures/<name>.py's ``plot`` (everything after ``tables``)."""
    signature = inspect.signature(module(name).plot)
    first, *rest = signature.parameters.values()
    if first.name != "tables" or any(p.kind is not inspect.Parameter.KEYWORD_ONLY for p in rest):
        raise TypeError(f"figures/{name}.py: plot must read plot(tables, *, <param>, ...), not plot{signature}")
    return {p.name: p for p in rest}


def arguments(name: str, available: Mapping[str, Any], fixed: Mapping[str, Any]) -> dict[str, Any]:
    """The keyword arguments figures/<name>.py's ``plot`` asks for: from its entry (``fixed``), else the study.

    Only what it names is passed (another value changing would only redraw it); a parameter without a
    default that neither gives is an error here, before any job runs.
    """
    wanted = parameters(name)
    unknown = set(fixed) - set(wanted)
    missing = [n for n, p in wanted.items() if p.default is inspect.Parameter.empty and n not in fixed and n not in available]
    if unknown or missing:
        raise TypeError(f"figures/{name}.py: plot takes no {sorted(unknown)}" if unknown else
                        f"figures/{name}.py: plot needs {missing}, which neither its entry nor the study gives "
                        f"(the study gives {sorted(available)})")
    return {n: fixed[n] if n in fixed else available[n] for n in wanted if n in fixed or n in available}


def draw(name: str, tables: Mapping[str, str | Path], params: Mapping[str, Any], pdf: str | Path, png: str | Path) -> None:
    """Draw figures/<name>.py's figure from the CSV ``tables`` with ``params`` into ``pdf`` and ``png``."""
    frames = {key: pd.read_csv(path) for key, path in tables.items()}
    print(f"figure {name}: " + ", ".join(f"{key} ({len(frame)} rows)" for key, frame in frames.items()))
    style.apply()
    style.save(module(name).plot(frames, **params), pdf, png)
    print(f"wrote {pdf} and {png}")


def main(argv: list[str] | None = None) -> None:
    """``python -m figures --configfile CONFIG --tables DIR --out DIR [NAME ...]``: redraw without Snakemake."""
    from analysis.config import load_study_file  # the study only here: the Snakemake rule passes its params in

    parser = argparse.ArgumentParser(prog="python -m figures", description=main.__doc__)
    parser.add_argument("--configfile", required=True, help="the profile's config (its conditions, confidence, encoding)")
    parser.add_argument("--tables", required=True, type=Path, help="a results/<profile>/tables folder")
    parser.add_argument("--out", required=True, type=Path, help="where <name>.pdf and <name>.png are written")
    parser.add_argument("names", nargs="*", help="figures to draw (default: every figure the profile draws)")
    args = parser.parse_args(argv)
    study = load_study_file(args.configfile)
    table = catalog.drawn(study)
    for name in args.names or table:
        entry = table[name]
        script = entry.module(name)
        draw(script, {key: args.tables / f"{csv}.csv" for key, csv in entry.tables.items()},
             arguments(script, catalog.study_params(study), entry.params), args.out / f"{name}.pdf", args.out / f"{name}.png")


if "snakemake" in globals():  # a figure rule of workflow/rules/figures.smk
    from analysis.logs import log_to

    job = snakemake  # noqa: F821 (Snakemake defines it in a script's globals)
    with log_to(job.log[0]):
        params = dict(job.params.items())
        draw(params.pop("figure"), {key: path for key, path in job.input.items() if key != CODE_INPUT}, params,
             job.output.pdf, job.output.png)
