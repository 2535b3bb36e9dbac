"""Figure (C6): transfer to the next prediction after one step on L_t alone, over the context channel, against step size.

One panel per optimiser (Adam's fresh-state step, the one the study trains with; SGD).
Lines: the first-order signed transfer S / C per deciding condition, linear in the
step size eta (x the peak learning rate); markers: the exact S / C with its t interval over
seeds (at the full step, the number the verdict reads). Dashed: the rule's thresholds. The
y axis is symmetric-log, since the exact transfer can be negative (the step harms L_{t+1}).
"""
import sys
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

sys.path.insert(0, str(Path(__file__).resolve().parent))
import style  # noqa: E402

from analysis.stats.c6 import Rules  # noqa: E402

OPTIMIZERS = {"adam": "Adam step (fresh state)", "sgd": "SGD step"}


def plot(summary: pd.DataFrame) -> plt.Figure:
    rules = Rules()
    data = summary[summary["deciding"].astype(bool)] if len(summary) else summary
    conditions = list(dict.fromkeys(zip(data["task"], data["pos_encoding"], strict=True)))
    colours = dict(zip(conditions, sns.color_palette(style.PALETTE, max(1, len(conditions))), strict=False))
    figure, axes = plt.subplots(1, len(OPTIMIZERS), figsize=style.sized(6.5, 3.0), sharey=True, layout="constrained")
    for ax, (optimizer, title) in zip(axes, OPTIMIZERS.items(), strict=True):
        for key in conditions:
            rows = data[(data["optimizer"] == optimizer) & (data["task"] == key[0]) & (data["pos_encoding"] == key[1])]
            rows = rows.sort_values("eta_factor")
            ax.plot(rows["eta_factor"], rows["ratio_first_order_mean"], color=colours[key], linewidth=style.line(1.0),
                    label=f"{key[0]}, {key[1]}")
            exact = rows[rows["ratio_exact_mean"].notna()]
            ax.errorbar(exact["eta_factor"], exact["ratio_exact_mean"],
                        yerr=[exact["ratio_exact_mean"] - exact["ratio_exact_low"], exact["ratio_exact_high"] - exact["ratio_exact_mean"]],
                        fmt="o", color=colours[key], markersize=4, capsize=2, elinewidth=style.line(0.8))
        for threshold in (rules.minuscule, rules.comparable):
            ax.axhline(threshold, color="grey", linestyle="--", linewidth=style.line(0.7))
        ax.axhline(0.0, color="black", linewidth=style.line(0.5))
        ax.set_xscale("log")
        ax.set_yscale("symlog", linthresh=1e-4)
        ax.set(title=title, xlabel="step size (x peak learning rate)")
    axes[0].set_ylabel("signed transfer to t+1 / context channel")
    if conditions:
        figure.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center", ncol=min(4, len(conditions)), frameon=False)
    return figure


def main(channels_path: str, pdf: str, png: str) -> None:
    style.save(plot(pd.read_csv(channels_path)), pdf, png)


if "snakemake" in globals():
    from analysis.logs import log_to

    with log_to(snakemake.log[0]):
        main(snakemake.input.channels, snakemake.output.pdf, snakemake.output.png)
