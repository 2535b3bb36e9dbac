"""Figure: training curves (training loss, mean over seeds) per task and condition, against the task baseline."""
import sys
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

sys.path.insert(0, str(Path(__file__).resolve().parent))
import style  # noqa: E402


def plot(log: pd.DataFrame, runs: pd.DataFrame, conditions: list[str], confidence: float) -> plt.Figure:
    style.apply()
    info = runs.drop_duplicates("condition").set_index("condition")
    data = log[log["condition"].isin(conditions)].join(info[["task", "pos_encoding", "regime", "baseline_loss"]], on="condition")
    data = data.assign(variant=data["pos_encoding"] + ", " + data["regime"])
    tasks = list(dict.fromkeys(data["task"]))
    columns = min(3, max(len(tasks), 1))
    rows = -(-len(tasks) // columns)
    figure, axes = plt.subplots(rows, columns, figsize=(3.4 * columns + 1.6, 2.7 * rows), squeeze=False, layout="constrained")
    for ax, task in zip(axes.flat, tasks, strict=False):
        panel = data[data["task"] == task]
        sns.lineplot(data=panel, x="step", y="train_loss", hue="variant", errorbar=("ci", 100 * confidence), n_boot=500,
                     seed=0, ax=ax, linewidth=1.0, palette=style.PALETTE)
        ax.axhline(float(panel["baseline_loss"].iloc[0]), color="0.5", linestyle="--", linewidth=0.8)
        ax.set(title=task, xlabel="step", ylabel="training loss")
        ax.legend(frameon=False, fontsize=6, title=None)
    for ax in list(axes.flat)[len(tasks):]:
        ax.set_visible(False)
    return figure


def main(log_path: str, runs_path: str, conditions: list[str], confidence: float, pdf: str, png: str) -> None:
    style.save(plot(pd.read_csv(log_path), pd.read_csv(runs_path), conditions, confidence), pdf, png)


if "snakemake" in globals():
    from analysis.logs import log_to

    with log_to(snakemake.log[0]):  # noqa: F821
        main(snakemake.input.log, snakemake.input.runs, snakemake.params.conditions, snakemake.params.confidence,  # noqa: F821
             snakemake.output.pdf, snakemake.output.png)  # noqa: F821
