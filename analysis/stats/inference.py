"""Estimates over seeds (the unit of replication): intervals, tests against 0, equivalence tests, Holm.

Intervals are Student t over per-seed values, whose coverage is nominal for normal
seed-to-seed variation at any seed count >= 2. (A percentile bootstrap over 3 seeds
is the seed range, with about 75% coverage for a nominal 95%: not used.)
Effect sizes are Cohen's d of the per-seed values against 0 (d_z when the values
are paired differences). p-values of one family are adjusted with Holm's method.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats


@dataclass(frozen=True)
class Interval:
    estimate: float
    low: float
    high: float
    n: int


def _finite(values: np.ndarray) -> np.ndarray:
    values = np.asarray(values, dtype=float)
    return values[np.isfinite(values)]


def mean_interval(values: np.ndarray, confidence: float) -> Interval:
    """Mean over seeds with its Student t interval; one seed gives no interval (NaN bounds)."""
    values = _finite(values)
    n = len(values)
    if n == 0:
        # equivalent mutant: float("NAN") is NaN
        return Interval(float("nan"), float("nan"), float("nan"), 0)
    mean = float(values.mean())
    if n == 1:
        # equivalent mutant: float("NAN") is NaN
        return Interval(mean, float("nan"), float("nan"), 1)
    half = float(stats.t.ppf(0.5 + confidence / 2, n - 1) * values.std(ddof=1) / np.sqrt(n))
    return Interval(mean, mean - half, mean + half, n)


def mean_interval_columns(values: np.ndarray, confidence: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``mean_interval`` for every column of a (seeds, columns) array without missing entries."""
    values = np.asarray(values, dtype=float)
    n = values.shape[0]
    mean = values.mean(axis=0)
    if n < 2:
        # equivalent mutant: mean is a float array (values are cast to float), and None fills a float array with NaN
        nan = np.full_like(mean, np.nan)
        return mean, nan, nan.copy()
    half = stats.t.ppf(0.5 + confidence / 2, n - 1) * values.std(axis=0, ddof=1) / np.sqrt(n)
    return mean, mean - half, mean + half


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


def compare_to_zero(values: np.ndarray, confidence: float, alternative: str = "two-sided") -> SeedTest:
    """Mean of per-seed values with its t interval, a t-test against 0 and Cohen's d.

    For paired designs pass the per-seed differences (the paired t-test). ``alternative``
    ("two-sided", "greater", "less") sets the test's direction; the interval is always
    two-sided at ``confidence``.
    """
    values = _finite(values)
    interval = mean_interval(values, confidence)
    # equivalent mutant: on two or more values the standard deviation is 0 with ddof 0 exactly when it is 0 with ddof 1 (all values equal)
    if len(values) < 2 or np.std(values, ddof=1) == 0:
        # equivalent mutant: float('NAN') is the same NaN as float('nan')
        return SeedTest(interval.estimate, interval.low, interval.high, interval.n, float("nan"), float("nan"), float("nan"))
    result = stats.ttest_1samp(values, 0.0, alternative=alternative)
    effect = float(values.mean() / values.std(ddof=1))
    return SeedTest(interval.estimate, interval.low, interval.high, interval.n, float(result.statistic), float(result.pvalue), effect)


@dataclass(frozen=True)
class Equivalence:
    """Two one-sided t-tests (TOST) that the mean lies inside (-margin, margin)."""

    estimate: float
    low: float  # the (1 - 2 alpha) interval TOST is equivalent to
    high: float
    n: int
    margin: float
    p: float  # the larger of the two one-sided p-values

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def equivalence_test(values: np.ndarray, margin: float, alpha: float) -> Equivalence:
    """TOST against ``margin``: p < alpha is evidence that |mean| < margin (an interval covering 0 is not)."""
    values = _finite(values)
    interval = mean_interval(values, 1 - 2 * alpha)
    # equivalent mutant: on two or more values the standard deviation is 0 with ddof 0 exactly when it is 0 with ddof 1 (all values equal)
    if len(values) < 2 or np.std(values, ddof=1) == 0:
        # equivalent mutant: with no values the mean is NaN and NaN < margin is False, so inside is False as with the length check; inside only sets p, and with one value p is NaN whatever inside is
        inside = len(values) > 0 and abs(float(values.mean())) < margin
        # equivalent mutant: float('NAN') is the same NaN as float('nan')
        p = float("nan") if len(values) < 2 else (0.0 if inside else 1.0)
        return Equivalence(interval.estimate, interval.low, interval.high, interval.n, margin, p)
    lower = stats.ttest_1samp(values, -margin, alternative="greater").pvalue
    upper = stats.ttest_1samp(values, margin, alternative="less").pvalue
    return Equivalence(interval.estimate, interval.low, interval.high, interval.n, margin, float(max(lower, upper)))


def holm(p_values: np.ndarray) -> np.ndarray:
    """Holm-Bonferroni adjusted p-values (step-down, monotone, capped at 1); NaN stays NaN."""
    p = np.asarray(p_values, dtype=float)
    # equivalent mutant: p is a float array, and full_like fills a float array with NaN for None as for np.nan
    adjusted = np.full_like(p, np.nan)
    finite = np.flatnonzero(np.isfinite(p))
    m = len(finite)
    if m == 0:
        return adjusted
    # equivalent mutant: tied p values get the same adjusted value in either visiting order (the running maximum carries the first one's (m - rank) p to the second), so the sort's tie order cannot matter
    order = finite[np.argsort(p[finite], kind="stable")]
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[index]))
        adjusted[index] = running
    return adjusted


def t_test_power(n: int, effect: float, sd: float, alpha: float = 0.05, alternative: str = "greater") -> float:
    """Power of the one-sample (or paired) t-test of mean 0 on n values whose true mean is ``effect`` and sd ``sd``.

    Exact, from the noncentral t: the statistic has n - 1 degrees of freedom and noncentrality
    (effect / sd) sqrt(n). NaN below two values (no test).
    """
    if n < 2:
        # equivalent mutant: float("NAN") is the same NaN
        return float("nan")
    df, noncentrality = n - 1, effect / sd * np.sqrt(n)
    if alternative == "greater":
        return float(stats.nct.sf(stats.t.ppf(1 - alpha, df), df, noncentrality))
    if alternative == "less":
        return float(stats.nct.cdf(stats.t.ppf(alpha, df), df, noncentrality))
    if alternative == "two-sided":
        critical = stats.t.ppf(1 - alpha / 2, df)
        return float(stats.nct.sf(critical, df, noncentrality) + stats.nct.cdf(-critical, df, noncentrality))
    raise ValueError(f"alternative {alternative!r}: allowed values: greater, less, two-sided")


def seeds_for_power(effect: float, sd: float, power: float = 0.9, alpha: float = 0.05, alternative: str = "greater",
                    floor: int = 10) -> int:
    """The fewest seeds (at least ``floor``) whose t-test of ``t_test_power`` reaches ``power`` at this effect.

    Power grows with n for an effect in the test's direction, so the smallest n is found by doubling, then
    bisection. An effect that no n detects (0, or against a one-sided test) is refused.
    """
    if not (np.isfinite(effect) and np.isfinite(sd) and sd > 0):
        raise ValueError(f"seeds_for_power: effect {effect} and sd {sd} must be finite, sd > 0")
    # equivalent mutant: effect <= 0 / >= 0 in the one-sided terms: effect == 0 is refused before them
    if not 0 < power < 1 or effect == 0 or (alternative == "greater" and effect < 0) or (alternative == "less" and effect > 0):
        raise ValueError(f"seeds_for_power: no seed count reaches power {power} at effect {effect} ({alternative})")
    # equivalent mutant: other starting brackets (2, 2), (1, 3): the bisection still returns the smallest n that reaches the power
    low, high = 1, 2  # power(low) < power <= power(high) once the doubling stops
    # equivalent mutant: <= instead of <: differs only where the power equals the target exactly (a continuous function of n)
    while t_test_power(high, effect, sd, alpha, alternative) < power:
        # equivalent mutant: tripling instead of doubling: the bisection still returns the smallest n
        low, high = high, 2 * high
    while high - low > 1:
        middle = (low + high) // 2
        # equivalent mutant: > instead of >=: differs only where the power equals the target exactly
        low, high = (low, middle) if t_test_power(middle, effect, sd, alpha, alternative) >= power else (middle, high)
    return max(high, floor)
