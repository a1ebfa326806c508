"""Policies for the spec-conflict environments (negotiation, tooth-fairy, injection, public goods).

These environments name their acts (``lie``, ``gentle_truth``, ``transfer``...),
so the natural way to describe a temperament there is an order of preference
over act names, optionally switched when trust in the partner is low. The
chain of command then decides how much of that temperament survives the spec.
"""

from __future__ import annotations

from typing import Any, ClassVar

from agents.acts import ActSpace
from agents.errors import SpecboundError
from agents.policies.base import RankingPolicy, policy
from agents.policies.ranking import WithHistory, by_generosity, trust_ok


@policy("prefers")
class Prefers(RankingPolicy):
    """Ranks acts by a fixed list of act names; a second list applies when trust is low.

    Args:
        order: act names, most preferred first; acts not listed follow in act order.
            Names absent from the current act space are skipped, so one list can
            cover every decision phase of an environment.
        wary_order: the order used instead when ``obs.trust`` is below ``threshold``
            (distrust makes a bargainer walk away, a contributor hold back).
        threshold: trust (0..1) at or above which ``order`` applies.
    """

    params: ClassVar[dict[str, Any]] = {"order": list, "wary_order": list, "threshold": (int, float)}

    def __init__(self, order: list[str] | tuple[str, ...] = (), wary_order: list[str] | tuple[str, ...] = (),
                 threshold: float = 0.5) -> None:
        order, wary_order = tuple(order), tuple(wary_order)
        for name in order + wary_order:
            if not isinstance(name, str):
                raise SpecboundError(f"policy 'prefers': act names must be strings, got {name!r}")
        if not 0.0 <= threshold <= 1.0:
            raise SpecboundError(f"policy 'prefers': threshold must be between 0 and 1, got {threshold}")
        self.order, self.wary_order, self.threshold = order, wary_order, float(threshold)

    def rank(self, obs: Any, acts: ActSpace) -> tuple[int, ...]:
        names = self.order
        if self.wary_order and hasattr(obs, "trust") and not trust_ok(obs, self.threshold):
            names = self.wary_order
        first = tuple(acts.index_of(n) for n in dict.fromkeys(names) if n in acts.names())
        return first + tuple(i for i in range(len(acts)) if i not in first)


# --- trust game ----------------------------------------------------------------------------



@policy("trusts_promises")
class TrustsPromises(RankingPolicy):
    """Reciprocal, but a promise on the table lowers the trust it needs to be generous.

    After Charness and Dufwenberg (2006), where a trustee's promise raised
    investment and returns: the agent is generous when its trust in the
    partner is at least ``threshold``, or at least ``floor`` while a promise
    stands (``obs.promised``: the partner's promise when investing, its own
    when repaying). Where nothing can be promised it is plain ``reciprocal``.
    Cheap talk thus buys trust, which is what an opportunist exploits.

    Args:
        threshold: trust (0..1) at which the agent is generous without a promise.
        floor: trust (0..1) at which a promise is enough; at most ``threshold``.
    """

    params: ClassVar[dict[str, Any]] = {"threshold": (int, float), "floor": (int, float)}

    def __init__(self, threshold: float = 0.5, floor: float = 0.25) -> None:
        if not 0.0 <= floor <= threshold <= 1.0:
            raise SpecboundError(
                f"policy 'trusts_promises': need 0 <= floor <= threshold <= 1, got floor={floor} threshold={threshold}")
        self.threshold, self.floor = float(threshold), float(floor)

    def rank(self, obs: Any, acts: ActSpace) -> tuple[int, ...]:
        seen = WithHistory(obs)
        bar = self.floor if getattr(obs, "promised", 0) else self.threshold
        return by_generosity(acts, high_first=trust_ok(seen, bar))
