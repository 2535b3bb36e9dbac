"""A LayerNorm + Linear applied to a constant (detached) input, reusing forward values already computed.

``myopic-state`` needs, for every earlier position, the keys/values of the *detached*
residual stream under the *live* weights. Their values equal the live keys/values bit for
bit, so recomputing LayerNorm and the projections only to get a second autograd graph
costs a sixth of a block's forward matmuls for nothing. ``constant_input_linear`` returns
the already computed value with the gradient that recomputation would have given:
to the projection's weight and bias and to the LayerNorm gain and bias, never to the input.

Backward with x = gamma * n + beta (n: the normalised input), G the output gradient and
M = G^T n: dW = M diag(gamma) + (sum G) beta^T, db = sum G, dgamma = sum_i W_ij M_ij,
dbeta = (sum G) W: one matmul per projection instead of two (and none in the forward pass).
Exact in arithmetic; the order of float round-off differs from the recomputed graph.
"""
from __future__ import annotations

from typing import Any

import torch
from torch import Tensor


class _ConstantInputLinear(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, value: Tensor, normalized: Tensor, gain: Tensor, shift: Tensor, weight: Tensor, bias: Tensor) -> Tensor:  # noqa: D102
        ctx.save_for_backward(normalized, gain, shift, weight)
        return value.clone()

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor | None, ...]:  # noqa: D102
        normalized, gain, shift, weight = ctx.saved_tensors
        rows = grad.reshape(-1, grad.shape[-1]).to(weight.dtype)  # (R, d_out)
        moments = rows.T @ normalized.reshape(-1, normalized.shape[-1]).to(weight.dtype)  # (d_out, d_in)
        grad_sum = rows.sum(0)
        grad_weight = moments * gain + torch.outer(grad_sum, shift)
        grad_gain = (weight * moments).sum(0)
        grad_shift = grad_sum @ weight
        return None, None, grad_gain, grad_shift, grad_weight, grad_sum


def constant_input_linear(
    value: Tensor, normalized: Tensor, norm: torch.nn.LayerNorm, linear: torch.nn.Linear
) -> Tensor:
    """``linear(norm(x))`` for constant x with LayerNorm output ``norm(x)`` = gain * ``normalized`` + shift,
    given its value ``value`` (computed already): gradient reaches only the weights of ``norm`` and ``linear``."""
    return _ConstantInputLinear.apply(value.detach(), normalized.detach(), norm.weight, norm.bias, linear.weight, linear.bias)
