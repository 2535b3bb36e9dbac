"""What every task provides: sequences, a per-position loss and a trivial baseline to read results against."""
from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import torch
from torch import Tensor

from ..registry import Registry

BASELINE_SEQUENCES = 4096
BASELINE_SEED = 20_241_126


@dataclass(frozen=True)
class IOSpec:
    """How the model reads inputs / writes predictions: token ids or real-valued features."""

    kind: Literal["tokens", "continuous"]
    size: int  # vocabulary size, or number of features per position


@dataclass
class Batch:
    inputs: Tensor  # (B, T) long for tokens, (B, T, F) float for continuous inputs
    targets: Tensor  # (B, T) long class ids, or (B, T) float regression targets
    features: dict[str, Tensor] = field(default_factory=dict)  # per-position quantities for probes


@dataclass(frozen=True)
class ProbeTarget:
    """What a linear probe on h_s should read out: ``values`` (B, T, C) at positions where ``mask`` (B, T) holds."""

    mask: Tensor
    values: Tensor


@dataclass(frozen=True)
class Task(ABC):
    """A data distribution over sequences. Subclasses are frozen dataclasses of their parameters.

    ``version`` is bumped whenever the meaning of a task changes, so results made
    with an older definition are never silently mixed with new ones.
    """

    name: ClassVar[str]
    version: ClassVar[int]
    baseline_description: ClassVar[str]

    @property
    @abstractmethod
    def input_spec(self) -> IOSpec: ...

    @property
    @abstractmethod
    def output_spec(self) -> IOSpec: ...

    def check(self, model: Mapping[str, Any], regime: str) -> list[str]:
        """Problems of training this task with the ``model`` settings under ``regime`` (none by default).

        The config validator calls it for every run, before any job, and fills the message's fields: ``{task}`` (the
        task's config key, ``tasks.<label>``), ``{experiment}`` (``experiments.<name>``) and ``{<model setting>}``,
        e.g. ``{context}``, (the config key the run's setting came from).
        """
        return []

    @property
    def max_context(self) -> int | None:
        """Longest context the task can generate (None: unbounded)."""
        return None

    @abstractmethod
    def sample(self, n: int, context: int, generator: torch.Generator) -> Batch:
        """Draw ``n`` independent sequences of length ``context``, deterministic in ``generator``."""

    @abstractmethod
    def loss_per_position(self, prediction: Tensor, targets: Tensor) -> Tensor:
        """Loss L_t for every sequence and position: shape (B, T)."""

    @abstractmethod
    def context_free_prediction(self, batch: Batch) -> Tensor:
        """The best prediction that uses no context (only position t's own input, or nothing)."""

    def baseline_loss(self, context: int) -> float:
        """Loss of the context-free predictor on a fixed, large held-out sample (deterministic)."""
        generator = torch.Generator().manual_seed(BASELINE_SEED)
        batch = self.held_out().sample(BASELINE_SEQUENCES, context, generator)
        prediction = self.context_free_prediction(batch)
        return float(self.loss_per_position(prediction, batch.targets).mean())

    def optimal_loss(self, context: int) -> float | None:
        """Bayes-optimal loss where it is known in closed form (None otherwise)."""
        return None

    def dependencies(self, batch: Batch) -> Tensor | None:
        """Which inputs each target needs: bool (B, T, T), [b, t, s] True iff target t is a function of input s.

        Only s <= t can be True (the diagonal when the own input is needed). The C1 analysis
        compares the gradient mass on these sources with what uniform spreading would give;
        None (the default) means the dependencies are unknown, as for natural text.
        """
        return None

    def resample_inputs(self, n: int, context: int, generator: torch.Generator) -> Tensor:
        """``n`` rows of independent replacement inputs: [i, s] is a draw from the input distribution at position s.

        The interventional measure (M9) replaces one input x_s by such a draw and keeps the rest.
        The default reads the inputs of ``n`` fresh sequences: position s of an independent
        sequence is an exact draw from the marginal at s, whatever the task. For the tasks here that
        is: sine, x ~ N(0, 1) and z ~ Bernoulli(p); lag, a uniform token; markov, the stationary
        (unigram) distribution, as sequences start stationary; recall, a uniform key at even and a
        uniform value at odd positions; text (called on ``held_out()``), a byte drawn from the
        held-out part's unigram distribution. A task whose fresh sequences are costly may override it.
        """
        return self.sample(n, context, generator).inputs

    def probe_features(self, batch: Batch) -> dict[str, ProbeTarget]:
        """Features of position s that only later positions need (M6 probes them); none by default."""
        return {}

    def held_out(self) -> Task:
        """The same task, drawing from data never used for training.

        Generated tasks need nothing: held-out sequences come from a separate random
        stream. Corpus tasks override this to sample from their held-out split.
        """
        return self

    def describe(self) -> dict[str, Any]:
        """Name, version and parameters: what a result needs to say which task it used."""
        return {"name": self.name, "version": self.version, **dataclasses.asdict(self)}



IMPOSSIBLE_LOGIT = -1e4  # finite stand-in for log 0: softmax gives exactly 0, no inf/NaN (in losses or probes)


class TokenTask(Task):
    """A task over token ids with the same ``vocab`` token ids in and out, scored by cross-entropy at every position.

    A subclass gives ``vocab`` (a field or a property): the number of token ids.
    """

    vocab: int

    @property
    def input_spec(self) -> IOSpec:
        return IOSpec("tokens", self.vocab)

    @property
    def output_spec(self) -> IOSpec:
        return IOSpec("tokens", self.vocab)

    def loss_per_position(self, prediction: Tensor, targets: Tensor) -> Tensor:
        return cross_entropy_per_position(prediction, targets)

TASKS: Registry[type[Task]] = Registry("task")  # filled by the task modules (``analysis.tasks`` imports them)


def band_dependencies(n: int, context: int, nearest: int, farthest: int) -> Tensor:
    """(n, T, T) bool: target t needs sources t - farthest .. t - nearest (clipped at 0), the same in every sequence."""
    distance = torch.arange(context)[:, None] - torch.arange(context)[None, :]  # [t, s] = t - s
    return ((distance >= nearest) & (distance <= farthest)).expand(n, context, context).clone()


def cross_entropy_per_position(logits: Tensor, targets: Tensor) -> Tensor:
    return torch.nn.functional.cross_entropy(
        logits.flatten(0, 1), targets.flatten(), reduction="none"
    ).view_as(targets).to(logits.dtype)
