"""A byte-pair vocabulary for the text task, learned offline from the training part of the pinned corpus.

Why: the byte-level text model uses only a handful of its T positions (C4's effective context,
docs/results.md). With byte pairs each position carries about 2.6 bytes, so the same positions
reach further back in the text. The merges are learned once, deterministically, and committed
(``corpus/bpe-512-merges.json``); ``python -m tooling.learn_merges`` writes the file again.

Learning (classic BPE on one token stream, no word boundaries): start from the text task's 97 byte
ids; repeatedly merge the most frequent adjacent pair into a new id (ties: the smallest pair, a * size + b);
stop at ``size`` ids. Encoding applies the merges in order; a pair of equal ids is merged left to right
without overlap ("aaa" -> "(aa)a"). Only numpy; nothing is downloaded.
"""
from __future__ import annotations

import hashlib
import json
from functools import cache
from pathlib import Path

import numpy as np

MERGES_FILE = Path(__file__).with_name("corpus") / "bpe-512-merges.json"
Merges = tuple[tuple[int, int], ...]


def merge_pair(tokens: np.ndarray, a: int, b: int, new: int) -> np.ndarray:
    """``tokens`` with every (a, b) left to right, non-overlapping, replaced by ``new``."""
    hits = np.flatnonzero((tokens[:-1] == a) & (tokens[1:] == b))
    if a == b and len(hits):  # in a run of a's, a hit right after a kept one overlaps it
        keep, last = [], -2
        for i in hits.tolist():
            if i > last + 1:
                keep.append(i)
                last = i
        hits = np.asarray(keep, dtype=np.int64)
    if len(hits) == 0:
        return tokens
    out = tokens.copy()
    out[hits] = new
    mask = np.ones(len(out), dtype=bool)
    mask[hits + 1] = False
    return out[mask]


def learn_merges(ids: np.ndarray, base: int, size: int) -> Merges:
    """The ``size - base`` merges of greedy BPE on ``ids`` (ids < base); stops early when no pair repeats."""
    tokens, merges = np.asarray(ids, dtype=np.int64), []
    for new in range(base, size):
        if len(tokens) < 2:
            break
        pairs, counts = np.unique(tokens[:-1] * size + tokens[1:], return_counts=True)  # sorted: ties -> smallest
        best = int(np.argmax(counts))
        if counts[best] < 2:
            break
        a, b = divmod(int(pairs[best]), size)
        merges.append((a, b))
        tokens = merge_pair(tokens, a, b, new)
    return tuple(merges)


def encode(ids: np.ndarray, merges: Merges, base: int) -> np.ndarray:
    tokens = np.asarray(ids, dtype=np.int64)
    for k, (a, b) in enumerate(merges):
        tokens = merge_pair(tokens, a, b, base + k)
    return tokens


def expand(tokens: np.ndarray, merges: Merges, base: int) -> np.ndarray:
    """Byte ids of a token sequence (the inverse of ``encode``)."""
    pieces: list[list[int]] = [[i] for i in range(base)]
    for a, b in merges:
        pieces.append(pieces[a] + pieces[b])
    return np.asarray([i for t in np.asarray(tokens).tolist() for i in pieces[t]], dtype=np.int64)


@cache
def load_merges(path: Path = MERGES_FILE) -> tuple[Merges, int, int]:
    """(merges, base, size) of the committed file."""
    data = json.loads(path.read_text())
    return tuple((int(a), int(b)) for a, b in data["merges"]), int(data["base"]), int(data["size"])


def merges_sha256(path: Path = MERGES_FILE) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
