"""Helpers of the findings tests: arms over fixed seeds, paired 95% intervals, counterfactuals.

A README finding is a difference between two arms run on the same seeds
(common random numbers): its 95% interval (normal, 1.96 standard errors of
the paired differences) must exclude zero. Its counterfactual removes the
finding's mechanism and must make it vanish: an interval that contains zero,
or no difference at all where the mechanism is the only path.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from sim.runs.run import run

#: At least twenty seeds per arm (issue 14).
SEEDS = tuple(range(20))


@functools.cache
def arm(sid: str, overrides: tuple[tuple[str, Any], ...], seeds: tuple[int, ...] = SEEDS) -> dict[str, np.ndarray]:
    """Final metrics of ``sid`` with ``overrides`` for each seed, one array per metric (NaN: absent)."""
    rows = [run(sid, seed=s, set=dict(overrides)).metrics for s in seeds]
    names = sorted({k for r in rows for k in r})
    return {k: np.array([r.get(k, np.nan) for r in rows], dtype=float) for k in names}


def interval(diff: np.ndarray) -> tuple[float, float]:
    """95% interval of the mean of paired differences."""
    half = 1.96 * diff.std(ddof=1) / np.sqrt(len(diff))
    return float(diff.mean() - half), float(diff.mean() + half)


def excludes_zero(diff: np.ndarray) -> bool:
    low, high = interval(diff)
    return low > 0 or high < 0


def vanishes(diff: np.ndarray) -> bool:
    low, high = interval(diff)
    return bool(np.all(diff == 0)) or low <= 0 <= high
