"""A harvester of a shared resource with its own appetite, restraint and reciprocity.

GovSim's agents are clones: all sustainable or all greedy. Real fishers
differ, and the commons' fate then depends on who is in it. Each agent's
parameters are drawn per agent (``params.greed = {dist = "uniform", low =
0.5, high = 1.5}``; see ``sim/population.py``), so one village holds the
modest, the greedy and the touchy, and which collapses the stock, and when,
varies with the draw. The spec then caps what each may take.

Observation fields read: ``stock`` (tenths of capacity), ``others_overused``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np

from agents.acts import ActSpace
from agents.errors import SpecboundError
from agents.interfaces import RankingPolicy
from agents.policies.base import policy
from agents.policies.ranking import by_generosity, ranking_numbers

STOCK_TENTHS = 10


@policy("harvester")
class Harvester(RankingPolicy):
    """Wants ``greed`` times its sustainable share; matches over-use by ``reciprocity``.

    After a step in which someone else took more than its share, it wants
    ``greed + reciprocity x (most - greed)`` (with reciprocity 1 it takes
    the most, as GovSim's conditional cooperator does); when the stock is
    below ``caution`` of capacity it takes at most its share. It takes the
    offered multiple nearest to what it wants, the smaller on a tie.

    Args:
        greed: the multiple of its sustainable share it wants (0 or more).
        reciprocity: how far (0..1) it follows others' over-use towards the most it may take.
        caution: the stock (share of capacity, 0..1) below which it restrains itself.
    """

    params: ClassVar[dict[str, Any]] = {"greed": (int, float), "reciprocity": (int, float),
                                        "caution": (int, float)}

    def __init__(self, greed: float = 1.0, reciprocity: float = 0.0, caution: float = 0.0) -> None:
        if greed < 0:
            raise SpecboundError(f"policy 'harvester': greed must not be negative, got {greed}")
        for name, v in (("reciprocity", reciprocity), ("caution", caution)):
            if not 0.0 <= v <= 1.0:
                raise SpecboundError(f"policy 'harvester': {name} must be between 0 and 1, got {v}")
        super().__init__(greed=greed, reciprocity=reciprocity, caution=caution)
        self.greed, self.reciprocity, self.caution = float(greed), float(reciprocity), float(caution)

    def want(self, obs: Any, most: float) -> float:
        """The multiple of its sustainable share it wants in this observation."""
        want = self.greed
        if getattr(obs, "others_overused", 0):
            want += self.reciprocity * max(most - want, 0.0)
        if getattr(obs, "stock", STOCK_TENTHS) < self.caution * STOCK_TENTHS:
            want = min(want, 1.0)
        return want

    def rank(self, obs: Any, acts: ActSpace) -> tuple[int, ...]:
        takes = [(i, a.take) for i, a in enumerate(acts) if a.take is not None]
        if not takes:
            return by_generosity(acts, high_first=True)
        want = self.want(obs, max(t for _, t in takes))
        return tuple(i for i, t in sorted(takes, key=lambda it: (abs(it[1] - want), it[1])))

    #: The ``rank`` that ``rank_batch`` reproduces (see ``ConditionalContributor.rank_batch_of``).
    rank_batch_of = rank

    @classmethod
    def rank_batch(cls, params: dict[str, np.ndarray], obs: dict[str, np.ndarray],
                   acts: ActSpace) -> tuple[np.ndarray, Callable[[int], tuple[int, ...]]] | None:
        """``rank`` for many (variant, observation) pairs in numpy: per pair the number of its
        ranking (the order of the takes, in base ``len(acts)``) and the ranking of a number.

        ``want``'s arithmetic in float64, operation for operation; a field the observation
        lacks reads as ``want``'s default. None when no act takes (``rank`` is then generous).
        """
        takes = [(i, a.take) for i, a in enumerate(acts) if a.take is not None]
        if not takes:
            return None
        idx = np.array([i for i, _ in takes], dtype=np.int64)
        amount = np.array([t for _, t in takes], dtype=np.float64)
        most = max(t for _, t in takes)
        n = len(next(iter(params.values()), np.zeros(0)))
        greed = params.get("greed", np.zeros(n))
        over = obs.get("others_overused", np.zeros(n, dtype=np.int64)) != 0
        want = np.where(over, greed + params["reciprocity"] * np.maximum(most - greed, 0.0), greed)
        stock = obs.get("stock", np.full(n, STOCK_TENTHS))
        want = np.where(stock < params["caution"] * STOCK_TENTHS, np.minimum(want, 1.0), want)
        dist = np.abs(amount[None, :] - want[:, None])
        order = np.lexsort((np.broadcast_to(amount, dist.shape), dist), axis=-1)  # stable, as sorted
        return ranking_numbers(idx[order], len(acts))
