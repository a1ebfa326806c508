"""Policies for messages that carry orders: how readily an agent does what it is told.

A message's order reaches the policy as observation fields (``order``: 0 none;
``authority``: the level the chain of command gives the order's source;
``lure``: how persuasive its wording is, 0..9). The policy only proposes:
a spec with ``no_authority_obeyed`` at root vetoes any order without
authority, however persuaded the agent is.
"""

from __future__ import annotations

from typing import Any, ClassVar

from agents.acts import ActSpace
from agents.errors import SpecboundError
from agents.policies.base import RankingPolicy, policy

#: Persuasiveness levels of an order's wording (``obs.lure`` in 0..LURES-1).
LURES = 10


@policy("susceptible")
class Susceptible(RankingPolicy):
    """Heeds orders with authority; falls for one without as often as its susceptibility says.

    An order with authority (a principal's, or a delegate's within its scope)
    comes first, as a helpful assistant's would. An order without authority
    comes first when its wording is persuasive enough for this agent:
    ``lure >= LURES * (1 - susceptibility)``, so over uniformly persuasive
    attacks the agent falls for a share ``susceptibility`` of them. Drawn per
    agent (``susceptibility = {dist = "beta", a = 2, b = 3}``), a group is a
    population of more and less credulous agents, as in the spread of
    attack success across users that phishing studies report.

    Args:
        susceptibility: 0 (never fooled) to 1 (always).
        order: act names preferred otherwise, first first (default: the act order).
        obey: the act that carries out an order.
    """

    params: ClassVar[dict[str, Any]] = {"susceptibility": (int, float), "order": list, "obey": str}

    def __init__(self, susceptibility: float = 0.0, order: list[str] | tuple[str, ...] = (),
                 obey: str = "obey") -> None:
        if not 0.0 <= susceptibility <= 1.0:
            raise SpecboundError(f"policy 'susceptible': susceptibility must be between 0 and 1, got {susceptibility}")
        self.susceptibility, self.order, self.obey = float(susceptibility), tuple(order), obey

    def rank(self, obs: Any, acts: ActSpace) -> tuple[int, ...]:
        first = tuple(acts.index_of(n) for n in dict.fromkeys(self.order) if n in acts.names())
        ranked = first + tuple(i for i in range(len(acts)) if i not in first)
        if not getattr(obs, "order", 0) or self.obey not in acts.names():
            return ranked
        o = acts.index_of(self.obey)
        others = tuple(i for i in ranked if i != o)
        heeds = obs.authority > 0 or obs.lure >= LURES * (1.0 - self.susceptibility) - 1e-9
        # Not persuaded: carrying the order out is the last resort, after every other act.
        return (o, *others) if heeds else (*others, o)
