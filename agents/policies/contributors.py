"""A conditional cooperator for public goods games, with peer punishment (Fehr and Gächter 2000).

Most people in public goods experiments are *imperfect conditional
cooperators* (Fischbacher, Gächter and Fehr 2001; Fischbacher and Gächter
2010): they give more when they believe others give more, but a little less
than they believe others give. Repeated, that self-serving bias drains a
group's contributions round after round, which is the decay every
experiment without punishment shows. Fehr and Gächter (2000) added costly
peer punishment: low contributors are fined by those who gave more, and
contributions rise instead.

The policy is a pure function of the observation; the environment keeps the
agent's state (its own last contribution, what its group gave, the fines it
received) and hands it over, as ``weighs_risk`` gets its learned risk. The
state moves with what happens to the agent, so a population of these agents
adapts within a run.

Contribution (twentieths of the endowment, ``obs.own`` the agent's last,
-1 before the first round)::

    first round:  20 * (baseline + deterrence * obs.sanctions)
    later:        own + weight * (slope * obs.others - own)       (conditional cooperation)
                  not below own when punishment was seen in its group (obs.watched)
                  + fine_response * obs.fined                      (points it was fined)

then rounded up or down at random in proportion to the fraction
(``obs.coin``), so a target of 2.4 gives 3 four times in ten. A free rider is
the same policy with ``slope = 0`` and a low baseline: it gives nothing unless
fines teach it to.

Punishment (the ``punish_<points>`` acts, ``spare`` for none): the agent
fines a group member who gave ``obs.shortfall`` twentieths less than itself
with ``round(severity * shortfall / 3)`` points, at most the largest act.

``weight = 0`` and ``fine_response = 0`` switch adaptation off: the agent
gives its baseline every round (the counterfactual of the tests). In a game
without these acts and fields it is simply generous (most giving act first).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np

from agents.acts import ActSpace
from agents.errors import SpecboundError
from agents.interfaces import RankingPolicy
from agents.policies.base import COIN_SIDES, policy
from agents.policies.ranking import by_generosity

#: Contributions are in twentieths of the endowment (the ``gives`` of an act times this).
LEVELS = 20


def punish_points(name: str) -> int | None:
    """Points of a punishment act named ``punish_<points>`` (``spare``: 0; other acts: None)."""
    if name == "spare":
        return 0
    head, _, tail = name.partition("_")
    return int(tail) if head == "punish" and tail.isdigit() else None


@policy("conditional_contributor")
class ConditionalContributor(RankingPolicy):
    """Gives what it sees others give (a little less), more after fines; fines low contributors.

    Args:
        baseline: first-round contribution, a share (0..1) of the endowment.
        slope: how much it gives per unit the others gave (below 1: imperfect conditional
            cooperation; 0: a free rider).
        weight: how far (0..1) it moves each round from its last contribution to its
            conditional target.
        fine_response: twentieths of the endowment added per point it was fined.
        severity: punishment points per three twentieths of a member's shortfall (0: never).
        deterrence: share of the endowment added in the first round when punishment is possible.
    """

    stochastic = True
    params: ClassVar[dict[str, Any]] = {
        "baseline": (int, float), "slope": (int, float), "weight": (int, float),
        "fine_response": (int, float), "severity": (int, float), "deterrence": (int, float)}

    def __init__(self, baseline: float = 0.5, slope: float = 0.85, weight: float = 0.5,
                 fine_response: float = 1.0, severity: float = 0.75, deterrence: float = 0.0) -> None:
        for name, v in (("baseline", baseline), ("weight", weight), ("deterrence", deterrence)):
            if not 0.0 <= v <= 1.0:
                raise SpecboundError(f"policy 'conditional_contributor': {name} must be between 0 and 1, got {v}")
        for name, v in (("slope", slope), ("fine_response", fine_response), ("severity", severity)):
            if v < 0:
                raise SpecboundError(f"policy 'conditional_contributor': {name} must not be negative, got {v}")
        super().__init__(baseline=baseline, slope=slope, weight=weight, fine_response=fine_response,
                         severity=severity, deterrence=deterrence)
        self.baseline, self.slope, self.weight = float(baseline), float(slope), float(weight)
        self.fine_response, self.severity, self.deterrence = float(fine_response), float(severity), float(deterrence)

    def target(self, obs: Any) -> float:
        """The contribution it aims at, in twentieths (before rounding)."""
        if obs.own < 0:
            return float(LEVELS * min(1.0, self.baseline + self.deterrence * obs.sanctions))
        t: float = obs.own + self.weight * (self.slope * obs.others - obs.own)
        if obs.watched:
            t = max(t, float(obs.own))  # punishment is about: no drifting down
        return min(float(LEVELS), max(0.0, t + self.fine_response * float(obs.fined)))

    def give(self, obs: Any) -> int:
        """The contribution it makes, in twentieths: the target rounded at random by the coin."""
        t = self.target(obs)
        low = math.floor(t + 1e-9)
        return low + int(obs.coin < round((t - low) * COIN_SIDES))

    def points(self, obs: Any) -> int:
        """Punishment points it wants to give a member who fell ``obs.shortfall`` short of it."""
        return round(self.severity * obs.shortfall / 3) if obs.shortfall > 0 else 0

    def rank(self, obs: Any, acts: ActSpace) -> tuple[int, ...]:
        mode = _mode(acts, lambda name: hasattr(obs, name))
        if mode == "punish":
            return _order(acts, mode, self.points(obs))
        if mode == "give":
            return _order(acts, mode, self.give(obs))
        return by_generosity(acts, high_first=True)  # not a public goods game: be generous

    #: The ``rank`` that ``rank_batch`` reproduces: a class whose ``rank`` is replaced (a
    #: subclass, a test's patch) is ranked one observation at a time again.
    rank_batch_of = rank

    @classmethod
    def rank_batch(cls, params: dict[str, np.ndarray], obs: dict[str, np.ndarray],
                   acts: ActSpace) -> tuple[np.ndarray, Callable[[int], tuple[int, ...]]] | None:
        """``rank`` for many (variant, observation) pairs at once, in numpy.

        ``params`` holds each pair's policy attributes, ``obs`` its observation fields, one
        array each. Returns the wanted points or contribution per pair, which alone fixes
        the ranking, and the ranking of a wanted value; None when ``rank`` would not rank
        by it (not a public goods game). The arithmetic is ``target``'s, operation for
        operation in float64, and ``round``'s ties go to even as ``np.rint``'s do.
        """
        mode = _mode(acts, obs.__contains__)
        if mode == "punish":
            short = obs["shortfall"]
            want = np.where(short > 0, np.rint(params["severity"] * short / 3), 0.0)
        elif mode == "give":
            own, first = obs["own"], obs["own"] < 0
            start = LEVELS * np.minimum(1.0, params["baseline"] + params["deterrence"] * obs["sanctions"])
            t = own + params["weight"] * (params["slope"] * obs["others"] - own)
            t = np.where(obs["watched"] != 0, np.maximum(t, own), t)
            t = np.minimum(float(LEVELS), np.maximum(0.0, t + params["fine_response"] * obs["fined"]))
            t = np.where(first, start, t)
            low = np.floor(t + 1e-9)
            want = low + (obs["coin"] < np.rint((t - low) * COIN_SIDES))
        else:
            return None
        return want.astype(np.int64), lambda w: _order(acts, mode, w)


def _mode(acts: ActSpace, has: Callable[[str], bool]) -> str | None:
    """How ``conditional_contributor`` ranks ``acts`` (``has``: whether the observation has a
    field): by punishment points, by contribution, or neither. The acts are looked at first, as
    a field looked for is a field read."""
    if any(punish_points(a.name) is not None for a in acts) and has("shortfall"):
        return "punish"
    if any(a.gives is not None for a in acts) and has("own"):
        return "give"
    return None


def _order(acts: ActSpace, mode: str, want: int) -> tuple[int, ...]:
    """Acts nearest the wanted points (``punish``) or contribution (``give``) first, ties by index."""
    if mode == "punish":
        pts = [punish_points(a.name) for a in acts]
        key: list[float] = [float(abs((p if p is not None else 99) - want)) for p in pts]
    else:
        key = [abs(LEVELS * a.gives - want) if a.gives is not None else 99.0 for a in acts]
    return tuple(sorted(range(len(acts)), key=lambda i: (key[i], i)))
