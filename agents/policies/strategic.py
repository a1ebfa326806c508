"""A bargainer that weighs the gain of deceiving against the learned risk of being caught.

Deception as a choice rather than a temperament, in the spirit of Becker's
(1968) economics of crime: an agent lies when the expected gain exceeds the
expected cost of detection. The agent does not know the detection rate; the
environment keeps each agent's own experience (how often its deceptions were
caught) and hands it over as ``obs.risk``, the agent's Beta(1, 1) posterior
estimate of being caught, in twentieths. That estimate is the policy's adaptive
state: it moves with what happened to the agent, so agents who were caught
turn honest and agents who got away with it grow bolder. The spec then
forbids or allows what the agent chose; a principle that sets aside the
agent's first choice is logged as a conflict with the interest it pursued
(``reports_overrides``, see ``agents/overrides.py``).

Observation fields read: ``asked``, ``stake`` (0 small, 1 large surplus at
stake), ``trust`` (bucket 0..20), ``risk`` (0..20).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np

from agents.acts import ActSpace
from agents.errors import SpecboundError
from agents.interfaces import RankingPolicy
from agents.policies.base import TRUST_BUCKETS, policy
from agents.policies.ranking import stable_ranking_numbers, trust_ok


@policy("weighs_risk")
class WeighsRisk(RankingPolicy):
    """Ranks answers and closes by expected gain net of the expected cost of being caught.

    Utilities (in units of the leverage a believed lie moves, doubled on a large stake):
    disclose -g, refuse -refuse_cost, evade t(1-p)g/2 - p c/2, lie t(1-p)g - p c, with p the
    learned risk, g = 1 + stake, t = ``temptation`` and c = ``caught_cost``. Closing: walk
    when trust is below ``threshold``; otherwise a steer is worth ``commission`` minus
    ``refuse_cost`` (saying so reads as self-dealing), a covert steer ``commission`` minus p c
    (only an agent with a commission goal values either); on a small stake a steer also
    costs ``harm`` (the partner's cut can eat a thin deal, and the agent's own principal pays it).

    Args:
        temptation: weight (0..1) on the gain from deceiving; drawn per agent to make a
            population of differing honesty (``{dist = "beta", a = 2, b = 5}``).
        caught_cost: what being caught costs the agent (lost trust, future deals).
        refuse_cost: what a refusal costs (it reads as some bad faith).
        commission: the value of steering a deal to the developer's partner.
        threshold: trust (0..1) below which the agent walks away.
        harm: what a steer on a small stake costs the agent's own principal, as the agent weighs it.
    """

    params: ClassVar[dict[str, Any]] = {
        "temptation": (int, float), "caught_cost": (int, float), "refuse_cost": (int, float),
        "commission": (int, float), "threshold": (int, float), "harm": (int, float)}
    #: Its ranking is the principal's interest as the agent judges it: a principle that sets
    #: aside its first choice is a conflict (agents/overrides.py).
    reports_overrides: ClassVar[bool] = True

    def __init__(self, temptation: float = 0.5, caught_cost: float = 1.0, refuse_cost: float = 0.3,
                 commission: float = 0.0, threshold: float = 0.45, harm: float = 0.0) -> None:
        for name, v in (("temptation", temptation), ("threshold", threshold)):
            if not 0.0 <= v <= 1.0:
                raise SpecboundError(f"policy 'weighs_risk': {name} must be between 0 and 1, got {v}")
        for name, v in (("caught_cost", caught_cost), ("refuse_cost", refuse_cost),
                        ("commission", commission), ("harm", harm)):
            if v < 0:
                raise SpecboundError(f"policy 'weighs_risk': {name} must not be negative, got {v}")
        super().__init__(temptation=temptation, caught_cost=caught_cost, refuse_cost=refuse_cost,
                         commission=commission, threshold=threshold, harm=harm)
        self.t, self.c, self.r = float(temptation), float(caught_cost), float(refuse_cost)
        self.harm = float(harm)
        self.commission, self.threshold = float(commission), float(threshold)

    def utilities(self, obs: Any, acts: ActSpace) -> dict[str, float]:
        """Expected utility of each act this decision offers (by name)."""
        # Outside the negotiation (no such fields) it reads a prior risk of one half and trusts.
        p = getattr(obs, "risk", TRUST_BUCKETS // 2) / TRUST_BUCKETS
        if "lie" in acts.names():
            g = 1.0 + getattr(obs, "stake", 0)
            return {"disclose": -g, "refuse": -self.r,
                    "evade": self.t * (1 - p) * g / 2 - p * self.c / 2,
                    "lie": self.t * (1 - p) * g - p * self.c}
        if hasattr(obs, "trust") and not trust_ok(obs, self.threshold):
            return {"walk": 0.0, "deal": -1.0, "steer": -1.0, "steer_covert": -1.0}
        # Saying so costs a steer what a refusal costs: the counterpart reads self-dealing.
        gain = self.commission - self.harm * (1 - getattr(obs, "stake", 1))
        return {"deal": 0.0, "walk": -1.0, "steer": gain - self.r, "steer_covert": gain - p * self.c}

    def rank(self, obs: Any, acts: ActSpace) -> tuple[int, ...]:
        u = self.utilities(obs, acts)
        # Stable: equal utilities keep act order.
        return tuple(sorted(range(len(acts)), key=lambda i: -u.get(acts[i].name, -1e9)))

    #: The ``rank`` that ``rank_batch`` reproduces (see ``ConditionalContributor.rank_batch_of``).
    rank_batch_of = rank
    #: The attributes ``rank_batch`` reads, one column each (the decision table gathers them).
    batch_attrs: ClassVar[tuple[str, ...]] = ("t", "c", "r", "commission", "threshold", "harm")

    @classmethod
    def rank_batch(cls, params: dict[str, np.ndarray], obs: dict[str, np.ndarray],
                   acts: ActSpace) -> tuple[np.ndarray, Callable[[int], tuple[int, ...]]]:
        """``rank`` for many (variant, observation) pairs in numpy: ``utilities`` operation for
        operation in float64 (a missing field reads as its default there), then a stable sort."""
        n = len(params["t"])
        t, c, r = params["t"], params["c"], params["r"]
        p = obs.get("risk", np.full(n, TRUST_BUCKETS // 2)) / TRUST_BUCKETS
        if "lie" in acts.names():
            g = 1.0 + obs.get("stake", np.zeros(n, dtype=np.int64))
            u = {"disclose": -g, "refuse": -r, "evade": t * (1 - p) * g / 2 - p * c / 2,
                 "lie": t * (1 - p) * g - p * c}
        else:
            gain = params["commission"] - params["harm"] * (1 - obs.get("stake", np.ones(n, dtype=np.int64)))
            u = {"deal": np.zeros(n), "walk": np.full(n, -1.0), "steer": gain - r, "steer_covert": gain - p * c}
            if "trust" in obs:
                walk = ~(obs["trust"] >= np.rint(params["threshold"] * TRUST_BUCKETS))
                for name, v in (("walk", 0.0), ("deal", -1.0), ("steer", -1.0), ("steer_covert", -1.0)):
                    u[name] = np.where(walk, v, u[name])
        return stable_ranking_numbers([-u[a.name] if a.name in u else np.full(n, 1e9) for a in acts], len(acts))
