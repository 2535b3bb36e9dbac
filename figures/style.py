"""One look for every figure: seaborn's colour-blind palette, readable fonts, vector PDF + PNG."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import seaborn as sns  # noqa: E402

PALETTE = "colorblind"
SEQUENTIAL = "viridis"


def apply() -> None:
    sns.set_theme(context="paper", style="ticks", palette=PALETTE, font_scale=1.1)
    plt.rcParams.update({"figure.dpi": 150, "savefig.bbox": "tight", "pdf.fonttype": 42, "axes.titlesize": 10})


def save(figure: plt.Figure, pdf: str | Path, png: str | Path) -> None:
    for path in (pdf, png):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(pdf)
    figure.savefig(png, dpi=200)
    plt.close(figure)
