"""G^l[t, s] = ||dL_t / dh_s^l|| for every target, source and layer of any model behind ``CardModel``.

The study's ``measures.gradient_matrix`` does the same on its own GPT; this module runs on the
hidden states a Hugging Face model returns (``output_hidden_states``), with a progress bar
over sequences and chunks of targets, chunk sizes from the model's sizes, and a clear message
on running out of memory. ``batched`` is one forward and one vectorised backward per chunk
(``is_grads_batched`` with one-hot output gradients); ``per_target_loop`` is its reference,
one backward per target. Entries s > t are exact zeros (causal mask).
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import Tensor
from tqdm.auto import tqdm

from .load import CardError, CardModel, Objective

MEMORY_SETTING = "MAX_MEMORY_MB"  # the make variable (``--max-memory-mb``) a user lowers on running out of memory


def bytes_per_target(model: CardModel, batch: int, length: int, itemsize: int = 4) -> int:
    """Rough peak bytes one more target adds to a vectorised backward: per layer the attention scores and
    probabilities (2 H T^2) and ~(8 d + 3 ffn) activations per position, plus the (T, vocab) logits' gradient."""
    sizes = model.sizes
    per_layer = 2 * sizes["heads"] * length**2 + length * (8 * sizes["hidden"] + 3 * sizes["ffn"])
    return itemsize * batch * (model.n_layer * per_layer + length * sizes["vocab"])


def targets_per_chunk(model: CardModel, batch: int, length: int, max_memory_mb: float, itemsize: int = 4) -> int:
    """How many targets one vectorised backward may hold under ``max_memory_mb`` (at least 1)."""
    return max(1, min(length, int(max_memory_mb * 2**20 // bytes_per_target(model, batch, length, itemsize))))


def out_of_memory_message(chunk: int, max_memory_mb: float) -> str:
    return (f"out of memory with {chunk} targets per backward pass: lower {MEMORY_SETTING} (now {max_memory_mb:g}; "
            "--max-memory-mb), or the sequences per forward pass (--batch-size)")


@contextmanager
def out_of_memory_hint(chunk: int, max_memory_mb: float) -> Iterator[None]:
    """Turn an out-of-memory error (CUDA's, or the CPU allocator's) into one line naming the setting to lower."""
    try:
        yield
    except (torch.OutOfMemoryError, MemoryError) as error:
        raise CardError(out_of_memory_message(chunk, max_memory_mb)) from error
    except RuntimeError as error:
        if "out of memory" not in str(error).lower() and "not enough memory" not in str(error).lower():
            raise
        raise CardError(out_of_memory_message(chunk, max_memory_mb)) from error


def _losses(model: CardModel, inputs: Tensor, targets: Tensor, objective: Objective | None) -> tuple[Tensor, tuple[Tensor, ...]]:
    prediction, hidden = model.forward(inputs)
    return (objective or model.loss_per_position)(prediction, targets), hidden


def batched(model: CardModel, inputs: Tensor, targets: Tensor, objective: Objective | None = None, chunk: int = 8,
            bar: tqdm | None = None) -> Tensor:
    """(B, L+1, T, T): one forward, then one vectorised backward per chunk of ``chunk`` targets."""
    losses, hidden = _losses(model, inputs, targets, objective)
    batch, length = losses.shape
    out = torch.zeros(batch, len(hidden), length, length, dtype=losses.dtype, device=losses.device)
    starts = list(range(0, length, max(chunk, 1)))
    for index, start in enumerate(starts):
        positions = torch.arange(start, min(start + max(chunk, 1), length), device=losses.device)
        one_hot = torch.zeros(len(positions), batch, length, dtype=losses.dtype, device=losses.device)
        one_hot[torch.arange(len(positions), device=losses.device), :, positions] = 1.0
        grads = torch.autograd.grad(losses, hidden, grad_outputs=one_hot, is_grads_batched=True,
                                    retain_graph=index < len(starts) - 1, allow_unused=True)
        for layer, grad in enumerate(grads):
            if grad is not None:
                out[:, layer, positions, :] = grad.norm(dim=-1).transpose(0, 1).detach()
        if bar is not None:
            bar.update(len(positions))
    causal = torch.ones(length, length, dtype=torch.bool, device=out.device).tril()
    return out.masked_fill(~causal, 0.0)


def per_target_loop(model: CardModel, inputs: Tensor, targets: Tensor, objective: Objective | None = None,
                    chunk: int = 1, bar: tqdm | None = None) -> Tensor:
    """(B, L+1, T, T): the reference, one backward pass per target position."""
    losses, hidden = _losses(model, inputs, targets, objective)
    batch, length = losses.shape
    out = torch.zeros(batch, len(hidden), length, length, dtype=losses.dtype, device=losses.device)
    for t in range(length):
        grads = torch.autograd.grad(losses[:, t].sum(), hidden, retain_graph=t < length - 1, allow_unused=True)
        for layer, grad in enumerate(grads):
            if grad is not None:
                out[:, layer, t, : t + 1] = grad[:, : t + 1].norm(dim=-1).detach()
        if bar is not None:
            bar.update(1)
    return out


METHODS = {"batched": batched, "loop": per_target_loop}


def gradient_matrix(model: CardModel, inputs: Tensor, targets: Tensor, objective: Objective | None = None,
                    method: str = "batched", batch_size: int = 4, max_memory_mb: float = 2048.0,
                    chunk: int | None = None, progress: bool = True) -> Tensor:
    """Per-sequence G^l[t, s], shape (N, L+1, T, T) on the CPU, ``batch_size`` sequences per forward."""
    compute = METHODS[method]
    length, batch = targets.shape[1], min(batch_size, inputs.shape[0])
    itemsize = next(model.model.parameters()).element_size()
    chunk = chunk or targets_per_chunk(model, batch, length, max_memory_mb, itemsize)
    parts = []
    with tqdm(total=-(-inputs.shape[0] // batch) * length, desc=f"{model.name}: targets x sequence batches",
              unit="target", disable=not progress) as bar, out_of_memory_hint(chunk, max_memory_mb):
        for i in range(0, inputs.shape[0], batch):
            parts.append(compute(model, inputs[i : i + batch], targets[i : i + batch], objective, chunk=chunk, bar=bar).cpu())
    return torch.cat(parts)


def normalise_by_diagonal(per_sequence: Tensor) -> Tensor:
    """G[t, s] / G[t, t] per sequence and layer (the published protocol's row normalisation); 0 where G[t, t] = 0."""
    diagonal = per_sequence.diagonal(dim1=-2, dim2=-1).unsqueeze(-1)
    return torch.where(diagonal > 0, per_sequence / diagonal.clamp_min(torch.finfo(per_sequence.dtype).tiny), 0.0)
