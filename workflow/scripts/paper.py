"""Snakemake job: compile the Typst paper in a self-contained build folder."""
import shutil
from pathlib import Path

import typst

from analysis.io import write_json
from analysis.logs import log_to
from analysis.manifest import read_manifest, sha256_file

with log_to(snakemake.log[0]):  # noqa: F821 (snakemake injects this object)
    build = Path(snakemake.output.pdf).parent / "paper_build"  # noqa: F821
    if build.exists():
        shutil.rmtree(build)
    shutil.copytree(snakemake.params.source_dir, build)  # noqa: F821
    shutil.copy(snakemake.input.numbers, build / "paper_numbers.json")  # noqa: F821
    manifest = snakemake.input.manifest  # noqa: F821
    write_json(build / "manifest.json", {"sha256": sha256_file(manifest), "files": len(read_manifest(manifest))})
    (build / "figures").mkdir()
    for figure in snakemake.input.figures:  # noqa: F821
        shutil.copy(figure, build / "figures" / Path(figure).name)
    write_json(build / "figures.json", sorted({Path(f).stem for f in snakemake.input.figures}))  # noqa: F821
    pdf = typst.compile(str(build / "main.typ"), root=str(build), timestamp=0)
    tmp = Path(snakemake.output.pdf).with_suffix(".pdf.tmp")  # noqa: F821
    tmp.write_bytes(pdf)
    tmp.replace(snakemake.output.pdf)  # noqa: F821
    print(f"wrote {snakemake.output.pdf} ({len(pdf)} bytes)")  # noqa: F821
