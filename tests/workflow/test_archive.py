"""Citing the smoke study: the manifest the paper prints, a deterministic archive, and verifying a rerun against it."""
from __future__ import annotations

import re
import shutil
from pathlib import Path

import pandas as pd
import pytest
import typst

from analysis.io import read_json
from tooling import verify as verify_module
from tooling.archive import ArchiveError, archive_problems, pack, unpack
from tooling.manifest import read_manifest, sha256_file
from tooling.verify import verify


@pytest.fixture(scope="module")
def smoke_results(smoke_study: tuple[Path, Path]) -> Path:
    return smoke_study[0] / "results" / "smoke"


@pytest.fixture(scope="module")
def smoke_archive(smoke_results: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    archive = tmp_path_factory.mktemp("archive") / "gradflow-smoke.tar.gz"
    pack(smoke_results, "smoke", archive)
    return archive


def rerun_copy(results: Path, destination: Path) -> Path:
    """A copy of a finished study's results (without per-run files), to perturb."""
    shutil.copytree(results, destination, ignore=shutil.ignore_patterns("runs", "logs", "benchmarks", "paper_build"))
    return destination


def test_manifest_lists_every_table_figure_and_provenance_file_but_not_the_paper(smoke_results: Path) -> None:
    listed = read_manifest(smoke_results / "manifest.sha256")
    tables = {p.relative_to(smoke_results).as_posix() for p in (smoke_results / "tables").glob("*.csv")}
    figures = {p.relative_to(smoke_results).as_posix() for p in (smoke_results / "figures").iterdir()}
    assert set(listed) == tables | figures | {"paper_numbers.json", "config.json", "environment.txt"}
    assert list(listed) == sorted(listed)
    assert "torch==2.13.0" in (smoke_results / "environment.txt").read_text()
    assert read_json(smoke_results / "config.json")["profile"] == "smoke"


def test_the_paper_prints_the_sha256_of_the_manifest_it_was_built_from(smoke_results: Path) -> None:
    digest = sha256_file(smoke_results / "manifest.sha256")
    assert read_json(smoke_results / "paper_build" / "manifest.json")["sha256"] == digest
    html = typst.compile(str(smoke_results / "paper_build" / "main.typ"), root=str(smoke_results / "paper_build"), format="html")
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html.decode()))
    assert re.search(rf"results manifest \(\d+ files: .*\), SHA-256 {digest}", text)


def test_archive_is_deterministic_and_whole(smoke_results: Path, smoke_archive: Path, tmp_path: Path) -> None:
    again = tmp_path / "again.tar.gz"
    assert pack(smoke_results, "smoke", again) == sha256_file(smoke_archive)
    assert again.read_bytes() == smoke_archive.read_bytes()
    assert (tmp_path / "again.tar.gz.sha256").read_text() == f"{sha256_file(again)}  again.tar.gz\n"
    top = unpack(smoke_archive, tmp_path / "unpacked")
    assert top.name == "gradflow-smoke" and archive_problems(top) == []
    for name in ("paper.pdf", "manifest.sha256", "tables/m1_gradient_matrix.csv", "environment.txt",
                 "source/requirements.lock", "source/config/smoke.yaml", "source/CITATION.cff"):  # fmt: skip
        assert (top / name).is_file(), name
    assert (top / "paper.pdf").read_bytes() == (smoke_results / "paper.pdf").read_bytes()


def test_archive_refuses_results_changed_after_their_manifest(smoke_results: Path, tmp_path: Path) -> None:
    rerun = rerun_copy(smoke_results, tmp_path / "results")
    shutil.copytree(smoke_results / "paper_build", rerun / "paper_build")
    with (rerun / "tables" / "verdicts.csv").open("a") as handle:
        handle.write("C7,supported,,\n")
    with pytest.raises(ArchiveError, match=r"tables/verdicts.csv: changed since the manifest"):
        pack(rerun, "smoke", tmp_path / "a.tar.gz")


def test_verify_passes_on_an_identical_rerun(smoke_results: Path, smoke_archive: Path) -> None:
    passed, report = verify(smoke_archive, smoke_results)
    assert passed, report
    assert "tolerance profile exact" in report and report.splitlines()[-1].startswith("PASS")


def test_verify_fails_on_a_number_beyond_tolerance_and_says_where(smoke_results: Path, smoke_archive: Path, tmp_path: Path) -> None:
    rerun = rerun_copy(smoke_results, tmp_path / "results")
    path = rerun / "tables" / "m1_gradient_matrix.csv"
    table = pd.read_csv(path)
    table.loc[5, "grad_norm_mean"] *= 1.001  # within the cross-device tolerance, beyond exact
    table.to_csv(path, index=False, float_format="%.7g")
    row = table.loc[5]
    passed, report = verify(smoke_archive, rerun, "exact")
    assert not passed
    assert "DIFFERS tables/m1_gradient_matrix.csv" in report
    assert f"column grad_norm_mean: 1 of {len(table)} values differ beyond exact" in report
    assert f"condition={row.condition}, seed={row.seed}, step={row.step}, layer={row.layer}, t={row.t}, s={row.s}" in report
    assert report.splitlines()[-1].startswith("FAIL: 1 of") and "tables/m1_gradient_matrix.csv" in report.splitlines()[-1]
    assert verify(smoke_archive, rerun, "cross-device")[0]
    table.loc[5, "grad_norm_mean"] *= 1.5  # beyond every tolerance
    table.to_csv(path, index=False, float_format="%.7g")
    assert not verify(smoke_archive, rerun, "cross-device")[0]


def test_verify_fails_on_a_missing_table_row_or_column(smoke_results: Path, smoke_archive: Path, tmp_path: Path) -> None:
    rerun = rerun_copy(smoke_results, tmp_path / "results")
    (rerun / "tables" / "c3_reachability.csv").unlink()
    runs = pd.read_csv(rerun / "tables" / "runs.csv")
    runs.iloc[1:].to_csv(rerun / "tables" / "runs.csv", index=False)
    verdicts = pd.read_csv(rerun / "tables" / "verdicts.csv")
    verdicts.drop(columns="rule").to_csv(rerun / "tables" / "verdicts.csv", index=False)
    passed, report = verify(smoke_archive, rerun)
    assert not passed
    assert "DIFFERS tables/c3_reachability.csv\n    in the archive, missing from the rerun" in report
    assert f"{len(runs)} rows published, {len(runs) - 1} in the rerun" in report
    assert f"1 published rows missing from the rerun, e.g. (condition={runs.condition[0]}" in report
    assert "columns differ: missing ['rule'], unexpected none" in report


def test_verify_fails_on_another_config_and_on_changed_paper_numbers(smoke_results: Path, smoke_archive: Path, tmp_path: Path) -> None:
    rerun = rerun_copy(smoke_results, tmp_path / "results")
    config = (rerun / "config.json").read_text()
    (rerun / "config.json").write_text(config.replace('"s_min": 1', '"s_min": 3'))
    numbers = (rerun / "paper_numbers.json").read_text()
    (rerun / "paper_numbers.json").write_text(numbers.replace('"profile": "smoke"', '"profile": "smoky"'))
    passed, report = verify(smoke_archive, rerun)
    assert not passed
    assert "the rerun used another configuration" in report and "stats.s_min: published 1, rerun 3" in report
    assert "profile: published 'smoke', rerun 'smoky'" in report


def test_verify_command_exit_codes(smoke_results: Path, smoke_archive: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert verify_module.main(["--archive", str(smoke_archive), "--profile", "smoke", "--results", str(smoke_results)]) == 0
    rerun = rerun_copy(smoke_results, tmp_path / "results")
    (rerun / "tables" / "verdicts.csv").unlink()
    assert verify_module.main(["--archive", str(smoke_archive), "--profile", "smoke", "--results", str(rerun)]) == 1
    assert "FAIL" in capsys.readouterr().out
    assert verify_module.main(["--archive", str(tmp_path / "none.tar.gz"), "--profile", "smoke"]) == 2


def test_a_damaged_archive_is_reported(smoke_results: Path, smoke_archive: Path, tmp_path: Path) -> None:
    top = unpack(smoke_archive, tmp_path / "unpacked")
    (top / "tables" / "runs.csv").write_text("condition\nforged\n")
    assert archive_problems(top) == [
        "ARCHIVE.sha256: tables/runs.csv: changed since the manifest was written (SHA-256 differs)",
        "manifest.sha256: tables/runs.csv: changed since the manifest was written (SHA-256 differs)",
    ]
