"""Figure: within-target distance profiles exp f^l(d) by positional encoding, one panel per task and layer.

f^l is the distance effect of the fixed-effects model log G^l[t, s] = a_t + f^l(d), so a
row's total (which falls as 1/(t+1)) does not pass for distance. Standard training only;
solid lines after training, dashed at initialisation; bands are Student t intervals over
seeds (geometric means). A flat line means "distance does not matter within a target row".
The dotted line is the power law c + A (d+1)^-p fitted per seed, averaged over seeds.
"""

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns
from matplotlib.lines import Line2D

from figures import Tables, style


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
    encodings = list(dict.fromkeys(info["pos_encoding"]))
    colours = dict(zip(encodings, sns.color_palette(style.PALETTE, len(encodings)), strict=True))
    n_layer = int(info["n_layer"].max())
    figure, axes = plt.subplots(n_layer, len(tasks), figsize=style.sized(2.6 * len(tasks) + 1.4, 2.2 * n_layer),
                                squeeze=False, layout="constrained")
    for col, task in enumerate(tasks):
        for layer in range(n_layer):
            ax = axes[layer, col]
            for condition, row in info[info["task"] == task].iterrows():
                mine = profile[(profile["condition"] == condition) & (profile["layer"] == layer) & (profile["distance"] >= 1)]
                for step, label in ((mine["step"].max(), "trained"), (mine["step"].min(), "init")):
                    line = mine[mine["step"] == step].sort_values("distance")
                    style.band(ax, line["distance"] + 1, line["profile_mean"], line["profile_low"], line["profile_high"],
                               colours[row["pos_encoding"]], style.CHECKPOINT_STYLE[label],
                               row["pos_encoding"] if label == "trained" else None)
                    if label == "trained" and fits is not None:
                        fit = fits[(fits["condition"] == condition) & (fits["layer"] == layer) & (fits["step"] == step)]
                        if len(fit):  # the power law fitted per seed, its curves averaged over seeds
                            d = line["distance"].to_numpy(float)
                            curves = [c + a * (d + 1) ** -p for c, a, p in
                                      zip(fit["power_c"], fit["power_amplitude"], fit["power_p"], strict=True)]
                            ax.plot(d + 1, np.mean(curves, axis=0), color="0.2", linestyle=":", linewidth=style.line(0.9))
            style.log_distance_axis(ax, int(info.loc[info["task"] == task, "context"].max()))
            ax.set(xlabel="distance $d + 1$" if layer == n_layer - 1 else "", ylabel=f"within-row $e^{{f^{{{layer}}}(d)}}$",
                   title=f"{task}, layer {layer}")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    handles += [Line2D([], [], color="0.3", linestyle=ls) for ls in style.CHECKPOINT_STYLE.values()]
    labels += list(style.CHECKPOINT_STYLE)
    if fits is not None:
        handles.append(Line2D([], [], color="0.2", linestyle=":"))
        labels.append("power-law fit")
    figure.legend(handles, labels, loc="outside right upper", frameon=False)
    return figure
