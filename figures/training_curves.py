"""Figure: training curves (training loss, mean over seeds) per task and condition, against the task baseline."""

import matplotlib.pyplot as plt
import seaborn as sns

from figures import Tables, style


def plot(tables: Tables, *, conditions: list[str], confidence: float) -> plt.Figure:
    log, runs = tables["log"], tables["runs"]
    info = runs.drop_duplicates("condition").set_index("condition")
    data = log[log["condition"].isin(conditions)].join(info[["task", "pos_encoding", "regime", "baseline_loss"]], on="condition")
    tasks = list(dict.fromkeys(data["task"]))
    columns = min(3, max(len(tasks), 1))
    rows = -(-len(tasks) // columns)
    figure, axes = plt.subplots(rows, columns, figsize=style.sized(2.3 * columns + 1.6, 2.0 * rows), squeeze=False, layout="constrained")
    # The encoding's colour and the regime's line style, the same in every panel, named once in a shared legend.
    colours = style.encoding_colours(list(dict.fromkeys(data["pos_encoding"])))
    regimes = [r for r in style.REGIME_STYLE if r in set(data["regime"])]
    dashes = {"-": "", "--": (4, 2), ":": (1, 1.5)}
    for ax, task in zip(axes.flat, tasks, strict=False):
        panel = data[data["task"] == task]
        sns.lineplot(data=panel, x="step", y="train_loss", hue="pos_encoding", style="regime", errorbar=("ci", 100 * confidence),
                     n_boot=500, seed=0, ax=ax, linewidth=style.line(1.0), palette=colours, legend=False,
                     dashes={r: dashes[style.REGIME_STYLE[r]] for r in regimes})
        ax.axhline(float(panel["baseline_loss"].iloc[0]), color="0.5", linestyle="--", linewidth=style.line(0.8))
        ax.set(title=task, xlabel="step", ylabel="training loss" if ax in axes[:, 0] else "")
    for ax in list(axes.flat)[len(tasks):]:
        ax.set_visible(False)
    handles = [plt.Line2D([], [], color=colour, linewidth=style.line(1.5)) for colour in colours.values()]
    handles += [plt.Line2D([], [], color="0.3", linestyle=style.REGIME_STYLE[r], linewidth=style.line(1.2)) for r in regimes]
    figure.legend(handles, [*colours, *regimes], loc="outside right upper", frameon=False, title="positions; regime")
    return figure
