"""M7: the weight channel against the context channel, both in units of the task's loss (nats for tokens).

Weight channel: take one optimiser step on the loss of a single token, L_t of one
sequence, and measure how much the loss k positions later changes (k = 0: its own token).
The counterfactual is the discussion's "backpropagate the error after each specific token
prediction": one full step on L_t alone. Two optimisers:

* ``sgd``: the step -eta g_t, g_u = dL_u/dtheta;
* ``adam``: Adam's step from a fresh state, -eta g_t / (|g_t| + eps) elementwise (bias-corrected
  first and second moments of a single gradient are g_t and g_t^2), i.e. about -eta sign(g_t).
  The study trains with AdamW; its trained second moment is not used because it tracks the
  gradient of a mean over batch x context tokens, up to sqrt(B T) times smaller per entry than
  a single token's, and would inflate a one-token step; a per-token optimiser's own moments
  would be of the single-token size, as here. AdamW's weight decay does not depend on L_t
  and is left out.

For each optimiser and step size eta (``ETA_FACTORS`` times the peak learning rate, and one
token's share of a step, eta / (batch size x context)), per (t, k) with t + k < T, means
over sequences of:

* ``exact_change``: Delta L_{t+k} = L_{t+k}(theta + step) - L_{t+k}(theta) (signed: negative is
  transfer useful to the later prediction); ``exact_abs_change``: mean |Delta L_{t+k}| (magnitude,
  interference included);
* ``first_order_change`` = -eta <d_t, g_{t+k}> (d_t the step direction) and its mean |.|;
* ``exact_change_other``: the same step's Delta L_{t+k} on another held-out sequence (same
  position), the part of the transfer that is not about this sequence (generic learning).

Exact changes are evaluated at 0.1 x lr and the full step (``EXACT_FACTORS``; NaN elsewhere):
on a trained model a one-token step is curvature-dominated well below the full step (the
second-order term outgrows the first), so the first-order line alone would misdraw the sweep.
Each exact step size costs T forwards per sequence and optimiser, so the smaller steps and
10 x lr (far beyond any step the study takes) are first order only; exact and first order
agree as eta -> 0 (tested), but on a trained model the Adam step's second-order term can
still outweigh the first at 0.01 x lr. The run measures M7's weight channel on standard
training only (the claim's subject).

Context channel: how much the context lowers the loss of the same prediction:
L(token alone at position 0) and L(token at its place, earlier tokens shuffled),
each against L(full context).
"""
from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import pandas as pd
import torch
from torch import Tensor
from torch.func import functional_call, vmap

from ..models import GPT
from ..regimes import STANDARD
from . import register
from .parameters import SequenceGradients, named_parameters, per_target_gradients, sequence_gradients, split_flat

if TYPE_CHECKING:
    from .data import RunData

LossFn = Callable[[Tensor, Tensor], Tensor]
DISTANCES = (0, 1, 2, 4, 8, 16)


@torch.no_grad()
def losses_after_steps(
    model: GPT, inputs: Tensor, targets: Tensor, loss_fn: LossFn, directions: Tensor, etas: Sequence[float]
) -> Tensor:
    """[e, r]: the per-position losses (N, T) of the sequences after adding ``-etas[e] * directions[r]`` to the weights.

    All steps are evaluated in one vmapped forward (about 3x faster than a loop on CPU), built
    inside the vmap so the (steps x parameters) array is never materialised.
    """
    base = {name: p.detach() for name, p in named_parameters(model)}

    def losses(direction: Tensor, eta: Tensor) -> Tensor:
        params = {name: base[name] - eta * delta for name, delta in split_flat(direction, model).items()}
        # The positional encoding is one module registered under several paths: swap it once,
        # under its canonical name. Tying would swap it again through an alias and "restore"
        # the batched tensor, leaving it behind in the model.
        prediction, _ = functional_call(model, params, (inputs, STANDARD), tie_weights=False)
        return loss_fn(prediction, targets)

    eta = torch.tensor(list(etas), dtype=directions.dtype, device=directions.device)
    with warnings.catch_warnings():  # SDPA has no batching rule yet; the fallback is exact, only slower
        warnings.filterwarnings("ignore", message=".*performance drop.*")
        return vmap(vmap(losses, in_dims=(0, None)), in_dims=(None, 0))(directions, eta)


OPTIMIZERS = ("sgd", "adam")
ETA_FACTORS = (1e-3, 1e-2, 1e-1, 1.0, 10.0)  # step sizes as multiples of the peak learning rate
EXACT_FACTORS = (1e-1, 1.0)  # where the exact change is evaluated (first order at every step size)
ADAM_EPS = 1e-8  # torch.optim.AdamW's default, which the study trains with
TOKEN_SHARE, FULL = "token_share", "full"
COLUMNS = [
    "optimizer", "step_scale", "eta_factor", "eta", "t", "k", "exact_change", "exact_abs_change",
    "first_order_change", "first_order_abs_change", "exact_change_other",
]


def step_directions(grads: Tensor, optimizer: str, eps: float = ADAM_EPS) -> Tensor:
    """(T, P): row t is the update per unit step size of one step on L_t alone (the step is -eta * row)."""
    if optimizer == "sgd":
        return grads
    if optimizer == "adam":
        return grads / (grads.abs() + eps)
    raise ValueError(f"unknown optimizer {optimizer!r}; allowed values: {', '.join(OPTIMIZERS)}")


def step_scales(lr: float, tokens_per_step: int) -> dict[str, float]:
    """Step sizes by name: one token's share of a training step, then ``ETA_FACTORS`` x lr (1 x lr is ``full``)."""
    return {TOKEN_SHARE: lr / tokens_per_step} | {_scale_name(factor): factor * lr for factor in ETA_FACTORS}


def _scale_name(factor: float) -> str:
    return FULL if factor == 1.0 else f"{factor:g} lr"


def weight_channel_pairs(
    model: GPT, inputs: Tensor, targets: Tensor, loss_fn: LossFn, lrs: Sequence[float], grads: Tensor | None = None,
    optimizer: str = "sgd", other: tuple[Tensor, Tensor] | None = None, exact: Sequence[bool] | None = None,
) -> tuple[Tensor, Tensor, Tensor]:
    """(exact, first_order, exact_other), each (len(lrs), T, T): [i, t, u] is the change of L_u after one step
    of ``optimizer`` on L_t with step size lrs[i] (one sequence). ``exact_other`` is L_u of the ``other``
    sequence under the same step. Exact changes are evaluated where ``exact`` is true (default: every
    step size), NaN elsewhere; ``exact_other`` is NaN without an ``other`` sequence.

    ``grads`` (T, P) are the per-target gradients if already computed. Run this in float64
    (``weight_channel_table`` does): a single-token step moves later losses by amounts near
    float32 round-off. The unperturbed losses come from the same vmapped evaluation (a zero
    step), so the difference holds no kernel-to-kernel round-off either.
    """
    if grads is None:
        grads = per_target_gradients(model, inputs, targets, loss_fn)[0].detach()
    exact = [True] * len(lrs) if exact is None else list(exact)
    directions = step_directions(grads, optimizer)
    inner = directions @ grads.T  # [t, u] = <d_t, g_u>
    first_order = -torch.tensor(list(lrs), dtype=inner.dtype, device=inner.device)[:, None, None] * inner
    exact_change = torch.full_like(first_order, float("nan"))
    other_change = torch.full_like(first_order, float("nan"))
    chosen = [i for i, flag in enumerate(exact) if flag]
    if chosen:
        if other is not None:
            inputs, targets = torch.cat([inputs, other[0]]), torch.cat([targets, other[1]])
        rows = torch.cat([torch.zeros_like(directions[:1]), directions])  # row 0: no step, the unperturbed losses
        after = losses_after_steps(model, inputs, targets, loss_fn, rows, [lrs[i] for i in chosen])  # (E, 1 + T, n, T)
        change = after[:, 1:] - after[:, :1]
        exact_change[chosen] = change[:, :, 0]
        if other is not None:
            other_change[chosen] = change[:, :, 1]
    return exact_change, first_order, other_change


def weight_channel_table(
    model: GPT, inputs: Tensor, targets: Tensor, loss_fn: LossFn, lr: float, tokens_per_step: int,
    distances: Sequence[int] = DISTANCES, others: tuple[Tensor, Tensor] | None = None,
) -> pd.DataFrame:
    """Means over sequences of the exact and first-order change of L_{t+k}, per optimiser, step size and (t, k)."""
    gradients = sequence_gradients(model, inputs, targets, loss_fn)
    return weight_channel_from_gradients(gradients, loss_fn, lr, tokens_per_step, distances, others)


def weight_channel_from_gradients(
    gradients: SequenceGradients, loss_fn: LossFn, lr: float, tokens_per_step: int,
    distances: Sequence[int] = DISTANCES, others: tuple[Tensor, Tensor] | None = None,
) -> pd.DataFrame:
    """As ``weight_channel_table``, from per-target gradients already computed in float64 (shared with M5).

    ``others`` (inputs, targets): one comparison sequence per measured sequence, for ``exact_change_other``.
    """
    scales = step_scales(lr, tokens_per_step)
    exact = [name in {_scale_name(f) for f in EXACT_FACTORS} for name in scales]
    sums: dict[str, list[Tensor]] = {name: [] for name in ("exact", "exact_abs", "first", "first_abs", "other")}
    for optimizer in OPTIMIZERS:
        totals = dict.fromkeys(sums, 0.0)
        for i, grads in enumerate(gradients.grads):
            inputs, targets = gradients.inputs[i : i + 1], gradients.targets[i : i + 1]
            other = None if others is None else tuple(_as_measured(x[i : i + 1], grads) for x in others)
            change, first, change_other = weight_channel_pairs(
                gradients.model, inputs, targets, loss_fn, list(scales.values()), grads, optimizer, other, exact
            )
            for name, value in (("exact", change), ("exact_abs", change.abs()), ("first", first),
                                ("first_abs", first.abs()), ("other", change_other)):
                totals[name] = totals[name] + value
        for name, total in totals.items():
            sums[name].append(total.cpu() / len(gradients.grads))  # one transfer, not one per table entry
    means = {name: torch.stack(parts) for name, parts in sums.items()}  # (optimiser, scale, T, T)
    return _pair_rows(means, scales, lr, gradients.grads[0].shape[0], distances)


def _as_measured(tensor: Tensor, grads: Tensor) -> Tensor:
    """Inputs or targets on the gradients' device, floating ones in their precision (float64)."""
    return tensor.to(grads.device, grads.dtype if tensor.is_floating_point() else tensor.dtype)


def _pair_rows(
    means: dict[str, Tensor], scales: dict[str, float], lr: float, length: int, distances: Sequence[int]
) -> pd.DataFrame:
    """The tidy table: one row per optimiser, step size, k and t (t + k < T)."""
    index = [
        (j, i, t, k)
        for j in range(len(OPTIMIZERS))
        for i in range(len(scales))
        for k in distances
        for t in range(length - k)
    ]
    j, i, t, k = torch.tensor(index, dtype=torch.long).reshape(-1, 4).T
    names, etas = list(scales), torch.tensor(list(scales.values()), dtype=torch.float64)
    columns = {"exact_change": "exact", "exact_abs_change": "exact_abs", "first_order_change": "first",
               "first_order_abs_change": "first_abs", "exact_change_other": "other"}
    return pd.DataFrame(
        {
            "optimizer": [OPTIMIZERS[x] for x in j.tolist()],
            "step_scale": [names[x] for x in i.tolist()],
            "eta_factor": (etas[i] / lr).numpy(),
            "eta": etas[i].numpy(),
            "t": t.numpy(),
            "k": k.numpy(),
            **{column: means[name][j, i, t, t + k].numpy() for column, name in columns.items()},
        },
        columns=COLUMNS,
    )


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


@register(
    "m7_weight_channel",
    applies=lambda data: data.spec.train["regime"] == "standard",  # C6 asks about ordinary training only
    ends_only=True,  # "on a trained model" (STUDY.md), with initialisation as the control
)
def measure_weight_channel(model: GPT, data: RunData) -> pd.DataFrame:
    """On the first sequences, each step also scored on a held-out comparison sequence."""
    n = data.spec.measure["weight_sequences"]
    other = data.sample("weight-channel-other", n)
    return weight_channel_from_gradients(
        data.weight_gradients(model, n), data.task.loss_per_position,
        lr=data.spec.train["lr"], tokens_per_step=data.spec.train["batch_size"] * data.spec.model["context"],
        others=(other.inputs, other.targets),
    )


@register("m7_context_channel", ends_only=True)
def measure_context_channel(model: GPT, data: RunData) -> pd.DataFrame:
    return context_channel_table(
        model, *data.first(data.spec.measure["weight_sequences"]), data.task.loss_per_position,
        data.stream("shuffle"),
    )
