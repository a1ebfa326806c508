"""Benchmark ``scaling``: specbound's time per step as the population grows.

``trust-network`` (the bench configuration, degree 4) at 100, 1,000, 10,000
and 100,000 agents. Time per step is the difference between a long and a
short run divided by the extra steps, so set-up (specs, graph, decision
tables) does not count. The exponent of a power law fitted by least squares
on log-log axes must stay near 1 (linear growth).
"""

from __future__ import annotations

import numpy as np

from bench.harness import Result, at_most, median_time
from bench.ours import ours_trust_network

SIZES: tuple[int, ...] = (100, 1_000, 10_000, 100_000)
#: Largest fitted exponent still called near-linear.
MAX_EXPONENT = 1.15
SHORT, LONG = 2, 10


def fit_exponent(sizes: np.ndarray, times: np.ndarray) -> float:
    """Slope b of log(time) = a + b log(size), by least squares.

    Raises:
        ValueError: fewer than two sizes, or a non-positive size or time.
    """
    x, y = np.asarray(sizes, dtype=float), np.asarray(times, dtype=float)
    if len(x) < 2 or len(x) != len(y) or (x <= 0).any() or (y <= 0).any():
        raise ValueError("fit_exponent needs two or more positive sizes and times")
    slope, _ = np.polyfit(np.log(x), np.log(y), 1)
    return float(slope)


def step_time(n: int, repeat: int, degree: int = 4, seed: int = 0) -> float:
    """Seconds per step at ``n`` agents, set-up excluded (long minus short run)."""
    ours_trust_network(n, degree, SHORT, seed)  # warm-up: imports, spec compilation
    short = median_time(lambda: ours_trust_network(n, degree, SHORT, seed), repeat)
    long = median_time(lambda: ours_trust_network(n, degree, LONG, seed), repeat)
    # Noise can make the difference tiny or negative at small n; floor it at
    # a microsecond so the log-log fit stays defined.
    return max((long - short) / (LONG - SHORT), 1e-6)


def bench_scaling(sizes: tuple[int, ...] = SIZES, repeat: int = 3) -> list[Result]:
    """One row: the fitted exponent, with the per-size step times in the note."""
    times = [step_time(n, repeat) for n in sizes]
    exponent = fit_exponent(np.array(sizes), np.array(times))
    detail = ", ".join(f"{n}: {t * 1e3:.3g} ms/step" for n, t in zip(sizes, times, strict=True))
    return [at_most("scaling", exponent, MAX_EXPONENT, "exponent", detail)]
