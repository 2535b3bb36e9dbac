"""The card's analyses on planted G: the study's fits recover what is planted, with sequences as the replicates."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from analysis.card import analyses

T, N, LAYERS = 12, 4, 2  # G has LAYERS + 1 residual streams; the last is left out of every fit


def planted(p: float = 0.8, first: float = 1.0, noise: float = 0.0) -> torch.Tensor:
    """(N, L+1, T, T): G[t, s] = row_t (t - s + 1)^-p, times ``first`` at s = 0, times exp(noise) per sequence."""
    t, s = torch.meshgrid(torch.arange(T, dtype=torch.float64), torch.arange(T, dtype=torch.float64), indexing="ij")
    base = (1.0 + t) * (t - s + 1.0).clamp_min(1.0) ** -p
    base[:, 0] *= first
    generator = torch.Generator().manual_seed(0)
    out = torch.stack([base * torch.exp(noise * torch.randn(T, T, generator=generator, dtype=torch.float64))
                       for _ in range(N * (LAYERS + 1))]).view(N, LAYERS + 1, T, T)
    return out.tril()


@pytest.mark.parametrize("p", [0.0, 0.8])
def test_the_within_row_slope_is_the_planted_exponent_with_one_replicate_per_sequence(p: float) -> None:
    tables = analyses.card_tables(planted(p, noise=0.05), analyses.Labels("planted"), LAYERS, analyses.Settings(buffer=1))
    slopes = tables["card_slope_summary"]
    assert list(slopes["layer"]) == list(range(LAYERS))  # the last residual stream is left out
    assert (slopes["n_sequences"] == N).all()
    assert slopes["slope_mean"].to_numpy() == pytest.approx(-p, abs=0.05)
    assert ((slopes["slope_low"] < -p) & (-p < slopes["slope_high"])).all()
    per_sequence = tables["c4_within_row_slopes"]
    assert sorted(per_sequence["seed"].unique()) == list(range(N))


def test_primacy_finds_a_planted_first_source_and_not_an_absent_one() -> None:
    settings = analyses.Settings(buffer=1)
    boosted = analyses.card_tables(planted(0.0, first=3.0), analyses.Labels("boost"), LAYERS, settings)["primacy_summary"]
    plain = analyses.card_tables(planted(0.0, first=1.0, noise=0.05), analyses.Labels("plain"), LAYERS,
                                 settings)["primacy_summary"]
    # primacy(0) = b_0 - mean b: log 3 (1 - 1 / (T - 1)) with T - 1 sources in the fit
    assert boosted["primacy_first_mean"].to_numpy() == pytest.approx(np.log(3.0) * (1 - 1 / (T - 1)))
    assert bool(boosted["shows_primacy"].all())
    assert plain["primacy_first_mean"].to_numpy() == pytest.approx(0.0, abs=0.05)
    assert not plain["shows_primacy"].any()


def test_the_m1_table_is_the_mean_and_median_over_sequences_with_the_models_labels() -> None:
    g = planted(0.5, noise=0.3)
    table = analyses.m1_table(g, analyses.Labels("model", seed=7, step=3))
    row = table[(table["layer"] == 1) & (table["t"] == 5) & (table["s"] == 2)].iloc[0]
    assert row["grad_norm_mean"] == pytest.approx(float(g[:, 1, 5, 2].mean()))
    assert row["grad_norm_median"] == pytest.approx(float(g[:, 1, 5, 2].median()))
    assert (row[["condition", "seed", "step", "distance"]] == pd.Series({"condition": "model", "seed": 7, "step": 3,
                                                                        "distance": 3})).all()
    assert len(table) == (LAYERS + 1) * T * (T + 1) // 2


def test_the_split_summary_is_over_sequences() -> None:
    per_sequence = pd.DataFrame({"group": "all", "layer": -2, "seed": range(3), "share_direct": [0.6, 0.7, 0.8],
                                 "share_earlier": [0.4, 0.3, 0.2]})
    summary = analyses.split_tables(per_sequence, analyses.Labels("m", step=5), analyses.Settings())["card_precaching_summary"]
    row = summary.iloc[0]
    assert row["share_direct_mean"] == pytest.approx(0.7) and row["n_sequences"] == 3 and row["step"] == 5
    assert row["share_direct_low"] < 0.7 < row["share_direct_high"]
