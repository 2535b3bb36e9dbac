"""Figure (C2): the myopia gap per task and regime, and the held-out loss per position, standard vs myopic.

Top: gap = myopic minus standard held-out loss, paired by seed (same initialisation
and data order), mean over positions, with bootstrap intervals. Bottom: loss by
position after training; where the myopic curve rises above standard, earlier
positions would have had to pre-compute something for that position.
"""
import sys
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

sys.path.insert(0, str(Path(__file__).resolve().parent))
import style  # noqa: E402

REGIMES = ["standard", "myopic-state", "myopic-full"]


def plot(gap: pd.DataFrame, by_position: pd.DataFrame) -> plt.Figure:
    colours = dict(zip(REGIMES, sns.color_palette(style.PALETTE, len(REGIMES)), strict=True))
    tasks = list(dict.fromkeys(gap["task"]))
    figure, axes = plt.subplots(2, max(len(tasks), 1), figsize=style.sized(2.0 * max(len(tasks), 1) + 1.2, 4.4), squeeze=False, layout="constrained")
    for col, task in enumerate(tasks):
        ax = axes[0, col]
        mine = gap[gap["task"] == task]
        for i, row in enumerate(mine.itertuples()):
            ax.errorbar(i, row.gap_estimate, yerr=[[row.gap_estimate - row.gap_low], [row.gap_high - row.gap_estimate]],
                        fmt="o", color=colours[row.regime], capsize=3)
        ax.axhline(0, color="0.5", linestyle="--", linewidth=style.line(0.8))
        # Short tick labels ("state", "full"); the legend names the regimes in full.
        ticks = [r.removeprefix("myopic-") + (f"\n({e})" if e != "learned" else "") for r, e in zip(mine["regime"], mine["pos_encoding"], strict=True)]
        ax.set_xticks(range(len(mine)), ticks)
        ax.set_xlim(-0.5, len(mine) - 0.5)
        ax.set(title=task, ylabel="gap (myopic − standard)" if col == 0 else "")
        ax = axes[1, col]
        positions = by_position[by_position["task"] == task]
        first = positions[positions["regime"] == positions["regime"].iloc[0]].sort_values("t")
        ax.plot(first["t"], first["loss_standard"], color=colours["standard"], label="standard" if col == 0 else None)
        for regime, curve in positions.groupby("regime"):
            curve = curve.sort_values("t")
            ax.plot(curve["t"], curve["loss_myopic"], color=colours[regime], label=regime if col == 0 else None)
        ax.set(xlabel="position t", ylabel="held-out loss" if col == 0 else "")
    figure.legend(loc="outside right upper", frameon=False)
    return figure


def main(gap_path: str, position_path: str, pdf: str, png: str) -> None:
    style.save(plot(pd.read_csv(gap_path), pd.read_csv(position_path)), pdf, png)


if "snakemake" in globals():
    from analysis.logs import log_to

    with log_to(snakemake.log[0]):  # noqa: F821
        main(snakemake.input.gap, snakemake.input.by_position, snakemake.output.pdf, snakemake.output.png)  # noqa: F821
