"""The trust-network game as the benchmark peers play it, without specs.

This is the deterministic bench configuration of specbound's ``trust-network``
scenario (rewiring off, every broken promise detected), stripped of the spec
and the chain of command so that a plain Mesa model and a numpy kernel can
play exactly the same game:

* every step every edge (i, j) plays one prisoner's dilemma round with
  R, S, T, P = 3, 0, 5, 1;
* a *reciprocal* agent cooperates with j iff its trust in j, the Beta
  estimate (kept + 1) / (kept + broken + 2), is at least ``THRESHOLD``;
  an *opportunist* always defects (openly: the platform spec forbids it to
  promise and break, so there is no promise to break);
* decisions use the counts at the start of the step; after every edge of the
  step is played each agent counts each neighbour's move to it (cooperated:
  kept + 1, defected: broken + 1).

Inputs are the edge list (so every side plays on the *same* graph, whoever
generated it) and one group code per agent.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from agents.errors import SpecboundError

#: Prisoner's dilemma payoffs.
R, S, T, P = 3, 0, 5, 1
#: PAYOFF[mine][theirs], index 1 = cooperate, 0 = defect.
PAYOFF = np.array([[P, T], [S, R]], dtype=np.int64)
#: Trust a reciprocal agent needs to cooperate.
THRESHOLD = 0.5
#: Group codes of the ``groups`` array.
RECIPROCAL, OPPORTUNIST = 0, 1


@dataclass(frozen=True)
class GameOutcome:
    """What both peers must agree on.

    Attributes:
        payoffs: total payoff per agent over all edges and steps (int64).
        cooperations: number of cooperative moves, counting each side of each
            edge in each step.
    """

    payoffs: np.ndarray
    cooperations: int

    def same_as(self, other: GameOutcome) -> bool:
        """True when both outcomes are identical (payoffs and cooperation count)."""
        return self.cooperations == other.cooperations and np.array_equal(
            self.payoffs, other.payoffs
        )


def trusts(kept: int, broken: int) -> bool:
    """A reciprocal agent's decision rule on its Beta counts about a partner."""
    return (kept + 1) / (kept + broken + 2) >= THRESHOLD


def check_inputs(edges: np.ndarray, groups: np.ndarray, steps: int) -> tuple[np.ndarray, np.ndarray]:
    """Validate and normalise the game's inputs.

    Args:
        edges: (m, 2) integer array of undirected edges between agents 0..n-1.
        groups: (n,) array of ``RECIPROCAL`` / ``OPPORTUNIST`` codes.
        steps: number of steps, at least 0.

    Returns:
        The edges as int64 (m, 2) and the groups as int64 (n,).

    Raises:
        SpecboundError: on a malformed edge list, a self-loop, a repeated edge,
            an unknown group code or a negative step count.
    """
    e = np.asarray(edges, dtype=np.int64)
    g = np.asarray(groups, dtype=np.int64)
    if e.size == 0:
        e = e.reshape(0, 2)
    if e.ndim != 2 or e.shape[1] != 2:
        raise SpecboundError(f"bench game: edges must have shape (m, 2), got {e.shape}")
    if g.ndim != 1:
        raise SpecboundError(f"bench game: groups must be one code per agent, got shape {g.shape}")
    n = len(g)
    if len(e) and (e.min() < 0 or e.max() >= n):
        raise SpecboundError(f"bench game: edge endpoints must be in 0..{n - 1}, got {e.min()}..{e.max()}")
    if np.any(e[:, 0] == e[:, 1]):
        raise SpecboundError("bench game: edges must not be self-loops")
    lo, hi = np.minimum(e[:, 0], e[:, 1]), np.maximum(e[:, 0], e[:, 1])
    if len(np.unique(lo * n + hi)) != len(e):
        raise SpecboundError("bench game: an edge appears twice; each pair plays once per step")
    bad = ~np.isin(g, (RECIPROCAL, OPPORTUNIST))
    if bad.any():
        raise SpecboundError(
            f"bench game: group code {int(g[bad][0])} is not {RECIPROCAL} (reciprocal) "
            f"or {OPPORTUNIST} (opportunist)"
        )
    if steps < 0:
        raise SpecboundError(f"bench game: steps must be >= 0, got {steps}")
    return e, g
