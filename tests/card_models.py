"""Tiny random causal LMs of three families and a tokenizer, saved locally the way a user saves theirs (offline)."""
from __future__ import annotations

from pathlib import Path

import torch

VOCAB = 64
WORDS = ["a", "b", "c", "d", "e", "f", "g", "h"]


def family_configs() -> dict:
    from transformers import GPT2Config, GPTNeoXConfig, LlamaConfig, Qwen2Config

    small = {"vocab_size": VOCAB, "bos_token_id": 0, "eos_token_id": 0}
    return {
        "gpt2": GPT2Config(n_layer=2, n_embd=16, n_head=2, n_positions=16, **small),
        "gpt_neox": GPTNeoXConfig(num_hidden_layers=2, hidden_size=16, num_attention_heads=2, intermediate_size=32,
                                  max_position_embeddings=16, rotary_pct=0.5, **small),
        "llama": LlamaConfig(num_hidden_layers=2, hidden_size=16, num_attention_heads=2, num_key_value_heads=1,
                             intermediate_size=32, max_position_embeddings=16, **small),
        "qwen2": Qwen2Config(num_hidden_layers=2, hidden_size=16, num_attention_heads=2, num_key_value_heads=1,
                             intermediate_size=32, max_position_embeddings=16, **small),
    }


def word_tokenizer():
    """A whitespace word-level fast tokenizer over VOCAB ids (no files from outside)."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {"<unk>": 0, **{w: i + 1 for i, w in enumerate(WORDS)}}
    core = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.Whitespace()
    return PreTrainedTokenizerFast(tokenizer_object=core, unk_token="<unk>")


def save_tiny(family: str, directory: Path, seed: int = 0) -> Path:
    """A random model of ``family`` (weights perturbed so every path carries gradient) and the tokenizer, in ``directory``."""
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(family_configs()[family])
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(0.2 * torch.randn_like(parameter))
    model.save_pretrained(directory)
    word_tokenizer().save_pretrained(directory)
    return directory


def sample_text(words: int = 200, seed: int = 0) -> str:
    generator = torch.Generator().manual_seed(seed)
    return " ".join(WORDS[i] for i in torch.randint(0, len(WORDS), (words,), generator=generator).tolist())
