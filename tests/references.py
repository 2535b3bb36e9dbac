"""Slow, obviously right references the tests compare the fast measures against."""
from __future__ import annotations

import torch

from analysis.models.masks import attention_scores
from analysis.regimes import REGIMES


def own_position_losses(model, inputs, targets, loss_fn, regime: str) -> torch.Tensor:
    """Sum over t of L_t computed through position t's own computation alone (brute force, one t at a time).

    Earlier positions' hidden states are constants from a no-grad forward pass. Under
    ``myopic-full`` their keys/values are constants too; under ``myopic-state`` they are
    recomputed from those constant states with the live weights (so key/value weights learn).
    """
    with torch.no_grad():
        _, frozen = model(inputs, REGIMES["standard"], return_residuals=True)
    length = inputs.shape[1]
    total = 0.0
    for t in range(length):
        h = model.read_in(inputs[:, t : t + 1])
        table = model.positions.embed(t + 1)
        if table is not None:
            h = h + table[t]
        for layer, block in enumerate(model.blocks):
            attn = block.attn
            sequence = torch.cat([frozen[layer][:, :t], h], dim=1)  # constant past, live present
            keys, values = attn.keys_values(sequence)
            if regime == "myopic-full":  # earlier keys and values are constants
                keys, values = (torch.cat([x[:, :, :t].detach(), x[:, :, t:]], dim=2) for x in (keys, values))
            # the pattern's row t (``CausalSelfAttention.pattern``, with the earlier keys held as above)
            scores = attention_scores(attn.queries(sequence), keys, attn.positions.score_bias(t + 1))
            y = (scores[:, :, t:].softmax(-1) @ values).transpose(1, 2).flatten(2)
            h = h + attn.out(y)
            h = h + block.mlp(h)
        prediction = model.head(model.ln_f(h))
        total = total + loss_fn(prediction, targets[:, t : t + 1]).sum()
    return total


def prefix_losses(model, inputs, targets, loss_fn) -> torch.Tensor:
    """Sum over t of L_t, each from its own forward pass on the prefix x_<=t (standard training)."""
    total = 0.0
    for t in range(inputs.shape[1]):
        prediction, _ = model(inputs[:, : t + 1])
        total = total + loss_fn(prediction[:, t : t + 1], targets[:, t : t + 1]).sum()
    return total
