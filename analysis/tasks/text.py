"""Byte-level language modelling of real English prose, read offline from a file in the repository.

Corpus: ``corpus/python-3.11.7-pydoc-topics.txt`` (the Python documentation topics
behind ``help()``, frozen from CPython 3.11.7; source and PSF licence in
``corpus/README.md``), truncated to ``max_bytes`` bytes. It ships with the package,
so every machine and every Python reads the same bytes; ``describe()`` records the
file name, size and SHA-256.

Vocabulary (97 ids), byte by byte:
    bytes 32..126 (printable ASCII)  -> ids 0..94   (byte - 32)
    byte 10 (newline)                -> id 95
    every other byte (incl. each byte of a multi-byte character) -> id 96 ("other")

``vocabulary: bpe-512`` (default ``bytes``) reads the same text as byte pairs: 512 ids, the 97 above and
415 merges learned offline on the training part (``analysis/tasks/bpe.py``, committed as
``corpus/bpe-512-merges.json``, about 2.6 bytes per id). Each split is encoded on its own, so no id
straddles the held-out boundary; positions, context lengths and distances then count byte pairs.

``expected_sha256`` (optional) pins the corpus: a config that sets it is rejected, before any
job starts, when the bytes read differ (an edited or damaged corpus file is named, never silently used).

Held-out data: the last ``holdout_fraction`` of the corpus is never sampled by
the default ``split="train"``; ``split="heldout"`` samples only from it, and
``held_out()`` (used for every evaluation and measure) returns that variant.
Windows never straddle the boundary.
"""
from __future__ import annotations

import dataclasses
import hashlib
import math
from dataclasses import dataclass
from functools import cache, cached_property
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import Tensor

from . import bpe
from .base import TASKS, Batch, TokenTask

VOCAB = 97
NEWLINE_ID = 95
OTHER_ID = 96
SPLITS = ("train", "heldout")
VOCABULARIES = ("bytes", "bpe-512")
CORPUS_FILE = Path(__file__).with_name("corpus") / "python-3.11.7-pydoc-topics.txt"


def byte_to_id_table() -> Tensor:
    """(256,) lookup table implementing the mapping in the module docstring."""
    table = torch.full((256,), OTHER_ID, dtype=torch.long)
    table[32:127] = torch.arange(95)
    table[10] = NEWLINE_ID
    return table


def decode(ids: Tensor) -> str:
    """Readable text for token ids ("other" shown as U+FFFD): for inspecting samples."""
    return "".join("\n" if i == NEWLINE_ID else "\ufffd" if i == OTHER_ID else chr(i + 32) for i in ids.tolist())


@cache
def corpus_bytes(max_bytes: int) -> bytes:
    """The first ``max_bytes`` bytes of the shipped corpus file, exactly as stored."""
    try:
        return CORPUS_FILE.read_bytes()[:max_bytes]
    except FileNotFoundError:
        raise FileNotFoundError(
            f"text: the corpus file {CORPUS_FILE} is missing; it ships with the repository "
            "(analysis/tasks/corpus/): restore it from git, or install the package with its data"
        ) from None


@cache
def corpus_ids(max_bytes: int) -> Tensor:
    """Token ids of the whole corpus (shared, do not modify)."""
    raw = torch.frombuffer(bytearray(corpus_bytes(max_bytes)), dtype=torch.uint8).long()
    return byte_to_id_table()[raw]


@cache
def corpus_sha256(max_bytes: int) -> str:
    return hashlib.sha256(corpus_bytes(max_bytes)).hexdigest()


@cache
def byte_pair_ids(max_bytes: int, start: int, stop: int) -> Tensor:
    """The corpus bytes [start, stop) encoded with the committed byte-pair merges (shared, do not modify)."""
    merges, base, _ = bpe.load_merges()
    return torch.from_numpy(bpe.encode(corpus_ids(max_bytes)[start:stop].numpy(), merges, base))


@TASKS.register("text")
@dataclass(frozen=True)
class TextTask(TokenTask):
    max_bytes: int = 2_000_000
    holdout_fraction: float = 0.1
    split: str = "train"
    expected_sha256: str = ""  # optional pin: refuse to run if the corpus bytes differ
    vocabulary: str = "bytes"  # or "bpe-512": byte pairs learned offline (see the module docstring)

    name: ClassVar[str] = "text"
    version: ClassVar[int] = 2  # what each version changed: CHANGELOG.md
    baseline_description: ClassVar[str] = (
        "unigram predictor: the byte-id frequencies of the training part of the corpus (add-one smoothed)"
    )

    def __post_init__(self) -> None:
        if self.max_bytes < 2:
            raise ValueError(f"text: max_bytes must be >= 2, got {self.max_bytes}")
        if not 0.0 <= self.holdout_fraction < 1.0:
            raise ValueError(f"text: holdout_fraction must lie in [0, 1), got {self.holdout_fraction}")
        if self.split not in SPLITS:
            raise ValueError(f"text: split must be one of {', '.join(SPLITS)}, got {self.split!r}")
        if self.vocabulary not in VOCABULARIES:
            raise ValueError(f"text: vocabulary must be one of {', '.join(VOCABULARIES)}, got {self.vocabulary!r}")
        if self.split == "heldout" and self.holdout_fraction == 0.0:
            raise ValueError("text: split 'heldout' needs holdout_fraction > 0")
        if self.expected_sha256 and self.expected_sha256 != self.corpus_sha256:
            raise ValueError(
                f"text: expected_sha256 is {self.expected_sha256}, but the corpus read now (the file "
                f"{CORPUS_FILE.name}, {self.max_bytes} bytes at most) has SHA-256 {self.corpus_sha256}; "
                "restore the file from git (analysis/tasks/corpus/), or, if the change is intended, set "
                "expected_sha256 to the new SHA-256 in every config and retrain"
            )

    def held_out(self) -> TextTask:
        return dataclasses.replace(self, split="heldout")

    @property
    def vocab(self) -> int:
        return self.size

    @property
    def size(self) -> int:
        """Number of token ids: 97 bytes, or the byte-pair vocabulary's size."""
        return VOCAB if self.vocabulary == "bytes" else bpe.load_merges()[2]

    @property
    def corpus_sha256(self) -> str:
        """Fingerprint of the exact bytes used, so results on different corpora are never mixed."""
        return corpus_sha256(self.max_bytes)

    @property
    def _boundary(self) -> int:
        """Index of the first held-out byte."""
        size = len(corpus_bytes(self.max_bytes))
        return size - math.floor(size * self.holdout_fraction)

    @property
    def part(self) -> Tensor:
        """Token ids of this task's split."""
        start, stop = (0, self._boundary) if self.split == "train" else (self._boundary, len(corpus_bytes(self.max_bytes)))
        if self.vocabulary == "bytes":
            return corpus_ids(self.max_bytes)[start:stop]
        return byte_pair_ids(self.max_bytes, start, stop)

    @property
    def max_context(self) -> int | None:
        return max(len(self.part) - 1, 0)

    def sample(self, n: int, context: int, generator: torch.Generator) -> Batch:
        part = self.part
        if not 1 <= context < len(part):
            raise ValueError(f"text: context must lie in [1, {len(part) - 1}] for this split, got {context}")
        starts = torch.randint(len(part) - context, (n, 1), generator=generator)
        windows = part[starts + torch.arange(context + 1)]
        return Batch(inputs=windows[:, :-1], targets=windows[:, 1:])

    @cached_property
    def unigram(self) -> Tensor:
        """Add-one smoothed id frequencies of the training part (held-out text never leaks in)."""
        train = dataclasses.replace(self, split="train").part
        counts = torch.bincount(train, minlength=self.size).double() + 1.0
        return (counts / counts.sum()).float()

    def context_free_prediction(self, batch: Batch) -> Tensor:
        return self.unigram.log().expand(*batch.targets.shape, self.size)

    def describe(self) -> dict[str, Any]:
        return {
            **super().describe(),
            "corpus_sha256": self.corpus_sha256,
            "corpus_bytes": len(corpus_bytes(self.max_bytes)),
            "corpus_file": CORPUS_FILE.name,
            **({} if self.vocabulary == "bytes" else {
                "merges_sha256": bpe.merges_sha256(),
                "bytes_per_token": round(self._boundary / len(dataclasses.replace(self, split="train").part), 4)}),
        }
