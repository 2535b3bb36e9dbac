"""Figure (C1, C4): the trained gradient matrix G^0[t, s] for every positional encoding, one row per task.

Mean over held-out sequences and seeds, standard training, end of training, the input
stream l = 0; log colour scale shared within a row. Equal colour along a row of the
lower triangle would mean every earlier position is reached "in the same way".
"""

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import LogNorm

from figures import Tables, style


def plot(tables: Tables, *, conditions: list[str]) -> plt.Figure:
    m1, runs = tables["m1"], tables["runs"]
    measured = [c for c in conditions if c in set(m1["condition"])]  # runs that skip M1 (measure.only) have no matrix
    conditions = style.present(measured, runs)
    info = runs.drop_duplicates("condition").set_index("condition").loc[conditions]
    info = info[info["regime"] == "standard"]
    tasks = [t for t in dict.fromkeys(info["task"]) if info.loc[info["task"] == t, "pos_encoding"].nunique() > 1]
    tasks = tasks or list(dict.fromkeys(info["task"]))
    encodings = list(dict.fromkeys(info[info["task"].isin(tasks)]["pos_encoding"]))
    figure, axes = plt.subplots(len(tasks), len(encodings), figsize=style.sized(1.5 * len(encodings) + 1.0, 1.5 * len(tasks) + 0.4),
                                squeeze=False, layout="constrained")
    for row, task in enumerate(tasks):
        matrices = {}
        for encoding in encodings:
            match = info[(info["task"] == task) & (info["pos_encoding"] == encoding)]
            if match.empty:
                continue
            condition = match.index[0]
            mine = m1[(m1["condition"] == condition) & (m1["layer"] == 0) & (m1["step"] == int(match["steps"].iloc[0]))]
            mean = mine.groupby(["t", "s"])["grad_norm_mean"].mean()
            size = int(match["context"].iloc[0])
            grid = np.full((size, size), np.nan)
            grid[mean.index.get_level_values("t"), mean.index.get_level_values("s")] = mean.to_numpy()
            matrices[encoding] = grid
        positive = np.concatenate([g[np.isfinite(g) & (g > 0)] for g in matrices.values()])
        norm = LogNorm(vmin=np.percentile(positive, 1), vmax=positive.max())
        image = None
        for col, encoding in enumerate(encodings):
            ax = axes[row, col]
            if encoding in matrices:
                image = ax.imshow(np.where(matrices[encoding] > 0, matrices[encoding], np.nan), norm=norm,
                                  cmap=style.SEQUENTIAL, origin="upper", interpolation="nearest")
            ax.set(title=f"{task}, {encoding}", xlabel="source s" if row == len(tasks) - 1 else "",
                   ylabel="target t" if col == 0 else "")
            ax.tick_params(labelsize="small")
        if image is not None:
            figure.colorbar(image, ax=axes[row, :].tolist(), shrink=0.85, label="$G^0[t, s]$")
    return figure
