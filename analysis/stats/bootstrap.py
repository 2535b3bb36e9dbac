"""Intervals over seeds, the unit of replication."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats


@dataclass(frozen=True)
class Interval:
    estimate: float
    low: float
    high: float
    n: int


def bootstrap_mean(values: np.ndarray, confidence: float = 0.95, n_resamples: int = 10_000, seed: int = 0) -> Interval:
    """Mean over seeds with a percentile bootstrap interval (scipy.stats.bootstrap).

    With few seeds the percentile interval is known to be too narrow; it is what
    the design asks for, and the number of seeds is reported beside it.
    """
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    if len(values) == 0:
        return Interval(float("nan"), float("nan"), float("nan"), 0)
    if len(values) == 1 or np.ptp(values) == 0:
        return Interval(float(values.mean()), float(values.min()), float(values.max()), len(values))
    result = stats.bootstrap(
        (values,),
        np.mean,
        confidence_level=confidence,
        n_resamples=n_resamples,
        method="percentile",
        rng=np.random.default_rng(seed),
    )
    ci = result.confidence_interval
    return Interval(float(values.mean()), float(ci.low), float(ci.high), len(values))


def bootstrap_mean_columns(
    values: np.ndarray, confidence: float = 0.95, n_resamples: int = 10_000, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean over rows (seeds) with percentile bootstrap intervals, for every column at once.

    ``values`` is (n_seeds, n_columns) without missing entries; columns whose seeds all
    agree (or a single seed) get a degenerate interval at their mean.
    """
    values = np.asarray(values, dtype=float)
    mean = values.mean(axis=0)
    if values.shape[0] < 2:
        return mean, mean.copy(), mean.copy()
    result = stats.bootstrap(
        (values,),
        np.mean,
        axis=0,
        vectorized=True,
        confidence_level=confidence,
        n_resamples=n_resamples,
        method="percentile",
        rng=np.random.default_rng(seed),
    )
    low, high = result.confidence_interval
    constant = np.ptp(values, axis=0) == 0
    return mean, np.where(constant, mean, low), np.where(constant, mean, high)
