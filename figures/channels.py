"""Figure (C6): the weight channel against the context channel, in units of the task's loss.

Context channel: how much the context lowers the loss of a prediction (token alone
vs full context). Weight channel: mean |change| of a later token's loss L_{t+k} (k >= 1)
after one SGD step on L_t alone, at the peak learning rate and at one token's share of
a training step. Log scale; bars are means over seeds with bootstrap intervals.
"""
import sys
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

sys.path.insert(0, str(Path(__file__).resolve().parent))
import style  # noqa: E402

SERIES = {
    ("context_channel", "full"): "context channel",
    ("weight_channel", "full"): "weight channel, step at peak lr",
    ("weight_channel", "token_share"): "weight channel, one token's share",
}


def plot(channels: pd.DataFrame) -> plt.Figure:
    data = channels[channels["regime"] == "standard"]
    conditions = list(dict.fromkeys(zip(data["task"], data["pos_encoding"], strict=True)))
    colours = dict(zip(SERIES, sns.color_palette(style.PALETTE, len(SERIES)), strict=True))
    figure, ax = plt.subplots(figsize=style.sized(max(4.5, 0.4 * len(conditions) + 1.0), 3.6), layout="constrained")
    width = 0.27
    for i, ((column, scale), label) in enumerate(SERIES.items()):
        rows = data[data["step_scale"] == scale].set_index(["task", "pos_encoding"]).loc[conditions]
        mean, low, high = rows[f"{column}_mean"], rows[f"{column}_low"], rows[f"{column}_high"]
        x = [j + (i - 1) * width for j in range(len(conditions))]
        ax.bar(x, mean, width, color=colours[(column, scale)], label=label,
               yerr=[mean - low, high - mean], capsize=2, error_kw={"linewidth": style.line(0.8)})
    ax.set_yscale("log")
    ax.set_xticks(range(len(conditions)), [f"{t}, {e}" for t, e in conditions], rotation=90)
    ax.set_xlim(-0.6, len(conditions) - 0.4)
    ax.set(ylabel="loss change (nats for token tasks)")
    figure.legend(loc="outside upper center", ncol=len(SERIES), frameon=False)
    return figure


def main(channels_path: str, pdf: str, png: str) -> None:
    style.save(plot(pd.read_csv(channels_path)), pdf, png)


if "snakemake" in globals():
    from analysis.logs import log_to

    with log_to(snakemake.log[0]):  # noqa: F821
        main(snakemake.input.channels, snakemake.output.pdf, snakemake.output.png)  # noqa: F821
