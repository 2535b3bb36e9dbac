"""M7 context distance: how much of the context's information sits beyond a distance D (C4, information half).

For the prediction at position t and a distance D, two ways of taking away the context
that lies further back than D (sources s < t - D), each against the full context:

* ``loss_truncated``: the model sees only the window x_{t-D}, ..., x_t (it starts at
  position 0, so with absolute positions the window also moves; D = 0 is the token alone);
* ``loss_shuffled``: the sequence keeps its length and every token keeps its place except
  the sources s < t - D, which are permuted among themselves (their order is lost, their
  content kept; positions stay where training put them).

Table ``m7_context_distance``, one row per (D, t), means over the measured sequences:
``D`` (0, 1, 2, 4, ... up to T, and T itself), ``t`` (0 .. T-1), ``loss_full``,
``loss_truncated``, ``loss_shuffled`` (the run adds condition, seed, step). Where nothing
lies beyond D (t <= D) both equal ``loss_full`` by causality; with one token beyond D
(t = D + 1) shuffling is the identity. A flat ``loss_truncated - loss_full`` in D means the
context beyond D carries no information the model uses; growth as D shrinks locates it.

Sequences: ``measure.context_sequences`` (128) held-out sequences of their own stream, at the
final checkpoint (C4 reads only the trained model). C4's effective context D* is a TOST within
0.01 nats on ``loss_truncated - loss_full``, whose per-sequence sd on text is about 0.06 nats:
128 sequences bring one run's noise to about 0.005 (docs/results.md). Truncation costs T - D
windows per sequence, shuffling T whole copies, so shuffling (descriptive) reads only the first
``measure.shuffle_sequences`` (8); its column stays paired with the full loss:
``loss_shuffled`` = ``loss_full`` + the mean over those sequences of (shuffled - full).
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import pandas as pd
import torch
from torch import Tensor

from ..models import GPT
from ..regimes import STANDARD
from .base import register

if TYPE_CHECKING:
    from .data import RunData

LossFn = Callable[[Tensor, Tensor], Tensor]
CHUNK = 4096  # sequences per forward, to bound memory at the paper's size


def context_distances(length: int) -> tuple[int, ...]:
    """0 and the powers of two below the context length, then the context length itself."""
    powers = [2**i for i in range(length.bit_length()) if 2**i < length]
    return (0, *powers, length)


def _forward_losses(model: GPT, inputs: Tensor, targets: Tensor, loss_fn: LossFn) -> Tensor:
    """Per-position losses (B, T) of a non-empty batch, in chunks."""
    parts = [
        loss_fn(model(inputs[i : i + CHUNK], STANDARD)[0], targets[i : i + CHUNK])
        for i in range(0, inputs.shape[0], CHUNK)
    ]
    return torch.cat(parts)


def truncated_losses(model: GPT, inputs: Tensor, targets: Tensor, loss_fn: LossFn, distance: int, full: Tensor) -> Tensor:
    """(N, T): loss at t with only the window x_{t-D..t} as input; ``full`` (N, T) where t <= D (causality)."""
    n, length = targets.shape[:2]
    out = full.clone()
    if distance + 1 >= length:
        return out
    windows = inputs.unfold(1, distance + 1, 1)  # (N, T - D, ..., D + 1): window w ends at t = w + D
    if inputs.dim() == 3:
        windows = windows.permute(0, 1, 3, 2)
    windows = windows.reshape(n * (length - distance), distance + 1, *inputs.shape[2:])
    last = targets[:, distance:].reshape(-1, 1)
    predicted = torch.cat(
        [model(windows[i : i + CHUNK], STANDARD)[0][:, -1:] for i in range(0, windows.shape[0], CHUNK)]
    )
    losses = loss_fn(predicted, last).view(n, length - distance)
    out[:, distance + 1 :] = losses[:, 1:].to(out.dtype)  # window 0 is the whole prefix of t = D
    return out


def shuffle_beyond(inputs: Tensor, distance: int, generator: torch.Generator) -> Tensor:
    """(N*T) copies of the inputs: copy (i, t) has the positions s < t - D of sequence i randomly permuted."""
    n, length = inputs.shape[:2]
    position = torch.arange(length)
    keys = torch.rand(n, length, length, generator=generator, dtype=torch.float64)  # [i, t, s]
    beyond = position[None, None, :] < (position[None, :, None] - distance)
    keys = torch.where(beyond, keys, 1.0 + position.double()[None, None, :])  # the rest keep their (increasing) place
    index = keys.argsort(dim=-1).reshape(n * length, length)
    copies = inputs.repeat_interleave(length, dim=0)
    gather = index if copies.dim() == 2 else index.unsqueeze(-1).expand_as(copies)
    return copies.gather(1, gather)


def shuffled_losses(
    model: GPT, inputs: Tensor, targets: Tensor, loss_fn: LossFn, distance: int, full: Tensor, generator: torch.Generator
) -> Tensor:
    """(N, T): loss at t with the sources s < t - D permuted; ``full`` where fewer than two lie beyond D."""
    n, length = targets.shape[:2]
    copies = shuffle_beyond(inputs, distance, generator)
    t = torch.arange(length).repeat(n)
    needed = torch.nonzero(t - distance >= 2).squeeze(1)  # fewer than two sources beyond D: nothing to permute
    out = full.clone().reshape(-1)
    if len(needed):
        losses = _forward_losses(model, copies[needed], targets.repeat_interleave(length, dim=0)[needed], loss_fn)
        out[needed] = losses[torch.arange(len(needed)), t[needed]].to(out.dtype)
    return out.view(n, length)


@torch.no_grad()
def context_distance_table(
    model: GPT, inputs: Tensor, targets: Tensor, loss_fn: LossFn, generator: torch.Generator,
    distances: Sequence[int] | None = None, shuffle_sequences: int | None = None,
) -> pd.DataFrame:
    """One row per (D, t): means over sequences of the loss with full, truncated and shuffled far context
    (shuffled on the first ``shuffle_sequences``, all by default, paired with their own full loss)."""
    length = targets.shape[1]
    distances = context_distances(length) if distances is None else tuple(distances)
    k = inputs.shape[0] if shuffle_sequences is None else min(shuffle_sequences, inputs.shape[0])
    full = loss_fn(model(inputs, STANDARD)[0], targets)  # (N, T)
    full_mean = full.double().mean(0)
    frames = []
    for distance in distances:
        truncated = truncated_losses(model, inputs, targets, loss_fn, distance, full)
        shuffled = shuffled_losses(model, inputs[:k], targets[:k], loss_fn, distance, full[:k], generator)
        frames.append(
            pd.DataFrame(
                {
                    "D": distance,
                    "t": range(length),
                    "loss_full": full_mean.cpu().numpy(),
                    "loss_truncated": truncated.double().mean(0).cpu().numpy(),
                    "loss_shuffled": (full_mean + (shuffled.double() - full[:k].double()).mean(0)).cpu().numpy(),
                }
            )
        )
    columns = ["D", "t", "loss_full", "loss_truncated", "loss_shuffled"]
    return pd.concat(frames, ignore_index=True)[columns] if frames else pd.DataFrame(columns=columns)


@register("m7_context_distance", final_only=True)  # C4's information half: loss with the context beyond D removed or shuffled
def measure_context_distance(model: GPT, data: RunData) -> pd.DataFrame:
    batch = data.sample("context-distance", data.spec.measure["context_sequences"])
    return context_distance_table(
        model, batch.inputs, batch.targets, data.task.loss_per_position, data.stream("shuffle-distance"),
        shuffle_sequences=data.spec.measure["shuffle_sequences"],
    )
