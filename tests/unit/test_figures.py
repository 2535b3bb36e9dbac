"""The figures package: the driver's contract with each figure module, the catalog, and the shared look."""
from __future__ import annotations

import itertools
import types

import pandas as pd
import pytest
from colour_distance import distance
from workflow_helpers import REPO

from figures import catalog, draw, style

STUDY_PARAMS = {"conditions": ["a"], "confidence": 0.95, "default_encoding": "learned"}
ALL_FIGURES = catalog.FIGURE_TABLE | catalog.SCALING_FIGURES


def test_a_condition_with_no_trained_run_is_left_out_in_planned_order() -> None:
    runs = pd.DataFrame({"condition": ["b", "a", "a"], "seed": [0, 0, 1]})
    assert style.present(["a", "gone", "b"], runs) == ["a", "b"]


def test_figures_scale_their_fonts_with_their_width() -> None:
    style.sized(style.PAGE_WIDTH_IN, 3.0)
    narrow = style.line(1.0)
    style.sized(2 * style.PAGE_WIDTH_IN, 3.0)
    assert style.line(1.0) == 2 * narrow


@pytest.mark.parametrize("name", sorted(ALL_FIGURES))
def test_every_figure_module_takes_its_tables_and_what_the_study_gives(name: str) -> None:
    entry = ALL_FIGURES[name]
    given = draw.arguments(entry.module(name), STUDY_PARAMS, entry.params)  # raises if plot asks for more
    assert set(given) == set(draw.parameters(entry.module(name)))
    assert (REPO / "workflow" / "report" / f"{name}.rst").exists(), f"{name} has no caption"


def plant(monkeypatch: pytest.MonkeyPatch, plot) -> None:
    monkeypatch.setattr(draw, "module", lambda name: types.SimpleNamespace(plot=plot))


def test_only_the_parameters_a_plot_names_are_passed(monkeypatch: pytest.MonkeyPatch) -> None:
    plant(monkeypatch, lambda tables, *, confidence, extra=1: None)
    assert draw.arguments("planted", STUDY_PARAMS, {}) == {"confidence": 0.95}
    assert draw.arguments("planted", STUDY_PARAMS, {"extra": 2}) == {"confidence": 0.95, "extra": 2}


@pytest.mark.parametrize(("plot", "fixed", "message"), [
    (lambda tables, *, width: None, {}, r"needs \['width'\]"),  # neither the entry nor the study gives it
    (lambda tables, *, confidence: None, {"colour": "red"}, "takes no"),  # the entry gives what plot does not take
    (lambda tables, confidence: None, {}, "plot must read"),  # positional: no name to match
    (lambda frames, *, confidence: None, {}, "plot must read"),
])  # fmt: skip
def test_a_plot_the_driver_cannot_call_is_refused_before_any_job(monkeypatch: pytest.MonkeyPatch, plot, fixed, message) -> None:
    plant(monkeypatch, plot)
    with pytest.raises(TypeError, match=message):
        draw.arguments("planted", STUDY_PARAMS, fixed)


def test_a_profile_draws_the_figures_whose_measure_it_takes() -> None:
    spec = types.SimpleNamespace(measure={"only": ["m4_position_loss"]})
    study = types.SimpleNamespace(runs={"r": spec}, config={"stats": {}})
    assert "myopia" in catalog.drawn(study) and "training_curves" in catalog.drawn(study)
    assert "gradient_flow" not in catalog.drawn(study) and "scaling_c2" not in catalog.drawn(study)
    study.config["stats"]["scaling"] = {"sweeps": []}
    assert "scaling_c2" in catalog.drawn(study)


def test_an_encoding_has_one_colour_and_a_new_one_a_spare() -> None:
    colours = style.encoding_colours(["t5-bias", "rope", "learned"])
    assert list(colours) == ["learned", "rope", "t5-bias"]
    assert colours["rope"] == style.ENCODING_COLOURS["rope"] and colours["t5-bias"] == style.SPARE_COLOURS[0]
    assert style.label_colours(["learned", "alibi"]) == style.encoding_colours(["learned", "alibi"])


def palette_is_distinct(colours: list[str]) -> bool:
    """Every pair apart by Delta E >= 40 in normal vision and >= 15 under deuteranopia (Okabe-Ito: 54 and 18)."""
    pairs = list(itertools.combinations(colours, 2))
    return min(distance(a, b) for a, b in pairs) >= 40 and min(distance(a, b, deuteranopia=True) for a, b in pairs) >= 15


def test_the_encoding_colours_are_pairwise_distinct_also_to_a_colour_blind_reader() -> None:
    assert palette_is_distinct(list(style.ENCODING_COLOURS.values()))
    seaborn_colorblind = ["#0173b2", "#de8f05", "#029e73", "#d55e00", "#cc78bc"]  # sinusoidal and alibi: two oranges
    assert not palette_is_distinct(seaborn_colorblind)


# --- every figure drawn ---------------------------------------------------------------------------
# tests/unit/figure_tables/ holds the smoke study's tables that the figures read (from /work/baseline/smoke at
# 2642669's parent), cut to the first and last checkpoint and one seed where a table is large (m1, m8, c3) and
# to 4 significant digits: drawn without Snakemake in a few seconds. Redo it when a figure's table changes
# columns. The scaling figures are drawn in tests/unit/test_scaling.py.
FIGURE_TABLES = REPO / "tests" / "unit" / "figure_tables"


@pytest.fixture(scope="module")
def smoke_params() -> dict:
    from analysis.config import load_study_file

    return catalog.study_params(load_study_file(REPO / "config" / "smoke.yaml"))


def draw_from_fixture(name: str, params: dict, tmp_path, tables: dict | None = None) -> int:
    """Draw ``name`` as the driver does, rendered to a small PNG (saving at print resolution is the smoke DAG's):
    the number of axes drawn."""
    entry = catalog.FIGURE_TABLE[name]
    tables = tables or {key: FIGURE_TABLES / f"{csv}.csv" for key, csv in entry.tables.items()}
    style.apply()
    figure = draw.module(entry.module(name)).plot({key: pd.read_csv(path) for key, path in tables.items()},
                                                  **draw.arguments(entry.module(name), params, entry.params))
    figure.savefig(tmp_path / f"{name}.png", dpi=30)
    drawn = sum(ax.get_visible() and ax.axison for ax in figure.axes)
    style.plt.close(figure)
    return drawn


@pytest.mark.parametrize("name", sorted(catalog.FIGURE_TABLE))
def test_every_figure_draws_from_the_smoke_studys_tables(name: str, smoke_params: dict, tmp_path) -> None:
    assert draw_from_fixture(name, smoke_params, tmp_path) > 0


def test_a_figure_whose_table_lost_a_column_fails_here(smoke_params: dict, tmp_path) -> None:
    entry = catalog.FIGURE_TABLE["decomposition"]
    tables = {key: FIGURE_TABLES / f"{csv}.csv" for key, csv in entry.tables.items()}
    broken = pd.read_csv(tables["shares"]).drop(columns="precache_mean")  # a planted offender: a renamed statistic
    broken.to_csv(tmp_path / "shares.csv", index=False)
    with pytest.raises(KeyError, match="precache_mean"):
        draw_from_fixture("decomposition", smoke_params, tmp_path, tables | {"shares": tmp_path / "shares.csv"})


def test_factor_colours_cannot_be_read_as_an_encoding() -> None:
    """Tasks, parts and kinds are coloured from FACTOR_COLOURS, each Delta E >= 30 from every encoding colour."""
    encodings = [*style.ENCODING_COLOURS.values(), *style.SPARE_COLOURS[:2]]

    def apart(colours: list[str]) -> bool:
        return min(distance(a, b) for a in colours for b in encodings) >= 30

    assert apart(style.FACTOR_COLOURS)
    assert not apart(["#0173b2", "#de8f05", "#029e73"])  # seaborn's colorblind set: the encodings' own blue and orange
    assert list(style.factor_colours(["b", "a", "b"])) == ["b", "a"]
    assert style.layer_greys(2) == ["0.0", "0.6"] and style.layer_greys(1) == ["0.0"]
