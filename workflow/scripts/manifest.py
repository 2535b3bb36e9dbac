"""Snakemake job: the results manifest (sha256sum format) over every file the paper is built from."""
from analysis.logs import log_to
from tooling.manifest import write_manifest

with log_to(snakemake.log[0]):
    files = [*snakemake.input.tables, *snakemake.input.figures, *snakemake.input.provenance]
    digest = write_manifest(snakemake.output.manifest, snakemake.params.root, files)
    print(f"wrote {snakemake.output.manifest}: {len(set(files))} files, SHA-256 {digest}")
