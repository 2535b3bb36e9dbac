"""Figure (primacy): how much more gradient the first source positions receive, read by the same targets.

Top row: primacy(s), the source effect of log G[t, s] = a_t + b_s at layer 0, centred over
the sources (0: the typical source; ln 2 = 0.69: twice it), at initialisation (dashed) and
trained (solid), one colour per variant of a task (encoding, depth, width or context).
Bottom row: the per-target column mean C(s) / (T - 1 - s) over its mean across sources,
the naive reading, confounded by row totals (means over seeds, no band: it is the contrast,
not the measure). Bands: Student t intervals over seeds (from the statistics stage); the top's y range
follows the mean lines, so a wide band is cut at the panel's edge. Three tasks a row. Standard training only.
"""

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.ticker import FuncFormatter, NullFormatter

from analysis.models.positional import ENCODING_ORDER
from figures import Tables, style

LAYER = 0
STAGES = ("init", "trained")
TASKS_PER_ROW = 3  # three tasks a row fill the column width at a readable size
VARYING = [("pos_encoding", "{}"), ("n_layer", "L={}"), ("d_model", "D={}"), ("context", "T={}")]


def variants(info: pd.DataFrame) -> pd.Series:
    """A label per condition from the factors that differ between the conditions shown (one colour each, every panel)."""
    varying = [(column, form) for column, form in VARYING if info[column].nunique() > 1] or VARYING[:1]
    return pd.Series({condition: ", ".join(form.format(row[column]) for column, form in varying)
                      for condition, row in info.iterrows()}, dtype=object)


def relative(frame: pd.DataFrame, column: str) -> pd.DataFrame:
    """The mean over seeds of ``column`` divided by its mean over sources (per condition and stage)."""
    scale = frame.groupby(["condition", "stage"])[f"{column}_mean"].transform("mean")
    return frame.assign(**{f"{column}_mean": frame[f"{column}_mean"] / scale})


def plot(tables: Tables, *, conditions: list[str]) -> plt.Figure:
    sources, summary, runs = tables["sources"], tables["summary"], tables["runs"]
    info = summary.drop_duplicates("condition").set_index("condition")
    info = info[(info["regime"] == "standard") & info.index.isin(style.present(conditions, runs))]
    data = sources[sources["condition"].isin(info.index) & (sources["layer"] == LAYER) & sources["stage"].isin(STAGES)]
    data = relative(data, "per_target").join(info[["task"]], on="condition")
    labels = variants(info.loc[info.index.isin(data["condition"])])
    several = [task for task in dict.fromkeys(data["task"]) if (info["task"] == task).sum() > 1]
    tasks = several or list(dict.fromkeys(data["task"]))
    order = list(dict.fromkeys(labels.sort_values(key=lambda s: s.map(_order_key)).to_numpy()))
    colours = style.label_colours(order)
    tasks = sorted(tasks, key=_task_key)
    columns = min(TASKS_PER_ROW, max(len(tasks), 1))
    blocks = -(-max(len(tasks), 1) // columns)
    figure, axes = plt.subplots(2 * blocks, columns, figsize=style.sized(style.PAGE_WIDTH_IN, 2.5 * blocks + 0.4), squeeze=False,
                                layout="constrained", gridspec_kw={"height_ratios": [1.15, 1] * blocks})
    for index in range(len(tasks), blocks * columns):  # the empty slots of the last row
        for ax in axes[2 * (index // columns): 2 * (index // columns) + 2, index % columns]:
            ax.set_axis_off()
    for index, task in enumerate(tasks):
        block, column = divmod(index, columns)
        top, bottom = axes[2 * block, column], axes[2 * block + 1, column]
        bottom.sharex(top)
        means = []  # the mean lines drawn, which set the top's y range (a band over two seeds may span the panel many times)
        for condition, mine in data[data["task"] == task].groupby("condition", sort=False):
            label = labels[condition]
            for stage in STAGES:
                line = mine[mine["stage"] == stage].sort_values("s")
                legend = label if stage == "trained" else None
                style.band(top, line["s"], line["primacy_mean"], line["primacy_low"], line["primacy_high"], colours[label],
                           style.CHECKPOINT_STYLE[stage], legend, alpha=0.08)
                bottom.plot(line["s"], line["per_target_mean"], color=colours[label], linestyle=style.CHECKPOINT_STYLE[stage],
                            linewidth=style.line(1.0))
                means.append(line["primacy_mean"])
        top.axhline(0, color="0.4", linewidth=style.line(0.8))
        bottom.axhline(1, color="0.4", linewidth=style.line(0.8))
        values = pd.concat(means).dropna() if means else pd.Series(dtype=float)
        if len(values):
            margin = 0.15 * max(values.max() - values.min(), 0.5)
            top.set_ylim(min(values.min(), 0) - margin, max(values.max(), 0) + margin)
        bottom.set_yscale("log")
        bottom.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        bottom.yaxis.set_minor_formatter(NullFormatter())
        top.tick_params(labelbottom=False)
        top.set_title(task, fontsize="small")
        top.set_ylabel("primacy$(s)$, ln" if column == 0 else "")
        bottom.set(xlabel="source position $s$", ylabel="naive, ÷ mean" if column == 0 else "")
        top.set_xlim(left=0)
    handles, names = [], []
    for ax in axes[0::2].flat:
        for handle, name in zip(*ax.get_legend_handles_labels(), strict=True):
            if name not in names:
                handles.append(handle)
                names.append(name)
    for stage in STAGES:
        handles.append(plt.Line2D([], [], color="0.3", linestyle=style.CHECKPOINT_STYLE[stage], linewidth=style.line(1.2)))
        names.append(stage)
    if handles:
        figure.legend(handles, names, loc="outside lower center", ncols=min(len(names), 7), frameon=False)
    return figure


def _task_key(task: str) -> tuple:
    """Tasks by name, their numbers read as numbers (lag-2 before lag-16)."""
    stem = task.rstrip("0123456789")
    return (stem, int(task[len(stem):]) if task[len(stem):] else -1)


def _order_key(label: str) -> tuple:
    """Encodings in ``ENCODING_ORDER``, then the other factors by their numbers."""
    first = label.split(",")[0]
    numbers = [int(part) for part in "".join(c if c.isdigit() else " " for c in label).split()]
    return (ENCODING_ORDER.index(first) if first in ENCODING_ORDER else len(ENCODING_ORDER), numbers, label)
