"""M5: weight coverage, how much of each weight tensor a single token's loss reaches.

For target position t and one sequence, the coverage of a tensor is the fraction
of its entries whose gradient from L_t alone is non-zero. Zeros here are
structural, not small: rows of an embedding table for tokens absent from x_<=t,
rows of a learned position table beyond t. We average over held-out sequences.

Exact zeros are not enough on their own: some gradients are zero in exact
arithmetic but not in floating point (key biases, to which softmax is invariant;
queries and keys at t = 0, where softmax has a single entry). So gradients are
computed in float64 and an entry counts as covered when it exceeds
``RELATIVE_THRESHOLD`` times the largest entry of dL_t/dtheta. Fixed before the
study's runs: on trained and initial default models, such round-off sat at or
below 1.2e-16 of the largest entry and genuine gradients at or above 9e-14.
"""
from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import torch
from torch import Tensor

from ..models import GPT
from .parameters import SequenceGradients, named_parameters, parameter_group, sequence_gradients

LossFn = Callable[[Tensor, Tensor], Tensor]
RELATIVE_THRESHOLD = 1e-14  # of max |dL_t/dtheta|, in float64 (see the module docstring)


def coverage_table(model: GPT, inputs: Tensor, targets: Tensor, loss_fn: LossFn, method: str = "batched") -> pd.DataFrame:
    """One row per (parameter, t): mean over sequences of the covered fraction of dL_t/dtheta."""
    return coverage_from_gradients(sequence_gradients(model, inputs, targets, loss_fn, method))


def coverage_from_gradients(gradients: SequenceGradients) -> pd.DataFrame:
    """As ``coverage_table``, from per-target gradients already computed (shared with M7)."""
    model = gradients.model
    named = named_parameters(model)
    sizes = [p.numel() for _, p in named]
    counts = torch.zeros(gradients.grads[0].shape[0], len(named), dtype=torch.float64, device=gradients.grads[0].device)
    for grads in gradients.grads:
        magnitude = grads.abs()
        covered = magnitude > RELATIVE_THRESHOLD * magnitude.amax(dim=1, keepdim=True)
        counts += torch.stack([block.double().mean(1) for block in covered.split(sizes, dim=1)], dim=1)
    coverage = (counts / len(gradients.grads)).cpu()
    rows = []
    for j, (name, parameter) in enumerate(named):
        group, layer = parameter_group(name, model.config.n_layer)
        rows.append(
            pd.DataFrame(
                {
                    "parameter": name,
                    "group": group,
                    "layer": layer,
                    "n_entries": parameter.numel(),
                    "t": range(coverage.shape[0]),
                    "coverage": coverage[:, j].numpy(),
                }
            )
        )
    return pd.concat(rows, ignore_index=True)
