"""M3: where a parameter's gradient comes from.

The training gradient of the summed loss splits exactly into three parts:

* ``direct``: through each position's own computation (the ``myopic-full`` gradient);
* ``shared``: what ``myopic-state`` adds: key/value weights (and their LayerNorm)
  learning through earlier positions' keys and values, read from frozen states;
* ``precache``: the rest (``standard`` minus ``myopic-state``): gradient that
  reaches earlier positions' hidden states, i.e. teaches them to carry
  information for later tokens.

For every parameter group and layer we report the norm of each part, its share
of the total (the projection <part, total> / ||total||^2, so the shares sum to 1
and a part pointing against the total has a negative share), the norm ratio
||part|| / ||total||, and the cosine between each pair of parts.
"""
from __future__ import annotations

from collections.abc import Callable
from itertools import combinations
from typing import TYPE_CHECKING

import pandas as pd
import torch
from torch import Tensor

from ..models import GPT
from ..regimes import REGIMES
from .base import register
from .parameters import named_parameters, parameter_group

if TYPE_CHECKING:
    from .data import RunData

PARTS = ("direct", "shared", "precache")
LossFn = Callable[[Tensor, Tensor], Tensor]


def regime_gradients(model: GPT, inputs: Tensor, targets: Tensor, loss_fn: LossFn) -> dict[str, dict[str, Tensor]]:
    """Gradient of the mean loss under each regime: regime -> parameter name -> gradient."""
    named = named_parameters(model)
    out = {}
    for regime in ("standard", "myopic-state", "myopic-full"):
        prediction, _ = model(inputs, REGIMES[regime])
        grads = torch.autograd.grad(loss_fn(prediction, targets).mean(), [p for _, p in named], allow_unused=True)
        out[regime] = {name: (torch.zeros_like(p) if g is None else g) for (name, p), g in zip(named, grads, strict=True)}
    return out


def decompose(model: GPT, inputs: Tensor, targets: Tensor, loss_fn: LossFn) -> dict[str, dict[str, Tensor]]:
    """Part -> parameter name -> gradient; the parts sum to the standard gradient by construction."""
    grads = regime_gradients(model, inputs, targets, loss_fn)
    return {
        "total": grads["standard"],
        "direct": grads["myopic-full"],
        "shared": {n: grads["myopic-state"][n] - grads["myopic-full"][n] for n in grads["standard"]},
        "precache": {n: grads["standard"][n] - grads["myopic-state"][n] for n in grads["standard"]},
    }


def _cosine(a: Tensor, b: Tensor) -> float:
    denominator = float(a.norm() * b.norm())
    return float(a @ b) / denominator if denominator > 0 else float("nan")


def decomposition_table(model: GPT, inputs: Tensor, targets: Tensor, loss_fn: LossFn) -> pd.DataFrame:
    """One row per (group, layer), plus ``all`` (every parameter) with layer -2."""
    parts = decompose(model, inputs, targets, loss_fn)
    members: dict[tuple[str, int], list[str]] = {}
    for name, _ in named_parameters(model):
        members.setdefault(parameter_group(name, model.config.n_layer), []).append(name)
    members[("all", -2)] = [name for name, _ in named_parameters(model)]
    rows = []
    for (group, layer), names in members.items():
        flat = {part: torch.cat([parts[part][n].flatten() for n in names]).double() for part in ("total", *PARTS)}
        total_sq = float(flat["total"] @ flat["total"])
        row: dict[str, float | str | int] = {"group": group, "layer": layer, "n_entries": flat["total"].numel()}
        row["norm_total"] = total_sq**0.5
        for part in PARTS:
            row[f"norm_{part}"] = float(flat[part].norm())
            row[f"share_{part}"] = float(flat[part] @ flat["total"]) / total_sq if total_sq > 0 else float("nan")
            row[f"ratio_{part}"] = row[f"norm_{part}"] / row["norm_total"] if total_sq > 0 else float("nan")
        for a, b in combinations(PARTS, 2):
            row[f"cos_{a}_{b}"] = _cosine(flat[a], flat[b])
        rows.append(row)
    return pd.DataFrame(rows)


@register("m3_decomposition")
def measure_decomposition(model: GPT, data: RunData) -> pd.DataFrame:
    return decomposition_table(model, data.gradient_batch.inputs, data.gradient_batch.targets, data.task.loss_per_position)
