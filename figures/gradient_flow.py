"""Figure: the cross-position gradient matrix G^l and its within-target distance profile, init vs trained.

Per condition (row): heatmaps of log10 G^l[t, s] (mean over held-out sequences, then
over seeds) at initialisation and after training, and the within-row profile exp f^l(d)
(row fixed effects removed, see analysis/stats/distance.py) on log-log axes with a
Student t band over seeds, layers from black (h^0) to grey.
"""


import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.colors import LogNorm

from figures import Tables, style


def matrix(m1: pd.DataFrame, condition: str, step: int, layer: int, context: int) -> np.ndarray:
    rows = m1[(m1["condition"] == condition) & (m1["step"] == step) & (m1["layer"] == layer)]
    mean = rows.groupby(["t", "s"])["grad_norm_mean"].mean()
    grid = np.full((context, context), np.nan)
    grid[mean.index.get_level_values("t"), mean.index.get_level_values("s")] = mean.to_numpy()
    return grid


def plot(tables: Tables, *, conditions: list[str], default_encoding: str) -> plt.Figure:
    m1, profile, runs = tables["m1"], tables["profile"], tables["runs"]
    measured = [c for c in conditions if c in set(m1["condition"])]  # runs that skip M1 (measure.only) have no matrix
    conditions = representative(runs, measured, default_encoding)
    info = runs.groupby("condition").first()
    n_layer = int(info.loc[conditions, "n_layer"].max())
    columns = n_layer + 2  # init layer 0, trained layers 0..L-1, profile
    figure, axes = plt.subplots(
        len(conditions), columns, figsize=style.sized(2.3 * columns + 1.6, 2.3 * len(conditions)), squeeze=False,
        gridspec_kw={"width_ratios": [1] * (columns - 1) + [1.5]}, layout="constrained",
    )
    for row, condition in enumerate(conditions):
        context, blocks = int(info.loc[condition, "context"]), int(info.loc[condition, "n_layer"])
        steps = sorted(m1.loc[m1["condition"] == condition, "step"].unique())
        first, last = steps[0], steps[-1]
        panels = [(first, 0, "init")] + [(last, layer, "trained") for layer in range(blocks)]
        grids = [matrix(m1, condition, step, layer, context) for step, layer, _ in panels]
        positive = np.concatenate([g[np.isfinite(g) & (g > 0)] for g in grids])
        norm = LogNorm(vmin=max(positive.min(), positive.max() * 1e-6), vmax=positive.max())
        for col, ((_step, layer, label), grid) in enumerate(zip(panels, grids, strict=False)):
            ax = axes[row, col]
            image = ax.imshow(np.where(grid > 0, grid, np.nan), cmap=style.SEQUENTIAL, norm=norm, origin="upper")
            if row == 0:
                ax.set_title(f"$G^{{{layer}}}$, {label}")
            ax.set_xlabel("source $s$" if row == len(conditions) - 1 else "")
            if col == 0:
                # The task names the row; its steps are in the caption's "init" (step 0) and "trained" (last step).
                ax.set_ylabel(f"{info.loc[condition, 'task']}\ntarget $t$")
            else:
                ax.tick_params(labelleft=False)
        figure.colorbar(image, ax=axes[row, : columns - 1].tolist(), shrink=0.9, pad=0.02,
                        label=r"$G^l[t, s]$")
        ax = axes[row, -1]
        greys = style.layer_greys(n_layer)  # layers in a grey ramp: colour is the encoding's
        for layer in range(blocks):
            for step, label in ((last, "trained"), (first, "init")):
                line = profile[(profile["condition"] == condition) & (profile["step"] == step)
                               & (profile["layer"] == layer) & (profile["distance"] >= 1)].sort_values("distance")
                style.band(ax, line["distance"] + 1, line["profile_mean"], line["profile_low"], line["profile_high"],
                           greys[layer], style.CHECKPOINT_STYLE[label], f"$h^{{{layer}}}$, {label}")
        style.log_distance_axis(ax, context)
        ax.set(xlabel="distance $d + 1$" if row == len(conditions) - 1 else "", ylabel="within-row $e^{f^l(d)}$",
               title="within-target profile" if row == 0 else "")
    handles, labels = axes[0, -1].get_legend_handles_labels()
    figure.legend(handles, labels, loc="outside upper center", ncol=len(labels), frameon=False)
    return figure


SIZE = ["n_layer", "d_model", "context"]


def representative(runs: pd.DataFrame, conditions: list[str], default_encoding: str) -> list[str]:
    """One condition per task family (``task_name``: the lag sweep is one family, its middle distance drawn; the
    sweep has its own figure): the default encoding and standard training where present, and the family's most
    common model size (the reference model of a profile that sweeps sizes)."""
    conditions = style.present(conditions, runs)
    info = runs.groupby("condition").first().loc[conditions]
    chosen = []
    for _, group in info.groupby("task_name" if "task_name" in info else "task", sort=False):
        preferred = group[(group["pos_encoding"] == default_encoding) & (group["regime"] == "standard")]
        group = preferred if len(preferred) else group
        typical = group[(group[SIZE] == group[SIZE].mode().iloc[0]).all(axis=1)]
        group = typical if len(typical) else group
        tasks = list(dict.fromkeys(group["task"]))  # in config order: lag-2 ... lag-24
        chosen.append(group[group["task"] == tasks[(len(tasks) - 1) // 2]].index[0])
    return chosen
