"""Positional encodings against their published formulas, on tiny cases."""
from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from tiny import ENCODINGS, tiny_model
from workflow_helpers import smoke_config

from analysis.config import load_study
from analysis.io import save_checkpoint
from analysis.measures.data import RunData
from analysis.measures.run import load_model
from analysis.models import build_model
from analysis.models.gpt import CausalSelfAttention
from analysis.models.positional import ENCODING_ORDER, POSITIONAL_ENCODINGS
from analysis.models.positional.rope import Rotary
from analysis.regimes import STANDARD
from analysis.spec import RunSpec
from analysis.tasks import build_task


def test_registry_holds_the_five_encodings() -> None:
    assert POSITIONAL_ENCODINGS.names() == sorted(ENCODINGS)


def test_the_listing_order_names_registered_encodings_once() -> None:
    """Tables and figures list encodings in ENCODING_ORDER; an encoding it leaves out comes last."""
    assert len(set(ENCODING_ORDER)) == len(ENCODING_ORDER) and set(ENCODING_ORDER) <= set(POSITIONAL_ENCODINGS.names())


def test_an_encoding_name_reaches_its_class_in_the_five_hops_of_the_docs(tmp_path: Path) -> None:
    """docs/extending.md, "Where an encoding name goes": config, run spec, job parameters, GPTConfig, class."""
    config = smoke_config()
    config["model"]["pos_encoding"] = "rope"
    config["experiments"]["distance"]["grid"]["pos_encoding"] = ["alibi"]
    runs = load_study(config).runs.values()  # hops 1 and 2: validate, then _experiment_runs (a grid value wins)
    assert {run.model["pos_encoding"] for run in runs if run.task_label == "sine-shift1"} == {"rope"}
    assert {run.model["pos_encoding"] for run in runs if run.task_label == "markov"} == {"alibi"}
    run = next(run for run in runs if run.task_label == "sine-shift1")
    job_spec = RunSpec.from_dict(json.loads(json.dumps(run.to_dict(), sort_keys=True)))  # hop 3: the job's parameters
    assert job_spec == run
    task = build_task(job_spec.task)
    model = build_model(task.input_spec, task.output_spec, job_spec.model)  # hop 4
    assert model.config.pos_encoding == "rope"
    assert type(model.positions) is Rotary  # hop 5: GPT.__init__ looks the name up in the registry
    save_checkpoint(tmp_path / "checkpoint.pt", {"model": model.state_dict(), "step": 0})
    measured = load_model(tmp_path / "checkpoint.pt", RunData(job_spec))  # the measures build the model the same way
    assert type(measured.positions) is Rotary and measured.config == model.config


def test_rope_rotates_each_pair_by_position_times_frequency() -> None:
    rope = POSITIONAL_ENCODINGS.get("rope")(context=5, d_model=8, n_head=2)  # head size 4: two pairs
    x = torch.randn(1, 2, 5, 4, dtype=torch.float64)
    got = rope.rotate(x)
    for m in range(5):
        for i in range(2):
            theta = 10_000.0 ** (-2 * i / 4)
            pair = torch.complex(x[..., m, 2 * i], x[..., m, 2 * i + 1]) * complex(math.cos(m * theta), math.sin(m * theta))
            torch.testing.assert_close(got[..., m, 2 * i], pair.real.to(got.dtype), rtol=1e-6, atol=1e-6)
            torch.testing.assert_close(got[..., m, 2 * i + 1], pair.imag.to(got.dtype), rtol=1e-6, atol=1e-6)


def test_rope_scores_depend_only_on_relative_position() -> None:
    rope = POSITIONAL_ENCODINGS.get("rope")(context=8, d_model=4, n_head=1)
    q, k = torch.randn(4), torch.randn(4)
    rotated_q = rope.rotate(q.expand(1, 1, 8, 4))[0, 0]
    rotated_k = rope.rotate(k.expand(1, 1, 8, 4))[0, 0]
    assert torch.allclose(rotated_q[5] @ rotated_k[3], rotated_q[4] @ rotated_k[2], atol=1e-5)


def test_alibi_bias_is_minus_slope_times_distance() -> None:
    alibi = POSITIONAL_ENCODINGS.get("alibi")(context=6, d_model=8, n_head=4)
    bias = alibi.score_bias(6)
    for h in range(4):
        slope = 2.0 ** (-8.0 * (h + 1) / 4)
        for t in range(6):
            for s in range(t + 1):
                assert float(bias[h, t, s]) == pytest.approx(-slope * (t - s))


@pytest.mark.parametrize("pos_encoding", ENCODINGS)
def test_attention_equals_a_direct_softmax_formula(pos_encoding: str) -> None:
    model = tiny_model(pos_encoding)
    attn: CausalSelfAttention = model.blocks[0].attn
    h = torch.randn(2, 6, 8, dtype=torch.float64)
    q = attn.queries(h)
    k, v = attn.keys_values(h)
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    bias = attn.positions.score_bias(6)
    if bias is not None:
        scores = scores + bias
    scores = scores.masked_fill(~torch.ones(6, 6, dtype=torch.bool).tril(), float("-inf"))
    expected = attn.out((scores.softmax(-1) @ v).transpose(1, 2).flatten(2))
    torch.testing.assert_close(attn(h, STANDARD), expected, rtol=1e-9, atol=1e-12)


def test_nope_has_no_position_parameters_and_no_position_signal() -> None:
    model = tiny_model("none")
    assert list(model.positions.parameters()) == []
    assert model.positions.embed(6) is None and model.positions.score_bias(6) is None
    learned = tiny_model("learned")
    assert sum(p.numel() for p in learned.positions.parameters()) == 6 * 8


def test_sinusoidal_table_matches_vaswani() -> None:
    encoding = POSITIONAL_ENCODINGS.get("sinusoidal")(context=4, d_model=6, n_head=1)
    table = encoding.embed(4) / encoding.SCALE
    for pos in range(4):
        for i in range(3):
            angle = pos / 10_000 ** (2 * i / 6)
            assert float(table[pos, 2 * i]) == pytest.approx(math.sin(angle), abs=1e-6)
            assert float(table[pos, 2 * i + 1]) == pytest.approx(math.cos(angle), abs=1e-6)
