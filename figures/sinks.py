"""Figure: attention sinks, over training and by encoding, against the trap of the causal mask.

Top two rows, one panel per task (the tasks with the most conditions): the share of heads
that are sinks (late-target mass on s = 0 above every other source s < T // 2) beside the
chance level 1 / (T // 2), and the late-target mass on s = 0 relative to uniform attention
(1 = no preference), against the training step; one line per standard condition with its
Student t interval over seeds from the statistics stage as an error bar at the last checkpoint
(dodged; a band over two to five seeds spans the axis), the y range following the means. Bottom: (a) the trap, the raw mass
(mean over the targets that read a source) against s, which uniform causal attention
already makes largest at s = 0; (b) what a sink looks like, late-target mass relative to
uniform against s for every trained head of the condition whose heads favour s = 0 most;
(c) per run, the heads' mean late-target excess on s = 0 against the gradient the first
positions receive (primacy_early, layer 0).
"""
import itertools

import matplotlib.pyplot as plt
import pandas as pd

from analysis.models.positional import ENCODING_ORDER
from figures import Tables, style

ALL_LAYERS = "all"
PANELS = 3  # task panels in the top rows
DODGE = 1.22  # the last checkpoint's error bars, one step right of each other on the log axis
SERIES = {"share": "share of heads that are sinks", "first_excess": "late mass on $s=0$ / uniform"}


def labels(info: pd.DataFrame) -> pd.Series:
    """Per condition: its encoding, plus depth, width and context where conditions of one task and encoding differ in them."""
    varies = info.groupby(["task", "pos_encoding"])[["n_layer", "d_model", "context"]].transform("nunique").gt(1).any(axis=1)
    suffix = "L" + info["n_layer"].astype(str) + " D" + info["d_model"].astype(str) + " T" + info["context"].astype(str)
    return info["pos_encoding"].where(~varies, info["pos_encoding"] + " " + suffix)


def step_axis(ax: plt.Axes, steps: pd.Series) -> None:
    """Symmetric-log steps (checkpoints are log-spaced and include 0), ticked at the checkpoints."""
    ticks = sorted(steps.unique())
    positive = [t for t in ticks if t > 0]
    ax.set_xscale("symlog", linthresh=float(positive[0]) if positive else 1.0)
    ax.set_xlim(0, max(ticks))
    ax.set_xticks(ticks, [str(int(t)) for t in ticks])
    ax.minorticks_off()


def plot_series(ax: plt.Axes, curves: pd.DataFrame, column: str, colours: dict, legend: bool) -> None:
    """One line of means per condition, its interval as an error bar at the last checkpoint only (dodged): bands
    over two to five seeds span the whole axis and hide the lines. The y range follows the means; a bar past it is
    cut at the panel's edge."""
    shown = [label for label in colours if label in set(curves["label"])]
    last = curves["step"].max()
    for i, label in enumerate(shown):
        curve = curves[curves["label"] == label].sort_values("step")
        ax.plot(curve["step"], curve[f"{column}_mean"], "o-", color=colours[label], linewidth=style.line(1.2),
                markersize=style.line(2.5), label=label if legend else None)
        end = curve[curve["step"] == last]
        ax.errorbar(end["step"] * DODGE ** (i + 1), end[f"{column}_mean"], color=colours[label], capsize=1.5,
                    yerr=[end[f"{column}_mean"] - end[f"{column}_low"], end[f"{column}_high"] - end[f"{column}_mean"]],
                    elinewidth=style.line(0.8), fmt="none")
    means = curves[f"{column}_mean"].dropna()
    top = float(means.max()) if len(means) else 1.0
    if column == "share":
        ax.set_ylim(0, min(1.0, max(top, float(curves["chance"].max())) * 1.25 + 0.02))  # a share: never past 1
        for chance in sorted(curves["chance"].unique()):
            ax.axhline(chance, color="0.4", linestyle="--", linewidth=style.line(0.8),
                       label="chance $1/(T/2)$" if legend and chance == curves["chance"].min() else None)
    else:
        ax.set_ylim(0, max(top, 1.0) * 1.2)
        ax.axhline(1.0, color="0.4", linestyle=":", linewidth=style.line(0.8), label="uniform attention" if legend else None)
    step_axis(ax, curves["step"])
    ax.set_xlim(0, last * DODGE ** (len(shown) + 1))


def plot_trap(ax: plt.Axes, attention: pd.DataFrame, condition: str, steps: tuple[int, int]) -> None:
    mine = attention[attention["condition"] == condition]
    for step, dash, name in ((steps[0], "--", "init"), (steps[1], "-", "trained")):
        at = mine[mine["step"] == step].groupby("s")[["mass", "uniform_mass"]].mean()
        ax.plot(at.index, at["mass"], color="black", linestyle=dash, linewidth=style.line(1.0), label=f"measured, {name}")
    uniform = mine[mine["step"] == steps[1]].groupby("s")["uniform_mass"].mean()
    ax.plot(uniform.index, uniform, color="0.6", linewidth=style.line(2.0), alpha=0.7, label="uniform attention")
    ax.set_yscale("log")
    ax.set(title="(a) raw mass", xlabel="source position s", ylabel="raw mass (mean over $t \\geq s$)")
    ax.legend(frameon=False, fontsize="small")


def plot_heads(ax: plt.Axes, attention: pd.DataFrame, condition: str, step: int) -> None:
    mine = attention[(attention["condition"] == condition) & (attention["step"] == step)]
    mine = mine[mine["s"] < mine["n_targets"].max() // 2]
    colours = style.layer_greys(int(mine["layer"].max()) + 1 if len(mine) else 1)
    for (seed, layer, head), curve in mine.groupby(["seed", "layer", "head"]):
        ratio = curve["late_mass"] / curve["late_uniform_mass"]
        ax.plot(curve["s"], ratio, color=colours[layer], alpha=0.6, linewidth=style.line(0.8),
                label=f"layer {layer}" if (seed, head) == (mine["seed"].min(), 0) else None)
    ax.axhline(1.0, color="0.4", linestyle=":", linewidth=style.line(0.8))
    ax.set(title=f"(b) {condition.split('_standard')[0].replace('_', ', ')}, trained", xlabel="source position s < T/2",
           ylabel="late mass / uniform")
    ax.legend(frameon=False, fontsize="small")


def plot_relation(ax: plt.Axes, gradient: pd.DataFrame, colours: dict) -> None:
    markers = dict(zip(sorted(gradient["task"].unique()), itertools.cycle("osD^vP*Xph<>"), strict=False))  # as many tasks as there are
    for (encoding, task), runs in gradient.groupby(["pos_encoding", "task"]):
        ax.scatter(runs["primacy_early"], runs["first_excess"], color=colours.get(encoding, "0.3"), marker=markers[task], s=14)
    for task, marker in markers.items():  # the marker key, in grey (the colour is the encoding, as above)
        ax.scatter([], [], color="0.5", marker=marker, s=14, label=task)
    ax.axhline(1.0, color="0.4", linestyle=":", linewidth=style.line(0.8))
    ax.axvline(0.0, color="0.4", linestyle=":", linewidth=style.line(0.8))
    ax.set(title="(c) per run, trained", xlabel="primacy_early (layer 0)", ylabel="mean late mass on $s=0$ / uniform")
    ax.legend(frameon=False, fontsize="small", title="task", title_fontsize="small", loc="upper left", bbox_to_anchor=(1.0, 1.0))


def plot(tables: Tables, *, conditions: list[str]) -> plt.Figure:
    share, gradient, attention = tables["share"], tables["gradient"], tables["attention"]
    share = share[share["condition"].isin(conditions) & (share["regime"] == "standard") & (share["layer"].astype(str) == ALL_LAYERS)]
    figure, axes = plt.subplots(3, PANELS, figsize=style.sized(8.5, 8.0), squeeze=False, layout="constrained")
    if share.empty:
        for ax in axes.flat:
            ax.set_axis_off()
        axes[0, 0].text(0, 0.5, "no attention measured in this study", transform=axes[0, 0].transAxes)
        return figure
    info = share.drop_duplicates("condition").set_index("condition")
    share = share.assign(label=share["condition"].map(labels(info)))
    order = sorted(share["label"].unique(), key=lambda x: (ENCODING_ORDER.index(x.split()[0]) if x.split()[0] in ENCODING_ORDER else 9, x))
    colours = style.label_colours(order)
    tasks = share.groupby("task")["condition"].nunique().sort_values(ascending=False, kind="stable").index[:PANELS]
    for col in range(PANELS):
        for row, column in enumerate(SERIES):
            ax = axes[row, col]
            if col >= len(tasks):
                ax.set_axis_off()
                continue
            plot_series(ax, share[share["task"] == tasks[col]], column, colours, legend=col == 0)
            ax.set(title=tasks[col] if row == 0 else "", xlabel="training step" if row == 1 else "",
                   ylabel=SERIES[column] if col == 0 else "")
    shown_from = share[share["task"].isin(tasks)]
    trained = shown_from[shown_from["stage"] == "trained"]
    shown = (trained if len(trained) else shown_from).sort_values("first_excess_mean", ascending=False)["condition"].iloc[0]
    steps = share.loc[share["condition"] == shown, "step"]
    plot_trap(axes[2, 0], attention, shown, (int(steps.min()), int(steps.max())))
    plot_heads(axes[2, 1], attention, shown, int(steps.max()))
    relation = gradient[gradient["condition"].isin(conditions)]
    if relation.empty:
        axes[2, 2].text(0.05, 0.5, "no gradient table for the first positions", transform=axes[2, 2].transAxes)
        axes[2, 2].set_axis_off()
    else:
        plot_relation(axes[2, 2], relation, style.encoding_colours(list(dict.fromkeys(relation["pos_encoding"]))))
    handles = {label: handle for ax in axes[:2, 0] for handle, label in zip(*ax.get_legend_handles_labels(), strict=True)}
    figure.legend(handles.values(), handles.keys(), loc="outside lower center", ncols=min(len(handles), 6), frameon=False)
    return figure
