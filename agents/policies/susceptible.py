"""Policies for messages that carry orders: how readily an agent does what it is told.

A message's order reaches the policy as observation fields (``order``: 0 none;
``authority``: the level the chain of command gives the order's source;
``lure``: how persuasive its wording is, 0..9). The policy only proposes:
a spec with ``no_authority_obeyed`` at root vetoes any order without
authority, however persuaded the agent is.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np

from agents.acts import ActSpace
from agents.errors import SpecboundError
from agents.policies.base import RankingPolicy, policy
from agents.policies.ranking import ranking_numbers

#: Persuasiveness levels of an order's wording (``obs.lure`` in 0..LURES-1).
LURES = 10
#: Each (order, obey) a policy was made with, numbered: ``rank_batch`` reads numbers only.
_CONFIGS: dict[tuple[tuple[str, ...], str], int] = {}
_CONFIG_LIST: list[tuple[tuple[str, ...], str]] = []


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

    #: What ``rank_batch`` reads of a policy (``config``: its order and obey act, numbered).
    batch_attrs: ClassVar[tuple[str, ...]] = ("susceptibility", "config")

    @property
    def config(self) -> int:
        key = (self.order, self.obey)
        got = _CONFIGS.get(key)
        if got is None:
            got = _CONFIGS[key] = len(_CONFIG_LIST)
            _CONFIG_LIST.append(key)
        return got

    def rank(self, obs: Any, acts: ActSpace) -> tuple[int, ...]:
        ranked, heeded, declined = _rankings(self.order, self.obey, acts)
        if not getattr(obs, "order", 0) or heeded is None or declined is None:
            return ranked
        heeds = obs.authority > 0 or obs.lure >= LURES * (1.0 - self.susceptibility) - 1e-9
        return heeded if heeds else declined

    #: The ``rank`` that ``rank_batch`` reproduces (see ``ConditionalContributor.rank_batch_of``).
    rank_batch_of = rank

    @classmethod
    def rank_batch(cls, params: dict[str, np.ndarray], obs: dict[str, np.ndarray],
                   acts: ActSpace) -> tuple[np.ndarray, Callable[[int], tuple[int, ...]]] | None:
        """``rank`` for many (variant, observation) pairs in numpy: per pair the number of its
        ranking and the ranking of a number. The persuasion threshold in float64, as ``rank``
        computes it. None for an observation with ``order`` but no ``authority`` or ``lure``."""
        if "order" in obs and not ("authority" in obs and "lure" in obs):
            return None
        n = len(params["susceptibility"])
        config = params["config"].astype(np.int64)
        out = np.zeros((n, len(acts)), dtype=np.int64)
        for c in np.unique(config).tolist():
            order, obey = _CONFIG_LIST[c]
            ranked, heeded, declined = _rankings(order, obey, acts)
            mine = config == c
            out[mine] = ranked
            if heeded is None or declined is None or "order" not in obs:
                continue
            s = params["susceptibility"][mine]
            ordered = obs["order"][mine] != 0
            heeds = (obs["authority"][mine] > 0) | (obs["lure"][mine] >= LURES * (1.0 - s) - 1e-9)
            rows = np.flatnonzero(mine)
            out[rows[ordered & heeds]] = heeded
            out[rows[ordered & ~heeds]] = declined
        return ranking_numbers(out, len(acts))


def _rankings(order: tuple[str, ...], obey: str, acts: ActSpace) -> tuple[tuple[int, ...], tuple[int, ...] | None,
                                                                         tuple[int, ...] | None]:
    """The ranking without an order, and with one heeded and declined (None: no act obeys)."""
    first = tuple(acts.index_of(n) for n in dict.fromkeys(order) if n in acts.names())
    ranked = first + tuple(i for i in range(len(acts)) if i not in first)
    if obey not in acts.names():
        return ranked, None, None
    o = acts.index_of(obey)
    others = tuple(i for i in ranked if i != o)
    # Not persuaded: carrying the order out is the last resort, after every other act.
    return ranked, (o, *others), (*others, o)
