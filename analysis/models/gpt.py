"""A decoder-only pre-LayerNorm GPT, small enough to read top to bottom.

The residual stream h^l (l = 0: input to the first block, l = L: output of the
last block) is the object the measures study; ``forward(..., return_residuals=True)``
hands those tensors back, still attached to the graph, so gradients with respect
to them are read with ``torch.autograd.grad`` and nothing else.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import torch.nn.functional as F
from torch import Tensor, nn

from ..regimes import STANDARD, Regime
from ..tasks.base import IOSpec
from .masks import attention_scores, mask_arguments
from .myopic_routing import MyopicProjection, myopic_attention
from .positional import POSITIONAL_ENCODINGS, PositionalEncoding


@dataclass(frozen=True)
class GPTConfig:
    """A config's ``model`` section (the schema holds its defaults) and the task's input and output."""

    n_layer: int
    d_model: int
    n_head: int
    context: int
    pos_encoding: str  # a name registered in POSITIONAL_ENCODINGS
    mlp_ratio: int
    input_kind: str  # "tokens" (embedding table) or "continuous" (linear read-in)
    input_size: int
    output_kind: str
    output_size: int

    def __post_init__(self) -> None:
        if self.d_model % self.n_head:
            raise ValueError(f"d_model ({self.d_model}) must be divisible by n_head ({self.n_head})")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class CausalSelfAttention(nn.Module):
    """Multi-head causal attention whose past keys/values are chosen by the training regime.

    The myopic regimes compute the same output; how their backward pass stops gradient is in
    ``myopic_routing.py``.
    """

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

    def queries(self, h: Tensor) -> Tensor:
        """Queries (B, H, T, d_head) of residual-stream input h, positional transform included."""
        return self._project_queries(self.ln(h))

    def keys_values(self, h: Tensor) -> tuple[Tensor, Tensor]:
        """Keys and values of residual-stream input h, positional transform included."""
        return self._project_keys_values(self.ln(h))

    def pattern(self, h: Tensor) -> Tensor:
        """(B, H, T, T) the attention weights A[t, s] this module gives residual-stream input h (0 for s > t).

        The forward pass never forms them (its fused kernel does not); they are its softmax, from the same scores.
        """
        x = self.ln(h)
        k, _ = self._project_keys_values(x)
        return attention_scores(self._project_queries(x), k, self.positions.score_bias(h.shape[1])).softmax(-1)

    def _project_queries(self, x: Tensor) -> Tensor:
        return self.positions.rotate(self._heads(self.query(x)))

    def _project_keys_values(self, x: Tensor) -> tuple[Tensor, Tensor]:
        return self.positions.rotate(self._heads(self.key(x))), self._heads(self.value(x))

    def forward(self, h: Tensor, regime: Regime) -> Tensor:
        length = h.shape[1]
        x = self.ln(h)
        q = self._project_queries(x)
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
        return F.scaled_dot_product_attention(q, k, v, **mask_arguments(q, bias))


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


def build_model(input_spec: IOSpec, output_spec: IOSpec, architecture: Mapping[str, Any]) -> GPT:
    """The GPT for a task's input and output and a config's ``model`` section: every model of the study is built here."""
    config = GPTConfig(
        **architecture,
        input_kind=input_spec.kind,
        input_size=input_spec.size,
        output_kind=output_spec.kind,
        output_size=output_spec.size,
    )
    return GPT(config)
