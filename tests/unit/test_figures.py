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
