"""Snakemake job: the results manifest (sha256sum format) over every file the paper is built from."""
from analysis.logs import log_to
from analysis.manifest import write_manifest

with log_to(snakemake.log[0]):  # noqa: F821 (snakemake injects this object)
    files = [*snakemake.input.tables, *snakemake.input.figures, *snakemake.input.provenance]  # noqa: F821
    digest = write_manifest(snakemake.output.manifest, snakemake.params.root, files)  # noqa: F821
    print(f"wrote {snakemake.output.manifest}: {len(set(files))} files, SHA-256 {digest}")  # noqa: F821
