"""The study's analyses on one model's G^l[t, s], with intervals over text samples.

The study's unit of replication is the training seed; on a card it is the sequence: every
per-seed table of the study is formed here with ``seed`` = the sequence's index, so the study's
own functions (``stats.distance``, ``stats.primacy``, ``stats.sinks``) run unchanged and their
Student t intervals are over sequences. ``condition`` is the model's name, ``step`` its
training step (0 for a Hugging Face model, the checkpoint's step for the study's own).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from torch import Tensor

from ..measures.attention import attention_mass_table
from ..measures.gradient_matrix import gradient_matrix_table
from ..regimes import STANDARD
from ..stats import distance, primacy, sinks
from ..stats.inference import mean_interval

SEQUENCE = "seed"  # the study's replicate column; on a card it holds the sequence index


@dataclass(frozen=True)
class Labels:
    """The columns that name where a table's rows come from, as the study names runs."""

    condition: str
    seed: int = 0
    step: int = 0

    def label(self, table: pd.DataFrame, seed: int | None = None) -> pd.DataFrame:
        table = table.copy()
        table.insert(0, "step", self.step)
        table.insert(0, "seed", self.seed if seed is None else seed)
        table.insert(0, "condition", self.condition)
        return table


@dataclass(frozen=True)
class Settings:
    """The analyses' settings: ``buffer`` leaves the first sources out of every fit (s_min), as the study's s_min does."""

    buffer: int = 0
    confidence: float = 0.95
    aic_margin: float = 2.0  # as the study's C4 rule: an AIC difference below 2 does not pick a law


def m1_table(per_sequence: Tensor, labels: Labels) -> pd.DataFrame:
    """The study's ``m1_gradient_matrix`` table: mean and median over sequences per (layer, t, s <= t)."""
    return labels.label(gradient_matrix_table(per_sequence.double()))


def per_sequence_m1(per_sequence: Tensor, labels: Labels) -> pd.DataFrame:
    """The same schema with one "run" per sequence (``seed`` = sequence index): the unit the intervals are over."""
    return pd.concat([labels.label(gradient_matrix_table(per_sequence[i : i + 1].double()), seed=i)
                      for i in range(per_sequence.shape[0])], ignore_index=True)


def _interval_rows(table: pd.DataFrame, keys: list[str], value: str, confidence: float) -> pd.DataFrame:
    """Mean of ``value`` over sequences with its Student t interval, per group of ``keys``."""
    rows = []
    for key, group in table.groupby(keys, sort=True):
        interval = mean_interval(group[value].to_numpy(float), confidence)
        rows.append({**dict(zip(keys, key if isinstance(key, tuple) else (key,), strict=True)),
                     f"{value}_mean": interval.estimate, f"{value}_low": interval.low, f"{value}_high": interval.high,
                     "n_sequences": interval.n})
    return pd.DataFrame(rows, columns=[*keys, f"{value}_mean", f"{value}_low", f"{value}_high", "n_sequences"])


def distance_tables(m1_runs: pd.DataFrame, m1: pd.DataFrame, n_layer: int, settings: Settings) -> dict[str, pd.DataFrame]:
    """C4's within-row analysis: slopes per sequence and over sequences, the profile, the two laws, the first position."""
    blocks = {m1["condition"].iloc[0]: n_layer}
    below = distance.below_last_layer(m1_runs, blocks)
    cells = distance.fit_cells(below, s_min=settings.buffer, d_min=1)
    slopes = distance.within_row_slope(cells)
    profile = distance.within_row_profile(cells)
    mean_profile = distance.within_row_profile(distance.fit_cells(distance.below_last_layer(m1, blocks), settings.buffer, 1))
    ratios = distance.first_position_ratio(below, max(settings.buffer, 1))
    return {
        "c4_within_row_slopes": slopes,
        "card_slope_summary": _interval_rows(slopes, ["condition", "step", "layer"], "slope", settings.confidence),
        "c4_within_row_profile": distance.summarize_profile(profile, settings.confidence),
        "c4_law_fits": distance.fit_laws(mean_profile, settings.aic_margin),
        "c4_first_position": distance.summarize_first_position(ratios, settings.confidence),
    }


def primacy_tables(m1_runs: pd.DataFrame, n_layer: int, settings: Settings) -> dict[str, pd.DataFrame]:
    """Primacy by source position (``primacy.per_source``) per sequence, then over sequences."""
    condition = m1_runs["condition"].iloc[0]
    sources = primacy.per_source(primacy.earlier_cells(m1_runs, {condition: n_layer}))
    final = {condition: int(m1_runs["step"].max())}
    runs = primacy.run_table(sources, max(settings.buffer, 1), final)
    return {
        "primacy_sources": primacy.summarize_sources(sources, final, settings.confidence),
        "primacy_runs": runs,
        "primacy_summary": primacy.summarize_runs(runs, primacy.condition_info(pd.DataFrame()), settings.confidence),
    }


def attention_tables(weights: Tensor, labels: Labels, family: str, settings: Settings) -> dict[str, pd.DataFrame]:
    """The study's ``m8_attention_mass`` (mean over sequences) and the sink share per layer with intervals over sequences.

    ``weights``: (N, L, H, T, T) attention probabilities.
    """
    n, n_layer, n_head, length, _ = weights.shape
    m8 = labels.label(attention_mass_table(weights))
    per_sequence = pd.concat([labels.label(attention_mass_table(weights[i : i + 1]), seed=i) for i in range(n)],
                             ignore_index=True)
    heads = sinks.head_table(per_sequence)
    runs = pd.DataFrame({"condition": labels.condition, "seed": range(n), "task": "text", "pos_encoding": family,
                         "regime": STANDARD.name, "n_layer": n_layer, "d_model": np.nan, "context": length,
                         "steps": labels.step})
    return {"m8_attention_mass": m8, "sink_heads": heads, "sink_share": sinks.share_table(heads, runs, settings.confidence)}


def card_tables(per_sequence: Tensor, labels: Labels, n_layer: int, settings: Settings,
                weights: Tensor | None = None, family: str = "") -> dict[str, pd.DataFrame]:
    """Every table of the card from G per sequence (N, L+1, T, T) and, where read, the attention probabilities."""
    m1 = m1_table(per_sequence, labels)
    m1_runs = per_sequence_m1(per_sequence, labels)
    tables = {"m1_gradient_matrix": m1}
    tables |= distance_tables(m1_runs, m1, n_layer, settings)
    tables |= primacy_tables(m1_runs, n_layer, settings)
    if weights is not None:
        tables |= attention_tables(weights, labels, family, settings)
    return tables


def split_tables(per_sequence: pd.DataFrame, labels: Labels, settings: Settings) -> dict[str, pd.DataFrame]:
    """C2's direct / earlier split (``precaching``) per sequence, and its shares over sequences per block and overall."""
    runs = per_sequence.assign(condition=labels.condition, step=labels.step)
    runs = runs[["condition", "seed", "step", *[c for c in per_sequence.columns if c != "seed"]]]
    keys = ["condition", "step", "group", "layer"]
    summary = _interval_rows(runs, keys, "share_direct", settings.confidence).merge(
        _interval_rows(runs, keys, "share_earlier", settings.confidence).drop(columns="n_sequences"), on=keys)
    return {"card_precaching": runs, "card_precaching_summary": summary}


def diagonal_normalised_table(per_sequence: Tensor, labels: Labels) -> pd.DataFrame:
    """M1's schema on G[t, s] / G[t, t] (the published protocol's row normalisation)."""
    from .gradients import normalise_by_diagonal

    return m1_table(normalise_by_diagonal(per_sequence.double()), labels)


def summary_numbers(tables: dict[str, pd.DataFrame]) -> dict[str, object]:
    """The card's headline numbers, as plain values (the Typst template prints them)."""
    def records(name: str) -> list[dict[str, object]]:
        table = tables.get(name)
        if table is None or table.empty:
            return []
        return [{k: (None if isinstance(v, float) and not np.isfinite(v) else v) for k, v in row.items()}
                for row in table.replace({np.nan: None}).to_dict("records")]

    primacy_layer0 = tables["primacy_summary"]
    tables.setdefault("card_precaching_summary", pd.DataFrame())
    return {
        "slopes": records("card_slope_summary"),
        "laws": records("c4_law_fits"),
        "first_position": records("c4_first_position"),
        "primacy": records("primacy_summary") if not primacy_layer0.empty else [],
        "sinks": records("sink_share"),
        "split": records("card_precaching_summary"),
    }

