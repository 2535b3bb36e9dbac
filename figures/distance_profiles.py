"""Figure: within-target distance profiles exp f^l(d) by positional encoding, one panel per task and layer.

f^l is the distance effect of the fixed-effects model log G^l[t, s] = a_t + f^l(d), so a
row's total (which falls as 1/(t+1)) does not pass for distance. Standard training only;
solid lines after training (with Student t bands over seeds, geometric means), thin dashed at
initialisation. A flat line means "distance does not matter within a target row".
The dotted line, in its encoding's colour, is the power law c + A (d+1)^-p fitted per seed and averaged over
seeds, drawn where it is positive. Two tasks a row, each with its layers side by side; the y range follows the
mean lines (bands over few seeds can span decades and are cut at the panel's edge).
"""

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.lines import Line2D

from figures import Tables, style

TASKS_PER_ROW = 2  # two tasks, each with its layers side by side, fill the column width


def power_law(fit: pd.DataFrame, d: np.ndarray) -> np.ndarray:
    """The seeds' fitted c + A (d+1)^-p averaged over seeds; NaN where it is not positive (c < 0 makes it dive
    towards zero, which a log axis cannot show)."""
    curves = [c + a * (d + 1) ** -p for c, a, p in zip(fit["power_c"], fit["power_amplitude"], fit["power_p"], strict=True)]
    mean = np.mean(curves, axis=0)
    return np.where(mean > 0, mean, np.nan)


def plot(tables: Tables, *, conditions: list[str]) -> plt.Figure:
    profile, runs, fits = tables["profile"], tables["runs"], tables.get("fits")
    measured = [c for c in conditions if c in set(profile["condition"])]  # runs that skip M1 (measure.only) have no profile
    conditions = style.present(measured, runs)
    info = runs.groupby("condition").first().loc[conditions]
    info = info[info["regime"] == "standard"]
    # Tasks trained with a single encoding appear in the gradient-flow figure; here encodings are compared.
    tasks = [t for t in dict.fromkeys(info["task"]) if info.loc[info["task"] == t, "pos_encoding"].nunique() > 1]
    tasks = tasks or list(dict.fromkeys(info["task"]))
    info = info[info["task"].isin(tasks)]
    colours = style.encoding_colours(list(dict.fromkeys(info["pos_encoding"])))
    n_layer = int(info["n_layer"].max())
    per_row = min(TASKS_PER_ROW, len(tasks))
    rows = -(-len(tasks) // per_row)
    figure, axes = plt.subplots(rows, per_row * n_layer, figsize=style.sized(style.PAGE_WIDTH_IN, 1.55 * rows + 0.5),
                                squeeze=False, layout="constrained")
    for ax in axes.flat[len(tasks) * n_layer:]:
        ax.set_axis_off()
    for index, task in enumerate(tasks):
        for layer in range(n_layer):
            ax = axes[index // per_row, (index % per_row) * n_layer + layer]
            shown = []  # the means drawn, which set the y range (a band over two seeds may span decades)
            for condition, row in info[info["task"] == task].iterrows():
                colour = colours[row["pos_encoding"]]
                mine = profile[(profile["condition"] == condition) & (profile["layer"] == layer) & (profile["distance"] >= 1)]
                trained, init = (mine[mine["step"] == step].sort_values("distance") for step in (mine["step"].max(), mine["step"].min()))
                style.band(ax, trained["distance"] + 1, trained["profile_mean"], trained["profile_low"], trained["profile_high"],
                           colour, style.CHECKPOINT_STYLE["trained"], row["pos_encoding"])
                ax.plot(init["distance"] + 1, init["profile_mean"], color=colour, linestyle=style.CHECKPOINT_STYLE["init"],
                        linewidth=style.line(0.8), alpha=0.8)
                shown += [trained["profile_mean"], init["profile_mean"]]
                fit = fits[(fits["condition"] == condition) & (fits["layer"] == layer) & (fits["step"] == mine["step"].max())] \
                    if fits is not None else []
                if len(fit):
                    d = trained["distance"].to_numpy(float)
                    ax.plot(d + 1, power_law(fit, d), color=colour, linestyle=":", linewidth=style.line(1.1))
            style.log_distance_axis(ax, int(info.loc[info["task"] == task, "context"].max()), ticks=(2, 5, 10, 20, 50, 100, 200))
            values = pd.concat(shown)
            values = values[np.isfinite(values) & (values > 0)]
            if len(values):
                ax.set_ylim(values.min() / 2, values.max() * 2)
            ax.set_title(f"{task}, layer {layer}", fontsize="small")
            ax.set_ylabel(r"within-row $e^{f^l(d)}$" if ax is axes[index // per_row, 0] else "")
            ax.set_xlabel("distance $d + 1$" if index // per_row == rows - 1 or index + per_row >= len(tasks) else "")
    handles = [Line2D([], [], color=colours[e], linewidth=style.line(1.2)) for e in colours]
    labels = list(colours)
    handles += [Line2D([], [], color="0.3", linestyle=ls, linewidth=style.line(1.0)) for ls in (*style.CHECKPOINT_STYLE.values(), ":")]
    labels += [*style.CHECKPOINT_STYLE, "power-law fit"]
    figure.legend(handles, labels, loc="outside lower center", ncol=len(labels), frameon=False)
    return figure
