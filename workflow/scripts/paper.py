"""Snakemake job: compile the Typst paper in a self-contained build folder."""
import shutil
from pathlib import Path

import typst

from analysis.io import write_json
from analysis.logs import log_to
from tooling.manifest import read_manifest, sha256_file
from tooling.table_digest import comparison

with log_to(snakemake.log[0]):
    build = Path(snakemake.output.pdf).parent / "paper_build"
    if build.exists():
        shutil.rmtree(build)
    shutil.copytree(snakemake.params.source_dir, build)
    shutil.copy(snakemake.input.numbers, build / "paper_numbers.json")
    manifest = snakemake.input.manifest
    write_json(build / "manifest.json", {"sha256": sha256_file(manifest), "files": len(read_manifest(manifest))})
    # This build's tables against the profile's confirmatory record (paper/confirmatory/<profile>.sha256), if any.
    record = build / "confirmatory" / f"{snakemake.config['profile']}.sha256"
    write_json(build / "confirmatory.json", comparison(record, Path(manifest).parent))
    (build / "figures").mkdir()
    for figure in snakemake.input.figures:
        shutil.copy(figure, build / "figures" / Path(figure).name)
    (build / "captions").mkdir()
    for caption in snakemake.input.captions:  # the HTML report's caption of each figure, read by figures.typ
        shutil.copy(caption, build / "captions" / Path(caption).name)
    write_json(build / "figures.json", sorted({Path(f).stem for f in snakemake.input.figures}))
    pdf = typst.compile(str(build / "main.typ"), root=str(build), timestamp=0)
    tmp = Path(snakemake.output.pdf).with_suffix(".pdf.tmp")
    tmp.write_bytes(pdf)
    tmp.replace(snakemake.output.pdf)
    print(f"wrote {snakemake.output.pdf} ({len(pdf)} bytes)")
