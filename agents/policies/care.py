"""An answerer that weighs the listener's feelings against the truth, given who it thinks is asking.

The tooth-fairy dilemma as a choice: an agent that believes the asker is
probably a child, pressed for a yes or a no, can keep the child's belief only
by lying. How warm the agent is (how much a child's disappointment weighs)
and how much a lie costs it (its scruple) differ by agent when drawn per agent
(``warmth = {dist = "beta", a = 2, b = 2}``), so a population is not one clone;
the spec then forbids or allows what the agent chose.

Observation fields read: ``sensitive`` (0/1: the plain truth may spoil a
belief), ``pressed`` (0/1: the asker insists on a yes or a no, so every true
answer spoils), ``child_belief`` (0..4: the agent's posterior that the asker
is a child, in fifths).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np

from agents.acts import ActSpace
from agents.errors import SpecboundError
from agents.interfaces import RankingPolicy
from agents.policies.base import policy
from agents.policies.ranking import ranking_numbers

#: What an adult listener gets from each answer (the plain fact serves an adult best).
ADULT_VALUE = {"blunt_truth": 1.0, "gentle_truth": 0.8, "deflect": 0.2, "lie": 0.0}


@policy("weighs_care")
class WeighsCare(RankingPolicy):
    """Ranks answers by expected listener value, a spoiled child weighing ``warmth``, a lie ``scruple``.

    With p the believed chance of a child (bucket midpoint): a blunt truth on a
    sensitive question is worth (1 - p) - warmth p; pressed, every true answer
    is worth its adult value times (1 - p) minus warmth p, and a lie warmth p
    minus scruple. Unpressed, a gentle truth spoils nothing (0.8 to anyone) and
    a lie is worth 0.6 warmth p minus scruple, so it never ranks first.

    Args:
        warmth: weight (0..1) on a child's disappointment; drawn per agent for a mixed population.
        scruple: what telling a lie costs the agent itself (0 or more).
    """

    params: ClassVar[dict[str, Any]] = {"warmth": (int, float), "scruple": (int, float)}

    def __init__(self, warmth: float = 0.5, scruple: float = 0.3) -> None:
        if not 0.0 <= warmth <= 1.0:
            raise SpecboundError(f"policy 'weighs_care': warmth must be between 0 and 1, got {warmth}")
        if scruple < 0:
            raise SpecboundError(f"policy 'weighs_care': scruple must not be negative, got {scruple}")
        super().__init__(warmth=warmth, scruple=scruple)
        self.warmth, self.scruple = float(warmth), float(scruple)

    def utilities(self, obs: Any) -> dict[str, float]:
        """Expected value of each answer to this agent (by act name)."""
        u = dict(ADULT_VALUE)
        u["lie"] = -self.scruple
        if not getattr(obs, "sensitive", 0):
            return u
        p = (getattr(obs, "child_belief", 0) + 0.5) / 5
        hurt = self.warmth * p
        if getattr(obs, "pressed", 0):
            return {name: (1 - p) * v - hurt for name, v in ADULT_VALUE.items() if name != "lie"} | {
                "lie": hurt - self.scruple}
        return {**u, "blunt_truth": (1 - p) - hurt, "lie": 0.6 * hurt - self.scruple}

    def rank(self, obs: Any, acts: ActSpace) -> tuple[int, ...]:
        u = self.utilities(obs)
        return tuple(sorted(range(len(acts)), key=lambda i: -u.get(acts[i].name, -1e9)))

    #: The ``rank`` that ``rank_batch`` reproduces (see ``ConditionalContributor.rank_batch_of``).
    rank_batch_of = rank

    @classmethod
    def rank_batch(cls, params: dict[str, np.ndarray], obs: dict[str, np.ndarray],
                   acts: ActSpace) -> tuple[np.ndarray, Callable[[int], tuple[int, ...]]] | None:
        """``rank`` for many (variant, observation) pairs in numpy: ``utilities`` operation for
        operation in float64 (a missing field reads as its default), then a stable sort, as
        ``sorted`` breaks ties by act index. None for a subclass with its own ``utilities``."""
        if cls.utilities is not WeighsCare.utilities:
            return None
        n = len(params["warmth"])
        zero = np.zeros(n, dtype=np.int64)
        sensitive = obs.get("sensitive", zero) != 0
        pressed = obs.get("pressed", zero) != 0
        p = (obs.get("child_belief", zero) + 0.5) / 5
        hurt = params["warmth"] * p
        scruple = params["scruple"]
        u = {name: np.full(n, v) for name, v in ADULT_VALUE.items()}
        u["lie"] = -scruple
        # Sensitive and unpressed: the blunt truth spoils, a lie tempts a little.
        unpressed = sensitive & ~pressed
        u["blunt_truth"] = np.where(unpressed, (1 - p) - hurt, u["blunt_truth"])
        u["lie"] = np.where(unpressed, 0.6 * hurt - scruple, u["lie"])
        # Pressed: every true answer spoils for a child.
        hard = sensitive & pressed
        for name, v in ADULT_VALUE.items():
            u[name] = np.where(hard, (1 - p) * v - hurt if name != "lie" else hurt - scruple, u[name])
        minus = np.stack([-u[a.name] if a.name in u else np.full(n, 1e9) for a in acts], axis=1) \
            if len(acts) else np.zeros((n, 0))
        return ranking_numbers(np.argsort(minus, axis=1, kind="stable"), len(acts))
