"""The card on one of the study's own checkpoints gives the pipeline's M1 table, on the same sequences; the CLI end to end."""
from __future__ import annotations

import dataclasses

import pandas as pd
import pytest
import torch

pytest.importorskip("transformers")

from card_models import sample_text, save_tiny  # noqa: E402
from workflow_helpers import smoke_config  # noqa: E402

from analysis.card import report  # noqa: E402
from analysis.config import load_study  # noqa: E402
from analysis.io import save_checkpoint  # noqa: E402
from analysis.measures.data import RunData  # noqa: E402
from analysis.measures.run import measure_checkpoints  # noqa: E402
from analysis.models import build_model  # noqa: E402
from analysis.training import checkpoint_path  # noqa: E402


def study_checkpoint(tmp_path):
    """A smoke-profile run's step-0 checkpoint, written as training writes it; M1 only."""
    spec = next(iter(load_study(smoke_config()).runs.values()))
    spec = dataclasses.replace(spec, measure={**spec.measure, "only": ["m1_gradient_matrix"]})
    task = RunData(spec).task
    model = build_model(task.input_spec, task.output_spec, spec.model)
    payload = {"model": model.state_dict(), "model_config": model.config.to_dict(), "step": 0, "run": spec.to_dict(),
               "optimizer": {"step": 0}}
    path = checkpoint_path(tmp_path, 0)
    save_checkpoint(path, payload)
    return spec, path


def test_the_card_on_a_study_checkpoint_is_the_pipelines_m1_table(tmp_path) -> None:
    spec, path = study_checkpoint(tmp_path)
    pipeline = measure_checkpoints(spec, {0: path})[0]["m1_gradient_matrix"]
    options = report.CardOptions(model=str(path), sequences=spec.measure["n_sequences"], out=str(tmp_path / "card"),
                                 progress=False)
    card = report.run_card(options, pdf=False)["m1_gradient_matrix"]
    assert list(card.columns) == list(pipeline.columns) and len(card) == len(pipeline) > 0
    pd.testing.assert_frame_equal(card, pipeline, check_exact=False, rtol=1e-5, atol=1e-9, check_dtype=False)
    written = pd.read_csv(tmp_path / "card" / "tables" / "m1_gradient_matrix.csv")
    assert set(written["condition"]) == {spec.condition} and set(written["seed"]) == {spec.seed}


def test_make_card_writes_tables_figure_and_pdf_naming_model_config_and_text(tmp_path) -> None:
    model = save_tiny("llama", tmp_path / "tiny-llama")
    text = tmp_path / "text.txt"
    text.write_text(sample_text(300))
    out = tmp_path / "out"
    assert report.main(["--model", str(model), "--text", str(text), "--context", "10", "--sequences", "4",
                        "--out", str(out), "--buffer", "1"]) == 0
    numbers = pd.read_json(out / "card.json", typ="series")
    assert numbers["text"]["sha256"] == report.sha256_text(text.read_text())
    assert len(numbers["model"]["config_sha256"]) == 64 and numbers["n_sequences"] == 4
    assert (out / "card.pdf").stat().st_size > 10_000 and (out / "figure.png").exists()
    for name in ("m1_gradient_matrix", "c4_within_row_profile", "c4_law_fits", "primacy_sources", "sink_share"):
        assert not pd.read_csv(out / "tables" / f"{name}.csv").empty, name


def test_bad_input_exits_with_its_one_line(tmp_path, capsys) -> None:
    assert report.main(["--model", str(tmp_path / "nowhere"), "--out", str(tmp_path / "card"), "--no-pdf"]) == 2
    assert capsys.readouterr().err.strip().endswith("save the model with save_pretrained first)")


def test_the_split_on_a_study_checkpoint_is_the_study_decomposition(tmp_path) -> None:
    """direct = the myopic-full gradient and earlier = shared + precache of the study's M3, on the same sequences."""
    from analysis.card import load, precaching
    from analysis.measures.decomposition import decompose

    spec, path = study_checkpoint(tmp_path)
    card = load.load(path)
    batch = RunData(spec).gradient_batch
    parts = precaching.split(card, batch.inputs, batch.targets)
    study = decompose(card.model, batch.inputs, batch.targets, RunData(spec).task.loss_per_position)
    for name, grad in study["direct"].items():
        torch.testing.assert_close(parts["direct"][name], grad)
        torch.testing.assert_close(parts["earlier"][name], study["shared"][name] + study["precache"][name])
