"""What each weight is for, and exact per-target gradients with respect to all weights.

Parameter groups (used by M3 and M5): ``embedding`` (read-in), ``positions``
(a learned/scaled position table, where the encoding has one), per block
``attn_q``, ``attn_k``, ``attn_v``, ``attn_o``, ``attn_ln``, ``mlp``, ``mlp_ln``,
and ``readout`` (final LayerNorm and output head). ``layer`` is the block index;
groups before the first block have layer -1, the readout has layer n_layer.
"""
from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from ..models import GPT
from ..regimes import STANDARD
from ..registry import Registry

LossFn = Callable[[Tensor, Tensor], Tensor]
INPUT_LAYER = -1
_ATTENTION = {"query": "attn_q", "key": "attn_k", "value": "attn_v", "out": "attn_o", "ln": "attn_ln"}


def parameter_group(name: str, n_layer: int) -> tuple[str, int]:
    """(group, layer) of a parameter named as in ``GPT.named_parameters()``."""
    parts = name.split(".")
    if parts[0] == "read_in":
        return "embedding", INPUT_LAYER
    if parts[0] == "positions":
        return "positions", INPUT_LAYER
    if parts[0] == "blocks":
        layer, module, sub = int(parts[1]), parts[2], parts[3]
        if module == "attn":
            return _ATTENTION[sub], layer
        return ("mlp_ln" if sub == "ln" else "mlp"), layer
    if parts[0] in ("ln_f", "head"):
        return "readout", n_layer
    raise ValueError(f"parameter {name!r} belongs to no known group")


def named_parameters(model: GPT) -> list[tuple[str, torch.nn.Parameter]]:
    return [(name, p) for name, p in model.named_parameters() if p.requires_grad]


PER_TARGET_METHODS: Registry[Callable[..., Tensor]] = Registry("per-target parameter-gradient method")


@PER_TARGET_METHODS.register("loop")
def _per_target_loop(model: GPT, losses: Tensor, parameters: list[Tensor]) -> Tensor:
    rows = []
    for t in range(losses.shape[0]):
        grads = torch.autograd.grad(losses[t], parameters, retain_graph=True, allow_unused=True)
        rows.append(torch.cat([_flat(g, p) for g, p in zip(grads, parameters, strict=True)]))
    return torch.stack(rows)


@PER_TARGET_METHODS.register("batched")
def _per_target_batched(model: GPT, losses: Tensor, parameters: list[Tensor]) -> Tensor:
    one_hot = torch.eye(losses.shape[0], dtype=losses.dtype, device=losses.device)
    grads = torch.autograd.grad(
        losses, parameters, grad_outputs=one_hot, is_grads_batched=True, retain_graph=True, allow_unused=True
    )
    return torch.cat(
        [(torch.zeros(len(one_hot), p.numel(), dtype=p.dtype, device=p.device) if g is None else g.flatten(1))
         for g, p in zip(grads, parameters, strict=True)],
        dim=1,
    )


def _flat(grad: Tensor | None, parameter: Tensor) -> Tensor:
    return torch.zeros(parameter.numel(), dtype=parameter.dtype, device=parameter.device) if grad is None else grad.flatten()


def per_target_gradients(
    model: GPT, inputs: Tensor, targets: Tensor, loss_fn: LossFn, method: str = "batched"
) -> tuple[Tensor, Tensor]:
    """For ONE sequence (inputs of batch size 1): (grads (T, P), losses (T,)).

    Row t is dL_t/dtheta, flattened over ``named_parameters(model)`` in order.
    """
    if inputs.shape[0] != 1:
        raise ValueError(f"per-target gradients take one sequence at a time, got a batch of {inputs.shape[0]}")
    parameters = [p for _, p in named_parameters(model)]
    prediction, _ = model(inputs, STANDARD)
    losses = loss_fn(prediction, targets)[0]  # (T,)
    return PER_TARGET_METHODS.get(method)(model, losses, parameters), losses.detach()


def split_flat(flat: Tensor, model: GPT) -> dict[str, Tensor]:
    """Undo the flattening of ``per_target_gradients`` along the last axis: name -> (..., *shape)."""
    out, offset = {}, 0
    for name, parameter in named_parameters(model):
        out[name] = flat[..., offset : offset + parameter.numel()].reshape(*flat.shape[:-1], *parameter.shape)
        offset += parameter.numel()
    return out
