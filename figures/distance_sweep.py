"""Figure: C4b's known-distance sweep, each quantity against the lag distance d, one line per positional encoding.

Points are means over seeds with Student t intervals (``c4_sweep``); each panel's title gives the deciding
encodings' slope against ln d with its interval and the margin it is tested against, both read from
``c4_sweep_slopes`` (the rules the statistics resolved, never the defaults). Steps are shares of training;
the row-normalised height is descriptive (its ceiling grows with the rows a distance leaves).
"""

import matplotlib.pyplot as plt
import pandas as pd

from figures import Tables, style

QUANTITIES = {"steps_50": "steps to 50% of gap / training", "steps_90": "steps to 90% of gap / training",
              "gap_closed": "final share of gap closed", "share": "gradient share, needed source",
              "height": "row-normalised height"}


def _title(slopes: pd.DataFrame, quantity: str) -> str:
    deciding = slopes[(slopes["quantity"] == quantity) & slopes["deciding"].astype(bool)]
    if deciding.empty:
        return "descriptive"
    r = deciding.iloc[0]
    return f"{r['pos_encoding']}: {r['slope_mean']:.3f} [{r['slope_low']:.3f}, {r['slope_high']:.3f}]\nper ln d, margin ±{r['margin']:g}"


def plot(tables: Tables) -> plt.Figure:
    summary, slopes = tables["summary"], tables["slopes"]
    figure, grid = plt.subplots(2, 3, figsize=style.sized(7.5, 5.0), squeeze=False, layout="constrained")
    axes = grid.reshape(1, -1)[:, : len(QUANTITIES)]
    grid[-1, -1].axis("off")  # the legend's place
    if summary.empty:
        axes[0, 0].text(0.5, 0.5, "no sweep in this study", ha="center", va="center", transform=axes[0, 0].transAxes)
        return figure
    encodings = list(dict.fromkeys(summary["pos_encoding"]))
    colours = style.encoding_colours(encodings)
    for ax, (quantity, label) in zip(axes[0], QUANTITIES.items(), strict=True):
        for encoding in encodings:
            mine = summary[summary["pos_encoding"] == encoding].sort_values("distance")
            style.band(ax, mine["distance"], mine[f"{quantity}_mean"], mine[f"{quantity}_low"].fillna(mine[f"{quantity}_mean"]),
                       mine[f"{quantity}_high"].fillna(mine[f"{quantity}_mean"]), colours[encoding], "-", encoding)
            ax.scatter(mine["distance"], mine[f"{quantity}_mean"], color=colours[encoding], s=8)
        ax.set_xscale("log")
        ticks = sorted(summary["distance"].unique())
        ax.set_xticks(ticks, [str(t) for t in ticks])
        ax.minorticks_off()
        ax.set(xlabel="lag distance $d$", ylabel=label)
        ax.set_title(_title(slopes, quantity), fontsize="small")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    grid[-1, -1].legend(handles, labels, loc="center", frameon=False, title="positions")
    return figure
