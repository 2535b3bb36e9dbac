"""Snakemake's own checks of the workflow: `--lint` finds nothing and `--report` embeds every figure and the paper."""
from __future__ import annotations

import re
from pathlib import Path

from workflow_helpers import smoke_config, snakemake, write_config


def test_lint_finds_nothing(tmp_path: Path) -> None:
    configfile = write_config(tmp_path / "smoke.yaml", smoke_config())
    result = snakemake(tmp_path, configfile, "--lint", check=False)
    output = result.stdout + result.stderr
    assert result.returncode == 0 and "Lints for" not in output, output  # snakemake exits 1 when it lints anything


def test_report_embeds_every_figure_and_the_paper(smoke_study: tuple[Path, Path]) -> None:
    workdir, configfile = smoke_study
    report = workdir / "report.html"
    snakemake(workdir, configfile, "--report", str(report))
    html = report.read_text()
    figures = sorted(path.name for path in (workdir / "results" / "smoke" / "figures").glob("*.png"))
    assert len(figures) == 13  # every figure of FIGURE_TABLE: the smoke profile takes every measure
    for name in figures:
        assert f'"filename": "{name}"' in html, name
    assert len(re.findall(r"data:image/png;", html)) == len(figures)  # embedded, not linked
    assert "data:application/pdf;" in html  # the paper
