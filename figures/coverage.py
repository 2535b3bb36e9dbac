"""Figure (C3): the fraction of each kind of weight a single token's loss L_t can reach at all.

Structural reachability (M5) at t = 0, T/2 - 1 and T - 1 against the relative position
(t + 1) / T, trained standard runs of the study's default encoding (``model.pos_encoding``), one
panel per task. Shared
tensors are reached in full from t = 1 on (at t = 0 queries and keys meet a single key);
a learned position table follows (t + 1) / T, the grey diagonal; embedding rows only
for tokens seen so far; key biases never (softmax shift invariance).
"""

import matplotlib.pyplot as plt
import pandas as pd

from figures import Tables, style

KIND_ORDER = ["shared", "position-indexed", "input-dependent", "invariance", "all weights"]


def final_standard(reachability: pd.DataFrame, encoding: str) -> pd.DataFrame:
    """Rows of the last checkpoint of each standard run with positional encoding ``encoding``."""
    data = reachability[(reachability["regime"] == "standard") & (reachability["pos_encoding"] == encoding)]
    last = data.groupby(["condition", "seed"])["step"].transform("max")
    return data[data["step"] == last]


def plot(tables: Tables, *, default_encoding: str) -> plt.Figure:
    data = final_standard(tables["coverage"], default_encoding)
    tasks = list(dict.fromkeys(data["task"])) or ["(no run)"]
    kinds = [k for k in KIND_ORDER if k in set(data["kind"])]
    colours, markers = style.factor_colours(KIND_ORDER), style.factor_markers(KIND_ORDER)  # kinds of weight: not encodings
    columns = min(3, len(tasks))
    rows = -(-len(tasks) // columns)
    figure, axes = plt.subplots(rows, columns, figsize=style.sized(2.3 * columns + 1.6, 2.0 * rows), squeeze=False,
                                sharey=True, layout="constrained")
    for ax in list(axes.flat)[len(tasks):]:
        ax.set_visible(False)
    for ax, task in zip(axes.flat, tasks, strict=False):
        ax.plot([0, 1], [0, 1], color="0.75", linewidth=style.line(0.8), zorder=0)
        ax.axvline(0.5, color="0.85", linewidth=style.line(0.8), zorder=0)
        panel = data[data["task"] == task]
        for kind in kinds:
            curve = panel[panel["kind"] == kind].groupby("position", as_index=False)["fraction"].mean()
            ax.plot(curve["position"], curve["fraction"], marker=markers[kind], markersize=style.line(3), color=colours[kind],
                    label=kind if task == tasks[0] else None, linewidth=style.line(1.3),
                    linestyle="-" if kind in ("shared", "all weights") else "--")
        ax.set(title=task, xlabel="relative position (t + 1) / T", xlim=(0, 1.03), ylim=(-0.03, 1.03))
    for ax in axes[:, 0]:
        ax.set_ylabel("fraction reachable")
    figure.legend(loc="outside right upper", frameon=False)
    return figure
