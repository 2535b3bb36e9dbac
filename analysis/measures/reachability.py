"""M5: structural reachability, which entries of each weight tensor a single token's loss L_t can reach at all.

An entry is *reachable* from L_t iff L_t, as a function of the weights, depends on it.
That is a property of the architecture and the input sequence, not of the weights'
values, so it is decided here by a dependency argument per tensor kind, with no
numerical cut-off:

* shared: every per-head query/key/value/output block, the MLP, every LayerNorm and
  the readout are reached from t = 1 on; at t = 0 a query meets one key, its softmax
  weight is 1 whatever the score, so queries and keys are unreachable there;
* position-indexed (a learned position table): rows 0..t only, (t + 1) / T of it;
* input-dependent: token-embedding rows of tokens present in x_<=t only (a continuous
  read-in: columns of input features non-zero at some s <= t);
* invariance: the key bias adds q_t . b_k to every score of a row, to which softmax
  is invariant, so no loss reaches it (unless the keys are rotated by position, RoPE).

A parameter with no rule raises. The rules are tested against autograd at generic
random weights (tests/unit/test_measures.py). Beside each rule the table records the float64
gradient at the measured weights (reachable entries whose gradient is exactly 0 there, the
largest gradient on an entry the rule calls unreachable), so a reader sees the rule and
the trained model agree, and how weakly a saturated head is reached.
"""
from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd
import torch
from torch import Tensor

from ..models import GPT, GPTConfig
from ..models.positional import PositionalEncoding
from ..regimes import STANDARD
from .base import register
from .parameters import named_parameters, parameter_group

if TYPE_CHECKING:
    from .data import RunData

LossFn = Callable[[Tensor, Tensor], Tensor]
SHARED, POSITION_INDEXED, INPUT_DEPENDENT, INVARIANCE = "shared", "position-indexed", "input-dependent", "invariance"
NO_RULE = "no rule"  # a parameter (e.g. of a newly added encoding) without a dependency rule yet
KINDS = (SHARED, POSITION_INDEXED, INPUT_DEPENDENT, INVARIANCE, NO_RULE)
NO_HEAD = -1
REASONS = {
    "absent_tokens": "token-embedding rows of tokens absent from x_<=t",
    "zero_features": "read-in columns of input features that are 0 at every s <= t",
    "future_positions": "position-table rows beyond t",
    "single_key": "t = 0: one key, whose softmax weight is 1 whatever its score",
    "shift_invariance": "softmax is invariant to the shift q_t . b_k shared by every score of a row",
    "no_rule": "no dependency rule for this parameter: reach read from its float64 gradient (entries exactly 0 "
    "count as unreachable); add a rule to analysis/measures/reachability.py",
}
_PER_HEAD_ROWS = ("query", "key", "value")  # head h owns output rows h*d_head:(h+1)*d_head


@dataclass(frozen=True)
class Reach:
    """Which entries of one parameter L_t can reach, what kind of tensor it is and why entries are missed."""

    kind: str
    mask: Tensor  # bool, the parameter's shape
    reason: str  # "" when every entry is reachable


def target_positions(length: int) -> list[int]:
    """The losses measured: the first, the middle (L_t predicts token T/2 from T/2 tokens) and the last."""
    return sorted({0, max(length // 2 - 1, 0), length - 1})


def structural_reach(name: str, parameter: Tensor, model: GPT, inputs: Tensor, t: int, gradient: Tensor | None = None) -> Reach:
    """The dependency rule for parameter ``name`` and the loss at t of one sequence ``inputs`` ((T,) or (T, n_in)).

    A parameter no rule covers (a newly added encoding's, say) falls back to its exact ``gradient``,
    under its own kind, so C3 reports it apart instead of the study stopping."""
    config: GPTConfig = model.config
    every = torch.ones(parameter.shape, dtype=torch.bool)
    parts = name.split(".")
    if name == "read_in.weight":
        return _read_in(parameter, config, inputs[: t + 1])
    if name == "read_in.bias" or parts[0] in ("ln_f", "head"):
        return Reach(SHARED, every, "")
    if name == "positions.table":
        mask = (torch.arange(parameter.shape[0]) <= t)[:, None].expand(parameter.shape)
        return Reach(POSITION_INDEXED, mask, "" if mask.all() else REASONS["future_positions"])
    if parts[0] == "blocks" and parts[2] == "attn" and parts[3] in ("query", "key"):
        if parts[3] == "key" and parts[4] == "bias" and not _rotates_keys(model.positions):
            return Reach(INVARIANCE, ~every, REASONS["shift_invariance"])
        return Reach(SHARED, every, "") if t >= 1 else Reach(SHARED, ~every, REASONS["single_key"])
    if parts[0] == "blocks":
        return Reach(SHARED, every, "")
    if gradient is None:
        raise ValueError(f"no reachability rule for parameter {name!r}: add one to analysis/measures/reachability.py")
    mask = (gradient != 0).cpu()
    return Reach(NO_RULE, mask, "" if mask.all() else REASONS["no_rule"])


def _read_in(parameter: Tensor, config: GPTConfig, seen: Tensor) -> Reach:
    if config.input_kind == "tokens":
        rows = torch.zeros(parameter.shape[0], dtype=torch.bool)
        rows[seen.long().unique().cpu()] = True
        mask, reason = rows[:, None].expand(parameter.shape), REASONS["absent_tokens"]
    else:
        mask, reason = (seen != 0).any(0).cpu()[None, :].expand(parameter.shape), REASONS["zero_features"]
    return Reach(INPUT_DEPENDENT, mask, "" if mask.all() else reason)


def _rotates_keys(positions: PositionalEncoding) -> bool:
    """Whether keys are transformed by position (RoPE): then q_t . b_k differs between keys."""
    return type(positions).rotate is not PositionalEncoding.rotate


def head_blocks(name: str, shape: torch.Size, n_head: int) -> list[tuple[int, tuple[slice, ...]]]:
    """(head, index) blocks of a parameter: per head for attention Q/K/V (rows) and output (columns)."""
    parts = name.split(".")
    if parts[0] != "blocks" or parts[2] != "attn" or parts[3] not in (*_PER_HEAD_ROWS, "out"):
        return [(NO_HEAD, (slice(None),))]
    width = shape[0] // n_head if parts[3] in _PER_HEAD_ROWS else shape[-1] // n_head
    if parts[3] in _PER_HEAD_ROWS:
        return [(h, (slice(h * width, (h + 1) * width),)) for h in range(n_head)]
    if parts[4] == "bias":
        return [(NO_HEAD, (slice(None),))]  # the output bias is added once, after the heads are summed
    return [(h, (slice(None), slice(h * width, (h + 1) * width))) for h in range(n_head)]


def target_gradients(model: GPT, inputs: Tensor, targets: Tensor, loss_fn: LossFn, positions: list[int]) -> dict[int, dict[str, Tensor]]:
    """dL_t/dtheta in float64 for one sequence (batch of one) and the given t: {t: {name: gradient}}."""
    model = copy.deepcopy(model).double()
    inputs = inputs.double() if inputs.is_floating_point() else inputs
    targets = targets.double() if targets.is_floating_point() else targets
    named = named_parameters(model)
    prediction, _ = model(inputs, STANDARD)
    losses = loss_fn(prediction, targets)[0]
    out = {}
    for t in positions:
        grads = torch.autograd.grad(losses[t], [p for _, p in named], retain_graph=True, allow_unused=True)
        out[t] = {n: (torch.zeros_like(p) if g is None else g.detach()) for (n, p), g in zip(named, grads, strict=True)}
    return out


def reachability_rows(model: GPT, inputs: Tensor, t: int, grads: dict[str, Tensor]) -> list[dict]:
    """One row per (parameter, head) for the loss at t of one sequence: the rule, and the gradient beside it."""
    scale = max(float(g.abs().max()) for g in grads.values()) or 1.0
    rows = []
    for name, parameter in named_parameters(model):
        reach = structural_reach(name, parameter, model, inputs, t, grads[name])
        group, layer = parameter_group(name, model.config.n_layer)
        magnitude = grads[name].abs().cpu()
        for head, index in head_blocks(name, parameter.shape, model.config.n_head):
            mask, block = reach.mask[index], magnitude[index]
            n_reachable = int(mask.sum())
            missed = block[~mask]
            rows.append({
                "t": t, "parameter": name, "group": group, "layer": layer, "head": head, "kind": reach.kind,
                "n_entries": mask.numel(), "n_reachable": n_reachable, "fraction_reachable": n_reachable / mask.numel(),
                "reason": reach.reason if n_reachable < mask.numel() else "",
                "n_reachable_zero": int((block[mask] == 0).sum()),
                "largest_gradient": float(block.max()) / scale,
                "largest_unreachable_gradient": float(missed.max()) / scale if missed.numel() else 0.0,
            })
    return rows


def reachability_table(model: GPT, inputs: Tensor, targets: Tensor, loss_fn: LossFn) -> pd.DataFrame:
    """M5 for a few sequences: one row per (sequence, t, parameter, head), t in ``target_positions``.

    ``largest_gradient`` and ``largest_unreachable_gradient`` are relative to the largest
    |dL_t/dtheta| over all weights; the second is float64 round-off where the rule holds.
    """
    positions = target_positions(inputs.shape[1])
    rows = []
    for i in range(inputs.shape[0]):
        grads = target_gradients(model, inputs[i : i + 1], targets[i : i + 1], loss_fn, positions)
        for t in positions:
            rows += [{"sequence": i, **row} for row in reachability_rows(model, inputs[i], t, grads[t])]
    return pd.DataFrame(rows)


@register("m5_reachability", ends_only=True)  # structural: the same at every checkpoint; the end points check it against the weights
def measure_reachability(model: GPT, data: RunData) -> pd.DataFrame:
    return reachability_table(model, *data.first(data.spec.measure["coverage_sequences"]), data.task.loss_per_position)
