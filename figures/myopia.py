"""Figure (C2): the myopia gap along training, as a difference-in-differences, and the loss by position.

Top, one panel per myopic regime (and encoding, where there are several): against the training
step, at every held-out evaluation, the gap (myopic minus standard held-out loss, paired by seed)
on the task that needs pre-caching (sine shift 1), on the control (shift 0), and their difference
(DiD), each a mean over seeds with its Student t interval from the statistics stage; shaded, the
plateau window the verdict averages over. A DiD that opens early and closes later is slower
learning; one that stays open is a worse end point. Bottom: held-out loss by position after
training, standard vs myopic, per task (natural text included where it was trained myopically).
"""

import matplotlib.pyplot as plt
import pandas as pd

from figures import Tables, style

REGIMES = ["standard", "myopic-state", "myopic-full"]
# Series and regimes are not encodings: a factor colour and greys, told apart by line style too.
SERIES = {"gap_treated": ("gap, shift 1", "-", style.FACTOR_COLOURS[0]), "gap_control": ("gap, shift 0 (control)", "--", "0.55"),
          "did": ("DiD", "-", "black")}


def panels(along: pd.DataFrame) -> list[tuple[str, str]]:
    """(encoding, regime) of each top panel: the myopic regimes in order, per encoding."""
    if along.empty:
        return []
    present = set(zip(along["pos_encoding"], along["regime"], strict=True))
    return [(enc, regime) for enc in dict.fromkeys(along["pos_encoding"]) for regime in REGIMES[1:] if (enc, regime) in present]


def plot_along(ax: plt.Axes, curve: pd.DataFrame, title: str, first: bool) -> None:
    curve = curve.sort_values("step")
    end = curve["steps"].max()
    ax.axvspan(curve["window_start"].iloc[0], end, color="0.9", zorder=0, label="plateau window" if first else None)
    for column, (label, dash, colour) in SERIES.items():
        style.band(ax, curve["step"], curve[f"{column}_mean"], curve[f"{column}_low"], curve[f"{column}_high"], colour, dash,
                   label if first else None)
    ax.axhline(0, color="0.5", linestyle=":", linewidth=style.line(0.8))
    ax.set_xlim(0, end)  # evaluations are evenly spaced: a linear axis shows where the curves settle
    ax.set(title=title, xlabel="training step", ylabel="held-out loss difference" if first else "")


def regime_line(ax: plt.Axes, t: pd.Series, loss: pd.Series, regime: str, first: bool) -> None:
    ax.plot(t, loss, color=style.REGIME_GREY[regime], linestyle=style.REGIME_STYLE[regime], linewidth=style.line(1.1),
            label=regime if first else None)


def plot_positions(ax: plt.Axes, positions: pd.DataFrame, task: str, first: bool) -> None:
    mine = positions[positions["task"] == task]
    reference = mine[mine["regime"] == mine["regime"].iloc[0]].sort_values("t")
    regime_line(ax, reference["t"], reference["loss_standard"], "standard", first)
    for regime, curve in mine.groupby("regime"):
        curve = curve.sort_values("t")
        regime_line(ax, curve["t"], curve["loss_myopic"], regime, first)
    ax.set(title=task, xlabel="position t", ylabel="held-out loss (final)" if first else "")


def plot(tables: Tables) -> plt.Figure:
    along, positions = tables["along"], tables["by_position"]
    top = panels(along)
    several = len({enc for enc, _ in top}) > 1
    tasks = list(dict.fromkeys(positions["task"])) if not positions.empty else []
    columns = max(len(top), len(tasks), 1)
    figure, axes = plt.subplots(2, columns, figsize=style.sized(2.2 * columns + 1.6, 4.6), squeeze=False, layout="constrained")
    for col in range(columns):
        if col < len(top):
            enc, regime = top[col]
            curve = along[(along["pos_encoding"] == enc) & (along["regime"] == regime)]
            plot_along(axes[0, col], curve, f"{regime} ({enc})" if several else regime, col == 0)
        else:
            axes[0, col].set_axis_off()
        if col < len(tasks):
            plot_positions(axes[1, col], positions, tasks[col], col == 0)
        else:
            axes[1, col].set_axis_off()
    figure.legend(loc="outside right upper", frameon=False)
    return figure
