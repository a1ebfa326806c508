"""The trust-network game as a numpy kernel: the speed limit for this game.

State lives on half-edges: for edge e = (u, v), column 0 is u's view of v and
column 1 is v's view of u. A step is a handful of whole-array operations, so
this is as fast as the game gets in Python without compiling anything; the
``network-game`` benchmark reports specbound's distance to it.
"""

from __future__ import annotations

import numpy as np

from bench.game import PAYOFF, RECIPROCAL, THRESHOLD, GameOutcome, check_inputs


def play_numpy(edges: np.ndarray, groups: np.ndarray, steps: int) -> GameOutcome:
    """Play the bench game with arrays.

    Args:
        edges: (m, 2) undirected edges between agents 0..n-1.
        groups: (n,) group codes (``bench.game.RECIPROCAL`` / ``OPPORTUNIST``).
        steps: steps to play.

    Returns:
        Per-agent payoffs and the number of cooperative moves.
    """
    e, g = check_inputs(edges, groups, steps)
    reciprocal = g[e] == RECIPROCAL  # (m, 2): is the deciding side reciprocal
    kept = np.zeros(e.shape, dtype=np.int64)
    broken = np.zeros(e.shape, dtype=np.int64)
    earned = np.zeros(e.shape, dtype=np.int64)  # payoff per half-edge, summed over steps
    cooperations = 0
    for _ in range(steps):
        # Same float expression as the Mesa peer, so both round identically.
        coop = reciprocal & ((kept + 1) / (kept + broken + 2) >= THRESHOLD)
        theirs = coop[:, ::-1]
        earned += PAYOFF[coop.view(np.int8), theirs.view(np.int8)]
        kept += theirs
        broken += ~theirs
        cooperations += int(np.count_nonzero(coop))
    payoffs = np.bincount(e.ravel(), weights=earned.ravel(), minlength=len(g))
    return GameOutcome(payoffs=payoffs.astype(np.int64), cooperations=cooperations)


def run_numpy(edges: np.ndarray, groups: np.ndarray, steps: int) -> np.ndarray:
    """Per-agent payoffs of the numpy kernel (see ``play_numpy``)."""
    return play_numpy(edges, groups, steps).payoffs
