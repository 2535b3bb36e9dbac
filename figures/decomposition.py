"""Figure (C2): where the training gradient comes from, per layer, after training and along training.

Shares are projections of each part on the total gradient (they sum to 1): direct
(through the position's own computation), shared weights (key/value weights through
earlier positions' keys and values) and pre-caching (through earlier hidden states).
Standard training, the study's default encoding (``model.pos_encoding``); bands and bars are
bootstrap intervals over seeds.
"""

import matplotlib.pyplot as plt
import seaborn as sns

from figures import Tables, style

PARTS = {"direct": "direct", "shared": "shared weights", "precache": "pre-caching"}


def layer_name(layer: int, n_layer: int) -> str:
    return {-2: "all", -1: "input"}.get(layer, "readout" if layer == n_layer else f"block {layer}")


def plot(tables: Tables, *, conditions: list[str], default_encoding: str) -> plt.Figure:
    shares, runs = tables["shares"], tables["runs"]
    conditions = style.present(conditions, runs)
    info = runs.groupby("condition").first().loc[conditions]
    info = info[(info["regime"] == "standard") & (info["pos_encoding"] == default_encoding)]
    tasks = list(dict.fromkeys(info["task"]))
    colours = dict(zip(PARTS, sns.color_palette(style.PALETTE, len(PARTS)), strict=True))
    # One row per task: shares by layer after training (left), shares of all weights along training (right).
    figure, axes = plt.subplots(len(tasks), 2, figsize=style.sized(6.5, 1.45 * len(tasks) + 0.6), squeeze=False,
                                layout="constrained", gridspec_kw={"width_ratios": [1.3, 1]})
    for row, task in enumerate(tasks):
        condition = info.index[info["task"] == task][0]
        n_layer = int(info.loc[condition, "n_layer"])
        mine = shares[shares["condition"] == condition]
        final = mine[mine["step"] == mine["step"].max()].sort_values("layer")
        ax = axes[row, 0]
        x = range(len(final))
        width = 0.27
        for i, (part, label) in enumerate(PARTS.items()):
            err = [final[f"{part}_mean"] - final[f"{part}_low"], final[f"{part}_high"] - final[f"{part}_mean"]]
            ax.bar([v + (i - 1) * width for v in x], final[f"{part}_mean"], width, yerr=err, color=colours[part],
                   label=label if row == 0 else None, capsize=1.5, error_kw={"linewidth": style.line(0.7)})
        ax.axhline(0, color="0.4", linewidth=style.line(0.8))
        last = row == len(tasks) - 1
        ax.set_xticks(list(x), [layer_name(int(v), n_layer) for v in final["layer"]] if last else [])
        ax.set(ylabel=f"{task}\nshare", title="after training, by layer" if row == 0 else "")
        ax = axes[row, 1]
        everything = mine[mine["layer"] == -2].sort_values("step")
        for part in PARTS:
            style.band(ax, everything["step"].clip(lower=1), everything[f"{part}_mean"], everything[f"{part}_low"],
                       everything[f"{part}_high"], colours[part], "-", None)
        ax.set_xscale("log")
        ax.set(xlabel="training step (0 shown at 1)" if last else "", title="all weights, along training" if row == 0 else "")
        if not last:
            ax.tick_params(labelbottom=False)
    figure.legend(loc="outside upper center", ncol=len(PARTS), frameon=False)
    return figure
