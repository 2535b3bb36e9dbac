"""Tokens from a fixed random order-k Markov chain: purely local structure.

The chain is drawn once from ``chain_seed`` (the same task for every training
seed); each row of the transition table is Dirichlet(alpha). Sequences start
in the chain's stationary regime.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import ClassVar

import torch
from torch import Tensor

from .base import TASKS, Batch, TokenTask, band_dependencies


@TASKS.register("markov")
@dataclass(frozen=True)
class MarkovTask(TokenTask):
    vocab: int = 16
    order: int = 2
    alpha: float = 0.3
    chain_seed: int = 1234

    name: ClassVar[str] = "markov"
    version: ClassVar[int] = 2  # what each version changed: CHANGELOG.md
    baseline_description: ClassVar[str] = "unigram predictor: the chain's stationary token distribution"

    def __post_init__(self) -> None:
        if self.vocab < 2 or self.order < 1 or self.alpha <= 0:
            raise ValueError("markov: need vocab >= 2, order >= 1, alpha > 0")

    @cached_property
    def transitions(self) -> Tensor:
        """(vocab**order, vocab) next-token probabilities, indexed by the last ``order`` tokens."""
        generator = torch.Generator().manual_seed(self.chain_seed)
        from scipy.special import gammaincinv  # imported here: only building a chain needs scipy

        # Gamma(alpha) variates by inverse-CDF sampling, so the chain depends on chain_seed alone.
        u = torch.rand(self.vocab**self.order, self.vocab, generator=generator, dtype=torch.float64)
        weights = torch.from_numpy(gammaincinv(self.alpha, u.numpy()))
        weights = weights.clamp_min(1e-12)
        return (weights / weights.sum(-1, keepdim=True)).float()

    @cached_property
    def sampled_transitions(self) -> Tensor:
        """(vocab**order, vocab) float64: the probabilities ``_walk`` actually samples with.

        The walk draws from the float32 CDF of ``transitions`` with its last entry set to 1,
        so each row's last token absorbs the float32 round-off and every row sums to 1 exactly.
        """
        cdf = self.transitions.cumsum(-1)
        cdf[:, -1] = 1.0
        return torch.diff(cdf.double(), dim=-1, prepend=torch.zeros(cdf.shape[0], 1, dtype=torch.float64))

    @cached_property
    def stationary(self) -> Tensor:
        """Stationary distribution over states (the last ``order`` tokens) of the sampled chain, by power iteration.

        Each iterate is renormalised (without it, float round-off in the row sums makes the
        mass drift by ~1e-10 a step and the iteration never settles). Converges in a few dozen
        steps for the chains used here; an unconverged result is an error, never used.
        """
        states = self.vocab**self.order
        successor = (torch.arange(states)[:, None] * self.vocab) % states + torch.arange(self.vocab)
        pi = torch.full((states,), 1.0 / states, dtype=torch.float64)
        probs = self.sampled_transitions
        for _ in range(10_000):
            new = torch.zeros_like(pi).index_add_(0, successor.flatten(), (pi[:, None] * probs).flatten())
            new = new / new.sum()
            if torch.allclose(new, pi, atol=1e-15, rtol=0):
                return new.float()
            pi = new
        raise RuntimeError(f"markov: the stationary distribution did not converge in 10,000 steps ({self.describe()})")

    def _walk(self, n: int, length: int, generator: torch.Generator) -> Tensor:
        """``n`` sequences of ``length`` tokens started in the stationary regime (no burn-in needed)."""
        state = torch.multinomial(self.stationary, n, replacement=True, generator=generator)
        digits = [(state // self.vocab**j) % self.vocab for j in reversed(range(self.order))]
        uniforms = torch.rand(max(length - self.order, 0), n, 1, generator=generator)
        cdf = self.transitions.cumsum(-1)
        cdf[:, -1] = 1.0
        tokens = digits
        states = self.vocab**self.order
        for i in range(length - self.order):
            next_token = torch.searchsorted(cdf[state], uniforms[i]).squeeze(-1).clamp_max(self.vocab - 1)
            tokens.append(next_token)
            state = (state * self.vocab) % states + next_token
        return torch.stack(tokens[-length:], dim=1)

    def sample(self, n: int, context: int, generator: torch.Generator) -> Batch:
        tokens = self._walk(n, context + 1, generator)
        return Batch(inputs=tokens[:, :-1], targets=tokens[:, 1:])

    def dependencies(self, batch: Batch) -> Tensor:
        """Target x_{t+1} is drawn given the last ``order`` tokens: sources t - order + 1 .. t.

        Rows t < order - 1 start inside the stationary initial state, whose law couples
        x_{t+1} to every earlier token of the sequence; the band clipped at 0 says just that.
        """
        n, context = batch.inputs.shape
        return band_dependencies(n, context, 0, self.order - 1)

    @cached_property
    def unigram(self) -> Tensor:
        """Stationary token distribution: the marginal of the last token of the stationary state."""
        return torch.zeros(self.vocab).index_add_(0, torch.arange(self.vocab**self.order) % self.vocab, self.stationary)

    def context_free_prediction(self, batch: Batch) -> Tensor:
        return self.unigram.log().expand(*batch.targets.shape, self.vocab)

    def optimal_loss(self, context: int) -> float | None:
        """Entropy rate of the chain in nats (a lower bound: the first ``order`` positions see less)."""
        probs = self.sampled_transitions
        entropy = -(probs * probs.clamp_min(1e-300).log()).sum(-1)
        return float((self.stationary.double() * entropy).sum())
