"""C2's split of the training gradient, on any model whose attention can detach earlier positions' keys and values.

Two backward passes of the mean loss per sequence: the ordinary one (``total``), and one in which
every position's attention reads the keys and values of the *earlier* positions s < t as
constants (the study's ``myopic-full`` regime; its own key and value at s = t stay live). The
second is the ``direct`` part: what each loss teaches the weights through its own position's
computation. ``earlier`` = total - direct is everything that reaches the weights through earlier
positions: the study's pre-caching part plus its ``shared`` part (key/value weights learning
through earlier keys), which the study separates with a third regime (``myopic-state``) that
needs the key/value projections recomputed and is not generic across families. Shares are
projections on the total (they sum to 1), as in the study's M3.

For Hugging Face models the myopic pass swaps in an attention function registered with
``transformers``' ``AttentionInterface``; it assumes unpadded causal self-attention (the card's
windows are). The reference (tests) is a per-target loop that reads a detached KV cache.
"""
from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

import pandas as pd
import torch
from torch import Tensor

from .load import CardError, CardModel, Objective

MYOPIC = "card_myopic_full"
COLUMNS = ["group", "layer", "n_entries", "norm_total", "norm_direct", "norm_earlier", "share_direct", "share_earlier",
           "cos_direct_earlier"]


def myopic_attention(module: torch.nn.Module, query: Tensor, key: Tensor, value: Tensor, attention_mask: Tensor | None,
                     scaling: float | None = None, dropout: float = 0.0, **kwargs) -> tuple[Tensor, Tensor]:
    """Causal attention whose earlier keys and values (s < t) are constants: (output (B, T, H, D), weights (B, H, T, T))."""
    groups = query.shape[1] // key.shape[1]
    key, value = key.repeat_interleave(groups, dim=1), value.repeat_interleave(groups, dim=1)
    scaling = query.shape[-1] ** -0.5 if scaling is None else scaling
    length = query.shape[-2]
    own = torch.eye(length, dtype=torch.bool, device=query.device)
    causal = torch.ones(length, length, dtype=torch.bool, device=query.device).tril()
    scores = torch.where(own, query @ key.transpose(-1, -2), query @ key.detach().transpose(-1, -2)) * scaling
    weights = scores.masked_fill(~causal, float("-inf")).softmax(-1).to(value.dtype)
    output = (weights * own) @ value + (weights * ~own) @ value.detach()
    return output.transpose(1, 2).contiguous(), weights


@contextmanager
def hf_myopic(model: torch.nn.Module) -> Iterator[list[int]]:
    """The model's attention replaced by ``myopic_attention`` for the duration; yields a list counting its calls
    (a model whose attention bypasses ``AttentionInterface`` would otherwise give direct = total silently)."""
    from transformers import AttentionInterface

    calls: list[int] = []

    def counted(*args, **kwargs) -> tuple[Tensor, Tensor]:
        calls.append(1)
        return myopic_attention(*args, **kwargs)

    AttentionInterface.register(MYOPIC, counted)
    before = model.config._attn_implementation
    model.set_attn_implementation(MYOPIC)
    try:
        yield calls
    finally:
        model.set_attn_implementation(before)


def _parameter_gradients(model: CardModel, inputs: Tensor, targets: Tensor, objective: Objective,
                         direct: bool) -> dict[str, Tensor]:
    named = [(n, p) for n, p in model.model.named_parameters() if p.requires_grad]
    if direct and model.run is not None:  # a study checkpoint: its own myopic-full regime
        from ..regimes import REGIMES

        prediction, _ = model.model(inputs, REGIMES["myopic-full"])
    elif direct:
        with hf_myopic(model.model) as calls:
            prediction, _ = model.forward(inputs)
        if len(calls) < model.n_layer:
            raise CardError(f"{model.name}: its attention does not go through transformers' AttentionInterface, so "
                            "earlier keys and values cannot be detached; the direct/earlier split is left out")
    else:
        prediction, _ = model.forward(inputs)
    grads = torch.autograd.grad(objective(prediction, targets).mean(), [p for _, p in named], allow_unused=True)
    return {n: (torch.zeros_like(p) if g is None else g).detach() for (n, p), g in zip(named, grads, strict=True)}


def split(model: CardModel, inputs: Tensor, targets: Tensor, objective: Objective | None = None) -> dict[str, dict[str, Tensor]]:
    """Part (total, direct, earlier) -> parameter name -> gradient of the mean loss over ``inputs``."""
    objective = objective or model.loss_per_position
    total = _parameter_gradients(model, inputs, targets, objective, direct=False)
    direct = _parameter_gradients(model, inputs, targets, objective, direct=True)
    return {"total": total, "direct": direct, "earlier": {n: total[n] - direct[n] for n in total}}


def layer_of(name: str) -> int:
    """The block index in a parameter's name (``h.3.``, ``layers.3.``, ``blocks.3.``); -1 outside the blocks."""
    found = re.search(r"\.(\d+)\.", f".{name}")
    return int(found.group(1)) if found else -1


def split_table(parts: dict[str, dict[str, Tensor]]) -> pd.DataFrame:
    """One row per block (``group`` = block) and one for every parameter (``all``, layer -2): norms, shares, cosine."""
    members: dict[tuple[str, int], list[str]] = {}
    for name in parts["total"]:
        layer = layer_of(name)
        members.setdefault(("block" if layer >= 0 else "outside", layer), []).append(name)
    members[("all", -2)] = list(parts["total"])
    rows = []
    for (group, layer), names in sorted(members.items(), key=lambda item: item[0][1]):
        flat = {part: torch.cat([parts[part][n].flatten() for n in names]).double() for part in parts}
        total_sq = float(flat["total"] @ flat["total"])
        row = {"group": group, "layer": layer, "n_entries": flat["total"].numel(), "norm_total": total_sq**0.5}
        for part in ("direct", "earlier"):
            row[f"norm_{part}"] = float(flat[part].norm())
            row[f"share_{part}"] = float(flat[part] @ flat["total"]) / total_sq if total_sq > 0 else float("nan")
        denominator = float(flat["direct"].norm() * flat["earlier"].norm())
        row["cos_direct_earlier"] = float(flat["direct"] @ flat["earlier"]) / denominator if denominator > 0 else float("nan")
        rows.append(row)
    return pd.DataFrame(rows, columns=COLUMNS)


def per_sequence_split(model: CardModel, inputs: Tensor, targets: Tensor, objective: Objective | None = None) -> pd.DataFrame:
    """``split_table`` for each sequence on its own (``seed`` = sequence index: the unit of the intervals)."""
    return pd.concat([split_table(split(model, inputs[i : i + 1], targets[i : i + 1], objective)).assign(seed=i)
                      for i in range(inputs.shape[0])], ignore_index=True)
