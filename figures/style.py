"""One look for every figure: seaborn's colour-blind palette, readable fonts, vector PDF + PNG."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402
from matplotlib.ticker import NullFormatter  # noqa: E402

PALETTE = "colorblind"
# The paper's text width (A4 less 2 x 2.2 cm margins). A figure wider than this is shrunk onto
# the page, so its fonts and lines are scaled up by the same factor: every figure then prints
# its text at about 8-9 pt whatever its drawn size.
PAGE_WIDTH_IN = 6.5
_scale = 1.0
SEQUENTIAL = "viridis"
CHECKPOINT_STYLE = {"trained": "-", "init": "--"}


def apply(width: float = PAGE_WIDTH_IN) -> None:
    """Set the theme for a figure ``width`` inches wide (call before creating it)."""
    global _scale
    _scale = max(1.0, width / PAGE_WIDTH_IN)
    np.random.seed(0)  # seaborn's strip-plot jitter draws from numpy's global generator: same data, same figure
    sns.set_theme(style="ticks", palette=PALETTE)
    base = sns.plotting_context("paper", font_scale=0.85)
    sns.set_context({key: value * _scale for key, value in base.items()})
    plt.rcParams.update({"figure.dpi": 150, "savefig.bbox": "tight", "pdf.fonttype": 42,
                         "axes.titlesize": base["axes.titlesize"] * _scale})


def sized(width: float, height: float) -> tuple[float, float]:
    """A figure size, with the theme scaled for it: ``figsize=style.sized(w, h)``."""
    apply(width)
    return width, height


def present(conditions: list[str], runs: pd.DataFrame) -> list[str]:
    """The planned conditions that have at least one trained run (a condition whose every seed
    diverged has none: it is listed in tables/missing_runs.csv and left out of the figures)."""
    trained = set(runs["condition"])
    return [c for c in conditions if c in trained]


def line(width: float) -> float:
    """A line width in points as it should print on the page (scaled like the fonts)."""
    return width * _scale


def save(figure: plt.Figure, pdf: str | Path, png: str | Path) -> None:
    for path in (pdf, png):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(pdf)
    figure.savefig(png, dpi=200)
    plt.close(figure)


def band(ax: plt.Axes, x: pd.Series, mean: pd.Series, low: pd.Series, high: pd.Series, color, linestyle: str, label: str | None) -> None:
    """A line with its interval band (intervals come from the statistics stage, not from the plot)."""
    ax.plot(x, mean, color=color, linestyle=linestyle, label=label, linewidth=line(1.2))
    ax.fill_between(x, low, high, color=color, alpha=0.2, linewidth=0)


def log_distance_axis(ax: plt.Axes, context: int) -> None:
    ax.set_xscale("log")
    ax.set_yscale("log")
    ticks = [t for t in (2, 3, 5, 10, 20, 50, 100, 200) if t <= context]
    ax.set_xticks(ticks, [str(t) for t in ticks])
    ax.xaxis.set_minor_formatter(NullFormatter())
