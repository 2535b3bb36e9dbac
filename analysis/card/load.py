"""Load a local causal LM (Hugging Face directory) or one of the study's checkpoints behind one interface.

Nothing is ever downloaded: every Hugging Face call passes ``local_files_only=True``, and a
name that is not a local path is refused before ``transformers`` is imported. Every bad input
raises ``CardError`` with one line that says what is wrong, before any heavy work.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor
from torch.nn import functional as F

WEIGHT_FILES = ("*.safetensors", "pytorch_model*.bin")
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.json", "tokenizer.model")
LOSS, LOGIT = "loss", "logit"

Forward = Callable[[Tensor], tuple[Tensor, tuple[Tensor, ...]]]
Objective = Callable[[Tensor, Tensor], Tensor]


class CardError(ValueError):
    """A bad input to the card: its message is the one line the user sees."""


@dataclass
class CardModel:
    """What the card needs from a model, whatever its family.

    ``forward(inputs)`` returns (prediction, hidden states h^0 .. h^L) with the hidden states
    on the autograd graph; ``loss_per_position(prediction, targets)`` is (B, T).
    """

    name: str
    family: str
    model: torch.nn.Module
    forward: Forward
    loss_per_position: Objective
    n_layer: int
    max_context: int | None
    config: dict[str, Any]
    tokenizer: Any = None
    run: dict[str, Any] | None = None  # the study's run spec, for its own checkpoints
    attentions: Callable[[Tensor], Tensor] | None = None  # (N, L, H, T, T) attention probabilities
    sizes: dict[str, int] = field(default_factory=dict)  # hidden, heads, ffn, vocab: the memory estimate

    @property
    def config_hash(self) -> str:
        """SHA-256 of the model's configuration as canonical JSON (its identity on the card)."""
        return hashlib.sha256(json.dumps(self.config, sort_keys=True, default=str).encode()).hexdigest()


def target_logit(prediction: Tensor, targets: Tensor) -> Tensor:
    """(B, T) logit of the next token: the published protocol's objective instead of the loss."""
    return prediction.gather(-1, targets.unsqueeze(-1)).squeeze(-1)


def token_loss(prediction: Tensor, targets: Tensor) -> Tensor:
    """(B, T) cross-entropy of the next token."""
    return F.cross_entropy(prediction.transpose(1, 2), targets, reduction="none")


def _check_directory(path: Path) -> None:
    if not path.exists():
        raise CardError(f"{path}: not a local directory (the card never downloads; save the model with save_pretrained first)")
    if not path.is_dir():
        raise CardError(f"{path}: not a directory holding a model (config.json and *.safetensors), nor a study checkpoint (.pt)")
    if not (path / "config.json").is_file():
        raise CardError(f"{path}: no model here (config.json missing)")
    if not any(any(path.glob(pattern)) for pattern in WEIGHT_FILES):
        raise CardError(f"{path}: no model weights here (no *.safetensors)")
    if not any((path / name).is_file() for name in TOKENIZER_FILES):
        raise CardError(f"{path}: no tokenizer here (tokenizer.json or tokenizer_config.json missing); save it beside the model")


def _check_causal(path: Path, config: Any) -> None:
    """Refuse encoder-only and encoder-decoder models from the saved config, before any weights are read."""
    from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES as NAMES

    causal = {name for value in NAMES.values() for name in (value if isinstance(value, tuple | list) else (value,))}
    saved = list(getattr(config, "architectures", None) or [])
    if (config.model_type not in NAMES or getattr(config, "is_encoder_decoder", False)
            or (saved and not set(saved) & causal)):
        raise CardError(f"{path}: {config.model_type} is not a decoder-only causal language model (encoder-only or encoder-decoder)")


def check_causal_mask(model: CardModel) -> None:
    """One two-token forward: changing the second token must leave the first position's output as it was."""
    inputs = torch.zeros(1, 2, dtype=torch.long, device=next(model.model.parameters()).device)
    with torch.no_grad():
        first = model.forward(inputs)[0][:, 0]
        inputs[0, 1] = 1
        changed = model.forward(inputs)[0][:, 0]
    if not torch.allclose(first, changed, rtol=1e-5, atol=1e-6):
        raise CardError(f"{model.name}: not causal (position 0's output depends on a later token)")


def _max_context(config: Any) -> int | None:
    for key in ("max_position_embeddings", "n_positions", "n_ctx"):
        value = getattr(config, key, None)
        if isinstance(value, int):
            return value
    return None


def load_pretrained(path: Path, dtype: torch.dtype = torch.float32, device: str = "cpu") -> CardModel:
    """A local Hugging Face causal LM and its tokenizer (eager attention: its probabilities are read for the sinks)."""
    _check_directory(path)
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    config = AutoConfig.from_pretrained(path, local_files_only=True)
    _check_causal(path, config)
    try:
        tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    except (OSError, ValueError, TypeError) as error:
        raise CardError(f"{path}: no usable tokenizer ({str(error).splitlines()[0]})") from error
    model = AutoModelForCausalLM.from_pretrained(
        path, local_files_only=True, use_safetensors=True, dtype=dtype, attn_implementation="eager"
    ).to(device).eval()

    def forward(inputs: Tensor) -> tuple[Tensor, tuple[Tensor, ...]]:
        out = model(input_ids=inputs, output_hidden_states=True, use_cache=False)
        return out.logits, tuple(out.hidden_states)

    @torch.no_grad()
    def attentions(inputs: Tensor) -> Tensor:
        out = model(input_ids=inputs, output_attentions=True, use_cache=False)
        return torch.stack(out.attentions, dim=1)

    text = config.get_text_config() if hasattr(config, "get_text_config") else config
    sizes = {"hidden": int(text.hidden_size), "heads": int(text.num_attention_heads),
             "ffn": int(getattr(text, "intermediate_size", None) or getattr(text, "n_inner", None) or 4 * text.hidden_size),
             "vocab": int(text.vocab_size)}
    card = CardModel(
        name=path.name, family=config.model_type, model=model, forward=forward, loss_per_position=token_loss,
        n_layer=int(text.num_hidden_layers), max_context=_max_context(text), config=config.to_dict(),
        tokenizer=tokenizer, attentions=attentions, sizes=sizes,
    )
    check_causal_mask(card)
    return card


def load_study_checkpoint(path: Path, dtype: torch.dtype = torch.float32, device: str = "cpu") -> CardModel:
    """One of the study's checkpoints (``checkpoint_step*.pt``): its GPT and task, as the measures load them."""
    from ..measures.attention import attention_weights
    from ..measures.data import RunData
    from ..measures.run import load_model
    from ..spec import RunSpec

    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001  (any unreadable file is the same bad input)
        raise CardError(f"{path}: not a readable study checkpoint ({type(error).__name__})") from error
    if not isinstance(payload, dict) or "run" not in payload:
        raise CardError(f"{path}: not a study checkpoint (no run spec in it)")
    spec = RunSpec.from_dict(payload["run"])
    data = RunData(spec)
    model = load_model(path, data).to(device=device, dtype=dtype)

    def forward(inputs: Tensor) -> tuple[Tensor, tuple[Tensor, ...]]:
        prediction, residuals = model(inputs, return_residuals=True)
        return prediction, tuple(residuals)

    config = model.config
    sizes = {"hidden": config.d_model, "heads": config.n_head, "ffn": config.d_model * config.mlp_ratio,
             "vocab": 1 if data.task.output_spec is None else int(getattr(data.task.output_spec, "size", 1) or 1)}
    return CardModel(
        name=f"{spec.condition}-seed{spec.seed}-step{payload.get('step', 0)}", family="gradflow-gpt", model=model,
        forward=forward, loss_per_position=data.task.loss_per_position, n_layer=config.n_layer,
        max_context=int(spec.model["context"]), config=payload.get("model_config", config.to_dict()),
        run=payload["run"] | {"step": payload.get("step", 0)}, attentions=lambda x: attention_weights(model, x),
        sizes=sizes,
    )


def load(name: str | Path, dtype: torch.dtype = torch.float32, device: str = "cpu") -> CardModel:
    """A Hugging Face model directory or a study checkpoint file; anything else is refused in one line."""
    path = Path(name)
    if path.is_file() and path.suffix == ".pt":
        return load_study_checkpoint(path, dtype, device)
    return load_pretrained(path, dtype, device)


def check_context(model: CardModel, context: int) -> None:
    if context < 2:
        raise CardError(f"context {context}: the card needs at least 2 positions")
    if model.max_context is not None and context > model.max_context:
        raise CardError(f"context {context} is longer than {model.name}'s maximum of {model.max_context} positions")


def text_windows(model: CardModel, text: str, context: int, sequences: int) -> tuple[Tensor, Tensor]:
    """(inputs, targets), each (N, context): consecutive non-overlapping windows of context + 1 tokens of ``text``."""
    check_context(model, context)
    if not text.strip():
        raise CardError("the text is empty")
    ids = torch.tensor(model.tokenizer(text, add_special_tokens=False)["input_ids"], dtype=torch.long)
    n = min(sequences, len(ids) // (context + 1))
    if n < 1:
        raise CardError(f"the text is too short: {len(ids)} tokens, one sequence needs context + 1 = {context + 1}")
    windows = ids[: n * (context + 1)].view(n, context + 1)
    return windows[:, :-1].contiguous(), windows[:, 1:].contiguous()
