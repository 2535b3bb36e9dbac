"""The study's figures: one module per figure, each exporting ``plot(tables, *, <param>...) -> Figure``.

``catalog.py`` lists them (FIGURE_TABLE), ``draw.py`` reads their tables and saves them, ``style.py`` is
their one look (sizes, fonts, the encoding colours).
"""
from collections.abc import Mapping

import pandas as pd

Tables = Mapping[str, pd.DataFrame]  # a figure's tables, named as in its FigureEntry
