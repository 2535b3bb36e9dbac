"""The card's benchmark (``make bench``, section ``card``): seconds per sequence for all-pairs G^l on a GPT-2-small-sized
model (random weights, 124M parameters) at context 128, batched against the per-target loop, and the cost relative to
one backward pass of the sequence's summed loss. Interleaved rounds in one process, ratios within a round, as the
other benchmarks. Needs the card extra (requirements-card.lock)."""
from __future__ import annotations

import statistics
import time
from typing import Any

import torch

from analysis.card import gradients
from analysis.card.load import CardModel, token_loss
from analysis.device import resolve_device
from analysis.provenance import device_description, git_commit, package_versions


def gpt2_small(device: torch.device) -> CardModel:
    """GPT-2 small's configuration (12 layers, width 768, 12 heads, vocabulary 50257), random weights, eager attention."""
    from transformers import AutoModelForCausalLM, GPT2Config

    config = GPT2Config()
    model = AutoModelForCausalLM.from_config(config, attn_implementation="eager").to(device).eval()  # as the card loads

    def forward(inputs: torch.Tensor) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
        out = model(input_ids=inputs, output_hidden_states=True, use_cache=False)
        return out.logits, tuple(out.hidden_states)

    sizes = {"hidden": config.n_embd, "heads": config.n_head, "ffn": 4 * config.n_embd, "vocab": config.vocab_size}
    return CardModel(name="gpt2-small-random", family="gpt2", model=model, forward=forward, loss_per_position=token_loss,
                     n_layer=config.n_layer, max_context=config.n_positions, config=config.to_dict(), sizes=sizes)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _timed(device: torch.device, work) -> float:
    _sync(device)
    started = time.perf_counter()
    work()
    _sync(device)
    return time.perf_counter() - started


def card_times(rounds: int = 2, threads: int = 1, device: str = "auto", context: int = 128, max_memory_mb: float = 2048.0,
               methods: tuple[str, ...] = ("batched", "loop")) -> dict[str, Any]:
    """Seconds per sequence of each method and of one backward pass, medians over ``rounds`` interleaved rounds."""
    torch.set_num_threads(threads)
    where = resolve_device(device)
    torch.manual_seed(0)
    card = gpt2_small(where)
    inputs = torch.randint(0, card.sizes["vocab"], (1, context), device=where)
    targets = torch.randint(0, card.sizes["vocab"], (1, context), device=where)

    def one_backward() -> None:
        prediction, _ = card.forward(inputs)
        token_loss(prediction, targets).sum().backward()
        card.model.zero_grad(set_to_none=True)

    chunk = gradients.targets_per_chunk(card, 1, context, max_memory_mb, 4)
    seconds: dict[str, list[float]] = {name: [] for name in ("one_backward", *methods)}
    one_backward()  # warm-up
    for _ in range(rounds):
        seconds["one_backward"].append(_timed(where, one_backward))
        for name in methods:
            seconds[name].append(_timed(where, lambda name=name: gradients.gradient_matrix(
                card, inputs, targets, method=name, batch_size=1, chunk=chunk, progress=False)))
    results = {name: {"seconds_per_sequence_median": statistics.median(values), "seconds": values,
                      "ratio_to_one_backward_median": statistics.median(
                          v / b for v, b in zip(values, seconds["one_backward"], strict=True))}
               for name, values in seconds.items()}
    if "loop" in seconds and "batched" in seconds:
        results["batched"]["ratio_to_loop_median"] = statistics.median(
            b / loop for b, loop in zip(seconds["batched"], seconds["loop"], strict=True))
    return {
        "what": (f"seconds per sequence for the card's all-pairs G^l (13 residual streams, {context} targets) of a "
                 "GPT-2-small-sized model with random weights, batched (one vectorised backward per chunk of "
                 f"{chunk} targets, max_memory_mb {max_memory_mb:g}) and the per-target loop, against one backward "
                 "pass of the summed loss"),
        "parameters": sum(p.numel() for p in card.model.parameters()),
        "context": context, "chunk": chunk, "rounds": rounds, "threads": threads,
        "device": device_description(where), "git_commit": git_commit(), "packages": package_versions(),
        "results": results,
    }
