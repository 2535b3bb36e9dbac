"""The text task's byte-pair vocabulary against a pure-Python BPE loop, and the committed merges file."""
from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
import torch

from analysis.tasks import build_task
from analysis.tasks.bpe import encode, expand, learn_merges, load_merges, merge_pair
from analysis.tasks.text import VOCAB, corpus_ids


def _reference_bpe(ids: list[int], base: int, size: int) -> tuple[list[tuple[int, int]], list[int]]:
    """Slow, obvious BPE: count every adjacent pair, take the most frequent (ties: smallest a * size + b), rewrite
    the sequence left to right, merging each occurrence that does not overlap the previous merge."""
    tokens, merges = list(ids), []
    for new in range(base, size):
        counts = Counter(zip(tokens, tokens[1:], strict=False))
        if not counts or max(counts.values()) < 2:
            break
        (a, b), _ = min(counts.items(), key=lambda kv: (-kv[1], kv[0][0] * size + kv[0][1]))
        out, i = [], 0
        while i < len(tokens):
            if i + 1 < len(tokens) and tokens[i] == a and tokens[i + 1] == b:
                out.append(new)
                i += 2
            else:
                out.append(tokens[i])
                i += 1
        merges.append((a, b))
        tokens = out
    return merges, tokens


def test_merging_a_run_of_equal_ids_goes_left_to_right_without_overlap() -> None:
    assert merge_pair(np.array([2, 2, 2, 2, 2, 1]), 2, 2, 9).tolist() == [9, 9, 2, 1]
    assert merge_pair(np.array([0, 1, 0, 1, 1]), 0, 1, 7).tolist() == [7, 7, 1]
    assert merge_pair(np.array([0, 0]), 1, 0, 7).tolist() == [0, 0]  # no hit: unchanged


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_learned_merges_and_encoding_match_the_reference(seed: int) -> None:
    rng = np.random.default_rng(seed)
    ids = rng.choice(4, size=400, p=[0.5, 0.3, 0.15, 0.05])  # skewed: long runs and repeated pairs
    merges = learn_merges(ids, 4, 24)
    expected, tokens = _reference_bpe(ids.tolist(), 4, 24)
    assert list(merges) == expected and len(merges) > 10
    assert encode(ids, merges, 4).tolist() == tokens
    assert expand(encode(ids, merges, 4), merges, 4).tolist() == ids.tolist()  # the inverse


def test_learning_stops_when_no_pair_repeats() -> None:
    assert learn_merges(np.array([0, 1, 2, 3]), 4, 10) == ()
    assert learn_merges(np.array([0, 1, 0, 1]), 2, 10) == ((0, 1),)


def test_the_committed_merges_are_the_ones_learned_on_the_training_part() -> None:
    """Greedy BPE's first merges do not depend on later ones: the file's first 12 are relearned (the whole file:
    ``python -m tooling.learn_merges``, a few seconds)."""
    merges, base, size = load_merges()
    assert (base, size, len(merges)) == (VOCAB, 512, 512 - VOCAB)
    train = build_task({"name": "text"}).part.numpy()
    assert learn_merges(train, VOCAB, VOCAB + 12) == merges[:12]


def test_the_bpe_text_task_covers_the_same_bytes_split_at_the_same_boundary() -> None:
    task = build_task({"name": "text", "vocabulary": "bpe-512"})
    merges, base, _ = load_merges()
    held = task.held_out()
    joined = np.concatenate([expand(task.part.numpy(), merges, base), expand(held.part.numpy(), merges, base)])
    assert np.array_equal(joined, corpus_ids(task.max_bytes).numpy())  # nothing lost, nothing straddles the boundary
    assert task.input_spec.size == task.output_spec.size == 512 and int(task.part.max()) < 512
    batch = held.sample(3, 32, torch.Generator().manual_seed(0))
    assert batch.inputs.shape == (3, 32) and torch.equal(batch.inputs[:, 1:], batch.targets[:, :-1])
    assert task.unigram.shape == (512,) and float(task.unigram.sum()) == pytest.approx(1.0)
    described = task.describe()
    assert described["vocabulary"] == "bpe-512" and 2.3 < described["bytes_per_token"] < 2.8 and described["merges_sha256"]
    assert "merges_sha256" not in build_task({"name": "text"}).describe()
    with pytest.raises(ValueError, match="vocabulary must be one of bytes, bpe-512"):
        build_task({"name": "text", "vocabulary": "words"})
