"""M7: the weight channel against the context channel, both in units of the task's loss (nats for tokens).

Weight channel: take one plain SGD step on the loss of a single token, L_t of one
sequence, and measure how much the loss k positions later in the same sequence changes:

* ``exact``: take the step and re-evaluate, Delta L_{t+k} = L_{t+k}(theta - eta g_t) - L_{t+k}(theta);
* ``first_order``: -eta <g_t, g_{t+k}> with g_u = dL_u/dtheta (all pairs from one Gram matrix).

Two step sizes (``step_scale``): ``full``, eta = the peak learning rate the model was
trained with, a whole step spent on one token; and ``token_share``, eta / (batch size x
context), the part of a training step (on the mean loss) that one token contributes.
k = 0 is the step's effect on its own token.

Context channel: how much the context lowers the loss of the same prediction:
L(token alone at position 0) and L(token at its place, earlier tokens shuffled),
each against L(full context).
"""
from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence

import pandas as pd
import torch
from torch import Tensor
from torch.func import functional_call, vmap

from ..models import GPT
from ..regimes import STANDARD
from .parameters import SequenceGradients, named_parameters, per_target_gradients, sequence_gradients, split_flat

LossFn = Callable[[Tensor, Tensor], Tensor]
DISTANCES = (0, 1, 2, 4, 8, 16)


@torch.no_grad()
def losses_after_steps(model: GPT, inputs: Tensor, targets: Tensor, loss_fn: LossFn, steps: Tensor) -> Tensor:
    """Row r: the per-position losses (T,) of one sequence after adding ``steps[r]`` (flat) to the weights.

    All steps are evaluated in one vmapped forward (about 3x faster than a loop on CPU).
    """
    base = {name: p.detach() for name, p in named_parameters(model)}

    def losses(step: Tensor) -> Tensor:
        params = {name: base[name] + delta for name, delta in split_flat(step, model).items()}
        # The positional encoding is one module registered under several paths: swap it once,
        # under its canonical name. Tying would swap it again through an alias and "restore"
        # the batched tensor, leaving it behind in the model.
        prediction, _ = functional_call(model, params, (inputs, STANDARD), tie_weights=False)
        return loss_fn(prediction, targets)[0]

    with warnings.catch_warnings():  # SDPA has no batching rule yet; the fallback is exact, only slower
        warnings.filterwarnings("ignore", message=".*performance drop.*")
        return vmap(losses)(steps)


def weight_channel_pairs(
    model: GPT, inputs: Tensor, targets: Tensor, loss_fn: LossFn, lrs: Sequence[float], grads: Tensor | None = None
) -> tuple[Tensor, Tensor]:
    """(exact, first_order), each (len(lrs), T, T): [i, t, u] is the change of L_u after one SGD step on L_t
    with learning rate lrs[i] (one sequence).

    ``grads`` (T, P) are the per-target gradients if already computed. Run this in float64
    (``weight_channel_table`` does): a single-token step moves later losses by amounts near
    float32 round-off. The unperturbed losses come from the same vmapped evaluation (a zero
    step), so the difference holds no kernel-to-kernel round-off either.
    """
    if grads is None:
        grads = per_target_gradients(model, inputs, targets, loss_fn)[0].detach()
    gram = grads @ grads.T
    first_order = torch.stack([-lr * gram for lr in lrs])
    steps = torch.cat([torch.zeros_like(grads[:1]), *(-lr * grads for lr in lrs)])
    after = losses_after_steps(model, inputs, targets, loss_fn, steps)
    exact = (after[1:] - after[:1]).view(len(lrs), *gram.shape)
    return exact, first_order


def weight_channel_table(
    model: GPT, inputs: Tensor, targets: Tensor, loss_fn: LossFn, lr: float, tokens_per_step: int,
    distances: Sequence[int] = DISTANCES,
) -> pd.DataFrame:
    """Mean over sequences of the exact and first-order change of L_{t+k}, per step scale and (t, k), t + k < T."""
    gradients = sequence_gradients(model, inputs, targets, loss_fn)
    return weight_channel_from_gradients(gradients, loss_fn, lr, tokens_per_step, distances)


def weight_channel_from_gradients(
    gradients: SequenceGradients, loss_fn: LossFn, lr: float, tokens_per_step: int,
    distances: Sequence[int] = DISTANCES,
) -> pd.DataFrame:
    """As ``weight_channel_table``, from per-target gradients already computed in float64 (shared with M5)."""
    scales = {"full": lr, "token_share": lr / tokens_per_step}
    length = gradients.grads[0].shape[0]
    exact_sum = torch.zeros(len(scales), length, length, dtype=torch.float64, device=gradients.grads[0].device)
    first_sum = torch.zeros_like(exact_sum)
    for i, grads in enumerate(gradients.grads):
        inputs, targets = gradients.inputs[i : i + 1], gradients.targets[i : i + 1]
        exact, first = weight_channel_pairs(gradients.model, inputs, targets, loss_fn, list(scales.values()), grads)
        exact_sum += exact
        first_sum += first
    n = len(gradients.grads)
    exact_sum, first_sum = exact_sum.cpu(), first_sum.cpu()  # one transfer, not one per table entry
    rows = [
        {
            "step_scale": scale,
            "eta": eta,
            "t": t,
            "k": k,
            "exact_change": float(exact_sum[j, t, t + k]) / n,
            "first_order_change": float(first_sum[j, t, t + k]) / n,
        }
        for j, (scale, eta) in enumerate(scales.items())
        for k in distances
        for t in range(length - k)
    ]
    return pd.DataFrame(rows, columns=["step_scale", "eta", "t", "k", "exact_change", "first_order_change"])


def shuffle_before(inputs: Tensor, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """(N*T) copies of the inputs: copy (i, p) has positions < p of sequence i randomly permuted; returns (copies, p)."""
    n, length = inputs.shape[:2]
    position = torch.arange(length)
    keys = torch.rand(n, length, length, generator=generator)  # [i, p, s]
    keys = torch.where(position[None, None, :] < position[None, :, None], keys, 1.0 + position.double()[None, None, :])
    order = keys.argsort(dim=-1)  # positions >= p keep their place (their keys are larger and increasing)
    index = order.reshape(n * length, length)
    copies = inputs.repeat_interleave(length, dim=0)
    gather = index if copies.dim() == 2 else index.unsqueeze(-1).expand_as(copies)
    return copies.gather(1, gather), position.repeat(n)


@torch.no_grad()
def context_channel_table(
    model: GPT, inputs: Tensor, targets: Tensor, loss_fn: LossFn, generator: torch.Generator
) -> pd.DataFrame:
    """Per position p: loss with full context, of the token alone, and with the earlier tokens shuffled (means)."""
    n, length = targets.shape[:2]
    full = loss_fn(model(inputs, STANDARD)[0], targets)  # (N, T)
    alone_inputs = inputs.reshape(n * length, 1, *inputs.shape[2:])
    alone = loss_fn(model(alone_inputs, STANDARD)[0], targets.reshape(n * length, 1)).view(n, length)
    shuffled_inputs, position = shuffle_before(inputs, generator)
    shuffled_all = loss_fn(model(shuffled_inputs, STANDARD)[0], targets.repeat_interleave(length, dim=0))
    shuffled = shuffled_all[torch.arange(n * length), position].view(n, length)
    return pd.DataFrame(
        {
            "t": range(length),
            "loss_full": full.mean(0).double().numpy(),
            "loss_alone": alone.mean(0).double().numpy(),
            "loss_shuffled": shuffled.mean(0).double().numpy(),
        }
    )
