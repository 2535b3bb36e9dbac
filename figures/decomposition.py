"""Figure (C2): where the training gradient comes from, per layer, after training and along training.

Shares are projections of each part on the total gradient (they sum to 1): direct
(through the position's own computation), shared weights (key/value weights through
earlier positions' keys and values) and pre-caching (through earlier hidden states).
Standard training, the study's default encoding (``model.pos_encoding``); error bars and bands
are bootstrap intervals over seeds. Top: one panel per layer, the tasks down the side, a marker
per part after training. Bottom: small multiples, one per task, the shares of all weights along training.
"""

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from figures import Tables, style

PARTS = {"direct": "direct", "shared": "shared weights", "precache": "pre-caching"}
ALONG_PER_ROW = 5  # small multiples along training


def layer_name(layer: int, n_layer: int) -> str:
    return {-2: "all", -1: "input"}.get(layer, "readout" if layer == n_layer else f"block {layer}")


def by_layer(axes: np.ndarray, final: pd.DataFrame, tasks: list[str], n_layer: int, colours: dict, markers: dict) -> None:
    """One panel per layer: each task a row, its three shares as markers with horizontal error bars."""
    layers = sorted(final["layer"].unique())
    for ax, layer in zip(axes, layers, strict=False):
        at = final[final["layer"] == layer].set_index("task")
        for i, part in enumerate(PARTS):
            rows = at.reindex(tasks)
            y = np.arange(len(tasks)) + (i - 1) * 0.25
            ax.errorbar(rows[f"{part}_mean"], y, xerr=[rows[f"{part}_mean"] - rows[f"{part}_low"], rows[f"{part}_high"] - rows[f"{part}_mean"]],
                        fmt=markers[part], color=colours[part], markersize=style.line(3), elinewidth=style.line(0.7), capsize=0,
                        label=PARTS[part] if ax is axes[0] else None)
        ax.axvline(0, color="0.6", linewidth=style.line(0.6))
        ax.set(title=layer_name(int(layer), n_layer), xlim=(-0.1, 1.1), xticks=[0, 0.5, 1], xlabel="share")
    axes[0].set_yticks(range(len(tasks)), tasks)  # the axes share y: one set of task labels, on the left
    axes[0].set_ylim(len(tasks) - 0.5, -0.5)
    for ax in axes[len(layers):]:
        ax.set_axis_off()


def along(axes: np.ndarray, shares: pd.DataFrame, conditions: dict[str, str], colours: dict) -> None:
    """Small multiples: the shares of all weights (layer -2) against the step, one panel per task."""
    for ax, (task, condition) in zip(axes.flat, conditions.items(), strict=False):
        everything = shares[(shares["condition"] == condition) & (shares["layer"] == -2)].sort_values("step")
        for part in PARTS:
            style.band(ax, everything["step"].clip(lower=1), everything[f"{part}_mean"], everything[f"{part}_low"],
                       everything[f"{part}_high"], colours[part], "-", None)
        ax.set_xscale("log")
        ax.set_ylim(-0.1, 1.1)
        ax.set_title(task, fontsize="small")
    for ax in axes.flat[len(conditions):]:
        ax.set_axis_off()
    axes[len(axes) // 2, 0].set_ylabel("share")
    for ax in axes[-1]:
        ax.set_xlabel("step (0 at 1)")


def plot(tables: Tables, *, conditions: list[str], default_encoding: str) -> plt.Figure:
    shares, runs = tables["shares"], tables["runs"]
    conditions = style.present(conditions, runs)
    info = runs.groupby("condition").first().loc[conditions]
    info = info[(info["regime"] == "standard") & (info["pos_encoding"] == default_encoding)]
    chosen = {task: info.index[info["task"] == task][0] for task in dict.fromkeys(info["task"])}
    tasks = list(chosen)
    n_layer = int(info["n_layer"].max()) if len(info) else 0
    colours, markers = style.factor_colours(list(PARTS)), dict(zip(PARTS, style.FACTOR_MARKERS, strict=False))
    mine = shares[shares["condition"].isin(chosen.values())]
    final = mine[mine["step"] == mine.groupby("condition")["step"].transform("max")]
    final = final.assign(task=final["condition"].map({c: t for t, c in chosen.items()}))
    layers = max(final["layer"].nunique(), 1)
    rows = -(-max(len(tasks), 1) // ALONG_PER_ROW)
    figure = plt.figure(figsize=style.sized(style.PAGE_WIDTH_IN, 0.18 * len(tasks) + 1.3 + 1.25 * rows), layout="constrained")
    top, bottom = figure.subfigures(2, 1, height_ratios=[0.18 * len(tasks) + 1.0, 1.25 * rows])
    top_axes = top.subplots(1, layers, sharey=True, squeeze=False)[0]
    top.suptitle("after training, by layer", fontsize="small")
    by_layer(top_axes, final, tasks, n_layer, colours, markers)
    bottom_axes = bottom.subplots(rows, min(ALONG_PER_ROW, max(len(tasks), 1)), sharex=True, sharey=True, squeeze=False)
    bottom.suptitle("all weights, along training", fontsize="small")
    along(bottom_axes, shares, chosen, colours)
    figure.legend(*top_axes[0].get_legend_handles_labels(), loc="outside upper center", ncol=len(PARTS), frameon=False)
    return figure
