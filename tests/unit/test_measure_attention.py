"""M8 attention mass: the recomputed probabilities against the model's own attention output, and the table by hand."""
from __future__ import annotations

import pandas as pd
import pytest
import torch
from tiny import ENCODINGS, tiny_batch, tiny_model

from analysis.config import ConfigError, load_study
from analysis.measures import MEASURES
from analysis.measures.attention import attention_mass_table, attention_weights
from analysis.measures.data import RunData
from analysis.regimes import REGIMES


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_probabilities_times_values_give_the_models_attention_output(encoding: str) -> None:
    """Slow reference: per layer, head and target, sum_s A[t, s] v_s through the output projection must equal
    what the block's fused attention (scaled_dot_product_attention) computes from the same residual stream."""
    model = tiny_model(encoding, n_layer=2)
    inputs, _ = tiny_batch()
    weights = attention_weights(model, inputs)
    _, residuals = model(inputs, return_residuals=True)
    n, n_layer, n_head, length, _ = weights.shape
    assert (n_layer, n_head, length) == (2, 2, inputs.shape[1])
    for layer, block in enumerate(model.blocks):
        attention = block.attn
        h = residuals[layer]
        values = attention.value(attention.ln(h))  # (N, T, D)
        d_head = values.shape[-1] // n_head
        mixed = torch.zeros_like(values)
        for b in range(n):
            for head in range(n_head):
                cols = slice(head * d_head, (head + 1) * d_head)
                for t in range(length):
                    mixed[b, t, cols] = sum(weights[b, layer, head, t, s] * values[b, s, cols] for s in range(t + 1))
        expected = attention(h, REGIMES["standard"])
        torch.testing.assert_close(attention.out(mixed), expected, rtol=1e-10, atol=1e-12)


def test_probabilities_are_causal_and_normalised() -> None:
    weights = attention_weights(tiny_model("alibi"), tiny_batch()[0])
    length = weights.shape[-1]
    above = ~torch.ones(length, length, dtype=torch.bool).tril()
    assert torch.all(weights[..., above] == 0)
    torch.testing.assert_close(weights.sum(-1), torch.ones(weights.shape[:-1], dtype=weights.dtype))


def test_table_by_hand_at_a_source_other_than_the_first() -> None:
    """Two sequences, one layer and head, T = 3; the rows below are worked by hand."""
    first = torch.tensor([[1.0, 0.0, 0.0], [0.5, 0.5, 0.0], [0.2, 0.3, 0.5]])
    second = torch.tensor([[1.0, 0.0, 0.0], [0.9, 0.1, 0.0], [0.6, 0.2, 0.2]])
    table = attention_mass_table(torch.stack([first, second])[:, None, None])
    row = table.set_index("s").loc[1]
    # source 1 is read by targets 1 and 2: mean A = ((0.5 + 0.1) / 2 + (0.3 + 0.2) / 2) / 2 = 0.275
    assert row["mass"] == pytest.approx(0.275)
    # uniform: (1/2 + 1/3) / 2
    assert row["uniform_mass"] == pytest.approx(5 / 12)
    # relative: (0.3 * 2 + 0.25 * 3) / 2 = 0.675
    assert row["relative_mass"] == pytest.approx(0.675)
    assert row["n_targets"] == 2
    first_source = table.set_index("s").loc[0]
    assert first_source["mass"] == pytest.approx((1.0 + 0.7 + 0.4) / 3)
    assert first_source["relative_mass"] == pytest.approx((1.0 + 0.7 * 2 + 0.4 * 3) / 3)
    assert table.set_index("s").loc[2, "mass"] == pytest.approx(0.35)
    # late targets: t >= T // 2 = 1; source 0 is read by targets 1 and 2: ((0.5 + 0.9) / 2 + (0.2 + 0.6) / 2) / 2
    assert first_source["late_mass"] == pytest.approx(0.55)
    assert first_source["late_uniform_mass"] == pytest.approx(5 / 12)
    assert table.set_index("s").loc[2, "late_mass"] == pytest.approx(0.35)  # t >= s = 2: target 2 only


def test_uniform_attention_is_relative_mass_one_and_the_first_position_still_gets_most_mass() -> None:
    length = 5
    uniform = torch.ones(length, length).tril()
    uniform = uniform / uniform.sum(-1, keepdim=True)
    table = attention_mass_table(uniform.expand(2, 1, 3, length, length))
    assert table["relative_mass"].to_numpy() == pytest.approx([1.0] * len(table))
    assert table["mass"].to_numpy() == pytest.approx(table["uniform_mass"].to_numpy())
    by_source = table[(table["head"] == 0)].set_index("s")["mass"]
    assert by_source.idxmax() == 0  # the causal mask alone makes position 0 the raw-mass argmax
    late = table[(table["head"] == 0) & (table["s"] < length // 2)]
    assert late["late_mass"].to_numpy() == pytest.approx([late["late_mass"].iloc[0]] * len(late))  # no source favoured
    assert list(table.columns) == [
        "layer", "head", "s", "mass", "uniform_mass", "relative_mass", "late_mass", "late_uniform_mass", "n_targets",
    ]  # fmt: skip


def test_measure_is_registered_for_every_checkpoint() -> None:
    measure = MEASURES.get("m8_attention_mass")
    assert not measure.ends_only


def _config(**measure: object) -> dict:
    return {
        "profile": "t", "seeds": [0],
        "model": {"n_layer": 1, "d_model": 8, "n_head": 2, "context": 6, "pos_encoding": "learned"},
        "train": {"steps": 2, "batch_size": 2, "lr": 1e-3, "warmup_steps": 0, "regime": "standard"},
        "measure": {"n_sequences": 2},
        "stats": {},
        "tasks": {"markov": {"name": "markov", "vocab": 5, "order": 1, "alpha": 0.5}},
        "experiments": {"e": {"grid": {"task": ["markov"]}, "measure": measure}},
        "paper": {"experiments": ["e"]},
    }  # fmt: skip


def test_an_experiment_selects_its_measures() -> None:
    study = load_study(_config(only=["m1_gradient_matrix", "m8_attention_mass"]))
    data = RunData(next(iter(study.runs.values())))
    selected = [name for name in MEASURES.names() if MEASURES.get(name).selected(data)]
    assert selected == ["m1_gradient_matrix", "m8_attention_mass"]
    everything = RunData(next(iter(load_study(_config()).runs.values())))
    assert "m3_decomposition" in [name for name in MEASURES.names() if MEASURES.get(name).selected(everything)]


def test_an_unknown_measure_is_refused_with_the_allowed_names() -> None:
    with pytest.raises(ConfigError) as error:
        load_study(_config(only=["m9_nothing"]))
    message = str(error.value)
    assert "experiments.e.measure.only.0" in message and "'m9_nothing' is not allowed" in message
    assert "m8_attention_mass" in message


def test_measured_table_has_one_row_per_layer_head_source() -> None:
    model = tiny_model("rope", n_layer=2)
    table = attention_mass_table(attention_weights(model, tiny_batch()[0]))
    assert len(table) == 2 * 2 * 6
    assert isinstance(table, pd.DataFrame)
    assert table.groupby(["layer", "head"]).size().eq(6).all()
