"""Figure (C3): weight coverage, the fraction of each weight group a single token's loss L_t reaches.

Coverage against the relative position (t + 1) / T after training (standard, learned
positions). Shared weight matrices are reached in full from t = 1 on; a learned
position table is reached up to row t, so its coverage is (t + 1) / T; embedding rows
only for tokens seen so far.
"""
import sys
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

sys.path.insert(0, str(Path(__file__).resolve().parent))
import style  # noqa: E402

GROUP_ORDER = ["attn_q", "attn_k", "attn_v", "attn_o", "mlp", "attn_ln", "mlp_ln", "embedding", "positions", "readout"]


def plot(coverage: pd.DataFrame) -> plt.Figure:
    data = coverage[(coverage["regime"] == "standard") & (coverage["pos_encoding"] == "learned")]
    tasks = list(dict.fromkeys(data["task"]))
    groups = [g for g in GROUP_ORDER if g in set(data["group"])]
    colours = dict(zip(groups, sns.color_palette(style.PALETTE, len(groups)), strict=True))
    columns = min(3, max(len(tasks), 1))
    rows = -(-max(len(tasks), 1) // columns)
    figure, axes = plt.subplots(rows, columns, figsize=style.sized(2.3 * columns + 1.4, 2.0 * rows), squeeze=False,
                                sharey=True, layout="constrained")
    for ax in list(axes.flat)[len(tasks):]:
        ax.set_visible(False)
    for ax, task in zip(axes.flat, tasks, strict=False):
        panel = data[data["task"] == task]
        for group in groups:
            curve = panel[panel["group"] == group].sort_values("position")
            ax.plot(curve["position"], curve["coverage"], color=colours[group], label=group if task == tasks[0] else None,
                    linewidth=style.line(1.3), linestyle="--" if group in ("embedding", "positions") else "-")
        ax.set(title=task, xlabel="relative position (t + 1) / T", ylabel="coverage", ylim=(-0.03, 1.03))
    figure.legend(loc="outside right upper", frameon=False)
    return figure


def main(coverage_path: str, pdf: str, png: str) -> None:
    style.save(plot(pd.read_csv(coverage_path)), pdf, png)


if "snakemake" in globals():
    from analysis.logs import log_to

    with log_to(snakemake.log[0]):  # noqa: F821
        main(snakemake.input.coverage, snakemake.output.pdf, snakemake.output.png)  # noqa: F821
