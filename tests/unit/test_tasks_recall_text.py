"""The recall and text tasks generate what their definitions say, and their reference losses are right."""
from __future__ import annotations

import hashlib
import math
import sys
import types
from importlib import resources
from pathlib import Path

import pytest
import torch
import yaml

from analysis.tasks import build_task
from analysis.tasks import text as text_module
from analysis.tasks.text import VOCAB, byte_to_id_table, decode

REPO = Path(__file__).resolve().parents[2]


def recall_tokens(batch) -> torch.Tensor:
    return torch.cat([batch.inputs, batch.targets[:, -1:]], dim=1)


def brute_force_bayes_losses(tokens: list[int], n_keys: int, n_values: int) -> list[float]:
    """Per-position loss of the Bayes predictor, by walking the sequence and remembering each key's value."""
    seen: dict[int, int] = {}
    losses = []
    for t in range(len(tokens) - 1):
        current, following = tokens[t], tokens[t + 1]
        if current < n_keys:  # a value comes next: known iff this key was seen before
            losses.append(0.0 if current in seen else math.log(n_values))
            seen[current] = following
        else:
            losses.append(math.log(n_keys))
    return losses


def test_recall_values_follow_their_keys() -> None:
    task = build_task({"name": "recall", "n_keys": 4, "n_values": 5})
    batch = task.sample(200, 21, torch.Generator().manual_seed(0))
    tokens = recall_tokens(batch)
    repeats = 0
    for row in tokens.tolist():
        seen: dict[int, int] = {}
        for i, token in enumerate(row):
            if i % 2 == 0:
                assert 0 <= token < 4  # keys at even indices
            else:
                assert 4 <= token < 9  # values at odd indices
                key = row[i - 1]
                if key in seen:
                    assert token == seen[key]
                    repeats += 1
                seen[key] = token
    assert repeats > 1000  # the check above was not vacuous
    torch.testing.assert_close(batch.targets[:, :-1], batch.inputs[:, 1:])


def test_recall_features_match_a_brute_force_scan() -> None:
    task = build_task({"name": "recall", "n_keys": 3, "n_values": 4})
    context = 14
    batch = task.sample(50, context, torch.Generator().manual_seed(1))
    for b, row in enumerate(recall_tokens(batch).tolist()):
        for t in range(context):
            is_value = row[t] < 3
            assert bool(batch.features["is_value_target"][b, t]) == is_value
            earlier = [s for s in range(t) if s % 2 == 1 and row[s - 1] == row[t]] if is_value else []
            expected = t - max(earlier) if earlier else -1
            assert int(batch.features["repeat_distance"][b, t]) == expected
    losses = torch.tensor([brute_force_bayes_losses(row, 3, 4) for row in recall_tokens(batch).tolist()])
    torch.testing.assert_close(batch.features["bayes_loss"], losses.float())


@pytest.mark.parametrize(("n_keys", "n_values", "context"), [(8, 8, 32), (4, 6, 17), (2, 3, 1)])
def test_recall_optimal_loss_matches_monte_carlo(n_keys: int, n_values: int, context: int) -> None:
    task = build_task({"name": "recall", "n_keys": n_keys, "n_values": n_values})
    batch = task.sample(2000, context, torch.Generator().manual_seed(2))
    losses = [loss for row in recall_tokens(batch).tolist() for loss in brute_force_bayes_losses(row, n_keys, n_values)]
    assert sum(losses) / len(losses) == pytest.approx(task.optimal_loss(context), abs=0.02)


def test_recall_baseline_is_the_type_aware_uniform_and_above_the_optimum() -> None:
    task = build_task({"name": "recall", "n_keys": 4, "n_values": 8})
    baseline = task.baseline_loss(16)
    assert baseline == pytest.approx((math.log(8) + math.log(4)) / 2, abs=1e-5)
    assert task.optimal_loss(16) < baseline < math.log(12)  # beats the unigram, loses to the Bayes predictor


def test_recall_rejects_bad_parameters() -> None:
    with pytest.raises(ValueError, match="n_keys"):
        build_task({"name": "recall", "n_keys": 1})
    with pytest.raises(ValueError, match="n_values"):
        build_task({"name": "recall", "n_values": 0})


@pytest.mark.parametrize("name", ["recall", "text"])
def test_sampling_is_deterministic_and_shifted(name: str) -> None:
    task = build_task({"name": name})
    a = task.sample(6, 40, torch.Generator().manual_seed(7))
    b = task.sample(6, 40, torch.Generator().manual_seed(7))
    c = task.sample(6, 40, torch.Generator().manual_seed(8))
    assert torch.equal(a.inputs, b.inputs) and torch.equal(a.targets, b.targets)
    assert not torch.equal(a.inputs, c.inputs)
    assert a.inputs.shape == a.targets.shape == (6, 40) and a.inputs.dtype == torch.long
    torch.testing.assert_close(a.targets[:, :-1], a.inputs[:, 1:])
    assert 0 <= int(a.inputs.min()) and int(a.targets.max()) < task.output_spec.size
    assert task.context_free_prediction(a).shape == (6, 40, task.output_spec.size)


def test_text_corpus_is_english_and_fingerprinted() -> None:
    task = build_task({"name": "text"})
    corpus = text_module.corpus_bytes(task.max_bytes)
    assert len(corpus) > 100_000 and corpus.count(b" the ") > 1000
    first = task.corpus_sha256
    text_module.corpus_bytes.cache_clear()
    text_module.corpus_sha256.cache_clear()
    assert build_task({"name": "text"}).corpus_sha256 == first
    assert task.describe()["corpus_sha256"] == first and len(first) == 64
    assert build_task({"name": "text", "max_bytes": 1000}).corpus_sha256 != first


def test_text_corpus_is_the_shipped_file_not_the_running_python(monkeypatch: pytest.MonkeyPatch) -> None:
    """The bytes come from the package's corpus file, found by package path, whatever pydoc_data holds."""
    shipped = (resources.files("analysis.tasks") / "corpus" / text_module.CORPUS_FILE.name).read_bytes()
    fake = types.ModuleType("pydoc_data.topics")
    fake.topics = {"a": "not the corpus"}  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "pydoc_data.topics", fake)
    text_module.corpus_bytes.cache_clear()
    text_module.corpus_sha256.cache_clear()
    task = build_task({"name": "text"})
    assert text_module.corpus_bytes(task.max_bytes) == shipped[: task.max_bytes]
    assert text_module.corpus_bytes(1000) == shipped[:1000]
    assert task.corpus_sha256 == hashlib.sha256(shipped[: task.max_bytes]).hexdigest()
    description = task.describe()
    assert description["version"] == 2 and description["corpus_file"] == text_module.CORPUS_FILE.name
    assert description["corpus_bytes"] == len(shipped) and not any("python" in k for k in description)
    assert len(shipped) < 1_500_000 and (text_module.CORPUS_FILE.parent / "LICENSE-PSF.txt").is_file()


@pytest.mark.parametrize("config", sorted((REPO / "config").rglob("*.yaml")), ids=lambda p: p.name)
def test_every_config_pins_the_text_corpus(config: Path) -> None:
    """Each text task in a config carries expected_sha256, equal to the SHA-256 of the shipped bytes it reads."""
    tasks = (yaml.safe_load(config.read_text()) or {}).get("tasks", {})
    for label, params in tasks.items():
        if params.get("name") == "text":
            max_bytes = params.get("max_bytes", text_module.TextTask.max_bytes)
            expected = hashlib.sha256(text_module.CORPUS_FILE.read_bytes()[:max_bytes]).hexdigest()
            assert params.get("expected_sha256") == expected, f"{config.name}: tasks.{label}.expected_sha256"
            build_task(params)  # the pin is accepted


def test_text_refuses_a_changed_corpus_naming_both_fingerprints(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    changed = tmp_path / text_module.CORPUS_FILE.name
    changed.write_bytes(text_module.CORPUS_FILE.read_bytes()[:5000].replace(b"the", b"teh"))
    pinned = hashlib.sha256(text_module.CORPUS_FILE.read_bytes()[:5000]).hexdigest()
    found = hashlib.sha256(changed.read_bytes()).hexdigest()
    build_task({"name": "text", "max_bytes": 5000, "expected_sha256": pinned})  # the shipped file passes its pin
    monkeypatch.setattr(text_module, "CORPUS_FILE", changed)
    text_module.corpus_bytes.cache_clear()
    text_module.corpus_sha256.cache_clear()
    try:
        with pytest.raises(ValueError) as caught:
            build_task({"name": "text", "max_bytes": 5000, "expected_sha256": pinned})
        message = str(caught.value)
        assert f"expected_sha256 is {pinned}" in message and f"has SHA-256 {found}" in message
        assert changed.name in message and "retrain" in message
        monkeypatch.setattr(text_module, "CORPUS_FILE", tmp_path / "absent.txt")
        text_module.corpus_bytes.cache_clear()
        with pytest.raises(FileNotFoundError, match="absent.txt is missing"):
            text_module.corpus_bytes(10)
    finally:
        text_module.corpus_bytes.cache_clear()
        text_module.corpus_sha256.cache_clear()


def test_text_vocabulary_mapping() -> None:
    table = byte_to_id_table()
    assert int(table.max()) == VOCAB - 1 == 96
    sample = "Hello, world!\n~ "
    ids = table[torch.tensor(list(sample.encode()))]
    assert decode(ids) == sample
    assert table["é".encode()[0]] == table[0] == table[9] == 96  # non-printable bytes share "other"


def test_text_splits_do_not_overlap() -> None:
    train = build_task({"name": "text", "max_bytes": 1000, "holdout_fraction": 0.5})
    heldout = build_task({"name": "text", "max_bytes": 1000, "holdout_fraction": 0.5, "split": "heldout"})
    ids = text_module.corpus_ids(1000)
    assert torch.equal(torch.cat([train.part, heldout.part]), ids) and len(heldout.part) == 500
    for task in (train, heldout):  # every window is a piece of its own part
        batch = task.sample(300, 20, torch.Generator().manual_seed(3))
        windows = torch.cat([batch.inputs, batch.targets[:, -1:]], dim=1)
        candidates = task.part.unfold(0, 21, 1)
        assert all(bool((candidates == window).all(-1).any()) for window in windows)
    assert train.max_context == 499
    with pytest.raises(ValueError, match="context"):
        train.sample(1, 500, torch.Generator().manual_seed(0))
    with pytest.raises(ValueError, match="split"):
        build_task({"name": "text", "split": "test"})
    with pytest.raises(ValueError, match="holdout_fraction"):
        build_task({"name": "text", "holdout_fraction": 1.0})


def test_text_baseline_is_finite_and_below_uniform() -> None:
    task = build_task({"name": "text"})
    baseline = task.baseline_loss(16)
    assert math.isfinite(baseline) and 0 < baseline < math.log(VOCAB)
    assert task.optimal_loss(16) is None
    torch.testing.assert_close(task.unigram.sum(), torch.tensor(1.0))


def test_text_evaluation_draws_from_the_held_out_split() -> None:
    task = build_task({"name": "text"})
    assert task.held_out().split == "heldout" and task.split == "train"
    assert task.held_out().corpus_sha256 == task.corpus_sha256
