"""Figure (C2): linear-probe R^2 of the pre-caching feature by layer, standard vs myopic training.

Held-out R^2 of a ridge probe reading, from h_s^l, a feature only later positions
need (sine: sin(freq x_s); recall: the key a value is bound to). Points are means over
seeds with Student t intervals, one grey, line style and marker per regime (final checkpoint, the study's default encoding); a percentile bootstrap
over a handful of seeds would be the seed range, with less than its nominal coverage.
"""

import matplotlib.pyplot as plt

from analysis.stats.inference import mean_interval
from figures import Tables, style

REGIMES = ["standard", "myopic-state", "myopic-full"]


def plot(tables: Tables, *, conditions: list[str], confidence: float, default_encoding: str) -> plt.Figure:
    probes, runs = tables["probes"], tables["runs"]
    info = runs.drop_duplicates("condition").set_index("condition")
    data = probes[probes["condition"].isin(conditions)].join(info[["task", "regime", "pos_encoding", "steps"]], on="condition")
    data = data[(data["step"] == data["steps"]) & (data["pos_encoding"] == default_encoding)]
    panels = list(dict.fromkeys(zip(data["task"], data["feature"], strict=True)))
    figure, axes = plt.subplots(1, max(len(panels), 1), figsize=style.sized(2.3 * max(len(panels), 1) + 1.0, 2.6), squeeze=False, layout="constrained")
    for ax, (task, feature) in zip(axes[0], panels, strict=False):
        panel = data[(data["task"] == task) & (data["feature"] == feature)]
        regimes = [r for r in REGIMES if r in set(panel["regime"])]
        for i, regime in enumerate(regimes):
            layers = sorted(panel.loc[panel["regime"] == regime, "layer"].unique())
            points = [mean_interval(panel.loc[(panel["regime"] == regime) & (panel["layer"] == layer), "r2"].to_numpy(), confidence)
                      for layer in layers]
            x = [layer + 0.15 * (i - (len(regimes) - 1) / 2) for layer in layers]  # dodge the regimes
            mean = [p.estimate for p in points]
            error = [[p.estimate - p.low for p in points], [p.high - p.estimate for p in points]]  # NaN (one seed): no bar
            ax.errorbar(x, mean, yerr=error, fmt=style.REGIME_STYLE[regime], marker=style.REGIME_MARKERS[regime],
                        color=style.REGIME_GREY[regime], capsize=2, markersize=style.line(4),
                        linewidth=style.line(1.0), label=regime if ax is axes[0, 0] else None)
        ax.set_xticks(sorted(panel["layer"].unique()))
        ax.axhline(0, color="0.5", linestyle="--", linewidth=style.line(0.8))
        ax.set(title=f"{task}: {feature}", xlabel="layer l of $h^l$", ylabel="held-out $R^2$" if ax is axes[0, 0] else "")
    if axes[0, 0].get_legend_handles_labels()[0]:
        figure.legend(loc="outside right upper", frameon=False)
    return figure
