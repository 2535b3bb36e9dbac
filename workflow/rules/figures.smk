# One rule per figure of figures/catalog.py's FIGURE_TABLE (those the profile draws): the figure's module
# figures/<name>.py, drawn by the one driver figures/draw.py; its caption workflow/report/<name>.rst.
from figures.catalog import drawn, study_params
from figures.draw import CODE_INPUT, arguments

FIGURE_PARAMS = study_params(STUDY)  # what a figure's plot may ask for by name
FIGURE_TABLE = drawn(STUDY)
FIGURE_CODE = [str(REPO / "figures" / f"{name}.py") for name in ("__init__", "style", "draw")]


for figure_name, figure_entry in FIGURE_TABLE.items():
    figure_module = figure_entry.module(figure_name)

    rule:
        name:
            f"figure_{figure_name}"
        input:
            # an edited figure module, the style or the driver redraws the figure
            **{CODE_INPUT: [*FIGURE_CODE, str(REPO / "figures" / f"{figure_module}.py")]},
            **{key: f"{RESULTS}/tables/{table}.csv" for key, table in figure_entry.tables.items()},
        output:
            pdf=f"{RESULTS}/figures/{figure_name}.pdf",
            png=report(
                f"{RESULTS}/figures/{figure_name}.png",
                caption=f"../report/{figure_name}.rst",
                category=figure_entry.category,
                subcategory=figure_entry.subcategory,
            ),
        params:
            figure=figure_module,
            **arguments(figure_module, FIGURE_PARAMS, figure_entry.params),
        log:
            f"{LOGS}/figures/{figure_name}.log",
        benchmark:
            f"{BENCHMARKS}/figures/{figure_name}.tsv"
        conda:
            SOFTWARE
        script:
            "../../figures/draw.py"


FIGURES = [f"{RESULTS}/figures/{name}.{kind}" for name in FIGURE_TABLE for kind in ("pdf", "png")]
