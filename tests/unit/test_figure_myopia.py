"""The C2 figure draws the DiD curve with its plateau window from planted statistics tables."""
from __future__ import annotations

import pandas as pd

from figures import myopia


def along_rows(encoding: str, regime: str) -> list[dict]:
    rows = []
    for step in range(0, 101, 20):
        row = {"pos_encoding": encoding, "regime": regime, "step": step, "steps": 100, "window_start": 80.0}
        for column, value in (("gap_treated", 0.1), ("gap_control", 0.04), ("did", 0.06)):
            row |= {f"{column}_mean": value, f"{column}_low": value - 0.01, f"{column}_high": value + 0.01}
        rows.append(row)
    return rows


def test_one_panel_per_encoding_and_regime_with_the_window_shaded() -> None:
    along = pd.DataFrame(along_rows("learned", "myopic-full") + along_rows("learned", "myopic-state")
                         + along_rows("rope", "myopic-state"))
    positions = pd.DataFrame([{"condition": f"{task}_m", "task": task, "regime": "myopic-state", "t": t, "gap_mean": 0.1,
                               "gap_low": 0.0, "gap_high": 0.2, "loss_myopic": 1.1, "loss_standard": 1.0}
                              for task in ("sine-shift1", "text") for t in range(4)])
    assert myopia.panels(along) == [("learned", "myopic-state"), ("learned", "myopic-full"), ("rope", "myopic-state")]
    figure = myopia.plot({"along": along, "by_position": positions})
    top = figure.axes[:3]
    assert [ax.get_title() for ax in top] == ["myopic-state (learned)", "myopic-full (learned)", "myopic-state (rope)"]
    shaded = [patch for patch in top[0].patches if patch.get_x() == 80.0]  # axvspan: a rectangle from 80 to the end
    assert len(shaded) == 1 and shaded[0].get_width() == 20.0
    assert top[0].get_xlim() == (0.0, 100.0)
    myopia.plt.close(figure)  # drawing to files is the smoke-DAG test's (seconds): here only what is drawn
    assert myopia.panels(pd.DataFrame()) == []
