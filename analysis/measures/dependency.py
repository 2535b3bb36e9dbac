"""M1 dependency share: how much of a later loss's gradient lands on the positions whose information it needs (C1).

Non-zero gradient below the diagonal is structural (softmax weights are never exactly
zero), so it cannot show that gradient *concentrates* on the needed positions. On tasks
whose dependencies are known (``Task.dependencies``: [b, t, s] True iff the target at t
needs the input at s), this measure reads the per-sequence gradient matrix G^l[t, s] of
M1 and, for each layer below the last and each target row t, reports

    share_t   = sum_{s < t, s needed} G[t, s] / sum_{s < t} G[t, s]
    uniform_t = (number of needed s < t) / t

i.e. the fraction of the row's gradient mass on earlier sources that falls on the needed
ones, against the fraction an even spread over the t earlier sources would put there.
Only rows with at least one needed and at least one unneeded earlier source are kept
(otherwise the share is 1 or 0 by definition). The own position s = t is left out: it
always carries the direct path and is needed by every target. The last layer is left out:
there G[t, s < t] is exactly 0 (teacher forcing, C5).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd
import torch
from torch import Tensor

from .base import register

if TYPE_CHECKING:
    from ..models import GPT
    from .data import RunData

COLUMNS = ["layer", "t", "share", "uniform", "n_sequences"]


def dependency_share(matrix: Tensor, dependencies: Tensor) -> pd.DataFrame:
    """One row per (layer below the last, target t): mean share and uniform share over qualifying sequences.

    ``matrix`` is M1 per sequence, (N, L+1, T, T); ``dependencies`` is (N, T, T) bool. A
    sequence counts for row (layer, t) when its row has a needed and an unneeded earlier
    source and a non-zero gradient mass on earlier sources (a myopic regime sends none).
    """
    grads = matrix[:, :-1].to(torch.float64)  # (N, L, T, T): layers 0 .. L-1
    length = grads.shape[-1]
    if dependencies.shape != (grads.shape[0], length, length):
        raise ValueError(f"dependencies of shape {tuple(dependencies.shape)} do not match M1 rows {tuple(grads.shape)}")
    earlier = torch.ones(length, length, dtype=torch.bool, device=grads.device).tril(-1)  # [t, s]: s < t
    needed = dependencies.to(grads.device).bool() & earlier
    unneeded = ~dependencies.to(grads.device).bool() & earlier
    n_needed = needed.sum(-1)  # (N, T)
    has_both = (n_needed > 0) & (unneeded.sum(-1) > 0)  # (N, T)
    total = (grads * earlier).sum(-1)  # (N, L, T)
    on_needed = (grads * needed[:, None]).sum(-1)
    valid = has_both[:, None] & (total > 0)
    share = torch.where(valid, on_needed / torch.where(valid, total, 1.0), 0.0)
    positions = torch.arange(length, device=grads.device).clamp(min=1)
    uniform = torch.where(valid, (n_needed / positions)[:, None], 0.0)
    count = valid.sum(0)  # (L, T)
    layer, t = torch.nonzero(count, as_tuple=True)
    n = count[layer, t].to(torch.float64)
    return pd.DataFrame(
        {
            "layer": layer.cpu().numpy(),
            "t": t.cpu().numpy(),
            "share": (share.sum(0)[layer, t] / n).cpu().numpy(),
            "uniform": (uniform.sum(0)[layer, t] / n).cpu().numpy(),
            "n_sequences": count[layer, t].cpu().numpy(),
        },
        columns=COLUMNS,
    )


@register(
    "m1_dependency_share",
    applies=lambda data: data.dependencies is not None,  # tasks whose needed positions are known (not text)
    ends_only=True,  # architecture (initialisation) against trained; M1 itself keeps every checkpoint
)
def measure_dependency_share(model: GPT, data: RunData) -> pd.DataFrame:
    return dependency_share(data.gradient_matrix(model), data.dependencies)
