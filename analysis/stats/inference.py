"""Tests over seeds (the unit of replication): estimate, interval, p-value and effect size together.

Every test reports the mean over seeds with its percentile bootstrap interval, a
one-sample t-test against 0 (for paired designs: on the per-seed differences, which
is the paired t-test) and Cohen's d (mean / standard deviation; d_z when paired).
p-values of one family of tests are adjusted with Holm's step-down method.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats

from .bootstrap import bootstrap_mean


@dataclass(frozen=True)
class SeedTest:
    estimate: float
    low: float
    high: float
    n: int
    t: float
    p: float
    effect_size: float  # Cohen's d of the per-seed values against 0

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def compare_to_zero(values: np.ndarray, confidence: float, n_resamples: int, seed: int) -> SeedTest:
    """Mean of per-seed values with a bootstrap interval, a two-sided t-test against 0, and Cohen's d."""
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    interval = bootstrap_mean(values, confidence, n_resamples, seed)
    if len(values) < 2 or np.std(values, ddof=1) == 0:
        return SeedTest(interval.estimate, interval.low, interval.high, interval.n, float("nan"), float("nan"), float("nan"))
    result = stats.ttest_1samp(values, 0.0)
    effect = float(values.mean() / values.std(ddof=1))
    return SeedTest(interval.estimate, interval.low, interval.high, interval.n, float(result.statistic), float(result.pvalue), effect)


def holm(p_values: np.ndarray) -> np.ndarray:
    """Holm-Bonferroni adjusted p-values (step-down, monotone, capped at 1); NaN stays NaN."""
    p = np.asarray(p_values, dtype=float)
    adjusted = np.full_like(p, np.nan)
    finite = np.flatnonzero(np.isfinite(p))
    m = len(finite)
    if m == 0:
        return adjusted
    order = finite[np.argsort(p[finite], kind="stable")]
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[index]))
        adjusted[index] = running
    return adjusted
