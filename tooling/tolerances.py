"""How closely a rerun must reproduce a published study's numbers: every tolerance `make verify` uses, in one place.

Two profiles. ``exact``: on a CPU with the pinned packages a rerun is bit-identical (fixed
seeds, ``torch.use_deterministic_algorithms``, one torch thread per job, tables written
with the same number of digits), so any difference is a real change. ``cross-device``: a
GPU or another CPU sums in another order, the difference of float32 round-off (~1e-7
relative) grows over training, and t intervals and p-values inherit it; these
bounds are stated, not yet calibrated on two devices. ``make verify`` picks ``exact``
when the archive and the rerun name the same device, else ``cross-device``.

A value passes when ``|rerun - published| <= atol + rtol * |published|`` (NaN matches NaN).
Integer and boolean columns (counts, identifiers, flags) and verdicts must always match
exactly; numbers inside text (e.g. "0.136 [0.106, 0.157]") are compared with the table's
tolerance plus one unit of their last printed digit.
"""
from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatch


@dataclass(frozen=True)
class Tolerance:
    rtol: float
    atol: float

    def describe(self) -> str:
        return "exact" if self.rtol == 0 and self.atol == 0 else f"rtol {self.rtol:g}, atol {self.atol:g}"


# Which kind of numbers a results file holds, by its path in the results folder (first match wins).
KINDS: tuple[tuple[str, str], ...] = (
    ("tables/m*.csv", "measures"),  # per run and checkpoint: gradient norms, losses, coverage, probes
    ("tables/runs.csv", "training"),  # losses at init and end, per run
    ("tables/train_log.csv", "training"),
    ("tables/*.csv", "statistics"),  # over seeds: means, t intervals, fits, p-values
    ("paper_numbers.json", "paper"),  # the same statistics, formatted for the paper
)

CROSS_DEVICE_WHY = {
    "training": "a loss is a mean over many tokens: reordered float32 sums move it little",
    "measures": "gradient norms of a trained model inherit the small drift of its training trajectory",
    "statistics": "means and intervals over three seeds move with the measures; atol covers p-values and slopes near 0",
    "paper": "numbers as printed (3 digits): the statistics' tolerance plus rounding",
}

PROFILES: dict[str, dict[str, Tolerance]] = {
    "exact": {kind: Tolerance(0.0, 0.0) for kind in CROSS_DEVICE_WHY},
    "cross-device": {
        "training": Tolerance(rtol=1e-2, atol=1e-4),
        "measures": Tolerance(rtol=5e-2, atol=1e-6),
        "statistics": Tolerance(rtol=5e-2, atol=1e-3),
        "paper": Tolerance(rtol=5e-2, atol=1e-3),
    },
}

# Fields that say where and when a run happened, not what it computed: never compared as results.
PROVENANCE_FIELDS = frozenset(
    {"git_commit", "analysis_commit", "device", "packages", "train_wall_time_s", "measure_wall_time_s", "train_time_min", "measure_time_min"}
)


def kind_of(name: str) -> str:
    """The kind of numbers in results file ``name`` (a path relative to the results folder)."""
    for pattern, kind in KINDS:
        if fnmatch(name, pattern):
            return kind
    raise KeyError(f"no tolerance kind for {name}")


def tolerance_for(profile: str, name: str) -> Tolerance:
    try:
        tolerances = PROFILES[profile]
    except KeyError:
        raise KeyError(f"unknown tolerance profile {profile!r}; allowed: {', '.join(PROFILES)}") from None
    return tolerances[kind_of(name)]
