"""M6: linear probes for information that only later positions need.

A ridge-regression probe reads a task's probe feature (``Task.probe_features``)
from the residual stream h_s^l. It is fitted on one held-out split, its ridge
penalty chosen on a second, and its R^2 reported on a third, so the score is an
honest out-of-sample number. Inputs are standardised with the fit split's
statistics; the penalty grid is relative to the number of fit samples.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd
import torch
from torch import Tensor

from ..models import GPT
from ..regimes import STANDARD
from ..tasks import Batch, Task
from .base import register

if TYPE_CHECKING:
    from .data import RunData

ALPHAS = (1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0)  # fixed before looking: ridge penalty / n_fit
SPLITS = ("fit", "select", "score")


@dataclass(frozen=True)
class RidgeProbe:
    mean_x: Tensor
    scale_x: Tensor
    mean_y: Tensor
    weights: Tensor

    def predict(self, x: Tensor) -> Tensor:
        return ((x - self.mean_x) / self.scale_x) @ self.weights + self.mean_y


def fit_ridge(x: Tensor, y: Tensor, alpha: float) -> RidgeProbe:
    """Minimise ||y - y_mean - z W||^2 + alpha n ||W||^2 with z the standardised x (float64)."""
    x, y = x.double(), y.double()
    mean_x, mean_y = x.mean(0), y.mean(0)
    scale_x = x.std(0).clamp_min(1e-12)
    z = (x - mean_x) / scale_x
    gram = z.T @ z + alpha * len(z) * torch.eye(z.shape[1], dtype=z.dtype)
    return RidgeProbe(mean_x, scale_x, mean_y, torch.linalg.solve(gram, z.T @ (y - mean_y)))


def r_squared(y: Tensor, prediction: Tensor) -> float:
    """1 - SSE / SST, summed over output columns (variance-weighted for multi-output targets)."""
    y, prediction = y.double(), prediction.double()
    total = float(((y - y.mean(0)) ** 2).sum())
    return 1.0 - float(((y - prediction) ** 2).sum()) / total if total > 0 else float("nan")


def select_and_score(data: dict[str, tuple[Tensor, Tensor]]) -> tuple[float, float]:
    """(held-out R^2 on ``score``, chosen alpha): fit on ``fit``, pick alpha by R^2 on ``select``."""
    x_fit, y_fit = data["fit"]
    probes = {alpha: fit_ridge(x_fit, y_fit, alpha) for alpha in ALPHAS}
    x_sel, y_sel = data["select"]
    alpha = max(ALPHAS, key=lambda a: r_squared(y_sel, probes[a].predict(x_sel.double())))
    x_score, y_score = data["score"]
    return r_squared(y_score, probes[alpha].predict(x_score.double())), alpha


@torch.no_grad()
def probe_table(model: GPT, task: Task, splits: dict[str, Batch]) -> pd.DataFrame:
    """R^2 per probe feature and layer (0 = the input stream h^0, L = the last block's output)."""
    streams = {name: model(batch.inputs, STANDARD, return_residuals=True)[1] for name, batch in splits.items()}
    features = {name: task.probe_features(batch) for name, batch in splits.items()}
    rows = []
    for feature in features["fit"]:
        for layer in range(len(streams["fit"])):
            data = {}
            for split in SPLITS:
                target = features[split][feature]
                data[split] = (streams[split][layer][target.mask], target.values[target.mask])
            score, alpha = select_and_score(data)
            rows.append(
                {
                    "feature": feature,
                    "layer": layer,
                    "r2": score,
                    "alpha": alpha,
                    "n_fit": len(data["fit"][0]),
                    "n_score": len(data["score"][0]),
                }
            )
    return pd.DataFrame(rows, columns=["feature", "layer", "r2", "alpha", "n_fit", "n_score"])


@register("m6_probes", applies=lambda data: bool(data.task.probe_features(data.sample("probe-check", 1))))
def measure_probes(model: GPT, data: RunData) -> pd.DataFrame:
    return probe_table(model, data.task, data.probe_splits)
