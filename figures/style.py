"""One look for every figure: one colour per positional encoding (colour-blind safe), readable fonts, vector PDF + PNG.

Colour is kept for the positional encoding: every other factor is drawn so that it cannot be read as one.
Tasks (and the parts or kinds a figure splits into) take FACTOR_COLOURS, a qualitative set kept apart from
the encoding colours and always paired with a marker; regimes take a grey ramp with a line style and a
marker; layers a grey ramp.
"""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402
from matplotlib.ticker import NullFormatter  # noqa: E402

# Okabe & Ito's colour-blind-safe palette (Color Universal Design, 2008): every figure that colours by
# positional encoding takes its colours from ENCODING_COLOURS, so an encoding looks the same everywhere.
OKABE_ITO = {"blue": "#0072B2", "orange": "#E69F00", "bluish green": "#009E73", "reddish purple": "#CC79A7",
             "black": "#000000", "vermillion": "#D55E00", "sky blue": "#56B4E9", "yellow": "#F0E442"}
ENCODING_COLOURS = {"learned": OKABE_ITO["blue"], "sinusoidal": OKABE_ITO["orange"], "rope": OKABE_ITO["bluish green"],
                    "alibi": OKABE_ITO["reddish purple"], "none": OKABE_ITO["black"]}
SPARE_COLOURS = [OKABE_ITO["vermillion"], OKABE_ITO["sky blue"], "#999999"]  # encodings added later, in order of appearance
# What is not an encoding (tasks, parts of a gradient, kinds of weight): dark or muted hues away from every
# encoding colour (Delta E >= 30, tests/unit/test_figures.py), each with its own marker for a colour-blind reader.
FACTOR_COLOURS = ["#332288", "#A50026", "#5A5A00", "#DDCC77", "#882255", "#A6D854"]  # indigo, dark red, olive, sand, wine, lime
FACTOR_MARKERS = ["o", "s", "D", "^", "v", "P", "X", "*"]
REGIME_STYLE = {"standard": "-", "myopic-state": "--", "myopic-full": ":"}
REGIME_GREY = {"standard": "0.0", "myopic-state": "0.4", "myopic-full": "0.62"}
REGIME_MARKERS = {"standard": "o", "myopic-state": "s", "myopic-full": "^"}
# The paper's text width (A4 less 2 x 2.2 cm margins). A figure wider than this is shrunk onto
# the page, so its fonts and lines are scaled up by the same factor: every figure then prints
# its text at about 8-9 pt whatever its drawn size.
PAGE_WIDTH_IN = 6.5
_scale = 1.0
SEQUENTIAL = "viridis"
CHECKPOINT_STYLE = {"trained": "-", "init": "--"}


def encoding_colours(encodings: list[str]) -> dict[str, str]:
    """The colour of each encoding (in ENCODING_COLOURS' order, then the rest as given): its own in
    ENCODING_COLOURS, else the next spare one (cycled)."""
    known = [e for e in ENCODING_COLOURS if e in encodings]
    others = [e for e in dict.fromkeys(encodings) if e not in ENCODING_COLOURS]
    spare = {e: SPARE_COLOURS[i % len(SPARE_COLOURS)] for i, e in enumerate(others)}
    return {e: ENCODING_COLOURS[e] for e in known} | spare


def label_colours(labels: list[str]) -> dict[str, str]:
    """Encoding colours where every label is an encoding; else factor colours (variants of a sweep)."""
    if all(label in ENCODING_COLOURS for label in labels):
        return encoding_colours(labels)
    return factor_colours(labels)


def factor_colours(labels: list[str]) -> dict[str, str]:
    """One FACTOR_COLOURS colour per label of a factor that is not the encoding (cycled past six: pair with
    factor_markers)."""
    return {label: FACTOR_COLOURS[i % len(FACTOR_COLOURS)] for i, label in enumerate(dict.fromkeys(labels))}


def factor_markers(labels: list[str]) -> dict[str, str]:
    """One marker per label, in the order of factor_colours: colour and marker together name a task."""
    return {label: FACTOR_MARKERS[i % len(FACTOR_MARKERS)] for i, label in enumerate(dict.fromkeys(labels))}


def layer_greys(n_layer: int) -> list[str]:
    """A grey ramp from black (layer 0) to mid grey (the last layer): layers are ordered, and not encodings."""
    return [str(round(0.6 * layer / max(n_layer - 1, 1), 2)) for layer in range(n_layer)]


def apply(width: float = PAGE_WIDTH_IN) -> None:
    """Set the theme for a figure ``width`` inches wide (call before creating it)."""
    global _scale
    _scale = max(1.0, width / PAGE_WIDTH_IN)
    np.random.seed(0)  # seaborn's strip-plot jitter draws from numpy's global generator: same data, same figure
    sns.set_theme(style="ticks", palette=FACTOR_COLOURS)
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


def band(ax: plt.Axes, x: pd.Series, mean: pd.Series, low: pd.Series, high: pd.Series, color, linestyle: str, label: str | None,
         alpha: float = 0.15) -> None:
    """A line with its interval band (intervals come from the statistics stage, not from the plot); a lighter
    ``alpha`` where many bands overlap."""
    ax.plot(x, mean, color=color, linestyle=linestyle, label=label, linewidth=line(1.2))
    ax.fill_between(x, low, high, color=color, alpha=alpha, linewidth=0)


def log_distance_axis(ax: plt.Axes, context: int, ticks: tuple[int, ...] = (2, 3, 5, 10, 20, 50, 100, 200)) -> None:
    ax.set_xscale("log")
    ax.set_yscale("log")
    ticks = [t for t in ticks if t <= context]
    ax.set_xticks(ticks, [str(t) for t in ticks])
    ax.xaxis.set_minor_formatter(NullFormatter())
