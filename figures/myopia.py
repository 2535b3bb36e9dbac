"""Figure (C2): the myopia gap along training, as a difference-in-differences, and the loss by position.

Top, one panel per myopic regime: against the training step, the gap (myopic minus standard
held-out loss, paired by seed) on the task that needs pre-caching (sine shift 1), on the
control (shift 0), and their difference (DiD), each a mean over seeds with its Student t
interval from the statistics stage. A DiD that opens early and closes later is slower
learning; one that stays open is a worse end point. Bottom: held-out loss by position after
training, standard vs myopic, per task.
"""
import sys
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

sys.path.insert(0, str(Path(__file__).resolve().parent))
import style  # noqa: E402

REGIMES = ["standard", "myopic-state", "myopic-full"]
SERIES = {"gap_treated": ("gap, shift 1", "-"), "gap_control": ("gap, shift 0 (control)", "--"), "did": ("DiD", "-")}


def plot_along(ax: plt.Axes, along: pd.DataFrame, regime: str, colours: dict, first: bool) -> None:
    curve = along[along["regime"] == regime].sort_values("step")
    for (column, (label, dash)), colour in zip(SERIES.items(), colours["series"], strict=True):
        style.band(ax, curve["step"], curve[f"{column}_mean"], curve[f"{column}_low"], curve[f"{column}_high"], colour, dash,
                   label if first else None)
    ax.axhline(0, color="0.5", linestyle=":", linewidth=style.line(0.8))
    ax.set_xscale("symlog", linthresh=10)  # checkpoints are log-spaced and include step 0
    ax.set_xlim(0, curve["step"].max())
    ax.set(title=regime, xlabel="training step", ylabel="held-out loss difference" if first else "")


def plot_positions(ax: plt.Axes, positions: pd.DataFrame, task: str, colours: dict, first: bool) -> None:
    mine = positions[positions["task"] == task]
    reference = mine[mine["regime"] == mine["regime"].iloc[0]].sort_values("t")
    ax.plot(reference["t"], reference["loss_standard"], color=colours["standard"], label="standard" if first else None)
    for regime, curve in mine.groupby("regime"):
        curve = curve.sort_values("t")
        ax.plot(curve["t"], curve["loss_myopic"], color=colours[regime], label=regime if first else None)
    ax.set(title=task, xlabel="position t", ylabel="held-out loss (final)" if first else "")


def plot(along: pd.DataFrame, positions: pd.DataFrame) -> plt.Figure:
    palette = sns.color_palette(style.PALETTE, 10)
    colours = dict(zip(REGIMES, palette, strict=False)) | {"series": [palette[3], palette[7], "black"]}
    regimes = [r for r in REGIMES[1:] if not along.empty and r in set(along["regime"])]
    tasks = list(dict.fromkeys(positions["task"])) if not positions.empty else []
    columns = max(len(regimes), len(tasks), 1)
    figure, axes = plt.subplots(2, columns, figsize=style.sized(2.2 * columns + 1.6, 4.6), squeeze=False, layout="constrained")
    for col in range(columns):
        if col < len(regimes):
            plot_along(axes[0, col], along, regimes[col], colours, col == 0)
        else:
            axes[0, col].set_axis_off()
        if col < len(tasks):
            plot_positions(axes[1, col], positions, tasks[col], colours, col == 0)
        else:
            axes[1, col].set_axis_off()
    figure.legend(loc="outside right upper", frameon=False)
    return figure


def main(along_path: str, position_path: str, pdf: str, png: str) -> None:
    style.save(plot(pd.read_csv(along_path), pd.read_csv(position_path)), pdf, png)


if "snakemake" in globals():
    from analysis.logs import log_to

    with log_to(snakemake.log[0]):
        main(snakemake.input.along, snakemake.input.by_position, snakemake.output.pdf, snakemake.output.png)
