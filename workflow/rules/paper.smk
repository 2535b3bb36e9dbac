rule paper:
    """Compile the Typst paper from its sources, the figures and the statistics' numbers."""
    input:
        sources=sorted(str(p) for p in (REPO / "paper").rglob("*") if p.is_file()),
        numbers=rules.statistics.output.numbers,
        figures=FIGURES,
        captions=[str(REPO / "workflow" / "report" / f"{name}.rst") for name in FIGURE_TABLE],  # one caption per figure
        manifest=rules.manifest.output.manifest,  # the reproducibility statement prints its SHA-256
    output:
        pdf=report(f"{RESULTS}/paper.pdf", caption="../report/paper.rst", category="Paper"),
    params:
        source_dir=lambda wildcards, input: os.path.commonpath(input.sources),
    log:
        f"{LOGS}/paper.log",
    benchmark:
        f"{BENCHMARKS}/paper.tsv"
    conda:
        SOFTWARE
    script:
        "../scripts/paper.py"
