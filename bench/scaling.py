"""Benchmark ``scaling``: specbound's time per step as the population grows.

``trust-network`` (the bench configuration, degree 4) at 10,000, 100,000 and
1,000,000 agents (issue 18). Time per step is timed on built models after a
few untimed steps, so set-up (specs, graph, decision tables) does not count.
The target: at most 10 times the time per step per decade of agents (linear
growth is 10); the exponent of a power law fitted by least squares on log-log
axes is reported in the note. The largest size is built once (its set-up
takes most of the row's time), the others ``repeat`` times.

Each built model times ``BLOCKS`` blocks of steps, and the median block counts: at
10^6 agents a single block of ten steps (~50 ms) once read 6.35 ms a step against
3.9-4.7 in the runs either side, and alone made the row miss. The sizes take their
blocks in turn (:func:`step_times`), so a slow spell of this shared machine touches
every size, not the last one only.

A block is one ``model.run(LONG)`` call of LONG = 40 steps, as a long run steps. Each
call also pays once for checking the agents' state against the stretch's kept layout
and writing it back (whole-array passes: ~5.7 ms at 10^6 agents, ~1 ms at 10^5),
which blocks of ten charged as a fifth of a step at 10^6.
"""

from __future__ import annotations

import dataclasses
import statistics
import time
from typing import Any

import numpy as np

from bench.harness import Result, at_most
from bench.ours import trust_network_overrides

SIZES: tuple[int, ...] = (10_000, 100_000, 1_000_000)
#: Largest growth of the time per step from one decade of agents to the next.
MAX_PER_DECADE = 10.0
#: Sizes from which a single built model is timed (set-up costs tens of seconds).
ONCE_FROM = 1_000_000
SHORT, LONG = 2, 40
#: Timed blocks of LONG steps per built model (the median is kept): one scheduler hiccup
#: inside a block moves that block only.
BLOCKS = 5


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


def _built(n: int, repeat: int, degree: int, seed: int, blocks: int) -> list[Any]:
    """``repeat`` models of ``n`` agents, each past SHORT untimed steps (pair rows created,
    decision tables filled), with room for ``blocks`` blocks of LONG steps."""
    import scenarios  # noqa: F401  (registers the environments)
    from sim.model import SpecModel
    from sim.scenario import load_scenario

    scenario = load_scenario("trust-network", trust_network_overrides(n, degree, SHORT + blocks * LONG))
    models = []
    for _ in range(repeat):
        model = SpecModel(scenario, seed)
        model.run(SHORT)
        models.append(model)
    return models


def step_times(sizes: tuple[int, ...], repeat: int, degree: int = 4, seed: int = 0,
               blocks: int = BLOCKS) -> list[float]:
    """Seconds per step at each size in steady state: the median block over its built models.

    Every model is built first; then each round times one block of LONG steps on every model,
    the sizes in turn. This machine's speed drifts over seconds to minutes (a shared virtual
    machine): timing all of one size and then the next let a slow spell land on one size only,
    and the row is a ratio between sizes. Timing the steps themselves, not a long run minus a
    short one, keeps set-up noise (seconds at 100,000 agents) out of a per-step figure of
    milliseconds.
    """
    built = [_built(n, 1 if n >= ONCE_FROM else repeat, degree, seed, blocks) for n in sizes]
    times: list[list[float]] = [[] for _ in sizes]
    for _ in range(blocks):
        for models, out in zip(built, times, strict=True):
            for model in models:
                start = time.perf_counter()
                model.run(LONG)
                out.append((time.perf_counter() - start) / LONG)
    return [statistics.median(t) for t in times]


def per_decade(sizes: np.ndarray, times: np.ndarray) -> float:
    """The largest growth of time per step over one decade of agents, between consecutive sizes."""
    x, y = np.asarray(sizes, dtype=float), np.asarray(times, dtype=float)
    if len(x) < 2 or (x <= 0).any() or (y <= 0).any():
        raise ValueError("per_decade needs two or more positive sizes and times")
    return float(max((y[k + 1] / y[k]) ** (1.0 / np.log10(x[k + 1] / x[k])) for k in range(len(x) - 1)))


def bench_scaling(sizes: tuple[int, ...] = SIZES, repeat: int = 3) -> list[Result]:
    """One row: the largest growth per decade, with per-size step times and the exponent in the note."""
    times = step_times(sizes, repeat)
    growth = per_decade(np.array(sizes), np.array(times))
    exponent = fit_exponent(np.array(sizes), np.array(times))
    detail = ", ".join(f"{n}: {t * 1e3:.3g} ms/step" for n, t in zip(sizes, times, strict=True))
    detail += f"; fitted exponent {exponent:.2f}"
    row = at_most("scaling", growth, MAX_PER_DECADE, "x per decade", detail)
    if growth <= 1:
        # More agents cannot take less time per step: the measurement failed, not the engine.
        row = dataclasses.replace(row, ok=False, note=detail + "; no growth at all is noise")
    return [row]
