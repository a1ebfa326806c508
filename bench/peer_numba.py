"""The bench game as a tuned numba kernel: the real speed limit for this game.

The numpy kernel (``bench.peer_numpy``) makes several whole-array passes per
step; this one makes a single compiled pass over the half-edges, deciding
from the counts at the start of the step, then a second pass to count what
each side saw. That is about as fast as the game runs on one core, so the
``network-game`` ratio against it is specbound's honest distance to the limit.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from bench.game import PAYOFF, RECIPROCAL, THRESHOLD, GameOutcome, check_inputs


@njit(cache=False, nogil=True)
def _play(e: np.ndarray, reciprocal: np.ndarray, steps: int, payoff: np.ndarray,
          threshold: float, n: int) -> tuple[np.ndarray, int]:
    m = e.shape[0]
    kept = np.zeros((m, 2), dtype=np.int64)
    broken = np.zeros((m, 2), dtype=np.int64)
    coop = np.zeros((m, 2), dtype=np.bool_)
    totals = np.zeros(n, dtype=np.int64)
    cooperations = 0
    for _ in range(steps):
        for k in range(m):
            for s in range(2):
                # The same float expression as the other peers, so all round alike.
                c = reciprocal[k, s] and (kept[k, s] + 1) / (kept[k, s] + broken[k, s] + 2) >= threshold
                coop[k, s] = c
                cooperations += c
        for k in range(m):
            a, b = coop[k, 0], coop[k, 1]
            totals[e[k, 0]] += payoff[int(a), int(b)]
            totals[e[k, 1]] += payoff[int(b), int(a)]
            if b:
                kept[k, 0] += 1
            else:
                broken[k, 0] += 1
            if a:
                kept[k, 1] += 1
            else:
                broken[k, 1] += 1
    return totals, cooperations


def play_numba(edges: np.ndarray, groups: np.ndarray, steps: int) -> GameOutcome:
    """Play the bench game in one compiled loop (see ``bench.game`` for the rules)."""
    e, g = check_inputs(edges, groups, steps)
    reciprocal = g[e] == RECIPROCAL
    totals, cooperations = _play(np.ascontiguousarray(e), reciprocal, steps, PAYOFF,
                                 THRESHOLD, len(g))
    return GameOutcome(payoffs=totals, cooperations=int(cooperations))


def run_numba(edges: np.ndarray, groups: np.ndarray, steps: int) -> np.ndarray:
    """Per-agent payoffs of the numba kernel (see ``play_numba``)."""
    return play_numba(edges, groups, steps).payoffs
