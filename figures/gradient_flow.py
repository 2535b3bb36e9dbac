"""Figure: the cross-position gradient matrix G^l and its distance profile, init vs trained.

Per condition (row): heatmaps of log10 G^l[t, s] (mean over held-out sequences, then
over seeds) at initialisation and after training, and the distance profile g^l(d)
on log-log axes with a bootstrap band over seeds.
"""

import sys
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.colors import LogNorm
from matplotlib.ticker import NullFormatter

sys.path.insert(0, str(Path(__file__).resolve().parent))
import style  # noqa: E402


def matrix(m1: pd.DataFrame, condition: str, step: int, layer: int, context: int) -> np.ndarray:
    rows = m1[(m1["condition"] == condition) & (m1["step"] == step) & (m1["layer"] == layer)]
    mean = rows.groupby(["t", "s"])["grad_norm_mean"].mean()
    grid = np.full((context, context), np.nan)
    grid[mean.index.get_level_values("t"), mean.index.get_level_values("s")] = mean.to_numpy()
    return grid


def plot(m1: pd.DataFrame, profile: pd.DataFrame, runs: pd.DataFrame, conditions: list[str], confidence: float) -> plt.Figure:
    style.apply()
    info = runs.groupby("condition").first()
    n_layer = int(info.loc[conditions, "n_layer"].max())
    columns = n_layer + 2  # init layer 0, trained layers 0..L-1, profile
    figure, axes = plt.subplots(
        len(conditions), columns, figsize=(3.0 * columns + 1.5, 3.1 * len(conditions)), squeeze=False,
        gridspec_kw={"width_ratios": [1] * (columns - 1) + [1.5]}, layout="constrained",
    )
    for row, condition in enumerate(conditions):
        context, blocks = int(info.loc[condition, "context"]), int(info.loc[condition, "n_layer"])
        steps = sorted(m1.loc[m1["condition"] == condition, "step"].unique())
        first, last = steps[0], steps[-1]
        panels = [(first, 0, "init")] + [(last, layer, "trained") for layer in range(blocks)]
        grids = [matrix(m1, condition, step, layer, context) for step, layer, _ in panels]
        positive = np.concatenate([g[np.isfinite(g) & (g > 0)] for g in grids])
        norm = LogNorm(vmin=max(positive.min(), positive.max() * 1e-6), vmax=positive.max())
        for col, ((step, layer, label), grid) in enumerate(zip(panels, grids, strict=False)):
            ax = axes[row, col]
            image = ax.imshow(np.where(grid > 0, grid, np.nan), cmap=style.SEQUENTIAL, norm=norm, origin="upper")
            ax.set_title(f"$G^{{{layer}}}$, {label} (step {step})")
            ax.set_xlabel("source position $s$")
            if col == 0:
                ax.set_ylabel("target position $t$")
                ax.annotate(str(info.loc[condition, "task"]), xy=(-0.42, 0.5), xycoords="axes fraction",
                            rotation=90, va="center", ha="center", weight="bold", fontsize=11)
            else:
                ax.tick_params(labelleft=False)
        figure.colorbar(image, ax=axes[row, : columns - 1].tolist(), shrink=0.9, pad=0.02,
                        label=r"$\|\partial L_t / \partial h^l_s\|_2$")
        ax = axes[row, -1]
        data = profile[(profile["condition"] == condition) & (profile["step"].isin([first, last]))
                       & (profile["layer"] < blocks) & (profile["distance"] >= 1)].copy()
        data["d + 1"] = data["distance"] + 1
        data["checkpoint"] = np.where(data["step"] == first, "init", "trained")
        data["layer"] = "$h^{" + data["layer"].astype(str) + "}$"
        sns.lineplot(data=data, x="d + 1", y="profile", hue="layer", style="checkpoint", style_order=["trained", "init"],
                     errorbar=("ci", 100 * confidence), n_boot=2000, seed=0, ax=ax)
        ax.set(xscale="log", yscale="log", xlabel="distance $d + 1$", ylabel="$g^l(d)$", title="distance profile")
        ticks = [t for t in (2, 3, 5, 10, 20, 50, 100, 200) if t <= context]
        ax.set_xticks(ticks, [str(t) for t in ticks])
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.legend(fontsize=7, frameon=False, ncol=2, loc="lower left")
    return figure


def main(m1_path: str, profile_path: str, runs_path: str, run_ids: list[str], confidence: float, pdf: str, png: str) -> None:
    m1, profile, runs = pd.read_csv(m1_path), pd.read_csv(profile_path), pd.read_csv(runs_path)
    conditions = sorted({run_id.split("/")[0] for run_id in run_ids})
    style.save(plot(m1, profile, runs, conditions, confidence), pdf, png)


if "snakemake" in globals():
    from analysis.logs import log_to

    with log_to(snakemake.log[0]):  # noqa: F821
        main(
            snakemake.input.m1, snakemake.input.profile, snakemake.input.runs,  # noqa: F821
            snakemake.params.experiment_runs, snakemake.params.confidence,  # noqa: F821
            snakemake.output.pdf, snakemake.output.png,  # noqa: F821
        )
