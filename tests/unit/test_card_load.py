"""Each bad input to the card gives its one-line message before any heavy work."""
from __future__ import annotations

import json

import pytest
import torch

pytest.importorskip("transformers")

from card_models import sample_text, save_tiny, word_tokenizer  # noqa: E402

from analysis.card import gradients, load  # noqa: E402
from analysis.card.load import CardError  # noqa: E402


@pytest.fixture(scope="module")
def gpt2_dir(tmp_path_factory):
    return save_tiny("gpt2", tmp_path_factory.mktemp("gpt2"))


def one_line(error: pytest.ExceptionInfo) -> str:
    message = str(error.value)
    assert "\n" not in message
    return message


def test_a_name_that_is_not_a_local_directory_is_refused_without_downloading(tmp_path) -> None:
    with pytest.raises(CardError) as error:
        load.load("openai-community/gpt2-does-not-exist-here")
    assert "not a local directory" in one_line(error) and "never downloads" in one_line(error)


def test_a_directory_without_a_model(tmp_path) -> None:
    with pytest.raises(CardError) as error:
        load.load(tmp_path)
    assert "no model here (config.json missing)" in one_line(error)
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "gpt2"}))
    with pytest.raises(CardError, match="no model weights here"):
        load.load(tmp_path)


def test_an_encoder_only_model_is_refused(tmp_path) -> None:
    from transformers import BertConfig

    BertConfig(num_hidden_layers=1, hidden_size=8, num_attention_heads=2, vocab_size=16,
               architectures=["BertModel"]).save_pretrained(tmp_path)
    (tmp_path / "model.safetensors").write_bytes(b"")  # refused from the config, before any weights are read
    word_tokenizer().save_pretrained(tmp_path)
    with pytest.raises(CardError) as error:
        load.load(tmp_path)
    assert "bert is not a decoder-only causal language model" in one_line(error)


def test_a_model_without_a_tokenizer(tmp_path) -> None:
    save_tiny("gpt2", tmp_path)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        (tmp_path / name).unlink()
    with pytest.raises(CardError) as error:
        load.load(tmp_path)
    assert "no tokenizer here" in one_line(error)


def test_context_longer_than_the_model_allows(gpt2_dir) -> None:
    card = load.load(gpt2_dir)
    with pytest.raises(CardError) as error:
        load.text_windows(card, sample_text(), context=17, sequences=1)
    assert one_line(error) == "context 17 is longer than gpt2's maximum of 16 positions".replace("gpt2's", f"{card.name}'s")
    load.text_windows(card, sample_text(), context=16, sequences=1)  # the maximum itself is fine


def test_empty_and_too_short_texts(gpt2_dir) -> None:
    card = load.load(gpt2_dir)
    with pytest.raises(CardError, match="the text is empty"):
        load.text_windows(card, "  \n", context=8, sequences=1)
    with pytest.raises(CardError) as error:
        load.text_windows(card, "a b c d e f g h", context=8, sequences=1)
    assert "too short: 8 tokens, one sequence needs context + 1 = 9" in one_line(error)
    inputs, targets = load.text_windows(card, "a b c d e f g h a", context=8, sequences=3)
    assert inputs.shape == targets.shape == (1, 8) and inputs[0, 1:].tolist() == targets[0, :-1].tolist()


def test_the_config_hash_names_the_configuration(gpt2_dir) -> None:
    first, second = load.load(gpt2_dir), load.load(gpt2_dir)
    assert first.config_hash == second.config_hash and len(first.config_hash) == 64
    second.config["n_layer"] = 3
    assert first.config_hash != second.config_hash


def test_a_model_that_reads_later_tokens_is_refused(gpt2_dir) -> None:
    card = load.load(gpt2_dir)
    forward = card.forward
    card.forward = lambda inputs: (forward(inputs)[0] + inputs[:, -1:, None].double(), ())  # position 0 sees the last token
    with pytest.raises(CardError, match="not causal"):
        load.check_causal_mask(card)


@pytest.mark.parametrize("error", [torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"),
                                   RuntimeError("[enforce fail at alloc_cpu.cpp:117] DefaultCPUAllocator: not enough memory")])
def test_running_out_of_memory_names_the_setting_to_lower(gpt2_dir, error) -> None:
    card = load.load(gpt2_dir)
    inputs, targets = load.text_windows(card, sample_text(), context=8, sequences=2)

    def forward(inputs):
        raise error

    card.forward = forward
    with pytest.raises(CardError) as raised:
        gradients.gradient_matrix(card, inputs, targets, progress=False, max_memory_mb=512)
    assert "lower MAX_MEMORY_MB (now 512; --max-memory-mb)" in one_line(raised)


def test_other_errors_pass_through(gpt2_dir) -> None:
    card = load.load(gpt2_dir)
    inputs, targets = load.text_windows(card, sample_text(), context=8, sequences=1)
    card.forward = lambda inputs: (_ for _ in ()).throw(RuntimeError("shape mismatch"))
    with pytest.raises(RuntimeError, match="shape mismatch"):
        gradients.gradient_matrix(card, inputs, targets, progress=False)
