"""The myopic regimes' gradient routing: the forward pass of standard attention, a backward pass that stops
gradient where the regime says.

A myopic regime (``analysis/regimes.py``) keeps the loss at position t from sending gradient
through the keys and values of earlier positions s < t into their hidden states
(``myopic-state``), or into anything at all (``myopic-full``), while position t's own key and
value stay fully live. The forward pass must stay that of standard attention, so that the
regimes differ in what they learn and in nothing they compute. Splitting attention into a
"past" and an "own" copy of every key and value would double its keys; instead the keys and
values are projected once (``MyopicProjection``), attention runs once over T keys
(``myopic_attention``), and two autograd functions send each part of the gradient where the
regime routes it. ``tests/references.py`` computes the same gradients one position at a time.
"""
from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from .masks import attention_scores, mask_arguments


class MyopicProjection(torch.autograd.Function):
    """A key (or value) projection computed once, whose gradient is routed by the training regime.

    Returns ``past`` = x_past W^T + b, read by every query s <= t, and ``own``, a zero
    tensor read by query t at s = t only (``myopic_attention``). Backward receives
    d_past (every query's gradient, the diagonal included) and d_own (what position
    t's own key additionally sends) and routes them:

    * ``weights`` (myopic-state): W and b learn from d_past; the hidden state from
      d_own only. x_past = LayerNorm(h.detach()) carries the LayerNorm weights'
      share: it gets (d_past - d_own) W, while x = LayerNorm(h) gets d_own W, so the
      LayerNorm weights see d_past once and h sees d_own alone.
    * ``nowhere`` (myopic-full): W, b and h learn from d_own alone; d_past is dropped.

    One forward matmul instead of two (past and own computed separately), and the
    hidden-state gradient in both regimes by the same operations, so the parts of
    ``analysis/measures/decomposition.py`` are exactly zero where they must be. Under
    autocast the forward matmul runs in bf16 and the backward in the weights' fp32.
    """

    @staticmethod
    def forward(ctx: Any, x: Tensor, x_past: Tensor, weight: Tensor, bias: Tensor, mode: str) -> tuple[Tensor, Tensor]:
        past = F.linear(x_past, weight, bias)
        ctx.save_for_backward(x, x_past, weight)
        ctx.mode = mode
        return past, past.new_zeros(()).expand_as(past)  # only routes gradient: no memory

    @staticmethod
    def backward(ctx: Any, d_past: Tensor, d_own: Tensor) -> tuple[Tensor | None, ...]:
        x, x_past, weight = ctx.saved_tensors
        d_past = d_past.to(weight.dtype)  # under autocast the cotangents arrive in bf16
        d_own = d_own.to(weight.dtype)
        rows = d_own.shape[-1]
        learn_from = d_past if ctx.mode == "weights" else d_own
        source = x_past if ctx.mode == "weights" else x
        grad_weight = learn_from.reshape(-1, rows).t() @ source.reshape(-1, source.shape[-1]).to(weight.dtype)
        grad_bias = learn_from.reshape(-1, rows).sum(0)
        grad_x = d_own @ weight
        grad_x_past = (d_past - d_own) @ weight if ctx.mode == "weights" else None
        return grad_x.to(x.dtype), None if grad_x_past is None else grad_x_past.to(x_past.dtype), grad_weight, grad_bias, None


def attention_and_logsumexp(q: Tensor, k: Tensor, v: Tensor, bias: Tensor | None, fused_lse: bool = True) -> tuple[Tensor, Tensor]:
    """Causal attention y (B, H, T, d_head) and, outside the graph, each query's softmax normaliser (B, H, T).

    On CPU the fused kernel returns the log-sum-exp with y at no extra cost
    (``fused_lse``); elsewhere (other devices, bf16, a trained score bias) it comes
    from a T x T score pass without autograd.
    y is bitwise the output of ``F.scaled_dot_product_attention``.
    """
    mask = mask_arguments(q, bias)
    trained_bias = bias is not None and bias.requires_grad  # the fused CPU kernel has no gradient for a mask
    if fused_lse and q.device.type == "cpu" and q.dtype in (torch.float32, torch.float64) and not trained_bias:
        y, lse = torch.ops.aten._scaled_dot_product_flash_attention_for_cpu(
            q, k, v, 0.0, mask.get("is_causal", False), attn_mask=mask.get("attn_mask")
        )
        return y, lse
    y = F.scaled_dot_product_attention(q, k, v, **mask)
    with torch.no_grad():
        exact = torch.promote_types(q.dtype, torch.float32)  # bf16 autocast: softmax normaliser in fp32
        lse = attention_scores(q.to(exact), k.to(exact), bias).logsumexp(-1)
    return y, lse


def myopic_attention(
    q: Tensor, k_past: Tensor, v_past: Tensor, k_own: Tensor, v_own: Tensor, bias: Tensor | None, fused_lse: bool = True
) -> Tensor:
    """Causal attention over (k_past, v_past) whose backward also sends gradient into (k_own, v_own).

    Every query s <= t reads (k_past, v_past), so what they lead to receives the
    gradient of every position, the diagonal s = t included. Position t's own key and
    value must in addition send d y_t / d k_t and d y_t / d v_t wherever (k_own, v_own)
    lead. With p_tt the weight of t on itself and scale = d_head^-1/2,

        d y_t = p_tt * [d v_t + scale * (q_t . d k_t) * (v_t - y_t)],

    which ``_OwnPositionGradient`` applies in the backward pass while passing y through
    unchanged (k_own and v_own only route gradient; their values are never read). This
    replaces attention over 2T keys (past and own side by side): the same gradients,
    tested against a one-position-at-a-time reference, for a few (B, H, T, d_head) products.
    """
    y, lse = attention_and_logsumexp(q, k_past, v_past, bias, fused_lse)
    if not torch.is_grad_enabled():
        return y
    own_bias = None if bias is None else bias.diagonal(dim1=-2, dim2=-1)
    return _OwnPositionGradient.apply(y, k_own, v_own, q.detach(), k_past.detach(), v_past.detach(), lse, own_bias)


class _OwnPositionGradient(torch.autograd.Function):
    """Identity on y; its backward sends y's gradient on through the own key/value (see ``myopic_attention``)."""

    @staticmethod
    def forward(
        ctx: Any, y: Tensor, k_own: Tensor, v_own: Tensor, q: Tensor, k: Tensor, v: Tensor, lse: Tensor, own_bias: Tensor | None
    ) -> Tensor:
        ctx.save_for_backward(y.detach(), q, k, v, lse, own_bias)
        ctx.own_dtypes = (k_own.dtype, v_own.dtype)
        return y.view_as(y)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor | None, ...]:
        y, q, k, v, lse, own_bias = ctx.saved_tensors
        exact = torch.promote_types(q.dtype, torch.float32)
        scale = q.shape[-1] ** -0.5
        own_score = torch.linalg.vecdot(q.to(exact), k.to(exact)) * scale
        if own_bias is not None:
            own_score = own_score + own_bias.to(exact)
        p_own = (own_score - lse.to(exact)).exp().to(grad.dtype).unsqueeze(-1)  # (B, H, T, 1)
        weighted = p_own * grad
        along_residual = torch.linalg.vecdot(weighted, v - y).unsqueeze(-1)
        grad_k = q * (scale * along_residual)
        k_dtype, v_dtype = ctx.own_dtypes
        return grad, grad_k.to(k_dtype), weighted.to(v_dtype), None, None, None, None, None
