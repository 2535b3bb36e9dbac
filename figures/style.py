"""One look for every figure: seaborn's colour-blind palette, readable fonts, vector PDF + PNG."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402
from matplotlib.ticker import NullFormatter  # noqa: E402

PALETTE = "colorblind"
SEQUENTIAL = "viridis"
CHECKPOINT_STYLE = {"trained": "-", "init": "--"}


def apply() -> None:
    sns.set_theme(context="paper", style="ticks", palette=PALETTE, font_scale=1.1)
    plt.rcParams.update({"figure.dpi": 150, "savefig.bbox": "tight", "pdf.fonttype": 42, "axes.titlesize": 10})


def save(figure: plt.Figure, pdf: str | Path, png: str | Path) -> None:
    for path in (pdf, png):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(pdf)
    figure.savefig(png, dpi=200)
    plt.close(figure)


def band(ax: plt.Axes, x: pd.Series, mean: pd.Series, low: pd.Series, high: pd.Series, color, linestyle: str, label: str | None) -> None:
    """A line with its interval band (intervals come from the statistics stage, not from the plot)."""
    ax.plot(x, mean, color=color, linestyle=linestyle, label=label, linewidth=1.4)
    ax.fill_between(x, low, high, color=color, alpha=0.2, linewidth=0)


def log_distance_axis(ax: plt.Axes, context: int) -> None:
    ax.set_xscale("log")
    ax.set_yscale("log")
    ticks = [t for t in (2, 3, 5, 10, 20, 50, 100, 200) if t <= context]
    ax.set_xticks(ticks, [str(t) for t in ticks])
    ax.xaxis.set_minor_formatter(NullFormatter())
