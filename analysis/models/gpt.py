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


@lru_cache(maxsize=32)
def split_diagonal_mask(length: int, device: torch.device) -> Tensor:
    """(T, 2T) True where query t may read past key s < t (first half) or its own live key (second half)."""
    past = torch.ones(length, length, dtype=torch.bool, device=device).tril(-1)
    own = torch.eye(length, dtype=torch.bool, device=device)
    return torch.cat([past, own], dim=-1)


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
        x = self.ln(h)
        return self.positions.rotate(self._heads(self.key(x))), self._heads(self.value(x))

    def forward(self, h: Tensor, regime: Regime) -> Tensor:
        length = h.shape[1]
        q = self.positions.rotate(self._heads(self.query(self.ln(h))))
        k, v = self.keys_values(h)
        bias = self.positions.score_bias(length)
        past = regime.past_keys_values(h, k, v, self.keys_values)
        if past is None:
            y = self._fused(q, k, v, bias)
        else:
            y = self._split_diagonal(q, k, v, *past, bias)
        return self.out(y.transpose(1, 2).flatten(2))

    @staticmethod
    def _fused(q: Tensor, k: Tensor, v: Tensor, bias: Tensor | None) -> Tensor:
        if bias is None:
            return F.scaled_dot_product_attention(q, k, v, is_causal=True)
        mask = bias.to(q.dtype).masked_fill(~causal_mask(q.shape[-2], q.device), float("-inf"))
        return F.scaled_dot_product_attention(q, k, v, attn_mask=mask)

    @staticmethod
    def _split_diagonal(
        q: Tensor, k: Tensor, v: Tensor, k_past: Tensor, v_past: Tensor, bias: Tensor | None
    ) -> Tensor:
        """Attention where s < t reads (k_past, v_past) and s = t reads the live (k, v).

        Done in one fused call by giving each query 2T keys, [k_past ; k], of which it
        may see the strictly earlier past keys and its own live key. The values equal
        standard attention (k_past == k numerically); only the autograd graph differs.
        """
        visible = split_diagonal_mask(q.shape[-2], q.device)  # (T, 2T)
        keys, values = torch.cat([k_past, k], dim=-2), torch.cat([v_past, v], dim=-2)
        if bias is None:
            return F.scaled_dot_product_attention(q, keys, values, attn_mask=visible)
        mask = torch.cat([bias, bias], dim=-1).to(q.dtype).masked_fill(~visible, float("-inf"))
        return F.scaled_dot_product_attention(q, keys, values, attn_mask=mask)


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
