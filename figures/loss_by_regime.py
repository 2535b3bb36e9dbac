"""Figure: held-out loss after training by task and training regime, against the task's baseline.

Points are means over seeds with bootstrap intervals (a grey and a marker per regime, named on the
axis; colour is kept for the encodings), light grey dots the seeds; the grey bar marks the
context-free baseline. A myopic regime that ends above standard cannot use what
earlier positions would have had to pre-compute for later ones.
"""

import matplotlib.pyplot as plt
import seaborn as sns

from figures import Tables, style

REGIME_ORDER = ["standard", "myopic-state", "myopic-full"]


def plot(tables: Tables, *, conditions: list[str], confidence: float, default_encoding: str) -> plt.Figure:
    runs = tables["runs"]
    data = runs[runs["condition"].isin(conditions)]
    tasks = [t for t in dict.fromkeys(data["task"]) if data.loc[data["task"] == t, "regime"].nunique() > 1]
    data = data[data["task"].isin(tasks) & (data["pos_encoding"] == default_encoding)]
    figure, axes = plt.subplots(1, max(len(tasks), 1), figsize=style.sized(1.9 * max(len(tasks), 1) + 0.8, 2.6),
                                squeeze=False, layout="constrained")
    for ax, task in zip(axes[0], tasks, strict=False):
        panel = data[data["task"] == task]
        regimes = [r for r in REGIME_ORDER if r in set(panel["regime"])]
        sns.pointplot(data=panel, x="regime", y="final_eval_loss", order=regimes, hue="regime", hue_order=regimes,
                      palette=style.REGIME_GREY, markers=[style.REGIME_MARKERS[r] for r in regimes],
                      errorbar=("ci", 100 * confidence), n_boot=2000, seed=0, linestyle="none", ax=ax, legend=False)
        sns.stripplot(data=panel, x="regime", y="final_eval_loss", order=regimes, color="0.7", size=3, ax=ax, zorder=0)
        baseline = float(panel["baseline_loss"].iloc[0])
        ax.axhline(baseline, color="0.6", linestyle="--", linewidth=style.line(1))
        ax.set(title=task, xlabel="", ylabel="held-out loss" if ax is axes[0, 0] else "")
        ax.tick_params(axis="x", rotation=30)
    return figure
