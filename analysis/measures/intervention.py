"""C1b's multi-source tests: does the gradient rank *every* needed source above the unneeded ones, and does it agree with an intervention?

Two measures on the held-out sequences of M1 (``RunData.gradient_batch``), for tasks whose
dependencies are known (``Task.dependencies``):

* ``m1_separation`` (from M1 per sequence, no extra passes): for each layer below the last and
  target row t, over the sequences whose row has a needed and an unneeded earlier source,
  ``separated``: the fraction of rows in which every needed source's G[t, s] exceeds every
  unneeded earlier source's (the strict reading of "every earlier token it used"), and ``auc``:
  the probability that a needed source's gradient exceeds an unneeded one's (ties count 1/2;
  0.5 is no ordering, 1 is complete separation), the mean over those rows.
* ``m9_intervention``: the interventional effect E[t, s] = L_t(x with x_s resampled) - L_t(x),
  the mean over ``DRAWS`` independent draws of x_s from the task's input distribution
  (``Task.resample_inputs``), the rest of the sequence kept. Exact (no gradient, no
  linearisation) and cheap: one forward per (draw, s) of the N sequences. Per target row t (the
  same qualifying sequences as above) it reports the sums that give the pooled shares of the
  gradient (layer 0) and of the effect on the needed sources, the effect's own ordering of needed
  over unneeded sources (``effect_auc``), and the rank correlation between G^0[t, s] and E[t, s]
  over the earlier sources s of a row (Spearman, mean over the rows). The own position s = t is
  left out everywhere, as in ``m1_dependency_share``.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import torch
from scipy import stats
from torch import Tensor

from ..regimes import STANDARD, Regime
from .base import register

if TYPE_CHECKING:
    from ..models import GPT
    from .data import RunData
    from .gradient_matrix import LossFn

DRAWS = 2  # resamples of each x_s per sequence (N x DRAWS draws per (t, s)): the pooled shares need few, and each costs T forwards
MAX_SEQUENCES = 256  # sequences per forward when the copies for several s are batched (larger batches ran slower on CPU)
SEPARATION_COLUMNS = ["layer", "t", "separated", "auc", "n_sequences"]
INTERVENTION_COLUMNS = [
    "t", "n_sequences", "grad_needed", "grad_total", "effect_needed", "effect_total", "effect_auc", "rank_correlation",
]


@torch.no_grad()
def intervention_effect(
    model: GPT, inputs: Tensor, targets: Tensor, loss_fn: LossFn, replacements: Tensor, regime: Regime = STANDARD
) -> Tensor:
    """(N, T, T) per sequence: E[b, t, s], the loss increase at t when input s is replaced, mean over the draws.

    ``replacements`` is (draws, N, T, ...): draw r replaces x_s of sequence b by replacements[r, b, s].
    Entries s > t are exact zeros (causal: a later input cannot change L_t).
    """
    n, length = targets.shape
    base = loss_fn(model(inputs, regime)[0], targets)  # (N, T)
    effect = torch.zeros(n, length, length, dtype=base.dtype, device=base.device)
    per_pass = max(1, MAX_SEQUENCES // n)
    for replacement in replacements:
        for start in range(0, length, per_pass):
            positions = torch.arange(start, min(start + per_pass, length), device=inputs.device)
            copies = inputs.unsqueeze(0).repeat(len(positions), *([1] * inputs.dim()))  # (S, N, T, ...)
            copies[torch.arange(len(positions)), :, positions] = replacement[:, positions].movedim(1, 0)
            losses = loss_fn(model(copies.flatten(0, 1), regime)[0], targets.repeat(len(positions), 1))
            effect[:, :, positions] += (losses.view(len(positions), n, length) - base).permute(1, 2, 0)
    causal = torch.ones(length, length, dtype=torch.bool, device=effect.device).tril()
    return (effect / len(replacements)).masked_fill(~causal, 0.0)


def source_sets(dependencies: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """(needed, unneeded, qualifying): [b, t, s] masks of needed and unneeded earlier sources, and [b, t] rows with both."""
    length = dependencies.shape[-1]
    earlier = torch.ones(length, length, dtype=torch.bool, device=dependencies.device).tril(-1)
    needed, unneeded = dependencies.bool() & earlier, ~dependencies.bool() & earlier
    return needed, unneeded, needed.any(-1) & unneeded.any(-1)


def _row_ordering(values: Tensor, needed: Tensor, unneeded: Tensor) -> tuple[Tensor, Tensor]:
    """One target row: values, needed, unneeded (..., T) over sources -> (separated, auc) (...)."""
    low = torch.where(needed, values, torch.inf).amin(-1)
    high = torch.where(unneeded, values, -torch.inf).amax(-1)
    diff = values.unsqueeze(-1) - values.unsqueeze(-2)  # [..., a, c] = v[a] - v[c]
    pairs = (needed.unsqueeze(-1) & unneeded.unsqueeze(-2)).to(values.dtype)
    wins = ((diff > 0).to(values.dtype) + 0.5 * (diff == 0).to(values.dtype)) * pairs
    return (low > high).to(values.dtype), wins.sum((-1, -2)) / pairs.sum((-1, -2)).clamp(min=1.0)


def ordering(values: Tensor, dependencies: Tensor) -> tuple[Tensor, Tensor]:
    """Per row [..., t]: (separated, auc) of ``values`` [..., t, s] on the needed over the unneeded earlier sources.

    separated: min over needed > max over unneeded. auc: the fraction of (needed, unneeded) pairs
    in which the needed source's value is larger, ties counting 1/2. NaN where the row does not qualify.
    One row at a time, so memory grows as T^2, not T^3.
    """
    needed, unneeded, qualifying = source_sets(dependencies)
    values = values.to(torch.float64)
    separated = torch.full(values.shape[:-1], float("nan"), dtype=torch.float64, device=values.device)
    auc = separated.clone()
    for t in range(values.shape[-2]):
        row_separated, row_auc = _row_ordering(values[..., t, :], needed[..., t, :], unneeded[..., t, :])
        separated[..., t] = torch.where(qualifying[..., t], row_separated, torch.nan)
        auc[..., t] = torch.where(qualifying[..., t], row_auc, torch.nan)
    return separated, auc


def separation_table(matrix: Tensor, dependencies: Tensor) -> pd.DataFrame:
    """``m1_separation`` from M1 per sequence (N, L+1, T, T): one row per (layer below the last, t) with qualifying sequences."""
    grads = matrix[:, :-1]
    if dependencies.shape != (grads.shape[0], grads.shape[-1], grads.shape[-1]):
        raise ValueError(f"dependencies of shape {tuple(dependencies.shape)} do not match M1 rows {tuple(grads.shape)}")
    separated, auc = ordering(grads, dependencies.unsqueeze(1).expand(-1, grads.shape[1], -1, -1))
    count = source_sets(dependencies)[2].sum(0).expand(grads.shape[1], -1)  # (L, T): the same sequences at every layer
    layer, t = torch.nonzero(count, as_tuple=True)
    n = count[layer, t].to(torch.float64)
    return pd.DataFrame(
        {
            "layer": layer.cpu().numpy(), "t": t.cpu().numpy(),
            "separated": (torch.nan_to_num(separated).sum(0)[layer, t] / n).cpu().numpy(),
            "auc": (torch.nan_to_num(auc).sum(0)[layer, t] / n).cpu().numpy(),
            "n_sequences": count[layer, t].cpu().numpy(),
        },
        columns=SEPARATION_COLUMNS,
    )


def rank_correlation(gradient: Tensor, effect: Tensor, qualifying: Tensor) -> Tensor:
    """(N, T): Spearman correlation over the earlier sources s < t of G[b, t, s] and E[b, t, s]; NaN where undefined or not qualifying."""
    n, length = qualifying.shape
    out = np.full((n, length), np.nan)
    g, e = gradient.double().cpu().numpy(), effect.double().cpu().numpy()
    for t in range(2, length):  # at least two sources to rank
        rank_g, rank_e = stats.rankdata(g[:, t, :t], axis=-1), stats.rankdata(e[:, t, :t], axis=-1)
        rank_g, rank_e = rank_g - rank_g.mean(-1, keepdims=True), rank_e - rank_e.mean(-1, keepdims=True)
        scale = np.sqrt((rank_g**2).sum(-1) * (rank_e**2).sum(-1))
        with np.errstate(invalid="ignore", divide="ignore"):
            out[:, t] = np.where(scale > 0, (rank_g * rank_e).sum(-1) / scale, np.nan)
    result = torch.from_numpy(out)
    return torch.where(qualifying.cpu(), result, torch.nan)


def intervention_table(gradient: Tensor, effect: Tensor, dependencies: Tensor) -> pd.DataFrame:
    """``m9_intervention``: per target row t, sums over the qualifying sequences and the mean orderings (see the module docstring).

    ``gradient`` is G^0 per sequence (N, T, T), ``effect`` E (N, T, T). The rank correlation is
    averaged over the qualifying rows where it is defined (``n_sequences`` counts all of them).
    """
    needed, unneeded, qualifying = source_sets(dependencies)
    earlier = (needed | unneeded).to(torch.float64)
    gradient, effect = gradient.to(torch.float64).cpu(), effect.to(torch.float64).cpu()
    keep = qualifying.to(torch.float64)
    sums = {
        "grad_needed": (gradient * needed).sum(-1), "grad_total": (gradient * earlier).sum(-1),
        "effect_needed": (effect * needed).sum(-1), "effect_total": (effect * earlier).sum(-1),
    }
    count = qualifying.sum(0)
    rows = torch.nonzero(count, as_tuple=True)[0]
    table = {"t": rows.numpy(), "n_sequences": count[rows].numpy()}
    table |= {name: (value * keep).sum(0)[rows].numpy() for name, value in sums.items()}
    table["effect_auc"] = (torch.nan_to_num(ordering(effect, dependencies)[1]).sum(0)[rows] / count[rows]).numpy()
    correlation = rank_correlation(gradient, effect, qualifying)
    table["rank_correlation"] = (torch.nan_to_num(correlation).sum(0)[rows] / (~correlation.isnan()).sum(0)[rows]).numpy()
    return pd.DataFrame(table, columns=INTERVENTION_COLUMNS)


def replacement_inputs(data: RunData, draws: int = DRAWS) -> Tensor:
    """(draws, N, T, ...): independent draws of every input of the gradient batch, from the run's own held-out stream."""
    inputs = data.gradient_batch.inputs
    fresh = data.task.held_out().resample_inputs(draws * inputs.shape[0], inputs.shape[1], data.stream("intervention"))
    return fresh.view(draws, *inputs.shape).to(inputs.dtype)


def known_dependencies(data: RunData) -> bool:
    return data.dependencies is not None


def standard_with_known_dependencies(data: RunData) -> bool:
    """M9 costs DRAWS x T forwards per checkpoint; C1b reads it on standard runs only, so the ablation regimes skip it."""
    return data.spec.train["regime"] == STANDARD.name and known_dependencies(data)


@register("m1_separation", applies=known_dependencies, ends_only=True)
def measure_separation(model: GPT, data: RunData) -> pd.DataFrame:
    return separation_table(data.gradient_matrix(model), data.dependencies)


@register("m9_intervention", applies=standard_with_known_dependencies, ends_only=True)
def measure_intervention(model: GPT, data: RunData) -> pd.DataFrame:
    batch = data.gradient_batch
    device = next(model.parameters()).device
    effect = intervention_effect(
        model, batch.inputs.to(device), batch.targets.to(device), data.task.loss_per_position,
        replacement_inputs(data).to(device),
    )
    return intervention_table(data.gradient_matrix(model)[:, 0], effect.cpu(), data.dependencies)
