"""Benchmark ``network-game``: trust-network against a plain Mesa model and numpy.

specbound plays ``trust-network`` with every decision going through the spec
and the chain of command; the peers play the same game on the same graph
(taken from specbound's run) without specs. All three must give every agent
the same payoff before a time is reported. Targets: at least 3 times the
plain Mesa model's agent-steps per second (issue 8), and at least half the
throughput of a tuned numba kernel of the same game (issue 18: that kernel, not
the numpy one, is the limit); the numpy ratio is reported only.
"""

from __future__ import annotations

import mesa
import numpy as np

from bench.harness import Result, at_least, compare
from bench.ours import ours_trust_network
from bench.peer_mesa import run_mesa
from bench.peer_numba import run_numba
from bench.peer_numpy import run_numpy

TARGET_VS_MESA = 3.0
TARGET_VS_NUMBA = 0.5


def bench_network(
    n: int = 10_000, degree: int = 4, steps: int = 50, seed: int = 0, repeat: int = 3
) -> list[Result]:
    """Time specbound and both peers; rows for the Mesa and the numpy comparison."""
    first = ours_trust_network(n, degree, steps, seed)
    edges, groups = first.edges, first.groups

    def ours() -> np.ndarray:
        return ours_trust_network(n, degree, steps, seed).payoffs

    work = n * steps
    note = f"{n} agents, degree {degree}, {steps} steps, median of {repeat}"
    t_ours, t_mesa = compare(
        "network-game", ours, lambda: run_mesa(edges, groups, steps), np.array_equal, repeat
    )
    _, t_numpy = compare(
        "network-game-numpy", ours, lambda: run_numpy(edges, groups, steps), np.array_equal, repeat
    )
    _, t_numba = compare(
        "network-game-numba", ours, lambda: run_numba(edges, groups, steps), np.array_equal, repeat
    )
    return [
        at_least(
            "network-game", work / t_ours, work / t_mesa, f"mesa {mesa.__version__} plain model",
            "agent-steps/s", TARGET_VS_MESA, note,
        ),
        at_least(
            "network-game-numpy", work / t_ours, work / t_numpy, "numpy kernel",
            "agent-steps/s", None, note + "; reported only",
        ),
        at_least(
            "network-game-numba", work / t_ours, work / t_numba, "tuned numba kernel",
            "agent-steps/s", TARGET_VS_NUMBA, note + "; the limit",
        ),
    ]
