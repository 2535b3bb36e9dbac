"""Figure (C6): transfer to the next prediction after one step on L_t alone, over the context channel, against step size.

One panel per swept optimiser (SGD; Adam with the run's own second moment). Lines: the exact signed
transfer S(eta) / C over every M7 sequence, mean over seeds with its Student t interval (band), per
deciding condition; marker: S* / C, the out-of-sample value at the most favourable step (chosen on one
half of the sequences, scored on the other) with its interval, at the geometric mean of the chosen
step sizes. Dashed: the rule's thresholds, read from the statistics' own table (``c6_summary``), never
from the Rules defaults. The y axis is symmetric-log, since the exact transfer is negative where the
step overshoots.
"""

import matplotlib.pyplot as plt
import pandas as pd

from figures import Tables, style

OPTIMIZERS = {"sgd": "SGD step", "adam_run": "Adam step (the run's second moment)"}


def thresholds(summary: pd.DataFrame) -> list[float]:
    """The rule's minuscule and comparable thresholds as the statistics applied them."""
    return sorted({float(v) for column in ("minuscule", "comparable") for v in summary.get(column, pd.Series()).dropna()})


def plot(tables: Tables) -> plt.Figure:
    curves, summary = tables["curves"], tables["summary"]
    data = curves[curves["deciding"].astype(bool)] if len(curves) else curves
    marks = summary[summary["deciding"].astype(bool)] if len(summary) else summary
    conditions = list(dict.fromkeys(zip(data["task"], data["pos_encoding"], strict=True)))
    colours, markers = style.factor_colours(conditions), style.factor_markers(conditions)  # a task's, not an encoding's
    figure, axes = plt.subplots(1, len(OPTIMIZERS), figsize=style.sized(6.5, 3.0), sharey=True, layout="constrained")
    for ax, (optimizer, title) in zip(axes, OPTIMIZERS.items(), strict=True):
        for key in conditions:
            rows = data[(data["optimizer"] == optimizer) & (data["task"] == key[0]) & (data["pos_encoding"] == key[1])]
            rows = rows.sort_values("eta_factor")
            ax.plot(rows["eta_factor"], rows["ratio_mean"], color=colours[key], linewidth=style.line(1.0), marker=markers[key],
                    markersize=style.line(2.5), label=f"{key[0]}, {key[1]}")
            ax.fill_between(rows["eta_factor"], rows["ratio_low"], rows["ratio_high"], color=colours[key], alpha=0.12,
                            linewidth=0)
            best = marks[(marks["choice"] == optimizer) & (marks["task"] == key[0]) & (marks["pos_encoding"] == key[1])]
            ax.errorbar(best["eta_factor"], best["ratio_mean"],
                        yerr=[best["ratio_mean"] - best["ratio_low"], best["ratio_high"] - best["ratio_mean"]],
                        fmt="*", color=colours[key], markersize=7, capsize=2, elinewidth=style.line(0.8))
        for threshold in thresholds(summary):
            ax.axhline(threshold, color="grey", linestyle="--", linewidth=style.line(0.7))
        ax.axhline(0.0, color="black", linewidth=style.line(0.5))
        ax.set_xscale("log")
        ax.set_yscale("symlog", linthresh=1e-4)
        ax.set(title=title, xlabel="step size (x peak learning rate)")
    axes[0].set_ylabel("signed transfer to t+1 / context channel")
    if conditions:
        figure.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center", ncol=min(4, len(conditions)), frameon=False)
    return figure
