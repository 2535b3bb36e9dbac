"""A decoder-only pre-LayerNorm GPT, small enough to read top to bottom.

The residual stream h^l (l = 0: input to the first block, l = L: output of the
last block) is the object the measures study; ``forward(..., return_residuals=True)``
hands those tensors back, still attached to the graph, so gradients with respect
to them are read with ``torch.autograd.grad`` and nothing else.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..regimes import STANDARD, Regime
from ..tasks.base import IOSpec
from .positional import POSITIONAL_ENCODINGS, PositionalEncoding


@dataclass(frozen=True)
class GPTConfig:
    n_layer: int = 2
    d_model: int = 64
    n_head: int = 4
    context: int = 32
    pos_encoding: str = "learned"
    mlp_ratio: int = 4
    input_kind: str = "tokens"  # "tokens" (embedding table) or "continuous" (linear read-in)
    input_size: int = 16
    output_kind: str = "tokens"
    output_size: int = 16

    def __post_init__(self) -> None:
        if self.d_model % self.n_head:
            raise ValueError(f"d_model ({self.d_model}) must be divisible by n_head ({self.n_head})")

    @classmethod
    def for_task(cls, input_spec: IOSpec, output_spec: IOSpec, **architecture: Any) -> GPTConfig:
        return cls(
            input_kind=input_spec.kind,
            input_size=input_spec.size,
            output_kind=output_spec.kind,
            output_size=output_spec.size,
            **architecture,
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@lru_cache(maxsize=32)
def causal_mask(length: int, device: torch.device) -> Tensor:
    """(T, T) True where query t may read key s <= t; cached: built once per length, not per layer and step."""
    return torch.ones(length, length, dtype=torch.bool, device=device).tril()


class CausalSelfAttention(nn.Module):
    """Multi-head causal attention whose past keys/values are chosen by the training regime."""

    def __init__(self, config: GPTConfig, positions: PositionalEncoding) -> None:
        super().__init__()
        self.n_head = config.n_head
        self.ln = nn.LayerNorm(config.d_model)
        self.query = nn.Linear(config.d_model, config.d_model)
        self.key = nn.Linear(config.d_model, config.d_model)
        self.value = nn.Linear(config.d_model, config.d_model)
        self.out = nn.Linear(config.d_model, config.d_model)
        self.positions = positions  # shared, not owned: registered once on the GPT

    def _heads(self, x: Tensor) -> Tensor:
        batch, length, width = x.shape
        return x.view(batch, length, self.n_head, width // self.n_head).transpose(1, 2)

    def keys_values(self, h: Tensor) -> tuple[Tensor, Tensor]:
        """Keys and values of residual-stream input h, positional transform included."""
        return self._project_keys_values(self.ln(h))

    def _project_keys_values(self, x: Tensor) -> tuple[Tensor, Tensor]:
        return self.positions.rotate(self._heads(self.key(x))), self._heads(self.value(x))

    def forward(self, h: Tensor, regime: Regime) -> Tensor:
        length = h.shape[1]
        x = self.ln(h)
        q = self.positions.rotate(self._heads(self.query(x)))
        bias = self.positions.score_bias(length)
        if not regime.myopic:
            y = self._fused(q, *self._project_keys_values(x), bias)
        else:
            # myopic-state: the weights learn from every position's key/value, recomputed from the
            # detached states (LayerNorm included); myopic-full: from none but the own one.
            x_past = self.ln(h.detach()) if regime.past_gradient == "weights" else x
            mode = regime.past_gradient
            k_past, k_own = MyopicProjection.apply(x, x_past, self.key.weight, self.key.bias, mode)
            v_past, v_own = MyopicProjection.apply(x, x_past, self.value.weight, self.value.bias, mode)
            y = myopic_attention(
                q,
                self.positions.rotate(self._heads(k_past)),
                self._heads(v_past),
                self.positions.rotate(self._heads(k_own)),
                self._heads(v_own),
                bias,
            )
        return self.out(y.transpose(1, 2).flatten(2))

    @staticmethod
    def _fused(q: Tensor, k: Tensor, v: Tensor, bias: Tensor | None) -> Tensor:
        return F.scaled_dot_product_attention(q, k, v, **_mask_arguments(q, bias))


def _mask_arguments(q: Tensor, bias: Tensor | None) -> dict[str, Any]:
    if bias is None:
        return {"is_causal": True}
    mask = bias.to(q.dtype).masked_fill(~causal_mask(q.shape[-2], q.device), float("-inf"))
    # (1, H, T, T), not (H, T, T): with a 3-D mask SDPA falls back to its unfused math kernel (2x slower on CPU)
    return {"attn_mask": mask.expand(1, *mask.shape[-3:]) if mask.dim() == 3 else mask}


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
    mask = _mask_arguments(q, bias)
    learned_bias = bias is not None and bias.requires_grad  # the fused CPU kernel has no gradient for a mask
    if fused_lse and q.device.type == "cpu" and q.dtype in (torch.float32, torch.float64) and not learned_bias:
        y, lse = torch.ops.aten._scaled_dot_product_flash_attention_for_cpu(
            q, k, v, 0.0, mask.get("is_causal", False), attn_mask=mask.get("attn_mask")
        )
        return y, lse
    y = F.scaled_dot_product_attention(q, k, v, **mask)
    with torch.no_grad():
        exact = torch.promote_types(q.dtype, torch.float32)  # bf16 autocast: softmax normaliser in fp32
        scores = (q.to(exact) @ k.to(exact).transpose(-2, -1)) * q.shape[-1] ** -0.5
        if bias is not None:
            scores = scores + bias.to(exact)
        lse = scores.masked_fill(~causal_mask(q.shape[-2], q.device), float("-inf")).logsumexp(-1)
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


class MLP(nn.Module):
    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.ln = nn.LayerNorm(config.d_model)
        self.up = nn.Linear(config.d_model, config.mlp_ratio * config.d_model)
        self.down = nn.Linear(config.mlp_ratio * config.d_model, config.d_model)

    def forward(self, h: Tensor) -> Tensor:
        return self.down(F.gelu(self.up(self.ln(h))))


class Block(nn.Module):
    def __init__(self, config: GPTConfig, positions: PositionalEncoding) -> None:
        super().__init__()
        self.attn = CausalSelfAttention(config, positions)
        self.mlp = MLP(config)

    def forward(self, h: Tensor, regime: Regime) -> Tensor:
        h = h + self.attn(h, regime)
        return h + self.mlp(h)


class GPT(nn.Module):
    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.config = config
        self.positions = POSITIONAL_ENCODINGS.get(config.pos_encoding)(
            config.context, config.d_model, config.n_head
        )
        if config.input_kind == "tokens":
            self.read_in: nn.Module = nn.Embedding(config.input_size, config.d_model)
        else:
            self.read_in = nn.Linear(config.input_size, config.d_model)
        self.blocks = nn.ModuleList(Block(config, self.positions) for _ in range(config.n_layer))
        self.ln_f = nn.LayerNorm(config.d_model)
        self.head = nn.Linear(config.d_model, config.output_size)
        self.apply(self._init_weights)
        for name, parameter in self.named_parameters():  # GPT-2: scale residual projections by depth
            if name.endswith(("out.weight", "down.weight")):
                nn.init.normal_(parameter, std=0.02 / math.sqrt(2 * config.n_layer))

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, std=0.02)
            nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, std=0.02)

    def forward(
        self, inputs: Tensor, regime: Regime = STANDARD, return_residuals: bool = False
    ) -> tuple[Tensor, list[Tensor]]:
        """Predictions (B, T, output_size) and, if asked, the residual stream [h^0, ..., h^L]."""
        length = inputs.shape[1]
        if length > self.config.context:
            raise ValueError(f"sequence length {length} exceeds the model context {self.config.context}")
        h = self.read_in(inputs)
        table = self.positions.embed(length)
        if table is not None:
            h = h + table
        residuals = [h]
        for block in self.blocks:
            h = block(h, regime)
            residuals.append(h)
        prediction = self.head(self.ln_f(h))
        return prediction, (residuals if return_residuals else [])
