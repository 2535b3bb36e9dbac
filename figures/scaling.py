"""Figure (scaling): how a deciding quantity moves with depth, width and context.

One row per quantity the rule names, one panel per sweep, the factor's levels on a log2
axis: the mean over seeds with its Student t interval (from the statistics stage), one line
per task; a hollow marker is a level that did not learn its task. A sweep none of the quantities
has levels in (the sine pair has no context sweep) gets no column; a profile without sweeps gets
a panel that says so.
"""
import textwrap

import matplotlib.pyplot as plt
import pandas as pd

from analysis.stats.scaling import QUANTITIES, SWEEPS
from figures import Tables, style


def _panel(ax: plt.Axes, rows: pd.DataFrame, colours: dict[str, str], markers: dict[str, str]) -> None:
    for task, line in rows.groupby("task", sort=True):
        line = line.sort_values("level")
        colour = colours[task]
        error = [line["mean"] - line["low"], line["high"] - line["mean"]]  # NaN (one seed): no bar
        ax.errorbar(line["level"], line["mean"], yerr=error, color=colour, capsize=2, linewidth=style.line(1.0), label=task)
        level_learned = line["learned"].astype(bool)
        ax.scatter(line.loc[level_learned, "level"], line.loc[level_learned, "mean"], color=colour, marker=markers[task],
                   zorder=3, s=18)
        ax.scatter(line.loc[~level_learned, "level"], line.loc[~level_learned, "mean"], facecolors="white", edgecolors=colour,
                   marker=markers[task], zorder=3, s=18, linewidths=style.line(1.0))
    levels = sorted(rows["level"].unique())
    ax.set_xscale("log", base=2)
    ax.set_xticks(levels, [str(int(level)) for level in levels])
    ax.minorticks_off()


def plot(tables: Tables, *, quantities: list[str]) -> plt.Figure:
    levels = tables["levels"]
    data = levels[levels["quantity"].isin(quantities)]
    if data.empty:
        figure, ax = plt.subplots(figsize=style.sized(3.0, 1.2), layout="constrained")
        ax.text(0.5, 0.5, "no sweep in this profile", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        return figure
    shown = [q for q in quantities if q in set(data["quantity"])]
    tasks = sorted(data["task"].unique())
    colours, markers = style.factor_colours(tasks), style.factor_markers(tasks)  # a task's, not an encoding's
    sweeps = {sweep: factor for sweep, factor in SWEEPS.items() if sweep in set(data["sweep"])}
    figure, axes = plt.subplots(len(shown), len(sweeps), figsize=style.sized(6.5 * len(sweeps) / len(SWEEPS) + 0.8, 1.9 * len(shown) + 0.4),
                                squeeze=False, layout="constrained", sharey="row")
    for row, quantity in zip(axes, shown, strict=True):
        for ax, (sweep, factor) in zip(row, sweeps.items(), strict=True):
            rows = data[(data["quantity"] == quantity) & (data["sweep"] == sweep)]
            if rows.empty:
                ax.text(0.5, 0.5, "no levels", ha="center", va="center", transform=ax.transAxes)
                ax.set_xticks([])
            else:
                _panel(ax, rows, colours, markers)
            ax.axhline(0, color="0.6", linestyle="--", linewidth=style.line(0.8))
            ax.set(title=f"{sweep}", xlabel=factor, ylabel=textwrap.fill(QUANTITIES[quantity][0], 26) if ax is row[0] else "")
    handles = [plt.Line2D([], [], color=colours[t], marker=markers[t], label=t) for t in tasks]
    handles.append(plt.Line2D([], [], color="0.4", marker="o", markerfacecolor="white", linestyle="", label="not learned"))
    figure.legend(handles=handles, loc="outside right upper", frameon=False)
    return figure
