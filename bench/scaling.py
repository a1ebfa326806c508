"""Benchmark ``scaling``: specbound's time per step as the population grows.

``trust-network`` (the bench configuration, degree 4) at 100, 1,000, 10,000
and 100,000 agents. Time per step is timed on built models after a few
untimed steps, so set-up (specs, graph, decision tables) does not count. The exponent of a power law fitted by least squares
on log-log axes must stay near 1 (linear growth).
"""

from __future__ import annotations

import dataclasses
import statistics
import time

import numpy as np

from bench.harness import Result, at_most
from bench.ours import trust_network_overrides

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
    """Seconds per step at ``n`` agents in steady state: median over ``repeat`` built models.

    Each model first plays SHORT untimed steps (pair rows created, decision
    tables filled), then LONG timed ones. Timing the steps themselves, not a
    long run minus a short one, keeps set-up noise (seconds at 100,000 agents)
    out of a per-step figure of milliseconds.
    """
    import scenarios  # noqa: F401  (registers the environments)
    from sim.model import SpecModel
    from sim.scenario import load_scenario

    scenario = load_scenario("trust-network", trust_network_overrides(n, degree, SHORT + LONG))
    times = []
    for _ in range(repeat):
        model = SpecModel(scenario, seed)
        model.run(SHORT)
        start = time.perf_counter()
        model.run(LONG)
        times.append((time.perf_counter() - start) / LONG)
    return statistics.median(times)


def bench_scaling(sizes: tuple[int, ...] = SIZES, repeat: int = 3) -> list[Result]:
    """One row: the fitted exponent, with the per-size step times in the note."""
    times = [step_time(n, repeat) for n in sizes]
    exponent = fit_exponent(np.array(sizes), np.array(times))
    detail = ", ".join(f"{n}: {t * 1e3:.3g} ms/step" for n, t in zip(sizes, times, strict=True))
    row = at_most("scaling", exponent, MAX_EXPONENT, "exponent", detail)
    if exponent <= 0:
        # More agents cannot take less time per step: the measurement failed, not the engine.
        row = dataclasses.replace(row, ok=False, note=detail + "; a non-positive exponent is noise")
    return [row]
