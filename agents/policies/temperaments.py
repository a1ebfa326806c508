"""Temperaments for the cooperation environments: trust-conditioned, opportunistic, greedy."""

from __future__ import annotations

from typing import Any, ClassVar

from agents.acts import ActSpace
from agents.policies.base import RankingPolicy, policy
from agents.policies.ranking import WithHistory, by_generosity, trust_ok


@policy("reciprocal")
class Reciprocal(RankingPolicy):
    """Cooperates (keeping its word) while trust in the partner is at least ``threshold``.

    Below the threshold it defects openly. In games with investment it sends
    or returns generously when trust is high, little when it is low.
    """

    params: ClassVar[dict[str, Any]] = {"threshold": (int, float)}

    def __init__(self, threshold: float = 0.5) -> None:
        self.threshold = threshold

    def rank(self, obs: Any, acts: ActSpace) -> tuple[int, ...]:
        generous = trust_ok(WithHistory(obs), self.threshold)
        return by_generosity(acts, high_first=generous)


@policy("opportunist")
class Opportunist(RankingPolicy):
    """Exploits: promises cooperation and defects when it can, else defects openly.

    Where talk comes before the move (a promise act that carries no move), it promises.
    """

    def rank(self, obs: Any, acts: ActSpace) -> tuple[int, ...]:
        betray = [i for i, a in enumerate(acts) if a.promise == "C" and a.cooperative is False]
        betray = betray or [i for i, a in enumerate(acts) if a.promise == "C" and a.cooperative is None]
        rest = by_generosity(acts, high_first=False)
        return tuple(betray) + tuple(i for i in rest if i not in betray)


@policy("greedy")
class Greedy(RankingPolicy):
    """Maximises its own immediate take: most selfish act first."""

    def rank(self, obs: Any, acts: ActSpace) -> tuple[int, ...]:
        return by_generosity(acts, high_first=False)


@policy("sustainable")
class Sustainable(RankingPolicy):
    """Takes its sustainable share of a resource; otherwise cooperates."""

    def rank(self, obs: Any, acts: ActSpace) -> tuple[int, ...]:
        takes = [(i, a.take) for i, a in enumerate(acts) if a.take is not None]
        if takes:
            # Closest to the sustainable share (1.0), preferring less over more.
            return tuple(i for i, t in sorted(takes, key=lambda it: (abs(it[1] - 1.0), it[1])))
        return by_generosity(acts, high_first=True)


@policy("conditional")
class Conditional(RankingPolicy):
    """Sustainable while others are; matches over-use once it sees it (GovSim's free-rider test)."""

    def rank(self, obs: Any, acts: ActSpace) -> tuple[int, ...]:
        if getattr(obs, "others_overused", 0):
            return Greedy().rank(obs, acts)
        return Sustainable().rank(obs, acts)
