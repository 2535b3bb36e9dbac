# What the paper's numbers and figures were built from, fixed by one hash: the tables, the
# paper's numbers, the figures, the validated config and the installed packages, listed with
# their SHA-256 in results/<profile>/manifest.sha256. The paper prints the manifest's own
# SHA-256, so the paper PDF is not in it; per-run files are summarised by the tables.
import hashlib


rule provenance:
    """The validated config (defaults filled in) and every package installed where the jobs run, as files."""
    output:
        config=f"{RESULTS}/config.json",
        environment=f"{RESULTS}/environment.txt",
    params:
        config=json.dumps(STUDY.config, sort_keys=True, indent=2),  # a changed setting rewrites them,
        lock=hashlib.sha256((REPO / "requirements.lock").read_bytes()).hexdigest(),  # and so do changed pins
    log:
        f"{LOGS}/provenance.log",
    benchmark:
        f"{BENCHMARKS}/provenance.tsv"
    conda:
        SOFTWARE
    script:
        "../scripts/provenance.py"


rule manifest:
    """SHA-256 of every file the paper is built from, sorted, paths relative to the results folder."""
    input:
        tables=[*rules.aggregate.output, *rules.statistics.output],
        figures=FIGURES,
        provenance=[*rules.provenance.output],
    output:
        manifest=f"{RESULTS}/manifest.sha256",
    params:
        root=lambda wildcards, output: os.path.dirname(output.manifest),  # paths are listed relative to it
    log:
        f"{LOGS}/manifest.log",
    benchmark:
        f"{BENCHMARKS}/manifest.tsv"
    conda:
        SOFTWARE
    script:
        "../scripts/manifest.py"
