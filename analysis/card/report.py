"""Run the card end to end and write its folder (``--out``): tables, a figure, card.json and card.pdf.

``python -m analysis.card --model DIR --out FOLDER`` (``make card MODEL=DIR`` writes ``results/cards/<model folder name>/``).
Every bad input is checked (``load``) before the gradients are computed; the card's numbers go into ``card.json``,
which the Typst template ``card.typ`` beside this module reads, so no number is typed into the card.
"""
from __future__ import annotations

import argparse
import hashlib
import shutil
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
import pandas as pd
import torch

from ..device import resolve_device
from ..io import write_json, write_table
from ..provenance import device_description, git_commit, package_versions
from ..tasks.text import CORPUS_FILE
from . import analyses, gradients, load, precaching

DEFAULT_SEQUENCES = 8
TEMPLATE = Path(__file__).with_name("card.typ")  # package data, with its helpers in template.typ


@dataclass(frozen=True)
class CardOptions:
    model: str
    out: str  # the card's folder
    text: str | None = None
    context: int = 128
    sequences: int | None = None  # default: 8 windows of the text; a study checkpoint's own measure.n_sequences
    objective: str = load.LOSS  # or load.LOGIT: the target's logit, as the published protocol
    buffer: int = 0  # leave sources s < buffer out of every fit
    max_memory_mb: float = 2048.0
    batch_size: int = 4
    method: str = "batched"  # or "loop": the per-target reference (no faster on a CPU in every measurement: docs/card.md)
    device: str = "auto"
    progress: bool = True


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def prepare(options: CardOptions) -> tuple[load.CardModel, torch.Tensor, torch.Tensor, dict[str, Any]]:
    """The model and its sequences, with every bad input refused here (before any gradient is computed)."""
    if options.buffer < 0 or options.buffer >= options.context - 1:
        raise load.CardError(f"buffer {options.buffer}: must be at least 0 and below context - 1 = {options.context - 1}")
    if options.sequences is not None and options.sequences < 1:
        raise load.CardError(f"sequences {options.sequences}: need at least one")
    device = resolve_device(options.device)
    card = load.load(options.model, device=str(device))
    if card.run is not None:  # the study's own checkpoint: the very sequences its M1 was measured on
        from ..measures.data import RunData
        from ..spec import RunSpec

        batch = RunData(RunSpec.from_dict({k: v for k, v in card.run.items() if k != "step"})).gradient_batch
        inputs, targets = batch.inputs[: options.sequences], batch.targets[: options.sequences]  # None: all of them
        source = {"text": "the run's held-out measure sequences (RunData.gradient_batch)", "sha256": hashlib.sha256(
            inputs.contiguous().numpy().tobytes() + targets.contiguous().numpy().tobytes()).hexdigest()}
    else:
        path = Path(options.text) if options.text else CORPUS_FILE  # the study's text task corpus
        if not path.is_file():
            raise load.CardError(f"{path}: no such text file")
        text = path.read_text(encoding="utf-8", errors="replace")
        inputs, targets = load.text_windows(card, text, options.context, options.sequences or DEFAULT_SEQUENCES)
        source = {"text": str(path), "sha256": sha256_text(text)}
    return card, inputs.to(device), targets.to(device), source


def labels_for(card: load.CardModel) -> analyses.Labels:
    if card.run is not None:
        return analyses.Labels(card.run["condition"], int(card.run["seed"]), int(card.run["step"]))
    return analyses.Labels(card.name)


def figure(tables: dict[str, pd.DataFrame], path: Path) -> None:
    """Three panels: mean G^0 as a heat map, the within-row profile per layer, primacy(s) per layer."""
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    m1 = tables["m1_gradient_matrix"]
    layer0 = m1[m1["layer"] == 0].pivot(index="t", columns="s", values="grad_norm_mean")
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.6))
    image = axes[0].imshow(np.log10(layer0.where(layer0 > 0).to_numpy(float)), cmap="viridis", origin="upper")
    axes[0].set(title="log10 G^0[t, s] (mean over sequences)", xlabel="source s", ylabel="target t")
    fig.colorbar(image, ax=axes[0], shrink=0.8)
    profile = tables["c4_within_row_profile"]
    for layer, group in profile.groupby("layer"):
        axes[1].plot(group["distance"], group["profile_mean"], label=f"layer {layer}")
        axes[1].fill_between(group["distance"], group["profile_low"], group["profile_high"], alpha=0.2)
    axes[1].set(xscale="log", yscale="log", title="within-row profile exp f(d)", xlabel="distance d = t - s")
    sources = tables["primacy_sources"]
    for layer, group in sources.groupby("layer"):
        axes[2].plot(group["s"], group["primacy_mean"], label=f"layer {layer}")
        axes[2].fill_between(group["s"], group["primacy_low"], group["primacy_high"], alpha=0.2)
    axes[2].axhline(0, color="grey", lw=0.5)
    axes[2].set(title="primacy(s) (log units)", xlabel="source s")
    for axis in axes[1:]:
        axis.legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path.with_suffix(".pdf"))
    fig.savefig(path.with_suffix(".png"), dpi=120)
    plt.close(fig)


def compile_card(out: Path) -> Path:
    """card.pdf from the Typst template and card.json, in a self-contained build folder."""
    import typst

    build = out / "card_build"
    build.mkdir(exist_ok=True)
    shutil.copy(TEMPLATE, build / "card.typ")
    shutil.copy(TEMPLATE.with_name("template.typ"), build / "template.typ")
    shutil.copy(out / "card.json", build / "card.json")
    shutil.copy(out / "figure.png", build / "card.png")
    pdf = out / "card.pdf"
    pdf.write_bytes(typst.compile(str(build / "card.typ"), root=str(build), timestamp=0))
    return pdf


def run_card(options: CardOptions, pdf: bool = True) -> dict[str, pd.DataFrame]:
    """Every step of the card; returns its tables (also written under ``options.out``)."""
    card, inputs, targets, source = prepare(options)
    objective = load.target_logit if options.objective == load.LOGIT else card.loss_per_position
    out = Path(options.out)
    started = time.perf_counter()
    per_sequence = gradients.gradient_matrix(card, inputs, targets, objective, method=options.method,
                                             batch_size=options.batch_size,
                                             max_memory_mb=options.max_memory_mb, progress=options.progress)
    gradient_s = time.perf_counter() - started
    weights = card.attentions(inputs).cpu() if card.attentions is not None else None
    labels = labels_for(card)
    settings = analyses.Settings(buffer=options.buffer)
    tables = analyses.card_tables(per_sequence, labels, card.n_layer, settings, weights, card.family)
    tables["m1_diagonal_normalised"] = analyses.diagonal_normalised_table(per_sequence, labels)
    started = time.perf_counter()
    try:
        tables |= analyses.split_tables(precaching.per_sequence_split(card, inputs, targets, objective), labels, settings)
    except load.CardError as error:  # the split needs detachable keys and values; the rest of the card stands
        print(f"card: {error}", file=sys.stderr)
    split_s = time.perf_counter() - started
    for name, table in tables.items():
        write_table(out / "tables" / f"{name}.csv", table)
    figure(tables, out / "figure")
    numbers = {
        "model": {"name": card.name, "path": str(Path(options.model).resolve()), "family": card.family,
                  "config_sha256": card.config_hash, "n_layer": card.n_layer, "max_context": card.max_context,
                  "parameters": sum(p.numel() for p in card.model.parameters())},
        "text": source,
        "options": {k: v for k, v in asdict(options).items() if k not in ("out", "progress")},
        "n_sequences": int(inputs.shape[0]), "context": int(targets.shape[1]),
        "seconds": {"gradients": gradient_s, "per_sequence": gradient_s / max(int(inputs.shape[0]), 1), "split": split_s},
        "device": device_description(inputs.device), "commit": git_commit(), "packages": package_versions(),
        **analyses.summary_numbers(tables),
    }
    write_json(out / "card.json", numbers)
    if pdf:
        compile_card(out)
    return tables


def parse(argv: list[str] | None = None) -> tuple[CardOptions, bool]:
    parser = argparse.ArgumentParser(prog="python -m analysis.card", description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="a local Hugging Face model directory, or a study checkpoint (.pt)")
    parser.add_argument("--text", default=None, help="a UTF-8 text file (default: the study's text corpus)")
    parser.add_argument("--context", type=int, default=128)
    parser.add_argument("--sequences", type=int, default=None,
                        help=f"default: {DEFAULT_SEQUENCES} windows of the text; a study checkpoint's own measure.n_sequences")
    parser.add_argument("--objective", choices=[load.LOSS, load.LOGIT], default=load.LOSS)
    parser.add_argument("--buffer", type=int, default=0, help="leave sources s < buffer out of the fits")
    parser.add_argument("--max-memory-mb", type=float, default=2048.0, help="bounds the targets per backward pass")
    parser.add_argument("--batch-size", type=int, default=4, help="sequences per forward pass")
    parser.add_argument("--method", choices=list(gradients.METHODS), default="batched")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--out", required=True, help="the card's folder (make card: results/cards/<model name>)")
    parser.add_argument("--no-pdf", action="store_true")
    args = parser.parse_args(argv)
    options = CardOptions(**{k: v for k, v in vars(args).items() if k != "no_pdf"})
    return options, not args.no_pdf


def main(argv: list[str] | None = None) -> int:
    options, pdf = parse(argv)
    try:
        run_card(options, pdf=pdf)
    except load.CardError as error:
        print(f"card: {error}", file=sys.stderr)
        return 2
    print(f"card: {options.out}")
    return 0
