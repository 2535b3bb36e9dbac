"""M4: the myopia gap, the held-out loss a myopic-trained model gives up against standard training.

Per run we record the held-out loss at every position (held-out sequences drawn per
seed, the same for every regime of that seed). The gap pairs each myopic run with the standard
run of the same seed and otherwise identical factors: same initialisation and the
same data order, so the difference isolates the training regime.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pandas as pd
import torch
from torch import Tensor

from ..grid import GRID_FACTORS
from ..models import GPT
from ..regimes import STANDARD
from .base import register

if TYPE_CHECKING:
    from .data import RunData

LossFn = Callable[[Tensor, Tensor], Tensor]
# Everything that must match for two runs to differ only in their training regime: the other grid factors and the seed.
PAIRING_FACTORS = [*(factor for factor in GRID_FACTORS if factor != "regime"), "seed"]


@torch.no_grad()
def position_loss_table(model: GPT, inputs: Tensor, targets: Tensor, loss_fn: LossFn) -> pd.DataFrame:
    """Held-out loss per position t, mean over sequences (the forward pass is regime independent)."""
    prediction, _ = model(inputs, STANDARD)
    losses = loss_fn(prediction, targets)  # (N, T)
    return pd.DataFrame({"t": range(losses.shape[1]), "loss_mean": losses.mean(0).double().numpy()})


@register("m4_position_loss")
def measure_position_loss(model: GPT, data: RunData) -> pd.DataFrame:
    """On the sequences of the training record's held-out loss."""
    return position_loss_table(model, data.evaluation.inputs, data.evaluation.targets, data.task.loss_per_position)


M4_COLUMNS = {"condition": "object", "seed": "int64", "step": "int64", "t": "int64", "loss_mean": "float64"}


def myopia_gap(position_losses: pd.DataFrame, runs: pd.DataFrame) -> pd.DataFrame:
    """Per myopic run, step and position: its loss minus the paired standard run's; t = -1 is the mean over t.

    ``position_losses`` is the aggregated M4 table (condition, seed, step, t, loss_mean);
    ``runs`` the runs table (one row per run with its factors).
    """
    if "loss_mean" not in position_losses:  # no run measured M4 (measure.only): an empty gap, with its columns
        position_losses = pd.DataFrame({column: pd.Series(dtype=dtype) for column, dtype in M4_COLUMNS.items()})
    factors = runs[["condition", *PAIRING_FACTORS, "regime"]]
    # equivalent mutant: merge on the common columns: position_losses and the factors share only condition and seed
    table = position_losses.merge(factors, on=["condition", "seed"], validate="many_to_one")
    # equivalent mutant: as_index=None is falsy, as False
    overall = table.groupby(["condition", "seed", "step"], as_index=False)["loss_mean"].mean().assign(t=-1)
    # equivalent mutant: merge on the common columns: the per-run means and the factors share only condition and seed
    overall = overall.merge(factors, on=["condition", "seed"])
    # equivalent mutant: the concatenated index is discarded by the final sort_values(ignore_index=True)
    table = pd.concat([table, overall], ignore_index=True)
    standard = table[table["regime"] == "standard"]
    myopic = table[table["regime"] != "standard"]
    keys = [*PAIRING_FACTORS, "step", "t"]
    paired = myopic.merge(
        standard[[*keys, "condition", "loss_mean"]], on=keys, suffixes=("", "_standard"), validate="many_to_one"
    )
    paired = paired.rename(columns={"condition_standard": "standard_condition", "loss_mean": "loss_myopic"})
    paired["gap"] = paired["loss_myopic"] - paired["loss_mean_standard"]
    columns = ["condition", "standard_condition", "regime", *PAIRING_FACTORS, "step", "t"]
    return (
        paired[[*columns, "loss_myopic", "loss_mean_standard", "gap"]]
        .rename(columns={"loss_mean_standard": "loss_standard"})
        .sort_values(["condition", "seed", "step", "t"], ignore_index=True)
    )
