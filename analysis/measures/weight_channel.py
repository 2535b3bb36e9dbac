"""M7: the weight channel against the context channel, both in units of the task's loss (nats for tokens).

Weight channel: take one optimiser step on the loss of a single token, L_t of one sequence,
and measure how much the loss of the next prediction, L_{t+1} of the same sequence, changes.
The counterfactual is the discussion's "backpropagate the error after each specific token
prediction": one full step on L_t alone. Three steps, each -eta d_t:

* ``sgd``: d_t = g_t (g_u = dL_u/dtheta), the discussion's "backpropagate the error";
* ``adam_run``: d_t = g_t / (sqrt(v_hat) + eps), Adam's preconditioning with the run's own trained
  second moment v_hat (bias-corrected, from the checkpoint's AdamW state): what training does with a
  gradient. The carried-over first moment is left out: beta1 x m is the same whatever L_t is, so it
  carries no information from L_t (and its (1 - beta1) factor on g_t is absorbed into eta, which is
  swept). v_hat is not updated with g_t^2 either: the step preconditions L_t's gradient with the
  run's statistics, as a per-token optimiser sharing them would. AdamW's weight decay does not
  depend on L_t and is left out;
* ``adam_fresh``: Adam's first step from a fresh state, d_t = g_t / (|g_t| + eps), about sign(g_t),
  at the peak learning rate only (v2's deciding step, kept as context: it overshoots).

Step sizes: ``sgd`` and ``adam_run`` are swept over eta = lr x 10^(j / 2) (a half-decade lattice,
j integer), starting at ``START`` around the point where the optimiser's median step is as long as
SGD's at the peak learning rate (``centre``), extended (strides doubling) and refined to half a decade,
separately for each half of the sequences (``HALVES``; half = sequence index mod 2), until the exact
signed transfer of that half turns down on both sides of its maximum (``bracket_maximum``), within ``LIMITS``. A maximum at
the lowest point whose transfer and first-order term are both <= 0 is not chased further: the
supremum is 0, approached as eta -> 0 (no step passes useful information). The statistics choose
eta on one half and score it on the other (``analysis.stats.c6``).

Cost (the default model: 2 layers, width 64, T = 32): each (sequence, t, eta) is one forward pass with
its own weights, so per sequence ``positions`` source positions t are drawn at random (a per-run
stream) rather than all T - 1; each forward runs only up to position t + 1 (the model is causal).
Gradients and exact changes are float64 (``weight_channel_table``'s dtype).

Per (optimizer, eta, sequence), means over that sequence's drawn positions t:

* ``exact_change``: Delta L_{t+1} = L_{t+1}(theta - eta d_t) - L_{t+1}(theta) (negative: transfer
  useful to the next prediction); ``exact_abs_change``: mean |Delta L_{t+1}| (interference included);
* ``first_order_change`` = -eta <d_t, g_{t+1}>, exact as eta -> 0 (tested);
* ``loss_next``: L_{t+1}(theta), the most a step could lower it (losses are >= 0).

Context channel: how much the context lowers the loss of the same prediction, on the same
sequences: L(token alone at position 0) and L(token at its place, earlier tokens shuffled), each
against L(full context). Both tables are measured on the final checkpoint only (C6 reads nothing
else).
"""
from __future__ import annotations

import copy
import warnings
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import torch
from torch import Tensor
from torch.func import functional_call, vmap

from ..device import ComputeSettings
from ..models import GPT
from ..regimes import STANDARD
from .base import register
from .parameters import named_parameters, split_flat

if TYPE_CHECKING:
    from .data import RunData

LossFn = Callable[[Tensor, Tensor], Tensor]
Direction = Callable[[Tensor], Tensor]

OPTIMIZERS = ("sgd", "adam_run", "adam_fresh")
SWEPT = ("sgd", "adam_run")  # optimisers whose step size is swept (they decide C6); adam_fresh: the peak lr only
GRID_STEP = 0.5  # log10 spacing of the step-size grid: half a decade
START = (-1, 0, 1)  # first grid exponents j (eta = lr x 10^(j GRID_STEP)) around the optimiser's centre (``centre``)
LIMITS = (-12, 8)  # the grid is never extended beyond 1e-6 x lr and 1e4 x lr
HALVES = 2  # the statistics choose eta on one half of the sequences and score it on the other
ADAM_EPS = 1e-8  # torch.optim.AdamW's default, which the study trains with
MEASURE_DTYPE = torch.float64
CHUNK = 32  # (sequence, t) pairs per vmapped forward: the fastest on 1 CPU thread at the default size
COLUMNS = [
    "optimizer", "eta_factor", "eta", "sequence", "half", "n_positions", "exact_change", "exact_abs_change",
    "first_order_change", "loss_next",
]


def eta_factor(exponent: int) -> float:
    """The step size of grid exponent j, as a multiple of the peak learning rate."""
    return float(10.0 ** (exponent * GRID_STEP))


def adam_preconditioner(state: Mapping[str, Any] | None, model: GPT) -> Tensor | None:
    """sqrt(v_hat) + eps flattened as ``named_parameters(model)``, from a checkpoint's AdamW state
    (``analysis.training.RunTraining.adam_moments``); None before the first step or without a state."""
    if not state or int(state.get("step", 0)) < 1 or not state.get("exp_avg_sq"):
        return None
    correction = 1.0 - float(state["betas"][1]) ** int(state["step"])
    second = state["exp_avg_sq"]
    flat = torch.cat([second[name].double().flatten() for name, _ in named_parameters(model)])
    return (flat / correction).sqrt() + float(state["eps"])


def directions(optimizer: str, preconditioner: Tensor | None = None, eps: float = ADAM_EPS) -> Direction:
    """The map from a gradient g_t (rows) to the step direction d_t (the step is -eta d_t)."""
    if optimizer == "sgd":
        return lambda grads: grads
    if optimizer == "adam_fresh":
        return lambda grads: grads / (grads.abs() + eps)
    if optimizer == "adam_run":
        if preconditioner is None:
            raise ValueError("the adam_run step needs the run's trained second moment (a checkpoint with its AdamW state)")
        return lambda grads: grads / preconditioner.to(grads)
    raise ValueError(f"unknown optimizer {optimizer!r}; allowed values: {', '.join(OPTIMIZERS)}")


@dataclass
class Pairs:
    """The (sequence, t) pairs measured: L_{t+1} after a step on L_t, on a float64 copy of the model."""

    model: GPT
    inputs: Tensor  # (I, T): the pair's sequence
    targets: Tensor
    positions: Tensor  # (I,): t
    sequences: Tensor  # (I,): the sequence's index
    step_grads: Tensor  # (I, P): g_t
    next_grads: Tensor  # (I, P): g_{t+1}
    order: Tensor  # (I,): the pairs by t (stable), the order ``next_losses`` runs them in

    def steps(self, direction: Direction) -> Tensor:
        """(I, P): d_t of every pair, rows in ``order``: formed once per optimiser, not per step size (re-gathering
        and re-dividing the rows at every eta was a quarter of M7's time); the values are the same."""
        steps = torch.empty_like(self.step_grads)
        for start in range(0, len(self.order), CHUNK):  # chunked: no second (I, P) temporary
            steps[start : start + CHUNK] = direction(self.step_grads[self.order[start : start + CHUNK]])
        return steps


def draw_positions(n: int, length: int, per_sequence: int, generator: torch.Generator) -> Tensor:
    """(n, m) sorted source positions t in 0 .. T - 2 per sequence, distinct, drawn at random (all when m >= T - 1)."""
    if per_sequence >= length - 1:
        return torch.arange(length - 1).expand(n, -1).clone()
    keys = torch.rand(n, length - 1, generator=generator)
    return keys.argsort(dim=1)[:, :per_sequence].sort(dim=1).values


def position_gradients(model: GPT, inputs: Tensor, targets: Tensor, loss_fn: LossFn, rows: Tensor) -> Tensor:
    """(len(rows), P): dL_u/dtheta for u in ``rows`` of ONE sequence (inputs of batch size 1)."""
    parameters = [p for _, p in named_parameters(model)]
    losses = loss_fn(model(inputs, STANDARD)[0], targets)[0]
    one_hot = torch.zeros(len(rows), losses.shape[0], dtype=losses.dtype, device=losses.device)
    one_hot[torch.arange(len(rows)), rows.to(losses.device)] = 1.0
    grads = torch.autograd.grad(losses, parameters, grad_outputs=one_hot, is_grads_batched=True, allow_unused=True)
    return torch.cat([(torch.zeros(len(rows), p.numel(), dtype=p.dtype, device=p.device) if g is None else g.flatten(1))
                      for g, p in zip(grads, parameters, strict=True)], dim=1)


def make_pairs(model: GPT, inputs: Tensor, targets: Tensor, loss_fn: LossFn, positions: Tensor,
               dtype: torch.dtype = torch.float64, device: torch.device | str | None = None) -> Pairs:
    """The pairs of ``positions`` (n, m) with their gradients g_t and g_{t+1}, on a ``dtype`` copy of the model."""
    device = torch.device(device) if device is not None else next(model.parameters()).device
    model = copy.deepcopy(model).to(device, dtype)
    inputs, targets = (x.to(device, dtype if x.is_floating_point() else x.dtype) for x in (inputs, targets))
    n, m = positions.shape
    size = sum(p.numel() for _, p in named_parameters(model))
    step_grads, next_grads = (torch.empty(n * m, size, dtype=dtype, device=device) for _ in range(2))
    for i, chosen in enumerate(positions):
        rows = torch.cat([chosen, chosen + 1]).unique()  # sorted
        grads = position_gradients(model, inputs[i : i + 1], targets[i : i + 1], loss_fn, rows)
        step_grads[i * m : (i + 1) * m] = grads[torch.searchsorted(rows, chosen)]
        next_grads[i * m : (i + 1) * m] = grads[torch.searchsorted(rows, chosen + 1)]
    sequences = torch.arange(n).repeat_interleave(m)
    flat = positions.flatten().to(device)
    return Pairs(model, inputs[sequences], targets[sequences], flat, sequences, step_grads, next_grads,
                 flat.argsort(stable=True))


@torch.no_grad()
def next_losses(pairs: Pairs, loss_fn: LossFn, steps: Tensor, eta: float, chunk: int = CHUNK) -> Tensor:
    """(I,): L_{t+1} of each pair after adding ``-eta * d_t`` to the weights; ``steps``: ``pairs.steps(direction)``.

    Pairs are vmapped in chunks of similar t (each forward stops at position t + 1 of its chunk's
    largest t: the model is causal), built inside the vmap so no (pairs x parameters) array of
    weights is materialised beyond one chunk. eta = 0 gives the unperturbed losses through the
    same kernels, so a difference holds no kernel-to-kernel round-off.
    """
    model = pairs.model
    base = {name: p.detach() for name, p in named_parameters(model)}

    def loss(delta: Tensor, inputs: Tensor, targets: Tensor, position: Tensor) -> Tensor:
        params = {name: base[name] - eta * step for name, step in split_flat(delta, model).items()}
        # The positional encoding is one module registered under several paths: swap it once, under its
        # canonical name (tying would swap it again through an alias and leave the batched tensor behind).
        prediction, _ = functional_call(model, params, (inputs[None], STANDARD), tie_weights=False)
        return loss_fn(prediction, targets[None])[0].gather(0, position[None] + 1)[0]

    out = torch.empty(len(pairs.positions), dtype=pairs.step_grads.dtype, device=pairs.step_grads.device)
    order = pairs.order
    with warnings.catch_warnings():  # SDPA has no batching rule yet; the fallback is exact, only slower
        warnings.filterwarnings("ignore", message=".*performance drop.*")
        for start in range(0, len(order), chunk):
            index = order[start : start + chunk]
            length = int(pairs.positions[index].max()) + 2
            out[index] = vmap(loss)(steps[start : start + chunk], pairs.inputs[index, :length],
                                    pairs.targets[index, :length], pairs.positions[index])
    return out


def slope(pairs: Pairs, direction: Direction, chunk: int = CHUNK) -> Tensor:
    """(I,): <d_t, g_{t+1}>; the first-order change of L_{t+1} is -eta times it."""
    parts = zip(pairs.step_grads.split(chunk), pairs.next_grads.split(chunk), strict=True)
    return torch.cat([(direction(step) * later).sum(dim=1) for step, later in parts])


Curve = list[tuple[float, float]]  # per half: (mean signed transfer, mean first-order transfer)


def bracket_maximum(evaluate: Callable[[int], Curve], start: Iterable[int], limits: tuple[int, int] = LIMITS) -> dict[int, Curve]:
    """Grid exponent j -> ``evaluate(j)``, on a grid grown until every half's maximum transfer is bracketed.

    A half whose maximum lies at the top of the grid extends it upwards, at the bottom downwards
    (only while the transfer there, or its first-order term, is positive: else the supremum is 0,
    approached as eta -> 0), in strides that double while the same edge keeps extending, never
    beyond ``limits``; an interior maximum is then refined until its neighbours are adjacent
    lattice points (the curve turns down on both sides of it within half a decade).
    """
    curves = {j: evaluate(j) for j in sorted(set(start))}
    stride = {-1: 1, 1: 1}
    while True:
        grow, sides = set(), set()
        exponents = sorted(curves)
        for half in range(len(curves[exponents[0]])):
            transfer = np.array([curves[j][half][0] for j in exponents])
            best = int(np.nanargmax(transfer)) if np.isfinite(transfer).any() else 0
            low, top = best == 0, best == len(exponents) - 1
            if low and exponents[0] > limits[0] and (transfer[0] > 0 or curves[exponents[0]][half][1] > 0):
                grow.add(max(limits[0], exponents[0] - stride[-1]))
                sides.add(-1)
            if top and exponents[-1] < limits[1]:
                grow.add(min(limits[1], exponents[-1] + stride[1]))
                sides.add(1)
            for neighbour in ([exponents[best - 1]] if not low else []) + ([exponents[best + 1]] if not top else []):
                if abs(neighbour - exponents[best]) > 1:
                    grow.add((neighbour + exponents[best]) // 2)
        if not grow:
            return curves
        for side in sides:
            stride[side] *= 2
        curves |= {j: evaluate(j) for j in sorted(grow - set(curves))}


def centre(pairs: Pairs, direction: Direction) -> int:
    """The grid exponent at which the median step |eta d_t| is as long as SGD's at the peak learning rate.

    Only where the sweep starts (Adam's run-moment step is far longer than SGD's at the same eta); the
    extension brackets the maximum wherever it lies.
    """
    lengths = torch.cat([direction(step).norm(dim=1) / step.norm(dim=1) for step in pairs.step_grads.split(CHUNK)])
    ratio = float(lengths.median())
    return int(round(-np.log10(ratio) / GRID_STEP)) if np.isfinite(ratio) and ratio > 0 else 0


def _half_means(values: Tensor, halves: Tensor) -> list[float]:
    return [float(values[halves == h].mean()) for h in range(HALVES)]


def weight_channel_table(
    model: GPT, inputs: Tensor, targets: Tensor, loss_fn: LossFn, lr: float, positions: Tensor,
    preconditioner: Tensor | None = None, start: Iterable[int] = START, limits: tuple[int, int] = LIMITS,
    dtype: torch.dtype = torch.float64, device: torch.device | str | None = None,
) -> pd.DataFrame:
    """One row per optimiser, step size and sequence (``COLUMNS``); ``positions`` (n, m): the t measured per sequence.

    ``start``: the first grid exponents, relative to the optimiser's ``centre``. Without a ``preconditioner``
    (the run's sqrt(v_hat) + eps) there are no ``adam_run`` rows.
    """
    pairs = make_pairs(model, inputs, targets, loss_fn, positions, dtype, device)
    halves = pairs.sequences.to(pairs.positions.device) % HALVES
    before: Tensor | None = None  # L_{t+1}(theta), from the first optimiser's steps at eta = 0 (any direction gives theta)
    parts = []
    for optimizer in OPTIMIZERS:
        if optimizer == "adam_run" and preconditioner is None:
            continue
        direction = directions(optimizer, preconditioner)
        steps = pairs.steps(direction)
        if before is None:
            before = next_losses(pairs, loss_fn, steps, 0.0)
        changes: dict[int, tuple[Tensor, Tensor]] = {}
        inner = slope(pairs, direction)

        def evaluate(j: int, steps: Tensor = steps, changes: dict = changes, inner: Tensor = inner,
                     before: Tensor = before) -> Curve:
            eta = lr * eta_factor(j)
            exact, first = next_losses(pairs, loss_fn, steps, eta) - before, -eta * inner
            changes[j] = (exact, first)
            return list(zip(_half_means(-exact, halves), _half_means(-first, halves), strict=True))

        if optimizer in SWEPT:
            middle = centre(pairs, direction)
            bracket_maximum(evaluate, [int(np.clip(middle + j, *limits)) for j in start], limits)
        else:
            evaluate(0)
        parts += [_rows(optimizer, j, lr, pairs.sequences, exact, first, before) for j, (exact, first) in sorted(changes.items())]
    return pd.concat(parts, ignore_index=True)[COLUMNS]


def _rows(optimizer: str, exponent: int, lr: float, sequences: Tensor, exact: Tensor, first: Tensor,
          before: Tensor) -> pd.DataFrame:
    """Per sequence: the means over its pairs at one step size."""
    frame = pd.DataFrame({"sequence": sequences.numpy(), "exact_change": exact.cpu().numpy(),
                          "exact_abs_change": exact.abs().cpu().numpy(), "first_order_change": first.cpu().numpy(),
                          "loss_next": before.cpu().numpy()})
    means = frame.groupby("sequence", as_index=False).agg(
        n_positions=("exact_change", "size"), exact_change=("exact_change", "mean"),
        exact_abs_change=("exact_abs_change", "mean"), first_order_change=("first_order_change", "mean"),
        loss_next=("loss_next", "mean"),
    )
    factor = eta_factor(exponent)
    return means.assign(optimizer=optimizer, eta_factor=factor, eta=lr * factor, half=means["sequence"] % HALVES)


def shuffle_before(inputs: Tensor, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """(N*T) copies of the inputs: copy (i, p) has positions < p of sequence i randomly permuted; returns (copies, p)."""
    n, length = inputs.shape[:2]
    position = torch.arange(length)
    keys = torch.rand(n, length, length, generator=generator)  # [i, p, s]
    # equivalent mutant: the keys of positions >= p need only exceed every random key (in [0, 1)) and increase with s: 2 + s does both, as 1 + s does, so the sort order is the same
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
    final_only=True,  # "on a trained model" (the design, docs/claims.md); C6 reads the final checkpoint only
)
def measure_weight_channel(model: GPT, data: RunData) -> pd.DataFrame:
    """On the run's M7 sequences, ``weight_positions`` source positions each, on the run's device."""
    batch = data.weight_batch
    positions = draw_positions(len(batch.inputs), batch.inputs.shape[1], data.spec.measure["weight_positions"],
                               data.stream("weight-channel-positions"))
    return weight_channel_table(
        model, batch.inputs, batch.targets, data.task.loss_per_position, data.spec.train["lr"], positions,
        adam_preconditioner(data.optimizer_state, model), dtype=MEASURE_DTYPE,
        device=ComputeSettings.resolve(data.spec.train).device,
    )


@register("m7_context_channel", final_only=True)
def measure_context_channel(model: GPT, data: RunData) -> pd.DataFrame:
    return context_channel_table(model, data.weight_batch.inputs, data.weight_batch.targets, data.task.loss_per_position,
                                 data.stream("shuffle"))
