"""Figure helpers that decide what is drawn (the drawing itself runs in the smoke-DAG test)."""
from __future__ import annotations

import sys

import pandas as pd
from workflow_helpers import REPO

sys.path.insert(0, str(REPO / "figures"))
import style  # noqa: E402


def test_a_condition_with_no_trained_run_is_left_out_in_planned_order() -> None:
    runs = pd.DataFrame({"condition": ["b", "a", "a"], "seed": [0, 0, 1]})
    assert style.present(["a", "gone", "b"], runs) == ["a", "b"]


def test_figures_scale_their_fonts_with_their_width() -> None:
    style.sized(style.PAGE_WIDTH_IN, 3.0)
    narrow = style.line(1.0)
    style.sized(2 * style.PAGE_WIDTH_IN, 3.0)
    assert style.line(1.0) == 2 * narrow
